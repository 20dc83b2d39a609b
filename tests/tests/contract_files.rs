//! Contract tests of the raw presigned file flow (`client.vms().files()`), against wiremock.

mod common;

use common::{Api, assert_error_mapping, assert_lossless};
use std::time::Duration;

use serde_json::json;

const ID: &str = "0b5e2f9a-1c3d-4e5f-8a9b-0c1d2e3f4a5b";
const SIGNED: &str = "https://storage.example/stage/obj?X-Amz-Signature=s3cr3tsig&X-Amz-Expires=900";

fn presign_answer() -> serde_json::Value {
    json!({
        "uploadUrl": "https://storage.example/stage/obj?X-Amz-Signature=up",
        "downloadUrl": SIGNED,
        "expiresInSec": 900,
        "maxUploadBytes": i64::MAX
    })
}

fn exec_answer(code: i64) -> serde_json::Value {
    json!({ "exitCode": code, "stdout": "", "stderr": if code == 0 { "" } else { "curl: (22) 403" },
            "timedOut": false, "stdoutTruncated": false, "stderrTruncated": false, "durationMs": 42 })
}

#[tokio::test]
async fn presign_file_wire() {
    let path = format!("/v1/vms/{ID}/files/presign");
    let api = Api::start().await;
    api.expect("presignFile", &path, 200, presign_answer()).await;
    let urls = api
        .client
        .vms()
        .files()
        .presign(ID, "/root/dir with space/f.txt")
        .await
        .unwrap();
    assert_eq!(urls.max_upload_bytes, i64::MAX);
    assert_lossless(&presign_answer(), &urls);
    assert_eq!(
        api.sent("presignFile").await.json(),
        &json!({ "path": "/root/dir with space/f.txt" })
    );

    // Minimal: a bare relative path is passed through unchanged.
    let api = Api::start().await;
    api.expect("presignFile", &path, 200, presign_answer()).await;
    api.client.vms().files().presign(ID, "f").await.unwrap();
    assert_eq!(api.sent("presignFile").await.json(), &json!({ "path": "f" }));
}

#[tokio::test]
async fn fetch_file_to_vm_wire() {
    let path = format!("/v1/vms/{ID}/files/fetch");
    let api = Api::start().await;
    api.expect("fetchFileToVm", &path, 200, exec_answer(0)).await;
    let out = api
        .client
        .vms()
        .files()
        .fetch(ID, SIGNED, "/root/f.txt")
        .timeout(Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(out.exit_code, 0);
    assert_lossless(&exec_answer(0), &out);
    assert_eq!(
        api.sent("fetchFileToVm").await.json(),
        &json!({ "url": SIGNED, "path": "/root/f.txt", "timeoutSec": 600 })
    );

    // Minimal: no timeout. A failed VM-side fetch is a result (exit code), not an error.
    let api = Api::start().await;
    api.expect("fetchFileToVm", &path, 200, exec_answer(22)).await;
    let out = api.client.vms().files().fetch(ID, SIGNED, "/root/f.txt").await.unwrap();
    assert_eq!(out.exit_code, 22);
    assert_eq!(out.stderr, "curl: (22) 403");
    assert_eq!(
        api.sent("fetchFileToVm").await.json(),
        &json!({ "url": SIGNED, "path": "/root/f.txt" })
    );
}

#[tokio::test]
async fn fetch_error_echoing_the_url_does_not_leak_the_signature() {
    let api = Api::start().await;
    let body = json!({ "error": format!("cannot fetch {SIGNED}: 403") });
    api.expect("fetchFileToVm", &format!("/v1/vms/{ID}/files/fetch"), 400, body)
        .await;
    let err = api
        .client
        .vms()
        .files()
        .fetch(ID, SIGNED, "/root/f.txt")
        .await
        .unwrap_err();
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains("s3cr3tsig"), "signature leaked: {shown}");
        assert!(
            shown.contains("storage.example/stage/obj"),
            "the URL's location is kept: {shown}"
        );
    }
}

#[tokio::test]
async fn file_errors_map_to_kinds() {
    assert_error_mapping("presignFile", &format!("/v1/vms/{ID}/files/presign"), |c| async move {
        c.vms().files().presign(ID, "/root/f").await
    })
    .await;
    assert_error_mapping("fetchFileToVm", &format!("/v1/vms/{ID}/files/fetch"), |c| async move {
        c.vms()
            .files()
            .fetch(ID, SIGNED, "/root/f")
            .timeout(Duration::from_secs(1))
            .await
    })
    .await;
}
