//! Reading answers: an error answer's bounded body, its request id, and the [`Error::Api`] it
//! becomes.

use reqwest::header::HeaderMap;

use crate::Error;
use crate::error::{ApiError, ApiErrorKind, ErrorBody};
use crate::redact::snippet;

/// Reads (a bounded part of) an error answer's body and rebuilds the answer around it, with the
/// same status and headers.
pub(crate) async fn read_back(resp: reqwest::Response) -> (reqwest::Response, bytes::Bytes) {
    let status = resp.status();
    let version = resp.version();
    let headers = resp.headers().clone();
    let body = bytes::Bytes::from(read_bounded(resp, ApiError::BODY_SNIPPET).await);
    let mut rebuilt = http::Response::new(reqwest::Body::from(body.clone()));
    *rebuilt.status_mut() = status;
    *rebuilt.version_mut() = version;
    *rebuilt.headers_mut() = headers;
    (reqwest::Response::from(rebuilt), body)
}

/// The `x-request-id` (or an equivalent header) of an answer, at most 128 characters.
pub(crate) fn request_id(headers: &HeaderMap) -> Option<String> {
    ["x-request-id", "request-id", "x-amzn-requestid"]
        .iter()
        .find_map(|h| headers.get(*h))
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(128).collect())
}

/// Turns a non-2xx response into [`Error::Api`], reading (a bounded part of) its body. The
/// server's text is cleared of URLs' queries, secret parameters and `secrets` (the client's
/// own, see `http::own_secrets`), and its message is kept on one line.
pub(crate) async fn api_error(resp: reqwest::Response, operation: Option<&'static str>, secrets: &[&str]) -> Error {
    let status = resp.status();
    let request_id = request_id(resp.headers());
    let body = read_bounded(resp, ApiError::BODY_SNIPPET).await;
    let parsed = ErrorBody::parse(&body);
    let message = match parsed.message {
        Some(m) => crate::redact::remote(&m, secrets),
        None if body.is_empty() => status.canonical_reason().unwrap_or("error").to_string(),
        None => crate::redact::known(&crate::redact::json(&snippet(&body, 200)), secrets),
    };
    let message = crate::redact::one_line(&message).into_owned();
    let dimension = parsed
        .dimension
        .map(|d| crate::redact::one_line(&crate::redact::remote(&d, secrets)).into_owned());
    Error::Api {
        error: Box::new(ApiError {
            status,
            kind: ApiErrorKind::from_status(status, parsed.quota),
            message,
            body: crate::redact::known(&crate::redact::json(&snippet(&body, ApiError::BODY_SNIPPET)), secrets),
            request_id,
            dimension,
            operation,
        }),
    }
}

/// Reads at most `max` bytes of a body (an error body can be arbitrarily large).
pub(crate) async fn read_bounded(mut resp: reqwest::Response, max: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = max + 1 - out.len().min(max + 1);
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() > max {
            break;
        }
    }
    out
}
