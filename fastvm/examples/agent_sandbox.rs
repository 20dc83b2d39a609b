//! An AI agent's sandbox, the flow of the Hermes agent's fastvm backend: one VM per task, found
//! again by its labels; the agent's commands with a working directory and environment; a
//! keepalive on the VM's TTL while the task is active; "sleep" (snapshot, wait until ready,
//! delete the VM: no compute while the task is idle) and "wake" (find the snapshot by name,
//! restore, check the task's files survived); and cleanup by label with a sweep, dry run first.
//!
//! Runs without an account (a local fake server unless `FASTVM_API_KEY` is set).
//!
//! `cargo run --example agent_sandbox`

#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use fastvm::exec::Command;
use fastvm::launch::{self, LaunchParams};
use fastvm::types::{TtlAction, VmStatus};
use fastvm::{FastvmClient, names};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    support::run(example).await
}

/// The task's lease: the VM deletes itself this long after the last keepalive (Hermes: 900 s).
const LEASE: Duration = Duration::from_secs(900);

async fn example(target: &support::Target) -> Result<(), Box<dyn std::error::Error>> {
    let task = format!("task-{:06x}", rand::random::<u32>() & 0xff_ffff);
    let result = run_task(target, &task).await;
    if result.is_err() {
        // The task failed midway: whatever it left (a VM, its sleep snapshot) carries its label.
        let report = target
            .client
            .sweep()
            .label("task", &task)
            .snapshots(true)
            .dry_run(false)
            .await?;
        eprintln!(
            "after the failure, swept {} VM(s) and {} snapshot(s)",
            report.vms.len(),
            report.snapshots.len()
        );
    }
    result
}

/// How every VM of the task is launched: labelled for discovery, with the lease as its TTL.
fn task_vm(target: &support::Target, from: LaunchParams, task: &str) -> LaunchParams {
    target.labelled(
        from.name(names::sanitize(&format!("agent-{task}")))
            .label("agent", "fastvm-example")
            .label("task", task)
            .ttl(LEASE, TtlAction::Delete),
    )
}

/// The task's running VMs, found by label.
async fn running(client: &FastvmClient, task: &str) -> fastvm::Result<Vec<fastvm::types::VmInfo>> {
    client
        .vms()
        .list()
        .metadata("task", task)
        .status(VmStatus::Running)
        .await
}

async fn run_task(target: &support::Target, task: &str) -> Result<(), Box<dyn std::error::Error>> {
    let client = &target.client;
    let workspace = format!("{}/workspace", target.remote_root);
    let goal = "summarise the repository's open issues";

    println!("1. a VM for {task}");
    let vm = client.launch_vm(task_vm(target, launch::machine("c1m2"), task)).await?;
    println!("   {} ({}) runs", vm.state().name, vm.id());
    let found = running(client, task).await?;
    println!(
        "   discovery: {} running VM for the task (by label task={task})",
        found.len()
    );

    println!("\n2. the agent's commands, with a working directory and environment");
    vm.run(Command::argv(["mkdir", "-p", workspace.as_str()]))
        .await?
        .check()?;
    let wrote = vm
        .run(
            Command::sh("mkdir -p notes && printf '%s\\n' \"$TASK_GOAL\" > notes/goal.txt && pwd")
                .cwd(&workspace)
                .env("TASK_GOAL", goal),
        )
        .await?
        .check()?;
    println!("   wrote notes/goal.txt in {}", wrote.stdout.trim());
    let plan = vm
        .run(
            Command::bash(
                "set -euo pipefail; steps=(read write test); \
                 { echo '# plan'; for s in \"${steps[@]}\"; do echo \"- $s\"; done; } > notes/plan.md; \
                 wc -l < notes/plan.md",
            )
            .cwd(&workspace),
        )
        .await?
        .check()?;
    println!("   wrote notes/plan.md ({} lines, with bash)", plan.stdout.trim());
    let secret = vm
        .run(
            Command::sh("test -n \"$API_TOKEN\" && echo token present")
                .cwd(&workspace)
                .env("API_TOKEN", "s3cr3t-value"),
        )
        .await?
        .check()?;
    println!(
        "   {}; the command as logged: {}",
        secret.stdout.trim(),
        secret.command()
    );

    println!("\n3. a keepalive refreshes the lease while the task is active");
    let before = vm.state().expires_at_ms;
    let alive = vm.keepalive(Duration::from_secs(1));
    let mut vm = vm;
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = vm.refresh().await?.expires_at_ms;
        if now > before {
            println!(
                "   keepalive: the TTL was refreshed (expiry {} ms later)",
                now.unwrap_or_default() - before.unwrap_or_default()
            );
            break;
        }
        if started.elapsed() > Duration::from_secs(10) {
            return Err("the keepalive did not refresh the TTL within 10 s".into());
        }
    }
    drop(alive);

    println!("\n4. sleep: snapshot the VM, wait until the snapshot is ready, delete the VM");
    let name = names::sanitize(&format!("agent-{task}"));
    let snap = vm.snapshot().name(&name).wait_ready().await?;
    let gone = vm.delete().await?;
    println!(
        "   snapshot {} ({}) is {}; VM {} deleted",
        snap.name, snap.id, snap.status, gone.id
    );
    println!(
        "   discovery: {} running VMs while the task sleeps",
        running(client, task).await?.len()
    );

    println!("\n5. wake: find the snapshot by name, restore it, check the task's files");
    let snap = client
        .snapshots()
        .find_by_name(&name)
        .await?
        .ok_or_else(|| format!("no snapshot named {name:?}"))?;
    let woken = client
        .launch_vm(task_vm(target, launch::snapshot(&snap.id), task))
        .await?;
    let _alive = woken.keepalive(Duration::from_secs(300));
    let files = woken
        .run(Command::sh("cat notes/goal.txt && ls notes").cwd(&workspace))
        .await?
        .check()?;
    let mut lines = files.stdout.lines();
    if lines.next() != Some(goal) {
        return Err(format!("notes/goal.txt did not survive: {:?}", files.stdout).into());
    }
    println!(
        "   wake: the task's files survived ({})",
        lines.collect::<Vec<_>>().join(", ")
    );
    let found = running(client, task).await?;
    println!(
        "   discovery: {} running VM for the task, the woken one: {}",
        found.len(),
        found.iter().any(|v| v.id == woken.id())
    );

    println!("\n6. the task is done: sweep everything labelled task={task}, dry run first");
    let preview = client.sweep().label("task", task).snapshots(true).await?;
    for vm in &preview.vms {
        println!("   would delete VM {} ({})", vm.id, vm.name);
    }
    for s in &preview.snapshots {
        println!("   would delete snapshot {} ({})", s.id, s.name);
    }
    let report = client
        .sweep()
        .label("task", task)
        .snapshots(true)
        .dry_run(false)
        .await?;
    if let Some(failure) = report.errors.first() {
        return Err(format!(
            "sweep: cannot delete {} {}: {}",
            failure.kind, failure.id, failure.error
        )
        .into());
    }
    println!(
        "   sweep: deleted {} VM(s) and {} snapshot(s)",
        report.vms.len(),
        report.snapshots.len()
    );
    // The guard's own delete finds the VM gone already, which is not an error.
    woken.delete().await?;
    Ok(())
}
