//! The transfer requests: [`Upload`] and [`Download`], with their options.

use std::path::PathBuf;
use std::time::Duration;

use super::Progress;
use super::options::TransferOptions;
use crate::resources::into_future;
use crate::{FastvmClient, Result, validate};

impl FastvmClient {
    /// Uploads a local file or directory to `remote` in the VM.
    ///
    /// A file is sent with its exact length straight from disk (presign, PUT to storage,
    /// `files/fetch`); a file larger than the VM accepts (`maxUploadBytes`) is refused before any
    /// byte is sent. A directory's contents are archived in process (gzip tar, symlinks kept as
    /// links, modes and times kept, owned by the extracting user), streamed to a staging path
    /// under `/var/tmp`, fetched and extracted into `remote`, which is created if needed:
    /// `download(vm, remote, dir)` gives back the same tree. This is the pipeline of
    /// [`upload_many`](crate::FastvmClient::upload_many): the staging file is removed whether
    /// the upload succeeds, fails or is dropped (the drop waits for it, see
    /// [`OwnedVm`](crate::vm::OwnedVm) for how).
    ///
    /// Errors are [`Error::FileTransfer`](crate::Error::FileTransfer) with a kind saying which step
    /// failed (`NotFound` for a missing local path, `TooLarge`, `Storage`, `RemoteCommand`, `Io`,
    /// `Verify`, `Unsupported` for a local path that is neither a file nor a directory), or the
    /// API error of a presign/fetch/exec call. Dropping the future stops the transfer.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm_id: &str) -> fastvm::Result<()> {
    /// client.upload(vm_id, "./site", "/srv/site").await?;
    /// client.upload(vm_id, "model.bin", "/root/model.bin").verify(true).await?;
    /// # Ok(()) }
    /// ```
    pub fn upload<'a>(&'a self, vm_id: &'a str, local: impl Into<PathBuf>, remote: &'a str) -> Upload<'a> {
        Upload {
            client: self,
            vm_id,
            local: local.into(),
            remote,
            options: Options::default(),
        }
    }

    /// Downloads the file or directory at `remote` in the VM to `local`.
    ///
    /// One VM-side command classifies `remote`: a missing path is [`Error::FileTransfer`](crate::Error::FileTransfer) with
    /// kind `NotFound` (see [`Error::is_not_found`](crate::Error::is_not_found)), distinct from a failed or timed-out command
    /// (`RemoteCommand`). A file is pushed by a VM-side `curl -T` to presigned storage and
    /// streamed to disk; a directory is tarred VM-side and streamed through gunzip and a safe
    /// extractor (no absolute paths, `..`, escaping links or device files; caps set on the request).
    ///
    /// Where it lands, as with `cp` (an existing directory counts through a symlink to it, and
    /// `.` is one):
    ///
    /// | `remote` is | `local` is an existing directory | `local` does not exist |
    /// |-------------|----------------------------------|------------------------|
    /// | a file      | `local/<base name of remote>` (a file there is replaced) | the file `local` |
    /// | a directory | its contents are merged into `local` | the directory `local` |
    ///
    /// Missing parent directories of `local` are created. Refused, with nothing written: a file
    /// whose destination is a directory, a directory onto an existing file (kind `Io`); an empty
    /// `local`, one that names no entry to create (`missing/..`), a file to a missing `local`
    /// ending in a separator, and a file into an existing directory when `remote`'s base name
    /// (after its last `/`) is empty, `.` or `..` ([`Error::InvalidInput`](crate::Error::InvalidInput)). That last one is
    /// decided once the VM has called `remote` a file, which such a path cannot be on a POSIX
    /// VM: before it, `/root/.` into `.` is a valid directory merge. Nothing but the classify
    /// command has run then.
    ///
    /// Nothing half-written is left at `local`: a file lands under a temporary name beside its
    /// destination and is renamed into place; a directory is extracted into a staging directory
    /// and moved into place only after the whole archive was read. A merge into an existing
    /// directory is all or nothing: every conflict (a directory where the download has a file,
    /// a file or a symlink where it has a directory) is found before the first move, and if a
    /// move still fails the ones already made are undone, so that on error the directory holds
    /// the same entries with the same contents as before; files of the same name are replaced
    /// only when the whole merge lands. This holds for errors and cancellation, not for a crash
    /// or power loss midway (nothing is fsynced), and not against other processes changing the
    /// directory during the merge. [`fetch_timeout`](Download::fetch_timeout) bounds the storage
    /// download on the client.
    ///
    /// Off Unix, the archive's file and directory modes are skipped (not approximated), and a
    /// directory whose archive holds a symlink is refused (kind `Archive`, naming the entry)
    /// rather than downloaded without it.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm_id: &str) -> fastvm::Result<()> {
    /// match client.download(vm_id, "/var/log/app", "./logs").await {
    ///     Err(e) if e.is_not_found() => println!("nothing to fetch"),
    ///     other => other?,
    /// }
    /// // Into the current directory, as `./out.log`, checked against the VM's SHA-256.
    /// client.download(vm_id, "/root/out.log", ".").verify(true).await?;
    /// # Ok(()) }
    /// ```
    pub fn download<'a>(&'a self, vm_id: &'a str, remote: &'a str, local: impl Into<PathBuf>) -> Download<'a> {
        Download {
            client: self,
            vm_id,
            remote,
            local: local.into(),
            options: Options::default(),
        }
    }
}

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

into_future!(Upload => ());

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

into_future!(Download => ());

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
