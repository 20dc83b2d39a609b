//! Many VMs at once, and cleaning up after them: [`FastvmClient::fleet`] launches `n` VMs
//! with a concurrency limit, waiting out exceeded quotas; [`FastvmClient::sweep`] finds (and,
//! when told to, deletes) leftover VMs and snapshots by label, name prefix and age;
//! [`FastvmClient::prune_snapshots`] keeps only the newest snapshots of a
//! [`SnapshotFamily`] of names.
//!
//! ```no_run
//! # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
//! use std::time::Duration;
//! use fastvm::launch;
//!
//! // Eight workers from one snapshot, at most three launches at a time.
//! let workers = client
//!     .fleet(launch::snapshot("snap-id").label("job", "ci-42"), 8)
//!     .concurrency(3)
//!     .deadline(Duration::from_secs(300))
//!     .await?;
//! // ... use them; each is deleted when dropped.
//! drop(workers);
//!
//! // Later, or from a cron job: what crashed runs left behind.
//! let report = client
//!     .sweep()
//!     .label("job", "ci-42")
//!     .older_than(Duration::from_secs(15 * 60))
//!     .snapshots(true)
//!     .dry_run(false)
//!     .await?;
//! println!("deleted {} VMs and {} snapshots", report.vms.len(), report.snapshots.len());
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt as _;
use futures::stream::FuturesUnordered;

pub(crate) use super::prune::newest as newest_snapshot;
use crate::launch::LaunchParams;
use crate::resources::into_future;
use crate::resources::{Snapshots, Vms};
use crate::types::{Metadata, Snapshot, VmInfo, VmStatus};
use crate::vm::OwnedVm;
use crate::{ApiErrorKind, Error, FastvmClient, Result};

/// How many launches a fleet runs at a time unless told otherwise.
const DEFAULT_CONCURRENCY: usize = 4;
/// How long a fleet may take unless told otherwise.
const DEFAULT_DEADLINE: Duration = Duration::from_secs(600);
/// The first wait after a launch was refused for quota; it doubles per refusal up to
/// [`QUOTA_BACKOFF_MAX`].
const QUOTA_BACKOFF_START: Duration = Duration::from_millis(500);
/// The longest wait between two tries of a launch refused for quota.
const QUOTA_BACKOFF_MAX: Duration = Duration::from_secs(10);
/// How many deletes a sweep sends at a time.
const SWEEP_CONCURRENCY: usize = 4;

/// The request of [`FastvmClient::fleet`]; await it.
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is awaited"]
pub struct LaunchFleet<'a> {
    client: &'a FastvmClient,
    params: LaunchParams,
    n: usize,
    concurrency: usize,
    deadline: Duration,
    poll_interval: Duration,
}

/// How one launch of a fleet ended.
enum Launched {
    /// Running, and owned (boxed: an `OwnedVm` is large).
    Vm(Box<OwnedVm>),
    /// It failed: the fleet fails with this.
    Failed(Error),
    /// The deadline passed before it could launch; the last refusal, if any.
    OutOfTime(Option<Error>),
    /// The fleet had already failed: it gave up.
    Stopped,
}

impl LaunchFleet<'_> {
    /// How many launches run at a time, boot waits included (default 4; at least 1).
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// How long the whole fleet may take, quota waits and boots included (default 600 s;
    /// more than zero).
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Time between polls while a VM boots (default 2 s; ±10 % jitter, never under 500 ms).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    async fn send(self) -> Result<Vec<OwnedVm>> {
        let LaunchFleet {
            client,
            params,
            n,
            concurrency,
            deadline,
            poll_interval,
        } = self;
        if n == 0 {
            return Err(Error::invalid("n", "a fleet has at least 1 VM"));
        }
        if concurrency == 0 {
            return Err(Error::invalid("concurrency", "must be at least 1"));
        }
        if deadline.is_zero() {
            return Err(Error::invalid("deadline", "must be more than zero"));
        }
        params.to_request()?;
        let started = Instant::now();
        let until = started
            .checked_add(deadline)
            .unwrap_or_else(|| started + Duration::from_secs(100 * 365 * 24 * 3600));
        let (stop, stopped) = tokio::sync::watch::channel(false);

        let mut running = FuturesUnordered::new();
        let mut launched: Vec<(usize, OwnedVm)> = Vec::with_capacity(n);
        let mut failure: Option<Error> = None;
        let mut next = 0;
        loop {
            while failure.is_none() && running.len() < concurrency && next < n {
                let (params, stopped, index) = (params.clone(), stopped.clone(), next);
                running.push(async move { (index, launch_one(client, params, until, poll_interval, stopped).await) });
                next += 1;
            }
            let Some((index, outcome)) = running.next().await else {
                break;
            };
            let error = match outcome {
                Launched::Vm(vm) => {
                    launched.push((index, *vm));
                    continue;
                }
                Launched::Stopped => continue,
                Launched::Failed(e) => e,
                Launched::OutOfTime(last) => out_of_time(deadline, launched.len(), n, last),
            };
            if failure.is_none() {
                failure = Some(error);
                let _ = stop.send(true);
            }
        }

        if let Some(e) = failure {
            let deletes = launched.into_iter().map(|(_, vm)| async move {
                let id = vm.id().to_string();
                if let Err(d) = vm.delete().await {
                    tracing::warn!(vm = %id, error = %d, "fastvm: cannot delete a VM of a failed fleet");
                }
            });
            futures::future::join_all(deletes).await;
            return Err(e);
        }
        launched.sort_by_key(|(index, _)| *index);
        Ok(launched.into_iter().map(|(_, vm)| vm).collect())
    }
}

into_future!(LaunchFleet => Vec<OwnedVm>, |f: &LaunchFleet<'_>| tracing::debug_span!(
    "fastvm.fleet",
    n = f.n
));

/// One VM of a fleet: launched (and waited for) until it runs, tried again while its launch is
/// refused for quota, until `until` or until the fleet stops.
async fn launch_one(
    client: &FastvmClient,
    params: LaunchParams,
    until: Instant,
    poll_interval: Duration,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) -> Launched {
    let mut refusals = 0u32;
    let mut last_refusal = None;
    loop {
        if *stopped.borrow() {
            return Launched::Stopped;
        }
        let remaining = until.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Launched::OutOfTime(last_refusal);
        }
        let launch = client
            .launch_vm(params.clone())
            .poll_interval(poll_interval)
            .deadline(remaining);
        match launch.await {
            Ok(vm) => return Launched::Vm(Box::new(vm)),
            Err(e) if refused_for_now(&e) => {
                let wait = quota_backoff(refusals).min(until.saturating_duration_since(Instant::now()));
                tracing::debug!(error = %e, ?wait, "fastvm fleet: a launch was refused for quota; trying again");
                refusals = refusals.saturating_add(1);
                last_refusal = Some(e);
                let sleep = std::pin::pin!(tokio::time::sleep(wait));
                let stop = std::pin::pin!(stopped.changed());
                futures::future::select(sleep, stop).await;
            }
            Err(e) => return Launched::Failed(e),
        }
    }
}

/// Whether a launch was refused without launching anything, and may succeed once something is
/// freed: an exceeded quota, or a plain rate limit.
fn refused_for_now(e: &Error) -> bool {
    e.api()
        .is_some_and(|a| matches!(a.kind, ApiErrorKind::QuotaExceeded | ApiErrorKind::RateLimit))
}

/// The wait after refusal number `refusals` (0 for the first): the retry policy's backoff
/// (jittered, so that a fleet's launches do not retry in lockstep), from 0.5 s doubling up to
/// 10 s: a quota lasts longer than the blips the client's own policy is tuned for.
fn quota_backoff(refusals: u32) -> Duration {
    crate::RetryPolicy::new()
        .initial_backoff(QUOTA_BACKOFF_START)
        .max_backoff(QUOTA_BACKOFF_MAX)
        .backoff(refusals)
}

/// The error of a fleet whose deadline passed before all its launches could start.
fn out_of_time(deadline: Duration, launched: usize, n: usize, last: Option<Error>) -> Error {
    let why = match last {
        Some(e) => format!("; the last launch was refused: {e}"),
        None => String::new(),
    };
    Error::Timeout {
        message: format!("the fleet's deadline of {deadline:?} passed with {launched} of {n} VMs launched{why}"),
        operation: Some("launchVm"),
        source: None,
    }
}

/// The request of [`FastvmClient::sweep`]; await it.
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is awaited"]
pub struct Sweep<'a> {
    client: &'a FastvmClient,
    labels: Vec<(String, String)>,
    name_prefix: Option<String>,
    older_than: Option<Duration>,
    dry_run: bool,
    vms: bool,
    snapshots: bool,
}

/// What a [`Sweep`] matched, and whether it deleted it.
#[derive(Debug)]
#[non_exhaustive]
pub struct SweepReport {
    /// The VMs that matched (as listed before the sweep deleted anything; empty with
    /// [`Sweep::vms`]`(false)`).
    pub vms: Vec<VmInfo>,
    /// The snapshots that matched (only with [`Sweep::snapshots`]).
    pub snapshots: Vec<Snapshot>,
    /// Whether the sweep deleted what it matched (`false` for a dry run). Every VM and snapshot
    /// listed was deleted except those in [`errors`](Self::errors).
    pub deleted: bool,
    /// The deletes that failed (a VM or snapshot already gone is not a failure).
    pub errors: Vec<SweepError>,
}

/// A delete of a sweep (or of a [`PruneSnapshots`](super::PruneSnapshots)) that failed.
#[derive(Debug)]
#[non_exhaustive]
pub struct SweepError {
    /// What it is.
    pub kind: SweptKind,
    /// Its id.
    pub id: String,
    /// Why it could not be deleted.
    pub error: Error,
}

/// What a sweep deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SweptKind {
    /// A VM.
    Vm,
    /// A snapshot.
    Snapshot,
}

impl std::fmt::Display for SweptKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SweptKind::Vm => "vm",
            SweptKind::Snapshot => "snapshot",
        })
    }
}

impl Sweep<'_> {
    /// Only what has the metadata entry `key` = `value` (repeatable: every label must match).
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.push((key.into(), value.into()));
        self
    }

    /// Only what has a name starting with `prefix` (case-sensitive; an empty prefix is no
    /// filter).
    pub fn name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.name_prefix = Some(prefix.into());
        self
    }

    /// Only what was created at least `age` ago, by this machine's clock. Something without a
    /// `created_at` is never old enough. Without this filter age does not matter.
    pub fn older_than(mut self, age: Duration) -> Self {
        self.older_than = Some(age);
        self
    }

    /// `true` (the default): list what matches and delete nothing. `false`: delete it.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Also sweep snapshots, by the same filters (their labels are their metadata, copied from
    /// the VM they were taken of). Default `false`.
    pub fn snapshots(mut self, snapshots: bool) -> Self {
        self.snapshots = snapshots;
        self
    }

    /// Sweep VMs (default `true`). `vms(false).snapshots(true)` sweeps snapshots only; a sweep
    /// of neither is [`Error::InvalidInput`].
    pub fn vms(mut self, vms: bool) -> Self {
        self.vms = vms;
        self
    }

    async fn send(self) -> Result<SweepReport> {
        let filter = Filter {
            labels: self.labels,
            name_prefix: self.name_prefix.filter(|p| !p.is_empty()),
            older_than: self.older_than,
            now: SystemTime::now(),
        };
        if filter.labels.is_empty() && filter.name_prefix.is_none() {
            return Err(Error::invalid(
                "filter",
                "set at least one label or a name prefix: a sweep without either would match everything",
            ));
        }
        let mut labels = BTreeMap::new();
        for (k, v) in &filter.labels {
            labels.insert(k.clone(), v.clone());
        }
        crate::validate::metadata("label", &Metadata(labels))?;
        if !self.vms && !self.snapshots {
            return Err(Error::invalid(
                "filter",
                "a sweep of neither VMs nor snapshots would do nothing",
            ));
        }

        let client = self.client;
        let mut list = Vms::new(client).list();
        for (k, v) in &filter.labels {
            list = list.metadata(k, v);
        }
        // The server filters by label; matched again here, so a server that ignored a filter
        // never makes the sweep delete more.
        let vms: Vec<VmInfo> = if self.vms {
            list.await?.into_iter().filter(|vm| filter.vm(vm)).collect()
        } else {
            Vec::new()
        };
        let snapshots: Vec<Snapshot> = if self.snapshots {
            let all = Snapshots::new(client).list().await?;
            all.into_iter().filter(|s| filter.snapshot(s)).collect()
        } else {
            Vec::new()
        };

        let mut errors = Vec::new();
        if !self.dry_run {
            let mut targets: Vec<(SweptKind, String)> = Vec::with_capacity(vms.len() + snapshots.len());
            targets.extend(vms.iter().map(|vm| (SweptKind::Vm, vm.id.clone())));
            targets.extend(snapshots.iter().map(|s| (SweptKind::Snapshot, s.id.clone())));
            errors = delete_each(client, targets).await;
        }
        Ok(SweepReport {
            vms,
            snapshots,
            deleted: !self.dry_run,
            errors,
        })
    }
}

into_future!(Sweep => SweepReport);

/// Deletes `targets`, a few at a time, and returns the deletes that failed (something already
/// gone is not a failure): the deletes of a sweep and of a prune.
pub(crate) async fn delete_each(client: &FastvmClient, targets: Vec<(SweptKind, String)>) -> Vec<SweepError> {
    // Owned ids: a borrowing iterator would make the future not `Send`.
    let failed: Vec<Option<SweepError>> = futures::stream::iter(targets)
        .map(|(kind, id)| async move {
            let result = match kind {
                SweptKind::Vm => Vms::new(client).delete(&id).await,
                SweptKind::Snapshot => Snapshots::new(client).delete(&id).await,
            };
            match result {
                Err(error) if !error.is_not_found() => Some(SweepError { kind, id, error }),
                _ => None,
            }
        })
        .buffer_unordered(SWEEP_CONCURRENCY)
        .collect()
        .await;
    failed.into_iter().flatten().collect()
}

/// The filters of a sweep, matched locally.
struct Filter {
    labels: Vec<(String, String)>,
    name_prefix: Option<String>,
    older_than: Option<Duration>,
    now: SystemTime,
}

impl Filter {
    fn vm(&self, vm: &VmInfo) -> bool {
        vm.status != VmStatus::Deleting
            && self.matches(vm.metadata.as_ref(), &vm.name, vm.created_at.map(SystemTime::from))
    }

    fn snapshot(&self, s: &Snapshot) -> bool {
        self.matches(s.metadata.as_ref(), &s.name, s.created_at.map(SystemTime::from))
    }

    fn matches(&self, metadata: Option<&Metadata>, name: &str, created_at: Option<SystemTime>) -> bool {
        let labelled = self
            .labels
            .iter()
            .all(|(k, v)| metadata.and_then(|m| m.get(k)) == Some(v));
        let named = self.name_prefix.as_deref().is_none_or(|p| name.starts_with(p));
        let old = self.older_than.is_none_or(|min| {
            created_at
                .and_then(|t| self.now.duration_since(t).ok())
                .is_some_and(|age| age >= min)
        });
        labelled && named && old
    }
}

impl<'a> LaunchFleet<'a> {
    /// The request of [`FastvmClient::fleet`].
    pub(crate) fn new(client: &'a FastvmClient, params: impl Into<LaunchParams>, n: usize) -> Self {
        LaunchFleet {
            client,
            params: params.into(),
            n,
            concurrency: DEFAULT_CONCURRENCY,
            deadline: DEFAULT_DEADLINE,
            poll_interval: crate::resources::poll::DEFAULT_POLL_INTERVAL,
        }
    }
}

impl<'a> Sweep<'a> {
    /// The request of [`FastvmClient::sweep`].
    pub(crate) fn new(client: &'a FastvmClient) -> Self {
        Sweep {
            client,
            labels: Vec::new(),
            name_prefix: None,
            older_than: None,
            dry_run: true,
            vms: true,
            snapshots: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_waits_double_up_to_the_cap_with_jitter() {
        for _ in 0..50 {
            let first = quota_backoff(0);
            assert!(
                first >= Duration::from_millis(375) && first <= Duration::from_millis(500),
                "{first:?}"
            );
            let third = quota_backoff(2);
            assert!(
                third >= Duration::from_millis(1500) && third <= Duration::from_secs(2),
                "{third:?}"
            );
            let late = quota_backoff(40);
            assert!(
                late >= QUOTA_BACKOFF_MAX * 3 / 4 && late <= QUOTA_BACKOFF_MAX,
                "{late:?}"
            );
        }
    }

    fn filter(labels: &[(&str, &str)], prefix: Option<&str>, older_than: Option<Duration>) -> Filter {
        Filter {
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            name_prefix: prefix.map(str::to_string),
            older_than,
            now: SystemTime::now(),
        }
    }

    #[test]
    fn every_filter_must_match_and_undated_is_never_old() {
        let meta = Metadata(
            [
                ("job".to_string(), "ci".to_string()),
                ("team".to_string(), "red".to_string()),
            ]
            .into(),
        );
        let hour_ago = Some(SystemTime::now() - Duration::from_secs(3600));
        let f = filter(&[("job", "ci")], None, None);
        assert!(f.matches(Some(&meta), "x", None), "no age filter: age does not matter");
        assert!(!f.matches(None, "x", hour_ago));
        let both = filter(&[("job", "ci"), ("team", "blue")], None, None);
        assert!(!both.matches(Some(&meta), "x", hour_ago), "every label must match");
        let named = filter(&[], Some("ci-"), Some(Duration::from_secs(900)));
        assert!(named.matches(None, "ci-1", hour_ago));
        assert!(!named.matches(None, "ci-1", None), "no created_at: never old");
        assert!(!named.matches(None, "prod", hour_ago));
        assert!(
            !named.matches(None, "ci-1", Some(SystemTime::now() - Duration::from_secs(60))),
            "too young"
        );
        assert!(
            !named.matches(None, "ci-1", Some(SystemTime::now() + Duration::from_secs(3600))),
            "created in the future (clock skew): not old"
        );
    }

    #[tokio::test]
    async fn bad_input_is_refused_before_any_request() {
        // Nothing listens there: a request would fail with a connection error instead.
        let client = FastvmClient::builder()
            .api_key("k")
            .base_url("http://127.0.0.1:9")
            .build()
            .unwrap();
        let field = |e: Error| match e {
            Error::InvalidInput { field, .. } => field,
            other => panic!("{other:?}"),
        };
        let machine = || crate::launch::machine("c1m2");
        assert_eq!(field(client.fleet(machine(), 0).await.unwrap_err()), "n");
        assert_eq!(
            field(client.fleet(machine(), 2).concurrency(0).await.unwrap_err()),
            "concurrency"
        );
        assert_eq!(
            field(client.fleet(machine(), 2).deadline(Duration::ZERO).await.unwrap_err()),
            "deadline"
        );
        assert_eq!(
            field(client.fleet(machine().disk_gib(0), 2).await.unwrap_err()),
            "diskGiB"
        );
        assert_eq!(field(client.sweep().dry_run(false).await.unwrap_err()), "filter");
        assert_eq!(
            field(
                client
                    .sweep()
                    .name_prefix("")
                    .older_than(Duration::ZERO)
                    .await
                    .unwrap_err()
            ),
            "filter"
        );
        assert_eq!(field(client.sweep().label("", "x").await.unwrap_err()), "label");
    }

    #[test]
    fn the_futures_are_send() {
        fn is_send<F: std::future::Future + Send>(_: F) {}
        let client = FastvmClient::builder().api_key("k").build().unwrap();
        is_send(std::future::IntoFuture::into_future(
            client.fleet(crate::launch::machine("c1m2"), 2),
        ));
        is_send(std::future::IntoFuture::into_future(client.sweep().label("a", "b")));
    }
}
