//! `client.volumes()`: managed shared volumes and their attachments to VMs (an operation group
//! of the upstream API after the reference).

use crate::resources::{call_delete, into_future};
use crate::transport::call::call;
use crate::{Error, FastvmClient, Result, validate};
use fastvm_api::types::{
    CreateVolumeRequest, DeleteResponse, UpdateVolumeRequest, Volume, VolumeAccessMode, VolumeAttachment,
    VolumeDetachResponse, VolumeMount, VolumeVmAttachment,
};

/// `client.volumes()`: managed volumes, POSIX directory trees that several VMs of the org mount
/// at once, and their attachments (`POST`/`DELETE /v1/vms/{id}/volumes…`; on a VM handle, the
/// same through [`Vm::volumes`](crate::vm::Vm::volumes)).
///
/// A volume is `creating` briefly after its create; an attach is refused (a 4xx whose message
/// names `VOL_NOT_READY`) until it is `ready`. Needs a server with the upstream API after the
/// reference; an older one answers 404.
#[derive(Debug, Clone, Copy)]
pub struct Volumes<'a> {
    client: &'a FastvmClient,
}

impl<'a> Volumes<'a> {
    pub(crate) fn new(client: &'a FastvmClient) -> Self {
        Volumes { client }
    }

    /// `GET /v1/volumes`: every volume of the org.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// for v in client.volumes().list().await? {
    ///     println!("{} {} {} GiB, {} ({} mounted)", v.id, v.name, v.size_gib, v.status, v.mounted_count);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list(&self) -> Result<Vec<Volume>> {
        call("listVolumes", self.client, |api| api.list_volumes().send()).await
    }

    /// `POST /v1/volumes`: a volume named `name` of `size_gib` GiB (at least 1), read-write
    /// unless [`CreateVolume::access_mode`] says otherwise. It is `creating` until its storage
    /// is ready. Not retried automatically (a repeat could make two volumes). An empty name or
    /// a size of 0 is refused before any request.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// use fastvm::types::VolumeAccessMode;
    /// let data = client.volumes().create("datasets", 50).await?;
    /// let refs = client.volumes().create("reference", 5).access_mode(VolumeAccessMode::Ro).await?;
    /// println!("{} is {}", data.id, data.status);
    /// # let _ = refs;
    /// # Ok(()) }
    /// ```
    pub fn create(&self, name: impl Into<String>, size_gib: u64) -> CreateVolume<'a> {
        CreateVolume {
            client: self.client,
            name: name.into(),
            size_gib,
            access_mode: VolumeAccessMode::Rw,
        }
    }

    /// `GET /v1/volumes/{id}`, with the space used when the storage answers (`used_gib`).
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, id: &str) -> fastvm::Result<()> {
    /// use fastvm::types::VolumeStatus;
    /// let v = client.volumes().retrieve(id).await?;
    /// if v.status == VolumeStatus::Ready {
    ///     println!("{} of {} GiB used", v.used_gib.unwrap_or(0), v.size_gib);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn retrieve(&self, id: &str) -> Result<Volume> {
        validate::id("id", id)?;
        call("getVolume", self.client, |api| api.get_volume().id(id).send()).await
    }

    /// `PATCH /v1/volumes/{id}`: rename it, change its access mode or resize it (it grows, or
    /// shrinks when what it holds still fits), as set on the returned [`UpdateVolume`] (at
    /// least one). A resize in flight shows in `pending_size_gib`.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, id: &str) -> fastvm::Result<()> {
    /// let v = client.volumes().update(id).name("datasets-2026").size_gib(100).await?;
    /// println!("{} GiB (pending {:?})", v.size_gib, v.pending_size_gib);
    /// # Ok(()) }
    /// ```
    pub fn update(&self, id: &'a str) -> UpdateVolume<'a> {
        UpdateVolume {
            client: self.client,
            id,
            name: None,
            size_gib: None,
            access_mode: None,
        }
    }

    /// `DELETE /v1/volumes/{id}`: answers once the volume is `deleting`; it disappears from
    /// [`retrieve`](Self::retrieve) and [`list`](Self::list) when its storage is cleaned up.
    /// What it holds is lost.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, id: &str) -> fastvm::Result<()> {
    /// let gone = client.volumes().delete(id).await?;
    /// println!("{} deleted: {}", gone.id, gone.deleted);
    /// # Ok(()) }
    /// ```
    pub async fn delete(&self, id: &str) -> Result<DeleteResponse> {
        validate::id("id", id)?;
        call_delete("deleteVolume", self.client, id, |api| api.delete_volume().id(id).send()).await
    }

    /// `GET /v1/volumes/{id}/attachments`: the VMs the volume is attached to now.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, id: &str) -> fastvm::Result<()> {
    /// for a in client.volumes().attachments(id).await? {
    ///     println!("VM {} at {} ({:?})", a.vm_id, a.mount_path, a.mount_status);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn attachments(&self, id: &str) -> Result<Vec<VolumeVmAttachment>> {
        validate::id("id", id)?;
        call("listVolumeAttachments", self.client, |api| {
            api.list_volume_attachments().id(id).send()
        })
        .await
    }

    /// `POST /v1/vms/{vm_id}/volumes`: mounts the ready volume `volume_id` in the VM at
    /// `mount_path` (absolute, under `/mnt/` or `/data/`, no `.` or `..` segments: refused
    /// before any request otherwise); read-only with [`AttachVolume::read_only`] (a volume
    /// whose access mode is `ro` is always mounted read-only). A paused VM mounts it on resume.
    /// Not retried automatically.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm_id: &str, volume_id: &str) -> fastvm::Result<()> {
    /// let a = client.volumes().attach(vm_id, volume_id, "/mnt/shared").read_only(true).await?;
    /// println!("{} at {}: {:?}", a.volume_id, a.mount_path, a.mount_status);
    /// # Ok(()) }
    /// ```
    pub fn attach(&self, vm_id: &'a str, volume_id: &'a str, mount_path: &'a str) -> AttachVolume<'a> {
        AttachVolume {
            client: self.client,
            vm_id,
            volume_id,
            mount_path,
            read_only: None,
        }
    }

    /// `DELETE /v1/vms/{vm_id}/volumes/{volume_id}`: unmounts and detaches the volume (what it
    /// holds stays in it). `warnings` says when the VM did not acknowledge and the teardown was
    /// forced. When the VM reports the mount busy, the answer is a 502 whose message is
    /// `guest_umount_busy` ([`ApiErrorKind::Server`](crate::ApiErrorKind::Server)) and the
    /// volume stays attached (a 502 is retried per the client's retry policy, as for any
    /// idempotent call): stop what uses it in the VM and try again.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm_id: &str, volume_id: &str) -> fastvm::Result<()> {
    /// let done = client.volumes().detach(vm_id, volume_id).await?;
    /// for w in &done.warnings {
    ///     eprintln!("forced detach: {} ({})", w.message, w.type_);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn detach(&self, vm_id: &str, volume_id: &str) -> Result<VolumeDetachResponse> {
        validate::id("id", vm_id)?;
        validate::id("volumeId", volume_id)?;
        call("detachVolume", self.client, |api| {
            api.detach_volume().id(vm_id).volume_id(volume_id).send()
        })
        .await
    }
}

/// A name as the API takes it: not empty or blank.
fn name(field: &str, name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty or blank"));
    }
    Ok(())
}

/// The request of [`Volumes::create`]; await it.
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is awaited"]
pub struct CreateVolume<'a> {
    client: &'a FastvmClient,
    name: String,
    size_gib: u64,
    access_mode: VolumeAccessMode,
}

impl CreateVolume<'_> {
    /// How VMs may use the volume (default [`VolumeAccessMode::Rw`]; `Ro`: every attachment is
    /// read-only).
    pub fn access_mode(mut self, mode: VolumeAccessMode) -> Self {
        self.access_mode = mode;
        self
    }

    async fn send(self) -> Result<Volume> {
        name("name", &self.name)?;
        let size_gib = validate::gib("sizeGiB", self.size_gib)?;
        validate::known("accessMode", self.access_mode.as_str(), self.access_mode.is_unknown())?;
        let body = CreateVolumeRequest::new(self.access_mode, self.name, size_gib);
        call("createVolume", self.client, move |api| {
            api.create_volume().body(body.clone()).send()
        })
        .await
    }
}

into_future!(CreateVolume => Volume);

/// The request of [`Volumes::update`]; await it.
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is awaited"]
pub struct UpdateVolume<'a> {
    client: &'a FastvmClient,
    id: &'a str,
    name: Option<String>,
    size_gib: Option<u64>,
    access_mode: Option<VolumeAccessMode>,
}

impl UpdateVolume<'_> {
    /// The new name (not empty).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The new size in GiB (at least 1): larger grows the volume; smaller shrinks it when what
    /// it holds still fits.
    pub fn size_gib(mut self, gib: u64) -> Self {
        self.size_gib = Some(gib);
        self
    }

    /// The new access mode.
    pub fn access_mode(mut self, mode: VolumeAccessMode) -> Self {
        self.access_mode = Some(mode);
        self
    }

    async fn send(self) -> Result<Volume> {
        let (client, id) = (self.client, self.id);
        validate::id("id", id)?;
        if self.name.is_none() && self.size_gib.is_none() && self.access_mode.is_none() {
            return Err(Error::invalid(
                "body",
                "set at least one of name, size_gib, access_mode",
            ));
        }
        let mut body = UpdateVolumeRequest::new();
        if let Some(n) = &self.name {
            name("name", n)?;
        }
        if let Some(mode) = &self.access_mode {
            validate::known("accessMode", mode.as_str(), mode.is_unknown())?;
        }
        body.size_gib = self.size_gib.map(|g| validate::gib("sizeGiB", g)).transpose()?;
        body.name = self.name;
        body.access_mode = self.access_mode;
        call("updateVolume", client, move |api| {
            api.update_volume().id(id).body(body.clone()).send()
        })
        .await
    }
}

into_future!(UpdateVolume => Volume);

/// The request of [`Volumes::attach`] (and [`VmVolumes::attach`](crate::vm::VmVolumes::attach));
/// await it.
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is awaited"]
pub struct AttachVolume<'a> {
    client: &'a FastvmClient,
    vm_id: &'a str,
    volume_id: &'a str,
    mount_path: &'a str,
    read_only: Option<bool>,
}

impl AttachVolume<'_> {
    /// Mount it read-only (default: as the volume's access mode allows).
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = Some(read_only);
        self
    }

    async fn send(self) -> Result<VolumeAttachment> {
        validate::id("id", self.vm_id)?;
        let mut body = VolumeMount::new(self.volume_id, self.mount_path);
        body.read_only = self.read_only;
        validate::volume_mount("", &body)?;
        let vm_id = self.vm_id;
        call("attachVolume", self.client, move |api| {
            api.attach_volume().id(vm_id).body(body.clone()).send()
        })
        .await
    }
}

into_future!(AttachVolume => VolumeAttachment);
