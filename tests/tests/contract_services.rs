//! Contract tests of the service operations (`client.vms().services()`), against wiremock.

mod common;

use common::{Api, assert_error_mapping, assert_lossless};
use serde_json::json;
use wiremock::ResponseTemplate;

const ID: &str = "0b5e2f9a-1c3d-4e5f-8a9b-0c1d2e3f4a5b";
/// The longest valid service name (29 characters).
const LONG_NAME: &str = "a1-b2-c3-d4-e5-f6-g7-h8-i9-jk";

#[tokio::test]
async fn list_services_wire() {
    let api = Api::start().await;
    let answer = json!([
        { "name": "grpc", "port": 65535, "h2c": true },
        { "name": "web", "port": 1024, "h2c": false }
    ]);
    api.expect("listServices", &format!("/v1/vms/{ID}/services"), 200, answer.clone())
        .await;
    let services = api.client.vms().services().list(ID).await.unwrap();
    assert_eq!(services.len(), 2);
    assert!(services[0].h2c);
    assert_lossless(&answer, &services);
    assert_eq!(api.sent("listServices").await.body, None);

    let api = Api::start().await;
    api.expect("listServices", &format!("/v1/vms/{ID}/services"), 200, json!([]))
        .await;
    assert!(api.client.vms().services().list(ID).await.unwrap().is_empty());
}

#[tokio::test]
async fn register_service_wire() {
    // Fully populated: the longest name, the highest port, h2c on.
    assert_eq!(LONG_NAME.len(), 29);
    let api = Api::start().await;
    let answer = json!({ "name": LONG_NAME, "port": 65535, "h2c": true });
    api.expect(
        "registerService",
        &format!("/v1/vms/{ID}/services"),
        201,
        answer.clone(),
    )
    .await;
    let svc = api
        .client
        .vms()
        .services()
        .register(ID, LONG_NAME, 65535)
        .h2c(true)
        .await
        .unwrap();
    assert_lossless(&answer, &svc);
    assert_eq!(
        api.sent("registerService").await.json(),
        &json!({ "name": LONG_NAME, "port": 65535, "h2c": true })
    );

    // Minimal: a one-letter name on the lowest allowed port, HTTP/1.1.
    let api = Api::start().await;
    api.expect(
        "registerService",
        &format!("/v1/vms/{ID}/services"),
        201,
        json!({ "name": "w", "port": 1024, "h2c": false }),
    )
    .await;
    api.client.vms().services().register(ID, "w", 1024).await.unwrap();
    assert_eq!(
        api.sent("registerService").await.json(),
        &json!({ "name": "w", "port": 1024, "h2c": false })
    );
}

#[tokio::test]
async fn update_service_wire() {
    let path = format!("/v1/vms/{ID}/services/{LONG_NAME}");
    let api = Api::start().await;
    let answer = json!({ "name": LONG_NAME, "port": 9090, "h2c": true });
    api.expect("updateService", &path, 200, answer.clone()).await;
    let svc = api
        .client
        .vms()
        .services()
        .update(ID, LONG_NAME, 9090)
        .h2c(true)
        .await
        .unwrap();
    assert_lossless(&answer, &svc);
    let sent = api.sent("updateService").await;
    assert_eq!(sent.path, path);
    assert_eq!(sent.json(), &json!({ "port": 9090, "h2c": true }));

    let api = Api::start().await;
    api.expect(
        "updateService",
        &format!("/v1/vms/{ID}/services/web"),
        200,
        json!({ "name": "web", "port": 1024, "h2c": false }),
    )
    .await;
    api.client
        .vms()
        .services()
        .update(ID, "web", 1024)
        .h2c(false)
        .await
        .unwrap();
    assert_eq!(
        api.sent("updateService").await.json(),
        &json!({ "port": 1024, "h2c": false })
    );

    // Without `h2c`, the transport is left as it is: the body carries only the port.
    let api = Api::start().await;
    api.expect(
        "updateService",
        &format!("/v1/vms/{ID}/services/web"),
        200,
        json!({ "name": "web", "port": 1025, "h2c": false }),
    )
    .await;
    api.client.vms().services().update(ID, "web", 1025).await.unwrap();
    assert_eq!(api.sent("updateService").await.json(), &json!({ "port": 1025 }));
}

#[tokio::test]
async fn delete_service_wire() {
    let path = format!("/v1/vms/{ID}/services/web-2");
    let api = Api::start().await;
    api.respond("deleteService", &path, ResponseTemplate::new(204), 1).await;
    let gone = api.client.vms().services().delete(ID, "web-2").await.unwrap();
    // A 204 without a body: the result names the service, deleted, as every delete's does.
    assert_eq!((gone.id.as_str(), gone.deleted), ("web-2", true));
    let sent = api.sent("deleteService").await;
    assert_eq!(sent.path, path);
    assert_eq!(sent.body, None);
}

#[tokio::test]
async fn register_conflict_is_a_conflict_error() {
    // The spec's own 409 for registerService: a different port under the same name.
    let api = Api::start_with(|b| b.max_retries(2)).await;
    let body = json!({ "error": "service web exists with port 8080; use PUT" });
    api.expect("registerService", &format!("/v1/vms/{ID}/services"), 409, body)
        .await;
    let err = api.client.vms().services().register(ID, "web", 9090).await;
    let err = common::api_error(err, "registerService", 409, fastvm::ApiErrorKind::Conflict);
    assert_eq!(err.message, "service web exists with port 8080; use PUT");
    // 409 is permanent: not retried even with retries enabled.
    assert_eq!(api.received().await.len(), 1);
}

#[tokio::test]
async fn service_errors_map_to_kinds() {
    let list = format!("/v1/vms/{ID}/services");
    let one = format!("/v1/vms/{ID}/services/web");
    assert_error_mapping(
        "listServices",
        &list,
        |c| async move { c.vms().services().list(ID).await },
    )
    .await;
    assert_error_mapping("registerService", &list, |c| async move {
        c.vms().services().register(ID, "web", 8080).await
    })
    .await;
    assert_error_mapping("updateService", &one, |c| async move {
        c.vms().services().update(ID, "web", 8080).h2c(true).await
    })
    .await;
    assert_error_mapping("deleteService", &one, |c| async move {
        c.vms().services().delete(ID, "web").await
    })
    .await;
}
