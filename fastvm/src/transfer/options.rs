//! [`Progress`], the options of a transfer request, and the setters both directions share.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::{Result, validate};

/// A progress callback: called from the transfer's task, so keep it cheap and non-blocking.
pub(crate) type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// How far a transfer is, as reported to the `progress` callback of an
/// [`Upload`](super::Upload) or [`Download`](super::Download).
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

/// The options of one transfer, as set on its [`Upload`](super::Upload),
/// [`Download`](super::Download) or [`UploadMany`](super::UploadMany) request, and as the
/// transfer code reads them once [`check`](Self::check)ed.
#[derive(Clone)]
pub(crate) struct TransferOptions {
    /// Upload: the VM-side `files/fetch` timeout. Download: the deadline of the client's
    /// storage GET (and extraction). Whole seconds on the wire, at least 1; default 600 s.
    pub(crate) fetch_timeout: Duration,
    /// The timeout of each VM-side command (classify, `curl`, `tar`, `sha256sum`), as
    /// `fetch_timeout`.
    pub(crate) exec_timeout: Duration,
    /// Called as bytes move between the client and storage.
    pub(crate) progress: Option<ProgressFn>,
    /// Compare a SHA-256 computed while streaming with `sha256sum` run in the VM (files only).
    pub(crate) verify: bool,
    /// Directory downloads: refuse an archive with more entries than this. Default 1,000,000.
    pub(crate) max_entries: u64,
    /// Directory downloads: refuse an archive whose file contents exceed this many bytes in
    /// total. Default 64 GiB.
    pub(crate) max_total_bytes: u64,
}

impl TransferOptions {
    /// Default `fetch_timeout` and `exec_timeout`, as the reference SDKs.
    const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
    /// Default [`TransferOptions::max_entries`].
    const DEFAULT_MAX_ENTRIES: u64 = 1_000_000;
    /// Default [`TransferOptions::max_total_bytes`].
    const DEFAULT_MAX_TOTAL_BYTES: u64 = 64 << 30;

    /// The options, with the times checked before anything is sent (a zero timeout is
    /// refused: the wire has no zero seconds).
    pub(crate) fn check(self) -> Result<Self> {
        validate::seconds("fetch_timeout", self.fetch_timeout)?;
        validate::seconds("exec_timeout", self.exec_timeout)?;
        Ok(self)
    }

    /// `fetch_timeout` in whole seconds (rounded up, at least 1).
    pub(crate) fn fetch_timeout(&self) -> u64 {
        validate::seconds("fetch_timeout", self.fetch_timeout).map_or(1, |s| s.get())
    }

    /// `exec_timeout` in whole seconds, as [`Self::fetch_timeout`].
    pub(crate) fn exec_timeout(&self) -> u64 {
        validate::seconds("exec_timeout", self.exec_timeout).map_or(1, |s| s.get())
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
            fetch_timeout: Self::DEFAULT_TIMEOUT,
            exec_timeout: Self::DEFAULT_TIMEOUT,
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
            .field("fetch_timeout", &self.fetch_timeout)
            .field("exec_timeout", &self.exec_timeout)
            .field("progress", &self.progress.as_ref().map(|_| "<callback>"))
            .field("verify", &self.verify)
            .field("max_entries", &self.max_entries)
            .field("max_total_bytes", &self.max_total_bytes)
            .finish()
    }
}

/// The options both directions share, as setters.
macro_rules! shared_setters {
    ($fetch:literal) => {
        #[doc = $fetch]
        pub fn fetch_timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.options.fetch_timeout = timeout;
            self
        }

        /// The timeout of each VM-side command of the transfer (classify, `curl`, `tar`,
        /// `sha256sum`; default 600 s; whole seconds, at least 1).
        pub fn exec_timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.options.exec_timeout = timeout;
            self
        }

        /// Compares a SHA-256 computed while streaming with `sha256sum` run in the VM (default
        /// off): a file's bytes; for a directory upload and `upload_many`, the archive's,
        /// checked before anything is extracted (a mismatch is
        /// [`FileTransferErrorKind::Verify`]($crate::FileTransferErrorKind::Verify) and nothing
        /// is extracted). Directory downloads are not checked.
        pub fn verify(mut self, verify: bool) -> Self {
            self.options.verify = verify;
            self
        }

        /// Called as bytes move between the client and storage, from the transfer's task: keep it
        /// cheap and non-blocking. For a directory (and `upload_many`) the bytes are those of the
        /// compressed archive, whose total is unknown on upload; a retried upload starts again
        /// from zero.
        pub fn progress(mut self, f: impl Fn($crate::transfer::Progress) + Send + Sync + 'static) -> Self {
            self.options.progress = Some(std::sync::Arc::new(f));
            self
        }
    };
}
pub(super) use shared_setters;

/// The options' `Debug` names what is set, never the callback.
macro_rules! debug_request {
    ($ty:ident, $($field:ident),*) => {
        impl std::fmt::Debug for $ty<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($field), &self.$field))*
                    .field("options", &self.options)
                    .finish_non_exhaustive()
            }
        }
    };
}
pub(super) use debug_request;
