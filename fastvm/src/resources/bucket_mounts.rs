//! `client.vms().bucket_mounts()`: a customer's GCS or S3 buckets mounted into VMs (an
//! operation group of the upstream API after the reference).
//!
//! The credentials of a mount are only ever sent: the server stores them and never returns
//! them, and the SDK shows their secret parts as `<redacted>` in `Debug`, logs and errors.

use crate::resources::{deleted, into_future};
use crate::transport::call::call;
use crate::types::{BucketCredentials, BucketMount, CreateBucketMountRequest, DeleteResponse};
use crate::{FastvmClient, Result, validate};
use fastvm_api::types::RotateBucketCredentialsRequest;

/// `client.vms().bucket_mounts()`: the bucket mounts of VMs, addressed by the VM's id. On a
/// handle, [`Vm::bucket_mounts`](crate::vm::Vm::bucket_mounts) binds the VM.
///
/// Needs a server with the upstream API after the reference; an older one answers 404.
#[derive(Debug, Clone, Copy)]
pub struct BucketMounts<'a> {
    client: &'a FastvmClient,
}

impl<'a> BucketMounts<'a> {
    pub(crate) fn new(client: &'a FastvmClient) -> Self {
        BucketMounts { client }
    }

    /// `GET /v1/vms/{id}/bucket-mounts`: the VM's bucket mounts.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm_id: &str) -> fastvm::Result<()> {
    /// for mount in client.vms().bucket_mounts().list(vm_id).await? {
    ///     println!("{} at {}: {:?}", mount.bucket_uri, mount.mount_path, mount.mount_status);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list(&self, vm_id: &str) -> Result<Vec<BucketMount>> {
        validate::id("id", vm_id)?;
        call("listBucketMounts", self.client, |api| {
            api.list_bucket_mounts().id(vm_id).send()
        })
        .await
    }

    /// `POST /v1/vms/{id}/bucket-mounts`: mounts `bucket_uri` (`gs://bucket[/prefix]` or
    /// `s3://bucket[/prefix]`) at the absolute `mount_path` of the VM, with `credentials` (see
    /// [`BucketCredentials`]'s constructors). Read-only with
    /// [`read_only`](CreateBucketMount::read_only). Not retried automatically.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm_id: &str) -> fastvm::Result<()> {
    /// use fastvm::types::BucketCredentials;
    /// let key = std::fs::read_to_string("reader-key.json").unwrap();
    /// let credentials = BucketCredentials::gcp_service_account_json(&key).expect("a service account key");
    /// let mount = client
    ///     .vms()
    ///     .bucket_mounts()
    ///     .create(vm_id, "gs://datasets/2026", "/mnt/datasets", credentials)
    ///     .read_only(true)
    ///     .await?;
    /// println!("{} is {:?}", mount.id, mount.mount_status);
    /// # Ok(()) }
    /// ```
    pub fn create(
        &self,
        vm_id: &'a str,
        bucket_uri: impl Into<String>,
        mount_path: impl Into<String>,
        credentials: BucketCredentials,
    ) -> CreateBucketMount<'a> {
        CreateBucketMount {
            client: self.client,
            vm_id,
            request: CreateBucketMountRequest::new(bucket_uri, mount_path, credentials),
        }
    }

    /// `GET /v1/vms/{id}/bucket-mounts/{bucketMountId}`: one bucket mount of the VM.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm_id: &str, mount_id: &str) -> fastvm::Result<()> {
    /// let mount = client.vms().bucket_mounts().retrieve(vm_id, mount_id).await?;
    /// if let Some(why) = &mount.status_message {
    ///     eprintln!("{:?}: {why}", mount.mount_status);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn retrieve(&self, vm_id: &str, bucket_mount_id: &str) -> Result<BucketMount> {
        validate::id("id", vm_id)?;
        validate::id("bucketMountId", bucket_mount_id)?;
        call("getBucketMount", self.client, |api| {
            api.get_bucket_mount().id(vm_id).bucket_mount_id(bucket_mount_id).send()
        })
        .await
    }

    /// `PATCH /v1/vms/{id}/bucket-mounts/{bucketMountId}`: replaces the mount's credentials and
    /// re-authenticates it in the VM (I/O pauses for a moment). A swap the server had to roll
    /// back is a 502 ([`ApiErrorKind::Server`](crate::ApiErrorKind::Server)); after a full
    /// failure the mount's status is `failed`.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm_id: &str, mount_id: &str) -> fastvm::Result<()> {
    /// use fastvm::types::BucketCredentials;
    /// let text = std::fs::read_to_string("/home/me/.aws/credentials").unwrap();
    /// client
    ///     .vms()
    ///     .bucket_mounts()
    ///     .rotate_credentials(vm_id, mount_id, BucketCredentials::aws_credentials_file(text))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn rotate_credentials(
        &self,
        vm_id: &str,
        bucket_mount_id: &str,
        credentials: BucketCredentials,
    ) -> Result<BucketMount> {
        validate::id("id", vm_id)?;
        validate::id("bucketMountId", bucket_mount_id)?;
        validate::bucket_credentials("credentials", &credentials)?;
        let body = RotateBucketCredentialsRequest::new(credentials);
        call("rotateBucketMountCredentials", self.client, move |api| {
            api.rotate_bucket_mount_credentials()
                .id(vm_id)
                .bucket_mount_id(bucket_mount_id)
                .body(body.clone())
                .send()
        })
        .await
    }

    /// `DELETE /v1/vms/{id}/bucket-mounts/{bucketMountId}`: unmounts the bucket and deletes the
    /// mount (the bucket itself is untouched). The answer has no body; the result is the mount's
    /// id, deleted, as every group's delete returns a [`DeleteResponse`].
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm_id: &str, mount_id: &str) -> fastvm::Result<()> {
    /// let gone = client.vms().bucket_mounts().delete(vm_id, mount_id).await?;
    /// assert!(gone.deleted);
    /// # Ok(()) }
    /// ```
    pub async fn delete(&self, vm_id: &str, bucket_mount_id: &str) -> Result<DeleteResponse> {
        validate::id("id", vm_id)?;
        validate::id("bucketMountId", bucket_mount_id)?;
        call("deleteBucketMount", self.client, |api| {
            api.delete_bucket_mount()
                .id(vm_id)
                .bucket_mount_id(bucket_mount_id)
                .send()
        })
        .await?;
        Ok(deleted(bucket_mount_id))
    }
}

/// The request of [`BucketMounts::create`]; await it. Its `Debug` hides the credentials.
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is awaited"]
pub struct CreateBucketMount<'a> {
    client: &'a FastvmClient,
    vm_id: &'a str,
    request: CreateBucketMountRequest,
}

impl CreateBucketMount<'_> {
    /// Mount the bucket read-only (default: read-write, as the credentials allow).
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.request.read_only = Some(read_only);
        self
    }

    async fn send(self) -> Result<BucketMount> {
        let CreateBucketMount { client, vm_id, request } = self;
        validate::id("id", vm_id)?;
        validate::bucket_mount("", &request)?;
        call("createBucketMount", client, move |api| {
            api.create_bucket_mount().id(vm_id).body(request.clone()).send()
        })
        .await
    }
}

into_future!(CreateBucketMount => BucketMount);
