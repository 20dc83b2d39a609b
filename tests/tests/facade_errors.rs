//! Error mapping details and client-side validation.
//!
//! Some bodies here are deliberately off-spec (a proxy's HTML or JSON in another shape, a body
//! that does not decode): they are served raw, not through the spec-validated helpers.
// Tests deprecated operations too (builds, build contexts, a VM's SSH keys), kept for
// servers at the reference's version.
#![allow(deprecated)]

mod common;

use std::time::Duration;

use common::{Api, api_error, assert_invalid, json_response, vm_min};
use fastvm::exec::Command;
use fastvm::types::{FirewallPolicy, TtlAction};
use fastvm::{ApiErrorKind, Error};
use serde_json::json;
use wiremock::ResponseTemplate;

const ID: &str = "0b5e2f9a-1c3d-4e5f-8a9b-0c1d2e3f4a5b";

fn vm_path() -> String {
    format!("/v1/vms/{ID}")
}

#[tokio::test]
async fn status_table_with_json_and_text_bodies() {
    // The table, on one representative operation of each HTTP method.
    common::assert_error_mapping("getVm", &vm_path(), |c| async move { c.vms().retrieve(ID).await }).await;
    common::assert_error_mapping("launchVm", "/v1/vms", |c| async move {
        c.vms().launch(fastvm::launch::machine("c1m2")).await
    })
    .await;
}

#[tokio::test]
async fn resume_quota_exceeded_carries_the_dimension() {
    let api = Api::start().await;
    let body = json!({ "error": "resuming would exceed the org's vcpu quota", "dimension": "vcpu" });
    api.expect("resumeVm", &format!("{}/resume", vm_path()), 429, body)
        .await;
    let r = api.client.vms().resume(ID).await;
    let (err, e) = common::api_error_of(r, "resumeVm", 429, ApiErrorKind::QuotaExceeded);
    assert_eq!(e.dimension.as_deref(), Some("vcpu"));
    assert_eq!(e.message, "resuming would exceed the org's vcpu quota");
    let shown = err.to_string();
    assert!(shown.contains("vcpu") && shown.contains("429"), "{shown}");
}

#[tokio::test]
async fn a_plain_429_is_a_rate_limit() {
    let api = Api::start().await;
    api.respond(
        "getVm",
        &vm_path(),
        json_response(429, &json!({ "error": "slow down" })),
        1,
    )
    .await;
    let e = api_error(
        api.client.vms().retrieve(ID).await,
        "getVm",
        429,
        ApiErrorKind::RateLimit,
    );
    assert_eq!(e.dimension, None);
}

#[tokio::test]
async fn other_error_shapes() {
    let api = Api::start().await;
    // A `{message}` body (some proxies), an empty body, an unusual status, a huge body.
    api.respond_first(
        "getVm",
        &vm_path(),
        json_response(400, &json!({ "message": "from a proxy" })),
        1,
    )
    .await;
    api.respond_first("getVm", &vm_path(), ResponseTemplate::new(500), 1)
        .await;
    api.respond_first(
        "getVm",
        &vm_path(),
        json_response(418, &json!({ "error": "teapot" })),
        1,
    )
    .await;
    let huge = "x".repeat(100_000);
    api.respond("getVm", &vm_path(), ResponseTemplate::new(502).set_body_string(huge), 1)
        .await;

    let e = api_error(
        api.client.vms().retrieve(ID).await,
        "getVm",
        400,
        ApiErrorKind::BadRequest,
    );
    assert_eq!(e.message, "from a proxy");
    let e = api_error(api.client.vms().retrieve(ID).await, "getVm", 500, ApiErrorKind::Server);
    assert_eq!(e.message, "Internal Server Error");
    assert_eq!(e.body, "");
    let e = api_error(api.client.vms().retrieve(ID).await, "getVm", 418, ApiErrorKind::Other);
    assert_eq!(e.message, "teapot");
    let e = api_error(api.client.vms().retrieve(ID).await, "getVm", 502, ApiErrorKind::Server);
    assert!(
        // `ApiError::body` promises at most 2048 bytes, then `…`.
        e.body.len() <= 2048 + '…'.len_utf8(),
        "{}",
        e.body.len()
    );
    assert!(e.body.starts_with("xxxx") && e.body.ends_with('…'));
    assert!(e.message.len() < 1000, "the message is a snippet, not the whole body");
}

#[tokio::test]
async fn an_undecodable_success_body_is_a_decode_error() {
    let api = Api::start().await;
    let mut wrong = vm_min(ID, "running");
    wrong["cpu"] = json!("two");
    api.respond_first("getVm", &vm_path(), json_response(200, &wrong), 1)
        .await;
    api.respond(
        "getVm",
        &vm_path(),
        ResponseTemplate::new(200).set_body_raw("<html>captive portal</html>", "application/json"),
        1,
    )
    .await;
    for expected_snippet in ["\"two\"", "captive portal"] {
        match api.client.vms().retrieve(ID).await {
            Err(e @ Error::Decode { .. }) => {
                let Error::Decode { snippet, operation, .. } = &e else {
                    unreachable!()
                };
                assert!(e.to_string().contains("getVm"), "{e}");
                assert_eq!(*operation, Some("getVm"));
                assert!(snippet.contains(expected_snippet), "{snippet}");
                // The decoder's (redacted) message is in the error's own; a chain printer must
                // not find it again as the source.
                assert!(
                    e.to_string().contains("invalid type") || e.to_string().contains("expected"),
                    "{e}"
                );
                assert!(
                    std::error::Error::source(&e).is_none(),
                    "the message already says what the decoder said: {e:?}"
                );
            }
            other => panic!("expected a decode error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_missing_essential_field_is_a_decode_error() {
    // Only what the SDK cannot work without (a VM's id and status) must be present; the
    // tolerant reader accepts every other field missing (see `tolerant_reader.rs`).
    let api = Api::start().await;
    let mut partial = vm_min(ID, "running");
    partial.as_object_mut().unwrap().remove("id");
    api.respond("getVm", &vm_path(), json_response(200, &partial), 1).await;
    let err = api.client.vms().retrieve(ID).await.unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
}

#[tokio::test]
async fn invalid_arguments_fail_before_any_request() {
    let api = Api::start().await;
    let c = &api.client;
    let vms = c.vms();
    assert_invalid(vms.retrieve("").await, "id");
    assert_invalid(vms.retrieve("..").await, "id");
    assert_invalid(vms.delete(".").await, "id");
    assert_invalid(vms.pause("").await, "id");
    assert_invalid(vms.services().register(ID, "Bad_Name", 8080).await, "name");
    assert_invalid(vms.services().register(ID, "web", 80).await, "port");
    assert_invalid(vms.services().register(ID, "", 8080).await, "name");
    assert_invalid(vms.services().update(ID, "-web", 8080).h2c(false).await, "serviceName");
    assert_invalid(vms.services().update(ID, "web", 1023).h2c(false).await, "port");
    assert_invalid(vms.services().delete(ID, "a--b").await, "serviceName");
    assert_invalid(vms.ssh_keys().add(ID, "ssh-dss AAAA").await, "publicKey");
    assert_invalid(vms.ssh_keys().add(ID, "ssh-ed25519 !!!").await, "publicKey");
    assert_invalid(
        vms.ssh_keys().add(ID, "ssh-ed25519 AAAA\nssh-rsa AAAA").await,
        "publicKey",
    );
    assert_invalid(vms.ssh_keys().delete(ID, "").await, "fingerprint");
    let m = fastvm::launch::machine("c1m2");
    assert_invalid(
        vms.launch(m.clone().ttl(Duration::from_secs(31_536_001), TtlAction::Pause))
            .await,
        "ttl.seconds",
    );
    assert_invalid(
        vms.launch(m.clone().ttl(Duration::ZERO, TtlAction::Delete)).await,
        "ttl.seconds",
    );
    assert_invalid(vms.update(ID).await, "body");
    assert_invalid(vms.update("").name("x").await, "id");
    assert_invalid(
        vms.update(ID).ttl(Duration::ZERO, TtlAction::Pause).await,
        "ttl.seconds",
    );
    assert_invalid(vms.launch(m.clone().env("2BAD", "x")).await, "envVars");
    assert_invalid(vms.launch(m.clone().env("OK", "a\nb")).await, "envVars");
    assert_invalid(vms.launch(m.clone().metadata("k", "v".repeat(4097))).await, "metadata");
    assert_invalid(vms.launch(m.clone().disk_gib(0)).await, "diskGiB");
    assert_invalid(vms.launch(fastvm::launch::snapshot("")).await, "snapshotId");
    assert_invalid(vms.launch(fastvm::launch::snapshot("..")).await, "snapshotId");
    let bad_ports: FirewallPolicy = serde_json::from_value(json!({ "ingress": { "default": "deny", "rules": [
        { "action": "allow", "kind": "cidr", "value": "10.0.0.0/8", "protocol": "any", "ports": "443" }] } }))
    .unwrap();
    assert_invalid(
        vms.launch(m.clone().firewall(bad_ports.clone())).await,
        "firewall.ingress.rules[0].ports",
    );
    assert_invalid(vms.set_firewall(ID, bad_ports).await, "firewall.ingress.rules[0].ports");
    let bad_cidr: FirewallPolicy = serde_json::from_value(json!({ "egress": { "default": "allow", "rules": [
        { "action": "deny", "kind": "cidr", "value": "10.0.0.0/33", "protocol": "tcp", "ports": "1-65535" }] } }))
    .unwrap();
    assert_invalid(vms.patch_firewall(ID, bad_cidr).await, "firewall.egress.rules[0].value");
    let bad_dns: FirewallPolicy = serde_json::from_value(json!({ "dns": { "domains": ["a.*.com"] } })).unwrap();
    assert_invalid(vms.patch_firewall(ID, bad_dns).await, "firewall.dns.domains[0]");
    assert_invalid(c.builds().create().await, "imageRef");
    assert_invalid(c.builds().create().image_ref("  ").await, "imageRef");
    assert_invalid(c.builds().create().image_ref("alpine").disk_gib(0).await, "diskGiB");
    assert_invalid(c.builds().retrieve("").await, "id");
    assert_invalid(vms.files().fetch(ID, "", "/p").await, "url");
    assert_invalid(
        vms.files()
            .fetch(ID, "https://s.example/o", "/p")
            .timeout(Duration::ZERO)
            .await,
        "timeoutSec",
    );
    assert_invalid(vms.files().presign("", "/p").await, "id");
    assert_invalid(c.snapshots().create("").await, "vmId");
    assert_invalid(c.snapshots().retrieve("..").await, "id");
    assert_invalid(vms.run(ID, Command::argv(Vec::<String>::new())).await, "command");
    assert_invalid(vms.run(ID, Command::argv(["", "x"])).await, "command");
    assert_invalid(
        vms.run(ID, Command::sh("true").timeout(Duration::ZERO)).await,
        "timeoutSec",
    );
    assert_invalid(c.wait_for_vm_ready("").await, "id");
    assert_invalid(c.wait_for_build("").await, "id");
    assert!(api.received().await.is_empty(), "a request was sent");
}

#[tokio::test]
async fn a_redirect_to_another_origin_is_not_followed_with_the_api_key() {
    let api = Api::start().await;
    let elsewhere = wiremock::MockServer::start().await;
    // Another origin (another port): nothing may reach it.
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_json(vm_min(ID, "running")))
        .expect(0)
        .mount(&elsewhere)
        .await;
    wiremock::Mock::given(wiremock::matchers::path(vm_path()))
        .respond_with(ResponseTemplate::new(307).insert_header("location", format!("{}/v1/vms/{ID}", elsewhere.uri())))
        .mount(&api.server)
        .await;
    let err = api.client.vms().retrieve(ID).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(307), "{err:?}");
    assert!(elsewhere.received_requests().await.unwrap_or_default().is_empty());

    // A redirect within the same origin is followed.
    wiremock::Mock::given(wiremock::matchers::path("/v1/vms/vm-old"))
        .respond_with(
            ResponseTemplate::new(307).insert_header("location", format!("{}/v1/vms/vm-new", api.server.uri())),
        )
        .mount(&api.server)
        .await;
    wiremock::Mock::given(wiremock::matchers::path("/v1/vms/vm-new"))
        .respond_with(ResponseTemplate::new(200).set_body_json(vm_min("vm-new", "running")))
        .mount(&api.server)
        .await;
    assert_eq!(api.client.vms().retrieve("vm-old").await.unwrap().id, "vm-new");
}

/// Everything an error shows: its `Display`, its `Debug`, and those of its whole source chain.
fn everything_shown(error: &Error) -> String {
    let mut shown = format!("{error} {error:?}");
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        shown.push_str(&format!(" {s} {s:?}"));
        source = s.source();
    }
    shown
}

#[tokio::test]
async fn no_error_shows_a_secret_the_server_sent() {
    let api = Api::start().await;
    // Success bodies with a wrong-typed secret: a number where an environment value belongs,
    // a string where the environment map belongs.
    let mut wrong = vm_min(ID, "running");
    wrong["envVars"] = json!({ "DB_PASSWORD": 98765432101_u64 });
    api.respond_first("getVm", &vm_path(), json_response(200, &wrong), 1)
        .await;
    let mut flat = vm_min(ID, "running");
    flat["envVars"] = json!("DB_PASSWORD=hunter2-flat");
    api.respond_first("getVm", &vm_path(), json_response(200, &flat), 1)
        .await;
    // An error answer that echoes a console token and an environment.
    let echo = json!({ "error": "bad request", "token": "tok-echoed-s3cret", "env": { "K": "env-s3cret" } });
    api.respond("getVm", &vm_path(), json_response(400, &echo), 1).await;
    let decode = api.client.vms().retrieve(ID).await.unwrap_err();
    assert!(matches!(decode, Error::Decode { .. }), "{decode:?}");
    let decode_flat = api.client.vms().retrieve(ID).await.unwrap_err();
    assert!(matches!(decode_flat, Error::Decode { .. }), "{decode_flat:?}");
    let refused = api.client.vms().retrieve(ID).await.unwrap_err();
    assert_eq!(refused.status().map(|s| s.as_u16()), Some(400), "{refused:?}");
    for error in [&decode, &decode_flat, &refused] {
        let shown = everything_shown(error);
        for secret in ["98765432101", "hunter2-flat", "tok-echoed-s3cret", "env-s3cret"] {
            assert!(!shown.contains(secret), "{secret} shown: {shown}");
        }
        // What is not secret still tells what happened.
        assert!(shown.contains("getVm"), "{shown}");
    }
    assert!(everything_shown(&refused).contains("bad request"));
    assert!(everything_shown(&decode).contains("DB_PASSWORD"));
}
