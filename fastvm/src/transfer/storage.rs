//! Presigned storage PUT/GET with a client that never carries the API key.
//!
//! Every request here goes through [`FastvmClient::storage_http`](crate::FastvmClient), a
//! separate `reqwest` client without the `X-API-Key` header or the API's default headers:
//! presigned URLs carry their own signature and reject other credentials.

use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::{Bytes, BytesMut};
use futures::Stream;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::archive::{CHUNK, DEPTH};
use super::options::TransferOptions;
use crate::error::{FileTransferError, FileTransferErrorKind as Kind};
use crate::transport::retry::{self, Attempt, Retries};

/// The content type of a file, a directory's archive, or anything else storage just keeps.
pub(crate) const OCTET_STREAM: &str = "application/octet-stream";
/// The content type of a snapshot import's build context (the presigned URL is signed for it).
pub(crate) const ZIP: &str = "application/zip";

/// A failed storage request (connection, body or timeout).
pub(crate) fn send_error(method: &str, url: &str, e: reqwest::Error) -> FileTransferError {
    let msg = format!(
        "storage {method} {} failed: {}",
        crate::redact::url(url),
        crate::redact::text_for(&crate::error::describe_reqwest(&e), url)
    );
    FileTransferError::new(Kind::Storage, msg).with_source(e.without_url())
}

/// Maps a non-2xx storage answer to a `Storage` error with the status and the start of the body.
async fn check(method: &str, url: &str, resp: reqwest::Response) -> Result<reqwest::Response, FileTransferError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    // Bounded: an error body can be arbitrarily large; and it may echo the signature (or
    // another one, without its URL), and hold line breaks or terminal escapes.
    let body = crate::transport::response::read_bounded(resp, 512).await;
    let snippet = crate::redact::text_for(&crate::redact::snippet(&body, 512), url);
    let msg = format!(
        "storage {method} {} answered {}: {}",
        crate::redact::url(url),
        status.as_u16(),
        crate::redact::one_line(snippet.trim())
    );
    Err(FileTransferError::new(Kind::Storage, msg).with_status(status))
}

/// The state of [`body_stream`], owned by the stream: nothing is cloned per chunk.
struct Body {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    opts: TransferOptions,
    total: Option<u64>,
    limit: Option<(u64, Arc<AtomicBool>)>,
    done: u64,
    stop: bool,
}

/// Streams `rx` as a request body, reporting progress and stopping the body with an error once
/// more than `limit` bytes went out.
fn body_stream(
    rx: mpsc::Receiver<io::Result<Bytes>>,
    opts: TransferOptions,
    total: Option<u64>,
    limit: Option<(u64, Arc<AtomicBool>)>,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    let state = Body {
        rx,
        opts,
        total,
        limit,
        done: 0,
        stop: false,
    };
    futures::stream::unfold(state, |mut st| async move {
        if st.stop {
            return None;
        }
        let chunk = match st.rx.recv().await? {
            Ok(c) => c,
            Err(e) => {
                st.stop = true;
                return Some((Err(e), st));
            }
        };
        st.done += chunk.len() as u64;
        if let Some((max, flag)) = &st.limit
            && st.done > *max
        {
            flag.store(true, Ordering::SeqCst);
            st.stop = true;
            let e = io::Error::other("the upload exceeds maxUploadBytes");
            return Some((Err(e), st));
        }
        st.opts.report(st.done, st.total);
        Some((Ok(chunk), st))
    })
}

/// Reads `path` on a blocking thread into a bounded channel, hashing as it goes.
type Reader = (
    mpsc::Receiver<io::Result<Bytes>>,
    tokio::task::JoinHandle<io::Result<Option<[u8; 32]>>>,
);

fn spawn_file_reader(path: &Path, hash: bool) -> io::Result<Reader> {
    let mut file = std::fs::File::open(path)?;
    let (tx, rx) = mpsc::channel(DEPTH);
    let handle = tokio::task::spawn_blocking(move || {
        let mut hasher = hash.then(Sha256::new);
        loop {
            let mut buf = BytesMut::zeroed(CHUNK);
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = tx.blocking_send(Err(io::Error::new(e.kind(), e.to_string())));
                    return Err(e);
                }
            };
            buf.truncate(n);
            if let Some(h) = hasher.as_mut() {
                h.update(&buf);
            }
            if tx.blocking_send(Ok(buf.freeze())).is_err() {
                return Err(io::Error::new(io::ErrorKind::BrokenPipe, "the upload stopped reading"));
            }
        }
        Ok(hasher.map(|h| h.finalize().into()))
    });
    Ok((rx, handle))
}

/// A presign answer's upload limit (`maxUploadBytes`), when it names one: an absent (decoded as
/// 0) or negative value means the limit is not known, and the server is left to enforce it.
pub(crate) fn upload_limit(max_upload_bytes: i64) -> Option<u64> {
    u64::try_from(max_upload_bytes).ok().filter(|max| *max > 0)
}

/// PUTs the file at `path` (`size` bytes) with `Content-Length`, streamed from disk, reopening
/// the file for each attempt. Retried by the one retry loop ([`retry::repeat`]) under the
/// client's [`RetryPolicy`](crate::RetryPolicy): retryable statuses, `Retry-After` and
/// `x-should-retry`, and failures without a response, timeouts included (a presigned PUT of a
/// whole file can be safely resent). Returns the SHA-256 of what was sent when `opts.verify` is
/// on. `content_type` is the PUT's `Content-Type`.
pub(crate) async fn put_file(
    http: &reqwest::Client,
    url: &str,
    (path, content_type): (&Path, &'static str),
    size: u64,
    opts: &TransferOptions,
    retry: &crate::RetryPolicy,
) -> Result<Option<[u8; 32]>, FileTransferError> {
    let attempt = |n| put_file_once(http, url, (path, content_type), size, opts, n);
    let retries = Retries {
        policy: retry,
        max_retries: retry.max_retries,
        idempotent: true,
        operation: "storage PUT",
    };
    let first = attempt(1).await;
    let Put { sent, read } = retry::repeat(retries, first, |retry| Some(attempt(retry + 1))).await?;
    match sent {
        Ok(resp) => {
            check("PUT", url, resp).await?;
            read.map_err(|e| FileTransferError::io("cannot read", path, e))
        }
        Err(e) => match read {
            // A failed read explains the broken request better.
            Err(io) if io.kind() != io::ErrorKind::BrokenPipe => Err(FileTransferError::io("cannot read", path, io)),
            _ => Err(send_error("PUT", url, e)),
        },
    }
}

/// One attempt of [`put_file`]: what storage answered, and how reading the file went.
struct Put {
    sent: reqwest::Result<reqwest::Response>,
    read: io::Result<Option<[u8; 32]>>,
}

impl Attempt for Put {
    fn refused(&mut self) -> Option<&mut reqwest::Response> {
        self.sent.refused()
    }

    fn failed(&self) -> Option<&reqwest::Error> {
        match &self.read {
            // The file could not be read: not retried (the request broke because of it).
            Err(io) if io.kind() != io::ErrorKind::BrokenPipe => None,
            _ => self.sent.failed(),
        }
    }
}

async fn put_file_once(
    http: &reqwest::Client,
    url: &str,
    (path, content_type): (&Path, &'static str),
    size: u64,
    opts: &TransferOptions,
    attempt: u32,
) -> Result<Put, FileTransferError> {
    let (rx, reader) =
        spawn_file_reader(path, opts.verify).map_err(|e| FileTransferError::io("cannot open", path, e))?;
    let body = reqwest::Body::wrap_stream(body_stream(rx, opts.clone(), Some(size), None));
    let request = (http.put(url))
        .header(CONTENT_TYPE, content_type)
        .header(CONTENT_LENGTH, size)
        .body(body);
    let sent = send_logged(request, "PUT", url, attempt).await;
    let read = reader.await.map_err(|e| FileTransferError::join("file reader", e))?;
    Ok(Put { sent, read })
}

/// PUTs a body of unknown length (chunked). It cannot be replayed, so it is not retried. When
/// more than `limit` bytes are produced, the upload stops and a `TooLarge` error is returned.
pub(crate) async fn put_stream(
    http: &reqwest::Client,
    url: &str,
    rx: mpsc::Receiver<io::Result<Bytes>>,
    opts: &TransferOptions,
    limit: u64,
) -> Result<(), FileTransferError> {
    let exceeded = Arc::new(AtomicBool::new(false));
    let body = reqwest::Body::wrap_stream(body_stream(rx, opts.clone(), None, Some((limit, exceeded.clone()))));
    let request = http.put(url).header(CONTENT_TYPE, OCTET_STREAM).body(body);
    let sent = send_logged(request, "PUT", url, 1).await;
    if exceeded.load(Ordering::SeqCst) {
        return Err(FileTransferError::new(
            Kind::TooLarge,
            format!("the archive exceeds the VM limit of {limit} bytes (maxUploadBytes); upload stopped"),
        ));
    }
    match sent {
        Ok(resp) => check("PUT", url, resp).await.map(|_| ()),
        Err(e) => Err(send_error("PUT", url, e)),
    }
}

/// GETs `url`, failing on a non-2xx answer.
pub(crate) async fn get(http: &reqwest::Client, url: &str) -> Result<reqwest::Response, FileTransferError> {
    let resp = (send_logged(http.get(url), "GET", url, 1).await).map_err(|e| send_error("GET", url, e))?;
    check("GET", url, resp).await
}

/// Sends a storage request, logged at DEBUG level as API requests are (`fastvm storage
/// request`: method, URL without its query, where a presigned URL's signature is, status,
/// duration, attempt).
async fn send_logged(
    request: reqwest::RequestBuilder,
    method: &'static str,
    url: &str,
    attempt: u32,
) -> reqwest::Result<reqwest::Response> {
    let started = std::time::Instant::now();
    let result = request.send().await;
    let url = crate::redact::url(url);
    let elapsed = started.elapsed();
    match &result {
        Ok(resp) => {
            tracing::debug!(method, %url, status = resp.status().as_u16(), ?elapsed, attempt, "fastvm storage request")
        }
        Err(e) => {
            let error = crate::redact::text(&e.to_string());
            tracing::debug!(method, %url, ?elapsed, attempt, %error, "fastvm storage request failed")
        }
    }
    result
}
