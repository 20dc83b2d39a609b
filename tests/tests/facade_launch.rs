//! Launch-and-wait and build polling: 201 running, 202 then polling, terminal failures,
//! deadlines, and the request sequence the server sees.
// Tests deprecated operations too (builds, build contexts, a VM's SSH keys), kept for
// servers at the reference's version.
#![allow(deprecated)]

mod common;

use std::time::Duration;

use common::{Api, check_wire, vm_full, vm_min};
use fastvm::Error;
use fastvm::types::{BuildStatus, VmStatus};
use serde_json::json;

const ID: &str = "0b5e2f9a-1c3d-4e5f-8a9b-0c1d2e3f4a5b";

/// Polls as fast as the SDK allows (its floor is 500 ms)...
const FAST: Duration = Duration::from_millis(1);
/// ... for at most this long.
const DEADLINE: Duration = Duration::from_secs(30);

/// The operations of the requests received, in order, each checked against the spec.
async fn sequence(api: &Api) -> Vec<&'static str> {
    api.received()
        .await
        .iter()
        .map(|r| {
            let op = match (r.method.as_str(), r.url.path()) {
                ("POST", "/v1/vms") => "launchVm",
                ("GET", p) if p.starts_with("/v1/vms/") => "getVm",
                ("DELETE", p) if p.starts_with("/v1/vms/") => "deleteVm",
                ("GET", p) if p.starts_with("/v1/builds/") => "getBuild",
                (m, p) => panic!("unexpected {m} {p}"),
            };
            check_wire(op, r);
            op
        })
        .collect()
}

#[tokio::test]
async fn launch_201_running_returns_without_polling() {
    let api = Api::start().await;
    let mut answer = vm_full(ID, "running");
    answer["snapshotRestoreWarnings"] = json!({ "servicesRegistrationFailed": true,
        "unregisteredServices": [{ "name": "web", "port": 8080 }] });
    api.expect("launchVm", "/v1/vms", 201, answer).await;
    let vm = api
        .client
        .launch_vm(fastvm::launch::snapshot("snap-1").name("restored"))
        .no_safety_ttl()
        .await
        .map(fastvm_tests::fake::released)
        .unwrap();
    assert_eq!(vm.id, ID);
    assert_eq!(vm.status, VmStatus::Running);
    let w = vm.snapshot_restore_warnings.as_ref().unwrap();
    assert_eq!(w.unregistered_services[0].name, "web");
    assert_eq!(sequence(&api).await, ["launchVm"]);
    let body = api.received().await[0].body_json::<serde_json::Value>().unwrap();
    assert_eq!(body, json!({ "snapshotId": "snap-1", "name": "restored" }));
}

#[tokio::test]
async fn launch_202_polls_until_running() {
    let api = Api::start().await;
    api.expect("launchVm", "/v1/vms", 202, vm_min(ID, "provisioning")).await;
    // An unknown status means "still in transition", not a failure.
    api.respond_first(
        "getVm",
        &format!("/v1/vms/{ID}"),
        common::json_response(200, &vm_min(ID, "warming-up")),
        1,
    )
    .await;
    api.expect("getVm", &format!("/v1/vms/{ID}"), 200, vm_full(ID, "running"))
        .await;
    let vm = api
        .client
        .launch_vm(fastvm::launch::machine("c1m2"))
        .no_safety_ttl()
        .poll_interval(FAST)
        .deadline(DEADLINE)
        .await
        .map(fastvm_tests::fake::released)
        .unwrap();
    assert_eq!(vm.status, VmStatus::Running);
    assert_eq!(vm.vm.machine_name.as_deref(), Some("c2m4"), "the polled VM is returned");
    assert_eq!(vm.snapshot_restore_warnings, None);
    assert_eq!(sequence(&api).await, ["launchVm", "getVm", "getVm"]);
}

#[tokio::test]
async fn launch_202_then_error_is_a_launch_error() {
    for (terminal, expected) in [
        ("error", VmStatus::Error),
        ("stopped", VmStatus::Stopped),
        ("deleting", VmStatus::Deleting),
    ] {
        let api = Api::start().await;
        api.expect("launchVm", "/v1/vms", 202, vm_min(ID, "provisioning")).await;
        api.expect("getVm", &format!("/v1/vms/{ID}"), 200, vm_min(ID, terminal))
            .await;
        // The launch owns the VM: a failed wait deletes it.
        api.expect(
            "deleteVm",
            &format!("/v1/vms/{ID}"),
            200,
            json!({ "id": ID, "deleted": true }),
        )
        .await;
        let err = api
            .client
            .launch_vm(fastvm::launch::machine("c1m2"))
            .no_safety_ttl()
            .poll_interval(FAST)
            .deadline(DEADLINE)
            .await
            .map(fastvm_tests::fake::released)
            .unwrap_err();
        match &err {
            Error::VmLaunch { vm_id, status, .. } => {
                assert_eq!((vm_id.as_str(), status), (ID, &expected));
            }
            other => panic!("{terminal}: expected VmLaunch, got {other:?}"),
        }
        assert!(err.to_string().contains(terminal));
        assert_eq!(sequence(&api).await, ["launchVm", "getVm", "deleteVm"]);
    }
}

/// A launch answered 202, a VM that stays `provisioning`, and its delete.
async fn serve_a_vm_that_never_boots(api: &Api) {
    api.expect("launchVm", "/v1/vms", 202, vm_min(ID, "provisioning")).await;
    api.expect_times("getVm", &format!("/v1/vms/{ID}"), 200, vm_min(ID, "provisioning"), 1..)
        .await;
    api.expect(
        "deleteVm",
        &format!("/v1/vms/{ID}"),
        200,
        json!({ "id": ID, "deleted": true }),
    )
    .await;
}

#[tokio::test]
async fn launch_deadline_is_vm_not_ready() {
    let api = Api::start().await;
    // The launch owns the VM: the passed deadline deletes it.
    serve_a_vm_that_never_boots(&api).await;
    let err = api
        .client
        .launch_vm(fastvm::launch::machine("c1m2"))
        .no_safety_ttl()
        .poll_interval(FAST)
        .deadline(Duration::from_millis(200))
        .await
        .map(fastvm_tests::fake::released)
        .unwrap_err();
    match &err {
        Error::VmNotReady { vm_id, last_status, .. } => {
            assert_eq!((vm_id.as_str(), last_status), (ID, &VmStatus::Provisioning));
        }
        other => panic!("expected VmNotReady, got {other:?}"),
    }
    let seq = sequence(&api).await;
    assert_eq!(seq[0], "launchVm");
    assert_eq!(seq.last(), Some(&"deleteVm"), "{seq:?}");
    let polls = &seq[1..seq.len() - 1];
    assert!(polls.iter().all(|op| *op == "getVm") && !polls.is_empty(), "{seq:?}");
}

#[tokio::test]
async fn an_api_error_while_polling_is_returned() {
    let api = Api::start().await;
    api.expect("launchVm", "/v1/vms", 202, vm_min(ID, "provisioning")).await;
    api.expect(
        "getVm",
        &format!("/v1/vms/{ID}"),
        404,
        json!({ "error": "vm not found" }),
    )
    .await;
    // The owned launch deletes the VM after the failed wait (the 404 of that is not an error).
    api.expect(
        "deleteVm",
        &format!("/v1/vms/{ID}"),
        404,
        json!({ "error": "vm not found" }),
    )
    .await;
    let err = api
        .client
        .launch_vm(fastvm::launch::machine("c1m2"))
        .no_safety_ttl()
        .poll_interval(FAST)
        .deadline(DEADLINE)
        .await
        .map(fastvm_tests::fake::released)
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

#[tokio::test]
async fn launch_no_wait_does_not_poll() {
    let api = Api::start().await;
    api.expect("launchVm", "/v1/vms", 202, vm_min(ID, "provisioning")).await;
    let resp = api.client.vms().launch(fastvm::launch::machine("c1m2")).await.unwrap();
    assert_eq!(resp.status.as_u16(), 202);
    assert_eq!(sequence(&api).await, ["launchVm"]);
}

#[tokio::test]
async fn wait_for_vm_ready_returns_a_running_vm_at_once() {
    let api = Api::start().await;
    api.expect("getVm", &format!("/v1/vms/{ID}"), 200, vm_min(ID, "running"))
        .await;
    let vm = api
        .client
        .wait_for_vm_ready(ID)
        .poll_interval(FAST)
        .deadline(DEADLINE)
        .await
        .unwrap();
    assert_eq!(vm.status, VmStatus::Running);
    assert_eq!(sequence(&api).await, ["getVm"]);
}

fn build(status: &str, error: Option<&str>) -> serde_json::Value {
    let mut b = json!({ "id": "b-1", "status": status, "imageRef": "alpine", "createdAt": "2026-05-15T10:00:00Z" });
    if let Some(e) = error {
        b["error"] = json!(e);
    }
    if status == "completed" {
        b["snapshotId"] = json!("snap-77");
    }
    b
}

#[tokio::test]
async fn wait_for_build_until_completed() {
    let api = Api::start().await;
    api.respond_first(
        "getBuild",
        "/v1/builds/b-1",
        common::json_response(200, &build("running", None)),
        1,
    )
    .await;
    api.expect("getBuild", "/v1/builds/b-1", 200, build("completed", None))
        .await;
    let done = api
        .client
        .wait_for_build("b-1")
        .poll_interval(FAST)
        .deadline(DEADLINE)
        .await
        .unwrap();
    assert_eq!(done.snapshot_id.as_deref(), Some("snap-77"));
    assert_eq!(sequence(&api).await, ["getBuild", "getBuild"]);
}

#[tokio::test]
async fn wait_for_build_failed_is_build_failed() {
    let api = Api::start().await;
    api.expect(
        "getBuild",
        "/v1/builds/b-1",
        200,
        build("failed", Some("buildah bud: exit 1")),
    )
    .await;
    let err = api
        .client
        .wait_for_build("b-1")
        .poll_interval(FAST)
        .deadline(DEADLINE)
        .await
        .unwrap_err();
    match err {
        Error::BuildFailed { build_id, message, .. } => {
            assert_eq!((build_id.as_str(), message.as_str()), ("b-1", "buildah bud: exit 1"));
        }
        other => panic!("expected BuildFailed, got {other:?}"),
    }
}

#[tokio::test]
async fn wait_for_build_deadline_is_build_not_finished() {
    let api = Api::start().await;
    api.expect_times("getBuild", "/v1/builds/b-1", 200, build("pending", None), 1..)
        .await;
    let err = api
        .client
        .wait_for_build("b-1")
        .deadline(Duration::from_millis(100))
        .await
        .unwrap_err();
    match err {
        Error::BuildNotFinished {
            build_id, last_status, ..
        } => {
            assert_eq!((build_id.as_str(), last_status), ("b-1", BuildStatus::Pending));
        }
        other => panic!("expected BuildNotFinished, got {other:?}"),
    }
}

#[tokio::test]
async fn a_handles_wait_takes_a_deadline_and_its_owned_vm_is_deleted_after() {
    let api = Api::start().await;
    serve_a_vm_that_never_boots(&api).await;
    let mut vm = api
        .client
        .launch_vm(fastvm::launch::machine("c1m2"))
        .no_safety_ttl()
        .no_wait()
        .await
        .unwrap();
    assert_eq!(sequence(&api).await, ["launchVm"], "no_wait does not poll");
    let err = vm
        .wait_ready()
        .poll_interval(FAST)
        .deadline(Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::VmNotReady { .. }), "{err:?}");
    drop(vm);
    let seq = sequence(&api).await;
    assert_eq!(seq.last(), Some(&"deleteVm"), "{seq:?}");
    assert!(seq[1..seq.len() - 1].iter().all(|op| *op == "getVm"), "{seq:?}");
}
