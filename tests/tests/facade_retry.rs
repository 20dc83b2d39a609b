//! Retry and timeout behaviour of the facade, against wiremock's ordered responses and delays.
//!
//! Where a test is not about the server's delay hint, answers carry `retry-after-ms: 1` so the
//! suite does not sit through the exponential backoff.
// Tests deprecated operations too (builds, build contexts, a VM's SSH keys), kept for
// servers at the reference's version.
#![allow(deprecated)]

mod common;

use std::time::Duration;

use common::{Api, closed_port, json_response, vm_min};
use fastvm::{Error, FastvmClient, RequestOptions};
use serde_json::json;
use wiremock::ResponseTemplate;

const ID: &str = "0b5e2f9a-1c3d-4e5f-8a9b-0c1d2e3f4a5b";

fn vm_path() -> String {
    format!("/v1/vms/{ID}")
}

/// An error answer with `{error}` and extra headers.
fn failing(status: u16, headers: &[(&str, &str)]) -> ResponseTemplate {
    let mut t = json_response(status, &json!({ "error": format!("failure {status}") }));
    for (k, v) in headers {
        t = t.insert_header(*k, *v);
    }
    t
}

const FAST: &[(&str, &str)] = &[("retry-after-ms", "1")];

#[tokio::test]
async fn retries_503_503_then_succeeds_with_backoff() {
    // Default client: two retries with exponential backoff (no server hint).
    let api = Api::start_with(|b| b).await;
    api.respond_first("getVm", &vm_path(), failing(503, &[]), 2).await;
    api.expect("getVm", &vm_path(), 200, vm_min(ID, "running")).await;
    let vm = api.client.vms().retrieve(ID).await.unwrap();
    assert_eq!(vm.id, ID);
    assert_eq!(api.sent_all("getVm").await.len(), 3);
}

#[tokio::test]
async fn retries_429_after_retry_after_seconds() {
    let api = Api::start_with(|b| b).await;
    api.respond_first("getVm", &vm_path(), failing(429, &[("retry-after", "1")]), 1)
        .await;
    api.expect("getVm", &vm_path(), 200, vm_min(ID, "running")).await;
    api.client.vms().retrieve(ID).await.unwrap();
    assert_eq!(api.sent_all("getVm").await.len(), 2);
}

#[tokio::test]
async fn retry_after_http_date_in_the_past_retries_at_once() {
    let api = Api::start_with(|b| b).await;
    let past = "Wed, 21 Oct 2015 07:28:00 GMT";
    api.respond_first("getVm", &vm_path(), failing(503, &[("retry-after", past)]), 1)
        .await;
    api.expect("getVm", &vm_path(), 200, vm_min(ID, "running")).await;
    api.client.vms().retrieve(ID).await.unwrap();
    assert_eq!(api.received().await.len(), 2);
}

#[tokio::test]
async fn retry_after_beyond_the_cap_falls_back_to_backoff() {
    // A server asking for two minutes is not obeyed past the cap (60 s by default): the retry
    // waits the normal backoff instead, still within max_retries (the test would hang for
    // minutes otherwise).
    let policy = fastvm::RetryPolicy::new()
        .max_retries(2)
        .initial_backoff(std::time::Duration::from_millis(5));
    let api = Api::start_with(|b| b.retry_policy(policy)).await;
    api.respond_first("getVm", &vm_path(), failing(429, &[("retry-after", "120")]), 2)
        .await;
    api.expect("getVm", &vm_path(), 200, vm_min(ID, "running")).await;
    api.client.vms().retrieve(ID).await.unwrap();
    assert_eq!(api.received().await.len(), 3);

    // And the budget still ends it: with max_retries(1), two attempts and the 429.
    let policy = fastvm::RetryPolicy::new()
        .max_retries(1)
        .initial_backoff(std::time::Duration::from_millis(5));
    let api = Api::start_with(|b| b.retry_policy(policy)).await;
    api.respond("getVm", &vm_path(), failing(429, &[("retry-after", "120")]), 2)
        .await;
    let err = api.client.vms().retrieve(ID).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(429));
    assert_eq!(api.received().await.len(), 2);
}

#[tokio::test]
async fn a_retry_after_within_a_raised_cap_is_obeyed() {
    let policy = fastvm::RetryPolicy::new()
        .max_retries(1)
        .initial_backoff(std::time::Duration::from_secs(600))
        .max_retry_after(std::time::Duration::from_secs(120));
    let api = Api::start_with(|b| b.retry_policy(policy)).await;
    // 0.05 s asked; the backoff (600 s) would hang the test.
    api.respond_first("getVm", &vm_path(), failing(503, &[("retry-after", "0.05")]), 1)
        .await;
    api.expect("getVm", &vm_path(), 200, vm_min(ID, "running")).await;
    api.client.vms().retrieve(ID).await.unwrap();
    assert_eq!(api.received().await.len(), 2);
}

#[tokio::test]
async fn a_429_quota_exceeded_is_not_retried_a_rate_limit_is() {
    let policy = fastvm::RetryPolicy::new()
        .max_retries(2)
        .initial_backoff(std::time::Duration::from_millis(5));
    let api = Api::start_with(|b| b.retry_policy(policy.clone())).await;
    let quota = json!({ "error": "resuming would exceed the org's vcpu quota", "dimension": "vcpu" });
    api.respond(
        "resumeVm",
        &format!("{}/resume", vm_path()),
        json_response(429, &quota),
        1,
    )
    .await;
    let err = api.client.vms().resume(ID).await.unwrap_err();
    assert_eq!(err.api().map(|e| e.kind), Some(fastvm::ApiErrorKind::QuotaExceeded));
    assert_eq!(
        err.api().and_then(|e| e.dimension.as_deref()),
        Some("vcpu"),
        "the body is kept"
    );
    assert_eq!(
        api.received().await.len(),
        1,
        "an exceeded quota does not clear by itself"
    );

    // The per-VM service cap's body counts as a quota too.
    let api = Api::start_with(|b| b.retry_policy(policy.clone())).await;
    let cap = json!({ "error": "vm_service_quota_exceeded", "count": 16 });
    api.respond("getVm", &vm_path(), json_response(429, &cap), 1).await;
    let err = api.client.vms().retrieve(ID).await.unwrap_err();
    assert_eq!(err.api().map(|e| e.kind), Some(fastvm::ApiErrorKind::QuotaExceeded));
    assert_eq!(api.received().await.len(), 1);

    // x-should-retry keeps its meaning: the server may still ask for a retry.
    let api = Api::start_with(|b| b.retry_policy(policy.clone())).await;
    api.respond_first(
        "resumeVm",
        &format!("{}/resume", vm_path()),
        json_response(429, &quota).insert_header("x-should-retry", "true"),
        1,
    )
    .await;
    api.expect("resumeVm", &format!("{}/resume", vm_path()), 200, vm_min(ID, "running"))
        .await;
    api.client.vms().resume(ID).await.unwrap();
    assert_eq!(api.received().await.len(), 2);

    // A plain 429 (a rate limit) is retried.
    let api = Api::start_with(|b| b.retry_policy(policy)).await;
    api.respond_first(
        "getVm",
        &vm_path(),
        json_response(429, &json!({"error": "slow down"})),
        1,
    )
    .await;
    api.expect("getVm", &vm_path(), 200, vm_min(ID, "running")).await;
    api.client.vms().retrieve(ID).await.unwrap();
    assert_eq!(api.received().await.len(), 2);
}

#[tokio::test]
async fn x_should_retry_false_is_obeyed() {
    let api = Api::start_with(|b| b.max_retries(2)).await;
    api.respond(
        "getVm",
        &vm_path(),
        failing(503, &[("x-should-retry", "false"), ("retry-after-ms", "1")]),
        1,
    )
    .await;
    let err = api.client.vms().retrieve(ID).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(api.received().await.len(), 1);
}

#[tokio::test]
async fn x_should_retry_true_retries_even_a_conflict() {
    let api = Api::start_with(|b| b.max_retries(2)).await;
    api.respond_first(
        "getVm",
        &vm_path(),
        failing(409, &[("x-should-retry", "true"), ("retry-after-ms", "1")]),
        1,
    )
    .await;
    api.expect("getVm", &vm_path(), 200, vm_min(ID, "running")).await;
    api.client.vms().retrieve(ID).await.unwrap();
    assert_eq!(api.received().await.len(), 2);
}

#[tokio::test]
async fn conflict_is_not_retried() {
    let api = Api::start_with(|b| b.max_retries(2)).await;
    api.respond(
        "refreshVmTtl",
        &format!("{}/ttl/refresh", vm_path()),
        failing(409, FAST),
        1,
    )
    .await;
    let err = api.client.vms().refresh_ttl(ID).await.unwrap_err();
    assert_eq!(err.api().unwrap().kind, fastvm::ApiErrorKind::Conflict);
    assert!(!err.is_retryable());
    assert_eq!(api.received().await.len(), 1);
}

#[tokio::test]
async fn retries_are_exhausted_then_the_last_error_is_returned() {
    let api = Api::start_with(|b| b.max_retries(2)).await;
    api.respond_first("getVm", &vm_path(), failing(500, FAST), 2).await;
    api.respond("getVm", &vm_path(), failing(502, FAST), 1).await;
    let err = api.client.vms().retrieve(ID).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(502));
    assert_eq!(api.received().await.len(), 3);
}

#[tokio::test]
async fn idempotent_operations_are_retried_with_the_same_request() {
    // Methods with and without bodies, including PUT/PATCH bodies that must be re-sent intact.
    let api = Api::start_with(|b| b.max_retries(1)).await;
    api.respond_first("updateVm", &vm_path(), failing(503, FAST), 1).await;
    api.expect("updateVm", &vm_path(), 200, vm_min(ID, "running")).await;
    api.client.vms().update(ID).name("again").await.unwrap();
    let sent = api.sent_all("updateVm").await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].json(), &json!({ "name": "again" }));
    assert_eq!(sent[0].json(), sent[1].json());

    let api = Api::start_with(|b| b.max_retries(1)).await;
    let fw = format!("{}/firewall", vm_path());
    api.respond_first("setVmFirewall", &fw, failing(504, FAST), 1).await;
    api.expect("setVmFirewall", &fw, 200, vm_min(ID, "running")).await;
    api.client
        .vms()
        .set_firewall(ID, common::firewall_full())
        .await
        .unwrap();
    let sent = api.sent_all("setVmFirewall").await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].json(), &common::firewall_full_json());

    let api = Api::start_with(|b| b.max_retries(1)).await;
    let svc = format!("{}/services/web", vm_path());
    api.respond_first("deleteService", &svc, failing(500, FAST), 1).await;
    api.respond("deleteService", &svc, ResponseTemplate::new(204), 1).await;
    api.client.vms().services().delete(ID, "web").await.unwrap();
    assert_eq!(api.sent_all("deleteService").await.len(), 2);

    let api = Api::start_with(|b| b.max_retries(1)).await;
    api.respond_first("deleteVm", &vm_path(), failing(429, FAST), 1).await;
    api.expect_done("deleteVm", &vm_path(), json!({ "id": ID, "deleted": true }))
        .await;
    api.client.vms().delete(ID).await.unwrap();
    assert_eq!(api.sent_all("deleteVm").await.len(), 2);
}

/// One call of each non-idempotent operation, with the path it uses.
async fn call_non_idempotent(client: &FastvmClient, op: &str) -> fastvm::Result<()> {
    let vms = client.vms();
    match op {
        "launchVm" => vms.launch(fastvm::launch::machine("c1m2")).await.map(drop),
        "execVm" => vms.run(ID, "true").await.map(drop),
        "presignFile" => vms.files().presign(ID, "/root/f").await.map(drop),
        "fetchFileToVm" => vms
            .files()
            .fetch(ID, "https://storage.example/o?sig=1", "/root/f")
            .await
            .map(drop),
        "registerService" => vms.services().register(ID, "web", 8080).await.map(drop),
        "addSshKey" => vms
            .ssh_keys()
            .add(ID, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE7x")
            .await
            .map(drop),
        "addUserSshKey" => client
            .user_ssh_keys()
            .add("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE7x")
            .await
            .map(drop),
        "createSnapshot" => client.snapshots().create(ID).await.map(drop),
        "createVolume" => client.volumes().create("shared", 1).await.map(drop),
        "attachVolume" => client.volumes().attach(ID, ID, "/mnt/shared").await.map(drop),
        "createBuild" => client.builds().create().image_ref("alpine").await.map(drop),
        "presignBuildContext" => client.build_contexts().presign().await.map(drop),
        "createBucketMount" => vms
            .bucket_mounts()
            .create(
                ID,
                "s3://logs",
                "/mnt/logs",
                fastvm::types::BucketCredentials::aws_credentials_file("[default]"),
            )
            .await
            .map(drop),
        "createSnapshotImport" => client.snapshot_imports().create().image("alpine:3").await.map(drop),
        "presignSnapshotImportContext" => client.snapshot_imports().presign_context().await.map(drop),
        other => panic!(
            "tests/tests/facade_retry.rs: no call of {other} in `call_non_idempotent`: add one (the spec says it is not idempotent)"
        ),
    }
}

/// The operations the spec says are not safe to repeat (`x-fastvm-idempotent: false`), each
/// with a path of it (every path parameter the VM's id).
fn non_idempotent() -> Vec<(&'static str, String)> {
    fastvm_tests::schema::operations()
        .iter()
        .filter(|op| op.value["x-fastvm-idempotent"] == json!(false))
        .map(|op| {
            let path: Vec<&str> = op
                .path
                .split('/')
                .map(|s| if s.starts_with('{') { ID } else { s })
                .collect();
            (op.id.as_str(), path.join("/"))
        })
        .collect()
}

#[tokio::test]
async fn launch_is_not_retried_on_503() {
    let api = Api::start_with(|b| b.max_retries(2)).await;
    api.respond("launchVm", "/v1/vms", failing(503, FAST), 1).await;
    let err = api
        .client
        .launch_vm(fastvm::launch::machine("c1m2"))
        .no_safety_ttl()
        .await
        .map(fastvm_tests::fake::released)
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(
        api.received().await.len(),
        1,
        "a retried launch could create a second VM"
    );
}

#[tokio::test]
async fn non_idempotent_operations_are_not_retried() {
    let ops = non_idempotent();
    assert!(ops.iter().any(|(op, _)| *op == "launchVm"), "{ops:?}");
    for (op, path) in ops {
        let api = Api::start_with(|b| b.max_retries(2)).await;
        api.respond(op, &path, failing(503, FAST), 1).await;
        let err = call_non_idempotent(&api.client, op).await.unwrap_err();
        assert_eq!(err.status().map(|s| s.as_u16()), Some(503), "{op}");
        assert_eq!(api.sent_all(op).await.len(), 1, "{op} was retried");
    }
}

#[tokio::test]
async fn retry_non_idempotent_opts_in() {
    let api = Api::start_with(|b| b.max_retries(2)).await;
    api.respond_first("launchVm", "/v1/vms", failing(503, FAST), 1).await;
    api.expect("launchVm", "/v1/vms", 201, vm_min(ID, "running")).await;
    let client = api
        .client
        .with_options(RequestOptions::new().retry_non_idempotent(true));
    let vm = client
        .launch_vm(fastvm::launch::machine("c1m2"))
        .no_safety_ttl()
        .await
        .map(fastvm_tests::fake::released)
        .unwrap();
    assert_eq!(vm.id, ID);
    let sent = api.sent_all("launchVm").await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].json(), sent[1].json());
}

#[tokio::test]
async fn max_retries_zero_disables_retries() {
    let api = Api::start_with(|b| b.max_retries(0)).await;
    api.respond("getVm", &vm_path(), failing(503, FAST), 1).await;
    api.client.vms().retrieve(ID).await.unwrap_err();
    assert_eq!(api.received().await.len(), 1);

    // The same through a per-call view of a retrying client.
    let api = Api::start_with(|b| b.max_retries(2)).await;
    api.respond("getVm", &vm_path(), failing(503, FAST), 1).await;
    let view = api.client.with_options(RequestOptions::new().max_retries(0));
    view.vms().retrieve(ID).await.unwrap_err();
    assert_eq!(api.received().await.len(), 1);
}

#[tokio::test]
async fn per_call_max_retries_overrides_the_client() {
    let api = Api::start_with(|b| b.max_retries(0)).await;
    api.respond("getVm", &vm_path(), failing(503, FAST), 4).await;
    let view = api.client.with_options(RequestOptions::new().max_retries(3));
    view.vms().retrieve(ID).await.unwrap_err();
    assert_eq!(api.received().await.len(), 4);
    // The view does not change the client it came from.
    api.next_case().await;
    api.respond("getVm", &vm_path(), failing(503, FAST), 1).await;
    api.client.vms().retrieve(ID).await.unwrap_err();
    assert_eq!(api.received().await.len(), 1);
}

#[tokio::test]
async fn slow_answer_past_the_timeout_is_a_timeout_error() {
    let api = Api::start_with(|b| b.max_retries(0)).await;
    api.respond(
        "getVm",
        &vm_path(),
        json_response(200, &vm_min(ID, "running")).set_delay(Duration::from_secs(5)),
        1,
    )
    .await;
    let view = api
        .client
        .with_options(RequestOptions::new().timeout(Duration::from_millis(200)));
    let err = view.vms().retrieve(ID).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(err.is_timeout() && !err.is_connect(), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn client_timeout_applies_and_a_timed_out_idempotent_call_is_retried() {
    let api = Api::start_with(|b| b.max_retries(1).timeout(Duration::from_millis(300))).await;
    api.respond_first(
        "getVm",
        &vm_path(),
        json_response(200, &vm_min(ID, "running")).set_delay(Duration::from_secs(5)),
        1,
    )
    .await;
    api.expect("getVm", &vm_path(), 200, vm_min(ID, "running")).await;
    api.client.vms().retrieve(ID).await.unwrap();
    assert_eq!(api.received().await.len(), 2);
}

#[tokio::test]
async fn connect_error_on_a_closed_port() {
    let port = closed_port();
    let client = FastvmClient::builder()
        .api_key(common::API_KEY)
        .base_url(format!("http://127.0.0.1:{port}"))
        .max_retries(1)
        .build()
        .unwrap();
    let err = client.vms().retrieve(ID).await.unwrap_err();
    match &err {
        Error::Connection { connect, .. } => assert!(*connect, "{err:?}"),
        other => panic!("expected a connection error, got {other:?}"),
    }
    assert!(err.is_connect() && !err.is_timeout(), "{err:?}");
    assert!(err.is_retryable());
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(common::API_KEY), "{shown}");

    // Even a launch may be retried after a connect error (it never reached a server); either
    // way the caller sees the connection error.
    let err = client.vms().launch(fastvm::launch::machine("c1m2")).await.unwrap_err();
    assert!(matches!(err, Error::Connection { connect: true, .. }), "{err:?}");
}

#[tokio::test]
async fn launch_is_retried_after_a_connect_error() {
    // The first attempt goes to a closed port; a server then appears on it. Only a retry can
    // reach it, and a launch is retried because the first attempt provably never got anywhere.
    let port = closed_port();
    let client = FastvmClient::builder()
        .api_key(common::API_KEY)
        .base_url(format!("http://127.0.0.1:{port}"))
        .max_retries(2)
        .build()
        .unwrap();
    let launch = tokio::spawn(async move { client.vms().launch(fastvm::launch::machine("c1m2")).await });
    // Bind while the client is in its first backoff (at least 375 ms).
    tokio::time::sleep(Duration::from_millis(100)).await;
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("rebind the port");
    let server = wiremock::MockServer::builder().listener(listener).start().await;
    common::mount_catch_all(&server).await;
    wiremock::Mock::given(wiremock::matchers::path("/v1/vms"))
        .respond_with(json_response(201, &vm_min(ID, "running")))
        .expect(1)
        .mount(&server)
        .await;
    let resp = launch.await.unwrap().unwrap();
    assert_eq!(resp.status.as_u16(), 201);
}

#[tokio::test]
async fn exec_and_fetch_are_not_cut_by_the_default_timeout() {
    // The client's default timeout is for ordinary calls; exec and files/fetch last as long as
    // the command (their own `timeoutSec` bounds them server-side).
    let api = Api::start_with(|b| b.max_retries(0).timeout(Duration::from_millis(200))).await;
    let answer = json!({ "exitCode": 0, "stdout": "done\n", "stderr": "", "timedOut": false,
                         "stdoutTruncated": false, "stderrTruncated": false, "durationMs": 700 });
    common::valid_fixture("execVm", 200, &answer);
    common::valid_fixture("fetchFileToVm", 200, &answer);
    api.respond(
        "execVm",
        &format!("{}/exec", vm_path()),
        json_response(200, &answer).set_delay(Duration::from_millis(700)),
        1,
    )
    .await;
    api.respond(
        "fetchFileToVm",
        &format!("{}/files/fetch", vm_path()),
        json_response(200, &answer).set_delay(Duration::from_millis(700)),
        1,
    )
    .await;
    let out = api.client.vms().run(ID, "sleep 0.7; echo done").await.unwrap();
    assert_eq!(out.stdout, "done\n");
    api.client
        .vms()
        .files()
        .fetch(ID, "https://storage.example/o?sig=1", "/root/f")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_retried_attempt_keeps_the_per_request_timeout() {
    // The retry copy of a request is made without reqwest's extensions (where the timeout
    // lives) and the timeout is set again: a slow answer to the retry must still time out,
    // for a body-less GET and for a PATCH with a body alike.
    let api = Api::start_with(|b| b.max_retries(1).timeout(Duration::from_millis(300))).await;
    let slow = json_response(200, &vm_min(ID, "running")).set_delay(Duration::from_secs(5));
    api.respond_first("getVm", &vm_path(), failing(503, FAST), 1).await;
    api.respond("getVm", &vm_path(), slow.clone(), 1).await;
    let err = api.client.vms().retrieve(ID).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");

    api.next_case().await;
    api.respond_first("updateVm", &vm_path(), failing(503, FAST), 1).await;
    api.respond("updateVm", &vm_path(), slow, 1).await;
    let err = api.client.vms().update(ID).name("again").await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(err.is_timeout() && !err.is_connect(), "{err:?}");
    assert_eq!(api.sent_all("updateVm").await.len(), 2);
}

#[tokio::test]
async fn the_public_generated_client_is_retried_like_the_facade() {
    // `client.api()` keeps its own copy of each request for retries (the facade's calls make
    // the call again instead); both follow the same policy.
    let api = Api::start_with(|b| b.max_retries(2)).await;
    api.respond_first("getVm", &vm_path(), failing(503, FAST), 2).await;
    api.expect("getVm", &vm_path(), 200, vm_min(ID, "running")).await;
    let vm = api.client.api().get_vm().id(ID).send().await.unwrap();
    assert_eq!(vm.id, ID);
    assert_eq!(api.sent_all("getVm").await.len(), 3);

    // A body is sent again intact, and a non-idempotent operation's answer is final.
    let api = Api::start_with(|b| b.max_retries(1)).await;
    api.respond_first("updateVm", &vm_path(), failing(503, FAST), 1).await;
    api.expect("updateVm", &vm_path(), 200, vm_min(ID, "running")).await;
    let mut body = fastvm_api::types::UpdateVmRequest::new();
    body.name = Some("again".into());
    api.client.api().update_vm().id(ID).body(body).send().await.unwrap();
    let sent = api.sent_all("updateVm").await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].json(), &json!({ "name": "again" }));

    let api = Api::start_with(|b| b.max_retries(2)).await;
    api.respond("launchVm", "/v1/vms", failing(503, FAST), 1).await;
    let body: fastvm::types::CreateVmRequest = serde_json::from_value(json!({ "machineType": "c1m2" })).unwrap();
    let err = api.client.api().launch_vm().body(body).send().await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503), "{err:?}");
    assert_eq!(api.sent_all("launchVm").await.len(), 1);
}
