//! Stream a command's stdout and stderr live, line by line and as raw events, then collect another command's output and tee a
//! third into this process's stdout/stderr; the VM lives inside `with_vm`.
//!
//! `cargo run --example stream_exec`

#[path = "support/mod.rs"]
mod support;

use fastvm::exec::{Command, ExecEvent};
use fastvm::launch;
use futures::StreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    support::run(example).await
}

async fn example(target: &support::Target) -> Result<(), Box<dyn std::error::Error>> {
    target
        .client
        .with_vm(target.labelled(launch::machine("c1m2")), |vm| async move {
            // Whole lines, tagged with their stream, as each completes; then the exit.
            let mut lines = vm
                .stream("for i in 1 2 3; do echo out $i; echo err $i >&2; sleep 0.3; done")
                .await?
                .lines();
            while let Some(line) = lines.next().await {
                let line = line?;
                println!("[{}] {}", line.stream, line.text);
            }
            if let Some(exit) = lines.exit() {
                println!(
                    "[exit] code {}, timed out {}, after {:?}",
                    exit.code, exit.timed_out, exit.duration
                );
            }

            // The raw events: chunks of output as the server sent them.
            let mut events = vm.stream("echo raw; exit 0").await?;
            while let Some(event) = events.next().await {
                match event? {
                    ExecEvent::Stdout(b) => print!("[stdout chunk] {}", String::from_utf8_lossy(&b)),
                    ExecEvent::Exit { code, .. } => println!("[exit] code {code}"),
                    other => println!("[other] {other:?}"),
                }
            }

            let output = vm
                .stream(Command::argv(["sh", "-c", "seq 1 5; exit 3"]))
                .await?
                .collect()
                .await?;
            println!(
                "collected {} stdout bytes, exit {}",
                output.stdout.len(),
                output.exit.code
            );

            let exit = vm
                .stream(Command::sh("cat; echo done >&2").stdin(b"piped stdin\n".to_vec()))
                .await?
                .tee(tokio::io::stdout(), tokio::io::stderr())
                .await?;
            println!("tee finished with exit {}", exit.code);
            Ok::<_, fastvm::Error>(())
        })
        .await?;
    Ok(())
}
