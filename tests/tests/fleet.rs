//! Fleets and sweeps: `client.fleet(params, n)` (a concurrency limit, refusals for quota waited
//! out within the deadline, everything deleted on failure) and `client.sweep()` (labels, name
//! prefix, age; a dry run by default). Against `fastvm-fake` (its fault injection gives the
//! failing and quota-refused launches), and wiremock for chosen `createdAt`s and failing
//! deletes.

mod common;

use fastvm_tests::fake::eventually;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Api, assert_invalid, json_response};
use fastvm::types::VmStatus;
use fastvm::workflows::SweptKind;
use fastvm::{ApiErrorKind, Error, FastvmClient, launch};
use fastvm_fake::{FakeServer, Fault, Limits};
use fastvm_tests::fake::{snapshot_ids, vm_ids};
use serde_json::{Value, json};

const FAST: Duration = Duration::from_millis(100);

async fn fake() -> (FakeServer, FastvmClient) {
    let server = FakeServer::start().await.expect("fake server");
    let client = fastvm_tests::fake::client(&server);
    (server, client)
}

fn quota_refusal() -> Fault {
    Fault::status(429).body(json!({ "error": "org quota exceeded: vcpu", "dimension": "vcpu" }))
}

// ---- fleets ----------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_launches_with_a_concurrency_limit_and_is_deleted_when_dropped() {
    let server = FakeServer::builder()
        .boot_delay(Duration::from_millis(400))
        .start()
        .await
        .unwrap();
    let client = fastvm_tests::fake::client(&server);

    // Counts the VMs the server has booting at once.
    let (done, most) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
    let watcher = {
        let (client, done, most) = (client.clone(), done.clone(), most.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                let booting = client.vms().list().status(VmStatus::Provisioning).await.unwrap().len();
                most.fetch_max(booting, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let started = Instant::now();
    let fleet = client
        .fleet(launch::machine("c1m2").label("fleet", "f1"), 6)
        .concurrency(2)
        .poll_interval(FAST)
        .await
        .unwrap();
    let took = started.elapsed();
    done.store(true, Ordering::SeqCst);
    watcher.await.unwrap();

    assert_eq!(fleet.len(), 6);
    let ids: BTreeSet<String> = fleet.iter().map(|vm| vm.id().to_string()).collect();
    assert_eq!(ids.len(), 6, "six different VMs");
    for vm in &fleet {
        assert_eq!(vm.state().status, VmStatus::Running);
        assert_eq!(vm.state().metadata.as_ref().unwrap().get("fleet").unwrap(), "f1");
    }
    assert_eq!(vm_ids(&client).await, ids);
    assert!(
        most.load(Ordering::SeqCst) <= 2,
        "at most 2 booting at once, saw {most:?}"
    );
    assert!(
        took >= Duration::from_millis(1200),
        "6 VMs 2 at a time take 3 boots of 400 ms: {took:?}"
    );

    drop(fleet);
    eventually("the dropped fleet's VMs are deleted", || async {
        vm_ids(&client).await.is_empty()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_launch_deletes_every_vm_of_the_fleet() {
    // One at a time: two launches go through, the third fails, and no fourth is started (it
    // would be answered 418).
    let (server, client) = fake().await;
    let faults = server.faults();
    faults.push("launchVm", Fault::delay(Duration::ZERO).times(2));
    faults.push("launchVm", Fault::status(500));
    faults.push("launchVm", Fault::status(418).times(10));
    let err = client
        .fleet(launch::machine("c1m2"), 5)
        .concurrency(1)
        .poll_interval(FAST)
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(500), "{err:?}");
    assert!(
        vm_ids(&client).await.is_empty(),
        "the two VMs launched before the failure were deleted before the fleet returned"
    );
    assert_eq!(
        faults.pending("launchVm"),
        10,
        "no launch was started after the failure"
    );

    // Three at a time: the launches under way when one fails finish, and are deleted too.
    let (server, client) = fake().await;
    let faults = server.faults();
    faults.push("launchVm", Fault::delay(Duration::ZERO).times(2));
    faults.push("launchVm", Fault::status(500).times(10));
    let err = client
        .fleet(launch::machine("c1m2"), 6)
        .concurrency(3)
        .poll_interval(FAST)
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(500), "{err:?}");
    assert!(vm_ids(&client).await.is_empty(), "every launched VM was deleted");
    assert!(
        faults.pending("launchVm") >= 10 - 3,
        "at most the launches under way failed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exceeded_quota_that_clears_is_waited_out() {
    let (server, client) = fake().await;
    server.faults().push("launchVm", quota_refusal().times(3));
    let started = Instant::now();
    let fleet = client
        .fleet(launch::machine("c1m2"), 2)
        .poll_interval(FAST)
        .deadline(Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(fleet.len(), 2);
    assert_eq!(server.faults().pending("launchVm"), 0, "all three refusals were met");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "it waited before trying again"
    );
    for vm in fleet {
        vm.delete().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quota_that_outlasts_the_deadline_fails_the_fleet_and_deletes_it() {
    let (server, client) = fake().await;
    server.faults().push("launchVm", Fault::delay(Duration::ZERO));
    server.faults().push("launchVm", quota_refusal().times(1000));
    let started = Instant::now();
    let err = client
        .fleet(launch::machine("c1m2"), 3)
        .concurrency(1)
        .poll_interval(FAST)
        .deadline(Duration::from_secs(2))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(err.is_timeout(), "{err:?}");
    let shown = err.to_string();
    assert!(shown.contains("1 of 3") && shown.contains("quota"), "{shown}");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(8),
        "{took:?}"
    );
    assert!(vm_ids(&client).await.is_empty(), "the one launched VM was deleted");
}

/// The fake's own quota answers a plain 429 (no `dimension`): a rate limit, waited out too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_waits_for_room_under_the_org_quota() {
    let server = FakeServer::builder()
        .limits(Limits {
            vcpu: 2,
            ..Limits::default()
        })
        .start()
        .await
        .unwrap();
    let client = fastvm_tests::fake::client(&server);
    let blocker = client.launch_vm(launch::machine("c1m2")).await.unwrap();
    let refused = client.vms().launch(launch::machine("c2m4")).await.unwrap_err();
    assert_eq!(
        refused.api().map(|a| a.kind),
        Some(ApiErrorKind::RateLimit),
        "{refused:?}"
    );

    let freer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        blocker.delete().await.unwrap();
    });
    let started = Instant::now();
    let fleet = client
        .fleet(launch::machine("c1m2"), 2)
        .poll_interval(FAST)
        .deadline(Duration::from_secs(30))
        .await
        .unwrap();
    freer.await.unwrap();
    assert_eq!(fleet.len(), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(1400),
        "the second waited for room"
    );
    for vm in fleet {
        vm.delete().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_passing_while_vms_boot_fails_the_fleet_and_deletes_it() {
    let server = FakeServer::builder()
        .boot_delay(Duration::from_secs(30))
        .start()
        .await
        .unwrap();
    let client = fastvm_tests::fake::client(&server);
    let err = client
        .fleet(launch::machine("c1m2"), 2)
        .poll_interval(FAST)
        .deadline(Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::VmNotReady { .. }), "{err:?}");
    eventually("the booting VMs are deleted", || async {
        vm_ids(&client).await.is_empty()
    })
    .await;
}

// ---- sweeps ----------------------------------------------------------------------------------

async fn labelled(client: &FastvmClient, name: &str, labels: &[(&str, &str)]) -> String {
    let mut params = launch::machine("c1m2").name(name);
    for (k, v) in labels {
        params = params.label(*k, *v);
    }
    fastvm_tests::fake::launch_kept(client, params).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_lists_and_a_real_sweep_deletes_only_what_matches() {
    let (_server, client) = fake().await;
    let a = labelled(&client, "sweep-a", &[("team", "x"), ("job", "1")]).await;
    let b = labelled(&client, "sweep-b", &[("team", "x")]).await;
    let c = labelled(&client, "control", &[]).await;
    let d = labelled(&client, "other-team", &[("team", "y")]).await;

    let dry = client.sweep().label("team", "x").await.unwrap();
    let matched: BTreeSet<String> = dry.vms.iter().map(|v| v.id.clone()).collect();
    assert_eq!(matched, BTreeSet::from([a.clone(), b.clone()]));
    assert!(!dry.deleted && dry.errors.is_empty() && dry.snapshots.is_empty());
    assert_eq!(
        vm_ids(&client).await.len(),
        4,
        "a dry run deletes nothing (the default)"
    );

    let both = client.sweep().label("team", "x").label("job", "1").await.unwrap();
    assert_eq!(both.vms.len(), 1, "every label must match");
    assert_eq!(both.vms[0].id, a);

    let real = client
        .sweep()
        .label("team", "x")
        .older_than(Duration::ZERO)
        .dry_run(false)
        .await
        .unwrap();
    assert!(real.deleted && real.errors.is_empty(), "{real:?}");
    assert_eq!(real.vms.len(), 2);
    assert_eq!(vm_ids(&client).await, BTreeSet::from([c, d]));

    // By name prefix.
    let ci1 = labelled(&client, "ci-1", &[]).await;
    let ci2 = labelled(&client, "ci-2", &[]).await;
    let real = client.sweep().name_prefix("ci-").dry_run(false).await.unwrap();
    let swept: BTreeSet<String> = real.vms.iter().map(|v| v.id.clone()).collect();
    assert_eq!(swept, BTreeSet::from([ci1, ci2]));
    assert_eq!(vm_ids(&client).await.len(), 2, "the control and the other team stay");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_deletes_only_what_is_old_enough_and_sweeps_snapshots_by_label() {
    let server = FakeServer::builder()
        .snapshot_duration(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let client = fastvm_tests::fake::client(&server);
    let old = labelled(&client, "old", &[("job", "ci")]).await;
    let control = labelled(&client, "control", &[]).await;
    let old_snap = client.snapshots().create(&old).await.unwrap();
    let control_snap = client.snapshots().create(&control).await.unwrap();
    assert_eq!(
        old_snap
            .metadata
            .as_ref()
            .and_then(|m| m.get("job"))
            .map(String::as_str),
        Some("ci"),
        "a snapshot carries its VM's metadata"
    );

    // `old` is at least 3 s old at the sweep; `young` would have to take 2.9 s to launch and
    // snapshot to be swept too.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let young = labelled(&client, "young", &[("job", "ci")]).await;
    let young_snap = client.snapshots().create(&young).await.unwrap();

    // Snapshots only: the VMs stay (and are not even listed).
    let snaps_only = client
        .sweep()
        .label("job", "ci")
        .vms(false)
        .snapshots(true)
        .await
        .unwrap();
    assert!(snaps_only.vms.is_empty(), "{snaps_only:?}");
    assert_eq!(
        snaps_only
            .snapshots
            .iter()
            .map(|s| s.id.as_str())
            .collect::<BTreeSet<_>>(),
        BTreeSet::from([old_snap.id.as_str(), young_snap.id.as_str()])
    );

    let report = client
        .sweep()
        .label("job", "ci")
        .older_than(Duration::from_millis(2900))
        .snapshots(true)
        .dry_run(false)
        .await
        .unwrap();
    assert!(report.errors.is_empty(), "{report:?}");
    assert_eq!(
        report.vms.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(),
        [old.as_str()]
    );
    assert_eq!(
        report.snapshots.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        [old_snap.id.as_str()]
    );
    assert_eq!(vm_ids(&client).await, BTreeSet::from([control, young]));
    assert_eq!(
        snapshot_ids(&client).await,
        BTreeSet::from([control_snap.id, young_snap.id])
    );
}

#[tokio::test]
async fn a_sweep_that_would_match_everything_is_refused_before_any_request() {
    let api = Api::start().await;
    let sweep = || api.client.sweep().dry_run(false);
    assert_invalid(sweep().await, "filter");
    assert_invalid(
        sweep().older_than(Duration::from_secs(60)).snapshots(true).await,
        "filter",
    );
    assert_invalid(sweep().name_prefix("").await, "filter");
    assert_invalid(sweep().name_prefix("ci-").vms(false).await, "filter");
    assert_invalid(sweep().label("", "x").await, "label");
    assert!(api.received().await.is_empty());
}

/// RFC 3339 in UTC, for `createdAt`s relative to now.
fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn vm(id: &str, status: &str, labels: Value, created_at: Option<String>) -> Value {
    let mut v = json!({
        "id": id, "name": format!("vm-{id}"), "orgId": "org-7f3a", "cpu": 1, "memoryMiB": 2048,
        "diskGiB": 10, "status": status, "metadata": labels
    });
    if let Some(t) = created_at {
        v["createdAt"] = json!(t);
    }
    v
}

fn snapshot(id: &str, labels: Option<Value>, created_at: &str) -> Value {
    let mut v = json!({ "id": id, "name": format!("snap-{id}"), "orgId": "org-7f3a", "vmId": "v",
                        "status": "ready", "createdAt": created_at });
    if let Some(l) = labels {
        v["metadata"] = l;
    }
    v
}

#[tokio::test]
async fn ages_deleting_vms_stray_labels_and_failed_deletes() {
    let api = Api::start().await;
    let long_ago = Some("2020-01-01T00:00:00Z".to_string());
    let minute_ago = Some(rfc3339(SystemTime::now() - Duration::from_secs(60)));
    let x = json!({ "team": "x" });
    let vms = json!([
        vm("old1", "running", x.clone(), long_ago.clone()),
        vm("old2", "paused", x.clone(), long_ago.clone()),
        vm("young", "running", x.clone(), minute_ago.clone()),
        vm("undated", "running", x.clone(), None),
        vm("dying", "deleting", x.clone(), long_ago.clone()),
        // A server that ignored the label filter: never swept.
        vm("stray", "running", json!({ "team": "y" }), long_ago.clone()),
    ]);
    // Served as written (`undated` has no `createdAt`, which the spec requires).
    api.respond("listVms", "/v1/vms", json_response(200, &vms), 1).await;
    let snaps = json!([
        snapshot("s-old", Some(x.clone()), "2020-01-01T00:00:00Z"),
        snapshot("s-young", Some(x.clone()), minute_ago.as_deref().unwrap()),
        snapshot("s-unlabelled", None, "2020-01-01T00:00:00Z"),
    ]);
    api.expect("listSnapshots", "/v1/snapshots", 200, snaps).await;
    api.expect_done("deleteVm", "/v1/vms/old1", json!({ "id": "old1", "deleted": true }))
        .await;
    api.respond(
        "deleteVm",
        "/v1/vms/old2",
        json_response(500, &json!({ "error": "worker unavailable" })),
        1,
    )
    .await;
    api.expect_done(
        "deleteSnapshot",
        "/v1/snapshots/s-old",
        json!({ "id": "s-old", "deleted": true }),
    )
    .await;

    let report = api
        .client
        .sweep()
        .label("team", "x")
        .older_than(Duration::from_secs(15 * 60))
        .snapshots(true)
        .dry_run(false)
        .await
        .unwrap();
    let ids: Vec<&str> = report.vms.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(ids, ["old1", "old2"]);
    assert_eq!(report.snapshots.len(), 1);
    assert_eq!(report.snapshots[0].id, "s-old");
    assert!(report.deleted);
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    let failure = &report.errors[0];
    assert_eq!((failure.kind, failure.id.as_str()), (SweptKind::Vm, "old2"));
    assert_eq!(failure.error.status().map(|s| s.as_u16()), Some(500));

    let list = api
        .received()
        .await
        .into_iter()
        .find(|r| r.url.path() == "/v1/vms")
        .unwrap();
    assert_eq!(
        list.url.query(),
        Some("metadata.team=x"),
        "the server filters by label too"
    );
    api.server.verify().await;
}
