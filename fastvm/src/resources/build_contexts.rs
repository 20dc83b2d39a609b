use crate::transport::call::call;
use crate::types::FilePresignResponse;
use crate::{FastvmClient, Result};

/// `client.build_contexts()`: build-context uploads.
#[derive(Debug, Clone, Copy)]
pub struct BuildContexts<'a> {
    client: &'a FastvmClient,
}

impl<'a> BuildContexts<'a> {
    pub(crate) fn new(client: &'a FastvmClient) -> Self {
        BuildContexts { client }
    }

    /// `POST /v1/build-contexts/presign`: signed URLs for a build-context tar.gz. PUT it with
    /// `Content-Type: application/gzip`, then pass `downloadUrl` as the build's
    /// `contextDownloadUrl`. Not retried automatically.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// let urls = client.build_contexts().presign().await?;
    /// println!("upload within {} s", urls.expires_in_sec);
    /// # Ok(()) }
    /// ```
    #[deprecated = "replaced upstream by snapshot imports: use `client.snapshot_imports()`"]
    #[allow(deprecated)] // it calls the deprecated operation
    pub async fn presign(&self) -> Result<FilePresignResponse> {
        call("presignBuildContext", self.client, |api| {
            api.presign_build_context().send()
        })
        .await
    }
}
