//! Workflows: compositions of many calls with their own cleanup, started from the client.
//!
//! - Fleets: [`FastvmClient::fleet`] launches `n` owned VMs with a concurrency limit, waiting
//!   out exceeded quotas ([`LaunchFleet`]).
//! - Sweeps: [`FastvmClient::sweep`] finds (and, when told to, deletes) leftover VMs and
//!   snapshots by label, name prefix and age ([`Sweep`], [`SweepReport`]).
//! - Snapshot families: [`FastvmClient::newest_snapshot`] and
//!   [`FastvmClient::prune_snapshots`] find the newest snapshots of a [`SnapshotFamily`] of
//!   names and delete the older ones ([`PruneSnapshots`], [`PruneReport`]).
//! - Images: [`FastvmClient::build_image`] makes a snapshot from setup steps in a builder VM
//!   that it deletes on every exit path ([`BuildImage`], [`BuiltImage`]).
//! - Imports: [`FastvmClient::import_snapshot_from_dir`] makes a snapshot from a local
//!   directory with a Dockerfile: zipped, uploaded, imported and waited for, the import
//!   cancelled if the wait fails ([`ImportFromDir`]).
//!
//! ```no_run
//! # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
//! use std::time::Duration;
//! use fastvm::launch;
//!
//! let image = client
//!     .build_image("worker-base", launch::machine("c2m4"))
//!     .step("apt-get update && apt-get install -y git")
//!     .rotate(true)
//!     .await?;
//! // Eight workers from the image, at most three launches at a time.
//! let workers = client
//!     .fleet(launch::snapshot(&image.snapshot.id).label("job", "ci-42"), 8)
//!     .concurrency(3)
//!     .deadline(Duration::from_secs(300))
//!     .await?;
//! // ... use them; each is deleted when dropped.
//! drop(workers);
//!
//! // Later, or from a cron job: what crashed runs left behind.
//! let report = client.sweep().label("job", "ci-42").snapshots(true).dry_run(false).await?;
//! println!("deleted {} VMs and {} snapshots", report.vms.len(), report.snapshots.len());
//! # Ok(()) }
//! ```
//!
//! [`FastvmClient::fleet`]: crate::FastvmClient::fleet
//! [`FastvmClient::sweep`]: crate::FastvmClient::sweep
//! [`FastvmClient::newest_snapshot`]: crate::FastvmClient::newest_snapshot
//! [`FastvmClient::prune_snapshots`]: crate::FastvmClient::prune_snapshots
//! [`FastvmClient::build_image`]: crate::FastvmClient::build_image
//! [`FastvmClient::import_snapshot_from_dir`]: crate::FastvmClient::import_snapshot_from_dir

mod fleet;
mod image;
mod import_dir;
mod prune;

pub(crate) use fleet::newest_snapshot;
pub use fleet::{LaunchFleet, Sweep, SweepError, SweepReport, SweptKind};
pub use image::{BuildImage, BuiltImage};
pub use import_dir::ImportFromDir;
pub use prune::{PruneReport, PruneSnapshots, SnapshotFamily};
