//! Contract tests of the SSH key operations (`client.vms().ssh_keys()`), against wiremock.
// Tests deprecated operations too (builds, build contexts, a VM's SSH keys), kept for
// servers at the reference's version.
#![allow(deprecated)]

mod common;

use common::{Api, assert_error_mapping, assert_lossless};
use serde_json::json;

const ID: &str = "0b5e2f9a-1c3d-4e5f-8a9b-0c1d2e3f4a5b";
const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE7x";

#[tokio::test]
async fn list_ssh_keys_wire() {
    let path = format!("/v1/vms/{ID}/ssh-keys");
    let api = Api::start().await;
    let answer = json!({ "keys": [
        { "publicKey": KEY, "fingerprint": "SHA256:ab+c/d=", "createdAt": "2026-05-15T10:00:00Z", "name": "laptop" },
        { "publicKey": "ssh-rsa AAAAB3NzaC1yc2E=", "fingerprint": "SHA256:zz", "createdAt": "2026-05-15T10:00:01+02:00" }
    ]});
    api.expect("listSshKeys", &path, 200, answer.clone()).await;
    let keys = api.client.vms().ssh_keys().list(ID).await.unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].name.as_deref(), Some("laptop"));
    assert_eq!(keys[1].name, None);
    assert_eq!(keys[1].created_at.unwrap().to_rfc3339(), "2026-05-15T08:00:01+00:00");
    assert_lossless(&answer["keys"][0], &keys[0]);
    assert_eq!(api.sent("listSshKeys").await.body, None);

    let api = Api::start().await;
    api.expect("listSshKeys", &path, 200, json!({ "keys": [] })).await;
    assert!(api.client.vms().ssh_keys().list(ID).await.unwrap().is_empty());
}

#[tokio::test]
async fn add_ssh_key_wire() {
    let path = format!("/v1/vms/{ID}/ssh-keys");
    let answer = json!({ "publicKey": KEY, "fingerprint": "SHA256:ab+c/d=", "createdAt": "2026-05-15T10:00:00Z",
                         "name": "laptop" });
    // Fully populated: a name, and a key with a comment and the trailing newline of a .pub file.
    let api = Api::start().await;
    api.expect("addSshKey", &path, 201, answer.clone()).await;
    let key = api
        .client
        .vms()
        .ssh_keys()
        .add(ID, &format!("{KEY} me@laptop\n"))
        .name("laptop")
        .await
        .unwrap();
    assert_lossless(&answer, &key);
    assert_eq!(
        api.sent("addSshKey").await.json(),
        &json!({ "publicKey": format!("{KEY} me@laptop"), "name": "laptop" })
    );

    // Minimal: no name.
    let api = Api::start().await;
    api.expect(
        "addSshKey",
        &path,
        201,
        json!({ "publicKey": KEY, "fingerprint": "SHA256:x", "createdAt": "2026-05-15T10:00:00Z" }),
    )
    .await;
    let key = api.client.vms().ssh_keys().add(ID, KEY).await.unwrap();
    assert_eq!(key.name, None);
    assert_eq!(api.sent("addSshKey").await.json(), &json!({ "publicKey": KEY }));
}

#[tokio::test]
async fn delete_ssh_key_encodes_the_fingerprint() {
    // `/` is encoded; `:`, `+` and `=` stay literal (RFC 3986 segment characters).
    let raw = format!("/v1/vms/{ID}/ssh-keys/SHA256:ab+c%2Fd=");
    let api = Api::start().await;
    // The spec's documented success (a `DeleteResponse`, or none): the same answer either way.
    let answer = json!({ "id": "SHA256:ab+c/d=", "deleted": true });
    api.expect_done("deleteSshKey", &raw, answer.clone()).await;
    let resp = api.client.vms().ssh_keys().delete(ID, "SHA256:ab+c/d=").await.unwrap();
    assert_lossless(&answer, &resp);
    let sent = api.sent("deleteSshKey").await;
    assert_eq!(sent.path, raw);
    assert_eq!(sent.body, None);

    // A fingerprint needing no encoding.
    let api = Api::start().await;
    api.expect(
        "deleteSshKey",
        &format!("/v1/vms/{ID}/ssh-keys/SHA256:abc"),
        200,
        json!({ "id": "SHA256:abc", "deleted": false }),
    )
    .await;
    let resp = api.client.vms().ssh_keys().delete(ID, "SHA256:abc").await.unwrap();
    assert!(!resp.deleted);
}

#[tokio::test]
async fn ssh_key_errors_map_to_kinds() {
    let path = format!("/v1/vms/{ID}/ssh-keys");
    assert_error_mapping(
        "listSshKeys",
        &path,
        |c| async move { c.vms().ssh_keys().list(ID).await },
    )
    .await;
    assert_error_mapping(
        "addSshKey",
        &path,
        |c| async move { c.vms().ssh_keys().add(ID, KEY).await },
    )
    .await;
    assert_error_mapping("deleteSshKey", &format!("{path}/SHA256:a%2Fb"), |c| async move {
        c.vms().ssh_keys().delete(ID, "SHA256:a/b").await
    })
    .await;
}
