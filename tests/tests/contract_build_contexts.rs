//! Contract tests of the build-context presign operation (`client.build_contexts()`).
// Tests deprecated operations too (builds, build contexts, a VM's SSH keys), kept for
// servers at the reference's version.
#![allow(deprecated)]

mod common;

use common::{Api, assert_error_mapping, assert_lossless};
use serde_json::json;

#[tokio::test]
async fn presign_build_context_wire() {
    let api = Api::start().await;
    let answer = json!({
        "uploadUrl": "https://storage.example/ctx/1.tar.gz?X-Amz-Signature=up",
        "downloadUrl": "https://storage.example/ctx/1.tar.gz?X-Amz-Signature=down",
        "expiresInSec": 3600,
        "maxUploadBytes": 10_737_418_240i64
    });
    api.expect("presignBuildContext", "/v1/build-contexts/presign", 200, answer.clone())
        .await;
    let urls = api.client.build_contexts().presign().await.unwrap();
    assert_eq!(urls.max_upload_bytes, 10_737_418_240);
    assert_lossless(&answer, &urls);
    // No request body and therefore no Content-Type (checked by `sent`).
    assert_eq!(api.sent("presignBuildContext").await.body, None);
}

#[tokio::test]
async fn build_context_errors_map_to_kinds() {
    assert_error_mapping("presignBuildContext", "/v1/build-contexts/presign", |c| async move {
        c.build_contexts().presign().await
    })
    .await;
}
