use crate::call::call;
use crate::types::{ExecVmResponse, FileFetchRequest, FilePresignRequest, FilePresignResponse};
use crate::{Error, FastvmClient, Result, validate};

/// `client.vms().files()`: the raw presigned-URL file flow. Most callers want
/// [`FastvmClient::upload`] and [`FastvmClient::download`], which compose these.
#[derive(Debug, Clone, Copy)]
pub struct Files<'a> {
    client: &'a FastvmClient,
}

impl<'a> Files<'a> {
    pub(crate) fn new(client: &'a FastvmClient) -> Self {
        Files { client }
    }

    /// `POST /v1/vms/{id}/files/presign`: signed upload and download URLs of one staging object
    /// scoped to `path`. Not retried automatically.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm_id: &str) -> fastvm::Result<()> {
    /// let urls = client.vms().files().presign(vm_id, "/root/file.txt").await?;
    /// // PUT the bytes to urls.upload_url, then:
    /// client.vms().files().fetch(vm_id, &urls.download_url, "/root/file.txt", None).await?;
    /// # Ok(()) }
    /// ```
    pub async fn presign(&self, vm_id: &str, path: &str) -> Result<FilePresignResponse> {
        validate::id("id", vm_id)?;
        let body = FilePresignRequest { path: path.to_string() };
        call(
            "presignFile",
            self.client.api().presign_file().id(vm_id).body(body).send(),
        )
        .await
    }

    /// `POST /v1/vms/{id}/files/fetch`: the VM downloads `url` (a `downloadUrl` from
    /// [`Files::presign`]) to `path`. The result reports the VM-side command's exit; check it.
    /// Not retried automatically. With `timeout_sec`, the HTTP request waits that long plus a
    /// minute of grace; without, it has no client-side timeout.
    pub async fn fetch(&self, vm_id: &str, url: &str, path: &str, timeout_sec: Option<u64>) -> Result<ExecVmResponse> {
        validate::id("id", vm_id)?;
        if url.is_empty() {
            return Err(Error::invalid("url", "must not be empty"));
        }
        let body = FileFetchRequest {
            url: url.to_string(),
            path: path.to_string(),
            timeout_sec: timeout_sec
                .map(|t| i64::try_from(t).map_err(|_| Error::invalid("timeoutSec", "is too large")))
                .transpose()?,
        };
        let client = self.client.for_command_timeout(timeout_sec);
        call(
            "fetchFileToVm",
            client.api().fetch_file_to_vm().id(vm_id).body(body).send(),
        )
        .await
    }
}
