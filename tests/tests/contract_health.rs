//! Contract tests of the health check (`client.health()`).

mod common;

use common::{Api, assert_error_mapping};
use serde_json::json;

#[tokio::test]
async fn get_health_wire() {
    let api = Api::start().await;
    api.expect("getHealth", "/healthz", 200, json!({ "status": "ok" }))
        .await;
    let health = api.client.health().check().await.unwrap();
    assert_eq!(health.status.as_deref(), Some("ok"));
    let sent = api.sent("getHealth").await;
    assert_eq!((sent.path.as_str(), sent.body), ("/healthz", None));

    // Minimal: the status field is optional.
    let api = Api::start().await;
    api.expect("getHealth", "/healthz", 200, json!({})).await;
    assert_eq!(api.client.health().check().await.unwrap().status, None);
}

#[tokio::test]
async fn health_respects_a_base_url_path_prefix() {
    let api = Api::start().await;
    let client = fastvm::FastvmClient::builder()
        .api_key(common::API_KEY)
        .base_url(format!("{}/gateway/", api.server.uri()))
        .build()
        .unwrap();
    wiremock::Mock::given(wiremock::matchers::path("/gateway/healthz"))
        .respond_with(common::json_response(200, &json!({ "status": "ok" })))
        .expect(1)
        .mount(&api.server)
        .await;
    client.health().check().await.unwrap();
}

/// The old spec's liveness probe: 200 without a body.
#[tokio::test]
async fn get_liveness_wire() {
    let api = Api::start().await;
    api.respond("getLiveness", "/livez", wiremock::ResponseTemplate::new(200), 1)
        .await;
    api.client.health().live().await.unwrap();
    let sent = api.sent("getLiveness").await;
    assert_eq!((sent.path.as_str(), sent.body), ("/livez", None));
}

/// The old spec's readiness probe: 200 without a body when ready, 503 when not.
#[tokio::test]
async fn get_readiness_wire() {
    let api = Api::start().await;
    api.respond("getReadiness", "/readyz", wiremock::ResponseTemplate::new(200), 1)
        .await;
    api.client.health().ready().await.unwrap();
    let sent = api.sent("getReadiness").await;
    assert_eq!((sent.path.as_str(), sent.body), ("/readyz", None));

    let api = Api::start_with(|b| b.max_retries(0)).await;
    api.respond("getReadiness", "/readyz", wiremock::ResponseTemplate::new(503), 1)
        .await;
    let not_ready = api.client.health().ready().await.unwrap_err();
    assert_eq!(not_ready.status().map(|s| s.as_u16()), Some(503), "{not_ready}");
}

#[tokio::test]
async fn health_errors_map_to_kinds() {
    assert_error_mapping("getHealth", "/healthz", |c| async move { c.health().check().await }).await;
    assert_error_mapping("getLiveness", "/livez", |c| async move { c.health().live().await }).await;
    assert_error_mapping("getReadiness", "/readyz", |c| async move { c.health().ready().await }).await;
}
