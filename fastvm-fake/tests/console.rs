//! The console WebSocket over real HTTP (loopback), driven by a plain WebSocket client that
//! knows only the documented protocol: the token and path from `console-token`, no API key on
//! the upgrade, binary output frames, text keystrokes, JSON resize frames.

mod common;

use common::call;
use std::time::Duration;

use fastvm_fake::FakeServer;
use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::{self, Message};

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn launch(server: &FakeServer) -> String {
    let (status, vm) = call(server, "POST", "/v1/vms", Some(json!({ "machineType": "c1m2" }))).await;
    assert_eq!(status, 201, "{vm}");
    vm["id"].as_str().unwrap().to_string()
}

/// The WebSocket URL of a fresh token: (url, expiresInSec).
async fn console_url(server: &FakeServer, vm: &str) -> (String, i64) {
    let (status, tok) = call(server, "POST", &format!("/v1/vms/{vm}/console-token"), None).await;
    assert_eq!(status, 200, "{tok}");
    let ws_base = server.base_url().replacen("http://", "ws://", 1);
    let url = format!(
        "{ws_base}{}?session={}",
        tok["websocketPath"].as_str().unwrap(),
        tok["token"].as_str().unwrap()
    );
    (url, tok["expiresInSec"].as_i64().unwrap())
}

/// The HTTP status of a refused upgrade.
async fn refused(url: &str) -> u16 {
    match tokio_tungstenite::connect_async(url).await {
        Err(tungstenite::Error::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("expected an HTTP refusal, got {e}"),
        Ok(_) => panic!("the upgrade was accepted"),
    }
}

/// Reads output frames until their text contains `needle`; panics after 20 s.
async fn read_until(ws: &mut Ws, needle: &str) -> String {
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(msg) = ws.next().await {
            match msg.unwrap() {
                Message::Binary(b) => seen.push_str(&String::from_utf8_lossy(&b)),
                Message::Text(t) => panic!("output comes as binary frames, got text {t:?}"),
                Message::Close(c) => panic!("closed ({c:?}) before {needle:?}; output: {seen}"),
                _ => {}
            }
            if seen.contains(needle) {
                return true;
            }
        }
        false
    })
    .await;
    assert!(matches!(found, Ok(true)), "no {needle:?} in the output: {seen}");
    seen
}

/// Reads until the server's close frame; its code.
async fn close_code(ws: &mut Ws) -> u16 {
    let code = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(msg) = ws.next().await {
            match msg {
                Ok(Message::Close(Some(frame))) => return u16::from(frame.code),
                Ok(Message::Close(None)) => return 1005,
                Ok(_) => {}
                Err(e) => panic!("no close frame: {e}"),
            }
        }
        panic!("the stream ended without a close frame")
    })
    .await;
    code.expect("the server closes the console")
}

#[tokio::test]
async fn typed_commands_run_in_the_vm_and_resizes_reach_its_terminal() {
    let server = FakeServer::start().await.unwrap();
    let vm = launch(&server).await;
    let (url, expires) = console_url(&server, &vm).await;
    assert_eq!(expires, 60);
    // No API key on the upgrade: the token is the credential.
    let (mut ws, resp) = tokio_tungstenite::connect_async(&url).await.unwrap();
    assert_eq!(resp.status().as_u16(), 101);

    ws.send(Message::text(r#"{"type":"resize","cols":101,"rows":33}"#))
        .await
        .unwrap();
    ws.send(Message::text("stty size; echo mark-$((6*7))\r")).await.unwrap();
    let out = read_until(&mut ws, "mark-42").await;
    assert!(out.contains("33 101"), "stty size shows the resize: {out}");
    assert!(
        !out.contains(r#""type":"resize""#),
        "a resize frame is not typed: {out}"
    );

    // Files written in the console are the VM's (relative to its working directory).
    ws.send(Message::text(
        "echo from-console > console.txt; pwd; echo written-$((1+1))\r",
    ))
    .await
    .unwrap();
    let out = read_until(&mut ws, "written-2").await;
    if server.isolated() {
        assert!(out.contains("/root"), "the VM's working directory: {out}");
    }
    let host = server.vm_path(&vm, "console.txt").unwrap();
    assert_eq!(std::fs::read_to_string(host).unwrap(), "from-console\n");

    // Pings are answered.
    ws.send(Message::Ping(b"p".to_vec().into())).await.unwrap();
    let pong = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Message::Pong(p) = ws.next().await.unwrap().unwrap() {
                return p;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(&pong[..], b"p");

    // The shell exiting ends the session with a normal close.
    ws.send(Message::text("exit\r")).await.unwrap();
    assert_eq!(close_code(&mut ws).await, 1000);
    server.shutdown().await;
}

#[tokio::test]
async fn tokens_are_single_use_expire_and_are_checked_before_the_upgrade() {
    let server = FakeServer::start().await.unwrap();
    let vm = launch(&server).await;

    let (url, _) = console_url(&server, &vm).await;
    let (ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    drop(ws);
    assert_eq!(refused(&url).await, 401, "a used token");

    let (url, _) = console_url(&server, &vm).await;
    server.advance(Duration::from_secs(61));
    assert_eq!(refused(&url).await, 401, "an expired token");

    let ws_base = server.base_url().replacen("http://", "ws://", 1);
    let path = format!("{ws_base}/v1/vms/{vm}/console/ws");
    assert_eq!(refused(&path).await, 401, "no token");
    assert_eq!(refused(&format!("{path}?session=nope")).await, 401, "an unknown token");

    // A token is for its VM only.
    let other = launch(&server).await;
    let (url, _) = console_url(&server, &other).await;
    let wrong = url.replace(&other, &vm);
    assert_eq!(refused(&wrong).await, 401, "another VM's token");

    // A plain GET (no upgrade) is refused and does not spend the token.
    let (url, _) = console_url(&server, &vm).await;
    let path_and_query = url.strip_prefix(&ws_base).unwrap();
    let (status, _) = call(&server, "GET", path_and_query, None).await;
    assert!(status >= 400, "{status}");
    assert!(tokio_tungstenite::connect_async(&url).await.is_ok());

    // No token for a VM that does not run.
    let (status, _) = call(&server, "POST", &format!("/v1/vms/{vm}/pause"), None).await;
    assert_eq!(status, 200);
    let (status, _) = call(&server, "POST", &format!("/v1/vms/{vm}/console-token"), None).await;
    assert_eq!(status, 409);
    server.shutdown().await;
}

#[tokio::test]
async fn deleting_the_vm_closes_its_console() {
    let server = FakeServer::start().await.unwrap();
    let vm = launch(&server).await;
    let (url, _) = console_url(&server, &vm).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    ws.send(Message::text("echo up-$((2+3))\r")).await.unwrap();
    read_until(&mut ws, "up-5").await;
    let (status, _) = call(&server, "DELETE", &format!("/v1/vms/{vm}"), None).await;
    assert_eq!(status, 200);
    let code = close_code(&mut ws).await;
    // 1001 when the watch sees it first, 1000 when the VM's processes die first (isolation).
    assert!(code == 1001 || code == 1000, "{code}");
    server.shutdown().await;
}
