//! Per-VM filesystems over real HTTP (loopback): what a VM sees, what the host sees, and what
//! snapshots, restores, uploads (`files/fetch`) and deletes do to a VM's files.
//!
//! They need isolation to work here (Linux user and mount namespaces, util-linux). Where it
//! does not (macOS, a container that forbids namespaces) they print `SKIPPED` and pass, after
//! checking that the fake refused with `Unsupported`; with `FASTVM_FAKE_ISOLATION=required`
//! (which `.ci/run` sets where the host can isolate) they fail instead.

mod common;

use common::call;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::body::{Body, Bytes};
use fastvm_fake::{FakeServer, Isolation};
use serde_json::{Value, json};

async fn ok(server: &FakeServer, method: &str, path: &str, body: Option<Value>) -> Value {
    let (status, v) = call(server, method, path, body).await;
    assert!((200..300).contains(&status), "{method} {path}: {status} {v}");
    v
}

async fn launch(server: &FakeServer, body: Value) -> String {
    let vm = ok(server, "POST", "/v1/vms", Some(body)).await;
    vm["id"].as_str().unwrap().to_string()
}

/// Runs `sh -c script` in the VM; (exit code, stdout, stderr).
async fn sh(server: &FakeServer, vm: &str, script: &str) -> (i64, String, String) {
    let body = json!({ "command": ["sh", "-c", script], "timeoutSec": 60 });
    let out = ok(server, "POST", &format!("/v1/vms/{vm}/exec"), Some(body)).await;
    (
        out["exitCode"].as_i64().unwrap(),
        out["stdout"].as_str().unwrap().to_string(),
        out["stderr"].as_str().unwrap().to_string(),
    )
}

/// Runs `script`, which must succeed; its stdout.
async fn sh_ok(server: &FakeServer, vm: &str, script: &str) -> String {
    let (code, out, err) = sh(server, vm, script).await;
    assert_eq!(code, 0, "{script}: {err}");
    out
}

/// A server with isolation required (and snapshots `creating` until the clock is advanced by
/// a minute), or `None` where this host cannot isolate and the tests are told to skip.
async fn isolated() -> Option<FakeServer> {
    let started = FakeServer::builder()
        .isolation(Isolation::Required)
        .snapshot_duration(Duration::from_secs(60))
        .start()
        .await;
    match started {
        Ok(server) => {
            assert!(server.isolated());
            Some(server)
        }
        // A host without user namespaces (macOS, a container that forbids them): these tests
        // say so and pass, unless isolation is required (`.ci/run` requires it where the
        // host can do it).
        Err(e) if std::env::var("FASTVM_FAKE_ISOLATION").as_deref() != Ok("required") => {
            assert_eq!(e.kind(), std::io::ErrorKind::Unsupported, "{e}");
            eprintln!("SKIPPED: the isolation tests did not run: {e}");
            None
        }
        Err(e) => panic!("FASTVM_FAKE_ISOLATION=required, but isolation does not work here: {e}"),
    }
}

/// A path no VM or host has, unique per test run.
fn unique(name: &str) -> String {
    format!("{name}-{:016x}", rand::random::<u64>())
}

#[tokio::test]
async fn a_file_under_root_is_the_vms_own() {
    let Some(server) = isolated().await else { return };
    let a = launch(&server, json!({})).await;
    let b = launch(&server, json!({})).await;
    let name = unique("fastvm-fake-isolation");
    let vm_file = format!("/root/{name}");

    assert_eq!(
        sh_ok(&server, &a, &format!("echo hello > {vm_file}; pwd; echo $HOME")).await,
        "/root\n/root\n"
    );
    assert_eq!(sh_ok(&server, &a, &format!("cat {vm_file}")).await, "hello\n");
    // Relative paths resolve against /root, the VM's working directory.
    assert_eq!(sh_ok(&server, &a, &format!("cat ./{name}")).await, "hello\n");

    assert!(!Path::new(&vm_file).exists(), "the file reached the host's /root");
    let (code, _, _) = sh(&server, &b, &format!("test -e {vm_file}")).await;
    assert_eq!(code, 1, "the other VM sees the file");

    let host = server.vm_path(&a, &vm_file).unwrap();
    assert_eq!(host, server.vm_dir(&a).unwrap().join("root").join(&name));
    assert_eq!(std::fs::read(&host).unwrap(), b"hello\n");
    assert_eq!(server.vm_path(&a, &name).unwrap(), host, "relative to /root");
    assert!(!server.vm_path(&b, &vm_file).unwrap().exists());

    // The usual writable places are there and writable, and so is a new top-level directory.
    for dir in [
        "/root",
        "/home",
        "/tmp",
        "/var/tmp",
        "/srv",
        "/opt",
        "/workspace",
        "/data",
    ] {
        sh_ok(&server, &a, &format!("mkdir -p {dir} && echo x > {dir}/{name}")).await;
        assert!(!Path::new(dir).join(&name).exists(), "{dir}/{name} reached the host");
        assert!(server.vm_path(&a, format!("{dir}/{name}")).unwrap().exists());
    }
    server.shutdown().await;
}

#[tokio::test]
async fn system_directories_are_the_hosts_read_only_and_the_usual_tools_work() {
    let Some(server) = isolated().await else { return };
    let vm = launch(&server, json!({})).await;
    let tools = "for t in sh tar gzip sha256sum cat mkdir; do command -v $t >/dev/null || echo missing $t; done";
    assert_eq!(sh_ok(&server, &vm, tools).await, "");
    let roundtrip = "mkdir -p d && echo data > d/f && tar -czf d.tgz d && rm -r d && tar -xzf d.tgz && sha256sum < d/f";
    let sum = sh_ok(&server, &vm, roundtrip).await;
    assert!(sum.starts_with("6667b2d1aab6a00c"), "{sum}");

    let name = unique("fastvm-fake-ro");
    for dir in ["/usr", "/etc"] {
        let (code, _, err) = sh(&server, &vm, &format!("touch {dir}/{name}")).await;
        assert_ne!(code, 0, "{dir} is writable");
        assert!(err.contains("Read-only"), "{err}");
    }
    // Not even root in the VM can make them writable or uncover what is below.
    let (code, _, _) = sh(&server, &vm, "mount -o remount,bind,rw /usr").await;
    assert_ne!(code, 0, "the VM could remount /usr read-write");
    let (code, _, _) = sh(&server, &vm, "umount -l /usr").await;
    assert_ne!(code, 0, "the VM could unmount /usr");
    assert!(!Path::new("/usr").join(&name).exists());
    assert_eq!(
        server.vm_path(&vm, "/usr/bin/env").unwrap(),
        PathBuf::from("/usr/bin/env"),
        "the host's own path"
    );
    assert_eq!(server.vm_path(&vm, "/proc/1/status"), None);
    server.shutdown().await;
}

#[tokio::test]
async fn commands_get_the_vms_environment_and_a_missing_program_a_diagnostic() {
    let Some(server) = isolated().await else { return };
    let vm = launch(&server, json!({ "envVars": { "GREETING": "hi", "HOME": "/home/me" } })).await;
    let out = sh_ok(&server, &vm, "echo $GREETING $HOME $USER; echo $PATH").await;
    assert_eq!(
        out,
        "hi /home/me root\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
    );

    let path = format!("/v1/vms/{vm}/exec");
    let missing = ok(&server, "POST", &path, Some(json!({ "command": ["/no/such/binary"] }))).await;
    assert_eq!(missing["exitCode"], 127);
    let err = missing["stderr"].as_str().unwrap();
    assert!(err.starts_with("cannot start \"/no/such/binary\": "), "{err}");
    // A command's own stderr that merely looks similar is passed on unchanged.
    let look_alike = "printf 'fastvm-vm-exec: failed to execute x: no\\n' >&2; exit 127";
    assert_eq!(
        sh(&server, &vm, look_alike).await,
        (127, String::new(), "fastvm-vm-exec: failed to execute x: no\n".into())
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_restored_vm_has_the_snapshots_files_and_nothing_written_later() {
    let Some(server) = isolated().await else { return };
    let a = launch(&server, json!({})).await;
    sh_ok(
        &server,
        &a,
        "mkdir -p /srv/app && echo v1 > /srv/app/conf && ln -s conf /srv/app/link && chmod 640 /srv/app/conf",
    )
    .await;
    let snap = ok(&server, "POST", "/v1/snapshots", Some(json!({ "vmId": a }))).await;
    let sid = snap["id"].as_str().unwrap().to_string();
    assert_eq!(snap["status"], "creating");
    // Written after the snapshot was taken: not in it.
    sh_ok(&server, &a, "echo v2 > /srv/app/conf; echo later > /root/later").await;

    // Launched while the snapshot is still `creating`: accepted, provisioning until it is ready.
    let (status, restored) = call(&server, "POST", "/v1/vms", Some(json!({ "snapshotId": sid }))).await;
    assert_eq!((status, restored["status"].as_str()), (202, Some("provisioning")));
    let c = restored["id"].as_str().unwrap().to_string();
    server.advance(Duration::from_secs(60));
    assert_eq!(
        ok(&server, "GET", &format!("/v1/snapshots/{sid}"), None).await["status"],
        "ready"
    );
    assert_eq!(
        ok(&server, "GET", &format!("/v1/vms/{c}"), None).await["status"],
        "running"
    );

    assert_eq!(
        sh_ok(
            &server,
            &c,
            "cat /srv/app/conf /srv/app/link; stat -c %a /srv/app/conf; test -e /root/later || echo no-later"
        )
        .await,
        "v1\nv1\n640\nno-later\n"
    );
    // The restored VM's files are its own copy: the source VM and the snapshot can go.
    ok(&server, "DELETE", &format!("/v1/vms/{a}"), None).await;
    ok(&server, "DELETE", &format!("/v1/snapshots/{sid}"), None).await;
    assert_eq!(sh_ok(&server, &c, "cat /srv/app/conf").await, "v1\n");
    let again = launch(&server, json!({})).await;
    let (code, _, _) = sh(&server, &again, "test -e /srv/app/conf").await;
    assert_eq!(code, 1, "a fresh VM starts empty");
    server.shutdown().await;
}

#[tokio::test]
async fn an_upload_to_an_absolute_path_lands_inside_the_vm_only() {
    let Some(server) = isolated().await else { return };
    let vm = launch(&server, json!({})).await;
    let other = launch(&server, json!({})).await;
    let pre = ok(
        &server,
        "POST",
        &format!("/v1/vms/{vm}/files/presign"),
        Some(json!({ "path": "x" })),
    )
    .await;
    let put = put(pre["uploadUrl"].as_str().unwrap(), Bytes::from_static(b"payload")).await;
    assert_eq!(put, 200);
    let dir = format!("/srv/{}", unique("upload"));
    let fetch = |path: String| json!({ "url": pre["downloadUrl"], "path": path });
    let path = format!("/v1/vms/{vm}/files/fetch");

    let fetched = ok(&server, "POST", &path, Some(fetch(format!("{dir}/deep/file.txt")))).await;
    assert_eq!(fetched["exitCode"], 0, "{fetched}");
    assert_eq!(
        sh_ok(&server, &vm, &format!("cat {dir}/deep/file.txt")).await,
        "payload"
    );
    assert!(!Path::new(&dir).exists(), "the upload reached the host");
    let (code, _, _) = sh(&server, &other, &format!("test -e {dir}")).await;
    assert_eq!(code, 1, "the upload reached another VM");
    let host = server.vm_path(&vm, format!("{dir}/deep/file.txt")).unwrap();
    assert_eq!(std::fs::read(host).unwrap(), b"payload");

    // Relative: under /root. Into a read-only system directory: refused.
    let rel = ok(&server, "POST", &path, Some(fetch("in/rel.txt".into()))).await;
    assert_eq!(rel["exitCode"], 0, "{rel}");
    assert_eq!(sh_ok(&server, &vm, "cat /root/in/rel.txt").await, "payload");
    let ro = ok(&server, "POST", &path, Some(fetch(format!("/usr/{}", unique("x"))))).await;
    assert_eq!(ro["exitCode"], 1, "{ro}");
    assert!(ro["stderr"].as_str().unwrap().contains("fetch: cannot write"), "{ro}");
    // Through a symlink the VM made: resolved inside the VM, not on the host.
    sh_ok(&server, &vm, "mkdir -p /root/real && ln -s /root/real /root/link").await;
    let via = ok(&server, "POST", &path, Some(fetch("/root/link/f".into()))).await;
    assert_eq!(via["exitCode"], 0, "{via}");
    assert_eq!(sh_ok(&server, &vm, "cat /root/real/f").await, "payload");
    server.shutdown().await;
}

#[tokio::test]
async fn a_vms_processes_end_with_its_deletion_and_with_shutdown() {
    let Some(server) = isolated().await else { return };
    let a = launch(&server, json!({})).await;
    let b = launch(&server, json!({})).await;
    // Detached background processes, in their own sessions: they outlive their exec.
    let (ta, tb) = (
        90_000 + rand::random::<u32>() % 9_999,
        100_000 + rand::random::<u32>() % 9_999,
    );
    sh_ok(&server, &a, &format!("setsid sleep {ta} >/dev/null 2>&1 < /dev/null &")).await;
    sh_ok(&server, &b, &format!("setsid sleep {tb} >/dev/null 2>&1 < /dev/null &")).await;
    wait_until(|| running(&format!("sleep {ta}")), true).await;
    wait_until(|| running(&format!("sleep {tb}")), true).await;
    let dir = server.vm_dir(&a).unwrap();
    assert!(dir.exists());

    ok(&server, "DELETE", &format!("/v1/vms/{a}"), None).await;
    assert!(!running(&format!("sleep {ta}")), "a process outlived its VM's deletion");
    assert!(!dir.exists(), "the deleted VM's root is still there");
    assert!(
        running(&format!("sleep {tb}")),
        "deleting one VM killed another's process"
    );

    let root = server.vm_dir(&b).unwrap();
    server.shutdown().await;
    assert!(!running(&format!("sleep {tb}")), "a process outlived the server");
    wait_until(|| root.exists(), false).await;
}

#[tokio::test]
async fn a_background_process_that_exits_is_reaped_as_by_a_real_init() {
    let Some(server) = isolated().await else { return };
    let vm = launch(&server, json!({})).await;
    // Orphans, reparented to the VM's init when their exec's shell exits; one still running.
    let pid = sh_ok(&server, &vm, "sleep 0.2 >/dev/null 2>&1 </dev/null & echo $!").await;
    let alive = sh_ok(&server, &vm, "sleep 30 >/dev/null 2>&1 </dev/null & echo $!").await;
    let (pid, alive) = (pid.trim(), alive.trim());
    // `kill -0` succeeds on a zombie: only a reaped process is gone.
    let gone = format!("for i in $(seq 100); do kill -0 {pid} 2>/dev/null || exit 0; sleep 0.05; done; exit 1");
    let (code, _, stderr) = sh(&server, &vm, &gone).await;
    assert_eq!(code, 0, "process {pid} still exists (a zombie?): {stderr}");
    let states = sh_ok(
        &server,
        &vm,
        "cat /proc/[0-9]*/stat 2>/dev/null | awk '{print $3}' | sort | uniq -c",
    )
    .await;
    assert!(!states.contains(" Z"), "zombies in the VM: {states}");
    assert_eq!(
        sh(&server, &vm, &format!("kill -0 {alive}")).await.0,
        0,
        "the running one was killed"
    );
    // Init still serves commands.
    assert_eq!(sh_ok(&server, &vm, "echo still").await, "still\n");
    server.shutdown().await;
}

#[tokio::test]
async fn concurrent_first_commands_share_one_vm() {
    let Some(server) = isolated().await else { return };
    let vm = launch(&server, json!({})).await;
    let runs = (0..4).map(|i| {
        let (server, vm) = (&server, &vm);
        async move { sh_ok(server, vm, &format!("echo {i} > /tmp/f{i}; ls /tmp | grep -c '^f'")).await }
    });
    futures::future::join_all(runs).await;
    assert_eq!(sh_ok(&server, &vm, "ls /tmp | grep -c '^f'").await, "4\n");
    server.shutdown().await;
}

#[tokio::test]
async fn without_isolation_commands_run_on_the_host_in_the_vms_directory() {
    let server = FakeServer::builder().isolation(Isolation::Off).start().await.unwrap();
    assert!(!server.isolated());
    assert!(format!("{server:?}").contains("isolation: Off"), "{server:?}");
    let vm = launch(&server, json!({})).await;
    let dir = server.vm_dir(&vm).unwrap();
    let pwd = sh_ok(&server, &vm, "pwd -P").await;
    assert_eq!(Path::new(pwd.trim()), dir.canonicalize().unwrap());
    sh_ok(&server, &vm, "echo x > rel").await;
    assert_eq!(server.vm_path(&vm, "rel").unwrap(), dir.join("rel"));
    assert!(dir.join("rel").exists());
    assert_eq!(server.vm_path(&vm, "/etc/hosts").unwrap(), PathBuf::from("/etc/hosts"));
    let missing = ok(
        &server,
        "POST",
        &format!("/v1/vms/{vm}/exec"),
        Some(json!({ "command": ["/no/such/binary"] })),
    )
    .await;
    assert!(
        missing["stderr"].as_str().unwrap().starts_with("cannot start"),
        "{missing}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn snapshots_are_creating_for_the_snapshot_duration_and_can_be_deleted_meanwhile() {
    let server = FakeServer::builder()
        .isolation(Isolation::Off)
        .snapshot_duration(Duration::from_secs(10))
        .boot_delay(Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    let (status, vm) = call(&server, "POST", "/v1/vms", Some(json!({}))).await;
    assert_eq!(status, 202);
    server.advance(Duration::from_secs(2));
    let id = vm["id"].as_str().unwrap();
    let snap = ok(&server, "POST", "/v1/snapshots", Some(json!({ "vmId": id }))).await;
    let sid = snap["id"].as_str().unwrap().to_string();
    assert_eq!(snap["status"], "creating");
    let listed = ok(&server, "GET", "/v1/snapshots", None).await;
    assert_eq!(listed[0]["status"], "creating");

    // Launched from it now: running 10 s (snapshot) + 2 s (boot delay) later.
    let (status, restored) = call(&server, "POST", "/v1/vms", Some(json!({ "snapshotId": sid }))).await;
    assert_eq!((status, restored["status"].as_str()), (202, Some("provisioning")));
    let rid = restored["id"].as_str().unwrap().to_string();
    let get = |p: String| {
        let server = &server;
        async move { ok(server, "GET", &p, None).await["status"].clone() }
    };
    // (The fake clock is the wall clock plus the advances: margins for real time passing.)
    server.advance(Duration::from_secs(8));
    assert_eq!(get(format!("/v1/snapshots/{sid}")).await, "creating");
    server.advance(Duration::from_secs(2));
    assert_eq!(get(format!("/v1/snapshots/{sid}")).await, "ready");
    assert_eq!(get(format!("/v1/vms/{rid}")).await, "provisioning");
    server.advance(Duration::from_secs(2));
    assert_eq!(get(format!("/v1/vms/{rid}")).await, "running");

    // Deleting a snapshot that is still creating works.
    let second = ok(&server, "POST", "/v1/snapshots", Some(json!({ "vmId": id }))).await;
    assert_eq!(second["status"], "creating");
    let sid2 = second["id"].as_str().unwrap();
    let deleted = ok(&server, "DELETE", &format!("/v1/snapshots/{sid2}"), None).await;
    assert_eq!(deleted["deleted"], true);
    let (status, _) = call(&server, "GET", &format!("/v1/snapshots/{sid2}"), None).await;
    assert_eq!(status, 404);

    // Zero: ready at once, and a restore answers 201 running (without a boot delay).
    let instant = FakeServer::builder()
        .isolation(Isolation::Off)
        .snapshot_duration(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let vm = launch(&instant, json!({})).await;
    let snap = ok(&instant, "POST", "/v1/snapshots", Some(json!({ "vmId": vm }))).await;
    assert_eq!(snap["status"], "ready");
    let (status, restored) = call(&instant, "POST", "/v1/vms", Some(json!({ "snapshotId": snap["id"] }))).await;
    assert_eq!((status, restored["status"].as_str()), (201, Some("running")));
}

#[tokio::test]
async fn the_builder_shows_isolation_and_snapshot_duration() {
    let b = FakeServer::builder()
        .isolation(Isolation::Required)
        .snapshot_duration(Duration::from_millis(5));
    let debug = format!("{b:?}");
    assert!(debug.contains("isolation: Required"), "{debug}");
    assert!(debug.contains("snapshot_duration: 5ms"), "{debug}");
    assert_eq!(Isolation::default(), Isolation::Auto);
    assert_eq!(Isolation::Off.to_string(), "off");
}

/// Whether a process with exactly this command line runs on this host.
fn running(cmdline: &str) -> bool {
    let want: Vec<u8> = cmdline.replace(' ', "\0").into_bytes();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .any(|e| std::fs::read(e.path().join("cmdline")).is_ok_and(|c| c.strip_suffix(b"\0") == Some(&want[..])))
}

async fn wait_until(cond: impl Fn() -> bool, want: bool) {
    for _ in 0..100 {
        if cond() == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition did not become {want}");
}

/// A PUT of `body` to a presigned URL (hyper, no API key); the status.
async fn put(url: &str, body: Bytes) -> u16 {
    let rest = url.strip_prefix("http://").unwrap();
    let (addr, path) = rest.split_at(rest.find('/').unwrap());
    let mut sender = common::connect(addr).await;
    let req = hyper::Request::builder()
        .method("PUT")
        .uri(path)
        .header("host", addr)
        .header("content-length", body.len())
        .body(Body::from(body))
        .unwrap();
    sender.send_request(req).await.unwrap().status().as_u16()
}

#[tokio::test]
async fn the_binary_reports_a_bad_isolation_environment_value_and_says_when_it_isolates() {
    let bin = env!("CARGO_BIN_EXE_fastvm-fake");
    let bad = tokio::process::Command::new(bin)
        .env("FASTVM_FAKE_ISOLATION", "bogus")
        .output()
        .await
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("FASTVM_FAKE_ISOLATION") && err.contains("auto, required or off"),
        "{err}"
    );

    if isolated().await.is_none() {
        return;
    }
    let mut child = tokio::process::Command::new(bin)
        .args(["--port", "0", "--isolation", "required"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    tokio::io::AsyncBufReadExt::read_line(&mut stderr, &mut line)
        .await
        .unwrap();
    assert!(line.contains("each VM has its own filesystem"), "{line}");
    // SIGTERM: the server shuts down and removes its temporary directory.
    let pid = nix::unistd::Pid::from_raw(child.id().unwrap() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    assert!(status.unwrap().unwrap().success());
}
