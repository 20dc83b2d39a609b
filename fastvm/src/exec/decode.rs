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
pub(crate) const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

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
        // A line of a hostile or broken peer: its URLs' queries and secret parameters hidden.
        snippet: crate::redact::text(&crate::redact::snippet(line, SNIPPET_BYTES)),
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
            duration: wire.ms.map(std::time::Duration::from_millis),
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
    // Created on first poll, so `deadline` works outside a runtime context.
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
///   8 MiB: [`Error::StreamDecode`] with the 1-based line number and a snippet;
/// * the connection fails: [`Error::Connection`] (or [`Error::Timeout`]);
/// * the optional [`ExecStream::deadline`] passes: [`Error::Timeout`].
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
    /// The command, described for messages (redacted; empty when not known).
    pub(crate) command: String,
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
    /// Decodes an HTTP response body of the command described as `command` (for errors).
    pub(crate) fn new<S>(body: S, command: String) -> Self
    where
        S: Stream<Item = reqwest::Result<Bytes>> + Send + 'static,
    {
        let mut stream = Self::from_chunks(body.map(|chunk| chunk.map_err(|e| Error::from_reqwest(e, Some("execVm")))));
        stream.command = command;
        stream
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
            command: String::new(),
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
    ///     .deadline(Duration::from_secs(600))
    ///     .collect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn deadline(mut self, after: Duration) -> Self {
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
                return this.fail(Error::Timeout {
                    message,
                    operation: Some("execVm"),
                    source: None,
                });
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

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use proptest::prelude::*;

    /// A recorded-style body: every event kind, a blank line, a `\r\n`, an unknown type with an
    /// extra field, unpadded base64, and an exit with every optional field.
    fn recorded() -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(b"{\"t\":\"o\",\"d\":\"aGVsbG8gd29ybGQK\"}\n");
        body.extend_from_slice(b"{\"t\":\"e\",\"d\":\"d2Fybmlu\"}\r\n");
        body.extend_from_slice(b"\n");
        body.extend_from_slice(b"{\"t\":\"p\",\"pct\":50}\n");
        body.extend_from_slice(b"   \n");
        body.extend_from_slice(b"{\"d\":\"AAEC/w==\",\"t\":\"o\",\"seq\":7}\n");
        body.extend_from_slice(b"{\"t\":\"e\",\"d\":\"YQ\"}\n");
        body.extend_from_slice(b"{\"t\":\"x\",\"c\":3,\"to\":true,\"ms\":1234,\"d\":\"killed: \\\"timeout\\\"\"}\n");
        body
    }

    fn recorded_events() -> Vec<ExecEvent> {
        vec![
            ExecEvent::Stdout(Bytes::from_static(b"hello world\n")),
            ExecEvent::Stderr(Bytes::from_static(b"warnin")),
            ExecEvent::Unknown {
                kind: "p".into(),
                raw: "{\"t\":\"p\",\"pct\":50}".into(),
            },
            ExecEvent::Stdout(Bytes::from_static(&[0, 1, 2, 255])),
            ExecEvent::Stderr(Bytes::from_static(b"a")),
            ExecEvent::Exit {
                code: 3,
                timed_out: true,
                duration: Some(std::time::Duration::from_millis(1234)),
                diagnostic: Some("killed: \"timeout\"".into()),
            },
        ]
    }

    /// Decodes `chunks` to completion; errors are rendered so runs can be compared.
    fn decode(chunks: Vec<Vec<u8>>) -> Vec<std::result::Result<ExecEvent, String>> {
        let body = futures::stream::iter(chunks.into_iter().map(|c| Ok(Bytes::from(c))));
        let stream = ExecStream::from_chunks(body);
        futures::executor::block_on(StreamExt::collect::<Vec<_>>(stream))
            .into_iter()
            .map(|r| r.map_err(|e| format!("{e:?}")))
            .collect()
    }

    fn split_at(body: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
        let mut chunks = Vec::new();
        let mut start = 0;
        for &cut in cuts {
            chunks.push(body[start..cut].to_vec());
            start = cut;
        }
        chunks.push(body[start..].to_vec());
        chunks
    }

    fn ok(events: Vec<ExecEvent>) -> Vec<std::result::Result<ExecEvent, String>> {
        events.into_iter().map(Ok).collect()
    }

    #[test]
    fn recorded_body_in_one_chunk() {
        assert_eq!(decode(vec![recorded()]), ok(recorded_events()));
    }

    #[test]
    fn every_single_split_point_gives_the_same_events() {
        let body = recorded();
        for cut in 0..=body.len() {
            assert_eq!(decode(split_at(&body, &[cut])), ok(recorded_events()), "split at {cut}");
        }
    }

    #[test]
    fn every_pair_of_split_points_gives_the_same_events() {
        let body = recorded();
        for a in 0..=body.len() {
            for b in a..=body.len() {
                assert_eq!(
                    decode(split_at(&body, &[a, b])),
                    ok(recorded_events()),
                    "split at {a},{b}"
                );
            }
        }
    }

    #[test]
    fn byte_by_byte() {
        let chunks = recorded().into_iter().map(|b| vec![b]).collect();
        assert_eq!(decode(chunks), ok(recorded_events()));
    }

    #[test]
    fn empty_chunks_are_harmless() {
        let body = recorded();
        let mut chunks = vec![Vec::new()];
        for piece in body.chunks(7) {
            chunks.push(piece.to_vec());
            chunks.push(Vec::new());
        }
        assert_eq!(decode(chunks), ok(recorded_events()));
    }

    proptest! {
        #[test]
        fn random_chunk_boundaries(cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..40)) {
            let body = recorded();
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(body.len() + 1)).collect();
            cuts.sort_unstable();
            prop_assert_eq!(decode(split_at(&body, &cuts)), ok(recorded_events()));
        }

        #[test]
        fn random_payloads_round_trip(
            outputs in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<u8>(), 0..300)), 0..20),
            code in any::<i64>(),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..20),
        ) {
            let mut body = Vec::new();
            let mut expected = Vec::new();
            for (is_err, bytes) in &outputs {
                let t = if *is_err { "e" } else { "o" };
                body.extend_from_slice(format!("{{\"t\":\"{t}\",\"d\":\"{}\"}}\n", STANDARD.encode(bytes)).as_bytes());
                let bytes = Bytes::from(bytes.clone());
                expected.push(if *is_err { ExecEvent::Stderr(bytes) } else { ExecEvent::Stdout(bytes) });
            }
            body.extend_from_slice(format!("{{\"t\":\"x\",\"c\":{code}}}").as_bytes());
            expected.push(ExecEvent::Exit { code, timed_out: false, duration: None, diagnostic: None });
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(body.len() + 1)).collect();
            cuts.sort_unstable();
            prop_assert_eq!(decode(split_at(&body, &cuts)), ok(expected));
        }
    }

    #[test]
    fn exit_defaults_when_fields_are_omitted() {
        assert_eq!(
            decode(vec![b"{\"t\":\"x\"}\n".to_vec()]),
            ok(vec![ExecEvent::Exit {
                code: 0,
                timed_out: false,
                duration: None,
                diagnostic: None
            }])
        );
        // An empty diagnostic is no diagnostic; `d` on `x` is plain text, never base64-decoded.
        assert_eq!(
            decode(vec![b"{\"t\":\"x\",\"d\":\"\",\"ms\":5,\"to\":false}\n".to_vec()]),
            ok(vec![ExecEvent::Exit {
                code: 0,
                timed_out: false,
                duration: Some(std::time::Duration::from_millis(5)),
                diagnostic: None
            }])
        );
        assert_eq!(
            decode(vec![b"{\"t\":\"x\",\"c\":-1,\"d\":\"aGVsbG8=\"}".to_vec()]),
            ok(vec![ExecEvent::Exit {
                code: -1,
                timed_out: false,
                duration: None,
                diagnostic: Some("aGVsbG8=".into())
            }])
        );
    }

    #[test]
    fn missing_data_is_empty_output() {
        assert_eq!(
            decode(vec![
                b"{\"t\":\"o\"}\n{\"t\":\"e\",\"d\":null}\n{\"t\":\"x\"}\n".to_vec()
            ]),
            ok(vec![
                ExecEvent::Stdout(Bytes::new()),
                ExecEvent::Stderr(Bytes::new()),
                ExecEvent::Exit {
                    code: 0,
                    timed_out: false,
                    duration: None,
                    diagnostic: None
                }
            ])
        );
    }

    #[test]
    fn escaped_base64_is_decoded() {
        // A JSON encoder may escape `/` as `\/`: the data is then not borrowed, but still decodes.
        assert_eq!(
            decode(vec![b"{\"t\":\"o\",\"d\":\"AAEC\\/w==\"}\n{\"t\":\"x\"}".to_vec()])[0],
            Ok(ExecEvent::Stdout(Bytes::from_static(&[0, 1, 2, 255])))
        );
    }

    /// Decodes `body` as one chunk and returns the events before the error, and the error.
    fn first_error(body: &[u8]) -> (Vec<ExecEvent>, Error) {
        let stream = ExecStream::from_chunks(futures::stream::iter([Ok(Bytes::copy_from_slice(body))]));
        let results = futures::executor::block_on(StreamExt::collect::<Vec<_>>(stream));
        let mut events = Vec::new();
        for r in results {
            match r {
                Ok(e) => events.push(e),
                Err(e) => return (events, e),
            }
        }
        panic!("no error; events: {events:?}");
    }

    fn assert_decode_error(error: &Error, want_line: u64, message_contains: &str, snippet_starts: &str) {
        match error {
            Error::StreamDecode { line, message, snippet } => {
                assert_eq!(*line, want_line, "{error}");
                assert!(
                    message.contains(message_contains),
                    "{message:?} lacks {message_contains:?}"
                );
                assert!(
                    snippet.starts_with(snippet_starts),
                    "{snippet:?} does not start with {snippet_starts:?}"
                );
            }
            other => panic!("expected StreamDecode, got {other:?}"),
        }
    }

    #[test]
    fn malformed_json_names_the_line_and_keeps_a_snippet() {
        let body = b"{\"t\":\"o\",\"d\":\"YQ==\"}\n\n{\"t\":\"o\",\"d\":\"YQ==\"\n{\"t\":\"x\"}\n";
        let (events, error) = first_error(body);
        assert_eq!(events, vec![ExecEvent::Stdout(Bytes::from_static(b"a"))]);
        assert_decode_error(&error, 3, "EOF", "{\"t\":\"o\",\"d\":\"YQ==\"");
    }

    #[test]
    fn missing_or_non_string_type_is_an_error() {
        let (_, error) = first_error(b"{\"d\":\"YQ==\"}\n{\"t\":\"x\"}\n");
        assert_decode_error(&error, 1, "missing field `t`", "{\"d\"");
        let (_, error) = first_error(b"{\"t\":1}\n");
        assert_decode_error(&error, 1, "invalid type", "{\"t\":1}");
        let (_, error) = first_error(b"[\"o\"]\n");
        assert_decode_error(&error, 1, "", "[\"o\"]");
        let (_, error) = first_error(b"{\"t\":\"x\",\"c\":\"3\"}\n");
        assert_decode_error(&error, 1, "invalid type", "{\"t\":\"x\"");
    }

    #[test]
    fn invalid_base64_is_an_error() {
        let (events, error) = first_error(b"{\"t\":\"e\",\"d\":\"YQ==\"}\r\n{\"t\":\"o\",\"d\":\"not base64!\"}\r\n");
        assert_eq!(events, vec![ExecEvent::Stderr(Bytes::from_static(b"a"))]);
        assert_decode_error(&error, 2, "invalid base64", "{\"t\":\"o\",\"d\":\"not base64!\"}");
    }

    #[test]
    fn truncated_stream_is_stream_closed() {
        let results = decode(vec![b"{\"t\":\"o\",\"d\":\"YQ==\"}\n{\"t\":\"e\"}\n".to_vec()]);
        assert_eq!(results.len(), 3);
        assert_eq!(results[2], Err(format!("{:?}", Error::StreamClosed { events: 2 })));
        // An empty body, and a body cut after a final line with no terminator.
        assert_eq!(
            decode(vec![]),
            vec![Err(format!("{:?}", Error::StreamClosed { events: 0 }))]
        );
        let results = decode(vec![b"{\"t\":\"o\",\"d\":\"YQ==\"}".to_vec()]);
        assert_eq!(results[0], Ok(ExecEvent::Stdout(Bytes::from_static(b"a"))));
        assert_eq!(results[1], Err(format!("{:?}", Error::StreamClosed { events: 1 })));
    }

    #[test]
    fn a_cut_final_line_is_a_decode_error() {
        let (events, error) = first_error(b"{\"t\":\"o\",\"d\":\"YQ==\"}\n{\"t\":\"x\",\"c\"");
        assert_eq!(events.len(), 1);
        assert_decode_error(&error, 2, "EOF", "{\"t\":\"x\"");
    }

    #[test]
    fn nothing_is_read_after_the_exit_event() {
        let results = decode(vec![b"{\"t\":\"x\",\"c\":1}\n".to_vec(), b"not json at all\n".to_vec()]);
        assert_eq!(
            results,
            ok(vec![ExecEvent::Exit {
                code: 1,
                timed_out: false,
                duration: None,
                diagnostic: None
            }])
        );
    }

    #[test]
    fn over_long_line_in_one_chunk_is_an_error() {
        let mut body = b"{\"t\":\"o\",\"d\":\"YQ==\"}\n{\"t\":\"o\",\"d\":\"".to_vec();
        body.resize(body.len() + MAX_LINE_BYTES, b'A');
        body.extend_from_slice(b"\"}\n{\"t\":\"x\"}\n");
        let (events, error) = first_error(&body);
        assert_eq!(events.len(), 1);
        assert_decode_error(&error, 2, "longer than", "{\"t\":\"o\",\"d\":\"AAAA");
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_accepted() {
        let prefix = b"{\"t\":\"o\",\"d\":\"";
        let suffix = b"\"}";
        let payload_len = (MAX_LINE_BYTES - prefix.len() - suffix.len()) / 4 * 4;
        let padding = MAX_LINE_BYTES - prefix.len() - suffix.len() - payload_len;
        let mut body = Vec::with_capacity(MAX_LINE_BYTES + 16);
        body.extend_from_slice(prefix);
        body.resize(prefix.len() + payload_len, b'A');
        body.extend_from_slice(suffix);
        body.resize(body.len() + padding, b' ');
        assert_eq!(body.len(), MAX_LINE_BYTES);
        body.extend_from_slice(b"\n{\"t\":\"x\"}\n");
        let chunks: Vec<Vec<u8>> = body.chunks(1 << 16).map(<[u8]>::to_vec).collect();
        let results = decode(chunks);
        assert_eq!(
            results.len(),
            2,
            "{:?}",
            results.iter().map(|r| r.as_ref().map(|_| ())).collect::<Vec<_>>()
        );
        assert!(
            matches!(&results[0], Ok(ExecEvent::Stdout(b)) if b.len() == payload_len / 4 * 3 && b.iter().all(|&x| x == 0))
        );
    }

    #[test]
    fn over_long_line_across_chunks_fails_without_buffering_it_all() {
        // 9 MiB without a newline, in 64 KiB chunks: the decoder must give up at the limit.
        let mut decoder = LineDecoder::default();
        let chunk = Bytes::from(vec![b'A'; 1 << 16]);
        let mut pushed = 0usize;
        let error = loop {
            decoder.push(chunk.clone());
            pushed += chunk.len();
            assert!(pushed <= 9 << 20, "no error after {pushed} bytes");
            if let Some(result) = decoder.next_event() {
                break result.expect_err("an over-long line");
            }
            assert!(decoder.partial.len() <= MAX_LINE_BYTES);
        };
        assert!(pushed > MAX_LINE_BYTES);
        assert!(decoder.partial.capacity() <= 2 * MAX_LINE_BYTES);
        assert_decode_error(&error, 1, "longer than", "AAAA");
    }

    #[test]
    fn body_error_is_yielded_once_then_the_stream_ends() {
        let body = futures::stream::iter(vec![
            Ok(Bytes::from_static(b"{\"t\":\"o\",\"d\":\"YQ==\"}\n{\"t\":")),
            Err(Error::Timeout {
                message: "read".into(),
                operation: None,
                source: None,
            }),
            Ok(Bytes::from_static(b"\"x\"}\n")),
        ]);
        let mut stream = ExecStream::from_chunks(body);
        futures::executor::block_on(async {
            assert_eq!(
                stream.next().await.unwrap().unwrap(),
                ExecEvent::Stdout(Bytes::from_static(b"a"))
            );
            assert!(matches!(stream.next().await, Some(Err(Error::Timeout { .. }))));
            assert!(stream.is_terminated());
            assert!(stream.next().await.is_none());
            assert!(stream.next().await.is_none());
        });
    }

    #[test]
    fn decode_error_fuses_the_stream() {
        let mut stream = ExecStream::from_chunks(futures::stream::iter([Ok(Bytes::from_static(
            b"oops\n{\"t\":\"x\"}\n",
        ))]));
        futures::executor::block_on(async {
            assert!(matches!(
                stream.next().await,
                Some(Err(Error::StreamDecode { line: 1, .. }))
            ));
            assert!(stream.next().await.is_none());
        });
    }

    #[tokio::test]
    async fn deadline_ends_a_silent_stream_with_timeout() {
        let body = futures::stream::iter([Ok(Bytes::from_static(b"{\"t\":\"o\",\"d\":\"YQ==\"}\n"))])
            .chain(futures::stream::pending());
        let mut stream = ExecStream::from_chunks(body).deadline(Duration::from_millis(20));
        assert_eq!(
            stream.next().await.unwrap().unwrap(),
            ExecEvent::Stdout(Bytes::from_static(b"a"))
        );
        match stream.next().await {
            Some(Err(e @ Error::Timeout { .. })) => {
                assert!(e.to_string().contains("20ms"), "{e}");
                assert!(!e.is_retryable(), "an exec past its deadline may have run: {e}");
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
        assert!(stream.next().await.is_none());
        assert_eq!(stream.events_received(), 1);
    }

    #[tokio::test]
    async fn deadline_does_not_fire_once_the_exit_arrived() {
        let body = futures::stream::iter([Ok(Bytes::from_static(b"{\"t\":\"x\",\"c\":2}\n"))]);
        let stream = ExecStream::from_chunks(body).deadline(Duration::from_secs(3600));
        let out = stream.collect().await.unwrap();
        assert_eq!(out.exit.code, 2);
    }
}
