//! The spec is OpenAPI 3.0 that progenitor can use, open string types decode values the server
//! may add later, and the generated operations put the right requests on the wire.

use std::path::Path;

use fastvm_api::hooks::{Policy, SendFuture, Transport};
use fastvm_api::types;
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn spec_text() -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

#[test]
fn spec_is_openapi_30_and_every_operation_has_an_id_a_tag_and_a_success_response() {
    let spec: openapiv3::OpenAPI = serde_json::from_str(&spec_text()).expect("openapi.json parses as OpenAPI 3.0");
    assert!(
        spec.openapi.starts_with("3.0."),
        "progenitor needs OpenAPI 3.0.x, the spec says {}",
        spec.openapi
    );
    let mut count = 0;
    for (route, method, op) in spec.operations() {
        count += 1;
        let id = op.operation_id.as_deref();
        assert!(
            id.is_some_and(|id| !id.is_empty()),
            "{method} {route} has no operationId"
        );
        assert!(!op.tags.is_empty(), "{method} {route} ({id:?}) has no tag");
        let success = op.responses.responses.keys().any(|code| match code {
            openapiv3::StatusCode::Code(c) => (200..300).contains(c),
            openapiv3::StatusCode::Range(r) => *r == 2,
        });
        assert!(success, "{method} {route} ({id:?}) has no 2xx response");
    }
    assert!(count > 0, "the spec has no operations");
}

fn vm_json(status: &str) -> Value {
    json!({
        "id": "0b9e3b8e-0000-4000-8000-000000000001",
        "name": "dev",
        "orgId": "org_1",
        "cpu": 2,
        "memoryMiB": 4096,
        "diskGiB": 10,
        "status": status,
        "createdAt": "2026-11-29T12:00:00Z",
        "machineName": "c2m4"
    })
}

#[test]
fn vm_with_an_unknown_status_decodes() {
    let vm: types::VmInfo = serde_json::from_value(vm_json("hibernating")).expect("unknown VM status must decode");
    assert_eq!(vm.status.as_str(), "hibernating");
    // And it survives a round trip unchanged, so callers can log or forward it.
    assert_eq!(serde_json::to_value(&vm).unwrap()["status"], "hibernating");
}

#[test]
fn launch_response_with_an_unknown_status_decodes() {
    let vm: types::VmCreateResponse =
        serde_json::from_value(vm_json("warming-up")).expect("unknown VM status must decode in a launch response");
    assert_eq!(vm.status.as_str(), "warming-up");
}

#[test]
fn snapshot_with_an_unknown_status_decodes() {
    let snap: types::Snapshot = serde_json::from_value(json!({
        "id": "snap_1",
        "name": "base",
        "orgId": "org_1",
        "vmId": "vm_1",
        "status": "archiving",
        "createdAt": "2026-11-29T12:00:00Z"
    }))
    .expect("unknown snapshot status must decode");
    assert_eq!(snap.status.as_str(), "archiving");
}

#[test]
fn build_with_an_unknown_status_decodes() {
    let build: types::BuildResponse = serde_json::from_value(json!({
        "id": "build_1",
        "status": "queued-for-review",
        "imageRef": "docker.io/library/alpine:3",
        "createdAt": "2026-11-29T12:00:00Z"
    }))
    .expect("unknown build status must decode");
    assert_eq!(build.status, types::BuildStatus::Unknown("queued-for-review".into()));
}

#[test]
fn unknown_machine_types_decode_in_requests_and_vms() {
    let req: types::CreateVmRequest =
        serde_json::from_value(json!({"machineType": "g9m512"})).expect("unknown machine type must decode");
    assert_eq!(req.machine_type.as_ref().map(|m| m.as_str()), Some("g9m512"));
    // The client can send a machine type the SDK has never heard of.
    assert_eq!(serde_json::to_value(&req).unwrap()["machineType"], "g9m512");
    let vm: types::VmInfo = serde_json::from_value(vm_json("running")).unwrap();
    assert_eq!(vm.machine_name.as_deref(), Some("c2m4"));
}

/// Adds the API key the way the facade's transport does; fastvm-api itself adds no auth.
struct WithApiKey(&'static str);

impl Transport for WithApiKey {
    fn send<'a>(
        &'a self,
        client: &'a reqwest::Client,
        mut request: reqwest::Request,
        _operation_id: &'static str,
    ) -> SendFuture<'a> {
        request
            .headers_mut()
            .insert("X-API-Key", reqwest::header::HeaderValue::from_static(self.0));
        Box::pin(client.execute(request))
    }
}

#[tokio::test]
async fn generated_operations_send_the_right_requests() {
    let server = MockServer::start().await;
    let key = "test-key-123";
    Mock::given(method("POST"))
        .and(path("/v1/vms"))
        .and(header("X-API-Key", key))
        .and(body_json(json!({"machineType": "c2m4", "name": "dev"})))
        .respond_with(ResponseTemplate::new(202).set_body_json(vm_json("provisioning")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/vms/vm-1/exec"))
        .and(header("X-API-Key", key))
        .and(header("accept", "application/json"))
        .and(body_json(json!({"command": ["sh", "-c", "echo hi"]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "exitCode": 0, "stdout": "hi\n", "stderr": "", "timedOut": false,
            "stdoutTruncated": false, "stderrTruncated": false, "durationMs": 3
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v1/vms/vm-1/services/web"))
        .and(header("X-API-Key", key))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;

    let client =
        fastvm_api::Client::new_with_client(&server.uri(), reqwest::Client::new(), Policy::new(WithApiKey(key)));

    let launched = client
        .launch_vm()
        .body(
            types::CreateVmRequest::builder()
                .machine_type(Some(types::MachineType("c2m4".to_string())))
                .name(Some("dev".to_string())),
        )
        .send()
        .await
        .expect("launch");
    assert_eq!(launched.status().as_u16(), 202);
    assert_eq!(launched.status.as_str(), "provisioning");
    assert_eq!(launched.id, "0b9e3b8e-0000-4000-8000-000000000001");

    let exec = client
        .exec_vm()
        .id("vm-1")
        .body(types::ExecVmRequest::builder().command(vec!["sh".into(), "-c".into(), "echo hi".into()]))
        .send()
        .await
        .expect("exec");
    assert_eq!((exec.exit_code, exec.stdout.as_str()), (0, "hi\n"));

    let deleted = client
        .delete_service()
        .id("vm-1")
        .service_name("web")
        .send()
        .await
        .expect("delete service");
    assert_eq!(deleted.status().as_u16(), 204);

    let requests = server.received_requests().await.expect("recording is on");
    assert_eq!(requests.len(), 3);
    for r in &requests {
        assert_eq!(
            r.headers.get("x-api-key").and_then(|v| v.to_str().ok()),
            Some(key),
            "{} {}",
            r.method,
            r.url
        );
    }
}

#[tokio::test]
async fn without_a_transport_that_adds_it_no_api_key_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path("/v1/vms/vm-1/services/web"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let client = fastvm_api::Client::new_with_client(&server.uri(), reqwest::Client::new(), Policy::default());
    client
        .delete_service()
        .id("vm-1")
        .service_name("web")
        .send()
        .await
        .expect("delete service");
    let requests = server.received_requests().await.expect("recording is on");
    assert_eq!(requests.len(), 1);
    assert!(
        requests[0].headers.get("x-api-key").is_none(),
        "fastvm-api must not add auth by itself"
    );
}
