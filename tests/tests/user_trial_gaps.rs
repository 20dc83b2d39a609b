//! What users hand-wrote in a trial, now in the SDK: an exec stream's output as tagged lines,
//! snapshot families (the newest of one, keeping only the newest N), a service's public URL,
//! and a re-attached VM owned with a launch's kept-alive safety TTL. Against `fastvm-fake`,
//! and wiremock where the fake cannot answer the case (chosen `createdAt`s, failing deletes).

mod common;

use std::time::Duration;

use common::Api;
use fastvm::exec::{Command, Line, StdStream};
use fastvm::types::TtlAction;
use fastvm::workflows::SnapshotFamily;
use fastvm::{Error, FastvmClient, launch};
use fastvm_fake::FakeServer;
use fastvm_tests::fake::{eventually, snapshot_ids, vm_ids};
use futures::StreamExt as _;
use serde_json::{Value, json};

const MIB: usize = 1 << 20;

/// The texts of `lines` from `stream`, in order, with their `continues` flags.
fn texts(lines: &[Line], stream: StdStream) -> Vec<(String, bool)> {
    lines
        .iter()
        .filter(|l| l.stream == stream)
        .map(|l| (l.text.clone(), l.continues))
        .collect()
}

// ---- lines ---------------------------------------------------------------------------------

#[tokio::test]
async fn lines_of_a_real_stream_are_tagged_joined_and_bounded() {
    let (_server, client, vm) = fastvm_tests::fake::with_vm("lines").await;
    let script = "printf 'one\\ntw'; printf 'err 1\\r\\n' >&2; printf 'o\\n\\n'; \
                  printf 'caf\\303\\251 \\377\\n'; printf 'no newline' >&2; printf 'last'; exit 3";
    let mut lines = client.vms().stream(&vm, Command::sh(script)).await.unwrap().lines();
    let mut got = Vec::new();
    while let Some(line) = lines.next().await {
        got.push(line.unwrap());
    }
    assert_eq!(
        texts(&got, StdStream::Stdout),
        [
            ("one".to_string(), false),
            ("two".into(), false),
            ("".into(), false),
            ("café \u{FFFD}".into(), false),
            ("last".into(), false)
        ]
    );
    assert_eq!(
        texts(&got, StdStream::Stderr),
        [("err 1".to_string(), false), ("no newline".into(), false)]
    );
    let exit = lines.exit().expect("the exit, after the last line");
    assert_eq!((exit.code, exit.timed_out), (3, false));

    // A 2.5 MiB line comes in pieces of 1 MiB; the line after it is whole.
    let huge = format!("head -c {} /dev/zero | tr '\\0' x; printf '\\nafter\\n'", 5 * MIB / 2);
    let mut lines = client.vms().stream(&vm, Command::sh(huge)).await.unwrap().lines();
    let mut pieces = Vec::new();
    while let Some(line) = lines.next().await {
        let line = line.unwrap();
        assert!(line.text.len() <= MIB);
        pieces.push((line.text.len(), line.continues, line.text.chars().next()));
    }
    assert_eq!(
        pieces,
        [
            (MIB, true, Some('x')),
            (MIB, true, Some('x')),
            (MIB / 2, false, Some('x')),
            (5, false, Some('a'))
        ]
    );
    assert!(lines.exit().is_some_and(|e| e.success()));
}

#[tokio::test]
async fn collect_lines_prints_live_and_keeps_the_output_to_check() {
    let (_server, client, vm) = fastvm_tests::fake::with_vm("collect-lines").await;
    let vm = client.attach(&vm).await.unwrap();
    let mut seen = Vec::new();
    let out = vm
        .stream(Command::sh("echo building; echo oops >&2; printf done; exit 2"))
        .await
        .unwrap()
        .collect_lines(|line| seen.push(line.clone()))
        .await
        .unwrap();
    assert_eq!(
        texts(&seen, StdStream::Stdout),
        [("building".to_string(), false), ("done".into(), false)]
    );
    assert_eq!(texts(&seen, StdStream::Stderr), [("oops".to_string(), false)]);
    assert_eq!(out.stdout, b"building\ndone");
    match out.check() {
        Err(Error::CommandFailed { exit_code: 2, .. }) => {}
        other => panic!("{other:?}"),
    }
}

// ---- snapshot families ---------------------------------------------------------------------

#[tokio::test]
async fn a_family_of_real_snapshots_is_found_and_pruned() {
    let server = FakeServer::builder()
        .snapshot_duration(Duration::from_millis(10))
        .start()
        .await
        .expect("fake server");
    let client = fastvm_tests::fake::client(&server);
    let vm = client.launch_vm(launch::machine("c1m2")).await.unwrap();
    let mut ids = std::collections::BTreeMap::new();
    for name in [
        "agent-t1-1",
        "agent-t1-x-2",
        "agent-t1-3",
        "agent-t1-4",
        "agent-t1-x-5",
        "agent-t1-6",
    ] {
        let snap = vm.snapshot().name(name).wait_ready().await.unwrap();
        ids.insert(name, snap.id);
        // Distinct `createdAt`s (the fake's are in milliseconds).
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let task = SnapshotFamily::numbered("agent-t1-");
    let newest = spawnable(client.newest_snapshot(&task)).await.unwrap().unwrap();
    assert_eq!(newest.id, ids["agent-t1-6"]);
    let loose = client
        .snapshots()
        .newest_with_prefix("agent-t1-x")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(loose.id, ids["agent-t1-x-5"]);
    assert!(
        client
            .newest_snapshot(&SnapshotFamily::numbered("agent-t2-"))
            .await
            .unwrap()
            .is_none()
    );

    // A dry run by default: nothing is deleted.
    let before = snapshot_ids(&client).await;
    let dry = client.prune_snapshots(task.clone()).keep(2).await.unwrap();
    let names = |s: &[fastvm::types::Snapshot]| s.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&dry.kept), ["agent-t1-6", "agent-t1-4"]);
    assert_eq!(names(&dry.pruned), ["agent-t1-3", "agent-t1-1"]);
    assert!(!dry.deleted && dry.errors.is_empty());
    assert_eq!(snapshot_ids(&client).await, before);

    let prune = client.prune_snapshots(task).keep(2).dry_run(false);
    let done = spawnable(std::future::IntoFuture::into_future(prune)).await.unwrap();
    assert!(done.deleted && done.errors.is_empty(), "{:?}", done.errors);
    let left = snapshot_ids(&client).await;
    let want: std::collections::BTreeSet<String> = ["agent-t1-x-2", "agent-t1-4", "agent-t1-x-5", "agent-t1-6"]
        .iter()
        .map(|n| ids[n].clone())
        .collect();
    assert_eq!(left, want, "task t1-x's snapshots are not task t1's");

    // An empty prefix would be every snapshot: refused before any request.
    match client.prune_snapshots(SnapshotFamily::prefix("")).dry_run(false).await {
        Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "family"),
        other => panic!("{other:?}"),
    }
    for id in left {
        client.snapshots().delete(&id).await.unwrap();
    }
    vm.delete().await.unwrap();
}

fn snapshot_json(id: &str, name: &str, status: &str, created_at: &str) -> Value {
    json!({ "id": id, "name": name, "orgId": "org-7f3a", "vmId": "vm-1", "status": status, "createdAt": created_at })
}

#[tokio::test]
async fn a_prune_reports_failed_deletes_per_snapshot_and_goes_on() {
    let api = Api::start().await;
    let list = json!([
        snapshot_json("s1", "nightly-1", "ready", "2026-05-11T10:00:00Z"),
        snapshot_json("s2", "nightly-2", "ready", "2026-05-12T10:00:00Z"),
        snapshot_json("s3", "nightly-3", "error", "2026-05-13T10:00:00Z"),
        snapshot_json("s4", "nightly-4", "creating", "2026-05-10T10:00:00Z"),
        snapshot_json("s5", "nightly-5", "ready", "2026-05-15T10:00:00Z"),
        snapshot_json("other", "nightly-x", "ready", "2026-05-01T10:00:00Z"),
    ]);
    api.expect_times("listSnapshots", "/v1/snapshots", 200, list, 1).await;
    api.expect(
        "deleteSnapshot",
        "/v1/snapshots/s2",
        200,
        json!({"id": "s2", "deleted": true}),
    )
    .await;
    let failure = common::json_response(500, &json!({"error": "storage unavailable"}));
    api.respond("deleteSnapshot", "/v1/snapshots/s1", failure, 1).await;
    let gone = common::json_response(404, &json!({"error": "snapshot not found"}));
    api.respond("deleteSnapshot", "/v1/snapshots/s3", gone, 1).await;

    let report = api
        .client
        .prune_snapshots(SnapshotFamily::numbered("nightly-"))
        .dry_run(false)
        .await
        .unwrap();
    let ids = |s: &[fastvm::types::Snapshot]| s.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&report.kept), ["s5", "s4"], "the newest, and one still being made");
    assert_eq!(ids(&report.pruned), ["s3", "s2", "s1"]);
    assert!(report.deleted);
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    let failed = &report.errors[0];
    assert_eq!(
        (failed.kind, failed.id.as_str()),
        (fastvm::workflows::SweptKind::Snapshot, "s1")
    );
    assert_eq!(failed.error.status().map(|s| s.as_u16()), Some(500));
    api.server.verify().await;
}

// ---- services' public URLs -----------------------------------------------------------------

#[tokio::test]
async fn a_service_url_needs_the_stack_domain_with_the_fake() {
    let (_server, client, vm) = fastvm_tests::fake::with_vm("services").await;
    let vm = client.attach(&vm).await.unwrap();
    let service = vm.services().register("web", 8080).await.unwrap();
    match vm.services().public_url(&service.name) {
        Err(Error::InvalidInput { field, message, .. }) => {
            assert_eq!(field, "base_url");
            assert!(message.contains("public_url_in"), "{message}");
        }
        other => panic!("the fake's 127.0.0.1 base URL names no stack: {other:?}"),
    }
    let url = vm.services().public_url_in("fastvm.org", &service.name).unwrap();
    assert_eq!(
        url,
        format!("https://web--{}.proxy.fastvm.org", vm.id().replace('-', ""))
    );
}

// ---- owning a re-attached VM ---------------------------------------------------------------

/// `future`, checked to be `Send` (so it can be spawned).
fn spawnable<F: std::future::Future + Send>(future: F) -> F {
    future
}

/// `client.attach(id)`, then owned with a safety TTL of `ttl`.
async fn own_again(client: &FastvmClient, id: &str, ttl: Duration) -> fastvm::vm::OwnedVm {
    let vm = client.attach(id).await.unwrap();
    spawnable(vm.own_with_safety_ttl(ttl)).await.unwrap()
}

async fn expires_at(client: &FastvmClient, id: &str) -> i64 {
    let vm = client.vms().retrieve(id).await.unwrap();
    vm.expires_at_ms.expect("a running VM with a TTL has a deadline")
}

#[tokio::test]
async fn a_reattached_vm_owned_with_a_safety_ttl_is_kept_alive_and_deleted_on_drop() {
    let server = FakeServer::start().await.expect("fake server");
    let client = fastvm_tests::fake::client(&server);
    // A VM without a TTL: one is set, with action delete, and kept alive.
    let bare = client
        .launch_vm(launch::machine("c1m2"))
        .no_safety_ttl()
        .await
        .unwrap()
        .release();
    assert!(bare.state().ttl.is_none());
    let bare = bare.state().clone();
    let owned = own_again(&client, &bare.id, Duration::from_secs(6)).await;
    let ttl = owned.state().ttl.clone().expect("a safety TTL");
    assert_eq!((ttl.seconds, ttl.action), (6, TtlAction::Delete));
    let first = expires_at(&client, &bare.id).await;
    eventually("the keepalive moved the deadline", || {
        let (client, id) = (client.clone(), bare.id.clone());
        async move { expires_at(&client, &id).await > first }
    })
    .await;
    drop(owned);
    assert!(!vm_ids(&client).await.contains(&bare.id), "deleted on drop");

    // A VM whose launch_vm process went away: its delete TTL is kept as it is, and kept alive.
    let orphan = client
        .launch_vm(launch::machine("c1m2"))
        .safety_ttl(Duration::from_secs(6))
        .await
        .unwrap()
        .release();
    let owned = own_again(&client, orphan.id(), Duration::from_secs(600)).await;
    assert_eq!(
        owned.state().ttl.as_ref().map(|t| t.seconds),
        Some(6),
        "its own TTL stays"
    );
    let first = expires_at(&client, orphan.id()).await;
    eventually("the keepalive moved the orphan's deadline", || {
        let (client, id) = (client.clone(), orphan.id().to_string());
        async move { expires_at(&client, &id).await > first }
    })
    .await;
    owned.delete().await.unwrap();

    // A pause TTL is the caller's: kept, not replaced; the guard still deletes the VM.
    let paused_later = client
        .launch_vm(launch::machine("c1m2").ttl(Duration::from_secs(3600), TtlAction::Pause))
        .await
        .unwrap()
        .release();
    let owned = own_again(&client, paused_later.id(), Duration::from_secs(600)).await;
    let ttl = owned.state().ttl.clone().unwrap();
    assert_eq!((ttl.seconds, ttl.action), (3600, TtlAction::Pause));
    drop(owned);
    assert!(vm_ids(&client).await.is_empty());
}

#[tokio::test]
async fn a_failed_ttl_update_is_returned() {
    let server = FakeServer::start().await.expect("fake server");
    let client = fastvm_tests::fake::client(&server);
    let launched = client.vms().launch(launch::machine("c1m2")).await.unwrap();
    let (state, _) = launched.into_parts();
    let vm = client.attach(&state.id).await.unwrap();
    client.vms().delete(&state.id).await.unwrap();
    // Its state still says "no TTL": the PATCH finds no VM.
    let err = vm.own_with_safety_ttl(Duration::from_secs(60)).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}
