//! An exec stream's output as lines of text, each tagged with the stream it came from:
//! [`ExecStream::lines`] and [`ExecStream::collect_lines`].
//!
//! One splitter (`LineSplitter`, synchronous, no I/O) serves both: it keeps one partial line per
//! stream, joins lines split across chunks, and cuts a line longer than 1 MiB into pieces.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use futures::stream::FusedStream;

use super::output::ExecExit;
use super::{ExecEvent, ExecOutput, ExecStream};
use crate::{Error, Result};

/// The most output bytes a [`Line`] holds (1 MiB): a longer line comes in pieces.
const MAX_TEXT_LINE_BYTES: usize = 1 << 20;

/// Which output stream of a command a [`Line`] came from.
///
/// Its `Display` is `stdout` or `stderr`.
///
/// ```
/// use fastvm::exec::StdStream;
/// assert_eq!(StdStream::Stderr.to_string(), "stderr");
/// assert!(StdStream::Stdout.is_stdout());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StdStream {
    /// The command's standard output.
    Stdout,
    /// The command's standard error.
    Stderr,
}

impl StdStream {
    /// True for [`StdStream::Stdout`].
    ///
    /// ```
    /// assert!(!fastvm::exec::StdStream::Stderr.is_stdout());
    /// ```
    pub fn is_stdout(self) -> bool {
        self == StdStream::Stdout
    }
}

impl std::fmt::Display for StdStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StdStream::Stdout => "stdout",
            StdStream::Stderr => "stderr",
        })
    }
}

/// One line of a command's output ([`ExecStream::lines`], [`ExecStream::collect_lines`]).
///
/// `text` is the line without its terminator (`\n`, or `\r\n`: the `\r` is dropped too; a lone
/// `\r`, as progress bars print, stays in the text). Bytes that are not UTF-8 are replaced with
/// `U+FFFD`. A line of more than 1 MiB of output is yielded in pieces of at most 1 MiB of output
/// each (cut between characters; a `\r` that ends a piece stays in it), each but the last with
/// [`continues`](Self::continues) set, so that memory stays bounded whatever the command prints.
/// Joining the texts of a line's pieces gives the line.
///
/// ```
/// use fastvm::exec::{Line, StdStream};
/// fn show(line: &Line) -> String {
///     match line.stream {
///         StdStream::Stdout => format!("[vm] {}", line.text),
///         StdStream::Stderr => format!("[vm] ! {}", line.text),
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Line {
    /// The stream the line came from.
    pub stream: StdStream,
    /// The line, without its `\n` or `\r\n`, invalid UTF-8 replaced.
    pub text: String,
    /// True when the line was longer than 1 MiB and this is one of its pieces: the next line
    /// of the same stream continues it.
    pub continues: bool,
}

/// Where the partial line of one stream is kept.
#[derive(Default)]
struct Partial {
    bytes: Vec<u8>,
    /// When it started (the splitter's push count), to hand partial lines over in order.
    since: u64,
}

/// Splits the chunks of two output streams into lines, pulling one line at a time.
pub(crate) struct LineSplitter {
    max: usize,
    stdout: Partial,
    stderr: Partial,
    /// The current chunk; `chunk[pos..]` is not consumed yet.
    chunk: Bytes,
    pos: usize,
    stream: StdStream,
    pushes: u64,
}

impl LineSplitter {
    pub(crate) fn new() -> Self {
        Self::with_max(MAX_TEXT_LINE_BYTES)
    }

    /// A splitter cutting lines longer than `max` bytes (at least 4, a UTF-8 character).
    fn with_max(max: usize) -> Self {
        LineSplitter {
            max: max.max(4),
            stdout: Partial::default(),
            stderr: Partial::default(),
            chunk: Bytes::new(),
            pos: 0,
            stream: StdStream::Stdout,
            pushes: 0,
        }
    }

    /// Hands over the next chunk of `stream`; the previous one must be consumed
    /// (`next_line` gave `None`): what was left of it is dropped otherwise.
    pub(crate) fn push(&mut self, stream: StdStream, chunk: Bytes) {
        debug_assert!(self.pos >= self.chunk.len(), "previous chunk not consumed");
        self.pushes += 1;
        self.chunk = chunk;
        self.pos = 0;
        self.stream = stream;
    }

    fn partial(&mut self, stream: StdStream) -> &mut Partial {
        match stream {
            StdStream::Stdout => &mut self.stdout,
            StdStream::Stderr => &mut self.stderr,
        }
    }

    /// The next complete line of the chunks pushed so far, or `None` when more input is needed.
    pub(crate) fn next_line(&mut self) -> Option<Line> {
        let (stream, max, pushes) = (self.stream, self.max, self.pushes);
        let chunk = self.chunk.clone();
        let rest = chunk.get(self.pos..).unwrap_or_default();
        if rest.is_empty() {
            return None;
        }
        let partial = self.partial(stream);
        // Invariant: a partial line is at most `max` bytes (exactly `max` waits for its `\n`).
        let room = max.saturating_sub(partial.bytes.len());
        let search = &rest[..rest.len().min(room + 1)];
        if let Some(nl) = memchr::memchr(b'\n', search) {
            let content = &rest[..nl];
            let text = if partial.bytes.is_empty() {
                String::from_utf8_lossy(content.strip_suffix(b"\r").unwrap_or(content)).into_owned()
            } else {
                // The `\r` of a `\r\n` may have come with the previous chunk.
                partial.bytes.extend_from_slice(content);
                if partial.bytes.last() == Some(&b'\r') {
                    partial.bytes.pop();
                }
                text(std::mem::take(&mut partial.bytes))
            };
            self.pos += nl + 1;
            return Some(Line {
                stream,
                text,
                continues: false,
            });
        }
        if partial.bytes.is_empty() {
            partial.since = pushes;
        }
        if rest.len() <= room {
            partial.bytes.extend_from_slice(rest);
            self.pos = chunk.len();
            return None;
        }
        // No terminator within the limit: the first `max` bytes, cut between characters, are a
        // piece; the rest of a character cut in two stays for the next piece.
        partial.bytes.extend_from_slice(&rest[..room]);
        let cut = char_boundary(&partial.bytes);
        let rest_of_char = partial.bytes.split_off(cut);
        let piece = std::mem::replace(&mut partial.bytes, rest_of_char);
        self.pos += room;
        Some(Line {
            stream,
            text: text(piece),
            continues: true,
        })
    }

    /// At the end of the output: the partial lines (a last line without `\n`), one per call,
    /// in the order they started; `None` when there are none left.
    pub(crate) fn finish(&mut self) -> Option<Line> {
        let stream = match (self.stdout.bytes.is_empty(), self.stderr.bytes.is_empty()) {
            (true, true) => return None,
            (false, true) => StdStream::Stdout,
            (true, false) => StdStream::Stderr,
            (false, false) if self.stdout.since <= self.stderr.since => StdStream::Stdout,
            (false, false) => StdStream::Stderr,
        };
        let bytes = std::mem::take(&mut self.partial(stream).bytes);
        Some(Line {
            stream,
            text: text(bytes),
            continues: false,
        })
    }
}

/// `bytes` as text, invalid UTF-8 replaced (no copy when it is valid).
fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Where to cut `bytes` so that a character its last bytes start is not cut in two: before that
/// character when it is incomplete, else at the end.
fn char_boundary(bytes: &[u8]) -> usize {
    let len = bytes.len();
    // The start of the last character: at most 3 continuation bytes (`10xxxxxx`) back.
    let Some(start) = (len.saturating_sub(4)..len).rev().find(|&i| bytes[i] & 0xC0 != 0x80) else {
        return len;
    };
    let width = match bytes[start] {
        b if b < 0x80 => 1,
        b if b & 0xE0 == 0xC0 => 2,
        b if b & 0xF0 == 0xE0 => 3,
        b if b & 0xF8 == 0xF0 => 4,
        _ => 1,
    };
    if start + width > len && start > 0 { start } else { len }
}

/// The lines of a streamed command ([`ExecStream::lines`]), as they complete: a
/// [`Stream`] of [`Line`]s, then, once it has ended, the command's [`exit`](Self::exit).
///
/// Each stream (stdout, stderr) is split on its own: a line split across chunks is joined, and
/// lines are yielded in the order they are completed, so a stdout line and a stderr line
/// printed at once come in the order their ends arrived. When the command exits, the last line
/// of each stream that had no `\n` is yielded (the one started first, first). A stream error
/// ([`ExecStream`]'s: a dropped connection, a deadline) is yielded after those partial lines,
/// and ends the stream without an exit. Memory stays bounded: at most 1 MiB of partial line per
/// stream, plus the current chunk.
///
/// ```no_run
/// # async fn demo(vm: fastvm::vm::Vm) -> fastvm::Result<()> {
/// use fastvm::exec::StdStream;
/// use futures::StreamExt as _;
///
/// let mut lines = vm.stream("make -j8").await?.lines();
/// while let Some(line) = lines.next().await {
///     let line = line?;
///     match line.stream {
///         StdStream::Stdout => println!("[build] {}", line.text),
///         StdStream::Stderr => eprintln!("[build] {}", line.text),
///     }
/// }
/// // The loop ended without an error: the exit has arrived.
/// if let Some(exit) = lines.exit() {
///     println!("exit {}", exit.code);
/// }
/// # Ok(()) }
/// ```
pub struct ExecLines {
    events: ExecStream,
    splitter: LineSplitter,
    exit: Option<ExecExit>,
    /// The stream's error, yielded once the partial lines are.
    error: Option<Error>,
    /// The events are over (exit or error): partial lines are being handed over.
    ending: bool,
    done: bool,
    lines: u64,
}

impl std::fmt::Debug for ExecLines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecLines")
            .field("events", &self.events)
            .field("lines", &self.lines)
            .field("exit", &self.exit)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl ExecLines {
    /// How the command ended: `Some` once the stream has yielded its last line after the exit
    /// event; `None` before, and after a stream that ended with an error.
    ///
    /// ```no_run
    /// # async fn demo(vm: fastvm::vm::Vm) -> fastvm::Result<()> {
    /// use futures::TryStreamExt as _;
    /// let mut lines = vm.stream("ls /").await?.lines();
    /// while let Some(line) = lines.try_next().await? {
    ///     println!("{}", line.text);
    /// }
    /// assert!(lines.exit().is_some_and(|exit| exit.success()));
    /// # Ok(()) }
    /// ```
    pub fn exit(&self) -> Option<&ExecExit> {
        self.exit.as_ref().filter(|_| self.done)
    }

    /// How many lines (and pieces of long lines) the stream has yielded so far.
    ///
    /// ```no_run
    /// # async fn demo(vm: fastvm::vm::Vm) -> fastvm::Result<()> {
    /// use futures::StreamExt as _;
    /// let mut lines = vm.stream("seq 3").await?.lines();
    /// while lines.next().await.is_some() {}
    /// assert_eq!(lines.lines_received(), 3);
    /// # Ok(()) }
    /// ```
    pub fn lines_received(&self) -> u64 {
        self.lines
    }

    fn line(&mut self, line: Line) -> Poll<Option<Result<Line>>> {
        self.lines += 1;
        Poll::Ready(Some(Ok(line)))
    }
}

impl Stream for ExecLines {
    type Item = Result<Line>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            if let Some(line) = this.splitter.next_line() {
                return this.line(line);
            }
            if this.ending {
                if let Some(line) = this.splitter.finish() {
                    return this.line(line);
                }
                this.done = true;
                return Poll::Ready(this.error.take().map(Err));
            }
            match Pin::new(&mut this.events).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(ExecEvent::Stdout(b)))) => this.splitter.push(StdStream::Stdout, b),
                Poll::Ready(Some(Ok(ExecEvent::Stderr(b)))) => this.splitter.push(StdStream::Stderr, b),
                Poll::Ready(Some(Ok(exit @ ExecEvent::Exit { .. }))) => {
                    this.exit = Some(ExecExit::from_event(exit));
                    this.ending = true;
                }
                // Events of a newer server carry no output of the command.
                Poll::Ready(Some(Ok(_))) => {}
                Poll::Ready(Some(Err(e))) => {
                    this.error = Some(e);
                    this.ending = true;
                }
                // `ExecStream` reports an early end as an error; this is only a safety net.
                Poll::Ready(None) => {
                    this.error = Some(Error::StreamClosed {
                        events: this.events.events_received(),
                    });
                    this.ending = true;
                }
            }
        }
    }
}

impl FusedStream for ExecLines {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

impl ExecStream {
    /// The command's output as lines of text tagged with their stream ([`Line`]), yielded as
    /// each completes; the exit is [`ExecLines::exit`] once the lines have ended. See
    /// [`ExecLines`] for the order of lines and [`Line`] for their text (terminators dropped,
    /// invalid UTF-8 replaced, lines over 1 MiB in pieces).
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, id: &str) -> fastvm::Result<()> {
    /// use futures::TryStreamExt as _;
    /// let mut lines = client.vms().stream(id, "cargo test 2>&1").await?.lines();
    /// while let Some(line) = lines.try_next().await? {
    ///     println!("[{}] {}", line.stream, line.text);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn lines(self) -> ExecLines {
        ExecLines {
            events: self,
            splitter: LineSplitter::new(),
            exit: None,
            error: None,
            ending: false,
            done: false,
            lines: 0,
        }
    }

    /// [`collect`](Self::collect), also handing each line of output to `on_line` as it
    /// completes (split as [`lines`](Self::lines) splits): print prefixed lines live and still
    /// get all the output, and the exit, to [`check`](ExecOutput::check).
    ///
    /// The last line of each stream without a `\n` is handed over when the command exits, or
    /// when the stream fails (the error is then returned).
    ///
    /// ```no_run
    /// # async fn demo(vm: fastvm::vm::Vm) -> fastvm::Result<()> {
    /// use fastvm::exec::StdStream;
    /// let out = vm
    ///     .stream("./run-tests.sh")
    ///     .await?
    ///     .collect_lines(|line| match line.stream {
    ///         StdStream::Stdout => println!("[tests] {}", line.text),
    ///         StdStream::Stderr => println!("[tests] ! {}", line.text),
    ///     })
    ///     .await?
    ///     .check()?;
    /// # Ok(()) }
    /// ```
    pub async fn collect_lines(self, mut on_line: impl FnMut(&Line)) -> Result<ExecOutput> {
        let mut splitter = LineSplitter::new();
        let collected = self
            .collect_with(|event| {
                let (stream, bytes) = match event {
                    ExecEvent::Stdout(b) => (StdStream::Stdout, b),
                    ExecEvent::Stderr(b) => (StdStream::Stderr, b),
                    _ => return,
                };
                splitter.push(stream, bytes.clone());
                while let Some(line) = splitter.next_line() {
                    on_line(&line);
                }
            })
            .await;
        while let Some(line) = splitter.finish() {
            on_line(&line);
        }
        collected
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use futures::StreamExt as _;
    use proptest::prelude::*;

    use super::*;

    fn out(text: &str) -> Line {
        Line {
            stream: StdStream::Stdout,
            text: text.into(),
            continues: false,
        }
    }

    fn err(text: &str) -> Line {
        Line {
            stream: StdStream::Stderr,
            text: text.into(),
            continues: false,
        }
    }

    fn piece(stream: StdStream, text: &str) -> Line {
        Line {
            stream,
            text: text.into(),
            continues: true,
        }
    }

    /// Feeds `chunks` to a splitter cutting at `max` and returns every line, the final ones too.
    fn split(max: usize, chunks: &[(StdStream, &[u8])]) -> Vec<Line> {
        let mut splitter = LineSplitter::with_max(max);
        let mut lines = Vec::new();
        for (stream, bytes) in chunks {
            splitter.push(*stream, Bytes::copy_from_slice(bytes));
            while let Some(line) = splitter.next_line() {
                lines.push(line);
            }
        }
        while let Some(line) = splitter.finish() {
            lines.push(line);
        }
        lines
    }

    const O: StdStream = StdStream::Stdout;
    const E: StdStream = StdStream::Stderr;

    #[test]
    fn the_line_stream_can_be_spawned() {
        fn send<T: Send + 'static>() {}
        send::<ExecLines>();
        send::<Line>();
    }

    #[test]
    fn lines_split_across_chunks_are_joined() {
        let lines = split(
            1 << 20,
            &[(O, b"hel"), (O, b"lo\nwor"), (O, b""), (O, b"ld\n\n"), (O, b"x\ny\n")],
        );
        assert_eq!(lines, [out("hello"), out("world"), out(""), out("x"), out("y")]);
    }

    #[test]
    fn every_split_point_gives_the_same_lines() {
        let body = "first line\r\nsecond ✓ line\n\nthird".as_bytes();
        let want = [out("first line"), out("second ✓ line"), out(""), out("third")];
        for cut in 0..=body.len() {
            assert_eq!(
                split(1 << 20, &[(O, &body[..cut]), (O, &body[cut..])]),
                want,
                "cut at {cut}"
            );
        }
        let bytes: Vec<(StdStream, &[u8])> = body.chunks(1).map(|b| (O, b)).collect();
        assert_eq!(split(1 << 20, &bytes), want, "byte by byte");
    }

    #[test]
    fn crlf_drops_the_cr_and_a_lone_cr_stays() {
        let lines = split(1 << 20, &[(O, b"a\r\nb\r"), (O, b"\nprogress 1\rprogress 2\n")]);
        assert_eq!(lines, [out("a"), out("b"), out("progress 1\rprogress 2")]);
    }

    #[test]
    fn streams_are_split_apart_and_interleave_by_completion() {
        let lines = split(
            1 << 20,
            &[
                (O, b"out-1 "),
                (E, b"err-1\nerr-2 "),
                (O, b"end\nout-2\n"),
                (E, b"end\n"),
            ],
        );
        assert_eq!(lines, [err("err-1"), out("out-1 end"), out("out-2"), err("err-2 end")]);
    }

    #[test]
    fn final_lines_without_newline_come_at_the_end_in_the_order_they_started() {
        assert_eq!(split(1 << 20, &[(O, b"a\nb")]), [out("a"), out("b")]);
        assert_eq!(
            split(1 << 20, &[(E, b"late"), (O, b"x\nlast")]),
            [out("x"), err("late"), out("last")]
        );
        assert_eq!(split(1 << 20, &[(O, b"")]), []);
    }

    #[test]
    fn invalid_utf8_is_replaced_and_split_characters_are_joined() {
        let check = "✓".as_bytes();
        let lines = split(
            1 << 20,
            &[
                (O, &[b'a', 0xFF, b'\n']),
                (O, &check[..1]),
                (O, &check[1..]),
                (O, b"\n"),
            ],
        );
        assert_eq!(lines, [out("a\u{FFFD}"), out("✓")]);
        assert_eq!(split(1 << 20, &[(E, &[0xC3])]), [err("\u{FFFD}")]);
    }

    #[test]
    fn a_long_line_comes_in_pieces_of_at_most_max_bytes() {
        let lines = split(8, &[(O, b"0123456789abcdefghij\nnext\n")]);
        assert_eq!(
            lines,
            [piece(O, "01234567"), piece(O, "89abcdef"), out("ghij"), out("next")]
        );
        // Exactly the limit is one line; one more byte is two.
        assert_eq!(split(8, &[(O, b"0123"), (O, b"4567\n")]), [out("01234567")]);
        assert_eq!(
            split(8, &[(O, b"0123"), (O, b"45678")]),
            [piece(O, "01234567"), out("8")]
        );
        // Cut between characters: `✓` (3 bytes) at bytes 6..9 moves to the next piece.
        assert_eq!(
            split(8, &[(O, "abcdef✓gh\n".as_bytes())]),
            [piece(O, "abcdef"), out("✓gh")]
        );
    }

    #[test]
    fn a_huge_line_is_bounded_in_memory() {
        let mut splitter = LineSplitter::new();
        let chunk = Bytes::from(vec![b'A'; 64 * 1024]);
        let mut pieces = Vec::new();
        for _ in 0..40 {
            splitter.push(StdStream::Stdout, chunk.clone());
            while let Some(line) = splitter.next_line() {
                pieces.push((line.text.len(), line.continues));
            }
            assert!(splitter.stdout.bytes.len() <= MAX_TEXT_LINE_BYTES);
        }
        splitter.push(StdStream::Stdout, Bytes::from_static(b"\n"));
        while let Some(line) = splitter.next_line() {
            pieces.push((line.text.len(), line.continues));
        }
        let total = 40 * 64 * 1024;
        assert_eq!(
            pieces,
            [
                (MAX_TEXT_LINE_BYTES, true),
                (MAX_TEXT_LINE_BYTES, true),
                (total - 2 * MAX_TEXT_LINE_BYTES, false)
            ]
        );
    }

    /// The lines of `bytes` split at once, as a reader of the whole output would: on `\n`, one
    /// `\r` before it dropped, the last line kept when not empty.
    fn reference(bytes: &[u8]) -> Vec<String> {
        let mut parts: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        let last = parts.pop().unwrap_or_default();
        let mut lines: Vec<String> = parts
            .into_iter()
            .map(|l| String::from_utf8_lossy(l.strip_suffix(b"\r").unwrap_or(l)).into_owned())
            .collect();
        if !last.is_empty() {
            lines.push(String::from_utf8_lossy(last).into_owned());
        }
        lines
    }

    /// Bytes rich in what a splitter can get wrong: terminators, multi-byte and broken UTF-8.
    fn output() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(b"\n".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"\r".to_vec()),
            Just("é✓😀".as_bytes().to_vec()),
            Just(vec![0xE2, 0x82]),
            Just(vec![0xFF]),
            proptest::collection::vec(b'a'..=b'z', 0..12),
        ];
        proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
    }

    fn chunks(bytes: &[u8], cuts: &[prop::sample::Index]) -> Vec<(StdStream, Vec<u8>)> {
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        cuts.sort_unstable();
        let mut start = 0;
        let mut out = Vec::new();
        for cut in cuts.into_iter().chain([bytes.len()]) {
            out.push((O, bytes[start..cut].to_vec()));
            start = cut;
        }
        out
    }

    fn split_owned(max: usize, chunks: &[(StdStream, Vec<u8>)]) -> Vec<Line> {
        let borrowed: Vec<(StdStream, &[u8])> = chunks.iter().map(|(s, b)| (*s, b.as_slice())).collect();
        split(max, &borrowed)
    }

    proptest! {
        #[test]
        fn any_chunking_gives_the_lines_of_the_whole(
            bytes in output(),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
        ) {
            let lines = split_owned(1 << 20, &chunks(&bytes, &cuts));
            prop_assert!(lines.iter().all(|l| !l.continues && l.stream == O));
            let texts: Vec<String> = lines.into_iter().map(|l| l.text).collect();
            prop_assert_eq!(texts, reference(&bytes));
        }

        #[test]
        fn pieces_of_long_lines_join_back_and_stay_bounded(
            bytes in output(),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
            max in 4usize..16,
        ) {
            // Without `\r`: a cut between `\r` and `\n` leaves the `\r` in a piece (documented).
            let bytes: Vec<u8> = bytes.into_iter().filter(|&b| b != b'\r').collect();
            let mut joined = Vec::new();
            let mut current = String::new();
            for line in split_owned(max, &chunks(&bytes, &cuts)) {
                current.push_str(&line.text);
                if !line.continues {
                    joined.push(std::mem::take(&mut current));
                }
            }
            prop_assert!(current.is_empty(), "the last piece does not continue");
            prop_assert_eq!(joined, reference(&bytes));
        }
    }

    #[test]
    fn char_boundaries() {
        assert_eq!(char_boundary(b"abcd"), 4);
        assert_eq!(char_boundary("ab✓".as_bytes()), 5);
        assert_eq!(char_boundary(&"ab✓".as_bytes()[..4]), 2);
        assert_eq!(char_boundary(&[0x80, 0x80, 0x80, 0x80]), 4);
        assert_eq!(char_boundary(&[0xF0]), 1);
        assert_eq!(char_boundary(&[]), 0);
    }

    fn event(t: &str, data: &[u8]) -> String {
        format!("{{\"t\":\"{t}\",\"d\":\"{}\"}}\n", STANDARD.encode(data))
    }

    fn stream(chunks: Vec<String>) -> ExecStream {
        ExecStream::from_chunks(futures::stream::iter(chunks.into_iter().map(|c| Ok(Bytes::from(c)))))
    }

    #[tokio::test]
    async fn lines_then_the_exit() {
        let mut lines = stream(vec![
            event("o", b"one\ntw"),
            event("e", b"warn"),
            "{\"t\":\"p\"}\n".into(),
            event("o", b"o\nthree"),
            "{\"t\":\"x\",\"c\":4}\n".into(),
        ])
        .lines();
        let mut got = Vec::new();
        while let Some(line) = lines.next().await {
            assert!(lines.exit().is_none(), "no exit before the last line");
            got.push(line.unwrap());
        }
        assert_eq!(got, [out("one"), out("two"), err("warn"), out("three")]);
        assert_eq!(lines.exit().map(|e| e.code), Some(4));
        assert_eq!(lines.lines_received(), 4);
        assert!(lines.is_terminated());
        assert!(lines.next().await.is_none());
    }

    #[tokio::test]
    async fn an_error_comes_after_the_partial_lines_and_there_is_no_exit() {
        let mut lines = stream(vec![event("o", b"done\npartial")]).lines();
        assert_eq!(lines.next().await.unwrap().unwrap(), out("done"));
        assert_eq!(lines.next().await.unwrap().unwrap(), out("partial"));
        assert!(matches!(
            lines.next().await,
            Some(Err(Error::StreamClosed { events: 1 }))
        ));
        assert!(lines.next().await.is_none());
        assert!(lines.exit().is_none());
    }

    #[tokio::test]
    async fn collect_lines_hands_over_every_line_and_collects_everything() {
        let mut seen = Vec::new();
        let collected = stream(vec![
            event("o", b"a\nb"),
            event("e", b"x\r\n"),
            event("o", b"c"),
            "{\"t\":\"x\",\"c\":1}\n".into(),
        ])
        .collect_lines(|line| seen.push(line.clone()))
        .await
        .unwrap();
        assert_eq!(seen, [out("a"), err("x"), out("bc")]);
        assert_eq!(collected.stdout, b"a\nbc");
        assert_eq!(collected.combined(), b"a\nbx\r\nc");
        assert_eq!(collected.exit.code, 1);

        let mut seen = Vec::new();
        let failed = stream(vec![event("o", b"cut")])
            .collect_lines(|line| seen.push(line.clone()))
            .await;
        assert!(matches!(failed, Err(Error::StreamClosed { .. })));
        assert_eq!(seen, [out("cut")], "a partial line is handed over before the error");
    }
}
