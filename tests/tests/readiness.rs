//! `Vm::wait_for_port`, `Vm::wait_until` and `Vm::spawn`. End to end against the fake: a
//! server spawned in the VM is waited for until it listens, a command until a file appears, a
//! deadline carries the last probe's output, a spawned process outlives its exec (its PID
//! alive, its log growing) and dies with the VM. Against wiremock: refused inputs send no
//! request, transient probe failures are repeated, other failures end the wait.

mod common;

use std::time::{Duration, Instant};

use common::{Api, json_response};
use fastvm::Error;
use fastvm::exec::{Command, shell_quote};
use fastvm::vm::Vm;
use fastvm_fake::FakeServer;
use serde_json::{Value, json};

async fn setup(name: &str) -> (FakeServer, Vm) {
    let (server, client, id) = fastvm_tests::fake::with_vm(name).await;
    let vm = client.attach(&id).await.expect("attach");
    (server, vm)
}

const FAST: Duration = Duration::from_millis(500);

/// Host processes whose argv has `marker` as one argument (the VM's, seen from the host: the
/// fake's VMs are namespaces of this host).
fn processes_with(marker: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline"))
            && cmdline.split(|b| *b == 0).any(|arg| arg == marker.as_bytes())
        {
            found.push(pid);
        }
    }
    found
}

fn marker(what: &str) -> String {
    format!("fastvm-readiness-{what}-{}-{:x}", std::process::id(), rand_u64())
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish()
}

/// Kills what a test spawned where deleting the VM does not (a fake without isolation).
async fn stop(server: &FakeServer, vm: Vm, pid: u32) {
    if !server.isolated() {
        let _ = vm.run(format!("kill {pid}")).await;
    }
    vm.delete().await.expect("delete");
}

#[tokio::test]
async fn wait_for_port_waits_while_nothing_listens_and_returns_once_something_does() {
    let (server, vm) = setup("readiness-port").await;
    if !vm.run("command -v python3").await.unwrap().success() {
        eprintln!("SKIPPED: no python3 in the VM to serve a port");
        return;
    }
    let port = common::closed_port();

    // Nothing listens: the deadline passes, saying what was waited for and what the probe saw.
    let started = Instant::now();
    let e = vm
        .wait_for_port(port)
        .deadline(Duration::from_millis(1200))
        .poll_interval(FAST)
        .await
        .unwrap_err();
    match &e {
        Error::NotReady {
            vm_id,
            what,
            waited,
            last_output,
            ..
        } => {
            assert_eq!(vm_id, vm.id());
            assert!(what.contains(&port.to_string()), "{what}");
            assert!(last_output.contains("nothing listens"), "{last_output}");
            assert!(*waited >= Duration::from_millis(1200), "{waited:?}");
        }
        other => panic!("expected NotReady, got {other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(1200));
    assert!(!e.to_string().contains('\n'), "{e}");

    // A server that starts listening 2 s from now: the wait lasts until then, and no longer.
    let spawned = vm
        .spawn(Command::argv([
            "sh",
            "-c",
            "sleep 2; exec python3 -m http.server \"$1\" --bind 127.0.0.1",
            "server",
            &port.to_string(),
        ]))
        .await
        .unwrap();
    let started = Instant::now();
    vm.wait_for_port(port)
        .deadline(Duration::from_secs(60))
        .poll_interval(FAST)
        .await
        .unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1500),
        "returned before anything listened: {waited:?}"
    );
    assert!(waited < Duration::from_secs(30), "{waited:?}");
    // It really listens (the fake's VMs share this host's network).
    std::net::TcpStream::connect(("127.0.0.1", port)).expect("the server accepts connections");
    stop(&server, vm, spawned.pid).await;
}

#[tokio::test]
async fn wait_until_succeeds_once_a_file_appears_and_fails_at_the_deadline_with_the_last_output() {
    let (server, vm) = setup("readiness-until").await;
    let tmp = tempfile::tempdir().unwrap();
    let remote = format!("{}/flags/ready", tmp.path().display());
    let host = server.vm_path(vm.id(), &remote).unwrap();
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        std::fs::create_dir_all(host.parent().unwrap()).unwrap();
        std::fs::write(&host, b"ready!").unwrap();
    });
    let started = Instant::now();
    let out = vm
        .wait_until(format!("cat {}", shell_quote(&remote)))
        .deadline(Duration::from_secs(30))
        .poll_interval(FAST)
        .await
        .unwrap();
    assert_eq!(out.stdout, "ready!");
    assert!(
        started.elapsed() >= Duration::from_millis(1400),
        "{:?}",
        started.elapsed()
    );
    writer.await.unwrap();

    let e = vm
        .wait_until(Command::sh("echo still-waiting; echo 'no flag' >&2; exit 3"))
        .deadline(Duration::from_millis(1200))
        .poll_interval(FAST)
        .await
        .unwrap_err();
    match &e {
        Error::NotReady {
            what,
            waited,
            last_output,
            ..
        } => {
            assert!(what.contains("still-waiting") && what.contains("exit 0"), "{what}");
            assert!(*waited >= Duration::from_millis(1200), "{waited:?}");
            assert!(last_output.starts_with("exit 3: "), "{last_output}");
            assert!(
                last_output.contains("still-waiting") && last_output.contains("no flag"),
                "{last_output}"
            );
        }
        other => panic!("expected NotReady, got {other:?}"),
    }
    let msg = e.to_string();
    assert!(
        msg.contains("not ready") && msg.contains("exit 3") && !msg.contains('\n'),
        "{msg}"
    );
}

#[tokio::test]
async fn a_spawned_process_keeps_running_after_the_exec_and_dies_with_the_vm() {
    let (server, vm) = setup("readiness-spawn").await;
    let marker = marker("tick");
    let spawned = vm
        .spawn(Command::argv([
            "sh",
            "-c",
            "while :; do echo tick; sleep 0.2; done",
            &marker,
        ]))
        .await
        .unwrap();
    assert!(
        spawned.log.starts_with("/tmp/fastvm-spawn-") && spawned.log.ends_with(".log"),
        "{}",
        spawned.log
    );
    // The exec has returned; the process is alive, and it is the command (not a launcher).
    let pid = spawned.pid;
    vm.run(format!("kill -0 {pid}")).await.unwrap().check().unwrap();
    let cmdline = vm.run(format!("tr '\\0' ' ' < /proc/{pid}/cmdline")).await.unwrap();
    assert!(cmdline.stdout.contains(&marker), "{}", cmdline.stdout);
    // Its own session.
    let sid = vm
        .run(format!("sed 's/.*) //' /proc/{pid}/stat | cut -d' ' -f4"))
        .await
        .unwrap()
        .check()
        .unwrap();
    assert_eq!(sid.stdout.trim(), pid.to_string(), "session id");

    // Its log grows while other commands come and go.
    let log = server.vm_path(vm.id(), &spawned.log).unwrap();
    let size = || std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let first = size();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    vm.run("true").await.unwrap().check().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = size();
    assert!(second > first, "the log did not grow: {first} -> {second}");
    assert!(std::fs::read_to_string(&log).unwrap().starts_with("tick\n"));
    vm.run(format!("kill -0 {pid}")).await.unwrap().check().unwrap();

    if !server.isolated() {
        eprintln!(
            "SKIPPED (part): the fake does not isolate VMs here, so deleting one kills nothing; \
             killing the process by hand"
        );
        stop(&server, vm, pid).await;
        return;
    }
    assert!(
        !processes_with(&marker).is_empty(),
        "the host does not see the VM's process"
    );
    vm.delete().await.unwrap();
    assert_eq!(
        processes_with(&marker),
        Vec::<u32>::new(),
        "the process outlived its VM"
    );
}

#[tokio::test]
async fn spawn_applies_cwd_and_env_and_reports_a_start_that_fails() {
    let (server, vm) = setup("readiness-spawn-env").await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = format!("{}/work dir", tmp.path().display());
    let log = format!("{}/logs/it's.log", tmp.path().display());
    std::fs::create_dir_all(server.vm_path(vm.id(), &dir).unwrap()).unwrap();
    let spawned = vm
        .spawn(
            Command::sh("echo \"$GREETING from $(pwd)\"; echo 'to stderr' >&2")
                .cwd(&dir)
                .env("GREETING", "hello"),
        )
        .log(&log)
        .await
        .unwrap();
    assert_eq!(spawned.log, log);
    let out = vm
        .wait_until(format!("grep -q stderr {}", shell_quote(&log)))
        .deadline(Duration::from_secs(20))
        .poll_interval(FAST)
        .await;
    out.unwrap();
    let text = std::fs::read_to_string(server.vm_path(vm.id(), &log).unwrap()).unwrap();
    assert_eq!(text, format!("hello from {dir}\nto stderr\n"));

    // A program that does not exist, a start-up crash, a working directory that does not.
    for (command, code, needle) in [
        (Command::argv(["/no/such/program", "--flag"]), 127, "/no/such/program"),
        (Command::sh("echo 'bad config' >&2; exit 7"), 7, "bad config"),
        (Command::sh("true").cwd("/no/such/dir"), 2, "/no/such/dir"),
    ] {
        match vm.spawn(command.clone()).log(&log).await {
            Err(Error::CommandFailed {
                command: shown,
                exit_code,
                timed_out,
                stderr_tail,
                ..
            }) => {
                assert_eq!(exit_code, code, "{command:?}: {stderr_tail}");
                assert!(!timed_out);
                assert!(stderr_tail.contains(needle), "{command:?}: {stderr_tail}");
                assert!(stderr_tail.contains("exited at once"), "{stderr_tail}");
                assert!(
                    !shown.contains("nohup"),
                    "the error shows the caller's command: {shown}"
                );
            }
            other => panic!("{command:?}: expected CommandFailed, got {other:?}"),
        }
    }
    // A command that finishes at once with success is a successful spawn.
    vm.spawn("true").await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Against wiremock

const VM_ID: &str = "vm-ready-1";

fn handle(api: &Api) -> Vm {
    let state = serde_json::from_value(common::vm_full(VM_ID, "running")).expect("VM fixture");
    Vm::from_state(api.client.clone(), state)
}

fn exec_result(code: i64, stdout: &str) -> Value {
    json!({
        "exitCode": code, "stdout": stdout, "stderr": "", "durationMs": 3,
        "stdoutTruncated": false, "stderrTruncated": false, "timedOut": false,
    })
}

#[tokio::test]
async fn refused_inputs_send_no_request() {
    let api = Api::start().await;
    let vm = handle(&api);
    common::assert_invalid(vm.wait_for_port(0).await, "port");
    common::assert_invalid(vm.spawn(Command::sh("cat").stdin(b"x".to_vec())).await, "stdin");
    common::assert_invalid(vm.spawn("sleep 9").log("relative.log").await, "log");
    common::assert_invalid(vm.spawn("sleep 9").log("/var/log/").await, "log");
    common::assert_invalid(vm.spawn("sleep 9").log("/tmp/a\0b").await, "log");
    common::assert_invalid(vm.spawn(Command::sh("true").env("BAD-NAME", "v")).await, "env");
    common::assert_invalid(vm.wait_until(Command::sh("true").cwd("")).await, "cwd");
    assert!(api.received().await.is_empty(), "a refused input sent a request");
}

#[tokio::test]
async fn a_spawn_is_one_exec_that_detaches_and_returns_the_pid() {
    let api = Api::start().await;
    let vm = handle(&api);
    api.expect(
        "execVm",
        &format!("/v1/vms/{VM_ID}/exec"),
        200,
        exec_result(0, "4242\n"),
    )
    .await;
    let spawned = vm
        .spawn(Command::argv(["./server", "--name", "it's"]).env("TOKEN", "s3cret"))
        .log("/var/log/app.log")
        .await
        .unwrap();
    assert_eq!(spawned.pid, 4242);
    assert_eq!(spawned.log, "/var/log/app.log");
    let sent = api.sent("execVm").await;
    let argv = sent.json()["command"].as_array().unwrap();
    assert_eq!((argv[0].as_str(), argv[1].as_str()), (Some("sh"), Some("-c")));
    let line = argv[2].as_str().unwrap();
    for needle in [
        "setsid",
        "nohup",
        "< /dev/null >> '/var/log/app.log' 2>&1 &",
        "'./server' '--name' 'it'\\''s'",
    ] {
        assert!(line.contains(needle), "{needle:?} missing from {line}");
    }
    assert_eq!(
        sent.json()["timeoutSec"],
        31,
        "30 s to start, plus the grace (rounded up)"
    );

    // No PID printed: an error, not a made-up PID.
    api.next_case().await;
    api.expect("execVm", &format!("/v1/vms/{VM_ID}/exec"), 200, exec_result(0, "\n"))
        .await;
    match vm.spawn("sleep 9").await {
        Err(Error::CommandFailed { stderr_tail, .. }) => assert!(stderr_tail.contains("no PID"), "{stderr_tail}"),
        other => panic!("expected CommandFailed, got {other:?}"),
    }
}

#[tokio::test]
async fn transient_probe_failures_are_repeated_and_others_end_the_wait() {
    let api = Api::start().await;
    let vm = handle(&api);
    let exec = format!("/v1/vms/{VM_ID}/exec");
    api.respond_first("execVm", &exec, json_response(503, &json!({"error": "try again"})), 1)
        .await;
    api.respond_first("execVm", &exec, json_response(200, &exec_result(1, "")), 1)
        .await;
    api.expect("execVm", &exec, 200, exec_result(0, "")).await;
    vm.wait_for_port(8080).poll_interval(FAST).await.unwrap();
    let probes = api.received().await;
    assert_eq!(probes.len(), 3);
    let line = common::check_wire("execVm", &probes[0]).json()["command"][2]
        .as_str()
        .unwrap()
        .to_string();
    assert!(line.contains(":1F90 ") && line.contains("/proc/net/tcp6"), "{line}");

    // A VM that is gone is not waited for.
    api.next_case().await;
    api.respond(
        "execVm",
        &exec,
        json_response(404, &json!({"error": "vm not found"})),
        1,
    )
    .await;
    let e = vm.wait_until("true").await.unwrap_err();
    assert!(e.is_not_found(), "{e:?}");

    // A probe that cannot work is not repeated either.
    api.next_case().await;
    api.respond(
        "execVm",
        &exec,
        json_response(
            200,
            &json!({
                "exitCode": 3, "stdout": "", "stderr": "no readable /proc/net/tcp or /proc/net/tcp6 in the VM\n",
                "durationMs": 1, "stdoutTruncated": false, "stderrTruncated": false, "timedOut": false,
            }),
        ),
        1,
    )
    .await;
    match vm.wait_for_port(8080).await {
        Err(Error::CommandFailed {
            exit_code: 3,
            stderr_tail,
            ..
        }) => {
            assert!(stderr_tail.contains("/proc/net/tcp"), "{stderr_tail}")
        }
        other => panic!("expected CommandFailed, got {other:?}"),
    }
}
