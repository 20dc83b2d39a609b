//! `client.user_ssh_keys()`: the calling user's SSH keys, for the stack's SSH gateway (an
//! operation group of the upstream API after the reference).

use crate::resources::into_future;
use crate::resources::known_id;
use crate::resources::ssh_keys::add_body;
use crate::transport::call::call;
use crate::{FastvmClient, Result, validate};
use fastvm_api::types::{DeleteResponse, SshKey};

/// `client.user_ssh_keys()`: the SSH public keys of the user the API key belongs to. A key
/// registered here authorizes `ssh <vm id>@<org slug>.ssh.<stack domain>` to every VM of every
/// organization the user is a member of, through the stack's SSH gateway. (The VM-scoped keys
/// of the reference are [`Vms::ssh_keys`](crate::resources::Vms::ssh_keys).)
///
/// Needs a server with the upstream API after the reference; an older one answers 404.
#[derive(Debug, Clone, Copy)]
pub struct UserSshKeys<'a> {
    client: &'a FastvmClient,
}

impl<'a> UserSshKeys<'a> {
    pub(crate) fn new(client: &'a FastvmClient) -> Self {
        UserSshKeys { client }
    }

    /// `GET /v1/me/ssh-keys`: the user's keys (the answer's `keys`).
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// for key in client.user_ssh_keys().list().await? {
    ///     println!("{} {}", key.fingerprint, key.name.as_deref().unwrap_or("(unnamed)"));
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list(&self) -> Result<Vec<SshKey>> {
        let listed = call("listUserSshKeys", self.client, |api| api.list_user_ssh_keys().send()).await?;
        Ok(listed.keys)
    }

    /// `POST /v1/me/ssh-keys`: register an OpenSSH public key (`ssh-ed25519 AAAA… [comment]`; the
    /// comment is stripped server-side, a trailing newline is removed here). Name it on the
    /// returned [`AddUserSshKey`]. A key already on file, for this user or another, is refused
    /// with 409 ([`ApiErrorKind::Conflict`](crate::ApiErrorKind::Conflict)); at most 32 keys per
    /// user. Not retried automatically.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// let key = std::fs::read_to_string("/home/me/.ssh/id_ed25519.pub").unwrap();
    /// let added = client.user_ssh_keys().add(&key).name("laptop").await?;
    /// println!("ssh with the key {}", added.fingerprint);
    /// # Ok(()) }
    /// ```
    pub fn add(&self, public_key: &'a str) -> AddUserSshKey<'a> {
        AddUserSshKey {
            client: self.client,
            public_key,
            name: None,
        }
    }

    /// `DELETE /v1/me/ssh-keys/{fingerprint}`: sessions already open stay open; the key no
    /// longer authorizes new ones. The fingerprint (`SHA256:…`) is percent-encoded into the
    /// path as for [`SshKeys::delete`](crate::resources::SshKeys::delete).
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// let keys = client.user_ssh_keys();
    /// for key in keys.list().await? {
    ///     if key.name.as_deref() == Some("old laptop") {
    ///         keys.delete(&key.fingerprint).await?;
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn delete(&self, fingerprint: &str) -> Result<DeleteResponse> {
        validate::fingerprint(fingerprint)?;
        let deleted = call("deleteUserSshKey", self.client, |api| {
            api.delete_user_ssh_key().fingerprint(fingerprint).send()
        })
        .await?;
        Ok(known_id(deleted, fingerprint))
    }
}

/// The request of [`UserSshKeys::add`]; await it.
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is awaited"]
pub struct AddUserSshKey<'a> {
    client: &'a FastvmClient,
    public_key: &'a str,
    name: Option<String>,
}

impl AddUserSshKey<'_> {
    /// A human label for the key.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    async fn send(self) -> Result<SshKey> {
        let body = add_body(self.public_key, self.name)?;
        call("addUserSshKey", self.client, move |api| {
            api.add_user_ssh_key().body(body.clone()).send()
        })
        .await
    }
}

into_future!(AddUserSshKey => SshKey);
