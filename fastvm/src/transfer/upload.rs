//! [`FastvmClient::upload`].

use std::path::{Path, PathBuf};

use super::options::{TransferOptions, debug_request, shared_setters};
use super::pack::Member;
use super::{remote, storage};
use crate::error::{FileTransferError, FileTransferErrorKind as Kind};
use crate::resources::Vms;
use crate::resources::into_future;
use crate::{FastvmClient, Result};

impl FastvmClient {
    /// [`FastvmClient::upload`](crate::FastvmClient::upload), with its options resolved.
    pub(crate) async fn upload_with(
        &self,
        vm_id: &str,
        local: &Path,
        remote: &str,
        opts: &TransferOptions,
    ) -> Result<()> {
        crate::validate::transfer_target(vm_id, remote)?;
        let meta = local_metadata(local, "").await?;
        if meta.is_file() {
            self.upload_file(vm_id, local, meta.len(), remote, opts).await
        } else if meta.is_dir() {
            self.upload_dir(vm_id, local, remote, opts).await
        } else {
            let msg = format!("{} is neither a file nor a directory", local.display());
            Err(FileTransferError::new(Kind::Unsupported, msg).into())
        }
    }

    async fn upload_file(
        &self,
        vm_id: &str,
        local: &Path,
        size: u64,
        remote: &str,
        opts: &TransferOptions,
    ) -> Result<()> {
        let urls = Vms::new(self).files().presign(vm_id, remote).await?;
        if let Some(max) = storage::upload_limit(urls.max_upload_bytes)
            && size > max
        {
            let msg = format!("upload size {size} exceeds the VM limit {max} (maxUploadBytes)");
            return Err(FileTransferError::new(Kind::TooLarge, msg).into());
        }
        opts.report(0, Some(size));
        let sent_hash = storage::put_file(
            self.storage_http()?,
            &urls.upload_url,
            (local, storage::OCTET_STREAM),
            size,
            opts,
            &self.retry_policy(),
        )
        .await?;
        self.fetch_into_vm(vm_id, &urls.download_url, remote, opts).await?;
        if let Some(hash) = sent_hash {
            self.verify_remote(vm_id, remote, &hash, opts).await?;
        }
        Ok(())
    }

    /// A directory's contents become `remote`'s: it is the archive's root member `.`.
    async fn upload_dir(&self, vm_id: &str, local: &Path, remote: &str, opts: &TransferOptions) -> Result<()> {
        let root = Member {
            local: local.to_path_buf(),
            name: ".".into(),
            dir: true,
        };
        self.send_archive(vm_id, vec![root], remote, opts).await
    }

    /// Has the VM fetch `url` into `path` (`files/fetch`, within `fetch_timeout_sec`); a failed
    /// or timed-out fetch is a `RemoteCommand` error.
    pub(super) async fn fetch_into_vm(&self, vm_id: &str, url: &str, path: &str, opts: &TransferOptions) -> Result<()> {
        let timeout = opts.fetch_timeout();
        let out = Vms::new(self)
            .files()
            .fetch(vm_id, url, path)
            .timeout(std::time::Duration::from_secs(timeout))
            .await?;
        remote::check_exec("files/fetch", out, timeout)?;
        Ok(())
    }

    /// Compares `hash` with `sha256sum` of `remote` run in the VM.
    pub(crate) async fn verify_remote(
        &self,
        vm_id: &str,
        remote: &str,
        hash: &[u8; 32],
        opts: &TransferOptions,
    ) -> Result<()> {
        let out = self
            .transfer_exec(vm_id, "sha256sum", remote::sha256(remote), opts.exec_timeout())
            .await?;
        let theirs = remote::parse_sha256(&out.stdout).ok_or_else(|| {
            FileTransferError::new(Kind::RemoteCommand, "sha256sum printed no digest")
                .with_exit(out.exit_code, &out.stderr)
        })?;
        let ours = hex::encode(hash);
        if theirs != ours {
            let msg = format!("SHA-256 mismatch for {remote}: client {ours}, VM {theirs}");
            return Err(FileTransferError::new(Kind::Verify, msg).into());
        }
        Ok(())
    }
}

/// The metadata of the local path `path` (symlinks followed); a missing one is `NotFound`,
/// its message naming the path and then `context` (what it is for, or empty).
pub(crate) async fn local_metadata(path: &Path, context: &str) -> Result<std::fs::Metadata, FileTransferError> {
    tokio::fs::metadata(path).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            let msg = format!("cannot stat {}{context}: no such file or directory", path.display());
            FileTransferError::new(Kind::NotFound, msg).with_source(e)
        } else {
            FileTransferError::io("cannot stat", path, e)
        }
    })
}

/// The request of [`FastvmClient::upload`]; await it.
#[must_use = "a request does nothing until it is awaited"]
pub struct Upload<'a> {
    client: &'a FastvmClient,
    vm_id: &'a str,
    local: PathBuf,
    remote: &'a str,
    options: TransferOptions,
}

impl Upload<'_> {
    shared_setters!("The VM-side `files/fetch` timeout (default 600 s; whole seconds, at least 1).");

    async fn send(self) -> Result<()> {
        let opts = self.options.check()?;
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

debug_request!(Upload, vm_id, local, remote);

impl<'a> Upload<'a> {
    /// The request of [`FastvmClient::upload`].
    pub(crate) fn new(client: &'a FastvmClient, vm_id: &'a str, local: impl Into<PathBuf>, remote: &'a str) -> Self {
        Upload {
            client,
            vm_id,
            local: local.into(),
            remote,
            options: TransferOptions::default(),
        }
    }
}
