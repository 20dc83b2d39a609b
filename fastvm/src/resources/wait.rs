//! Polling until a VM runs, a build finishes or a snapshot is ready: launch-and-wait,
//! [`FastvmClient::wait_for_vm_ready`], [`FastvmClient::wait_for_build`] and
//! [`FastvmClient::wait_for_snapshot_ready`], whose request builders are [`WaitForVm`],
//! [`WaitForBuild`] and [`WaitForSnapshot`]; and creating a snapshot that is ready when it is
//! returned ([`CreateSnapshot::wait_ready`](crate::resources::CreateSnapshot::wait_ready), whose
//! builder is [`CreateSnapshotReady`]).

use std::time::{Duration, Instant};

use crate::resources::CreateSnapshot;
use crate::types::{BuildResponse, BuildStatus, Snapshot, SnapshotStatus, Vm, VmStatus};
use crate::{Error, FastvmClient, Result};

/// Default interval between polls.
pub(crate) const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);
/// Default total wait.
pub(crate) const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(300);
/// Polls are never closer together than this, whatever the configured interval.
pub(crate) const MIN_POLL_INTERVAL: Duration = Duration::from_millis(500);

/// How long and how often to poll: set on the waiting request builders with `poll_interval`
/// and `timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WaitOptions {
    /// Time between polls (±10 % jitter, never under 500 ms). Default 2 s.
    pub(crate) poll_interval: Duration,
    /// Total deadline, counted from the start of polling. Default 300 s.
    pub(crate) timeout: Duration,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            poll_interval: DEFAULT_POLL_INTERVAL,
            timeout: DEFAULT_WAIT_TIMEOUT,
        }
    }
}

impl WaitOptions {
    /// The sleep before the next poll: the interval ±10 %, at least 500 ms, at most `remaining`.
    pub(crate) fn next_sleep(&self, remaining: Duration) -> Duration {
        let jitter = 0.9 + 0.2 * rand::random::<f64>();
        // `try_from` rather than `mul_f64`: an absurd interval from the caller must not panic.
        let jittered =
            Duration::try_from_secs_f64(self.poll_interval.as_secs_f64() * jitter).unwrap_or(self.poll_interval);
        jittered.max(MIN_POLL_INTERVAL).min(remaining)
    }
}

/// `start + timeout`, saturating (a caller may pass `Duration::MAX` to mean "forever").
fn deadline(start: Instant, timeout: Duration) -> Instant {
    start
        .checked_add(timeout)
        .unwrap_or_else(|| start + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// One poll's outcome: finished (with the result to return) or still going (with its status).
pub(crate) enum Step<T, S> {
    Done(Result<T>),
    Pending(S),
}

/// The one poll loop: `fetch` immediately, then every `opts.next_sleep(..)` until it is done or
/// `opts.timeout` (counted from the start) has passed; then `on_deadline(last_status, waited)`
/// is the error.
pub(crate) async fn poll<T, S, F, Fut>(
    opts: WaitOptions,
    mut fetch: F,
    on_deadline: impl FnOnce(S, Duration) -> Error,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Step<T, S>>>,
{
    let started = Instant::now();
    let deadline = deadline(started, opts.timeout);
    loop {
        let last_status = match fetch().await? {
            Step::Done(result) => return result,
            Step::Pending(status) => status,
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(on_deadline(last_status, now - started));
        }
        tokio::time::sleep(opts.next_sleep(deadline - now)).await;
    }
}

/// Whether a VM in `status` will not become `running`: the spec's terminal failures (`error`,
/// `stopped`) and `deleting`, as the official SDKs' helpers and the reference's launch text.
fn ends_launch(status: &VmStatus) -> bool {
    status.is_terminal() || *status == VmStatus::Deleting
}

impl FastvmClient {
    /// Polls `GET /v1/vms/{id}` (the first poll immediately) until the VM is `running`.
    ///
    /// `error`, `stopped` and `deleting` fail with [`Error::VmLaunch`]; the deadline passing
    /// fails with [`Error::VmNotReady`]. Any other status, known or not, means keep waiting.
    /// By default it polls every 2 s (±10 %, never under 500 ms) for up to 300 s.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, id: &str) -> fastvm::Result<()> {
    /// use std::time::Duration;
    /// let vm = client.wait_for_vm_ready(id).timeout(Duration::from_secs(60)).await?;
    /// assert_eq!(vm.status, fastvm::types::VmStatus::Running);
    /// # Ok(()) }
    /// ```
    pub fn wait_for_vm_ready<'a>(&'a self, id: &'a str) -> WaitForVm<'a> {
        WaitForVm {
            client: self,
            id,
            options: WaitOptions::default(),
        }
    }

    /// Polls `GET /v1/builds/{id}` until the build is `completed` (returned) or `failed`
    /// ([`Error::BuildFailed`]). Unknown statuses mean in progress; the deadline passing gives
    /// [`Error::BuildNotFinished`]. Polls as [`wait_for_vm_ready`](Self::wait_for_vm_ready).
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// let build = client.builds().create().image_ref("python:3.13-slim").await?;
    /// let done = client.wait_for_build(&build.id).await?;
    /// println!("snapshot {}", done.snapshot_id.unwrap_or_default());
    /// # Ok(()) }
    /// ```
    pub fn wait_for_build<'a>(&'a self, id: &'a str) -> WaitForBuild<'a> {
        WaitForBuild {
            client: self,
            id,
            options: WaitOptions::default(),
        }
    }

    /// Polls `GET /v1/snapshots/{id}` (the first poll immediately) until the snapshot is
    /// `ready`, and returns it.
    ///
    /// The documented statuses are `creating`, `ready` and `error`: `error` fails with
    /// [`Error::SnapshotFailed`]; any other status, `creating` or one this SDK does not know,
    /// means it is still being made. The deadline passing fails with
    /// [`Error::SnapshotNotReady`] (the snapshot is left as it is). Polls as
    /// [`wait_for_vm_ready`](Self::wait_for_vm_ready): every 2 s (±10 %, never under 500 ms)
    /// for up to 300 s by default.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm_id: &str) -> fastvm::Result<()> {
    /// use std::time::Duration;
    /// let snap = client.snapshots().create(vm_id).name("golden").await?;
    /// let snap = client.wait_for_snapshot_ready(&snap.id).timeout(Duration::from_secs(600)).await?;
    /// assert_eq!(snap.status, fastvm::types::SnapshotStatus::Ready);
    /// # Ok(()) }
    /// ```
    pub fn wait_for_snapshot_ready<'a>(&'a self, id: &'a str) -> WaitForSnapshot<'a> {
        WaitForSnapshot {
            client: self,
            id,
            options: WaitOptions::default(),
        }
    }

    /// [`wait_for_snapshot_ready`](Self::wait_for_snapshot_ready) with explicit options.
    pub(crate) async fn wait_snapshot(&self, id: &str, opts: WaitOptions) -> Result<Snapshot> {
        crate::validate::id("id", id)?;
        poll(
            opts,
            || async {
                let snap = self.snapshots().retrieve(id).await?;
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

    /// [`wait_for_vm_ready`](Self::wait_for_vm_ready) with explicit options.
    pub(crate) async fn wait_vm(&self, id: &str, opts: WaitOptions) -> Result<Vm> {
        crate::validate::id("id", id)?;
        poll(
            opts,
            || async {
                let vm = self.vms().retrieve(id).await?;
                Ok(match vm.status {
                    VmStatus::Running => Step::Done(Ok(vm)),
                    status if ends_launch(&status) => Step::Done(Err(Error::VmLaunch {
                        vm_id: id.to_string(),
                        status,
                    })),
                    status => Step::Pending(status),
                })
            },
            |last_status, waited| Error::VmNotReady {
                vm_id: id.to_string(),
                last_status,
                waited,
            },
        )
        .await
    }
}

/// The `poll_interval` and `timeout` setters of a waiting request builder (a struct with an
/// `options: WaitOptions` field).
macro_rules! wait_setters {
    () => {
        /// Time between polls (default 2 s; ±10 % jitter, never under 500 ms).
        pub fn poll_interval(mut self, interval: Duration) -> Self {
            self.options.poll_interval = interval;
            self
        }

        /// Total deadline, counted from the first poll (default 300 s).
        pub fn timeout(mut self, timeout: Duration) -> Self {
            self.options.timeout = timeout;
            self
        }
    };
}
pub(crate) use wait_setters;

/// The request of [`FastvmClient::wait_for_vm_ready`]; await it.
#[derive(Debug)]
#[must_use = "a request does nothing until it is awaited"]
pub struct WaitForVm<'a> {
    client: &'a FastvmClient,
    id: &'a str,
    options: WaitOptions,
}

impl WaitForVm<'_> {
    wait_setters!();

    async fn send(self) -> Result<Vm> {
        self.client.wait_vm(self.id, self.options).await
    }
}

crate::resources::into_future!(WaitForVm => Vm);

/// The request of [`FastvmClient::wait_for_build`]; await it.
#[derive(Debug)]
#[must_use = "a request does nothing until it is awaited"]
pub struct WaitForBuild<'a> {
    client: &'a FastvmClient,
    id: &'a str,
    options: WaitOptions,
}

impl WaitForBuild<'_> {
    wait_setters!();

    async fn send(self) -> Result<BuildResponse> {
        let (client, id) = (self.client, self.id);
        crate::validate::id("id", id)?;
        poll(
            self.options,
            || async {
                let build = client.builds().retrieve(id).await?;
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
    }
}

crate::resources::into_future!(WaitForBuild => BuildResponse);

/// The request of [`FastvmClient::wait_for_snapshot_ready`]; await it.
#[derive(Debug)]
#[must_use = "a request does nothing until it is awaited"]
pub struct WaitForSnapshot<'a> {
    client: &'a FastvmClient,
    id: &'a str,
    options: WaitOptions,
}

impl WaitForSnapshot<'_> {
    wait_setters!();

    async fn send(self) -> Result<Snapshot> {
        self.client.wait_snapshot(self.id, self.options).await
    }
}

crate::resources::into_future!(WaitForSnapshot => Snapshot);

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
        let early = sole_snapshot_of_vm.then(|| SnapshotGuard::every_of_vm(client, create.vm_id));
        let snap = match create.await {
            Ok(snap) => snap,
            Err(e) => {
                if let Some(guard) = early {
                    if may_have_created(&e) {
                        guard.delete().await
                    } else {
                        guard.disarm()
                    }
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
            Some(guard) => guard.found(&snap.id),
            None => SnapshotGuard::new(client, &snap.id),
        };
        match client.wait_snapshot(&snap.id, options).await {
            Ok(ready) => {
                guard.disarm();
                Ok(ready)
            }
            Err(e) => {
                guard.delete().await;
                Err(e)
            }
        }
    }
}

crate::resources::into_future!(CreateSnapshotReady => Snapshot);

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

/// What a [`SnapshotGuard`] deletes.
#[derive(Debug, Clone)]
enum Target {
    /// The snapshot with this id.
    Id(String),
    /// Every snapshot of this VM (which nothing else snapshots), once one shows up.
    EveryOfVm(String),
}

/// A snapshot a helper created and must not leave behind if it fails: dropped while armed, it
/// is deleted before the drop returns (bounded, as a dropped [`OwnedVm`](crate::vm::OwnedVm)
/// is); [`delete`](Self::delete) deletes it now, [`disarm`](Self::disarm) keeps it.
pub(crate) struct SnapshotGuard {
    client: FastvmClient,
    target: Option<Target>,
}

impl SnapshotGuard {
    pub(crate) fn new(client: &FastvmClient, id: &str) -> Self {
        SnapshotGuard {
            client: client.clone(),
            target: Some(Target::Id(id.to_string())),
        }
    }

    /// A guard of the snapshots of `vm_id` not known yet (see [`Target::EveryOfVm`]).
    fn every_of_vm(client: &FastvmClient, vm_id: &str) -> Self {
        SnapshotGuard {
            client: client.clone(),
            target: Some(Target::EveryOfVm(vm_id.to_string())),
        }
    }

    /// The guard of the snapshot `id`, now that it is known.
    fn found(mut self, id: &str) -> Self {
        self.target = Some(Target::Id(id.to_string()));
        self
    }

    /// Keeps the snapshot.
    pub(crate) fn disarm(mut self) {
        self.target = None;
    }

    /// Deletes the snapshot now (one already gone counts as deleted); a failure is logged.
    pub(crate) async fn delete(mut self) {
        if let Some(target) = self.target.take() {
            remove(&self.client, target).await;
        }
    }
}

impl Drop for SnapshotGuard {
    fn drop(&mut self) {
        let Some(target) = self.target.take() else { return };
        crate::cleanup::finish(
            &self.client,
            "delete the snapshot of a dropped helper",
            move |client| async move {
                remove(&client, target).await;
            },
        );
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
        match client.snapshots().list().await {
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
    match client.snapshots().delete(id).await {
        Ok(_) => tracing::debug!(snapshot = %id, "fastvm: deleted the snapshot of a failed helper"),
        Err(e) if e.is_not_found() => {}
        Err(e) => tracing::warn!(snapshot = %id, error = %e, "fastvm: cannot delete the snapshot of a failed helper"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleep_is_jittered_floored_and_capped() {
        let o = WaitOptions {
            poll_interval: Duration::from_secs(2),
            ..WaitOptions::default()
        };
        for _ in 0..100 {
            let s = o.next_sleep(Duration::from_secs(100));
            assert!(
                s >= Duration::from_millis(1800) && s <= Duration::from_millis(2200),
                "{s:?}"
            );
        }
        let fast = WaitOptions {
            poll_interval: Duration::from_millis(10),
            ..WaitOptions::default()
        };
        assert_eq!(fast.next_sleep(Duration::from_secs(100)), MIN_POLL_INTERVAL);
        assert_eq!(o.next_sleep(Duration::from_millis(100)), Duration::from_millis(100));
        let huge = WaitOptions {
            poll_interval: Duration::MAX,
            ..WaitOptions::default()
        };
        assert_eq!(huge.next_sleep(Duration::from_secs(1)), Duration::from_secs(1));
        assert!(deadline(Instant::now(), Duration::MAX) > Instant::now());
    }
}
