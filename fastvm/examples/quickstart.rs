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

use fastvm::exec::Command;
use fastvm::{FastvmClient, launch};
use futures::StreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    match support::run(tour).await {
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

async fn tour(target: &support::Target) -> Result<(), Box<dyn std::error::Error>> {
    let client = &target.client;
    println!("\n1. launch a VM and wait until it runs");
    // An owned VM: deleted by `delete()` below, or, if a step fails first, when `vm` is dropped.
    let vm = client
        .launch_vm(
            target.labelled(
                launch::machine("c1m2")
                    .name("quickstart")
                    .label("example", "quickstart"),
            ),
        )
        .await?;
    let state = vm.state();
    println!(
        "   {} is {} ({} vCPU, {} MiB)",
        state.id, state.status, state.cpu, state.memory_mib
    );

    println!("\n2. run a command (buffered)");
    let out = vm.run("echo \"hello from $(uname -s)\"").await?.check()?;
    println!("   exit {}: {}", out.exit_code, out.stdout.trim());

    println!("\n3. stream a command's output live");
    let script = "for i in 1 2 3; do echo \"tick $i\"; echo \"warn $i\" >&2; sleep 0.2; done; exit 7";
    let mut lines = vm
        .stream(Command::sh(script).timeout(std::time::Duration::from_secs(60)))
        .await?
        .lines(); // whole lines, tagged stdout/stderr, as each completes
    while let Some(line) = lines.next().await {
        let line = line?;
        println!("   {}: {}", line.stream, line.text);
    }
    if let Some(exit) = lines.exit() {
        println!("   exited with {} after {:?}", exit.code, exit.duration);
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
    let remote = format!("{}/project", target.remote_root);
    vm.upload(&src, &remote).await?;
    let listing = vm.run(Command::argv(["ls", "-R", remote.as_str()])).await?.check()?;
    println!("   uploaded; the VM sees:\n{}", indent(&listing.stdout));
    let back = local.path().join("project-back");
    vm.download(&remote, &back).await?;
    let same = same_tree(&src, &back)?;
    println!("   downloaded to {}: identical = {same}", back.display());
    if !same {
        return Err("the downloaded tree differs from the uploaded one".into());
    }

    println!("\n5. snapshot the VM and wait until the snapshot is ready");
    // If the snapshot ends in `error` or is not ready in time, `wait_ready` deletes it.
    let snap = vm.snapshot().name("quickstart").wait_ready().await?;
    println!("   snapshot {} is {}", snap.id, snap.status);

    // From here the snapshot exists: it is deleted after the restore, whatever the restore did.
    let restored = restore(client, target, &snap.id, &remote).await;
    println!("\ncleaning up");
    client.snapshots().delete(&snap.id).await?;
    println!("   deleted snapshot {}", snap.id);
    let deleted = vm.delete().await?;
    println!("   deleted VM {}", deleted.id);
    restored
}

/// Step 6: a second VM from the snapshot, scoped with `with_vm` (deleted when the closure ends).
async fn restore(
    client: &FastvmClient,
    target: &support::Target,
    snapshot_id: &str,
    project: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    println!("\n6. restore a new VM from the snapshot");
    let params = target.labelled(launch::snapshot(snapshot_id).name("quickstart-restored"));
    let id = client
        .with_vm(params, |restored| async move {
            let state = restored.state();
            println!(
                "   {} is {} (from {})",
                state.id,
                state.status,
                state.source_name.clone().unwrap_or_default()
            );
            let readme = restored
                .run(Command::argv(["cat", "README.md"]).cwd(project))
                .await?
                .check()?;
            println!(
                "   the snapshot kept the upload: README.md says {:?}",
                readme.stdout.trim()
            );
            Ok::<_, Box<dyn std::error::Error>>(restored.id().to_string())
        })
        .await?;
    println!("   with_vm deleted the restored VM {id}");
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
