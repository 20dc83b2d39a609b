//! The single `ClientHooks` implementation of the generated client.
//!
//! Rust's orphan rule forces the impl into this crate, next to the generated `Client`, but the
//! policy itself (auth header, per-operation timeout, retries, tracing) belongs to the `fastvm`
//! facade. So the generated client's inner value is a [`Policy`]: a shared [`Transport`] that
//! every generated operation sends through. The facade's hand-written calls (NDJSON exec) go
//! through the same `Transport`, so there is one path to the network.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};

/// Characters left literal in a path segment: RFC 3986 `pchar` (unreserved, sub-delims, `:`,
/// `@`). Everything else is percent-encoded, notably `/`, `%`, `?`, `#`, `\\`, space and non-ASCII.
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

/// Percent-encodes one path parameter as a URL path segment: the encoder of every generated call
/// and of the facade's hand-built requests. An SSH fingerprint `SHA256:ab+c/d=` becomes
/// `SHA256:ab+c%2Fd=`. A segment with nothing to encode (a VM id) is borrowed, not copied.
///
/// ```
/// assert_eq!(fastvm_api::hooks::encode_path("SHA256:ab+c/d="), "SHA256:ab+c%2Fd=");
/// assert_eq!(fastvm_api::hooks::encode_path(r"a\b c"), "a%5Cb%20c");
/// assert!(matches!(fastvm_api::hooks::encode_path("vm-1"), std::borrow::Cow::Borrowed("vm-1")));
/// ```
pub fn encode_path(segment: &str) -> std::borrow::Cow<'_, str> {
    // `percent_encoding` borrows the input when nothing needs encoding.
    percent_encoding::utf8_percent_encode(segment, PATH_SEGMENT).into()
}

/// A boxed, sendable future returned by [`Transport::send`].
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = reqwest::Result<reqwest::Response>> + Send + 'a>>;

/// Sends one prepared request: where authentication, timeouts and tracing happen, and retries
/// for a transport that repeats a request from a copy of it.
pub trait Transport: Send + Sync + 'static {
    /// Sends `request` for the operation `operation_id` (the spec's `operationId`) with `client`.
    fn send<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
        operation_id: &'static str,
    ) -> SendFuture<'a>;
}

/// The transport used when none is configured: sends the request once, unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub struct Direct;

impl Transport for Direct {
    fn send<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
        _operation_id: &'static str,
    ) -> SendFuture<'a> {
        Box::pin(client.execute(request))
    }
}

/// The inner value of the generated [`Client`](crate::Client): its request policy.
#[derive(Clone)]
pub struct Policy(Arc<dyn Transport>);

impl Policy {
    /// Wraps a transport.
    pub fn new(transport: impl Transport) -> Self {
        Policy(Arc::new(transport))
    }

    /// Wraps a shared transport.
    pub fn from_arc(transport: Arc<dyn Transport>) -> Self {
        Policy(transport)
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::new(Direct)
    }
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Policy(..)")
    }
}

impl ClientHooks<Policy> for crate::Client {
    async fn exec(&self, request: reqwest::Request, info: &OperationInfo) -> reqwest::Result<reqwest::Response> {
        self.inner().0.send(self.client(), request, info.operation_id).await
    }
}
