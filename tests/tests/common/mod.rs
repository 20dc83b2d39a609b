//! Shared support of the wiremock contract tests and the facade behaviour tests.
//!
//! Every test talks to a fresh [`MockServer`] through the real `fastvm` facade. The helpers here
//! make the suite strict in three ways:
//! - every fixture a test mounts is validated against the operation's response schema in
//!   `openapi.json` before it is served, so fixtures cannot drift from the spec;
//! - every request the SDK sent is checked against the spec (method, path template, headers) and
//!   its body validated against the operation's request schema;
//! - a catch-all mock, mounted with the lowest priority and `expect(0)`, answers anything
//!   unexpected with a 500 naming the request, and fails the test when the server is dropped.

// Each test file compiles this module on its own and uses only part of it.
#![allow(dead_code, unreachable_pub)]

pub mod logs;

use std::fmt::Debug;
use std::future::Future;

use fastvm::{ApiErrorKind, ClientBuilder, Error, FastvmClient};
use fastvm_tests::schema;
use fastvm_tests::schema::path_fits_template;
use serde_json::{Value, json};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, Times};

/// The API key of every test client; the wire checks compare the `X-API-Key` header with it.
pub const API_KEY: &str = "hlm_contract_test_key_5f1c9a";

/// A mock API server with the catch-all mounted, and a facade client pointed at it.
pub struct Api {
    pub server: MockServer,
    pub client: FastvmClient,
}

/// Answers an unexpected request with a 500 that names it, so the SDK error and the drop-time
/// verification both say which request nobody expected.
struct CatchAll;

impl Respond for CatchAll {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        ResponseTemplate::new(500).set_body_json(json!({
            "error": format!("catch-all: unexpected request {} {}", req.method, req.url)
        }))
    }
}

/// Mounts the catch-all on `server`: lowest priority, must never match.
pub async fn mount_catch_all(server: &MockServer) {
    Mock::given(any())
        .respond_with(CatchAll)
        .with_priority(u8::MAX)
        .named("catch-all (an unexpected request reached the mock server)")
        .expect(0)
        .mount(server)
        .await;
}

impl Api {
    /// A server and a client without retries, so each call is exactly one request.
    pub async fn start() -> Api {
        Api::start_with(|b| b.max_retries(0)).await
    }

    /// A server and a client configured by `configure` (on top of key and base URL).
    pub async fn start_with(configure: impl FnOnce(ClientBuilder) -> ClientBuilder) -> Api {
        let server = MockServer::start().await;
        mount_catch_all(&server).await;
        let builder = FastvmClient::builder().api_key(API_KEY).base_url(server.uri());
        let client = configure(builder).build().expect("build the test client");
        Api { server, client }
    }

    /// Serves `body` with `status` for `op` at the exact raw `raw_path`, expected exactly once.
    /// The fixture must match the spec's response schema for that status.
    pub async fn expect(&self, op: &str, raw_path: &str, status: u16, body: Value) {
        self.expect_times(op, raw_path, status, body, 1).await;
    }

    /// A successful answer of `op` as the spec documents it, once: the documented success status
    /// with `body` (validated) when the spec documents a body for it, else the documented status
    /// without one. For tests that need an operation to succeed (a delete in a flow), not a
    /// particular status: they keep passing when the spec's status changes (a 200 that becomes
    /// a 204).
    pub async fn expect_done(&self, op: &str, raw_path: &str, body: Value) {
        let documented: Vec<u16> = schema::operation(op).value["responses"]
            .as_object()
            .expect("responses")
            .keys()
            .filter_map(|c| c.parse().ok())
            .filter(|c| (200..300).contains(c))
            .collect();
        match documented
            .iter()
            .find(|s| schema::response_schema(op, **s, "application/json").is_some())
        {
            Some(status) => self.expect(op, raw_path, *status, body).await,
            None => {
                let status = *documented.first().expect("a documented success status");
                self.respond(op, raw_path, ResponseTemplate::new(status), 1).await;
            }
        }
    }

    /// [`Api::expect`] for `times` calls (a count, or a range such as `1..` for polling).
    pub async fn expect_times(&self, op: &str, raw_path: &str, status: u16, body: Value, times: impl Into<Times>) {
        valid_fixture(op, status, &body);
        self.respond(op, raw_path, json_response(status, &body), times).await;
    }

    /// Serves a fixture that carries fields the spec does not declare (to test that decoding
    /// ignores them). Everything the spec does declare must still be valid.
    pub async fn expect_lenient(&self, op: &str, raw_path: &str, status: u16, body: Value) {
        let schema = schema::response_schema(op, status, "application/json")
            .unwrap_or_else(|| panic!("{op} documents no JSON body for {status}"));
        schema::validate(&schema, &body, false)
            .unwrap_or_else(|e| panic!("lenient fixture for {op} {status} does not match the spec: {e}"));
        self.respond(op, raw_path, json_response(status, &body), 1).await;
    }

    /// Mounts `template` for `op` at `raw_path`, expected `times` times (a count or a range). The
    /// caller is responsible for the body (used for non-JSON error bodies, delays and retry headers).
    pub async fn respond(&self, op: &str, raw_path: &str, template: ResponseTemplate, times: impl Into<Times>) {
        let spec = schema::operation(op);
        assert!(
            path_fits_template(&spec.path, raw_path),
            "test bug: {raw_path} is not a path of {op} ({})",
            spec.path
        );
        Mock::given(method(spec.method.as_str()))
            .and(path(raw_path))
            .respond_with(template)
            .named(format!("{op}: {} {raw_path}", spec.method))
            .expect(times)
            .mount(&self.server)
            .await;
    }

    /// Like [`Api::respond`], but the mock serves only the first `n` matching requests, so that
    /// a later-mounted mock answers the following ones (ordered responses for retry tests).
    pub async fn respond_first(&self, op: &str, raw_path: &str, template: ResponseTemplate, n: u64) {
        let spec = schema::operation(op);
        Mock::given(method(spec.method.as_str()))
            .and(path(raw_path))
            .respond_with(template)
            .up_to_n_times(n)
            .with_priority(1)
            .named(format!("{op} (first {n}): {} {raw_path}", spec.method))
            .expect(n)
            .mount(&self.server)
            .await;
    }

    /// Verifies the mocks mounted so far, then forgets them and the recorded requests (the
    /// catch-all is mounted again), so one server serves several cases of a table test.
    pub async fn next_case(&self) {
        self.server.verify().await;
        self.server.reset().await;
        mount_catch_all(&self.server).await;
    }

    /// Every request the server received, in order.
    pub async fn received(&self) -> Vec<Request> {
        self.server.received_requests().await.expect("request recording is on")
    }

    /// The one request the server received, checked against the spec as a request of `op`.
    pub async fn sent(&self, op: &str) -> Sent {
        let all = self.received().await;
        assert_eq!(
            all.len(),
            1,
            "expected exactly one request ({op}), got {}: {:?}",
            all.len(),
            all.iter()
                .map(|r| format!("{} {}", r.method, r.url))
                .collect::<Vec<_>>()
        );
        check_wire(op, &all[0])
    }

    /// All requests received, each checked as a request of `op`.
    pub async fn sent_all(&self, op: &str) -> Vec<Sent> {
        self.received().await.iter().map(|r| check_wire(op, r)).collect()
    }
}

/// What the SDK put on the wire, after [`check_wire`] accepted it.
#[derive(Debug)]
pub struct Sent {
    pub method: String,
    /// The raw (percent-encoded) path.
    pub path: String,
    pub query: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    /// The JSON body, for operations that have one.
    pub body: Option<Value>,
}

impl Sent {
    /// The JSON body; panics for body-less operations.
    pub fn json(&self) -> &Value {
        self.body.as_ref().expect("the request has a JSON body")
    }
}

/// A JSON response with the right content type.
pub fn json_response(status: u16, body: &Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(serde_json::to_vec(body).expect("json"), "application/json")
}

/// Panics unless `body` is what the spec documents for `op` answering `status` (strictly: no
/// undeclared fields).
pub fn valid_fixture(op: &str, status: u16, body: &Value) {
    schema::validate_response(op, status, body)
        .unwrap_or_else(|e| panic!("fixture for {op} {status} does not match openapi.json: {e}\n{body:#}"));
}

/// The `Accept` the SDK must send for `op`: JSON when a success response has a JSON body, else
/// reqwest's default `*/*` (the 204-only `deleteService`).
fn expected_accept(op: &schema::Operation) -> &'static str {
    let responses = op.value["responses"].as_object().expect("responses");
    let json_success = responses
        .iter()
        .any(|(code, r)| code.starts_with('2') && r["content"].get("application/json").is_some());
    if json_success { "application/json" } else { "*/*" }
}

/// Checks one received request against the spec operation `op` and the client's fixed headers.
pub fn check_wire(op_id: &str, req: &Request) -> Sent {
    let op = schema::operation(op_id);
    let raw_path = req.url.path().to_string();
    assert_eq!(req.method.as_str(), op.method, "{op_id}: HTTP method");
    assert!(
        path_fits_template(&op.path, &raw_path),
        "{op_id}: path {raw_path} does not fit {}",
        op.path
    );
    let header = |name: &str| {
        req.headers
            .get(name)
            .map(|v| v.to_str().expect("ascii header").to_string())
    };
    assert_eq!(header("x-api-key").as_deref(), Some(API_KEY), "{op_id}: X-API-Key");
    assert_eq!(
        req.headers.get_all("x-api-key").iter().count(),
        1,
        "{op_id}: exactly one X-API-Key"
    );
    let ua = header("user-agent").unwrap_or_default();
    assert!(ua.starts_with("fastvm-rs/"), "{op_id}: User-Agent {ua:?}");
    assert_eq!(
        header("api-version"),
        None,
        "{op_id}: progenitor's api-version must be stripped"
    );
    assert_eq!(
        header("accept").as_deref(),
        Some(expected_accept(op)),
        "{op_id}: Accept"
    );
    let has_body = op.value["requestBody"]["content"]["application/json"].is_object();
    let body = if has_body {
        assert_eq!(
            header("content-type").as_deref(),
            Some("application/json"),
            "{op_id}: Content-Type"
        );
        let v: Value = serde_json::from_slice(&req.body).unwrap_or_else(|e| {
            panic!(
                "{op_id}: body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&req.body)
            )
        });
        schema::validate_request(op_id, &v)
            .unwrap_or_else(|e| panic!("{op_id}: request body does not match openapi.json: {e}\n{v:#}"));
        Some(v)
    } else {
        assert!(
            req.body.is_empty(),
            "{op_id}: a body-less operation sent {:?}",
            String::from_utf8_lossy(&req.body)
        );
        assert_eq!(header("content-type"), None, "{op_id}: Content-Type without a body");
        None
    };
    let mut headers = reqwest::header::HeaderMap::new();
    for (k, v) in &req.headers {
        if let (Ok(name), Ok(value)) = (
            reqwest::header::HeaderName::from_bytes(k.as_str().as_bytes()),
            reqwest::header::HeaderValue::from_bytes(v.as_bytes()),
        ) {
            headers.append(name, value);
        }
    }
    Sent {
        method: req.method.to_string(),
        path: raw_path,
        query: req.url.query().map(str::to_string),
        headers,
        body,
    }
}

/// `v` without `null` fields and empty arrays: what a decoded-then-re-encoded generated type
/// gives back (absent optionals are skipped, empty lists are skipped).
pub fn normalized(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null() && !v.as_array().is_some_and(|a| a.is_empty()))
                .map(|(k, v)| (k.clone(), normalized(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalized).collect()),
        other => other.clone(),
    }
}

/// Asserts that `decoded`, re-encoded, carries every field of `fixture` with the same value:
/// nothing was dropped, renamed or changed in decoding.
pub fn assert_lossless<T: serde::Serialize + Debug>(fixture: &Value, decoded: &T) {
    let back = serde_json::to_value(decoded).expect("re-encode");
    assert_eq!(
        normalized(&back),
        normalized(fixture),
        "decoded value differs from the fixture: {decoded:#?}"
    );
}

/// The kind the facade must give a status.
pub fn expected_kind(status: u16) -> ApiErrorKind {
    match status {
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

/// The statuses every operation family is checked with.
pub const ERROR_STATUSES: &[u16] = &[400, 401, 403, 404, 409, 422, 429, 500, 502];

/// Asserts `result` is an [`Error::Api`] with `status` and `kind` for `op`, and returns it.
pub fn api_error<T: Debug>(result: fastvm::Result<T>, op: &str, status: u16, kind: ApiErrorKind) -> fastvm::ApiError {
    api_error_of(result, op, status, kind).1
}

/// [`api_error`], also returning the whole error.
pub fn api_error_of<T: Debug>(
    result: fastvm::Result<T>,
    op: &str,
    status: u16,
    kind: ApiErrorKind,
) -> (Error, fastvm::ApiError) {
    let (wrapped, err) = match result {
        Err(e @ Error::Api { .. }) => {
            let api = e.api().cloned().expect("an Api error has an ApiError");
            (e, api)
        }
        other => panic!("{op} {status}: expected Error::Api, got {other:?}"),
    };
    assert_eq!(err.status.as_u16(), status, "{op}: status");
    assert_eq!(err.kind, kind, "{op} {status}: kind");
    assert_eq!(err.operation, Some(op), "{op} {status}: operation");
    (wrapped, err)
}

/// For each status of [`ERROR_STATUSES`], with an `{error}` JSON body and with a non-JSON body:
/// `call` must fail with the right [`Error::Api`] kind, status and message after one request.
///
/// A 429 whose documented body is `QuotaExceeded` (resume) is served as such and must map to
/// [`ApiErrorKind::QuotaExceeded`] with the dimension.
pub async fn assert_error_mapping<T, F, Fut>(op: &str, raw_path: &str, call: F)
where
    T: Debug,
    F: Fn(FastvmClient) -> Fut,
    Fut: Future<Output = fastvm::Result<T>>,
{
    // One client and server for all cases: building a client (TLS roots) is the slow part.
    let api = Api::start().await;
    for &status in ERROR_STATUSES {
        // JSON `{error}` body (or the QuotaExceeded body where the spec says so).
        api.next_case().await;
        let message = format!("{op} failed with {status}: details here");
        let mut body = json!({ "error": message });
        let mut kind = expected_kind(status);
        let mut dimension = None;
        if schema::validate_response(op, status, &body).is_err() && status == 429 {
            body = json!({ "error": message, "dimension": "memory_mib" });
            kind = ApiErrorKind::QuotaExceeded;
            dimension = Some("memory_mib".to_string());
        }
        valid_fixture(op, status, &body);
        api.respond(
            op,
            raw_path,
            json_response(status, &body).insert_header("x-request-id", "req-42"),
            1,
        )
        .await;
        let result = call(api.client.clone()).await;
        let (wrapped, err) = api_error_of(result, op, status, kind);
        assert_eq!(err.message, message, "{op} {status}: message from the error body");
        assert_eq!(err.dimension, dimension, "{op} {status}: dimension");
        assert_eq!(err.request_id.as_deref(), Some("req-42"), "{op} {status}: request id");
        let shown = wrapped.to_string();
        assert!(
            shown.contains(&status.to_string()) && shown.contains(&message) && shown.contains(op),
            "{op} {status}: Display {shown:?}"
        );
        assert_eq!(wrapped.status().map(|s| s.as_u16()), Some(status));
        assert_eq!(wrapped.is_not_found(), status == 404, "{op} {status}: is_not_found");
        assert_eq!(
            wrapped.is_retryable(),
            // An exceeded quota (a 429 naming its dimension) lasts until something is freed.
            matches!(status, 429 | 500 | 502) && kind != ApiErrorKind::QuotaExceeded,
            "{op} {status}: is_retryable"
        );
        api.sent(op).await;

        // Non-JSON body (a proxy's HTML page): the message falls back to the body text.
        api.next_case().await;
        let page = format!("<html><body>upstream said {status}</body></html>");
        api.respond(
            op,
            raw_path,
            ResponseTemplate::new(status).set_body_raw(page.clone(), "text/html"),
            1,
        )
        .await;
        let result = call(api.client.clone()).await;
        let kind = if status == 429 {
            ApiErrorKind::RateLimit
        } else {
            expected_kind(status)
        };
        let err = api_error(result, op, status, kind);
        assert!(
            err.message.contains(&format!("upstream said {status}")),
            "{op} {status}: message from a text body: {:?}",
            err.message
        );
        assert_eq!(err.body, page, "{op} {status}: raw body kept");
        assert_eq!(err.dimension, None);
        api.sent(op).await;
    }
    api.server.verify().await;
}

/// Asserts `result` is [`Error::InvalidInput`] naming `field`.
pub fn assert_invalid<T: Debug>(result: fastvm::Result<T>, field: &str) {
    match result {
        Err(Error::InvalidInput { field: f, message, .. }) => {
            assert_eq!(f, field, "InvalidInput field (message: {message})");
            assert!(!message.is_empty());
        }
        other => panic!("expected InvalidInput for {field}, got {other:?}"),
    }
}

/// A full VM as the API returns it: every optional field set.
pub fn vm_full(id: &str, status: &str) -> Value {
    json!({
        "id": id,
        "name": "dev-box",
        "orgId": "org-7f3a",
        "cpu": 2,
        "memoryMiB": 4096,
        "diskGiB": 20,
        "status": status,
        "createdAt": "2026-05-15T10:00:00Z",
        "deletedAt": "2026-05-16T11:30:00Z",
        "pausedAt": "2026-05-15T12:00:00Z",
        "machineName": "c2m4",
        "sourceName": "golden",
        "publicIpv6": "2001:db8::42",
        "metadata": { "team": "infra", "env": "ci" },
        "envVars": { "RUST_LOG": "debug" },
        "ttl": { "seconds": 3600, "action": "pause" },
        "expiresAtMs": 1778839200000i64,
        "ttlRemainingMs": 3599000,
        "firewall": firewall_full_json(),
        "effectiveFirewall": {
            "ingress": {
                "default": "deny",
                "rules": [
                    { "action": "allow", "kind": "cidr", "value": "::/0", "protocol": "tcp", "ports": "8080",
                      "description": "auto: proxy service web" }
                ]
            }
        }
    })
}

/// A VM with only the required fields.
pub fn vm_min(id: &str, status: &str) -> Value {
    json!({
        "id": id,
        "name": "vm-0b5e2f9a",
        "orgId": "org-7f3a",
        "cpu": 1,
        "memoryMiB": 2048,
        "diskGiB": 10,
        "status": status,
        "createdAt": "2026-05-15T10:00:00.123456Z"
    })
}

/// A firewall policy with every block and field present.
pub fn firewall_full_json() -> Value {
    json!({
        "ingress": {
            "default": "deny",
            "rules": [
                { "action": "allow", "kind": "cidr", "value": "10.0.0.0/8", "protocol": "tcp", "ports": "8080-8090",
                  "description": "office" }
            ]
        },
        "egress": {
            "default": "allow",
            "rules": [
                { "action": "deny", "kind": "fqdn", "value": "*.example.com", "protocol": "any", "ports": "any" },
                { "action": "allow", "kind": "cidr", "value": "2001:db8::/32", "protocol": "udp", "ports": "53",
                  "description": "dns" }
            ]
        },
        "dns": { "mode": "allow", "domains": ["example.com", "*.example.org"], "blockBypass": true }
    })
}

/// The same policy as a typed value.
pub fn firewall_full() -> fastvm::types::FirewallPolicy {
    serde_json::from_value(firewall_full_json()).expect("firewall fixture decodes")
}

/// A 127.0.0.1 port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A `tracing` visitor that writes a span's or an event's fields into a string, `name=value `
/// each (the tests that read logs).
pub struct Fields<'a>(pub &'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={:?} ", field.name(), value));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.push_str(&format!("{}={} ", field.name(), value));
    }
}
