//! [`ExecEvent`]: one decoded event of an exec stream.

use bytes::Bytes;

/// One event of an exec stream (one NDJSON line of `POST /v1/vms/{id}/exec`).
///
/// The wire line `{"t":"o","d":"<base64>"}` becomes [`ExecEvent::Stdout`] with the decoded
/// bytes, `"e"` becomes [`ExecEvent::Stderr`], and the terminal `"x"` line becomes
/// [`ExecEvent::Exit`], with the server's omissions filled in (a missing `c` is exit code 0, a
/// missing `to` is "not timed out"). Chunk boundaries are the server's: one chunk of output is
/// not one line of text.
///
/// ```
/// use fastvm::exec::ExecEvent;
/// fn describe(event: &ExecEvent) -> String {
///     match event {
///         ExecEvent::Stdout(bytes) => format!("{} bytes of stdout", bytes.len()),
///         ExecEvent::Stderr(bytes) => format!("{} bytes of stderr", bytes.len()),
///         ExecEvent::Exit { code, timed_out: true, .. } => format!("killed by the timeout (exit {code})"),
///         ExecEvent::Exit { code, .. } => format!("exit {code}"),
///         ExecEvent::Unknown { kind, .. } => format!("an event of unknown type {kind:?}"),
///         _ => "something newer".to_string(),
///     }
/// }
/// assert_eq!(describe(&ExecEvent::Stdout("hi\n".into())), "3 bytes of stdout");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExecEvent {
    /// A chunk of stdout (`t: "o"`, base64 `d` decoded).
    Stdout(Bytes),
    /// A chunk of stderr (`t: "e"`, base64 `d` decoded).
    Stderr(Bytes),
    /// The command exited (`t: "x"`); always the last event of a stream.
    Exit {
        /// Exit code (`c`; 0 when the server omits it).
        code: i64,
        /// Whether the server-side timeout killed the command (`to`; false when omitted).
        timed_out: bool,
        /// Guest-reported run time (`ms`, in milliseconds on the wire), when the server sent it.
        duration: Option<std::time::Duration>,
        /// The server's plain-text diagnostic (`d`, e.g. why the command could not be spawned);
        /// `None` when absent or empty.
        diagnostic: Option<String>,
    },
    /// An event type this SDK does not know (a newer server); the raw line is kept.
    Unknown {
        /// The `t` value.
        kind: String,
        /// The whole line, without its line terminator.
        raw: String,
    },
}

impl ExecEvent {
    /// True for the terminal [`ExecEvent::Exit`].
    pub fn is_exit(&self) -> bool {
        matches!(self, ExecEvent::Exit { .. })
    }
}
