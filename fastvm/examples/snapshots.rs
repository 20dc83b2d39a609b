//! Snapshot a configured VM (env, service) and restore a VM from it: the VMs are owned by the
//! guard, the snapshot waited for until ready and deleted explicitly, on every path.
//!
//! `cargo run --example snapshots`

#[path = "support/mod.rs"]
mod support;

use fastvm::launch;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    support::run(example).await
}

async fn example(target: &support::Target) -> Result<(), Box<dyn std::error::Error>> {
    let client = &target.client;
    // Deleted when dropped (a failed step) or by `delete()` below.
    let vm = client
        .launch_vm(target.labelled(launch::machine("c1m2").env("GREETING", "hello")))
        .await?;
    client.vms().services().register(vm.id(), "web", 8080).await?;

    // Waits until `ready`; a snapshot that fails or is not ready in time is deleted by it.
    let snap = vm.snapshot().name("configured").wait_ready().await?;
    println!("snapshot {} ({}) of {}", snap.id, snap.status, snap.vm_id);

    // From here on the snapshot exists: use it, then delete it whatever happened.
    let used = use_snapshot(target, &snap.id).await;
    client.snapshots().delete(&snap.id).await?;
    println!("deleted snapshot {}", snap.id);
    vm.delete().await?;
    used
}

async fn use_snapshot(target: &support::Target, id: &str) -> Result<(), Box<dyn std::error::Error>> {
    let client = &target.client;
    let snap = client.snapshots().update(id).name("configured-v1").await?;
    println!("renamed to {}", snap.name);
    let found = client.snapshots().find_by_name("configured-v1").await?;
    println!("found by name: {}", found.as_ref().is_some_and(|s| s.id == snap.id));

    client
        .with_vm(target.labelled(launch::snapshot(&snap.id)), |restored| async move {
            let services = client.vms().services().list(restored.id()).await?;
            println!(
                "restored {} with services {:?}",
                restored.id(),
                services.iter().map(|s| &s.name).collect::<Vec<_>>()
            );
            let out = restored.run("echo $GREETING").await?.check()?;
            println!("GREETING in the restored VM: {}", out.stdout.trim());
            Ok::<_, Box<dyn std::error::Error>>(())
        })
        .await?;

    for s in client.snapshots().list().await? {
        println!("snapshot {} {}", s.id, s.name);
    }
    Ok(())
}
