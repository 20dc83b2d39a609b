//! What a user's `tracing` subscriber sees: one `fastvm.call` span per API call (operation, VM
//! id), a span per workflow (`fastvm.launch` with the VM id once known, `fastvm.transfer`,
//! `fastvm.fleet`), each request line with its attempt number, and storage requests logged with
//! their URL's query (the presigned signature) left out.

mod common;

use common::Api;
use common::logs::{Capture, EventData};
use serde_json::json;
use wiremock::ResponseTemplate;

#[tokio::test]
async fn calls_and_workflows_have_spans_and_storage_requests_are_logged() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let fake = fastvm_fake::FakeServer::start().await.unwrap();
    let client = fastvm_tests::fake::client(&fake);

    let vm = client.launch_vm(fastvm::launch::machine("c1m2")).await.unwrap();
    let id = vm.id().to_string();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, b"spans").unwrap();
    vm.upload(&file, "/root/f").await.unwrap();
    vm.run("cat /root/f").await.unwrap().check().unwrap();
    let fleet = client.fleet(fastvm::launch::machine("c1m2"), 2).await.unwrap();
    drop(fleet);
    vm.delete().await.unwrap();

    let dump = capture.dump();
    let requests = capture.events("fastvm request");
    assert!(!requests.is_empty(), "no request line:\n{dump}");
    // Every request line is one attempt, numbered, inside its call's span.
    for r in &requests {
        assert!(r.fields.contains("attempt=1 "), "{r:?}");
        assert!(r.inside("fastvm.call", "operation="), "{r:?}");
    }
    // The launch: its call inside the launch span, which names the VM once launched.
    let launch = requests
        .iter()
        .find(|r| r.inside("fastvm.call", "operation=launchVm"))
        .unwrap();
    assert!(launch.scope.iter().any(|s| s.name == "fastvm.launch"), "{launch:?}");
    let launches = capture.spans("fastvm.launch");
    assert!(
        launches.iter().any(|s| s.fields.contains(&format!("vm_id={id} "))),
        "{launches:?}"
    );
    // A call on the VM carries its id.
    let exec = requests
        .iter()
        .find(|r| r.inside("fastvm.call", "operation=execVm"))
        .unwrap();
    assert!(exec.inside("fastvm.call", &format!("vm_id={id} ")), "{exec:?}");
    // The upload: its presign, storage PUT and fetch inside one transfer span.
    let transfer = |e: &EventData| e.inside("fastvm.transfer", "direction=upload ");
    let presign = requests
        .iter()
        .find(|r| r.inside("fastvm.call", "operation=presignFile"))
        .unwrap();
    assert!(transfer(presign), "{presign:?}");
    let storage = capture.events("fastvm storage request");
    let put = storage.iter().find(|e| e.fields.contains("method=PUT ")).expect(&dump);
    assert!(transfer(put), "{put:?}");
    assert!(
        put.fields.contains("attempt=1 ") && put.fields.contains("status=200 "),
        "{put:?}"
    );
    let url = put.fields.split("url=").nth(1).unwrap().split(' ').next().unwrap();
    assert!(
        url.starts_with("http://127.0.0.1") && !url.contains("X-Amz-Signature"),
        "{url}"
    );
    // The fleet's launches inside its span.
    let in_fleet = requests
        .iter()
        .filter(|r| r.inside("fastvm.fleet", "n=2 ") && r.inside("fastvm.call", "operation=launchVm"))
        .count();
    assert_eq!(in_fleet, 2, "{dump}");
}

#[tokio::test]
async fn a_retried_call_logs_each_attempt_by_number() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let api = Api::start_with(|b| b.max_retries(1)).await;
    let retry_soon = ResponseTemplate::new(503).insert_header("retry-after-ms", "1");
    api.respond_first("getOrgQuotas", "/v1/org/quotas", retry_soon, 1).await;
    let values = json!({"vcpu": 1, "memoryMiB": 1, "diskGiB": 1, "snapshotCount": 0});
    let quotas = json!({"orgId": "o", "limits": values, "usage": values});
    api.expect("getOrgQuotas", "/v1/org/quotas", 200, quotas).await;

    api.client.quotas().retrieve().await.unwrap();

    let requests = capture.events("fastvm request");
    let statuses: Vec<_> = requests
        .iter()
        .map(|r| {
            let attempt = r.fields.split("attempt=").nth(1).unwrap().split(' ').next().unwrap();
            let status = r.fields.split("status=").nth(1).unwrap().split(' ').next().unwrap();
            (attempt.to_string(), status.to_string())
        })
        .collect();
    assert_eq!(
        statuses,
        [("1".into(), "503".into()), ("2".into(), "200".into())],
        "{}",
        capture.dump()
    );
    // Both attempts, and the retry between them, inside the one call's span.
    assert!(
        requests
            .iter()
            .all(|r| r.inside("fastvm.call", "operation=getOrgQuotas"))
    );
    let retrying = capture.events("fastvm retrying");
    assert_eq!(retrying.len(), 1, "{}", capture.dump());
    assert!(retrying[0].fields.contains("attempt=2 "), "{:?}", retrying[0]);
    assert!(retrying[0].inside("fastvm.call", "operation=getOrgQuotas"));
}
