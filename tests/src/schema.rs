//! Validation of JSON bodies against `openapi.json`, so test fixtures and the bodies the SDK
//! sends cannot drift from the spec.
//!
//! OpenAPI 3.0 schemas are JSON Schema draft 4 plus a few keywords; the one that changes
//! validation is `nullable`, rewritten here as `anyOf: [schema, {type: null}]`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Value, json};

/// The spec, parsed once.
pub fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.json");
        let text = std::fs::read_to_string(path).expect("read openapi.json");
        serde_json::from_str(&text).expect("openapi.json is JSON")
    })
}

/// One operation of the spec.
#[derive(Debug, Clone)]
pub struct Operation {
    /// The operationId.
    pub id: String,
    /// Upper-case HTTP method.
    pub method: String,
    /// The path template, e.g. `/v1/vms/{id}`.
    pub path: String,
    /// The operation object.
    pub value: Value,
}

/// What the spec's extensions say, and through it the workspace's one walker of the spec's
/// operations (shared with code generation), so a path-level `summary` or `parameters` is never
/// taken for an operation.
#[path = "../../fastvm-api/facts.rs"]
mod facts;
use facts::walk as spec_walk;

/// Every operation of the spec, in path order. Collected once: every mock and every wire check
/// looks an operation up.
pub fn operations() -> &'static [Operation] {
    static OPERATIONS: OnceLock<Vec<Operation>> = OnceLock::new();
    OPERATIONS.get_or_init(|| operations_of(spec()))
}

/// The operations of `spec`.
fn operations_of(spec: &Value) -> Vec<Operation> {
    spec_walk::operations(spec)
        .map(|(path, _, method, op)| Operation {
            id: op["operationId"].as_str().expect("operationId").to_string(),
            method: method.to_uppercase(),
            path: path.to_string(),
            value: op.clone(),
        })
        .collect()
}

/// The operation with `operation_id`. Panics when there is none (a test typo).
pub fn operation(operation_id: &str) -> &'static Operation {
    operations()
        .iter()
        .find(|o| o.id == operation_id)
        .unwrap_or_else(|| panic!("no operation {operation_id} in openapi.json"))
}

/// True when `raw_path` (a path without its query) has the shape of the spec `template`: the
/// same literal segments, and a non-empty segment for each `{parameter}`. Tests use it to
/// catch a call or mock labelled with the wrong operation.
pub fn path_fits_template(template: &str, raw_path: &str) -> bool {
    facts::fits_template(template, raw_path)
}

/// Rewrites `nullable: true` into draft-4 form, everywhere in `v`.
fn rewrite_nullable(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut inner = serde_json::Map::new();
            let mut nullable = false;
            for (k, val) in map {
                if k == "nullable" {
                    nullable = val.as_bool().unwrap_or(false);
                } else {
                    inner.insert(k.clone(), rewrite_nullable(val));
                }
            }
            if nullable {
                json!({ "anyOf": [Value::Object(inner), { "type": "null" }] })
            } else {
                Value::Object(inner)
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(rewrite_nullable).collect()),
        other => other.clone(),
    }
}

/// Adds `additionalProperties: false` to every object schema with `properties`, so that a
/// fixture with a misspelt field fails.
fn make_strict(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            for val in map.values_mut() {
                make_strict(val);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(make_strict),
        _ => {}
    }
}

/// The spec's components in draft-4 form (made strict when `strict`), rewritten once per setting.
fn components(strict: bool) -> &'static Value {
    static COMPONENTS: [OnceLock<Value>; 2] = [OnceLock::new(), OnceLock::new()];
    COMPONENTS[usize::from(strict)].get_or_init(|| {
        let mut components = rewrite_nullable(&spec()["components"]);
        if strict {
            make_strict(&mut components);
        }
        components
    })
}

/// The compiled validator for `schema` with the spec's components, compiled once per schema and
/// setting: the suite validates the same few schemas hundreds of times.
fn validator(schema: &Value, strict: bool) -> Result<Arc<jsonschema::Validator>, String> {
    type Cache = Mutex<HashMap<(String, bool), Arc<jsonschema::Validator>>>;
    static VALIDATORS: OnceLock<Cache> = OnceLock::new();
    let key = (schema.to_string(), strict);
    let cache = VALIDATORS.get_or_init(Cache::default);
    if let Some(v) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(v.clone());
    }
    let mut target = rewrite_nullable(schema);
    if strict {
        // VMCreateResponse-style schemas are flat objects here, so strictness is safe.
        make_strict(&mut target);
    }
    let root = json!({ "components": components(strict), "allOf": [target] });
    let compiled = Arc::new(jsonschema::draft4::new(&root).map_err(|e| format!("bad schema: {e}"))?);
    // Two threads may compile the same schema at once; either result is the same validator.
    let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
    Ok(cache.entry(key).or_insert(compiled).clone())
}

/// Validates `instance` against `schema` (which may `$ref` the spec's components).
/// `strict` also refuses properties the spec does not declare.
pub fn validate(schema: &Value, instance: &Value, strict: bool) -> Result<(), String> {
    let validator = validator(schema, strict)?;
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// Validates against the named component schema.
pub fn validate_schema(name: &str, instance: &Value, strict: bool) -> Result<(), String> {
    assert!(
        spec()["components"]["schemas"].get(name).is_some(),
        "no schema {name} in openapi.json"
    );
    validate(
        &json!({ "$ref": format!("#/components/schemas/{name}") }),
        instance,
        strict,
    )
}

/// The JSON schema of `operation_id`'s response with `status` (exact code, else `4XX`/`5XX`).
pub fn response_schema(operation_id: &str, status: u16, media: &str) -> Option<Value> {
    let op = operation(operation_id);
    let responses = &op.value["responses"];
    let code = status.to_string();
    let range = format!("{}XX", status / 100);
    let resp = responses.get(&code).or_else(|| responses.get(&range))?;
    resp.get("content")?.get(media)?.get("schema").cloned()
}

/// Validates a response body the server (or a mock) sends for `operation_id` with `status`.
/// Fails when the spec documents no JSON body for that status.
pub fn validate_response(operation_id: &str, status: u16, body: &Value) -> Result<(), String> {
    let schema = response_schema(operation_id, status, "application/json")
        .ok_or_else(|| format!("{operation_id} documents no JSON body for status {status}"))?;
    validate(&schema, body, true)
}

/// Validates a request body sent for `operation_id`.
pub fn validate_request(operation_id: &str, body: &Value) -> Result<(), String> {
    let op = operation(operation_id);
    let schema = &op.value["requestBody"]["content"]["application/json"]["schema"];
    if schema.is_null() {
        return Err(format!("{operation_id} has no JSON request body"));
    }
    validate(schema, body, true)
}

/// Makes `value` a full instance of `schema` (which may `$ref` the spec's components): every
/// property the schema declares and `value` lacks, at every depth, gets a sample value, and an
/// empty list one sample element. Hand-written fixtures keep their realistic values; a field
/// the spec gains later is filled in here, so a full fixture stays full without an edit.
pub fn complete(schema: &Value, value: &mut Value) {
    let schema = resolved(schema);
    match value {
        Value::Object(members) => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (name, prop) in props {
                    match members.get_mut(name) {
                        Some(member) if !member.is_null() => complete(prop, member),
                        Some(_) => {}
                        None => {
                            members.insert(name.clone(), sample(prop));
                        }
                    }
                }
            }
        }
        Value::Array(items) => {
            let item_schema = schema.get("items").cloned().unwrap_or(Value::Null);
            if items.is_empty() {
                items.push(sample(&item_schema));
            }
            items.iter_mut().for_each(|i| complete(&item_schema, i));
        }
        _ => {}
    }
}

/// The names of the properties, anywhere in the spec's components (at any depth, inline objects
/// and list items included), whose resolved schema `is` accepts. A name is a name: the tests
/// that use this look members up by name at any depth.
fn property_names(is: &dyn Fn(&Value) -> bool) -> std::collections::BTreeSet<String> {
    fn walk(schema: &Value, is: &dyn Fn(&Value) -> bool, out: &mut std::collections::BTreeSet<String>) {
        for (name, prop) in schema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if is(resolved(prop)) {
                out.insert(name.clone());
            }
            walk(prop, is, out);
        }
        for key in ["items", "additionalProperties"] {
            if let Some(inner) = schema.get(key).filter(|v| v.is_object()) {
                walk(inner, is, out);
            }
        }
        for key in ["allOf", "oneOf", "anyOf"] {
            for inner in schema.get(key).and_then(Value::as_array).into_iter().flatten() {
                walk(inner, is, out);
            }
        }
    }
    let mut out = std::collections::BTreeSet::new();
    for schema in spec()["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, s)| s)
    {
        walk(schema, is, &mut out);
    }
    out
}

/// The property names whose values are enums: a closed `enum`, or an open string with known
/// values (`x-fastvm-known-values`). Generated as enums with `Unknown(String)`, so any string
/// decodes in their place.
pub fn enum_property_names() -> std::collections::BTreeSet<String> {
    property_names(&|s| {
        s.get("enum").is_some()
            || s.get("x-fastvm-known-values")
                .and_then(Value::as_array)
                .is_some_and(|v| !v.is_empty())
    })
}

/// The property names whose values are maps (an object of `additionalProperties` and no declared
/// properties: metadata, environment variables): their members are entries, not fields.
pub fn map_property_names() -> std::collections::BTreeSet<String> {
    property_names(&|s| s.get("additionalProperties").is_some_and(Value::is_object) && s.get("properties").is_none())
}

/// `schema` with `$ref` and a single `allOf` resolved.
fn resolved(schema: &Value) -> &Value {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/components/schemas/");
        return resolved(&spec()["components"]["schemas"][name]);
    }
    match schema.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
        Some([one]) => resolved(one),
        _ => schema,
    }
}

/// A plausible full value of `schema`: its example or first enum value, else one by type and
/// format, with every property and one list element.
pub fn sample(schema: &Value) -> Value {
    let schema = resolved(schema);
    if let Some(v) = schema.get("example") {
        return v.clone();
    }
    if let Some(first) = schema.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
        return first.clone();
    }
    // A `oneOf` (a tagged union, such as a bucket mount's credentials): its first variant.
    if let Some(first) = schema.get("oneOf").and_then(Value::as_array).and_then(|v| v.first()) {
        return sample(first);
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("string") => match schema.get("format").and_then(Value::as_str) {
            Some("date-time") => json!("2026-05-15T10:00:00Z"),
            Some("uri" | "url") => json!("https://storage.example/sample"),
            Some("byte") => json!("c2FtcGxl"),
            _ => json!("sample"),
        },
        Some("integer") => json!(schema.get("minimum").and_then(Value::as_i64).unwrap_or(0).max(7)),
        Some("number") => json!(1.5),
        Some("boolean") => json!(true),
        Some("array") => json!([sample(schema.get("items").unwrap_or(&Value::Null))]),
        _ if schema.get("properties").is_some() => {
            let mut out = json!({});
            complete(schema, &mut out);
            out
        }
        _ => match schema.get("additionalProperties") {
            Some(extra) if extra.is_object() => json!({ "key": sample(extra) }),
            _ => json!({}),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catches_type_errors_nulls_and_typos() {
        let vm = json!({
            "id": "v", "name": "n", "orgId": "o", "cpu": 1, "memoryMiB": 2048, "diskGiB": 10,
            "status": "hibernating", "createdAt": "2026-05-15T10:00:00Z", "deletedAt": null, "ttl": null
        });
        validate_schema("VM", &vm, true).unwrap();
        let mut bad = vm.clone();
        bad["cpu"] = json!("one");
        assert!(validate_schema("VM", &bad, true).is_err());
        let mut typo = vm.clone();
        typo["memoryMib"] = json!(1);
        assert!(validate_schema("VM", &typo, true).is_err());
        validate_schema("VM", &typo, false).unwrap();
        let mut null_name = vm;
        null_name["name"] = Value::Null;
        assert!(validate_schema("VM", &null_name, true).is_err());
    }

    #[test]
    fn responses_by_status_and_range() {
        validate_response("getVm", 404, &json!({"error": "not found"})).unwrap();
        assert!(validate_response("getVm", 404, &json!({"message": "x"})).is_err());
        validate_response("resumeVm", 429, &json!({"error": "quota", "dimension": "vcpu"})).unwrap();
        assert!(validate_response("deleteService", 204, &json!({})).is_err());
        // Every operation once, under its own id (the list is the spec's; nothing counts it here).
        let mut ids: Vec<&str> = operations().iter().map(|o| o.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), operations().len(), "an operationId is used twice");
    }

    #[test]
    fn enum_and_map_properties_are_found_at_any_depth() {
        let enums = enum_property_names();
        for name in ["status", "action", "kind", "protocol", "default", "mode"] {
            assert!(enums.contains(name), "{name}: {enums:?}");
        }
        assert!(!enums.contains("name"), "{enums:?}");
        let maps = map_property_names();
        assert!(maps.contains("metadata") && maps.contains("envVars"), "{maps:?}");
        assert!(!maps.contains("firewall"), "{maps:?}");
    }

    #[test]
    fn a_fixture_is_completed_with_what_the_spec_declares_and_keeps_its_values() {
        let mut quota = json!({ "orgId": "org-1", "limits": { "vcpu": 8 }, "usage": {} });
        complete(&json!({ "$ref": "#/components/schemas/OrgQuotaUsage" }), &mut quota);
        assert_eq!(quota["limits"]["vcpu"], 8, "a hand-written value stays");
        assert_eq!(quota["usage"]["snapshotCount"], 7, "a missing one is sampled");
        validate_schema("OrgQuotaUsage", &quota, true).unwrap();
        let mut snapshot = json!({});
        complete(&json!({ "$ref": "#/components/schemas/Snapshot" }), &mut snapshot);
        validate_schema("Snapshot", &snapshot, true).unwrap();
        assert_eq!(snapshot["services"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn path_level_keys_are_not_operations() {
        let spec = json!({"paths": {"/v1/x": {
            "summary": "Things", "description": "All of them",
            "parameters": [{"name": "q", "in": "query", "schema": {"type": "string"}}],
            "servers": [{"url": "https://example.com"}],
            "get": {"operationId": "getX", "responses": {}},
            "post": {"operationId": "makeX", "responses": {}}
        }}});
        let ops = operations_of(&spec);
        let found: Vec<(&str, &str)> = ops.iter().map(|o| (o.id.as_str(), o.method.as_str())).collect();
        assert_eq!(found, [("getX", "GET"), ("makeX", "POST")]);
    }

    #[test]
    fn paths_fit_their_templates() {
        assert!(path_fits_template("/v1/vms/{id}/exec", "/v1/vms/vm-1/exec"));
        assert!(path_fits_template("/v1/vms", "/v1/vms"));
        assert!(!path_fits_template("/v1/vms/{id}/exec", "/v1/vms//exec"));
        assert!(!path_fits_template("/v1/vms/{id}/exec", "/v1/vms/vm-1/pause"));
        assert!(!path_fits_template("/v1/vms/{id}", "/v1/vms/vm-1/exec"));
    }
}
