use crate::call::{call, call_or};
use crate::resources::{deleted, into_future, known_id};
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

    /// `POST /v1/snapshots` from a running or paused VM. Without a name (set one on the returned
    /// [`CreateSnapshot`]) the server names it `snapshot-<8-char-vm-id-prefix>`. Not retried
    /// automatically.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm_id: &str) -> fastvm::Result<()> {
    /// let snap = client.snapshots().create(vm_id).name("golden").await?;
    /// let restored = client.vms().launch(fastvm::launch::snapshot(&snap.id)).await?;
    /// # Ok(()) }
    /// ```
    pub fn create(&self, vm_id: &'a str) -> CreateSnapshot<'a> {
        CreateSnapshot {
            client: self.client,
            vm_id,
            name: None,
        }
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

/// The request of [`Snapshots::create`]; await it.
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is awaited"]
pub struct CreateSnapshot<'a> {
    client: &'a FastvmClient,
    vm_id: &'a str,
    name: Option<String>,
}

impl CreateSnapshot<'_> {
    /// The snapshot's name (trimmed and whitespace-collapsed, at most 64 characters kept by the
    /// server).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    async fn send(self) -> Result<Snapshot> {
        validate::id("vmId", self.vm_id)?;
        let body = CreateSnapshotRequest {
            vm_id: self.vm_id.to_string(),
            name: self.name,
        };
        call("createSnapshot", self.client.api().create_snapshot().body(body).send()).await
    }
}

into_future!(CreateSnapshot => Snapshot);
