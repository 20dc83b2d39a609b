//! [`FastvmClient::download`].

use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::archive::{self, CHUNK, ChannelReader, DEPTH, Limits};
use super::options::{TransferOptions, debug_request, shared_setters};
use super::pack::Hashing;
use super::remote::{self, RemoteKind};
use super::storage;
use crate::error::{FileTransferError, FileTransferErrorKind as Kind};
use crate::resources::Vms;
use crate::resources::into_future;
use crate::{Error, FastvmClient, Result};

impl FastvmClient {
    /// [`FastvmClient::download`](crate::FastvmClient::download), with its options resolved.
    pub(crate) async fn download_with(
        &self,
        vm_id: &str,
        remote: &str,
        local: &Path,
        opts: &TransferOptions,
    ) -> Result<()> {
        crate::validate::transfer_target(vm_id, remote)?;
        if local.as_os_str().is_empty() {
            return Err(Error::invalid("local", "must not be empty"));
        }
        let into_dir = tokio::fs::metadata(local).await.is_ok_and(|m| m.is_dir());
        if !into_dir && local.file_name().is_none() {
            return Err(Error::invalid(
                "local",
                format!(
                    "{} is not an existing directory and names no file or directory to create",
                    local.display()
                ),
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
            Some(RemoteKind::File) => {
                let dest = file_destination(remote, local, into_dir)?;
                if tokio::fs::metadata(&dest).await.is_ok_and(|m| m.is_dir()) {
                    let msg = format!("{} is a directory and would be replaced by a file", dest.display());
                    return Err(FileTransferError::new(Kind::Io, msg).into());
                }
                self.download_file(vm_id, remote, &dest, opts).await
            }
            Some(RemoteKind::Dir) => {
                // Refused now, not after the whole archive came in.
                archive::existing_dir(local)?;
                self.download_dir(vm_id, remote, local, opts).await
            }
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
                    crate::redact::snippet(out.stdout.as_bytes(), 200)
                ),
            )
            .into()),
        }
    }

    async fn download_file(&self, vm_id: &str, remote: &str, local: &Path, opts: &TransferOptions) -> Result<()> {
        let step = "uploading the file to storage (curl)";
        let download_url = self
            .push_to_storage(vm_id, remote, step, |url| remote::put_file(remote, url), opts)
            .await?;
        // Created and guarded on the caller's side: a cancelled download (this future dropped)
        // removes it at once, not when the writer thread notices.
        let (file, staged) = archive::stage_beside(local, |builder, dir| {
            // The mode a new file gets (the umask's), not the crate's private 0600.
            #[cfg(unix)]
            builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
            builder.tempfile_in(dir)
        })?
        .into_parts();
        let (tmp, verify) = (staged.to_path_buf(), opts.verify);
        let hash = self
            .stream_from_storage(&download_url, "file writer", opts, move |reader| {
                write_file(file, reader, verify).map_err(|e| FileTransferError::io("cannot write", &tmp, e))
            })
            .await?;
        if let Some(hash) = hash {
            self.verify_remote(vm_id, remote, &hash, opts).await?;
        }
        let placed = staged.persist(local);
        placed.map_err(|e| FileTransferError::io("cannot move into place", local, e.error))?;
        Ok(())
    }

    async fn download_dir(&self, vm_id: &str, remote: &str, local: &Path, opts: &TransferOptions) -> Result<()> {
        let step = "archiving the directory to storage (tar | curl)";
        let status_file = remote::tar_status_path();
        let download_url = self
            .push_to_storage(
                vm_id,
                remote,
                step,
                |url| remote::put_dir(remote, url, &status_file),
                opts,
            )
            .await?;
        let limits = Limits {
            max_entries: opts.max_entries,
            max_total_bytes: opts.max_total_bytes,
        };
        let dest = local.to_path_buf();
        // The extractor owns its staging directory: if this future is dropped, the channel
        // closes, extraction fails at its next read and the staging directory is removed.
        self.stream_from_storage(&download_url, "extractor", opts, move |reader| {
            archive::extract_into_place(reader, &dest, limits)
        })
        .await?;
        Ok(())
    }

    /// Presigns `remote` and has the VM push it to storage with `command(upload_url)` (described
    /// as `step` in errors). Returns the URL to download it from.
    async fn push_to_storage(
        &self,
        vm_id: &str,
        remote: &str,
        step: &str,
        command: impl FnOnce(&str) -> String,
        opts: &TransferOptions,
    ) -> Result<String> {
        let urls = Vms::new(self).files().presign(vm_id, remote).await?;
        self.transfer_exec(vm_id, step, command(&urls.upload_url), opts.exec_timeout())
            .await?;
        Ok(urls.download_url)
    }

    /// Streams the storage object at `url` into `consume`, which runs on a blocking thread
    /// (`consumer` names it in errors), and returns what it produced. Errors are reported in
    /// this order: a consumer that panicked, a failed storage GET, then the consumer's own error
    /// (which may only say that the stream broke off).
    async fn stream_from_storage<T: Send + 'static>(
        &self,
        url: &str,
        consumer: &str,
        opts: &TransferOptions,
        consume: impl FnOnce(ChannelReader) -> Result<T, FileTransferError> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = mpsc::channel(DEPTH);
        let task = tokio::task::spawn_blocking(move || consume(ChannelReader::new(rx)));
        let pumped = self.pump(url, tx, opts).await;
        let consumed = task.await.map_err(|e| FileTransferError::join(consumer, e))?;
        pumped?;
        Ok(consumed?)
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

/// Where the remote file `remote` goes: inside `local` under its base name when `local` is an
/// existing directory (`into_dir`), else at `local` itself.
fn file_destination(remote: &str, local: &Path, into_dir: bool) -> Result<PathBuf> {
    if !into_dir {
        if ends_with_separator(local) {
            let msg = format!(
                "{} ends in a separator but is not an existing directory",
                local.display()
            );
            return Err(Error::invalid("local", msg));
        }
        return Ok(local.to_path_buf());
    }
    let name = base_name(remote).ok_or_else(|| {
        let msg = format!(
            "{remote} is a file but has no base name to name it inside the directory {}",
            local.display()
        );
        Error::invalid("remote", msg)
    })?;
    Ok(local.join(name))
}

/// The part of the VM path `remote` after its last `/`, when it is one plain name here too: not
/// empty, `.` or `..`, and (off Unix) without a separator or drive prefix that would make
/// joining it leave the destination directory.
fn base_name(remote: &str) -> Option<&str> {
    let name = remote.rsplit('/').next()?;
    let mut parts = Path::new(name).components();
    match (parts.next(), parts.next()) {
        (Some(Component::Normal(n)), None) if n == name => Some(name),
        _ => None,
    }
}

/// Whether `p` is written with a trailing separator (`out/`), which asks for a directory.
fn ends_with_separator(p: &Path) -> bool {
    p.as_os_str()
        .as_encoded_bytes()
        .last()
        .is_some_and(|&b| std::path::is_separator(char::from(b)))
}

/// Copies the download from `reader` into `file`, hashing it when asked.
fn write_file(file: std::fs::File, mut reader: ChannelReader, hash: bool) -> io::Result<Option<[u8; 32]>> {
    // Chunk-sized buffering keeps the writes (and hash updates) as large as the chunks sent;
    // `io::copy` reads straight into a `BufWriter`'s buffer.
    let mut out = io::BufWriter::with_capacity(
        CHUNK,
        Hashing {
            inner: file,
            hasher: hash.then(Sha256::new),
        },
    );
    io::copy(&mut reader, &mut out)?;
    out.flush()?;
    let (Hashing { hasher, .. }, _) = out.into_parts();
    Ok(hasher.map(|h| h.finalize().into()))
}

/// The request of [`FastvmClient::download`]; await it.
#[must_use = "a request does nothing until it is awaited"]
pub struct Download<'a> {
    client: &'a FastvmClient,
    vm_id: &'a str,
    remote: &'a str,
    local: PathBuf,
    options: TransferOptions,
}

impl Download<'_> {
    shared_setters!(
        "The deadline of the client's storage download, extraction included (default 600 s; whole seconds, at least 1)."
    );

    /// Directories: refuse an archive with more entries than this (default 1,000,000).
    pub fn max_entries(mut self, n: u64) -> Self {
        self.options.max_entries = n;
        self
    }

    /// Directories: refuse an archive whose file contents exceed this many bytes in total
    /// (default 64 GiB).
    pub fn max_total_bytes(mut self, n: u64) -> Self {
        self.options.max_total_bytes = n;
        self
    }

    async fn send(self) -> Result<()> {
        let opts = self.options.check()?;
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

debug_request!(Download, vm_id, remote, local);

impl<'a> Download<'a> {
    /// The request of [`FastvmClient::download`].
    pub(crate) fn new(client: &'a FastvmClient, vm_id: &'a str, remote: &'a str, local: impl Into<PathBuf>) -> Self {
        Download {
            client,
            vm_id,
            remote,
            local: local.into(),
            options: TransferOptions::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends `chunks` (then the end marker, if `end`) and runs [`write_file`] on a fresh file.
    fn write(chunks: &[&[u8]], end: bool, hash: bool) -> (tempfile::TempDir, io::Result<Option<[u8; 32]>>) {
        let tmp = tempfile::tempdir().unwrap();
        let file = std::fs::File::create(tmp.path().join("f")).unwrap();
        let (tx, rx) = mpsc::channel(chunks.len() + 1);
        for c in chunks {
            tx.blocking_send(Some(Bytes::copy_from_slice(c))).unwrap();
        }
        if end {
            tx.blocking_send(None).unwrap();
        }
        drop(tx);
        let r = write_file(file, ChannelReader::new(rx), hash);
        (tmp, r)
    }

    #[test]
    fn write_file_copies_and_hashes_up_to_the_end_marker() {
        let big = vec![7u8; CHUNK + 5];
        let (tmp, r) = write(&[b"abc", &big, b""], true, true);
        let mut all = b"abc".to_vec();
        all.extend_from_slice(&big);
        assert_eq!(r.unwrap(), Some(<[u8; 32]>::from(Sha256::digest(&all))));
        assert_eq!(std::fs::read(tmp.path().join("f")).unwrap(), all);

        let (tmp, r) = write(&[b"xyz"], true, false);
        assert_eq!(r.unwrap(), None);
        assert_eq!(std::fs::read(tmp.path().join("f")).unwrap(), b"xyz");
    }

    #[test]
    fn base_names_are_single_plain_names() {
        assert_eq!(base_name("/root/out.log"), Some("out.log"));
        assert_eq!(base_name("rel name"), Some("rel name"));
        assert_eq!(base_name("/a/..."), Some("..."));
        for none in ["/", "/root/", "/root/.", "/root/..", ".", "..", ""] {
            assert_eq!(base_name(none), None, "{none:?}");
        }
        // A name that is more than one component here would leave the destination directory.
        #[cfg(windows)]
        for none in ["/root/..\\x", "/root/C:x"] {
            assert_eq!(base_name(none), None, "{none:?}");
        }
    }

    #[test]
    fn write_file_reports_an_abandoned_download() {
        let (_tmp, r) = write(&[b"partial"], false, true);
        let e = r.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionAborted);
        assert_eq!(e.to_string(), "the download was abandoned");
    }
}
