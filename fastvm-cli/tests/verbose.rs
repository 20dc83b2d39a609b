//! `-v`, `FASTVM_LOG` and `RUST_LOG`: each request on stderr (method, URL, status, duration,
//! request id), never the API key; and nothing of the kind without them.

use std::process::{Output, Stdio};

use fastvm_fake::FakeServer;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

async fn fastvm(server: &FakeServer, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_fastvm"));
    c.args(args)
        .env("FASTVM_BASE_URL", server.base_url())
        .env("FASTVM_API_KEY", server.api_key())
        .env_remove("FASTVM_LOG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().await.expect("spawn fastvm")
}

/// The request line of `GET /v1/vms` in `stderr`, checked for every field.
fn assert_request_line(stderr: &str, server: &FakeServer) {
    let line = stderr
        .lines()
        .find(|l| l.contains("fastvm request") && l.contains("/v1/vms"))
        .unwrap_or_else(|| panic!("no request line in:\n{stderr}"));
    for field in [
        "DEBUG",
        "method=GET",
        &format!("url={}/v1/vms", server.base_url().trim_end_matches('/')),
        "status=200",
        "elapsed=",
        "request_id=",
        "operation=",
    ] {
        assert!(line.contains(field), "no {field:?} in {line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_and_the_variables_log_each_request_without_the_key() {
    let server = FakeServer::start().await.expect("start the fake");
    let key = server.api_key().to_string();

    for (env, args) in [
        (&[][..], &["-v", "vm", "ls"][..]),
        (&[], &["vm", "ls", "--verbose"]),
        (&[], &["-vvv", "vm", "ls"]),
        (&[("FASTVM_LOG", "debug")], &["vm", "ls"]),
        (&[("FASTVM_LOG", "trace")], &["vm", "ls"]),
        (&[("RUST_LOG", "fastvm=debug")], &["vm", "ls"]),
        (&[("RUST_LOG", "off"), ("FASTVM_LOG", "debug")], &["vm", "ls"]),
    ] {
        let out = fastvm(&server, env, args).await;
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "{env:?} {args:?}: {stderr}");
        assert_request_line(&stderr, &server);
        assert!(
            !stderr.contains(&key) && !stdout.contains(&key),
            "{env:?} {args:?}: the key was printed:\n{stderr}"
        );
        assert_eq!(stdout.trim(), "No VMs.", "the log goes to stderr only");
    }

    // A key given as a flag, at the most verbose level, with a failing request: still never.
    let secret = "hlm_flag-key-must-not-appear-4b1d";
    let out = fastvm(&server, &[], &["-vvv", "--api-key", secret, "vm", "ls"]).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("status=401"), "{stderr}");
    assert!(!stderr.contains(secret) && !stderr.contains("flag-key"), "{stderr}");

    // Without -v or a variable: no request lines.
    let out = fastvm(&server, &[], &["vm", "ls"]).await;
    assert_eq!(text(&out.stderr), "");
    let out = fastvm(&server, &[("FASTVM_LOG", "info")], &["vm", "ls"]).await;
    assert!(
        !text(&out.stderr).contains("fastvm request"),
        "info is above the request lines"
    );

    // An unreadable value is said and ignored.
    let out = fastvm(&server, &[("FASTVM_LOG", "loud")], &["vm", "ls"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("FASTVM_LOG"), "{}", text(&out.stderr));
    server.shutdown().await;
}
