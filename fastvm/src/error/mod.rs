//! The one error type of the SDK.

use std::fmt;
use std::time::Duration;

use crate::types::{BuildStatus, VmStatus};

mod api;
mod transfer;

pub use api::{ApiError, ApiErrorKind};
pub(crate) use api::{ErrorBody, is_retryable_status};
pub use transfer::{FileTransferError, FileTransferErrorKind};

/// Everything a `fastvm` call can fail with.
///
/// Ask it what happened with the predicates ([`is_not_found`](Error::is_not_found),
/// [`is_retryable`](Error::is_retryable), [`is_timeout`](Error::is_timeout),
/// [`is_connect`](Error::is_connect)) and accessors ([`status`](Error::status),
/// [`api`](Error::api), [`file_transfer`](Error::file_transfer)), or match on the variant.
///
/// # Messages
/// A message (`Display`) is one line: control characters, line separators and bidirectional
/// overrides from whatever a server, a VM or an archive sent are escaped (`\n`, `\u{1b}`), so
/// no terminal escape reaches a screen. Messages and `Debug` output never contain the API key,
/// a presigned URL's signature or a command's environment values, and never the client's own
/// API key or a console token echoed by a server. A message is complete: it already says what
/// the error that caused it said, so [`source`](std::error::Error::source) returns `None` and
/// a printer that walks the chain (anyhow's `{:#}`, eyre) shows each text once. The
/// underlying error stays in the variant's `source` field.
///
/// ```
/// # async fn demo(client: fastvm::FastvmClient) {
/// match client.vms().retrieve("vm-id").await {
///     Ok(vm) => println!("{} is {}", vm.id, vm.status),
///     Err(e) if e.is_not_found() => println!("no such VM"),
///     Err(e) => eprintln!("fastvm: {e}"),
/// }
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The client could not be configured (missing API key, bad base URL, …).
    #[non_exhaustive]
    Config {
        /// What is wrong, naming the setting or environment variable.
        message: String,
    },

    /// An argument was rejected before any request was sent.
    #[non_exhaustive]
    InvalidInput {
        /// The argument or field at fault (wire name where there is one).
        field: String,
        /// Why it was rejected.
        message: String,
    },

    /// The API answered with a non-2xx status.
    #[non_exhaustive]
    Api {
        /// What the API said.
        error: Box<ApiError>,
    },

    /// The request could not be sent or the connection failed (DNS, connect, TLS, reset).
    #[non_exhaustive]
    Connection {
        /// A description of the failure, with URLs redacted.
        message: String,
        /// True when the failure happened before the request could reach the server.
        connect: bool,
        /// The operation (the spec's operationId), when known.
        operation: Option<&'static str>,
        /// The underlying error, for inspection (its text is already in `message`, so
        /// `source()` does not return it).
        source: Option<reqwest::Error>,
    },

    /// The request, or a client-side deadline, timed out.
    #[non_exhaustive]
    Timeout {
        /// What timed out.
        message: String,
        /// The operation (the spec's operationId), when known.
        operation: Option<&'static str>,
        /// The underlying error (none for a deadline of the SDK's own, such as
        /// [`ExecStream::deadline`](crate::exec::ExecStream::deadline)), for
        /// inspection: its text is already in `message`.
        source: Option<reqwest::Error>,
    },

    /// A 2xx answer could not be decoded: its body does not fit the operation's type (a missing
    /// id or status, a value of the wrong JSON type), or it has no body where one is needed.
    #[non_exhaustive]
    Decode {
        /// The operation (the spec's operationId), when known.
        operation: Option<&'static str>,
        /// The answer's HTTP status, when known.
        status: Option<reqwest::StatusCode>,
        /// The decoder's message.
        message: String,
        /// The start of the body (bounded, URLs redacted).
        snippet: String,
        /// The decoder's error, as its message with the values it quotes redacted (the same
        /// text as `message`).
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// The VM reached a terminal failure status while the SDK waited for it to run.
    #[non_exhaustive]
    VmLaunch {
        /// The VM's id.
        vm_id: String,
        /// The terminal status (`error`, `stopped` or `deleting`).
        status: VmStatus,
    },

    /// The VM was not running when the wait deadline passed.
    #[non_exhaustive]
    VmNotReady {
        /// The VM's id.
        vm_id: String,
        /// The last status seen.
        last_status: VmStatus,
        /// How long the SDK waited.
        waited: Duration,
    },

    /// A build ended in `failed`.
    #[non_exhaustive]
    BuildFailed {
        /// The build's id.
        build_id: String,
        /// The worker's diagnostic (may be empty).
        message: String,
    },

    /// A build did not finish before the wait deadline.
    #[non_exhaustive]
    BuildNotFinished {
        /// The build's id.
        build_id: String,
        /// The last status seen.
        last_status: BuildStatus,
        /// How long the SDK waited.
        waited: Duration,
    },

    /// A snapshot import ended in `failed` while the SDK waited for it.
    #[non_exhaustive]
    SnapshotImportFailed {
        /// The import's id.
        import_id: String,
        /// The server's diagnostic (may be empty).
        message: String,
    },

    /// A snapshot import was cancelled (by someone else, or by the server) while the SDK waited
    /// for it.
    #[non_exhaustive]
    SnapshotImportCancelled {
        /// The import's id.
        import_id: String,
    },

    /// A snapshot import had not finished when the wait deadline passed.
    #[non_exhaustive]
    SnapshotImportNotFinished {
        /// The import's id.
        import_id: String,
        /// The last status seen.
        last_status: crate::types::SnapshotImportStatus,
        /// How long the SDK waited.
        waited: Duration,
    },

    /// A snapshot ended in `error` while the SDK waited for it to be ready.
    #[non_exhaustive]
    SnapshotFailed {
        /// The snapshot's id.
        snapshot_id: String,
        /// The snapshot's name.
        name: String,
    },

    /// A snapshot was not ready when the wait deadline passed.
    #[non_exhaustive]
    SnapshotNotReady {
        /// The snapshot's id.
        snapshot_id: String,
        /// The last status seen.
        last_status: crate::types::SnapshotStatus,
        /// How long the SDK waited.
        waited: Duration,
    },

    /// A step of an [image build](crate::workflows::BuildImage) failed: its command failed
    /// ([`Error::CommandFailed`], with the ends of its output) or could not be run. The builder
    /// VM was deleted and no snapshot was made.
    #[non_exhaustive]
    ImageStepFailed {
        /// The image's (sanitised) name.
        image: String,
        /// Which step failed, counted from 1 (the first `.step(..)` is step 1).
        step: usize,
        /// How many steps the image has.
        steps: usize,
        /// The outputs of the steps that succeeded before it, in order (what a build log shows).
        completed: Vec<crate::exec::RunOutput>,
        /// Why: usually [`Error::CommandFailed`] (its message ends this one's).
        source: Box<Error>,
    },

    /// A command exited non-zero or was killed by its timeout, and the caller asked for that to
    /// be an error ([`RunOutput::check`](crate::exec::RunOutput::check),
    /// [`ExecOutput::check`](crate::exec::ExecOutput::check)).
    #[non_exhaustive]
    CommandFailed {
        /// The command as messages show it: quoted argv, working directory and the names of its
        /// environment variables (never their values).
        command: String,
        /// The exit code (what the server reported; meaningless when `timed_out`).
        exit_code: i64,
        /// Whether the server-side timeout killed the command.
        timed_out: bool,
        /// The end of stdout (at most 4 KiB, URLs redacted).
        stdout_tail: String,
        /// The end of stderr (at most 4 KiB, URLs redacted).
        stderr_tail: String,
    },

    /// A readiness wait ([`Vm::wait_for_port`](crate::vm::Vm::wait_for_port),
    /// [`Vm::wait_until`](crate::vm::Vm::wait_until)) passed its deadline without the probe
    /// succeeding.
    #[non_exhaustive]
    NotReady {
        /// The VM's id.
        vm_id: String,
        /// What was waited for (`TCP port 8080 listening`, `` `test -f /tmp/ready` exiting 0 ``).
        what: String,
        /// How long the SDK waited.
        waited: Duration,
        /// The last probe's outcome: its exit status and the end of its output (at most 2 KiB,
        /// URLs redacted), or why the probe request failed.
        last_output: String,
    },

    /// An exec stream ended without its terminal exit event.
    #[non_exhaustive]
    StreamClosed {
        /// How many events had been received.
        events: u64,
    },

    /// An exec stream line could not be decoded.
    #[non_exhaustive]
    StreamDecode {
        /// 1-based line number in the stream.
        line: u64,
        /// What is wrong with it.
        message: String,
        /// The start of the line (bounded).
        snippet: String,
    },

    /// Local I/O failed outside a transfer (for example writing a streamed command's output
    /// with [`ExecStream::tee`](crate::exec::ExecStream::tee)).
    #[non_exhaustive]
    Io {
        /// What was being done, and the I/O error's text.
        message: String,
        /// The I/O error, for inspection (its text is already in `message`).
        source: std::io::Error,
    },

    /// An interactive console session ([`crate::console`]) could not be opened or failed: the
    /// WebSocket connection or its upgrade was refused (an invalid, used or expired session
    /// token is a 401 or 403 `status`), or the connection broke. The message never contains the
    /// session token.
    #[non_exhaustive]
    Console {
        /// What went wrong (URLs without their query, so without the token).
        message: String,
        /// The HTTP status of a refused upgrade.
        status: Option<reqwest::StatusCode>,
        /// The underlying error, when there is one, for inspection (its text is already in
        /// `message`).
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// A file or directory transfer failed.
    #[non_exhaustive]
    FileTransfer {
        /// What went wrong.
        error: Box<FileTransferError>,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write as _;
        // Whatever the fields hold (a server's text, a command's output), the message is one
        // line with no terminal escape.
        let mut out = crate::redact::OneLine(f);
        match self {
            Error::Config { message } => write!(out, "configuration error: {message}"),
            Error::InvalidInput { field, message } => write!(out, "invalid input: {field}: {message}"),
            Error::Api { error } => write!(out, "{error}"),
            Error::Connection { message, operation, .. } => {
                write!(out, "{}connection error: {message}", on(*operation))
            }
            Error::Timeout { message, operation, .. } => write!(out, "{}timed out: {message}", on(*operation)),
            Error::Decode {
                operation,
                status,
                message,
                snippet,
                ..
            } => {
                write!(
                    out,
                    "{}cannot decode the answer{}: {message}",
                    on(*operation),
                    with_status(*status)
                )?;
                // No body read (none sent, or one refused for its size): nothing to quote.
                if !snippet.is_empty() {
                    write!(out, " (body starts: {snippet:?})")?;
                }
                Ok(())
            }
            Error::VmLaunch { vm_id, status } => write!(out, "VM {vm_id} failed to launch: status {status}"),
            Error::VmNotReady {
                vm_id,
                last_status,
                waited,
            } => write!(out, "VM {vm_id} not ready after {waited:?} (last status {last_status})"),
            // The server's diagnostic may quote the build context's presigned URL.
            Error::BuildFailed { build_id, message } => {
                write!(out, "build {build_id} failed: {}", crate::redact::text(message))
            }
            Error::BuildNotFinished {
                build_id,
                last_status,
                waited,
            } => write!(
                out,
                "build {build_id} not finished after {waited:?} (last status {last_status})"
            ),
            // The diagnostic is the server's: it might quote a context's presigned URL.
            Error::SnapshotImportFailed { import_id, message } => {
                write!(
                    out,
                    "snapshot import {import_id} failed: {}",
                    crate::redact::text(message)
                )
            }
            Error::SnapshotImportCancelled { import_id } => write!(out, "snapshot import {import_id} was cancelled"),
            Error::SnapshotImportNotFinished {
                import_id,
                last_status,
                waited,
            } => write!(
                out,
                "snapshot import {import_id} not finished after {waited:?} (last status {last_status})"
            ),
            Error::SnapshotFailed { snapshot_id, name } => {
                write!(out, "snapshot {snapshot_id} ({name:?}) failed: its status is error")
            }
            Error::SnapshotNotReady {
                snapshot_id,
                last_status,
                waited,
            } => write!(
                out,
                "snapshot {snapshot_id} not ready after {waited:?} (last status {last_status})"
            ),
            Error::ImageStepFailed {
                image,
                step,
                steps,
                source,
                ..
            } => write!(out, "image {image:?}: step {step} of {steps} failed: {source}"),
            Error::CommandFailed {
                command,
                exit_code,
                timed_out,
                stdout_tail,
                stderr_tail,
            } => out.write_str(&command_failed(
                command,
                *exit_code,
                *timed_out,
                stderr_tail,
                stdout_tail,
            )),
            Error::NotReady {
                vm_id,
                what,
                waited,
                last_output,
            } => out.write_str(&not_ready_message(vm_id, what, *waited, last_output)),
            Error::StreamClosed { events } => {
                write!(out, "exec stream closed before the exit event (after {events} events)")
            }
            Error::StreamDecode { line, message, snippet } => {
                write!(out, "exec stream line {line}: {message} (line starts: {snippet:?})")
            }
            Error::Io { message, .. } => out.write_str(message),
            Error::Console { message, .. } => write!(out, "console: {message}"),
            Error::FileTransfer { error } => write!(out, "{error}"),
        }
    }
}

/// No source: every message already includes the text of the error that caused it (see
/// [`Error`]'s "Messages"), and a chain printer would show it twice.
impl std::error::Error for Error {}

/// `command `make test` exited with exit code 2: make: *** [test] Error 2`: the last line of
/// stderr (else stdout) says why.
fn command_failed(command: &str, exit_code: i64, timed_out: bool, stderr: &str, stdout: &str) -> String {
    let how = if timed_out {
        "timed out".to_string()
    } else {
        format!("exited with exit code {exit_code}")
    };
    let last = [stderr, stdout]
        .iter()
        .find_map(|s| s.lines().rev().find(|l| !l.trim().is_empty()))
        .map(|l| format!(": {}", l.trim()))
        .unwrap_or_default();
    format!("command `{command}` {how}{last}")
}

/// `"getVm: "` for a known operation, nothing otherwise.
fn on(operation: Option<&'static str>) -> String {
    operation.map(|op| format!("{op}: ")).unwrap_or_default()
}

/// `" (status 204)"` for a known status, nothing otherwise.
fn with_status(status: Option<reqwest::StatusCode>) -> String {
    status.map(|s| format!(" (status {})", s.as_u16())).unwrap_or_default()
}

/// `VM vm-1 not ready after 2s: waited for …; last probe: …` (the probe's output on one line).
pub(crate) fn not_ready_message(vm_id: &str, what: &str, waited: Duration, last_output: &str) -> String {
    let last = last_output.trim().replace('\n', " | ");
    format!("VM {vm_id} not ready after {waited:?}: waited for {what}; last probe: {last}")
}

impl Error {
    /// The HTTP status of an API error (a non-2xx answer of the fastvm API). A transfer's
    /// storage status is on the transfer error ([`FileTransferError::status`](crate::transfer::FileTransferError::status)).
    pub fn status(&self) -> Option<reqwest::StatusCode> {
        self.api().map(|e| e.status)
    }

    /// The API error, if this is one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The transfer error, if this is one.
    pub fn file_transfer(&self) -> Option<&FileTransferError> {
        match self {
            Error::FileTransfer { error, .. } => Some(error),
            _ => None,
        }
    }

    /// True for a 404 from the API, and for a transfer whose source path does not exist.
    pub fn is_not_found(&self) -> bool {
        match self {
            Error::Api { error, .. } => error.kind == ApiErrorKind::NotFound,
            Error::FileTransfer { error, .. } => error.kind == FileTransferErrorKind::NotFound,
            _ => false,
        }
    }

    /// True when a request or a client-side deadline timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// True when the connection could not be made: the request never reached the server.
    pub fn is_connect(&self) -> bool {
        matches!(self, Error::Connection { connect: true, .. })
    }

    /// True when repeating the same call later may succeed and is safe: a failed connect; a
    /// broken connection or a timeout of an operation that is safe to repeat (not of exec,
    /// launch, snapshot create, …, which may have taken effect); and 408, 429, 500, 502, 503 and
    /// 504 answers. Not a 409 conflict, nor a 429 [`ApiErrorKind::QuotaExceeded`], which lasts
    /// until something is freed.
    pub fn is_retryable(&self) -> bool {
        let safe = |operation: &Option<&'static str>| operation.is_none_or(crate::transport::ops::is_idempotent);
        match self {
            Error::Connection { connect: true, .. } => true,
            Error::Connection { operation, .. } | Error::Timeout { operation, .. } => safe(operation),
            _ => self.is_transient(),
        }
    }

    /// True when the failure says nothing about what was asked, and a later try may succeed:
    /// a broken or refused connection, a timeout, a retryable status other than an exceeded
    /// quota. [`is_retryable`](Self::is_retryable) is this, for calls that are safe to repeat;
    /// a readiness probe, harmless to repeat, asks this.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            Error::Connection { .. } | Error::Timeout { .. } => true,
            Error::Api { error, .. } => error.kind != ApiErrorKind::QuotaExceeded && is_retryable_status(error.status),
            _ => false,
        }
    }

    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A body of `operation` that did not decode: the decoder's message, a redacted snippet
    /// (cleared of `secrets`, the client's own) and the decoder's error.
    pub(crate) fn decode(operation: &'static str, error: serde_json::Error, body: &[u8], secrets: &[&str]) -> Self {
        let message = crate::redact::quoted_values(&error.to_string());
        Error::Decode {
            operation: Some(operation),
            status: None,
            message: message.clone(),
            snippet: crate::redact::known(&crate::redact::json(&crate::redact::snippet(body, 512)), secrets),
            source: Some(Box::new(DecodeCause(message))),
        }
    }

    /// A 2xx answer of `operation` with no body, where the result needs one.
    pub(crate) fn empty_body(operation: &'static str, status: reqwest::StatusCode) -> Self {
        Error::Decode {
            operation: Some(operation),
            status: Some(status),
            message: "the answer has no body".into(),
            snippet: String::new(),
            source: None,
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::Config {
            message: message.into(),
        }
    }

    /// Maps a transport-level `reqwest` error of `operation`; URLs in its message are redacted.
    pub(crate) fn from_reqwest(e: reqwest::Error, operation: Option<&'static str>) -> Self {
        let message = describe_reqwest(&e);
        if e.is_timeout() {
            Error::Timeout {
                message,
                operation,
                source: Some(e.without_url()),
            }
        } else if e.is_decode() {
            let message = crate::redact::quoted_values(&message);
            Error::Decode {
                operation,
                status: e.status(),
                message: message.clone(),
                snippet: String::new(),
                source: Some(Box::new(DecodeCause(message))),
            }
        } else {
            Error::Connection {
                message,
                connect: e.is_connect(),
                operation,
                source: Some(e.without_url()),
            }
        }
    }
}

/// The source of an [`Error::Decode`]: the decoder's error as its message with the values it
/// quotes redacted, and nothing below it. The decoder's own error (and any error chain printer
/// that walks to it) would show the value it could not decode, which may be a secret member's.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct DecodeCause(String);

/// A `reqwest::Error` rendered with its whole source chain, without its URL (which may carry a
/// presigned signature) and with any other URL in the chain redacted. Each text appears once:
/// reqwest wraps a body error in another (`request or response body error: request or response
/// body error: operation timed out`), and some errors already end with their source's text.
pub(crate) fn describe_reqwest(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut msg = e.to_string();
    // reqwest appends " for url (..)" to its messages.
    if let Some(i) = msg.find(" for url (") {
        msg.truncate(i);
    }
    let mut source = e.source();
    while let Some(s) = source {
        let mut text = s.to_string();
        if let Some(i) = text.find(" for url (") {
            text.truncate(i);
        }
        if !text.is_empty() && !msg.ends_with(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = s.source();
    }
    crate::redact::text(&msg)
}

impl From<FileTransferError> for Error {
    fn from(e: FileTransferError) -> Self {
        Error::FileTransfer { error: Box::new(e) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, quota: bool) -> Error {
        let status = reqwest::StatusCode::from_u16(status).unwrap();
        Error::Api {
            error: Box::new(ApiError {
                status,
                kind: ApiErrorKind::from_status(status, quota),
                message: "m".into(),
                body: String::new(),
                request_id: None,
                dimension: quota.then(|| "vcpu".to_string()),
                operation: None,
            }),
        }
    }

    #[test]
    fn a_rate_limit_is_retryable_an_exceeded_quota_is_not() {
        assert!(api(429, false).is_retryable());
        assert!(api(503, false).is_retryable());
        assert!(!api(429, true).is_retryable());
        assert!(!api(409, false).is_retryable());
        assert!(!api(409, true).is_retryable());
    }

    #[test]
    fn status_kinds() {
        let kind = |s: u16, q| ApiErrorKind::from_status(reqwest::StatusCode::from_u16(s).unwrap(), q);
        assert_eq!(kind(404, false), ApiErrorKind::NotFound);
        assert_eq!(kind(429, true), ApiErrorKind::QuotaExceeded);
        assert_eq!(kind(409, true), ApiErrorKind::QuotaExceeded);
        assert_eq!(kind(429, false), ApiErrorKind::RateLimit);
        assert_eq!(kind(502, false), ApiErrorKind::Server);
        assert_eq!(kind(418, false), ApiErrorKind::Other);
    }

    #[test]
    fn error_bodies_are_read_without_failing() {
        let quota = ErrorBody::parse(br#"{"error":"over","dimension":"vcpu"}"#);
        assert_eq!(
            (quota.message.as_deref(), quota.dimension.as_deref(), quota.quota),
            (Some("over"), Some("vcpu"), true)
        );
        let cap = ErrorBody::parse(br#"{"error":"vm_service_quota_exceeded","count":16}"#);
        assert!(cap.quota && cap.dimension.is_none());
        assert_eq!(ErrorBody::parse(br#"{"message":"m"}"#).message.as_deref(), Some("m"));
        assert_eq!(ErrorBody::parse(b"<html>"), ErrorBody::default());
        assert_eq!(ErrorBody::parse(b"[1]"), ErrorBody::default());
        assert!(!ErrorBody::parse(br#"{"error":"slow down"}"#).quota);
    }

    /// Timeouts and broken connections are retryable only for operations safe to repeat: an
    /// exec stream that passed its deadline may have run.
    #[test]
    fn a_timeout_of_an_operation_not_safe_to_repeat_is_not_retryable() {
        let timeout = |operation| Error::Timeout {
            message: "deadline".into(),
            operation,
            source: None,
        };
        assert!(!timeout(Some("execVm")).is_retryable());
        assert!(timeout(Some("getVm")).is_retryable());
        assert!(timeout(None).is_retryable());
        assert!(timeout(Some("execVm")).is_timeout());
        let conn = |connect, operation| Error::Connection {
            message: "reset".into(),
            connect,
            operation,
            source: None,
        };
        assert!(conn(true, Some("execVm")).is_retryable() && conn(true, Some("execVm")).is_connect());
        assert!(!conn(false, Some("launchVm")).is_retryable() && !conn(false, None).is_connect());
        assert!(conn(false, Some("getVm")).is_retryable());
    }
}
