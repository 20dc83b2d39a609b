//! The API transport: the one path every API request takes to the network.
//!
//! It adds the auth header (the only place that does), the `User-Agent` and default headers,
//! applies the per-operation timeout and the [`RetryPolicy`](crate::RetryPolicy), and traces
//! each attempt. Generated operations reach it through `fastvm-api`'s hooks; the hand-written
//! requests (NDJSON exec, an explicit `null`) through [`send_raw`].

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fastvm_api::hooks::{SendFuture, Transport};
use futures::FutureExt;
use futures::future::Either;
use reqwest::header::{HeaderMap, HeaderName};

use crate::config::{RequestOptions, Settings};
use crate::error::{ApiError, ApiErrorKind, ErrorBody, snippet};
use crate::ops::{self, Op};
use crate::retry::{self, Retries};
use crate::{Error, Result};

/// Header carrying the API key.
pub(crate) const API_KEY_HEADER: HeaderName = HeaderName::from_static("x-api-key");

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
        self.options.max_retries.unwrap_or(self.settings.retry.max_retries)
    }

    fn timeout_for(&self, op: &Op) -> Option<Duration> {
        match self.options.timeout {
            Some(t) => t,
            None => match op.timing {
                ops::Timing::Ordinary => Some(self.settings.timeout),
                ops::Timing::Slow => Some(self.settings.timeout.max(ops::SLOW_TIMEOUT)),
                ops::Timing::Unbounded => None,
            },
        }
    }

    fn prepare(&self, request: &mut reqwest::Request, op: &Op) {
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
            *request.timeout_mut() = self.timeout_for(op);
        }
    }

    /// How a call of `op` through this view is retried.
    pub(crate) fn retries(&self, op: &'static Op) -> Retries<'_> {
        Retries {
            policy: &self.settings.retry,
            max_retries: self.max_retries(),
            idempotent: op.idempotent || self.options.retry_non_idempotent.unwrap_or(false),
            operation: op.id,
        }
    }

    /// Sends `request` for `op` once, with the auth header, the default headers and the
    /// timeout, and traces it: one attempt.
    pub(crate) fn send_once(
        &self,
        client: &reqwest::Client,
        mut request: reqwest::Request,
        op: &'static Op,
    ) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send + 'static {
        self.prepare(&mut request, op);
        attempt(client, request, op)
    }

    /// Sends `request` for `op`, repeating it from copies of it as the retry policy allows: the
    /// way of the public generated client and of hand-built requests. The facade's generated
    /// calls make the call again instead, which needs no copy (`call.rs`).
    ///
    /// The retries run in their own boxed future, built only when the first attempt did not
    /// succeed: this future is boxed on every call (see `Transport::send`), and kept small its
    /// allocation stays in the allocator's per-thread cache.
    pub(crate) fn send<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
        op: &'static Op,
    ) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send + 'a {
        // A request with a streaming body cannot be copied: it is sent exactly once. The copy
        // is taken before `send_once` adds the headers, which each attempt adds again.
        let mut spare = if self.max_retries() > 0 {
            request.try_clone()
        } else {
            None
        };
        self.send_once(client, request, op).then(move |result| match result {
            Ok(resp) if resp.status().is_success() => Either::Left(std::future::ready(Ok(resp))),
            result => Either::Right(Box::pin(retry::repeat(self.retries(op), result, move |_| {
                let next = spare.take()?;
                spare = next.try_clone();
                Some(self.send_once(client, next, op))
            }))),
        })
    }
}

/// Sends `request` once and traces the attempt.
fn attempt(
    client: &reqwest::Client,
    request: reqwest::Request,
    op: &'static Op,
) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send + 'static {
    // Reading the clock and keeping the method are only worth it when somebody listens.
    let traced = tracing::enabled!(tracing::Level::DEBUG).then(|| (Instant::now(), request.method().clone()));
    client.execute(request).map(move |result| {
        if let Some((started, method)) = traced {
            trace_attempt(op, &method, started.elapsed(), &result);
        }
        result
    })
}

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

/// Logs one attempt at DEBUG level (the URL redacted: never its query or userinfo).
fn trace_attempt(op: &Op, method: &reqwest::Method, elapsed: Duration, result: &reqwest::Result<reqwest::Response>) {
    match result {
        Ok(resp) => {
            let request_id = request_id(resp.headers());
            let url = crate::redact::url(resp.url().as_str());
            tracing::debug!(operation = op.id, %method, %url, path = resp.url().path(), status = resp.status().as_u16(), ?elapsed, request_id = request_id.as_deref().unwrap_or(""), "fastvm request");
        }
        Err(e) => {
            let path = e.url().map(|u| u.path()).unwrap_or("");
            let url = e.url().map(|u| crate::redact::url(u.as_str())).unwrap_or_default();
            tracing::debug!(operation = op.id, %method, %url, path, ?elapsed, error = %crate::redact::text(&e.to_string()), "fastvm request failed");
        }
    }
}

/// The public generated client's transport ([`FastvmClient::api`](crate::FastvmClient::api)):
/// each call retried from copies of its request.
impl Transport for ApiTransport {
    fn send<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
        operation_id: &'static str,
    ) -> SendFuture<'a> {
        Box::pin(ApiTransport::send(self, client, request, ops::find(operation_id)))
    }
}

/// The transport of the facade's own generated calls: one attempt each. `call` retries a call
/// by making it again, so no copy of the request is kept (docs/benchmarks.md, "Per-call
/// overhead": the copy cost about 2.5 % with many concurrent calls).
pub(crate) struct Once(pub(crate) Arc<ApiTransport>);

impl Transport for Once {
    fn send<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
        operation_id: &'static str,
    ) -> SendFuture<'a> {
        Box::pin(self.0.send_once(client, request, ops::find(operation_id)))
    }
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
    let parsed = ErrorBody::parse(&body);
    let message = match parsed.message {
        Some(m) => crate::redact::text(&m),
        None if body.is_empty() => status.canonical_reason().unwrap_or("error").to_string(),
        None => crate::redact::json(&snippet(&body, 200)),
    };
    Error::Api {
        error: Box::new(ApiError {
            status,
            kind: ApiErrorKind::from_status(status, parsed.quota),
            message,
            body: crate::redact::json(&snippet(&body, ApiError::BODY_SNIPPET)),
            request_id,
            dimension: parsed.dimension,
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

/// A request the generated client cannot express (an NDJSON exec, an explicit `null`, a
/// prefixed query parameter), to be sent with [`send_raw`] or [`send_json`]: the one place
/// hand-built API requests are started. `path` starts with `/` and has its parameters encoded
/// with `fastvm_api::hooks::encode_path`, as generated calls do.
pub(crate) fn request(client: &crate::FastvmClient, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    client.http().request(method, format!("{}{path}", client.base_url()))
}

/// Sends a hand-built request through the same transport as generated calls (auth, timeout,
/// retries, tracing). A non-2xx answer is an [`Error::Api`].
pub(crate) async fn send_raw(
    client: &crate::FastvmClient,
    request: reqwest::RequestBuilder,
    op: &'static Op,
) -> Result<reqwest::Response> {
    let request = request.build().map_err(|e| Error::from_reqwest(e, Some(op.id)))?;
    let response = client
        .transport()
        .send(client.http(), request, op)
        .await
        .map_err(|e| Error::from_reqwest(e, Some(op.id)))?;
    if !response.status().is_success() {
        return Err(api_error(response, Some(op.id)).await);
    }
    Ok(response)
}

/// [`send_raw`] for a JSON answer, decoded into `T` as generated calls decode theirs: a 2xx
/// with no body is an [`Error::Decode`] naming the operation and the status.
pub(crate) async fn send_json<T: serde::de::DeserializeOwned>(
    client: &crate::FastvmClient,
    request: reqwest::RequestBuilder,
    op: &'static Op,
) -> Result<T> {
    let request = request.header(reqwest::header::ACCEPT, "application/json");
    let response = send_raw(client, request, op).await?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| Error::from_reqwest(e, Some(op.id)))?;
    match fastvm_api::decode::body_of(&bytes) {
        Some(decoded) => decoded.map_err(|e| Error::decode(op.id, e, &bytes)),
        None => Err(Error::empty_body(op.id, status)),
    }
}

#[cfg(test)]
mod tests {
    use crate::ops;

    /// The transport's future is boxed on every call; under 1 KiB the allocation stays in the
    /// allocator's per-thread cache, worth several percent of wall time with many concurrent
    /// calls (docs/benchmarks.md, "Per-call overhead"). The retrying one (the public generated
    /// client, hand-built requests) is checked, and the facade's one-attempt future too. A size,
    /// not a timing: it cannot flake.
    #[tokio::test]
    async fn the_boxed_transport_future_stays_under_one_kib() {
        let client = crate::FastvmClient::builder()
            .api_key("k")
            .base_url("http://127.0.0.1:9")
            .build()
            .unwrap();
        let http = reqwest::Client::new();
        let request = http.get("http://127.0.0.1:9/v1/vms/x").build().unwrap();
        let once = client
            .transport()
            .send_once(&http, request.try_clone().unwrap(), ops::find("getVm"));
        let size = std::mem::size_of_val(&once);
        assert!(size <= 1024, "the one-attempt transport future is {size} bytes");
        let future = client.transport().send(&http, request, ops::find("getVm"));
        let size = std::mem::size_of_val(&future);
        assert!(size <= 1024, "the transport future is {size} bytes");
    }

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
        client.transport().prepare(&mut request, ops::find("execVm"));
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
    fn the_default_timeout_is_60_s_at_least_300_s_for_launch_and_snapshot_and_none_for_exec() {
        let timeout_with = |client: &crate::FastvmClient, operation| {
            let mut request = client.http().get("http://127.0.0.1:9/v1/vms/x").build().unwrap();
            client.transport().prepare(&mut request, ops::find(operation));
            request.timeout().copied()
        };
        let client = crate::FastvmClient::builder()
            .api_key("k")
            .base_url("http://127.0.0.1:9")
            .build()
            .unwrap();
        let secs = |s| Some(std::time::Duration::from_secs(s));
        assert_eq!(timeout_with(&client, "getVm"), secs(60));
        assert_eq!(timeout_with(&client, "launchVm"), secs(300));
        assert_eq!(timeout_with(&client, "createSnapshot"), secs(300));
        assert_eq!(timeout_with(&client, "execVm"), None);
        assert_eq!(timeout_with(&client, "fetchFileToVm"), None);
        assert_eq!(client.max_retries(), 2);
        // A longer client timeout applies to the slow operations too; a view's own wins.
        let patient = crate::FastvmClient::builder()
            .api_key("k")
            .base_url("http://127.0.0.1:9")
            .timeout(std::time::Duration::from_secs(900))
            .build()
            .unwrap();
        assert_eq!(timeout_with(&patient, "launchVm"), secs(900));
        let view = client.with_options(crate::RequestOptions::new().timeout(std::time::Duration::from_secs(5)));
        assert_eq!(timeout_with(&view, "launchVm"), secs(5));
    }
}
