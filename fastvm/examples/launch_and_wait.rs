//! Launch a VM three ways: wait for it (default), with custom polling, and without waiting
//! followed by `wait_for_vm_ready`.
//!
//! `cargo run --example launch_and_wait` (local fake unless FASTVM_API_KEY is set)

#[path = "support/mod.rs"]
mod support;

use std::time::Duration;

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
    let vm = client.vms().launch(launch::machine("c1m2").name("waited")).await?;
    created.vms.push(vm.id.clone());
    println!("launched and running: {} ({})", vm.id, vm.status);

    let with_ttl = launch::machine("c1m2").ttl(Duration::from_secs(3600), fastvm::types::TtlAction::Pause);
    let vm2 = client
        .vms()
        .launch(with_ttl)
        .poll_interval(Duration::from_millis(500))
        .wait_timeout(Duration::from_secs(120))
        .await?;
    created.vms.push(vm2.id.clone());
    println!(
        "launched with a 1 h pause TTL: {} expires at {:?} ms",
        vm2.id, vm2.expires_at_ms
    );

    let raw = client.vms().launch_no_wait(launch::machine("c1m2")).await?;
    created.vms.push(raw.vm.id.clone());
    println!("launch answered {} with status {}", raw.status.as_u16(), raw.vm.status);
    let vm3 = client.wait_for_vm_ready(&raw.vm.id).await?;
    println!("{} is now {}", vm3.id, vm3.status);

    for id in [&vm.id, &vm2.id, &vm3.id] {
        client.vms().delete(id).await?;
    }
    println!("deleted all three");
    Ok(())
}
