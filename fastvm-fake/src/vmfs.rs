//! A VM's files and how its commands are started: in its own namespaces (see
//! [`crate::isolation`]) or, without isolation, directly on this host.

use std::path::{Component, Path, PathBuf};

use tokio::process::Command;

use crate::isolation::{Host, SPAWN_FAILURE_PREFIX, Sandbox, VM_PATH};
use crate::model::StringMap;

/// The VM's working directory (and `HOME`) inside an isolated VM.
pub const VM_CWD: &str = "/root";

/// Where a VM's commands run.
#[derive(Debug)]
pub enum VmFs {
    /// On this host, with `dir` as the working directory and the host's environment.
    Host { dir: PathBuf },
    /// In the VM's namespaces, with `sandbox.root()` as `/`.
    Isolated(Box<Sandbox>),
}

impl VmFs {
    /// Creates the files of a new VM at `dir`: a copy of `from` (a snapshot's files) if given,
    /// else an empty directory (with isolation: the skeleton of a root file system). With
    /// isolation the VM sees the fake's `volumes` directory (see [`Sandbox::with_volumes`]).
    pub fn create(
        host: Option<&'static Host>,
        dir: PathBuf,
        from: Option<&Path>,
        volumes: PathBuf,
    ) -> std::io::Result<VmFs> {
        match from {
            Some(src) => copy_tree(src, &dir)?,
            None => std::fs::create_dir_all(&dir)?,
        }
        Ok(match host {
            Some(host) => {
                host.prepare_root(&dir, from.is_none())?;
                VmFs::Isolated(Box::new(Sandbox::new(host, dir).with_volumes(volumes)))
            }
            None => VmFs::Host { dir },
        })
    }

    /// The VM's directory on this host: its writable root with isolation, its working
    /// directory without.
    pub fn dir(&self) -> &Path {
        match self {
            VmFs::Host { dir } => dir,
            VmFs::Isolated(sb) => sb.root(),
        }
    }

    pub fn isolated(&self) -> bool {
        matches!(self, VmFs::Isolated(_))
    }

    /// A command that runs `argv` "in the VM" with the VM's `env`. With isolation: in its
    /// namespaces, in `/root`, with a fresh environment (`PATH`, `HOME=/root`, `USER`, `LOGNAME`
    /// and then `env`). Without: on this host, in the VM's directory, with the server's
    /// environment plus `env`. Stdio, process group and the like are the caller's to set.
    pub async fn command(&self, argv: &[String], env: &StringMap) -> std::io::Result<Command> {
        match self {
            VmFs::Host { dir } => {
                let mut cmd = Command::new(&argv[0]);
                cmd.args(&argv[1..]).current_dir(dir).envs(env);
                Ok(cmd)
            }
            VmFs::Isolated(sb) => {
                let mut cmd = sb.command(argv).await?;
                cmd.env("PATH", VM_PATH)
                    .env("HOME", VM_CWD)
                    .env("USER", "root")
                    .env("LOGNAME", "root")
                    .envs(env);
                Ok(cmd)
            }
        }
    }

    /// The start of the message on stderr that means the command could not be executed (only
    /// with isolation: without, a spawn failure is an error of `spawn` itself).
    pub fn spawn_failure_prefix(&self) -> Option<&'static str> {
        self.isolated().then_some(SPAWN_FAILURE_PREFIX)
    }

    /// Where the VM's `path` is on this host (see `FakeServer::vm_path`).
    pub fn host_path(&self, path: &Path) -> Option<PathBuf> {
        match self {
            VmFs::Host { dir } => Some(dir.join(path)),
            VmFs::Isolated(sb) => {
                let abs = normalize(&Path::new(VM_CWD).join(path));
                if sb.host().host_owned(&abs)? {
                    Some(abs)
                } else {
                    Some(sb.root().join(abs.strip_prefix("/").unwrap_or(&abs)))
                }
            }
        }
    }

    /// Whether the VM's absolute `path` lies in its own files ([`VmFs::dir`]), where the fake
    /// may make a directory for it: with isolation, not in a directory of the host's mounted
    /// into the VM (`/usr`, `/dev`, `/sys`, ...) nor in its private `/proc` or `/dev/shm`;
    /// without, every path does (taken relative to the working directory, as volumes are).
    pub fn owns(&self, path: &Path) -> bool {
        match self {
            VmFs::Host { .. } => true,
            VmFs::Isolated(sb) => sb.host().host_owned(&normalize(path)) == Some(false),
        }
    }

    /// Kills the VM's processes now (isolation only), without waiting.
    pub fn kill_now(&self) {
        if let VmFs::Isolated(sb) = self {
            sb.kill_now();
        }
    }

    /// Kills the VM's processes (isolation only) and waits until they are gone.
    pub async fn stop(&self) {
        if let VmFs::Isolated(sb) = self {
            sb.stop().await;
        }
    }
}

/// `path` (absolute) with `.` and `..` resolved lexically (`/..` is `/`).
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// Copies the tree at `src` to `dst` (which must not exist): directories, regular files (with
/// their modes and modification times) and symlinks (as they are); devices, fifos and sockets
/// are skipped.
pub fn copy_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(src)?;
    if !meta.is_dir() {
        return Err(std::io::Error::other(format!("{} is not a directory", src.display())));
    }
    std::fs::create_dir_all(dst.parent().unwrap_or(Path::new("/")))?;
    std::fs::create_dir(dst)?;
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        let ft = entry.file_type()?;
        if ft.is_dir() {
            copy_tree(&from, &to)?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&from)?, &to)?;
        } else if ft.is_file() {
            std::fs::copy(&from, &to)?;
            let m = entry.metadata()?;
            if let Ok(t) = m.modified() {
                // The owner may set times through a read-only descriptor.
                let _ = std::fs::File::open(&to).and_then(|f| f.set_modified(t));
            }
        }
    }
    // Last, so that a read-only directory could still be filled.
    std::fs::set_permissions(dst, std::fs::Permissions::from_mode(meta.permissions().mode() & 0o7777))?;
    if let Ok(t) = meta.modified() {
        let _ = std::fs::File::open(dst).and_then(|f| f.set_modified(t));
    }
    Ok(())
}

/// Removes the tree at `path`, also where a VM left directories without write permission
/// (which stop the removal of their entries when not running as root).
pub fn remove_tree(path: &Path) {
    if std::fs::remove_dir_all(path).is_ok() || std::fs::symlink_metadata(path).is_err() {
        return;
    }
    fn open_up(dir: &Path) {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    open_up(&e.path());
                }
            }
        }
    }
    open_up(path);
    let _ = std::fs::remove_dir_all(path);
}

/// A directory removed when the last reference goes (a snapshot's files, which a launch may
/// still be copying after the snapshot was deleted).
#[derive(Debug)]
pub struct Tree {
    dir: PathBuf,
}

impl Tree {
    pub fn new(dir: PathBuf) -> Tree {
        Tree { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let dir = std::mem::take(&mut self.dir);
        discard(dir);
    }
}

/// Removes `dir` off the async threads when there is a runtime, else right away.
pub fn discard(dir: PathBuf) {
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => {
            rt.spawn_blocking(move || remove_tree(&dir));
        }
        Err(_) => remove_tree(&dir),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn normalize_resolves_dots_lexically() {
        assert_eq!(normalize(Path::new("/root/./a/../b")), PathBuf::from("/root/b"));
        assert_eq!(normalize(Path::new("/../../etc")), PathBuf::from("/etc"));
        assert_eq!(normalize(Path::new("/")), PathBuf::from("/"));
    }

    #[test]
    fn copy_tree_keeps_modes_links_and_times() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        std::fs::create_dir_all(src.join("a/b")).unwrap();
        std::fs::write(src.join("a/b/f"), b"data").unwrap();
        std::fs::set_permissions(src.join("a/b/f"), std::fs::Permissions::from_mode(0o751)).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.join("abs")).unwrap();
        std::os::unix::fs::symlink("a/b/f", src.join("rel")).unwrap();
        std::fs::set_permissions(src.join("a"), std::fs::Permissions::from_mode(0o555)).unwrap();
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        std::fs::File::options()
            .write(true)
            .open(src.join("a/b/f"))
            .unwrap()
            .set_modified(old)
            .unwrap();

        let dst = tmp.path().join("snap/dst");
        copy_tree(&src, &dst).unwrap();
        assert_eq!(std::fs::read(dst.join("a/b/f")).unwrap(), b"data");
        let m = std::fs::metadata(dst.join("a/b/f")).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o751);
        assert_eq!(m.modified().unwrap(), old);
        assert_eq!(
            std::fs::read_link(dst.join("abs")).unwrap(),
            PathBuf::from("/etc/passwd")
        );
        assert_eq!(std::fs::read_link(dst.join("rel")).unwrap(), PathBuf::from("a/b/f"));
        let a = std::fs::metadata(dst.join("a")).unwrap();
        assert_eq!(a.permissions().mode() & 0o777, 0o555);

        remove_tree(&dst);
        remove_tree(&src);
        assert!(!dst.exists() && !src.exists());
    }

    #[test]
    fn copy_tree_refuses_an_existing_destination() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("src")).unwrap();
        std::fs::create_dir(tmp.path().join("dst")).unwrap();
        assert!(copy_tree(&tmp.path().join("src"), &tmp.path().join("dst")).is_err());
    }
}
