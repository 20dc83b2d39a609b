//! Upload a file and a directory with a progress bar, download them back, verify integrity.
//!
//! `cargo run --example transfer`

#[path = "support/mod.rs"]
mod support;

use fastvm::launch;
use fastvm::transfer::Progress;
use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar, and the callback that moves it.
fn bar(label: &'static str) -> (ProgressBar, impl Fn(Progress) + Send + Sync + 'static) {
    let pb = ProgressBar::new(0);
    pb.set_style(
        ProgressStyle::with_template("{msg:10} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
            .expect("static template")
            .progress_chars("=> "),
    );
    pb.set_message(label);
    let handle = pb.clone();
    let progress = move |p: Progress| {
        if let Some(total) = p.bytes_total {
            handle.set_length(total);
        }
        handle.set_position(p.bytes_done);
    };
    (pb, progress)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    support::run(example).await
}

async fn example(target: &support::Target) -> Result<(), Box<dyn std::error::Error>> {
    let remote_root = &target.remote_root;
    target
        .client
        .with_vm(target.labelled(launch::machine("c1m2")), |vm| async move {
            let dir = tempfile::tempdir()?;
            let file = dir.path().join("blob.bin");
            std::fs::write(&file, (0..=255u8).cycle().take(32 << 20).collect::<Vec<_>>())?;
            let tree = dir.path().join("tree");
            for i in 0..50 {
                std::fs::create_dir_all(tree.join(format!("d{}", i % 5)))?;
                std::fs::write(
                    tree.join(format!("d{}/f{i}.txt", i % 5)),
                    format!("file {i}\n").repeat(100),
                )?;
            }

            // Each step: (upload?, local path, remote name). Downloads land beside the originals.
            let steps = [
                (true, file.clone(), "blob.bin"),
                (true, tree, "tree"),
                (false, dir.path().join("blob.back"), "blob.bin"),
                (false, dir.path().join("tree.back"), "tree"),
            ];
            for (upload, local, name) in steps {
                let remote = format!("{remote_root}/{name}");
                let (pb, progress) = bar(if upload { "upload" } else { "download" });
                if upload {
                    vm.upload(&local, &remote).progress(progress).verify(true).await?;
                } else {
                    vm.download(&remote, &local).progress(progress).verify(true).await?;
                }
                pb.finish();
            }

            let same = std::fs::read(&file)? == std::fs::read(dir.path().join("blob.back"))?;
            println!("file round trip identical: {same}");
            Ok::<_, Box<dyn std::error::Error>>(())
        })
        .await
}
