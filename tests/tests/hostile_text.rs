//! What a hostile or broken server sends reaches error messages only cleaned: the client's own
//! API key and console tokens echoed back, signatures written without their URL, control
//! characters (terminal escapes, line breaks); 2xx answers are read up to a bound; each text
//! of an error is printed once, also by a printer that walks `source()` as anyhow's `{:#}` does.
//!
//! The servers are wiremock, `fastvm-fake` and raw TCP listeners on 127.0.0.1.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::{API_KEY, Api, json_response};
use fastvm::{Error, FastvmClient};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

/// An error as a printer that walks the source chain shows it (anyhow's `{:#}`: each level's
/// `Display`, joined with `": "`), then its `Debug`, and the `Debug` of every source.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut shown = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        shown.push_str(": ");
        shown.push_str(&s.to_string());
        source = s.source();
    }
    shown
}

/// Everything an error shows: its chain as [`chain`] prints it, and the `Debug` of each level.
fn everything(error: &(dyn std::error::Error + 'static)) -> String {
    let mut shown = format!("{} {error:?}", chain(error));
    let mut source = error.source();
    while let Some(s) = source {
        shown.push_str(&format!(" {s:?}"));
        source = s.source();
    }
    shown
}

/// No control character (ESC, BEL, CR, LF, …), line separator or bidirectional override.
fn assert_one_safe_line(shown: &str) {
    let bad: Vec<char> = shown
        .chars()
        .filter(|&c| {
            c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}')
                || ('\u{202a}'..='\u{202e}').contains(&c)
                || ('\u{2066}'..='\u{2069}').contains(&c)
        })
        .collect();
    assert!(bad.is_empty(), "control characters {bad:?} in {shown:?}");
}

const ID: &str = "vm-1";

#[tokio::test]
async fn an_api_error_that_echoes_the_api_key_does_not_show_it() {
    let api = Api::start().await;
    let vm_path = format!("/v1/vms/{ID}");
    // The key in the `error` text, in another member, and in a body that is not JSON.
    let echo = json!({ "error": format!("invalid API key {API_KEY}"), "sent": { "x-api-key": API_KEY } });
    api.respond_first("getVm", &vm_path, json_response(401, &echo), 1).await;
    let refused = api.client.vms().retrieve(ID).await.unwrap_err();
    api.respond_first(
        "getVm",
        &vm_path,
        ResponseTemplate::new(502).set_body_string(format!("<html>bad gateway for key={API_KEY}</html>")),
        1,
    )
    .await;
    let plain = api.client.vms().retrieve(ID).await.unwrap_err();
    // A 2xx that does not decode, quoting the key in its snippet.
    api.respond_first(
        "getVm",
        &vm_path,
        ResponseTemplate::new(200).set_body_raw(format!("<html>{API_KEY}</html>"), "application/json"),
        1,
    )
    .await;
    let decode = api.client.vms().retrieve(ID).await.unwrap_err();
    assert!(matches!(decode, Error::Decode { .. }), "{decode:?}");

    for error in [&refused, &plain, &decode] {
        let shown = everything(error);
        assert!(!shown.contains(API_KEY), "the API key is shown: {shown}");
        assert!(shown.contains("getVm"), "{shown}");
    }
    let api_error = refused.api().expect("an API error");
    assert_eq!(api_error.status.as_u16(), 401);
    assert!(!api_error.message.contains(API_KEY) && !api_error.body.contains(API_KEY));
    assert!(api_error.message.contains("invalid API key"), "{}", api_error.message);
    assert!(plain.to_string().contains("bad gateway"), "{plain}");
}

#[tokio::test]
async fn control_characters_in_a_server_error_are_escaped() {
    let api = Api::start().await;
    let vm_path = format!("/v1/vms/{ID}");
    let hostile = "denied\u{1b}[2J\u{1b}]0;owned\u{7}\r\nsecond line\u{202e}txt.exe\u{85}";
    let body = json!({ "error": hostile, "dimension": "vcpu\r\nx" });
    api.respond_first("getVm", &vm_path, json_response(429, &body), 1).await;
    let err = api.client.vms().retrieve(ID).await.unwrap_err();
    let shown = chain(&err);
    assert_one_safe_line(&shown);
    assert_one_safe_line(&err.api().expect("an API error").message);
    // Escaped as Rust's Debug does, so what the server sent can still be told.
    assert!(shown.contains(r"denied\u{1b}[2J"), "{shown}");
    assert!(shown.contains(r"\r\nsecond line\u{202e}"), "{shown}");

    // A body that is not JSON, with line breaks.
    api.respond_first(
        "getVm",
        &vm_path,
        ResponseTemplate::new(500).set_body_string("line one\nline two\u{1b}[0m"),
        1,
    )
    .await;
    let err = api.client.vms().retrieve(ID).await.unwrap_err();
    assert_one_safe_line(&chain(&err));
    assert!(err.to_string().contains("line one"), "{err}");
}

/// A storage error whose body writes a signature without its URL (not the one of the request's
/// URL, so only its parameter's name tells it is one), with a terminal escape.
#[tokio::test]
async fn a_storage_error_with_a_bare_signature_parameter_is_redacted() {
    const OWN: &str = "X-Amz-Signature=ownsig0123456789abcdef";
    const BARE: &str = "feedface0123456789bare";
    let api = Api::start().await;
    let base = api.server.uri();
    let presigned = json!({
        "uploadUrl": format!("{base}/storage/obj?{OWN}&op=put"),
        "downloadUrl": format!("{base}/storage/obj?{OWN}&op=get"),
        "expiresInSec": 600,
        "maxUploadBytes": 1_000_000,
    });
    api.expect("presignFile", &format!("/v1/vms/{ID}/files/presign"), 200, presigned)
        .await;
    Mock::given(method("PUT"))
        .and(path("/storage/obj"))
        .respond_with(ResponseTemplate::new(403).set_body_string(format!(
            "SignatureDoesNotMatch\r\n\u{1b}[31mexpected X-Signature={BARE}&sig={BARE}x for /storage/obj\u{7}"
        )))
        .mount(&api.server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, b"data").unwrap();
    let err = api.client.upload(ID, &file, "/root/f").await.unwrap_err();
    let shown = everything(&err);
    for secret in [BARE, "ownsig0123456789abcdef"] {
        assert!(!shown.contains(secret), "{secret} shown: {shown}");
    }
    assert!(
        shown.contains("X-Signature=<redacted>"),
        "the name tells what was there: {shown}"
    );
    assert!(shown.contains("SignatureDoesNotMatch"), "{shown}");
    assert_one_safe_line(&chain(&err));
    let transfer = err.file_transfer().expect("a transfer error");
    assert_eq!(transfer.status().map(|s| s.as_u16()), Some(403));
    assert_one_safe_line(&transfer.message);
}

/// A failed command whose stderr holds a bare signature parameter and terminal escapes: its
/// message (the last line of stderr) shows neither, against the fake.
#[tokio::test]
async fn a_failed_command_message_has_no_bare_signature_and_no_escape() {
    const BARE: &str = "cafe0123456789abcdefsig";
    let (server, client, id) = fastvm_tests::fake::with_vm("hostile-stderr").await;
    let script = format!("printf 'first\\n\\033]0;title\\007GET /o?X-Signature={BARE} denied\\r\\n' >&2; exit 3");
    let out = client.vms().run(&id, fastvm::exec::Command::sh(script)).await.unwrap();
    let err = out.check().unwrap_err();
    let shown = chain(&err);
    assert!(matches!(err, Error::CommandFailed { .. }), "{err:?}");
    assert!(!format!("{shown} {err:?}").contains(BARE), "{shown} {err:?}");
    assert_one_safe_line(&shown);
    assert!(
        shown.contains(r"\u{1b}]0;title\u{7}GET /o?X-Signature=<redacted> denied"),
        "{shown}"
    );
    server.shutdown().await;
}

/// A console refused by a server that echoes the token it was given and the API key, with
/// terminal escapes: the message shows none of them.
#[tokio::test]
async fn a_refused_console_shows_no_echoed_secret_and_no_escape() {
    let (server, client, id) = fastvm_tests::fake::with_vm("hostile-console").await;
    let key = server.api_key().to_string();
    server.faults().push(
        "consoleWebSocket",
        fastvm_fake::Fault::status(403).body(json!({
            "error": format!("bad key {key}\r\n\u{1b}[1mtry session=abcdef0123456789\u{7}")
        })),
    );
    let err = client.console(&id).await.unwrap_err();
    let shown = everything(&err);
    assert!(matches!(err, Error::Console { .. }), "{err:?}");
    assert!(!shown.contains(&key), "the API key is shown: {shown}");
    assert!(!shown.contains("abcdef0123456789"), "{shown}");
    assert!(shown.contains("bad key"), "{shown}");
    assert_one_safe_line(&chain(&err));
    server.shutdown().await;
}

/// A raw HTTP/1.1 server on 127.0.0.1 that answers every connection with `answer` after
/// reading the request head; returns its base URL and how many bytes it wrote in all.
async fn raw_server<F, Fut>(answer: F) -> (String, Arc<AtomicU64>)
where
    F: Fn(tokio::net::TcpStream, Arc<AtomicU64>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let written = Arc::new(AtomicU64::new(0));
    let counter = written.clone();
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let answer = answer.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match socket.read(&mut byte).await {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                answer(socket, counter).await;
            });
        }
    });
    (base, written)
}

fn client_for(base: &str) -> FastvmClient {
    FastvmClient::builder()
        .api_key(API_KEY)
        .base_url(base)
        .max_retries(0)
        .build()
        .unwrap()
}

const HUNDRED_MB: u64 = 100 * 1000 * 1000;

/// Writes a 200 JSON answer of 100 MB of spaces, chunked (or with its `Content-Length`), until
/// the client stops reading.
async fn huge_answer(mut socket: tokio::net::TcpStream, written: Arc<AtomicU64>, with_length: bool) {
    let head = if with_length {
        format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {HUNDRED_MB}\r\n\r\n")
    } else {
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n".to_string()
    };
    if socket.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let block = vec![b' '; 1 << 20];
    let mut sent = 0u64;
    while sent < HUNDRED_MB {
        let piece = &block[..block.len().min((HUNDRED_MB - sent) as usize)];
        let framed = if with_length {
            piece.to_vec()
        } else {
            [format!("{:x}\r\n", piece.len()).as_bytes(), piece, b"\r\n"].concat()
        };
        if socket.write_all(&framed).await.is_err() {
            return;
        }
        sent += piece.len() as u64;
        written.fetch_add(piece.len() as u64, Ordering::SeqCst);
    }
    let _ = socket.write_all(b"0\r\n\r\n").await;
}

/// A 100 MB 2xx answer, to a generated call (`getVm`) and to a hand-built one (`listVms`),
/// chunked or with its length: a clean decode error naming the limit, and the client stops
/// reading at the limit (the server could not write much past it).
#[tokio::test]
async fn a_huge_success_answer_is_refused_at_the_limit() {
    for with_length in [false, true] {
        let (base, written) = raw_server(move |s, w| huge_answer(s, w, with_length)).await;
        let client = client_for(&base);
        let errors = [
            client.vms().retrieve(ID).await.map(|_| ()).unwrap_err(),
            client.vms().list().await.map(|_| ()).unwrap_err(),
        ];
        for err in errors {
            assert!(matches!(err, Error::Decode { .. }), "{err:?}");
            let shown = err.to_string();
            assert!(shown.contains("larger than 32 MiB"), "{shown}");
            assert!(!shown.contains("body starts"), "nothing of the body is quoted: {shown}");
        }
        // Each answer is over once the client stops reading: the server wrote at most the
        // limit and what the sockets' buffers took, far from 100 MB (two answers).
        let wrote = written.load(Ordering::SeqCst);
        assert!(wrote < 2 * 48 * (1 << 20), "the server wrote {wrote} bytes");
    }
}

/// An answer whose body stalls past the client's timeout: a timeout whose message says each
/// thing once (reqwest nests its body error in another of the same text), and whose chain, as
/// anyhow prints it, repeats nothing.
#[tokio::test]
async fn a_body_timeout_says_each_thing_once() {
    let (base, _) = raw_server(|mut socket, _| async move {
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"id\":";
        let _ = socket.write_all(head.as_bytes()).await;
        // Never more: the client gives up.
        let mut rest = [0u8; 1];
        let _ = socket.read(&mut rest).await;
    })
    .await;
    let client = FastvmClient::builder()
        .api_key(API_KEY)
        .base_url(&base)
        .max_retries(0)
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = client.vms().retrieve(ID).await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    let shown = chain(&err);
    assert_eq!(shown.matches("request or response body error").count(), 1, "{shown}");
    assert_eq!(
        shown.matches("timed out").count(),
        2,
        "`timed out: ... operation timed out`: {shown}"
    );
}

/// The anyhow-style chain of every kind of error prints each text once: a message that
/// includes its source's text does not also return it as `source()`.
#[tokio::test]
async fn error_chains_print_each_text_once() {
    let mut errors: Vec<Error> = Vec::new();
    // A refused connection.
    let closed = format!("http://127.0.0.1:{}", common::closed_port());
    errors.push(client_for(&closed).vms().retrieve(ID).await.unwrap_err());
    // A local file that does not exist (an I/O error under a transfer error).
    let api = Api::start().await;
    errors.push(
        api.client
            .upload(ID, std::path::Path::new("/nonexistent/fastvm-chain-test"), "/root/x")
            .await
            .unwrap_err(),
    );
    // A 2xx that does not decode.
    api.respond_first(
        "getVm",
        &format!("/v1/vms/{ID}"),
        ResponseTemplate::new(200).set_body_raw(r#"{"id": 5}"#, "application/json"),
        1,
    )
    .await;
    errors.push(api.client.vms().retrieve(ID).await.unwrap_err());
    // A console whose connection is refused.
    let (server, client, id) = fastvm_tests::fake::with_vm("chain-console").await;
    server.faults().push(
        "consoleWebSocket",
        fastvm_fake::Fault::status(500).body(json!({ "error": "down" })),
    );
    errors.push(client.console(&id).await.unwrap_err());
    server.shutdown().await;

    for err in &errors {
        let shown = chain(err);
        // The whole story is the message itself.
        assert_eq!(shown, err.to_string(), "{err:?}");
        assert!(std::error::Error::source(err).is_none(), "{err:?}");
        if let Some(transfer) = err.file_transfer() {
            assert!(std::error::Error::source(transfer).is_none(), "{transfer:?}");
        }
        // No part said twice in a row (`a: a`).
        let parts: Vec<&str> = shown.split(": ").collect();
        assert!(parts.windows(2).all(|w| w[0] != w[1]), "{shown}");
    }
    // What the sources said is in the messages.
    assert!(
        errors[0].to_string().to_lowercase().contains("connect"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].to_string().contains("No such file or directory") || errors[1].to_string().contains("no such file")
    );
    assert!(errors[2].to_string().contains("invalid type"), "{}", errors[2]);
}
