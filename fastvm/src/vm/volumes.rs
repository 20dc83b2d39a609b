//! The volumes of one VM, on its handle ([`Vm::volumes`]): the attach and detach of
//! [`Volumes`], bound to this VM.

use super::Vm;
use crate::Result;
use crate::resources::{AttachVolume, Vms, Volumes};
use crate::types::{VolumeAttachment, VolumeDetachResponse};

impl Vm {
    /// This VM's volume attachments (the attach and detach of [`Volumes`], bound to this VM).
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm: fastvm::vm::Vm) -> fastvm::Result<()> {
    /// let volume = client.volumes().create("shared", 10).await?;
    /// vm.volumes().attach(&volume.id, "/mnt/shared").await?;
    /// vm.run("echo hi > /mnt/shared/hello").await?.check()?;
    /// vm.volumes().detach(&volume.id).await?;
    /// # Ok(()) }
    /// ```
    pub fn volumes(&self) -> VmVolumes<'_> {
        VmVolumes { vm: self }
    }
}

/// The volume attachments of one VM: [`Vm::volumes`].
#[derive(Debug, Clone, Copy)]
pub struct VmVolumes<'a> {
    vm: &'a Vm,
}

impl<'a> VmVolumes<'a> {
    /// The group these operations are bound from.
    fn group(&self) -> Volumes<'a> {
        Volumes::new(&self.vm.client)
    }

    /// The volumes attached to the VM now, with the state of each mount (`GET /v1/vms/{id}`,
    /// its `volumes`; this handle's [`state`](Vm::state) is left as it was).
    ///
    /// ```no_run
    /// # async fn demo(vm: fastvm::vm::Vm) -> fastvm::Result<()> {
    /// for a in vm.volumes().list().await? {
    ///     println!("{} at {} ({:?})", a.volume_id, a.mount_path, a.mount_status);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list(&self) -> Result<Vec<VolumeAttachment>> {
        Ok(Vms::new(&self.vm.client).retrieve(&self.vm.state.id).await?.volumes)
    }

    /// Mounts the ready volume `volume_id` at `mount_path` (under `/mnt/` or `/data/`):
    /// [`Volumes::attach`]; `.read_only(true)` on the returned request mounts it read-only.
    ///
    /// ```no_run
    /// # async fn demo(vm: fastvm::vm::Vm, volume_id: &str) -> fastvm::Result<()> {
    /// let a = vm.volumes().attach(volume_id, "/data/reference").read_only(true).await?;
    /// println!("{:?}", a.mount_status);
    /// # Ok(()) }
    /// ```
    pub fn attach(&self, volume_id: &'a str, mount_path: &'a str) -> AttachVolume<'a> {
        self.group().attach(&self.vm.state.id, volume_id, mount_path)
    }

    /// Unmounts and detaches the volume `volume_id` ([`Volumes::detach`]; a 502
    /// `guest_umount_busy` leaves it attached).
    ///
    /// ```no_run
    /// # async fn demo(vm: fastvm::vm::Vm, volume_id: &str) -> fastvm::Result<()> {
    /// let done = vm.volumes().detach(volume_id).await?;
    /// assert!(done.detached);
    /// # Ok(()) }
    /// ```
    pub async fn detach(&self, volume_id: &str) -> Result<VolumeDetachResponse> {
        self.group().detach(&self.vm.state.id, volume_id).await
    }
}
