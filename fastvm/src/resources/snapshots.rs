use crate::resources::poll::{Step, WaitOptions, poll};
use crate::resources::{call_delete, into_future};
use crate::transport::call::call;
use crate::{Error, FastvmClient, Result, validate};
use fastvm_api::types::{CreateSnapshotRequest, DeleteResponse, Snapshot, SnapshotStatus, UpdateSnapshotRequest};

/// `client.snapshots()`: VM snapshots.
#[derive(Debug, Clone, Copy)]
pub struct Snapshots<'a> {
    client: &'a FastvmClient,
}

impl<'a> Snapshots<'a> {
    /// Polls [`retrieve`](Self::retrieve) until the snapshot is `ready` (the wait of
    /// [`FastvmClient::wait_for_snapshot_ready`] and of a create).
    pub(crate) async fn wait_until_ready(&self, id: &str, opts: WaitOptions) -> Result<Snapshot> {
        crate::validate::id("id", id)?;
        poll(
            opts,
            || async {
                let snap = self.retrieve(id).await?;
                Ok(match snap.status {
                    SnapshotStatus::Ready => Step::Done(Ok(snap)),
                    SnapshotStatus::Error => Step::Done(Err(Error::SnapshotFailed {
                        snapshot_id: id.to_string(),
                        name: snap.name,
                    })),
                    status => Step::Pending(status),
                })
            },
            |last_status, waited| Error::SnapshotNotReady {
                snapshot_id: id.to_string(),
                last_status,
                waited,
            },
        )
        .await
    }

    pub(crate) fn new(client: &'a FastvmClient) -> Self {
        Snapshots { client }
    }

    /// `GET /v1/snapshots`.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// for snap in client.snapshots().list().await? {
    ///     println!("{} {} ({}, from VM {})", snap.id, snap.name, snap.status, snap.vm_id);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list(&self) -> Result<Vec<Snapshot>> {
        call("listSnapshots", self.client, |api| api.list_snapshots().send()).await
    }

    /// `POST /v1/snapshots` from a running or paused VM. Without a name (set one on the returned
    /// [`CreateSnapshot`]) the server names it `snapshot-<8-char-vm-id-prefix>`. Not retried
    /// automatically.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm_id: &str) -> fastvm::Result<()> {
    /// let snap = client.snapshots().create(vm_id).name("golden").await?;
    /// let restored = client.launch_vm(fastvm::launch::snapshot(&snap.id)).await?;
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
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, snapshot_id: &str) -> fastvm::Result<()> {
    /// use fastvm::types::SnapshotStatus;
    /// let snap = client.snapshots().retrieve(snapshot_id).await?;
    /// if snap.status != SnapshotStatus::Ready {
    ///     println!("{} is still {}", snap.name, snap.status);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn retrieve(&self, id: &str) -> Result<Snapshot> {
        validate::id("id", id)?;
        call("getSnapshot", self.client, |api| api.get_snapshot().id(id).send()).await
    }

    /// `PATCH /v1/snapshots/{id}`: set what is set on the returned [`UpdateSnapshot`] (today the
    /// name; the request builder is what grows when the API does).
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, snapshot_id: &str) -> fastvm::Result<()> {
    /// let snap = client.snapshots().update(snapshot_id).name("golden-v2").await?;
    /// assert_eq!(snap.name, "golden-v2");
    /// # Ok(()) }
    /// ```
    pub fn update(&self, id: &'a str) -> UpdateSnapshot<'a> {
        UpdateSnapshot {
            client: self.client,
            id,
            name: None,
        }
    }

    /// `DELETE /v1/snapshots/{id}`.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, snapshot_id: &str) -> fastvm::Result<()> {
    /// let gone = client.snapshots().delete(snapshot_id).await?;
    /// println!("{} deleted: {}", gone.id, gone.deleted);
    /// # Ok(()) }
    /// ```
    pub async fn delete(&self, id: &str) -> Result<DeleteResponse> {
        validate::id("id", id)?;
        call_delete("deleteSnapshot", self.client, id, |api| {
            api.delete_snapshot().id(id).send()
        })
        .await
    }

    /// The snapshot named `name`, or `None`; the newest by `created_at` if several have that
    /// name (one without `created_at` counts as the oldest). Any status: check
    /// [`status`](Snapshot::status) before relying on it.
    ///
    /// `name` is compared as the server stores names: trimmed, each whitespace run collapsed
    /// to one space, at most 64 characters (see [`names`](crate::names)). An empty or blank
    /// `name` is refused ([`Error::InvalidInput`](crate::Error::InvalidInput)) before any
    /// request. Lists every snapshot (`GET /v1/snapshots`) and chooses locally.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// use fastvm::launch;
    /// let base = client.snapshots().find_by_name("reviewer-base").await?;
    /// let params = match base {
    ///     Some(snap) => launch::snapshot(snap.id),
    ///     None => launch::machine("c2m4"),
    /// };
    /// let vm = client.launch_vm(params).await?;
    /// # Ok(()) }
    /// ```
    pub async fn find_by_name(&self, name: &str) -> Result<Option<Snapshot>> {
        let wanted = crate::names::server_form(name);
        if wanted.is_empty() {
            return Err(Error::invalid("name", "must not be empty or blank"));
        }
        let all = self.list().await?;
        // Both sides in the same form: whether the server keeps a space left at its 64-character
        // cut or not, the name it stored matches the name it was given.
        Ok(newest(
            all.into_iter().filter(|s| crate::names::server_form(&s.name) == wanted),
        ))
    }

    /// The newest snapshot (by `created_at`; one without it counts as the oldest) whose name
    /// starts with `prefix`, or `None`. Any status: check [`status`](Snapshot::status) before
    /// relying on it. The prefix is compared as given, case-sensitively; an empty one is refused
    /// ([`Error::InvalidInput`](crate::Error::InvalidInput)) before any request. Lists every
    /// snapshot (`GET /v1/snapshots`) and chooses locally.
    ///
    /// Any name that starts with `prefix` matches: `agent-t1-` also matches
    /// `agent-t1-x-1715700000`, a snapshot of task `t1-x`. For names that end in a number, use
    /// [`FastvmClient::newest_snapshot`](crate::FastvmClient::newest_snapshot) with
    /// [`SnapshotFamily::numbered`](crate::workflows::SnapshotFamily::numbered), which matches the
    /// prefix followed by digits only.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// // Images named `app-2026-05-14`, `app-2026-05-15`, …: the latest build.
    /// if let Some(snap) = client.snapshots().newest_with_prefix("app-").await? {
    ///     println!("restoring {} ({})", snap.name, snap.id);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn newest_with_prefix(&self, prefix: &str) -> Result<Option<Snapshot>> {
        if prefix.is_empty() {
            return Err(Error::invalid("prefix", "must not be empty"));
        }
        let all = self.list().await?;
        Ok(newest(all.into_iter().filter(|s| s.name.starts_with(prefix))))
    }
}

/// The newest of `snapshots` by `created_at`, one without it ranking oldest; of several equally
/// new, the last listed.
pub(crate) fn newest(snapshots: impl Iterator<Item = Snapshot>) -> Option<Snapshot> {
    snapshots.max_by_key(|s| s.created_at)
}

/// The request of [`Snapshots::create`]; await it.
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is awaited"]
pub struct CreateSnapshot<'a> {
    pub(crate) client: &'a FastvmClient,
    pub(crate) vm_id: &'a str,
    name: Option<String>,
}

impl<'a> CreateSnapshot<'a> {
    /// The snapshot's name (trimmed and whitespace-collapsed, at most 64 characters kept by the
    /// server).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    async fn send(self) -> Result<Snapshot> {
        validate::id("vmId", self.vm_id)?;
        let mut body = CreateSnapshotRequest::new(self.vm_id);
        body.name = self.name;
        call("createSnapshot", self.client, move |api| {
            api.create_snapshot().body(body.clone()).send()
        })
        .await
    }
}

into_future!(CreateSnapshot => Snapshot);

/// The request of [`Snapshots::update`]; await it.
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is awaited"]
pub struct UpdateSnapshot<'a> {
    client: &'a FastvmClient,
    id: &'a str,
    name: Option<String>,
}

impl UpdateSnapshot<'_> {
    /// The new name (trimmed and whitespace-collapsed, at most 64 characters kept by the
    /// server).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    async fn send(self) -> Result<Snapshot> {
        validate::id("id", self.id)?;
        let mut body = UpdateSnapshotRequest::new();
        body.name = self.name;
        let id = self.id;
        call("updateSnapshot", self.client, move |api| {
            api.update_snapshot().id(id).body(body.clone()).send()
        })
        .await
    }
}

into_future!(UpdateSnapshot => Snapshot);
