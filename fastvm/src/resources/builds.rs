use crate::call::call;
use crate::types::{BuildResponse, CreateBuildRequest};
use crate::{Error, FastvmClient, Result, validate};

/// `client.builds()`: build snapshots from an image ref or a Dockerfile.
#[derive(Debug, Clone, Copy)]
pub struct Builds<'a> {
    client: &'a FastvmClient,
}

impl<'a> Builds<'a> {
    pub(crate) fn new(client: &'a FastvmClient) -> Self {
        Builds { client }
    }

    /// `POST /v1/builds` (202, status `pending`). At least one of `imageRef` and
    /// `dockerfileContent` is required. Not retried automatically. Follow with
    /// [`FastvmClient::wait_for_build`].
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// let build = client.builds().create(fastvm::types::CreateBuildRequest {
    ///     dockerfile_content: Some("FROM python:3.13-slim\nRUN pip install flask\n".into()),
    ///     ..Default::default()
    /// }).await?;
    /// # Ok(()) }
    /// ```
    pub async fn create(&self, request: CreateBuildRequest) -> Result<BuildResponse> {
        let empty = |s: &Option<String>| s.as_deref().is_none_or(|s| s.trim().is_empty());
        if empty(&request.image_ref) && empty(&request.dockerfile_content) {
            return Err(Error::invalid(
                "imageRef",
                "one of imageRef and dockerfileContent is required",
            ));
        }
        call("createBuild", self.client.api().create_build().body(request).send()).await
    }

    /// `GET /v1/builds/{id}`: the build's current state.
    pub async fn retrieve(&self, id: &str) -> Result<BuildResponse> {
        validate::id("id", id)?;
        call("getBuild", self.client.api().get_build().id(id).send()).await
    }
}
