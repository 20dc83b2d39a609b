//! The one error type of the SDK.

use std::time::Duration;

/// Everything a `fastvm` call can fail with.
///
/// Match on the variant for control flow, or use the helpers [`Error::status`],
/// [`Error::is_retryable`] and [`Error::is_not_found`]. Messages are one line and never contain
/// the API key or a presigned URL's signature.
///
/// ```
/// # async fn demo(client: fastvm::FastvmClient) {
/// match client.vms().retrieve("vm-id").await {
///     Ok(vm) => println!("{} is {}", vm.id, vm.status.0),
///     Err(e) if e.is_not_found() => println!("no such VM"),
///     Err(e) => eprintln!("fastvm: {e}"),
/// }
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client could not be configured (missing API key, bad base URL, …).
    #[error("configuration error: {message}")]
    Config {
        /// What is wrong, naming the setting or environment variable.
        message: String,
    },

    /// An argument was rejected before any request was sent.
    #[error("invalid input: {field}: {message}")]
    InvalidInput {
        /// The argument or field at fault (wire name where there is one).
        field: String,
        /// Why it was rejected.
        message: String,
    },

    /// The API answered with a non-2xx status.
    #[error(transparent)]
    Api(Box<ApiError>),

    /// The request could not be sent or the connection failed (DNS, connect, TLS, reset).
    #[error("connection error: {message}")]
    Connection {
        /// A description of the failure, with URLs redacted.
        message: String,
        /// True when the failure happened before the request could reach the server.
        connect: bool,
        /// The underlying error.
        #[source]
        source: Option<reqwest::Error>,
    },

    /// The request or a client-side deadline timed out.
    #[error("timed out: {message}")]
    Timeout {
        /// What timed out.
        message: String,
    },

    /// A 2xx response body could not be decoded.
    #[error("cannot decode the response: {message} (body starts: {snippet:?})")]
    Decode {
        /// The decoder's message.
        message: String,
        /// The start of the body (bounded).
        snippet: String,
    },

    /// The VM reached a terminal failure status while the SDK waited for it to run.
    #[error("VM {vm_id} failed to launch: status {status}")]
    VmLaunch {
        /// The VM's id.
        vm_id: String,
        /// The terminal status (`error`, `stopped` or `deleting`).
        status: String,
    },

    /// The VM was not running when the wait deadline passed.
    #[error("VM {vm_id} not ready after {waited:?} (last status {last_status})")]
    VmNotReady {
        /// The VM's id.
        vm_id: String,
        /// The last status seen.
        last_status: String,
        /// How long the SDK waited.
        waited: Duration,
    },

    /// A build ended in `failed`.
    #[error("build {build_id} failed: {message}")]
    BuildFailed {
        /// The build's id.
        build_id: String,
        /// The worker's diagnostic (may be empty).
        message: String,
    },

    /// A build did not finish before the wait deadline.
    #[error("build {build_id} not finished after {waited:?} (last status {last_status})")]
    BuildNotFinished {
        /// The build's id.
        build_id: String,
        /// The last status seen.
        last_status: String,
        /// How long the SDK waited.
        waited: Duration,
    },

    /// An exec stream ended without its terminal exit event.
    #[error("exec stream closed before the exit event (after {events} events)")]
    StreamClosed {
        /// How many events had been received.
        events: u64,
    },

    /// An exec stream line could not be decoded.
    #[error("exec stream line {line}: {message} (line starts: {snippet:?})")]
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
    #[error("{message}")]
    Io {
        /// What was being done.
        message: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A file or directory transfer failed.
    #[error(transparent)]
    FileTransfer(Box<crate::transfer::FileTransferError>),
}

/// How an [`ApiError`] is classified, from its status code and body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ApiErrorKind {
    /// 400.
    BadRequest,
    /// 401: the API key is missing or invalid.
    Authentication,
    /// 403.
    PermissionDenied,
    /// 404.
    NotFound,
    /// 409: a permanent conflict (not retried).
    Conflict,
    /// 422.
    Unprocessable,
    /// 429 with a `QuotaExceeded` body: an org quota would be exceeded (see [`ApiError::dimension`]).
    QuotaExceeded,
    /// 429 otherwise.
    RateLimit,
    /// 5xx.
    Server,
    /// Any other status.
    Other,
}

impl ApiErrorKind {
    /// The kind of an answer with `status`; `quota` tells a 429 with a `QuotaExceeded` body
    /// (one naming a `dimension`) from a plain rate limit.
    pub(crate) fn from_status(status: reqwest::StatusCode, quota: bool) -> Self {
        match status.as_u16() {
            400 => ApiErrorKind::BadRequest,
            401 => ApiErrorKind::Authentication,
            403 => ApiErrorKind::PermissionDenied,
            404 => ApiErrorKind::NotFound,
            409 => ApiErrorKind::Conflict,
            422 => ApiErrorKind::Unprocessable,
            429 if quota => ApiErrorKind::QuotaExceeded,
            429 => ApiErrorKind::RateLimit,
            500..=599 => ApiErrorKind::Server,
            _ => ApiErrorKind::Other,
        }
    }
}

/// A non-2xx answer of the API.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status.
    pub status: reqwest::StatusCode,
    /// Its classification.
    pub kind: ApiErrorKind,
    /// The server's `error` message, or a description of the body when it had none.
    pub message: String,
    /// The start of the raw body (at most [`ApiError::BODY_SNIPPET`] bytes).
    pub body: String,
    /// The `x-request-id` (or `request-id`) response header, if any.
    pub request_id: Option<String>,
    /// The quota dimension of a `QuotaExceeded` body (`vcpu`, `memory_mib`, `disk_gib`, `snapshot_count`).
    pub dimension: Option<String>,
    /// The operation that failed (the spec's operationId), when known.
    pub operation: Option<&'static str>,
}

impl ApiError {
    /// How many bytes of the body an error keeps.
    pub const BODY_SNIPPET: usize = 2048;
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(op) = self.operation {
            write!(f, "{op}: ")?;
        }
        write!(f, "{} {}", self.status.as_u16(), self.message)?;
        if let Some(d) = &self.dimension {
            write!(f, " (quota dimension {d})")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " [request id {id}]")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

impl Error {
    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<reqwest::StatusCode> {
        match self {
            Error::Api(e) => Some(e.status),
            Error::FileTransfer(e) => e.status(),
            _ => None,
        }
    }

    /// The API error, if this is one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }

    /// True for a 404 from the API, and for a transfer whose remote path does not exist.
    pub fn is_not_found(&self) -> bool {
        match self {
            Error::Api(e) => e.kind == ApiErrorKind::NotFound,
            Error::FileTransfer(e) => e.kind == crate::transfer::FileTransferErrorKind::NotFound,
            _ => false,
        }
    }

    /// True when repeating the same call later may succeed: connection failures, timeouts,
    /// and 408, 429, 500, 502, 503 and 504 answers. 409 is a permanent conflict here, and a
    /// 429 [`ApiErrorKind::QuotaExceeded`] lasts until something is freed, not for a while.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Connection { .. } | Error::Timeout { .. } => true,
            Error::Api(e) => e.kind != ApiErrorKind::QuotaExceeded && crate::retry::is_retryable_status(e.status),
            _ => false,
        }
    }

    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A body of `operation` that did not decode: the decoder's message and a redacted snippet.
    pub(crate) fn decode(operation: &str, error: impl std::fmt::Display, body: &[u8]) -> Self {
        Error::Decode {
            message: format!("{operation}: {error}"),
            snippet: crate::redact::text(&snippet(body, 512)),
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::Config {
            message: message.into(),
        }
    }

    /// Maps a transport-level `reqwest` error; URLs in its message are redacted.
    pub(crate) fn from_reqwest(e: reqwest::Error) -> Self {
        let message = describe_reqwest(&e);
        if e.is_timeout() {
            Error::Timeout { message }
        } else if e.is_decode() {
            Error::Decode {
                message,
                snippet: String::new(),
            }
        } else {
            let connect = e.is_connect();
            Error::Connection {
                message,
                connect,
                source: Some(e.without_url()),
            }
        }
    }
}

/// A `reqwest::Error` rendered with its whole source chain, without its URL (which may carry a
/// presigned signature) and with any other URL in the chain redacted.
pub(crate) fn describe_reqwest(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut msg = e.to_string();
    // reqwest appends " for url (..)" to its messages.
    if let Some(i) = msg.find(" for url (") {
        msg.truncate(i);
    }
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    crate::redact::text(&msg)
}

/// Cuts `bytes` to at most `max` bytes of lossy UTF-8, for snippets kept in errors.
pub(crate) fn snippet(bytes: &[u8], max: usize) -> String {
    let cut = &bytes[..bytes.len().min(max)];
    let mut s = String::from_utf8_lossy(cut).into_owned();
    if bytes.len() > max {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, dimension: Option<&str>) -> Error {
        let status = reqwest::StatusCode::from_u16(status).unwrap();
        Error::Api(Box::new(ApiError {
            status,
            kind: ApiErrorKind::from_status(status, dimension.is_some()),
            message: "m".into(),
            body: String::new(),
            request_id: None,
            dimension: dimension.map(str::to_string),
            operation: None,
        }))
    }

    #[test]
    fn a_rate_limit_is_retryable_an_exceeded_quota_is_not() {
        assert!(api(429, None).is_retryable());
        assert!(api(503, None).is_retryable());
        assert!(!api(429, Some("vcpu")).is_retryable());
        assert!(!api(409, None).is_retryable());
    }

    #[test]
    fn status_kinds() {
        let kind = |s: u16, q| ApiErrorKind::from_status(reqwest::StatusCode::from_u16(s).unwrap(), q);
        assert_eq!(kind(404, false), ApiErrorKind::NotFound);
        assert_eq!(kind(429, true), ApiErrorKind::QuotaExceeded);
        assert_eq!(kind(429, false), ApiErrorKind::RateLimit);
        assert_eq!(kind(502, false), ApiErrorKind::Server);
        assert_eq!(kind(418, false), ApiErrorKind::Other);
    }
}
