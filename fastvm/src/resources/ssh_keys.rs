use crate::call::{call, call_or};
use crate::resources::vms::{deleted, known_id};
use crate::types::{AddSshKeyRequest, DeleteResponse, SshKey, SshKeyListResponse};
use crate::{Error, FastvmClient, Result, validate};

/// `client.vms().ssh_keys()`: a VM's authorized SSH keys.
#[derive(Debug, Clone, Copy)]
pub struct SshKeys<'a> {
    client: &'a FastvmClient,
}

impl<'a> SshKeys<'a> {
    pub(crate) fn new(client: &'a FastvmClient) -> Self {
        SshKeys { client }
    }

    /// `GET /v1/vms/{id}/ssh-keys`.
    pub async fn list(&self, vm_id: &str) -> Result<SshKeyListResponse> {
        validate::id("id", vm_id)?;
        call("listSshKeys", self.client.api().list_ssh_keys().id(vm_id).send()).await
    }

    /// `POST /v1/vms/{id}/ssh-keys`: authorize an OpenSSH public key (`ssh-ed25519 AAAA… [comment]`;
    /// the comment is stripped server-side, a trailing newline is removed here). Not retried
    /// automatically.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm_id: &str) -> fastvm::Result<()> {
    /// let key = std::fs::read_to_string("/home/me/.ssh/id_ed25519.pub").unwrap();
    /// let added = client.vms().ssh_keys().add(vm_id, &key, Some("laptop")).await?;
    /// println!("{}", added.fingerprint);
    /// # Ok(()) }
    /// ```
    pub async fn add(&self, vm_id: &str, public_key: &str, name: Option<&str>) -> Result<SshKey> {
        validate::id("id", vm_id)?;
        validate::ssh_public_key("publicKey", public_key)?;
        let body = AddSshKeyRequest {
            public_key: public_key.trim_end_matches(['\n', '\r']).to_string(),
            name: name.map(str::to_string),
        };
        call("addSshKey", self.client.api().add_ssh_key().id(vm_id).body(body).send()).await
    }

    /// `DELETE /v1/vms/{id}/ssh-keys/{fingerprint}`. The fingerprint (`SHA256:…`) is
    /// percent-encoded into the path: `/` becomes `%2F`, while `:`, `+` and `=` stay literal.
    pub async fn delete(&self, vm_id: &str, fingerprint: &str) -> Result<DeleteResponse> {
        validate::id("id", vm_id)?;
        if fingerprint.trim().is_empty() {
            return Err(Error::invalid("fingerprint", "must not be empty"));
        }
        validate::id("fingerprint", fingerprint)?;
        let generated = self
            .client
            .api()
            .delete_ssh_key()
            .id(vm_id)
            .fingerprint(fingerprint)
            .send();
        let deleted = call_or("deleteSshKey", generated, || deleted(fingerprint)).await?;
        Ok(known_id(deleted, fingerprint))
    }
}
