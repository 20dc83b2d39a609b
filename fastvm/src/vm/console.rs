//! Interactive console sessions: a terminal on a VM over a WebSocket.
//!
//! [`FastvmClient::console`] (or [`Vm::console`](crate::vm::Vm::console)) mints a console token
//! (`POST /v1/vms/{id}/console-token`) and connects the WebSocket it names, as the official CLI
//! does: the base URL's scheme turned into `ws`/`wss` (`http` → `ws`, `https` → `wss`), its path
//! kept, then the token's `websocketPath` and `session=<token>` (`?` or `&`). The upgrade carries
//! no API key and none of the client's default headers (the token is the credential), only a
//! `User-Agent`.
//!
//! The protocol: the server sends the terminal's output as binary (or text) frames, which
//! [`ConsoleOutput`] yields as bytes; keystrokes go as text frames ([`ConsoleInput::send`]);
//! [`ConsoleInput::resize`] sends `{"type":"resize","cols":N,"rows":N}`.
//!
//! ```no_run
//! # async fn demo(client: fastvm::FastvmClient, vm_id: &str) -> fastvm::Result<()> {
//! use futures::StreamExt;
//!
//! let mut console = client.console(vm_id).await?;
//! console.resize(120, 40).await?;
//! console.send(b"uname -a\r").await?;
//! while let Some(chunk) = console.next().await {
//!     let chunk = chunk?;
//!     print!("{}", String::from_utf8_lossy(&chunk));
//!     if chunk.windows(5).any(|w| w == b"Linux") {
//!         break;
//!     }
//! }
//! console.close().await?;
//! # Ok(()) }
//! ```
//!
//! # Connection settings
//! TLS is the same choice as the HTTP client's: rustls with the platform's certificate
//! verifier (the `rustls` feature, default) or the system's TLS (`native-tls`). The TCP connect
//! is bounded by 10 s and the TLS and WebSocket handshakes by the client's
//! [`timeout`](crate::ClientBuilder::timeout); an open session has no timeout. The WebSocket
//! is not sent through a client injected with
//! [`ClientBuilder::http_client`](crate::ClientBuilder::http_client) (reqwest can upgrade only
//! HTTP/1.1 connections, and its pool may speak HTTP/2), so that client's proxy, extra root
//! certificates and other TLS settings do not apply to the console, and neither do the
//! `HTTPS_PROXY`-style environment variables. The token never appears in logs, `Debug` output
//! or errors.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::machine::TryParse;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::{self, Message};

use crate::redact::REDACTED;
use crate::types::ConsoleTokenResponse;
use crate::{Error, FastvmClient, Result};

/// The most the head of the server's answer to the upgrade may take.
const MAX_HEAD: usize = 16 * 1024;

/// The most of a refused upgrade's body that is read (for the server's `error` text).
const MAX_REFUSAL_BODY: usize = 2048;

/// How long [`ConsoleSession::close`] waits for the server to acknowledge the close.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// The connection under the WebSocket: plain TCP or TLS over it.
trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

type Ws = WebSocketStream<Box<dyn Io>>;

impl crate::vm::Vm {
    /// Opens an interactive console on this VM (see [`FastvmClient::console`]).
    pub async fn console(&self) -> Result<ConsoleSession> {
        self.client().console(self.id()).await
    }
}

/// An open console: the terminal's output as a [`Stream`] of bytes, and its input.
///
/// Keep reading the output: pings are answered as it is read. [`split`](Self::split) gives the
/// two halves to separate tasks. Dropping the session drops the connection; [`close`](Self::close)
/// ends it with a close handshake.
pub struct ConsoleSession {
    vm_id: String,
    input: ConsoleInput,
    output: ConsoleOutput,
}

impl fmt::Debug for ConsoleSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsoleSession")
            .field("vm_id", &self.vm_id)
            .finish_non_exhaustive()
    }
}

impl ConsoleSession {
    /// The VM this console is attached to.
    pub fn vm_id(&self) -> &str {
        &self.vm_id
    }

    /// Sends keystrokes (see [`ConsoleInput::send`]).
    pub async fn send(&self, bytes: &[u8]) -> Result<()> {
        self.input.send(bytes).await
    }

    /// Sends text as keystrokes (see [`ConsoleInput::send_text`]).
    pub async fn send_text(&self, text: &str) -> Result<()> {
        self.input.send_text(text).await
    }

    /// Tells the VM the terminal's size (see [`ConsoleInput::resize`]).
    pub async fn resize(&self, cols: u16, rows: u16) -> Result<()> {
        self.input.resize(cols, rows).await
    }

    /// Ends the session: sends a close frame and waits (at most 5 s) for the server's, reading
    /// and discarding output meanwhile.
    pub async fn close(self) -> Result<()> {
        let ConsoleSession { input, mut output, .. } = self;
        input.close().await?;
        let _ = tokio::time::timeout(CLOSE_WAIT, async { while output.next().await.is_some() {} }).await;
        Ok(())
    }

    /// The input and output halves, to use from separate tasks.
    pub fn split(self) -> (ConsoleInput, ConsoleOutput) {
        (self.input, self.output)
    }

    /// How the server closed the connection, once the output has ended (see
    /// [`ConsoleOutput::close_frame`]).
    pub fn close_frame(&self) -> Option<&ConsoleClose> {
        self.output.close_frame()
    }
}

impl Stream for ConsoleSession {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.output).poll_next(cx)
    }
}

/// The sending half of a console: keystrokes, resizes, close. Cheap to clone; sends are
/// serialized.
#[derive(Clone)]
pub struct ConsoleInput {
    inner: Arc<tokio::sync::Mutex<InputState>>,
}

struct InputState {
    sink: SplitSink<Ws, Message>,
    /// The start of a UTF-8 sequence split across two [`ConsoleInput::send`] calls.
    partial: Vec<u8>,
}

impl fmt::Debug for ConsoleInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsoleInput").finish_non_exhaustive()
    }
}

impl ConsoleInput {
    /// Sends `bytes` as keystrokes (as read from a raw terminal: `\r` for Enter, `\x03` for
    /// Ctrl-C). They go as one text frame, so they must be UTF-8: a multi-byte character split
    /// across two calls is joined, and invalid bytes are sent as U+FFFD, as the official CLI does.
    pub async fn send(&self, bytes: &[u8]) -> Result<()> {
        let mut state = self.inner.lock().await;
        let mut data = std::mem::take(&mut state.partial);
        data.extend_from_slice(bytes);
        let (text, rest) = decode_utf8(&data);
        state.partial = rest.to_vec();
        if text.is_empty() {
            return Ok(());
        }
        send(&mut state.sink, Message::text(text)).await
    }

    /// Sends `text` as keystrokes (one text frame).
    pub async fn send_text(&self, text: &str) -> Result<()> {
        let mut state = self.inner.lock().await;
        let mut all = String::new();
        if !state.partial.is_empty() {
            // An incomplete character left by `send` can no longer be completed.
            state.partial.clear();
            all.push(char::REPLACEMENT_CHARACTER);
        }
        all.push_str(text);
        if all.is_empty() {
            return Ok(());
        }
        send(&mut state.sink, Message::text(all)).await
    }

    /// Tells the VM the terminal's size: the JSON text frame
    /// `{"type":"resize","cols":N,"rows":N}`.
    pub async fn resize(&self, cols: u16, rows: u16) -> Result<()> {
        let frame = serde_json::json!({ "type": "resize", "cols": cols, "rows": rows }).to_string();
        let mut state = self.inner.lock().await;
        send(&mut state.sink, Message::text(frame)).await
    }

    /// Sends a normal close frame (code 1000). The output then ends once the server answers.
    /// Closing a closed console succeeds.
    pub async fn close(&self) -> Result<()> {
        let mut state = self.inner.lock().await;
        let frame = CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        };
        match state.sink.send(Message::Close(Some(frame))).await {
            Ok(()) => Ok(()),
            Err(e) if is_closed(&e) => Ok(()),
            Err(e) => Err(io_error("closing the console", e)),
        }
    }
}

/// Whether `e` says the connection is already closed (by either side).
fn is_closed(e: &tungstenite::Error) -> bool {
    matches!(
        e,
        tungstenite::Error::ConnectionClosed
            | tungstenite::Error::AlreadyClosed
            | tungstenite::Error::Protocol(tungstenite::error::ProtocolError::SendAfterClosing)
    )
}

async fn send(sink: &mut SplitSink<Ws, Message>, msg: Message) -> Result<()> {
    sink.send(msg).await.map_err(|e| match e {
        e if is_closed(&e) => Error::Console {
            message: "the console is closed".to_string(),
            status: None,
            source: None,
        },
        e => io_error("sending to the console", e),
    })
}

fn io_error(what: &str, e: tungstenite::Error) -> Error {
    Error::Console {
        message: format!("{what}: {e}"),
        status: None,
        source: Some(Box::new(e)),
    }
}

/// The valid text at the start of `data` (invalid sequences replaced by U+FFFD), and an
/// incomplete sequence at its end that more bytes may complete.
fn decode_utf8(mut data: &[u8]) -> (String, &[u8]) {
    let mut out = String::new();
    loop {
        match std::str::from_utf8(data) {
            Ok(s) => {
                out.push_str(s);
                return (out, &[]);
            }
            Err(e) => {
                let (valid, after) = data.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                match e.error_len() {
                    // Cut short at the end: keep it for the next call.
                    None => return (out, after),
                    Some(n) => {
                        out.push(char::REPLACEMENT_CHARACTER);
                        data = &after[n..];
                    }
                }
            }
        }
    }
}

/// How the server closed a console.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsoleClose {
    /// The WebSocket close code (1000 normal, 1001 going away, ...).
    pub code: u16,
    /// The server's reason (may be empty).
    pub reason: String,
}

/// The receiving half of a console: the terminal's output, as a [`Stream`] of byte chunks.
///
/// It ends (`None`) when the connection closes, cleanly or not; an error is yielded only for
/// a failure other than the connection going away, and ends the stream too. Pings are answered
/// while it is read.
pub struct ConsoleOutput {
    stream: SplitStream<Ws>,
    close: Option<ConsoleClose>,
    done: bool,
}

impl fmt::Debug for ConsoleOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsoleOutput")
            .field("close", &self.close)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl ConsoleOutput {
    /// The server's close frame, once the output has ended (`None` before, and when the
    /// connection ended without one).
    pub fn close_frame(&self) -> Option<&ConsoleClose> {
        self.close.as_ref()
    }
}

impl Stream for ConsoleOutput {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        use tungstenite::error::ProtocolError;
        loop {
            if self.done {
                return Poll::Ready(None);
            }
            let item = ready!(self.stream.poll_next_unpin(cx));
            match item {
                Some(Ok(Message::Binary(b))) if !b.is_empty() => return Poll::Ready(Some(Ok(b))),
                Some(Ok(Message::Text(t))) if !t.is_empty() => return Poll::Ready(Some(Ok(Bytes::from(t)))),
                Some(Ok(Message::Close(frame))) => {
                    // tungstenite answers it; the stream then ends.
                    self.close = frame.map(|f| ConsoleClose {
                        code: u16::from(f.code),
                        reason: f.reason.to_string(),
                    });
                }
                // Pings are answered by tungstenite; pongs, raw frames and empty chunks carry no
                // output.
                Some(Ok(_)) => {}
                None
                | Some(Err(
                    tungstenite::Error::ConnectionClosed
                    | tungstenite::Error::AlreadyClosed
                    | tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake),
                )) => self.done = true,
                Some(Err(tungstenite::Error::Io(e)))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionReset
                            | std::io::ErrorKind::ConnectionAborted
                            | std::io::ErrorKind::BrokenPipe
                            | std::io::ErrorKind::UnexpectedEof
                    ) =>
                {
                    self.done = true
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(io_error("reading the console", e))));
                }
            }
        }
    }
}

/// The WebSocket URL of a console token, as the official CLI builds it: an absolute
/// `ws(s)://` (or `http(s)://`) `websocket_path` is taken as it is; a relative one is appended
/// to the base URL (scheme `http` → `ws`, `https` → `wss`, path kept). Then `session=<token>`
/// after `?`, or `&` when there is a query already. The token is percent-encoded (unreserved
/// characters stay as they are).
fn websocket_url(base_url: &str, websocket_path: &str, token: &str) -> Result<String> {
    let lower = websocket_path.get(..8).unwrap_or(websocket_path).to_ascii_lowercase();
    let url = if ["ws://", "wss://", "http://", "https://"]
        .iter()
        .any(|s| lower.starts_with(s))
    {
        websocket_path.to_string()
    } else {
        let sep = if websocket_path.starts_with('/') { "" } else { "/" };
        format!("{}{sep}{websocket_path}", base_url.trim_end_matches('/'))
    };
    let url = if let Some(rest) = strip_prefix_ci(&url, "https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = strip_prefix_ci(&url, "http://") {
        format!("ws://{rest}")
    } else {
        url
    };
    if strip_prefix_ci(&url, "ws://").is_none() && strip_prefix_ci(&url, "wss://").is_none() {
        return Err(console_error(format!(
            "the console's WebSocket URL {} is not ws or wss",
            crate::redact::url(&url)
        )));
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    const QUERY: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    let token = percent_encoding::utf8_percent_encode(token, QUERY);
    Ok(format!("{url}{sep}session={token}"))
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

fn console_error(message: String) -> Error {
    Error::Console {
        message,
        status: None,
        source: None,
    }
}

/// Opens a console on `vm_id`: mints a token and connects ([`FastvmClient::console`]).
pub(crate) async fn open(client: &FastvmClient, vm_id: &str) -> Result<ConsoleSession> {
    let token = crate::resources::Vms::new(client).console_token(vm_id).await?;
    connect(client, vm_id, &token).await
}

/// Connects the console WebSocket of `token`.
async fn connect(client: &FastvmClient, vm_id: &str, token: &ConsoleTokenResponse) -> Result<ConsoleSession> {
    let secret = token.token.as_str();
    let settings = &client.transport().settings;
    let [api_key] = crate::transport::http::own_secrets(settings);
    // Whatever is said about the URL or by the server, the token (however short) and the API
    // key are never in it.
    let hide = |s: String| {
        let s = crate::redact::known(&s, &[api_key]);
        if secret.is_empty() {
            s
        } else {
            s.replace(secret, REDACTED)
        }
    };
    let raw = websocket_url(client.base_url(), &token.websocket_path, secret)?;
    let shown = hide(crate::redact::url(&raw));
    let url = url::Url::parse(&raw).map_err(|e| console_error(hide(format!("{shown} is not a URL: {e}"))))?;
    let tls = url.scheme() == "wss";
    let port = url.port_or_known_default().unwrap_or(if tls { 443 } else { 80 });
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.to_string(),
        Some(url::Host::Ipv4(a)) => a.to_string(),
        Some(url::Host::Ipv6(a)) => a.to_string(),
        None => return Err(console_error(format!("{shown} has no host"))),
    };

    let tcp = tokio::time::timeout(
        crate::config::DEFAULT_CONNECT_TIMEOUT,
        TcpStream::connect((host.as_str(), port)),
    )
    .await
    .map_err(|_| console_error(format!("connecting to {shown} timed out")))?
    .map_err(|e| Error::Console {
        message: hide(format!("cannot connect to {shown}: {e}")),
        status: None,
        source: Some(Box::new(e)),
    })?;
    let _ = tcp.set_nodelay(true);

    let handshake = async {
        let io: Box<dyn Io> = if tls {
            tls_connect(&host, tcp).await.map_err(|e| Error::Console {
                message: hide(format!("TLS with {shown} failed: {e}")),
                status: None,
                source: Some(e),
            })?
        } else {
            Box::new(tcp)
        };
        upgrade(io, &url, settings.user_agent.to_str().ok(), &shown, &hide).await
    };
    let ws = tokio::time::timeout(settings.timeout, handshake)
        .await
        .map_err(|_| console_error(format!("the console handshake with {shown} timed out")))??;
    tracing::debug!(target: "fastvm::console", vm_id, url = %shown, "console connected");
    let (sink, stream) = ws.split();
    Ok(ConsoleSession {
        vm_id: vm_id.to_string(),
        input: ConsoleInput {
            inner: Arc::new(tokio::sync::Mutex::new(InputState {
                sink,
                partial: Vec::new(),
            })),
        },
        output: ConsoleOutput {
            stream,
            close: None,
            done: false,
        },
    })
}

/// The WebSocket upgrade of `url` over `io`, done here rather than by the WebSocket library:
/// the library logs the request line it sends (at TRACE, through `log`), and that line carries
/// the session token. The library only gets the connection once it is upgraded.
///
/// `shown` is the URL as messages show it; `hide` clears the token (and the client's API key)
/// from a message.
async fn upgrade(
    mut io: Box<dyn Io>,
    url: &url::Url,
    user_agent: Option<&str>,
    shown: &str,
    hide: &dyn Fn(String) -> String,
) -> Result<Ws> {
    let failed = |what: String, source: Option<Box<dyn std::error::Error + Send + Sync>>| Error::Console {
        message: hide(format!("the console handshake with {shown} failed: {what}")),
        status: None,
        source,
    };
    // `Url` keeps the host of a `ws(s)` URL normalised (IPv6 in brackets, no default port) and
    // its path and query percent-encoded: nothing in them can break the request's lines.
    let host = url.host_str().unwrap_or_default();
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    let target = &url[url::Position::BeforePath..url::Position::AfterQuery];
    let key = tungstenite::handshake::client::generate_key();
    let mut request = format!(
        "GET {target} HTTP/1.1\r\nHost: {authority}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n"
    );
    // A header value's `to_str` is visible ASCII only: no line break.
    if let Some(ua) = user_agent {
        request.push_str(&format!("User-Agent: {ua}\r\n"));
    }
    request.push_str("\r\n");
    let sent = async {
        io.write_all(request.as_bytes()).await?;
        io.flush().await
    };
    sent.await
        .map_err(|e| failed(format!("sending the upgrade: {e}"), Some(Box::new(e))))?;

    // The answer's head, and whatever came after it in the same reads.
    let mut buf = Vec::with_capacity(1024);
    let (head_len, response) = loop {
        match tungstenite::handshake::client::Response::try_parse(&buf) {
            Ok(Some(parsed)) => break parsed,
            Ok(None) => {}
            Err(e) => return Err(failed(format!("its answer is not HTTP: {e}"), Some(Box::new(e)))),
        }
        if buf.len() >= MAX_HEAD {
            return Err(failed(
                format!("the head of its answer exceeds {} KiB", MAX_HEAD / 1024),
                None,
            ));
        }
        let mut chunk = [0u8; 4096];
        let n = io
            .read(&mut chunk)
            .await
            .map_err(|e| failed(format!("reading its answer: {e}"), Some(Box::new(e))))?;
        if n == 0 {
            return Err(failed("the server closed the connection before answering".into(), None));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let mut rest = buf.split_off(head_len);
    let status = response.status();
    let headers = response.headers();
    if status != http::StatusCode::SWITCHING_PROTOCOLS {
        // The body says why, when its length is given (read up to a bound; the handshake's
        // timeout bounds the wait); without one, what already came is all there is to read.
        let length = headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<usize>().ok())
            .map(|n| n.min(MAX_REFUSAL_BODY));
        if let Some(length) = length {
            let mut chunk = [0u8; 1024];
            while rest.len() < length {
                match io.read(&mut chunk).await {
                    Ok(n) if n > 0 => rest.extend_from_slice(&chunk[..n]),
                    _ => break,
                }
            }
            rest.truncate(length);
        }
        return Err(refused(status, &rest, shown, hide));
    }
    let header_is = |name: http::header::HeaderName, token: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|v| v.trim().eq_ignore_ascii_case(token))
    };
    let accept = headers
        .get(http::header::SEC_WEBSOCKET_ACCEPT)
        .and_then(|v| v.to_str().ok());
    let expected = tungstenite::handshake::derive_accept_key(key.as_bytes());
    if !header_is(http::header::UPGRADE, "websocket") || !header_is(http::header::CONNECTION, "upgrade") {
        return Err(failed("its 101 answer is not a WebSocket upgrade".into(), None));
    }
    if accept != Some(expected.as_str()) {
        return Err(failed(
            "its Sec-WebSocket-Accept does not match the key sent".into(),
            None,
        ));
    }
    Ok(WebSocketStream::from_partially_read(io, rest, Role::Client, None).await)
}

/// The error of an upgrade refused with `status` and `body` (its start).
fn refused(status: http::StatusCode, body: &[u8], shown: &str, hide: &dyn Fn(String) -> String) -> Error {
    let said = crate::error::ErrorBody::parse(body)
        .message
        .map(|m| format!(": {}", crate::redact::one_line(&crate::redact::text(&m))))
        .unwrap_or_default();
    let hint = if matches!(status.as_u16(), 401 | 403) {
        " (console tokens are single-use and short-lived)"
    } else {
        ""
    };
    Error::Console {
        message: hide(format!(
            "the server refused the console at {shown}: {}{said}{hint}",
            status.as_u16()
        )),
        status: Some(status),
        source: None,
    }
}

/// TLS over `tcp` to `host`, with reqwest's own choice: rustls (aws-lc-rs, the platform's
/// verifier, HTTP/1.1 by ALPN).
#[cfg(feature = "rustls")]
async fn tls_connect(
    host: &str,
    tcp: TcpStream,
) -> std::result::Result<Box<dyn Io>, Box<dyn std::error::Error + Send + Sync>> {
    use std::sync::OnceLock;
    static CONFIG: OnceLock<std::result::Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    let config = CONFIG
        .get_or_init(|| {
            let provider = rustls::crypto::CryptoProvider::get_default()
                .cloned()
                .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
            let verifier = rustls_platform_verifier::Verifier::new(provider.clone()).map_err(|e| e.to_string())?;
            let mut config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Ok(Arc::new(config))
        })
        .clone()?;
    let name = rustls::pki_types::ServerName::try_from(host.to_string())?;
    let stream = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await?;
    Ok(Box::new(stream))
}

/// TLS over `tcp` to `host` with the system's TLS library.
#[cfg(all(feature = "native-tls", not(feature = "rustls")))]
async fn tls_connect(
    host: &str,
    tcp: TcpStream,
) -> std::result::Result<Box<dyn Io>, Box<dyn std::error::Error + Send + Sync>> {
    let connector = tokio_native_tls::TlsConnector::from(native_tls::TlsConnector::new()?);
    Ok(Box::new(connector.connect(host, tcp).await?))
}

#[cfg(not(any(feature = "rustls", feature = "native-tls")))]
async fn tls_connect(
    _host: &str,
    _tcp: TcpStream,
) -> std::result::Result<Box<dyn Io>, Box<dyn std::error::Error + Send + Sync>> {
    Err("this build of fastvm has no TLS (enable the `rustls` or `native-tls` feature)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websocket_urls_follow_the_official_cli() {
        let url = |base, path, token| websocket_url(base, path, token).unwrap();
        assert_eq!(
            url("https://api.fastvm.org", "/v1/vms/x/console/ws", "tok"),
            "wss://api.fastvm.org/v1/vms/x/console/ws?session=tok"
        );
        assert_eq!(
            url("http://127.0.0.1:9/prefix", "/v1/vms/x/console/ws", "tok"),
            "ws://127.0.0.1:9/prefix/v1/vms/x/console/ws?session=tok"
        );
        assert_eq!(
            url("http://h", "v1/ws?vm=x", "a+b/c="),
            "ws://h/v1/ws?vm=x&session=a%2Bb%2Fc%3D"
        );
        assert_eq!(
            url("https://api", "wss://console.example/ws/1", "t-1_2.3~"),
            "wss://console.example/ws/1?session=t-1_2.3~"
        );
        assert_eq!(
            url("https://api", "HTTPS://c.example/ws", "t"),
            "wss://c.example/ws?session=t"
        );
    }

    #[test]
    fn keystrokes_are_utf8_joined_across_sends_and_invalid_bytes_replaced() {
        assert_eq!(decode_utf8(b"ls\r"), ("ls\r".to_string(), &b""[..]));
        let e_acute = "é".as_bytes();
        assert_eq!(decode_utf8(&e_acute[..1]), (String::new(), &e_acute[..1]));
        assert_eq!(decode_utf8(b"a\xffb"), ("a\u{fffd}b".to_string(), &b""[..]));
        let mut both = b"x".to_vec();
        both.extend_from_slice(&"€".as_bytes()[..2]);
        assert_eq!(decode_utf8(&both), ("x".to_string(), &"€".as_bytes()[..2]));
    }

    #[tokio::test]
    async fn refusals_and_connect_failures_never_show_the_token() {
        let client = FastvmClient::builder()
            .api_key("k")
            .base_url("http://127.0.0.1:1")
            .build()
            .unwrap();
        // An answer is only ever decoded (it has no constructor): as the server sends it.
        let token: ConsoleTokenResponse = serde_json::from_value(serde_json::json!({
            "token": "sekrit-token-123",
            "expiresInSec": 60,
            "websocketPath": "/v1/vms/x/console/ws?sekrit-token-123",
        }))
        .unwrap();
        let err = connect(&client, "x", &token).await.unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(matches!(err, Error::Console { .. }), "{shown}");
        assert!(!shown.contains("sekrit"), "{shown}");
        assert!(shown.contains("ws://127.0.0.1:1/v1/vms/x/console/ws"), "{shown}");
    }
}
