//! [`Command`]: what to run in a VM.

use std::time::Duration;

use base64::Engine as _;

use crate::Result;
use fastvm_api::types::ExecVmRequest;

/// A command to run in a VM: an argv (or a shell line), and optionally a working directory,
/// environment variables, stdin and a server-side timeout.
///
/// A `&str`/`String` converts into a shell command ([`Command::sh`]); an array, slice or `Vec`
/// of strings into an argv passed as is ([`Command::argv`]).
///
/// ```
/// use std::time::Duration;
/// use fastvm::exec::Command;
/// let shell: Command = "ls -la /root | head".into();
/// assert_eq!(shell.args(), ["sh", "-c", "ls -la /root | head"]);
/// let test = Command::bash("set -euo pipefail; cargo test 2>&1 | tee test.log")
///     .cwd("/workspace/repo")
///     .env("RUST_LOG", "debug")
///     .env("API_TOKEN", "secret-value")
///     .timeout(Duration::from_secs(600));
/// // Environment values never appear in `Debug` output, tracing or error messages.
/// assert!(!format!("{test:?}").contains("secret-value"));
/// ```
///
/// `sh` in most Linux images is dash, which has no `set -o pipefail` or `[[ ]]`: use
/// [`Command::bash`] for bash syntax. Working directory and environment are applied by a small
/// POSIX `sh` wrapper around the argv (`cd -- DIR && export K=V … && exec "$@"`), built here with
/// every value quoted; the values travel in the request body and are visible to the VM's own
/// process list, like any process argument, but nowhere on the client.
#[derive(Clone, PartialEq, Eq)]
#[must_use]
pub struct Command {
    argv: Vec<String>,
    cwd: Option<String>,
    env: Vec<(String, String)>,
    timeout: Option<Duration>,
    stdin: Option<Vec<u8>>,
}

impl Command {
    /// A command from an argv (the first element is the program), passed as is.
    pub fn argv<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Command {
            argv: argv.into_iter().map(Into::into).collect(),
            cwd: None,
            env: Vec::new(),
            timeout: None,
            stdin: None,
        }
    }

    /// A POSIX shell command line, run as `["sh", "-c", line]`.
    pub fn sh(line: impl Into<String>) -> Self {
        Command::argv(["sh".to_string(), "-c".to_string(), line.into()])
    }

    /// A bash command line, run as `["bash", "-c", line]` (for `pipefail`, arrays, `[[ ]]`, …;
    /// the VM needs bash).
    pub fn bash(line: impl Into<String>) -> Self {
        Command::argv(["bash".to_string(), "-c".to_string(), line.into()])
    }

    /// Runs the command in `dir` (a path in the VM).
    pub fn cwd(mut self, dir: impl Into<String>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Sets the environment variable `key` (letters, digits and `_`, not starting with a digit)
    /// for the command. Its value never appears in `Debug` output, tracing or error messages.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        self.env.retain(|(k, _)| *k != key);
        self.env.push((key, value.into()));
        self
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

    /// The argv as given (without the working-directory and environment wrapper).
    pub fn args(&self) -> &[String] {
        &self.argv
    }

    /// The server-side timeout, if set.
    pub(crate) fn timeout_duration(&self) -> Option<Duration> {
        self.timeout
    }

    /// The command for messages: its argv, quoted, with the working directory and the names of
    /// its environment variables, never their values.
    pub(crate) fn describe(&self) -> String {
        let mut out = self
            .argv
            .iter()
            .map(|a| crate::exec::shell::quote_if_needed(a))
            .collect::<Vec<_>>()
            .join(" ");
        if let Some(dir) = &self.cwd {
            out.push_str(&format!(" (in {dir})"));
        }
        if !self.env.is_empty() {
            let keys: Vec<&str> = self.env.iter().map(|(k, _)| k.as_str()).collect();
            out.push_str(&format!(" (env {})", keys.join(", ")));
        }
        crate::redact::text(&out)
    }

    /// The argv sent: the command's own, or the `sh` wrapper that applies the working
    /// directory and environment first.
    fn wire_argv(&self) -> Vec<String> {
        if self.cwd.is_none() && self.env.is_empty() {
            return self.argv.clone();
        }
        let mut steps = Vec::new();
        if let Some(dir) = &self.cwd {
            steps.push(format!("cd -- {}", crate::exec::shell::quote(dir)));
        }
        if !self.env.is_empty() {
            let assignments: Vec<String> = self
                .env
                .iter()
                .map(|(k, v)| format!("{k}={}", crate::exec::shell::quote(v)))
                .collect();
            steps.push(format!("export {}", assignments.join(" ")));
        }
        steps.push("exec \"$@\"".to_string());
        // `sh -c SCRIPT NAME ARGS…`: NAME is `$0`, ARGS are `"$@"`, passed without re-quoting.
        let mut argv = vec!["sh".to_string(), "-c".to_string(), steps.join(" && "), "sh".to_string()];
        argv.extend(self.argv.iter().cloned());
        argv
    }

    /// Validates the command and builds the wire request.
    pub(crate) fn to_request(&self) -> Result<ExecVmRequest> {
        crate::validate::command(&self.argv)?;
        if let Some(dir) = &self.cwd
            && (dir.is_empty() || dir.contains('\0'))
        {
            return Err(crate::Error::invalid("cwd", "must be a non-empty path without NUL"));
        }
        for (key, value) in &self.env {
            let valid_key = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid_key {
                return Err(crate::Error::invalid(
                    "env",
                    format!("{key:?} is not a variable name (letters, digits and _, not starting with a digit)"),
                ));
            }
            if value.contains('\0') {
                return Err(crate::Error::invalid("env", format!("the value of {key} contains NUL")));
            }
        }
        let timeout_sec = self
            .timeout
            .map(|t| crate::validate::seconds("timeoutSec", t))
            .transpose()?;
        let mut request = ExecVmRequest::new(self.wire_argv());
        request.timeout_sec = timeout_sec;
        request.stdin = self
            .stdin
            .as_ref()
            .map(|b| base64::engine::general_purpose::STANDARD.encode(b));
        Ok(request)
    }
}

/// Names the environment variables but never shows their values, nor stdin's bytes.
impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let env: Vec<&str> = self.env.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("Command")
            .field("argv", &self.argv)
            .field("cwd", &self.cwd)
            .field("env", &env)
            .field("timeout", &self.timeout)
            .field("stdin", &self.stdin.as_ref().map(|b| format!("<{} bytes>", b.len())))
            .finish()
    }
}

impl From<&str> for Command {
    fn from(line: &str) -> Self {
        Command::sh(line)
    }
}

impl From<String> for Command {
    fn from(line: String) -> Self {
        Command::sh(line)
    }
}

impl From<&String> for Command {
    fn from(line: &String) -> Self {
        Command::sh(line.clone())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cwd_and_env_wrap_the_argv_in_one_quoted_sh_script() {
        let cmd = Command::argv(["printf", "%s|%s", "it's", "$HOME"])
            .cwd("/srv/my app")
            .env("A_B", "x'y z")
            .env("N", "1")
            .env("N", "2");
        let argv = cmd.to_request().unwrap().command;
        assert_eq!(
            argv,
            [
                "sh",
                "-c",
                "cd -- '/srv/my app' && export A_B='x'\\''y z' N='2' && exec \"$@\"",
                "sh",
                "printf",
                "%s|%s",
                "it's",
                "$HOME",
            ]
        );
        // Without cwd or env the argv is sent as is.
        assert_eq!(
            Command::bash("echo $0").to_request().unwrap().command,
            ["bash", "-c", "echo $0"]
        );
    }

    /// The wrapper really runs: the argv reaches the program unchanged, in the directory, with
    /// the environment (this host's `sh`, as a VM's would).
    #[cfg(unix)]
    #[test]
    fn the_wrapper_runs_under_sh() {
        let dir = std::env::temp_dir();
        let cmd = Command::argv(["sh", "-c", "printf '%s|%s|%s' \"$PWD\" \"$V\" \"$1\"", "x", "a b'c"])
            .cwd(dir.to_str().unwrap())
            .env("V", "v\"al' ue");
        let argv = cmd.to_request().unwrap().command;
        let out = std::process::Command::new(&argv[0]).args(&argv[1..]).output().unwrap();
        let expected = format!("{}|v\"al' ue|a b'c", dir.canonicalize().unwrap().display());
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    }

    #[test]
    fn bad_names_and_nul_are_refused() {
        for key in ["", "1A", "A-B", "A B"] {
            assert!(Command::sh("true").env(key, "v").to_request().is_err(), "{key:?}");
        }
        assert!(Command::sh("true").env("K", "a\0b").to_request().is_err());
        assert!(Command::sh("true").cwd("").to_request().is_err());
    }

    #[test]
    fn values_stay_out_of_debug_and_descriptions() {
        let cmd = Command::sh("deploy --verbose")
            .cwd("/srv")
            .env("TOKEN", "hunter2")
            .stdin(b"pw".to_vec());
        let debug = format!("{cmd:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("pw\"") && debug.contains("TOKEN"),
            "{debug}"
        );
        let described = cmd.describe();
        assert_eq!(described, "sh -c 'deploy --verbose' (in /srv) (env TOKEN)");
    }
}
