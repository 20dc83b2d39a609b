//! Polling until a VM runs, a build finishes or a snapshot is ready: launch-and-wait,
//! [`FastvmClient::wait_for_vm_ready`], [`FastvmClient::wait_for_build`] and
//! [`FastvmClient::wait_for_snapshot_ready`], whose request is a [`Wait`]; and creating a snapshot that is ready when it is
//! returned ([`CreateSnapshot::wait_ready`](crate::resources::CreateSnapshot::wait_ready), whose
//! builder is [`CreateSnapshotReady`]).

use std::future::IntoFuture;
use std::marker::PhantomData;
use std::time::Duration;

use futures::future::BoxFuture;

use crate::cleanup::{Guard, Undo};
use crate::resources::poll::{Step, WaitOptions, poll, wait_setters};
use crate::resources::{Builds, CreateSnapshot, Snapshots, Vms};
use crate::types::{BuildResponse, BuildStatus, Snapshot, SnapshotImport, SnapshotStatus, VmInfo};
use crate::{Error, FastvmClient, Result};

/// The request of a wait until a resource settles: [`FastvmClient::wait_for_vm_ready`] (a
/// [`VmInfo`] of a VM that runs), [`FastvmClient::wait_for_build`] (a build that completed) and
/// [`FastvmClient::wait_for_snapshot_ready`] (a snapshot that is ready); await it for the
/// settled `T`.
#[derive(Debug)]
#[must_use = "a request does nothing until it is awaited"]
pub struct Wait<'a, T> {
    client: &'a FastvmClient,
    id: &'a str,
    options: WaitOptions,
    settles: PhantomData<fn() -> T>,
}

/// What a [`Wait`] waits for: [`VmInfo`], [`BuildResponse`], [`Snapshot`] or
/// [`SnapshotImport`] (sealed).
pub trait Settles: sealed::PollUntilSettled {}

mod sealed {
    /// The poll of one kind of resource (private: the kinds are the SDK's).
    pub trait PollUntilSettled: Sized + Send + 'static {
        /// Polls `id` until it settles.
        fn wait<'a>(
            client: &'a crate::FastvmClient,
            id: &'a str,
            options: crate::resources::poll::WaitOptions,
        ) -> futures::future::BoxFuture<'a, crate::Result<Self>>;
    }
}

impl<'a, T: Settles> Wait<'a, T> {
    /// The request of a `client.wait_for_*` method.
    pub(crate) fn new(client: &'a FastvmClient, id: &'a str) -> Self {
        Wait {
            client,
            id,
            options: WaitOptions::default(),
            settles: PhantomData,
        }
    }

    wait_setters!();
}

impl<'a, T: Settles> IntoFuture for Wait<'a, T> {
    type Output = Result<T>;
    type IntoFuture = BoxFuture<'a, Result<T>>;

    fn into_future(self) -> Self::IntoFuture {
        <T as sealed::PollUntilSettled>::wait(self.client, self.id, self.options)
    }
}

impl Settles for VmInfo {}
impl sealed::PollUntilSettled for VmInfo {
    fn wait<'a>(client: &'a FastvmClient, id: &'a str, options: WaitOptions) -> BoxFuture<'a, Result<VmInfo>> {
        Box::pin(async move { Vms::new(client).wait_running(id, options).await })
    }
}

impl Settles for Snapshot {}
impl sealed::PollUntilSettled for Snapshot {
    fn wait<'a>(client: &'a FastvmClient, id: &'a str, options: WaitOptions) -> BoxFuture<'a, Result<Snapshot>> {
        Box::pin(async move { Snapshots::new(client).wait_until_ready(id, options).await })
    }
}

impl Settles for SnapshotImport {}
impl sealed::PollUntilSettled for SnapshotImport {
    fn wait<'a>(client: &'a FastvmClient, id: &'a str, options: WaitOptions) -> BoxFuture<'a, Result<SnapshotImport>> {
        Box::pin(crate::resources::until_finished(client, id, options))
    }
}

impl Settles for BuildResponse {}
// The build waiter polls a deprecated operation, kept for servers at the reference's version.
#[allow(deprecated)]
impl sealed::PollUntilSettled for BuildResponse {
    fn wait<'a>(client: &'a FastvmClient, id: &'a str, options: WaitOptions) -> BoxFuture<'a, Result<BuildResponse>> {
        Box::pin(async move {
            crate::validate::id("id", id)?;
            poll(
                options,
                || async {
                    let build = Builds::new(client).retrieve(id).await?;
                    Ok(match build.status {
                        BuildStatus::Completed => Step::Done(Ok(build)),
                        BuildStatus::Failed => Step::Done(Err(Error::BuildFailed {
                            build_id: id.to_string(),
                            message: build.error.clone().unwrap_or_default(),
                        })),
                        status => Step::Pending(status),
                    })
                },
                |last_status, waited| Error::BuildNotFinished {
                    build_id: id.to_string(),
                    last_status,
                    waited,
                },
            )
            .await
        })
    }
}

/// The request of [`CreateSnapshot::wait_ready`]: creates the snapshot, then waits until it is
/// `ready`; await it.
///
/// Whatever goes wrong after the snapshot was created (it ends in `error`, the deadline passes,
/// a poll fails, the future is dropped or panics), the snapshot is deleted before the error is
/// returned, or before the drop returns: nothing half-made is left behind. A failed delete is
/// logged (`tracing`, at `warn`); the error returned is still the one that stopped the wait.
/// A create request cancelled or timed out before its answer arrived leaves a snapshot whose id
/// was never known; it is not deleted (name your snapshots to find such a one).
#[derive(Debug)]
#[must_use = "a request does nothing until it is awaited"]
pub struct CreateSnapshotReady<'a> {
    pub(crate) client: &'a FastvmClient,
    pub(crate) create: CreateSnapshot<'a>,
    pub(crate) options: WaitOptions,
    /// Nothing else snapshots the VM (an image build's own builder VM): every snapshot of it
    /// is this request's, so one whose create was cancelled can be found and deleted.
    pub(crate) sole_snapshot_of_vm: bool,
}

impl CreateSnapshotReady<'_> {
    wait_setters!();

    /// Marks the VM as snapshotted by this request only (see `sole_snapshot_of_vm`).
    pub(crate) fn sole_snapshot_of_vm(mut self) -> Self {
        self.sole_snapshot_of_vm = true;
        self
    }

    async fn send(self) -> Result<Snapshot> {
        let CreateSnapshotReady {
            client,
            create,
            options,
            sole_snapshot_of_vm,
        } = self;
        // Armed before the create when the snapshot can be found without its id: a create
        // cancelled, or timed out, after the server made the snapshot is deleted too.
        let early = sole_snapshot_of_vm.then(|| Guard::new(client, Target::EveryOfVm(create.vm_id.to_string())));
        let snap = match create.await {
            Ok(snap) => snap,
            Err(e) => {
                if let Some(guard) = early {
                    guard.keep_if(!may_have_created(&e)).await;
                }
                return Err(e);
            }
        };
        if snap.status == SnapshotStatus::Ready {
            if let Some(guard) = early {
                guard.disarm();
            }
            return Ok(snap);
        }
        // Owned from here on: a failed, cancelled or panicking wait deletes the snapshot.
        let guard = match early {
            Some(guard) => guard.retarget(Target::Id(snap.id.clone())),
            None => Guard::new(client, Target::Id(snap.id.clone())),
        };
        let ready = Snapshots::new(client).wait_until_ready(&snap.id, options).await;
        guard.keep_if(ready.is_ok()).await;
        ready
    }
}

crate::resources::into_future!(CreateSnapshotReady => Snapshot);

impl<'a> CreateSnapshot<'a> {
    /// Creates the snapshot and waits until it is `ready` (polling as
    /// [`FastvmClient::wait_for_snapshot_ready`]; set `poll_interval` and `timeout` on the
    /// returned [`CreateSnapshotReady`]). If the snapshot ends in `error`, the deadline passes
    /// or the wait fails in any other way, the snapshot is deleted before the error is returned.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm_id: &str) -> fastvm::Result<()> {
    /// use std::time::Duration;
    /// let snap = client
    ///     .snapshots()
    ///     .create(vm_id)
    ///     .name("golden")
    ///     .wait_ready()
    ///     .deadline(Duration::from_secs(600))
    ///     .await?;
    /// let vm = client.launch_vm(fastvm::launch::snapshot(&snap.id)).await?;
    /// # Ok(()) }
    /// ```
    pub fn wait_ready(self) -> CreateSnapshotReady<'a> {
        CreateSnapshotReady {
            client: self.client,
            create: self,
            options: WaitOptions::default(),
            sole_snapshot_of_vm: false,
        }
    }
}

/// Whether a request that failed with `e` may have been carried out by the server: no answer
/// (a timeout, a broken connection), a server error, or a success that could not be decoded.
/// A 4xx answer says it was not; input refused before sending was never sent.
fn may_have_created(e: &Error) -> bool {
    let unsent = matches!(e, Error::InvalidInput { .. } | Error::Config { .. });
    !unsent && e.status().is_none_or(|s| !s.is_client_error())
}

/// When to look for the snapshot of a create whose answer never came, after it was abandoned:
/// the server may still be making it.
const FIND_AGAIN: [Duration; 3] = [Duration::ZERO, Duration::from_secs(1), Duration::from_secs(2)];

/// A snapshot a helper created and must not leave behind if it fails (`cleanup::Guard`): the
/// one guarded is deleted, on the helper's error or when its future is dropped.
#[derive(Debug, Clone)]
enum Target {
    /// The snapshot with this id.
    Id(String),
    /// Every snapshot of this VM (which nothing else snapshots), once one shows up.
    EveryOfVm(String),
}

impl Undo for Target {
    const WHAT: &'static str = "delete the snapshot of a dropped helper";

    async fn undo(self, client: FastvmClient) {
        remove(&client, self).await;
    }
}

/// Deletes what `target` names; failures are logged.
async fn remove(client: &FastvmClient, target: Target) {
    let vm_id = match target {
        Target::Id(id) => return delete_snapshot(client, &id).await,
        Target::EveryOfVm(vm_id) => vm_id,
    };
    for pause in FIND_AGAIN {
        tokio::time::sleep(pause).await;
        match Snapshots::new(client).list().await {
            Ok(all) => {
                let mine: Vec<_> = all.into_iter().filter(|s| s.vm_id == vm_id).collect();
                if !mine.is_empty() {
                    for snap in mine {
                        delete_snapshot(client, &snap.id).await;
                    }
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(vm = %vm_id, error = %e, "fastvm: cannot list snapshots to find a failed helper's")
            }
        }
    }
    tracing::debug!(vm = %vm_id, "fastvm: no snapshot of the abandoned create showed up");
}

/// Deletes the snapshot `id` (one already gone counts as deleted); a failure is logged.
async fn delete_snapshot(client: &FastvmClient, id: &str) {
    match Snapshots::new(client).delete(id).await {
        Ok(_) => tracing::debug!(snapshot = %id, "fastvm: deleted the snapshot of a failed helper"),
        Err(e) if e.is_not_found() => {}
        Err(e) => tracing::warn!(snapshot = %id, error = %e, "fastvm: cannot delete the snapshot of a failed helper"),
    }
}
