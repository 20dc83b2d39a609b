//! [`FastvmClient::download`].

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::archive::{self, ChannelReader, DEPTH, Limits, TempGuard};
use super::error::{FileTransferError, FileTransferErrorKind as Kind};
use super::options::TransferOptions;
use super::remote::{self, RemoteKind};
use super::storage;
use crate::{Error, FastvmClient, Result};

impl FastvmClient {
    /// Downloads the file or directory at `remote` in the VM to `local`.
    ///
    /// One VM-side command classifies `remote`: a missing path is [`Error::FileTransfer`] with
    /// kind `NotFound` (see [`Error::is_not_found`]), distinct from a failed or timed-out command
    /// (`RemoteCommand`). A file is pushed by a VM-side `curl -T` to presigned storage and
    /// streamed to disk; a directory is tarred VM-side and streamed through gunzip and a safe
    /// extractor (no absolute paths, `..`, escaping links or device files; caps from `opts`).
    ///
    /// Nothing half-written is left at `local`: a file lands under a temporary name beside it
    /// and is renamed into place; a directory is extracted into a staging directory beside it and
    /// moved into place (merged into an existing directory) only after the whole archive was read.
    /// Missing parent directories of `local` are created. `fetch_timeout_sec` bounds the storage
    /// download on the client.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm_id: &str) -> fastvm::Result<()> {
    /// use fastvm::transfer::TransferOptions;
    /// match client.download(vm_id, "/var/log/app", "./logs", TransferOptions::default()).await {
    ///     Err(e) if e.is_not_found() => println!("nothing to fetch"),
    ///     other => other?,
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn download(
        &self,
        vm_id: &str,
        remote: &str,
        local: impl AsRef<Path>,
        opts: TransferOptions,
    ) -> Result<()> {
        let local = local.as_ref();
        super::check_target(vm_id, remote)?;
        if local.file_name().is_none() {
            return Err(Error::invalid(
                "local",
                "must name a file or directory (not end in `..` or `/`)",
            ));
        }
        let out = self
            .transfer_exec(
                vm_id,
                "classifying the remote path",
                remote::classify(remote),
                opts.exec_timeout(),
            )
            .await?;
        match remote::parse_classify(&out.stdout) {
            Some(RemoteKind::File) => self.download_file(vm_id, remote, local, &opts).await,
            Some(RemoteKind::Dir) => self.download_dir(vm_id, remote, local, &opts).await,
            Some(RemoteKind::Missing) => {
                Err(FileTransferError::new(Kind::NotFound, format!("remote path not found: {remote}")).into())
            }
            Some(RemoteKind::Other) => Err(FileTransferError::new(
                Kind::Unsupported,
                format!("remote path {remote} is neither a regular file nor a directory"),
            )
            .into()),
            None => Err(FileTransferError::new(
                Kind::RemoteCommand,
                format!(
                    "unexpected output classifying {remote}: {:?}",
                    crate::error::snippet(out.stdout.as_bytes(), 200)
                ),
            )
            .into()),
        }
    }

    async fn download_file(&self, vm_id: &str, remote: &str, local: &Path, opts: &TransferOptions) -> Result<()> {
        let urls = self.vms().files().presign(vm_id, remote).await?;
        self.transfer_exec(
            vm_id,
            "uploading the file to storage (curl)",
            remote::put_file(remote, &urls.upload_url),
            opts.exec_timeout(),
        )
        .await?;
        let (tmp, file) = create_temp_beside(local)?;
        let guard = TempGuard::new(tmp);
        let (tx, rx) = mpsc::channel(DEPTH);
        let hash = opts.verify;
        let writer = tokio::task::spawn_blocking(move || write_file(file, rx, hash));
        let pumped = self.pump(&urls.download_url, tx, opts).await;
        let written = writer.await.map_err(|e| FileTransferError::join("file writer", e))?;
        pumped?;
        let hash = written.map_err(|e| FileTransferError::io("cannot write", guard.path(), e))?;
        if let Some(hash) = hash {
            self.verify_remote(vm_id, remote, &hash, opts).await?;
        }
        std::fs::rename(guard.path(), local).map_err(|e| FileTransferError::io("cannot move into place", local, e))?;
        guard.disarm();
        Ok(())
    }

    async fn download_dir(&self, vm_id: &str, remote: &str, local: &Path, opts: &TransferOptions) -> Result<()> {
        let urls = self.vms().files().presign(vm_id, remote).await?;
        self.transfer_exec(
            vm_id,
            "archiving the directory to storage (tar | curl)",
            remote::put_dir(remote, &urls.upload_url, &remote::tar_status_path()),
            opts.exec_timeout(),
        )
        .await?;
        let (tx, rx) = mpsc::channel(DEPTH);
        let limits = Limits {
            max_entries: opts.max_entries,
            max_total_bytes: opts.max_total_bytes,
        };
        let dest = local.to_path_buf();
        // The extractor owns its staging directory: if this future is dropped, the channel
        // closes, extraction fails at its next read and the staging directory is removed.
        let extractor =
            tokio::task::spawn_blocking(move || archive::extract_into_place(ChannelReader::new(rx), &dest, limits));
        let pumped = self.pump(&urls.download_url, tx, opts).await;
        let extracted = extractor.await.map_err(|e| FileTransferError::join("extractor", e))?;
        pumped?;
        extracted?;
        Ok(())
    }

    /// Streams a storage GET into `tx` (ending with `None`), within `fetch_timeout_sec`. Stops
    /// quietly if the consumer went away: its own error is the one to report.
    async fn pump(
        &self,
        url: &str,
        tx: mpsc::Sender<Option<Bytes>>,
        opts: &TransferOptions,
    ) -> Result<(), FileTransferError> {
        let limit = Duration::from_secs(opts.fetch_timeout());
        let work = async {
            let resp = storage::get(self.storage_http()?, url).await?;
            let total = resp.content_length();
            let mut done = 0u64;
            opts.report(0, total);
            let mut body = resp.bytes_stream();
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| storage::send_error("GET", url, e))?;
                done += chunk.len() as u64;
                if tx.send(Some(chunk)).await.is_err() {
                    return Ok(());
                }
                opts.report(done, total);
            }
            if let Some(t) = total.filter(|t| *t != done) {
                let msg = format!(
                    "storage GET {} ended after {done} of {t} bytes",
                    crate::redact::url(url)
                );
                return Err(FileTransferError::new(Kind::Storage, msg));
            }
            let _ = tx.send(None).await;
            Ok(())
        };
        match tokio::time::timeout(limit, work).await {
            Ok(r) => r,
            Err(_) => Err(FileTransferError::new(
                Kind::Storage,
                format!(
                    "storage GET {} did not finish within {} s (fetch_timeout_sec)",
                    crate::redact::url(url),
                    opts.fetch_timeout()
                ),
            )),
        }
    }
}

/// Creates an empty temporary file beside `dest` (and `dest`'s missing parents). It is created
/// here, before any task could outlive the caller, so the caller's guard always covers it.
fn create_temp_beside(dest: &Path) -> Result<(PathBuf, std::fs::File), FileTransferError> {
    let tmp = archive::temp_beside(dest)?;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| FileTransferError::io("cannot create", &tmp, e))?;
    Ok((tmp, file))
}

/// Writes chunks from `rx` to `file` until the end marker, hashing when asked.
fn write_file(
    mut file: std::fs::File,
    mut rx: mpsc::Receiver<Option<Bytes>>,
    hash: bool,
) -> io::Result<Option<[u8; 32]>> {
    let mut hasher = hash.then(Sha256::new);
    loop {
        match rx.blocking_recv() {
            Some(Some(chunk)) => {
                if let Some(h) = hasher.as_mut() {
                    h.update(&chunk);
                }
                file.write_all(&chunk)?;
            }
            Some(None) => break,
            None => {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "the download was abandoned",
                ));
            }
        }
    }
    file.flush()?;
    Ok(hasher.map(|h| h.finalize().into()))
}
