//! The console: `POST /v1/vms/{id}/console-token` mints a session token, and the WebSocket at
//! the `websocketPath` it returns (`GET /v1/vms/{id}/console/ws?session=<token>`) attaches to a
//! shell on a pseudo-terminal in the VM ([`crate::pty`]).
//!
//! The protocol is the official CLI's: server to client, binary frames of raw terminal output;
//! client to server, text frames of keystrokes, except a JSON text frame
//! `{"type":"resize","cols":N,"rows":N}`, which resizes the terminal. Binary frames from the
//! client are taken as keystrokes too.
//!
//! Tokens are single use and expire after [`TOKEN_TTL`] on the server's clock (so
//! `FakeServer::advance` expires them); the upgrade needs no API key (the token is the
//! capability), and a missing, unknown, used or expired token is refused with 401 before
//! upgrading. The session ends when the shell exits (close code 1000), and when the VM is
//! deleted or paused or the server shuts down (1001).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::pty::Pty;
use crate::routes::vm_mut;
use crate::state::{Shared, Status};

/// How long a console token can be used (`expiresInSec`).
pub const TOKEN_TTL: Duration = Duration::from_secs(60);

/// The terminal size until the client's first resize frame.
const INITIAL_SIZE: (u16, u16) = (80, 24);

/// How often a session checks that its VM still exists and runs.
const VM_CHECK: Duration = Duration::from_millis(250);

/// The console's routes, with their own state (the tokens) over the server's.
pub fn routes(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    Router::new()
        .route("/v1/vms/{id}/console-token", post(mint))
        .route("/v1/vms/{id}/console/ws", get(attach))
        .with_state(Console {
            shared,
            tokens: Arc::default(),
        })
}

#[derive(Clone)]
struct Console {
    shared: Arc<Shared>,
    /// Unused tokens: token -> (VM, expiry in ms on the fake clock).
    tokens: Arc<Mutex<HashMap<String, (Uuid, i64)>>>,
}

impl Console {
    fn tokens(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Uuid, i64)>> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `POST /v1/vms/{id}/console-token`.
async fn mint(State(c): State<Console>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let (vm_id, now) = {
        let (mut g, now) = c.shared.lock();
        let vm = vm_mut(&mut g, &id)?;
        if vm.status != Status::Running {
            return Err(ApiError::conflict("vm is not running"));
        }
        (vm.id, now)
    };
    let token = hex::encode(rand::random::<[u8; 24]>());
    let mut tokens = c.tokens();
    tokens.retain(|_, (_, expires)| *expires > now);
    tokens.insert(token.clone(), (vm_id, now + TOKEN_TTL.as_millis() as i64));
    Ok(Json(json!({
        "token": token,
        "expiresInSec": TOKEN_TTL.as_secs(),
        "websocketPath": format!("/v1/vms/{vm_id}/console/ws"),
    })))
}

/// `GET /v1/vms/{id}/console/ws?session=<token>`: the WebSocket upgrade.
async fn attach(
    State(c): State<Console>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    // Not a WebSocket request: refused before the token is looked at (and so not spent).
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(rejection) => return rejection.into_response(),
    };
    let Some(token) = q.get("session").filter(|t| !t.is_empty()) else {
        return ApiError::new(StatusCode::UNAUTHORIZED, "missing session token").into_response();
    };
    let (fs, env) = {
        let (mut g, now) = c.shared.lock();
        // Spent whatever happens next: a token is good for one attempt.
        let entry = c.tokens().remove(token);
        let vm_id = match entry {
            Some((vm, expires)) if expires > now && id.parse::<Uuid>().ok() == Some(vm) => vm,
            _ => {
                return ApiError::new(StatusCode::UNAUTHORIZED, "invalid or expired console session").into_response();
            }
        };
        let vm = match vm_mut(&mut g, &vm_id.to_string()) {
            Ok(vm) => vm,
            Err(e) => return e.into_response(),
        };
        if vm.status != Status::Running {
            return ApiError::conflict("vm is not running").into_response();
        }
        (vm.fs.clone(), vm.env.clone())
    };
    let pty = match Pty::spawn(&fs, &env, INITIAL_SIZE.0, INITIAL_SIZE.1).await {
        Ok(pty) => pty,
        Err(e) => {
            return ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot start the console shell: {e}"),
            )
            .into_response();
        }
    };
    let vm_id: Uuid = id.parse().unwrap_or_default();
    upgrade.on_upgrade(move |socket| session(c.shared, vm_id, pty, socket))
}

/// Why a session ended, sent as the close frame.
fn close_frame(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// A resize frame's size, if `text` is one.
fn resize_of(text: &str) -> Option<(u16, u16)> {
    let text = text.trim();
    if !(text.starts_with('{') && text.ends_with('}')) {
        return None;
    }
    let v: Value = serde_json::from_str(text).ok()?;
    if v.get("type")?.as_str()? != "resize" {
        return None;
    }
    let dim = |name: &str| {
        v.get(name)
            .and_then(Value::as_u64)
            .map(|n| n.clamp(1, u16::MAX as u64) as u16)
    };
    Some((dim("cols")?, dim("rows")?))
}

/// Pumps the terminal and the socket until one side ends.
async fn session(shared: Arc<Shared>, vm_id: Uuid, pty: Pty, socket: WebSocket) {
    let (mut tx, mut rx) = socket.split();
    let output = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match pty.read(&mut buf).await {
                Ok(0) | Err(_) => return close_frame(1000, "the shell exited"),
                Ok(n) => {
                    if tx
                        .send(Message::Binary(axum::body::Bytes::copy_from_slice(&buf[..n])))
                        .await
                        .is_err()
                    {
                        return close_frame(1000, "");
                    }
                }
            }
        }
    };
    let input = async {
        while let Some(Ok(msg)) = rx.next().await {
            let written = match msg {
                Message::Text(t) => match resize_of(t.as_str()) {
                    Some((cols, rows)) => pty.resize(cols, rows),
                    None => pty.write_all(t.as_bytes()).await,
                },
                Message::Binary(b) => pty.write_all(&b).await,
                Message::Close(_) => break,
                // Pongs to pings are sent by the socket itself.
                Message::Ping(_) | Message::Pong(_) => Ok(()),
            };
            if written.is_err() {
                break;
            }
        }
        close_frame(1000, "")
    };
    let watch = async {
        loop {
            tokio::time::sleep(VM_CHECK).await;
            let status = {
                let (g, _) = shared.lock();
                g.vms.get(&vm_id).map(|vm| vm.status)
            };
            match status {
                Some(Status::Running) => {}
                Some(_) => return close_frame(1001, "the vm is no longer running"),
                None => return close_frame(1001, "the vm was deleted"),
            }
        }
    };
    // `output` borrows `tx` and `pty`, `input` borrows `pty` too: they finish before either is
    // used again below.
    let close = {
        tokio::pin!(output, input, watch);
        tokio::select! {
            m = &mut output => m,
            m = &mut input => m,
            m = &mut watch => m,
        }
    };
    let _ = tx.send(close).await;
    let _ = tx.close().await;
    pty.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_frames_are_told_from_keystrokes() {
        assert_eq!(resize_of(r#"{"type":"resize","cols":120,"rows":40}"#), Some((120, 40)));
        assert_eq!(resize_of(r#" {"rows": 5, "type": "resize", "cols": 7} "#), Some((7, 5)));
        assert_eq!(
            resize_of(r#"{"type":"resize","cols":0,"rows":70000}"#),
            Some((1, u16::MAX))
        );
        assert_eq!(resize_of("ls -la\r"), None);
        assert_eq!(resize_of(r#"{"type":"other","cols":1,"rows":1}"#), None);
        assert_eq!(resize_of(r#"{"type":"resize","cols":"wide","rows":1}"#), None);
        assert_eq!(resize_of("{not json}"), None);
    }
}
