//! Images: snapshots made from setup steps, with [`FastvmClient::build_image`].
//!
//! An image build launches a builder VM, runs the steps in it in order (stopping at the first
//! that fails), snapshots the VM under the image's name, waits until the snapshot is ready,
//! and deletes the builder VM, on every exit path. With [`rotate`](BuildImage::rotate), the
//! previous snapshots of that name are deleted once the new one is ready.
//!
//! ```no_run
//! # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
//! use std::time::Duration;
//! use fastvm::{exec::Command, launch};
//!
//! let image = client
//!     .build_image("reviewer-base", launch::machine("c2m4"))
//!     .step("apt-get update")
//!     .step(Command::bash("apt-get install -y git ripgrep").timeout(Duration::from_secs(900)))
//!     .step(Command::sh("git clone https://github.com/example/app").cwd("/workspace"))
//!     .rotate(true)
//!     .await?;
//! let vm = client.launch_vm(launch::snapshot(&image.snapshot.id)).await?;
//! # Ok(()) }
//! ```

use std::time::Duration;

use super::prune::{PruneSnapshots, SnapshotFamily};
use crate::exec::{Command, RunOutput};
use crate::launch::LaunchParams;
use crate::resources::Snapshots;
use crate::resources::into_future;
use crate::resources::poll::WaitOptions;
use crate::types::Snapshot;
use crate::{Error, FastvmClient, Result};

/// The request of [`FastvmClient::build_image`]; await it.
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is awaited"]
pub struct BuildImage<'a> {
    client: &'a FastvmClient,
    name: String,
    from: LaunchParams,
    steps: Vec<Command>,
    rotate: bool,
    wait: WaitOptions,
}

/// A built image: its snapshot, ready, and what the steps printed.
#[derive(Debug)]
#[non_exhaustive]
pub struct BuiltImage {
    /// The new snapshot (status `ready`): launch VMs from it with
    /// [`launch::snapshot`](crate::launch::snapshot).
    pub snapshot: Snapshot,
    /// The output of each step, in order (all succeeded).
    pub steps: Vec<RunOutput>,
    /// The ids of the older snapshots deleted by [`rotate`](BuildImage::rotate).
    pub rotated: Vec<String>,
    /// What went wrong after the image was ready: deleting the builder VM (its safety TTL
    /// removes it within 10 minutes) or an older snapshot (the next rotation deletes it again).
    /// Empty when everything was cleaned up.
    pub cleanup_errors: Vec<Error>,
}

impl BuildImage<'_> {
    /// Adds a step: a command run in the builder VM after the previous steps succeeded. A
    /// string runs through `sh -c`; a [`Command`] sets the shell, working directory,
    /// environment and a timeout.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// use std::time::Duration;
    /// use fastvm::exec::Command;
    /// let image = client
    ///     .build_image("python-base", fastvm::launch::machine("c1m2"))
    ///     .step("apt-get update && apt-get install -y python3")
    ///     .step(Command::bash("set -euo pipefail; python3 -m venv /opt/venv").timeout(Duration::from_secs(300)))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn step(mut self, command: impl Into<Command>) -> Self {
        self.steps.push(command.into());
        self
    }

    /// Adds several steps, in order (see [`step`](Self::step)).
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// let setup = ["apt-get update", "apt-get install -y git"];
    /// let image = client.build_image("git-base", fastvm::launch::machine("c1m2")).steps(setup).await?;
    /// # Ok(()) }
    /// ```
    pub fn steps<I>(mut self, commands: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<Command>,
    {
        self.steps.extend(commands.into_iter().map(Into::into));
        self
    }

    /// Whether to delete the older snapshots with the image's name once the new one is ready
    /// (default `false`). Only snapshots with exactly that name are deleted, never the new one
    /// nor one created after it or still being made, and never before the new one is ready. It
    /// is [`FastvmClient::prune_snapshots`] of [`SnapshotFamily::exact`] with `keep(1)`, the new
    /// snapshot being the one kept.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// let image = client
    ///     .build_image("nightly", fastvm::launch::machine("c1m2"))
    ///     .step("make deps")
    ///     .rotate(true)
    ///     .await?;
    /// println!("replaced {:?}", image.rotated);
    /// # Ok(()) }
    /// ```
    pub fn rotate(mut self, rotate: bool) -> Self {
        self.rotate = rotate;
        self
    }

    /// Time between polls while the builder VM boots and while the snapshot is made (default
    /// 2 s; ±10 % jitter, never under 500 ms).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.wait.poll_interval = interval;
        self
    }

    /// How long to wait for the builder VM to run, and then for the snapshot to be ready: each
    /// wait, counted from its first poll (default 300 s). The steps have no deadline of their
    /// own: give long ones a [`Command::timeout`].
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.wait.timeout = deadline;
        self
    }

    async fn send(self) -> Result<BuiltImage> {
        let BuildImage {
            client,
            name,
            from,
            steps,
            rotate,
            wait,
        } = self;
        let image = crate::names::clean(&name);
        if image.is_empty() {
            return Err(Error::invalid(
                "name",
                "must not be empty (nothing is left of it without whitespace and control characters)",
            ));
        }
        from.to_request()?;
        for (i, step) in steps.iter().enumerate() {
            step.to_request().map_err(|e| match e {
                Error::InvalidInput { field, message } => Error::invalid(format!("step {}: {field}", i + 1), message),
                other => other,
            })?;
        }

        let vm = client
            .launch_vm(from)
            .poll_interval(wait.poll_interval)
            .deadline(wait.timeout)
            .await?;
        let total = steps.len();
        let built = async {
            let mut outputs = Vec::with_capacity(total);
            for (i, step) in steps.into_iter().enumerate() {
                let out = vm
                    .run(step)
                    .await
                    .and_then(RunOutput::check)
                    .map_err(|e| Error::ImageStepFailed {
                        image: image.clone(),
                        step: i + 1,
                        steps: total,
                        completed: std::mem::take(&mut outputs),
                        source: Box::new(e),
                    })?;
                outputs.push(out);
            }
            let snapshot = Snapshots::new(client)
                .create(vm.id())
                .name(image.as_str())
                .wait_ready()
                // The builder VM is the build's own: a snapshot of it whose create was
                // abandoned (cancelled, timed out) is found and deleted too.
                .sole_snapshot_of_vm()
                .poll_interval(wait.poll_interval)
                .deadline(wait.timeout)
                .await?;
            Ok::<_, Error>((snapshot, outputs))
        }
        .await;

        let vm_id = vm.id().to_string();
        let deleted = vm.delete().await;
        let (snapshot, outputs) = match built {
            Ok(done) => done,
            Err(e) => {
                if let Err(d) = deleted {
                    tracing::warn!(vm = %vm_id, error = %d, "fastvm: cannot delete the builder VM of a failed image build");
                }
                return Err(e);
            }
        };
        let mut cleanup_errors = Vec::new();
        if let Err(d) = deleted {
            tracing::warn!(vm = %vm_id, error = %d, "fastvm: cannot delete the builder VM of an image");
            cleanup_errors.push(d);
        }
        let rotated = if rotate {
            rotate_out(client, &snapshot, &mut cleanup_errors).await
        } else {
            Vec::new()
        };
        Ok(BuiltImage {
            snapshot,
            steps: outputs,
            rotated,
            cleanup_errors,
        })
    }
}

into_future!(BuildImage => BuiltImage, |b: &BuildImage<'_>| tracing::debug_span!(
    "fastvm.image",
    name = %b.name
));

/// Deletes the snapshots `new` replaces: a prune of the family of `new`'s exact name keeping
/// only `new` (see [`PruneSnapshots`]: snapshots created after it, or still being made, are
/// left alone). Returns the ids deleted; failures go to `errors`.
async fn rotate_out(client: &FastvmClient, new: &Snapshot, errors: &mut Vec<Error>) -> Vec<String> {
    let prune = PruneSnapshots::new(client, SnapshotFamily::exact(new.name.clone()))
        .keep(1)
        .dry_run(false)
        .anchored(new.clone());
    let report = match prune.await {
        Ok(report) => report,
        Err(e) => {
            tracing::warn!(snapshot = %new.id, error = %e, "fastvm: cannot list snapshots to rotate an image");
            errors.push(e);
            return Vec::new();
        }
    };
    let mut rotated: Vec<String> = report.pruned.into_iter().map(|s| s.id).collect();
    for failed in report.errors {
        tracing::warn!(snapshot = %failed.id, error = %failed.error, "fastvm: cannot delete a rotated image snapshot");
        rotated.retain(|id| *id != failed.id);
        errors.push(failed.error);
    }
    rotated
}

impl<'a> BuildImage<'a> {
    /// The request of [`FastvmClient::build_image`].
    pub(crate) fn new(client: &'a FastvmClient, name: impl Into<String>, from: impl Into<LaunchParams>) -> Self {
        BuildImage {
            client,
            name: name.into(),
            from: from.into(),
            steps: Vec::new(),
            rotate: false,
            wait: WaitOptions::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bad_input_is_refused_before_any_request() {
        // Nothing listens there: a request would fail with a connection error instead.
        let client = FastvmClient::builder()
            .api_key("k")
            .base_url("http://127.0.0.1:9")
            .build()
            .unwrap();
        let field = |r: Result<BuiltImage>| match r {
            Err(Error::InvalidInput { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        let machine = || crate::launch::machine("c1m2");
        assert_eq!(field(client.build_image(" \t\u{1b} ", machine()).await), "name");
        assert_eq!(
            field(
                client
                    .build_image("x", machine())
                    .step("true")
                    .step(Command::sh("true").cwd(""))
                    .await
            ),
            "step 2: cwd"
        );
        assert_eq!(
            field(client.build_image("x", machine().disk_gib(0)).step("true").await),
            "diskGiB"
        );
    }

    #[test]
    fn the_build_future_is_send() {
        fn is_send<F: std::future::Future + Send>(_: F) {}
        let client = FastvmClient::builder().api_key("k").build().unwrap();
        is_send(std::future::IntoFuture::into_future(
            client.build_image("x", crate::launch::machine("c1m2")).step("true"),
        ));
        is_send(std::future::IntoFuture::into_future(
            client.snapshots().create("vm").wait_ready(),
        ));
    }
}
