//! Readiness and background processes in a VM: [`Vm::wait_for_port`], [`Vm::wait_until`] and
//! [`Vm::spawn`], whose request builders are [`WaitForPort`], [`WaitUntil`] and [`Spawn`].
//!
//! Instead of `… & sleep 8`: start the server detached, then wait until it listens.
//!
//! ```no_run
//! # async fn demo(vm: fastvm::vm::Vm) -> fastvm::Result<()> {
//! use std::time::Duration;
//! use fastvm::exec::Command;
//! let server = vm.spawn(Command::sh("python3 -m http.server 8080").cwd("/srv/site")).await?;
//! vm.wait_for_port(8080).deadline(Duration::from_secs(60)).await?;
//! let page = vm.wait_until("curl -sf http://127.0.0.1:8080/").await?;
//! println!("pid {} serves {} bytes; its log is {}", server.pid, page.stdout.len(), server.log);
//! # Ok(()) }
//! ```
//!
//! Each poll is one buffered exec (so at most one request every 500 ms); the waits share the
//! poll loop, jitter and defaults of [`FastvmClient::wait_for_vm_ready`](crate::FastvmClient::wait_for_vm_ready)
//! (every 2 s, for up to 300 s). A probe request that fails in a way worth repeating (a broken
//! connection, a timeout, 429, 5xx) counts as "not yet"; any other error ends the wait.

use std::time::{Duration, Instant};

use crate::exec::{Command, RunOutput};
use crate::resources::into_future;
use crate::resources::poll::{Step, WaitOptions, poll, wait_setters};
use crate::transfer::remote;
use crate::types::ExecVmResponse;
use crate::vm::Vm;
use crate::{Error, Result};

/// The server-side timeout of a [`Vm::wait_until`] probe whose command sets none, at most (and
/// never more than the time left).
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);
/// The server-side timeout of one port probe.
const PORT_PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a probe's output an error keeps (its end).
const OUTPUT_TAIL: usize = 2048;
/// How long [`Vm::spawn`] watches a process for an immediate failure, by default.
const DEFAULT_GRACE: Duration = Duration::from_millis(250);
/// The server-side timeout of the command that starts a spawned process (plus the grace),
/// when the caller's command sets none.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(30);

impl Vm {
    /// Waits until something in the VM listens on TCP `port` (a socket in state LISTEN, IPv4
    /// or IPv6, on any address): the moment a server can accept connections.
    ///
    /// Each poll is one cheap exec that needs only `sh` and `grep`: it looks for the port in
    /// the kernel's `/proc/net/tcp` and `/proc/net/tcp6`, so the VM must be Linux with `/proc`
    /// mounted, and only sockets of the exec's network namespace are seen (not those of a
    /// container with its own network). Nothing connects to the port. Fails with
    /// [`Error::NotReady`] at the deadline, with [`Error::CommandFailed`] at once when the
    /// probe cannot work (no readable `/proc/net/tcp*`, no `grep`), and with
    /// [`Error::InvalidInput`] (`port`) for port 0, before any request.
    ///
    /// ```no_run
    /// # async fn demo(vm: fastvm::vm::Vm) -> fastvm::Result<()> {
    /// use std::time::Duration;
    /// vm.spawn("redis-server --port 6379").await?;
    /// vm.wait_for_port(6379).deadline(Duration::from_secs(30)).poll_interval(Duration::from_millis(500)).await?;
    /// # Ok(()) }
    /// ```
    pub fn wait_for_port(&self, port: u16) -> WaitForPort<'_> {
        WaitForPort {
            vm: self,
            port,
            options: WaitOptions::default(),
        }
    }

    /// Runs `command` until it exits 0 (and was not killed by its timeout), and returns that
    /// run's output.
    ///
    /// A command without a [`timeout`](Command::timeout) gets one per probe: the time left,
    /// at most 30 s. Fails with [`Error::NotReady`] at the deadline, carrying the last
    /// run's exit status and the end of its output.
    ///
    /// ```no_run
    /// # async fn demo(vm: fastvm::vm::Vm) -> fastvm::Result<()> {
    /// use std::time::Duration;
    /// match vm.wait_until("pg_isready -h 127.0.0.1").deadline(Duration::from_secs(90)).await {
    ///     Ok(out) => println!("{}", out.stdout),
    ///     Err(fastvm::Error::NotReady { last_output, .. }) => eprintln!("postgres never came up: {last_output}"),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn wait_until(&self, command: impl Into<Command>) -> WaitUntil<'_> {
        WaitUntil {
            vm: self,
            command: command.into(),
            options: WaitOptions::default(),
        }
    }

    /// Starts `command` in the background, detached from the exec that starts it, and returns
    /// its PID and log file ([`Spawned`]).
    ///
    /// The process gets its own session (`setsid`, when the VM has it) and ignores hangups
    /// (`nohup`, when the VM has it), reads `/dev/null`, and appends its stdout and stderr to
    /// the log ([`log`](Spawn::log), by default a fresh `/tmp/fastvm-spawn-<random>.log`; its
    /// directory is created). It keeps running after the exec returns, until it exits, is
    /// killed (`vm.run(format!("kill {}", spawned.pid))`), or the VM goes away. The command's
    /// [`cwd`](Command::cwd) and [`env`](Command::env) apply to it; its
    /// [`timeout`](Command::timeout) bounds only the start (default 30 s, plus the grace);
    /// [`stdin`](Command::stdin) cannot be given ([`Error::InvalidInput`], before any request).
    ///
    /// The start is one exec that watches the process for [`grace`](Spawn::grace) (default
    /// 250 ms): when it has exited with a non-zero status by then (a missing program, a bad
    /// working directory, a crash at start-up), or the log cannot be written, the spawn fails
    /// with [`Error::CommandFailed`], carrying that status and the end of the log. A process
    /// that fails later is not noticed: [`wait_for_port`](Self::wait_for_port) or
    /// [`wait_until`](Self::wait_until) tell when it is really up. The VM needs `sh`,
    /// `dirname`, `mkdir`, `kill`, `sleep` and `tail` (coreutils or BusyBox).
    ///
    /// ```no_run
    /// # async fn demo(vm: fastvm::vm::Vm) -> fastvm::Result<()> {
    /// use fastvm::exec::Command;
    /// let app = vm
    ///     .spawn(Command::argv(["./server", "--port", "8080"]).cwd("/srv/app").env("RUST_LOG", "info"))
    ///     .log("/var/log/app.log")
    ///     .await?;
    /// vm.wait_for_port(8080).await?;
    /// let log = vm.run(format!("tail -n 20 {}", app.log)).await?;
    /// # Ok(()) }
    /// ```
    pub fn spawn(&self, command: impl Into<Command>) -> Spawn<'_> {
        Spawn {
            vm: self,
            command: command.into(),
            log: None,
            grace: DEFAULT_GRACE,
        }
    }
}

/// The request of [`Vm::wait_for_port`]; await it.
#[derive(Debug)]
#[must_use = "a request does nothing until it is awaited"]
pub struct WaitForPort<'a> {
    vm: &'a Vm,
    port: u16,
    options: WaitOptions,
}

impl WaitForPort<'_> {
    wait_setters!();

    async fn send(self) -> Result<()> {
        let port = self.port;
        if port == 0 {
            return Err(Error::invalid("port", "must be a TCP port in 1–65535"));
        }
        let probe = Command::sh(remote::port_probe(port)).timeout(PORT_PROBE_TIMEOUT);
        probe_until(
            self.vm,
            format!("TCP port {port} to listen"),
            self.options,
            |_| probe.clone(),
            |out| {
                Ok(match (out.timed_out, out.exit_code) {
                    (false, 0) => Verdict::Ready(()),
                    (false, 1) => Verdict::NotYet(format!("nothing listens on TCP port {port}")),
                    (true, _) => Verdict::NotYet(outcome(&out)),
                    // The probe itself cannot work: no point in repeating it.
                    _ => out.check().map(|_| Verdict::Ready(()))?,
                })
            },
        )
        .await
    }
}

into_future!(WaitForPort => ());

/// The request of [`Vm::wait_until`]; await it.
#[derive(Debug)]
#[must_use = "a request does nothing until it is awaited"]
pub struct WaitUntil<'a> {
    vm: &'a Vm,
    command: Command,
    options: WaitOptions,
}

impl WaitUntil<'_> {
    wait_setters!();

    async fn send(self) -> Result<RunOutput> {
        let command = &self.command;
        // Checked once, before the first request.
        command.to_request()?;
        let own = command.timeout_duration().is_some();
        probe_until(
            self.vm,
            format!("`{}` to exit 0", command.describe()),
            self.options,
            |remaining| {
                if own {
                    command.clone()
                } else {
                    command
                        .clone()
                        .timeout(remaining.clamp(Duration::from_secs(1), PROBE_TIMEOUT))
                }
            },
            |out| {
                Ok(if out.success() {
                    Verdict::Ready(out)
                } else {
                    Verdict::NotYet(outcome(&out))
                })
            },
        )
        .await
    }
}

into_future!(WaitUntil => RunOutput);

/// The request of [`Vm::spawn`]; await it.
#[derive(Debug)]
#[must_use = "a request does nothing until it is awaited"]
pub struct Spawn<'a> {
    vm: &'a Vm,
    command: Command,
    log: Option<String>,
    grace: Duration,
}

/// A process started by [`Vm::spawn`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Spawned {
    /// Its PID in the VM.
    pub pid: u32,
    /// The absolute path, in the VM, of the file its stdout and stderr are appended to.
    pub log: String,
}

impl Spawn<'_> {
    /// Where the process's stdout and stderr go: an absolute path in the VM, appended to (its
    /// directory is created). Default: a fresh `/tmp/fastvm-spawn-<random>.log`.
    pub fn log(mut self, path: impl Into<String>) -> Self {
        self.log = Some(path.into());
        self
    }

    /// How long the start watches the process for an immediate failure (default 250 ms; at
    /// millisecond precision). [`Duration::ZERO`] returns as soon as it is started.
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    async fn send(self) -> Result<Spawned> {
        let request = self.command.to_request()?;
        if request.stdin.is_some() {
            return Err(Error::invalid(
                "stdin",
                "a spawned process reads /dev/null: it cannot be given stdin",
            ));
        }
        let log = match self.log {
            Some(log) if log.contains('\0') => return Err(Error::invalid("log", "must not contain NUL")),
            Some(log) if !log.starts_with('/') || log.ends_with('/') => {
                return Err(Error::invalid(
                    "log",
                    format!("{log:?} is not an absolute path to a file"),
                ));
            }
            Some(log) => log,
            None => remote::spawn_log_path(),
        };
        let grace = Duration::from_millis(u64::try_from(self.grace.as_millis()).unwrap_or(u64::MAX));
        let line = remote::spawn_detached(&request.command, &log, grace);
        let timeout = self
            .command
            .timeout_duration()
            .unwrap_or(LAUNCH_TIMEOUT)
            .saturating_add(grace);
        let out = self.vm.run(Command::sh(line).timeout(timeout)).await?;
        let failed = |stderr: String| Error::CommandFailed {
            command: self.command.describe(),
            exit_code: out.exit_code,
            timed_out: out.timed_out,
            stdout_tail: String::new(),
            stderr_tail: stderr,
        };
        if !out.success() {
            return Err(failed(tail(&out.stderr)));
        }
        let pid = out
            .stdout
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .and_then(|l| l.parse::<u32>().ok())
            .ok_or_else(|| failed(format!("the start printed no PID (stdout: {:?})", tail(&out.stdout))))?;
        tracing::debug!(vm = %self.vm.id(), pid, log = %log, "fastvm: spawned a background process");
        Ok(Spawned { pid, log })
    }
}

into_future!(Spawn => Spawned);

/// What one probe says.
enum Verdict<T> {
    Ready(T),
    /// Not yet, with the probe's outcome for [`Error::NotReady`].
    NotYet(String),
}

/// Polls with `probe(time left)` until `judge` says ready; the deadline is
/// [`Error::NotReady`] for `what`.
async fn probe_until<T>(
    vm: &Vm,
    what: String,
    opts: WaitOptions,
    probe: impl Fn(Duration) -> Command,
    judge: impl Fn(RunOutput) -> Result<Verdict<T>>,
) -> Result<T> {
    let started = Instant::now();
    poll(
        opts,
        || async {
            let remaining = opts.timeout.saturating_sub(started.elapsed());
            match vm.run(probe(remaining)).await {
                Ok(out) => Ok(match judge(out)? {
                    Verdict::Ready(value) => Step::Done(Ok(value)),
                    Verdict::NotYet(outcome) => Step::Pending(outcome),
                }),
                // The request failed, not the probe: it says nothing about the VM.
                Err(e) if e.is_transient() => Ok(Step::Pending(format!("the probe request failed: {e}"))),
                Err(e) => Err(e),
            }
        },
        |last_output, waited| Error::NotReady {
            vm_id: vm.id().to_string(),
            what,
            waited,
            last_output,
        },
    )
    .await
}

/// A probe's exit status and the end of its output, for [`Error::NotReady`].
fn outcome(out: &ExecVmResponse) -> String {
    let status = if out.timed_out {
        "timed out".to_string()
    } else {
        format!("exit {}", out.exit_code)
    };
    let text = tail(&format!("{}{}", out.stdout, out.stderr));
    let text = text.trim();
    if text.is_empty() {
        status
    } else {
        format!("{status}: {text}")
    }
}

/// The end of a probe's output (see `redact::tail`).
fn tail(s: &str) -> String {
    crate::redact::tail(s.as_bytes(), OUTPUT_TAIL)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(code: i64, timed_out: bool, stdout: &str, stderr: &str) -> ExecVmResponse {
        let mut r = ExecVmResponse::default();
        r.exit_code = code;
        r.timed_out = timed_out;
        r.stdout = stdout.into();
        r.stderr = stderr.into();
        r
    }

    #[test]
    fn outcomes_name_the_status_and_keep_the_end_of_the_output() {
        assert_eq!(outcome(&out(1, false, "", "")), "exit 1");
        assert_eq!(
            outcome(&out(3, false, "waiting\n", "no db\n")),
            "exit 3: waiting\nno db"
        );
        assert_eq!(outcome(&out(0, true, "", "")), "timed out");
        let long = format!("{}é{}", "a".repeat(5000), "z".repeat(OUTPUT_TAIL - 1));
        let t = outcome(&out(1, false, &long, ""));
        assert!(
            t.starts_with("exit 1: …") && t.ends_with('z') && t.len() < OUTPUT_TAIL + 20,
            "{}",
            t.len()
        );
        let msg = crate::error::not_ready_message("vm-1", "`true` to exit 0", Duration::from_secs(2), "exit 1: a\nb\n");
        assert_eq!(
            msg,
            "VM vm-1 not ready after 2s: waited for `true` to exit 0; last probe: exit 1: a | b"
        );
        assert!(!tail("see https://h.example/o?X-Amz-Signature=abc").contains("abc"));
    }

    #[test]
    fn only_failures_that_say_nothing_about_the_vm_are_repeated() {
        let timeout = Error::Timeout {
            message: "deadline".into(),
            operation: Some("execVm"),
            source: None,
        };
        assert!(timeout.is_transient());
        assert!(!Error::invalid("id", "empty").is_transient());
    }
}
