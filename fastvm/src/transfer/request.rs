//! The transfer requests: [`Upload`] and [`Download`], with their options.

use std::path::PathBuf;
use std::time::Duration;

use super::Progress;
use super::options::TransferOptions;
use crate::resources::into_future;
use crate::{FastvmClient, Result, validate};

/// What both directions let the caller set.
#[derive(Clone, Default)]
struct Options {
    fetch_timeout: Option<Duration>,
    exec_timeout: Option<Duration>,
    resolved: TransferOptions,
}

impl Options {
    /// The options as the transfer code uses them, with the times checked.
    fn resolve(mut self) -> Result<TransferOptions> {
        if let Some(t) = self.fetch_timeout {
            self.resolved.fetch_timeout_sec = validate::seconds("fetch_timeout", t)?.get();
        }
        if let Some(t) = self.exec_timeout {
            self.resolved.exec_timeout_sec = validate::seconds("exec_timeout", t)?.get();
        }
        Ok(self.resolved)
    }
}

/// The options both directions share, as setters.
macro_rules! shared_setters {
    ($fetch:literal) => {
        #[doc = $fetch]
        pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
            self.options.fetch_timeout = Some(timeout);
            self
        }

        /// The timeout of each VM-side command of the transfer (classify, `curl`, `tar`,
        /// `sha256sum`; default 600 s; whole seconds, at least 1).
        pub fn exec_timeout(mut self, timeout: Duration) -> Self {
            self.options.exec_timeout = Some(timeout);
            self
        }

        /// Compares a SHA-256 computed while streaming with `sha256sum` run in the VM (default
        /// off): a file's bytes; for a directory upload, the archive's, checked before anything
        /// is extracted. Directory downloads are not checked.
        pub fn verify(mut self, verify: bool) -> Self {
            self.options.resolved.verify = verify;
            self
        }

        /// Called as bytes move between the client and storage, from the transfer's task: keep it
        /// cheap and non-blocking. For a directory the bytes are those of the compressed archive,
        /// whose total is unknown on upload; a retried upload starts again from zero.
        pub fn progress(mut self, f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
            self.options.resolved.progress = Some(std::sync::Arc::new(f));
            self
        }
    };
}

/// The request of [`FastvmClient::upload`]; await it.
#[must_use = "a request does nothing until it is awaited"]
pub struct Upload<'a> {
    client: &'a FastvmClient,
    vm_id: &'a str,
    local: PathBuf,
    remote: &'a str,
    options: Options,
}

impl Upload<'_> {
    shared_setters!("The VM-side `files/fetch` timeout (default 600 s; whole seconds, at least 1).");

    async fn send(self) -> Result<()> {
        let opts = self.options.resolve()?;
        self.client
            .upload_with(self.vm_id, &self.local, self.remote, &opts)
            .await
    }
}

into_future!(Upload => (), |u: &Upload<'_>| tracing::debug_span!(
    "fastvm.transfer",
    direction = "upload",
    vm_id = u.vm_id,
    remote = u.remote
));

/// The request of [`FastvmClient::download`]; await it.
#[must_use = "a request does nothing until it is awaited"]
pub struct Download<'a> {
    client: &'a FastvmClient,
    vm_id: &'a str,
    remote: &'a str,
    local: PathBuf,
    options: Options,
}

impl Download<'_> {
    shared_setters!(
        "The deadline of the client's storage download, extraction included (default 600 s; whole seconds, at least 1)."
    );

    /// Directories: refuse an archive with more entries than this (default 1,000,000).
    pub fn max_entries(mut self, n: u64) -> Self {
        self.options.resolved.max_entries = n;
        self
    }

    /// Directories: refuse an archive whose file contents exceed this many bytes in total
    /// (default 64 GiB).
    pub fn max_total_bytes(mut self, n: u64) -> Self {
        self.options.resolved.max_total_bytes = n;
        self
    }

    async fn send(self) -> Result<()> {
        let opts = self.options.resolve()?;
        self.client
            .download_with(self.vm_id, self.remote, &self.local, &opts)
            .await
    }
}

into_future!(Download => (), |d: &Download<'_>| tracing::debug_span!(
    "fastvm.transfer",
    direction = "download",
    vm_id = d.vm_id,
    remote = d.remote
));

/// The options' `Debug` names what is set, never the callback.
macro_rules! debug_request {
    ($ty:ident, $($field:ident),*) => {
        impl std::fmt::Debug for $ty<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($field), &self.$field))*
                    .field("options", &self.options.resolved)
                    .finish_non_exhaustive()
            }
        }
    };
}
debug_request!(Upload, vm_id, local, remote);
debug_request!(Download, vm_id, remote, local);

impl<'a> Upload<'a> {
    /// The request of [`FastvmClient::upload`].
    pub(crate) fn new(client: &'a FastvmClient, vm_id: &'a str, local: impl Into<PathBuf>, remote: &'a str) -> Self {
        Upload {
            client,
            vm_id,
            local: local.into(),
            remote,
            options: Options::default(),
        }
    }
}

impl<'a> Download<'a> {
    /// The request of [`FastvmClient::download`].
    pub(crate) fn new(client: &'a FastvmClient, vm_id: &'a str, remote: &'a str, local: impl Into<PathBuf>) -> Self {
        Download {
            client,
            vm_id,
            remote,
            local: local.into(),
            options: Options::default(),
        }
    }
}
