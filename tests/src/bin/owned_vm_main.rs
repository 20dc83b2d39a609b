//! A user's `main` with an `OwnedVm` in scope at its end, for `tests/tests/owned_vm_exit.rs`:
//! `owned_vm_main <multi|current> <error|panic|return>` launches a VM with the client from
//! `FASTVM_API_KEY`/`FASTVM_BASE_URL`, prints its id, then leaves `main` the way asked. The VM
//! must be gone by the time the process has exited.

use std::io::Write;

use fastvm::{FastvmClient, launch};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The body both runtimes run: what the program does.
async fn body(mode: &str) -> Result<()> {
    let client = FastvmClient::from_env()?;
    let vm = client.launch_vm(launch::machine("c1m2")).await?;
    println!("{}", vm.id());
    std::io::stdout().flush()?;
    match mode {
        // The error leaves `main` with `vm` in scope.
        "error" => {
            vm.run("exit 3").await?.check()?;
            Ok(())
        }
        "panic" => panic!("a panic with the VM in scope"),
        _ => Ok(()),
    }
}

#[tokio::main]
async fn multi(mode: &str) -> Result<()> {
    body(mode).await
}

#[tokio::main(flavor = "current_thread")]
async fn current(mode: &str) -> Result<()> {
    body(mode).await
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(flavor), Some(mode)) = (args.get(1), args.get(2)) else {
        return Err("usage: owned_vm_main <multi|current> <error|panic|return>".into());
    };
    match flavor.as_str() {
        "multi" => multi(mode),
        _ => current(mode),
    }
}
