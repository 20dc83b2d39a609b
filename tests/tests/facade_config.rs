//! Client configuration: environment variables, builder rules, headers, and that the API key
//! never shows in `Debug` or `Display` output.
//!
//! The environment is process-global, so the env tests never touch this process's environment:
//! each case runs the `env_probe` helper test in a child process with its own environment.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Api, vm_min};
use fastvm::{ClientBuilder, Error, FastvmClient, RequestOptions};
use serde_json::json;

const PROBE_CALL: &str = "FASTVM_TESTS_PROBE_CALL";

/// Run in a child process by `from_env_reads_the_environment`: reports what `from_env` made of
/// the child's environment on one `PROBE-RESULT` line, and optionally makes one call.
#[test]
#[ignore = "helper: run in a child process by from_env_reads_the_environment"]
fn env_probe() {
    match FastvmClient::from_env() {
        Ok(client) => {
            println!("PROBE-RESULT ok {}", client.base_url());
            if std::env::var_os(PROBE_CALL).is_some() {
                let rt = tokio::runtime::Runtime::new().unwrap();
                let health = rt.block_on(client.health().check()).unwrap();
                println!("PROBE-RESULT health {}", health.status.unwrap_or_default());
            }
        }
        Err(Error::Config { message, .. }) => println!("PROBE-RESULT config {message}"),
        Err(other) => println!("PROBE-RESULT other {other:?}"),
    }
}

/// Runs `env_probe` with exactly the given fastvm variables set and returns its result lines.
fn probe(vars: &[(&str, &str)]) -> Vec<String> {
    let mut cmd = Command::new(std::env::current_exe().expect("test binary path"));
    cmd.args(["env_probe", "--exact", "--ignored", "--nocapture", "--test-threads=1"]);
    cmd.env_remove("FASTVM_API_KEY")
        .env_remove("FASTVM_BASE_URL")
        .env_remove(PROBE_CALL);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run the probe");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<String> = stdout
        .lines()
        // The harness may print `test env_probe ... ` on the same line first.
        .filter_map(|l| {
            l.find("PROBE-RESULT ")
                .map(|i| l[i + "PROBE-RESULT ".len()..].to_string())
        })
        .collect();
    assert!(
        out.status.success() && !lines.is_empty(),
        "probe failed for {vars:?}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    lines
}

#[test]
fn from_env_reads_the_environment() {
    // Missing, empty or blank key: a configuration error naming the variable.
    for vars in [vec![], vec![("FASTVM_API_KEY", "")], vec![("FASTVM_API_KEY", "   ")]] {
        let r = probe(&vars);
        assert!(
            r[0].starts_with("config ") && r[0].contains("FASTVM_API_KEY"),
            "{vars:?}: {r:?}"
        );
    }
    let key = ("FASTVM_API_KEY", "hlm_from_env");
    // No base URL, or an empty one: the default.
    assert_eq!(probe(&[key]), ["ok https://api.fastvm.org"]);
    assert_eq!(probe(&[key, ("FASTVM_BASE_URL", "")]), ["ok https://api.fastvm.org"]);
    // Trailing slashes trimmed.
    assert_eq!(
        probe(&[key, ("FASTVM_BASE_URL", "http://127.0.0.1:9/api/")]),
        ["ok http://127.0.0.1:9/api"]
    );
    // Query strings and fragments refused, without echoing them.
    for bad in ["https://api.example/?token=qsecret", "https://api.example/#qsecret"] {
        let r = probe(&[key, ("FASTVM_BASE_URL", bad)]);
        assert!(r[0].starts_with("config "), "{bad}: {r:?}");
        assert!(!r[0].contains("qsecret"), "{bad}: {r:?}");
    }
}

#[tokio::test]
async fn from_env_client_sends_the_env_key() {
    let api = Api::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/healthz"))
        .and(wiremock::matchers::header("x-api-key", "hlm_from_env"))
        .respond_with(common::json_response(200, &json!({ "status": "ok" })))
        .expect(1)
        .mount(&api.server)
        .await;
    let base = api.server.uri();
    // The child blocks on its own runtime; keep this runtime free to serve the mock.
    let lines = tokio::task::spawn_blocking(move || {
        probe(&[
            ("FASTVM_API_KEY", "hlm_from_env"),
            ("FASTVM_BASE_URL", &base),
            (PROBE_CALL, "1"),
        ])
    })
    .await
    .unwrap();
    assert_eq!(lines[1], "health ok");
}

fn config_message(r: fastvm::Result<FastvmClient>) -> String {
    match r {
        Err(Error::Config { message, .. }) => message,
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[test]
fn builder_rules() {
    let ok = |url: &str| FastvmClient::builder().api_key("k").base_url(url).build().unwrap();
    assert_eq!(ok("http://127.0.0.1:1234//").base_url(), "http://127.0.0.1:1234");
    assert_eq!(ok(" https://api.example/v2/ ").base_url(), "https://api.example/v2");
    assert_eq!(
        FastvmClient::builder().api_key("k").build().unwrap().base_url(),
        "https://api.fastvm.org"
    );

    let m = config_message(FastvmClient::builder().build());
    assert!(m.contains("FASTVM_API_KEY"), "{m}");
    config_message(FastvmClient::builder().api_key(" ").build());
    for bad in [
        "https://api.example/?sig=qsecret",
        "https://api.example/#qsecret",
        "ftp://api.example",
        "not a url",
        "https://user:qsecret@api.example",
    ] {
        let m = config_message(FastvmClient::builder().api_key("k").base_url(bad).build());
        assert!(!m.contains("qsecret"), "{bad}: {m}");
    }
    let m = config_message(
        FastvmClient::builder()
            .api_key("k")
            .default_header("X-Api-Key", "other")
            .build(),
    );
    assert!(m.to_lowercase().contains("api key"), "{m}");
    config_message(
        FastvmClient::builder()
            .api_key("k")
            .default_header("bad name", "v")
            .build(),
    );
    config_message(
        FastvmClient::builder()
            .api_key("k")
            .default_header("x-ok", "bad\nvalue")
            .build(),
    );
}

#[test]
fn an_unusable_key_is_refused_without_echoing_it() {
    let key = "hlm_line1\nsecret_tail";
    let m = config_message(FastvmClient::builder().api_key(key).build());
    assert!(!m.contains("secret_tail"), "{m}");
}

#[tokio::test]
async fn user_agent_suffix_and_default_headers_are_sent() {
    let api = Api::start_with(|b| {
        b.max_retries(0)
            .user_agent("myapp/1.0")
            .default_header("x-team", "infra")
    })
    .await;
    api.expect("getVm", "/v1/vms/v1", 200, vm_min("v1", "running")).await;
    api.client.vms().retrieve("v1").await.unwrap();
    let sent = api.sent("getVm").await;
    let ua = sent.headers["user-agent"].to_str().unwrap();
    assert!(ua.starts_with("fastvm-rs/") && ua.ends_with(" myapp/1.0"), "{ua}");
    assert_eq!(sent.headers["x-team"], "infra");
}

#[tokio::test]
async fn an_injected_http_client_still_gets_the_policy() {
    let http = reqwest::Client::builder().build().unwrap();
    let api = Api::start_with(|b| b.http_client(http).max_retries(0)).await;
    api.expect("getVm", "/v1/vms/v1", 200, vm_min("v1", "running")).await;
    api.client.vms().retrieve("v1").await.unwrap();
    // `sent` checks the key, Accept and User-Agent.
    api.sent("getVm").await;
}

#[tokio::test]
async fn the_api_key_never_shows_in_debug_or_display() {
    let key = "hlm_very_secret_key_material_42";
    let builder: ClientBuilder = FastvmClient::builder().api_key(key).base_url("http://127.0.0.1:9");
    let client = builder.clone().build().unwrap();
    let view = client.with_options(RequestOptions::new().timeout(Duration::from_secs(1)));
    let mut shown = vec![
        format!("{builder:?}"),
        format!("{builder:#?}"),
        format!("{client:?}"),
        format!("{client:#?}"),
        format!("{view:?}"),
    ];
    // Errors of every origin: API answer, connection failure, validation.
    let api = Api::start().await;
    api.respond(
        "getVm",
        "/v1/vms/v1",
        common::json_response(401, &json!({ "error": "invalid API key" })),
        1,
    )
    .await;
    let unauthorized = FastvmClient::builder()
        .api_key(key)
        .base_url(api.server.uri())
        .max_retries(0)
        .build()
        .unwrap();
    let e = unauthorized.vms().retrieve("v1").await.unwrap_err();
    assert_eq!(e.api().unwrap().kind, fastvm::ApiErrorKind::Authentication);
    shown.push(format!("{e} {e:?}"));
    let closed = FastvmClient::builder()
        .api_key(key)
        .base_url(format!("http://127.0.0.1:{}", common::closed_port()))
        .max_retries(0)
        .build()
        .unwrap();
    let e = closed.vms().retrieve("v1").await.unwrap_err();
    shown.push(format!("{e} {e:?}"));
    let e = client.vms().retrieve("").await.unwrap_err();
    shown.push(format!("{e} {e:?}"));
    for s in &shown {
        assert!(!s.contains(key), "API key leaked: {s}");
        assert!(!s.contains("very_secret"), "API key leaked: {s}");
    }
    // This key differs from the one the wire checks expect, so check it directly.
    let received = api.received().await;
    assert_eq!(received[0].headers["x-api-key"], key);
}

#[tokio::test]
async fn connect_timeout_applies() {
    // A loopback listener whose accept queue is full: Linux drops further SYNs, so a new
    // connection hangs in the handshake, as to an unreachable host, until the connect timeout.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..2 {
        if let Ok(Ok(c)) = tokio::time::timeout(
            std::time::Duration::from_millis(300),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        {
            fillers.push(c);
        }
    }
    let client = FastvmClient::builder()
        .api_key(common::API_KEY)
        .base_url(format!("http://{addr}"))
        .connect_timeout(std::time::Duration::from_millis(200))
        .timeout(std::time::Duration::from_secs(120))
        .max_retries(0)
        .build()
        .unwrap();
    // The outer bound only tells the configured 200 ms apart from the 10 s default and the 120 s
    // request timeout; it is not a speed target.
    let result = tokio::time::timeout(std::time::Duration::from_secs(5), client.vms().retrieve("vm-1"))
        .await
        .expect("the connect timeout did not end the call");
    let err = result.unwrap_err();
    assert!(
        matches!(err, Error::Timeout { .. } | Error::Connection { connect: true, .. }),
        "{err:?}"
    );
    drop((listener, fillers));
}
