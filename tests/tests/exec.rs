//! `vms().stream` and `vms().run` against wiremock: the wire request, NDJSON decoding through
//! the facade, error mapping, no retries, and aborting on drop.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{API_KEY, Api};
use fastvm::exec::{Command, ExecEvent, ExecOutput};
use fastvm::{ApiErrorKind, Error, FastvmClient, RequestOptions};
use fastvm_tests::schema;
use futures::StreamExt as _;
use serde_json::{Value, json};
use wiremock::ResponseTemplate;

const VM: &str = "vm-exec-1";

/// An NDJSON body of `lines`, each checked against the spec's `ExecEvent` schema first.
fn ndjson(lines: &[Value]) -> String {
    let mut body = String::new();
    for line in lines {
        schema::validate_schema("ExecEvent", line, true).unwrap_or_else(|e| panic!("{line}: {e}"));
        body.push_str(&line.to_string());
        body.push('\n');
    }
    body
}

fn ndjson_response(body: impl Into<Vec<u8>>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.into(), "application/x-ndjson")
}

/// The raw path of `execVm` for [`VM`].
fn exec_path() -> String {
    format!("/v1/vms/{VM}/exec")
}

/// A client that would retry (the retry-sensitive tests assert that exec is still sent once).
async fn retrying_api() -> Api {
    Api::start_with(|b| b.max_retries(3)).await
}

/// Serves `body` as the one NDJSON answer of `execVm` on `api`, streams `command` and collects
/// the output (the stream itself must open: only the body is under test).
async fn stream_and_collect(
    api: &Api,
    command: impl Into<Command>,
    body: impl Into<Vec<u8>>,
) -> fastvm::Result<ExecOutput> {
    api.respond("execVm", &exec_path(), ndjson_response(body), 1).await;
    api.client
        .vms()
        .stream(VM, command)
        .await
        .expect("stream")
        .collect()
        .await
}

/// Asserts the one request `api` received is the streaming `execVm` request with `expected_body`.
///
/// `Api::sent` does not fit here: it expects the JSON `Accept` of the buffered `run`.
async fn assert_stream_request(api: &Api, expected_body: &Value) {
    let received = api.received().await;
    assert_eq!(received.len(), 1, "exactly one exec request");
    let req = &received[0];
    assert_eq!(req.method.as_str(), "POST");
    assert_eq!(req.url.path(), exec_path());
    let header = |name: &str| req.headers.get(name).map(|v| v.to_str().expect("ascii header"));
    assert_eq!(header("accept"), Some("application/x-ndjson"));
    assert_eq!(header("content-type"), Some("application/json"));
    assert_eq!(header("x-api-key"), Some(API_KEY));
    let body: Value = serde_json::from_slice(&req.body).expect("a JSON request body");
    assert_eq!(&body, expected_body);
}

#[tokio::test]
async fn stream_sends_the_ndjson_request_and_decodes_the_events() {
    let api = Api::start().await;
    let expected_body = json!({
        "command": ["sh", "-c", "cat; echo oops >&2; exit 3"],
        "timeoutSec": 30,
        "stdin": "aW5wdXQgYnl0ZXMK",
    });
    schema::validate_request("execVm", &expected_body).expect("request fixture matches the spec");
    let body = ndjson(&[
        json!({"t": "o", "d": "aW5wdXQg"}),
        json!({"t": "o", "d": "Ynl0ZXMK"}),
        json!({"t": "e", "d": "b29wcwo="}),
        json!({"t": "x", "c": 3, "ms": 42}),
    ]);
    api.respond("execVm", &exec_path(), ndjson_response(body), 1).await;

    let command = Command::sh("cat; echo oops >&2; exit 3")
        .timeout(Duration::from_secs(30))
        .stdin(b"input bytes\n".to_vec());
    let mut stream = api.client.vms().stream(VM, command).await.expect("stream");
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        events.push(event.expect("event"));
    }
    assert_eq!(
        events,
        vec![
            ExecEvent::Stdout(Bytes::from_static(b"input ")),
            ExecEvent::Stdout(Bytes::from_static(b"bytes\n")),
            ExecEvent::Stderr(Bytes::from_static(b"oops\n")),
            ExecEvent::Exit {
                code: 3,
                timed_out: false,
                duration: Some(std::time::Duration::from_millis(42)),
                diagnostic: None
            },
        ]
    );
    assert_eq!(stream.events_received(), 4);
    assert_stream_request(&api, &expected_body).await;
}

#[tokio::test]
async fn argv_without_options_sends_only_the_command() {
    let api = Api::start().await;
    let expected_body = json!({"command": ["python3", "-c", "print(1)"]});
    schema::validate_request("execVm", &expected_body).expect("request fixture matches the spec");
    let body = ndjson(&[json!({"t": "o", "d": "MQo="}), json!({"t": "x"})]);
    let out = stream_and_collect(&api, ["python3", "-c", "print(1)"], body)
        .await
        .expect("collect");
    assert_stream_request(&api, &expected_body).await;
    assert_eq!(out.stdout, b"1\n");
    assert!(out.stderr.is_empty());
    assert_eq!(out.exit.code, 0);
    assert!(out.success());
    assert_eq!(out.exit.duration, None);
}

#[tokio::test]
async fn collect_surfaces_timeout_duration_and_diagnostic() {
    let api = Api::start().await;
    let body = ndjson(&[
        json!({"t": "e", "d": "c2xlZXBpbmcK"}),
        json!({"t": "x", "c": 137, "to": true, "ms": 1500, "d": "killed after timeout"}),
    ]);
    let out = stream_and_collect(&api, "sleep 100", body).await.expect("collect");
    assert_eq!(out.stderr, b"sleeping\n");
    assert_eq!(out.exit.code, 137);
    assert!(out.exit.timed_out);
    assert!(!out.success());
    assert_eq!(out.exit.duration, Some(Duration::from_millis(1500)));
    assert_eq!(out.exit.diagnostic.as_deref(), Some("killed after timeout"));
}

#[tokio::test]
async fn tee_copies_both_streams_and_returns_the_exit() {
    let api = Api::start().await;
    let mut body = ndjson(&[json!({"t": "o", "d": "b25lCg=="}), json!({"t": "e", "d": "dHdvCg=="})]);
    // A type the spec does not list yet (so not schema-checked): skipped by tee.
    body.push_str("{\"t\":\"unknown-future-kind\",\"d\":\"ignored\"}\n");
    body.push_str(&ndjson(&[
        json!({"t": "o", "d": "dGhyZWUK"}),
        json!({"t": "x", "c": 1}),
    ]));
    api.respond("execVm", &exec_path(), ndjson_response(body), 1).await;
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let exit = api
        .client
        .vms()
        .stream(VM, "x")
        .await
        .expect("stream")
        .tee(&mut out, &mut err)
        .await
        .expect("tee");
    assert_eq!(out, b"one\nthree\n");
    assert_eq!(err, b"two\n");
    assert_eq!(exit.code, 1);
    assert!(!exit.timed_out);
    assert!(!exit.success());
}

#[tokio::test]
async fn unknown_event_types_are_kept_raw() {
    let api = Api::start().await;
    let body = "{\"t\":\"hb\",\"seq\":1}\n{\"t\":\"x\"}\n";
    api.respond("execVm", &exec_path(), ndjson_response(body), 1).await;
    let mut stream = api.client.vms().stream(VM, "x").await.expect("stream");
    assert_eq!(
        stream.next().await.expect("an event").expect("decodes"),
        ExecEvent::Unknown {
            kind: "hb".into(),
            raw: "{\"t\":\"hb\",\"seq\":1}".into()
        }
    );
    assert!(stream.next().await.expect("exit").expect("decodes").is_exit());
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn a_body_without_the_exit_event_is_stream_closed() {
    let api = Api::start().await;
    let body = ndjson(&[json!({"t": "o", "d": "YQ=="}), json!({"t": "o", "d": "Yg=="})]);
    let err = stream_and_collect(&api, "x", body).await.expect_err("no exit event");
    assert!(matches!(err, Error::StreamClosed { events: 2, .. }), "{err:?}");
}

#[tokio::test]
async fn a_malformed_line_is_a_decode_error_with_its_line_number() {
    let api = Api::start().await;
    let body = "{\"t\":\"o\",\"d\":\"YQ==\"}\n\n{\"t\":\"o\",\"d\":\"%%%\"}\n{\"t\":\"x\"}\n";
    let err = stream_and_collect(&api, "x", body).await.expect_err("bad base64");
    match err {
        Error::StreamDecode { line, snippet, .. } => {
            assert_eq!(line, 3);
            assert!(snippet.contains("%%%"), "{snippet}");
        }
        other => panic!("expected StreamDecode, got {other:?}"),
    }
}

/// Answers one `stream` with `status` and an `{error}` body (checked against the spec), on a
/// client that would retry; the returned `Api` verifies on drop that exactly one request came.
async fn error_answer(status: u16, message: &str) -> (Error, Api) {
    let api = retrying_api().await;
    api.expect("execVm", &exec_path(), status, json!({"error": message}))
        .await;
    let err = api.client.vms().stream(VM, "x").await.expect_err("an API error");
    (err, api)
}

#[tokio::test]
async fn not_found_maps_to_an_api_error() {
    let (err, _api) = error_answer(404, "vm not found").await;
    assert!(err.is_not_found(), "{err:?}");
    let api = err.api().expect("an API error");
    assert_eq!(api.status.as_u16(), 404);
    assert_eq!(api.kind, ApiErrorKind::NotFound);
    assert_eq!(api.message, "vm not found");
    assert_eq!(api.operation, Some("execVm"));
    assert!(!err.to_string().contains(API_KEY));
}

#[tokio::test]
async fn bad_gateway_maps_to_an_api_error_and_is_not_retried() {
    // `api.expect` (exactly once) in error_answer: verified when the server drops.
    let (err, _api) = error_answer(502, "vm host unreachable").await;
    let api = err.api().expect("an API error");
    assert_eq!(api.status.as_u16(), 502);
    assert_eq!(api.kind, ApiErrorKind::Server);
    assert_eq!(api.message, "vm host unreachable");
    assert!(err.is_retryable(), "the caller may retry a 502 itself");
}

#[tokio::test]
async fn unavailable_is_not_retried_even_with_retries_configured() {
    let api = retrying_api().await;
    api.respond(
        "execVm",
        &exec_path(),
        ResponseTemplate::new(503)
            .set_body_json(json!({"error": "busy"}))
            .insert_header("retry-after-ms", "1"),
        1,
    )
    .await;
    let err = api
        .client
        .with_options(RequestOptions::new().max_retries(3))
        .vms()
        .stream(VM, "x")
        .await
        .expect_err("503");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    api.server.verify().await;
}

#[tokio::test]
async fn invalid_commands_are_rejected_before_sending() {
    // Nothing is mounted: the catch-all (`expect(0)`) fails the test if a request is sent.
    let api = Api::start().await;
    let vms_client = &api.client;
    let empty: Vec<String> = Vec::new();
    let err = vms_client.vms().stream(VM, empty).await.expect_err("empty argv");
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    let err = vms_client
        .vms()
        .stream(VM, Command::sh("true").timeout(Duration::ZERO))
        .await
        .expect_err("zero timeout");
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    api.server.verify().await;
}

#[tokio::test]
async fn exec_vm_wire_run_returns_the_buffered_result_with_truncation_flags() {
    let api = Api::start().await;
    let response = json!({
        "exitCode": 2,
        "stdout": "partial output",
        "stderr": "err",
        "timedOut": false,
        "stdoutTruncated": true,
        "stderrTruncated": false,
        "durationMs": 77,
    });
    let expected_body = json!({"command": ["sh", "-c", "yes | head -c 5000000"], "timeoutSec": 10});
    // Validates the fixture against the spec's 200 response.
    api.expect("execVm", &exec_path(), 200, response).await;
    let out = api
        .client
        .vms()
        .run(
            VM,
            Command::sh("yes | head -c 5000000").timeout(Duration::from_secs(10)),
        )
        .await
        .expect("a non-zero exit is a result");
    assert_eq!(out.exit_code, 2);
    assert_eq!(out.stdout, "partial output");
    assert_eq!(out.stderr, "err");
    assert!(out.stdout_truncated);
    assert!(!out.stderr_truncated);
    assert!(!out.timed_out);
    assert_eq!(out.duration_ms, 77);
    // Checks method, path, `Accept: application/json`, `X-API-Key` and the body's schema.
    let sent = api.sent("execVm").await;
    assert_eq!(sent.json(), &expected_body);
}

#[tokio::test]
async fn a_fractional_timeout_is_rounded_up_to_whole_seconds() {
    let api = Api::start().await;
    let response = json!({
        "exitCode": 0, "stdout": "", "stderr": "", "timedOut": false,
        "stdoutTruncated": false, "stderrTruncated": false, "durationMs": 1,
    });
    api.expect("execVm", &exec_path(), 200, response).await;
    api.client
        .vms()
        .run(VM, Command::sh("true").timeout(Duration::from_millis(1500)))
        .await
        .expect("run");
    let sent = api.sent("execVm").await;
    assert_eq!(sent.json(), &json!({"command": ["sh", "-c", "true"], "timeoutSec": 2}));
}

#[tokio::test]
async fn run_is_not_retried_on_502() {
    let api = retrying_api().await;
    api.expect("execVm", &exec_path(), 502, json!({"error": "host down"}))
        .await;
    let err = api.client.vms().run(VM, "true").await.expect_err("502");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(502));
}

/// Dropping the stream mid-command closes the connection: a raw HTTP server sends one event,
/// keeps the response open, and reports when the client hangs up.
#[tokio::test]
async fn dropping_the_stream_aborts_the_request() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        // Read the head and the (small) JSON body.
        while !request.windows(4).any(|w| w == b"\r\n\r\n") || !request.ends_with(b"}") {
            let n = socket.read(&mut buf).await.expect("read");
            assert!(n > 0, "client closed before sending the request");
            request.extend_from_slice(&buf[..n]);
        }
        let line = b"{\"t\":\"o\",\"d\":\"c3RhcnRlZAo=\"}\n";
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\n\r\n";
        socket.write_all(head.as_bytes()).await.expect("write head");
        socket
            .write_all(format!("{:x}\r\n", line.len()).as_bytes())
            .await
            .expect("write");
        socket.write_all(line).await.expect("write");
        socket.write_all(b"\r\n").await.expect("write");
        // Never finish the body: only the client closing the connection ends this read.
        let closed = loop {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => break true,
                Ok(_) => continue,
            }
        };
        let _ = closed_tx.send(closed);
    });
    let client = FastvmClient::builder()
        .api_key(API_KEY)
        .base_url(format!("http://{addr}"))
        .build()
        .expect("client");
    let mut stream = client.vms().stream(VM, "sleep 3600").await.expect("stream");
    assert_eq!(
        stream.next().await.expect("event").expect("decodes"),
        ExecEvent::Stdout(Bytes::from_static(b"started\n"))
    );
    drop(stream);
    // The guard only keeps a broken build from hanging CI; it is not what is asserted.
    let closed = tokio::time::timeout(Duration::from_secs(30), closed_rx)
        .await
        .expect("the connection was not closed after the stream was dropped")
        .expect("server task");
    assert!(closed);
}
