//! What the fake's own tests share.

use axum::body::Body;
use fastvm_fake::FakeServer;
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// A fresh HTTP/1.1 connection to `addr` (`host:port`) with hyper's own client: the fake is
/// tested without the SDK's or reqwest's request handling in between.
pub async fn connect(addr: &str) -> hyper::client::conn::http1::SendRequest<Body> {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

/// One request with the key, on a fresh connection with hyper's own client; status and JSON
/// body (`Null` for an empty body or an error answer that is not JSON).
#[allow(dead_code)] // Not every test file uses it.
pub async fn call(server: &FakeServer, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let addr = server.base_url().strip_prefix("http://").unwrap();
    let mut sender = connect(addr).await;
    let req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr)
        .header("x-api-key", server.api_key())
        .header("content-type", "application/json");
    let body = body.map_or_else(Body::empty, |b| Body::from(serde_json::to_vec(&b).unwrap()));
    let resp = sender.send_request(req.body(body).unwrap()).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(Body::new(resp.into_body()), usize::MAX)
        .await
        .unwrap();
    // A 2xx answer must be JSON (or empty); an error answer may be text (a refused upgrade).
    let v = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(_) if bytes.is_empty() || status >= 400 => Value::Null,
        Err(e) => panic!("{status}: {e}: {bytes:?}"),
    };
    (status, v)
}
