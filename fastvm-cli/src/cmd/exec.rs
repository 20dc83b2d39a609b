//! `fastvm exec VM CMD...`: run a command in a VM with its output streamed live.

use std::io::{IsTerminal as _, Write};

use clap::Args;
use fastvm::exec::{Command, ExecEvent, ExecOutput};
use futures::StreamExt as _;

use super::{CliError, Ctx, Result, output, read_input};

/// Exit status when the server-side timeout killed the command: 128 + SIGKILL, what the Python
/// CLI exits with (the server reports the killed command's status as 137).
pub const EXIT_TIMED_OUT: u8 = 137;

/// `exec` arguments.
#[derive(Debug, Args)]
#[command(after_help = "\
One argument is a shell command line, run with `sh -c` (as the Python CLI runs its command);
several arguments are an argv, passed as is (no shell). Options go before the command; after
`--` everything is the command's.
Exit status: the command's own (0-255; other values become 255), 137 when --timeout killed it,
1 when the exec itself failed.

With --json, the output is collected and printed once as the API's exec result
({exitCode, stdout, stderr, timedOut, durationMs, ...}).

Examples:
  fastvm exec VM_ID 'ls / | wc -l'              # one argument: a shell line
  fastvm exec VM_ID uname -a                    # an argv
  fastvm exec --timeout 60 VM_ID -- make -j4 test
  echo hello | fastvm exec -i VM_ID tr a-z A-Z")]
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
    /// The command: one argument is a shell line (`sh -c`), several an argv
    #[arg(
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
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
    let mut command = shell_or_argv(argv);
    if let Some(t) = timeout {
        command = command.timeout(std::time::Duration::from_secs(t));
    }
    if stdin {
        if std::io::stdin().is_terminal() {
            eprintln!("reading the command's stdin from the terminal; end it with Ctrl-D");
        }
        command = command.stdin(read_input("-")?);
    }
    Ok(command)
}

/// One argument is a shell line, as the Python CLI (and the Python SDK for a string) runs it;
/// several are an argv.
pub fn shell_or_argv(mut argv: Vec<String>) -> Command {
    if argv.len() == 1 {
        Command::sh(argv.remove(0))
    } else {
        Command::argv(argv)
    }
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
    if ctx.json {
        // Nothing is printed before the end, so the SDK's own collector does the whole job.
        let out = events.collect().await?;
        if let Some(d) = &out.exit.diagnostic {
            eprintln!("fastvm: {d}");
        }
        let status = exit_status(out.exit.code, out.exit.timed_out);
        output::json(&exec_response(out))?;
        return Ok(status);
    }
    // Not `ExecStream::tee`: a failed write ends `tee`, while a closed pipe here must only
    // stop the copy (see `Sink`).
    let mut stdout = Sink::new(std::io::stdout());
    let mut stderr = Sink::new(std::io::stderr());
    while let Some(event) = events.next().await {
        match event? {
            ExecEvent::Stdout(b) => stdout.write(&b),
            ExecEvent::Stderr(b) => stderr.write(&b),
            ExecEvent::Exit {
                code,
                timed_out,
                diagnostic,
                ..
            } => {
                if let Some(d) = diagnostic {
                    eprintln!("fastvm: {d}");
                }
                if timed_out {
                    eprintln!("fastvm: the command was killed by its timeout");
                }
                return Ok(exit_status(code, timed_out));
            }
            // Events of a newer server are skipped: they cannot change what was printed.
            _ => {}
        }
    }
    // The SDK reports a stream that ends early as an error; this is only a safety net.
    Err(CliError::Other(format!(
        "exec stream closed before the exit event (after {} events)",
        events.events_received()
    )))
}

/// A collected stream in the shape of the API's buffered exec answer (`ExecVmResponse`, what
/// `--json` prints; its members by their wire names). A stream is never truncated, and a
/// missing duration prints as 0.
fn exec_response(out: ExecOutput) -> serde_json::Value {
    let ExecOutput {
        stdout, stderr, exit, ..
    } = out;
    serde_json::json!({
        "durationMs": exit
            .duration
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        "exitCode": exit.code,
        "stderr": String::from_utf8_lossy(&stderr),
        "stderrTruncated": false,
        "stdout": String::from_utf8_lossy(&stdout),
        "stdoutTruncated": false,
        "timedOut": exit.timed_out,
    })
}

/// One output stream written live to the terminal or pipe.
struct Sink<W: Write> {
    out: W,
    closed: bool,
}

impl<W: Write> Sink<W> {
    fn new(out: W) -> Self {
        Sink { out, closed: false }
    }

    fn write(&mut self, bytes: &[u8]) {
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
        assert_eq!(EXIT_TIMED_OUT, 137, "the Python CLI's status for a timeout");
    }

    #[test]
    fn one_argument_is_a_shell_line_several_an_argv() {
        let one = shell_or_argv(vec!["ls / | wc -l".into()]);
        assert_eq!(one.args(), ["sh", "-c", "ls / | wc -l"]);
        let many = shell_or_argv(vec!["printf".into(), "%s".into(), "a b".into()]);
        assert_eq!(many.args(), ["printf", "%s", "a b"]);
    }

    #[test]
    fn json_result_is_the_collected_output() {
        let mut out = ExecOutput::default();
        out.stdout = b"abc".to_vec();
        out.stderr = b"\xffe".to_vec();
        out.exit.code = 3;
        out.exit.timed_out = true;
        out.exit.duration = Some(std::time::Duration::from_millis(42));
        let r = exec_response(out);
        // The API's own answer type reads it: the members are the wire's.
        let typed: fastvm::types::ExecVmResponse = serde_json::from_value(r.clone()).unwrap();
        assert_eq!(typed.stdout, "abc");
        assert_eq!(typed.stderr, "\u{fffd}e");
        assert_eq!((typed.exit_code, typed.timed_out, typed.duration_ms), (3, true, 42));
        assert!(!typed.stdout_truncated && !typed.stderr_truncated);
        assert_eq!(r.as_object().map(|o| o.len()), Some(7), "{r}");
        assert_eq!(exec_response(ExecOutput::default())["durationMs"], 0);
    }

    #[test]
    fn sink_writes_through_and_survives_a_closed_pipe() {
        let mut s = Sink::new(Vec::new());
        s.write(b"ab");
        s.write(b"c");
        assert_eq!(s.out, b"abc");
        assert!(!s.closed);

        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut s = Sink::new(Broken);
        s.write(b"x");
        assert!(s.closed);
        s.write(b"y");
    }
}
