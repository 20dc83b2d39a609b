//! Wire variance over real HTTP (loopback): what a client sees from a started server.

mod common;

use std::time::Duration;

use axum::body::{Body, Bytes};
use base64::Engine;
use fastvm_fake::{FakeServer, Fault, Rule, Variance};
use serde_json::{Value, json};

const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOGfWKDypYxh9k4VQH+JgkxbE1p4BzWv0Gh65glAi+CQ me@host";

/// One answer as a client receives it.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: Option<String>,
    /// Header names, sorted, without `date`.
    header_names: Vec<String>,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.body))
    }

    /// The NDJSON lines of an exec stream.
    fn lines(&self) -> Vec<Value> {
        let text = std::str::from_utf8(&self.body).unwrap();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

/// One request on a fresh connection, with hyper's own client.
async fn call(server: &FakeServer, method: &str, path: &str, body: Option<Value>, accept: Option<&str>) -> Answer {
    let addr = server.base_url().strip_prefix("http://").unwrap();
    let mut sender = common::connect(addr).await;
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr)
        .header("x-api-key", server.api_key());
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    let body = match body {
        Some(b) => {
            req = req.header("content-type", "application/json");
            Body::from(serde_json::to_vec(&b).unwrap())
        }
        None => Body::empty(),
    };
    let resp = sender.send_request(req.body(body).unwrap()).await.unwrap();
    let (parts, incoming) = resp.into_parts();
    let mut header_names: Vec<String> = parts.headers.keys().map(|k| k.to_string()).collect();
    header_names.retain(|k| k != "date");
    header_names.sort();
    Answer {
        header_names,
        status: parts.status.as_u16(),
        content_type: parts
            .headers
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string()),
        body: axum::body::to_bytes(Body::new(incoming), usize::MAX).await.unwrap(),
    }
}

async fn get(server: &FakeServer, path: &str) -> Answer {
    call(server, "GET", path, None, None).await
}

async fn post(server: &FakeServer, path: &str, body: Value) -> Answer {
    call(server, "POST", path, Some(body), None).await
}

async fn server(variance: Variance) -> FakeServer {
    FakeServer::builder()
        .variance(variance)
        // Builds stay `pending`, so answers do not depend on timing.
        .build_duration(Duration::from_secs(3600))
        .start()
        .await
        .unwrap()
}

async fn launch(server: &FakeServer) -> (Answer, String) {
    let body = json!({ "machineType": "c1m2", "name": "v", "metadata": { "env": "", "k": "v" } });
    let a = post(server, "/v1/vms", body).await;
    let id = a.json()["id"].as_str().unwrap().to_string();
    (a, id)
}

/// Calls every operation once (and one that fails), in an order that makes each succeed.
async fn every_operation(s: &FakeServer) -> Vec<(&'static str, Answer)> {
    let mut out = Vec::new();
    out.push(("getHealth", get(s, "/healthz").await));
    let (a, id) = launch(s).await;
    out.push(("launchVm", a));
    let vm = format!("/v1/vms/{id}");
    out.push(("listVms", get(s, "/v1/vms").await));
    out.push(("getVm", get(s, &vm).await));
    let ttl = json!({ "ttl": { "seconds": 600, "action": "pause" } });
    out.push(("updateVm", call(s, "PATCH", &vm, Some(ttl), None).await));
    out.push(("refreshVmTtl", post(s, &format!("{vm}/ttl/refresh"), json!({})).await));
    let fw = format!("{vm}/firewall");
    out.push(("setVmFirewall", call(s, "PUT", &fw, Some(json!({})), None).await));
    let dns = json!({ "dns": { "mode": "allow", "domains": ["example.com"] } });
    out.push(("patchVmFirewall", call(s, "PATCH", &fw, Some(dns), None).await));
    out.push((
        "createConsoleToken",
        post(s, &format!("{vm}/console-token"), json!({})).await,
    ));
    let exec = format!("{vm}/exec");
    let echo = json!({ "command": ["echo", "hi"] });
    out.push(("execVm", post(s, &exec, echo.clone()).await));
    let stream = call(s, "POST", &exec, Some(echo), Some("application/x-ndjson")).await;
    out.push(("execVm (stream)", stream));
    let services = format!("{vm}/services");
    let web = json!({ "name": "web", "port": 8080 });
    out.push(("registerService", post(s, &services, web).await));
    out.push(("listServices", get(s, &services).await));
    let put = Some(json!({ "port": 8081 }));
    out.push((
        "updateService",
        call(s, "PUT", &format!("{services}/web"), put, None).await,
    ));
    let keys = format!("{vm}/ssh-keys");
    let added = post(s, &keys, json!({ "publicKey": ED25519, "name": "me" })).await;
    let fp = added.json()["fingerprint"].as_str().unwrap().replace('/', "%2F");
    out.push(("addSshKey", added));
    out.push(("listSshKeys", get(s, &keys).await));
    let del_key = call(s, "DELETE", &format!("{keys}/{fp}"), None, None).await;
    out.push(("deleteSshKey", del_key));
    let del_svc = call(s, "DELETE", &format!("{services}/web"), None, None).await;
    out.push(("deleteService", del_svc));
    let presigned = post(s, &format!("{vm}/files/presign"), json!({ "path": "x.txt" })).await;
    let url = presigned.json()["downloadUrl"].as_str().unwrap().to_string();
    out.push(("presignFile", presigned));
    // Nothing was uploaded, so the fetch reports a failed copy (still a 200 answer).
    let fetch = json!({ "url": url, "path": "x.txt" });
    out.push(("fetchFileToVm", post(s, &format!("{vm}/files/fetch"), fetch).await));
    let snap = post(s, "/v1/snapshots", json!({ "vmId": id, "name": "snap" })).await;
    let sid = snap.json()["id"].as_str().unwrap().to_string();
    out.push(("createSnapshot", snap));
    out.push(("listSnapshots", get(s, "/v1/snapshots").await));
    let snap_path = format!("/v1/snapshots/{sid}");
    out.push(("getSnapshot", get(s, &snap_path).await));
    let rename = Some(json!({ "name": "snap2" }));
    out.push(("updateSnapshot", call(s, "PATCH", &snap_path, rename, None).await));
    out.push(("pauseVm", post(s, &format!("{vm}/pause"), json!({})).await));
    out.push(("resumeVm", post(s, &format!("{vm}/resume"), json!({})).await));
    let build = post(s, "/v1/builds", json!({ "imageRef": "alpine", "name": "img" })).await;
    let bid = build.json()["id"].as_str().unwrap().to_string();
    out.push(("createBuild", build));
    out.push(("getBuild", get(s, &format!("/v1/builds/{bid}")).await));
    out.push((
        "presignBuildContext",
        post(s, "/v1/build-contexts/presign", json!({})).await,
    ));
    out.push(("getOrgQuotas", get(s, "/v1/org/quotas").await));
    out.push(("deleteSnapshot", call(s, "DELETE", &snap_path, None, None).await));
    out.push(("deleteVm", call(s, "DELETE", &vm, None, None).await));
    out.push(("getVm (gone)", get(s, &vm).await));
    // An operation of the spec not called above (a new one) is called as it is, every path
    // parameter an id nothing has: the fake answers what it does not model from the spec.
    for (id, method, path, has_body) in spec_operations() {
        if out.iter().any(|(op, _)| op.split(" (").next() == Some(id)) {
            continue;
        }
        let path: Vec<&str> = path
            .split('/')
            .map(|s| {
                if s.starts_with('{') {
                    "00000000-0000-4000-8000-00000000000a"
                } else {
                    s
                }
            })
            .collect();
        let body = has_body.then(|| json!({}));
        out.push((id, call(s, method, &path.join("/"), body, None).await));
    }
    out
}

/// `(operationId, METHOD, path, has a request body)` of every operation of the spec.
fn spec_operations() -> Vec<(&'static str, &'static str, &'static str, bool)> {
    static SPEC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    let spec = SPEC.get_or_init(|| serde_json::from_str(include_str!("../openapi.json")).unwrap());
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                let method: &'static str = Box::leak(method.to_uppercase().into_boxed_str());
                out.push((id, method, path.as_str(), op.get("requestBody").is_some()));
            }
        }
    }
    out
}

/// `calls` (from [`every_operation`]) has an answer of every operation of the spec: the list of
/// operations is the spec's, not a count written here.
fn assert_every_operation_is_called(calls: &[(&str, Answer)]) {
    let called: std::collections::BTreeSet<&str> = calls
        .iter()
        .map(|(op, _)| op.split(" (").next().unwrap_or(op))
        .collect();
    let missing: Vec<&str> = spec_operations()
        .into_iter()
        .map(|(id, ..)| id)
        .filter(|id| !called.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "every_operation() in fastvm-fake/tests/variance.rs calls no {missing:?}: add a call of each"
    );
}

/// Members whose values differ between two servers running the same calls.
const VOLATILE: &[&str] = &[
    "id",
    "orgId",
    "vmId",
    "createdAt",
    "pausedAt",
    "token",
    "websocketPath",
    "uploadUrl",
    "downloadUrl",
    "contextRef",
    "durationMs",
    "ms",
    "expiresAtMs",
    "ttlRemainingMs",
    "error",
];

fn normalize(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if VOLATILE.contains(&k.as_str()) {
                    *x = json!("<volatile>");
                } else {
                    normalize(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(normalize),
        _ => {}
    }
}

/// An answer with the values that differ between servers blanked out.
fn comparable(a: &Answer) -> (u16, Option<String>, Vec<String>, Vec<Value>) {
    let mut docs: Vec<Value> = match a.content_type.as_deref() {
        Some("application/x-ndjson") => a.lines(),
        Some(_) => vec![a.json()],
        None => vec![json!(String::from_utf8_lossy(&a.body))],
    };
    docs.iter_mut().for_each(normalize);
    (a.status, a.content_type.clone(), a.header_names.clone(), docs)
}

#[tokio::test]
async fn off_by_default_and_none_answers_exactly_as_default() {
    assert!(
        FakeServer::builder()
            .variance(Variance::none())
            .start()
            .await
            .unwrap()
            .variance()
            .is_none()
    );
    let default = FakeServer::builder()
        .build_duration(Duration::from_secs(3600))
        .start()
        .await
        .unwrap();
    assert!(default.variance().is_none());
    let none = server(Variance::none()).await;
    let (a, b) = (every_operation(&default).await, every_operation(&none).await);
    assert_every_operation_is_called(&a);
    assert_eq!(a.len(), b.len());
    for ((op, x), (_, y)) in a.iter().zip(&b) {
        assert_eq!(comparable(x), comparable(y), "{op}");
    }
    // A few answers whose bytes do not depend on the server at all.
    let fixed = ["getHealth", "deleteService", "deleteSshKey"];
    for ((op, x), (_, y)) in a.iter().zip(&b).filter(|(o, _)| fixed.contains(&o.0)) {
        assert_eq!(x.body, y.body, "{op}");
    }
}

#[tokio::test]
async fn with_every_rule_every_operation_still_succeeds_and_errors_stay() {
    let default = every_operation(&server(Variance::none()).await).await;
    let all = every_operation(&server(Variance::all()).await).await;
    for ((op, x), (_, y)) in default.iter().zip(&all) {
        assert!(
            (200..300).contains(&y.status) == (200..300).contains(&x.status),
            "{op}: {y:?}"
        );
    }
    let (_, gone) = all.iter().find(|(op, _)| *op == "getVm (gone)").unwrap();
    assert_eq!(gone.status, 404);
    let error = gone.json();
    let keys: Vec<&String> = error.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["error"], "error bodies are not varied: {error}");
}

#[tokio::test]
async fn other_2xx_deletes_answer_204_with_no_body_and_reads_203() {
    let s = server(Rule::Other2xx.into()).await;
    let (launched, id) = launch(&s).await;
    assert_eq!(launched.status, 201, "documented statuses stay");
    let got = get(&s, &format!("/v1/vms/{id}")).await;
    assert_eq!(got.status, 203);
    assert_eq!(got.json()["id"], id);
    let deleted = call(&s, "DELETE", &format!("/v1/vms/{id}"), None, None).await;
    assert_eq!(deleted.status, 204);
    assert!(deleted.body.is_empty() && deleted.content_type.is_none(), "{deleted:?}");
    // The state changed as always: the VM is gone.
    assert_eq!(get(&s, &format!("/v1/vms/{id}")).await.status, 404);
}

/// Every member (with its path) of every object, not descending into user maps.
fn members(v: &Value, path: &str, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{path}.{k}");
                out.push((p.clone(), x.clone()));
                if k != "metadata" && k != "envVars" {
                    members(x, &p, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| members(x, &format!("{path}[]"), out)),
        _ => {}
    }
}

#[tokio::test]
async fn omitempty_leaves_no_empty_members_in_a_vm_but_keeps_metadata() {
    let s = server(Rule::Omitempty.into()).await;
    let (_, id) = launch(&s).await;
    let vm = get(&s, &format!("/v1/vms/{id}")).await.json();
    let mut all = Vec::new();
    members(&vm, "", &mut all);
    for (path, v) in &all {
        let empty = matches!(v, Value::Null | Value::Bool(false))
            || v == &json!(0)
            || v == &json!("")
            || v == &json!([])
            || v == &json!({});
        assert!(!empty, "{path} = {v}");
    }
    assert!(vm.get("deletedAt").is_none() && vm.get("sourceName").is_none(), "{vm}");
    assert_eq!(vm["metadata"], json!({ "env": "", "k": "v" }), "user data is kept");
}

#[tokio::test]
async fn extra_fields_appear_in_every_object_but_not_in_metadata() {
    let s = server(Rule::ExtraFields.into()).await;
    let (_, id) = launch(&s).await;
    let vm = get(&s, &format!("/v1/vms/{id}")).await.json();
    for obj in [
        &vm,
        &vm["firewall"],
        &vm["effectiveFirewall"]["ingress"],
        &vm["firewall"]["dns"],
    ] {
        for k in [
            "fakeExtraString",
            "fakeExtraNumber",
            "fakeExtraObject",
            "fakeExtraArray",
        ] {
            assert!(obj.get(k).is_some(), "{k} in {obj}");
        }
    }
    assert!(vm["fakeExtraString"].is_string() && vm["fakeExtraNumber"].is_number());
    assert!(vm["fakeExtraObject"].is_object() && vm["fakeExtraArray"].is_array());
    assert_eq!(vm["metadata"], json!({ "env": "", "k": "v" }));
    assert_eq!(vm["envVars"], json!({}));
    let exec = format!("/v1/vms/{id}/exec");
    let body = Some(json!({ "command": ["echo", "hi"] }));
    let stream = call(&s, "POST", &exec, body, Some("application/x-ndjson")).await;
    assert_eq!(stream.content_type.as_deref(), Some("application/x-ndjson"));
    let lines = stream.lines();
    assert!(lines.len() >= 2, "{lines:?}");
    for line in &lines {
        assert!(line.get("fakeExtraObject").is_some(), "{line}");
    }
    let d = lines[0]["d"].as_str().unwrap();
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(d).unwrap(), b"hi\n");
    assert_eq!(lines.last().unwrap()["t"], "x");
}

#[tokio::test]
async fn nulls_appear_for_absent_optional_members() {
    let s = server(Rule::Nulls.into()).await;
    let (_, id) = launch(&s).await;
    let vm = get(&s, &format!("/v1/vms/{id}")).await.json();
    // No TTL: the fake leaves both countdowns out.
    assert_eq!(vm["expiresAtMs"], Value::Null);
    assert_eq!(vm["ttlRemainingMs"], Value::Null);
    assert!(vm.as_object().unwrap().contains_key("expiresAtMs"));
    let build = post(&s, "/v1/builds", json!({ "imageRef": "alpine" })).await.json();
    for k in ["name", "snapshotId", "progress", "error"] {
        assert!(build.as_object().unwrap().get(k) == Some(&Value::Null), "{k}: {build}");
    }
}

#[tokio::test]
async fn new_enums_add_an_icmp_rule_and_unknown_transitional_statuses() {
    let s = FakeServer::builder()
        .variance(Rule::NewEnums.into())
        .boot_delay(Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let (launched, id) = launch(&s).await;
    assert_eq!(launched.status, 202);
    let vm = launched.json();
    assert_eq!(vm["status"], "scheduling");
    let rules = vm["effectiveFirewall"]["ingress"]["rules"].as_array().unwrap();
    assert!(
        rules.iter().any(|r| r["protocol"] == "icmp" && r["ports"] == "any"),
        "{rules:?}"
    );
    assert_eq!(
        vm["firewall"]["ingress"]["rules"],
        json!([]),
        "the user's own policy is kept"
    );
    // Still provisioning inside: the fake's rules are as strict as ever.
    assert_eq!(post(&s, &format!("/v1/vms/{id}/pause"), json!({})).await.status, 409);
    s.advance(Duration::from_secs(61));
    assert_eq!(get(&s, &format!("/v1/vms/{id}")).await.json()["status"], "running");
    let build = post(&s, "/v1/builds", json!({ "imageRef": "alpine" })).await;
    assert_eq!(build.json()["status"], "queued");
}

#[tokio::test]
async fn injected_faults_are_sent_as_given() {
    let s = server(Variance::all()).await;
    let (_, id) = launch(&s).await;
    let body = json!({ "deleted": false, "n": 0 });
    s.faults().push("getVm", Fault::status(200).body(body.clone()));
    let a = get(&s, &format!("/v1/vms/{id}")).await;
    assert_eq!((a.status, a.json()), (200, body));
}

#[tokio::test]
async fn debug_shows_the_variance_but_no_secret() {
    let builder = FakeServer::builder().api_key("sekrit").variance(Variance::all());
    let debug = format!("{builder:?}");
    assert!(
        debug.contains("variance: Variance(new-enums,omitempty,nulls,extra-fields,other-2xx)"),
        "{debug}"
    );
    assert!(!debug.contains("sekrit"), "{debug}");
    let server = builder.start().await.unwrap();
    let debug = format!("{server:?}");
    assert!(debug.contains("Variance(new-enums,"), "{debug}");
    assert!(!debug.contains("sekrit"), "{debug}");
}
