//! Launch a VM three ways, each owned by the guard (`client.launch_vm`, deleted when dropped or
//! by `delete()`): waiting for it (default), with custom polling and a TTL, and without waiting
//! followed by `Vm::wait_ready`.
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

/// The example itself. Each VM is an `OwnedVm`: a step that fails drops the guards and deletes
/// the VMs launched so far; `support::run` then checks nothing is left.
async fn example(target: &support::Target) -> Result<(), Box<dyn std::error::Error>> {
    let client = &target.client;
    let vm = client
        .launch_vm(target.labelled(launch::machine("c1m2").name("waited")))
        .await?;
    println!("launched and running: {} ({})", vm.id(), vm.state().status);
    // Without a TTL of its own the guarded launch got a safety TTL (action delete), refreshed
    // in the background while the guard lives.
    if let Some(ttl) = &vm.state().ttl {
        println!("  its safety TTL: {} s, then {}", ttl.seconds, ttl.action);
    }

    let with_ttl = launch::machine("c1m2").ttl(Duration::from_secs(3600), fastvm::types::TtlAction::Pause);
    let vm2 = client
        .launch_vm(target.labelled(with_ttl))
        .poll_interval(Duration::from_millis(500))
        .deadline(Duration::from_secs(120))
        .await?;
    println!(
        "launched with a 1 h pause TTL: {} expires at {:?} ms",
        vm2.id(),
        vm2.state().expires_at_ms
    );

    // Owned as soon as the server accepted it: the VM may still be booting.
    let mut vm3 = client
        .launch_vm(target.labelled(launch::machine("c1m2")))
        .no_wait()
        .await?;
    println!("launch answered with status {}", vm3.state().status);
    let ready = vm3.wait_ready().await?;
    println!("{} is now {}", ready.id, ready.status);

    for owned in [vm, vm2, vm3] {
        owned.delete().await?;
    }
    println!("deleted all three");
    Ok(())
}
