//! [`RunOutput`]: the result of a buffered command, and checking it.

use crate::types::ExecVmResponse;
use crate::{Error, Result};

/// How much of each output a [`Error::CommandFailed`] keeps: its end, where the error usually is.
pub(crate) const TAIL_BYTES: usize = 4096;

/// The result of [`Vms::run`](crate::resources::Vms::run): the API's
/// [`ExecVmResponse`] (reachable through `Deref`: `out.stdout`, `out.exit_code`, …) and the
/// command it ran, for [`check`](Self::check)'s error.
///
/// ```no_run
/// # async fn demo(client: fastvm::FastvmClient, id: &str) -> fastvm::Result<()> {
/// let out = client.vms().run(id, "make test").await?;
/// if !out.success() {
///     eprintln!("{}", out.combined());
/// }
/// let version = client.vms().run(id, "uname -r").await?.check()?.stdout.clone();
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutput {
    result: ExecVmResponse,
    command: String,
}

impl RunOutput {
    pub(crate) fn new(result: ExecVmResponse, command: String) -> Self {
        RunOutput { result, command }
    }

    /// True when the command exited 0 without being killed by its timeout.
    pub fn success(&self) -> bool {
        self.result.exit_code == 0 && !self.result.timed_out
    }

    /// This output when the command succeeded; otherwise [`Error::CommandFailed`], carrying the
    /// exit code, whether the timeout killed it, the end of stdout and stderr, and the command
    /// (its environment values left out). A timeout is a failure whatever the exit code says.
    pub fn check(self) -> Result<Self> {
        if self.success() {
            return Ok(self);
        }
        Err(failed(
            &self.command,
            self.result.exit_code,
            self.result.timed_out,
            self.result.stdout.as_bytes(),
            self.result.stderr.as_bytes(),
        ))
    }

    /// stdout followed by stderr (the buffered API keeps them apart, so they cannot be
    /// interleaved as they were printed; a stream's [`ExecOutput::combined`](super::ExecOutput::combined)
    /// can).
    pub fn combined(&self) -> String {
        format!("{}{}", self.result.stdout, self.result.stderr)
    }

    /// The command, as messages show it: quoted argv, working directory, environment names.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// The API's result.
    pub fn into_result(self) -> ExecVmResponse {
        self.result
    }
}

impl std::ops::Deref for RunOutput {
    type Target = ExecVmResponse;

    fn deref(&self) -> &ExecVmResponse {
        &self.result
    }
}

/// Serialises as the API's result (`ExecVMResponse`), as a CLI's `--json` prints it.
impl serde::Serialize for RunOutput {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.result.serialize(serializer)
    }
}

/// The error of a failed command (see [`RunOutput::check`]).
pub(crate) fn failed(command: &str, exit_code: i64, timed_out: bool, stdout: &[u8], stderr: &[u8]) -> Error {
    Error::CommandFailed {
        command: command.to_string(),
        exit_code,
        timed_out,
        stdout_tail: crate::redact::tail(stdout, TAIL_BYTES),
        stderr_tail: crate::redact::tail(stderr, TAIL_BYTES),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(exit_code: i64, timed_out: bool, stdout: &str, stderr: &str) -> ExecVmResponse {
        let mut r = ExecVmResponse::default();
        r.exit_code = exit_code;
        r.timed_out = timed_out;
        r.stdout = stdout.into();
        r.stderr = stderr.into();
        r
    }

    #[test]
    fn check_passes_a_success_and_fails_an_exit_or_a_timeout() {
        let ok = RunOutput::new(result(0, false, "out", ""), "true".into());
        assert_eq!(ok.clone().check().unwrap(), ok);
        let err = RunOutput::new(
            result(2, false, "some output\n", "make: *** [test] Error 2\n"),
            "make test".into(),
        )
        .check()
        .unwrap_err();
        match &err {
            Error::CommandFailed {
                command,
                exit_code,
                timed_out,
                stdout_tail,
                stderr_tail,
                ..
            } => {
                assert_eq!((command.as_str(), *exit_code, *timed_out), ("make test", 2, false));
                assert_eq!(stdout_tail, "some output\n");
                assert_eq!(stderr_tail, "make: *** [test] Error 2\n");
            }
            other => panic!("{other:?}"),
        }
        let shown = err.to_string();
        assert!(
            shown.contains("make test") && shown.contains("exit code 2") && shown.contains("Error 2"),
            "{shown}"
        );
        // A timeout is never disguised as success, whatever the exit code.
        let timeout = RunOutput::new(result(0, true, "", ""), "sleep 99".into())
            .check()
            .unwrap_err();
        assert!(matches!(timeout, Error::CommandFailed { timed_out: true, .. }));
        assert!(timeout.to_string().contains("timed out"), "{timeout}");
    }

    #[test]
    fn tails_are_bounded_and_redacted() {
        let long = format!("{}https://store.example/o?X-Amz-Signature=secret\n", "x".repeat(10_000));
        let t = crate::redact::tail(long.as_bytes(), TAIL_BYTES);
        assert!(t.len() <= TAIL_BYTES + 4 && t.starts_with('…'), "{}", t.len());
        assert!(!t.contains("secret"), "{t}");
    }
}
