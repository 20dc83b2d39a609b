//! `fastvm exec VM -- CMD...`: run a command in a VM with its output streamed live.

use std::io::{IsTerminal as _, Read as _, Write};

use clap::Args;
use fastvm::exec::{Command, ExecEvent};
use futures::StreamExt as _;

use super::{CliError, Ctx, Result, output};

/// Exit status when the server-side timeout killed the command, as coreutils `timeout` uses.
pub const EXIT_TIMED_OUT: u8 = 124;

/// `exec` arguments.
#[derive(Debug, Args)]
#[command(after_help = "\
The command is an argv, passed as is (no shell): use `-- sh -c '...'` for pipes and globs.
Exit status: the command's own (0-255; other values become 255), 124 when --timeout killed it,
1 when the exec itself failed.

With --json, the output is collected and printed once as the API's exec result
({exitCode, stdout, stderr, timedOut, durationMs, ...}).")]
pub struct ExecArgs {
    /// VM id
    pub vm: String,
    #[command(flatten)]
    pub command: CommandArgs,
}

/// The command part shared by `exec` and `run`.
#[derive(Debug, Args)]
pub struct CommandArgs {
    /// Kill the command after this many seconds (server-side)
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Send this process's stdin to the command (read whole before anything starts)
    #[arg(long, short = 'i')]
    pub stdin: bool,
    /// The command and its arguments
    #[arg(last = true, required = true, num_args = 1.., value_name = "CMD")]
    pub command: Vec<String>,
}

/// Runs `exec`.
pub async fn run(ctx: &Ctx, a: ExecArgs) -> Result {
    let command = build_command(a.command)?;
    stream_command(ctx, &a.vm, command).await
}

/// The SDK command from the CLI's argv and flags.
pub fn build_command(args: CommandArgs) -> Result<Command> {
    let CommandArgs {
        timeout,
        stdin,
        command: argv,
    } = args;
    let mut command = Command::argv(argv);
    if let Some(t) = timeout {
        command = command.timeout_sec(t);
    }
    if stdin {
        if std::io::stdin().is_terminal() {
            eprintln!("reading the command's stdin from the terminal; end it with Ctrl-D");
        }
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| CliError::Other(format!("reading stdin: {e}")))?;
        command = command.stdin(buf);
    }
    Ok(command)
}

/// The process exit status for a remote exit.
pub fn exit_status(code: i64, timed_out: bool) -> u8 {
    if timed_out {
        EXIT_TIMED_OUT
    } else {
        u8::try_from(code).unwrap_or(255)
    }
}

/// Streams `command` in VM `vm`: stdout and stderr chunks are written as they arrive (or, with
/// `--json`, collected and printed as one exec result). Returns the exit status to use.
pub async fn stream_command(ctx: &Ctx, vm: &str, command: Command) -> Result {
    let mut events = ctx.client.vms().stream(vm, command).await?;
    let mut stdout = Sink::new(std::io::stdout(), ctx.json);
    let mut stderr = Sink::new(std::io::stderr(), ctx.json);
    while let Some(event) = events.next().await {
        match event? {
            ExecEvent::Stdout(b) => stdout.write(&b),
            ExecEvent::Stderr(b) => stderr.write(&b),
            ExecEvent::Exit {
                code,
                timed_out,
                duration_ms,
                diagnostic,
            } => {
                if let Some(d) = diagnostic {
                    eprintln!("fastvm: {d}");
                }
                if ctx.json {
                    let result = fastvm::types::ExecVmResponse {
                        duration_ms: duration_ms.map_or(0, |ms| i64::try_from(ms).unwrap_or(i64::MAX)),
                        exit_code: code,
                        stderr: String::from_utf8_lossy(&stderr.collected).into_owned(),
                        stderr_truncated: false,
                        stdout: String::from_utf8_lossy(&stdout.collected).into_owned(),
                        stdout_truncated: false,
                        timed_out,
                    };
                    output::json(&result)?;
                } else if timed_out {
                    eprintln!("fastvm: the command was killed by its timeout");
                }
                return Ok(exit_status(code, timed_out));
            }
            // Events of a newer server are skipped: they cannot change what was printed.
            _ => {}
        }
    }
    // The SDK reports a stream that ends early as an error; this is only a safety net.
    Err(CliError::Api(fastvm::Error::StreamClosed { events: 0 }))
}

/// Where one output stream goes: the terminal/pipe live, or a buffer for `--json`.
struct Sink<W: Write> {
    out: W,
    collect: bool,
    collected: Vec<u8>,
    closed: bool,
}

impl<W: Write> Sink<W> {
    fn new(out: W, collect: bool) -> Self {
        Sink {
            out,
            collect,
            collected: Vec::new(),
            closed: false,
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.collect {
            self.collected.extend_from_slice(bytes);
            return;
        }
        // A reader that went away (`| head`) stops the copy, not the command: the exit status
        // must still be the command's.
        if !self.closed && (self.out.write_all(bytes).is_err() || self.out.flush().is_err()) {
            self.closed = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_status_mapping() {
        assert_eq!(exit_status(0, false), 0);
        assert_eq!(exit_status(3, false), 3);
        assert_eq!(exit_status(255, false), 255);
        assert_eq!(exit_status(256, false), 255);
        assert_eq!(exit_status(-1, false), 255);
        assert_eq!(exit_status(0, true), EXIT_TIMED_OUT);
        assert_eq!(exit_status(137, true), EXIT_TIMED_OUT);
    }

    #[test]
    fn sink_collects_in_json_mode_and_survives_a_closed_pipe() {
        let mut s = Sink::new(Vec::new(), true);
        s.write(b"ab");
        s.write(b"c");
        assert_eq!(s.collected, b"abc");
        assert!(s.out.is_empty());

        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut s = Sink::new(Broken, false);
        s.write(b"x");
        assert!(s.closed);
        s.write(b"y");
    }
}
