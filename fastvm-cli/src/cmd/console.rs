//! `fastvm console VM`: an interactive terminal on a VM, as the official CLI's.
//!
//! The local terminal goes into raw mode through crossterm, on Unix and Windows (every key,
//! Ctrl-C included, goes to the VM), the VM is told its size at once and on every resize
//! (SIGWINCH on Unix; elsewhere the size is looked at four times a second), Ctrl-] detaches,
//! and two Ctrl-C within a second print how to. The terminal is restored on every way out:
//! detach, the server closing, an error, SIGTERM, SIGHUP, SIGINT or SIGQUIT (a guard restores
//! it when dropped).

use std::io::{IsTerminal as _, Read as _, Write as _};

use clap::Args;
use futures::StreamExt as _;
use tokio::sync::mpsc;

use super::{CliError, Ctx, Result};

/// Detaches (Ctrl-]).
pub const ESCAPE: u8 = 0x1d;
/// Ctrl-C.
const CTRL_C: u8 = 0x03;
/// Printed after two Ctrl-C within [`CTRL_C_WINDOW`].
const HINT: &str = "\r\n(To disconnect, press Ctrl-])\r\n";
const CTRL_C_WINDOW: std::time::Duration = std::time::Duration::from_secs(1);

/// `console` arguments.
#[derive(Debug, Args)]
#[command(after_help = "\
Every key goes to the VM, Ctrl-C included; Ctrl-] detaches. Exit status: 0 after detaching or
when the VM's shell ends the session, 128 + the signal's number after SIGTERM/SIGHUP/SIGINT,
1 when the console cannot be opened or fails.

Examples:
  fastvm console VM_ID
  fastvm launch --name scratch        # launch, then a console")]
pub struct ConsoleArgs {
    /// The VM's id
    pub vm: String,
}

/// Runs `console`.
pub async fn run(ctx: &Ctx, a: ConsoleArgs) -> Result {
    attach(ctx, &a.vm).await
}

/// What Ctrl-C presses and the escape key mean in one chunk of input.
#[derive(Debug, Default)]
pub struct Keys {
    last_ctrl_c: Option<std::time::Instant>,
}

/// One chunk of input, sorted out.
#[derive(Debug, PartialEq, Eq)]
pub struct Typed<'a> {
    /// What to send to the VM.
    pub send: &'a [u8],
    /// Ctrl-] was pressed (after `send`).
    pub detach: bool,
    /// Print the hint (a second Ctrl-C within a second).
    pub hint: bool,
}

impl Keys {
    /// Sorts out `chunk`, read at `now`.
    pub fn typed<'a>(&mut self, chunk: &'a [u8], now: std::time::Instant) -> Typed<'a> {
        let (send, detach) = match chunk.iter().position(|&b| b == ESCAPE) {
            Some(i) => (&chunk[..i], true),
            None => (chunk, false),
        };
        let mut hint = false;
        for _ in send.iter().filter(|&&b| b == CTRL_C) {
            if self.last_ctrl_c.is_some_and(|t| now.duration_since(t) < CTRL_C_WINDOW) {
                hint = true;
            }
            self.last_ctrl_c = Some(now);
        }
        Typed { send, detach, hint }
    }
}

/// Raw mode on the terminal while alive (crossterm: termios on Unix, the console modes on
/// Windows); the saved settings are put back when dropped.
struct RawMode;

impl RawMode {
    fn enable() -> std::io::Result<RawMode> {
        crossterm::terminal::enable_raw_mode()?;
        Ok(RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// The terminal's size (columns, rows), 80x24 when it cannot be told.
fn size() -> (u16, u16) {
    crossterm::terminal::size()
        .ok()
        .filter(|&(cols, rows)| cols > 0 && rows > 0)
        .unwrap_or((80, 24))
}

/// Reads stdin on a thread of its own, as bytes (escape sequences and all, for the VM's
/// terminal). The thread blocks in `read` and ends with the process (the CLI exits right after
/// a console ends) or when stdin ends.
fn read_stdin() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel(64);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buf = [0u8; 4096];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    if tx.blocking_send(buf[..n].to_vec()).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    });
    rx
}

/// What the session hears from outside its input: the terminal resized, or a signal that ends
/// it.
enum Outside {
    Resized,
    Ended(&'static str, u8),
}

/// SIGWINCH for resizes; SIGTERM, SIGHUP, SIGINT and SIGQUIT end the session (in raw mode the
/// keys that would send the last two reach the VM instead, so these come from elsewhere).
#[cfg(unix)]
struct Signals {
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    quit: tokio::signal::unix::Signal,
    winch: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn catch() -> Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        let sig = |kind: SignalKind| signal(kind).map_err(|e| CliError::Other(format!("cannot catch signals: {e}")));
        Ok(Signals {
            term: sig(SignalKind::terminate())?,
            hup: sig(SignalKind::hangup())?,
            int: sig(SignalKind::interrupt())?,
            quit: sig(SignalKind::quit())?,
            winch: sig(SignalKind::window_change())?,
        })
    }

    async fn next(&mut self) -> Outside {
        tokio::select! {
            _ = self.winch.recv() => Outside::Resized,
            _ = self.term.recv() => Outside::Ended("SIGTERM", 15),
            _ = self.hup.recv() => Outside::Ended("SIGHUP", 1),
            _ = self.int.recv() => Outside::Ended("SIGINT", 2),
            _ = self.quit.recv() => Outside::Ended("SIGQUIT", 3),
        }
    }
}

/// Without Unix signals, a resize is noticed by looking at the size four times a second.
#[cfg(not(unix))]
struct Signals {
    last: (u16, u16),
}

#[cfg(not(unix))]
impl Signals {
    fn catch() -> Result<Signals> {
        Ok(Signals { last: size() })
    }

    async fn next(&mut self) -> Outside {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            let now = size();
            if now != self.last {
                self.last = now;
                return Outside::Resized;
            }
        }
    }
}

/// Why the session ended.
enum End {
    Detached,
    /// The server closed the connection (with its close frame's reason, if any).
    Closed(Option<String>),
    /// Stdin ended.
    InputClosed,
    Signal(&'static str, u8),
    Failed(fastvm::Error),
}

/// Attaches this terminal to the console of `vm` until detached.
pub async fn attach(ctx: &Ctx, vm: &str) -> Result {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(
            "`fastvm console` needs a terminal on stdin (use `fastvm exec` for scripts)".to_string(),
        ));
    }
    // Signals are caught before the terminal changes, so none can leave it raw.
    let mut outside = Signals::catch()?;
    let console = ctx.client.console(vm).await?;
    let (input, mut output) = console.split();

    let raw = RawMode::enable().map_err(|e| CliError::Other(format!("cannot put the terminal in raw mode: {e}")))?;
    let mut keys_rx = read_stdin();
    let mut stdout = std::io::stdout();
    let _ = write!(stdout, "Connected to VM {vm}. Press Ctrl-] to detach.\r\n");
    let _ = stdout.flush();

    let (cols, rows) = size();
    let mut keys = Keys::default();
    let end = match input.resize(cols, rows).await {
        Err(e) => End::Failed(e),
        Ok(()) => loop {
            tokio::select! {
                chunk = output.next() => match chunk {
                    Some(Ok(bytes)) => {
                        let _ = stdout.write_all(&bytes);
                        let _ = stdout.flush();
                    }
                    Some(Err(e)) => break End::Failed(e),
                    None => break End::Closed(output.close_frame().map(|c| c.reason.clone()).filter(|r| !r.is_empty())),
                },
                typed = keys_rx.recv() => match typed {
                    Some(chunk) => {
                        let t = keys.typed(&chunk, std::time::Instant::now());
                        if !t.send.is_empty()
                            && let Err(e) = input.send(t.send).await
                        {
                            break End::Failed(e);
                        }
                        if t.hint {
                            let _ = stdout.write_all(HINT.as_bytes());
                            let _ = stdout.flush();
                        }
                        if t.detach {
                            break End::Detached;
                        }
                    }
                    None => break End::InputClosed,
                },
                event = outside.next() => match event {
                    Outside::Resized => {
                        let (cols, rows) = size();
                        if let Err(e) = input.resize(cols, rows).await {
                            break End::Failed(e);
                        }
                    }
                    Outside::Ended(name, n) => break End::Signal(name, n),
                },
            }
        },
    };
    drop(raw);
    if !matches!(end, End::Closed(_)) {
        // A close handshake, briefly: the server ends the VM's shell session.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), input.close()).await;
    }
    match end {
        End::Detached => {
            eprintln!("\nDetached from VM {vm}.");
            Ok(0)
        }
        End::InputClosed => {
            eprintln!("\nInput closed; detached from VM {vm}.");
            Ok(0)
        }
        End::Closed(reason) => {
            let why = reason.map(|r| format!(" ({r})")).unwrap_or_default();
            eprintln!("\nConnection to VM {vm} closed{why}.");
            Ok(0)
        }
        End::Signal(name, n) => {
            eprintln!("\n{name}: detached from VM {vm}.");
            Ok(128 + n)
        }
        End::Failed(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn ctrl_bracket_detaches_after_what_came_before_it() {
        let mut keys = Keys::default();
        let now = Instant::now();
        assert_eq!(
            keys.typed(b"ls\r\x1dmore", now),
            Typed {
                send: b"ls\r",
                detach: true,
                hint: false
            }
        );
        assert_eq!(
            keys.typed(b"echo", now),
            Typed {
                send: b"echo",
                detach: false,
                hint: false
            }
        );
    }

    #[test]
    fn two_ctrl_c_within_a_second_ask_for_the_hint() {
        let mut keys = Keys::default();
        let t0 = Instant::now();
        assert!(!keys.typed(b"\x03", t0).hint);
        assert!(keys.typed(b"\x03", t0 + Duration::from_millis(500)).hint);
        assert!(!keys.typed(b"\x03", t0 + Duration::from_secs(3)).hint);
        assert!(keys.typed(b"\x03\x03", t0 + Duration::from_secs(10)).hint);
        // Still sent to the VM.
        assert_eq!(keys.typed(b"\x03", t0 + Duration::from_secs(20)).send, b"\x03");
    }
}
