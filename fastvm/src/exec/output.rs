//! Collecting and teeing an exec stream. (Stub; replaced by the exec work.)

/// The collected output of a streamed command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// All stdout bytes.
    pub stdout: Vec<u8>,
    /// All stderr bytes.
    pub stderr: Vec<u8>,
    /// Exit code.
    pub exit_code: i64,
    /// Whether the server-side timeout killed the command.
    pub timed_out: bool,
    /// Guest-reported duration.
    pub duration: Option<std::time::Duration>,
}
