//! `fastvm::blocking` against `fastvm-fake`, from plain threads with no async runtime of their
//! own: every call of the async API made blocking with `.block()`, streams as iterators, the
//! owned-VM guard, `with_vm`, and the clear refusal inside an async runtime.
// Tests deprecated operations too (builds, build contexts, a VM's SSH keys), kept for
// servers at the reference's version.
#![allow(deprecated)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use fastvm::Error;
use fastvm::blocking::{Block, BlockWith, BlockingStream, Client};
use fastvm::exec::{Command, ExecEvent};
use fastvm::launch;
use fastvm::types::VmStatus;
use fastvm_fake::FakeServer;

/// The fake runs on a runtime of the test's own (the blocking client has its own too).
struct Fake {
    server: FakeServer,
    _runtime: tokio::runtime::Runtime,
}

fn fake() -> (Fake, Client) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime
        .block_on(FakeServer::builder().boot_delay(Duration::from_millis(100)).start())
        .expect("fake server");
    let client = Client::builder()
        .api_key(server.api_key())
        .base_url(server.base_url())
        .build()
        .unwrap();
    (
        Fake {
            server,
            _runtime: runtime,
        },
        client,
    )
}

fn vm_count(client: &Client) -> usize {
    client.vms().list().block().unwrap().len()
}

#[test]
fn the_whole_async_api_blocks_with_block() {
    let (fake, client) = fake();
    assert_eq!(client.health().check().block().unwrap().status.as_deref(), Some("ok"));
    // Launch-and-wait through a 202 (the fake boots for 100 ms).
    let mut vm = client
        .launch_vm(launch::machine("c1m2").name("blocking"))
        .block()
        .unwrap();
    assert_eq!(vm.state().status, VmStatus::Running);
    let listed = client.vms().list().status(VmStatus::Running).block().unwrap();
    assert_eq!(listed.len(), 1);

    let out = vm
        .run(Command::sh("printf %s \"$X\"").env("X", "y"))
        .block()
        .unwrap()
        .check()
        .unwrap();
    assert_eq!(out.stdout, "y");
    let events: Vec<ExecEvent> = vm
        .stream("printf a; printf b >&2; exit 3")
        .block()
        .unwrap()
        .iter()
        .collect::<fastvm::Result<_>>()
        .unwrap();
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(matches!(events.last(), Some(ExecEvent::Exit { code: 3, .. })));

    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("data.bin");
    std::fs::write(&local, vec![7u8; 200_000]).unwrap();
    let seen = Arc::new(AtomicU64::new(0));
    let progress = seen.clone();
    // A VM path under /root only when the fake's VMs have their own filesystem: otherwise it
    // would be this host's /root.
    let remote = if fake.server.isolated() {
        "/root/data.bin".to_string()
    } else {
        tmp.path().join("remote/data.bin").to_string_lossy().into_owned()
    };
    vm.upload(&local, &remote)
        .verify(true)
        .progress(move |p| progress.store(p.bytes_done, Ordering::SeqCst))
        .block()
        .unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), 200_000);
    let back = tmp.path().join("back.bin");
    vm.download(&remote, &back).verify(true).block().unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), vec![7u8; 200_000]);
    let in_vm = fake.server.vm_path(vm.id(), &remote).unwrap();
    assert_eq!(std::fs::metadata(in_vm).unwrap().len(), 200_000);

    assert_eq!(vm.pause().block().unwrap().status, VmStatus::Paused);
    assert_eq!(vm.resume().block().unwrap().status, VmStatus::Running);

    let snap = vm.snapshot().name("blocking").wait_ready().block().unwrap();
    assert_eq!(
        snap.status,
        fastvm::types::SnapshotStatus::Ready,
        "waited through creating"
    );
    let waited = client.wait_for_snapshot_ready(&snap.id).block().unwrap();
    assert_eq!(waited.id, snap.id);
    let build = client.builds().create().image_ref("alpine:3").block().unwrap();
    let done = client
        .wait_for_build(&build.id)
        .poll_interval(Duration::from_millis(500))
        .block()
        .unwrap();
    assert_eq!(done.status, fastvm::types::BuildStatus::Completed);

    let err = client.vms().retrieve("no-such-vm").block().unwrap_err();
    assert!(err.is_not_found(), "{err}");
    client.snapshots().delete(&snap.id).block().unwrap();
    client
        .snapshots()
        .delete(done.snapshot_id.as_deref().unwrap())
        .block()
        .unwrap();
    vm.delete().block().unwrap();
    assert_eq!(vm_count(&client), 0);
}

#[test]
fn a_dropped_guard_deletes_its_vm_on_the_blocking_runtime() {
    let (_fake, client) = fake();
    let vm = client.launch_vm(launch::machine("c1m2")).block().unwrap();
    assert_eq!(vm_count(&client), 1);
    drop(vm);
    // At once: the drop waited for the delete, so a program that exits right after it (the end
    // of `main`) leaves nothing behind.
    assert_eq!(
        vm_count(&client),
        0,
        "the dropped guard's VM is deleted when drop returns"
    );
}

#[test]
fn with_vm_deletes_after_success_error_and_panic() {
    let (_fake, client) = fake();
    let kernel = client
        .with_vm(launch::machine("c1m2"), |vm| {
            Ok::<_, Error>(vm.run("echo up").block()?.check()?.stdout.clone())
        })
        .unwrap();
    assert_eq!(kernel, "up\n");
    assert_eq!(vm_count(&client), 0);
    let err = client
        .with_vm(launch::machine("c1m2"), |vm| {
            vm.run("exit 9").block()?.check()?;
            Ok::<(), Error>(())
        })
        .unwrap_err();
    assert!(matches!(err, Error::CommandFailed { exit_code: 9, .. }), "{err:?}");
    assert_eq!(vm_count(&client), 0);
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _: Result<(), Error> = client.with_vm(launch::machine("c1m2"), |_vm| panic!("boom"));
    }));
    assert!(panicked.is_err());
    assert_eq!(vm_count(&client), 0, "deleted before the panic resumed");
}

#[test]
fn a_configured_launch_runs_a_closure_and_deletes_its_vm() {
    let (_fake, client) = fake();
    let (id, ttl) = client
        .launch_vm(launch::machine("c1m2"))
        .deadline(Duration::from_secs(30))
        .safety_ttl(Duration::from_secs(600))
        .block_with(|vm| {
            // The launch's options applied: the VM runs, with the safety TTL.
            let seen = client.vms().retrieve(vm.id()).block()?;
            assert_eq!(seen.status, VmStatus::Running);
            Ok::<_, Error>((vm.id().to_string(), seen.ttl))
        })
        .unwrap();
    let ttl = ttl.expect("the safety TTL was set");
    assert_eq!(ttl.seconds, 600, "{ttl:?}");
    assert_eq!(vm_count(&client), 0);
    assert!(client.vms().retrieve(&id).block().unwrap_err().is_not_found());
    let err = client
        .launch_vm(launch::machine("c1m2"))
        .block_with(|vm| {
            vm.run("exit 4").block()?.check()?;
            Ok::<(), Error>(())
        })
        .unwrap_err();
    assert!(matches!(err, Error::CommandFailed { exit_code: 4, .. }), "{err:?}");
    assert_eq!(vm_count(&client), 0);
}

#[test]
fn inside_an_async_runtime_block_is_a_clear_error_not_a_deadlock() {
    let (_fake, client) = fake();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = runtime.block_on(async { client.vms().list().block().unwrap_err() });
    match &err {
        Error::Config { message, .. } => assert!(message.contains("inside an async runtime"), "{message}"),
        other => panic!("{other:?}"),
    }
    // The stream iterator says the same and ends.
    let stream = client
        .with_vm(launch::machine("c1m2"), |vm| vm.stream("echo hi").block())
        .unwrap();
    let mut events = runtime.block_on(async { stream.iter().collect::<Vec<_>>() });
    assert!(matches!(events.pop(), Some(Err(Error::Config { .. }))));
    assert!(events.is_empty());
}

#[test]
fn the_workflow_helpers_block_too() {
    let (fake, client) = fake();
    // A fleet of two, labelled for the sweep below.
    let fleet = client
        .fleet(launch::machine("c1m2").label("suite", "blocking"), 2)
        .poll_interval(Duration::from_millis(20))
        .block()
        .unwrap();
    assert_eq!(fleet.len(), 2);
    assert_eq!(vm_count(&client), 2);

    // Readiness and many files at once, on the first.
    let vm = &fleet[0];
    let tmp = tempfile::tempdir().unwrap();
    let remote = if fake.server.isolated() {
        "/root/many".to_string()
    } else {
        tmp.path().join("remote-many").to_string_lossy().into_owned()
    };
    let (a, b) = (tmp.path().join("a.txt"), tmp.path().join("b.txt"));
    std::fs::write(&a, b"A").unwrap();
    std::fs::write(&b, b"B").unwrap();
    vm.upload_many()
        .file(&a, format!("{remote}/a.txt"))
        .file(&b, format!("{remote}/sub/b.txt"))
        .block()
        .unwrap();
    let out = vm
        .wait_until(Command::sh(format!("cat {remote}/a.txt {remote}/sub/b.txt")))
        .deadline(Duration::from_secs(10))
        .block()
        .unwrap();
    assert_eq!(out.stdout, "AB");

    // A dry sweep by label sees both; a real one deletes them.
    let seen = client.sweep().label("suite", "blocking").block().unwrap();
    assert_eq!((seen.vms.len(), seen.deleted), (2, false));
    let swept = client
        .sweep()
        .label("suite", "blocking")
        .dry_run(false)
        .block()
        .unwrap();
    assert!(swept.deleted && swept.errors.is_empty(), "{swept:?}");
    for vm in fleet {
        vm.release();
    }
    assert_eq!(vm_count(&client), 0);

    // An image: launch, one step, snapshot, the builder deleted.
    let image = client
        .build_image("blocking-image", launch::machine("c1m2"))
        .step(Command::sh("echo built"))
        .poll_interval(Duration::from_millis(20))
        .block()
        .unwrap();
    assert_eq!(image.steps.len(), 1);
    assert_eq!(image.steps[0].stdout.trim(), "built");
    assert_eq!(image.snapshot.status, fastvm::types::SnapshotStatus::Ready);
    assert_eq!(vm_count(&client), 0, "the builder VM is deleted");
    client.snapshots().delete(&image.snapshot.id).block().unwrap();
}
