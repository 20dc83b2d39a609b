//! The one archive upload pipeline, shared by a directory [`upload`](crate::FastvmClient::upload)
//! and [`upload_many`](crate::FastvmClient::upload_many): pack → storage → `files/fetch` into
//! a staging file → one VM-side extraction, with the staging file removed whatever happens.

use std::time::Duration;

use tokio::sync::mpsc;

use super::archive::{self, DEPTH};
use super::options::TransferOptions;
use super::pack::{self, Member};
use super::{remote, storage};
use crate::cleanup::{Guard, Undo};
use crate::error::{FileTransferError, FileTransferErrorKind as Kind};
use crate::exec::Command;
use crate::resources::Vms;
use crate::{FastvmClient, Result};

/// The staging file in the VM, guarded from the moment it may exist until it is known to be
/// gone (`cleanup::Guard`): removed on every failure, awaited or when the upload is dropped;
/// disarmed once the extraction ran to its end, which removes the file itself.
struct Staging {
    vm_id: String,
    path: String,
}

impl Undo for Staging {
    const WHAT: &'static str = "remove a staging file";

    /// Best effort: the upload's own error is the one to report.
    async fn undo(self, client: FastvmClient) {
        if let Err(e) = Vms::new(&client).run(&self.vm_id, remote::remove(&self.path)).await {
            tracing::warn!(vm = %self.vm_id, error = %e, "fastvm: cannot remove a staging file");
        }
    }
}

impl FastvmClient {
    /// Sends `members` as one gzip tar and extracts it under `root` in the VM (`mkdir -p`
    /// first). With `opts.verify`, the staged archive's SHA-256 is checked against the one
    /// computed while packing before anything is extracted.
    pub(crate) async fn send_archive(
        &self,
        vm_id: &str,
        members: Vec<Member>,
        root: &str,
        opts: &TransferOptions,
    ) -> Result<()> {
        let staging = remote::upload_staging_path();
        let urls = Vms::new(self).files().presign(vm_id, &staging).await?;
        let max = storage::upload_limit(urls.max_upload_bytes);
        let (tx, rx) = mpsc::channel(DEPTH);
        let verify = opts.verify;
        // Dropping this future drops the body and with it the receiver: the packer's next write
        // fails and its thread ends.
        let packer = tokio::task::spawn_blocking(move || pack::pack(&members, tx, verify));
        let put = storage::put_stream(
            self.storage_http()?,
            &urls.upload_url,
            rx,
            opts,
            max.unwrap_or(u64::MAX),
        )
        .await;
        let packed = packer.await.map_err(|e| FileTransferError::join("archiver", e))?;
        // The archiver's own failure explains a broken body better than the storage error.
        let hash = match packed {
            Ok(hash) => hash,
            Err(e) if archive::is_closed(&e) => None,
            Err(e) => {
                let msg = format!("cannot archive {e}");
                return Err(FileTransferError::new(Kind::Io, msg).with_source(e).into());
            }
        };
        put?;

        // From here the staging file may exist in the VM.
        let staged = Guard::new(
            self,
            Staging {
                vm_id: vm_id.to_string(),
                path: staging.clone(),
            },
        );
        let timeout = opts.exec_timeout();
        let extracted = async {
            self.fetch_into_vm(vm_id, &urls.download_url, &staging, opts).await?;
            let line = remote::extract(&staging, root, hash.map(hex::encode).as_deref());
            let command = Command::sh(line).timeout(Duration::from_secs(timeout));
            Ok::<_, crate::Error>(Vms::new(self).run(vm_id, command).await?.into_result())
        }
        .await;
        // A failed fetch or command may have left it, and a command killed at its timeout
        // maybe before its `rm`.
        staged.keep_if(matches!(&extracted, Ok(out) if !out.timed_out)).await;
        let out = extracted?;
        if !out.timed_out
            && out.exit_code != 0
            && let (Some(theirs), Some(ours)) = (remote::parse_mismatch(&out.stdout), hash)
        {
            let msg = format!(
                "SHA-256 mismatch for the staged archive: client {}, VM {theirs}; nothing was extracted",
                hex::encode(ours)
            );
            return Err(FileTransferError::new(Kind::Verify, msg).into());
        }
        remote::check_exec("extracting the archive", out, timeout)?;
        Ok(())
    }
}
