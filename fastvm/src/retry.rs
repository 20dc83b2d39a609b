//! The retry policy: which failures are retried, how long to wait, and which operations are safe
//! to repeat. Applied by the API transport (every generated call) and by the storage client.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

/// Default number of retries after the first attempt.
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// First backoff delay.
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(500);
/// Largest backoff delay.
pub const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// A server-requested delay longer than this is not waited for: the error is returned instead.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Operations that are not idempotent: repeating them could launch a second VM, run a command
/// twice, and so on. They are retried only when the request provably never reached the server
/// (a connect error), or when the caller opts in with [`RequestOptions::retry_non_idempotent`](crate::RequestOptions::retry_non_idempotent).
pub const NON_IDEMPOTENT: &[&str] = &[
    "launchVm",
    "execVm",
    "presignFile",
    "fetchFileToVm",
    "registerService",
    "addSshKey",
    "createSnapshot",
    "createBuild",
    "presignBuildContext",
];

/// Whether `operation_id` (the spec's operationId, e.g. `launchVm`) is safe to repeat.
pub fn is_idempotent(operation_id: &str) -> bool {
    !NON_IDEMPOTENT.contains(&operation_id)
}

/// Statuses worth retrying: 408, 429, 500, 502, 503, 504. 409 is a permanent conflict here.
pub fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// What to do after a response with `status` and `headers`: `None` means do not retry;
/// `Some(delay)` means retry after `delay` (the server's hint, or `None` inside for backoff).
pub fn response_decision(status: StatusCode, headers: &HeaderMap) -> Option<Option<Duration>> {
    let forced = headers
        .get("x-should-retry")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().eq_ignore_ascii_case("true"));
    let retry = match forced {
        Some(f) => f,
        None => is_retryable_status(status),
    };
    if !retry {
        return None;
    }
    Some(retry_after(headers))
}

/// The server's requested delay: `retry-after-ms`, else `Retry-After` in seconds (fractions
/// allowed) or as an HTTP date. Unparseable or negative values are ignored.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    // `try_from_secs_f64` refuses negative, NaN and absurdly large values instead of panicking:
    // a server's header must never crash the client.
    if let Some(ms) = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .and_then(|ms| Duration::try_from_secs_f64(ms / 1000.0).ok())
    {
        return Some(ms);
    }
    let raw = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = raw.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let when = httpdate::parse_http_date(raw).ok()?;
    Some(when.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}

/// Exponential backoff for retry number `retry` (0 for the first retry): 0.5 s doubling, capped
/// at 8 s, minus up to 25 % random jitter so that clients do not retry in lockstep.
pub fn backoff(retry: u32) -> Duration {
    let base = INITIAL_BACKOFF
        .saturating_mul(1u32.checked_shl(retry.min(16)).unwrap_or(u32::MAX))
        .min(MAX_BACKOFF);
    let jitter = 1.0 - 0.25 * rand::random::<f64>();
    base.mul_f64(jitter)
}

/// The delay before retry number `retry`, given the server's hint. `None` when the hint is
/// longer than [`MAX_RETRY_AFTER`] (the caller should give up and return the error).
pub fn delay(retry: u32, hint: Option<Duration>) -> Option<Duration> {
    match hint {
        Some(h) if h > MAX_RETRY_AFTER => None,
        Some(h) => Some(h),
        None => Some(backoff(retry)),
    }
}

/// The delay before retry number `retry` after a response with `status` and `headers`, or
/// `None` when it is not retried: [`response_decision`] then [`delay`].
pub fn response_delay(retry: u32, status: StatusCode, headers: &HeaderMap) -> Option<Duration> {
    response_decision(status, headers).and_then(|hint| delay(retry, hint))
}

/// The delay before retry number `retry` after an attempt that got no response, or `None` when
/// it is not retried. A connect error provably never reached the server, so it is retried even
/// for an operation that is not `idempotent`; a timeout or an error sending the request is
/// retried only for one that is.
pub fn error_delay(retry: u32, error: &reqwest::Error, idempotent: bool) -> Option<Duration> {
    let transient = error.is_connect() || ((error.is_timeout() || error.is_request()) && idempotent);
    transient.then(|| backoff(retry))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn statuses() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable_status(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        for s in [400, 401, 403, 404, 409, 422, 501] {
            assert!(!is_retryable_status(StatusCode::from_u16(s).unwrap()), "{s}");
        }
    }

    #[test]
    fn should_retry_header_overrides_status() {
        assert_eq!(
            response_decision(
                StatusCode::SERVICE_UNAVAILABLE,
                &headers(&[("x-should-retry", "false")])
            ),
            None
        );
        assert_eq!(
            response_decision(StatusCode::CONFLICT, &headers(&[("x-should-retry", "true")])),
            Some(None)
        );
        assert_eq!(response_decision(StatusCode::CONFLICT, &HeaderMap::new()), None);
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(
            retry_after(&headers(&[("retry-after-ms", "250")])),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "2")])),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "0.5")])),
            Some(Duration::from_millis(500))
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")])), None);
        // Hostile values are ignored, never a panic.
        assert_eq!(retry_after(&headers(&[("retry-after", "1e300")])), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "-1")])), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "NaN")])), None);
        assert_eq!(retry_after(&headers(&[("retry-after-ms", "1e300")])), None);
        let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        let d = retry_after(&headers(&[("retry-after", &date)])).unwrap();
        assert!(d <= Duration::from_secs(30) && d >= Duration::from_secs(28), "{d:?}");
        let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(30));
        assert_eq!(retry_after(&headers(&[("retry-after", &past)])), Some(Duration::ZERO));
    }

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        for (n, base) in [
            (0u32, 0.5f64),
            (1, 1.0),
            (2, 2.0),
            (3, 4.0),
            (4, 8.0),
            (10, 8.0),
            (40, 8.0),
        ] {
            let d = backoff(n).as_secs_f64();
            assert!(d <= base && d >= base * 0.75 - 1e-9, "retry {n}: {d}");
        }
        assert_eq!(delay(0, Some(Duration::from_secs(61))), None);
        assert_eq!(delay(0, Some(Duration::from_secs(1))), Some(Duration::from_secs(1)));
    }

    #[test]
    fn idempotency_table() {
        assert!(!is_idempotent("launchVm"));
        assert!(!is_idempotent("execVm"));
        assert!(!is_idempotent("fetchFileToVm"));
        assert!(is_idempotent("getVm"));
        assert!(is_idempotent("deleteVm"));
    }
}
