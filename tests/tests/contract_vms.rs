//! Contract tests of the VM operations (`client.vms()`), against wiremock.
//!
//! Each operation: exact method, raw path and body for a fully populated and a minimal call,
//! headers and spec validation (see `common`), decoding, and error mapping.

mod common;

use std::time::Duration;

use common::{
    Api, assert_error_mapping, assert_invalid, assert_lossless, firewall_full, firewall_full_json, vm_full, vm_min,
};
use fastvm::types::{FirewallPolicy, TtlAction, VmStatus};
use serde_json::json;

const ID: &str = "0b5e2f9a-1c3d-4e5f-8a9b-0c1d2e3f4a5b";

fn vm_path(suffix: &str) -> String {
    format!("/v1/vms/{ID}{suffix}")
}

#[tokio::test]
async fn list_vms_wire() {
    // Fully populated: a status filter, a full and a minimal VM in the answer.
    let api = Api::start().await;
    let body = json!([vm_full(ID, "running"), vm_min("vm-2", "running")]);
    api.expect("listVms", "/v1/vms", 200, body.clone()).await;
    let vms = api.client.vms().list().status(VmStatus::Running).await.unwrap();
    let sent = api.sent("listVms").await;
    assert_eq!(sent.query.as_deref(), Some("status=running"));
    assert_eq!(vms.len(), 2);
    assert_lossless(&body, &vms);

    // Minimal: no filter, empty list.
    let api = Api::start().await;
    api.expect("listVms", "/v1/vms", 200, json!([])).await;
    assert!(api.client.vms().list().await.unwrap().is_empty());
    assert_eq!(api.sent("listVms").await.query, None);
}

#[tokio::test]
async fn list_vms_status_is_query_encoded() {
    let api = Api::start().await;
    api.expect("listVms", "/v1/vms", 200, json!([])).await;
    let status = VmStatus::from("a b&c=d");
    assert_eq!(status, VmStatus::Unknown("a b&c=d".into()));
    api.client.vms().list().status(status).await.unwrap();
    let sent = api.sent("listVms").await;
    let url = url_with_query(sent.query.as_deref());
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(pairs, vec![("status".to_string(), "a b&c=d".to_string())]);
}

#[tokio::test]
async fn list_vms_metadata_filters_are_query_params() {
    let api = Api::start().await;
    api.expect("listVms", "/v1/vms", 200, json!([])).await;
    api.client
        .vms()
        .list()
        .status(VmStatus::Paused)
        .metadata("team", "infra")
        .metadata("env", "a b&c")
        .await
        .unwrap();
    let sent = api.sent("listVms").await;
    let url = url_with_query(sent.query.as_deref());
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    assert_eq!(
        pairs,
        vec![
            pair("status", "paused"),
            pair("metadata.team", "infra"),
            pair("metadata.env", "a b&c")
        ]
    );
}

fn url_with_query(q: Option<&str>) -> reqwest::Url {
    let mut u = reqwest::Url::parse("http://x/").unwrap();
    u.set_query(q);
    u
}

#[tokio::test]
async fn launch_vm_wire() {
    // Fully populated body through the launch builder; 201 running with restore warnings.
    let api = Api::start().await;
    let mut answer = vm_full(ID, "running");
    answer["snapshotRestoreWarnings"] = json!({
        "servicesRegistrationFailed": true,
        "reason": "proxy unavailable",
        "unregisteredServices": [{ "name": "web", "port": 8080, "h2c": false }, { "name": "grpc", "port": 9090 }]
    });
    api.expect("launchVm", "/v1/vms", 201, answer.clone()).await;
    let params = fastvm::launch::machine("c2m4")
        .name("dev-box")
        .metadata("team", "infra")
        .metadata("env", "ci")
        .env("RUST_LOG", "debug")
        .env("_X1", "a=b c")
        .disk_gib(20)
        .ttl(Duration::from_secs(3600), TtlAction::Delete)
        .firewall(firewall_full());
    let resp = api.client.vms().launch(params).await.unwrap();
    let sent = api.sent("launchVm").await;
    assert_eq!(sent.path, "/v1/vms");
    assert_eq!(
        sent.json(),
        &json!({
            "machineType": "c2m4",
            "name": "dev-box",
            "metadata": { "team": "infra", "env": "ci" },
            "envVars": { "RUST_LOG": "debug", "_X1": "a=b c" },
            "diskGiB": 20,
            "ttl": { "seconds": 3600, "action": "delete" },
            "firewall": firewall_full_json()
        })
    );
    assert_eq!(resp.status.as_u16(), 201);
    assert_lossless(&answer, &resp.vm);
    let warnings = resp.vm.snapshot_restore_warnings.as_ref().unwrap();
    assert!(warnings.services_registration_failed);
    assert_eq!(warnings.unregistered_services[1].h2c, None);

    // Minimal: restore from a snapshot; 202 queued with a minimal VM.
    let api = Api::start().await;
    api.expect("launchVm", "/v1/vms", 202, vm_min(ID, "provisioning")).await;
    let resp = api
        .client
        .vms()
        .launch(fastvm::launch::snapshot("snap-9"))
        .await
        .unwrap();
    assert_eq!(api.sent("launchVm").await.json(), &json!({ "snapshotId": "snap-9" }));
    assert_eq!(resp.status.as_u16(), 202);
    assert_eq!(resp.vm.status, VmStatus::Provisioning);
    assert_eq!(resp.vm.snapshot_restore_warnings, None);
    assert_lossless(&vm_min(ID, "provisioning"), &resp.vm);
}

#[tokio::test]
async fn launch_vm_empty_request_sends_empty_object() {
    let api = Api::start().await;
    api.expect("launchVm", "/v1/vms", 201, vm_min(ID, "running")).await;
    api.client
        .vms()
        .launch(fastvm::types::CreateVmRequest::default())
        .await
        .unwrap();
    assert_eq!(api.sent("launchVm").await.json(), &json!({}));
}

#[tokio::test]
async fn get_vm_wire_and_decoding() {
    for fixture in [
        vm_full(ID, "running"),
        vm_min(ID, "running"),
        // Nullable fields explicitly null.
        {
            let mut v = vm_min(ID, "paused");
            v["deletedAt"] = json!(null);
            v["pausedAt"] = json!(null);
            v["ttl"] = json!(null);
            v
        },
    ] {
        let api = Api::start().await;
        api.expect("getVm", &vm_path(""), 200, fixture.clone()).await;
        let vm = api.client.vms().retrieve(ID).await.unwrap();
        api.sent("getVm").await;
        assert_lossless(&fixture, &vm);
    }
}

#[tokio::test]
async fn get_vm_decodes_unknown_fields_open_strings_and_limits() {
    let api = Api::start().await;
    let mut v = vm_min(ID, "hibernating");
    v["cpu"] = json!(i64::MAX);
    v["memoryMiB"] = json!(i64::MAX);
    v["diskGiB"] = json!(0);
    v["expiresAtMs"] = json!(i64::MAX);
    v["ttlRemainingMs"] = json!(0);
    v["ttl"] = json!({ "seconds": 31_536_000, "action": "delete" });
    v["machineName"] = json!("c64m512-future");
    v["futureField"] = json!({ "nested": [1, 2, 3] });
    v["anotherNewField"] = json!("x");
    api.expect_lenient("getVm", &vm_path(""), 200, v).await;
    let vm = api.client.vms().retrieve(ID).await.unwrap();
    assert_eq!(vm.status, VmStatus::Unknown("hibernating".into()));
    assert_eq!(vm.cpu, i64::MAX);
    assert_eq!(vm.memory_mib, i64::MAX);
    assert_eq!(vm.disk_gib, 0);
    assert_eq!(vm.expires_at_ms, Some(i64::MAX));
    assert_eq!(vm.ttl_remaining_ms, Some(0));
    assert_eq!(vm.ttl.as_ref().unwrap().seconds, 31_536_000);
    assert_eq!(vm.ttl.as_ref().unwrap().action, TtlAction::Delete);
    assert_eq!(vm.machine_name.as_deref(), Some("c64m512-future"));
}

#[tokio::test]
async fn path_parameters_are_percent_encoded() {
    // Reserved characters inside an id stay inside its segment.
    let id = "a b/c?d#e%f";
    let raw = "/v1/vms/a%20b%2Fc%3Fd%23e%25f";
    let api = Api::start().await;
    api.expect("getVm", raw, 200, vm_min(id, "running")).await;
    let vm = api.client.vms().retrieve(id).await.unwrap();
    assert_eq!(vm.id, id);
    assert_eq!(api.sent("getVm").await.path, raw);

    // Sub-resource paths too, and RFC 3986 sub-delims stay literal.
    let id = "vm:1+2=3";
    let api = Api::start().await;
    api.expect("pauseVm", "/v1/vms/vm:1+2=3/pause", 200, vm_min(id, "paused"))
        .await;
    api.client.vms().pause(id).await.unwrap();
    api.sent("pauseVm").await;
}

/// Every character outside RFC 3986's path set is percent-encoded, including the ones
/// progenitor's own encoder would leave literal (the URL parser turns a literal `\\` into `/`).
#[tokio::test]
async fn path_parameters_are_encoded_as_one_segment() {
    for (id, raw) in [
        (r"a\b", "a%5Cb"),
        ("a[b]", "a%5Bb%5D"),
        ("a^b|c", "a%5Eb%7Cc"),
        ("a b%", "a%20b%25"),
    ] {
        let api = Api::start().await;
        api.expect("getVm", &format!("/v1/vms/{raw}"), 200, vm_min(id, "running"))
            .await;
        api.client.vms().retrieve(id).await.unwrap();
        assert_eq!(api.sent("getVm").await.path, format!("/v1/vms/{raw}"));
    }
}

#[tokio::test]
async fn update_vm_wire() {
    let api = Api::start().await;
    let answer = vm_full(ID, "running");
    api.expect("updateVm", &vm_path(""), 200, answer.clone()).await;
    let vm = api
        .client
        .vms()
        .update(ID)
        .name("renamed")
        .metadata([("k", "v")])
        .ttl(Duration::from_secs(31_536_000), TtlAction::Pause)
        .await
        .unwrap();
    assert_eq!(
        api.sent("updateVm").await.json(),
        &json!({ "name": "renamed", "metadata": { "k": "v" }, "ttl": { "seconds": 31_536_000, "action": "pause" } })
    );
    assert_lossless(&answer, &vm);

    // Minimal: nothing to change is refused before any request (the catch-all would fail the
    // test otherwise), and an empty metadata map (which clears it) is kept.
    let api = Api::start().await;
    assert_invalid(api.client.vms().update(ID).await, "body");
    assert!(api.received().await.is_empty());
    api.expect("updateVm", &vm_path(""), 200, vm_min(ID, "running")).await;
    api.client
        .vms()
        .update(ID)
        .metadata(Vec::<(String, String)>::new())
        .await
        .unwrap();
    assert_eq!(api.sent("updateVm").await.json(), &json!({ "metadata": {} }));

    // A name alone is just the name.
    let api = Api::start().await;
    api.expect("updateVm", &vm_path(""), 200, vm_min(ID, "running")).await;
    api.client.vms().update(ID).name("n").await.unwrap();
    assert_eq!(api.sent("updateVm").await.json(), &json!({ "name": "n" }));
}

#[tokio::test]
async fn delete_vm_wire() {
    let api = Api::start().await;
    // The spec's documented success (a `DeleteResponse`, or none): the same answer either way.
    let answer = json!({ "id": ID, "deleted": true });
    api.expect_done("deleteVm", &vm_path(""), answer.clone()).await;
    let resp = api.client.vms().delete(ID).await.unwrap();
    assert_eq!(resp.id, ID);
    assert!(resp.deleted);
    assert_lossless(&answer, &resp);
    assert_eq!(api.sent("deleteVm").await.path, vm_path(""));
}

#[tokio::test]
async fn pause_vm_wire() {
    let api = Api::start().await;
    api.expect("pauseVm", &vm_path("/pause"), 200, vm_full(ID, "paused"))
        .await;
    let vm = api.client.vms().pause(ID).await.unwrap();
    assert_eq!(vm.status, VmStatus::Paused);
    assert_lossless(&vm_full(ID, "paused"), &vm);
    assert_eq!(api.sent("pauseVm").await.body, None);
}

#[tokio::test]
async fn resume_vm_wire() {
    // 200: running again; 202: queued (still a VM body).
    for (status, vm_status, expected) in [
        (200, "running", VmStatus::Running),
        (202, "resuming", VmStatus::Resuming),
    ] {
        let api = Api::start().await;
        api.expect("resumeVm", &vm_path("/resume"), status, vm_min(ID, vm_status))
            .await;
        let vm = api.client.vms().resume(ID).await.unwrap();
        assert_eq!(vm.status, expected);
        assert_eq!(api.sent("resumeVm").await.body, None);
    }
}

#[tokio::test]
async fn refresh_vm_ttl_wire() {
    let api = Api::start().await;
    api.expect("refreshVmTtl", &vm_path("/ttl/refresh"), 200, vm_full(ID, "running"))
        .await;
    let vm = api.client.vms().refresh_ttl(ID).await.unwrap();
    assert_eq!(vm.ttl.unwrap().seconds, 3600);
    assert_eq!(api.sent("refreshVmTtl").await.body, None);
}

#[tokio::test]
async fn set_vm_firewall_wire() {
    let api = Api::start().await;
    api.expect("setVmFirewall", &vm_path("/firewall"), 200, vm_full(ID, "running"))
        .await;
    let vm = api.client.vms().set_firewall(ID, firewall_full()).await.unwrap();
    assert_eq!(vm.firewall, Some(firewall_full()));
    assert_eq!(api.sent("setVmFirewall").await.json(), &firewall_full_json());

    // Minimal: an empty policy (every block back to its default).
    let api = Api::start().await;
    api.expect("setVmFirewall", &vm_path("/firewall"), 200, vm_min(ID, "running"))
        .await;
    api.client
        .vms()
        .set_firewall(ID, FirewallPolicy::default())
        .await
        .unwrap();
    assert_eq!(api.sent("setVmFirewall").await.json(), &json!({}));
}

#[tokio::test]
async fn patch_vm_firewall_wire() {
    let api = Api::start().await;
    api.expect("patchVmFirewall", &vm_path("/firewall"), 200, vm_full(ID, "running"))
        .await;
    api.client.vms().patch_firewall(ID, firewall_full()).await.unwrap();
    assert_eq!(api.sent("patchVmFirewall").await.json(), &firewall_full_json());

    // Minimal: only the ingress block, with no rules. An empty list is sent as written (the
    // documented way to clear ingress rules with PATCH), never dropped.
    let api = Api::start().await;
    api.expect("patchVmFirewall", &vm_path("/firewall"), 200, vm_min(ID, "running"))
        .await;
    let clear: FirewallPolicy =
        serde_json::from_value(json!({ "ingress": { "default": "deny", "rules": [] } })).unwrap();
    api.client.vms().patch_firewall(ID, clear).await.unwrap();
    assert_eq!(
        api.sent("patchVmFirewall").await.json(),
        &json!({ "ingress": { "default": "deny", "rules": [] } })
    );
}

#[tokio::test]
async fn create_console_token_wire() {
    let api = Api::start().await;
    let answer = json!({ "token": "tok-123", "expiresInSec": 300, "websocketPath": "/v1/vms/x/console/ws" });
    api.expect("createConsoleToken", &vm_path("/console-token"), 200, answer.clone())
        .await;
    let token = api.client.vms().console_token(ID).await.unwrap();
    assert_eq!(token.token, "tok-123");
    assert_eq!(token.expires_in_sec, 300);
    assert_lossless(&answer, &token);
    assert_eq!(api.sent("createConsoleToken").await.body, None);
}

#[tokio::test]
async fn vm_errors_map_to_kinds() {
    let p = vm_path("");
    assert_error_mapping("listVms", "/v1/vms", |c| async move { c.vms().list().await }).await;
    assert_error_mapping("launchVm", "/v1/vms", |c| async move {
        c.vms().launch(fastvm::launch::machine("c1m2")).await
    })
    .await;
    assert_error_mapping("getVm", &p, |c| async move { c.vms().retrieve(ID).await }).await;
    assert_error_mapping(
        "updateVm",
        &p,
        |c| async move { c.vms().update(ID).name("renamed").await },
    )
    .await;
    assert_error_mapping("deleteVm", &p, |c| async move { c.vms().delete(ID).await }).await;
    assert_error_mapping(
        "pauseVm",
        &vm_path("/pause"),
        |c| async move { c.vms().pause(ID).await },
    )
    .await;
    assert_error_mapping(
        "resumeVm",
        &vm_path("/resume"),
        |c| async move { c.vms().resume(ID).await },
    )
    .await;
    assert_error_mapping("refreshVmTtl", &vm_path("/ttl/refresh"), |c| async move {
        c.vms().refresh_ttl(ID).await
    })
    .await;
    assert_error_mapping("setVmFirewall", &vm_path("/firewall"), |c| async move {
        c.vms().set_firewall(ID, FirewallPolicy::default()).await
    })
    .await;
    assert_error_mapping("patchVmFirewall", &vm_path("/firewall"), |c| async move {
        c.vms().patch_firewall(ID, FirewallPolicy::default()).await
    })
    .await;
    assert_error_mapping("createConsoleToken", &vm_path("/console-token"), |c| async move {
        c.vms().console_token(ID).await
    })
    .await;
}

/// Removing a TTL needs an explicit `"ttl": null`, which the generated request type cannot
/// carry; `clear_ttl` sends it through the same transport (checked against the spec).
#[tokio::test]
async fn clear_ttl_sends_an_explicit_null() {
    let api = Api::start().await;
    api.expect("updateVm", &vm_path(""), 200, vm_min(ID, "running")).await;
    let vm = api.client.vms().update(ID).clear_ttl().await.unwrap();
    assert!(vm.ttl.is_none());
    let sent = api.sent("updateVm").await;
    assert_eq!(sent.method, "PATCH");
    assert_eq!(sent.json(), &serde_json::json!({ "ttl": null }));

    // Together with other changes: the null sits beside them.
    let api = Api::start().await;
    api.expect("updateVm", &vm_path(""), 200, vm_min(ID, "running")).await;
    api.client.vms().update(ID).name("n").clear_ttl().await.unwrap();
    assert_eq!(
        api.sent("updateVm").await.json(),
        &serde_json::json!({ "name": "n", "ttl": null })
    );
}
