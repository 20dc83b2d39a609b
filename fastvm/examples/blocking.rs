//! The SDK without async code: launch, run, stream, upload, download, delete, from a plain
//! `fn main()`.
//!
//! `cargo run --example blocking --features blocking` (local fake unless FASTVM_API_KEY is set)

#[path = "support/mod.rs"]
mod support;

use fastvm::blocking::{Block, BlockingStream};
use fastvm::exec::{Command, ExecEvent};
use fastvm::launch;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::connect_blocking()?;
    let result = example(&target);
    // Whatever happened: check that nothing is left.
    let left = target.finish();
    result.and(left)
}

fn example(target: &support::BlockingTarget) -> Result<(), Box<dyn std::error::Error>> {
    let client = &target.client;

    // Owned: deleted when dropped, on every path; `delete()` below reports errors.
    let vm = client
        .launch_vm(target.labelled(launch::machine("c1m2").name("blocking")))
        .block()?;
    println!("launched {} ({})", vm.id(), vm.state().status);

    let out = vm
        .run(Command::sh("echo \"hello from $(uname -s)\""))
        .block()?
        .check()?;
    print!("run: {}", out.stdout);

    for event in vm.stream("for i in 1 2 3; do echo line $i; done").block()?.iter() {
        if let ExecEvent::Stdout(bytes) = event? {
            print!("stream: {}", String::from_utf8_lossy(&bytes));
        }
    }

    let dir = tempfile::tempdir()?;
    let local = dir.path().join("notes.txt");
    std::fs::write(&local, "written on the client\n")?;
    let remote = format!("{}/notes.txt", target.remote_root);
    vm.upload(&local, &remote).verify(true).block()?;
    let back = dir.path().join("back.txt");
    vm.download(&remote, &back).block()?;
    println!(
        "round trip identical = {}",
        std::fs::read(&local)? == std::fs::read(&back)?
    );

    let deleted = vm.delete().block()?;
    println!("deleted {}", deleted.id);

    // The scoped form: deleted when the closure returns, also when it fails.
    let kernel = client.with_vm(target.labelled(launch::machine("c1m2")), |vm| {
        Ok::<_, fastvm::Error>(vm.run("uname -s").block()?.check()?.stdout.trim().to_string())
    })?;
    println!("with_vm ran uname: {kernel}");
    Ok(())
}
