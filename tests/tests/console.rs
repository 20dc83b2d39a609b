//! Console sessions through the SDK, with no terminal: against `fastvm-fake` (a real shell on a
//! pseudo-terminal in the VM) and, for what the upgrade request carries, against wiremock.

use std::time::Duration;

use fastvm::console::ConsoleOutput;
use fastvm::{Error, FastvmClient};
use fastvm_fake::Fault;
use futures::StreamExt;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Reads output until it contains `needle` (20 s at most); everything read.
async fn read_until<S>(output: &mut S, needle: &str) -> String
where
    S: futures::Stream<Item = fastvm::Result<bytes::Bytes>> + Unpin,
{
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(chunk) = output.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk.expect("console output")));
            if seen.contains(needle) {
                return true;
            }
        }
        false
    })
    .await;
    assert!(matches!(found, Ok(true)), "no {needle:?} in the console output: {seen}");
    seen
}

/// Reads the output to its end (20 s at most).
async fn drain(output: &mut ConsoleOutput) {
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(chunk) = output.next().await {
            chunk.expect("a clean end");
        }
    })
    .await
    .expect("the console output ends");
}

#[tokio::test]
async fn a_console_runs_typed_commands_sees_resizes_and_ends_when_the_shell_exits() {
    let (server, client, id) = fastvm_tests::fake::with_vm("console").await;
    let mut console = client.console(&id).await.expect("console");
    assert_eq!(console.vm_id(), id);
    assert!(!format!("{console:?}").contains("session"), "{console:?}");

    console.resize(91, 27).await.unwrap();
    // A multi-byte character split across two sends arrives whole.
    let euro = "€".as_bytes();
    console.send(b"stty size; echo done-$((3*3)) ").await.unwrap();
    console.send(&euro[..1]).await.unwrap();
    console.send(&euro[1..]).await.unwrap();
    console.send(b"\r").await.unwrap();
    let out = read_until(&mut console, "done-9 €").await;
    assert!(out.contains("27 91"), "stty size inside the VM: {out}");

    // Files written in the console are the VM's own.
    console
        .send_text("echo console-file > made-in-console.txt; echo saved-$((1+1))\r")
        .await
        .unwrap();
    read_until(&mut console, "saved-2").await;
    let host = server.vm_path(&id, "made-in-console.txt").unwrap();
    assert_eq!(std::fs::read_to_string(host).unwrap(), "console-file\n");

    let (input, mut output) = console.split();
    input.send_text("exit\r").await.unwrap();
    drain(&mut output).await;
    assert_eq!(output.close_frame().map(|c| c.code), Some(1000));
    assert!(output.next().await.is_none(), "the end is final");
    // Sending to a closed console is an error, not a panic; closing it again is fine.
    let err = loop {
        match input.send_text("late\r").await {
            Ok(()) => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(e) => break e,
        }
    };
    assert!(matches!(err, Error::Console { .. }), "{err}");
    input.close().await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn vm_console_closes_with_a_handshake_and_each_session_gets_a_fresh_token() {
    let (server, client, id) = fastvm_tests::fake::with_vm("console-close").await;
    let vm = client.attach(&id).await.unwrap();
    let console = vm.console().await.expect("first console");
    let (input, mut output) = console.split();
    // Output is read on another task while this one types.
    let reader = tokio::spawn(async move {
        let seen = read_until(&mut output, "from-task-7").await;
        (output, seen)
    });
    input.send(b"echo from-task-$((3+4))\r").await.unwrap();
    let (mut output, _) = reader.await.unwrap();
    input.close().await.unwrap();
    drain(&mut output).await;

    // A second session on the same VM (a new token each time) works as well.
    let second = vm.console().await.expect("second console");
    second.send_text("echo again-$((5*5))\r").await.unwrap();
    let mut second = second;
    read_until(&mut second, "again-25").await;
    second.close().await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn a_refused_upgrade_is_a_console_error_with_its_status() {
    let (server, client, id) = fastvm_tests::fake::with_vm("console-refused").await;
    server.faults().push(
        "consoleWebSocket",
        Fault::status(403).body(serde_json::json!({ "error": "nope" })),
    );
    let err = client.console(&id).await.unwrap_err();
    match &err {
        Error::Console { status, message, .. } => {
            assert_eq!(status.map(|s| s.as_u16()), Some(403), "{err}");
            assert!(message.contains("403") && message.contains("nope"), "{message}");
            assert!(!message.contains("session="), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // No console for a VM that does not run: the token call's 409.
    client.vms().pause(&id).await.unwrap();
    let err = client.console(&id).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(409), "{err}");
    server.shutdown().await;
}

#[tokio::test]
async fn the_upgrade_carries_the_token_but_no_api_key_or_default_headers() {
    let api = MockServer::start().await;
    let token = "tok_SECRET-1234567890";
    Mock::given(method("POST"))
        .and(path("/base/v1/vms/vm-1/console-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "token": token,
            "expiresInSec": 60,
            "websocketPath": "/v1/vms/vm-1/console/ws",
        })))
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path("/base/v1/vms/vm-1/console/ws"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({ "error": "expired" })))
        .mount(&api)
        .await;
    let client = FastvmClient::builder()
        .api_key("hlm_api_key_secret")
        .base_url(format!("{}/base", api.uri()))
        .default_header("X-Team", "infra-secret")
        .max_retries(0)
        .build()
        .unwrap();
    let err = client.console("vm-1").await.unwrap_err();
    let shown = format!("{err} | {err:?}");
    assert!(!shown.contains("SECRET"), "the token leaked: {shown}");
    assert!(
        shown.contains("ws://127.0.0.1:") && shown.contains("/base/v1/vms/vm-1/console/ws"),
        "{shown}"
    );
    assert_eq!(err_status(&err), Some(401));

    let requests = api.received_requests().await.unwrap();
    let upgrade = requests
        .iter()
        .find(|r| r.method.as_str() == "GET")
        .expect("the upgrade request");
    assert_eq!(upgrade.url.query(), Some(format!("session={token}").as_str()));
    assert_eq!(upgrade.headers.get("upgrade").unwrap(), "websocket");
    assert!(upgrade.headers.get("x-api-key").is_none(), "{:?}", upgrade.headers);
    assert!(upgrade.headers.get("x-team").is_none(), "{:?}", upgrade.headers);
    assert!(
        upgrade.headers["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("fastvm-rs/"),
        "{:?}",
        upgrade.headers
    );
    // The token call itself is an ordinary API call.
    let mint = requests.iter().find(|r| r.method.as_str() == "POST").unwrap();
    assert_eq!(mint.headers["x-api-key"], "hlm_api_key_secret");
}

fn err_status(e: &Error) -> Option<u16> {
    match e {
        Error::Console { status, .. } => status.map(|s| s.as_u16()),
        _ => None,
    }
}
