//! Contract tests of the snapshot import operations (`client.snapshot_imports()`), against
//! wiremock.

mod common;

use common::{Api, assert_error_mapping, assert_invalid, assert_lossless};
use serde_json::{Value, json};

const IMPORT: &str = "1a2b3c4d-0000-4000-8000-000000000001";

fn import_full(status: &str) -> Value {
    json!({
        "id": IMPORT, "status": status, "createdAt": "2026-05-15T10:00:00Z", "name": "py",
        "source": { "type": "dockerfile", "dockerfilePath": "docker/Dockerfile", "target": "prod",
                    "buildArgs": { "V": "1" }, "registryHost": "ghcr.io", "registryUsername": "me",
                    "contextSizeBytes": 4096 },
        "events": [
            { "phase": "fetch_context", "status": "completed", "timestampMs": 1715767200000_i64, "message": "4 KiB" },
            { "phase": "build", "status": "started", "timestampMs": 1715767201000_i64 }
        ],
        "snapshotId": "5d6e7f80-1111-2222-3333-444455556666", "error": "step 3/7 failed",
        "machineName": "c2m4", "cpu": 2, "memoryMiB": 4096, "diskGiB": 20,
        "startedAt": "2026-05-15T10:00:01Z", "updatedAt": "2026-05-15T10:00:02Z", "finishedAt": "2026-05-15T10:05:00Z"
    })
}

fn import_min(status: &str) -> Value {
    json!({ "id": IMPORT, "status": status, "createdAt": "2026-05-15T10:00:00Z", "source": { "type": "image" } })
}

#[tokio::test]
async fn create_snapshot_import_wire() {
    // An image, with every setting an image import takes.
    let api = Api::start().await;
    api.expect(
        "createSnapshotImport",
        "/v1/snapshot-imports",
        202,
        import_min("pending"),
    )
    .await;
    let import = api
        .client
        .snapshot_imports()
        .create()
        .image("ghcr.io/me/app:v1")
        .platform("linux/arm64")
        .registry_credentials("me", "s3cret")
        .registry_host("ignored.example")
        .name("app")
        .machine_type("c2m4")
        .disk_gib(20)
        .await
        .unwrap();
    assert_lossless(&import_min("pending"), &import);
    assert_eq!(
        api.sent("createSnapshotImport").await.json(),
        &json!({
            "source": { "type": "image", "image": "ghcr.io/me/app:v1", "platform": "linux/arm64",
                        "registryUsername": "me", "registryPassword": "s3cret" },
            "name": "app", "machineType": "c2m4", "diskGiB": 20
        })
    );

    // A Dockerfile: its context reference and build settings.
    let api = Api::start().await;
    api.expect(
        "createSnapshotImport",
        "/v1/snapshot-imports",
        202,
        import_full("pending"),
    )
    .await;
    let import = api
        .client
        .snapshot_imports()
        .create()
        .dockerfile("ctx_123")
        .dockerfile_path("docker/Dockerfile")
        .target("prod")
        .build_arg("V", "1")
        .registry_credentials("me", "s3cret")
        .registry_host("ghcr.io")
        .await
        .unwrap();
    assert_lossless(&import_full("pending"), &import);
    assert_eq!(
        api.sent("createSnapshotImport").await.json(),
        &json!({ "source": { "type": "dockerfile", "contextRef": "ctx_123", "dockerfilePath": "docker/Dockerfile",
                             "target": "prod", "buildArgs": { "V": "1" }, "registryHost": "ghcr.io",
                             "registryUsername": "me", "registryPassword": "s3cret" } })
    );

    // Refused before any request.
    let imports = api.client.snapshot_imports();
    assert_invalid(imports.create().await, "source");
    assert_invalid(imports.create().image("a").dockerfile("ctx").await, "source");
    assert_invalid(imports.create().image(" ").await, "image");
    assert_invalid(imports.create().image("a").target("x").await, "source");
    assert_invalid(
        imports.create().dockerfile("ctx").platform("linux/amd64").await,
        "platform",
    );
    assert_invalid(
        imports
            .create()
            .dockerfile("ctx")
            .dockerfile_path("../Dockerfile")
            .await,
        "dockerfilePath",
    );
    assert_invalid(
        imports.create().dockerfile("ctx").dockerfile_path("/Dockerfile").await,
        "dockerfilePath",
    );
    let creds = imports.create().dockerfile("ctx").registry_credentials("u", "hunter2");
    let refused = creds.clone().await.unwrap_err();
    assert!(!format!("{refused} {refused:?} {creds:?}").contains("hunter2"));
    assert_invalid(creds.await, "registryHost");
    let many = (0..65).fold(imports.create().dockerfile("ctx"), |c, i| {
        c.build_arg(format!("K{i}"), "v")
    });
    assert_invalid(many.await, "buildArgs");
    assert_invalid(imports.create().image("a").disk_gib(0).await, "diskGiB");
    assert_eq!(api.received().await.len(), 1, "only the first create was sent");
}

#[tokio::test]
async fn list_snapshot_imports_wire() {
    let api = Api::start().await;
    let answer = json!([import_full("running"), import_min("some-new-status")]);
    api.expect("listSnapshotImports", "/v1/snapshot-imports", 200, answer.clone())
        .await;
    let imports = api.client.snapshot_imports().list().await.unwrap();
    assert_eq!(imports.len(), 2);
    assert_lossless(&answer[0], &imports[0]);
    assert_lossless(&answer[1], &imports[1]);
    assert_eq!(imports[1].status.as_str(), "some-new-status");
    assert_eq!(api.sent("listSnapshotImports").await.body, None);
}

#[tokio::test]
async fn get_snapshot_import_wire() {
    for fixture in [import_full("succeeded"), import_min("claimed")] {
        let api = Api::start().await;
        let path = format!("/v1/snapshot-imports/{IMPORT}");
        api.expect("getSnapshotImport", &path, 200, fixture.clone()).await;
        let import = api.client.snapshot_imports().retrieve(IMPORT).await.unwrap();
        assert_lossless(&fixture, &import);
        assert_eq!(api.sent("getSnapshotImport").await.body, None);
    }
    let api = Api::start().await;
    assert_invalid(api.client.snapshot_imports().retrieve("").await, "id");
}

#[tokio::test]
async fn delete_snapshot_import_wire() {
    let api = Api::start().await;
    let answer = json!({ "id": IMPORT, "deleted": true });
    api.expect_done(
        "deleteSnapshotImport",
        &format!("/v1/snapshot-imports/{IMPORT}"),
        answer.clone(),
    )
    .await;
    let resp = api.client.snapshot_imports().delete(IMPORT).await.unwrap();
    assert_lossless(&answer, &resp);
    assert_eq!(api.sent("deleteSnapshotImport").await.body, None);
}

#[tokio::test]
async fn cancel_snapshot_import_wire() {
    let api = Api::start().await;
    let path = format!("/v1/snapshot-imports/{IMPORT}/cancel");
    api.expect("cancelSnapshotImport", &path, 200, import_min("cancelled"))
        .await;
    let import = api.client.snapshot_imports().cancel(IMPORT).await.unwrap();
    assert_lossless(&import_min("cancelled"), &import);
    assert_eq!(api.sent("cancelSnapshotImport").await.body, None);
}

#[tokio::test]
async fn presign_snapshot_import_context_wire() {
    let answer = json!({ "uploadUrl": "https://storage.example/ctx.zip?X-Amz-Signature=abcdef", "contextRef": "ctx_1",
                         "expiresInSec": 900, "maxUploadBytes": 1073741824_i64 });
    let api = Api::start().await;
    let path = "/v1/snapshot-imports/context-presign";
    api.expect("presignSnapshotImportContext", path, 200, answer.clone())
        .await;
    let presigned = api
        .client
        .snapshot_imports()
        .presign_context()
        .size_bytes(4096)
        .await
        .unwrap();
    assert_lossless(&answer, &presigned);
    assert!(
        !format!("{presigned:?}").contains("abcdef"),
        "the signature is not in Debug"
    );
    assert_eq!(
        api.sent("presignSnapshotImportContext").await.json(),
        &json!({ "sizeBytes": 4096 })
    );

    // No size: an empty body object.
    let api = Api::start().await;
    api.expect("presignSnapshotImportContext", path, 200, answer.clone())
        .await;
    api.client.snapshot_imports().presign_context().await.unwrap();
    assert_eq!(api.sent("presignSnapshotImportContext").await.json(), &json!({}));
}

#[tokio::test]
async fn snapshot_imports_errors_map_to_kinds() {
    let one = format!("/v1/snapshot-imports/{IMPORT}");
    assert_error_mapping("createSnapshotImport", "/v1/snapshot-imports", |c| async move {
        c.snapshot_imports().create().image("alpine:3").await
    })
    .await;
    assert_error_mapping("listSnapshotImports", "/v1/snapshot-imports", |c| async move {
        c.snapshot_imports().list().await
    })
    .await;
    assert_error_mapping("getSnapshotImport", &one, |c| async move {
        c.snapshot_imports().retrieve(IMPORT).await
    })
    .await;
    assert_error_mapping("deleteSnapshotImport", &one, |c| async move {
        c.snapshot_imports().delete(IMPORT).await
    })
    .await;
    assert_error_mapping("cancelSnapshotImport", &format!("{one}/cancel"), |c| async move {
        c.snapshot_imports().cancel(IMPORT).await
    })
    .await;
    assert_error_mapping(
        "presignSnapshotImportContext",
        "/v1/snapshot-imports/context-presign",
        |c| async move { c.snapshot_imports().presign_context().await },
    )
    .await;
}
