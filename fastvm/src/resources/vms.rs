use crate::call::{call, call_or, call_with_status};
use crate::exec::{Command, ExecStream};
use crate::resources::{Files, Services, SshKeys};
use crate::types::{
    ConsoleTokenResponse, CreateVmRequest, DeleteResponse, ExecVmResponse, FirewallPolicy, SnapshotRestoreWarnings,
    UpdateVmRequest, Vm, VmCreateResponse,
};
use crate::wait::WaitOptions;
use crate::{FastvmClient, Result, validate};

/// `client.vms()`: virtual machines.
#[derive(Debug, Clone, Copy)]
pub struct Vms<'a> {
    client: &'a FastvmClient,
}

/// The raw answer of a launch without waiting: 201 (running) or 202 (queued).
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchResponse {
    /// `201 Created` (the VM runs) or `202 Accepted` (queued: poll it).
    pub status: reqwest::StatusCode,
    /// The body. A 202 body is a plain VM: `snapshot_restore_warnings` is then `None`.
    pub vm: VmCreateResponse,
}

/// A launched, running VM, with the warnings of a partly successful snapshot restore.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchedVm {
    /// The VM (status `running`).
    pub vm: Vm,
    /// Present when a snapshot's service registrations could not be replayed.
    pub snapshot_restore_warnings: Option<SnapshotRestoreWarnings>,
}

impl std::ops::Deref for LaunchedVm {
    type Target = Vm;
    fn deref(&self) -> &Vm {
        &self.vm
    }
}

/// A VM from a launch answer (the two types share every VM field).
fn vm_of(r: VmCreateResponse) -> (Vm, Option<SnapshotRestoreWarnings>) {
    let VmCreateResponse {
        cpu,
        created_at,
        deleted_at,
        disk_gi_b,
        effective_firewall,
        env_vars,
        expires_at_ms,
        firewall,
        id,
        machine_name,
        memory_mi_b,
        metadata,
        name,
        org_id,
        paused_at,
        public_ipv6,
        snapshot_restore_warnings,
        source_name,
        status,
        ttl,
        ttl_remaining_ms,
    } = r;
    let vm = Vm {
        cpu,
        created_at,
        deleted_at,
        disk_gi_b,
        effective_firewall,
        env_vars,
        expires_at_ms,
        firewall,
        id,
        machine_name,
        memory_mi_b,
        metadata,
        name,
        org_id,
        paused_at,
        public_ipv6,
        source_name,
        status,
        ttl,
        ttl_remaining_ms,
    };
    (vm, snapshot_restore_warnings)
}

/// The result of a delete whose answer has no body: the id the caller gave, deleted.
pub(crate) fn deleted(id: &str) -> DeleteResponse {
    DeleteResponse {
        id: id.to_string(),
        deleted: true,
    }
}

/// A delete's result with the caller's id where the answer left it out.
pub(crate) fn known_id(mut response: DeleteResponse, id: &str) -> DeleteResponse {
    if response.id.is_empty() {
        response.id = id.to_string();
    }
    response
}

fn validate_launch(req: &CreateVmRequest) -> Result<()> {
    if let Some(m) = &req.metadata {
        validate::metadata("metadata", m)?;
    }
    if let Some(e) = &req.env_vars {
        validate::env_vars("envVars", e)?;
    }
    if let Some(t) = &req.ttl {
        validate::ttl("ttl", t)?;
    }
    if let Some(f) = &req.firewall {
        validate::firewall("firewall", f)?;
    }
    if let Some(d) = req.disk_gi_b
        && d < 1
    {
        return Err(crate::Error::invalid("diskGiB", "must be at least 1"));
    }
    if let Some(s) = &req.snapshot_id {
        validate::id("snapshotId", s)?;
    }
    Ok(())
}

impl<'a> Vms<'a> {
    pub(crate) fn new(client: &'a FastvmClient) -> Self {
        Vms { client }
    }

    /// Service registrations of VMs.
    pub fn services(&self) -> Services<'a> {
        Services::new(self.client)
    }

    /// Authorized SSH keys of VMs.
    pub fn ssh_keys(&self) -> SshKeys<'a> {
        SshKeys::new(self.client)
    }

    /// The raw presigned file flow of VMs.
    pub fn files(&self) -> Files<'a> {
        Files::new(self.client)
    }

    /// `GET /v1/vms`, optionally only VMs with `status` (any string: an unknown one gives an
    /// empty list).
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// for vm in client.vms().list(Some("running")).await? {
    ///     println!("{} {}", vm.id, vm.name);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list(&self, status: Option<&str>) -> Result<Vec<Vm>> {
        let mut b = self.client.api().list_vms();
        if let Some(s) = status {
            b = b.status(s.to_string());
        }
        call("listVms", b.send()).await
    }

    /// Launches a VM and waits until it is `running` (polling every 2 s for up to 300 s).
    ///
    /// A 201 answer returns at once; a 202 is polled as by [`FastvmClient::wait_for_vm_ready`].
    /// Launch is not retried automatically (a retry could create a second VM).
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// let vm = client.vms().launch(fastvm::launch::machine("c1m2").name("dev")).await?;
    /// println!("{} is {}", vm.id, vm.status);
    /// # Ok(()) }
    /// ```
    pub async fn launch(&self, request: impl Into<CreateVmRequest>) -> Result<LaunchedVm> {
        self.launch_with(request, WaitOptions::default()).await
    }

    /// [`Vms::launch`] with explicit polling options.
    pub async fn launch_with(&self, request: impl Into<CreateVmRequest>, wait: WaitOptions) -> Result<LaunchedVm> {
        let LaunchResponse { vm, .. } = self.launch_no_wait(request).await?;
        let (vm, warnings) = vm_of(vm);
        if vm.status == crate::types::VmStatus::Running {
            return Ok(LaunchedVm {
                vm,
                snapshot_restore_warnings: warnings,
            });
        }
        let vm = self.client.wait_for_vm_ready(&vm.id, wait).await?;
        Ok(LaunchedVm {
            vm,
            snapshot_restore_warnings: warnings,
        })
    }

    /// `POST /v1/vms` without waiting: the raw 201/202 answer with its status.
    pub async fn launch_no_wait(&self, request: impl Into<CreateVmRequest>) -> Result<LaunchResponse> {
        let request = request.into();
        validate_launch(&request)?;
        let (status, vm) = call_with_status("launchVm", self.client.api().launch_vm().body(request).send()).await?;
        Ok(LaunchResponse { status, vm })
    }

    /// `GET /v1/vms/{id}`.
    pub async fn retrieve(&self, id: &str) -> Result<Vm> {
        validate::id("id", id)?;
        call("getVm", self.client.api().get_vm().id(id).send()).await
    }

    /// `PATCH /v1/vms/{id}`: name, metadata (replaced whole; empty clears) and TTL (set and
    /// restart the cycle). To remove a TTL use [`Vms::clear_ttl`]: the wire type cannot say
    /// `"ttl": null`.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, id: &str) -> fastvm::Result<()> {
    /// let vm = client.vms().update(id, fastvm::types::UpdateVmRequest {
    ///     name: Some("renamed".into()),
    ///     ..Default::default()
    /// }).await?;
    /// # Ok(()) }
    /// ```
    pub async fn update(&self, id: &str, request: UpdateVmRequest) -> Result<Vm> {
        validate::id("id", id)?;
        if let Some(m) = &request.metadata {
            validate::metadata("metadata", m)?;
        }
        if let Some(t) = &request.ttl {
            validate::ttl("ttl", t)?;
        }
        call("updateVm", self.client.api().update_vm().id(id).body(request).send()).await
    }

    /// `PATCH /v1/vms/{id}` with `{"ttl": null}`: removes the VM's TTL.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, id: &str) -> fastvm::Result<()> {
    /// let vm = client.vms().clear_ttl(id).await?;
    /// assert!(vm.ttl.is_none());
    /// # Ok(()) }
    /// ```
    pub async fn clear_ttl(&self, id: &str) -> Result<Vm> {
        validate::id("id", id)?;
        // The generated `UpdateVmRequest.ttl` is an `Option` skipped when `None`, so it cannot
        // carry the explicit `null` the API uses to remove a TTL; this one body is sent by hand
        // through the same transport (auth, timeout, retries) as generated calls.
        let path = format!("/v1/vms/{}", fastvm_api::hooks::encode_path(id));
        let body = serde_json::json!({ "ttl": null });
        crate::http::send_json(
            self.client,
            reqwest::Method::PATCH,
            &path,
            &body,
            crate::ops::find("updateVm"),
        )
        .await
    }

    /// `DELETE /v1/vms/{id}`.
    pub async fn delete(&self, id: &str) -> Result<DeleteResponse> {
        validate::id("id", id)?;
        let deleted = call_or("deleteVm", self.client.api().delete_vm().id(id).send(), || deleted(id)).await?;
        Ok(known_id(deleted, id))
    }

    /// `POST /v1/vms/{id}/pause` (idempotent).
    pub async fn pause(&self, id: &str) -> Result<Vm> {
        validate::id("id", id)?;
        call("pauseVm", self.client.api().pause_vm().id(id).send()).await
    }

    /// `POST /v1/vms/{id}/resume`: 200 when running again, 202 when queued (then the VM's
    /// status is not yet `running`: use [`FastvmClient::wait_for_vm_ready`]). A quota failure
    /// is an [`ApiErrorKind::QuotaExceeded`](crate::ApiErrorKind::QuotaExceeded) error.
    pub async fn resume(&self, id: &str) -> Result<Vm> {
        validate::id("id", id)?;
        call("resumeVm", self.client.api().resume_vm().id(id).send()).await
    }

    /// `POST /v1/vms/{id}/ttl/refresh`: restart the TTL cycle (409 when the VM has no TTL).
    pub async fn refresh_ttl(&self, id: &str) -> Result<Vm> {
        validate::id("id", id)?;
        call("refreshVmTtl", self.client.api().refresh_vm_ttl().id(id).send()).await
    }

    /// `PUT /v1/vms/{id}/firewall`: replace the whole policy (missing blocks become the defaults).
    pub async fn set_firewall(&self, id: &str, policy: FirewallPolicy) -> Result<Vm> {
        validate::id("id", id)?;
        validate::firewall("firewall", &policy)?;
        call(
            "setVmFirewall",
            self.client.api().set_vm_firewall().id(id).body(policy).send(),
        )
        .await
    }

    /// `PATCH /v1/vms/{id}/firewall`: replace only the blocks present.
    pub async fn patch_firewall(&self, id: &str, policy: FirewallPolicy) -> Result<Vm> {
        validate::id("id", id)?;
        validate::firewall("firewall", &policy)?;
        call(
            "patchVmFirewall",
            self.client.api().patch_vm_firewall().id(id).body(policy).send(),
        )
        .await
    }

    /// `POST /v1/vms/{id}/console-token`: a short-lived console session token.
    pub async fn console_token(&self, id: &str) -> Result<ConsoleTokenResponse> {
        validate::id("id", id)?;
        call(
            "createConsoleToken",
            self.client.api().create_console_token().id(id).send(),
        )
        .await
    }

    /// Runs a command and returns its buffered output (`POST /v1/vms/{id}/exec`).
    ///
    /// A string runs through `sh -c`; an array is an argv. A non-zero exit is a result, not an
    /// error. Output is capped at 4 MiB per stream server-side (`stdout_truncated`,
    /// `stderr_truncated`); use [`Vms::stream`] for unbounded output. Not retried automatically.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, id: &str) -> fastvm::Result<()> {
    /// use fastvm::exec::Command;
    /// let out = client.vms().run(id, "uname -a").await?;
    /// let out = client.vms().run(id, Command::argv(["python3", "-c", "print(1)"]).timeout_sec(30)).await?;
    /// println!("exit {}: {}", out.exit_code, out.stdout);
    /// # Ok(()) }
    /// ```
    pub async fn run(&self, id: &str, command: impl Into<Command>) -> Result<ExecVmResponse> {
        validate::id("id", id)?;
        let command = command.into();
        let body = command.to_request()?;
        let client = self.client.for_command_timeout(command.timeout());
        call("execVm", client.api().exec_vm().id(id).body(body).send()).await
    }

    /// Runs a command and streams its output as it is produced (`Accept: application/x-ndjson`).
    ///
    /// The stream yields [`ExecEvent`](crate::exec::ExecEvent)s and ends after the exit event;
    /// if the connection ends first it yields [`Error::StreamClosed`](crate::Error::StreamClosed).
    /// No client-side timeout applies unless the client view sets one. Dropping the stream
    /// aborts the request. Never retried.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, id: &str) -> fastvm::Result<()> {
    /// use futures::StreamExt;
    /// use fastvm::exec::ExecEvent;
    /// let mut events = client.vms().stream(id, "make -j8").await?;
    /// while let Some(event) = events.next().await {
    ///     match event? {
    ///         ExecEvent::Stdout(b) => print!("{}", String::from_utf8_lossy(&b)),
    ///         ExecEvent::Stderr(b) => eprint!("{}", String::from_utf8_lossy(&b)),
    ///         ExecEvent::Exit { code, .. } => println!("exit {code}"),
    ///         _ => {}
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn stream(&self, id: &str, command: impl Into<Command>) -> Result<ExecStream> {
        validate::id("id", id)?;
        let body = command.into().to_request()?;
        crate::exec::send_stream(self.client, id, &body).await
    }
}
