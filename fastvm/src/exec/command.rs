//! [`Command`]: what to run in a VM.

use std::time::Duration;

use base64::Engine as _;

use crate::Result;
use crate::types::ExecVmRequest;

/// A command to run in a VM: an argv, optional server-side timeout, optional stdin.
///
/// A `&str`/`String` converts into a shell command (`["sh", "-c", s]`); an array, slice or `Vec`
/// of strings converts into an argv passed as is.
///
/// ```
/// use fastvm::exec::Command;
/// let shell: Command = "ls -la /root | head".into();
/// assert_eq!(shell.args(), ["sh", "-c", "ls -la /root | head"]);
/// let argv = Command::argv(["python3", "main.py", "--flag"])
///     .timeout(std::time::Duration::from_secs(30))
///     .stdin(b"input".to_vec());
/// assert_eq!(argv.args()[0], "python3");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    argv: Vec<String>,
    timeout: Option<Duration>,
    stdin: Option<Vec<u8>>,
}

impl Command {
    /// A command from an argv (the first element is the program).
    pub fn argv<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Command {
            argv: argv.into_iter().map(Into::into).collect(),
            timeout: None,
            stdin: None,
        }
    }

    /// A shell command line, run as `["sh", "-c", line]`.
    pub fn shell(line: impl Into<String>) -> Self {
        Command::argv(["sh".to_string(), "-c".to_string(), line.into()])
    }

    /// Server-side timeout (whole seconds, rounded up; at least 1 s): the command is killed
    /// after it and its result says `timed_out`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Bytes written to the command's stdin (sent base64-encoded), which is then closed.
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// The argv that will be sent.
    pub fn args(&self) -> &[String] {
        &self.argv
    }

    /// The server-side timeout, if set.
    pub(crate) fn timeout_duration(&self) -> Option<Duration> {
        self.timeout
    }

    /// Validates the command and builds the wire request.
    pub(crate) fn to_request(&self) -> Result<ExecVmRequest> {
        crate::validate::command(&self.argv)?;
        let timeout_sec = self
            .timeout
            .map(|t| crate::validate::seconds("timeoutSec", t))
            .transpose()?;
        Ok(ExecVmRequest {
            command: self.argv.clone(),
            timeout_sec,
            stdin: self
                .stdin
                .as_ref()
                .map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
        })
    }
}

impl From<&str> for Command {
    fn from(line: &str) -> Self {
        Command::shell(line)
    }
}

impl From<String> for Command {
    fn from(line: String) -> Self {
        Command::shell(line)
    }
}

impl From<&String> for Command {
    fn from(line: &String) -> Self {
        Command::shell(line.clone())
    }
}

impl From<Vec<String>> for Command {
    fn from(argv: Vec<String>) -> Self {
        Command::argv(argv)
    }
}

impl From<Vec<&str>> for Command {
    fn from(argv: Vec<&str>) -> Self {
        Command::argv(argv)
    }
}

impl From<&[&str]> for Command {
    fn from(argv: &[&str]) -> Self {
        Command::argv(argv.iter().copied())
    }
}

impl<const N: usize> From<[&str; N]> for Command {
    fn from(argv: [&str; N]) -> Self {
        Command::argv(argv)
    }
}

impl From<&Command> for Command {
    fn from(c: &Command) -> Self {
        c.clone()
    }
}
