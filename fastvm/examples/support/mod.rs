//! Shared setup of the examples: a client for the real API when `FASTVM_API_KEY` is set,
//! otherwise for `fastvm-fake` started in this process.

#![allow(dead_code)]

use fastvm::FastvmClient;
use fastvm_fake::FakeServer;

/// Where the examples talk to.
pub struct Target {
    /// The client.
    pub client: FastvmClient,
    /// The in-process fake, kept alive for the example's duration (None on the real API).
    pub fake: Option<FakeServer>,
    /// A directory inside the VM the example may write to.
    pub remote_root: String,
}

/// Connects to the real API when `FASTVM_API_KEY` is set, else starts the local fake.
pub async fn connect() -> Result<Target, Box<dyn std::error::Error>> {
    let suffix: String = format!("{:08x}", rand::random::<u32>());
    if std::env::var("FASTVM_API_KEY").is_ok_and(|k| !k.trim().is_empty()) {
        let client = FastvmClient::from_env()?;
        println!("using the fastvm API at {}", client.base_url());
        return Ok(Target {
            client,
            fake: None,
            remote_root: format!("/root/fastvm-example-{suffix}"),
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
    })
}

/// [`connect`] for an example without async code of its own: the fake (when used) runs on a
/// runtime kept alive for the rest of the process, and the client is a blocking one.
#[cfg(feature = "blocking")]
pub fn connect_blocking() -> Result<BlockingTarget, Box<dyn std::error::Error>> {
    let runtime = Box::leak(Box::new(tokio::runtime::Runtime::new()?));
    let target = runtime.block_on(connect())?;
    Ok(BlockingTarget {
        client: fastvm::blocking::FastvmClient::from(target.client),
        _fake: target.fake,
        remote_root: target.remote_root,
    })
}

/// What [`connect_blocking`] gives.
#[cfg(feature = "blocking")]
pub struct BlockingTarget {
    /// The client.
    pub client: fastvm::blocking::FastvmClient,
    /// The in-process fake, kept alive (None on the real API).
    pub _fake: Option<FakeServer>,
    /// A directory inside the VM the example may write to.
    pub remote_root: String,
}

/// Runs `example` against [`connect`]'s target, then deletes what it recorded in [`Created`],
/// whether it succeeded or not.
pub async fn run(
    example: impl for<'a> AsyncFnOnce(&'a FastvmClient, &'a mut Created) -> Result<(), Box<dyn std::error::Error>>,
) -> Result<(), Box<dyn std::error::Error>> {
    let target = connect().await?;
    let mut created = Created::default();
    let result = example(&target.client, &mut created).await;
    created.cleanup(&target.client).await;
    result
}

/// What an example created, deleted at the end whatever happened: on the real API, a VM left
/// behind by a failed step keeps running.
#[derive(Default)]
pub struct Created {
    /// VM ids.
    pub vms: Vec<String>,
    /// Snapshot ids.
    pub snapshots: Vec<String>,
}

impl Created {
    /// Deletes everything recorded (what is already gone is skipped); reports but does not stop
    /// on failures.
    pub async fn cleanup(&self, client: &FastvmClient) {
        for id in &self.vms {
            match client.vms().delete(id).await {
                Ok(_) => println!("cleanup: deleted VM {id}"),
                Err(e) if e.is_not_found() => {}
                Err(e) => eprintln!("cleanup: could not delete VM {id}: {e}"),
            }
        }
        for id in &self.snapshots {
            match client.snapshots().delete(id).await {
                Ok(_) => println!("cleanup: deleted snapshot {id}"),
                Err(e) if e.is_not_found() => {}
                Err(e) => eprintln!("cleanup: could not delete snapshot {id}: {e}"),
            }
        }
    }
}
