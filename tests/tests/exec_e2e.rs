//! `vms().stream` end to end over real HTTP against the local fake server, whose exec runs the
//! argv on this host (so these commands are plain POSIX shell).

use std::time::Duration;

use fastvm::exec::{Command, ExecEvent};
use fastvm::{Error, FastvmClient};
use fastvm_fake::FakeServer;
use futures::StreamExt as _;

async fn setup() -> (FakeServer, FastvmClient, String) {
    fastvm_tests::fake::with_vm("exec-e2e").await
}

#[tokio::test]
async fn a_command_writing_both_streams() {
    let (_server, client, id) = setup().await;
    let script = "printf 'out1\\n'; printf 'err1\\n' >&2; printf 'out2\\n'; printf '\\000\\377' >&2; exit 7";
    let mut stream = client.vms().stream(&id, script).await.expect("stream");
    let (mut stdout, mut stderr, mut exit) = (Vec::new(), Vec::new(), None);
    while let Some(event) = stream.next().await {
        match event.expect("event") {
            ExecEvent::Stdout(b) => stdout.extend_from_slice(&b),
            ExecEvent::Stderr(b) => stderr.extend_from_slice(&b),
            ExecEvent::Exit { code, timed_out, .. } => exit = Some((code, timed_out)),
            other => panic!("unexpected event {other:?}"),
        }
    }
    assert_eq!(stdout, b"out1\nout2\n");
    assert_eq!(stderr, b"err1\n\x00\xff");
    assert_eq!(exit, Some((7, false)));
}

#[tokio::test]
async fn stdin_is_delivered_and_argv_is_not_shell_parsed() {
    let (_server, client, id) = setup().await;
    let out = client
        .vms()
        .stream(&id, Command::argv(["cat"]).stdin(b"piped $HOME; input\n".to_vec()))
        .await
        .expect("stream")
        .collect()
        .await
        .expect("collect");
    assert_eq!(out.stdout, b"piped $HOME; input\n");
    assert!(out.success());
    let out = client
        .vms()
        .stream(&id, ["printf", "%s|", "a b", "$HOME"])
        .await
        .expect("stream")
        .collect()
        .await
        .expect("collect");
    assert_eq!(out.stdout, b"a b|$HOME|");
}

#[tokio::test]
async fn output_beyond_the_buffered_cap_streams_whole() {
    let (_server, client, id) = setup().await;
    // 6 MiB: more than the 4 MiB per-stream cap of the buffered `run`.
    let command = "head -c 6291456 /dev/zero | tr '\\000' 'z'";
    let mut out = Vec::new();
    let exit = client
        .vms()
        .stream(&id, command)
        .await
        .expect("stream")
        .tee(&mut out, tokio::io::sink())
        .await
        .expect("tee");
    assert!(exit.success(), "{exit:?}");
    assert_eq!(out.len(), 6 * 1024 * 1024);
    assert!(out.iter().all(|&b| b == b'z'));

    let buffered = client.vms().run(&id, command).await.expect("run");
    assert!(buffered.stdout_truncated);
    assert_eq!(buffered.stdout.len(), 4 * 1024 * 1024);
}

#[tokio::test]
async fn the_server_side_timeout_is_reported_as_timed_out() {
    let (_server, client, id) = setup().await;
    let out = client
        .vms()
        .stream(
            &id,
            Command::sh("printf started; sleep 30").timeout(std::time::Duration::from_secs(1)),
        )
        .await
        .expect("stream")
        .collect()
        .await
        .expect("collect");
    assert_eq!(out.stdout, b"started");
    assert!(out.exit.timed_out);
    assert!(!out.success());
}

#[tokio::test]
async fn a_client_deadline_ends_the_stream() {
    let (_server, client, id) = setup().await;
    let err = client
        .vms()
        .stream(&id, "sleep 30")
        .await
        .expect("stream")
        .deadline(Duration::from_millis(300))
        .collect()
        .await
        .expect_err("deadline");
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn an_unknown_vm_is_not_found() {
    let (_server, client, _id) = setup().await;
    let err = client.vms().stream("vm-does-not-exist", "true").await.expect_err("404");
    assert!(err.is_not_found(), "{err:?}");
}
