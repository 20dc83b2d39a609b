//! Contract tests of the bucket mount operations (`client.vms().bucket_mounts()` and
//! `vm.bucket_mounts()`), against wiremock: paths, bodies (checked against openapi.json by
//! `Api::expect`), answers decoded without loss, credentials never shown.

mod common;

use common::{Api, assert_error_mapping, assert_lossless};
use fastvm::types::{BucketCredentials, CreateBucketMountRequest};
use serde_json::json;
use wiremock::ResponseTemplate;

const VM: &str = "0b8c4e02-5bd1-4b8e-9f5e-a0c1d3e5f701";
const MOUNT: &str = "bm-7f3a";
const PRIVATE_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQsecret\n-----END PRIVATE KEY-----\n";
const AWS: &str = "[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = wJalrXUtnFEMIsecret\n";

fn mount_answer(read_only: bool) -> serde_json::Value {
    json!({ "id": MOUNT, "vmId": VM, "bucketUri": "gs://datasets/2026", "mountPath": "/mnt/datasets",
            "mountStatus": "mounted", "readOnly": read_only, "createdAt": "2026-11-02T10:00:00Z" })
}

fn gcp() -> BucketCredentials {
    BucketCredentials::gcp_service_account("reader@proj.iam.gserviceaccount.com", PRIVATE_KEY)
}

#[tokio::test]
async fn list_bucket_mounts_wire() {
    let path = format!("/v1/vms/{VM}/bucket-mounts");
    let api = Api::start().await;
    let failed = json!({ "id": "bm-2", "vmId": VM, "bucketUri": "s3://logs", "mountPath": "/mnt/logs",
                         "mountStatus": "failed", "statusMessage": "access denied", "createdAt": "2026-11-02T10:00:01Z" });
    let answer = json!([mount_answer(true), failed]);
    api.expect("listBucketMounts", &path, 200, answer.clone()).await;
    let mounts = api.client.vms().bucket_mounts().list(VM).await.unwrap();
    assert_eq!(mounts.len(), 2);
    assert_lossless(&answer[0], &mounts[0]);
    assert_eq!(mounts[1].mount_status, Some(fastvm::types::MountStatus::Failed));
    assert_eq!(mounts[1].status_message.as_deref(), Some("access denied"));
    assert_eq!(api.sent("listBucketMounts").await.body, None);
}

#[tokio::test]
async fn create_bucket_mount_wire() {
    let path = format!("/v1/vms/{VM}/bucket-mounts");
    // A GCP key, read-only, from the handle.
    let api = Api::start().await;
    api.expect("createBucketMount", &path, 201, mount_answer(true)).await;
    let state = serde_json::from_value(common::vm_min(VM, "running")).expect("VM fixture");
    let vm = fastvm::vm::Vm::from_state(api.client.clone(), state);
    let mount = vm
        .bucket_mounts()
        .create("gs://datasets/2026", "/mnt/datasets", gcp())
        .read_only(true)
        .await
        .unwrap();
    assert_lossless(&mount_answer(true), &mount);
    assert_eq!(
        api.sent("createBucketMount").await.json(),
        &json!({ "bucketUri": "gs://datasets/2026", "mountPath": "/mnt/datasets", "readOnly": true,
                 "credentials": { "type": "gcp-service-account-json",
                                  "value": { "type": "service_account",
                                             "client_email": "reader@proj.iam.gserviceaccount.com",
                                             "private_key": PRIVATE_KEY } } })
    );

    // AWS credentials, read-write (no readOnly sent), from the group.
    let api = Api::start().await;
    api.expect("createBucketMount", &path, 201, mount_answer(false)).await;
    let request = api.client.vms().bucket_mounts().create(
        VM,
        "s3://logs/2026",
        "/mnt/logs",
        BucketCredentials::aws_credentials_file(AWS),
    );
    // The request's Debug hides the credentials.
    let shown = format!("{request:?}");
    assert!(
        !shown.contains("wJalrXUtnFEMIsecret") && shown.contains("s3://logs/2026"),
        "{shown}"
    );
    request.await.unwrap();
    assert_eq!(
        api.sent("createBucketMount").await.json(),
        &json!({ "bucketUri": "s3://logs/2026", "mountPath": "/mnt/logs",
                 "credentials": { "type": "aws-credentials", "value": { "data": AWS } } })
    );
}

#[tokio::test]
async fn bad_bucket_mounts_are_refused_before_any_request() {
    let api = Api::start().await;
    let mounts = api.client.vms().bucket_mounts();
    for (request, field) in [
        (mounts.create(VM, "https://bucket", "/mnt/b", gcp()), "bucketUri"),
        (mounts.create(VM, "gs://", "/mnt/b", gcp()), "bucketUri"),
        (mounts.create(VM, "gs://b", "mnt/b", gcp()), "mountPath"),
        (mounts.create(VM, "gs://b", "/", gcp()), "mountPath"),
        (mounts.create(VM, "gs://b", "/mnt/../etc", gcp()), "mountPath"),
        (
            mounts.create(
                VM,
                "gs://b",
                "/mnt/b",
                BucketCredentials::gcp_service_account("a@b", " "),
            ),
            "credentials",
        ),
        (mounts.create("", "gs://b", "/mnt/b", gcp()), "id"),
    ] {
        match request.await {
            Err(fastvm::Error::InvalidInput { field: f, message, .. }) => {
                assert_eq!(f, field);
                assert!(!message.contains("MIIEvQsecret"), "{message}");
            }
            other => panic!("{field}: {other:?}"),
        }
    }
    assert!(api.received().await.is_empty(), "nothing was sent");
}

#[tokio::test]
async fn get_bucket_mount_wire() {
    let path = format!("/v1/vms/{VM}/bucket-mounts/{MOUNT}");
    let api = Api::start().await;
    api.expect("getBucketMount", &path, 200, mount_answer(false)).await;
    let mount = api.client.vms().bucket_mounts().retrieve(VM, MOUNT).await.unwrap();
    assert_lossless(&mount_answer(false), &mount);
    assert_eq!(api.sent("getBucketMount").await.path, path);
}

#[tokio::test]
async fn rotate_bucket_mount_credentials_wire() {
    let path = format!("/v1/vms/{VM}/bucket-mounts/{MOUNT}");
    let api = Api::start().await;
    api.expect("rotateBucketMountCredentials", &path, 200, mount_answer(false))
        .await;
    let key_file = json!({ "type": "service_account", "project_id": "proj", "private_key_id": "k2",
                           "client_email": "writer@proj.iam.gserviceaccount.com", "private_key": PRIVATE_KEY })
    .to_string();
    let creds = BucketCredentials::gcp_service_account_json(&key_file).unwrap();
    let mount = api
        .client
        .vms()
        .bucket_mounts()
        .rotate_credentials(VM, MOUNT, creds)
        .await
        .unwrap();
    assert_eq!(mount.id, MOUNT);
    // Only what the wire knows of the key file is sent.
    assert_eq!(
        api.sent("rotateBucketMountCredentials").await.json(),
        &json!({ "credentials": { "type": "gcp-service-account-json",
                                  "value": { "type": "service_account",
                                             "client_email": "writer@proj.iam.gserviceaccount.com",
                                             "private_key": PRIVATE_KEY } } })
    );
}

#[tokio::test]
async fn delete_bucket_mount_wire() {
    let path = format!("/v1/vms/{VM}/bucket-mounts/{MOUNT}");
    let api = Api::start().await;
    api.respond("deleteBucketMount", &path, ResponseTemplate::new(204), 1)
        .await;
    let gone = api.client.vms().bucket_mounts().delete(VM, MOUNT).await.unwrap();
    // A 204 without a body: the result names the mount, deleted, as every delete's does.
    assert_eq!((gone.id.as_str(), gone.deleted), (MOUNT, true));
    let sent = api.sent("deleteBucketMount").await;
    assert_eq!(sent.path, path);
    assert_eq!(sent.body, None);
}

#[tokio::test]
async fn a_launch_sends_its_volumes_and_bucket_mounts() {
    let api = Api::start().await;
    let answer = json!({ "id": VM, "name": "m", "orgId": "o", "cpu": 1, "memoryMiB": 2048, "diskGiB": 10,
                         "status": "running", "createdAt": "2026-11-02T10:00:00Z",
                         "attachmentWarnings": { "failedBucketMountAttachments": [
                             { "bucketUri": "s3://logs/2026", "mountPath": "/mnt/logs", "statusMessage": "denied" } ] } });
    api.expect("launchVm", "/v1/vms", 201, answer).await;
    let params = fastvm::launch::machine("c1m2")
        .volume(fastvm::types::VolumeMount::new("vol-1", "/mnt/shared").with_read_only(true))
        .bucket_mount(CreateBucketMountRequest::new(
            "s3://logs/2026",
            "/mnt/logs",
            BucketCredentials::aws_credentials_file(AWS),
        ));
    let launched = api.client.vms().launch(params).await.unwrap();
    let (_, warnings) = launched.into_parts();
    let failed = &warnings.attachments.as_ref().unwrap().failed_bucket_mount_attachments;
    assert_eq!(failed[0].status_message, "denied");
    assert!(!warnings.is_empty() && warnings.snapshot_restore.is_none());
    let sent = api.sent("launchVm").await;
    assert_eq!(
        sent.json(),
        &json!({ "machineType": "c1m2",
                 "volumes": [ { "volumeId": "vol-1", "mountPath": "/mnt/shared", "readOnly": true } ],
                 "bucketMounts": [ { "bucketUri": "s3://logs/2026", "mountPath": "/mnt/logs",
                                     "credentials": { "type": "aws-credentials", "value": { "data": AWS } } } ] })
    );
}

#[tokio::test]
async fn bucket_mount_errors_map_to_kinds() {
    let all = format!("/v1/vms/{VM}/bucket-mounts");
    let one = format!("{all}/{MOUNT}");
    assert_error_mapping("listBucketMounts", &all, |c| async move {
        c.vms().bucket_mounts().list(VM).await
    })
    .await;
    assert_error_mapping("createBucketMount", &all, |c| async move {
        c.vms().bucket_mounts().create(VM, "gs://b", "/mnt/b", gcp()).await
    })
    .await;
    assert_error_mapping("getBucketMount", &one, |c| async move {
        c.vms().bucket_mounts().retrieve(VM, MOUNT).await
    })
    .await;
    assert_error_mapping("rotateBucketMountCredentials", &one, |c| async move {
        c.vms().bucket_mounts().rotate_credentials(VM, MOUNT, gcp()).await
    })
    .await;
    assert_error_mapping("deleteBucketMount", &one, |c| async move {
        c.vms().bucket_mounts().delete(VM, MOUNT).await
    })
    .await;
}
