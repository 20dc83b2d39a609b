//! Drives `fastvm-fake` over real HTTP with a raw reqwest client (not the facade) and checks
//! every response body against `openapi.json`, plus the behaviours the fake promises.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use fastvm_fake::{FakeServer, Fault, Limits};
use fastvm_tests::schema::{operation, operations, path_fits_template, validate_response, validate_schema};
use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOGfWKDypYxh9k4VQH+JgkxbE1p4BzWv0Gh65glAi+CQ me@host";
// `ssh-keygen -lf` of ED25519: contains both `+` and `/`.
const ED25519_FP: &str = "SHA256:zh+clZr1I3/nhfKn28aLGRIwOA4ff2ORSTI8Cs4Ovq4";

/// A raw client that validates every JSON answer against the spec and records coverage.
struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
    seen: Mutex<BTreeSet<String>>,
}

impl Api {
    fn new(server: &FakeServer) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: server.base_url().to_string(),
            key: server.api_key().to_string(),
            seen: Mutex::new(BTreeSet::new()),
        }
    }

    /// Calls `op` at `path` (which may carry a query) with the spec's method for `op`, validates
    /// the answer and records `op` as exercised; returns the status and body (`Null` for none).
    ///
    /// The method comes from the spec and the path must fit `op`'s template, so a call labelled
    /// with the wrong operation fails here instead of counting that operation as covered.
    async fn call(&self, op: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let spec = operation(op);
        let raw_path = path.split_once('?').map_or(path, |(p, _)| p);
        assert!(
            path_fits_template(&spec.path, raw_path),
            "test bug: {path} is not a path of {op} ({})",
            spec.path
        );
        let method = Method::from_bytes(spec.method.as_bytes()).expect("the spec's method is an HTTP method");
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .header("X-API-Key", &self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("{op}: {e}"));
        let status = resp.status().as_u16();
        let ctype = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string());
        let bytes = resp.bytes().await.unwrap();
        self.seen.lock().unwrap().insert(op.to_string());
        // A status the spec answers without a body (a 204, a probe's 200): none is sent.
        let documented = fastvm_tests::schema::operation(op).value["responses"][status.to_string()].clone();
        if status == 204 || (documented.is_object() && documented.get("content").is_none()) {
            assert!(bytes.is_empty(), "{op}: {status} with a body");
            return (status, Value::Null);
        }
        assert_eq!(ctype.as_deref(), Some("application/json"), "{op} {status}");
        let v: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{op}: not JSON: {e}"));
        if let Err(e) = validate_response(op, status, &v) {
            panic!("{op} {status} does not conform: {e}\n{v:#}");
        }
        (status, v)
    }

    /// [`Api::call`] that asserts the answer has status `want`; returns the body.
    /// Calls `op` and checks its status is `want`; a success `want` of an operation the spec
    /// documents one success status for is that status (a 200 that became a 204 upstream needs
    /// no edit here).
    async fn ok(&self, op: &str, path: &str, body: Option<Value>, want: u16) -> Value {
        let documented: Vec<u16> = operation(op).value["responses"]
            .as_object()
            .unwrap()
            .keys()
            .filter_map(|c| c.parse().ok())
            .filter(|c| (200..300).contains(c))
            .collect();
        let want = match documented[..] {
            [only] if (200..300).contains(&want) => only,
            _ => want,
        };
        let (status, v) = self.call(op, path, body).await;
        assert_eq!(status, want, "{op} {path}: {v}");
        v
    }

    async fn launch(&self, body: Value) -> Value {
        self.ok("launchVm", "/v1/vms", Some(body), 201).await
    }

    async fn exec(&self, vm: &str, command: &[&str]) -> Value {
        let path = format!("/v1/vms/{vm}/exec");
        self.ok("execVm", &path, Some(json!({ "command": command })), 200).await
    }

    /// POSTs to exec with `Accept: application/x-ndjson` and returns the parsed lines.
    async fn stream(&self, vm: &str, body: Value) -> Vec<Value> {
        let resp = self.stream_response(vm, body).await;
        let text = resp.text().await.unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}")))
            .collect();
        for l in &lines {
            validate_schema("ExecEvent", l, true).unwrap();
        }
        lines
    }

    async fn stream_response(&self, vm: &str, body: Value) -> reqwest::Response {
        let resp = self
            .http
            .post(format!("{}/v1/vms/{vm}/exec", self.base))
            .header("X-API-Key", &self.key)
            .header("Accept", "application/x-ndjson")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
        self.seen.lock().unwrap().insert("execVm".into());
        resp
    }
}

/// Uploads a ZIP archive of `files` to a context presign's `uploadUrl`, as a client does.
async fn put_zip(api: &Api, presigned: &Value, files: &[(&str, &str)]) {
    let resp = api
        .http
        .put(presigned["uploadUrl"].as_str().unwrap())
        .header("content-type", "application/zip")
        .body(zip_of(files))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
}

/// A ZIP archive of `files` (name, contents).
fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, body) in files {
        zip.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(body.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

fn decoded(lines: &[Value], t: &str) -> Vec<u8> {
    lines
        .iter()
        .filter(|l| l["t"] == t)
        .flat_map(|l| STANDARD.decode(l["d"].as_str().unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn every_operation_answers_per_the_spec() {
    let server = FakeServer::start().await.unwrap();
    let api = Api::new(&server);

    let health = api.ok("getHealth", "/healthz", None, 200).await;
    assert_eq!(health["status"], "ok");

    let vm = api
        .launch(
            json!({"name": "  my   vm ", "machineType": "c2m4", "metadata": {"env": "test"},
                       "envVars": {"GREETING": "hi"}, "ttl": {"seconds": 600, "action": "pause"}}),
        )
        .await;
    let vid = id(&vm);
    assert_eq!(
        (vm["name"].as_str(), vm["cpu"].as_i64(), vm["memoryMiB"].as_i64()),
        (Some("my vm"), Some(2), Some(4096))
    );
    assert!(vm["expiresAtMs"].is_i64() && vm.get("ttlRemainingMs").is_none());
    let v = |p: &str| format!("/v1/vms/{vid}{p}");

    let list = api.ok("listVms", "/v1/vms", None, 200).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let got = api.ok("getVm", &v(""), None, 200).await;
    assert_eq!(got["id"], vm["id"]);
    let upd = api
        .ok(
            "updateVm",
            &v(""),
            Some(json!({"name": "renamed", "metadata": {}})),
            200,
        )
        .await;
    assert_eq!(
        (upd["name"].as_str(), upd["metadata"].clone()),
        (Some("renamed"), json!({}))
    );

    let fw = api
        .ok(
            "setVmFirewall",
            &v("/firewall"),
            Some(json!({"egress": {"default": "deny"}})),
            200,
        )
        .await;
    assert_eq!(fw["firewall"]["egress"]["default"], "deny");
    let fw = api.ok("patchVmFirewall", &v("/firewall"), Some(json!({})), 200).await;
    assert_eq!(fw["firewall"]["egress"]["default"], "deny", "{{}} is a no-op");

    let tok = api.ok("createConsoleToken", &v("/console-token"), None, 200).await;
    assert!(tok["websocketPath"].as_str().unwrap().contains(&vid));

    let run = api.exec(&vid, &["sh", "-c", "echo $GREETING"]).await;
    assert_eq!(run["stdout"], "hi\n");

    let svc = api
        .ok(
            "registerService",
            &v("/services"),
            Some(json!({"name": "web", "port": 8080})),
            201,
        )
        .await;
    assert_eq!(svc, json!({"name": "web", "port": 8080, "h2c": false}));
    api.ok(
        "updateService",
        &v("/services/web"),
        Some(json!({"port": 8081, "h2c": true})),
        200,
    )
    .await;
    let svcs = api.ok("listServices", &v("/services"), None, 200).await;
    assert_eq!(svcs, json!([{"name": "web", "port": 8081, "h2c": true}]));
    api.ok("deleteService", &v("/services/web"), None, 204).await;

    let key = api
        .ok(
            "addSshKey",
            &v("/ssh-keys"),
            Some(json!({"publicKey": ED25519, "name": "me"})),
            201,
        )
        .await;
    assert_eq!(key["fingerprint"], ED25519_FP);
    let keys = api.ok("listSshKeys", &v("/ssh-keys"), None, 200).await;
    assert_eq!(keys["keys"].as_array().unwrap().len(), 1);
    let enc = ED25519_FP.replace('/', "%2F");
    api.ok("deleteSshKey", &v(&format!("/ssh-keys/{enc}")), None, 200).await;
    // The user's keys (upstream after the reference): the same shapes, under /v1/me.
    let key = api
        .ok(
            "addUserSshKey",
            "/v1/me/ssh-keys",
            Some(json!({"publicKey": ED25519, "name": "me"})),
            201,
        )
        .await;
    assert_eq!(key["fingerprint"], ED25519_FP);
    let keys = api.ok("listUserSshKeys", "/v1/me/ssh-keys", None, 200).await;
    assert_eq!(keys["keys"].as_array().unwrap().len(), 1);
    api.ok("deleteUserSshKey", &format!("/v1/me/ssh-keys/{enc}"), None, 200)
        .await;

    // Bucket mounts (upstream after the reference): recorded, listed on the VM, never showing
    // their credentials.
    let aws = json!({"type": "aws-credentials",
                     "value": {"data": "[default]\naws_access_key_id = A\naws_secret_access_key = S3cr3t\n"}});
    let mount = api
        .ok(
            "createBucketMount",
            &v("/bucket-mounts"),
            Some(json!({"bucketUri": "s3://logs/x", "mountPath": "/mnt/logs", "credentials": aws})),
            201,
        )
        .await;
    assert!(!mount.to_string().contains("S3cr3t"));
    let mid = id(&mount);
    let mounts = api.ok("listBucketMounts", &v("/bucket-mounts"), None, 200).await;
    assert_eq!(mounts.as_array().unwrap().len(), 1);
    api.ok("getBucketMount", &v(&format!("/bucket-mounts/{mid}")), None, 200)
        .await;
    api.ok(
        "rotateBucketMountCredentials",
        &v(&format!("/bucket-mounts/{mid}")),
        Some(json!({"credentials": aws})),
        200,
    )
    .await;
    let on_vm = api.ok("getVm", &v(""), None, 200).await;
    assert_eq!(on_vm["bucketMounts"][0]["id"], mount["id"]);
    api.ok("deleteBucketMount", &v(&format!("/bucket-mounts/{mid}")), None, 204)
        .await;

    let pre = api
        .ok(
            "presignFile",
            &v("/files/presign"),
            Some(json!({"path": "/tmp/x"})),
            200,
        )
        .await;
    assert_eq!(pre["maxUploadBytes"], json!(10u64 << 30));
    let put = api
        .http
        .put(pre["uploadUrl"].as_str().unwrap())
        .body("payload")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let fetched = api
        .ok(
            "fetchFileToVm",
            &v("/files/fetch"),
            Some(json!({"url": pre["downloadUrl"], "path": "in/payload.txt"})),
            200,
        )
        .await;
    assert_eq!(fetched["exitCode"], 0);
    assert_eq!(api.exec(&vid, &["cat", "in/payload.txt"]).await["stdout"], "payload");

    let paused = api.ok("pauseVm", &v("/pause"), None, 200).await;
    assert_eq!(paused["status"], "paused");
    assert!(paused["ttlRemainingMs"].is_i64() && paused.get("expiresAtMs").is_none());
    assert!(paused["pausedAt"].is_string());
    let refreshed = api.ok("refreshVmTtl", &v("/ttl/refresh"), None, 200).await;
    assert_eq!(refreshed["ttlRemainingMs"], 600_000);
    let resumed = api.ok("resumeVm", &v("/resume"), None, 200).await;
    assert_eq!(resumed["status"], "running");

    let snap = api
        .ok("createSnapshot", "/v1/snapshots", Some(json!({"vmId": vid})), 201)
        .await;
    let sid = id(&snap);
    assert_eq!(snap["name"], format!("snapshot-{}", &vid[..8]));
    let s = format!("/v1/snapshots/{sid}");
    assert_eq!(
        api.ok("listSnapshots", "/v1/snapshots", None, 200)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    api.ok("getSnapshot", &s, None, 200).await;
    let renamed = api.ok("updateSnapshot", &s, Some(json!({"name": "base"})), 200).await;
    assert_eq!(renamed["name"], "base");

    // Volumes (upstream after the reference): made, attached to the VM, shown on it, detached;
    // still there for the quotas below, deleted at the end.
    let vol = api
        .ok(
            "createVolume",
            "/v1/volumes",
            Some(json!({"name": "shared", "sizeGiB": 2, "accessMode": "rw"})),
            201,
        )
        .await;
    let (volid, vp) = (id(&vol), format!("/v1/volumes/{}", id(&vol)));
    assert_eq!(
        (vol["status"].as_str(), vol["mountedCount"].as_i64()),
        (Some("ready"), Some(0))
    );
    assert_eq!(api.ok("listVolumes", "/v1/volumes", None, 200).await[0]["id"], volid);
    let renamed = api
        .ok("updateVolume", &vp, Some(json!({"name": "data", "sizeGiB": 2})), 200)
        .await;
    assert_eq!(renamed["name"], "data");
    let att = api
        .ok(
            "attachVolume",
            &v("/volumes"),
            Some(json!({"volumeId": volid, "mountPath": "/mnt/shared", "readOnly": true})),
            201,
        )
        .await;
    assert_eq!(
        (att["mountStatus"].as_str(), att["readOnly"].as_bool()),
        (Some("mounted"), Some(true))
    );
    assert_eq!(
        api.ok("getVm", &v(""), None, 200).await["volumes"][0]["volumeId"],
        volid
    );
    assert_eq!(api.ok("getVolume", &vp, None, 200).await["mountedCount"], 1);
    let atts = api
        .ok("listVolumeAttachments", &format!("{vp}/attachments"), None, 200)
        .await;
    assert_eq!(atts[0]["vmId"], vid);
    api.ok("deleteVolume", &vp, None, 409).await;
    let detached = api
        .ok("detachVolume", &v(&format!("/volumes/{volid}")), None, 200)
        .await;
    assert_eq!(detached, json!({"detached": true}));
    api.ok(
        "attachVolume",
        &v("/volumes"),
        Some(json!({"volumeId": volid, "mountPath": "/var/x"})),
        400,
    )
    .await;

    let quotas = api.ok("getOrgQuotas", "/v1/org/quotas", None, 200).await;
    assert_eq!(
        quotas["usage"],
        json!({"vcpu": 2, "memoryMiB": 4096, "diskGiB": 10, "snapshotCount": 1, "volumeCount": 1, "volumeGiB": 2})
    );
    let gone = api.ok("deleteVolume", &vp, None, 200).await;
    assert_eq!(gone, json!({"id": volid, "deleted": true}));
    api.ok("getVolume", &vp, None, 404).await;

    let ctx = api
        .ok("presignBuildContext", "/v1/build-contexts/presign", None, 200)
        .await;
    let build = api
        .ok(
            "createBuild",
            "/v1/builds",
            Some(json!({"imageRef": "python:3.13-slim", "contextDownloadUrl": ctx["downloadUrl"]})),
            202,
        )
        .await;
    assert_eq!(build["status"], "pending");
    let b = api
        .ok("getBuild", &format!("/v1/builds/{}", id(&build)), None, 200)
        .await;
    assert_eq!(b["imageRef"], "python:3.13-slim");

    // Snapshot imports (upstream after the reference): a dockerfile import of a context
    // uploaded to the fake's storage, refused while in flight, cancelled, then deleted.
    let ctx = api
        .ok(
            "presignSnapshotImportContext",
            "/v1/snapshot-imports/context-presign",
            Some(json!({"sizeBytes": 200})),
            200,
        )
        .await;
    put_zip(
        &api,
        &ctx,
        &[("Dockerfile", "FROM alpine:3\nCOPY a.txt /srv/\n"), ("a.txt", "a")],
    )
    .await;
    let import = api
        .ok(
            "createSnapshotImport",
            "/v1/snapshot-imports",
            Some(json!({"name": "ctx", "source": {"type": "dockerfile", "contextRef": ctx["contextRef"]}})),
            202,
        )
        .await;
    assert_eq!(import["status"], "pending");
    let imp = format!("/v1/snapshot-imports/{}", id(&import));
    assert_eq!(
        api.ok("getSnapshotImport", &imp, None, 200).await["source"]["type"],
        "dockerfile"
    );
    let listed = api.ok("listSnapshotImports", "/v1/snapshot-imports", None, 200).await;
    assert_eq!(listed[0]["id"], import["id"]);
    api.ok("deleteSnapshotImport", &imp, None, 409).await;
    let cancelled = api
        .ok("cancelSnapshotImport", &format!("{imp}/cancel"), None, 200)
        .await;
    assert_eq!(cancelled["status"], "cancelled");
    api.ok("deleteSnapshotImport", &imp, None, 200).await;
    api.ok("getSnapshotImport", &imp, None, 404).await;

    api.ok("deleteSnapshot", &s, None, 200).await;
    let del = api.ok("deleteVm", &v(""), None, 200).await;
    assert_eq!(del, json!({"id": vid, "deleted": true}));
    api.ok("getVm", &v(""), None, 404).await;

    // An operation this scenario does not call (a new one of the spec) is called once as it is,
    // every path parameter an id nothing has: the fake answers what it does not model from the spec,
    // and that answer is validated like the rest. One the fake models needs a real call above.
    let seen = api.seen.lock().unwrap().clone();
    for op in operations().iter().filter(|o| !seen.contains(&o.id)) {
        let path: Vec<String> = op
            .path
            .split('/')
            .map(|s| {
                if s.starts_with('{') {
                    "00000000-0000-4000-8000-00000000000a".to_string()
                } else {
                    s.to_string()
                }
            })
            .collect();
        let body = op.value.get("requestBody").map(|_| json!({}));
        let (status, answer) = api.call(&op.id, &path.join("/"), body).await;
        assert!(
            (200..300).contains(&status),
            "{} answered {status} {answer} to a call with no state behind it: add an `api.ok(\"{}\", ..)` call \
             of it to `every_operation_answers_per_the_spec` in tests/tests/fake_conformance.rs",
            op.id,
            op.id
        );
    }
    let all: BTreeSet<String> = operations().iter().map(|o| o.id.clone()).collect();
    let seen = api.seen.lock().unwrap().clone();
    let missing: Vec<_> = all.difference(&seen).collect();
    assert!(
        missing.is_empty(),
        "operations of openapi.json this scenario does not exercise: {missing:?}: add an `api.ok(\"<id>\", ..)` \
         call of each to `every_operation_answers_per_spec` in tests/tests/fake_conformance.rs"
    );
}

#[tokio::test]
async fn auth_is_required_except_for_healthz() {
    let server = FakeServer::builder().api_key("sekret").start().await.unwrap();
    let http = reqwest::Client::new();
    let base = server.base_url();
    for key in [None, Some("wrong")] {
        let mut req = http.get(format!("{base}/v1/vms"));
        if let Some(k) = key {
            req = req.header("X-API-Key", k);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401);
        let body: Value = resp.json().await.unwrap();
        validate_response("listVms", 401, &body).unwrap();
        assert!(!body["error"].as_str().unwrap().contains("sekret"));
    }
    let ok = http
        .get(format!("{base}/v1/vms"))
        .header("X-API-Key", "sekret")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(http.get(format!("{base}/healthz")).send().await.unwrap().status(), 200);
    // Every operation but those the spec marks public (`security: []`) refuses a call without
    // the key; the public ones answer it.
    let global_public = fastvm_tests::schema::spec()["security"] == json!([]);
    for op in operations() {
        let public = op.value.get("security").map_or(global_public, |s| s == &json!([]));
        let path: String = op
            .path
            .split('/')
            .map(|s| if s.starts_with('{') { "x" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let method = Method::from_bytes(op.method.as_bytes()).unwrap();
        let status = http
            .request(method, format!("{base}{path}"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status == 401, !public, "{} {path} without a key: {status}", op.id);
    }
}

#[tokio::test]
async fn boot_delay_gives_202_provisioning_then_running() {
    let server = FakeServer::builder()
        .boot_delay(Duration::from_secs(30))
        .start()
        .await
        .unwrap();
    let api = Api::new(&server);
    let vm = api
        .ok(
            "launchVm",
            "/v1/vms",
            Some(json!({"ttl": {"seconds": 10, "action": "delete"}})),
            202,
        )
        .await;
    assert_eq!(vm["status"], "provisioning");
    let path = format!("/v1/vms/{}", id(&vm));
    let list = api.ok("listVms", "/v1/vms?status=provisioning", None, 200).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let none = api.ok("listVms", "/v1/vms?status=hibernating", None, 200).await;
    assert_eq!(none, json!([]));
    let (status, _) = api
        .call("execVm", &format!("{path}/exec"), Some(json!({"command": ["true"]})))
        .await;
    assert_eq!(status, 409, "no exec before the VM runs");

    server.advance(Duration::from_secs(30));
    let vm2 = api.ok("getVm", &path, None, 200).await;
    assert_eq!(vm2["status"], "running");
    // The TTL only starts counting once the VM is running.
    server.advance(Duration::from_secs(9));
    api.ok("getVm", &path, None, 200).await;
    server.advance(Duration::from_secs(2));
    api.ok("getVm", &path, None, 404).await;
}

#[tokio::test]
async fn ttl_counts_only_while_running_and_pauses_on_expiry() {
    let server = FakeServer::start().await.unwrap();
    let api = Api::new(&server);
    let plain = api.launch(json!({})).await;
    let (status, _) = api
        .call("refreshVmTtl", &format!("/v1/vms/{}/ttl/refresh", id(&plain)), None)
        .await;
    assert_eq!(status, 409);

    let vm = api.launch(json!({"ttl": {"seconds": 100, "action": "pause"}})).await;
    let p = |s: &str| format!("/v1/vms/{}{s}", id(&vm));
    server.advance(Duration::from_secs(40));
    let paused = api.ok("pauseVm", &p("/pause"), None, 200).await;
    let remaining = paused["ttlRemainingMs"].as_i64().unwrap();
    assert!((59_000..=60_000).contains(&remaining), "{remaining}");
    // Idempotent, and the countdown is frozen while paused.
    server.advance(Duration::from_secs(1000));
    let again = api.ok("pauseVm", &p("/pause"), None, 200).await;
    assert_eq!(again["ttlRemainingMs"], remaining);
    let resumed = api.ok("resumeVm", &p("/resume"), None, 200).await;
    assert!(resumed["expiresAtMs"].is_i64() && resumed.get("ttlRemainingMs").is_none());
    api.ok("resumeVm", &p("/resume"), None, 200).await;

    server.advance(Duration::from_millis(remaining as u64 + 1));
    let expired = api.ok("getVm", &p(""), None, 200).await;
    assert_eq!(expired["status"], "paused");
    assert_eq!(expired["ttlRemainingMs"], 100_000, "pause re-arms a full cycle");

    let bad = api
        .call(
            "updateVm",
            &p(""),
            Some(json!({"ttl": {"seconds": 31_536_001, "action": "pause"}})),
        )
        .await;
    assert_eq!(bad.0, 400);
    let cleared = api.ok("updateVm", &p(""), Some(json!({"ttl": null})), 200).await;
    assert_eq!(cleared["ttl"], Value::Null);
    assert!(cleared.get("ttlRemainingMs").is_none());
}

#[tokio::test]
async fn input_rules_answer_400() {
    let server = FakeServer::start().await.unwrap();
    let api = Api::new(&server);
    let bad_launches = [
        json!({"envVars": {"1BAD": "x"}}),
        json!({"envVars": {"OK": "a\nb"}}),
        json!({"metadata": {"k": "v".repeat(4097)}}),
        json!({"ttl": {"seconds": 0, "action": "pause"}}),
        json!({"ttl": {"seconds": 5, "action": "stop"}}),
        json!({"machineType": "huge"}),
        json!({"firewall": {"ingress": {"default": "deny", "rules": [
            {"action": "allow", "kind": "cidr", "value": "::/0", "protocol": "any", "ports": "443"}]}}}),
        json!({"firewall": {"egress": {"default": "deny", "rules": [
            {"action": "allow", "kind": "fqdn", "value": "a.*.example.com", "protocol": "tcp", "ports": "443"}]}}}),
    ];
    for body in bad_launches {
        let (status, v) = api.call("launchVm", "/v1/vms", Some(body.clone())).await;
        assert_eq!(status, 400, "{body} -> {v}");
    }
    let vm = api.launch(json!({"firewall": null})).await;
    let p = |s: &str| format!("/v1/vms/{}{s}", id(&vm));
    for (name, port) in [("Web", 8080), ("a--b", 8080), ("web", 80), ("web", 70000)] {
        let (status, _) = api
            .call(
                "registerService",
                &p("/services"),
                Some(json!({"name": name, "port": port})),
            )
            .await;
        assert_eq!(status, 400, "{name}:{port}");
    }
    let (status, _) = api.call("execVm", &p("/exec"), Some(json!({"command": []}))).await;
    assert_eq!(status, 400);
    let (status, _) = api
        .call(
            "addSshKey",
            &p("/ssh-keys"),
            Some(json!({"publicKey": format!("{ED25519}\nssh-rsa AAAA")})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = api.call("getVm", "/v1/vms/not-a-uuid", None).await;
    assert_eq!(status, 404);
    // A volume's name and size follow the rules of a rename and of a disk size, its field named.
    for (body, says) in [
        (json!({"name": "v", "sizeGiB": 0, "accessMode": "rw"}), "sizeGiB"),
        (json!({"name": "v", "sizeGiB": 16385, "accessMode": "rw"}), "sizeGiB"),
        (json!({"name": " \t ", "sizeGiB": 1, "accessMode": "rw"}), "name"),
        (json!({"name": "v", "sizeGiB": 1, "accessMode": "rx"}), "accessMode"),
    ] {
        let (status, v) = api.call("createVolume", "/v1/volumes", Some(body.clone())).await;
        assert_eq!(status, 400, "{body} -> {v}");
        assert!(
            v["error"].as_str().is_some_and(|e| e.starts_with(says)),
            "{body} -> {v}"
        );
    }
}

#[tokio::test]
async fn firewall_put_replaces_patch_merges_and_services_add_rules() {
    let server = FakeServer::start().await.unwrap();
    let api = Api::new(&server);
    let vm = api.launch(json!({})).await;
    let p = |s: &str| format!("/v1/vms/{}{s}", id(&vm));
    let dns = json!({"mode": "allow", "domains": ["api.example.com"], "blockBypass": true});
    let egress = json!({"default": "deny", "rules": [
        {"action": "allow", "kind": "fqdn", "value": "api.example.com", "protocol": "tcp", "ports": "443"}]});
    api.ok(
        "setVmFirewall",
        &p("/firewall"),
        Some(json!({"dns": dns, "egress": egress})),
        200,
    )
    .await;
    let patched = api
        .ok(
            "patchVmFirewall",
            &p("/firewall"),
            Some(json!({"ingress": {"default": "allow", "rules": []}})),
            200,
        )
        .await;
    assert_eq!(patched["firewall"]["dns"], dns, "PATCH keeps absent blocks");
    assert_eq!(patched["firewall"]["ingress"]["default"], "allow");
    let replaced = api
        .ok(
            "setVmFirewall",
            &p("/firewall"),
            Some(json!({"ingress": {"default": "deny"}})),
            200,
        )
        .await;
    assert_eq!(
        replaced["firewall"]["dns"],
        json!({"mode": "deny", "domains": [], "blockBypass": false})
    );
    assert_eq!(replaced["firewall"]["egress"], json!({"default": "allow", "rules": []}));
    // An fqdn rule the DNS allowlist cannot resolve is dead.
    let (status, _) = api
        .call(
            "patchVmFirewall",
            &p("/firewall"),
            Some(json!({"dns": {"mode": "allow", "domains": []}, "egress": egress})),
        )
        .await;
    assert_eq!(status, 400);

    // Services: idempotent 201, conflicting 409, effective firewall = policy ∪ auto rules.
    let reg = json!({"name": "api", "port": 9000});
    api.ok("registerService", &p("/services"), Some(reg.clone()), 201).await;
    api.ok("registerService", &p("/services"), Some(reg), 201).await;
    let (status, _) = api
        .call(
            "registerService",
            &p("/services"),
            Some(json!({"name": "api", "port": 9000, "h2c": true})),
        )
        .await;
    assert_eq!(status, 409);
    let got = api.ok("getVm", &p(""), None, 200).await;
    assert_eq!(got["firewall"]["ingress"]["rules"], json!([]));
    assert_eq!(
        got["effectiveFirewall"]["ingress"]["rules"],
        json!([{"action": "allow", "kind": "cidr", "value": "::/0", "protocol": "tcp", "ports": "9000",
                "description": "auto: proxy service api"}])
    );
    api.ok("deleteService", &p("/services/api"), None, 204).await;
    api.ok("deleteService", &p("/services/api"), None, 204).await;
    for i in 0..16 {
        api.ok(
            "registerService",
            &p("/services"),
            Some(json!({"name": format!("s{i}"), "port": 2000 + i})),
            201,
        )
        .await;
    }
    let (status, _) = api
        .call(
            "registerService",
            &p("/services"),
            Some(json!({"name": "one-more", "port": 3000})),
        )
        .await;
    assert_eq!(status, 429, "per-VM cap of 16");
    let names: Vec<String> = api
        .ok("listServices", &p("/services"), None, 200)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
}

#[tokio::test]
async fn ssh_keys_are_fingerprinted_and_deleted_by_encoded_fingerprint() {
    let server = FakeServer::start().await.unwrap();
    let api = Api::new(&server);
    let vm = api.launch(json!({})).await;
    let p = |s: &str| format!("/v1/vms/{}{s}", id(&vm));
    let key = api
        .ok("addSshKey", &p("/ssh-keys"), Some(json!({"publicKey": ED25519})), 201)
        .await;
    assert_eq!(
        key["publicKey"],
        ED25519.trim_end_matches(" me@host"),
        "comment stripped"
    );
    let (status, _) = api
        .call("addSshKey", &p("/ssh-keys"), Some(json!({"publicKey": ED25519})))
        .await;
    assert_eq!(status, 409);
    // `+` stays literal, `/` travels as %2F.
    let wrong = api.call("deleteSshKey", &p("/ssh-keys/SHA256:nope"), None).await;
    assert_eq!(wrong.0, 404);
    let path = p(&format!("/ssh-keys/{}", ED25519_FP.replace('/', "%2F")));
    let del = api.ok("deleteSshKey", &path, None, 200).await;
    assert_eq!(del, json!({"id": ED25519_FP, "deleted": true}));
    assert_eq!(
        api.ok("listSshKeys", &p("/ssh-keys"), None, 200).await,
        json!({"keys": []})
    );
}

#[tokio::test]
async fn snapshot_restore_carries_services_env_and_firewall() {
    let server = FakeServer::builder()
        .snapshot_duration(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let api = Api::new(&server);
    let fw = json!({"ingress": {"default": "allow", "rules": []}});
    let vm = api
        .launch(json!({"machineType": "c2m4", "envVars": {"A": "1"}, "firewall": fw}))
        .await;
    let p = |s: &str| format!("/v1/vms/{}{s}", id(&vm));
    api.ok(
        "registerService",
        &p("/services"),
        Some(json!({"name": "web", "port": 8080, "h2c": true})),
        201,
    )
    .await;
    api.ok("pauseVm", &p("/pause"), None, 200).await;
    let snap = api
        .ok(
            "createSnapshot",
            "/v1/snapshots",
            Some(json!({"vmId": id(&vm), "name": "s"})),
            201,
        )
        .await;
    let again = api
        .ok("createSnapshot", "/v1/snapshots", Some(json!({"vmId": id(&vm)})), 201)
        .await;
    assert_eq!(again["id"], snap["id"], "same pause cycle, same snapshot");
    assert_eq!(snap["services"], json!([{"name": "web", "port": 8080, "h2c": true}]));

    let restored = api.launch(json!({"snapshotId": id(&snap)})).await;
    assert_eq!(restored["envVars"], json!({"A": "1"}));
    assert_eq!(restored["firewall"]["ingress"]["default"], "allow");
    assert_eq!(
        (restored["cpu"].as_i64(), restored["sourceName"].as_str()),
        (Some(2), Some("s"))
    );
    let svcs = api
        .ok(
            "listServices",
            &format!("/v1/vms/{}/services", id(&restored)),
            None,
            200,
        )
        .await;
    assert_eq!(svcs, json!([{"name": "web", "port": 8080, "h2c": true}]));
    let (status, _) = api
        .call(
            "launchVm",
            "/v1/vms",
            Some(json!({"snapshotId": "00000000-0000-0000-0000-000000000000"})),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn builds_progress_to_completed_with_a_snapshot() {
    let server = FakeServer::builder()
        .build_duration(Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let api = Api::new(&server);
    let (status, _) = api.call("createBuild", "/v1/builds", Some(json!({"name": "x"}))).await;
    assert_eq!(status, 400, "imageRef or dockerfileContent required");
    let b = api
        .ok(
            "createBuild",
            "/v1/builds",
            Some(json!({"name": "img", "dockerfileContent": "FROM alpine:3\nRUN true"})),
            202,
        )
        .await;
    assert_eq!(
        (b["status"].as_str(), b["imageRef"].as_str()),
        (Some("pending"), Some("alpine:3"))
    );
    let path = format!("/v1/builds/{}", id(&b));
    server.advance(Duration::from_secs(30));
    let running = api.ok("getBuild", &path, None, 200).await;
    assert_eq!(running["status"], "running");
    assert!(running["progress"].is_string());
    server.advance(Duration::from_secs(30));
    let done = api.ok("getBuild", &path, None, 200).await;
    assert_eq!(done["status"], "completed");
    assert!(done.get("progress").is_none());
    let snap = api
        .ok(
            "getSnapshot",
            &format!("/v1/snapshots/{}", done["snapshotId"].as_str().unwrap()),
            None,
            200,
        )
        .await;
    assert_eq!(snap["name"], "img");

    let bad = api
        .ok(
            "createBuild",
            "/v1/builds",
            Some(json!({"imageRef": "a", "contextDownloadUrl": "http://example.com/x"})),
            202,
        )
        .await;
    server.advance(Duration::from_secs(60));
    let failed = api.ok("getBuild", &format!("/v1/builds/{}", id(&bad)), None, 200).await;
    assert_eq!(failed["status"], "failed");
    assert!(failed["error"].is_string());
}

/// Snapshot imports on the fake clock: pending, claimed, running (with the phases' events), then
/// succeeded with a ready snapshot; the inputs the spec rules out are 400s; a context reference
/// the fake never minted, or one used already, is refused by the create; an upload that is not
/// a ZIP archive, or none, fails the import with the error in its phase.
#[tokio::test]
async fn snapshot_imports_progress_on_the_clock_and_refuse_bad_sources() {
    let server = FakeServer::builder()
        .build_duration(Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let api = Api::new(&server);
    let create = |source: Value| {
        let api = &api;
        async move {
            api.call(
                "createSnapshotImport",
                "/v1/snapshot-imports",
                Some(json!({ "source": source })),
            )
            .await
        }
    };
    let ctx = api
        .ok(
            "presignSnapshotImportContext",
            "/v1/snapshot-imports/context-presign",
            None,
            200,
        )
        .await;
    for (source, why) in [
        (json!({}), "no type"),
        (json!({"type": "tarball"}), "unknown type"),
        (json!({"type": "image"}), "no image"),
        (
            json!({"type": "image", "image": "a", "contextRef": ctx["contextRef"]}),
            "kinds mixed",
        ),
        (
            json!({"type": "dockerfile", "contextRef": ctx["contextRef"], "image": "a"}),
            "kinds mixed",
        ),
        (json!({"type": "dockerfile"}), "no contextRef"),
        (
            json!({"type": "dockerfile", "contextRef": "ctx_nope"}),
            "a reference never minted",
        ),
        (
            json!({"type": "dockerfile", "contextRef": ctx["contextRef"], "dockerfilePath": "../D"}),
            "path escapes",
        ),
        (
            json!({"type": "dockerfile", "contextRef": ctx["contextRef"], "registryUsername": "u", "registryPassword": "p"}),
            "no registryHost",
        ),
        (
            json!({"type": "image", "image": "a", "registryUsername": "u"}),
            "no password",
        ),
    ] {
        assert_eq!(create(source).await.0, 400, "{why}");
    }
    let (status, _) = api
        .call(
            "presignSnapshotImportContext",
            "/v1/snapshot-imports/context-presign",
            Some(json!({"sizeBytes": 1_i64 << 40})),
        )
        .await;
    assert_eq!(status, 400, "over the cap");

    let (status, image) =
        create(json!({"type": "image", "image": "alpine:3", "registryUsername": "me", "registryPassword": "hunter2"}))
            .await;
    assert_eq!(status, 202);
    assert!(!image.to_string().contains("hunter2"), "{image}");
    assert_eq!(image["source"]["registryUsername"], "me");
    let path = format!("/v1/snapshot-imports/{}", id(&image));
    let mut seen = Vec::new();
    for _ in 0..4 {
        let now = api.ok("getSnapshotImport", &path, None, 200).await;
        seen.push(now["status"].as_str().unwrap().to_string());
        server.advance(Duration::from_secs(15));
    }
    assert_eq!(seen, ["pending", "claimed", "running", "running"]);
    let done = api.ok("getSnapshotImport", &path, None, 200).await;
    assert_eq!(done["status"], "succeeded");
    let phases: Vec<String> = done["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{} {}", e["phase"].as_str().unwrap(), e["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        phases,
        [
            "preparing started",
            "preparing completed",
            "pull started",
            "pull completed",
            "saving started",
            "saving completed",
            "done completed"
        ]
    );
    let snap = format!("/v1/snapshots/{}", done["snapshotId"].as_str().unwrap());
    assert_eq!(api.ok("getSnapshot", &snap, None, 200).await["status"], "ready");
    // Cancelling a finished import changes nothing; deleting it deletes its snapshot.
    let again = api
        .ok("cancelSnapshotImport", &format!("{path}/cancel"), None, 200)
        .await;
    assert_eq!(again["status"], "succeeded");
    api.ok("deleteSnapshotImport", &path, None, 200).await;
    api.ok("getSnapshot", &snap, None, 404).await;

    // A used reference is refused; an upload that is not a ZIP archive, or none, fails the import.
    let junk = api
        .ok(
            "presignSnapshotImportContext",
            "/v1/snapshot-imports/context-presign",
            None,
            200,
        )
        .await;
    let put = api
        .http
        .put(junk["uploadUrl"].as_str().unwrap())
        .body("not a zip")
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success());
    let (_, bad) = create(json!({"type": "dockerfile", "contextRef": junk["contextRef"]})).await;
    assert_eq!(
        create(json!({"type": "dockerfile", "contextRef": junk["contextRef"]}))
            .await
            .0,
        400,
        "used"
    );
    let (_, none) = create(json!({"type": "dockerfile", "contextRef": ctx["contextRef"]})).await;
    server.advance(Duration::from_secs(60));
    for (import, says) in [(bad, "not a usable ZIP"), (none, "no build context was uploaded")] {
        let failed = api
            .ok(
                "getSnapshotImport",
                &format!("/v1/snapshot-imports/{}", id(&import)),
                None,
                200,
            )
            .await;
        assert_eq!(failed["status"], "failed");
        assert!(failed["error"].as_str().unwrap().contains(says), "{failed}");
        let last = failed["events"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(
            (last["phase"].as_str(), last["status"].as_str()),
            (Some("fetch_context"), Some("failed"))
        );
    }
}

#[tokio::test]
async fn quotas_follow_live_vms_and_resume_can_hit_them() {
    let limits = Limits {
        vcpu: 2,
        memory_mib: 8192,
        disk_gib: 100,
        snapshot_count: 1,
        ..Limits::default()
    };
    let server = FakeServer::builder().limits(limits).start().await.unwrap();
    let api = Api::new(&server);
    let a = api.launch(json!({"machineType": "c2m4"})).await;
    let (status, body) = api
        .call("launchVm", "/v1/vms", Some(json!({"machineType": "c1m2"})))
        .await;
    assert_eq!(status, 429, "{body}");
    api.ok("pauseVm", &format!("/v1/vms/{}/pause", id(&a)), None, 200).await;
    let q = api.ok("getOrgQuotas", "/v1/org/quotas", None, 200).await;
    assert_eq!(q["usage"]["vcpu"], 0, "paused VMs free their quota");
    assert_eq!(
        q["limits"],
        json!({"vcpu": 2, "memoryMiB": 8192, "diskGiB": 100, "snapshotCount": 1, "volumeCount": 50, "volumeGiB": 1024})
    );
    api.launch(json!({"machineType": "c1m2"})).await;
    let (status, body) = api.call("resumeVm", &format!("/v1/vms/{}/resume", id(&a)), None).await;
    assert_eq!(status, 429);
    assert_eq!(body["dimension"], "vcpu");
    api.ok("createSnapshot", "/v1/snapshots", Some(json!({"vmId": id(&a)})), 201)
        .await;
    let running = api.ok("listVms", "/v1/vms?status=running", None, 200).await;
    let (status, _) = api
        .call(
            "createSnapshot",
            "/v1/snapshots",
            Some(json!({"vmId": id(&running[0])})),
        )
        .await;
    assert_eq!(status, 429, "snapshotCount limit");
}

/// Every quota answer of the fake is a 429 that names its dimension in the message (no
/// `dimension` field: only resume's answer has one): a launch, a snapshot, a volume's create
/// and a volume's resize.
#[tokio::test]
async fn quota_answers_name_their_dimension() {
    let limits = Limits {
        vcpu: 1,
        snapshot_count: 1,
        volume_count: 1,
        volume_gib: 3,
        ..Limits::default()
    };
    let server = FakeServer::builder().limits(limits).start().await.unwrap();
    let api = Api::new(&server);
    let refused = |(status, body): (u16, Value), dim: &str| {
        assert_eq!(status, 429, "{body}");
        assert_eq!(body["error"], format!("org quota exceeded: {dim}"), "{body}");
        assert!(body.get("dimension").is_none(), "{body}");
    };
    let vm = api.launch(json!({"machineType": "c1m2"})).await;
    refused(
        api.call("launchVm", "/v1/vms", Some(json!({"machineType": "c1m2"})))
            .await,
        "vcpu",
    );
    let snap = Some(json!({"vmId": id(&vm)}));
    api.ok("createSnapshot", "/v1/snapshots", snap.clone(), 201).await;
    refused(
        api.call("createSnapshot", "/v1/snapshots", snap).await,
        "snapshot_count",
    );
    let volume = |gib: i64| Some(json!({"name": "v", "sizeGiB": gib, "accessMode": "rw"}));
    refused(api.call("createVolume", "/v1/volumes", volume(4)).await, "volume_gib");
    let vol = api.ok("createVolume", "/v1/volumes", volume(2), 201).await;
    refused(api.call("createVolume", "/v1/volumes", volume(1)).await, "volume_count");
    let vp = format!("/v1/volumes/{}", id(&vol));
    refused(
        api.call("updateVolume", &vp, Some(json!({"sizeGiB": 4}))).await,
        "volume_gib",
    );
    api.ok("updateVolume", &vp, Some(json!({"sizeGiB": 3})), 200).await;

    // A build and an import that end with the snapshot quota used up fail, saying so.
    let build = Some(json!({"imageRef": "alpine:3"}));
    let build = api.ok("createBuild", "/v1/builds", build, 202).await;
    let import = Some(json!({"source": {"type": "image", "image": "alpine:3"}}));
    let import = api
        .ok("createSnapshotImport", "/v1/snapshot-imports", import, 202)
        .await;
    server.advance(Duration::from_secs(5));
    let build = api
        .ok("getBuild", &format!("/v1/builds/{}", id(&build)), None, 200)
        .await;
    assert_eq!(
        (build["status"].as_str(), build["error"].as_str()),
        (Some("failed"), Some("org snapshot quota exceeded"))
    );
    let path = format!("/v1/snapshot-imports/{}", id(&import));
    let import = api.ok("getSnapshotImport", &path, None, 200).await;
    assert_eq!(
        (import["status"].as_str(), import["error"].as_str()),
        (Some("failed"), Some("org snapshot quota exceeded"))
    );
}

#[tokio::test]
async fn presigned_storage_checks_signatures_keys_and_size() {
    let server = FakeServer::builder().disk_gib(1).start().await.unwrap();
    let api = Api::new(&server);
    let vm = api.launch(json!({})).await;
    let pre = api
        .ok(
            "presignFile",
            &format!("/v1/vms/{}/files/presign", id(&vm)),
            Some(json!({"path": "/x"})),
            200,
        )
        .await;
    assert_eq!(pre["maxUploadBytes"], 1u64 << 30);
    let up = pre["uploadUrl"].as_str().unwrap();
    let down = pre["downloadUrl"].as_str().unwrap();
    let http = &api.http;
    assert_eq!(
        http.get(down).send().await.unwrap().status(),
        404,
        "nothing uploaded yet"
    );
    let with_key = http
        .put(up)
        .header("X-API-Key", &api.key)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(with_key.status(), 400);
    let tampered = up.replace("sig=", "sig=00");
    assert_eq!(http.put(&tampered).body("x").send().await.unwrap().status(), 403);
    assert_eq!(
        http.put(down).body("x").send().await.unwrap().status(),
        403,
        "GET URL cannot PUT"
    );
    let unsigned = up.split('?').next().unwrap();
    assert_eq!(http.put(unsigned).body("x").send().await.unwrap().status(), 403);

    // A chunked upload (no Content-Length), then a streamed download with Content-Length.
    let chunks = futures::stream::iter((0..4).map(|i| Ok::<_, std::io::Error>(vec![b'a' + i; 100_000])));
    let put = http
        .put(up)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let got = http.get(down).send().await.unwrap();
    assert_eq!(got.headers()["content-length"], "400000");
    let body = got.bytes().await.unwrap();
    assert_eq!((body.len(), body[0], body[399_999]), (400_000, b'a', b'd'));
    assert_eq!(
        http.get(down)
            .header("X-API-Key", &api.key)
            .send()
            .await
            .unwrap()
            .status(),
        400
    );

    // A declared size above maxUploadBytes is refused before any byte is read.
    let addr = server.base_url().trim_start_matches("http://").to_string();
    let path_q = &up[server.base_url().len()..];
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let req = format!(
        "PUT {path_q} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        (1u64 << 30) + 1
    );
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut resp = String::new();
    tcp.read_to_string(&mut resp).await.unwrap();
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");

    // fetch refuses URLs this server did not mint.
    let (status, _) = api
        .call(
            "fetchFileToVm",
            &format!("/v1/vms/{}/files/fetch", id(&vm)),
            Some(json!({"url": "https://example.com/x", "path": "x"})),
        )
        .await;
    assert_eq!(status, 400);

    // Expired URLs are refused.
    server.advance(Duration::from_secs(3601));
    assert_eq!(http.get(down).send().await.unwrap().status(), 403);
}

#[tokio::test]
async fn ndjson_exec_streams_incrementally_with_wire_omissions() {
    let server = FakeServer::start().await.unwrap();
    let api = Api::new(&server);
    let vm = api.launch(json!({"envVars": {"WHO": "fake"}})).await;
    let vid = id(&vm);

    let ok = api
        .stream(&vid, json!({"command": ["sh", "-c", "printf out; printf err >&2"]}))
        .await;
    let exit = ok.last().unwrap();
    assert_eq!(exit["t"], "x");
    assert!(
        exit.get("c").is_none() && exit.get("to").is_none() && exit.get("d").is_none(),
        "{exit}"
    );
    assert!(exit["ms"].is_i64());
    assert_eq!(
        (decoded(&ok, "o"), decoded(&ok, "e")),
        (b"out".to_vec(), b"err".to_vec())
    );
    assert_eq!(ok.iter().filter(|l| l["t"] == "x").count(), 1);

    let failed = api.stream(&vid, json!({"command": ["sh", "-c", "exit 7"]})).await;
    assert_eq!(failed, vec![json!({"t": "x", "c": 7, "ms": failed[0]["ms"]})]);
    let timed = api
        .stream(&vid, json!({"command": ["sleep", "30"], "timeoutSec": 1}))
        .await;
    assert_eq!(timed.last().unwrap()["to"], true);
    assert_ne!(timed.last().unwrap()["c"], 0);
    let missing = api.stream(&vid, json!({"command": ["/no/such/binary"]})).await;
    assert!(missing[0]["d"].as_str().unwrap().contains("/no/such/binary"));

    let stdin = api
        .stream(
            &vid,
            json!({"command": ["sh", "-c", "cat; echo $WHO"], "stdin": STANDARD.encode("in\n")}),
        )
        .await;
    assert_eq!(decoded(&stdin, "o"), b"in\nfake\n");

    // The first event arrives while the command is still blocked: it waits for a file that
    // the test creates (in the VM's files, from the host) only after reading that event.
    let vm_flag = format!("/tmp/go-{vid}");
    let flag = server.vm_path(&vid, &vm_flag).unwrap();
    let script = format!("echo first; while [ ! -e '{vm_flag}' ]; do sleep 0.05; done; echo second");
    let resp = api
        .stream_response(&vid, json!({"command": ["sh", "-c", script], "timeoutSec": 60}))
        .await;
    let mut body = resp.bytes_stream();
    let mut buf = Vec::new();
    while !buf.contains(&b'\n') {
        buf.extend_from_slice(&body.next().await.expect("an event before exit").unwrap());
    }
    let first: Value = serde_json::from_slice(&buf[..buf.iter().position(|b| *b == b'\n').unwrap()]).unwrap();
    assert_eq!(STANDARD.decode(first["d"].as_str().unwrap()).unwrap(), b"first\n");
    std::fs::write(&flag, b"").unwrap();
    while let Some(chunk) = body.next().await {
        buf.extend_from_slice(&chunk.unwrap());
    }
    let lines: Vec<Value> = buf
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(decoded(&lines, "o"), b"first\nsecond\n");
    assert_eq!(lines.last().unwrap()["t"], "x");
}

#[tokio::test]
async fn json_exec_caps_output_at_4_mib_with_flags() {
    let server = FakeServer::start().await.unwrap();
    let api = Api::new(&server);
    let vid = id(&api.launch(json!({})).await);
    let big = api
        .exec(
            &vid,
            &[
                "sh",
                "-c",
                "head -c 5000000 /dev/zero | tr '\\0' y; echo small >&2; exit 3",
            ],
        )
        .await;
    assert_eq!(big["stdout"].as_str().unwrap().len(), 4 << 20);
    assert_eq!(
        (big["stdoutTruncated"].as_bool(), big["stderrTruncated"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(
        (big["stderr"].as_str(), big["exitCode"].as_i64()),
        (Some("small\n"), Some(3))
    );
    let timed = api
        .ok(
            "execVm",
            &format!("/v1/vms/{vid}/exec"),
            Some(json!({"command": ["sleep", "30"], "timeoutSec": 1})),
            200,
        )
        .await;
    assert_eq!(timed["timedOut"], true);
    let lossy = api.exec(&vid, &["printf", "\\377ok"]).await;
    assert_eq!(lossy["stdout"], "\u{fffd}ok");
}

#[tokio::test]
async fn faults_are_injected_per_operation() {
    let server = FakeServer::start().await.unwrap();
    let api = Api::new(&server);
    let vid = id(&api.launch(json!({})).await);
    let path = format!("/v1/vms/{vid}");

    server
        .faults()
        .push("getVm", Fault::status(503).header("Retry-After", "1").times(2));
    for _ in 0..2 {
        let resp = api
            .http
            .get(format!("{}{path}", api.base))
            .header("X-API-Key", &api.key)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 503);
        assert_eq!(resp.headers()["retry-after"], "1");
        validate_response("getVm", 503, &resp.json().await.unwrap()).unwrap();
    }
    api.ok("getVm", &path, None, 200).await;
    assert_eq!(server.faults().pending("getVm"), 0);

    server.faults().push("listVms", Fault::drop_connection());
    let err = api
        .http
        .get(format!("{}/v1/vms", api.base))
        .header("X-API-Key", &api.key)
        .send()
        .await;
    assert!(err.is_err(), "connection dropped without a response");
    api.ok("listVms", "/v1/vms", None, 200).await;

    server
        .faults()
        .push("getHealth", Fault::delay(Duration::from_millis(50)));
    api.ok("getHealth", "/healthz", None, 200).await;
    assert_eq!(server.faults().pending("getHealth"), 0);

    server.faults().push("execVm", Fault::truncate_stream());
    let cut = api.stream(&vid, json!({"command": ["echo", "hi"]})).await;
    assert!(!cut.is_empty() && cut.iter().all(|l| l["t"] != "x"), "{cut:?}");
    let whole = api.stream(&vid, json!({"command": ["echo", "hi"]})).await;
    assert_eq!(whole.last().unwrap()["t"], "x");

    server.faults().push("storageGet", Fault::status(500));
    let pre = api
        .ok(
            "presignFile",
            &format!("{path}/files/presign"),
            Some(json!({"path": "/x"})),
            200,
        )
        .await;
    let got = api.http.get(pre["downloadUrl"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(got.status(), 500);
}

/// What the fake answers an operation it does not model (a new one of the spec) is valid for
/// the spec, for every operation: so a new read-only operation passes the suite with no fake code.
#[test]
fn the_default_answer_of_every_operation_is_valid_for_the_spec() {
    for op in operations() {
        let (status, body) = fastvm_fake::default_answer(&op.id).expect("an operation of the spec");
        assert!((200..300).contains(&status), "{}: {status}", op.id);
        match body {
            Some(body) => validate_response(&op.id, status, &body).unwrap_or_else(|e| panic!("{}: {e}\n{body}", op.id)),
            None => assert!(
                fastvm_tests::schema::response_schema(&op.id, status, "application/json").is_none(),
                "{}: no body, but the spec documents one",
                op.id
            ),
        }
    }
}
