//! A VM's bucket mounts on its handle ([`Vm::bucket_mounts`]): the operations of
//! `client.vms().bucket_mounts()`, bound to this VM.

use super::Vm;
use crate::Result;
use crate::resources::{BucketMounts, CreateBucketMount, Vms};
use crate::types::{BucketCredentials, BucketMount, DeleteResponse};

impl Vm {
    /// This VM's bucket mounts (the operations of [`BucketMounts`], bound to this VM).
    ///
    /// ```no_run
    /// # async fn demo(vm: fastvm::vm::Vm) -> fastvm::Result<()> {
    /// use fastvm::types::BucketCredentials;
    /// let creds = BucketCredentials::aws_credentials_file(std::fs::read_to_string("aws.ini").unwrap());
    /// let mount = vm.bucket_mounts().create("s3://logs/2026", "/mnt/logs", creds).await?;
    /// vm.run("ls /mnt/logs").await?.check()?;
    /// vm.bucket_mounts().delete(&mount.id).await?;
    /// # Ok(()) }
    /// ```
    pub fn bucket_mounts(&self) -> VmBucketMounts<'_> {
        VmBucketMounts { vm: self }
    }
}

/// The bucket mounts of one VM: [`Vm::bucket_mounts`].
#[derive(Debug, Clone, Copy)]
pub struct VmBucketMounts<'a> {
    vm: &'a Vm,
}

impl<'a> VmBucketMounts<'a> {
    /// The group these operations are bound from.
    fn group(&self) -> BucketMounts<'a> {
        Vms::new(&self.vm.client).bucket_mounts()
    }

    /// The VM's bucket mounts ([`BucketMounts::list`]).
    ///
    /// ```no_run
    /// # async fn demo(vm: fastvm::vm::Vm) -> fastvm::Result<()> {
    /// for mount in vm.bucket_mounts().list().await? {
    ///     println!("{} at {}", mount.bucket_uri, mount.mount_path);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list(&self) -> Result<Vec<BucketMount>> {
        self.group().list(&self.vm.state.id).await
    }

    /// Mounts a bucket into the VM ([`BucketMounts::create`]).
    ///
    /// ```no_run
    /// # async fn demo(vm: fastvm::vm::Vm, creds: fastvm::types::BucketCredentials) -> fastvm::Result<()> {
    /// let mount = vm.bucket_mounts().create("gs://models", "/mnt/models", creds).read_only(true).await?;
    /// # let _ = mount;
    /// # Ok(()) }
    /// ```
    pub fn create(
        &self,
        bucket_uri: impl Into<String>,
        mount_path: impl Into<String>,
        credentials: BucketCredentials,
    ) -> CreateBucketMount<'a> {
        self.group()
            .create(&self.vm.state.id, bucket_uri, mount_path, credentials)
    }

    /// One of the VM's bucket mounts ([`BucketMounts::retrieve`]).
    ///
    /// ```no_run
    /// # async fn demo(vm: fastvm::vm::Vm, mount_id: &str) -> fastvm::Result<()> {
    /// let mount = vm.bucket_mounts().retrieve(mount_id).await?;
    /// println!("{:?}", mount.mount_status);
    /// # Ok(()) }
    /// ```
    pub async fn retrieve(&self, bucket_mount_id: &str) -> Result<BucketMount> {
        self.group().retrieve(&self.vm.state.id, bucket_mount_id).await
    }

    /// Replaces a mount's credentials ([`BucketMounts::rotate_credentials`]).
    ///
    /// ```no_run
    /// # async fn demo(vm: fastvm::vm::Vm, mount_id: &str, creds: fastvm::types::BucketCredentials) -> fastvm::Result<()> {
    /// vm.bucket_mounts().rotate_credentials(mount_id, creds).await?;
    /// # Ok(()) }
    /// ```
    pub async fn rotate_credentials(
        &self,
        bucket_mount_id: &str,
        credentials: BucketCredentials,
    ) -> Result<BucketMount> {
        self.group()
            .rotate_credentials(&self.vm.state.id, bucket_mount_id, credentials)
            .await
    }

    /// Unmounts and deletes a bucket mount ([`BucketMounts::delete`]).
    ///
    /// ```no_run
    /// # async fn demo(vm: fastvm::vm::Vm, mount_id: &str) -> fastvm::Result<()> {
    /// vm.bucket_mounts().delete(mount_id).await?;
    /// # Ok(()) }
    /// ```
    pub async fn delete(&self, bucket_mount_id: &str) -> Result<DeleteResponse> {
        self.group().delete(&self.vm.state.id, bucket_mount_id).await
    }
}
