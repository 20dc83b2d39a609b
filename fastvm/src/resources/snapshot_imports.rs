//! `client.snapshot_imports()`: snapshots imported from a Docker/OCI image or built from a
//! Dockerfile and an uploaded context (an operation group of the upstream API after the
//! reference; the successor of `client.builds()`).

use crate::resources::call_delete;
use crate::resources::into_future;
use crate::transport::call::call;
use crate::types::{ContextPresignResponse, DeleteResponse, MachineType, SnapshotImport, SnapshotImportSourceKind};
use crate::{Error, FastvmClient, Result, validate};
use fastvm_api::types::{ContextPresignRequest, CreateSnapshotImportRequest, SnapshotImportSource};

/// At most this many `--build-arg` pairs (the spec's limit).
pub(crate) const MAX_BUILD_ARGS: usize = 64;
/// The build arguments' keys and values together, in bytes (the spec's limit).
const MAX_BUILD_ARGS_BYTES: usize = 8 << 10;

/// `client.snapshot_imports()`: imports that make a snapshot, from an image reference
/// ([`CreateSnapshotImport::image`]) or from a Dockerfile and its build context, a ZIP archive
/// uploaded beforehand ([`CreateSnapshotImport::dockerfile`] with the `contextRef` of
/// [`presign_context`](Self::presign_context)). To import a local directory in one call, see
/// [`FastvmClient::import_snapshot_from_dir`].
///
/// Needs a server with the upstream API after the reference; an older one answers 404.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotImports<'a> {
    client: &'a FastvmClient,
}

impl<'a> SnapshotImports<'a> {
    pub(crate) fn new(client: &'a FastvmClient) -> Self {
        SnapshotImports { client }
    }

    /// `POST /v1/snapshot-imports` (answered 202 with the import, `pending`): set exactly one
    /// source on the returned [`CreateSnapshotImport`]. Not retried automatically (a repeat
    /// would start a second import). Follow with [`FastvmClient::wait_for_snapshot_import`], or
    /// use [`CreateSnapshotImport::wait_ready`], which also cancels the import if the wait
    /// fails or is dropped.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// let import = client
    ///     .snapshot_imports()
    ///     .create()
    ///     .image("python:3.13-slim")
    ///     .name("python")
    ///     .await?;
    /// println!("import {} is {}", import.id, import.status);
    /// # Ok(()) }
    /// ```
    pub fn create(&self) -> CreateSnapshotImport<'a> {
        CreateSnapshotImport {
            client: self.client,
            draft: Draft::default(),
        }
    }

    /// `GET /v1/snapshot-imports`: every import of the org, newest first.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// for import in client.snapshot_imports().list().await? {
    ///     println!("{} {} {:?}", import.id, import.status, import.snapshot_id);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list(&self) -> Result<Vec<SnapshotImport>> {
        call("listSnapshotImports", self.client, |api| {
            api.list_snapshot_imports().send()
        })
        .await
    }

    /// `GET /v1/snapshot-imports/{id}`: the import's state and event log.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, id: &str) -> fastvm::Result<()> {
    /// let import = client.snapshot_imports().retrieve(id).await?;
    /// for event in &import.events {
    ///     println!("{} {}", event.phase, event.status);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn retrieve(&self, id: &str) -> Result<SnapshotImport> {
        validate::id("id", id)?;
        call("getSnapshotImport", self.client, |api| {
            api.get_snapshot_import().id(id).send()
        })
        .await
    }

    /// `DELETE /v1/snapshot-imports/{id}`: deletes a finished import and the snapshot it made
    /// (VMs launched from it keep running). An import still in flight is refused with 409
    /// ([`ApiErrorKind::Conflict`](crate::ApiErrorKind::Conflict)): [`cancel`](Self::cancel)
    /// it first.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, id: &str) -> fastvm::Result<()> {
    /// let imports = client.snapshot_imports();
    /// imports.cancel(id).await?;
    /// imports.delete(id).await?;
    /// # Ok(()) }
    /// ```
    pub async fn delete(&self, id: &str) -> Result<DeleteResponse> {
        validate::id("id", id)?;
        call_delete("deleteSnapshotImport", self.client, id, |api| {
            api.delete_snapshot_import().id(id).send()
        })
        .await
    }

    /// `POST /v1/snapshot-imports/{id}/cancel`: moves an import in flight to `cancelled` (its
    /// worker is asked to stop, best effort) and returns its state; an import that already
    /// finished is returned as it is. Safe to repeat.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, id: &str) -> fastvm::Result<()> {
    /// let import = client.snapshot_imports().cancel(id).await?;
    /// println!("{}", import.status);
    /// # Ok(()) }
    /// ```
    pub async fn cancel(&self, id: &str) -> Result<SnapshotImport> {
        validate::id("id", id)?;
        call("cancelSnapshotImport", self.client, |api| {
            api.cancel_snapshot_import().id(id).send()
        })
        .await
    }

    /// `POST /v1/snapshot-imports/context-presign`: a short-lived signed PUT URL for a build
    /// context and the one-shot `contextRef` to import it with. PUT the context as a ZIP archive
    /// with `Content-Type: application/zip`, then create the import with
    /// [`CreateSnapshotImport::dockerfile`]. Set the planned size on the returned
    /// [`PresignContext`] to have a context that is too large refused now. Not retried
    /// automatically. The answer's `Debug` hides the URL's signature.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// let presigned = client.snapshot_imports().presign_context().size_bytes(4096).await?;
    /// println!("upload at most {} bytes, then import {}", presigned.max_upload_bytes, presigned.context_ref);
    /// # Ok(()) }
    /// ```
    pub fn presign_context(&self) -> PresignContext<'a> {
        PresignContext {
            client: self.client,
            size_bytes: None,
        }
    }
}

/// The request of [`SnapshotImports::presign_context`]; await it.
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is awaited"]
pub struct PresignContext<'a> {
    client: &'a FastvmClient,
    size_bytes: Option<u64>,
}

impl PresignContext<'_> {
    /// The size of the planned upload: above the platform's cap the request is refused (400).
    pub fn size_bytes(mut self, size: u64) -> Self {
        self.size_bytes = Some(size);
        self
    }

    async fn send(self) -> Result<ContextPresignResponse> {
        let mut body = ContextPresignRequest::new();
        let too_large = |_| Error::invalid("sizeBytes", "is larger than the API accepts");
        body.size_bytes = self.size_bytes.map(i64::try_from).transpose().map_err(too_large)?;
        call("presignSnapshotImportContext", self.client, move |api| {
            api.presign_snapshot_import_context().body(body.clone()).send()
        })
        .await
    }
}

into_future!(PresignContext => ContextPresignResponse);

/// What a create request says before it is checked: the source's fields and the import's.
/// Its `Debug` is the source's, which hides the registry password.
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    pub(crate) source: SnapshotImportSource,
    /// Which sources were set (both is an error found when sending, not a silent override).
    image_set: bool,
    dockerfile_set: bool,
    pub(crate) name: Option<String>,
    pub(crate) machine_type: Option<String>,
    pub(crate) disk_gib: Option<u32>,
}

impl Default for Draft {
    fn default() -> Self {
        Draft {
            source: SnapshotImportSource::new(SnapshotImportSourceKind::Image),
            image_set: false,
            dockerfile_set: false,
            name: None,
            machine_type: None,
            disk_gib: None,
        }
    }
}

impl Draft {
    /// The source as a dockerfile import of `context_ref` (the workflow's, once uploaded).
    pub(crate) fn set_dockerfile(&mut self, context_ref: String) {
        self.dockerfile_set = true;
        self.source.type_ = SnapshotImportSourceKind::Dockerfile;
        self.source.context_ref = Some(context_ref);
    }

    /// Checks everything the spec says of a create's body that can be known here, so that a
    /// wrong request is refused before anything is sent (or uploaded).
    pub(crate) fn check_dockerfile_fields(&self) -> Result<()> {
        let s = &self.source;
        if let Some(path) = &s.dockerfile_path {
            dockerfile_path(path)?;
        }
        if s.build_args.len() > MAX_BUILD_ARGS {
            return Err(Error::invalid(
                "buildArgs",
                format!("at most {MAX_BUILD_ARGS} build arguments, got {}", s.build_args.len()),
            ));
        }
        let bytes: usize = s.build_args.iter().map(|(k, v)| k.len() + v.len()).sum();
        if bytes > MAX_BUILD_ARGS_BYTES {
            return Err(Error::invalid("buildArgs", "more than 8 KiB of keys and values in all"));
        }
        if s.build_args.keys().any(|k| k.is_empty() || k.contains('=')) {
            return Err(Error::invalid("buildArgs", "a key is empty or contains `=`"));
        }
        let credentials = s.registry_username.is_some() || s.registry_password.is_some();
        if credentials && s.registry_host.as_deref().is_none_or(|h| h.trim().is_empty()) {
            return Err(Error::invalid(
                "registryHost",
                "is required with registry credentials for a dockerfile import (the host of the FROM images)",
            ));
        }
        Ok(())
    }

    /// The create's body, checked.
    pub(crate) fn request(&self) -> Result<CreateSnapshotImportRequest> {
        let s = &self.source;
        match (self.image_set, self.dockerfile_set) {
            (true, true) => {
                return Err(Error::invalid(
                    "source",
                    "set either an image or a dockerfile context, not both",
                ));
            }
            (false, false) => return Err(Error::invalid("source", "set an image or a dockerfile context")),
            (true, false) => {
                if s.image.as_deref().is_none_or(|i| i.trim().is_empty()) {
                    return Err(Error::invalid("image", "must not be empty"));
                }
                let dockerfile_only = s.dockerfile_path.is_some() || s.target.is_some() || !s.build_args.is_empty();
                if dockerfile_only {
                    return Err(Error::invalid(
                        "source",
                        "dockerfilePath, target and buildArgs are for a dockerfile import",
                    ));
                }
            }
            (false, true) => {
                if s.context_ref.as_deref().is_none_or(|r| r.trim().is_empty()) {
                    return Err(Error::invalid("contextRef", "must not be empty"));
                }
                if s.platform.is_some() {
                    return Err(Error::invalid("platform", "is for an image import"));
                }
                self.check_dockerfile_fields()?;
            }
        }
        if s.registry_username.is_some() != s.registry_password.is_some() {
            return Err(Error::invalid(
                "registryUsername",
                "give the registry user name and password together",
            ));
        }
        let mut body = CreateSnapshotImportRequest::new(s.clone());
        if self.image_set {
            // "Ignored for image (taken from the reference)": not sent, so nothing is implied.
            body.source.registry_host = None;
        }
        body.name = self.name.clone();
        body.machine_type = self.machine_type.clone().map(MachineType);
        body.disk_gib = self.disk_gib.map(|gib| validate::gib("diskGiB", gib)).transpose()?;
        Ok(body)
    }
}

/// `path` is relative to the context's root and stays in it (the spec's rule).
fn dockerfile_path(path: &str) -> Result<()> {
    let why = if path.trim().is_empty() {
        "must not be empty"
    } else if path.starts_with('/') || path.starts_with('\\') {
        "must be relative to the context's root"
    } else if path.split(['/', '\\']).any(|c| c == "..") {
        "must not contain `..`"
    } else {
        return Ok(());
    };
    Err(Error::invalid("dockerfilePath", why))
}

/// The setters of a dockerfile import and of every import, shared by [`CreateSnapshotImport`]
/// and the directory workflow (a struct with a `draft: Draft` field).
macro_rules! import_setters {
    () => {
        /// The Dockerfile's path relative to the context's root (default `Dockerfile`); not
        /// absolute, no `..`.
        pub fn dockerfile_path(mut self, path: impl Into<String>) -> Self {
            self.draft.source.dockerfile_path = Some(path.into());
            self
        }

        /// The multi-stage build target (default: the last stage).
        pub fn target(mut self, target: impl Into<String>) -> Self {
            self.draft.source.target = Some(target.into());
            self
        }

        /// A `--build-arg KEY=VALUE` (repeatable; at most 64, 8 KiB in all).
        pub fn build_arg(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
            self.draft.source.build_args.insert(key.into(), value.into());
            self
        }

        /// Credentials for a private registry: the image's pull, or the Dockerfile's `FROM`
        /// pulls (then also set [`registry_host`](Self::registry_host)). The password is never
        /// shown by `Debug` and never returned by the API.
        pub fn registry_credentials(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
            self.draft.source.registry_username = Some(username.into());
            self.draft.source.registry_password = Some(password.into());
            self
        }

        /// The registry host the credentials are for (e.g. `ghcr.io`); required with
        /// credentials for a dockerfile import, not sent for an image import (whose reference
        /// names its host).
        pub fn registry_host(mut self, host: impl Into<String>) -> Self {
            self.draft.source.registry_host = Some(host.into());
            self
        }

        /// The name of the import and of its snapshot (default: the import's id).
        pub fn name(mut self, name: impl Into<String>) -> Self {
            self.draft.name = Some(name.into());
            self
        }

        /// The machine type the import runs on.
        pub fn machine_type(mut self, machine_type: impl Into<String>) -> Self {
            self.draft.machine_type = Some(machine_type.into());
            self
        }

        /// The snapshot's disk in GiB (at least 1; default: the machine type's).
        pub fn disk_gib(mut self, gib: u32) -> Self {
            self.draft.disk_gib = Some(gib);
            self
        }
    };
}
pub(crate) use import_setters;

/// The request of [`SnapshotImports::create`]; await it for the pending import, or make it a
/// create-and-wait with [`wait_ready`](Self::wait_ready).
///
/// Checked before anything is sent: exactly one source; an image's reference not empty; a
/// dockerfile's `contextRef` not empty, its path relative without `..`, at most 64 build
/// arguments, and a registry host with credentials; `platform` only for an image and the
/// Dockerfile's settings only for a dockerfile.
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is awaited"]
pub struct CreateSnapshotImport<'a> {
    pub(crate) client: &'a FastvmClient,
    pub(crate) draft: Draft,
}

impl CreateSnapshotImport<'_> {
    /// Imports the Docker/OCI image `reference` (`nginx:1.27`, `ghcr.io/foo/bar:v1`,
    /// `alpine@sha256:…`).
    pub fn image(mut self, reference: impl Into<String>) -> Self {
        self.draft.image_set = true;
        self.draft.source.type_ = SnapshotImportSourceKind::Image;
        self.draft.source.image = Some(reference.into());
        self
    }

    /// The `<os>/<arch>` to pick from a multi-arch image (default `linux/amd64`). Image only.
    pub fn platform(mut self, platform: impl Into<String>) -> Self {
        self.draft.source.platform = Some(platform.into());
        self
    }

    /// Builds the Dockerfile of the context uploaded for `context_ref` (the one-shot reference
    /// of [`SnapshotImports::presign_context`], consumed by the create).
    pub fn dockerfile(mut self, context_ref: impl Into<String>) -> Self {
        self.draft.set_dockerfile(context_ref.into());
        self
    }

    import_setters!();

    async fn send(self) -> Result<SnapshotImport> {
        let body = self.draft.request()?;
        call("createSnapshotImport", self.client, move |api| {
            api.create_snapshot_import().body(body.clone()).send()
        })
        .await
    }
}

into_future!(CreateSnapshotImport => SnapshotImport);

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> Draft {
        let mut d = Draft::default();
        d.set_dockerfile("ctx_1".into());
        d
    }

    #[test]
    fn dockerfile_paths_stay_in_the_context() {
        for ok in ["Dockerfile", "docker/Dockerfile.prod", "a..b/Dockerfile"] {
            assert!(dockerfile_path(ok).is_ok(), "{ok}");
        }
        for bad in ["", " ", "/Dockerfile", "\\x", "../Dockerfile", "a/../../b", "a\\..\\b"] {
            assert!(dockerfile_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_dockerfile_import_with_credentials_names_the_registry() {
        let mut d = draft();
        d.source.registry_username = Some("u".into());
        d.source.registry_password = Some("hunter2".into());
        let e = d.request().unwrap_err();
        assert!(e.to_string().contains("registryHost"), "{e}");
        assert!(!format!("{e} {d:?}").contains("hunter2"));
        d.source.registry_host = Some("ghcr.io".into());
        assert!(d.request().is_ok());
    }

    #[test]
    fn build_args_are_bounded() {
        let mut d = draft();
        for i in 0..=MAX_BUILD_ARGS {
            d.source.build_args.insert(format!("K{i}"), "v".into());
        }
        assert!(d.request().unwrap_err().to_string().contains("at most 64"));
        let mut d = draft();
        d.source.build_args.insert("K".into(), "v".repeat(9000));
        assert!(d.request().is_err());
    }
}
