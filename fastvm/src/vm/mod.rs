//! VM handles: [`Vm`], one VM and what you do with it, and [`OwnedVm`], a `Vm` that is deleted
//! on every exit path.
//!
//! ```no_run
//! # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
//! use fastvm::launch;
//! // Deleted when `vm` goes out of scope, on error and on panic too (the drop waits for the
//! // delete), or explicitly with `delete().await`, which reports errors.
//! let vm = client.launch_vm(launch::machine("c1m2").label("job", "ci-42")).await?;
//! vm.run("make test").await?.check()?;
//! vm.delete().await?;
//!
//! // The same, scoped: the VM is deleted after the closure, whatever it returns.
//! let kernel = client
//!     .with_vm(launch::machine("c1m2"), |vm| async move {
//!         Ok::<_, fastvm::Error>(vm.run("uname -r").await?.check()?.stdout.clone())
//!     })
//!     .await?;
//! # Ok(()) }
//! ```

mod bucket_mounts;
pub mod console;
pub mod launch;
mod manage;
mod readiness;
mod volumes;

pub use bucket_mounts::VmBucketMounts;
pub use manage::{VmServices, VmSshKeys};
pub use readiness::{Spawn, Spawned, WaitForPort, WaitUntil};
pub use volumes::VmVolumes;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::time::Duration;

use futures::FutureExt as _;

use crate::exec::{Command, ExecStream, RunOutput};
use crate::launch::LaunchParams;
use crate::resources::poll::WaitOptions;
use crate::resources::{CreateSnapshot, LaunchWarnings, Snapshots, Vms, into_future};
use crate::transfer::{Download, Upload};
use crate::types::{DeleteResponse, TtlAction, VmStatus};
use crate::{Error, FastvmClient, Result, types};

/// The server-side TTL a guarded launch gets when the caller set none: if the program dies
/// without deleting its VM, the server deletes it after this much running time.
pub(crate) const SAFETY_TTL: Duration = Duration::from_secs(600);

/// A handle on one VM: its id, the state last seen, and the operations on it.
///
/// Cheap to clone (the client is shared). Get one from [`FastvmClient::attach`] (an existing
/// VM), [`Vm::from_state`], or as the [`OwnedVm`] of [`FastvmClient::launch_vm`].
#[derive(Clone)]
pub struct Vm {
    client: FastvmClient,
    state: types::VmInfo,
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm")
            .field("id", &self.state.id)
            .field("name", &self.state.name)
            .field("status", &self.state.status)
            .finish_non_exhaustive()
    }
}

impl Vm {
    /// A handle on the existing VM `id`, its state fetched ([`FastvmClient::attach`]).
    pub(crate) async fn attach(client: &FastvmClient, id: &str) -> Result<Vm> {
        let state = Vms::new(client).retrieve(id).await?;
        Ok(Vm::from_state(client.clone(), state))
    }

    /// A handle on the VM `state` describes (no request is made).
    pub fn from_state(client: FastvmClient, state: types::VmInfo) -> Self {
        Vm { client, state }
    }

    /// The VM's id.
    pub fn id(&self) -> &str {
        &self.state.id
    }

    /// The VM as last seen (by the launch, or the last call that returned it).
    pub fn state(&self) -> &types::VmInfo {
        &self.state
    }

    /// The client this handle uses.
    pub fn client(&self) -> &FastvmClient {
        &self.client
    }

    /// Fetches the VM's current state (`GET /v1/vms/{id}`).
    pub async fn refresh(&mut self) -> Result<&types::VmInfo> {
        self.state = Vms::new(&self.client).retrieve(&self.state.id).await?;
        Ok(&self.state)
    }

    /// Runs a command and returns its buffered output; see
    /// [`Vms::run`](crate::resources::Vms::run).
    pub async fn run(&self, command: impl Into<Command>) -> Result<RunOutput> {
        Vms::new(&self.client).run(&self.state.id, command).await
    }

    /// Runs a command and streams its output; see [`Vms::stream`](crate::resources::Vms::stream).
    pub async fn stream(&self, command: impl Into<Command>) -> Result<ExecStream> {
        Vms::new(&self.client).stream(&self.state.id, command).await
    }

    /// Uploads a local file or directory to `remote`; see [`FastvmClient::upload`].
    pub fn upload<'a>(&'a self, local: impl Into<PathBuf>, remote: &'a str) -> Upload<'a> {
        self.client.upload(&self.state.id, local, remote)
    }

    /// Downloads `remote` to a local path; see [`FastvmClient::download`].
    pub fn download<'a>(&'a self, remote: &'a str, local: impl Into<PathBuf>) -> Download<'a> {
        self.client.download(&self.state.id, remote, local)
    }

    /// Snapshots the VM; see [`Snapshots::create`](crate::resources::Snapshots::create).
    pub fn snapshot(&self) -> CreateSnapshot<'_> {
        Snapshots::new(&self.client).create(&self.state.id)
    }

    /// Pauses the VM (idempotent).
    pub async fn pause(&mut self) -> Result<&types::VmInfo> {
        self.state = Vms::new(&self.client).pause(&self.state.id).await?;
        Ok(&self.state)
    }

    /// Resumes the VM and waits until it runs again (a queued resume is polled as
    /// [`FastvmClient::wait_for_vm_ready`] polls).
    pub async fn resume(&mut self) -> Result<&types::VmInfo> {
        let state = Vms::new(&self.client).resume(&self.state.id).await?;
        self.state = if state.status == VmStatus::Running {
            state
        } else {
            Vms::new(&self.client)
                .wait_running(&self.state.id, WaitOptions::default())
                .await?
        };
        Ok(&self.state)
    }

    /// Waits until the VM runs (after [`LaunchVm::no_wait`], or for a VM [`attach`]ed while it
    /// boots), polling as [`FastvmClient::wait_for_vm_ready`] does: every 2 s for at most 300 s
    /// unless set otherwise on the returned [`WaitReady`]. Returns the state once running; a VM
    /// that fails or is deleted meanwhile is an error.
    ///
    /// [`attach`]: FastvmClient::attach
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// use std::time::Duration;
    /// let mut vm = client.launch_vm(fastvm::launch::machine("c1m2")).no_wait().await?;
    /// // The VM is owned already: a wait that fails still deletes it.
    /// vm.wait_ready().deadline(Duration::from_secs(90)).await?;
    /// vm.run("uname -a").await?.check()?;
    /// # Ok(()) }
    /// ```
    pub fn wait_ready(&mut self) -> WaitReady<'_> {
        WaitReady {
            vm: self,
            options: WaitOptions::default(),
        }
    }

    /// Restarts the VM's TTL cycle (409 when it has none).
    pub async fn refresh_ttl(&mut self) -> Result<&types::VmInfo> {
        self.state = Vms::new(&self.client).refresh_ttl(&self.state.id).await?;
        Ok(&self.state)
    }

    /// Deletes the VM.
    pub async fn delete(self) -> Result<DeleteResponse> {
        Vms::new(&self.client).delete(&self.state.id).await
    }

    /// Takes ownership of the VM: the returned guard deletes it when dropped (see [`OwnedVm`]).
    ///
    /// No request is made, and no TTL is set or kept alive: a VM re-attached this way
    /// ([`FastvmClient::attach`]) whose TTL has action `delete` (such as the safety TTL of a
    /// [`launch_vm`](FastvmClient::launch_vm) in an earlier process) is deleted by the server
    /// when that TTL runs out, guard or not. For the safety of a launch (a delete TTL kept
    /// alive while the guard lives), use [`own_with_safety_ttl`](Self::own_with_safety_ttl).
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, id: &str) -> fastvm::Result<()> {
    /// let vm = client.attach(id).await?.own();
    /// vm.run("make clean").await?.check()?;
    /// // Deleted here.
    /// # Ok(()) }
    /// ```
    pub fn own(self) -> OwnedVm {
        OwnedVm {
            vm: Some(self),
            warnings: LaunchWarnings::default(),
            _keepalive: None,
        }
    }

    /// Takes ownership of the VM with the safety of a [`launch_vm`](FastvmClient::launch_vm):
    /// the guard deletes it when dropped (see [`OwnedVm`]), and a server-side TTL with action
    /// `delete` is refreshed in the background while the guard lives (every third of its
    /// length, at least every second), so that the server deletes the VM if the program dies
    /// without deleting it, and not while it is in use.
    ///
    /// Which TTL, from the VM's state as last seen (refresh it first if it may be stale):
    /// - none: a TTL of `ttl` (whole seconds, at least 1) with action `delete` is set
    ///   (`PATCH /v1/vms/{id}`), as a launch sets its safety TTL;
    /// - one with action `delete` (the safety TTL of a launch in an earlier process, or your
    ///   own): kept as it is, and kept alive;
    /// - one with action `pause`: kept as it is, not kept alive (as a launch leaves the TTL you
    ///   set alone); the VM is still deleted when the guard is dropped.
    ///
    /// When setting the TTL fails, the error is returned and the VM is left as it was (not
    /// owned, not deleted). The keepalive runs as [`keepalive`](Self::keepalive) runs.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, id: &str) -> fastvm::Result<()> {
    /// use std::time::Duration;
    /// // A VM launched by a run that crashed: owned again, its safety TTL kept alive.
    /// let vm = client.attach(id).await?.own_with_safety_ttl(Duration::from_secs(600)).await?;
    /// vm.run("make test").await?.check()?;
    /// # Ok(()) }
    /// ```
    pub async fn own_with_safety_ttl(mut self, ttl: Duration) -> Result<OwnedVm> {
        let every = match &self.state.ttl {
            None => {
                self.state = Vms::new(&self.client)
                    .update(&self.state.id)
                    .ttl(ttl, TtlAction::Delete)
                    .await?;
                Some(keepalive_interval(ttl))
            }
            Some(set) if set.action == TtlAction::Delete => Some(keepalive_interval(Duration::from_secs(set.seconds))),
            Some(_) => None,
        };
        let mut owned = self.own();
        owned._keepalive = every.map(|every| owned.keepalive(every));
        Ok(owned)
    }

    /// Refreshes the VM's TTL every `every` in the background until the returned [`Keepalive`]
    /// is dropped, so a VM launched with a TTL lives as long as you hold it (and no longer than
    /// its TTL once you stop). Refresh failures are logged (`tracing`, at `warn`), not fatal; a
    /// VM that is gone ends the keepalive. It runs on the current Tokio runtime (or the
    /// blocking client's); called outside any, it is not started (and says so at `warn`).
    ///
    /// ```no_run
    /// # async fn demo(vm: fastvm::vm::Vm) {
    /// use std::time::Duration;
    /// let _alive = vm.keepalive(Duration::from_secs(120));
    /// // ... long work: the VM's TTL (say 5 min) never runs out meanwhile.
    /// # }
    /// ```
    pub fn keepalive(&self, every: Duration) -> Keepalive {
        let (client, id) = (self.client.clone(), self.state.id.clone());
        let every = every.max(Duration::from_secs(1));
        let refresh = async move {
            loop {
                tokio::time::sleep(every).await;
                match Vms::new(&client).refresh_ttl(&id).await {
                    Ok(_) => tracing::debug!(vm = %id, "fastvm keepalive: TTL refreshed"),
                    Err(e) if e.is_not_found() => return,
                    Err(e) => tracing::warn!(vm = %id, error = %e, "fastvm keepalive: cannot refresh the TTL"),
                }
            }
        };
        let task = match crate::background::runtime() {
            Some(runtime) => Some(runtime.spawn(refresh)),
            None => {
                tracing::warn!(vm = %self.state.id, "fastvm keepalive: no Tokio runtime to run it on; not started");
                None
            }
        };
        Keepalive { task }
    }
}

/// The request of [`Vm::wait_ready`]; await it.
#[derive(Debug)]
#[must_use = "a request does nothing until it is awaited"]
pub struct WaitReady<'a> {
    vm: &'a mut Vm,
    options: WaitOptions,
}

impl WaitReady<'_> {
    crate::resources::poll::wait_setters!();
}

impl<'a> std::future::IntoFuture for WaitReady<'a> {
    type Output = Result<&'a types::VmInfo>;
    type IntoFuture = futures::future::BoxFuture<'a, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let WaitReady { vm, options } = self;
            if vm.state.status != VmStatus::Running {
                vm.state = Vms::new(&vm.client).wait_running(&vm.state.id, options).await?;
            }
            Ok(&vm.state)
        })
    }
}

/// How often a guard refreshes a safety TTL of length `ttl`: a third of it (two refreshes may
/// fail before it runs out), at least a second apart.
fn keepalive_interval(ttl: Duration) -> Duration {
    (ttl / 3).max(Duration::from_secs(1))
}

/// A background TTL refresh ([`Vm::keepalive`]); it stops when this is dropped.
#[derive(Debug)]
#[must_use = "the keepalive stops when this is dropped"]
pub struct Keepalive {
    /// `None` when there was no runtime to run it on.
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Keepalive {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// A [`Vm`] you own: it is deleted on every exit path.
///
/// - [`delete`](Self::delete)`.await` deletes it and reports errors (a VM already gone counts
///   as deleted);
/// - dropped (an early return, an error propagated with `?`, a panic, a cancelled future, the
///   end of `main`), it is deleted before the drop returns: the drop waits for the delete, up
///   to 30 s, on a thread and a connection of its own, from any context (a multi-thread or
///   current-thread runtime, a runtime shutting down, no runtime at all). On a multi-thread
///   runtime the wait is a `block_in_place`, so the runtime's other tasks go on. A failure is
///   logged (`tracing`, at `warn`) and left to the server-side safety TTL, which is also what
///   removes the VM when the process cannot run its drops (killed with SIGKILL, `abort`, a
///   power cut). With a client built on an injected `reqwest::Client`, that client is used
///   for the delete: on a current-thread runtime one of its pooled connections may be unusable
///   while the drop blocks that runtime, so there prefer [`delete`](Self::delete)`.await`;
/// - [`release`](Self::release) gives the VM back as a plain [`Vm`], not to be deleted.
///
/// It dereferences to [`Vm`] for everything else.
#[must_use = "an owned VM is deleted when dropped"]
pub struct OwnedVm {
    vm: Option<Vm>,
    /// What the launch could not do, for a launched VM.
    warnings: LaunchWarnings,
    /// Keeps the safety TTL of a guarded launch from running out while the guard lives.
    _keepalive: Option<Keepalive>,
}

impl std::fmt::Debug for OwnedVm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("OwnedVm").field(&self.vm).finish()
    }
}

impl OwnedVm {
    /// The VM, as a handle (the guard still owns it).
    pub fn vm(&self) -> &Vm {
        self.vm.as_ref().expect("an OwnedVm holds its VM until it is consumed")
    }

    /// What the launch could not do although the VM runs: the snapshot's services that
    /// could not be registered again, the volumes and bucket mounts that did not attach. Empty
    /// for a VM that was not launched by this guard.
    pub fn launch_warnings(&self) -> &LaunchWarnings {
        &self.warnings
    }

    /// Deletes the VM now and reports the outcome (a VM that is already gone is not an error).
    pub async fn delete(mut self) -> Result<DeleteResponse> {
        let vm = self.vm.take().expect("an OwnedVm holds its VM until it is consumed");
        let id = vm.state.id.clone();
        match vm.delete().await {
            Err(e) if e.is_not_found() => Ok(crate::resources::deleted(&id)),
            other => other,
        }
    }

    /// Gives the VM back without deleting it.
    pub fn release(mut self) -> Vm {
        self.vm.take().expect("an OwnedVm holds its VM until it is consumed")
    }
}

impl std::ops::Deref for OwnedVm {
    type Target = Vm;

    fn deref(&self) -> &Vm {
        self.vm()
    }
}

impl std::ops::DerefMut for OwnedVm {
    fn deref_mut(&mut self) -> &mut Vm {
        self.vm.as_mut().expect("an OwnedVm holds its VM until it is consumed")
    }
}

impl Drop for OwnedVm {
    fn drop(&mut self) {
        let Some(vm) = self.vm.take() else { return };
        let id = vm.state.id;
        // Waits (bounded) for the delete: a task spawned instead would not outlive the end of
        // `main`, which is where most guards are dropped.
        crate::cleanup::finish(&vm.client, "delete a dropped OwnedVm", move |client| async move {
            match Vms::new(&client).delete(&id).await {
                Ok(_) => tracing::debug!(vm = %id, "fastvm: deleted the dropped OwnedVm"),
                Err(e) if e.is_not_found() => {}
                Err(e) => tracing::warn!(vm = %id, error = %e, "fastvm: cannot delete a dropped OwnedVm"),
            }
        });
    }
}

/// What a scoped use of a VM ([`FastvmClient::with_vm`], and the blocking one) returns once the
/// VM is deleted: the closure's value, or the delete's error when the closure succeeded; the
/// closure's error (a failed delete is then logged); a panic is resumed.
pub(crate) fn scoped_result<T, E: From<Error>>(
    id: &str,
    outcome: std::thread::Result<std::result::Result<T, E>>,
    deleted: Result<DeleteResponse>,
) -> std::result::Result<T, E> {
    match outcome {
        Ok(Ok(value)) => {
            deleted?;
            Ok(value)
        }
        Ok(Err(e)) => {
            if let Err(d) = deleted {
                tracing::warn!(vm = %id, error = %d, "fastvm: cannot delete the VM after the closure failed");
            }
            Err(e)
        }
        Err(panic) => {
            if let Err(d) = deleted {
                tracing::warn!(vm = %id, error = %d, "fastvm: cannot delete the VM after the closure panicked");
            }
            std::panic::resume_unwind(panic)
        }
    }
}

/// The request of [`FastvmClient::launch_vm`]; await it.
#[derive(Debug)]
#[must_use = "a request does nothing until it is awaited"]
pub struct LaunchVm<'a> {
    client: &'a FastvmClient,
    params: LaunchParams,
    /// `None`: do not wait for the VM to run.
    wait: Option<WaitOptions>,
    safety_ttl: Option<Duration>,
}

impl LaunchVm<'_> {
    /// Time between polls while the VM boots (default 2 s; ±10 % jitter, never under 500 ms).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.wait.get_or_insert_with(WaitOptions::default).poll_interval = interval;
        self
    }

    /// How long to wait for the VM to run, counted from the first poll (default 300 s).
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.wait.get_or_insert_with(WaitOptions::default).timeout = deadline;
        self
    }

    /// Returns as soon as the server accepted the launch, owned already: the VM may still be
    /// booting (see its [`state`](Vm::state)); wait with [`Vm::wait_ready`]. For callers that
    /// race the wait against something else (a Ctrl-C) without risking a VM whose id they never learn.
    pub fn no_wait(mut self) -> Self {
        self.wait = None;
        self
    }

    /// The safety TTL used when the launch parameters set none (default 10 minutes; whole
    /// seconds, at least 1): kept alive in the background while the guard lives.
    pub fn safety_ttl(mut self, ttl: Duration) -> Self {
        self.safety_ttl = Some(ttl);
        self
    }

    /// No safety TTL: a VM whose program dies without deleting it keeps running.
    pub fn no_safety_ttl(mut self) -> Self {
        self.safety_ttl = None;
        self
    }

    /// Launches the VM as configured, runs `f` with it, and deletes it afterwards: what
    /// [`FastvmClient::with_vm`] does, with this launch's options.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// use std::time::Duration;
    /// let uname = client
    ///     .launch_vm(fastvm::launch::machine("c1m2"))
    ///     .deadline(Duration::from_secs(60))
    ///     .safety_ttl(Duration::from_secs(120))
    ///     .with(|vm| async move { Ok::<_, fastvm::Error>(vm.run("uname -a").await?.check()?.stdout.clone()) })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn with<T, E, F, Fut>(self, f: F) -> std::result::Result<T, E>
    where
        F: FnOnce(Vm) -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: From<Error>,
    {
        let owned = self.send().await?;
        let outcome = AssertUnwindSafe(f(owned.vm().clone())).catch_unwind().await;
        let id = owned.id().to_string();
        let deleted = owned.delete().await;
        scoped_result(&id, outcome, deleted)
    }

    async fn send(self) -> Result<OwnedVm> {
        let LaunchVm {
            client,
            mut params,
            wait,
            safety_ttl,
        } = self;
        let keepalive_every = match safety_ttl {
            Some(ttl) if !params.has_ttl() => {
                params = params.ttl(ttl, TtlAction::Delete);
                Some(keepalive_interval(ttl))
            }
            _ => None,
        };
        let launched = Vms::new(client).launch(params).await?;
        let (state, warnings) = launched.into_parts();
        tracing::Span::current().record("vm_id", state.id.as_str());
        // Owned from here on: a failed or cancelled wait deletes the VM.
        let mut owned = Vm::from_state(client.clone(), state).own();
        owned.warnings = warnings;
        owned._keepalive = keepalive_every.map(|every| owned.keepalive(every));
        if let Some(wait) = wait
            && owned.state.status != VmStatus::Running
        {
            let id = owned.state.id.clone();
            owned.state = Vms::new(client).wait_running(&id, wait).await?;
        }
        Ok(owned)
    }
}

into_future!(LaunchVm => OwnedVm, |_: &LaunchVm<'_>| tracing::debug_span!(
    "fastvm.launch",
    vm_id = tracing::field::Empty
));

impl<'a> LaunchVm<'a> {
    /// The request of [`FastvmClient::launch_vm`].
    pub(crate) fn new(client: &'a FastvmClient, params: impl Into<LaunchParams>) -> Self {
        LaunchVm {
            client,
            params: params.into(),
            wait: Some(WaitOptions::default()),
            safety_ttl: Some(SAFETY_TTL),
        }
    }
}
