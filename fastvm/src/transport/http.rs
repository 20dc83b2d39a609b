//! The API transport: the one path every API request takes to the network.
//!
//! It adds the auth header (the only place that does), the `User-Agent` and default headers,
//! applies the per-operation timeout, runs the one retry loop ([`retry::repeat`]) over copies
//! of the request, and traces each attempt. Generated operations reach it through
//! `fastvm-api`'s hooks (it is the generated client's only [`Transport`]); the hand-built
//! requests (NDJSON exec, an explicit `null`, a prefixed query) through
//! [`ApiTransport::send_raw`].

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fastvm_api::hooks::{SendFuture, Transport};

use crate::config::{API_KEY_HEADER, RequestOptions, Settings};
use crate::transport::ops::{self, Op};
use crate::transport::response::{api_error, request_id};
use crate::transport::retry::{self, Retries};
use crate::{Error, Result};

tokio::task_local! {
    /// The timeout of the requests made inside [`with_timeout`]: a per-call setting (a command
    /// that may run for its own timeout) that needs no client of its own.
    static CALL_TIMEOUT: Duration;
}

/// Runs `call` with `timeout` as the HTTP timeout of the requests it makes, over the view's
/// own and the operation's default. `None` leaves them.
pub(crate) async fn with_timeout<F: Future>(timeout: Option<Duration>, call: F) -> F::Output {
    match timeout {
        Some(t) => CALL_TIMEOUT.scope(t, call).await,
        None => call.await,
    }
}

/// Runs `call`, which runs a VM-side command with `timeout`: the command may legitimately run
/// that long, so its requests get that plus a minute of grace. Without a command timeout the
/// view's timeout applies (long-running operations have no default timeout).
pub(crate) async fn with_command_timeout<F: Future>(timeout: Option<Duration>, call: F) -> F::Output {
    with_timeout(timeout.map(|t| t.saturating_add(Duration::from_secs(60))), call).await
}

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
        if let Ok(t) = CALL_TIMEOUT.try_with(|t| *t) {
            return Some(t);
        }
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
        // progenitor sends the spec document's version as `api-version`: not a header of the
        // fastvm API, so it is not sent.
        headers.remove("api-version");
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

    /// Sends `request` for `op` with the API client, repeating it from copies of it as the
    /// retry policy allows (a request with a streaming body cannot be copied: it is sent once).
    ///
    /// The work before the first attempt is done here, synchronously, and the future returned
    /// holds only the attempt and a boxed copy of the request; the retry loop is a boxed future
    /// of its own, made when an attempt failed. Every generated call boxes this future (the
    /// hook's `SendFuture`): held inline, the request and the loop made it 2 KiB instead of
    /// about 100 bytes, which measurably slowed concurrent calls (docs/benchmarks.md).
    pub(crate) fn send(
        &self,
        request: reqwest::Request,
        op: &'static Op,
    ) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send + '_ {
        // The copy is taken before `send_once` adds the headers, which each attempt adds again.
        let spare = if self.max_retries() > 0 {
            request.try_clone().map(Box::new)
        } else {
            None
        };
        // The call's span: what it logs (each attempt, each retry) is inside it.
        let span = tracing::debug_span!("fastvm.call", operation = op.id, vm_id = tracing::field::Empty);
        if !span.is_disabled()
            && let Some(vm) = vm_of_path(request.url().path())
        {
            span.record("vm_id", vm);
        }
        let first = self.send_once(request, op, 1);
        let call = async move {
            let first = first.await;
            let failed = first.as_ref().map_or(true, |r| !r.status().is_success());
            match spare {
                // Without a copy (no retries, a streaming body) there is nothing to retry with.
                Some(spare) if failed => Box::pin(self.retry(first, spare, op)).await,
                _ => first,
            }
        };
        tracing::Instrument::instrument(call, span)
    }

    /// The retries of a call whose first attempt gave `first`: the one retry loop, each attempt
    /// sent from a fresh copy of `spare`.
    async fn retry(
        &self,
        first: reqwest::Result<reqwest::Response>,
        spare: Box<reqwest::Request>,
        op: &'static Op,
    ) -> reqwest::Result<reqwest::Response> {
        let mut spare = Some(spare);
        retry::repeat(self.retries(op), first, |retry| {
            let next = spare.take()?;
            spare = next.try_clone().map(Box::new);
            Some(self.send_once(*next, op, retry + 1))
        })
        .await
    }

    /// Sends `request` for `op` once, with the auth header, the default headers and the
    /// timeout, and traces it: attempt number `attempt` (1 for the first). The request is
    /// prepared now; the future holds only reqwest's pending answer (and, when DEBUG tracing is
    /// on, the start time and method).
    fn send_once(
        &self,
        mut request: reqwest::Request,
        op: &'static Op,
        attempt: u32,
    ) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send + 'static {
        self.prepare(&mut request, op);
        // Reading the clock and keeping the method are only worth it when somebody listens.
        let traced = tracing::enabled!(tracing::Level::DEBUG).then(|| (Instant::now(), request.method().clone()));
        let pending = self.settings.http.execute(request);
        async move {
            let result = pending.await;
            if let Some((started, method)) = traced {
                trace_attempt(op, &method, attempt, started.elapsed(), &result);
            }
            result
        }
    }

    /// A request the generated client cannot express (an NDJSON exec, an explicit `null`, a
    /// prefixed query parameter), to be sent with [`send_raw`](Self::send_raw) or
    /// [`send_json`](Self::send_json): the one place hand-built API requests are started.
    /// `path` starts with `/` and has its parameters encoded with
    /// `fastvm_api::hooks::encode_path`, as generated calls do.
    pub(crate) fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.settings
            .http
            .request(method, format!("{}{path}", self.settings.base_url))
    }

    /// Sends a hand-built request as generated calls are sent (auth, timeout, retries,
    /// tracing). A non-2xx answer is an [`Error::Api`].
    pub(crate) async fn send_raw(
        &self,
        request: reqwest::RequestBuilder,
        op: &'static Op,
    ) -> Result<reqwest::Response> {
        let request = request.build().map_err(|e| Error::from_reqwest(e, Some(op.id)))?;
        let response = self
            .send(request, op)
            .await
            .map_err(|e| Error::from_reqwest(e, Some(op.id)))?;
        if !response.status().is_success() {
            let secrets = own_secrets(&self.settings);
            return Err(api_error(response, Some(op.id), &secrets).await);
        }
        Ok(response)
    }

    /// [`send_raw`](Self::send_raw) for a JSON answer, decoded into `T` as generated calls
    /// decode theirs: a 2xx with no body is an [`Error::Decode`] naming the operation and the
    /// status, and so is one over [`MAX_BODY_BYTES`](fastvm_api::decode::MAX_BODY_BYTES).
    pub(crate) async fn send_json<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        op: &'static Op,
    ) -> Result<T> {
        let request = request.header(reqwest::header::ACCEPT, "application/json");
        let mut response = self.send_raw(request, op).await?;
        let status = response.status();
        let max = fastvm_api::decode::MAX_BODY_BYTES;
        let too_large = || Error::Decode {
            operation: Some(op.id),
            status: Some(status),
            message: fastvm_api::decode::too_large(),
            snippet: String::new(),
            source: None,
        };
        if response.content_length().is_some_and(|n| n > max as u64) {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| Error::from_reqwest(e, Some(op.id)))?
        {
            if bytes.len() + chunk.len() > max {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        match fastvm_api::decode::body_of(&bytes) {
            Some(decoded) => decoded.map_err(|e| Error::decode(op.id, e, &bytes, &own_secrets(&self.settings))),
            None => Err(Error::empty_body(op.id, status)),
        }
    }
}

/// The generated client's transport: every generated call, the facade's and those made through
/// [`FastvmClient::api`](crate::FastvmClient::api), is sent by [`ApiTransport::send`].
impl Transport for ApiTransport {
    fn send<'a>(
        &'a self,
        _client: &'a reqwest::Client,
        request: reqwest::Request,
        operation_id: &'static str,
    ) -> SendFuture<'a> {
        // `_client` is the one the generated client was made with: `settings.http`.
        Box::pin(ApiTransport::send(self, request, ops::find(operation_id)))
    }
}

/// The VM a request is about: the `{id}` of a path under `/v1/vms/{id}` (percent-encoded as
/// sent), for the call's span.
fn vm_of_path(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/v1/vms/")?;
    Some(rest.split('/').next().unwrap_or(rest)).filter(|id| !id.is_empty())
}

/// Logs one attempt at DEBUG level (the URL redacted: never its query or userinfo).
fn trace_attempt(
    op: &Op,
    method: &reqwest::Method,
    attempt: u32,
    elapsed: Duration,
    result: &reqwest::Result<reqwest::Response>,
) {
    match result {
        Ok(resp) => {
            let request_id = request_id(resp.headers());
            let url = crate::redact::url(resp.url().as_str());
            tracing::debug!(operation = op.id, %method, %url, path = resp.url().path(), status = resp.status().as_u16(), ?elapsed, attempt, request_id = request_id.as_deref().unwrap_or(""), "fastvm request");
        }
        Err(e) => {
            let path = e.url().map(|u| u.path()).unwrap_or("");
            let url = e.url().map(|u| crate::redact::url(u.as_str())).unwrap_or_default();
            tracing::debug!(operation = op.id, %method, %url, path, ?elapsed, attempt, error = %crate::redact::text(&e.to_string()), "fastvm request failed");
        }
    }
}

/// The client's own secrets, which a server could echo in what it says: its API key. Every
/// error built from a server's text is cleared of them
/// ([`redact::remote`](crate::redact::remote)).
pub(crate) fn own_secrets(settings: &Settings) -> [&str; 1] {
    [settings.api_key.0.to_str().unwrap_or_default()]
}

#[cfg(test)]
mod tests {
    use crate::transport::ops;

    #[test]
    fn a_calls_vm_is_the_id_of_a_vm_path() {
        assert_eq!(super::vm_of_path("/v1/vms/vm-1"), Some("vm-1"));
        assert_eq!(super::vm_of_path("/v1/vms/vm-1/exec"), Some("vm-1"));
        assert_eq!(super::vm_of_path("/v1/vms/"), None);
        assert_eq!(super::vm_of_path("/v1/vms"), None);
        assert_eq!(super::vm_of_path("/v1/snapshots/s-1"), None);
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
            .transport()
            .settings
            .http
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
            let mut request = client
                .transport()
                .settings
                .http
                .get("http://127.0.0.1:9/v1/vms/x")
                .build()
                .unwrap();
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
