//! The incremental NDJSON decoder behind [`ExecStream`].
//!
//! Two layers: `LineDecoder`, a synchronous pull decoder over the chunks of a body (no I/O; a
//! line that arrives whole inside one network chunk is parsed in place, without copying), and
//! [`ExecStream`], which feeds it from the HTTP body and enforces the end-of-stream rules and the
//! optional client-side deadline.
//!
//! Memory held is the current network chunk plus at most one partial line (bounded by
//! [`MAX_LINE_BYTES`]), whatever the total output size.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;
use futures::stream::FusedStream;
use futures::{Stream, StreamExt};
use serde::Deserialize;

use super::ExecEvent;
use crate::{Error, Result};

/// Longest accepted NDJSON line of an exec stream, in bytes (without its `\n`).
///
/// The server sends output in chunks of a few KiB, so real lines are far shorter; a longer line
/// means a broken or hostile peer and ends the stream with [`Error::StreamDecode`] instead of
/// growing a buffer without bound.
pub const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

/// How much of a bad line an error keeps.
const SNIPPET_BYTES: usize = 160;

/// Standard alphabet; padding optional, since nothing is gained by rejecting unpadded data.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// One wire line. Borrowed so a base64 payload is decoded straight out of the line buffer.
/// Unknown fields are ignored (a newer server may add some).
#[derive(Deserialize)]
struct WireEvent<'a> {
    #[serde(borrow)]
    t: Cow<'a, str>,
    #[serde(borrow)]
    d: Option<Cow<'a, str>>,
    c: Option<i64>,
    to: Option<bool>,
    ms: Option<u64>,
}

fn decode_error(line: &[u8], number: u64, message: impl Into<String>) -> Error {
    Error::StreamDecode {
        line: number,
        message: message.into(),
        snippet: crate::error::snippet(line, SNIPPET_BYTES),
    }
}

fn too_long(start: &[u8], number: u64) -> Error {
    decode_error(start, number, format!("line longer than {MAX_LINE_BYTES} bytes"))
}

/// Decodes one line (without its `\n`); `Ok(None)` for a blank line.
fn decode_line(line: &[u8], number: u64) -> Result<Option<ExecEvent>> {
    // Also drops the `\r` of a `\r\n` terminator.
    let line = line.trim_ascii();
    if line.is_empty() {
        return Ok(None);
    }
    let wire: WireEvent<'_> = serde_json::from_slice(line).map_err(|e| decode_error(line, number, e.to_string()))?;
    let event = match &*wire.t {
        "o" => ExecEvent::Stdout(decode_data(wire.d.as_deref(), line, number)?),
        "e" => ExecEvent::Stderr(decode_data(wire.d.as_deref(), line, number)?),
        // The server omits `c` for exit code 0 and `to` when false; `d` is plain text here.
        "x" => ExecEvent::Exit {
            code: wire.c.unwrap_or(0),
            timed_out: wire.to.unwrap_or(false),
            duration_ms: wire.ms,
            diagnostic: wire.d.filter(|d| !d.is_empty()).map(Cow::into_owned),
        },
        other => ExecEvent::Unknown {
            kind: other.to_owned(),
            raw: String::from_utf8_lossy(line).into_owned(),
        },
    };
    Ok(Some(event))
}

fn decode_data(data: Option<&str>, line: &[u8], number: u64) -> Result<Bytes> {
    let Some(data) = data else {
        return Ok(Bytes::new());
    };
    let mut out = Vec::with_capacity(base64::decoded_len_estimate(data.len()));
    BASE64
        .decode_vec(data, &mut out)
        .map_err(|e| decode_error(line, number, format!("invalid base64 in `d`: {e}")))?;
    Ok(Bytes::from(out))
}

/// Splits a chunked body into lines and decodes them, pulling one event at a time.
#[derive(Debug, Default)]
struct LineDecoder {
    /// The current network chunk; `chunk[pos..]` is not consumed yet.
    chunk: Bytes,
    pos: usize,
    /// The start of a line that continues in a later chunk.
    partial: Vec<u8>,
    /// Lines completed so far (blank ones included), for error messages.
    lines: u64,
}

impl LineDecoder {
    /// Hands over the next chunk; the previous one must be consumed (`next_event` gave `None`).
    fn push(&mut self, chunk: Bytes) {
        debug_assert!(self.pos >= self.chunk.len(), "previous chunk not consumed");
        self.chunk = chunk;
        self.pos = 0;
    }

    /// The next event of the chunks pushed so far, or `None` when more input is needed.
    fn next_event(&mut self) -> Option<Result<ExecEvent>> {
        while self.pos < self.chunk.len() {
            // Only bytes not scanned before are searched for the terminator.
            let rest = &self.chunk[self.pos..];
            let Some(end) = memchr::memchr(b'\n', rest) else {
                if self.partial.len() + rest.len() > MAX_LINE_BYTES {
                    return Some(Err(too_long(&self.partial, self.lines + 1)));
                }
                self.partial.extend_from_slice(rest);
                self.pos = self.chunk.len();
                return None;
            };
            self.pos += end + 1;
            self.lines += 1;
            let decoded = if self.partial.is_empty() {
                // The common case: the whole line is in this chunk, parse it in place.
                if end > MAX_LINE_BYTES {
                    return Some(Err(too_long(rest, self.lines)));
                }
                decode_line(&rest[..end], self.lines)
            } else {
                if self.partial.len() + end > MAX_LINE_BYTES {
                    return Some(Err(too_long(&self.partial, self.lines)));
                }
                self.partial.extend_from_slice(&rest[..end]);
                let decoded = decode_line(&self.partial, self.lines);
                self.partial.clear();
                decoded
            };
            match decoded {
                Ok(None) => continue,
                Ok(Some(event)) => return Some(Ok(event)),
                Err(e) => return Some(Err(e)),
            }
        }
        None
    }

    /// At the end of the body: decodes a final line that had no `\n`.
    fn finish(&mut self) -> Option<Result<ExecEvent>> {
        if self.partial.is_empty() {
            return None;
        }
        let line = std::mem::take(&mut self.partial);
        self.lines += 1;
        decode_line(&line, self.lines).transpose()
    }
}

type Body = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>;

struct Deadline {
    after: Duration,
    at: tokio::time::Instant,
    // Created on first poll, so `with_deadline` works outside a runtime context.
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// The events of a streamed command ([`Vms::stream`](crate::resources::Vms::stream)), decoded
/// incrementally from the NDJSON body as it arrives.
///
/// It yields [`ExecEvent::Stdout`] / [`ExecEvent::Stderr`] chunks (and
/// [`ExecEvent::Unknown`] for event types a newer server adds), then exactly one
/// [`ExecEvent::Exit`], then ends. Every failure is yielded once and ends the stream too:
///
/// * the body ends before the exit event: [`Error::StreamClosed`] (a command's outcome is never
///   silently unknown);
/// * a line is not a JSON object with a string `t`, has invalid base64, or is longer than
///   [`MAX_LINE_BYTES`]: [`Error::StreamDecode`] with the 1-based line number and a snippet;
/// * the connection fails: [`Error::Connection`] (or [`Error::Timeout`]);
/// * the optional [`ExecStream::with_deadline`] passes: [`Error::Timeout`].
///
/// Framing follows NDJSON leniently: lines may be split across or packed into network chunks,
/// end in `\n` or `\r\n`, the last one may lack its terminator, and blank lines are skipped.
/// The stream holds at most one line in memory, whatever the command prints. Dropping it aborts
/// the request (the command itself keeps running in the VM until it exits or its server-side
/// `timeout_sec` passes). It is never retried: exec is not idempotent.
///
/// Besides polling it as a [`Stream`], [`ExecStream::collect`] buffers everything into an
/// [`ExecOutput`](crate::exec::ExecOutput) and [`ExecStream::tee`] copies the output into
/// writers.
pub struct ExecStream {
    body: Option<Body>,
    decoder: LineDecoder,
    events: u64,
    done: bool,
    deadline: Option<Deadline>,
}

impl std::fmt::Debug for ExecStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecStream")
            .field("events", &self.events)
            .field("lines", &self.decoder.lines)
            .field("done", &self.done)
            .field("deadline", &self.deadline.as_ref().map(|d| d.after))
            .finish_non_exhaustive()
    }
}

impl ExecStream {
    /// Decodes an HTTP response body.
    pub(crate) fn new<S>(body: S) -> Self
    where
        S: Stream<Item = reqwest::Result<Bytes>> + Send + 'static,
    {
        Self::from_chunks(body.map(|chunk| chunk.map_err(Error::from_reqwest)))
    }

    /// Decodes a body given as a stream of chunks, as if it had come from the server.
    ///
    /// Not part of the stable API: it exists for the decoder's benchmark and fuzz target, and for
    /// replaying recorded NDJSON.
    #[doc(hidden)]
    pub fn from_chunks<S>(chunks: S) -> Self
    where
        S: Stream<Item = Result<Bytes>> + Send + 'static,
    {
        ExecStream {
            body: Some(Box::pin(chunks)),
            decoder: LineDecoder::default(),
            events: 0,
            done: false,
            deadline: None,
        }
    }

    /// Gives up with [`Error::Timeout`] if the exit event has not arrived within `after` of this
    /// call (the request is then aborted; the command keeps running in the VM until its own
    /// `timeout_sec`, if any).
    ///
    /// Streams have no client-side time limit otherwise: a command may legitimately run for hours.
    /// Needs a Tokio runtime when polled.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, id: &str) -> fastvm::Result<()> {
    /// use std::time::Duration;
    /// let out = client
    ///     .vms()
    ///     .stream(id, "make test")
    ///     .await?
    ///     .with_deadline(Duration::from_secs(600))
    ///     .collect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn with_deadline(mut self, after: Duration) -> Self {
        // A deadline too far to represent is no deadline.
        self.deadline = tokio::time::Instant::now()
            .checked_add(after)
            .map(|at| Deadline { after, at, sleep: None });
        self
    }

    /// How many events the stream has yielded so far.
    pub fn events_received(&self) -> u64 {
        self.events
    }

    fn terminate(&mut self) {
        self.done = true;
        // Dropping the body closes the connection (aborts the request if it is still running).
        self.body = None;
        self.deadline = None;
        self.decoder = LineDecoder::default();
    }

    fn fail(&mut self, error: Error) -> Poll<Option<Result<ExecEvent>>> {
        self.terminate();
        Poll::Ready(Some(Err(error)))
    }

    fn emit(&mut self, decoded: Result<ExecEvent>) -> Poll<Option<Result<ExecEvent>>> {
        match decoded {
            Ok(event) => {
                self.events += 1;
                if event.is_exit() {
                    self.terminate();
                }
                Poll::Ready(Some(Ok(event)))
            }
            Err(e) => self.fail(e),
        }
    }
}

impl Stream for ExecStream {
    type Item = Result<ExecEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(deadline) = &mut this.deadline {
            let at = deadline.at;
            let sleep = deadline
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
            if sleep.as_mut().poll(cx).is_ready() {
                let message = format!("exec stream: no exit event within {:?}", deadline.after);
                return this.fail(Error::Timeout { message });
            }
        }
        loop {
            if let Some(decoded) = this.decoder.next_event() {
                return this.emit(decoded);
            }
            let Some(body) = this.body.as_mut() else {
                return match this.decoder.finish() {
                    Some(decoded) => this.emit(decoded),
                    None => {
                        let events = this.events;
                        this.fail(Error::StreamClosed { events })
                    }
                };
            };
            match body.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => this.decoder.push(chunk),
                Poll::Ready(Some(Err(e))) => return this.fail(e),
                Poll::Ready(None) => this.body = None,
            }
        }
    }
}

impl FusedStream for ExecStream {
    fn is_terminated(&self) -> bool {
        self.done
    }
}
