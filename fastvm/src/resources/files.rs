use std::time::Duration;

use crate::resources::into_future;
use crate::transport::call::call;
use crate::{Error, FastvmClient, Result, validate};
use fastvm_api::types::{ExecVmResponse, FileFetchRequest, FilePresignRequest, FilePresignResponse};

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
    /// client.vms().files().fetch(vm_id, &urls.download_url, "/root/file.txt").await?;
    /// # Ok(()) }
    /// ```
    pub async fn presign(&self, vm_id: &str, path: &str) -> Result<FilePresignResponse> {
        validate::id("id", vm_id)?;
        let body = FilePresignRequest::new(path);
        call("presignFile", self.client, move |api| {
            api.presign_file().id(vm_id).body(body.clone()).send()
        })
        .await
    }

    /// `POST /v1/vms/{id}/files/fetch`: the VM downloads `url` (a `downloadUrl` from
    /// [`Files::presign`]) to `path`. The result reports the VM-side command's exit; check it.
    /// Not retried automatically. With a [`timeout`](FetchFile::timeout), the HTTP request waits
    /// that long plus a minute of grace; without, it has no client-side timeout.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm_id: &str, url: &str)
    /// # -> fastvm::Result<()> {
    /// use std::time::Duration;
    /// let fetch = client.vms().files().fetch(vm_id, url, "/root/data.tar");
    /// let out = fetch.timeout(Duration::from_secs(120)).await?;
    /// if out.exit_code != 0 || out.timed_out {
    ///     eprintln!("download failed: {}", out.stderr);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn fetch(&self, vm_id: &'a str, url: &'a str, path: &'a str) -> FetchFile<'a> {
        FetchFile {
            client: self.client,
            vm_id,
            url,
            path,
            timeout: None,
        }
    }
}

/// The request of [`Files::fetch`]; await it.
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is awaited"]
pub struct FetchFile<'a> {
    client: &'a FastvmClient,
    vm_id: &'a str,
    url: &'a str,
    path: &'a str,
    timeout: Option<Duration>,
}

impl FetchFile<'_> {
    /// The VM-side timeout of the download (whole seconds, at least 1; server default without).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    async fn send(self) -> Result<ExecVmResponse> {
        validate::id("id", self.vm_id)?;
        if self.url.is_empty() {
            return Err(Error::invalid("url", "must not be empty"));
        }
        let mut body = FileFetchRequest::new(self.url, self.path);
        body.timeout_sec = self
            .timeout
            .map(|t| validate::seconds_i64("timeoutSec", t))
            .transpose()?;
        let vm_id = self.vm_id;
        let fetch = call("fetchFileToVm", self.client, move |api| {
            api.fetch_file_to_vm().id(vm_id).body(body).send()
        });
        crate::transport::http::with_command_timeout(self.timeout, fetch).await
    }
}

into_future!(FetchFile => ExecVmResponse);
