//! Tolerant decoding as a property (issue rule 2): a response fixture of any response type,
//! with members removed, set to `null` or added at any depth and enum-valued strings replaced
//! by arbitrary strings, decodes with the generated type, without an error or a panic, as long
//! as the essentials (the ids, statuses, URLs and tokens the spec marks `x-fastvm-essential`)
//! are kept; removing or nulling an essential is an error (naming a removed one),
//! never a panic.
//!
//! The fixtures are full (every property the spec declares, at every depth, is present, and
//! every list has an element) and strictly valid against `openapi.json`. The answer types and
//! their decoders are the generated table `fastvm_api::tables::ANSWERS` (the generated types
//! are `fastvm::types`), checked to cover the JSON body of every 2xx answer of every
//! operation; a few hand-written values make the fixtures realistic, and whatever they leave
//! out is sampled from the spec, so a new answer type needs nothing here. Besides the random
//! combinations, every single mutation is also tried exhaustively.

mod common;

use std::collections::BTreeSet;

use fastvm_tests::schema;
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Map, Value, json};

// ---- The calls into the SDK: decoding with the generated types --------------------------------

/// Decodes `v` as the answer's generated type and gives it back re-encoded, or the decoder's
/// message (`fastvm_api::tables::decode`: as the SDK decodes an answer's bytes, and checked
/// against `serde_json::from_value`).
type Decode = fn(&Value) -> Result<Value, String>;

// ---- Fixtures -----------------------------------------------------------------------------

/// One response type with a full fixture.
struct Fixture {
    /// The generated Rust type (from the generated table).
    name: &'static str,
    /// Its schema in the spec (a component, or an array of one).
    schema: Value,
    full: Value,
    decode: Decode,
    /// The records are the elements of a top-level array (a list answer).
    list: bool,
}

impl Fixture {
    /// Members a record cannot do without: the spec's `x-fastvm-essential` of its schema.
    fn essential(&self) -> Vec<&'static str> {
        let record = if self.list { &self.schema["items"] } else { &self.schema };
        let name = record["$ref"]
            .as_str()
            .and_then(|r| r.rsplit('/').next())
            .unwrap_or_default();
        fastvm_tests::schema::spec()["components"]["schemas"][name]["x-fastvm-essential"]
            .as_array()
            .map(|e| e.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }
}

fn component(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn array_of(name: &str) -> Value {
    json!({ "type": "array", "items": component(name) })
}

/// A firewall policy with every block, field and list element present.
fn firewall() -> Value {
    json!({
        "ingress": {
            "default": "deny",
            "rules": [{ "action": "allow", "kind": "cidr", "value": "10.0.0.0/8", "protocol": "tcp",
                        "ports": "8080-8090", "description": "office" }]
        },
        "egress": {
            "default": "allow",
            "rules": [{ "action": "deny", "kind": "fqdn", "value": "*.example.com", "protocol": "any",
                        "ports": "any", "description": "no example" }]
        },
        "dns": { "mode": "allow", "domains": ["example.com"], "blockBypass": true }
    })
}

fn vm() -> Value {
    let mut vm = common::vm_full("0b5e2f9a-1c3d-4e5f-8a9b-0c1d2e3f4a5b", "running");
    vm["firewall"] = firewall();
    vm["effectiveFirewall"] = firewall();
    vm
}

fn snapshot_service() -> Value {
    json!({ "name": "web", "port": 8080, "h2c": true })
}

fn snapshot() -> Value {
    json!({
        "id": "5a1e0c3b-7d2f-4e8a-9b6c-1f0e2d3c4b5a",
        "name": "golden",
        "orgId": "org-7f3a",
        "vmId": "0b5e2f9a-1c3d-4e5f-8a9b-0c1d2e3f4a5b",
        "status": "ready",
        "createdAt": "2026-05-15T10:00:00Z",
        "metadata": { "team": "infra" },
        "envVars": { "RUST_LOG": "debug" },
        "firewall": firewall(),
        "services": [snapshot_service()]
    })
}

fn service() -> Value {
    json!({ "name": "web", "port": 8080, "h2c": false })
}

fn ssh_key() -> Value {
    json!({
        "publicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE7x",
        "fingerprint": "SHA256:ab+c/d=",
        "name": "laptop",
        "createdAt": "2026-05-15T10:00:00Z"
    })
}

fn quota_values(n: i64) -> Value {
    json!({ "vcpu": n, "memoryMiB": n * 2048, "diskGiB": n * 10, "snapshotCount": n })
}

/// The fixtures, built once (the property tests look them up for every case): one per answer
/// type of the generated table, its hand-written values (`realistic`) where there are some,
/// completed from the spec.
fn fixtures() -> &'static [Fixture] {
    static FIXTURES: std::sync::OnceLock<Vec<Fixture>> = std::sync::OnceLock::new();
    FIXTURES.get_or_init(|| {
        fastvm_api::tables::ANSWERS
            .iter()
            .map(|answer| {
                let (schema, list) = match answer.schema.strip_prefix('[').and_then(|k| k.strip_suffix(']')) {
                    Some(item) => (array_of(item), true),
                    None => (component(answer.schema), false),
                };
                let mut full = realistic()
                    .into_iter()
                    .find(|(key, _)| *key == answer.schema)
                    .map_or_else(|| if list { json!([{}]) } else { json!({}) }, |(_, v)| v);
                // A field the spec gains (or a whole new answer type) is sampled in: the
                // fixtures stay full.
                schema::complete(&schema, &mut full);
                Fixture {
                    name: answer.rust,
                    schema,
                    full,
                    decode: answer.decode,
                    list,
                }
            })
            .collect()
    })
}

/// Hand-written values of answers (`Schema` or `[Schema]`), where sampled ones would say less
/// (real ids, URLs, policies, two list elements); any other answer is all sampled.
fn realistic() -> Vec<(&'static str, Value)> {
    let mut launched = vm();
    launched["snapshotRestoreWarnings"] = json!({
        "servicesRegistrationFailed": true,
        "reason": "proxy unavailable",
        "unregisteredServices": [snapshot_service()]
    });
    vec![
        ("HealthResponse", json!({ "status": "ok" })),
        (
            "FilePresignResponse",
            json!({
                "uploadUrl": "https://storage.example/up?X-Sig=1",
                "downloadUrl": "https://storage.example/down?X-Sig=2",
                "expiresInSec": 900,
                "maxUploadBytes": 10737418240i64
            }),
        ),
        (
            "BuildResponse",
            json!({
                "id": "b-1", "status": "failed", "name": "web", "imageRef": "python:3.13-slim",
                "createdAt": "2026-05-15T10:00:00Z", "progress": "buildah bud",
                "snapshotId": "snap-77", "error": "buildah bud: exit 1"
            }),
        ),
        (
            "OrgQuotaUsage",
            json!({ "orgId": "org-7f3a", "limits": quota_values(8), "usage": quota_values(2) }),
        ),
        ("Snapshot", snapshot()),
        ("[Snapshot]", json!([snapshot(), snapshot()])),
        ("DeleteResponse", json!({ "id": "0b5e2f9a", "deleted": true })),
        ("VM", vm()),
        ("[VM]", json!([vm(), vm()])),
        ("VMCreateResponse", launched),
        (
            "ConsoleTokenResponse",
            json!({ "token": "tok-1", "websocketPath": "/v1/vms/x/console/ws", "expiresInSec": 60 }),
        ),
        (
            "ExecVMResponse",
            json!({
                "exitCode": 3, "stdout": "out", "stderr": "err", "durationMs": 12,
                "timedOut": true, "stdoutTruncated": true, "stderrTruncated": true
            }),
        ),
        ("Service", service()),
        ("[Service]", json!([service(), service()])),
        ("SshKey", ssh_key()),
        ("SshKeyListResponse", json!({ "keys": [ssh_key()] })),
    ]
}

/// Members whose values are enums (open in responses): replacing them is meaningful. From the
/// spec (`schema::enum_property_names`).
fn is_enum_key(k: &str) -> bool {
    static KEYS: std::sync::OnceLock<BTreeSet<String>> = std::sync::OnceLock::new();
    KEYS.get_or_init(schema::enum_property_names).contains(k)
}

/// Objects that are maps (string to string), not structs: their members are entries. From the
/// spec (`schema::map_property_names`).
fn is_map_key(k: &str) -> bool {
    static KEYS: std::sync::OnceLock<BTreeSet<String>> = std::sync::OnceLock::new();
    KEYS.get_or_init(schema::map_property_names).contains(k)
}

// ---- Paths and mutations ------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Idx(usize),
}

type Path = Vec<Step>;

fn show(path: &Path) -> String {
    let parts: Vec<String> = path
        .iter()
        .map(|s| match s {
            Step::Key(k) => k.clone(),
            Step::Idx(i) => format!("[{i}]"),
        })
        .collect();
    format!("/{}", parts.join("/"))
}

fn at<'v>(v: &'v Value, path: &[Step]) -> Option<&'v Value> {
    path.iter().try_fold(v, |v, s| match s {
        Step::Key(k) => v.get(k.as_str()),
        Step::Idx(i) => v.get(*i),
    })
}

fn at_mut<'v>(v: &'v mut Value, path: &[Step]) -> Option<&'v mut Value> {
    path.iter().try_fold(v, |v, s| match s {
        Step::Key(k) => v.get_mut(k.as_str()),
        Step::Idx(i) => v.get_mut(*i),
    })
}

/// Every object (`objects`) and every object member (`members`) of `v`, at any depth.
fn walk(v: &Value, path: &mut Path, objects: &mut Vec<Path>, members: &mut Vec<Path>) {
    match v {
        Value::Object(m) => {
            objects.push(path.clone());
            for (k, child) in m {
                path.push(Step::Key(k.clone()));
                members.push(path.clone());
                walk(child, path, objects, members);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                path.push(Step::Idx(i));
                walk(child, path, objects, members);
                path.pop();
            }
        }
        _ => {}
    }
}

fn objects_and_members(v: &Value) -> (Vec<Path>, Vec<Path>) {
    let (mut objects, mut members) = (Vec::new(), Vec::new());
    walk(v, &mut Vec::new(), &mut objects, &mut members);
    (objects, members)
}

fn last_key(path: &[Step]) -> Option<&str> {
    match path.last() {
        Some(Step::Key(k)) => Some(k),
        _ => None,
    }
}

/// Whether the object at `path` is a map.
fn is_map(path: &[Step]) -> bool {
    last_key(path).is_some_and(is_map_key)
}

/// Whether the member at `path` is an essential of one of the fixture's records.
fn is_essential(f: &Fixture, path: &[Step]) -> bool {
    let record_depth = usize::from(f.list);
    path.len() == record_depth + 1
        && (!f.list || matches!(path[0], Step::Idx(_)))
        && last_key(path).is_some_and(|k| f.essential().contains(&k))
}

#[derive(Debug, Clone)]
enum Op {
    /// Remove a member (a non-essential one, or a map entry).
    Remove(Index),
    /// Set a (non-essential, non-map-entry) member to `null`.
    Null(Index),
    /// Add a member the types do not know, to any object (a string to a map).
    Add(Index, String, Value),
    /// Replace the string of an enum-valued member.
    Replace(Index, String),
}

/// What a sequence of mutations did, for the checks after decoding.
#[derive(Debug, Default)]
struct Applied {
    /// Replaced enum positions (each still holds its string unless a later op changed it).
    replaced: Vec<Path>,
    log: Vec<String>,
}

/// Applies `op` to `v` (a no-op when nothing is eligible). With `keep_essentials`, essentials
/// are never removed or nulled.
fn apply(f: &Fixture, v: &mut Value, op: &Op, keep_essentials: bool, applied: &mut Applied) {
    let (objects, members) = objects_and_members(v);
    let parent_is_map = |p: &Path| is_map(&p[..p.len() - 1]);
    let spared = |p: &Path| keep_essentials && is_essential(f, p);
    match op {
        Op::Remove(i) => {
            let eligible: Vec<&Path> = members.iter().filter(|p| !spared(p)).collect();
            if eligible.is_empty() {
                return;
            }
            let p = eligible[i.index(eligible.len())].clone();
            let (parent, key) = (&p[..p.len() - 1], last_key(&p).unwrap_or_default().to_string());
            at_mut(v, parent).and_then(Value::as_object_mut).map(|o| o.remove(&key));
            applied.log.push(format!("remove {}", show(&p)));
        }
        Op::Null(i) => {
            let eligible: Vec<&Path> = members.iter().filter(|p| !spared(p) && !parent_is_map(p)).collect();
            if eligible.is_empty() {
                return;
            }
            let p = eligible[i.index(eligible.len())].clone();
            *at_mut(v, &p).expect("a listed member exists") = Value::Null;
            applied.log.push(format!("null {}", show(&p)));
        }
        Op::Add(i, name, value) => {
            let p = objects[i.index(objects.len())].clone();
            let value = if is_map(&p) {
                Value::String(value.to_string())
            } else {
                value.clone()
            };
            let object = at_mut(v, &p)
                .and_then(Value::as_object_mut)
                .expect("a listed object exists");
            if !object.contains_key(name) {
                object.insert(name.clone(), value);
                applied.log.push(format!("add {}/{name:?}", show(&p)));
            }
        }
        Op::Replace(i, s) => {
            let eligible: Vec<&Path> = members
                .iter()
                .filter(|p| {
                    last_key(p).is_some_and(is_enum_key) && !parent_is_map(p) && at(v, p).is_some_and(Value::is_string)
                })
                .collect();
            if eligible.is_empty() {
                return;
            }
            let p = eligible[i.index(eligible.len())].clone();
            *at_mut(v, &p).expect("a listed member exists") = Value::String(s.clone());
            applied.log.push(format!("replace {} with {s:?}", show(&p)));
            applied.replaced.push(p);
        }
    }
}

/// After a successful decode: every replaced enum value is kept as it was sent (a known value
/// as its variant, any other in `Unknown`, both re-encoded to the same string).
fn check_replaced_kept(mutated: &Value, decoded: &Value, applied: &Applied) -> Result<(), String> {
    for p in &applied.replaced {
        let Some(sent @ Value::String(_)) = at(mutated, p) else {
            continue;
        };
        let back = at(decoded, p);
        if back != Some(sent) {
            return Err(format!("{} was {sent}, decoded as {back:?}", show(p)));
        }
    }
    Ok(())
}

// ---- Strategies ---------------------------------------------------------------------------

/// Every property name the spec declares anywhere: an added member never uses one.
fn known_names() -> &'static BTreeSet<String> {
    static NAMES: std::sync::OnceLock<BTreeSet<String>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        fn collect(v: &Value, out: &mut BTreeSet<String>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::Object(props)) = m.get("properties") {
                        out.extend(props.keys().cloned());
                    }
                    m.values().for_each(|v| collect(v, out));
                }
                Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
                _ => {}
            }
        }
        let mut names = BTreeSet::new();
        collect(schema::spec(), &mut names);
        names
    })
}

fn extra_name() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z][a-zA-Z0-9]{0,12}", "x-\\PC{0,10}", "\\PC{0,6}",]
        .prop_filter("not a name the spec declares", |n| !known_names().contains(n))
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(extra_name(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => any::<Index>().prop_map(Op::Remove),
        3 => any::<Index>().prop_map(Op::Null),
        2 => (any::<Index>(), extra_name(), json_value()).prop_map(|(i, n, v)| Op::Add(i, n, v)),
        2 => (any::<Index>(), "\\PC{0,16}").prop_map(|(i, s)| Op::Replace(i, s)),
    ]
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // No regression files in the source tree; a failure prints its minimal case.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---- The fixtures themselves --------------------------------------------------------------

/// `s` with its `$ref` (and a one-element `allOf` around one) followed.
fn resolve(s: &Value) -> &Value {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/components/schemas/");
        return resolve(&schema::spec()["components"]["schemas"][name]);
    }
    match s.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
        Some([one]) => resolve(one),
        _ => s,
    }
}

/// Panics unless `v` has every property `s` declares, at every depth, and every list in it has
/// an element.
fn assert_full(s: &Value, v: &Value, path: &str) {
    let s = resolve(s);
    match v {
        Value::Object(m) => {
            for (k, ps) in s.get("properties").and_then(Value::as_object).into_iter().flatten() {
                let child = m
                    .get(k)
                    .unwrap_or_else(|| panic!("fixture lacks {path}/{k}: it must be full"));
                assert_full(ps, child, &format!("{path}/{k}"));
            }
        }
        Value::Array(items) => {
            assert!(!items.is_empty(), "fixture list {path} is empty: it must be full");
            for (i, item) in items.iter().enumerate() {
                assert_full(&s["items"], item, &format!("{path}[{i}]"));
            }
        }
        _ => {}
    }
}

/// The JSON body schema of every 2xx answer in the spec, as `X` or `[X]`.
fn response_types() -> BTreeSet<String> {
    let name = |s: &Value| -> Option<String> {
        let r = s.get("$ref").and_then(Value::as_str)?;
        Some(r.rsplit('/').next()?.to_string())
    };
    let mut out = BTreeSet::new();
    for op in schema::operations() {
        for (code, resp) in op.value["responses"].as_object().expect("responses") {
            let Some(s) = resp.pointer("/content/application~1json/schema") else {
                continue;
            };
            if !code.starts_with('2') {
                continue;
            }
            let key = match name(s) {
                Some(n) => n,
                None => format!("[{}]", name(&s["items"]).expect("a list of a component")),
            };
            out.insert(key);
        }
    }
    out
}

fn schema_key(s: &Value) -> String {
    let name = |s: &Value| s["$ref"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    if s.get("items").is_some() {
        format!("[{}]", name(&s["items"]))
    } else {
        name(s)
    }
}

#[test]
fn the_fixtures_are_full_spec_valid_and_cover_every_response_type() {
    let fixtures = fixtures();
    for f in fixtures {
        schema::validate(&f.schema, &f.full, true)
            .unwrap_or_else(|e| panic!("{} fixture does not match openapi.json: {e}", f.name));
        assert_full(&f.schema, &f.full, f.name);
        (f.decode)(&f.full).unwrap_or_else(|e| panic!("the full {} fixture does not decode: {e}", f.name));
        // Each essential is one the spec requires of the record.
        let record = resolve(if f.list { &f.schema["items"] } else { &f.schema });
        for e in f.essential() {
            assert!(
                record["required"].as_array().unwrap().iter().any(|r| r == e),
                "{}.{e} is not required by the spec",
                f.name
            );
        }
    }
    let covered: BTreeSet<String> = fixtures.iter().map(|f| schema_key(&f.schema)).collect();
    let missing: Vec<String> = response_types().into_iter().filter(|t| !covered.contains(t)).collect();
    assert!(
        missing.is_empty(),
        "answer types of openapi.json missing from the generated table fastvm_api::tables::ANSWERS: {missing:?} \
         (fastvm-api/codegen/tables.rs derives it from the answers progenitor generates; `cargo xtask regen`)"
    );
    // Each hand-written value is one of an answer the spec still has.
    for (key, _) in realistic() {
        assert!(
            covered.contains(key),
            "{key} is no answer type any more: remove it from `realistic`"
        );
    }
}

// ---- Exhaustive single mutations ----------------------------------------------------------

#[test]
fn every_single_member_removed_or_nulled_decodes() {
    let mut failures = Vec::new();
    for f in fixtures() {
        let (_, members) = objects_and_members(&f.full);
        for p in members.iter().filter(|p| !is_essential(f, p)) {
            let mut removed = f.full.clone();
            let parent = &p[..p.len() - 1];
            let key = last_key(p).unwrap().to_string();
            at_mut(&mut removed, parent)
                .unwrap()
                .as_object_mut()
                .unwrap()
                .remove(&key);
            if let Err(e) = (f.decode)(&removed) {
                failures.push(format!("{}: without {}: {e}", f.name, show(p)));
            }
            if is_map(parent) {
                continue;
            }
            let mut nulled = f.full.clone();
            *at_mut(&mut nulled, p).unwrap() = Value::Null;
            if let Err(e) = (f.decode)(&nulled) {
                failures.push(format!("{}: with {} null: {e}", f.name, show(p)));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_enum_position_keeps_an_unknown_value() {
    let mut failures = Vec::new();
    for f in fixtures() {
        let (_, members) = objects_and_members(&f.full);
        for p in members.iter().filter(|p| last_key(p).is_some_and(is_enum_key)) {
            for value in ["hibernating", "", "ICMP", "tcp "] {
                let mut v = f.full.clone();
                *at_mut(&mut v, p).unwrap() = json!(value);
                let applied = Applied {
                    replaced: vec![p.clone()],
                    log: Vec::new(),
                };
                match (f.decode)(&v) {
                    Ok(decoded) => {
                        if let Err(e) = check_replaced_kept(&v, &decoded, &applied) {
                            failures.push(format!("{}: {e}", f.name));
                        }
                    }
                    Err(e) => failures.push(format!("{}: {} = {value:?}: {e}", f.name, show(p))),
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn extra_members_in_every_object_at_once_decode() {
    for f in fixtures() {
        let mut v = f.full.clone();
        let (objects, _) = objects_and_members(&v);
        // Not to maps: their members are entries (data), not fields.
        for p in objects.iter().filter(|p| !is_map(p)) {
            let object = at_mut(&mut v, p).unwrap().as_object_mut().unwrap();
            object.insert(
                "futureField".into(),
                json!({ "nested": [1, null, { "deeper": true }], "n": 1.5 }),
            );
            object.insert("x-null".into(), Value::Null);
        }
        let decoded = (f.decode)(&v).unwrap_or_else(|e| panic!("{} with extra members: {e}", f.name));
        // Ignored: what decodes is what the fixture without them decodes to.
        assert_eq!(decoded, (f.decode)(&f.full).unwrap(), "{}", f.name);
    }
}

#[test]
fn every_essential_removed_or_nulled_is_an_error_naming_it() {
    for f in fixtures() {
        let (_, members) = objects_and_members(&f.full);
        for p in members.iter().filter(|p| is_essential(f, p)) {
            let key = last_key(p).unwrap().to_string();
            let mut removed = f.full.clone();
            at_mut(&mut removed, &p[..p.len() - 1])
                .unwrap()
                .as_object_mut()
                .unwrap()
                .remove(&key);
            let err = (f.decode)(&removed).expect_err(&format!("{} without {}", f.name, show(p)));
            assert!(
                err.contains(&format!("`{key}`")),
                "{}: {err:?} does not name {key}",
                f.name
            );
            let mut nulled = f.full.clone();
            *at_mut(&mut nulled, p).unwrap() = Value::Null;
            (f.decode)(&nulled).expect_err(&format!("{} with {} null", f.name, show(p)));
        }
    }
}

// ---- Random combinations ------------------------------------------------------------------

proptest! {
    #![proptest_config(config(800))]

    /// Any combination of removals, nulls, additions and enum replacements that keeps the
    /// essentials decodes, and keeps every replaced enum value as sent.
    #[test]
    fn mutations_that_keep_the_essentials_decode(
        which in any::<Index>(),
        ops in prop::collection::vec(op(), 1..16),
    ) {
        let fixtures = fixtures();
        let f = &fixtures[which.index(fixtures.len())];
        let mut v = f.full.clone();
        let mut applied = Applied::default();
        for op in &ops {
            apply(f, &mut v, op, true, &mut applied);
        }
        let decoded = (f.decode)(&v).map_err(|e| {
            TestCaseError::fail(format!("{} after {:?}: {e}\n{v:#}", f.name, applied.log))
        })?;
        check_replaced_kept(&v, &decoded, &applied)
            .map_err(|e| TestCaseError::fail(format!("{} after {:?}: {e}", f.name, applied.log)))?;
    }

    /// The same mutations, then one essential removed or nulled: an error (naming a removed
    /// field), not a panic.
    #[test]
    fn losing_an_essential_is_an_error(
        which in any::<Index>(),
        essential in any::<Index>(),
        remove in any::<bool>(),
        ops in prop::collection::vec(op(), 0..8),
    ) {
        let fixtures: Vec<&Fixture> = fixtures().iter().filter(|f| !f.essential().is_empty()).collect();
        let f = fixtures[which.index(fixtures.len())];
        let mut v = f.full.clone();
        let mut applied = Applied::default();
        for op in &ops {
            apply(f, &mut v, op, true, &mut applied);
        }
        let (_, members) = objects_and_members(&v);
        let essentials: Vec<&Path> = members.iter().filter(|p| is_essential(f, p)).collect();
        let p = essentials[essential.index(essentials.len())].clone();
        let key = last_key(&p).unwrap().to_string();
        if remove {
            at_mut(&mut v, &p[..p.len() - 1]).unwrap().as_object_mut().unwrap().remove(&key);
        } else {
            *at_mut(&mut v, &p).unwrap() = Value::Null;
        }
        match (f.decode)(&v) {
            Ok(_) => prop_assert!(false, "{} without {} decoded (after {:?})", f.name, show(&p), applied.log),
            Err(e) => prop_assert!(!remove || e.contains(&format!("`{key}`")), "{}: {e:?} does not name {key}", f.name),
        }
    }
}
