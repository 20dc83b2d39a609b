//! Waiting for a snapshot import: the poll of [`FastvmClient::wait_for_snapshot_import`], and
//! the create-and-wait that owns its import ([`CreateSnapshotImport::wait_ready`], whose
//! request is [`CreateSnapshotImportReady`]), cancelling it whenever the wait does not end in
//! `succeeded`.

use std::time::Duration;

use crate::cleanup::{Guard, Undo};
use crate::resources::poll::{Step, WaitOptions, poll, wait_setters};
use crate::resources::{CreateSnapshotImport, SnapshotImports};
use crate::types::{SnapshotImport, SnapshotImportStatus};
use crate::{Error, FastvmClient, Result};

/// Polls the import `id` until it is `succeeded` (returned), `failed`
/// ([`Error::SnapshotImportFailed`]) or `cancelled` ([`Error::SnapshotImportCancelled`]); any
/// other status, known or not, means keep waiting. The deadline passing gives
/// [`Error::SnapshotImportNotFinished`].
pub(crate) async fn until_finished(client: &FastvmClient, id: &str, options: WaitOptions) -> Result<SnapshotImport> {
    crate::validate::id("id", id)?;
    poll(
        options,
        || async {
            let import = SnapshotImports::new(client).retrieve(id).await?;
            Ok(match import.status {
                SnapshotImportStatus::Succeeded => Step::Done(Ok(import)),
                SnapshotImportStatus::Failed => Step::Done(Err(Error::SnapshotImportFailed {
                    import_id: id.to_string(),
                    message: import.error.unwrap_or_default(),
                })),
                SnapshotImportStatus::Cancelled => Step::Done(Err(Error::SnapshotImportCancelled {
                    import_id: id.to_string(),
                })),
                status => Step::Pending(status),
            })
        },
        |last_status, waited| Error::SnapshotImportNotFinished {
            import_id: id.to_string(),
            last_status,
            waited,
        },
    )
    .await
}

/// The request of [`CreateSnapshotImport::wait_ready`]: creates the import, then waits until it
/// is `succeeded`; await it for the finished import (its `snapshot_id` names the snapshot).
///
/// The import is this request's: whatever ends the wait other than success (the import fails
/// or is cancelled elsewhere, the deadline passes, a poll fails, the future is dropped or
/// panics), `POST /v1/snapshot-imports/{id}/cancel` is called before the error is returned, or
/// before the drop returns, so no worker keeps building for nobody. A failed cancel is logged
/// (`tracing`, at `warn`); the error returned is still the one that stopped the wait. A create
/// cancelled or timed out before its answer arrived leaves an import whose id was never known;
/// it is not cancelled (name your imports to find such a one).
#[derive(Debug)]
#[must_use = "a request does nothing until it is awaited"]
pub struct CreateSnapshotImportReady<'a> {
    create: CreateSnapshotImport<'a>,
    options: WaitOptions,
}

impl<'a> CreateSnapshotImportReady<'a> {
    /// The create-and-wait of `create`.
    pub(crate) fn new(create: CreateSnapshotImport<'a>) -> Self {
        CreateSnapshotImportReady {
            create,
            options: WaitOptions::default(),
        }
    }

    wait_setters!();

    async fn send(self) -> Result<SnapshotImport> {
        let client = self.create.client;
        let import = self.create.await?;
        own_until_finished(client, import, self.options).await
    }
}

crate::resources::into_future!(CreateSnapshotImportReady => SnapshotImport);

/// Waits for `import` (just created, and owned by the caller) to finish, cancelling it when the
/// wait ends any other way than `succeeded` (see [`CreateSnapshotImportReady`]).
pub(crate) async fn own_until_finished(
    client: &FastvmClient,
    import: SnapshotImport,
    options: WaitOptions,
) -> Result<SnapshotImport> {
    let guard = Guard::new(client, Running(import.id.clone()));
    let finished = until_finished(client, &import.id, options).await;
    // Nothing is left to stop once it succeeded, failed or was cancelled.
    let ended = matches!(
        &finished,
        Ok(_) | Err(Error::SnapshotImportFailed { .. } | Error::SnapshotImportCancelled { .. })
    );
    guard.keep_if(ended).await;
    finished
}

impl<'a> CreateSnapshotImport<'a> {
    /// Creates the import and waits until it has `succeeded` (polling as
    /// [`FastvmClient::wait_for_snapshot_import`]; set `poll_interval` and `deadline` on the
    /// returned [`CreateSnapshotImportReady`]). If the wait ends any other way (the deadline,
    /// a failed poll, the future dropped), the import is cancelled before the error is
    /// returned. `failed` gives [`Error::SnapshotImportFailed`] with the server's diagnostic.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// use std::time::Duration;
    /// let import = client
    ///     .snapshot_imports()
    ///     .create()
    ///     .image("alpine:3")
    ///     .name("alpine")
    ///     .wait_ready()
    ///     .deadline(Duration::from_secs(900))
    ///     .await?;
    /// let snapshot = import.snapshot_id.unwrap_or_default();
    /// let vm = client.launch_vm(fastvm::launch::snapshot(&snapshot)).await?;
    /// # Ok(()) }
    /// ```
    pub fn wait_ready(self) -> CreateSnapshotImportReady<'a> {
        CreateSnapshotImportReady::new(self)
    }
}

/// An import a helper started and must not leave running if it fails (`cleanup::Guard`): the
/// import with this id is cancelled, on the helper's error or when its future is dropped.
struct Running(String);

impl Undo for Running {
    const WHAT: &'static str = "cancel the snapshot import of a dropped wait";

    async fn undo(self, client: FastvmClient) {
        cancel_logged(&client, &self.0).await;
    }
}

/// Cancels the import `id` (one already gone counts as cancelled); a failure is logged.
async fn cancel_logged(client: &FastvmClient, id: &str) {
    match SnapshotImports::new(client).cancel(id).await {
        Ok(import) => {
            tracing::debug!(import = %id, status = %import.status, "fastvm: cancelled the snapshot import of a failed wait")
        }
        Err(e) if e.is_not_found() => {}
        Err(e) => {
            tracing::warn!(import = %id, error = %e, "fastvm: cannot cancel the snapshot import of a failed wait")
        }
    }
}
