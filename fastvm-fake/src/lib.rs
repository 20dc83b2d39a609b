//! A stateful local stand-in for the fastvm HTTP API, for quickstarts without an account,
//! end-to-end tests over real HTTP, and testing your own code offline.
//!
//! It serves every operation of `openapi.json` from memory (VMs, services, SSH keys,
//! firewall, TTLs, snapshots, builds, volumes, quotas; an operation it does not model gets the spec's
//! default answer) plus presigned storage URLs for file transfers,
//! and it can inject faults (error statuses, delays, dropped connections, truncated streams).
//! With a [`Variance`] it also answers the way the real server is allowed to but usually does
//! not (another 2xx, Go `omitempty`, explicit `null`s, unknown members, new enum values), to
//! test a client's tolerance; by default it does not.
//!
//! # Not a VM: commands run on this host, each VM with its own filesystem
//!
//! `exec` runs the argv **on the machine running the fake**, as the user running it. With
//! [`Isolation`] (the default where the host allows it: Linux with user namespaces and
//! util-linux) each VM's commands see a private filesystem: a per-VM writable root (its
//! `/root`, `/home`, `/tmp`, `/var/tmp`, `/srv`, `/opt`, `/workspace`, and anything else made
//! outside the system directories) over the host's system directories (`/usr`, `/etc`, `/bin`,
//! `/lib`, ...) mounted read-only, so the usual tools work. Commands start in `/root` with a
//! VM-like environment (`PATH`, `HOME=/root`, `USER=root`) plus the VM's `envVars`; they appear
//! as root inside the VM and can be killed all at once (a PID namespace per VM, killed on delete
//! and on shutdown). `files/fetch` writes inside the VM too. Two VMs never see each other's
//! files; a snapshot copies the VM's files and a VM launched from it starts with that copy.
//! A managed volume is a directory on this host that every VM it is attached to sees at its
//! mount path (a file one VM writes there, the others read; a read-only attachment refuses
//! writes with isolation).
//! [`FakeServer::vm_dir`] is the VM's root on the host and [`FakeServer::vm_path`] maps a VM
//! path to a host path.
//!
//! This is a filesystem view for tests, **not a security boundary**: the kernel, the network,
//! other users' processes and devices are the host's. Without isolation (macOS, a kernel that
//! forbids user namespaces, [`Isolation::Off`]) commands run directly on this host in the VM's
//! working directory, and absolute paths are host paths; `Auto` says so once on stderr. The
//! server binds 127.0.0.1 only, and every API call needs the API key.
//!
//! The console WebSocket is served too: the `websocketPath` of a console token attaches to an
//! interactive shell on a pseudo-terminal in the VM (single-use tokens that expire after 60 s on
//! the server's clock; output as binary frames, keystrokes as text frames, JSON resize frames).
//!
//! What it does not do: real virtualisation, networking or firewall enforcement, freezing
//! paused VMs' processes, or persistence across restarts.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use fastvm_fake::{FakeServer, Fault};
//!
//! let server = FakeServer::start().await?;
//! println!("{} {}", server.base_url(), server.api_key());
//! // The next two GET /v1/vms/{id} calls answer 503 with Retry-After.
//! server.faults().push("getVm", Fault::status(503).header("Retry-After", "1").times(2));
//! server.shutdown().await;
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

mod console;
mod default_answer;
mod error;
mod exec;
// What the spec's `x-fastvm-*` extensions and `security` say about each operation (a link to
// `fastvm-api/facts.rs`, shared with code generation, so the fake reads the same facts).
#[path = "../facts.rs"]
mod facts;
mod faults;
mod fingerprint;
mod import_context;
mod isolation;
mod model;
mod pty;
mod reshape;
mod routes;
mod shape;
// The workspace's one walker of a spec's operations (a link to `fastvm-api/spec_walk.rs`, so
// that the packaged crate has its own copy), loaded by `facts`.
use facts::walk as spec_walk;
mod state;
mod storage;
mod validate;
mod variance;
mod vary;
mod vmfs;

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use faults::{Fault, FaultKind, Faults};
pub use isolation::Isolation;
pub use variance::{ParseVarianceError, Rule, Variance};

use crate::error::ApiError;
use crate::state::{Config, Shared};

/// Org quota limits (the `limits` of `GET /v1/org/quotas`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// vCPUs across running VMs.
    pub vcpu: i64,
    /// Memory (MiB) across running VMs.
    pub memory_mib: i64,
    /// Disk (GiB) across running VMs.
    pub disk_gib: i64,
    /// Number of snapshots.
    pub snapshot_count: i64,
    /// Number of volumes.
    pub volume_count: i64,
    /// Total size of the volumes (GiB).
    pub volume_gib: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            vcpu: 64,
            memory_mib: 128 * 1024,
            disk_gib: 1024,
            snapshot_count: 100,
            volume_count: 50,
            volume_gib: 1024,
        }
    }
}

/// Configures and starts a [`FakeServer`].
#[derive(Clone)]
pub struct FakeServerBuilder {
    api_key: Option<String>,
    port: u16,
    boot_delay: Duration,
    limits: Limits,
    disk_gib: i64,
    build_duration: Duration,
    snapshot_duration: Duration,
    volume_duration: Duration,
    variance: Variance,
    isolation: Isolation,
}

// By hand, not derived: the API key must never reach a debug print or a log.
impl std::fmt::Debug for FakeServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeServerBuilder")
            .field("api_key", &self.api_key.as_ref().map(|_| REDACTED))
            .field("port", &self.port)
            .field("boot_delay", &self.boot_delay)
            .field("limits", &self.limits)
            .field("disk_gib", &self.disk_gib)
            .field("build_duration", &self.build_duration)
            .field("snapshot_duration", &self.snapshot_duration)
            .field("volume_duration", &self.volume_duration)
            .field("variance", &self.variance)
            .field("isolation", &self.isolation)
            .finish()
    }
}

impl Default for FakeServerBuilder {
    fn default() -> Self {
        FakeServerBuilder {
            api_key: None,
            port: 0,
            boot_delay: Duration::ZERO,
            limits: Limits::default(),
            disk_gib: 10,
            build_duration: Duration::from_millis(300),
            snapshot_duration: Duration::from_millis(300),
            volume_duration: Duration::ZERO,
            variance: Variance::none(),
            isolation: Isolation::Auto,
        }
    }
}

impl FakeServerBuilder {
    /// The API key clients must send (default: a random one).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The port to bind on 127.0.0.1 (default 0: any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Zero (the default): launch answers 201 with a `running` VM. Non-zero: launch answers 202
    /// `provisioning`, and the VM turns `running` once this much time has passed.
    pub fn boot_delay(mut self, delay: Duration) -> Self {
        self.boot_delay = delay;
        self
    }

    /// Org quota limits (see [`Limits`] for the defaults).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Default disk size of launched VMs in GiB (default 10); it also bounds presigned
    /// uploads (`maxUploadBytes`).
    pub fn disk_gib(mut self, gib: i64) -> Self {
        self.disk_gib = gib.max(1);
        self
    }

    /// How long a build takes from `pending` to `completed` (default 300 ms).
    pub fn build_duration(mut self, d: Duration) -> Self {
        self.build_duration = d;
        self
    }

    /// How long a snapshot is `creating` before it turns `ready` (default 300 ms, on the fake
    /// clock, so [`FakeServer::advance`] skips it). Its files are copied at once; the wait only
    /// exercises clients' polling.
    ///
    /// A VM launched from a snapshot that is still `creating` is accepted: the launch answers
    /// 202 with the VM `provisioning` until the snapshot is ready (plus the
    /// [`boot delay`](Self::boot_delay)), then the VM is `running` with the snapshot's files,
    /// so launch-and-wait works right after creating a snapshot. A `creating` snapshot can be
    /// renamed and deleted (VMs already launched from it keep their copy).
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// // Snapshots are `ready` as soon as they are created.
    /// let server = fastvm_fake::FakeServer::builder()
    ///     .snapshot_duration(std::time::Duration::ZERO)
    ///     .start()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn snapshot_duration(mut self, d: Duration) -> Self {
        self.snapshot_duration = d;
        self
    }

    /// How long a volume is `creating` after its create (an attach meanwhile is refused with
    /// 409 `VOL_NOT_READY`), and `deleting` after its delete before it is gone. Default zero: a
    /// volume is `ready` at once and gone right after its delete. On the fake clock, so
    /// [`FakeServer::advance`] skips it.
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// let server = fastvm_fake::FakeServer::builder()
    ///     .volume_duration(std::time::Duration::from_secs(5))
    ///     .start()
    ///     .await?;
    /// server.advance(std::time::Duration::from_secs(5)); // every volume made so far is ready
    /// # Ok(()) }
    /// ```
    pub fn volume_duration(mut self, d: Duration) -> Self {
        self.volume_duration = d;
        self
    }

    /// Whether each VM gets its own filesystem (default [`Isolation::Auto`]: where this host
    /// allows it). See [`Isolation`] and [`FakeServer::vm_path`].
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// use fastvm_fake::{FakeServer, Isolation};
    ///
    /// let server = FakeServer::builder().isolation(Isolation::Off).start().await?;
    /// assert!(!server.isolated());
    /// # Ok(()) }
    /// ```
    pub fn isolation(mut self, isolation: Isolation) -> Self {
        self.isolation = isolation;
        self
    }

    /// Wire variance: answer the way the real server is allowed to (another 2xx, Go
    /// `omitempty`, explicit `null`s, unknown members, new enum values), to test a client's
    /// tolerance. Default [`Variance::none()`]: every answer exactly as without it. See
    /// [`Variance`] and [`Rule`].
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// use fastvm_fake::{FakeServer, Rule, Variance};
    ///
    /// let server = FakeServer::builder()
    ///     .variance(Variance::none().with(Rule::Omitempty).with(Rule::ExtraFields))
    ///     .start()
    ///     .await?;
    /// assert!(server.variance().contains(Rule::Omitempty));
    /// # Ok(()) }
    /// ```
    pub fn variance(mut self, variance: Variance) -> Self {
        self.variance = variance;
        self
    }

    /// Binds 127.0.0.1 and serves on a runtime of its own (a thread with a 2-worker tokio
    /// runtime), as a separate server process would: the server keeps answering while the
    /// caller's runtime is blocked, for example by a guard whose `Drop` waits for a request
    /// (a dropped `fastvm::OwnedVm` in a `#[tokio::test]` on a current-thread runtime).
    ///
    /// Unless isolation is [`Isolation::Off`], the first start in a process checks whether this
    /// host can isolate VMs (about 50 ms on Linux); the answer is kept for later starts. With
    /// [`Isolation::Required`] and no isolation, this fails with
    /// [`std::io::ErrorKind::Unsupported`] and the reason.
    pub async fn start(self) -> std::io::Result<FakeServer> {
        let (started, answer) = tokio::sync::oneshot::channel();
        let (stopped, done) = tokio::sync::oneshot::channel();
        std::thread::Builder::new().name("fastvm-fake".into()).spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("fastvm-fake")
                .enable_all()
                .build();
            let runtime = match runtime {
                Ok(runtime) => runtime,
                Err(e) => return drop(started.send(Err(e))),
            };
            runtime.block_on(async move {
                let (shared, cancel, task) = match self.serve().await {
                    Ok(parts) => parts,
                    Err(e) => return drop(started.send(Err(e))),
                };
                if started.send(Ok((shared.clone(), cancel))).is_err() {
                    return;
                }
                // Until the server is dropped or shut down; then its VMs' processes are
                // stopped, waiting until they are gone.
                let _ = task.await;
                let vms = shared.take_vms();
                futures::future::join_all(vms.iter().map(|vm| vm.fs.stop())).await;
            });
            drop(runtime);
            let _ = stopped.send(());
        })?;
        let (shared, cancel) = answer
            .await
            .map_err(|_| std::io::Error::other("fastvm-fake: the server thread ended while starting"))??;
        Ok(FakeServer {
            shared,
            cancel,
            stopped: Some(done),
        })
    }

    /// Starts serving on the current runtime: what [`FakeServerBuilder::start`] runs on the
    /// server's own.
    async fn serve(self) -> std::io::Result<(Arc<Shared>, CancellationToken, JoinHandle<()>)> {
        let host = match self.isolation.or_env()? {
            Isolation::Off => None,
            Isolation::Auto => match isolation::probe().await {
                Ok(host) => Some(host),
                Err(reason) => {
                    isolation::warn_unisolated(&reason);
                    None
                }
            },
            Isolation::Required => Some(isolation::probe().await.map_err(|reason| {
                std::io::Error::new(
                    std::io::ErrorKind::Unsupported,
                    format!("fastvm-fake: VM isolation is required but not available here: {reason}"),
                )
            })?),
        };
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))).await?;
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        let api_key = self.api_key.unwrap_or_else(random_api_key);
        let root = tempfile::Builder::new().prefix("fastvm-fake-").tempdir()?;
        let config = Config {
            api_key,
            boot_delay: self.boot_delay,
            limits: self.limits,
            disk_gib: self.disk_gib,
            build_duration: self.build_duration,
            snapshot_duration: self.snapshot_duration,
            volume_duration: self.volume_duration,
            variance: self.variance,
            isolation: self.isolation,
            host,
        };
        let shared = Arc::new(Shared::new(config, base_url, root));
        std::fs::create_dir_all(shared.objects_dir())?;
        std::fs::create_dir_all(shared.vms_dir())?;
        std::fs::create_dir_all(shared.snapshots_dir())?;
        std::fs::create_dir_all(shared.volumes_dir())?;
        let cancel = CancellationToken::new();
        let task = tokio::spawn(accept_loop(listener, router(shared.clone()), cancel.clone()));
        Ok((shared, cancel, task))
    }
}

/// A running fake fastvm server. Dropping it stops the server.
///
/// Its `Debug` output shows neither the API key nor the URL-signing secret.
#[derive(Debug)]
pub struct FakeServer {
    shared: Arc<Shared>,
    cancel: CancellationToken,
    /// Answered when the server's thread has stopped everything.
    stopped: Option<tokio::sync::oneshot::Receiver<()>>,
}

impl FakeServer {
    /// Starts a server with the defaults: a random API key, any free port, no boot delay.
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// let server = fastvm_fake::FakeServer::start().await?;
    /// assert!(server.base_url().starts_with("http://127.0.0.1:"));
    /// # Ok(()) }
    /// ```
    pub async fn start() -> std::io::Result<FakeServer> {
        Self::builder().start().await
    }

    /// A builder for non-default settings.
    pub fn builder() -> FakeServerBuilder {
        FakeServerBuilder::default()
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The API key the server accepts.
    pub fn api_key(&self) -> &str {
        &self.shared.config.api_key
    }

    /// The wire variance the server applies (see [`FakeServerBuilder::variance`]).
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// let server = fastvm_fake::FakeServer::start().await?;
    /// assert!(server.variance().is_none());
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn variance(&self) -> Variance {
        self.shared.config.variance
    }

    /// The fault queues (see [`Fault`]).
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Moves the server's clock forward, so TTLs, boot delays and builds can be tested
    /// without sleeping.
    pub fn advance(&self, by: Duration) {
        let (mut g, _) = self.shared.lock();
        g.clock_offset_ms += by.as_millis() as i64;
    }

    /// Whether this server's VMs are isolated (see [`Isolation`]): decided at start.
    #[must_use]
    pub fn isolated(&self) -> bool {
        self.shared.config.host.is_some()
    }

    /// The directory of a VM on this host, if the VM exists. With isolation it is the VM's
    /// writable root: the VM's `/root/x` is `vm_dir(id)/root/x` (see [`FakeServer::vm_path`]).
    /// Without, it is the working directory its commands run in.
    pub fn vm_dir(&self, vm_id: &str) -> Option<PathBuf> {
        let id = vm_id.parse().ok()?;
        let (g, _) = self.shared.lock();
        g.vms.get(&id).map(|vm| vm.fs.dir().to_path_buf())
    }

    /// Where the VM's `path` is on this host, to look at or prepare a VM's files from a test.
    ///
    /// With isolation, a relative path is relative to the VM's working directory `/root`; `.`
    /// and `..` are resolved lexically (symlinks inside the VM are not followed). A path in one
    /// of the host directories mounted into the VM (`/usr`, `/etc`, `/bin`, `/lib`, ..., `/dev`,
    /// `/sys`) is that host path; `/proc` and `/dev/shm` are the VM's own and have no host path
    /// (`None`); everything else is under [`FakeServer::vm_dir`]: `/root/x` is
    /// `vm_dir(id)/root/x`. Without isolation an absolute path is itself and a relative one is
    /// under `vm_dir`. `None` too when there is no such VM.
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// # let (server, vm_id) = (fastvm_fake::FakeServer::start().await?, String::new());
    /// // Prepare a file the VM will find at /srv/data/input.txt.
    /// let host = server.vm_path(&vm_id, "/srv/data/input.txt").unwrap();
    /// std::fs::create_dir_all(host.parent().unwrap())?;
    /// std::fs::write(&host, "42")?;
    /// # Ok(()) }
    /// ```
    pub fn vm_path(&self, vm_id: &str, path: impl AsRef<Path>) -> Option<PathBuf> {
        let id = vm_id.parse().ok()?;
        let fs = {
            let (g, _) = self.shared.lock();
            g.vms.get(&id)?.fs.clone()
        };
        fs.host_path(path.as_ref())
    }

    /// Stops accepting connections, closes open ones, waits for the server task, and kills
    /// every VM's processes (waiting until they are gone). The server's temporary directory
    /// (VM roots, snapshots, staged files) is removed once the last request has finished.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        if let Some(stopped) = self.stopped.take() {
            let _ = stopped.await;
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.cancel.cancel();
        // Without waiting: `shutdown` is the way to wait.
        self.shared.kill_vms();
    }
}

/// What `Debug` output shows instead of a secret.
pub(crate) const REDACTED: &str = "<redacted>";

fn random_api_key() -> String {
    format!("fake_{}", hex::encode(rand::random::<[u8; 16]>()))
}

/// Marker on a response: close the connection instead of sending it.
#[derive(Debug, Clone, Copy)]
struct DropConnection;

#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for Dropped {}

// hyper is driven directly (not `axum::serve`) because closing a connection without a
// response needs the service to fail, which only a hand-made connection loop allows.
async fn accept_loop(listener: TcpListener, router: Router, cancel: CancellationToken) {
    loop {
        let stream = tokio::select! {
            _ = cancel.cancelled() => return,
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => { tokio::time::sleep(Duration::from_millis(50)).await; continue; }
            },
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let mut router = router.clone();
                async move {
                    let resp = tower_service::Service::call(&mut router, req.map(Body::new))
                        .await
                        .unwrap_or_else(|e: Infallible| match e {});
                    if resp.extensions().get::<DropConnection>().is_some() {
                        Err(Dropped)
                    } else {
                        Ok(resp)
                    }
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), svc)
                // The console's WebSocket upgrade.
                .with_upgrades();
            tokio::select! {
                _ = conn => {}
                _ = cancel.cancelled() => {}
            }
        });
    }
}

/// Routes of the fake that are not operations of the spec: pseudo ids for fault injection,
/// none of which takes the API key (the console's WebSocket is a capability URL: its session
/// token is the credential; storage URLs carry their own signature).
const PSEUDO_OPERATIONS: &[(&str, &str, &str)] = &[
    ("GET", "/v1/vms/{id}/console/ws", "consoleWebSocket"),
    ("PUT", "/storage/{key}", "storagePut"),
    ("GET", "/storage/{key}", "storageGet"),
];

/// The operations of the embedded spec with their facts, read once.
fn spec_operations() -> &'static [facts::OpFacts] {
    static OPS: std::sync::OnceLock<Vec<facts::OpFacts>> = std::sync::OnceLock::new();
    OPS.get_or_init(|| {
        let spec: serde_json::Value = serde_json::from_str(shape::SPEC).expect("openapi.json is JSON");
        facts::operations(&spec)
    })
}

/// The operationId of a matched route: the spec's operation with this method and path template
/// (parameter names aside), or a [pseudo id](PSEUDO_OPERATIONS).
fn operation_id(method: &Method, path: &str) -> Option<&'static str> {
    if let Some(op) = spec_operations()
        .iter()
        .find(|op| op.method == method.as_str() && same_template(&op.path, path))
    {
        return Some(op.id.as_str());
    }
    PSEUDO_OPERATIONS
        .iter()
        .find(|(m, p, _)| *m == method.as_str() && same_template(p, path))
        .map(|(_, _, id)| *id)
}

/// Whether two path templates are the same but for their parameters' names
/// (`/v1/vms/{id}/services/{serviceName}` and `/v1/vms/{id}/services/{service_name}`).
fn same_template(a: &str, b: &str) -> bool {
    let is_param = |s: &str| s.starts_with('{') && s.ends_with('}');
    let (a, b): (Vec<&str>, Vec<&str>) = (a.split('/').collect(), b.split('/').collect());
    a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x == y || (is_param(x) && is_param(y)))
}

/// Whether a call of `op` needs the API key: every operation but those the spec marks public
/// (`security: []`) and the pseudo operations.
fn needs_key(op: Option<&str>) -> bool {
    let Some(op) = op else { return true };
    if PSEUDO_OPERATIONS.iter().any(|(_, _, id)| *id == op) {
        return false;
    }
    !spec_operations().iter().any(|o| o.id == op && o.public)
}

/// Marker on a request: the exec handler must end its NDJSON stream without an `x` event.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TruncateStream;

/// Fault injection, then authentication (storage URLs carry their own signature instead).
async fn gate(State(s): State<Arc<Shared>>, mut req: Request, next: Next) -> Response {
    let op = req
        .extensions()
        .get::<MatchedPath>()
        .and_then(|p| operation_id(req.method(), p.as_str()));
    if let Some(fault) = op.and_then(|op| s.faults.take(op)) {
        match fault.kind {
            FaultKind::Status(code) => return fault_response(code, fault.headers, fault.body),
            FaultKind::Delay(d) => tokio::time::sleep(d).await,
            FaultKind::DropConnection => {
                let mut r = Response::new(Body::empty());
                r.extensions_mut().insert(DropConnection);
                return r;
            }
            FaultKind::TruncateStream => {
                req.extensions_mut().insert(TruncateStream);
            }
        }
    }
    if needs_key(op) {
        let sent = req.headers().get("x-api-key").map(HeaderValue::as_bytes);
        if sent != Some(s.config.api_key.as_bytes()) {
            let msg = if sent.is_some() {
                "invalid API key"
            } else {
                "missing X-API-Key header"
            };
            return ApiError::new(StatusCode::UNAUTHORIZED, msg).into_response();
        }
    }
    next.run(req).await
}

fn fault_response(code: u16, headers: Vec<(String, String)>, body: Option<serde_json::Value>) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = body.unwrap_or_else(|| serde_json::json!({ "error": "injected fault" }));
    let mut r = (status, axum::Json(body)).into_response();
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::try_from(v)) {
            r.headers_mut().append(k, v);
        }
    }
    r
}

/// The answer (status, JSON body or none) the fake gives an operation of its spec that it does
/// not model: the first documented success status with the least body its schema allows. For
/// tests that check those answers against the spec; `None` for an unknown operation.
#[doc(hidden)]
pub fn default_answer(operation_id: &str) -> Option<(u16, Option<serde_json::Value>)> {
    crate::spec_walk::operations(spec())
        .find(|(_, _, _, o)| o.get("operationId").and_then(serde_json::Value::as_str) == Some(operation_id))
        .map(|(_, _, _, o)| default_answer::answer(spec(), o))
}

/// The embedded spec, parsed once.
fn spec() -> &'static serde_json::Value {
    static SPEC: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    SPEC.get_or_init(|| serde_json::from_str(shape::SPEC).expect("openapi.json is JSON"))
}

/// What the fake answers `method` on `path` when no route of its own matches: an operation of
/// the spec it does not model gets the spec's default answer (`default_answer`), after the same
/// key check as every other operation; anything else is a 404.
fn unmodelled(shared: &Shared, method: &Method, path: &str, key: Option<&[u8]>) -> Response {
    let Some(op) = facts::match_path(spec_operations(), method.as_str(), path) else {
        return ApiError::new(StatusCode::NOT_FOUND, "no such route").into_response();
    };
    if !op.public && key != Some(shared.config.api_key.as_bytes()) {
        return ApiError::new(StatusCode::UNAUTHORIZED, "missing or invalid X-API-Key header").into_response();
    }
    let (status, body) = default_answer(&op.id).unwrap_or((200, None));
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    match body {
        Some(body) => (status, axum::Json(body)).into_response(),
        None => status.into_response(),
    }
}

async fn not_found(State(s): State<Arc<Shared>>, req: Request) -> Response {
    let key = req.headers().get("x-api-key").map(HeaderValue::as_bytes);
    unmodelled(&s, req.method(), req.uri().path(), key)
}

fn router(shared: Arc<Shared>) -> Router {
    use routes::{bucket_mounts, builds, files, quotas, services, snapshot_imports, snapshots, ssh_keys, vms, volumes};
    Router::new()
        .route("/healthz", get(quotas::health))
        .route("/v1/pricing", get(quotas::pricing))
        .route("/v1/vms", get(vms::list).post(vms::launch))
        .route(
            "/v1/vms/{id}",
            get(vms::retrieve).patch(vms::update).delete(vms::delete),
        )
        .route("/v1/vms/{id}/pause", post(vms::pause))
        .route("/v1/vms/{id}/resume", post(vms::resume))
        .route("/v1/vms/{id}/ttl/refresh", post(vms::refresh_ttl))
        .route(
            "/v1/vms/{id}/firewall",
            put(vms::set_firewall).patch(vms::patch_firewall),
        )
        .merge(console::routes(shared.clone()))
        .route("/v1/vms/{id}/exec", post(exec::handler))
        .route("/v1/vms/{id}/services", get(services::list).post(services::register))
        .route(
            "/v1/vms/{id}/services/{service_name}",
            put(services::update).delete(services::delete),
        )
        .route("/v1/vms/{id}/ssh-keys", get(ssh_keys::list).post(ssh_keys::add))
        .route(
            "/v1/vms/{id}/ssh-keys/{fingerprint}",
            axum::routing::delete(ssh_keys::delete),
        )
        .route(
            "/v1/vms/{id}/bucket-mounts",
            get(bucket_mounts::list).post(bucket_mounts::create),
        )
        .route(
            "/v1/vms/{id}/bucket-mounts/{bucket_mount_id}",
            get(bucket_mounts::retrieve)
                .patch(bucket_mounts::rotate)
                .delete(bucket_mounts::delete),
        )
        .route("/v1/me/ssh-keys", get(ssh_keys::user_list).post(ssh_keys::user_add))
        .route(
            "/v1/me/ssh-keys/{fingerprint}",
            axum::routing::delete(ssh_keys::user_delete),
        )
        .route("/v1/vms/{id}/volumes", post(volumes::attach))
        .route(
            "/v1/vms/{id}/volumes/{volume_id}",
            axum::routing::delete(volumes::detach),
        )
        .route("/v1/volumes", get(volumes::list).post(volumes::create))
        .route(
            "/v1/volumes/{id}",
            get(volumes::retrieve).patch(volumes::update).delete(volumes::delete),
        )
        .route("/v1/volumes/{id}/attachments", get(volumes::attachments))
        .route("/v1/vms/{id}/files/presign", post(files::presign))
        .route("/v1/vms/{id}/files/fetch", post(files::fetch))
        .route("/v1/snapshots", get(snapshots::list).post(snapshots::create))
        .route(
            "/v1/snapshots/{id}",
            get(snapshots::retrieve)
                .patch(snapshots::update)
                .delete(snapshots::delete),
        )
        .route("/v1/builds", post(builds::create))
        .route("/v1/builds/{id}", get(builds::retrieve))
        .route("/v1/build-contexts/presign", post(builds::presign_context))
        .route(
            "/v1/snapshot-imports",
            get(snapshot_imports::list).post(snapshot_imports::create),
        )
        .route(
            "/v1/snapshot-imports/context-presign",
            post(snapshot_imports::presign_context),
        )
        .route(
            "/v1/snapshot-imports/{id}",
            get(snapshot_imports::retrieve).delete(snapshot_imports::delete),
        )
        .route("/v1/snapshot-imports/{id}/cancel", post(snapshot_imports::cancel))
        .route("/v1/org/quotas", get(quotas::retrieve))
        .route("/storage/{key}", put(storage::put).get(storage::get))
        // Exec stdin arrives base64 in the JSON body; storage bodies are streamed, not limited.
        .layer(DefaultBodyLimit::max(64 << 20))
        // Inside `gate`: injected faults and 401s are sent as they are, never varied.
        .route_layer(axum::middleware::from_fn_with_state(shared.clone(), vary::respond))
        .route_layer(axum::middleware::from_fn_with_state(shared.clone(), gate))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .with_state(shared)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sekrit-key-123";

    #[test]
    fn builder_debug_redacts_the_api_key() {
        let debug = format!("{:?}", FakeServer::builder().api_key(KEY));
        assert!(!debug.contains("sekrit"), "{debug}");
        assert!(debug.contains(REDACTED), "{debug}");
    }

    #[test]
    fn every_route_is_named_by_the_spec_and_public_ones_come_from_security() {
        let get = Method::GET;
        assert_eq!(operation_id(&get, "/healthz"), Some("getHealth"));
        assert_eq!(
            operation_id(&Method::PUT, "/v1/vms/{id}/services/{service_name}"),
            Some("updateService")
        );
        assert_eq!(operation_id(&get, "/v1/vms/{id}/console/ws"), Some("consoleWebSocket"));
        assert_eq!(operation_id(&get, "/v1/nothing"), None);
        // Every operation of the spec is found by its own method and template.
        for op in spec_operations() {
            let method = Method::from_bytes(op.method.as_bytes()).unwrap();
            assert_eq!(operation_id(&method, &op.path), Some(op.id.as_str()));
            assert_eq!(needs_key(Some(&op.id)), !op.public, "{}", op.id);
        }
        assert!(!needs_key(Some("getHealth")) && !needs_key(Some("storageGet")));
        assert!(needs_key(Some("getVm")) && needs_key(None));
    }

    #[tokio::test]
    async fn an_operation_without_a_route_gets_the_spec_default_answer_after_the_key_check() {
        let server = FakeServer::builder().api_key(KEY).start().await.unwrap();
        // Every operation of the spec has a default answer the fake could give.
        for op in spec_operations() {
            let resp = unmodelled(
                &server.shared,
                &Method::from_bytes(op.method.as_bytes()).unwrap(),
                &op.path,
                Some(KEY.as_bytes()),
            );
            assert!(resp.status().is_success(), "{}: {}", op.id, resp.status());
            let without_key = unmodelled(
                &server.shared,
                &Method::from_bytes(op.method.as_bytes()).unwrap(),
                &op.path,
                None,
            );
            assert_eq!(
                without_key.status() == StatusCode::UNAUTHORIZED,
                !op.public,
                "{}",
                op.id
            );
        }
        let resp = unmodelled(&server.shared, &Method::GET, "/v1/org/quotas", Some(KEY.as_bytes()));
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let zero = serde_json::json!({"vcpu": 0, "memoryMiB": 0, "diskGiB": 0, "snapshotCount": 0});
        assert_eq!(body, serde_json::json!({"orgId": "", "limits": zero, "usage": zero}));
        let resp = unmodelled(&server.shared, &Method::GET, "/v1/nothing", Some(KEY.as_bytes()));
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn server_debug_redacts_the_api_key_and_the_secret() {
        let server = FakeServer::builder().api_key(KEY).start().await.unwrap();
        let secret = format!("{:?}", server.shared.secret);
        let hex_secret = hex::encode(server.shared.secret);
        for debug in [
            format!("{server:?}"),
            format!("{:?}", server.shared),
            format!("{:?}", server.shared.config),
        ] {
            assert!(!debug.contains("sekrit"), "{debug}");
            assert!(!debug.contains(&secret) && !debug.contains(&hex_secret), "{debug}");
            assert!(debug.contains(REDACTED), "{debug}");
        }
        assert!(server.base_url().starts_with("http://127.0.0.1:"));
        server.shutdown().await;
    }
}
