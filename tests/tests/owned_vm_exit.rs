//! The README's promise that an `OwnedVm` is deleted "on error and on panic too", tried the way
//! users run it: a real `main` in a child process (`src/bin/owned_vm_main.rs`), on a
//! multi-thread and on a current-thread runtime, leaving `main` through an error propagated
//! with `?`, a panic, and a plain return with the VM in scope. When the process has exited,
//! the VM is gone: the drop waited for its delete.

use fastvm_fake::FakeServer;

/// Runs the child and returns its exit code and the VM id it printed.
async fn run(server: &FakeServer, flavor: &str, mode: &str) -> (Option<i32>, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_owned_vm_main"))
        .args([flavor, mode])
        .env("FASTVM_API_KEY", server.api_key())
        .env("FASTVM_BASE_URL", server.base_url())
        .env_remove("FASTVM_CUSTOM_HEADERS")
        .output()
        .await
        .expect("run owned_vm_main");
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        !id.is_empty(),
        "{flavor} {mode}: no VM id printed; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), id)
}

async fn leaves_no_vm(flavor: &str, mode: &str, exit: i32) {
    let server = FakeServer::start().await.expect("fake server");
    let client = fastvm_tests::fake::client(&server);
    let (code, id) = run(&server, flavor, mode).await;
    assert_eq!(code, Some(exit), "{flavor} {mode}: exit status");
    // Looked at once: nothing may finish the delete after the process is gone.
    let left = fastvm_tests::fake::vm_ids(&client).await;
    assert!(left.is_empty(), "{flavor} {mode}: VM {id} left running: {left:?}");
}

#[tokio::test]
async fn multi_thread_main_returning_an_error_deletes_the_vm() {
    leaves_no_vm("multi", "error", 1).await;
}

#[tokio::test]
async fn multi_thread_main_panicking_deletes_the_vm() {
    leaves_no_vm("multi", "panic", 101).await;
}

#[tokio::test]
async fn multi_thread_main_returning_deletes_the_vm() {
    leaves_no_vm("multi", "return", 0).await;
}

#[tokio::test]
async fn current_thread_main_returning_an_error_deletes_the_vm() {
    leaves_no_vm("current", "error", 1).await;
}

#[tokio::test]
async fn current_thread_main_panicking_deletes_the_vm() {
    leaves_no_vm("current", "panic", 101).await;
}

#[tokio::test]
async fn current_thread_main_returning_deletes_the_vm() {
    leaves_no_vm("current", "return", 0).await;
}
