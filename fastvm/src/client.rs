//! [`FastvmClient`]'s public API, in one file: construction, views, the resource groups, and
//! every root method (thin delegates to the module that does the work).
//!
//! The type and its private state are in `transport/state.rs` (what every layer holds).

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::{ClientBuilder, RequestOptions, Settings};
use crate::console::ConsoleSession;
use crate::launch::LaunchParams;
use crate::resources::Wait;
use crate::resources::{
    BuildContexts, Builds, Health, Pricing, Quotas, SnapshotImports, Snapshots, UserSshKeys, Vms, Volumes,
};
use crate::transfer::{Download, Upload, UploadMany};
use crate::types::{BuildResponse, Snapshot, SnapshotImport};
use crate::vm::{LaunchVm, Vm};
use crate::workflows::{BuildImage, ImportFromDir, LaunchFleet, PruneSnapshots, SnapshotFamily, Sweep};
use crate::{Error, Result};

use crate::FastvmClient;

/// Construction and views.
impl FastvmClient {
    /// A client configured from `FASTVM_API_KEY` (required) and `FASTVM_BASE_URL` (optional;
    /// empty means the default `https://api.fastvm.org`).
    pub fn from_env() -> Result<Self> {
        ClientBuilder::new().build()
    }

    /// A builder for a client configured in code.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// A view of this client whose calls use `options` (timeout, retries) on top of this
    /// view's own. It shares the connection pool; creating one is cheap.
    pub fn with_options(&self, options: RequestOptions) -> Self {
        let transport = self.transport();
        Self::view(transport.settings.clone(), options.over(&transport.options))
    }

    /// The API base URL in use (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.transport().settings.base_url
    }

    /// The generated low-level client, for anything the facade does not wrap. Its calls go
    /// through the same auth, timeout and retry policy.
    pub fn api(&self) -> &fastvm_api::Client {
        &self.inner.api
    }

    /// Makes a call of the generated client the way the facade's own methods do: `make` gets
    /// [`api`](Self::api)'s client and returns the generated call, whose answer's body comes
    /// back; a failure is this crate's [`Error`], mapped from the raw answer (its kind, body
    /// snippet, request id and the `operation` named), where a bare `api()` call gives
    /// progenitor's error. For an operation the facade does not wrap.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// let quotas = client.call_api("getOrgQuotas", |api| api.get_org_quotas().send()).await?;
    /// println!("{} vCPU in use", quotas.usage.vcpu);
    /// # Ok(()) }
    /// ```
    pub async fn call_api<'a, T, Fut>(
        &'a self,
        operation: &'static str,
        make: impl FnOnce(&'a fastvm_api::Client) -> Fut,
    ) -> Result<T>
    where
        Fut: Future<Output = std::result::Result<fastvm_api::ResponseValue<T>, fastvm_api::Error<()>>>,
    {
        crate::transport::call::call(operation, self, make).await
    }
}

impl ClientBuilder {
    /// Builds the client.
    pub fn build(self) -> Result<FastvmClient> {
        self.build_with_env(&|name| std::env::var(name).ok())
    }

    /// [`build`](Self::build) with the environment read through `env` (tests give their own).
    pub(crate) fn build_with_env(self, env: &dyn Fn(&str) -> Option<String>) -> Result<FastvmClient> {
        let settings: Settings = self.settings_with_env(env)?;
        Ok(FastvmClient::view(Arc::new(settings), RequestOptions::default()))
    }
}

/// The resource groups: one HTTP operation per method, named as in the API reference.
impl FastvmClient {
    /// Health check (`GET /healthz`).
    pub fn health(&self) -> Health<'_> {
        Health::new(self)
    }

    /// VMs and their sub-resources (services, SSH keys, files).
    pub fn vms(&self) -> Vms<'_> {
        Vms::new(self)
    }

    /// Snapshots.
    pub fn snapshots(&self) -> Snapshots<'_> {
        Snapshots::new(self)
    }

    /// Image builds.
    pub fn builds(&self) -> Builds<'_> {
        Builds::new(self)
    }

    /// Build-context uploads.
    pub fn build_contexts(&self) -> BuildContexts<'_> {
        BuildContexts::new(self)
    }

    /// Snapshot imports, from an image or a Dockerfile and its context (upstream API after
    /// the reference; the successor of [`builds`](Self::builds)).
    pub fn snapshot_imports(&self) -> SnapshotImports<'_> {
        SnapshotImports::new(self)
    }

    /// Org quotas.
    pub fn quotas(&self) -> Quotas<'_> {
        Quotas::new(self)
    }

    /// Public list prices (upstream API after the reference).
    pub fn pricing(&self) -> Pricing<'_> {
        Pricing::new(self)
    }

    /// The calling user's SSH keys, for the stack's SSH gateway (upstream API after the
    /// reference).
    pub fn user_ssh_keys(&self) -> UserSshKeys<'_> {
        UserSshKeys::new(self)
    }

    /// Managed shared volumes and their attachments to VMs (upstream API after the reference).
    pub fn volumes(&self) -> Volumes<'_> {
        Volumes::new(self)
    }
}

/// VMs you own, fleets and sweeps.
impl FastvmClient {
    /// A handle on the existing VM `id` (its state is fetched).
    pub async fn attach(&self, id: &str) -> Result<Vm> {
        Vm::attach(self, id).await
    }

    /// Launches a VM you own ([`OwnedVm`](crate::vm::OwnedVm)): it is deleted when the guard is dropped or
    /// [`delete`](crate::vm::OwnedVm::delete)d, and waited for until it runs (as
    /// [`Vms::launch`](crate::resources::Vms::launch) waits).
    ///
    /// Unless `params` set a TTL, the VM gets a server-side safety TTL with action `delete`
    /// (10 minutes by default, [`safety_ttl`](LaunchVm::safety_ttl)), refreshed in the
    /// background while the guard lives: if the program dies without deleting the VM, the
    /// server does. A VM whose launch was cancelled before its id was known is deleted by that
    /// TTL too.
    pub fn launch_vm(&self, params: impl Into<LaunchParams>) -> LaunchVm<'_> {
        LaunchVm::new(self, params)
    }

    /// Launches a VM, runs `f` with it, and deletes it afterwards, also when `f` fails or
    /// panics (the panic is resumed after the delete). Returns what `f` returns; when `f`
    /// succeeds but the delete fails, the delete's error. `f`'s error type only needs
    /// `From<fastvm::Error>`.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// let tests = client
    ///     .with_vm(fastvm::launch::machine("c2m4"), |vm| async move {
    ///         vm.upload("./repo", "/workspace/repo").await?;
    ///         let out = vm.run(fastvm::exec::Command::sh("cargo test").cwd("/workspace/repo")).await?;
    ///         Ok::<_, fastvm::Error>(out.check()?.stdout.clone())
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// To configure the launch (wait timeout, safety TTL), use [`LaunchVm::with`]:
    /// `client.launch_vm(params).deadline(t).with(f)`.
    pub async fn with_vm<T, E, F, Fut>(&self, params: impl Into<LaunchParams>, f: F) -> std::result::Result<T, E>
    where
        F: FnOnce(Vm) -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: From<Error>,
    {
        self.launch_vm(params).with(f).await
    }

    /// Launches `n` VMs like `params` (each as [`launch_vm`](Self::launch_vm) launches: an
    /// [`OwnedVm`](crate::vm::OwnedVm) with a safety TTL, waited for until it runs), at most
    /// [`concurrency`](LaunchFleet::concurrency) at a time, and returns them all, in launch
    /// order.
    ///
    /// A launch refused because a quota is used up (a 429 or other answer of kind
    /// [`ApiErrorKind::QuotaExceeded`](crate::ApiErrorKind::QuotaExceeded), or a plain 429 [`ApiErrorKind::RateLimit`](crate::ApiErrorKind::RateLimit): neither
    /// launched anything) is tried again after a wait (from 0.5 s, doubling up to 10 s, with
    /// random jitter) until the fleet's [`deadline`](LaunchFleet::deadline). Any other failure,
    /// or the deadline passing, ends the fleet: no new launch starts, the launches under way
    /// finish, every VM the fleet launched is deleted (awaited; a failed delete is logged),
    /// and the first error is returned. A deadline that passes while launches are refused
    /// gives [`Error::Timeout`] naming the last refusal; one that passes while a VM boots
    /// gives that VM's [`Error::VmNotReady`].
    ///
    /// `n == 0` and a concurrency of 0 are refused with [`Error::InvalidInput`], as are
    /// invalid launch parameters, before any request.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// use futures::future::try_join_all;
    /// let vms = client.fleet(fastvm::launch::machine("c1m2"), 6).concurrency(2).await?;
    /// let outputs = try_join_all(vms.iter().map(|vm| vm.run("nproc"))).await?;
    /// # Ok(()) }
    /// ```
    pub fn fleet(&self, params: impl Into<LaunchParams>, n: usize) -> LaunchFleet<'_> {
        LaunchFleet::new(self, params, n)
    }

    /// Finds the VMs (and, with [`snapshots`](Sweep::snapshots), the snapshots) matching every
    /// filter set on the returned [`Sweep`], and deletes them when told to with
    /// [`dry_run(false)`](Sweep::dry_run): by default a sweep only lists.
    ///
    /// Filters: [`label`](Sweep::label) (repeatable; every one must match the metadata),
    /// [`name_prefix`](Sweep::name_prefix), [`older_than`](Sweep::older_than). At least one
    /// label or a name prefix is required: a sweep that would match everything is refused with
    /// [`Error::InvalidInput`] before any request. VMs being deleted (`deleting`) are skipped.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// use std::time::Duration;
    /// // The test suite's leftovers: `sdk-test-*` VMs older than 15 minutes.
    /// let report = client
    ///     .sweep()
    ///     .name_prefix("sdk-test-")
    ///     .older_than(Duration::from_secs(900))
    ///     .dry_run(false)
    ///     .await?;
    /// for failure in &report.errors {
    ///     eprintln!("cannot delete {} {}: {}", failure.kind, failure.id, failure.error);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn sweep(&self) -> Sweep<'_> {
        Sweep::new(self)
    }

    /// The newest snapshot (by `created_at`; one without it counts as the oldest) of `family`,
    /// or `None`. Any status: check [`status`](crate::types::Snapshot::status) before relying
    /// on it. A family of an empty prefix or a blank exact name is refused with
    /// [`Error::InvalidInput`] before any request. Lists every snapshot (`GET /v1/snapshots`)
    /// and chooses locally.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// use fastvm::workflows::SnapshotFamily;
    /// // `agent-t1-1715700000`, not `agent-t1-x-1715700000` (task `t1-x`).
    /// if let Some(snap) = client.newest_snapshot(&SnapshotFamily::numbered("agent-t1-")).await? {
    ///     let vm = client.launch_vm(fastvm::launch::snapshot(&snap.id)).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn newest_snapshot(&self, family: &SnapshotFamily) -> Result<Option<crate::types::Snapshot>> {
        crate::workflows::newest_snapshot(self, family).await
    }

    /// Keeps the newest [`keep`](PruneSnapshots::keep) snapshots of `family` (default 1) and
    /// deletes the older ones when told to with [`dry_run(false)`](PruneSnapshots::dry_run):
    /// by default a prune only lists, as a [`sweep`](Self::sweep) does.
    ///
    /// Snapshots are ranked by `created_at` (one without it counts as the oldest), whatever
    /// their status; one still `creating` is never deleted (it is listed as kept). A delete that
    /// fails is reported in [`PruneReport::errors`](crate::workflows::PruneReport::errors) (a
    /// snapshot already gone is not a failure); the others go on. A family of an empty prefix
    /// or a blank exact name is refused with [`Error::InvalidInput`] before any request.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// use fastvm::workflows::SnapshotFamily;
    /// let report = client
    ///     .prune_snapshots(SnapshotFamily::numbered("agent-t1-"))
    ///     .keep(3)
    ///     .dry_run(false)
    ///     .await?;
    /// for failure in &report.errors {
    ///     eprintln!("cannot delete snapshot {}: {}", failure.id, failure.error);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn prune_snapshots(&self, family: SnapshotFamily) -> PruneSnapshots<'_> {
        PruneSnapshots::new(self, family)
    }
}

/// Waits.
impl FastvmClient {
    /// Polls `GET /v1/vms/{id}` (the first poll immediately) until the VM is `running`.
    ///
    /// `error`, `stopped` and `deleting` fail with [`Error::VmLaunch`]; the deadline passing
    /// fails with [`Error::VmNotReady`]. Any other status, known or not, means keep waiting.
    /// By default it polls every 2 s (±10 %, never under 500 ms) for up to 300 s.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, id: &str) -> fastvm::Result<()> {
    /// use std::time::Duration;
    /// let vm = client.wait_for_vm_ready(id).deadline(Duration::from_secs(60)).await?;
    /// assert_eq!(vm.status, fastvm::types::VmStatus::Running);
    /// # Ok(()) }
    /// ```
    pub fn wait_for_vm_ready<'a>(&'a self, id: &'a str) -> Wait<'a, crate::types::VmInfo> {
        Wait::new(self, id)
    }

    /// Polls `GET /v1/builds/{id}` until the build is `completed` (returned) or `failed`
    /// ([`Error::BuildFailed`]). Unknown statuses mean in progress; the deadline passing gives
    /// [`Error::BuildNotFinished`]. Polls as [`wait_for_vm_ready`](Self::wait_for_vm_ready).
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// let build = client.builds().create().image_ref("python:3.13-slim").await?;
    /// let done = client.wait_for_build(&build.id).await?;
    /// println!("snapshot {}", done.snapshot_id.unwrap_or_default());
    /// # Ok(()) }
    /// ```
    #[deprecated = "replaced upstream by snapshot imports: use `client.snapshot_imports()`"]
    pub fn wait_for_build<'a>(&'a self, id: &'a str) -> Wait<'a, BuildResponse> {
        Wait::new(self, id)
    }

    /// Polls `GET /v1/snapshot-imports/{id}` (the first poll immediately) until the import is
    /// `succeeded`, and returns it (its `snapshot_id` names the snapshot). `failed` gives
    /// [`Error::SnapshotImportFailed`] (with the server's diagnostic), `cancelled`
    /// [`Error::SnapshotImportCancelled`]; `pending`, `claimed`, `running` and statuses this SDK
    /// does not know mean keep waiting; the deadline passing gives
    /// [`Error::SnapshotImportNotFinished`] (the import is left as it is: this wait does not
    /// own it; [`CreateSnapshotImport::wait_ready`](crate::resources::CreateSnapshotImport::wait_ready)
    /// does, and cancels it). Polls as [`wait_for_vm_ready`](Self::wait_for_vm_ready).
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// let import = client.snapshot_imports().create().image("alpine:3").await?;
    /// let done = client.wait_for_snapshot_import(&import.id).await?;
    /// println!("snapshot {}", done.snapshot_id.unwrap_or_default());
    /// # Ok(()) }
    /// ```
    pub fn wait_for_snapshot_import<'a>(&'a self, id: &'a str) -> Wait<'a, SnapshotImport> {
        Wait::new(self, id)
    }

    /// Polls `GET /v1/snapshots/{id}` (the first poll immediately) until the snapshot is
    /// `ready`, and returns it.
    ///
    /// The documented statuses are `creating`, `ready` and `error`: `error` fails with
    /// [`Error::SnapshotFailed`]; any other status, `creating` or one this SDK does not know,
    /// means it is still being made. The deadline passing fails with
    /// [`Error::SnapshotNotReady`] (the snapshot is left as it is). Polls as
    /// [`wait_for_vm_ready`](Self::wait_for_vm_ready): every 2 s (±10 %, never under 500 ms)
    /// for up to 300 s by default.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm_id: &str) -> fastvm::Result<()> {
    /// use std::time::Duration;
    /// let snap = client.snapshots().create(vm_id).name("golden").await?;
    /// let snap = client.wait_for_snapshot_ready(&snap.id).deadline(Duration::from_secs(600)).await?;
    /// assert_eq!(snap.status, fastvm::types::SnapshotStatus::Ready);
    /// # Ok(()) }
    /// ```
    pub fn wait_for_snapshot_ready<'a>(&'a self, id: &'a str) -> Wait<'a, Snapshot> {
        Wait::new(self, id)
    }
}

/// Files and directories.
impl FastvmClient {
    /// Uploads a local file or directory to `remote` in the VM.
    ///
    /// A file is sent with its exact length straight from disk (presign, PUT to storage,
    /// `files/fetch`); a file larger than the VM accepts (`maxUploadBytes`) is refused before any
    /// byte is sent. A directory's contents are archived in process (gzip tar, symlinks kept as
    /// links, modes and times kept, owned by the extracting user), streamed to a staging path
    /// under `/var/tmp`, fetched and extracted into `remote`, which is created if needed:
    /// `download(vm, remote, dir)` gives back the same tree. This is the pipeline of
    /// [`upload_many`](crate::FastvmClient::upload_many): the staging file is removed whether
    /// the upload succeeds, fails or is dropped (the drop waits for it, see
    /// [`OwnedVm`](crate::vm::OwnedVm) for how).
    ///
    /// Errors are [`Error::FileTransfer`](crate::Error::FileTransfer) with a kind saying which step
    /// failed (`NotFound` for a missing local path, `TooLarge`, `Storage`, `RemoteCommand`, `Io`,
    /// `Verify`, `Unsupported` for a local path that is neither a file nor a directory), or the
    /// API error of a presign/fetch/exec call. Dropping the future stops the transfer.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm_id: &str) -> fastvm::Result<()> {
    /// client.upload(vm_id, "./site", "/srv/site").await?;
    /// client.upload(vm_id, "model.bin", "/root/model.bin").verify(true).await?;
    /// # Ok(()) }
    /// ```
    pub fn upload<'a>(&'a self, vm_id: &'a str, local: impl Into<PathBuf>, remote: &'a str) -> Upload<'a> {
        Upload::new(self, vm_id, local, remote)
    }

    /// Downloads the file or directory at `remote` in the VM to `local`.
    ///
    /// One VM-side command classifies `remote`: a missing path is [`Error::FileTransfer`](crate::Error::FileTransfer) with
    /// kind `NotFound` (see [`Error::is_not_found`](crate::Error::is_not_found)), distinct from a failed or timed-out command
    /// (`RemoteCommand`). A file is pushed by a VM-side `curl -T` to presigned storage and
    /// streamed to disk; a directory is tarred VM-side and streamed through gunzip and a safe
    /// extractor (no absolute paths, `..`, escaping links or device files; caps set on the request).
    ///
    /// Where it lands, as with `cp` (an existing directory counts through a symlink to it, and
    /// `.` is one):
    ///
    /// | `remote` is | `local` is an existing directory | `local` does not exist |
    /// |-------------|----------------------------------|------------------------|
    /// | a file      | `local/<base name of remote>` (a file there is replaced) | the file `local` |
    /// | a directory | its contents are merged into `local` | the directory `local` |
    ///
    /// Missing parent directories of `local` are created. Refused, with nothing written: a file
    /// whose destination is a directory, a directory onto an existing file (kind `Io`); an empty
    /// `local`, one that names no entry to create (`missing/..`), a file to a missing `local`
    /// ending in a separator, and a file into an existing directory when `remote`'s base name
    /// (after its last `/`) is empty, `.` or `..` ([`Error::InvalidInput`](crate::Error::InvalidInput)). That last one is
    /// decided once the VM has called `remote` a file, which such a path cannot be on a POSIX
    /// VM: before it, `/root/.` into `.` is a valid directory merge. Nothing but the classify
    /// command has run then.
    ///
    /// Nothing half-written is left at `local`: a file lands under a temporary name beside its
    /// destination and is renamed into place; a directory is extracted into a staging directory
    /// and moved into place only after the whole archive was read. A merge into an existing
    /// directory is all or nothing: every conflict (a directory where the download has a file,
    /// a file or a symlink where it has a directory) is found before the first move, and if a
    /// move still fails the ones already made are undone, so that on error the directory holds
    /// the same entries with the same contents as before; files of the same name are replaced
    /// only when the whole merge lands. This holds for errors and cancellation, not for a crash
    /// or power loss midway (nothing is fsynced), and not against other processes changing the
    /// directory during the merge. [`fetch_timeout`](Download::fetch_timeout) bounds the storage
    /// download on the client.
    ///
    /// Off Unix, the archive's file and directory modes are skipped (not approximated), and a
    /// directory whose archive holds a symlink is refused (kind `Archive`, naming the entry)
    /// rather than downloaded without it.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm_id: &str) -> fastvm::Result<()> {
    /// match client.download(vm_id, "/var/log/app", "./logs").await {
    ///     Err(e) if e.is_not_found() => println!("nothing to fetch"),
    ///     other => other?,
    /// }
    /// // Into the current directory, as `./out.log`, checked against the VM's SHA-256.
    /// client.download(vm_id, "/root/out.log", ".").verify(true).await?;
    /// # Ok(()) }
    /// ```
    pub fn download<'a>(&'a self, vm_id: &'a str, remote: &'a str, local: impl Into<PathBuf>) -> Download<'a> {
        Download::new(self, vm_id, remote, local)
    }

    /// Uploads many local files and directories to absolute paths in the VM with one archive,
    /// one storage upload and one VM-side extraction: add the pairs with
    /// [`file`](UploadMany::file), [`dir`](UploadMany::dir) or [`path`](UploadMany::path), then
    /// await.
    ///
    /// The pairs are archived in process into one gzip tar whose members are the remote paths
    /// relative to `/` (files with their modes and modification times, directories
    /// recursively with symlinks kept as links, as [`upload`](Self::upload) archives a
    /// directory), streamed with bounded memory to a staging file under `/var/tmp`, fetched
    /// into the VM (one `files/presign`, one storage PUT, one `files/fetch`) and extracted by
    /// one `tar -xzf … -C /`, which removes the staging file whatever happens. Missing parent
    /// directories are created by `tar`. Members are owned by the VM user that extracts them
    /// (root on fastvm VMs), not by the local uid. A directory's own mode and time are given to
    /// its remote path, as `upload` does. Pairs are extracted in the order they were added, so
    /// a file placed inside an uploaded directory replaces the directory's file of that name.
    ///
    /// Refused before any request, with [`Error::InvalidInput`] naming the pair
    /// (`pairs[2].remote`, …): no pair at all; a remote path that is relative, has a `..`
    /// component, contains NUL, or is `/` itself; two pairs with the same remote path (after
    /// removing `.` components and repeated or trailing `/`); a file whose remote path ends in
    /// `/`; a pair whose remote path lies inside one that another pair uploads as a file;
    /// [`file`](UploadMany::file) given a directory or [`dir`](UploadMany::dir) a file. A local
    /// path that does not exist is [`Error::FileTransfer`] with kind `NotFound` (as with
    /// `upload`), one that is neither a file nor a directory kind `Unsupported`.
    ///
    /// Later failures are `FileTransfer` errors (`Storage`, `TooLarge` against `maxUploadBytes`,
    /// `Io` for a local file that cannot be read, `RemoteCommand` for a failed fetch or
    /// extraction, `Verify`) or the API error of a call. The staging file is removed on every
    /// failure after the upload (by the extraction command itself, else by one more `rm -f`
    /// exec), and when the future is dropped midway (the drop waits for the `rm`, bounded). The
    /// archive is sent chunked, as directory uploads are (see the [module docs](super)).
    ///
    /// The VM needs `sh`, `tar` with gzip support, `rm`, and `sha256sum` for
    /// [`verify`](UploadMany::verify).
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm_id: &str) -> fastvm::Result<()> {
    /// client
    ///     .upload_many(vm_id)
    ///     .file("config.toml", "/etc/app/config.toml")
    ///     .file("target/release/app", "/usr/local/bin/app")
    ///     .dir("./site", "/srv/site")
    ///     .verify(true)
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn upload_many<'a>(&'a self, vm_id: &'a str) -> UploadMany<'a> {
        UploadMany::new(self, vm_id)
    }
}

/// Images and consoles.
impl FastvmClient {
    /// Builds an image: a snapshot named `name` (sanitised with
    /// [`names::sanitize`](crate::names::sanitize)) of a VM launched from `from` (a machine
    /// type or a snapshot) after the steps set on the returned [`BuildImage`] ran in it.
    ///
    /// In order:
    /// 1. the builder VM is launched as [`launch_vm`](Self::launch_vm) launches (an
    ///    [`OwnedVm`](crate::vm::OwnedVm) with a safety TTL), and waited for until it runs;
    /// 2. each step runs ([`Vm::run`](crate::vm::Vm::run)) and must succeed
    ///    ([`RunOutput::check`](crate::exec::RunOutput::check)): the first that fails, or cannot be run, stops the build with
    ///    [`Error::ImageStepFailed`] naming the step and carrying its error (for a failed
    ///    command, [`Error::CommandFailed`] with the ends of its output);
    /// 3. the VM is snapshotted and the snapshot waited for until `ready`
    ///    ([`CreateSnapshot::wait_ready`](crate::resources::CreateSnapshot::wait_ready));
    /// 4. the builder VM is deleted;
    /// 5. with [`rotate`](BuildImage::rotate), the older snapshots with the image's name are
    ///    deleted.
    ///
    /// Nothing the build created is left behind when it fails: the builder VM is deleted after
    /// a failure (and, through its guard, after a panic or when the future is dropped), and a
    /// snapshot that is not ready is deleted too. Once the snapshot is ready the build has
    /// succeeded: a failure to delete the builder VM or an old snapshot is reported in
    /// [`BuiltImage::cleanup_errors`](crate::workflows::BuiltImage::cleanup_errors) (and logged), not as an error, and the new snapshot is
    /// kept.
    ///
    /// Refused before any request, with [`Error::InvalidInput`]: a name with nothing left after
    /// sanitising, invalid launch parameters, and an invalid step (the field is `step N: …`).
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// use fastvm::{Error, launch};
    /// match client.build_image("ci-base", launch::machine("c1m2")).step("make deps").await {
    ///     Ok(image) => println!("image {} is ready", image.snapshot.id),
    ///     Err(Error::ImageStepFailed { step, source, .. }) => eprintln!("step {step}: {source}"),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn build_image(&self, name: impl Into<String>, from: impl Into<LaunchParams>) -> BuildImage<'_> {
        BuildImage::new(self, name, from)
    }

    /// Makes a snapshot from the local directory `dir`, a Dockerfile and its build context
    /// (the Dockerfile at `Dockerfile` unless [`dockerfile_path`](ImportFromDir::dockerfile_path)
    /// says otherwise): zips it, uploads it to a presigned URL
    /// ([`SnapshotImports::presign_context`]), creates a dockerfile import with its
    /// `contextRef`, and waits until the import has `succeeded` (set the builder's `deadline`
    /// and `poll_interval`; default 300 s). The result's `snapshot_id` names the snapshot.
    ///
    /// If the wait ends any other way (the deadline, a failed poll, the future dropped), the
    /// import is cancelled before the error is returned; `failed` is
    /// [`Error::SnapshotImportFailed`] with the server's diagnostic. Refused before any request:
    /// a directory without the Dockerfile, a Dockerfile path that is absolute or holds `..`,
    /// more than 64 build arguments, credentials without a registry host. A symlink, device,
    /// fifo or socket in the directory fails the zipping with its path
    /// ([`FileTransferErrorKind::Unsupported`](crate::transfer::FileTransferErrorKind::Unsupported)).
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// use std::time::Duration;
    /// let import = client
    ///     .import_snapshot_from_dir("./service")
    ///     .name("service")
    ///     .build_arg("VERSION", "1.4.2")
    ///     .deadline(Duration::from_secs(1800))
    ///     .await?;
    /// let vm = client.launch_vm(fastvm::launch::snapshot(&import.snapshot_id.unwrap_or_default())).await?;
    /// # Ok(()) }
    /// ```
    pub fn import_snapshot_from_dir(&self, dir: impl Into<PathBuf>) -> ImportFromDir<'_> {
        ImportFromDir::new(self, dir.into())
    }

    /// Opens an interactive console on the VM `vm_id`: mints a console token and connects its
    /// WebSocket (see the [`console`](crate::console) module). The VM must be running.
    ///
    /// Errors: the token call's API errors (404 for an unknown VM, 409 for one that is not
    /// running); [`Error::Console`] when the WebSocket cannot be opened.
    pub async fn console(&self, vm_id: &str) -> Result<ConsoleSession> {
        crate::console::open(self, vm_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync + 'static>() {}
    fn send<T: Send + 'static>() {}

    /// The client is shared across tasks and threads; errors cross `?` into `anyhow`-style
    /// boxes; streams and transfer futures are spawned.
    #[test]
    fn public_types_are_thread_safe() {
        send_sync::<FastvmClient>();
        send_sync::<crate::Error>();
        send_sync::<crate::RequestOptions>();
        send_sync::<crate::RetryPolicy>();
        send::<crate::exec::ExecStream>();
    }

    /// Every request builder is awaited as a `Send` future, so it can be spawned.
    #[tokio::test]
    async fn futures_are_send() {
        use std::future::IntoFuture;
        fn is_send<F: std::future::Future + Send>(_: F) {}
        let client = FastvmClient::builder()
            .api_key("k")
            .base_url("http://127.0.0.1:9")
            .build()
            .unwrap();
        is_send(client.launch_vm(crate::launch::machine("c1m2")).into_future());
        is_send(client.vms().launch(crate::launch::machine("c1m2")));
        is_send(client.vms().list().into_future());
        is_send(client.vms().stream("id", "true"));
        is_send(client.upload("id", "/nonexistent", "/x").into_future());
        is_send(client.download("id", "/x", "/nonexistent").into_future());
        is_send(client.wait_for_vm_ready("id").into_future());
    }

    #[test]
    fn clones_share_one_pool_and_debug_hides_the_key() {
        let client = FastvmClient::builder().api_key("secret-key-123").build().unwrap();
        let other = client.clone();
        assert!(Arc::ptr_eq(&client.inner, &other.inner));
        let debug = format!("{client:?}");
        assert!(!debug.contains("secret-key-123"), "{debug}");
        assert!(debug.contains("https://api.fastvm.org"), "{debug}");
    }
}
