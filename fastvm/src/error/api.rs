//! [`ApiError`]: a non-2xx answer of the fastvm API, classified.

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
    /// A quota would be exceeded: a 429 `QuotaExceeded` body naming an org quota's
    /// [`dimension`](ApiError::dimension), or the per-VM service cap
    /// (`vm_service_quota_exceeded`). Not retried: it lasts until something is freed.
    QuotaExceeded,
    /// 429 otherwise.
    RateLimit,
    /// 5xx.
    Server,
    /// Any other status.
    Other,
}

impl ApiErrorKind {
    /// The kind of an answer with `status`; `quota` tells an exceeded quota (see
    /// [`ErrorBody::quota`]) from a plain rate limit or conflict.
    pub(crate) fn from_status(status: reqwest::StatusCode, quota: bool) -> Self {
        match status.as_u16() {
            400..=599 if quota => ApiErrorKind::QuotaExceeded,
            400 => ApiErrorKind::BadRequest,
            401 => ApiErrorKind::Authentication,
            403 => ApiErrorKind::PermissionDenied,
            404 => ApiErrorKind::NotFound,
            409 => ApiErrorKind::Conflict,
            422 => ApiErrorKind::Unprocessable,
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
    /// The start of the raw body: at most 2048 bytes (cut at a character boundary, then `…`).
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
    pub(crate) const BODY_SNIPPET: usize = 2048;
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write as _;
        // The server's message and dimension on one line, whatever it sent.
        let f = &mut crate::redact::OneLine(f);
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

/// What the SDK reads from an error body (JSON or not; never a decode failure).
#[derive(Debug, Default, PartialEq)]
pub(crate) struct ErrorBody {
    /// The server's `error` (or `message`) text.
    pub(crate) message: Option<String>,
    /// The `dimension` of a `QuotaExceeded` body.
    pub(crate) dimension: Option<String>,
    /// The body tells of an exceeded quota: a `QuotaExceeded` (it names a `dimension`) or a
    /// `QuotaExceededError` (`"error": "vm_service_quota_exceeded"`).
    pub(crate) quota: bool,
}

impl ErrorBody {
    /// The per-VM service cap's error code.
    const SERVICE_QUOTA: &'static str = "vm_service_quota_exceeded";

    pub(crate) fn parse(body: &[u8]) -> Self {
        let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(body) else {
            return ErrorBody::default();
        };
        let text = |name: &str| map.get(name).and_then(|v| v.as_str()).map(str::to_string);
        let message = text("error").or_else(|| text("message"));
        let dimension = text("dimension");
        let quota = dimension.is_some() || message.as_deref() == Some(Self::SERVICE_QUOTA);
        ErrorBody {
            message,
            dimension,
            quota,
        }
    }
}

/// Statuses worth retrying: 408, 429, 500, 502, 503, 504. 409 is a permanent conflict here.
pub(crate) fn is_retryable_status(status: reqwest::StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}
