//! The `fastvm` facade against `fastvm-fake`: the quickstart path (launch-and-wait, run,
//! stream) and retries over real HTTP.

use std::time::Duration;

use fastvm_fake::{FakeServer, Fault};

#[tokio::test]
async fn quickstart_launch_waits_through_provisioning_then_runs_and_streams() {
    let server = FakeServer::builder()
        .boot_delay(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let client = fastvm_tests::fake::client(&server);
    let vm = client
        .vms()
        .launch(fastvm::launch::machine("c1m2").name("qs"))
        .await
        .unwrap();
    assert_eq!(vm.vm.status, fastvm::types::VmStatus::Running);

    let out = client
        .vms()
        .run(&vm.vm.id, "echo hello; echo oops >&2; exit 4")
        .await
        .unwrap();
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str(), out.exit_code),
        ("hello\n", "oops\n", 4)
    );

    let streamed = client.vms().stream(&vm.vm.id, "printf a; printf b >&2").await.unwrap();
    let collected = streamed.collect().await.unwrap();
    assert_eq!(
        (collected.stdout.as_slice(), collected.stderr.as_slice()),
        (&b"a"[..], &b"b"[..])
    );
    assert!(collected.success());
}

#[tokio::test]
async fn facade_retries_injected_503s_and_reports_truncated_streams() {
    let (server, client, vm_id) = fastvm_tests::fake::with_vm("retries").await;

    server
        .faults()
        .push("getVm", Fault::status(503).header("Retry-After", "0").times(2));
    let got = client.vms().retrieve(&vm_id).await.unwrap();
    assert_eq!(got.id, vm_id);
    assert_eq!(
        server.faults().pending("getVm"),
        0,
        "both faults were consumed by retries"
    );

    server.faults().push("execVm", Fault::truncate_stream());
    let stream = client.vms().stream(&vm_id, "echo hi").await.unwrap();
    let err = stream.collect().await.unwrap_err();
    assert!(matches!(err, fastvm::Error::StreamClosed { .. }), "{err:?}");
}
