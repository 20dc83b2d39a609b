//! Contract tests of the snapshot operations (`client.snapshots()`), against wiremock.

mod common;

use common::{Api, assert_error_mapping, assert_lossless, firewall_full_json};
use fastvm::types::SnapshotStatus;
use serde_json::{Value, json};

const SNAP: &str = "5d6e7f80-1111-2222-3333-444455556666";
const VM: &str = "0b5e2f9a-1c3d-4e5f-8a9b-0c1d2e3f4a5b";

fn snapshot_full(status: &str) -> Value {
    json!({
        "id": SNAP, "name": "golden", "orgId": "org-7f3a", "vmId": VM, "status": status,
        "createdAt": "2026-05-15T10:00:00Z",
        "envVars": { "A": "1" },
        "metadata": { "purpose": "ci" },
        "firewall": firewall_full_json(),
        "services": [{ "name": "web", "port": 8080, "h2c": false }, { "name": "grpc", "port": 9090 }]
    })
}

fn snapshot_min(status: &str) -> Value {
    json!({ "id": SNAP, "name": "snapshot-0b5e2f9a", "orgId": "org-7f3a", "vmId": VM, "status": status,
            "createdAt": "2026-05-15T10:00:00Z" })
}

#[tokio::test]
async fn list_snapshots_wire() {
    let api = Api::start().await;
    // `archived` is not a documented status: open strings decode as they are.
    let answer = json!([snapshot_full("ready"), snapshot_min("archived")]);
    api.expect("listSnapshots", "/v1/snapshots", 200, answer.clone()).await;
    let snaps = api.client.snapshots().list().await.unwrap();
    assert_eq!(snaps[1].status, SnapshotStatus::Unknown("archived".into()));
    assert_eq!(snaps[0].services[1].h2c, None);
    assert_lossless(&answer, &snaps);
    let sent = api.sent("listSnapshots").await;
    assert_eq!((sent.query, sent.body), (None, None));

    let api = Api::start().await;
    api.expect("listSnapshots", "/v1/snapshots", 200, json!([])).await;
    assert!(api.client.snapshots().list().await.unwrap().is_empty());
}

#[tokio::test]
async fn create_snapshot_wire() {
    let api = Api::start().await;
    api.expect("createSnapshot", "/v1/snapshots", 201, snapshot_full("creating"))
        .await;
    let snap = api.client.snapshots().create(VM).name("golden").await.unwrap();
    assert_lossless(&snapshot_full("creating"), &snap);
    assert_eq!(
        api.sent("createSnapshot").await.json(),
        &json!({ "vmId": VM, "name": "golden" })
    );

    // Minimal: the server names it.
    let api = Api::start().await;
    api.expect("createSnapshot", "/v1/snapshots", 201, snapshot_min("creating"))
        .await;
    let snap = api.client.snapshots().create(VM).await.unwrap();
    assert!(snap.services.is_empty());
    assert_eq!(snap.env_vars, None);
    assert_eq!(api.sent("createSnapshot").await.json(), &json!({ "vmId": VM }));
}

#[tokio::test]
async fn get_snapshot_wire() {
    for fixture in [snapshot_full("ready"), snapshot_min("error")] {
        let api = Api::start().await;
        api.expect("getSnapshot", &format!("/v1/snapshots/{SNAP}"), 200, fixture.clone())
            .await;
        let snap = api.client.snapshots().retrieve(SNAP).await.unwrap();
        assert_lossless(&fixture, &snap);
        assert_eq!(api.sent("getSnapshot").await.body, None);
    }
}

#[tokio::test]
async fn get_snapshot_ignores_unknown_fields() {
    let api = Api::start().await;
    let mut v = snapshot_min("ready");
    v["sizeBytes"] = json!(123456789);
    v["region"] = json!({ "name": "eu" });
    api.expect_lenient("getSnapshot", &format!("/v1/snapshots/{SNAP}"), 200, v)
        .await;
    let snap = api.client.snapshots().retrieve(SNAP).await.unwrap();
    assert_eq!(snap.id, SNAP);
}

#[tokio::test]
async fn update_snapshot_wire() {
    let api = Api::start().await;
    api.expect(
        "updateSnapshot",
        &format!("/v1/snapshots/{SNAP}"),
        200,
        snapshot_full("ready"),
    )
    .await;
    let snap = api.client.snapshots().update(SNAP).name("golden").await.unwrap();
    assert_eq!(snap.name, "golden");
    assert_eq!(api.sent("updateSnapshot").await.json(), &json!({ "name": "golden" }));

    // Minimal: an empty name is sent as given (the server decides what it means).
    let api = Api::start().await;
    api.expect(
        "updateSnapshot",
        &format!("/v1/snapshots/{SNAP}"),
        200,
        snapshot_min("ready"),
    )
    .await;
    api.client.snapshots().update(SNAP).name("").await.unwrap();
    assert_eq!(api.sent("updateSnapshot").await.json(), &json!({ "name": "" }));
}

#[tokio::test]
async fn delete_snapshot_wire() {
    let api = Api::start().await;
    // The spec's documented success, whatever it is (a `DeleteResponse`, or none): the facade's
    // answer is the same either way.
    let answer = json!({ "id": SNAP, "deleted": true });
    api.expect_done("deleteSnapshot", &format!("/v1/snapshots/{SNAP}"), answer.clone())
        .await;
    let resp = api.client.snapshots().delete(SNAP).await.unwrap();
    assert_lossless(&answer, &resp);
    assert_eq!(api.sent("deleteSnapshot").await.body, None);
}

#[tokio::test]
async fn snapshot_errors_map_to_kinds() {
    let one = format!("/v1/snapshots/{SNAP}");
    assert_error_mapping("listSnapshots", "/v1/snapshots", |c| async move {
        c.snapshots().list().await
    })
    .await;
    assert_error_mapping("createSnapshot", "/v1/snapshots", |c| async move {
        c.snapshots().create(VM).await
    })
    .await;
    assert_error_mapping(
        "getSnapshot",
        &one,
        |c| async move { c.snapshots().retrieve(SNAP).await },
    )
    .await;
    assert_error_mapping("updateSnapshot", &one, |c| async move {
        c.snapshots().update(SNAP).name("x").await
    })
    .await;
    assert_error_mapping(
        "deleteSnapshot",
        &one,
        |c| async move { c.snapshots().delete(SNAP).await },
    )
    .await;
}
