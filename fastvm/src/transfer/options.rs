//! [`TransferOptions`] and [`Progress`].

use std::fmt;
use std::sync::Arc;

/// A progress callback: called from the transfer's task, so keep it cheap and non-blocking.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// How far a transfer is, as reported to [`TransferOptions::progress`].
///
/// For files, the bytes are the file's bytes; for directories they are the bytes of the
/// compressed archive on the wire, whose total is unknown on upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Bytes sent to (upload) or received from (download) storage so far. A retried upload
    /// starts again from zero.
    pub bytes_done: u64,
    /// The total, when known in advance.
    pub bytes_total: Option<u64>,
}

/// Options of [`FastvmClient::upload`](crate::FastvmClient::upload) and
/// [`FastvmClient::download`](crate::FastvmClient::download).
///
/// ```
/// use fastvm::transfer::TransferOptions;
/// let opts = TransferOptions::new()
///     .fetch_timeout_sec(120)
///     .verify(true)
///     .progress(|p| eprintln!("{} / {:?}", p.bytes_done, p.bytes_total));
/// assert!(opts.verify_enabled());
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct TransferOptions {
    /// Upload: the VM-side `files/fetch` timeout. Download: the deadline of the client's
    /// storage GET (and extraction). Seconds; default 600; 0 is taken as 1.
    pub fetch_timeout_sec: u64,
    /// The timeout of each VM-side command (classify, `curl`, `tar`, `sha256sum`). Seconds;
    /// default 600; 0 is taken as 1.
    pub exec_timeout_sec: u64,
    /// Called as bytes move between the client and storage.
    pub progress: Option<ProgressFn>,
    /// Compare a SHA-256 computed while streaming with `sha256sum` run in the VM (files only).
    pub verify: bool,
    /// Directory downloads: refuse an archive with more entries than this. Default 1,000,000.
    pub max_entries: u64,
    /// Directory downloads: refuse an archive whose file contents exceed this many bytes in
    /// total. Default 64 GiB.
    pub max_total_bytes: u64,
}

impl TransferOptions {
    /// Default `fetch_timeout_sec` and `exec_timeout_sec`, as the reference SDKs.
    pub const DEFAULT_TIMEOUT_SEC: u64 = 600;
    /// Default [`TransferOptions::max_entries`].
    pub const DEFAULT_MAX_ENTRIES: u64 = 1_000_000;
    /// Default [`TransferOptions::max_total_bytes`].
    pub const DEFAULT_MAX_TOTAL_BYTES: u64 = 64 << 30;

    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`TransferOptions::fetch_timeout_sec`] (at least 1).
    pub fn fetch_timeout_sec(mut self, seconds: u64) -> Self {
        self.fetch_timeout_sec = seconds.max(1);
        self
    }

    /// Sets [`TransferOptions::exec_timeout_sec`] (at least 1).
    pub fn exec_timeout_sec(mut self, seconds: u64) -> Self {
        self.exec_timeout_sec = seconds.max(1);
        self
    }

    /// Sets the progress callback.
    pub fn progress(mut self, f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    /// Turns SHA-256 verification on or off.
    pub fn verify(mut self, on: bool) -> Self {
        self.verify = on;
        self
    }

    /// Whether SHA-256 verification is on.
    pub fn verify_enabled(&self) -> bool {
        self.verify
    }

    /// Sets [`TransferOptions::max_entries`].
    pub fn max_entries(mut self, n: u64) -> Self {
        self.max_entries = n;
        self
    }

    /// Sets [`TransferOptions::max_total_bytes`].
    pub fn max_total_bytes(mut self, n: u64) -> Self {
        self.max_total_bytes = n;
        self
    }

    /// `fetch_timeout_sec` as used: at least 1, because the public field bypasses the setter's
    /// clamp and 0 would time the download out at once (and send `timeoutSec: 0`).
    pub(crate) fn fetch_timeout(&self) -> u64 {
        self.fetch_timeout_sec.max(1)
    }

    /// `exec_timeout_sec` as used: at least 1, for the same reason as [`Self::fetch_timeout`].
    pub(crate) fn exec_timeout(&self) -> u64 {
        self.exec_timeout_sec.max(1)
    }

    pub(crate) fn report(&self, bytes_done: u64, bytes_total: Option<u64>) {
        if let Some(f) = &self.progress {
            f(Progress {
                bytes_done,
                bytes_total,
            });
        }
    }
}

impl Default for TransferOptions {
    fn default() -> Self {
        TransferOptions {
            fetch_timeout_sec: Self::DEFAULT_TIMEOUT_SEC,
            exec_timeout_sec: Self::DEFAULT_TIMEOUT_SEC,
            progress: None,
            verify: false,
            max_entries: Self::DEFAULT_MAX_ENTRIES,
            max_total_bytes: Self::DEFAULT_MAX_TOTAL_BYTES,
        }
    }
}

impl fmt::Debug for TransferOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransferOptions")
            .field("fetch_timeout_sec", &self.fetch_timeout_sec)
            .field("exec_timeout_sec", &self.exec_timeout_sec)
            .field("progress", &self.progress.as_ref().map(|_| "<callback>"))
            .field("verify", &self.verify)
            .field("max_entries", &self.max_entries)
            .field("max_total_bytes", &self.max_total_bytes)
            .finish()
    }
}
