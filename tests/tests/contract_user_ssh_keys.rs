//! Contract tests of the user's SSH key operations (`client.user_ssh_keys()`), against
//! wiremock.

mod common;

use common::{Api, assert_error_mapping, assert_lossless};
use serde_json::json;

const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE7x";

#[tokio::test]
async fn list_user_ssh_keys_wire() {
    let api = Api::start().await;
    let answer = json!({ "keys": [
        { "publicKey": KEY, "fingerprint": "SHA256:ab+c/d=", "createdAt": "2026-05-15T10:00:00Z", "name": "laptop" },
        { "publicKey": "ssh-rsa AAAAB3NzaC1yc2E=", "fingerprint": "SHA256:zz", "createdAt": "2026-05-15T10:00:01+02:00" }
    ]});
    api.expect("listUserSshKeys", "/v1/me/ssh-keys", 200, answer.clone())
        .await;
    let keys = api.client.user_ssh_keys().list().await.unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].name.as_deref(), Some("laptop"));
    assert_eq!(keys[1].name, None);
    assert_lossless(&answer["keys"][0], &keys[0]);
    assert_eq!(api.sent("listUserSshKeys").await.body, None);

    let api = Api::start().await;
    api.expect("listUserSshKeys", "/v1/me/ssh-keys", 200, json!({ "keys": [] }))
        .await;
    assert!(api.client.user_ssh_keys().list().await.unwrap().is_empty());
}

#[tokio::test]
async fn add_user_ssh_key_wire() {
    let answer = json!({ "publicKey": KEY, "fingerprint": "SHA256:ab+c/d=", "createdAt": "2026-05-15T10:00:00Z",
                         "name": "laptop" });
    // A name, and a key with a comment and the trailing newline of a .pub file.
    let api = Api::start().await;
    api.expect("addUserSshKey", "/v1/me/ssh-keys", 201, answer.clone())
        .await;
    let key = api
        .client
        .user_ssh_keys()
        .add(&format!("{KEY} me@laptop\n"))
        .name("laptop")
        .await
        .unwrap();
    assert_lossless(&answer, &key);
    assert_eq!(
        api.sent("addUserSshKey").await.json(),
        &json!({ "publicKey": format!("{KEY} me@laptop"), "name": "laptop" })
    );

    // No name; and a key that is not one is refused before any request.
    let api = Api::start().await;
    api.expect(
        "addUserSshKey",
        "/v1/me/ssh-keys",
        201,
        json!({ "publicKey": KEY, "fingerprint": "SHA256:x", "createdAt": "2026-05-15T10:00:00Z" }),
    )
    .await;
    assert_eq!(api.client.user_ssh_keys().add(KEY).await.unwrap().name, None);
    assert_eq!(api.sent("addUserSshKey").await.json(), &json!({ "publicKey": KEY }));
    let refused = api.client.user_ssh_keys().add("ssh-dss AAAA").await.unwrap_err();
    assert!(matches!(refused, fastvm::Error::InvalidInput { .. }), "{refused:?}");
}

#[tokio::test]
async fn delete_user_ssh_key_wire() {
    // `/` is encoded; `:`, `+` and `=` stay literal (RFC 3986 segment characters).
    let raw = "/v1/me/ssh-keys/SHA256:ab+c%2Fd=";
    let api = Api::start().await;
    let answer = json!({ "id": "SHA256:ab+c/d=", "deleted": true });
    api.expect("deleteUserSshKey", raw, 200, answer.clone()).await;
    let resp = api.client.user_ssh_keys().delete("SHA256:ab+c/d=").await.unwrap();
    assert_lossless(&answer, &resp);
    let sent = api.sent("deleteUserSshKey").await;
    assert_eq!(sent.path, raw);
    assert_eq!(sent.body, None);
}

#[tokio::test]
async fn user_ssh_key_errors_map_to_kinds() {
    assert_error_mapping("listUserSshKeys", "/v1/me/ssh-keys", |c| async move {
        c.user_ssh_keys().list().await
    })
    .await;
    assert_error_mapping("addUserSshKey", "/v1/me/ssh-keys", |c| async move {
        c.user_ssh_keys().add(KEY).await
    })
    .await;
    assert_error_mapping("deleteUserSshKey", "/v1/me/ssh-keys/SHA256:a%2Fb", |c| async move {
        c.user_ssh_keys().delete("SHA256:a/b").await
    })
    .await;
}
