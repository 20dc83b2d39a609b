//! File and directory transfer between the client and a VM: [`FastvmClient::upload`],
//! [`FastvmClient::download`], and [`FastvmClient::upload_many`] (many files and directories
//! to absolute paths in one archive and one VM-side extraction).
//!
//! Files go through presigned storage URLs with their exact length; directories are archived
//! in process as gzip tar (no `tar` binary needed on the client), streamed with bounded memory,
//! and extracted VM-side with one quoted shell command. Downloads land under a temporary name
//! and are moved into place only once complete; a directory downloaded into an existing one is
//! merged into it all or nothing: a conflict found, or a move that fails, leaves it as it was.
//! That covers errors and cancellation, not crashes: nothing is fsynced.
//!
//! Directory and bulk uploads are sent chunked (no `Content-Length`, as their size is only known at
//! the end). Storage that rejects chunked PUTs (Amazon S3 presigned URLs, MinIO) cannot take
//! them; file uploads always carry `Content-Length`.
//!
//! [`FastvmClient::upload`]: crate::FastvmClient::upload
//! [`FastvmClient::download`]: crate::FastvmClient::download
//! [`FastvmClient::upload_many`]: crate::FastvmClient::upload_many

mod archive;
mod bounded;
mod bulk;
mod download;

mod merge;
mod options;
mod pack;
pub(crate) mod remote;
mod request;
mod staging;
mod storage;
mod upload;

pub use crate::error::{FileTransferError, FileTransferErrorKind};
pub use bulk::UploadMany;
pub use options::Progress;
pub use request::{Download, Upload};

use crate::error::FileTransferErrorKind as Kind;
use crate::types::ExecVmResponse;
use crate::{FastvmClient, Result};

impl FastvmClient {
    /// Runs a VM-side transfer command and turns a non-zero exit or a timeout into a
    /// `RemoteCommand` error.
    pub(crate) async fn transfer_exec(
        &self,
        vm_id: &str,
        what: &str,
        line: String,
        timeout_sec: u64,
    ) -> Result<ExecVmResponse> {
        let out = self
            .vms()
            .run(
                vm_id,
                crate::exec::Command::sh(line).timeout(std::time::Duration::from_secs(timeout_sec)),
            )
            .await?;
        check_exec(what, out.into_result(), timeout_sec)
    }
}

/// The arguments both directions share: a VM id and a non-empty remote path.
pub(crate) fn check_target(vm_id: &str, remote: &str) -> Result<()> {
    crate::validate::id("id", vm_id)?;
    if remote.is_empty() {
        return Err(crate::Error::invalid("remote", "must not be empty"));
    }
    Ok(())
}

/// A VM-side command's result as a `RemoteCommand` error unless it exited 0 in time.
pub(crate) fn check_exec(what: &str, out: ExecVmResponse, timeout_sec: u64) -> Result<ExecVmResponse> {
    if out.timed_out {
        let msg = format!("{what} timed out in the VM after {timeout_sec} s");
        return Err(FileTransferError::new(Kind::RemoteCommand, msg)
            .with_exit(out.exit_code, &out.stderr)
            .into());
    }
    if out.exit_code != 0 {
        let msg = format!("{what} failed in the VM");
        return Err(FileTransferError::new(Kind::RemoteCommand, msg)
            .with_exit(out.exit_code, &out.stderr)
            .into());
    }
    Ok(out)
}
