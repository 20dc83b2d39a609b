//! [`RetryPolicy`]: which failures are retried, and how long to wait; and [`repeat`], the one
//! loop that applies it to API calls. The storage client (file uploads) applies the same policy
//! in its own loop, which reopens the file for each attempt.

use std::future::Future;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

/// How calls are retried after a failure that may clear by itself.
///
/// Retried: failures without an answer (connect errors always; timeouts and broken requests
/// only for an operation that is safe to repeat) and the statuses 408, 429, 500, 502, 503 and
/// 504 of such an operation, unless the server says otherwise with `x-should-retry: false` (or
/// asks for a retry of any status with `x-should-retry: true`). Not retried: a 429 whose body is
/// an exceeded quota (it lasts until something is freed), 409 conflicts, and anything of an
/// operation that is not safe to repeat (launch, exec, snapshot create, …) unless the request
/// never reached the server.
///
/// The wait before retry *n* (0 for the first) is the server's `retry-after-ms` or
/// `Retry-After` (seconds or an HTTP date) when it names one up to
/// [`max_retry_after`](Self::max_retry_after), and otherwise exponential backoff: the initial
/// backoff doubling per retry, capped, minus up to 25 % random jitter so that clients do not
/// retry in lockstep.
///
/// ```
/// use std::time::Duration;
/// let client = fastvm::FastvmClient::builder()
///     .api_key("hlm_example")
///     .retry_policy(
///         fastvm::RetryPolicy::new()
///             .max_retries(5)
///             .max_retry_after(Duration::from_secs(120)),
///     )
///     .build()?;
/// # Ok::<(), fastvm::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct RetryPolicy {
    pub(crate) max_retries: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The defaults, as the official SDKs: 2 retries, backoff from 0.5 s doubling up to 8 s, a
    /// server's `Retry-After` honoured up to 60 s.
    pub fn new() -> Self {
        Self::default()
    }

    /// No retries at all.
    pub fn never() -> Self {
        Self::default().max_retries(0)
    }

    /// Retries after the first attempt (default 2; 0 disables retries).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The first backoff delay (default 500 ms).
    pub fn initial_backoff(mut self, delay: Duration) -> Self {
        self.initial_backoff = delay;
        self
    }

    /// The largest backoff delay (default 8 s).
    pub fn max_backoff(mut self, delay: Duration) -> Self {
        self.max_backoff = delay;
        self
    }

    /// The longest server-requested delay (`Retry-After`) that is waited for (default 60 s).
    /// A longer one is not obeyed: the retry waits the normal backoff instead, still within
    /// [`max_retries`](Self::max_retries).
    pub fn max_retry_after(mut self, delay: Duration) -> Self {
        self.max_retry_after = delay;
        self
    }

    /// Exponential backoff for retry number `retry` (0 for the first retry), with jitter.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        let base = self.initial_backoff.saturating_mul(factor).min(self.max_backoff);
        let jitter = 1.0 - 0.25 * rand::random::<f64>();
        // Not `mul_f64`: it panics where the product rounds past `Duration::MAX`.
        Duration::try_from_secs_f64(base.as_secs_f64() * jitter).unwrap_or(base)
    }

    /// The wait before retry number `retry`, given the server's hint.
    fn delay(&self, retry: u32, hint: Option<Duration>) -> Duration {
        match hint {
            Some(h) if h <= self.max_retry_after => h,
            _ => self.backoff(retry),
        }
    }

    /// The wait before retry number `retry` after an answer with `status` and `headers`, or
    /// `None` when it is not retried. `quota` tells that the body is an exceeded quota.
    pub(crate) fn response_delay(
        &self,
        retry: u32,
        status: StatusCode,
        headers: &HeaderMap,
        quota: bool,
    ) -> Option<Duration> {
        let forced = headers
            .get("x-should-retry")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().eq_ignore_ascii_case("true"));
        let retry_it = forced.unwrap_or(!quota && crate::error::is_retryable_status(status));
        retry_it.then(|| self.delay(retry, retry_after(headers)))
    }

    /// The wait before retry number `retry` after an attempt that got no answer, or `None` when
    /// it is not retried. A connect error provably never reached the server, so it is retried
    /// even for an operation that is not `idempotent`; a timeout or an error sending the request
    /// only for one that is.
    pub(crate) fn error_delay(&self, retry: u32, error: &reqwest::Error, idempotent: bool) -> Option<Duration> {
        let transient = error.is_connect() || ((error.is_timeout() || error.is_request()) && idempotent);
        transient.then(|| self.backoff(retry))
    }
}

/// The server's requested delay: `retry-after-ms`, else `Retry-After` in seconds (fractions
/// allowed) or as an HTTP date. Unparseable, negative or absurd values are ignored.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    // `try_from_secs_f64` refuses negative, NaN and huge values instead of panicking: a
    // server's header must never crash the client.
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

/// What [`repeat`] needs to know of an attempt's result.
pub(crate) trait Attempt {
    /// The answer, when the attempt got one that is not a success.
    fn refused(&mut self) -> Option<&mut reqwest::Response>;
    /// The error, when the attempt got no answer.
    fn failed(&self) -> Option<&reqwest::Error>;
}

/// An attempt that could not be made at all (a file that cannot be opened) is final.
impl<A: Attempt, E> Attempt for std::result::Result<A, E> {
    fn refused(&mut self) -> Option<&mut reqwest::Response> {
        self.as_mut().ok()?.refused()
    }

    fn failed(&self) -> Option<&reqwest::Error> {
        self.as_ref().ok()?.failed()
    }
}

impl Attempt for reqwest::Result<reqwest::Response> {
    fn refused(&mut self) -> Option<&mut reqwest::Response> {
        self.as_mut().ok().filter(|resp| !resp.status().is_success())
    }

    fn failed(&self) -> Option<&reqwest::Error> {
        self.as_ref().err()
    }
}

/// How one call is retried: the view's policy and budget, and whether the operation is safe to
/// repeat.
pub(crate) struct Retries<'a> {
    pub(crate) policy: &'a RetryPolicy,
    pub(crate) max_retries: u32,
    pub(crate) idempotent: bool,
    /// The operationId, for tracing.
    pub(crate) operation: &'static str,
}

/// Retries the call whose first attempt gave `result`, as `retries` allows: waits as the policy
/// says, then makes retry `n` (1 for the first) with `again(n)`, until a result is final, the
/// policy says stop, the budget is spent, or `again` cannot make the request again (`None`).
/// Returns the last result. The attempt is made after the wait, so that nothing it starts (a
/// request's timeout clock) runs during the wait.
///
/// An answer of an operation that is not safe to repeat is final whatever its status; a failure
/// without an answer is retried for it only when the request provably never left (a connect
/// error).
pub(crate) async fn repeat<R: Attempt, F: Future<Output = R>>(
    retries: Retries<'_>,
    mut result: R,
    mut again: impl FnMut(u32) -> Option<F>,
) -> R {
    let Retries {
        policy,
        max_retries,
        idempotent,
        operation,
    } = retries;
    for retry in 0..max_retries {
        let delay = if let Some(resp) = result.refused() {
            if !idempotent {
                break;
            }
            let quota = resp.status() == StatusCode::TOO_MANY_REQUESTS && is_quota(resp).await;
            policy.response_delay(retry, resp.status(), resp.headers(), quota)
        } else if let Some(e) = result.failed() {
            policy.error_delay(retry, e, idempotent)
        } else {
            break;
        };
        let Some(delay) = delay else { break };
        // `attempt`: the number of the attempt about to be made (the first is 1).
        tracing::debug!(operation, attempt = retry + 2, ?delay, "fastvm retrying");
        tokio::time::sleep(delay).await;
        let Some(next) = again(retry + 1) else { break };
        result = next.await;
    }
    result
}

/// Whether a 429 is an exceeded quota (it lasts until something is freed) rather than a rate
/// limit. Telling them apart takes the body: it is read (bounded) and put back for whoever reads
/// the answer.
async fn is_quota(resp: &mut reqwest::Response) -> bool {
    let placeholder = reqwest::Response::from(http::Response::new(reqwest::Body::from(Vec::new())));
    let (rebuilt, body) = crate::transport::response::read_back(std::mem::replace(resp, placeholder)).await;
    *resp = rebuilt;
    crate::error::ErrorBody::parse(&body).quota
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

    fn status(code: u16) -> StatusCode {
        StatusCode::from_u16(code).unwrap()
    }

    #[test]
    fn statuses() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(crate::error::is_retryable_status(status(s)), "{s}");
        }
        for s in [400, 401, 403, 404, 409, 422, 501] {
            assert!(!crate::error::is_retryable_status(status(s)), "{s}");
        }
    }

    #[test]
    fn should_retry_header_overrides_status_and_quota() {
        let p = RetryPolicy::new().initial_backoff(Duration::from_millis(1));
        let no = headers(&[("x-should-retry", "false")]);
        let yes = headers(&[("x-should-retry", "true")]);
        assert_eq!(p.response_delay(0, status(503), &no, false), None);
        assert!(p.response_delay(0, status(409), &yes, false).is_some());
        assert!(p.response_delay(0, status(429), &yes, true).is_some());
        assert_eq!(p.response_delay(0, status(409), &HeaderMap::new(), false), None);
    }

    #[test]
    fn an_exceeded_quota_is_not_retried_a_rate_limit_is() {
        let p = RetryPolicy::new();
        assert_eq!(p.response_delay(0, status(429), &HeaderMap::new(), true), None);
        assert!(p.response_delay(0, status(429), &HeaderMap::new(), false).is_some());
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
    fn a_retry_after_past_the_cap_falls_back_to_backoff() {
        let p = RetryPolicy::new();
        let long = headers(&[("retry-after", "61")]);
        let d = p.response_delay(0, status(503), &long, false).unwrap();
        assert!(
            d <= Duration::from_millis(500) && d >= Duration::from_millis(375),
            "{d:?}"
        );
        let short = headers(&[("retry-after", "3")]);
        assert_eq!(
            p.response_delay(0, status(503), &short, false),
            Some(Duration::from_secs(3))
        );
        let patient = RetryPolicy::new().max_retry_after(Duration::from_secs(120));
        assert_eq!(
            patient.response_delay(0, status(503), &long, false),
            Some(Duration::from_secs(61))
        );
    }

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let p = RetryPolicy::new();
        for (n, base) in [
            (0u32, 0.5f64),
            (1, 1.0),
            (2, 2.0),
            (3, 4.0),
            (4, 8.0),
            (10, 8.0),
            (40, 8.0),
        ] {
            let d = p.backoff(n).as_secs_f64();
            assert!(d <= base && d >= base * 0.75 - 1e-9, "retry {n}: {d}");
        }
        let huge = RetryPolicy::new()
            .initial_backoff(Duration::MAX)
            .max_backoff(Duration::MAX);
        assert!(huge.backoff(40) > Duration::from_secs(1));
    }
}
