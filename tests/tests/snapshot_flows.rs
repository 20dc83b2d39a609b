//! Snapshot flows: waiting until a snapshot is ready, creating one that is ready when returned,
//! finding snapshots by name and prefix, names the server keeps as they are, and the image
//! builder (steps, failures, rotation). Against `fastvm-fake` (whose snapshots are `creating`
//! for `snapshot_duration`, and copy the VM's files), and wiremock where the fake cannot answer
//! the case (a snapshot in `error`, an unknown status, chosen `createdAt`s).

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Api, assert_invalid};
use fastvm::exec::Command;
use fastvm::types::SnapshotStatus;
use fastvm::{Error, FastvmClient, launch, names};
use fastvm_fake::FakeServer;
use fastvm_tests::fake::{snapshot_ids, vm_ids};
use serde_json::{Value, json};

const SNAP: &str = "5d6e7f80-1111-2222-3333-444455556666";
const VM: &str = "0b5e2f9a-1c3d-4e5f-8a9b-0c1d2e3f4a5b";
const FAST: Duration = Duration::from_millis(100);
const T: Option<&str> = Some("2026-05-15T10:00:00Z");

async fn fake_with_snapshot_duration(d: Duration) -> (FakeServer, FastvmClient) {
    let server = FakeServer::builder()
        .snapshot_duration(d)
        .start()
        .await
        .expect("fake server");
    let client = fastvm_tests::fake::client(&server);
    (server, client)
}

fn snapshot_json(id: &str, name: &str, status: &str, created_at: Option<&str>) -> Value {
    let mut v = json!({ "id": id, "name": name, "orgId": "org-7f3a", "vmId": VM, "status": status });
    if let Some(t) = created_at {
        v["createdAt"] = json!(t);
    }
    v
}

// ---- waiting -------------------------------------------------------------------------------

#[tokio::test]
async fn waits_for_a_snapshot_through_creating() {
    let (_server, client) = fake_with_snapshot_duration(Duration::from_millis(700)).await;
    let vm = client.launch_vm(launch::machine("c1m2")).await.unwrap();

    let snap = vm.snapshot().name("golden").await.unwrap();
    assert_eq!(snap.status, SnapshotStatus::Creating, "the fake makes it for 700 ms");
    let started = Instant::now();
    let ready = client
        .wait_for_snapshot_ready(&snap.id)
        .poll_interval(FAST)
        .await
        .unwrap();
    assert_eq!(
        (ready.id.as_str(), ready.status.clone()),
        (snap.id.as_str(), SnapshotStatus::Ready)
    );
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "it polled while creating"
    );

    // Create and wait in one.
    let made = vm
        .snapshot()
        .name("second")
        .wait_ready()
        .poll_interval(FAST)
        .await
        .unwrap();
    assert_eq!((made.name.as_str(), made.status), ("second", SnapshotStatus::Ready));
    vm.delete().await.unwrap();
}

#[tokio::test]
async fn the_deadline_gives_snapshot_not_ready_and_wait_ready_deletes_its_snapshot() {
    let (_server, client) = fake_with_snapshot_duration(Duration::from_secs(60)).await;
    let vm = client.launch_vm(launch::machine("c1m2")).await.unwrap();

    let snap = vm.snapshot().await.unwrap();
    let err = client
        .wait_for_snapshot_ready(&snap.id)
        .poll_interval(FAST)
        .deadline(Duration::from_millis(700))
        .await
        .unwrap_err();
    match &err {
        Error::SnapshotNotReady {
            snapshot_id,
            last_status,
            waited,
            ..
        } => {
            assert_eq!(snapshot_id, &snap.id);
            assert_eq!(last_status, &SnapshotStatus::Creating);
            assert!(*waited >= Duration::from_millis(700), "{waited:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("not ready"), "{err}");
    assert_eq!(
        snapshot_ids(&client).await,
        BTreeSet::from([snap.id.clone()]),
        "a plain wait leaves the snapshot"
    );

    let err = vm
        .snapshot()
        .name("never")
        .wait_ready()
        .poll_interval(FAST)
        .deadline(Duration::from_millis(600))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SnapshotNotReady { .. }), "{err:?}");
    assert_eq!(
        snapshot_ids(&client).await,
        BTreeSet::from([snap.id.clone()]),
        "wait_ready deleted the snapshot it made"
    );
    vm.delete().await.unwrap();
}

#[tokio::test]
async fn error_is_snapshot_failed_and_unknown_statuses_mean_in_progress() {
    let api = Api::start().await;
    let one = format!("/v1/snapshots/{SNAP}");
    api.expect("getSnapshot", &one, 200, snapshot_json(SNAP, "golden", "error", T))
        .await;
    let err = api.client.wait_for_snapshot_ready(SNAP).await.unwrap_err();
    match &err {
        Error::SnapshotFailed { snapshot_id, name, .. } => {
            assert_eq!((snapshot_id.as_str(), name.as_str()), (SNAP, "golden"))
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains(SNAP), "{err}");

    // creating, then a status this SDK does not know, then ready: three polls.
    api.next_case().await;
    let creating = snapshot_json(SNAP, "golden", "creating", T);
    let unknown = snapshot_json(SNAP, "golden", "archiving", T);
    common::valid_fixture("getSnapshot", 200, &unknown);
    api.respond_first("getSnapshot", &one, common::json_response(200, &creating), 1)
        .await;
    api.respond_first("getSnapshot", &one, common::json_response(200, &unknown), 1)
        .await;
    api.expect("getSnapshot", &one, 200, snapshot_json(SNAP, "golden", "ready", T))
        .await;
    let ready = api
        .client
        .wait_for_snapshot_ready(SNAP)
        .poll_interval(FAST)
        .await
        .unwrap();
    assert_eq!(ready.status, SnapshotStatus::Ready);
    assert_eq!(api.received().await.len(), 3);

    // Always unknown: the deadline names the last status seen.
    api.next_case().await;
    api.expect_times("getSnapshot", &one, 200, unknown.clone(), 1..).await;
    let err = api
        .client
        .wait_for_snapshot_ready(SNAP)
        .poll_interval(FAST)
        .deadline(Duration::from_millis(600))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::SnapshotNotReady { last_status: SnapshotStatus::Unknown(s), .. } if s == "archiving"),
        "{err:?}"
    );
}

#[tokio::test]
async fn wait_ready_deletes_a_snapshot_that_ends_in_error() {
    let api = Api::start().await;
    let one = format!("/v1/snapshots/{SNAP}");
    api.expect(
        "createSnapshot",
        "/v1/snapshots",
        201,
        snapshot_json(SNAP, "golden", "creating", T),
    )
    .await;
    api.expect("getSnapshot", &one, 200, snapshot_json(SNAP, "golden", "error", T))
        .await;
    api.expect_done("deleteSnapshot", &one, json!({ "id": SNAP, "deleted": true }))
        .await;
    let err = api
        .client
        .snapshots()
        .create(VM)
        .name("golden")
        .wait_ready()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SnapshotFailed { .. }), "{err:?}");
    let methods: Vec<String> = api.received().await.iter().map(|r| r.method.to_string()).collect();
    assert_eq!(methods, ["POST", "GET", "DELETE"], "deleted after the failed wait");
    api.server.verify().await;

    // A snapshot that is ready at once is returned without polling.
    api.next_case().await;
    api.expect(
        "createSnapshot",
        "/v1/snapshots",
        201,
        snapshot_json(SNAP, "golden", "ready", T),
    )
    .await;
    let snap = api.client.snapshots().create(VM).wait_ready().await.unwrap();
    assert_eq!(snap.status, SnapshotStatus::Ready);
}

// ---- finding ---------------------------------------------------------------------------------

#[tokio::test]
async fn find_by_name_and_newest_with_prefix_choose_the_newest() {
    let api = Api::start().await;
    let list = json!([
        snapshot_json("a", "app", "ready", Some("2026-05-15T10:00:00Z")),
        snapshot_json("b", "app", "ready", Some("2026-05-15T12:00:00Z")),
        snapshot_json("c", "app", "ready", None),
        snapshot_json("d", "app-v2", "creating", Some("2026-05-15T13:00:00Z")),
        snapshot_json("e", "application", "ready", Some("2026-05-15T09:00:00Z")),
        snapshot_json("f", "other", "ready", Some("2026-05-15T14:00:00Z")),
        snapshot_json("g1", "undated", "ready", None),
        snapshot_json("g2", "undated", "error", None),
        snapshot_json("h", "App", "ready", Some("2026-05-15T15:00:00Z")),
    ]);
    // `createdAt` is required by the spec, but the SDK reads snapshots without one (three
    // here): served as written, without the fixture check.
    api.respond("listSnapshots", "/v1/snapshots", common::json_response(200, &list), 9)
        .await;
    let snaps = api.client.snapshots();
    let id = |s: Option<fastvm::types::Snapshot>| s.map(|s| s.id);

    assert_eq!(
        id(snaps.find_by_name("app").await.unwrap()),
        Some("b".into()),
        "newest of three"
    );
    assert_eq!(
        id(snaps.find_by_name("  app\t").await.unwrap()),
        Some("b".into()),
        "compared as the server stores names"
    );
    assert_eq!(id(snaps.find_by_name("apps").await.unwrap()), None);
    assert_eq!(
        id(snaps.find_by_name("undated").await.unwrap()),
        Some("g2".into()),
        "without createdAt: the last listed, whatever its status"
    );
    assert_eq!(id(snaps.newest_with_prefix("app-").await.unwrap()), Some("d".into()));
    assert_eq!(
        id(snaps.newest_with_prefix("app").await.unwrap()),
        Some("d".into()),
        "newest of app, app-v2 and application (case-sensitive: not App)"
    );
    assert_eq!(id(snaps.newest_with_prefix("A").await.unwrap()), Some("h".into()));
    assert_eq!(id(snaps.newest_with_prefix("zzz").await.unwrap()), None);
    assert_eq!(id(snaps.newest_with_prefix("undat").await.unwrap()), Some("g2".into()));
    api.server.verify().await;

    // Refused before any request (the catch-all fails the test on any).
    api.next_case().await;
    assert_invalid(snaps.find_by_name("").await, "name");
    assert_invalid(snaps.find_by_name(" \n ").await, "name");
    assert_invalid(snaps.newest_with_prefix("").await, "prefix");
    assert!(api.received().await.is_empty());
}

#[tokio::test]
async fn find_by_name_against_the_fake() {
    let (_server, client) = fake_with_snapshot_duration(Duration::ZERO).await;
    let vm = client.launch_vm(launch::machine("c1m2")).await.unwrap();
    let first = vm.snapshot().name("golden").await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = vm.snapshot().name("golden").await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let other = vm.snapshot().name("golden-2").await.unwrap();
    assert_ne!(first.id, second.id);

    let found = client.snapshots().find_by_name("golden").await.unwrap().unwrap();
    assert_eq!(found.id, second.id);
    let newest = client.snapshots().newest_with_prefix("gold").await.unwrap().unwrap();
    assert_eq!(newest.id, other.id);
    assert!(client.snapshots().find_by_name("silver").await.unwrap().is_none());
    vm.delete().await.unwrap();
}

/// What `names::sanitize` gives is stored as it is, and raw names are stored as `sanitize`
/// says (for names without control characters, which the server keeps and `sanitize` drops).
#[tokio::test]
async fn sanitized_names_are_kept_by_the_server() {
    let (_server, client) = fake_with_snapshot_duration(Duration::ZERO).await;
    let vm = client.launch_vm(launch::machine("c1m2")).await.unwrap();
    let long_unicode = "ünïcödé ".repeat(12);
    let cut_at_space = format!("{} tail", "x".repeat(63));
    let inputs = [
        "  spaced \t out  ",
        "tabs\tand\nnewlines",
        "crab 🦀 names",
        long_unicode.as_str(),
        cut_at_space.as_str(),
        "with \u{1b}[31m escape",
        "nul\u{0}byte",
    ];
    for input in inputs {
        let clean = names::sanitize(input);
        let snap = vm.snapshot().name(clean.as_str()).await.unwrap();
        assert_eq!(snap.name, clean, "{input:?} sanitised is stored as it is");
        assert!(clean.chars().count() <= names::MAX_CHARS);
        // Later than `snap` by the clock, so that it is the newest of the two with this name.
        tokio::time::sleep(Duration::from_millis(5)).await;

        let raw = vm.snapshot().name(input).await.unwrap();
        if !input.chars().any(|c| c.is_control() && !c.is_whitespace()) {
            // A space left at the 64-character cut: the fake keeps it, `sanitize` does not.
            assert_eq!(
                raw.name.trim_end(),
                clean,
                "the server's rules, as sanitize applies them: {input:?}"
            );
        }
        // Found by the name it was created with, whatever the server did to it.
        let found = client.snapshots().find_by_name(input).await.unwrap().unwrap();
        assert_eq!(found.id, raw.id, "{input:?}");
    }
    vm.delete().await.unwrap();
}

// ---- image builder ---------------------------------------------------------------------------

#[tokio::test]
async fn an_image_has_the_files_its_steps_wrote() {
    let (_server, client) = fake_with_snapshot_duration(Duration::from_millis(300)).await;
    // Relative paths: the VM's working directory, with or without the fake's isolation.
    let image = client
        .build_image("  app\timage ", launch::machine("c1m2").label("role", "builder"))
        .step("mkdir -p app && echo one > app/a.txt")
        .step(Command::bash("set -euo pipefail; echo two >> app/a.txt; echo built").timeout(Duration::from_secs(60)))
        .poll_interval(FAST)
        .await
        .unwrap();
    assert_eq!(image.snapshot.name, "app image", "the sanitised name");
    assert_eq!(image.snapshot.status, SnapshotStatus::Ready);
    assert_eq!(image.steps.len(), 2);
    assert_eq!(image.steps[1].stdout, "built\n");
    assert!(image.rotated.is_empty() && image.cleanup_errors.is_empty(), "{image:?}");
    assert!(vm_ids(&client).await.is_empty(), "the builder VM is deleted");

    let restored = client.launch_vm(launch::snapshot(&image.snapshot.id)).await.unwrap();
    let out = restored.run("cat app/a.txt").await.unwrap().check().unwrap();
    assert_eq!(out.stdout, "one\ntwo\n");
    restored.delete().await.unwrap();
}

#[tokio::test]
async fn a_failing_step_leaves_nothing_behind_and_names_the_step() {
    let (_server, client) = fake_with_snapshot_duration(Duration::from_millis(300)).await;
    let err = client
        .build_image("broken", launch::machine("c1m2"))
        .step("echo fine")
        .step("echo some output; echo boom >&2; exit 7")
        .step("echo never")
        .poll_interval(FAST)
        .await
        .unwrap_err();
    match &err {
        Error::ImageStepFailed {
            image,
            step,
            steps,
            completed,
            source,
            ..
        } => {
            assert_eq!((image.as_str(), *step, *steps), ("broken", 2, 3));
            let before: Vec<&str> = completed.iter().map(|o| o.stdout.as_str()).collect();
            assert_eq!(before, ["fine\n"], "the output of the step before the failure is kept");
            match source.as_ref() {
                Error::CommandFailed {
                    exit_code,
                    stdout_tail,
                    stderr_tail,
                    ..
                } => {
                    assert_eq!(*exit_code, 7);
                    assert_eq!(stdout_tail, "some output\n");
                    assert_eq!(stderr_tail, "boom\n");
                }
                other => panic!("{other:?}"),
            }
        }
        other => panic!("{other:?}"),
    }
    let shown = err.to_string();
    assert!(shown.contains("step 2 of 3") && shown.contains("boom"), "{shown}");
    // The message already says what the step's error said (kept in the `source` field), so
    // `source()` is `None`: a chain printer shows "boom" once.
    assert!(std::error::Error::source(&err).is_none());
    assert_eq!(shown.matches("exit code 7").count(), 1, "{shown}");
    assert!(vm_ids(&client).await.is_empty(), "the builder VM is deleted");
    assert!(snapshot_ids(&client).await.is_empty(), "no snapshot was made");
}

#[tokio::test]
async fn an_image_whose_snapshot_is_not_ready_in_time_leaves_nothing_behind() {
    let (_server, client) = fake_with_snapshot_duration(Duration::from_secs(60)).await;
    let err = client
        .build_image("slow", launch::machine("c1m2"))
        .step("true")
        .poll_interval(FAST)
        .deadline(Duration::from_millis(700))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SnapshotNotReady { .. }), "{err:?}");
    assert!(vm_ids(&client).await.is_empty(), "the builder VM is deleted");
    assert!(
        snapshot_ids(&client).await.is_empty(),
        "the unfinished snapshot is deleted"
    );
}

#[tokio::test]
async fn rotation_deletes_the_previous_image_only_once_the_new_one_is_ready() {
    let (_server, client) = fake_with_snapshot_duration(Duration::from_millis(900)).await;
    let build = |marker: &'static str| {
        client
            .build_image("app", launch::machine("c1m2"))
            .step(format!("echo {marker} > version"))
            .poll_interval(FAST)
            .rotate(true)
    };
    let v1 = build("v1").await.unwrap();
    assert!(v1.rotated.is_empty());

    // Snapshots that rotation must keep: another name, one starting with the image's name.
    let vm = client.launch_vm(launch::machine("c1m2")).await.unwrap();
    let keep = vm
        .snapshot()
        .name("app-other")
        .wait_ready()
        .poll_interval(FAST)
        .await
        .unwrap();
    let keep2 = vm
        .snapshot()
        .name("unrelated")
        .wait_ready()
        .poll_interval(FAST)
        .await
        .unwrap();
    vm.delete().await.unwrap();

    // Watch the snapshots while v2 is built: v1 may only disappear once another `app` is ready.
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (client, done, v1_id) = (client.clone(), done.clone(), v1.snapshot.id.clone());
        tokio::spawn(async move {
            let mut seen_v1_while_v2_creating = false;
            // Until the build returned and v2 was seen ready: a build that returned early must
            // not hide a deletion made before v2 is ready.
            for _ in 0..400 {
                let returned = done.load(Ordering::SeqCst);
                let all = client.snapshots().list().await.unwrap();
                let v1_there = all.iter().any(|s| s.id == v1_id);
                let new_app = all.iter().filter(|s| s.name == "app" && s.id != v1_id);
                let new_ready = new_app.clone().any(|s| s.status == SnapshotStatus::Ready);
                let new_creating = new_app.clone().any(|s| s.status == SnapshotStatus::Creating);
                assert!(v1_there || new_ready, "v1 was deleted before v2 was ready: {all:?}");
                seen_v1_while_v2_creating |= v1_there && new_creating;
                if returned && new_ready {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            seen_v1_while_v2_creating
        })
    };
    let v2 = build("v2").await.unwrap();
    done.store(true, Ordering::SeqCst);
    assert!(
        watcher.await.unwrap(),
        "the watcher saw v1 kept while v2 was being made"
    );
    assert_eq!(v2.rotated, std::slice::from_ref(&v1.snapshot.id));
    assert!(v2.cleanup_errors.is_empty(), "{:?}", v2.cleanup_errors);
    let left = snapshot_ids(&client).await;
    let want = BTreeSet::from([v2.snapshot.id.clone(), keep.id, keep2.id]);
    assert_eq!(left, want, "v1 is gone; v2 and the other names stay");

    // The image restores v2's files.
    let vm = client.launch_vm(launch::snapshot(&v2.snapshot.id)).await.unwrap();
    assert_eq!(vm.run("cat version").await.unwrap().stdout, "v2\n");
    vm.delete().await.unwrap();

    // Without rotation the previous image stays.
    let v3 = client
        .build_image("app", launch::machine("c1m2"))
        .step("true")
        .poll_interval(FAST)
        .await
        .unwrap();
    assert!(v3.rotated.is_empty());
    let ids = snapshot_ids(&client).await;
    assert!(ids.contains(&v2.snapshot.id) && ids.contains(&v3.snapshot.id));
    let found = client.snapshots().find_by_name("app").await.unwrap().unwrap();
    assert_eq!(found.id, v3.snapshot.id, "the newest image is found by its name");
}

#[tokio::test]
async fn an_image_built_from_an_image() {
    let (_server, client) = fake_with_snapshot_duration(Duration::ZERO).await;
    let base = client
        .build_image("base", launch::machine("c1m2"))
        .step("echo base > layer1")
        .poll_interval(FAST)
        .await
        .unwrap();
    let app = client
        .build_image("app", launch::snapshot(&base.snapshot.id))
        .step("cat layer1 && echo app > layer2")
        .poll_interval(FAST)
        .await
        .unwrap();
    assert_eq!(app.steps[0].stdout, "base\n");
    let vm = client.launch_vm(launch::snapshot(&app.snapshot.id)).await.unwrap();
    assert_eq!(vm.run("cat layer1 layer2").await.unwrap().stdout, "base\napp\n");
    vm.delete().await.unwrap();
}
