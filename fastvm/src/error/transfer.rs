//! [`FileTransferError`]: the error of file and directory transfers, a kind of [`Error`](crate::Error).

/// What went wrong in a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileTransferErrorKind {
    /// The source path does not exist (the reference's `ENOENT`): remote on download, local on upload.
    NotFound,
    /// The upload is larger than the VM accepts (`maxUploadBytes`); nothing was sent.
    TooLarge,
    /// Presigned storage answered with a non-2xx status, or the connection to it failed.
    Storage,
    /// A VM-side command (classify, `curl`, `tar`, fetch, `sha256sum`) failed or timed out.
    RemoteCommand,
    /// Reading or writing local files failed.
    Io,
    /// An archive entry was refused (absolute path, `..`, escaping link, device file, caps exceeded,
    /// or any symlink on a platform other than Unix) or the archive is corrupt.
    Archive,
    /// The SHA-256 computed while streaming differs from the one computed VM-side.
    Verify,
    /// The local path is of a kind that cannot be transferred (not a file or directory).
    Unsupported,
}

/// A failed [`upload`](crate::FastvmClient::upload) or [`download`](crate::FastvmClient::download).
///
/// Presigned URLs never appear in the message: they are redacted to scheme, host and path.
/// The message is one line: control characters (and the Unicode controls that reorder or
/// break a line) are written as escapes such as `\u{1b}`, so that a name taken from an
/// archive cannot move a terminal's cursor or start a new line.
#[derive(Debug)]
#[non_exhaustive]
pub struct FileTransferError {
    /// What went wrong.
    pub kind: FileTransferErrorKind,
    /// One-line description.
    pub message: String,
    /// The storage HTTP status, for [`FileTransferErrorKind::Storage`].
    pub status: Option<reqwest::StatusCode>,
    /// The exit code of the VM-side command, for [`FileTransferErrorKind::RemoteCommand`].
    pub exit_code: Option<i64>,
    /// The start of the VM-side command's stderr (bounded, URLs redacted, control characters
    /// other than line feeds escaped as in the message).
    pub stderr: Option<String>,
    /// The underlying error, if any, for inspection: its text is already in `message`, so
    /// `source()` does not return it (a chain printer would show it twice).
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl FileTransferError {
    /// A new error of `kind`.
    pub(crate) fn new(kind: FileTransferErrorKind, message: impl Into<String>) -> Self {
        FileTransferError {
            kind,
            message: escape_controls(&crate::redact::text(&message.into()), false),
            status: None,
            exit_code: None,
            stderr: None,
            source: None,
        }
    }

    /// The storage status, if any: the `status` field, kept as a method because
    /// [`crate::Error::status`] and existing callers use it.
    pub fn status(&self) -> Option<reqwest::StatusCode> {
        self.status
    }

    /// A local I/O failure: `Io`, with the message "`what` `path`: `e`" and `e` as the source.
    pub(crate) fn io(what: &str, path: &std::path::Path, e: std::io::Error) -> Self {
        FileTransferError::new(FileTransferErrorKind::Io, format!("{what} {}: {e}", path.display())).with_source(e)
    }

    /// A blocking helper thread (`what`: "file reader", "extractor", ...) that panicked or was
    /// cancelled: `Io`, with the join error as the source.
    pub(crate) fn join(what: &str, e: tokio::task::JoinError) -> Self {
        FileTransferError::new(FileTransferErrorKind::Io, format!("the {what} failed: {e}")).with_source(e)
    }

    pub(crate) fn with_status(mut self, status: reqwest::StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    pub(crate) fn with_exit(mut self, exit_code: i64, stderr: &str) -> Self {
        self.exit_code = Some(exit_code);
        let stderr = crate::redact::text(&crate::redact::snippet(stderr.as_bytes(), 2000));
        self.stderr = Some(escape_controls(&stderr, true));
        self
    }

    pub(crate) fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }
}

impl std::fmt::Display for FileTransferError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write as _;
        // One line with no terminal escape, whatever a VM, storage or an archive sent.
        let f = &mut crate::redact::OneLine(f);
        write!(f, "file transfer failed ({:?}): {}", self.kind, self.message)?;
        if let Some(code) = self.exit_code {
            write!(f, " (exit {code})")?;
        }
        if let Some(stderr) = self.stderr.as_deref().filter(|s| !s.trim().is_empty()) {
            write!(f, ": {}", stderr.trim().replace('\n', " | "))?;
        }
        Ok(())
    }
}

/// No source: the message already includes the underlying error's text (see the `source` field).
impl std::error::Error for FileTransferError {}

/// `s` with every character that could change how a terminal shows it (`redact::is_unsafe`:
/// control characters, the Unicode controls that reorder text, the line and paragraph
/// separators) written as a `\u{..}` escape. With `keep_lf`, `\n` is kept (stderr is shown
/// line by line, joined with ` | `).
///
/// Text from outside (archive entry names, link targets, the `tar` crate's errors, which can
/// quote raw header bytes) goes into messages through this. A backslash is not escaped: the
/// result is for people to read, and Windows paths stay readable.
pub(crate) fn escape_controls(s: &str, keep_lf: bool) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if crate::redact::is_unsafe(c) && !(keep_lf && c == '\n') {
            // Writing to a `String` cannot fail.
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(
            escape_controls("a\x1b[31mred\x07\r\n\t\x7f\u{85}z", false),
            "a\\u{1b}[31mred\\u{7}\\u{d}\\u{a}\\u{9}\\u{7f}\\u{85}z"
        );
        assert_eq!(escape_controls("x\u{202e}y\u{2028}", false), "x\\u{202e}y\\u{2028}");
        let plain = "ünï cødé 'q' \"d\" C:\\dir/a b";
        assert_eq!(escape_controls(plain, false), plain);
        assert_eq!(escape_controls("one\ntwo\x1b", true), "one\ntwo\\u{1b}");
    }

    #[test]
    fn messages_and_stderr_are_one_line_without_control_characters() {
        let e = FileTransferError::new(FileTransferErrorKind::Archive, "entry a\x1b]0;owned\x07\nb is bad")
            .with_exit(2, "first\x1b[2J\nsecond\r");
        assert_eq!(e.message, "entry a\\u{1b}]0;owned\\u{7}\\u{a}b is bad");
        assert_eq!(e.stderr.as_deref(), Some("first\\u{1b}[2J\nsecond\\u{d}"));
        let shown = e.to_string();
        assert!(!shown.chars().any(crate::redact::is_unsafe), "{shown:?}");
        assert!(shown.ends_with("(exit 2): first\\u{1b}[2J | second\\u{d}"), "{shown}");
    }
}
