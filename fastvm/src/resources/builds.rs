use crate::resources::into_future;
use crate::transport::call::call;
use crate::{Error, FastvmClient, Result, validate};
use fastvm_api::types::{BuildResponse, CreateBuildRequest};

/// `client.builds()`: build snapshots from an image ref or a Dockerfile.
#[derive(Debug, Clone, Copy)]
pub struct Builds<'a> {
    client: &'a FastvmClient,
}

impl<'a> Builds<'a> {
    pub(crate) fn new(client: &'a FastvmClient) -> Self {
        Builds { client }
    }

    /// `POST /v1/builds` (answered with status `pending`): builds a snapshot from an image
    /// reference or a Dockerfile (set at least one on the returned [`CreateBuild`]). Not
    /// retried automatically. Follow with [`FastvmClient::wait_for_build`].
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// let build = client
    ///     .builds()
    ///     .create()
    ///     .dockerfile("FROM python:3.13-slim\nRUN pip install flask\n")
    ///     .name("flask")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    #[deprecated = "replaced upstream by snapshot imports: use `client.snapshot_imports()`"]
    #[allow(deprecated)] // it calls the deprecated operation
    pub fn create(&self) -> CreateBuild<'a> {
        CreateBuild {
            client: self.client,
            request: CreateBuildRequest::default(),
        }
    }

    /// `GET /v1/builds/{id}`: the build's current state.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, build_id: &str) -> fastvm::Result<()> {
    /// use fastvm::types::BuildStatus;
    /// let build = client.builds().retrieve(build_id).await?;
    /// match build.status {
    ///     BuildStatus::Completed => println!("snapshot {:?}", build.snapshot_id),
    ///     BuildStatus::Failed => eprintln!("failed: {:?}", build.error),
    ///     status => println!("{status}: {:?}", build.progress),
    /// }
    /// # Ok(()) }
    /// ```
    #[deprecated = "replaced upstream by snapshot imports: use `client.snapshot_imports()`"]
    #[allow(deprecated)] // it calls the deprecated operation
    pub async fn retrieve(&self, id: &str) -> Result<BuildResponse> {
        validate::id("id", id)?;
        call("getBuild", self.client, |api| api.get_build().id(id).send()).await
    }
}

/// The request of [`Builds::create`]; await it.
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is awaited"]
pub struct CreateBuild<'a> {
    client: &'a FastvmClient,
    request: CreateBuildRequest,
}

impl CreateBuild<'_> {
    /// The image to build from (e.g. `python:3.13-slim`); with a Dockerfile, its fallback `FROM`.
    pub fn image_ref(mut self, image: impl Into<String>) -> Self {
        self.request.image_ref = Some(image.into());
        self
    }

    /// The Dockerfile, run with `buildah bud` in the build VM.
    pub fn dockerfile(mut self, content: impl Into<String>) -> Self {
        self.request.dockerfile_content = Some(content.into());
        self
    }

    /// The name of the resulting snapshot (default: the build's id).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.request.name = Some(name.into());
        self
    }

    /// The machine type of the build VM.
    pub fn machine_type(mut self, machine_type: impl Into<String>) -> Self {
        self.request.machine_type = Some(crate::types::MachineType(machine_type.into()));
        self
    }

    /// The build VM's disk in GiB (default 10, at least 1).
    pub fn disk_gib(mut self, gib: u32) -> Self {
        self.request.disk_gib = Some(i64::from(gib));
        self
    }

    /// A presigned GET URL of a tar.gz build context (see
    /// [`BuildContexts::presign`](crate::resources::BuildContexts::presign)), extracted where the
    /// Dockerfile runs.
    pub fn context_url(mut self, url: impl Into<String>) -> Self {
        self.request.context_download_url = Some(url.into());
        self
    }

    // Deprecated operation, kept for servers at the reference's version.
    #[allow(deprecated)]
    async fn send(self) -> Result<BuildResponse> {
        let request = self.request;
        let empty = |s: &Option<String>| s.as_deref().is_none_or(|s| s.trim().is_empty());
        if empty(&request.image_ref) && empty(&request.dockerfile_content) {
            return Err(Error::invalid(
                "imageRef",
                "one of imageRef and dockerfileContent is required",
            ));
        }
        if let Some(d) = request.disk_gib {
            validate::gib("diskGiB", d)?;
        }
        call("createBuild", self.client, move |api| {
            api.create_build().body(request.clone()).send()
        })
        .await
    }
}

into_future!(CreateBuild => BuildResponse);
