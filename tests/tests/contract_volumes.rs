//! Contract tests of the volume operations (`client.volumes()`, and a VM's attach and detach),
//! against wiremock.

mod common;

use common::{Api, api_error, assert_error_mapping, assert_invalid, assert_lossless};
use fastvm::ApiErrorKind;
use fastvm::types::{MountStatus, VolumeAccessMode, VolumeStatus};
use serde_json::{Value, json};

const VOL: &str = "7a8b9c0d-1111-2222-3333-444455556666";
const VM: &str = "0b5e2f9a-1c3d-4e5f-8a9b-0c1d2e3f4a5b";

fn volume_full(status: &str) -> Value {
    json!({
        "id": VOL, "name": "datasets", "orgId": "org-7f3a", "accessMode": "rw", "status": status,
        "sizeGiB": 50, "mountedCount": 2, "createdAt": "2026-05-15T10:00:00Z",
        "pendingSizeGiB": 100, "usedGiB": 7
    })
}

fn volume_min(status: &str) -> Value {
    json!({
        "id": VOL, "name": "datasets", "orgId": "org-7f3a", "accessMode": "ro", "status": status,
        "sizeGiB": 1, "mountedCount": 0, "createdAt": "2026-05-15T10:00:00Z"
    })
}

fn attachment(path: &str) -> Value {
    json!({ "volumeId": VOL, "mountPath": path, "mountStatus": "mounted", "readOnly": false })
}

#[tokio::test]
async fn list_volumes_wire() {
    let api = Api::start().await;
    // `archived` is not a documented status: open strings decode as they are.
    let answer = json!([volume_full("ready"), volume_min("archived")]);
    api.expect("listVolumes", "/v1/volumes", 200, answer.clone()).await;
    let vols = api.client.volumes().list().await.unwrap();
    assert_eq!(vols[0].status, VolumeStatus::Ready);
    assert_eq!(vols[1].status, VolumeStatus::Unknown("archived".into()));
    assert_eq!((vols[0].used_gib, vols[1].used_gib), (Some(7), None));
    assert_lossless(&answer, &vols);
    let sent = api.sent("listVolumes").await;
    assert_eq!((sent.query, sent.body), (None, None));

    let api = Api::start().await;
    api.expect("listVolumes", "/v1/volumes", 200, json!([])).await;
    assert!(api.client.volumes().list().await.unwrap().is_empty());
}

#[tokio::test]
async fn create_volume_wire() {
    // Default: read-write.
    let api = Api::start().await;
    api.expect("createVolume", "/v1/volumes", 201, volume_min("creating"))
        .await;
    let vol = api.client.volumes().create("datasets", 50).await.unwrap();
    assert_eq!(vol.status, VolumeStatus::Creating);
    assert_lossless(&volume_min("creating"), &vol);
    assert_eq!(
        api.sent("createVolume").await.json(),
        &json!({ "name": "datasets", "sizeGiB": 50, "accessMode": "rw" })
    );

    // Read-only; and what is refused before any request.
    let api = Api::start().await;
    api.expect("createVolume", "/v1/volumes", 201, volume_min("creating"))
        .await;
    let vol = api
        .client
        .volumes()
        .create("refs", 1)
        .access_mode(VolumeAccessMode::Ro)
        .await
        .unwrap();
    assert_eq!(vol.access_mode, Some(VolumeAccessMode::Ro));
    assert_eq!(
        api.sent("createVolume").await.json(),
        &json!({ "name": "refs", "sizeGiB": 1, "accessMode": "ro" })
    );
    assert_invalid(api.client.volumes().create("x", 0).await, "sizeGiB");
    assert_invalid(api.client.volumes().create("  ", 1).await, "name");
    assert_invalid(
        api.client
            .volumes()
            .create("x", 1)
            .access_mode(VolumeAccessMode::Unknown(String::new()))
            .await,
        "accessMode",
    );
    assert_eq!(api.received().await.len(), 1, "nothing else was sent");
}

#[tokio::test]
async fn get_volume_wire() {
    for fixture in [volume_full("ready"), volume_min("deleting")] {
        let api = Api::start().await;
        api.expect("getVolume", &format!("/v1/volumes/{VOL}"), 200, fixture.clone())
            .await;
        let vol = api.client.volumes().retrieve(VOL).await.unwrap();
        assert_lossless(&fixture, &vol);
        assert_eq!(api.sent("getVolume").await.body, None);
    }
    let api = Api::start().await;
    assert_invalid(api.client.volumes().retrieve("..").await, "id");
}

#[tokio::test]
async fn update_volume_wire() {
    let api = Api::start().await;
    api.expect("updateVolume", &format!("/v1/volumes/{VOL}"), 200, volume_full("ready"))
        .await;
    let vol = api
        .client
        .volumes()
        .update(VOL)
        .name("datasets")
        .size_gib(100)
        .access_mode(VolumeAccessMode::Rw)
        .await
        .unwrap();
    assert_eq!(vol.pending_size_gib, Some(100));
    assert_eq!(
        api.sent("updateVolume").await.json(),
        &json!({ "name": "datasets", "sizeGiB": 100, "accessMode": "rw" })
    );

    // One field; and an update that changes nothing, or badly, is refused before any request.
    let api = Api::start().await;
    api.expect("updateVolume", &format!("/v1/volumes/{VOL}"), 200, volume_min("ready"))
        .await;
    api.client.volumes().update(VOL).size_gib(2).await.unwrap();
    assert_eq!(api.sent("updateVolume").await.json(), &json!({ "sizeGiB": 2 }));
    assert_invalid(api.client.volumes().update(VOL).await, "body");
    assert_invalid(api.client.volumes().update(VOL).size_gib(0).await, "sizeGiB");
    assert_invalid(api.client.volumes().update(VOL).name("").await, "name");
    assert_eq!(api.received().await.len(), 1, "nothing else was sent");
}

#[tokio::test]
async fn delete_volume_wire() {
    let api = Api::start().await;
    let answer = json!({ "id": VOL, "deleted": true });
    api.expect_done("deleteVolume", &format!("/v1/volumes/{VOL}"), answer.clone())
        .await;
    let resp = api.client.volumes().delete(VOL).await.unwrap();
    assert_lossless(&answer, &resp);
    assert_eq!(api.sent("deleteVolume").await.body, None);
}

#[tokio::test]
async fn list_volume_attachments_wire() {
    let api = Api::start().await;
    let answer = json!([
        { "vmId": VM, "volumeId": VOL, "mountPath": "/mnt/shared", "mountStatus": "mounted", "readOnly": true },
        { "vmId": "vm-2", "volumeId": VOL, "mountPath": "/data/x", "mountStatus": "failed",
          "statusMessage": "guest did not answer" }
    ]);
    api.expect(
        "listVolumeAttachments",
        &format!("/v1/volumes/{VOL}/attachments"),
        200,
        answer.clone(),
    )
    .await;
    let list = api.client.volumes().attachments(VOL).await.unwrap();
    assert_eq!(list[0].vm_id, VM);
    assert_eq!(list[1].mount_status, Some(MountStatus::Failed));
    assert_eq!(list[1].read_only, None);
    assert_lossless(&answer, &list);
    assert_eq!(api.sent("listVolumeAttachments").await.body, None);
}

#[tokio::test]
async fn attach_volume_wire() {
    let path = format!("/v1/vms/{VM}/volumes");
    let api = Api::start().await;
    api.expect("attachVolume", &path, 201, attachment("/mnt/shared")).await;
    let a = api
        .client
        .volumes()
        .attach(VM, VOL, "/mnt/shared")
        .read_only(true)
        .await
        .unwrap();
    assert_eq!(a.mount_status, Some(MountStatus::Mounted));
    assert_lossless(&attachment("/mnt/shared"), &a);
    assert_eq!(
        api.sent("attachVolume").await.json(),
        &json!({ "volumeId": VOL, "mountPath": "/mnt/shared", "readOnly": true })
    );

    // Without read_only nothing is sent for it; a path outside /mnt/ and /data/, or with a
    // `..`, is refused before any request.
    let api = Api::start().await;
    api.expect("attachVolume", &path, 201, attachment("/data/cache")).await;
    api.client.volumes().attach(VM, VOL, "/data/cache").await.unwrap();
    assert_eq!(
        api.sent("attachVolume").await.json(),
        &json!({ "volumeId": VOL, "mountPath": "/data/cache" })
    );
    for bad in ["/tmp/x", "mnt/x", "/mnt/", "/mnt/../etc", "/data/a//b"] {
        assert_invalid(api.client.volumes().attach(VM, VOL, bad).await, "mountPath");
    }
    assert_invalid(api.client.volumes().attach(VM, "", "/mnt/x").await, "volumeId");
    assert_invalid(api.client.volumes().attach("", VOL, "/mnt/x").await, "id");
    assert_eq!(api.received().await.len(), 1, "nothing else was sent");
}

#[tokio::test]
async fn detach_volume_wire() {
    let path = format!("/v1/vms/{VM}/volumes/{VOL}");
    let api = Api::start().await;
    api.expect("detachVolume", &path, 200, json!({ "detached": true }))
        .await;
    let done = api.client.volumes().detach(VM, VOL).await.unwrap();
    assert!(done.detached && done.warnings.is_empty());
    assert_eq!(api.sent("detachVolume").await.body, None);

    // A forced teardown says so.
    let api = Api::start().await;
    let answer = json!({ "detached": true, "warnings": [
        { "type": "ack_timeout", "message": "the VM did not acknowledge the unmount in 10s" }
    ]});
    api.expect("detachVolume", &path, 200, answer.clone()).await;
    let done = api.client.volumes().detach(VM, VOL).await.unwrap();
    assert_eq!(done.warnings[0].type_, "ack_timeout");
    assert_lossless(&answer, &done);

    // A busy mount: 502 `guest_umount_busy`, a server error whose message says why.
    let api = Api::start().await;
    api.expect("detachVolume", &path, 502, json!({ "error": "guest_umount_busy" }))
        .await;
    let err = api_error(
        api.client.volumes().detach(VM, VOL).await,
        "detachVolume",
        502,
        ApiErrorKind::Server,
    );
    assert_eq!(err.message, "guest_umount_busy");
}

#[tokio::test]
async fn volume_errors_map_to_kinds() {
    let one = format!("/v1/volumes/{VOL}");
    assert_error_mapping(
        "listVolumes",
        "/v1/volumes",
        |c| async move { c.volumes().list().await },
    )
    .await;
    assert_error_mapping("createVolume", "/v1/volumes", |c| async move {
        c.volumes().create("datasets", 1).await
    })
    .await;
    assert_error_mapping("getVolume", &one, |c| async move { c.volumes().retrieve(VOL).await }).await;
    assert_error_mapping("updateVolume", &one, |c| async move {
        c.volumes().update(VOL).name("x").await
    })
    .await;
    assert_error_mapping("deleteVolume", &one, |c| async move { c.volumes().delete(VOL).await }).await;
    assert_error_mapping("listVolumeAttachments", &format!("{one}/attachments"), |c| async move {
        c.volumes().attachments(VOL).await
    })
    .await;
    assert_error_mapping("attachVolume", &format!("/v1/vms/{VM}/volumes"), |c| async move {
        c.volumes().attach(VM, VOL, "/mnt/shared").await
    })
    .await;
    assert_error_mapping("detachVolume", &format!("/v1/vms/{VM}/volumes/{VOL}"), |c| async move {
        c.volumes().detach(VM, VOL).await
    })
    .await;
}
