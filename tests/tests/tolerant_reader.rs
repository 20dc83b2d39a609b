//! Contract tests of the tolerant reader ("strict in what we send, tolerant in what we
//! receive"), one group per rule of the issue, against wiremock:
//!
//! 1. any 2xx is success: a 2xx the spec does not list decodes for every operation; a delete
//!    without a body gives its known result; elsewhere a body-less 2xx is a `Decode` error
//!    naming the operation and status; launch keeps 201 (running) and 202 (poll), and polls
//!    after any other 2xx until the VM runs;
//! 2. tolerant decoding of every response type: absent, `null` and extra members; essentials;
//!    open enums kept raw, sent back verbatim, an empty one refused before any request; waiting
//!    on unknown statuses;
//! 3. retries: what `facade_retry.rs` does not cover (a cap the user lowered);
//! 4. meaningful empty lists are sent as written.
//!
//! The answers here are deliberately not what the spec describes (other statuses, missing,
//! `null` and extra members, unknown values), so they are served with `Api::respond`, which
//! does not validate them; a full fixture is validated against the spec where one is used.
//! Requests are checked against the spec (`Api::sent`) except where the SDK sends back a value
//! the spec does not know (unknown enum values), which is the point of those tests.
// Tests deprecated operations too (builds, build contexts, a VM's SSH keys), kept for
// servers at the reference's version.
#![allow(deprecated)]

mod common;

use std::time::Duration;

use common::{Api, assert_invalid, assert_lossless, json_response, valid_fixture, vm_full, vm_min};
use fastvm::exec::ExecEvent;
use fastvm::types::{
    CreateVmRequest, DnsMode, EgressRuleKind, EgressRuleProtocol, FirewallPolicy, IngressRuleKind, IngressRuleProtocol,
    PolicyAction, SnapshotStatus, Ttl, TtlAction, VmStatus,
};
use fastvm::{Error, FastvmClient};
use fastvm_tests::schema;
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::ResponseTemplate;

const ID: &str = "0b5e2f9a-1c3d-4e5f-8a9b-0c1d2e3f4a5b";
const SNAP: &str = "5a1e0c3b-7d2f-4e8a-9b6c-1f0e2d3c4b5a";
const BUILD: &str = "b0b0b0b0-0000-4000-8000-000000000001";
const FINGERPRINT: &str = "SHA256:ab+c/d=";
const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE7x";

// ---- The calls into the SDK (kept here, so a change of the facade's API is made once) -------

/// A result, re-encoded as JSON (`null` for a call that returns nothing).
type Outcome = fastvm::Result<Value>;

fn encoded<T: serde::Serialize>(result: fastvm::Result<T>) -> Outcome {
    result.map(|t| serde_json::to_value(t).expect("a decoded value re-encodes"))
}

/// Calls `op` through the facade with fixed arguments (the ids above), as a user would.
async fn call(client: &FastvmClient, op: &str) -> Outcome {
    let vms = client.vms();
    match op {
        "getHealth" => encoded(client.health().check().await),
        "presignBuildContext" => encoded(client.build_contexts().presign().await),
        "createBuild" => encoded(client.builds().create().image_ref("python:3.13-slim").await),
        "getBuild" => encoded(client.builds().retrieve(BUILD).await),
        "getOrgQuotas" => encoded(client.quotas().retrieve().await),
        "listSnapshots" => encoded(client.snapshots().list().await),
        "createSnapshot" => encoded(client.snapshots().create(ID).name("golden").await),
        "getSnapshot" => encoded(client.snapshots().retrieve(SNAP).await),
        "deleteSnapshot" => encoded(client.snapshots().delete(SNAP).await),
        "deleteSnapshotImport" => encoded(client.snapshot_imports().delete(ID).await),
        "updateSnapshot" => encoded(client.snapshots().update(SNAP).name("renamed").await),
        "listVms" => encoded(vms.list().await),
        "launchVm" => encoded(
            launch_no_wait(client, fastvm::launch::machine("c1m2"))
                .await
                .map(|(_, vm)| vm),
        ),
        "getVm" => encoded(vms.retrieve(ID).await),
        "updateVm" => encoded(vms.update(ID).name("renamed").await),
        "deleteVm" => encoded(vms.delete(ID).await),
        "createConsoleToken" => encoded(vms.console_token(ID).await),
        "execVm" => encoded(vms.run(ID, "true").await),
        "fetchFileToVm" => encoded(
            vms.files()
                .fetch(ID, "https://storage.example/down?X-Sig=2", "/root/f")
                .await,
        ),
        "presignFile" => encoded(vms.files().presign(ID, "/root/f").await),
        "patchVmFirewall" => encoded(vms.patch_firewall(ID, FirewallPolicy::default()).await),
        "setVmFirewall" => encoded(vms.set_firewall(ID, FirewallPolicy::default()).await),
        "pauseVm" => encoded(vms.pause(ID).await),
        "resumeVm" => encoded(vms.resume(ID).await),
        "refreshVmTtl" => encoded(vms.refresh_ttl(ID).await),
        "listServices" => encoded(vms.services().list(ID).await),
        "registerService" => encoded(vms.services().register(ID, "web", 8080).await),
        "updateService" => encoded(vms.services().update(ID, "web", 8080).h2c(false).await),
        // The answer has no body: the facade's `DeleteResponse` is its own (checked in
        // contract_services.rs); here, that any 2xx is success.
        "deleteService" => encoded(vms.services().delete(ID, "web").await.map(|_| ())),
        // The facade returns the answer's `keys`; compared in the wire's shape.
        "listSshKeys" => encoded(vms.ssh_keys().list(ID).await.map(|keys| json!({ "keys": keys }))),
        "addSshKey" => encoded(vms.ssh_keys().add(ID, KEY).await),
        "deleteSshKey" => encoded(vms.ssh_keys().delete(ID, FINGERPRINT).await),
        "listUserSshKeys" => encoded(client.user_ssh_keys().list().await.map(|keys| json!({ "keys": keys }))),
        "addUserSshKey" => encoded(client.user_ssh_keys().add(KEY).await),
        "deleteUserSshKey" => encoded(client.user_ssh_keys().delete(FINGERPRINT).await),
        // The answer may have no body: the facade fills in the id it was given.
        "deleteVolume" => encoded(client.volumes().delete(ID).await),
        // A 204: the facade's result names the mount; the wire has no body to compare.
        "deleteBucketMount" => encoded(vms.bucket_mounts().delete(ID, ID).await.map(|_| ())),
        // Any other operation (one the spec gained): its generated call, made through the
        // facade's `call_api`, which decodes the answer and maps every failure as each facade
        // method does (see `derived`).
        other => derived(client, other).await,
    }
}

/// Calls `op` through the facade without a hand-written call: the generated table
/// `fastvm_api::tables::CALLS` makes the operation's generated call, fed with arguments derived
/// from the spec (each path parameter its value in these tests, a required query parameter and a
/// required body sampled from their schemas), and [`FastvmClient::call_api`] turns its answer
/// into the facade's result and its failure into the facade's [`Error`]. A facade method that
/// is one `call(..)` of the generated call (the usual shape) behaves exactly so; one that does
/// more has its own arm in `call`.
async fn derived(client: &FastvmClient, op: &str) -> Outcome {
    let entry = fastvm_api::tables::CALLS
        .iter()
        .find(|c| c.id == op)
        .unwrap_or_else(|| panic!("{op} is not in fastvm_api::tables::CALLS: run `cargo xtask regen`"));
    let args = arguments(op);
    client.call_api(entry.id, |api| (entry.call)(api, &args)).await
}

/// The arguments of the operation `op` for [`derived`]: `{parameter: value, .., "body": ..}`.
fn arguments(op: &str) -> Value {
    let spec_op = schema::operation(op);
    let collection = spec_op.path.split('/').nth(2).unwrap_or_default();
    let mut args = serde_json::Map::new();
    for segment in spec_op.path.split('/') {
        if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            args.insert(name.to_string(), json!(path_value(segment, collection, false)));
        }
    }
    for p in spec_op.value["parameters"].as_array().into_iter().flatten() {
        if p["in"] == "query" && p["required"] == true {
            let name = p["name"].as_str().expect("a named parameter");
            args.insert(name.to_string(), schema::sample(&p["schema"]));
        }
    }
    let body = &spec_op.value["requestBody"];
    if body["required"] == true {
        args.insert(
            "body".into(),
            schema::sample(&body["content"]["application/json"]["schema"]),
        );
    }
    Value::Object(args)
}

/// Launches without waiting: the answer's status and VM.
async fn launch_no_wait(
    client: &FastvmClient,
    request: impl Into<fastvm::launch::LaunchParams>,
) -> fastvm::Result<(u16, fastvm::types::VmCreateResponse)> {
    let r = client.vms().launch(request).await?;
    Ok((r.status.as_u16(), r.vm))
}

/// Launches and waits (polling as fast as the SDK allows).
async fn launch(client: &FastvmClient) -> fastvm::Result<fastvm::types::VmInfo> {
    let launched = client
        .launch_vm(fastvm::launch::machine("c1m2"))
        .no_safety_ttl()
        .poll_interval(FAST)
        .deadline(DEADLINE)
        .await
        .map(fastvm_tests::fake::released)?;
    Ok(launched.vm)
}

async fn set_firewall(client: &FastvmClient, policy: FirewallPolicy) -> fastvm::Result<fastvm::types::VmInfo> {
    client.vms().set_firewall(ID, policy).await
}

async fn patch_firewall(client: &FastvmClient, policy: FirewallPolicy) -> fastvm::Result<fastvm::types::VmInfo> {
    client.vms().patch_firewall(ID, policy).await
}

async fn launch_with_firewall(client: &FastvmClient, policy: FirewallPolicy) -> fastvm::Result<()> {
    launch_no_wait(client, fastvm::launch::machine("c1m2").firewall(policy))
        .await
        .map(drop)
}

/// Sends `ttl` (for example one read back from a VM) with an update.
async fn update_ttl(client: &FastvmClient, ttl: Ttl) -> fastvm::Result<fastvm::types::VmInfo> {
    let after = Duration::from_secs(ttl.seconds);
    client.vms().update(ID).ttl(after, ttl.action).await
}

/// Removes the VM's TTL (a hand-built `PATCH` with `"ttl": null`).
async fn clear_ttl(client: &FastvmClient) -> fastvm::Result<fastvm::types::VmInfo> {
    client.vms().update(ID).clear_ttl().await
}

/// Streams a command and collects its events.
async fn stream_events(client: &FastvmClient) -> fastvm::Result<Vec<ExecEvent>> {
    let mut stream = client.vms().stream(ID, "echo hi").await?;
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        events.push(event?);
    }
    Ok(events)
}

/// Polls as fast as the SDK allows (its floor is 500 ms)...
const FAST: Duration = Duration::from_millis(1);
/// ...for at most this long.
const DEADLINE: Duration = Duration::from_secs(30);

// ---- The operations: paths, full answers, essentials -------------------------------------

/// One operation of the spec, as the table tests see it: everything but the call itself (see
/// `call`) and the fixture of each answer schema (see `fixture`) comes from `openapi.json`.
struct Case {
    op: &'static str,
    /// A concrete path of the operation (see `concrete_path`).
    path: String,
    /// A 2xx the spec does not list for the operation.
    other: u16,
    /// The schema of each record of the documented answer (none for a body-less answer).
    schema: Option<&'static str>,
    /// A full answer, valid for the spec's documented success status (none without a body).
    full: Option<Value>,
    /// The members each record of the answer cannot do without (`x-fastvm-essential`).
    essential: Vec<&'static str>,
    /// The answer is a list of records.
    list: bool,
    /// A body-less 2xx is still the whole answer (`x-fastvm-empty-answer-known`).
    empty_answer_known: bool,
}

/// The full record of the answer schema `schema` in `tests/fixtures/answers/<schema>.json`
/// (every field set; `cargo xtask check` validates the files against openapi.json).
fn answer(schema: &str) -> Value {
    let path = format!("{}/fixtures/answers/{schema}.json", env!("CARGO_MANIFEST_DIR"));
    // Without a file (a schema the spec gained), every member is sampled from the schema.
    let text = std::fs::read_to_string(&path).unwrap_or_else(|_| "{}".to_string());
    let mut record = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    // A field the spec gained since the file was written is sampled in: the record stays full.
    schema::complete(
        &json!({ "$ref": format!("#/components/schemas/{schema}") }),
        &mut record,
    );
    record
}

fn snapshot() -> Value {
    answer("Snapshot")
}

fn build() -> Value {
    answer("BuildResponse")
}

/// A full record of the answer schema `schema` for a call at `path` (its fixture file), and what
/// the SDK decodes from one with only its essentials (natural empties, `None` left out). One
/// entry per schema: a new operation answering a known schema needs nothing here.
fn fixture(schema: &str, path: &str) -> (Value, Value) {
    let vm_min =
        json!({ "id": ID, "status": "running", "cpu": 0, "memoryMiB": 0, "diskGiB": 0, "name": "", "orgId": "" });
    let presigned_min = json!({ "uploadUrl": "https://storage.example/up?X-Sig=1",
        "downloadUrl": "https://storage.example/down?X-Sig=2", "expiresInSec": 0, "maxUploadBytes": 0 });
    let exec_min = json!({ "exitCode": 0, "stdout": "", "stderr": "", "durationMs": 0, "timedOut": false,
        "stdoutTruncated": false, "stderrTruncated": false });
    let quota_min = json!({ "vcpu": 0, "memoryMiB": 0, "diskGiB": 0, "snapshotCount": 0 });
    let minimal = match schema {
        "VM" | "VMCreateResponse" => vm_min,
        "Snapshot" => json!({ "id": SNAP, "status": "ready", "name": "", "orgId": "", "vmId": "", "services": [] }),
        "BuildResponse" => json!({ "id": BUILD, "status": "pending", "imageRef": "" }),
        "FilePresignResponse" => presigned_min,
        "ConsoleTokenResponse" => {
            json!({ "token": "tok-1", "websocketPath": "/v1/vms/x/console/ws", "expiresInSec": 0 })
        }
        "ExecVMResponse" => exec_min,
        "HealthResponse" => json!({}),
        "OrgQuotaUsage" => json!({ "orgId": "", "limits": quota_min, "usage": quota_min }),
        "Service" => json!({ "name": "", "port": 0, "h2c": false }),
        "SshKey" => json!({ "fingerprint": "", "publicKey": "" }),
        "SshKeyListResponse" => json!({ "keys": [] }),
        // A delete's answer: the id asked, whether or not the answer says it.
        "DeleteResponse" => json!({ "id": asked_id(path), "deleted": false }),
        // A schema the spec gained: what the tolerance rules make of its essentials alone. Where
        // that guess is wrong, the tests say so: then write its minimum here.
        other => derived_minimal(&schema::spec()["components"]["schemas"][other], &answer(other)),
    };
    let mut full = answer(schema);
    if schema == "DeleteResponse" {
        full["id"] = json!(asked_id(path));
    }
    (full, minimal)
}

/// What the SDK decodes from `full` reduced to its essentials, by the rules of
/// `fastvm-api/codegen/tolerance.rs`: a required member without a natural empty value becomes
/// optional (left out), one with one decodes as it (`false`, `0`, `""`, `[]`, an object's own
/// minimum), an optional list as `[]`, any other optional member is left out.
fn derived_minimal(schema: &Value, full: &Value) -> Value {
    let resolve = |s: &Value| -> Value {
        match s["$ref"].as_str() {
            Some(r) => schema::spec()["components"]["schemas"][r.trim_start_matches("#/components/schemas/")].clone(),
            None => s.clone(),
        }
    };
    let schema = resolve(schema);
    let essential: Vec<&str> = schema["x-fastvm-essential"]
        .as_array()
        .map(|e| e.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|e| e.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut out = serde_json::Map::new();
    for (name, prop) in schema["properties"].as_object().into_iter().flatten() {
        if essential.contains(&name.as_str()) {
            out.insert(name.clone(), full[name].clone());
            continue;
        }
        // A component object stays required and decodes as its own minimum; an inline one
        // becomes optional (typify makes it a type of its own, without a default).
        let component = prop.get("$ref").is_some();
        let prop = resolve(prop);
        // An open string with known values is typed as an enum by code generation (step 2).
        let constrained = [
            "format",
            "pattern",
            "minLength",
            "maxLength",
            "enum",
            "x-fastvm-known-values",
        ]
        .iter()
        .any(|k| prop.get(*k).is_some());
        let positive = prop["minimum"].as_f64().is_some_and(|m| m > 0.0);
        let empty = match prop["type"].as_str() {
            _ if prop["nullable"] == true => None,
            Some("array") => Some(json!([])),
            _ if !required.contains(&name.as_str()) => None,
            Some("boolean") => Some(json!(false)),
            Some("integer" | "number") if !positive => Some(json!(0)),
            Some("string") if !constrained => Some(json!("")),
            _ if component && prop.get("properties").is_some() => Some(derived_minimal(&prop, &full[name])),
            _ => None,
        };
        if let Some(empty) = empty {
            out.insert(name.clone(), empty);
        }
    }
    Value::Object(out)
}

/// The value each path parameter takes in these tests: `{id}` is the VM, snapshot or build of
/// its collection.
fn concrete_path(template: &str) -> String {
    let collection = template.split('/').nth(2).unwrap_or_default();
    template
        .split('/')
        .map(|segment| path_value(segment, collection, true))
        .collect::<Vec<_>>()
        .join("/")
}

/// The value of the path segment `segment` (a literal, or a `{parameter}`) of an operation of
/// `collection` (`vms`, `snapshots`, ..), as it appears in the URL (`encoded`) or as passed.
fn path_value<'a>(segment: &'a str, collection: &str, encoded: bool) -> &'a str {
    match (segment, collection) {
        ("{id}", "snapshots") => SNAP,
        ("{id}", "builds") => BUILD,
        ("{id}", _) => ID,
        ("{serviceName}", _) => "web",
        // As the SDK sends it: `/` encoded, `+` and `:` literal.
        ("{fingerprint}", _) if encoded => "SHA256:ab+c%2Fd=",
        ("{fingerprint}", _) => FINGERPRINT,
        // Any other parameter (one the spec gained) names a resource: an id.
        (param, _) if param.starts_with('{') => ID,
        (literal, _) => literal,
    }
}

/// The id a delete at `path` asked for: its last segment, decoded (what the SDK gives back when
/// the answer does not say it).
fn asked_id(path: &str) -> String {
    path.rsplit('/').next().unwrap_or_default().replace("%2F", "/")
}

/// 2xx statuses no operation documents in the reference, one after the other.
const OTHER_2XX: &[u16] = &[203, 202, 201, 200, 206, 299];

fn cases() -> Vec<Case> {
    schema::operations()
        .iter()
        .enumerate()
        .map(|(n, op)| {
            let documented = documented(&op.id);
            let other = OTHER_2XX
                .iter()
                .cycle()
                .skip(n % OTHER_2XX.len())
                .take(OTHER_2XX.len())
                .copied()
                .find(|s| !documented.contains(s))
                .expect("a 2xx the spec does not list");
            let body = documented
                .iter()
                .find_map(|s| schema::response_schema(&op.id, *s, "application/json"));
            let item = body
                .as_ref()
                .map(|b| if b["type"] == "array" { &b["items"] } else { b });
            let record = item.and_then(|s| s["$ref"].as_str()).map(|r| {
                let name = r.rsplit('/').next().unwrap_or(r);
                // The name as borrowed from the spec itself, for `'static`.
                schema::spec()["components"]["schemas"]
                    .as_object()
                    .and_then(|s| s.get_key_value(name))
                    .map(|(k, _)| k.as_str())
                    .expect("a component schema")
            });
            let list = body.as_ref().is_some_and(|b| b["type"] == "array");
            let path = concrete_path(&op.path);
            let full = record.map(|name| {
                let (full, _) = fixture(name, &path);
                if list { json!([full]) } else { full }
            });
            let essential = record
                .and_then(|name| schema::spec()["components"]["schemas"][name]["x-fastvm-essential"].as_array())
                .map(|e| e.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            Case {
                op: op.id.as_str(),
                path,
                other,
                schema: record,
                full,
                essential,
                list,
                empty_answer_known: op.value["x-fastvm-empty-answer-known"] == json!(true),
            }
        })
        .collect()
}

/// The 2xx statuses the spec lists for `op`.
fn documented(op: &str) -> Vec<u16> {
    schema::operation(op).value["responses"]
        .as_object()
        .expect("responses")
        .keys()
        .filter(|c| c.starts_with('2'))
        .map(|c| c.parse().expect("an exact status"))
        .collect()
}

/// The documented success status whose body the full fixture is validated against.
fn documented_with_body(op: &str) -> u16 {
    documented(op)
        .into_iter()
        .find(|s| schema::response_schema(op, *s, "application/json").is_some())
        .unwrap_or_else(|| panic!("{op} documents no JSON success body"))
}

/// What the SDK gives for an answer with only the essentials: natural empties, `None` left out.
fn decoded_minimal(case: &Case) -> Value {
    let Some(schema) = case.schema else { return Value::Null };
    let (_, mut minimal) = fixture(schema, &case.path);
    // An optional list decodes as `[]` and is sent as such; every other optional member is left
    // out (`None`): a list the spec gained since `fixture` was written is `[]` here too.
    let props = schema::spec()["components"]["schemas"][schema]["properties"].as_object();
    for (name, prop) in props.into_iter().flatten() {
        if prop["type"] == "array" && minimal.get(name).is_none() && !case.essential.contains(&name.as_str()) {
            let required = schema::spec()["components"]["schemas"][schema]["required"].as_array();
            if !required.is_some_and(|r| r.iter().any(|x| x == name)) {
                minimal[name] = json!([]);
            }
        }
    }
    if case.list { json!([minimal]) } else { minimal }
}

/// Applies `f` to each record of an answer: the answer itself, or each element of a list.
fn each_record(case: &Case, body: &mut Value, mut f: impl FnMut(&mut Value)) {
    match body {
        Value::Array(items) if case.list => items.iter_mut().for_each(f),
        record => f(record),
    }
}

/// `full` with only the essentials of each record.
fn essentials_only(case: &Case, full: &Value) -> Value {
    let mut body = full.clone();
    each_record(case, &mut body, |r| {
        r.as_object_mut()
            .expect("a record is an object")
            .retain(|k, _| case.essential.contains(&k.as_str()));
    });
    body
}

/// `full` with every non-essential member of each record `null`.
fn top_level_nulls(case: &Case, full: &Value) -> Value {
    let mut body = full.clone();
    each_record(case, &mut body, |r| {
        for (k, v) in r.as_object_mut().expect("a record is an object") {
            if !case.essential.contains(&k.as_str()) {
                *v = Value::Null;
            }
        }
    });
    body
}

/// Objects that are maps (string to string): their members are entries, not fields. From the
/// spec (`schema::map_property_names`).
fn is_map_key(k: &str) -> bool {
    static KEYS: std::sync::OnceLock<std::collections::BTreeSet<String>> = std::sync::OnceLock::new();
    KEYS.get_or_init(schema::map_property_names).contains(k)
}

/// Applies `f` to every object of `v` that is not a map, at every depth (root included), and
/// then to the objects below it (those it had before `f`, not what `f` added).
fn each_object(v: &mut Value, f: &mut dyn FnMut(&mut serde_json::Map<String, Value>)) {
    match v {
        Value::Object(m) => {
            let children: Vec<String> = m.keys().filter(|k| !is_map_key(k)).cloned().collect();
            f(m);
            for k in children {
                if let Some(child) = m.get_mut(&k) {
                    each_object(child, f);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| each_object(i, f)),
        _ => {}
    }
}

/// `full` where every scalar member (or list of scalars) at every depth, the essentials
/// excepted, is `null` (`null: true`) or removed, the objects and lists of objects around them
/// kept: absence and `null` reach every depth.
fn leaves(case: &Case, full: &Value, null: bool) -> Value {
    let is_leaf = |v: &Value| match v {
        Value::Array(items) => !items.iter().any(Value::is_object),
        other => !other.is_object(),
    };
    let mut body = full.clone();
    each_record(case, &mut body, |record| {
        let essentials: Vec<(String, Value)> = case
            .essential
            .iter()
            .filter_map(|k| record.get(*k).map(|v| (k.to_string(), v.clone())))
            .collect();
        each_object(record, &mut |m| {
            let keys: Vec<String> = m.iter().filter(|(_, v)| is_leaf(v)).map(|(k, _)| k.clone()).collect();
            for k in keys {
                if null {
                    m.insert(k, Value::Null);
                } else {
                    m.remove(&k);
                }
            }
        });
        record
            .as_object_mut()
            .expect("a record is an object")
            .extend(essentials);
    });
    body
}

/// `full` with members no type knows added to every object (not to maps), at every depth.
fn with_extras(full: &Value) -> Value {
    let mut body = full.clone();
    each_object(&mut body, &mut |m| {
        m.insert(
            "futureField".into(),
            json!({ "nested": [1, null, { "deeper": "x" }], "n": 1.5 }),
        );
        m.insert("x-null".into(), Value::Null);
        m.insert("addedLater".into(), json!(["a", 2, false]));
    });
    body
}

/// Serves `body` (not validated) with `status` for the case's operation, once.
async fn serve(api: &Api, case: &Case, status: u16, body: &Value) {
    api.respond(case.op, &case.path, json_response(status, body), 1).await;
}

/// Calls the case's operation on a fresh mock (the same server, reset), answering `body`.
async fn answered(api: &Api, case: &Case, body: &Value) -> Outcome {
    api.next_case().await;
    serve(api, case, documented_with_body(case.op), body).await;
    call(&api.client, case.op).await
}

// ---- Rule 1: any 2xx is success ----------------------------------------------------------

/// The derivation of a minimal answer agrees with every one written by hand.
#[test]
fn the_derived_minimal_answer_of_every_known_schema_is_the_hand_written_one() {
    for case in cases()
        .iter()
        .filter(|c| c.schema.is_some_and(|s| s != "DeleteResponse"))
    {
        let schema = case.schema.unwrap();
        let (full, _) = fixture(schema, &case.path);
        // The hand-written minimum, with the lists the spec gained since (see `decoded_minimal`).
        let hand = decoded_minimal(case);
        let hand = if case.list { hand[0].clone() } else { hand };
        let mut derived = derived_minimal(&schema::spec()["components"]["schemas"][schema], &full);
        // Lists the hand-written minimum leaves to `decoded_minimal`.
        for (k, v) in hand.as_object().unwrap() {
            if v == &json!([]) && derived.get(k).is_none() {
                derived[k] = json!([]);
            }
        }
        assert_eq!(derived, hand, "{schema}");
    }
}

#[test]
fn the_cases_have_other_2xx_statuses_valid_fixtures_and_their_essentials() {
    // The cases are the spec's operations (see `cases`); what is written here must fit them.
    for c in &cases() {
        assert!((200..300).contains(&c.other), "{}: {} is not a 2xx", c.op, c.other);
        assert!(
            !documented(c.op).contains(&c.other),
            "{}: {} is documented",
            c.op,
            c.other
        );
        assert!(
            schema::path_fits_template(&schema::operation(c.op).path, &c.path),
            "{}: {}",
            c.op,
            c.path
        );
        if let Some(full) = &c.full {
            valid_fixture(c.op, documented_with_body(c.op), full);
            let record = if c.list { &full[0] } else { full };
            for e in &c.essential {
                assert!(
                    record.get(*e).is_some(),
                    "{}: the fixture lacks the essential {e}",
                    c.op
                );
            }
        }
    }
}

#[tokio::test]
async fn every_operation_succeeds_on_a_2xx_the_spec_does_not_list_and_decodes_the_body() {
    let api = Api::start().await;
    for case in cases() {
        api.next_case().await;
        let body = case.full.clone().unwrap_or(json!({ "ignored": true }));
        serve(&api, &case, case.other, &body).await;
        let decoded = call(&api.client, case.op)
            .await
            .unwrap_or_else(|e| panic!("{} answered {}: {e:?}", case.op, case.other));
        // Without a documented body, what the facade method knows (checked with the body-less
        // answers below).
        if let Some(full) = &case.full {
            assert_lossless(full, &decoded);
        }
        api.sent(case.op).await;
    }
}

/// The path `call` takes for an operation without an arm (one the spec gained) works for every
/// operation of the spec: its request is the spec's, a full answer on another 2xx decodes
/// losslessly, a body-less 2xx where a body is needed is the facade's `Decode` error naming the
/// operation and status, and an error answer the facade's `Api` error.
#[tokio::test]
async fn the_derived_call_of_every_operation_goes_through_the_facades_rules() {
    let api = Api::start().await;
    for case in cases() {
        api.next_case().await;
        let body = case.full.clone().unwrap_or(json!({ "ignored": true }));
        serve(&api, &case, case.other, &body).await;
        let decoded = derived(&api.client, case.op)
            .await
            .unwrap_or_else(|e| panic!("{} answered {}: {e:?}", case.op, case.other));
        match &case.full {
            Some(full) => assert_lossless(full, &decoded),
            None => assert_eq!(decoded, Value::Null, "{}", case.op),
        }
        api.sent(case.op).await;
        if case.full.is_some() {
            api.next_case().await;
            api.respond(case.op, &case.path, ResponseTemplate::new(204), 1).await;
            match derived(&api.client, case.op).await {
                Err(Error::Decode { operation, status, .. }) => {
                    assert_eq!((operation, status.map(|s| s.as_u16())), (Some(case.op), Some(204)));
                }
                other => panic!("{}: a body-less 204: expected Decode, got {other:?}", case.op),
            }
        }
        api.next_case().await;
        api.respond(case.op, &case.path, json_response(404, &json!({ "error": "gone" })), 1)
            .await;
        match derived(&api.client, case.op).await {
            Err(Error::Api { error, .. }) => {
                assert_eq!((error.status.as_u16(), error.operation), (404, Some(case.op)));
                assert_eq!(error.message, "gone", "{}", case.op);
            }
            other => panic!("{}: a 404: expected Api, got {other:?}", case.op),
        }
    }
}

#[tokio::test]
async fn a_delete_or_registration_answered_without_a_body_is_what_was_asked() {
    let api = Api::start().await;
    let bodiless = || {
        [
            ResponseTemplate::new(204),
            ResponseTemplate::new(200),
            ResponseTemplate::new(200).set_body_raw("  \r\n", "application/json"),
            ResponseTemplate::new(202),
        ]
    };
    for case in cases().iter().filter(|c| c.empty_answer_known || c.full.is_none()) {
        let mut first: Option<Value> = None;
        for (n, answer) in bodiless().into_iter().enumerate() {
            api.next_case().await;
            api.respond(case.op, &case.path, answer, 1).await;
            let decoded = call(&api.client, case.op).await.unwrap_or_else(|e| {
                panic!(
                    "{} body-less answer {n}: {e:?} (an operation whose facade method knows its result needs its \
                         own arm in `call`, tests/tests/tolerant_reader.rs)",
                    case.op
                )
            });
            // A delete's result is the id asked, a registration's the service asked: the
            // fixture. An operation the spec documents without a body gives what its facade
            // method knows, the same for every body-less answer.
            let expected = match &case.full {
                Some(full) => full.clone(),
                None => first.get_or_insert_with(|| decoded.clone()).clone(),
            };
            assert_eq!(decoded, expected, "{} body-less answer {n}", case.op);
            api.sent(case.op).await;
        }
    }
    // A delete's answer that leaves the id out: the id asked.
    for case in cases().iter().filter(|c| c.schema == Some("DeleteResponse")) {
        api.next_case().await;
        serve(&api, case, 200, &json!({ "deleted": true })).await;
        assert_eq!(
            call(&api.client, case.op).await.unwrap(),
            json!({ "id": asked_id(&case.path), "deleted": true }),
            "{}",
            case.op
        );
    }
}

/// A Go server encodes an empty slice or a nil pointer as a `null` body.
#[tokio::test]
async fn a_null_body_is_the_empty_list_or_object_where_that_decodes_and_else_a_decode_error() {
    let api = Api::start().await;
    let mut lists = 0;
    for case in cases() {
        if case.full.is_none() {
            continue;
        }
        api.next_case().await;
        let template =
            wiremock::ResponseTemplate::new(documented_with_body(case.op)).set_body_raw("null", "application/json");
        api.respond(case.op, &case.path, template, 1).await;
        let outcome = call(&api.client, case.op).await;
        if case.list {
            lists += 1;
            assert_eq!(
                outcome.unwrap_or_else(|e| panic!("{}: {e:?}", case.op)),
                json!([]),
                "{}",
                case.op
            );
        } else if let Err(e) = outcome {
            // Only an answer the SDK cannot do without fails, and says which operation.
            assert!(!case.essential.is_empty(), "{}: {e:?}", case.op);
            assert!(matches!(e, fastvm::Error::Decode { .. }), "{}: {e:?}", case.op);
            assert!(e.to_string().contains(case.op), "{}: {e}", case.op);
        }
    }
    assert!(lists >= 2, "the table has list answers");
}

#[tokio::test]
async fn a_body_less_2xx_where_the_result_needs_a_body_is_a_decode_error_naming_operation_and_status() {
    let api = Api::start().await;
    // Deletes and a registration have results their caller knows (the test above).
    for case in cases().iter().filter(|c| !c.empty_answer_known && c.full.is_some()) {
        for (status, answer) in [
            (204, ResponseTemplate::new(204)),
            (200, ResponseTemplate::new(200)),
            (201, ResponseTemplate::new(201).set_body_raw(" \n", "application/json")),
        ] {
            api.next_case().await;
            api.respond(case.op, &case.path, answer, 1).await;
            let err = call(&api.client, case.op)
                .await
                .expect_err(&format!("{} {status} without a body", case.op));
            match &err {
                Error::Decode {
                    operation, status: s, ..
                } => {
                    assert_eq!(*operation, Some(case.op), "{err}");
                    assert_eq!(s.map(|s| s.as_u16()), Some(status), "{err}");
                }
                other => panic!("{} {status} without a body: expected Decode, got {other:?}", case.op),
            }
            let shown = err.to_string();
            assert!(
                shown.contains(case.op) && shown.contains(&status.to_string()),
                "{}: {shown}",
                case.op
            );
            assert!(!err.is_retryable());
        }
    }
}

#[tokio::test]
async fn a_hand_built_request_takes_any_2xx_and_names_a_body_less_one() {
    // `clear_ttl` is sent by hand (the generated type cannot say `"ttl": null`): the same rules.
    let path = format!("/v1/vms/{ID}");
    let api = Api::start().await;
    let mut answer = vm_min(ID, "running");
    answer["futureField"] = json!({ "a": 1 });
    answer["name"] = Value::Null;
    api.respond("updateVm", &path, json_response(203, &answer), 1).await;
    let vm = clear_ttl(&api.client).await.unwrap();
    assert_eq!((vm.id.as_str(), vm.name.as_str(), &vm.ttl), (ID, "", &None));
    api.next_case().await;
    api.respond("updateVm", &path, ResponseTemplate::new(204), 1).await;
    match clear_ttl(&api.client).await {
        Err(Error::Decode { operation, status, .. }) => {
            assert_eq!((operation, status.map(|s| s.as_u16())), (Some("updateVm"), Some(204)));
        }
        other => panic!("expected Decode, got {other:?}"),
    }
}

#[tokio::test]
async fn launch_keeps_201_and_202_and_polls_after_any_other_2xx_until_running() {
    let get = format!("/v1/vms/{ID}");
    // (answer status, answer VM status, polls expected)
    for (status, vm_status, polls) in [
        (201, "running", 0),
        (202, "provisioning", 1),
        (200, "provisioning", 1),
        (203, "warming-up", 1),
        (200, "running", 0),
    ] {
        let api = Api::start().await;
        api.respond("launchVm", "/v1/vms", json_response(status, &vm_min(ID, vm_status)), 1)
            .await;
        if polls > 0 {
            api.expect("getVm", &get, 200, vm_full(ID, "running")).await;
        }
        let vm = launch(&api.client)
            .await
            .unwrap_or_else(|e| panic!("{status} {vm_status}: {e:?}"));
        assert_eq!(vm.status, VmStatus::Running, "{status} {vm_status}");
        let received = api.received().await;
        assert_eq!(
            received.len(),
            1 + polls,
            "{status} {vm_status}: launch, then {polls} polls"
        );
        // The status is handed to the caller that asks for it.
        let api = Api::start().await;
        api.respond("launchVm", "/v1/vms", json_response(status, &vm_min(ID, vm_status)), 1)
            .await;
        let (seen, vm) = launch_no_wait(&api.client, fastvm::launch::machine("c1m2"))
            .await
            .unwrap();
        assert_eq!((seen, vm.status.as_str()), (status, vm_status));
    }
}

// ---- Rule 2: tolerant decoding of every response type ------------------------------------

#[tokio::test]
async fn every_response_type_decodes_with_only_its_essentials() {
    let api = Api::start().await;
    for case in cases() {
        let Some(full) = &case.full else { continue };
        let minimal = essentials_only(&case, full);
        let decoded = answered(&api, &case, &minimal)
            .await
            .unwrap_or_else(|e| panic!("{} with only {minimal}: {e:?}", case.op));
        // Booleans false, numbers 0, strings and lists empty, options left out (None).
        assert_eq!(decoded, decoded_minimal(&case), "{} with only {minimal}", case.op);
    }
}

#[tokio::test]
async fn a_null_member_is_an_absent_one_at_every_depth() {
    let api = Api::start().await;
    for case in cases() {
        let Some(full) = &case.full else { continue };
        // At the top: every non-essential member null decodes as if absent.
        let nulls = top_level_nulls(&case, full);
        let decoded = answered(&api, &case, &nulls)
            .await
            .unwrap_or_else(|e| panic!("{} with {nulls}: {e:?}", case.op));
        assert_eq!(decoded, decoded_minimal(&case), "{} with {nulls}", case.op);
        // At every depth, inside the objects and lists kept: null and absent decode alike.
        let nulled = leaves(&case, full, true);
        let removed = leaves(&case, full, false);
        let with_nulls = answered(&api, &case, &nulled)
            .await
            .unwrap_or_else(|e| panic!("{} with {nulled}: {e:?}", case.op));
        let without = answered(&api, &case, &removed)
            .await
            .unwrap_or_else(|e| panic!("{} with {removed}: {e:?}", case.op));
        assert_eq!(with_nulls, without, "{}: null and absent differ", case.op);
    }
}

#[tokio::test]
async fn absent_members_of_the_types_requests_share_decode_as_visibly_unknown_or_zero() {
    // Firewall rules, policies and the TTL are also sent; absent in an answer, their enums are
    // `Unknown("")` and the TTL's seconds 0 (the facade refuses to send either back).
    let api = Api::start().await;
    let mut answer = vm_min(ID, "running");
    answer["firewall"] = json!({ "ingress": { "rules": [{}] }, "egress": { "rules": [{ "value": "10.0.0.0/8" }] },
        "dns": {} });
    answer["ttl"] = json!({});
    api.respond("getVm", &format!("/v1/vms/{ID}"), json_response(200, &answer), 1)
        .await;
    let vm = api.client.vms().retrieve(ID).await.unwrap();
    let fw = vm.firewall.as_ref().unwrap();
    let ingress = fw.ingress.as_ref().unwrap();
    assert_eq!(ingress.default, PolicyAction::Unknown(String::new()));
    let rule = &ingress.rules[0];
    assert_eq!(rule.action, PolicyAction::Unknown(String::new()));
    assert_eq!(rule.kind, IngressRuleKind::Unknown(String::new()));
    assert_eq!(rule.protocol, IngressRuleProtocol::Unknown(String::new()));
    assert_eq!(
        (rule.value.as_str(), rule.ports.as_str(), &rule.description),
        ("", "", &None)
    );
    let egress = &fw.egress.as_ref().unwrap().rules[0];
    assert_eq!(egress.kind, EgressRuleKind::Unknown(String::new()));
    assert_eq!(egress.protocol, EgressRuleProtocol::Unknown(String::new()));
    assert_eq!(egress.value, "10.0.0.0/8");
    let dns = fw.dns.as_ref().unwrap();
    assert_eq!((&dns.mode, dns.domains.len(), dns.block_bypass), (&None, 0, None));
    let ttl = vm.ttl.as_ref().unwrap();
    assert_eq!((ttl.seconds, &ttl.action), (0, &TtlAction::Unknown(String::new())));
}

/// A date the SDK cannot read (`""` from a Go string without `omitempty`, another format) is
/// absent, never a failure of the whole answer.
#[tokio::test]
async fn unreadable_dates_are_absent_in_every_answer() {
    let api = Api::start().await;
    let mut dates = 0;
    for case in cases() {
        let Some(full) = &case.full else { continue };
        for odd in ["", "yesterday", "2026-05-15 10:00"] {
            let mut body = full.clone();
            each_object(&mut body, &mut |m| {
                for (k, v) in m.iter_mut() {
                    if k.ends_with("At") && v.is_string() {
                        *v = json!(odd);
                        dates += 1;
                    }
                }
            });
            let decoded = answered(&api, &case, &body)
                .await
                .unwrap_or_else(|e| panic!("{} with dates {odd:?}: {e:?}", case.op));
            let mut shown = Vec::new();
            let mut decoded = decoded;
            each_object(&mut decoded, &mut |m| {
                shown.extend(
                    m.iter()
                        .filter(|(k, v)| k.ends_with("At") && !v.is_null())
                        .map(|(k, _)| k.clone()),
                )
            });
            assert!(shown.is_empty(), "{}: {shown:?} kept from {odd:?}", case.op);
        }
    }
    assert!(dates > 10, "the fixtures have dates");
}

#[tokio::test]
async fn extra_members_in_every_object_are_ignored() {
    let api = Api::start().await;
    for case in cases() {
        let Some(full) = &case.full else { continue };
        let extra = with_extras(full);
        let decoded = answered(&api, &case, &extra)
            .await
            .unwrap_or_else(|e| panic!("{} with {extra}: {e:?}", case.op));
        assert_lossless(full, &decoded);
        let plain = answered(&api, &case, full).await.unwrap();
        assert_eq!(decoded, plain, "{}: the extra members changed the result", case.op);
    }
}

#[tokio::test]
async fn a_missing_essential_is_a_decode_error_naming_it() {
    let api = Api::start().await;
    let mut checked = 0;
    for case in cases() {
        let Some(full) = &case.full else { continue };
        for essential in case.essential.iter().copied() {
            let mut body = full.clone();
            each_record(&case, &mut body, |r| {
                r.as_object_mut().unwrap().remove(essential);
            });
            let err = answered(&api, &case, &body)
                .await
                .expect_err(&format!("{} without {essential}", case.op));
            match &err {
                Error::Decode { operation, message, .. } => {
                    assert_eq!(*operation, Some(case.op), "{err}");
                    assert!(message.contains(&format!("`{essential}`")), "{}: {message}", case.op);
                }
                other => panic!("{} without {essential}: expected Decode, got {other:?}", case.op),
            }
            assert!(err.to_string().contains(essential), "{err}");
            checked += 1;
        }
    }
    // Every essential the spec names, in every answer that carries it.
    let expected: usize = cases()
        .iter()
        .filter(|c| c.full.is_some())
        .map(|c| c.essential.len())
        .sum();
    assert_eq!(checked, expected, "every essential of every answer");
    assert!(checked > 0, "openapi.json marks essentials (x-fastvm-essential)");
}

/// A policy with a value this SDK does not know in every enum position.
fn policy_with_unknowns() -> Value {
    json!({
        "ingress": {
            "default": "audit",
            "rules": [{ "action": "log", "kind": "geoip", "value": "DE", "protocol": "icmp", "ports": "echo-request",
                        "description": "pings from Germany" }]
        },
        "egress": {
            "default": "quarantine",
            "rules": [{ "action": "allow", "kind": "asn", "value": "AS64500", "protocol": "sctp", "ports": "any" }]
        },
        "dns": { "mode": "strict", "domains": ["example.com"], "blockBypass": true }
    })
}

#[tokio::test]
async fn unknown_enum_values_in_answers_are_kept_raw() {
    let api = Api::start().await;
    let mut answer = vm_full(ID, "hibernating");
    answer["firewall"] = policy_with_unknowns();
    answer["effectiveFirewall"] = policy_with_unknowns();
    answer["ttl"] = json!({ "seconds": 60, "action": "hibernate" });
    api.respond("getVm", &format!("/v1/vms/{ID}"), json_response(200, &answer), 1)
        .await;
    let vm = api.client.vms().retrieve(ID).await.unwrap();
    assert_eq!(vm.status, VmStatus::Unknown("hibernating".into()));
    assert!(vm.status.is_unknown());
    assert_eq!(
        (vm.status.as_str(), vm.status.to_string()),
        ("hibernating", "hibernating".into())
    );
    for fw in [vm.firewall.as_ref().unwrap(), vm.effective_firewall.as_ref().unwrap()] {
        let ingress = fw.ingress.as_ref().unwrap();
        assert_eq!(ingress.default, PolicyAction::Unknown("audit".into()));
        let rule = &ingress.rules[0];
        // The user can match on the raw value.
        match (&rule.action, &rule.kind, &rule.protocol) {
            (PolicyAction::Unknown(a), IngressRuleKind::Unknown(k), IngressRuleProtocol::Unknown(p)) => {
                assert_eq!((a.as_str(), k.as_str(), p.as_str()), ("log", "geoip", "icmp"));
            }
            other => panic!("unknown values not kept: {other:?}"),
        }
        assert_eq!(rule.ports, "echo-request");
        let egress = fw.egress.as_ref().unwrap();
        assert_eq!(egress.default.as_str(), "quarantine");
        assert_eq!(egress.rules[0].kind, EgressRuleKind::Unknown("asn".into()));
        assert_eq!(egress.rules[0].protocol, EgressRuleProtocol::Unknown("sctp".into()));
        assert_eq!(egress.rules[0].action, PolicyAction::Allow, "a known value stays typed");
        assert_eq!(fw.dns.as_ref().unwrap().mode, Some(DnsMode::Unknown("strict".into())));
    }
    assert_eq!(vm.ttl.as_ref().unwrap().action, TtlAction::Unknown("hibernate".into()));
    assert_lossless(&answer, &vm);
    api.sent("getVm").await;

    // The other open statuses: snapshots, builds, and VMs in a list and a launch answer.
    let cases = cases();
    let case = |op: &str| cases.iter().find(|c| c.op == op).unwrap();
    let mut snap = snapshot();
    snap["status"] = json!("archiving");
    let decoded = answered(&api, case("getSnapshot"), &snap).await.unwrap();
    assert_eq!(decoded["status"], "archiving");
    api.next_case().await;
    serve(&api, case("getSnapshot"), 200, &snap).await;
    let s = api.client.snapshots().retrieve(SNAP).await.unwrap();
    assert_eq!(s.status, SnapshotStatus::Unknown("archiving".into()));
    assert!(
        !s.status.is_terminal(),
        "an unknown snapshot status is still being made"
    );
    let mut b = build();
    b["status"] = json!("queued");
    api.next_case().await;
    serve(&api, case("getBuild"), 200, &b).await;
    let got = api.client.builds().retrieve(BUILD).await.unwrap();
    assert_eq!(got.status, fastvm::types::BuildStatus::Unknown("queued".into()));
    let list = json!([vm_min(ID, "migrating"), vm_min("vm-2", "running")]);
    let decoded = answered(&api, case("listVms"), &list).await.unwrap();
    assert_eq!(
        (decoded[0]["status"].as_str(), decoded[1]["status"].as_str()),
        (Some("migrating"), Some("running"))
    );
    api.next_case().await;
    serve(&api, case("launchVm"), 201, &vm_min(ID, "warming-up")).await;
    let (_, launched) = launch_no_wait(&api.client, fastvm::launch::machine("c1m2"))
        .await
        .unwrap();
    assert_eq!(launched.status, VmStatus::Unknown("warming-up".into()));
}

/// The JSON body of the one request received (not checked against the spec: it holds values
/// the spec does not know), after checking its method and path.
async fn sent_unchecked(api: &Api, op: &str, raw_path: &str) -> Value {
    let received = api.received().await;
    assert_eq!(received.len(), 1, "{op}: one request");
    let spec = schema::operation(op);
    assert_eq!(
        (received[0].method.as_str(), received[0].url.path()),
        (spec.method.as_str(), raw_path)
    );
    serde_json::from_slice(&received[0].body).expect("a JSON body")
}

#[tokio::test]
async fn a_policy_read_back_with_unknown_values_is_sent_back_verbatim() {
    let firewall_path = format!("/v1/vms/{ID}/firewall");
    // A fresh server and client, and the VM read from it (the read is then forgotten).
    let read = || async {
        let api = Api::start().await;
        let mut answer = vm_min(ID, "running");
        answer["firewall"] = policy_with_unknowns();
        answer["ttl"] = json!({ "seconds": 60, "action": "hibernate" });
        api.respond("getVm", &format!("/v1/vms/{ID}"), json_response(200, &answer), 1)
            .await;
        let vm = api.client.vms().retrieve(ID).await.unwrap();
        api.next_case().await;
        (api, vm)
    };

    // PUT and PATCH send the policy as it was read: unknown values verbatim, nothing dropped.
    for op in ["setVmFirewall", "patchVmFirewall"] {
        let (api, vm) = read().await;
        api.respond(op, &firewall_path, json_response(200, &vm_min(ID, "running")), 1)
            .await;
        let policy = vm.firewall.clone().unwrap();
        let result = if op == "setVmFirewall" {
            set_firewall(&api.client, policy).await
        } else {
            patch_firewall(&api.client, policy).await
        };
        result.unwrap();
        assert_eq!(
            sent_unchecked(&api, op, &firewall_path).await,
            policy_with_unknowns(),
            "{op}"
        );
    }
    // Launch with it, and a TTL with an unknown action back to PATCH.
    let (api, vm) = read().await;
    api.respond("launchVm", "/v1/vms", json_response(201, &vm_min(ID, "running")), 1)
        .await;
    launch_with_firewall(&api.client, vm.firewall.clone().unwrap())
        .await
        .unwrap();
    let body = sent_unchecked(&api, "launchVm", "/v1/vms").await;
    assert_eq!(
        body,
        json!({ "machineType": "c1m2", "firewall": policy_with_unknowns() })
    );
    api.next_case().await;
    api.respond(
        "updateVm",
        &format!("/v1/vms/{ID}"),
        json_response(200, &vm_min(ID, "running")),
        1,
    )
    .await;
    update_ttl(&api.client, vm.ttl.clone().unwrap()).await.unwrap();
    let body = sent_unchecked(&api, "updateVm", &format!("/v1/vms/{ID}")).await;
    assert_eq!(body, json!({ "ttl": { "seconds": 60, "action": "hibernate" } }));
}

/// A valid policy with one member replaced: `pointer` → `value`.
fn policy_with(pointer: &str, value: Value) -> FirewallPolicy {
    let mut p = common::firewall_full_json();
    *p.pointer_mut(pointer).unwrap_or_else(|| panic!("no {pointer}")) = value;
    serde_json::from_value(p).expect("a policy decodes")
}

#[tokio::test]
async fn an_empty_unknown_value_is_refused_before_any_request() {
    let api = Api::start().await;
    for (pointer, field) in [
        ("/ingress/default", "firewall.ingress.default"),
        ("/ingress/rules/0/action", "firewall.ingress.rules[0].action"),
        ("/ingress/rules/0/kind", "firewall.ingress.rules[0].kind"),
        ("/ingress/rules/0/protocol", "firewall.ingress.rules[0].protocol"),
        ("/egress/default", "firewall.egress.default"),
        ("/egress/rules/1/action", "firewall.egress.rules[1].action"),
        ("/egress/rules/1/kind", "firewall.egress.rules[1].kind"),
        ("/egress/rules/1/protocol", "firewall.egress.rules[1].protocol"),
        ("/dns/mode", "firewall.dns.mode"),
    ] {
        for empty in ["", "  "] {
            let policy = policy_with(pointer, json!(empty));
            assert_invalid(set_firewall(&api.client, policy.clone()).await, field);
            assert_invalid(patch_firewall(&api.client, policy.clone()).await, field);
            assert_invalid(launch_with_firewall(&api.client, policy).await, field);
        }
    }
    // Built by hand, the same.
    let mut policy = common::firewall_full();
    policy.ingress.as_mut().unwrap().rules[0].protocol = IngressRuleProtocol::Unknown(String::new());
    assert_invalid(
        set_firewall(&api.client, policy).await,
        "firewall.ingress.rules[0].protocol",
    );
    let ttl = Ttl::new;
    assert_invalid(
        update_ttl(&api.client, ttl(60, TtlAction::Unknown(String::new()))).await,
        "ttl.action",
    );
    assert_invalid(update_ttl(&api.client, ttl(0, TtlAction::Pause)).await, "ttl.seconds");
    let mut request = CreateVmRequest::new();
    request.ttl = Some(ttl(0, TtlAction::Delete));
    assert_invalid(launch_no_wait(&api.client, request).await, "ttl.seconds");
    assert!(api.received().await.is_empty(), "nothing was sent");

    // Read back with members absent (decoded as empty unknowns), the same: refused, not sent.
    let mut answer = vm_min(ID, "running");
    answer["firewall"] = json!({ "ingress": { "default": "deny", "rules": [
        { "action": "allow", "kind": "cidr", "value": "10.0.0.0/8", "ports": "22" }] } });
    answer["ttl"] = json!({ "action": "pause" });
    api.respond("getVm", &format!("/v1/vms/{ID}"), json_response(200, &answer), 1)
        .await;
    let vm = api.client.vms().retrieve(ID).await.unwrap();
    assert_eq!(api.received().await.len(), 1);
    assert_invalid(
        set_firewall(&api.client, vm.firewall.clone().unwrap()).await,
        "firewall.ingress.rules[0].protocol",
    );
    assert_invalid(update_ttl(&api.client, vm.ttl.clone().unwrap()).await, "ttl.seconds");
    assert_eq!(api.received().await.len(), 1, "only the read was sent");
}

#[tokio::test]
async fn waiting_treats_unknown_statuses_as_in_progress() {
    let get = format!("/v1/vms/{ID}");
    let api = Api::start().await;
    api.respond_first("getVm", &get, json_response(200, &vm_min(ID, "hibernating")), 1)
        .await;
    api.respond("getVm", &get, json_response(200, &vm_min(ID, "running")), 1)
        .await;
    let vm = api
        .client
        .wait_for_vm_ready(ID)
        .poll_interval(FAST)
        .deadline(DEADLINE)
        .await
        .unwrap();
    assert_eq!(vm.status, VmStatus::Running);
    assert_eq!(api.received().await.len(), 2);

    // Until the deadline: not ready (not a launch failure), with the raw status.
    let api = Api::start().await;
    api.respond("getVm", &get, json_response(200, &vm_min(ID, "hibernating")), 1..)
        .await;
    let wait = Duration::from_millis(100);
    match api.client.wait_for_vm_ready(ID).deadline(wait).await {
        Err(Error::VmNotReady { last_status, .. }) => {
            assert_eq!(last_status, VmStatus::Unknown("hibernating".into()));
        }
        other => panic!("expected VmNotReady, got {other:?}"),
    }

    let path = format!("/v1/builds/{BUILD}");
    let mut queued = build();
    queued["status"] = json!("queued");
    let mut done = build();
    done["status"] = json!("completed");
    let api = Api::start().await;
    api.respond_first("getBuild", &path, json_response(200, &queued), 1)
        .await;
    api.respond("getBuild", &path, json_response(200, &done), 1).await;
    let finished = api
        .client
        .wait_for_build(BUILD)
        .poll_interval(FAST)
        .deadline(DEADLINE)
        .await
        .unwrap();
    assert_eq!(finished.status, fastvm::types::BuildStatus::Completed);
    assert_eq!(api.received().await.len(), 2);

    let api = Api::start().await;
    api.respond("getBuild", &path, json_response(200, &queued), 1..).await;
    match api.client.wait_for_build(BUILD).deadline(wait).await {
        Err(Error::BuildNotFinished { last_status, .. }) => {
            assert_eq!(last_status, fastvm::types::BuildStatus::Unknown("queued".into()));
        }
        other => panic!("expected BuildNotFinished, got {other:?}"),
    }
}

#[tokio::test]
async fn an_exec_stream_takes_any_2xx_and_absent_null_and_extra_members() {
    let api = Api::start().await;
    let body = [
        json!({ "t": "o", "d": "aGk=", "future": 1 }),
        json!({ "t": "e", "d": null }),
        json!({ "t": "o" }),
        json!({ "t": "x", "c": null, "to": null, "ms": null, "d": null, "extra": { "a": [1] } }),
    ]
    .iter()
    .map(|l| format!("{l}\n"))
    .collect::<String>();
    api.respond(
        "execVm",
        &format!("/v1/vms/{ID}/exec"),
        ResponseTemplate::new(203).set_body_raw(body, "application/x-ndjson"),
        1,
    )
    .await;
    let events = stream_events(&api.client).await.unwrap();
    assert_eq!(
        events,
        [
            ExecEvent::Stdout("hi".into()),
            ExecEvent::Stderr(bytes::Bytes::new()),
            ExecEvent::Stdout(bytes::Bytes::new()),
            ExecEvent::Exit {
                code: 0,
                timed_out: false,
                duration: None,
                diagnostic: None
            },
        ]
    );
}

// ---- Rule 3: retries (the rest is in facade_retry.rs) -------------------------------------

#[tokio::test]
async fn a_retry_after_past_a_cap_the_user_lowered_falls_back_to_the_backoff() {
    // 30 s asked, under the default cap (60 s) but over the client's (1 s): the retry waits the
    // (5 ms) backoff. Were the cap not the client's, the call would wait 30 s.
    let policy = fastvm::RetryPolicy::new()
        .max_retries(1)
        .initial_backoff(Duration::from_millis(5))
        .max_retry_after(Duration::from_secs(1));
    for hint in [("retry-after", "30"), ("retry-after-ms", "30000")] {
        let api = Api::start_with(|b| b.retry_policy(policy.clone())).await;
        let get = format!("/v1/vms/{ID}");
        let busy = json_response(503, &json!({ "error": "busy" })).insert_header(hint.0, hint.1);
        api.respond_first("getVm", &get, busy, 1).await;
        api.expect("getVm", &get, 200, vm_min(ID, "running")).await;
        let started = std::time::Instant::now();
        tokio::time::timeout(Duration::from_secs(10), api.client.vms().retrieve(ID))
            .await
            .unwrap_or_else(|_| panic!("{hint:?}: the retry waited for the server's hint"))
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(5), "{hint:?}");
        assert_eq!(api.sent_all("getVm").await.len(), 2);
    }
}

// ---- Rule 4: meaningful empty lists are sent -----------------------------------------------

#[tokio::test]
async fn empty_lists_are_sent_as_written() {
    let firewall_path = format!("/v1/vms/{ID}/firewall");
    // PATCH clearing the ingress rules: byte for byte.
    let api = Api::start().await;
    api.expect("patchVmFirewall", &firewall_path, 200, vm_min(ID, "running"))
        .await;
    let written = r#"{"ingress":{"default":"deny","rules":[]}}"#;
    patch_firewall(&api.client, serde_json::from_str(written).unwrap())
        .await
        .unwrap();
    let sent = api.sent("patchVmFirewall").await;
    assert_eq!(sent.json(), &serde_json::from_str::<Value>(written).unwrap());
    let raw = api.received().await[0].body.clone();
    assert_eq!(String::from_utf8(raw).unwrap(), written);

    // Every list of a policy, empty, in PUT, PATCH and launch.
    let empty = json!({ "ingress": { "default": "allow", "rules": [] }, "egress": { "default": "deny", "rules": [] },
        "dns": { "mode": "allow", "domains": [] } });
    let policy: FirewallPolicy = serde_json::from_value(empty.clone()).unwrap();
    for op in ["setVmFirewall", "patchVmFirewall"] {
        let api = Api::start().await;
        api.expect(op, &firewall_path, 200, vm_min(ID, "running")).await;
        if op == "setVmFirewall" {
            set_firewall(&api.client, policy.clone()).await.unwrap();
        } else {
            patch_firewall(&api.client, policy.clone()).await.unwrap();
        }
        assert_eq!(api.sent(op).await.json(), &empty, "{op}");
    }
    let api = Api::start().await;
    api.expect("launchVm", "/v1/vms", 201, vm_min(ID, "running")).await;
    launch_with_firewall(&api.client, policy).await.unwrap();
    assert_eq!(
        api.sent("launchVm").await.json(),
        &json!({ "machineType": "c1m2", "firewall": empty })
    );
}
