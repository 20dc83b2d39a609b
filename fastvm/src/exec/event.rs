//! [`ExecEvent`]: one decoded event of an exec stream. (Stub; replaced by the exec work.)

use bytes::Bytes;

/// One event of an exec stream.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExecEvent {
    /// A chunk of stdout.
    Stdout(Bytes),
    /// A chunk of stderr.
    Stderr(Bytes),
    /// The command exited.
    Exit {
        /// Exit code.
        code: i64,
        /// Whether the server-side timeout killed it.
        timed_out: bool,
        /// Guest-reported duration in ms.
        duration_ms: Option<u64>,
        /// Diagnostic (e.g. spawn failure).
        diagnostic: Option<String>,
    },
    /// An event type this SDK does not know; the raw line is kept.
    Unknown {
        /// The `t` value.
        kind: String,
        /// The raw line.
        raw: String,
    },
}
