//! The fastvm tour: launch a VM, run a command, stream one, upload a directory and download it
//! back, snapshot the VM, restore a second VM from the snapshot, and clean up everything it
//! created, even when a step fails.
//!
//! ```sh
//! cargo run --example quickstart                      # against a local fake server
//! FASTVM_API_KEY=... cargo run --example quickstart   # against the real API
//! ```

#[path = "support/mod.rs"]
mod support;

use std::path::Path;

use fastvm::exec::{Command, ExecEvent};
use fastvm::{FastvmClient, launch};
use futures::StreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::connect().await?;
    let mut created = support::Created::default();
    let result = tour(&target.client, &target.remote_root, &mut created).await;
    println!("\ncleaning up");
    created.cleanup(&target.client).await;
    if target.fake.is_some() {
        // The fake's "VM" wrote into this host's scratch directory.
        let _ = std::fs::remove_dir_all(&target.remote_root);
    }
    match result {
        Ok(()) => {
            println!("\ndone: everything created was deleted");
            Ok(())
        }
        Err(e) => {
            eprintln!("\nquickstart failed: {e}");
            Err(e)
        }
    }
}

async fn tour(
    client: &FastvmClient,
    remote_root: &str,
    created: &mut support::Created,
) -> Result<(), Box<dyn std::error::Error>> {
    println!("\n1. launch a VM and wait until it runs");
    let vm = client
        .vms()
        .launch(
            launch::machine("c1m2")
                .name("quickstart")
                .metadata("example", "quickstart"),
        )
        .await?;
    created.vms.push(vm.id.clone());
    println!(
        "   {} is {} ({} vCPU, {} MiB)",
        vm.id, vm.status, vm.cpu, vm.memory_mi_b
    );

    println!("\n2. run a command (buffered)");
    let out = client.vms().run(&vm.id, "echo \"hello from $(uname -s)\"").await?;
    println!("   exit {}: {}", out.exit_code, out.stdout.trim());

    println!("\n3. stream a command's output live");
    let script = "for i in 1 2 3; do echo \"tick $i\"; echo \"warn $i\" >&2; sleep 0.2; done; exit 7";
    let mut events = client
        .vms()
        .stream(&vm.id, Command::sh(script).timeout(std::time::Duration::from_secs(60)))
        .await?;
    while let Some(event) = events.next().await {
        match event? {
            ExecEvent::Stdout(b) => print!("   stdout: {}", String::from_utf8_lossy(&b)),
            ExecEvent::Stderr(b) => print!("   stderr: {}", String::from_utf8_lossy(&b)),
            ExecEvent::Exit { code, duration_ms, .. } => println!("   exited with {code} after {duration_ms:?} ms"),
            _ => {}
        }
    }

    println!("\n4. upload a directory, then download it back");
    let local = tempfile::tempdir()?;
    let src = local.path().join("project");
    std::fs::create_dir_all(src.join("src/nested"))?;
    std::fs::write(src.join("README.md"), "# demo\n")?;
    std::fs::write(src.join("src/main.rs"), "fn main() { println!(\"hi\"); }\n")?;
    std::fs::write(
        src.join("src/nested/data.bin"),
        (0..=255u8).cycle().take(100_000).collect::<Vec<_>>(),
    )?;
    let remote = format!("{remote_root}/project");
    client.upload(&vm.id, &src, &remote).await?;
    let listing = client
        .vms()
        .run(&vm.id, Command::argv(["ls", "-R", remote.as_str()]))
        .await?;
    println!("   uploaded; the VM sees:\n{}", indent(&listing.stdout));
    let back = local.path().join("project-back");
    client.download(&vm.id, &remote, &back).await?;
    let same = same_tree(&src, &back)?;
    println!("   downloaded to {}: identical = {same}", back.display());
    if !same {
        return Err("the downloaded tree differs from the uploaded one".into());
    }

    println!("\n5. snapshot the VM");
    let snap = client.snapshots().create(&vm.id).name("quickstart").await?;
    created.snapshots.push(snap.id.clone());
    println!("   snapshot {} is {}", snap.id, snap.status);

    println!("\n6. restore a new VM from the snapshot");
    let restored = client
        .vms()
        .launch(launch::snapshot(&snap.id).name("quickstart-restored"))
        .await?;
    created.vms.push(restored.id.clone());
    println!(
        "   {} is {} (from {})",
        restored.id,
        restored.status,
        restored.source_name.clone().unwrap_or_default()
    );
    if let Some(w) = &restored.snapshot_restore_warnings {
        println!("   restore warnings: {w:?}");
    }
    Ok(())
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("     {l}")).collect::<Vec<_>>().join("\n")
}

/// True when both trees have the same relative paths and file contents.
fn same_tree(a: &Path, b: &Path) -> std::io::Result<bool> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Option<Vec<u8>>)>) -> std::io::Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            let rel = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().into_owned();
            if e.file_type()?.is_dir() {
                out.push((rel, None));
                walk(root, &path, out)?;
            } else {
                out.push((rel, Some(std::fs::read(&path)?)));
            }
        }
        Ok(())
    }
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    walk(a, a, &mut ta)?;
    walk(b, b, &mut tb)?;
    Ok(ta == tb)
}
