//! `{:?}` of a wire type never shows a secret: a console token, a presigned URL's signature, a
//! VM's environment values (codegen/secrets.rs).

use fastvm_api::types;

fn decode<T: serde::de::DeserializeOwned>(json: serde_json::Value) -> T {
    serde_json::from_value(json).expect("decodes")
}

#[test]
fn responses_show_no_secret() {
    let token: types::ConsoleTokenResponse =
        decode(serde_json::json!({"token": "tok-s3cret", "websocketPath": "/v1/console", "expiresInSec": 60}));
    let shown = format!("{token:?}");
    assert!(
        !shown.contains("tok-s3cret") && shown.contains("<redacted>") && shown.contains("/v1/console"),
        "{shown}"
    );

    let presign: types::FilePresignResponse = decode(serde_json::json!({
        "uploadUrl": "https://store.example/up?X-Amz-Signature=sig-up",
        "downloadUrl": "https://store.example/down?X-Amz-Signature=sig-down",
        "expiresInSec": 600,
    }));
    let shown = format!("{presign:?}");
    assert!(!shown.contains("sig-up") && !shown.contains("sig-down"), "{shown}");
    assert!(shown.contains("https://store.example/up?<redacted>"), "{shown}");

    let vm: types::VmInfo = decode(serde_json::json!({
        "id": "vm-1", "status": "running", "envVars": {"API_TOKEN": "env-s3cret"},
    }));
    let shown = format!("{vm:?}");
    assert!(!shown.contains("env-s3cret") && shown.contains("API_TOKEN"), "{shown}");
    let alt = format!("{vm:#?}");
    assert!(!alt.contains("env-s3cret"), "{alt}");
}

#[test]
fn requests_and_their_builders_show_no_secret() {
    let env = types::EnvVars(std::collections::BTreeMap::from([(
        "KEY".to_string(),
        "env-s3cret".to_string(),
    )]));
    assert_eq!(format!("{env:?}"), "EnvVars({\"KEY\": <redacted>})");
    let mut request = types::CreateVmRequest::new();
    request.env_vars = Some(env);
    let shown = format!("{request:?}");
    assert!(!shown.contains("env-s3cret") && shown.contains("KEY"), "{shown}");

    let fetch: types::FileFetchRequest =
        decode(serde_json::json!({"url": "https://store.example/o?X-Amz-Signature=sig", "path": "/root/f"}));
    assert!(!format!("{fetch:?}").contains("sig"), "{fetch:?}");
    let builder = types::builder::FileFetchRequest::from(fetch);
    assert!(!format!("{builder:?}").contains("sig"), "{builder:?}");
    let build: types::CreateBuildRequest =
        decode(serde_json::json!({"contextDownloadUrl": "https://store.example/ctx?X-Amz-Signature=sig"}));
    assert!(!format!("{build:?}").contains("sig"), "{build:?}");
}
