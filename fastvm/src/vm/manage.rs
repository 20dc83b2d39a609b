//! What a VM has, on its handle: its settings ([`Vm::update`]), its firewall
//! ([`Vm::set_firewall`], [`Vm::patch_firewall`]), its services ([`Vm::services`]) and its SSH
//! keys ([`Vm::ssh_keys`]): the group operations of `client.vms()`, bound to this VM, so that a
//! handle is all a program needs.

use super::Vm;
use crate::Result;
use crate::resources::{AddSshKey, RegisterService, Services, SshKeys, UpdateService, UpdateVm, Vms, services};
use crate::types::{self, DeleteResponse, FirewallPolicy, Service, SshKey};

impl Vm {
    /// Renames, relabels or changes the TTL of this VM (`PATCH /v1/vms/{id}`): the request
    /// builder of [`Vms::update`], bound to this VM. It returns the VM as the server answers;
    /// this handle's [`state`](Vm::state) is left as it was (call [`refresh`](Vm::refresh)).
    ///
    /// ```no_run
    /// # async fn demo(vm: fastvm::vm::Vm) -> fastvm::Result<()> {
    /// let state = vm.update().name("worker-2").metadata([("team", "infra")]).await?;
    /// assert_eq!(state.name, "worker-2");
    /// # Ok(()) }
    /// ```
    pub fn update(&self) -> UpdateVm<'_> {
        Vms::new(&self.client).update(&self.state.id)
    }

    /// Replaces this VM's firewall policy (`PUT /v1/vms/{id}/firewall`, see
    /// [`Vms::set_firewall`]) and keeps the state the server answers.
    ///
    /// ```no_run
    /// # async fn demo(mut vm: fastvm::vm::Vm, policy: fastvm::types::FirewallPolicy) -> fastvm::Result<()> {
    /// let state = vm.set_firewall(policy).await?;
    /// println!("effective: {:?}", state.effective_firewall);
    /// # Ok(()) }
    /// ```
    pub async fn set_firewall(&mut self, policy: FirewallPolicy) -> Result<&types::VmInfo> {
        self.state = Vms::new(&self.client).set_firewall(&self.state.id, policy).await?;
        Ok(&self.state)
    }

    /// Changes the parts of this VM's firewall policy that `policy` sets (`PATCH
    /// /v1/vms/{id}/firewall`, see [`Vms::patch_firewall`]) and keeps the state the server
    /// answers.
    ///
    /// ```no_run
    /// # async fn demo(mut vm: fastvm::vm::Vm) -> fastvm::Result<()> {
    /// use fastvm::types::{DnsPolicy, FirewallPolicy};
    /// vm.patch_firewall(FirewallPolicy::new().with_dns(DnsPolicy::block(["ads.example.com"]))).await?;
    /// # Ok(()) }
    /// ```
    pub async fn patch_firewall(&mut self, policy: FirewallPolicy) -> Result<&types::VmInfo> {
        self.state = Vms::new(&self.client).patch_firewall(&self.state.id, policy).await?;
        Ok(&self.state)
    }

    /// This VM's service registrations (the operations of
    /// [`Services`], bound to this VM).
    ///
    /// ```no_run
    /// # async fn demo(vm: fastvm::vm::Vm) -> fastvm::Result<()> {
    /// let web = vm.services().register("web", 8080).h2c(true).await?;
    /// for service in vm.services().list().await? {
    ///     println!("{} -> {}", service.name, service.port);
    /// }
    /// vm.services().delete("web").await?;
    /// # let _ = web;
    /// # Ok(()) }
    /// ```
    pub fn services(&self) -> VmServices<'_> {
        VmServices { vm: self }
    }

    /// This VM's SSH keys (the operations of [`SshKeys`], bound to
    /// this VM).
    ///
    /// ```no_run
    /// # async fn demo(vm: fastvm::vm::Vm, key: &str) -> fastvm::Result<()> {
    /// let added = vm.ssh_keys().add(key).name("laptop").await?;
    /// vm.ssh_keys().delete(&added.fingerprint).await?;
    /// # Ok(()) }
    /// ```
    pub fn ssh_keys(&self) -> VmSshKeys<'_> {
        VmSshKeys { vm: self }
    }
}

/// The service registrations of one VM: [`Vm::services`].
#[derive(Debug, Clone, Copy)]
pub struct VmServices<'a> {
    vm: &'a Vm,
}

impl<'a> VmServices<'a> {
    /// The group these operations are bound from.
    fn group(&self) -> Services<'a> {
        Vms::new(&self.vm.client).services()
    }

    /// The VM's services, sorted by name ([`Services::list`]).
    ///
    /// ```no_run
    /// # async fn demo(vm: fastvm::vm::Vm) -> fastvm::Result<()> {
    /// for service in vm.services().list().await? {
    ///     println!("{} -> {}", service.name, service.port);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list(&self) -> Result<Vec<Service>> {
        self.group().list(&self.vm.state.id).await
    }

    /// Exposes the VM's `port` as the service `name`
    /// ([`Services::register`]).
    ///
    /// ```no_run
    /// # async fn demo(vm: fastvm::vm::Vm) -> fastvm::Result<()> {
    /// let web = vm.services().register("web", 8080).await?;
    /// let api = vm.services().register("api", 9090).h2c(true).await?;
    /// println!("{} on {}, {} on {}", web.name, web.port, api.name, api.port);
    /// # Ok(()) }
    /// ```
    pub fn register(&self, name: &'a str, port: u16) -> RegisterService<'a> {
        self.group().register(&self.vm.state.id, name, port)
    }

    /// Changes the service `name`'s port and options
    /// ([`Services::update`]).
    ///
    /// ```no_run
    /// # async fn demo(vm: fastvm::vm::Vm) -> fastvm::Result<()> {
    /// let web = vm.services().update("web", 8081).await?;
    /// assert_eq!(web.port, 8081);
    /// # Ok(()) }
    /// ```
    pub fn update(&self, name: &'a str, port: u16) -> UpdateService<'a> {
        self.group().update(&self.vm.state.id, name, port)
    }

    /// Removes the service `name` (idempotent:
    /// [`Services::delete`]).
    ///
    /// ```no_run
    /// # async fn demo(vm: fastvm::vm::Vm) -> fastvm::Result<()> {
    /// vm.services().delete("web").await?; // Ok even if there was none
    /// assert!(vm.services().list().await?.iter().all(|s| s.name != "web"));
    /// # Ok(()) }
    /// ```
    pub async fn delete(&self, name: &str) -> Result<DeleteResponse> {
        self.group().delete(&self.vm.state.id, name).await
    }

    /// The public URL of the VM's service `name`, with the stack domain derived from the
    /// client's base URL. No request is made (the service need not be registered yet).
    ///
    /// The derivation is an inference, not a documented rule: the API's default base URL is
    /// `https://api.fastvm.org` and services are reachable under `proxy.<stack domain>`, so a
    /// base URL of the form `https://api.<domain>` (no port other than 443, no path) is taken
    /// to serve the stack `<domain>`. Any other base URL (`http://`, an IP address such as the
    /// local fake's `http://127.0.0.1:…`, a host not starting with `api.`, a port or a path)
    /// says nothing sound about where the proxy is: that is [`Error::InvalidInput`] (field
    /// `base_url`) telling you to pass the stack domain to
    /// [`public_url_in`](Self::public_url_in).
    ///
    /// Refused too, with [`Error::InvalidInput`]: a `name` that is not a service name. The
    /// VM's id is written in lowercase hex without hyphens.
    ///
    /// ```no_run
    /// # async fn demo(vm: fastvm::vm::Vm) -> fastvm::Result<()> {
    /// let web = vm.services().register("web", 8080).await?;
    /// // With the default base URL: https://web--<VM id in hex>.proxy.fastvm.org
    /// println!("{}", vm.services().public_url(&web.name)?);
    /// # Ok(()) }
    /// ```
    ///
    /// [`Error::InvalidInput`]: crate::Error::InvalidInput
    pub fn public_url(&self, name: &str) -> Result<String> {
        services::public_url(&self.vm.client, &self.vm.state.id, name)
    }

    /// The public URL of the VM's service `name` on the stack `stack_domain` (such as
    /// `fastvm.org`: the domain the proxy host `proxy.<stack domain>` is under; a trailing `.`
    /// is dropped, letters are lowercased). Use it when [`public_url`](Self::public_url) cannot
    /// derive the domain from the base URL. No request is made.
    ///
    /// Refused with [`Error::InvalidInput`]: a `stack_domain` that is not a host name (empty, a
    /// scheme, a port, a path, characters other than letters, digits, `-` and `.`), and what
    /// `public_url` refuses.
    ///
    /// ```no_run
    /// # async fn demo(vm: fastvm::vm::Vm) -> fastvm::Result<()> {
    /// let url = vm.services().public_url_in("dev.example.com", "web")?;
    /// assert!(url.starts_with("https://web--") && url.ends_with(".proxy.dev.example.com"));
    /// # Ok(()) }
    /// ```
    ///
    /// [`Error::InvalidInput`]: crate::Error::InvalidInput
    pub fn public_url_in(&self, stack_domain: &str, name: &str) -> Result<String> {
        services::public_url_in(stack_domain, &self.vm.state.id, name)
    }
}

/// The SSH keys of one VM: [`Vm::ssh_keys`].
#[derive(Debug, Clone, Copy)]
pub struct VmSshKeys<'a> {
    vm: &'a Vm,
}

impl<'a> VmSshKeys<'a> {
    /// The group these operations are bound from.
    fn group(&self) -> SshKeys<'a> {
        Vms::new(&self.vm.client).ssh_keys()
    }

    /// The VM's SSH keys ([`SshKeys::list`]).
    ///
    /// ```no_run
    /// # async fn demo(vm: fastvm::vm::Vm) -> fastvm::Result<()> {
    /// for key in vm.ssh_keys().list().await? {
    ///     println!("{} {}", key.fingerprint, key.name.as_deref().unwrap_or("(unnamed)"));
    /// }
    /// # Ok(()) }
    /// ```
    #[deprecated = "replaced upstream by the user's SSH keys: use `client.user_ssh_keys()`"]
    #[allow(deprecated)] // it calls the deprecated operation
    pub async fn list(&self) -> Result<Vec<SshKey>> {
        self.group().list(&self.vm.state.id).await
    }

    /// Authorizes `public_key` on the VM ([`SshKeys::add`]).
    ///
    /// ```no_run
    /// # async fn demo(vm: fastvm::vm::Vm) -> fastvm::Result<()> {
    /// let key = std::fs::read_to_string("/home/me/.ssh/id_ed25519.pub").unwrap();
    /// let added = vm.ssh_keys().add(&key).name("laptop").await?;
    /// println!("{}", added.fingerprint);
    /// # Ok(()) }
    /// ```
    #[deprecated = "replaced upstream by the user's SSH keys: use `client.user_ssh_keys()`"]
    #[allow(deprecated)] // it calls the deprecated operation
    pub fn add(&self, public_key: &'a str) -> AddSshKey<'a> {
        self.group().add(&self.vm.state.id, public_key)
    }

    /// Removes the key with `fingerprint` ([`SshKeys::delete`]).
    ///
    /// ```no_run
    /// # async fn demo(vm: fastvm::vm::Vm) -> fastvm::Result<()> {
    /// for key in vm.ssh_keys().list().await? {
    ///     if key.name.is_none() {
    ///         vm.ssh_keys().delete(&key.fingerprint).await?;
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    #[deprecated = "replaced upstream by the user's SSH keys: use `client.user_ssh_keys()`"]
    #[allow(deprecated)] // it calls the deprecated operation
    pub async fn delete(&self, fingerprint: &str) -> Result<DeleteResponse> {
        self.group().delete(&self.vm.state.id, fingerprint).await
    }
}
