//! Secrets never reach the logs: with a subscriber listening at TRACE, and the `log` crate's
//! records bridged into it (as `tracing-subscriber` applications have them: the WebSocket
//! library, reqwest and hyper-util log through `log`), a retried API call, a retried presigned
//! upload and a console session log neither the API key, a presigned URL's signature nor the
//! console token.

mod common;

use common::logs::Capture;
use common::{API_KEY, Api};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const SIGNATURE: &str = "X-Amz-Signature=logsecret0123456789";

/// A capture set as this thread's subscriber, with the `log` crate's records (every level)
/// bridged into it. The bridge is the process's `log` logger: set once, by whichever test comes
/// first; it hands each record to the subscriber of the thread that logged it.
fn capture() -> (Capture, tracing::subscriber::DefaultGuard) {
    let capture = Capture::default();
    let guard = tracing::subscriber::set_default(capture.clone());
    let _ = tracing_log::LogTracer::init();
    (capture, guard)
}

/// The bridge works: a `log` record reaches the capture (else the tests below prove nothing).
#[test]
fn log_records_reach_the_capture() {
    let (capture, _guard) = capture();
    tracing_log::log::trace!("bridged-record-7f3a");
    let logs = capture.text();
    assert!(logs.contains("bridged-record-7f3a"), "{logs}");
}

#[tokio::test]
async fn retried_calls_and_uploads_log_no_secret() {
    let (capture, _guard) = capture();

    let api = Api::start_with(|b| b.max_retries(1)).await;
    let base = api.server.uri();
    // An API call retried once (503 then 200).
    let retry_soon = ResponseTemplate::new(503).insert_header("retry-after-ms", "1");
    api.respond_first("getOrgQuotas", "/v1/org/quotas", retry_soon, 1).await;
    let values = json!({"vcpu": 1, "memoryMiB": 1, "diskGiB": 1, "snapshotCount": 0});
    let quotas = json!({"orgId": "o", "limits": values, "usage": values});
    api.expect("getOrgQuotas", "/v1/org/quotas", 200, quotas).await;
    // A presigned upload whose storage PUT fails with 500 every time (retried, then an error).
    let presigned = json!({
        "uploadUrl": format!("{base}/storage/obj?{SIGNATURE}&op=put"),
        "downloadUrl": format!("{base}/storage/obj?{SIGNATURE}&op=get"),
        "expiresInSec": 600,
        "maxUploadBytes": 1_000_000,
    });
    api.expect("presignFile", "/v1/vms/vm-1/files/presign", 200, presigned)
        .await;
    // Storage is not an operation of the spec: a plain mock.
    Mock::given(method("PUT"))
        .and(path("/storage/obj"))
        .respond_with(ResponseTemplate::new(500).set_body_string(format!("denied for /storage/obj?{SIGNATURE}")))
        .mount(&api.server)
        .await;

    let client = &api.client;
    client.quotas().retrieve().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, b"data").unwrap();
    let err = client.upload("vm-1", &file, "/root/f").await.unwrap_err();
    let shown = format!("{err} {err:?}");

    let logs = capture.text();
    assert!(
        logs.contains("getOrgQuotas") || logs.contains("get_org_quotas"),
        "the API calls were logged:\n{logs}"
    );
    assert!(
        logs.contains("fastvm retrying") && logs.contains("storage PUT"),
        "the storage retry was logged:\n{logs}"
    );
    for secret in [API_KEY, SIGNATURE, "logsecret"] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs:\n{logs}");
        assert!(!shown.contains(secret), "{secret} leaked into the error: {shown}");
    }
}

/// Command `env` values, launch environment values and the console token, through runs,
/// streams, a failed checked command, readiness probes and a console session, against the fake.
#[tokio::test]
async fn env_values_and_console_tokens_reach_no_log_and_no_error() {
    const SECRET: &str = "envsecret-5f1c9a";
    let (capture, _guard) = capture();

    let server = fastvm_fake::FakeServer::start().await.expect("fake");
    let client = fastvm::FastvmClient::builder()
        .api_key(server.api_key())
        .base_url(server.base_url())
        .build()
        .unwrap();
    let mut vm = client
        .launch_vm(fastvm::launch::machine("c1m2").env("LAUNCH_SECRET", SECRET))
        .await
        .unwrap();
    let with_secret = |script: &str| fastvm::exec::Command::sh(script).env("TOKEN", SECRET);
    let out = vm
        .run(with_secret("test \"$TOKEN\" = envsecret-5f1c9a && echo same"))
        .await
        .unwrap();
    assert_eq!(out.stdout.trim(), "same", "the value reached the command");
    let failed = vm.run(with_secret("exit 3")).await.unwrap().check().unwrap_err();
    let streamed = vm
        .stream(with_secret("printf x"))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(streamed.stdout, b"x");
    let _ = vm
        .wait_until(with_secret("true"))
        .deadline(std::time::Duration::from_secs(10))
        .await
        .unwrap();
    let state = format!("{:?}", vm.refresh().await.unwrap());
    let console = client.console(vm.id()).await.unwrap();
    console.close().await.unwrap();

    for shown in [format!("{failed}"), format!("{failed:?}"), state, format!("{vm:?}")] {
        assert!(!shown.contains(SECRET), "{shown}");
    }
    let logs = capture.text();
    assert!(!logs.is_empty(), "the SDK logged at DEBUG");
    assert!(!logs.contains(SECRET), "{logs}");
    assert!(!logs.contains("session="), "no console token URL: {logs}");
    vm.delete().await.unwrap();
}

/// The console token, through everything that is logged while a console session is opened,
/// used and closed against the fake (the WebSocket library logs its handshake request line,
/// with the URL's query, at TRACE through `log`).
#[tokio::test]
async fn a_console_session_logs_no_token_at_trace() {
    let (capture, _guard) = capture();
    let server = fastvm_fake::FakeServer::start().await.expect("fake");
    let client = fastvm::FastvmClient::builder()
        .api_key(server.api_key())
        .base_url(server.base_url())
        .build()
        .unwrap();
    let vm = client.launch_vm(fastvm::launch::machine("c1m2")).await.unwrap();
    // A token minted here is never used: it only tells what the fake's tokens look like.
    let probe = client.vms().console_token(vm.id()).await.unwrap();
    let console = client.console(vm.id()).await.unwrap();
    console.send_text("echo hi\r").await.unwrap();
    console.close().await.unwrap();

    let logs = capture.text();
    assert!(
        logs.contains("tungstenite") || logs.contains("frame"),
        "the WebSocket library's records were captured:\n{logs}"
    );
    assert!(
        !logs.contains("session="),
        "a console URL with its token was logged:\n{logs}"
    );
    assert!(!logs.contains(&probe.token), "the probe token was logged:\n{logs}");
    vm.delete().await.unwrap();
}

/// Bucket-mount credentials are sent, never logged or shown: a rotation retried after a 503, a
/// create refused with a 500 and one answered with a body that does not decode, at TRACE.
#[tokio::test]
async fn bucket_credentials_reach_no_log_and_no_error() {
    use fastvm::types::BucketCredentials;
    const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIIEbucketsecret\n-----END PRIVATE KEY-----\n";
    let (capture, _guard) = capture();
    let api = Api::start_with(|b| b.max_retries(1)).await;
    let one = "/v1/vms/vm-1/bucket-mounts/bm-1";
    let mount = json!({"id": "bm-1", "vmId": "vm-1", "bucketUri": "gs://b", "mountPath": "/mnt/b",
                       "mountStatus": "mounted", "createdAt": "2026-11-02T10:00:00Z"});
    let retry_soon = ResponseTemplate::new(503).insert_header("retry-after-ms", "1");
    api.respond_first("rotateBucketMountCredentials", one, retry_soon, 1)
        .await;
    api.expect("rotateBucketMountCredentials", one, 200, mount).await;
    let creds = || BucketCredentials::gcp_service_account("r@p.iam", KEY);
    let mounts = api.client.vms().bucket_mounts();
    mounts.rotate_credentials("vm-1", "bm-1", creds()).await.unwrap();
    assert_eq!(
        api.sent_all("rotateBucketMountCredentials").await.len(),
        2,
        "retried once"
    );

    let all = "/v1/vms/vm-1/bucket-mounts";
    api.respond("createBucketMount", all, ResponseTemplate::new(500), 1)
        .await;
    let failed = mounts.create("vm-1", "gs://b", "/mnt/b", creds()).await.unwrap_err();
    api.next_case().await;
    let garbled = ResponseTemplate::new(201).set_body_string("{\"id\": 7");
    api.respond("createBucketMount", all, garbled, 1).await;
    let undecoded = mounts.create("vm-1", "gs://b", "/mnt/b", creds()).await.unwrap_err();

    let logs = capture.text();
    assert!(
        logs.contains("rotateBucketMountCredentials") || logs.contains("rotate_bucket"),
        "{logs}"
    );
    for shown in [
        logs,
        format!("{failed} {failed:?}"),
        format!("{undecoded} {undecoded:?}"),
    ] {
        assert!(!shown.contains("MIIEbucketsecret"), "the private key leaked:\n{shown}");
    }
}
