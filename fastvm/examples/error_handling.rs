//! How errors look: validation before any request, API errors with their kind, a missing VM,
//! a failed command (a result, not an error), and per-call retry/timeout options.
//!
//! `cargo run --example error_handling`

#[path = "support/mod.rs"]
mod support;

use std::time::Duration;

use fastvm::{ApiErrorKind, Error, RequestOptions, launch};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    support::run(example).await
}

/// The example itself; the VM it needs lives inside `with_vm`, deleted when the closure ends
/// (also when a step in it fails).
async fn example(target: &support::Target) -> Result<(), Box<dyn std::error::Error>> {
    let client = &target.client;
    // Rejected client-side: nothing is sent.
    match client.vms().services().register("some-vm", "Not_Valid", 80).await {
        Err(Error::InvalidInput { field, message, .. }) => println!("invalid input in {field}: {message}"),
        other => println!("unexpected: {other:?}"),
    }

    // A 404 from the API.
    match client.vms().retrieve("00000000-0000-0000-0000-000000000000").await {
        Err(e) if e.is_not_found() => println!("not found: {e}"),
        other => println!("unexpected: {other:?}"),
    }

    // Authentication failures carry their kind.
    let bad = fastvm::FastvmClient::builder()
        .api_key("wrong-key")
        .base_url(client.base_url())
        .build()?;
    if let Err(err) = bad.vms().list().await
        && let Some(e) = err.api()
    {
        assert_eq!(e.kind, ApiErrorKind::Authentication);
        println!("authentication error: {e}");
    }

    client
        .with_vm(target.labelled(launch::machine("c1m2")), |vm| async move {
            // A failing command is a result: look at exit_code...
            let out = vm.run("echo oops >&2; exit 42").await?;
            println!("command exited {} with stderr {:?}", out.exit_code, out.stderr.trim());
            // ...or make it an error with `check()`, which carries the exit and the output's end.
            match out.check() {
                Err(e @ Error::CommandFailed { .. }) => println!("checked: {e}"),
                other => println!("unexpected: {other:?}"),
            }

            // Per-call options: more retries and a tighter timeout for this one call.
            let patient = client.with_options(RequestOptions::new().max_retries(5).timeout(Duration::from_secs(10)));
            let vm_again = patient.vms().retrieve(vm.id()).await?;
            println!("retrieved {} with custom options", vm_again.id);
            Ok::<_, Box<dyn std::error::Error>>(())
        })
        .await
}
