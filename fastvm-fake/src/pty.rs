//! A pseudo-terminal for the console: the master side stays in the server (read and written
//! asynchronously, resized with `TIOCSWINSZ`), the slave side becomes the shell's stdin, stdout
//! and stderr.
//!
//! The shell runs in the VM like any command (`VmFs::command`, so with isolation inside the VM's
//! namespaces), started through util-linux `setsid --ctty`: a new session whose controlling
//! terminal is the pty, so Ctrl-C reaches the foreground job, job control works, and closing
//! the master hangs the shell up (SIGHUP). Without `setsid` on the host the shell still runs on
//! the pty, without a controlling terminal.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::process::Stdio;

use rustix::fs::{Mode, OFlags};
use rustix::pty::OpenptFlags;
use rustix::termios::Winsize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;
use tokio::process::Child;
use tokio::sync::Mutex;

use crate::model::StringMap;
use crate::vmfs::VmFs;

/// The shell the console starts: bash where the VM has it, else sh.
const SHELL: &str = "if command -v bash >/dev/null 2>&1; then exec bash -i; else exec sh -i; fi";

/// The terminal type the shell is told, unless the VM's environment sets `TERM`.
const TERM: &str = "xterm-256color";

/// The master side of a pty with the shell running on its slave side.
///
/// The master is driven by Tokio's reactor through its pipe types, the one safe way Tokio
/// offers to register a descriptor it did not open (`AsyncFd`'s constructors are `unsafe` or
/// deprecated): a nonblocking pty master reads and writes like the two ends of a pipe. Reads,
/// writes and the size ioctls each have their own duplicate of the descriptor.
#[derive(Debug)]
pub struct Pty {
    reader: Mutex<pipe::Receiver>,
    writer: Mutex<pipe::Sender>,
    /// For the size ioctls.
    control: OwnedFd,
    child: Child,
}

impl Pty {
    /// Opens a pty of `cols` x `rows` and starts the VM's shell on it with the VM's `env`.
    pub async fn spawn(fs: &VmFs, env: &StringMap, cols: u16, rows: u16) -> io::Result<Pty> {
        let (master, slave) = open(cols, rows)?;
        let mut env = env.clone();
        env.entry("TERM".to_string()).or_insert_with(|| TERM.to_string());
        let with_setsid = ["setsid", "--ctty", "/bin/sh", "-c", SHELL].map(String::from);
        let child = match start(fs, &with_setsid, &env, &slave).await {
            Ok(child) => child,
            // No util-linux `setsid` (only without isolation: isolation needs util-linux).
            Err(e) if e.kind() == io::ErrorKind::NotFound && !fs.isolated() => {
                start(fs, &["/bin/sh", "-c", SHELL].map(String::from), &env, &slave).await?
            }
            Err(e) => return Err(e),
        };
        // Our copy of the slave goes now: once the shell and everything it started are gone,
        // reading the master reports the end (EIO).
        drop(slave);
        rustix::io::ioctl_fionbio(&master, true)?;
        let writer = pipe::Sender::from_owned_fd_unchecked(master.try_clone()?)?;
        let reader = pipe::Receiver::from_owned_fd_unchecked(master.try_clone()?)?;
        Ok(Pty {
            reader: Mutex::new(reader),
            writer: Mutex::new(writer),
            control: master,
            child,
        })
    }

    /// Reads output; 0 at the end (every process holding the terminal is gone).
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self.reader.lock().await.read(buf).await {
            // Linux answers EIO on the master once no slave descriptor is open.
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::IO.raw_os_error()) => Ok(0),
            r => r,
        }
    }

    /// Writes all of `data` as typed input (waits while the terminal's input queue is full).
    pub async fn write_all(&self, data: &[u8]) -> io::Result<()> {
        self.writer.lock().await.write_all(data).await
    }

    /// Sets the terminal size; the kernel sends SIGWINCH to the foreground job.
    pub fn resize(&self, cols: u16, rows: u16) -> io::Result<()> {
        rustix::termios::tcsetwinsize(&self.control, winsize(cols, rows)).map_err(io::Error::from)
    }

    /// The terminal size as the VM sees it (`stty size`).
    #[cfg(test)]
    pub fn size(&self) -> io::Result<(u16, u16)> {
        let w = rustix::termios::tcgetwinsize(&self.control)?;
        Ok((w.ws_col, w.ws_row))
    }

    /// Waits until the process started on the terminal exits.
    #[cfg(test)]
    pub async fn wait(&mut self) -> io::Result<std::process::ExitStatus> {
        self.child.wait().await
    }

    /// Hangs the terminal up (closing the master sends SIGHUP to the shell's session) and
    /// kills the process started on it, if it is still there.
    pub async fn close(self) {
        let Pty {
            reader,
            writer,
            control,
            mut child,
        } = self;
        drop((reader, writer, control));
        if tokio::time::timeout(std::time::Duration::from_secs(2), child.wait())
            .await
            .is_err()
        {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }
}

fn winsize(cols: u16, rows: u16) -> Winsize {
    Winsize {
        ws_row: rows.max(1),
        ws_col: cols.max(1),
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

/// A new pty pair (master, slave) of the given size.
fn open(cols: u16, rows: u16) -> io::Result<(OwnedFd, OwnedFd)> {
    let master = rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
    rustix::pty::grantpt(&master)?;
    rustix::pty::unlockpt(&master)?;
    let flags = OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC;
    let slave = match rustix::pty::ioctl_tiocgptpeer(&master, flags) {
        Ok(slave) => slave,
        // Kernels before 4.13: by name.
        Err(_) => {
            let name = rustix::pty::ptsname(&master, Vec::new())?;
            rustix::fs::open(
                name.as_c_str(),
                OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
                Mode::empty(),
            )?
        }
    };
    rustix::termios::tcsetwinsize(&master, winsize(cols, rows))?;
    Ok((master, slave))
}

/// Starts `argv` in the VM with the terminal `slave` as its stdio.
async fn start(fs: &VmFs, argv: &[String], env: &StringMap, slave: &OwnedFd) -> io::Result<Child> {
    let stdio = || -> io::Result<Stdio> { Ok(Stdio::from(slave.as_fd().try_clone_to_owned()?)) };
    let mut cmd = fs.command(argv, env).await?;
    cmd.stdin(stdio()?).stdout(stdio()?).stderr(stdio()?).kill_on_drop(true);
    cmd.spawn()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_shell_on_the_host_sees_the_size_and_echoes_input() {
        let dir = tempfile::tempdir().unwrap();
        let fs = VmFs::Host {
            dir: dir.path().to_path_buf(),
        };
        let mut pty = Pty::spawn(&fs, &StringMap::new(), 100, 30).await.unwrap();
        assert_eq!(pty.size().unwrap(), (100, 30));
        pty.resize(123, 45).unwrap();
        pty.write_all(b"stty size; exit\n").await.unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        let read = async {
            loop {
                let n = pty.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..n]);
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(20), read)
            .await
            .expect("the shell exits");
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("45 123"), "{text}");
        assert!(pty.wait().await.unwrap().success());
    }
}
