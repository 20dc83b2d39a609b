//! Stream a command's stdout and stderr live, then collect another command's output and tee a
//! third into this process's stdout/stderr.
//!
//! `cargo run --example stream_exec`

#[path = "support/mod.rs"]
mod support;

use fastvm::exec::{Command, ExecEvent};
use fastvm::launch;
use futures::StreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let support::Target {
        client, fake: _fake, ..
    } = support::connect().await?;
    let vm = client.vms().launch(launch::machine("c1m2")).await?;

    let result = async {
        let mut events = client
            .vms()
            .stream(
                &vm.id,
                "for i in 1 2 3; do echo out $i; echo err $i >&2; sleep 0.3; done",
            )
            .await?;
        while let Some(event) = events.next().await {
            match event? {
                ExecEvent::Stdout(b) => print!("[stdout] {}", String::from_utf8_lossy(&b)),
                ExecEvent::Stderr(b) => print!("[stderr] {}", String::from_utf8_lossy(&b)),
                ExecEvent::Exit {
                    code,
                    timed_out,
                    duration_ms,
                    ..
                } => {
                    println!("[exit] code {code}, timed out {timed_out}, {duration_ms:?} ms")
                }
                other => println!("[other] {other:?}"),
            }
        }

        let output = client
            .vms()
            .stream(&vm.id, Command::argv(["sh", "-c", "seq 1 5; exit 3"]))
            .await?
            .collect()
            .await?;
        println!(
            "collected {} stdout bytes, exit {}",
            output.stdout.len(),
            output.exit.code
        );

        let exit = client
            .vms()
            .stream(
                &vm.id,
                Command::sh("cat; echo done >&2").stdin(b"piped stdin\n".to_vec()),
            )
            .await?
            .tee(tokio::io::stdout(), tokio::io::stderr())
            .await?;
        println!("tee finished with exit {}", exit.code);
        Ok::<_, fastvm::Error>(())
    }
    .await;

    client.vms().delete(&vm.id).await?;
    Ok(result?)
}
