use crate::call::{call, call_or};
use crate::resources::vms::{deleted, known_id};
use crate::types::{CreateSnapshotRequest, DeleteResponse, Snapshot, UpdateSnapshotRequest};
use crate::{FastvmClient, Result, validate};

/// `client.snapshots()`: VM snapshots.
#[derive(Debug, Clone, Copy)]
pub struct Snapshots<'a> {
    client: &'a FastvmClient,
}

impl<'a> Snapshots<'a> {
    pub(crate) fn new(client: &'a FastvmClient) -> Self {
        Snapshots { client }
    }

    /// `GET /v1/snapshots`.
    pub async fn list(&self) -> Result<Vec<Snapshot>> {
        call("listSnapshots", self.client.api().list_snapshots().send()).await
    }

    /// `POST /v1/snapshots` (201) from a running or paused VM. `name` empty or `None` lets the
    /// server name it `snapshot-<8-char-vm-id-prefix>`. Not retried automatically.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm_id: &str) -> fastvm::Result<()> {
    /// let snap = client.snapshots().create(vm_id, Some("golden")).await?;
    /// let restored = client.vms().launch(fastvm::launch::snapshot(&snap.id)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn create(&self, vm_id: &str, name: Option<&str>) -> Result<Snapshot> {
        validate::id("vmId", vm_id)?;
        let body = CreateSnapshotRequest {
            vm_id: vm_id.to_string(),
            name: name.map(str::to_string),
        };
        call("createSnapshot", self.client.api().create_snapshot().body(body).send()).await
    }

    /// `GET /v1/snapshots/{id}`.
    pub async fn retrieve(&self, id: &str) -> Result<Snapshot> {
        validate::id("id", id)?;
        call("getSnapshot", self.client.api().get_snapshot().id(id).send()).await
    }

    /// `PATCH /v1/snapshots/{id}`: rename.
    pub async fn update(&self, id: &str, name: &str) -> Result<Snapshot> {
        validate::id("id", id)?;
        let body = UpdateSnapshotRequest {
            name: Some(name.to_string()),
        };
        call(
            "updateSnapshot",
            self.client.api().update_snapshot().id(id).body(body).send(),
        )
        .await
    }

    /// `DELETE /v1/snapshots/{id}`.
    pub async fn delete(&self, id: &str) -> Result<DeleteResponse> {
        validate::id("id", id)?;
        let generated = self.client.api().delete_snapshot().id(id).send();
        let deleted = call_or("deleteSnapshot", generated, || deleted(id)).await?;
        Ok(known_id(deleted, id))
    }
}
