//! Snapshot a configured VM (env, service, firewall) and restore a VM from it.
//!
//! `cargo run --example snapshots`

#[path = "support/mod.rs"]
mod support;

use fastvm::launch;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    support::run(example).await
}

/// The example itself; what it launches is recorded in `created`, deleted by `support::run`
/// even when a step fails.
async fn example(
    client: &fastvm::FastvmClient,
    created: &mut support::Created,
) -> Result<(), Box<dyn std::error::Error>> {
    let vm = client
        .vms()
        .launch(launch::machine("c1m2").env("GREETING", "hello"))
        .await?;
    created.vms.push(vm.id.clone());
    client.vms().services().register(&vm.id, "web", 8080).await?;

    let snap = client.snapshots().create(&vm.id).name("configured").await?;
    created.snapshots.push(snap.id.clone());
    println!("snapshot {} ({}) of {}", snap.id, snap.status, snap.vm_id);
    let snap = client.snapshots().update(&snap.id, "configured-v1").await?;
    println!("renamed to {}", snap.name);

    let restored = client.vms().launch(launch::snapshot(&snap.id)).await?;
    created.vms.push(restored.id.clone());
    let services = client.vms().services().list(&restored.id).await?;
    println!(
        "restored {} with services {:?}",
        restored.id,
        services.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    let out = client.vms().run(&restored.id, "echo $GREETING").await?;
    println!("GREETING in the restored VM: {}", out.stdout.trim());

    for s in client.snapshots().list().await? {
        println!("snapshot {} {}", s.id, s.name);
    }
    client.vms().delete(&restored.id).await?;
    client.vms().delete(&vm.id).await?;
    client.snapshots().delete(&snap.id).await?;
    Ok(())
}
