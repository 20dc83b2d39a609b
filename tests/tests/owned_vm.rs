//! VM handles against `fastvm-fake`: `Vm`'s operations, and `OwnedVm`/`with_vm` deleting the VM
//! on every exit path, with a safety TTL kept alive while the guard lives.

use fastvm_tests::fake::eventually;
use std::time::Duration;

use fastvm::exec::Command;
use fastvm::launch;
use fastvm::types::{TtlAction, VmStatus};
use fastvm::{Error, FastvmClient};
use fastvm_fake::FakeServer;

async fn fake() -> (FakeServer, FastvmClient) {
    let server = FakeServer::start().await.expect("fake server");
    let client = fastvm_tests::fake::client(&server);
    (server, client)
}

async fn vm_count(client: &FastvmClient) -> usize {
    client.vms().list().await.expect("list").len()
}

#[tokio::test]
async fn a_guarded_launch_gets_a_delete_ttl_unless_the_caller_set_one() {
    let (_server, client) = fake().await;
    let vm = client.launch_vm(launch::machine("c1m2")).await.unwrap();
    let ttl = vm.state().ttl.clone().expect("a safety TTL");
    assert_eq!((ttl.seconds, ttl.action), (600, TtlAction::Delete));
    assert_eq!(vm.state().status, VmStatus::Running);

    let mine = launch::machine("c1m2").ttl(Duration::from_secs(3600), TtlAction::Pause);
    let vm2 = client.launch_vm(mine).await.unwrap();
    let ttl = vm2.state().ttl.clone().unwrap();
    assert_eq!(
        (ttl.seconds, ttl.action),
        (3600, TtlAction::Pause),
        "the caller's TTL is kept"
    );

    let bare = client.launch_vm(launch::machine("c1m2")).no_safety_ttl().await.unwrap();
    assert!(bare.state().ttl.is_none());
    for v in [vm, vm2, bare] {
        v.delete().await.unwrap();
    }
    assert_eq!(vm_count(&client).await, 0);
}

#[tokio::test]
async fn the_safety_ttl_is_refreshed_while_the_guard_lives() {
    let (_server, client) = fake().await;
    let vm = client
        .launch_vm(launch::machine("c1m2"))
        .safety_ttl(Duration::from_secs(3))
        .await
        .unwrap();
    let first = vm
        .state()
        .expires_at_ms
        .expect("a running VM with a TTL has a deadline");
    let id = vm.id().to_string();
    eventually("the keepalive moved the deadline", || {
        let client = client.clone();
        let id = id.clone();
        async move { client.vms().retrieve(&id).await.unwrap().expires_at_ms.unwrap() > first }
    })
    .await;
    vm.delete().await.unwrap();
}

#[tokio::test]
async fn delete_reports_and_a_dropped_guard_deletes_in_the_background() {
    let (_server, client) = fake().await;
    let vm = client.launch_vm(launch::machine("c1m2")).await.unwrap();
    let id = vm.id().to_string();
    let deleted = vm.delete().await.unwrap();
    assert_eq!((deleted.id.as_str(), deleted.deleted), (id.as_str(), true));

    {
        let _vm = client.launch_vm(launch::machine("c1m2")).await.unwrap();
        assert_eq!(vm_count(&client).await, 1);
    }
    eventually("the dropped guard deleted its VM", || async {
        vm_count(&client).await == 0
    })
    .await;

    // An early return with `?` is a drop too.
    async fn fails_midway(client: &FastvmClient) -> fastvm::Result<()> {
        let vm = client.launch_vm(launch::machine("c1m2")).await?;
        vm.run("exit 3").await?.check()?;
        unreachable!("the command fails");
    }
    assert!(matches!(
        fails_midway(&client).await,
        Err(Error::CommandFailed { exit_code: 3, .. })
    ));
    eventually("the VM of the failed function is deleted", || async {
        vm_count(&client).await == 0
    })
    .await;

    // A released VM is not deleted.
    let kept = client.launch_vm(launch::machine("c1m2")).await.unwrap().release();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(client.vms().retrieve(kept.id()).await.is_ok());
    kept.delete().await.unwrap();
}

#[tokio::test]
async fn with_vm_deletes_after_success_error_and_panic() {
    let (_server, client) = fake().await;
    let out = client
        .with_vm(launch::machine("c1m2"), |vm| async move {
            Ok::<_, Error>(vm.run("echo hi").await?.check()?.stdout.clone())
        })
        .await
        .unwrap();
    assert_eq!(out, "hi\n");
    assert_eq!(vm_count(&client).await, 0, "deleted before with_vm returned");

    #[derive(Debug)]
    enum AppError {
        Fastvm(#[allow(dead_code)] Error),
        Mine(&'static str),
    }
    impl From<Error> for AppError {
        fn from(e: Error) -> Self {
            AppError::Fastvm(e)
        }
    }
    let err = client
        .with_vm(launch::machine("c1m2"), |_vm| async move {
            Err::<(), _>(AppError::Mine("nope"))
        })
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Mine("nope")), "{err:?}");
    assert_eq!(vm_count(&client).await, 0);

    let panicking = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .with_vm(launch::machine("c1m2"), |_vm| async move {
                    if vm_count_is_one() {
                        panic!("boom");
                    }
                    Ok::<(), Error>(())
                })
                .await
        })
    };
    let joined = panicking.await.unwrap_err();
    assert!(joined.is_panic());
    assert_eq!(vm_count(&client).await, 0, "deleted before the panic resumed");
}

#[tokio::test]
async fn a_no_wait_launch_is_owned_at_once_and_waits_with_wait_ready() {
    let server = FakeServer::builder()
        .boot_delay(Duration::from_millis(400))
        .start()
        .await
        .unwrap();
    let client = fastvm_tests::fake::client(&server);
    let mut vm = client.launch_vm(launch::machine("c1m2")).no_wait().await.unwrap();
    assert_ne!(vm.state().status, VmStatus::Running, "returned before the boot");
    let state = vm.wait_ready().await.unwrap();
    assert_eq!(state.status, VmStatus::Running);
    assert_eq!(vm.state().status, VmStatus::Running, "the handle keeps the new state");
    vm.wait_ready().await.expect("a running VM is ready at once");
    vm.run("true").await.unwrap().check().unwrap();
    drop(vm);
    eventually("the dropped no-wait guard deletes its VM", || async {
        vm_count(&client).await == 0
    })
    .await;
}

#[tokio::test]
async fn a_configured_launch_runs_a_closure_and_deletes_the_vm() {
    let (_server, client) = fake().await;
    let ttl = client
        .launch_vm(launch::machine("c1m2"))
        .safety_ttl(Duration::from_secs(30))
        .deadline(Duration::from_secs(20))
        .with(|vm| async move { Ok::<_, Error>(vm.state().ttl.clone()) })
        .await
        .unwrap()
        .expect("the configured safety TTL");
    assert_eq!((ttl.seconds, ttl.action), (30, TtlAction::Delete));
    assert_eq!(vm_count(&client).await, 0, "deleted before with returned");
}

/// Always true; keeps the panic above from making the closure's `Ok` unreachable.
fn vm_count_is_one() -> bool {
    std::hint::black_box(true)
}

#[tokio::test]
async fn a_vm_handle_does_what_the_resource_groups_do() {
    let (server, client) = fake().await;
    let mut vm = client.launch_vm(launch::machine("c1m2").name("handle")).await.unwrap();

    let out = vm
        .run(
            Command::sh("pwd; printf %s \"$GREETING\"")
                .cwd("/tmp")
                .env("GREETING", "hello"),
        )
        .await
        .unwrap()
        .check()
        .unwrap();
    assert!(
        out.stdout.ends_with("hello") && out.stdout.starts_with("/tmp"),
        "{}",
        out.stdout
    );
    let streamed = vm
        .stream("printf a; printf b >&2")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(streamed.combined().len(), 2);

    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("f.txt");
    std::fs::write(&local, b"payload").unwrap();
    // Under /root only when the fake's VMs have their own filesystem (else: this host's).
    let remote = if server.isolated() {
        "/root/f.txt".to_string()
    } else {
        tmp.path().join("remote/f.txt").to_string_lossy().into_owned()
    };
    vm.upload(&local, &remote).verify(true).await.unwrap();
    let back = tmp.path().join("back.txt");
    vm.download(&remote, &back).await.unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), b"payload");

    assert_eq!(vm.pause().await.unwrap().status, VmStatus::Paused);
    assert_eq!(vm.refresh().await.unwrap().status, VmStatus::Paused);
    assert_eq!(vm.resume().await.unwrap().status, VmStatus::Running);
    assert!(
        vm.refresh_ttl().await.unwrap().expires_at_ms.is_some(),
        "the safety TTL"
    );

    let snap = vm.snapshot().name("from-handle").await.unwrap();
    assert_eq!(snap.vm_id, vm.id());
    let attached = client.attach(vm.id()).await.unwrap();
    assert_eq!(attached.state().name, "handle");
    assert!(format!("{attached:?}").contains(vm.id()));
    client.snapshots().delete(&snap.id).await.unwrap();
    vm.delete().await.unwrap();
    drop(server);
}

/// A failed command's error names the command but never an environment value.
#[tokio::test]
async fn a_failed_command_is_one_error_without_its_secrets() {
    let (_server, client) = fake().await;
    let vm = client.launch_vm(launch::machine("c1m2")).await.unwrap();
    let err = vm
        .run(Command::sh("echo out; echo \"bad $TOKEN\" >&2; exit 4").env("TOKEN", "s3cr3t-value"))
        .await
        .unwrap()
        .check()
        .unwrap_err();
    match &err {
        Error::CommandFailed {
            exit_code,
            timed_out,
            stdout_tail,
            command,
            ..
        } => {
            assert_eq!((*exit_code, *timed_out, stdout_tail.as_str()), (4, false, "out\n"));
            assert!(command.contains("(env TOKEN)"), "{command}");
        }
        other => panic!("{other:?}"),
    }
    // What the command itself printed is its own output; the command line and Debug are not.
    let Error::CommandFailed { command, .. } = &err else {
        unreachable!()
    };
    assert!(!command.contains("s3cr3t-value"), "{command}");
    let timed_out = vm
        .run(Command::sh("sleep 5").timeout(Duration::from_secs(1)))
        .await
        .unwrap()
        .check()
        .unwrap_err();
    assert!(
        matches!(timed_out, Error::CommandFailed { timed_out: true, .. }),
        "{timed_out:?}"
    );
    vm.delete().await.unwrap();
}

/// The refreshes a wiremock server received.
async fn refreshes(server: &wiremock::MockServer) -> usize {
    let requests = server.received_requests().await.unwrap_or_default();
    requests
        .iter()
        .filter(|r| r.url.path().ends_with("/ttl/refresh"))
        .count()
}

#[tokio::test]
async fn a_keepalive_refreshes_until_dropped_and_ends_when_the_vm_is_gone() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    let vm_body = serde_json::json!({ "id": "vm-a", "status": "running" });
    Mock::given(method("GET"))
        .and(path("/v1/vms/vm-a"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&vm_body))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/vms/vm-a/ttl/refresh"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&vm_body))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/vms/vm-gone"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({ "id": "vm-gone", "status": "running" })),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/vms/vm-gone/ttl/refresh"))
        .respond_with(ResponseTemplate::new(404).set_body_json(serde_json::json!({ "error": "not found" })))
        .mount(&server)
        .await;
    let client = FastvmClient::builder()
        .api_key("k")
        .base_url(server.uri())
        .max_retries(0)
        .build()
        .unwrap();

    let vm = client.attach("vm-a").await.unwrap();
    let alive = vm.keepalive(Duration::from_secs(1));
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let while_alive = refreshes(&server).await;
    assert!(while_alive >= 2, "refreshed every second: {while_alive}");
    drop(alive);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(refreshes(&server).await, while_alive, "no refresh after the drop");

    let gone = client.attach("vm-gone").await.unwrap();
    let _alive = gone.keepalive(Duration::from_secs(1));
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(refreshes(&server).await, while_alive + 1, "one 404, then no more tries");
}
