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
pub(crate) mod context_zip;
mod download;
mod merge;
mod options;
mod pack;
pub(crate) mod remote;
mod staging;
pub(crate) mod storage;
mod upload;

pub use crate::error::{FileTransferError, FileTransferErrorKind};
pub use bulk::UploadMany;
pub use download::Download;
pub use options::Progress;
pub use upload::Upload;
pub(crate) use upload::local_metadata;

use crate::resources::Vms;
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
        let out = Vms::new(self)
            .run(
                vm_id,
                crate::exec::Command::sh(line).timeout(std::time::Duration::from_secs(timeout_sec)),
            )
            .await?;
        remote::check_exec(what, out.into_result(), timeout_sec)
    }
}
