//! The API transport: the one path every API request takes to the network.
//!
//! It adds the auth header (the only place that does), the `User-Agent` and default headers,
//! applies the per-operation timeout and the retry policy of [`crate::retry`], and traces each
//! attempt. Generated operations reach it through `fastvm-api`'s hooks; the hand-written NDJSON
//! exec request is sent through it directly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fastvm_api::hooks::{SendFuture, Transport};
use reqwest::header::{HeaderMap, HeaderName};

use crate::config::{RequestOptions, Settings};
use crate::error::{ApiError, ApiErrorKind, snippet};
use crate::{Error, Result, retry};

/// Header carrying the API key.
pub(crate) const API_KEY_HEADER: HeaderName = HeaderName::from_static("x-api-key");

/// Operations with no default per-request timeout: they last as long as the command or transfer
/// they run (exec and files/fetch carry their own server-side `timeoutSec`).
const LONG_RUNNING: &[&str] = &["execVm", "fetchFileToVm"];

/// The transport of one client view (the shared client, or a `with_options` view).
pub(crate) struct ApiTransport {
    /// The client's configuration, shared by all its views.
    pub(crate) settings: Arc<Settings>,
    /// This view's overrides (already merged with those of the view it was made from).
    pub(crate) options: RequestOptions,
}

impl ApiTransport {
    /// The retry budget of this view.
    pub(crate) fn max_retries(&self) -> u32 {
        self.options.max_retries.unwrap_or(self.settings.max_retries)
    }

    fn timeout_for(&self, operation_id: &str) -> Option<Duration> {
        match self.options.timeout {
            Some(t) => t,
            None if LONG_RUNNING.contains(&operation_id) => None,
            None => Some(self.settings.timeout),
        }
    }

    fn prepare(&self, request: &mut reqwest::Request, operation_id: &str) {
        // (progenitor's `api-version` header is removed from the generated code by codegen.rs.)
        let headers = request.headers_mut();
        // Default headers fill in what the request does not set itself (an exec stream's
        // `Accept` stays), with every value of a header given several times.
        let defaults = &self.settings.default_headers;
        for name in defaults.keys() {
            if !headers.contains_key(name) {
                for value in defaults.get_all(name) {
                    headers.append(name, value.clone());
                }
            }
        }
        headers.insert(reqwest::header::USER_AGENT, self.settings.user_agent.clone());
        headers.insert(API_KEY_HEADER, self.settings.api_key.0.clone());
        if request.timeout().is_none() {
            *request.timeout_mut() = self.timeout_for(operation_id);
        }
    }

    /// Sends `request`, repeating it as the retry policy allows.
    ///
    /// Written with the future's size in mind: it is boxed for every API call, and an
    /// allocation over 1 KiB leaves the allocator's per-thread cache (glibc's tcache), which
    /// showed as a cost of several percent per call with calls in flight on several threads.
    /// So the preparation happens before the `async` block (an `async fn` would keep the
    /// request twice in its state), only the first attempt happens in it, the rarely needed
    /// retries run in their own boxed future, and the values used around an `.await` live in
    /// blocks that end before it (rustc reserves a local's space until its scope ends).
    fn send_with_retries<'a>(
        &'a self,
        client: &'a reqwest::Client,
        mut request: reqwest::Request,
        operation_id: &'static str,
    ) -> impl std::future::Future<Output = reqwest::Result<reqwest::Response>> + Send + 'a {
        self.prepare(&mut request, operation_id);
        // Only pay for the log fields when someone listens.
        let method = tracing::enabled!(tracing::Level::DEBUG).then(|| request.method().clone());
        let spare = if self.max_retries() > 0 { spare(&request) } else { None };
        let started = method.is_some().then(Instant::now);
        let pending = client.execute(request);
        async move {
            let retry = {
                let result = pending.await;
                if let (Some(method), Some(started)) = (&method, started) {
                    trace_attempt(operation_id, method, 0, started.elapsed(), &result);
                }
                match (self.retry_delay(&result, 0, operation_id), spare) {
                    (Some(delay), Some(next)) => Box::pin(self.retry(client, next, operation_id, delay, method)),
                    _ => return result,
                }
            };
            retry.await
        }
    }

    /// The attempts after the first: waits `delay`, sends `request` (attempt 1), and so on while
    /// the policy allows.
    async fn retry(
        &self,
        client: &reqwest::Client,
        mut request: reqwest::Request,
        operation_id: &'static str,
        mut delay: Duration,
        method: Option<reqwest::Method>,
    ) -> reqwest::Result<reqwest::Response> {
        // `spare` leaves reqwest's extensions out: the per-request timeout is set again here.
        let timeout = self.timeout_for(operation_id);
        let mut attempt: u32 = 1;
        loop {
            tracing::debug!(operation = operation_id, attempt, ?delay, "fastvm retrying");
            tokio::time::sleep(delay).await;
            if request.timeout().is_none() {
                *request.timeout_mut() = timeout;
            }
            let spare = if attempt < self.max_retries() {
                spare(&request)
            } else {
                None
            };
            let started = method.is_some().then(Instant::now);
            let result = client.execute(request).await;
            if let (Some(method), Some(started)) = (&method, started) {
                trace_attempt(operation_id, method, attempt, started.elapsed(), &result);
            }
            match (self.retry_delay(&result, attempt, operation_id), spare) {
                (Some(next_delay), Some(next)) => {
                    (request, delay) = (next, next_delay);
                    attempt += 1;
                }
                _ => return result,
            }
        }
    }

    /// How long to wait before repeating an attempt that ended with `result`; `None`: do not.
    fn retry_delay(
        &self,
        result: &reqwest::Result<reqwest::Response>,
        attempt: u32,
        operation_id: &str,
    ) -> Option<Duration> {
        let idempotent = || self.options.retry_non_idempotent || retry::is_idempotent(operation_id);
        match result {
            Ok(resp) if resp.status().is_success() || !idempotent() => None,
            Ok(resp) => retry::response_delay(attempt, resp.status(), resp.headers()),
            Err(e) => retry::error_delay(attempt, e, idempotent()),
        }
    }
}

/// Logs one attempt at DEBUG level (the URL's path only: never its query or the host's secrets).
fn trace_attempt(
    operation_id: &str,
    method: &reqwest::Method,
    attempt: u32,
    elapsed: Duration,
    result: &reqwest::Result<reqwest::Response>,
) {
    match result {
        Ok(resp) => {
            let request_id = request_id(resp.headers());
            tracing::debug!(operation = operation_id, %method, path = resp.url().path(), attempt, status = resp.status().as_u16(), ?elapsed, request_id = request_id.as_deref().unwrap_or(""), "fastvm request");
        }
        Err(e) => {
            let path = e.url().map(|u| u.path()).unwrap_or("");
            tracing::debug!(operation = operation_id, %method, path, attempt, ?elapsed, error = %crate::redact::text(&e.to_string()), "fastvm request failed");
        }
    }
}

impl Transport for ApiTransport {
    fn send<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
        operation_id: &'static str,
    ) -> SendFuture<'a> {
        Box::pin(self.send_with_retries(client, request, operation_id))
    }
}

/// A copy of `request` for a later attempt, or `None` when its body is a stream (such a request
/// is sent exactly once).
///
/// A request without a body (every `GET`/`DELETE`) is copied without its extensions, where
/// reqwest keeps the per-request timeout: copying that map costs allocations on every call,
/// retried or not, so the caller sets the timeout again on the rare retry instead. API requests
/// carry no other extension. (reqwest only lets `try_clone` share a body's bytes.)
fn spare(request: &reqwest::Request) -> Option<reqwest::Request> {
    if request.body().is_some() {
        return request.try_clone();
    }
    let mut copy = reqwest::Request::new(request.method().clone(), request.url().clone());
    *copy.headers_mut() = request.headers().clone();
    *copy.version_mut() = request.version();
    Some(copy)
}

pub(crate) fn request_id(headers: &HeaderMap) -> Option<String> {
    ["x-request-id", "request-id", "x-amzn-requestid"]
        .iter()
        .find_map(|h| headers.get(*h))
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(128).collect())
}

/// Turns a non-2xx response into [`Error::Api`], reading (a bounded part of) its body.
pub(crate) async fn api_error(resp: reqwest::Response, operation: Option<&'static str>) -> Error {
    let status = resp.status();
    let request_id = request_id(resp.headers());
    let body = read_bounded(resp, ApiError::BODY_SNIPPET).await;
    let parsed: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    let field = |name: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let dimension = if status.as_u16() == 429 {
        field("dimension")
    } else {
        None
    };
    let message = field("error")
        .or_else(|| field("message"))
        .map(|m| crate::redact::text(&m))
        .unwrap_or_else(|| {
            if body.is_empty() {
                status.canonical_reason().unwrap_or("error").to_string()
            } else {
                crate::redact::text(&snippet(&body, 200))
            }
        });
    let kind = ApiErrorKind::from_status(status, dimension.is_some());
    Error::Api(Box::new(ApiError {
        status,
        kind,
        message,
        body: crate::redact::text(&snippet(&body, ApiError::BODY_SNIPPET)),
        request_id,
        dimension,
        operation,
    }))
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

/// Sends a request the generated client cannot express (an NDJSON exec, an explicit `null`)
/// through the same transport as generated calls: the one place hand-built API requests are
/// made. `path` starts with `/` and has its parameters encoded with
/// `fastvm_api::hooks::encode_path`, as generated calls do. A non-2xx answer is an
/// [`Error::Api`].
pub(crate) async fn send_raw(
    client: &crate::FastvmClient,
    method: reqwest::Method,
    path: &str,
    accept: &'static str,
    body: &impl serde::Serialize,
    operation: &'static str,
) -> Result<reqwest::Response> {
    use fastvm_api::hooks::Transport as _;
    let json = serde_json::to_vec(body).map_err(|e| Error::invalid("body", e.to_string()))?;
    let request = client
        .http()
        .request(method, format!("{}{path}", client.base_url()))
        .header(reqwest::header::ACCEPT, accept)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(json)
        .build()
        .map_err(Error::from_reqwest)?;
    let response = client
        .transport()
        .send(client.http(), request, operation)
        .await
        .map_err(Error::from_reqwest)?;
    if !response.status().is_success() {
        return Err(api_error(response, Some(operation)).await);
    }
    Ok(response)
}

/// [`send_raw`] for a JSON answer, decoded into `T`.
pub(crate) async fn send_json<T: serde::de::DeserializeOwned>(
    client: &crate::FastvmClient,
    method: reqwest::Method,
    path: &str,
    body: &impl serde::Serialize,
    operation: &'static str,
) -> Result<T> {
    let response = send_raw(client, method, path, "application/json", body, operation).await?;
    let bytes = response.bytes().await.map_err(Error::from_reqwest)?;
    serde_json::from_slice(&bytes).map_err(|e| Error::decode(operation, e, &bytes))
}

#[cfg(test)]
mod tests {
    #[test]
    fn default_headers_keep_every_value_and_do_not_override_the_request() {
        let client = crate::FastvmClient::builder()
            .api_key("k")
            .base_url("http://127.0.0.1:9")
            .default_header("x-team", "infra")
            .default_header("x-team", "db")
            .default_header("accept", "text/plain")
            .build()
            .unwrap();
        let mut request = client
            .http()
            .get("http://127.0.0.1:9/v1/vms/x/exec")
            .header("accept", "application/x-ndjson")
            .build()
            .unwrap();
        client.transport().prepare(&mut request, "execVm");
        let headers = request.headers();
        let teams: Vec<_> = headers.get_all("x-team").iter().collect();
        assert_eq!(teams, ["infra", "db"]);
        assert_eq!(headers["accept"], "application/x-ndjson");
        assert_eq!(headers["x-api-key"], "k");
        // Sensitive: never printed by `http`'s Debug, never indexed by HPACK.
        assert!(headers["x-api-key"].is_sensitive());
        assert!(!format!("{request:?}").contains("\"k\""), "{request:?}");
    }

    #[test]
    fn the_default_timeout_is_60_s_except_for_exec_and_fetch() {
        let client = crate::FastvmClient::builder()
            .api_key("k")
            .base_url("http://127.0.0.1:9")
            .build()
            .unwrap();
        let timeout_of = |operation| {
            let mut request = client.http().get("http://127.0.0.1:9/v1/vms/x").build().unwrap();
            client.transport().prepare(&mut request, operation);
            request.timeout().copied()
        };
        assert_eq!(timeout_of("getVm"), Some(std::time::Duration::from_secs(60)));
        assert_eq!(timeout_of("launchVm"), Some(std::time::Duration::from_secs(60)));
        assert_eq!(timeout_of("execVm"), None);
        assert_eq!(timeout_of("fetchFileToVm"), None);
        assert_eq!(client.max_retries(), 2);
    }

    /// The transport's future is boxed on every call: kept under glibc's per-thread cache limit
    /// (1032 bytes), its allocation stays cheap (see `send_with_retries`).
    #[tokio::test]
    async fn the_boxed_transport_future_stays_small() {
        let client = crate::FastvmClient::builder()
            .api_key("k")
            .base_url("http://127.0.0.1:9")
            .build()
            .unwrap();
        let request = client.http().get("http://127.0.0.1:9/v1/vms/x").build().unwrap();
        let future = client.transport().send_with_retries(client.http(), request, "getVm");
        let size = std::mem::size_of_val(&future);
        assert!(size <= 1024, "transport future {size} bytes");
    }
}
