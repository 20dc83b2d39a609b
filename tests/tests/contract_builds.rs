//! Contract tests of the build operations (`client.builds()`), against wiremock.
// Tests deprecated operations too (builds, build contexts, a VM's SSH keys), kept for
// servers at the reference's version.
#![allow(deprecated)]

mod common;

use common::{Api, assert_error_mapping, assert_lossless};
use serde_json::{Value, json};

const BUILD: &str = "b0b0b0b0-0000-4000-8000-000000000001";

fn build_full(status: &str) -> Value {
    json!({
        "id": BUILD, "status": status, "imageRef": "python:3.13-slim", "createdAt": "2026-05-15T10:00:00Z",
        "name": "py313", "progress": "buildah bud", "snapshotId": "5d6e7f80-1111-2222-3333-444455556666",
        "error": "step 3/7 failed"
    })
}

fn build_min(status: &str) -> Value {
    json!({ "id": BUILD, "status": status, "imageRef": "", "createdAt": "2026-05-15T10:00:00Z" })
}

#[tokio::test]
async fn create_build_wire() {
    let api = Api::start().await;
    api.expect("createBuild", "/v1/builds", 202, build_full("pending"))
        .await;
    let build = api
        .client
        .builds()
        .create()
        .image_ref("python:3.13-slim")
        .dockerfile("FROM python:3.13-slim\nRUN pip install flask\n")
        .context_url("https://storage.example/ctx.tar.gz?sig=abc")
        .disk_gib(40)
        .machine_type("c4m8")
        .name("py313")
        .await
        .unwrap();
    assert_lossless(&build_full("pending"), &build);
    assert_eq!(
        api.sent("createBuild").await.json(),
        &json!({
            "imageRef": "python:3.13-slim",
            "dockerfileContent": "FROM python:3.13-slim\nRUN pip install flask\n",
            "contextDownloadUrl": "https://storage.example/ctx.tar.gz?sig=abc",
            "diskGiB": 40,
            "machineType": "c4m8",
            "name": "py313"
        })
    );

    // Minimal: a Dockerfile only.
    let api = Api::start().await;
    api.expect("createBuild", "/v1/builds", 202, build_min("pending")).await;
    let build = api.client.builds().create().dockerfile("FROM scratch\n").await.unwrap();
    assert_eq!(build.snapshot_id, None);
    assert_eq!(
        api.sent("createBuild").await.json(),
        &json!({ "dockerfileContent": "FROM scratch\n" })
    );
}

#[tokio::test]
async fn get_build_wire() {
    for fixture in [build_full("completed"), build_min("queued-for-gpu")] {
        let api = Api::start().await;
        api.expect("getBuild", &format!("/v1/builds/{BUILD}"), 200, fixture.clone())
            .await;
        let build = api.client.builds().retrieve(BUILD).await.unwrap();
        assert_lossless(&fixture, &build);
        assert_eq!(api.sent("getBuild").await.body, None);
    }
}

#[tokio::test]
async fn build_errors_map_to_kinds() {
    assert_error_mapping("createBuild", "/v1/builds", |c| async move {
        c.builds().create().image_ref("alpine").await
    })
    .await;
    assert_error_mapping("getBuild", &format!("/v1/builds/{BUILD}"), |c| async move {
        c.builds().retrieve(BUILD).await
    })
    .await;
}
