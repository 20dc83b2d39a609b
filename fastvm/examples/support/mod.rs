//! Shared setup of the examples: a client for the real API when `FASTVM_API_KEY` is set,
//! otherwise for `fastvm-fake` started in this process; and a last check that the example
//! deleted everything it created.
//!
//! The examples own their VMs with the SDK's guard ([`FastvmClient::launch_vm`] /
//! [`FastvmClient::with_vm`]) and delete their snapshots themselves; this module only connects,
//! labels, and checks afterwards.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use fastvm::FastvmClient;
use fastvm::exec::{Command, ExecOutput, StdStream};
use fastvm::launch::LaunchParams;
use fastvm::types::VmStatus;
use fastvm::vm::Vm;
use fastvm_fake::FakeServer;

/// The label every VM of an example carries (`<label>=<example>-<random>`), so that on the real
/// API its leftovers, if any, can be found among the account's other VMs.
pub const RUN_LABEL: &str = "fastvm-example-run";

/// The errors of an example.
pub type BoxError = Box<dyn std::error::Error>;

/// Where the examples talk to.
pub struct Target {
    /// The client.
    pub client: FastvmClient,
    /// The in-process fake, kept alive for the example's duration (None on the real API).
    pub fake: Option<FakeServer>,
    /// A directory inside the VM the example may write to.
    pub remote_root: String,
    /// This run's value of [`RUN_LABEL`].
    pub run: String,
}

impl Target {
    /// `params` with this run's label: what the final check looks for on the real API.
    pub fn labelled(&self, params: impl Into<LaunchParams>) -> LaunchParams {
        params.into().label(RUN_LABEL, &self.run)
    }

    /// Whether the VMs' absolute paths are this host's (a fake without isolation).
    fn scratch_on_host(&self) -> bool {
        self.fake.as_ref().is_some_and(|f| !f.isolated())
    }

    /// Checks that nothing the example created is left: on the fake every VM and snapshot (the
    /// fake is this example's alone), on the real API those with this run's label. A guard
    /// dropped on an error path deletes its VM in the background, so this waits a few seconds
    /// for that. Prints `cleanup: nothing left`, or deletes the leftovers and fails.
    pub async fn nothing_left(&self) -> Result<(), BoxError> {
        let started = Instant::now();
        loop {
            let (vms, snapshots) = self.leftovers().await?;
            if vms.is_empty() && snapshots.is_empty() {
                println!("cleanup: nothing left");
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(10) {
                for id in &vms {
                    eprintln!("cleanup: VM {id} was left behind; deleting it");
                    let _ = self.client.vms().delete(id).await;
                }
                for id in &snapshots {
                    eprintln!("cleanup: snapshot {id} was left behind; deleting it");
                    let _ = self.client.snapshots().delete(id).await;
                }
                return Err(format!(
                    "the example left {} VM(s) and {} snapshot(s) behind",
                    vms.len(),
                    snapshots.len()
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The ids of the VMs (not being deleted) and snapshots the check counts.
    async fn leftovers(&self) -> Result<(Vec<String>, Vec<String>), BoxError> {
        let on_fake = self.fake.is_some();
        let mut list = self.client.vms().list();
        if !on_fake {
            list = list.metadata(RUN_LABEL, &self.run);
        }
        let vms = list
            .await?
            .into_iter()
            .filter(|vm| vm.status != VmStatus::Deleting)
            .map(|vm| vm.id)
            .collect();
        let snapshots = self
            .client
            .snapshots()
            .list()
            .await?
            .into_iter()
            .filter(|s| on_fake || s.metadata.as_ref().and_then(|m| m.get(RUN_LABEL)) == Some(&self.run))
            .map(|s| s.id)
            .collect();
        Ok((vms, snapshots))
    }
}

/// Connects to the real API when `FASTVM_API_KEY` is set, else starts the local fake.
pub async fn connect() -> Result<Target, BoxError> {
    let suffix: String = format!("{:08x}", rand::random::<u32>());
    let example = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "example".into());
    let run = format!("{example}-{suffix}");
    if std::env::var("FASTVM_API_KEY").is_ok_and(|k| !k.trim().is_empty()) {
        let client = FastvmClient::from_env()?;
        println!("using the fastvm API at {}", client.base_url());
        return Ok(Target {
            client,
            fake: None,
            remote_root: format!("/root/fastvm-example-{suffix}"),
            run,
        });
    }
    let fake = FakeServer::start().await?;
    println!(
        "FASTVM_API_KEY is not set: using fastvm-fake, a local stand-in server, at {}",
        fake.base_url()
    );
    let client = FastvmClient::builder()
        .api_key(fake.api_key())
        .base_url(fake.base_url())
        .build()?;
    let remote_root = if fake.isolated() {
        println!("  (its \"VMs\" run commands on this machine, each with a filesystem of its own)");
        format!("/root/fastvm-example-{suffix}")
    } else {
        // Without isolation the fake's VMs share this host's filesystem: keep "remote" paths
        // inside a scratch directory.
        println!("  (its \"VMs\" run commands on this machine, unsandboxed, in scratch directories)");
        std::env::temp_dir()
            .join(format!("fastvm-example-{suffix}"))
            .to_string_lossy()
            .into_owned()
    };
    Ok(Target {
        client,
        fake: Some(fake),
        remote_root,
        run,
    })
}

/// Runs `example` against [`connect`]'s target, then checks that it left nothing behind
/// ([`Target::nothing_left`]), whether it succeeded or not; the example's own error wins.
pub async fn run(example: impl for<'a> AsyncFnOnce(&'a Target) -> Result<(), BoxError>) -> Result<(), BoxError> {
    let target = connect().await?;
    let result = example(&target).await;
    let left = target.nothing_left().await;
    if target.scratch_on_host() {
        // The fake's unisolated "VM" wrote into this host's scratch directory.
        let _ = std::fs::remove_dir_all(&target.remote_root);
    }
    if let Err(e) = &result {
        eprintln!("the example failed: {e}");
    }
    result.and(left)
}

/// [`connect`] for an example without async code of its own: the fake (when used) runs on a
/// runtime kept alive for the rest of the process, and the client is a blocking one.
#[cfg(feature = "blocking")]
pub fn connect_blocking() -> Result<BlockingTarget, BoxError> {
    let runtime: &'static tokio::runtime::Runtime = Box::leak(Box::new(tokio::runtime::Runtime::new()?));
    let target = runtime.block_on(connect())?;
    Ok(BlockingTarget {
        client: fastvm::blocking::Client::from(target.client.clone()),
        remote_root: target.remote_root.clone(),
        run: target.run.clone(),
        target,
        runtime,
    })
}

/// What [`connect_blocking`] gives.
#[cfg(feature = "blocking")]
pub struct BlockingTarget {
    /// The client.
    pub client: fastvm::blocking::Client,
    /// A directory inside the VM the example may write to.
    pub remote_root: String,
    /// This run's value of [`RUN_LABEL`].
    pub run: String,
    /// The async target (and the in-process fake, kept alive).
    target: Target,
    runtime: &'static tokio::runtime::Runtime,
}

#[cfg(feature = "blocking")]
impl BlockingTarget {
    /// `params` with this run's label (see [`Target::labelled`]).
    pub fn labelled(&self, params: impl Into<LaunchParams>) -> LaunchParams {
        self.target.labelled(params)
    }

    /// [`Target::nothing_left`], blocking; then removes the scratch directory of a fake without
    /// isolation.
    pub fn finish(&self) -> Result<(), BoxError> {
        let left = self.runtime.block_on(self.target.nothing_left());
        if self.target.scratch_on_host() {
            let _ = std::fs::remove_dir_all(&self.target.remote_root);
        }
        left
    }
}

/// Streams `command` in `vm`, printing each line of its output as it arrives behind `prefix`
/// (stderr lines also marked `!`), and returns everything it printed and its exit
/// (`ExecStream::collect_lines`: print live line by line, keep all, then `check` it).
pub async fn stream_lines(vm: &Vm, prefix: &str, command: impl Into<Command>) -> fastvm::Result<ExecOutput> {
    vm.stream(command)
        .await?
        .collect_lines(|line| match line.stream {
            StdStream::Stdout => println!("{prefix} {}", line.text),
            StdStream::Stderr => println!("{prefix} ! {}", line.text),
        })
        .await
}
