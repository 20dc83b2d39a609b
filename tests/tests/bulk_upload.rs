//! `upload_many`: many (local -> absolute remote) pairs in one archive. Against wiremock: the
//! exact request sequence (one presign, one storage PUT, one fetch, one extraction exec), the
//! archive's members, and every refused input sending no request. Against the fake: the files
//! land at their paths (seen through `FakeServer::vm_path`) and the staging file is gone.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::{Api, check_wire, json_response};
use fastvm::Error;
use fastvm::transfer::{FileTransferError, FileTransferErrorKind as Kind};
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, Request, ResponseTemplate};

const VM: &str = "vm-bulk-1";
const SECRET: &str = "X-Amz-Signature=sekrit0123456789";

fn presign_body(api: &Api) -> Value {
    let base = api.server.uri();
    json!({
        "uploadUrl": format!("{base}/storage/obj?{SECRET}&op=put"),
        "downloadUrl": format!("{base}/storage/obj?{SECRET}&op=get"),
        "expiresInSec": 3600,
        "maxUploadBytes": 1i64 << 30,
    })
}

fn exec_result(code: i64, stdout: &str, stderr: &str) -> Value {
    json!({
        "exitCode": code, "stdout": stdout, "stderr": stderr, "durationMs": 3,
        "stdoutTruncated": false, "stderrTruncated": false, "timedOut": false,
    })
}

/// Mounts the whole happy sequence, each step expected `times` times; the extraction answers
/// `extract`.
async fn mount(api: &Api, extract: Value, times: u64) {
    api.expect_times(
        "presignFile",
        &format!("/v1/vms/{VM}/files/presign"),
        200,
        presign_body(api),
        times,
    )
    .await;
    Mock::given(method("PUT"))
        .and(path("/storage/obj"))
        .respond_with(ResponseTemplate::new(200))
        .named("storage PUT")
        .expect(times)
        .mount(&api.server)
        .await;
    api.expect_times(
        "fetchFileToVm",
        &format!("/v1/vms/{VM}/files/fetch"),
        200,
        exec_result(0, "", ""),
        times,
    )
    .await;
    exec_when(api, "tar -xzf", extract, times).await;
}

async fn exec_when(api: &Api, needle: &str, body: Value, times: u64) {
    common::valid_fixture("execVm", 200, &body);
    Mock::given(method("POST"))
        .and(path(format!("/v1/vms/{VM}/exec")))
        .and(body_string_contains(needle))
        .respond_with(json_response(200, &body))
        .named(format!("exec containing {needle:?}"))
        .expect(times)
        .mount(&api.server)
        .await;
}

fn transfer_error<T: std::fmt::Debug>(r: fastvm::Result<T>) -> Box<FileTransferError> {
    match r {
        Err(Error::FileTransfer { error, .. }) => error,
        other => panic!("expected a FileTransfer error, got {other:?}"),
    }
}

fn exec_line(r: &Request) -> String {
    let sent = check_wire("execVm", r);
    let argv = sent.json()["command"].as_array().unwrap().clone();
    assert_eq!((argv[0].as_str(), argv[1].as_str()), (Some("sh"), Some("-c")));
    argv[2].as_str().unwrap().to_string()
}

/// The host `tar`'s listing of an archive (`args` before `-f`), one line per member.
fn tar_list(bytes: &[u8], args: &[&str]) -> Vec<String> {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("a.tgz");
    std::fs::write(&f, bytes).unwrap();
    let out = std::process::Command::new("tar")
        .args(args)
        .arg("-f")
        .arg(&f)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The member names, in archive order.
fn tar_names(bytes: &[u8]) -> Vec<String> {
    tar_list(bytes, &["-tz"])
        .into_iter()
        .map(|n| n.trim_end_matches('/').to_string())
        .collect()
}

/// `tar -tv` lines: mode, numeric owner, size, time, name.
fn tar_listing(bytes: &[u8]) -> Vec<String> {
    tar_list(bytes, &["--numeric-owner", "-tzv"])
}

/// Local files: `config.toml` (0600), `data.bin` (0755) and a directory `site` with a nested
/// file and a symlink.
fn sources(root: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let config = root.join("config.toml");
    std::fs::write(&config, b"port = 8080\n").unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let data = root.join("data bin");
    std::fs::write(&data, (0..=255u8).cycle().take(300_000).collect::<Vec<_>>()).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let site = root.join("site");
    std::fs::create_dir_all(site.join("css")).unwrap();
    std::fs::write(site.join("index.html"), b"<h1>hi</h1>").unwrap();
    std::fs::write(site.join("css/a b.css"), b"body{}").unwrap();
    std::os::unix::fs::symlink("index.html", site.join("home.html")).unwrap();
    (config, data, site)
}

#[tokio::test]
async fn one_presign_one_put_one_fetch_one_extraction() {
    let api = Api::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let (config, data, site) = sources(tmp.path());
    mount(&api, exec_result(0, "", ""), 1).await;
    let reported = Arc::new(AtomicU64::new(0));
    let seen = reported.clone();
    api.client
        .upload_many(VM)
        .file(&config, "/etc/app/config.toml")
        .path(&data, "/srv/data.bin")
        .dir(&site, "/srv/my 'site'/")
        .exec_timeout(Duration::from_secs(77))
        .progress(move |p| seen.store(p.bytes_done, Ordering::SeqCst))
        .await
        .unwrap();

    let reqs = api.received().await;
    let summary: Vec<String> = reqs.iter().map(|r| format!("{} {}", r.method, r.url.path())).collect();
    assert_eq!(
        summary,
        [
            format!("POST /v1/vms/{VM}/files/presign"),
            "PUT /storage/obj".to_string(),
            format!("POST /v1/vms/{VM}/files/fetch"),
            format!("POST /v1/vms/{VM}/exec"),
        ]
    );
    let staging = check_wire("presignFile", &reqs[0]).json()["path"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        staging.starts_with("/var/tmp/fastvm-upload-") && staging.ends_with(".tar.gz"),
        "{staging}"
    );

    let put = &reqs[1];
    assert!(put.headers.get("x-api-key").is_none(), "API key sent to storage");
    assert_eq!(put.headers["transfer-encoding"], "chunked");
    assert_eq!(reported.load(Ordering::SeqCst), put.body.len() as u64);
    let names = tar_names(&put.body);
    assert_eq!(
        names,
        [
            "etc/app/config.toml",
            "srv/data.bin",
            "srv/my 'site'",
            "srv/my 'site'/css",
            "srv/my 'site'/css/a b.css",
            "srv/my 'site'/home.html",
            "srv/my 'site'/index.html",
        ]
    );
    let listing = tar_listing(&put.body);
    assert!(
        listing[5].starts_with('l') && listing[5].ends_with(" -> index.html"),
        "{}",
        listing[5]
    );
    // Modes kept, owned by root, no parent directory of a pair in the archive.
    assert!(listing[0].starts_with("-rw------- 0/0 "), "{}", listing[0]);
    assert!(listing[1].starts_with("-rwxr-xr-x 0/0 "), "{}", listing[1]);
    assert!(listing[2].starts_with("d"), "{}", listing[2]);
    assert!(listing.iter().all(|l| l.contains(" 0/0 ")), "{listing:#?}");

    let fetch = check_wire("fetchFileToVm", &reqs[2]);
    assert_eq!(fetch.json()["path"], staging.as_str());
    assert_eq!(fetch.json()["url"], presign_body(&api)["downloadUrl"]);
    let extract = check_wire("execVm", &reqs[3]);
    assert_eq!(extract.json()["timeoutSec"], 77);
    assert_eq!(
        exec_line(&reqs[3]),
        format!("mkdir -p '/' && tar -xzf '{staging}' -C '/'; st=$?; rm -f '{staging}'; exit $st")
    );
}

#[tokio::test]
async fn verify_checks_the_staged_archive_in_the_same_command() {
    let api = Api::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let (config, _, site) = sources(tmp.path());
    mount(&api, exec_result(0, "", ""), 1).await;
    api.client
        .upload_many(VM)
        .file(&config, "/etc/app/config.toml")
        .dir(&site, "/srv/site")
        .verify(true)
        .await
        .unwrap();
    let reqs = api.received().await;
    assert_eq!(reqs.len(), 4);
    let digest = sha256_hex(&reqs[1].body);
    let line = exec_line(&reqs[3]);
    assert!(line.contains("sha256sum < '/var/tmp/fastvm-upload-"), "{line}");
    assert!(line.contains(&format!("= '{digest}' ]")), "{line}");
    assert!(
        line.find("sha256sum").unwrap() < line.find("tar -xzf").unwrap(),
        "checked before extracting: {line}"
    );

    // The VM saw other bytes: a Verify error, and nothing more is sent (the command removed
    // the staging file).
    api.next_case().await;
    let theirs = "ab".repeat(32);
    mount(
        &api,
        exec_result(1, &format!("fastvm-sha256-mismatch {theirs}\n"), ""),
        1,
    )
    .await;
    let e = transfer_error(api.client.upload_many(VM).file(&config, "/etc/a").verify(true).await);
    assert_eq!(e.kind, Kind::Verify, "{e}");
    assert!(e.message.contains(&theirs), "{e}");
    assert_eq!(api.received().await.len(), 4);
}

fn sha256_hex(bytes: &[u8]) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("b");
    std::fs::write(&f, bytes).unwrap();
    let out = std::process::Command::new("sha256sum").arg(&f).output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

#[tokio::test]
async fn refused_inputs_send_no_request() {
    let api = Api::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let (config, data, site) = sources(tmp.path());
    let c = &api.client;
    let invalid = |r: fastvm::Result<()>, field: &str, needle: &str| match r {
        Err(Error::InvalidInput { field: f, message, .. }) => {
            assert_eq!(f, field, "{message}");
            assert!(message.contains(needle), "{field}: {message:?} lacks {needle:?}");
        }
        other => panic!("expected InvalidInput for {field}, got {other:?}"),
    };
    invalid(c.upload_many(VM).await, "pairs", "nothing to upload");
    invalid(
        c.upload_many(VM).file(&config, "etc/app.toml").await,
        "pairs[0].remote",
        "absolute",
    );
    invalid(c.upload_many(VM).file(&config, "").await, "pairs[0].remote", "absolute");
    invalid(
        c.upload_many(VM)
            .file(&config, "/etc/a")
            .file(&data, "/srv/../etc/passwd")
            .await,
        "pairs[1].remote",
        "`..`",
    );
    invalid(
        c.upload_many(VM).file(&config, "/etc/a\0b").await,
        "pairs[0].remote",
        "NUL",
    );
    invalid(c.upload_many(VM).dir(&site, "/").await, "pairs[0].remote", "`/` itself");
    invalid(
        c.upload_many(VM).dir(&site, "//./").await,
        "pairs[0].remote",
        "`/` itself",
    );
    invalid(
        c.upload_many(VM)
            .file(&config, "/etc/app/config.toml")
            .file(&data, "/srv/x")
            .file(&data, "//etc/./app/config.toml")
            .await,
        "pairs[2].remote",
        "pairs[0]",
    );
    invalid(
        c.upload_many(VM).file(&config, "/etc/app/").await,
        "pairs[0].remote",
        "names a directory",
    );
    invalid(
        c.upload_many(VM)
            .file(&config, "/etc/app")
            .dir(&site, "/etc/app/site")
            .await,
        "pairs[1].remote",
        "pairs[0] uploads as a file",
    );
    invalid(
        c.upload_many(VM).file(&site, "/srv/site").await,
        "pairs[0].local",
        "is a directory",
    );
    invalid(
        c.upload_many(VM).dir(&config, "/srv/site").await,
        "pairs[0].local",
        "is a file",
    );
    invalid(
        c.upload_many(VM).file(&config, "/a").exec_timeout(Duration::ZERO).await,
        "exec_timeout",
        "second",
    );
    invalid(
        c.upload_many(VM)
            .file(&config, "/a")
            .fetch_timeout(Duration::ZERO)
            .await,
        "fetch_timeout",
        "second",
    );
    invalid(c.upload_many("").file(&config, "/a").await, "id", "empty");

    let missing = tmp.path().join("nope");
    let r = c.upload_many(VM).file(&config, "/a").file(&missing, "/b").await;
    assert!(r.as_ref().is_err_and(Error::is_not_found), "{r:?}");
    let e = transfer_error(r);
    assert_eq!(e.kind, Kind::NotFound);
    assert!(e.message.contains("nope") && e.message.contains("pairs[1]"), "{e}");
    let e = transfer_error(c.upload_many(VM).path("/dev/null", "/b").await);
    assert_eq!(e.kind, Kind::Unsupported, "{e}");

    assert!(api.received().await.is_empty(), "a refused input sent a request");
}

#[tokio::test]
async fn a_failed_fetch_removes_the_staging_file_and_extracts_nothing() {
    let api = Api::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let (config, _, _) = sources(tmp.path());
    api.expect(
        "presignFile",
        &format!("/v1/vms/{VM}/files/presign"),
        200,
        presign_body(&api),
    )
    .await;
    Mock::given(method("PUT"))
        .and(path("/storage/obj"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&api.server)
        .await;
    api.expect(
        "fetchFileToVm",
        &format!("/v1/vms/{VM}/files/fetch"),
        200,
        exec_result(1, "", "curl: (22) The requested URL returned error: 403\n"),
    )
    .await;
    exec_when(&api, "rm -f", exec_result(0, "", ""), 1).await;
    let e = transfer_error(api.client.upload_many(VM).file(&config, "/etc/a").await);
    assert_eq!(e.kind, Kind::RemoteCommand, "{e}");
    assert!(e.stderr.as_deref().unwrap().contains("403"), "{e}");
    let reqs = api.received().await;
    let staging = check_wire("presignFile", &reqs[0]).json()["path"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(reqs.len(), 4);
    assert_eq!(exec_line(&reqs[3]), format!("rm -f '{staging}'"));
}

#[tokio::test]
async fn a_failed_extraction_is_a_remote_command_error() {
    let api = Api::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let (config, _, _) = sources(tmp.path());
    mount(
        &api,
        exec_result(2, "", "tar: etc/a: Cannot open: Read-only file system\n"),
        1,
    )
    .await;
    let e = transfer_error(api.client.upload_many(VM).file(&config, "/etc/a").await);
    assert_eq!(e.kind, Kind::RemoteCommand, "{e}");
    assert_eq!(e.exit_code, Some(2));
    assert!(e.stderr.as_deref().unwrap().contains("Read-only"), "{e}");
    // The extraction removed the staging file itself: no fifth request.
    assert_eq!(api.received().await.len(), 4);
}

#[tokio::test]
async fn a_storage_failure_sends_nothing_to_the_vm() {
    let api = Api::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let (config, _, _) = sources(tmp.path());
    api.expect(
        "presignFile",
        &format!("/v1/vms/{VM}/files/presign"),
        200,
        presign_body(&api),
    )
    .await;
    Mock::given(method("PUT"))
        .and(path("/storage/obj"))
        .respond_with(ResponseTemplate::new(503).set_body_string("slow down"))
        .expect(1)
        .mount(&api.server)
        .await;
    let e = transfer_error(api.client.upload_many(VM).file(&config, "/etc/a").await);
    assert_eq!(e.kind, Kind::Storage, "{e}");
    assert!(!e.to_string().contains("sekrit"), "{e}");
    assert_eq!(api.received().await.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// End to end against the fake

use fastvm_tests::fake::staging_files as staged;

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

#[tokio::test]
async fn files_and_a_directory_land_at_their_absolute_paths() {
    let (server, client, id) = fastvm_tests::fake::with_vm("bulk-e2e").await;
    let tmp = tempfile::tempdir().unwrap();
    let (config, data, site) = sources(tmp.path());
    let patch = tmp.path().join("patched index");
    std::fs::write(&patch, b"<h1>patched</h1>").unwrap();
    // "Absolute" VM paths named after a host temp dir: the same paths with and without
    // isolation (see `FakeServer::vm_path`).
    let base = tmp.path().join("vm");
    let remote = |rel: &str| format!("{}/{rel}", base.display());
    let before = staged(&server, &id);

    let vm = client.attach(&id).await.unwrap();
    vm.upload_many()
        .file(&config, remote("etc/app/config.toml"))
        .file(&data, remote("srv/data.bin"))
        .dir(&site, remote("srv/site"))
        .file(&patch, remote("srv/site/index.html"))
        .verify(true)
        .await
        .unwrap();

    let at = |rel: &str| server.vm_path(&id, remote(rel)).unwrap();
    assert_eq!(std::fs::read(at("etc/app/config.toml")).unwrap(), b"port = 8080\n");
    assert_eq!(mode(&at("etc/app/config.toml")), 0o600);
    assert_eq!(
        std::fs::read(at("srv/data.bin")).unwrap(),
        std::fs::read(&data).unwrap()
    );
    assert_eq!(mode(&at("srv/data.bin")), 0o755);
    assert_eq!(std::fs::read(at("srv/site/css/a b.css")).unwrap(), b"body{}");
    assert_eq!(
        std::fs::read_link(at("srv/site/home.html")).unwrap(),
        PathBuf::from("index.html")
    );
    // The later pair replaced the directory's file.
    assert_eq!(std::fs::read(at("srv/site/index.html")).unwrap(), b"<h1>patched</h1>");
    // Owned by the user that extracted them (the VM's root; without isolation, this user).
    let out = vm
        .run(format!(
            "stat -c %u {}",
            fastvm::exec::shell_quote(&remote("etc/app/config.toml"))
        ))
        .await
        .unwrap()
        .check()
        .unwrap();
    let whoami = vm.run("id -u").await.unwrap().check().unwrap();
    assert_eq!(out.stdout.trim(), whoami.stdout.trim());
    assert_eq!(staged(&server, &id), before, "the staging file is left in /var/tmp");
}

#[tokio::test]
async fn a_failed_extraction_leaves_no_staging_file_in_the_vm() {
    let (server, client, id) = fastvm_tests::fake::with_vm("bulk-e2e-fail").await;
    let tmp = tempfile::tempdir().unwrap();
    let (config, _, _) = sources(tmp.path());
    let base = tmp.path().join("vm");
    // A non-empty directory where the upload puts a file: tar cannot replace it.
    let taken = format!("{}/etc/app", base.display());
    let host = server.vm_path(&id, format!("{taken}/keep")).unwrap();
    std::fs::create_dir_all(host.parent().unwrap()).unwrap();
    std::fs::write(&host, b"keep").unwrap();
    let before = staged(&server, &id);

    let e = transfer_error(client.upload_many(&id).file(&config, &taken).await);
    assert_eq!(e.kind, Kind::RemoteCommand, "{e}");
    assert_ne!(e.exit_code, Some(0));
    assert_eq!(std::fs::read(&host).unwrap(), b"keep");
    assert_eq!(staged(&server, &id), before, "the staging file is left in /var/tmp");
}

#[tokio::test]
async fn a_failed_fetch_in_the_fake_leaves_no_staging_file() {
    let (server, client, id) = fastvm_tests::fake::with_vm("bulk-e2e-fetch").await;
    let tmp = tempfile::tempdir().unwrap();
    let (config, _, _) = sources(tmp.path());
    let before = staged(&server, &id);
    server
        .faults()
        .push("fetchFileToVm", fastvm_fake::Fault::status(500).times(10));
    let dest = format!("{}/vm/a", tmp.path().display());
    let r = client.upload_many(&id).file(&config, &dest).await;
    assert_eq!(
        r.as_ref().err().and_then(Error::status).map(|s| s.as_u16()),
        Some(500),
        "{r:?}"
    );
    assert_eq!(staged(&server, &id), before);
    assert!(server.vm_path(&id, &dest).is_some_and(|p| !p.exists()));
}
