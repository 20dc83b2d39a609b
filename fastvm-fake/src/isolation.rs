//! Per-VM filesystems on Linux, from user, mount and PID namespaces made with util-linux.
//!
//! A VM's namespaces start on its first command (or `files/fetch`). `unshare` makes a user and
//! a mount namespace and runs [`SETUP`] in them, which turns the VM's directory (its writable
//! root) into the root of that mount namespace:
//!
//! ```text
//! unshare --user --map-root-user --mount --propagation private \
//!     -- /bin/sh -c SETUP fastvm-vm-init <root> <system dir>...
//!   mount -n --bind <root> <root>                    # pivot_root needs a mount point
//!   mount -n --rbind -o ro /usr <root>/usr           # each system dir, read-only
//!   mount -n --rbind /dev <root>/dev; tmpfs on <root>/dev/shm; --rbind /proc <root>/proc
//!   mount -n --rbind -o ro /sys <root>/sys           # (read-only where the kernel allows)
//!   mount -n --bind <volumes> <root>/.fastvm-volumes/rw; the same read-only at …/ro
//!   cd <root>; pivot_root . .; umount -n -l .        # the host's root is gone from view
//!   cd /root
//!   exec unshare --user --map-root-user --mount --pid --fork --kill-child -- sh -c INIT
//!     INIT (PID 1): read its host PID from /proc/self/stat (still the host's /proc);
//!       mount the VM's own proc on /proc; echo "ready <host pid>"; wait for stdin to close
//! ```
//!
//! The second, nested user namespace locks those mounts: inside the VM, root can mount what it
//! likes but cannot make the host's system directories writable or unmount them. It also owns
//! the VM's PID namespace, which is what lets an unprivileged server enter it. The VM's init
//! waits on a pipe from the server; when the server goes away the pipe closes, init exits and
//! the kernel kills every process of the VM (as it does when the server kills init on delete).
//!
//! Each command then enters those namespaces with
//! `nsenter --target=<init> --user --mount --pid --root --wd --preserve-credentials -- argv...`
//! (cwd `/root`, the VM's environment only).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStderr, ChildStdout, Command};

/// Whether each VM gets a private view of the filesystem.
///
/// With isolation (Linux with user namespaces and util-linux's `unshare`/`nsenter`), each VM
/// has its own writable root: `/root`, `/home`, `/tmp`, `/var/tmp`, `/srv`, `/opt`,
/// `/workspace` and anything else a command creates outside the system directories live in the
/// VM's directory ([`FakeServer::vm_dir`](crate::FakeServer::vm_dir)), while the host's system
/// directories (`/usr`, `/etc`, `/bin`, `/lib`, ...) are mounted read-only, so the usual tools
/// work. Without it, commands run directly on this host.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use fastvm_fake::{FakeServer, Isolation};
///
/// // Fails to start, with the reason, where isolation is not available.
/// let server = FakeServer::builder().isolation(Isolation::Required).start().await?;
/// assert!(server.isolated());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Isolation {
    /// Isolate VMs where this host allows it; elsewhere (macOS, a kernel that forbids user
    /// namespaces, no util-linux) print one warning to stderr and run commands on this host.
    ///
    /// The environment variable `FASTVM_FAKE_ISOLATION` (`auto`, `required` or `off`), when
    /// set, replaces `Auto` (only `Auto`): a CI job can require isolation, or turn it off,
    /// without a code change.
    #[default]
    Auto,
    /// Isolate VMs, or fail [`FakeServerBuilder::start`](crate::FakeServerBuilder::start)
    /// with an error that says why isolation is unavailable.
    Required,
    /// Never isolate: commands run on this host, in the VM's directory.
    Off,
}

impl Isolation {
    /// The name used by `--isolation`: `auto`, `required` or `off`.
    pub fn name(self) -> &'static str {
        match self {
            Isolation::Auto => "auto",
            Isolation::Required => "required",
            Isolation::Off => "off",
        }
    }
}

impl Isolation {
    /// `Auto` replaced by `FASTVM_FAKE_ISOLATION`, when that is set.
    pub(crate) fn or_env(self) -> std::io::Result<Isolation> {
        if self != Isolation::Auto {
            return Ok(self);
        }
        let Some(v) = std::env::var_os(ISOLATION_ENV) else {
            return Ok(self);
        };
        match v.to_str().map(str::trim) {
            Some("auto" | "") => Ok(Isolation::Auto),
            Some("required") => Ok(Isolation::Required),
            Some("off") => Ok(Isolation::Off),
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{ISOLATION_ENV}={v:?}: expected auto, required or off"),
            )),
        }
    }
}

/// Replaces [`Isolation::Auto`] when set.
pub const ISOLATION_ENV: &str = "FASTVM_FAKE_ISOLATION";

impl std::fmt::Display for Isolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `PATH` inside a VM (unless the VM's `envVars` set one).
pub const VM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `argv[0]` of the `nsenter` that starts each command, so that its own "failed to execute"
/// message can be told apart from the command's output (see `exec.rs`).
pub const EXEC_ARG0: &str = "fastvm-vm-exec";

/// The prefix of `nsenter`'s message when the command cannot be executed.
pub const SPAWN_FAILURE_PREFIX: &str = "fastvm-vm-exec: failed to execute ";

/// Top-level host directories mounted read-only into every VM (those that exist and are not
/// symlinks; symlinks such as merged-`/usr`'s `/bin -> usr/bin` are copied as symlinks).
const SYSTEM_DIRS: &[&str] = &["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "nix"];

/// Writable directories every fresh VM root has, with their modes.
const WRITABLE_DIRS: &[(&str, u32)] = &[
    ("root", 0o700),
    ("home", 0o755),
    ("tmp", 0o1777),
    ("var", 0o755),
    ("var/tmp", 0o1777),
    ("var/log", 0o755),
    ("srv", 0o755),
    ("opt", 0o755),
    ("workspace", 0o755),
    ("mnt", 0o755),
    ("media", 0o755),
    ("run", 0o755),
];

/// Mount points of the kernel file systems.
const KERNEL_DIRS: &[&str] = &["dev", "proc", "sys"];

/// The mount steps, run by `sh` in the VM's first user and mount namespace (see the module
/// docs); it ends by executing the second `unshare`, whose child runs [`INIT`] (from the
/// environment). `$1` is the VM's root, the other arguments are directories (relative to `/`) to mount
/// read-only. `-n`: never write the host's `/run/mount/utab`. `--rbind -o ro` is a bind and a
/// read-only remount in one `mount` (util-linux 2.27+, implied by `unshare --propagation`);
/// when the remount is refused (flags such as `nosuid` locked from the host), it is retried
/// with them.
const SETUP: &str = r#"set -eu
r=$1; shift
mount -n --bind "$r" "$r"
for d in "$@"; do
  mount -n --rbind -o ro "/$d" "$r/$d" 2>/dev/null || mount -n -o remount,bind,ro,nosuid,nodev "$r/$d"
done
mount -n --rbind /dev "$r/dev"
mount -n -t tmpfs -o nosuid,nodev,mode=1777 tmpfs "$r/dev/shm" 2>/dev/null || true
mount -n --rbind /proc "$r/proc"
mount -n --rbind -o ro /sys "$r/sys" 2>/dev/null || mount -n -o remount,bind,ro,nosuid,nodev,noexec "$r/sys" 2>/dev/null || true
if [ -n "${VOLUMES:-}" ]; then
  mount -n --bind "$VOLUMES" "$r/.fastvm-volumes/rw"
  mount -n --bind "$VOLUMES" "$r/.fastvm-volumes/ro"
  v="$r/.fastvm-volumes/ro"
  mount -n -o remount,bind,ro "$v" 2>/dev/null || mount -n -o remount,bind,ro,nosuid,nodev "$v" 2>/dev/null ||
    mount -n -o remount,bind,ro,nosuid,nodev,noexec "$v" 2>/dev/null || umount -n "$v"
fi
cd "$r"
pivot_root . .
umount -n -l .
cd /root
exec unshare --user --map-root-user --mount --pid --fork --kill-child -- /bin/sh -c "$INIT" fastvm-vm-init
"#;

/// PID 1 of the VM: reports its host PID (read through the host's `/proc`, still mounted), mounts
/// the VM's own `/proc` over it where the kernel allows, then waits for its stdin to close.
///
/// Like a real init it reaps the processes the VM's commands leave behind: a background process
/// that exits would otherwise stay a zombie, which `kill -0` and `ps` report as alive. `sh` (dash
/// included) reaps any child while it waits for one, not while a builtin `read` blocks, so the
/// stdin watch runs in a subshell and init waits for it.
const INIT: &str = r#"read -r hostpid _ < /proc/self/stat
mount -n -t proc -o nosuid,nodev,noexec proc /proc 2>/dev/null || true
echo "ready $hostpid"
exec 3<&0
(while read -r _; do :; done) <&3 3<&- &
wait $!"#;

/// How long a VM's namespaces may take to come up.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// What isolation needs from this host, found once per process.
#[derive(Debug)]
pub struct Host {
    unshare: PathBuf,
    nsenter: PathBuf,
    /// `PATH` of the setup script: where the tools were found, then [`VM_PATH`].
    setup_path: String,
    /// Directories (relative to `/`) mounted read-only: the system directories that exist,
    /// plus the directory of `/etc/resolv.conf`'s target when that lies under `/run`.
    read_only: Vec<PathBuf>,
    /// Top-level symlinks copied into each root (`bin -> usr/bin` and the like).
    links: Vec<(PathBuf, PathBuf)>,
}

impl Host {
    fn discover() -> Result<Host, String> {
        let find = |name: &str| {
            find_on_path(name).ok_or_else(|| format!("`{name}` (util-linux) was not found on PATH or in {VM_PATH}"))
        };
        let unshare = find("unshare")?;
        let nsenter = find("nsenter")?;
        let mut dirs: Vec<String> = Vec::new();
        for tool in [&unshare, &nsenter] {
            if let Some(d) = tool.parent().and_then(Path::to_str)
                && !dirs.iter().any(|x| x == d)
            {
                dirs.push(d.to_string());
            }
        }
        dirs.push(VM_PATH.to_string());
        let mut read_only = Vec::new();
        let mut links = Vec::new();
        for d in SYSTEM_DIRS {
            let host = Path::new("/").join(d);
            match std::fs::symlink_metadata(&host) {
                Ok(m) if m.file_type().is_symlink() => {
                    if let Ok(target) = std::fs::read_link(&host) {
                        links.push((PathBuf::from(d), target));
                    }
                }
                Ok(m) if m.is_dir() => read_only.push(PathBuf::from(d)),
                _ => {}
            }
        }
        // systemd-resolved and friends: /etc/resolv.conf -> /run/.../resolv.conf. /run itself
        // is the VM's own, so only that directory of the host's is shown (read-only).
        if let Ok(target) = std::fs::canonicalize("/etc/resolv.conf")
            && let Ok(rel) = target.strip_prefix("/run")
            && let Some(dir) = rel.parent().filter(|d| !d.as_os_str().is_empty())
        {
            read_only.push(Path::new("run").join(dir));
        }
        Ok(Host {
            unshare,
            nsenter,
            setup_path: dirs.join(":"),
            read_only,
            links,
        })
    }

    /// Creates what a VM root needs: on a fresh root the writable directories; on any root
    /// (fresh or restored from a snapshot) the mount points and top-level symlinks.
    pub fn prepare_root(&self, root: &Path, fresh: bool) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(root)?;
        if fresh {
            for (d, mode) in WRITABLE_DIRS {
                let p = root.join(d);
                std::fs::create_dir_all(&p)?;
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode))?;
            }
        }
        for d in self
            .read_only
            .iter()
            .map(PathBuf::as_path)
            .chain(KERNEL_DIRS.iter().map(Path::new))
        {
            std::fs::create_dir_all(root.join(d))?;
        }
        for (name, target) in &self.links {
            let p = root.join(name);
            if std::fs::symlink_metadata(&p).is_err() {
                std::os::unix::fs::symlink(target, &p)?;
            }
        }
        Ok(())
    }

    /// Whether `vm_path` (absolute, normalized) lies in a directory that is the host's own
    /// (a read-only system directory, `/dev`, `/sys`) rather than in the VM's root. `/proc` and
    /// `/dev/shm` are the VM's private ones: `None`.
    pub fn host_owned(&self, vm_path: &Path) -> Option<bool> {
        let rel = vm_path.strip_prefix("/").unwrap_or(vm_path);
        if rel.starts_with("proc") || rel.starts_with("dev/shm") {
            return None;
        }
        let shared =
            self.read_only.iter().any(|d| rel.starts_with(d)) || rel.starts_with("dev") || rel.starts_with("sys");
        Some(shared)
    }
}

/// `name` on the server's `PATH`, else in [`VM_PATH`].
fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(std::env::split_paths(VM_PATH))
        .map(|d| d.join(name))
        .find(|p| {
            p.is_absolute() && std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

static PROBE: tokio::sync::OnceCell<Result<&'static Host, String>> = tokio::sync::OnceCell::const_new();

/// Whether isolation works on this host (probed once per process: a throw-away VM root
/// is set up and a command writes a file into it), with the reason when it does not.
pub async fn probe() -> Result<&'static Host, String> {
    PROBE.get_or_init(|| async { run_probe().await }).await.clone()
}

async fn run_probe() -> Result<&'static Host, String> {
    if !cfg!(target_os = "linux") {
        return Err("VM isolation needs Linux (user, mount and PID namespaces)".into());
    }
    let host: &'static Host = Box::leak(Box::new(Host::discover()?));
    let dir = tempfile::Builder::new()
        .prefix("fastvm-fake-probe-")
        .tempdir()
        .map_err(|e| format!("creating a probe directory: {e}"))?;
    let root = dir.path().join("root");
    host.prepare_root(&root, true)
        .map_err(|e| format!("preparing a probe root: {e}"))?;
    let sandbox = Sandbox::new(host, root.clone());
    let result = async {
        // Writes land in the VM's root, and the host's /usr is read-only (`test -w` asks the
        // kernel, which answers EROFS without writing anything).
        let script = "echo ok > /root/probe && if test -w /usr; then echo '/usr is writable' >&2; exit 1; fi";
        let argv = ["/bin/sh", "-c", script].map(String::from);
        let mut cmd = sandbox.command(&argv).await.map_err(|e| e.to_string())?;
        let out = cmd
            .env("PATH", VM_PATH)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(START_TIMEOUT, out)
            .await
            .map_err(|_| "a command in the probe VM timed out".to_string())?
            .map_err(|e| format!("running a command in the probe VM: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "a command in the probe VM failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        match std::fs::read(root.join("root/probe")) {
            Ok(b) if b == b"ok\n" => Ok(()),
            _ => Err("a file written in the probe VM did not land in its root".into()),
        }
    }
    .await;
    sandbox.stop().await;
    result.map(|()| host)
}

/// Prints, once per process, that VMs run on this host.
pub fn warn_unisolated(reason: &str) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        eprintln!(
            "fastvm-fake: warning: VMs are NOT isolated ({reason}); their commands run directly on \
             this host, and absolute paths in uploads, downloads and files/fetch are host paths. \
             Use Isolation::Required (--isolation required) to make this an error, or \
             Isolation::Off (--isolation off) to silence it."
        );
    }
}

/// Where the fake's volumes directory is in every VM (see [`Sandbox::with_volumes`]): `rw/<id>`
/// and, read-only, `ro/<id>`. A volume's attachment is a symlink at its mount path to one of
/// them (`routes::volumes`), made on this host in the VM's root, so an attach needs no command
/// in the VM and works before its namespaces start.
pub const VOLUMES_IN_VM: &str = "/.fastvm-volumes";

/// The namespaces of one VM: started on its first command, killed on delete.
pub struct Sandbox {
    host: &'static Host,
    root: PathBuf,
    /// The fake's volumes directory, shown at [`VOLUMES_IN_VM`].
    volumes: Option<PathBuf>,
    state: std::sync::Mutex<State>,
    /// Serializes starts, so concurrent first commands share one set of namespaces.
    starting: tokio::sync::Mutex<()>,
}

enum State {
    Idle,
    Running(Box<Ns>),
    Stopped,
}

/// A running set of namespaces.
struct Ns {
    /// `unshare` (the inner one, after the exec chain): its stdin is the pipe whose closing
    /// ends the VM; killing it kills init too (`--kill-child`), and it exits once init is reaped.
    child: Child,
    /// Host PID of the VM's init.
    init: i32,
    _stdout: ChildStdout,
    _stderr: ChildStderr,
}

impl Ns {
    /// SIGKILL to init: the kernel then kills every process of the VM's PID namespace.
    fn kill(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = kill(Pid::from_raw(self.init), Signal::SIGKILL);
        }
    }

    /// Kills init and waits until `unshare` reaped it, which is after every process of the VM
    /// has exited.
    async fn kill_and_wait(mut self) {
        self.kill();
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.start_kill();
        }
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &*self.state.lock().unwrap_or_else(|e| e.into_inner()) {
            State::Idle => "idle".to_string(),
            State::Running(ns) => format!("running (init {})", ns.init),
            State::Stopped => "stopped".to_string(),
        };
        f.debug_struct("Sandbox")
            .field("root", &self.root)
            .field("state", &state)
            .finish()
    }
}

impl Sandbox {
    pub fn new(host: &'static Host, root: PathBuf) -> Sandbox {
        Sandbox {
            host,
            root,
            volumes: None,
            state: std::sync::Mutex::new(State::Idle),
            starting: tokio::sync::Mutex::new(()),
        }
    }

    /// The sandbox, with the directory `volumes` (every volume's directory, each named by its
    /// id) shown in the VM at [`VOLUMES_IN_VM`]: the VM sees a volume only through the symlink
    /// of an attachment (or by going there on purpose: this is a test fake, not a boundary).
    pub fn with_volumes(mut self, volumes: PathBuf) -> Sandbox {
        self.volumes = Some(volumes);
        self
    }

    /// The VM's writable root on this host.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn host(&self) -> &'static Host {
        self.host
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Host PID of a live init, if there is one.
    fn running_init(&self) -> std::io::Result<Option<i32>> {
        match &mut *self.lock() {
            State::Running(ns) => Ok(ns.alive().then_some(ns.init)),
            State::Stopped => Err(std::io::Error::other("the VM was deleted")),
            _ => Ok(None),
        }
    }

    /// The VM's init, starting its namespaces if they are not up.
    async fn init(&self) -> std::io::Result<i32> {
        if let Some(pid) = self.running_init()? {
            return Ok(pid);
        }
        let _starting = self.starting.lock().await;
        if let Some(pid) = self.running_init()? {
            return Ok(pid);
        }
        let ns = self.start().await?;
        let pid = ns.init;
        // `stop` waits for `starting`, so the VM cannot have been stopped meanwhile.
        *self.lock() = State::Running(Box::new(ns));
        Ok(pid)
    }

    async fn start(&self) -> std::io::Result<Ns> {
        self.host.prepare_root(&self.root, false)?;
        if self.volumes.is_some() {
            let at = self.root.join(VOLUMES_IN_VM.trim_start_matches('/'));
            std::fs::create_dir_all(at.join("rw"))?;
            std::fs::create_dir_all(at.join("ro"))?;
        }
        let mut cmd = Command::new(&self.host.unshare);
        cmd.args([
            "--user",
            "--map-root-user",
            "--mount",
            "--propagation",
            "private",
            "--",
            "/bin/sh",
            "-c",
            SETUP,
            "fastvm-vm-init",
        ])
        .arg(&self.root)
        .args(&self.host.read_only)
        .env_clear()
        .env("PATH", &self.host.setup_path)
        .env("INIT", INIT)
        .env("VOLUMES", self.volumes.as_deref().unwrap_or(Path::new("")))
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| std::io::Error::new(e.kind(), format!("starting {}: {e}", self.host.unshare.display())))?;
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut stderr = child.stderr.take().expect("piped stderr");
        let mut line = String::new();
        let read = tokio::time::timeout(START_TIMEOUT, stdout.read_line(&mut line)).await;
        let init = line.strip_prefix("ready ").and_then(|p| p.trim().parse::<i32>().ok());
        match (read, init) {
            (Ok(Ok(_)), Some(init)) => Ok(Ns {
                child,
                init,
                _stdout: stdout.into_inner(),
                _stderr: stderr,
            }),
            (read, _) => {
                let _ = child.start_kill();
                let _ = child.wait().await;
                let mut err = String::new();
                let _ = tokio::time::timeout(Duration::from_secs(1), stderr.read_to_string(&mut err)).await;
                let why = match read {
                    Err(_) => "timed out".to_string(),
                    Ok(Err(e)) => e.to_string(),
                    Ok(Ok(_)) if err.trim().is_empty() => format!("unexpected output {line:?}"),
                    Ok(Ok(_)) => err.trim().to_string(),
                };
                Err(std::io::Error::other(format!("setting up the VM's namespaces: {why}")))
            }
        }
    }

    /// A command that runs `argv` inside the VM, in `/root`, with an empty environment (the
    /// caller adds the VM's).
    pub async fn command(&self, argv: &[String]) -> std::io::Result<Command> {
        let init = self.init().await?;
        let mut cmd = Command::new(&self.host.nsenter);
        cmd.arg0(EXEC_ARG0)
            .arg(format!("--target={init}"))
            // Keeping our IDs (which the VM's maps show as root) skips setgroups, which user
            // namespaces deny.
            .args([
                "--user",
                "--mount",
                "--pid",
                "--root",
                "--wd",
                "--preserve-credentials",
                "--",
            ])
            .args(argv)
            .env_clear()
            // Where nsenter itself runs before it enters the VM; the VM's cwd is init's.
            .current_dir("/");
        Ok(cmd)
    }

    /// Kills every process of the VM now, without waiting (for `Drop`).
    pub fn kill_now(&self) {
        if let State::Running(mut ns) = std::mem::replace(&mut *self.lock(), State::Stopped) {
            ns.kill();
            // Dropping `ns` kills `unshare` too (kill_on_drop).
        }
    }

    /// Kills every process of the VM and waits until they are gone. Later commands fail.
    pub async fn stop(&self) {
        let _starting = self.starting.lock().await;
        let old = std::mem::replace(&mut *self.lock(), State::Stopped);
        if let State::Running(ns) = old {
            ns.kill_and_wait().await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.kill_now();
    }
}
