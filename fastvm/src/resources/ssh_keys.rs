use crate::resources::call_delete;
use crate::resources::into_future;
use crate::transport::call::call;
use crate::{FastvmClient, Result, validate};
use fastvm_api::types::{AddSshKeyRequest, DeleteResponse, SshKey};

/// `client.vms().ssh_keys()`: a VM's authorized SSH keys.
#[derive(Debug, Clone, Copy)]
pub struct SshKeys<'a> {
    client: &'a FastvmClient,
}

impl<'a> SshKeys<'a> {
    pub(crate) fn new(client: &'a FastvmClient) -> Self {
        SshKeys { client }
    }

    /// `GET /v1/vms/{id}/ssh-keys`: the keys (the answer's `keys`; a list is a `Vec` in every
    /// group).
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm_id: &str) -> fastvm::Result<()> {
    /// for key in client.vms().ssh_keys().list(vm_id).await? {
    ///     println!("{} {}", key.fingerprint, key.name.as_deref().unwrap_or("(unnamed)"));
    /// }
    /// # Ok(()) }
    /// ```
    #[deprecated = "replaced upstream by the user's SSH keys: use `client.user_ssh_keys()`"]
    #[allow(deprecated)] // it calls the deprecated operation
    pub async fn list(&self, vm_id: &str) -> Result<Vec<SshKey>> {
        validate::id("id", vm_id)?;
        let listed = call("listSshKeys", self.client, |api| api.list_ssh_keys().id(vm_id).send()).await?;
        Ok(listed.keys)
    }

    /// `POST /v1/vms/{id}/ssh-keys`: authorize an OpenSSH public key (`ssh-ed25519 AAAA… [comment]`;
    /// the comment is stripped server-side, a trailing newline is removed here). Name it on the
    /// returned [`AddSshKey`]. Not retried automatically.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm_id: &str) -> fastvm::Result<()> {
    /// let key = std::fs::read_to_string("/home/me/.ssh/id_ed25519.pub").unwrap();
    /// let added = client.vms().ssh_keys().add(vm_id, &key).name("laptop").await?;
    /// println!("{}", added.fingerprint);
    /// # Ok(()) }
    /// ```
    #[deprecated = "replaced upstream by the user's SSH keys: use `client.user_ssh_keys()`"]
    #[allow(deprecated)] // it calls the deprecated operation
    pub fn add(&self, vm_id: &'a str, public_key: &'a str) -> AddSshKey<'a> {
        AddSshKey {
            client: self.client,
            vm_id,
            public_key,
            name: None,
        }
    }

    /// `DELETE /v1/vms/{id}/ssh-keys/{fingerprint}`. The fingerprint (`SHA256:…`) is
    /// percent-encoded into the path: `/` becomes `%2F`, while `:`, `+` and `=` stay literal.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm_id: &str) -> fastvm::Result<()> {
    /// let keys = client.vms().ssh_keys();
    /// for key in keys.list(vm_id).await? {
    ///     if key.name.as_deref() == Some("laptop") {
    ///         keys.delete(vm_id, &key.fingerprint).await?;
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    #[deprecated = "replaced upstream by the user's SSH keys: use `client.user_ssh_keys()`"]
    #[allow(deprecated)] // it calls the deprecated operation
    pub async fn delete(&self, vm_id: &str, fingerprint: &str) -> Result<DeleteResponse> {
        validate::id("id", vm_id)?;
        validate::fingerprint(fingerprint)?;
        call_delete("deleteSshKey", self.client, fingerprint, |api| {
            api.delete_ssh_key().id(vm_id).fingerprint(fingerprint).send()
        })
        .await
    }
}

/// The request of [`SshKeys::add`]; await it.
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is awaited"]
pub struct AddSshKey<'a> {
    client: &'a FastvmClient,
    vm_id: &'a str,
    public_key: &'a str,
    name: Option<String>,
}

impl AddSshKey<'_> {
    /// A human label for the key.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    // Deprecated operation, kept for servers at the reference's version.
    #[allow(deprecated)]
    async fn send(self) -> Result<SshKey> {
        validate::id("id", self.vm_id)?;
        let body = add_body(self.public_key, self.name)?;
        call("addSshKey", self.client, move |api| {
            api.add_ssh_key().id(self.vm_id).body(body.clone()).send()
        })
        .await
    }
}

into_future!(AddSshKey => SshKey);

/// The body of an add, a VM's or the user's: the key checked, its trailing newline removed.
pub(crate) fn add_body(public_key: &str, name: Option<String>) -> Result<AddSshKeyRequest> {
    validate::ssh_public_key("publicKey", public_key)?;
    let mut body = AddSshKeyRequest::new(public_key.trim_end_matches(['\n', '\r']));
    body.name = name;
    Ok(body)
}
