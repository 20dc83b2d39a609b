//! Validity of the spec and the pre-flight lint.
//!
//! progenitor 0.15 reports several spec shapes it cannot handle with a bare `assert!`/`todo!`
//! panic deep inside build.rs (see `shared/reference/rust-notes.md` §1.6 and §1.8). The lint
//! finds those shapes first and says which operation and what to do instead.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::codegen::{METHODS, operations};

/// Problems that make the document something other than OpenAPI 3.0 (or unusable at all).
pub fn validate(spec: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    match spec.get("openapi").and_then(Value::as_str) {
        None => {
            errors.push("no `openapi` version field: not an OpenAPI 3 document (Swagger 2 is not supported)".into())
        }
        Some(v) if v.starts_with("3.1") => errors.push(format!(
            "`openapi: {v}`: OpenAPI 3.1 is not supported by progenitor (issues #762, #1268); \
             the upstream spec must be 3.0.x"
        )),
        Some(v) if !v.starts_with("3.0.") => errors.push(format!("`openapi: {v}`: only OpenAPI 3.0.x is supported")),
        Some(_) => {}
    }
    if let Err(e) = serde_json::from_value::<openapiv3::OpenAPI>(spec.clone()) {
        errors.push(format!("does not parse as OpenAPI 3.0: {e}"));
    }
    let mut refs = Vec::new();
    collect_refs(spec, "", &mut refs);
    for (at, r) in refs {
        let Some(pointer) = r.strip_prefix('#') else {
            errors.push(format!("{at}: external $ref `{r}` is not supported; inline it"));
            continue;
        };
        if spec.pointer(pointer).is_none() {
            errors.push(format!("{at}: $ref `{r}` points to nothing"));
        }
    }
    errors
}

fn collect_refs(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                if k == "$ref" {
                    if let Some(r) = child.as_str() {
                        out.push((at.to_string(), r.to_string()));
                    }
                } else {
                    collect_refs(child, &format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out);
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_refs(child, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Constructs progenitor is known to mishandle, each with the operation or schema it is in.
///
/// Checks the raw spec, then the output of `codegen::preprocess` (the adaptations it makes are
/// allowed; what it leaves must be generatable).
pub fn preflight(spec: &Value) -> Vec<String> {
    // The OpenAPI version is `validate`'s business: checking it here too reported a 3.1 spec twice.
    let mut errors = Vec::new();
    let mut seen_ids: BTreeMap<String, String> = BTreeMap::new();
    let empty = serde_json::Map::new();
    let paths = spec.get("paths").and_then(Value::as_object).unwrap_or(&empty);
    for (path, item) in paths {
        if item.get("$ref").is_some() {
            errors.push(format!(
                "path {path}: path-item `$ref` is rejected by progenitor; inline the path item"
            ));
            continue;
        }
        for method in METHODS {
            let Some(op) = item.get(*method) else { continue };
            let route = format!("{} {path}", method.to_uppercase());
            lint_operation(&route, op, &mut seen_ids, &mut errors);
        }
    }
    if let Some(schemas) = spec.pointer("/components/schemas").and_then(Value::as_object) {
        for (name, schema) in schemas {
            if schema.get("nullable").and_then(Value::as_bool) == Some(true) {
                errors.push(format!(
                    "schema {name}: component-level `nullable: true` makes progenitor generate a newtype over an \
                     Option (a double Option where it is used optionally); put `nullable` on the properties that \
                     use it instead"
                ));
            }
        }
    }
    let mut string_any_of = Vec::new();
    find_string_any_of(spec, "", &mut string_any_of);
    for at in string_any_of {
        errors.push(format!(
            "{at}: `anyOf` over strings decodes as a flattened String and fails at runtime (typify #895); \
             use one string schema or `oneOf`"
        ));
    }
    if errors.is_empty() {
        match crate::codegen::preprocess(spec) {
            Ok(pre) => errors.extend(lint_success_types(&pre)),
            Err(e) => errors.push(format!("codegen::preprocess cannot adapt the spec: {e}")),
        }
        if let Err(e) = crate::codegen::adapt(spec) {
            errors.push(format!("codegen::tolerance cannot adapt the spec: {e}"));
        }
    }
    errors
}

fn lint_operation(route: &str, op: &Value, seen_ids: &mut BTreeMap<String, String>, errors: &mut Vec<String>) {
    match op.get("operationId").and_then(Value::as_str) {
        None => errors.push(format!(
            "{route}: no operationId; progenitor requires one per operation (issue #517), add it to the spec"
        )),
        Some(id) => {
            if let Some(first) = seen_ids.insert(id.to_string(), route.to_string()) {
                errors.push(format!("{route}: operationId `{id}` is already used by {first}"));
            }
        }
    }
    let name = op
        .get("operationId")
        .and_then(Value::as_str)
        .map(|id| format!("{route} ({id})"));
    let name = name.as_deref().unwrap_or(route);
    if op.get("tags").and_then(Value::as_array).is_none_or(Vec::is_empty) {
        errors.push(format!(
            "{name}: no tag; every operation needs one so the facade groups it"
        ));
    }
    if let Some(content) = op.pointer("/requestBody/content").and_then(Value::as_object) {
        if content.len() > 1 {
            let types: Vec<&String> = content.keys().collect();
            errors.push(format!(
                "{name}: request body offers {types:?}; progenitor panics on more than one media type \
                 (`todo!(\"more media types than expected\")`)"
            ));
        }
        if content.contains_key("multipart/form-data") {
            errors.push(format!(
                "{name}: multipart/form-data request bodies are unsupported by progenitor (#518)"
            ));
        }
    }
    let empty = serde_json::Map::new();
    let responses = op.get("responses").and_then(Value::as_object).unwrap_or(&empty);
    if !responses.keys().any(|c| c.starts_with('2')) {
        errors.push(format!("{name}: no 2xx response"));
    }
    for code in responses.keys() {
        if code == "default" {
            errors.push(format!(
                "{name}: `default` response; progenitor counts it as success and error at once and panics \
                 (#344, #950); use `4XX`/`5XX` or explicit codes"
            ));
        } else if !is_status_code(code) {
            errors.push(format!(
                "{name}: response code `{code}` is neither a status code nor a range like `4XX`"
            ));
        }
    }
}

fn is_status_code(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 3
        && (b'1'..=b'5').contains(&b[0])
        && ((b[1].is_ascii_digit() && b[2].is_ascii_digit()) || (b[1] == b'X' && b[2] == b'X'))
}

fn find_string_any_of(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(parts) = map.get("anyOf").and_then(Value::as_array)
                && !parts.is_empty()
                && parts
                    .iter()
                    .all(|p| p.get("type").and_then(Value::as_str) == Some("string"))
            {
                out.push(at.to_string());
            }
            for (k, child) in map {
                find_string_any_of(child, &format!("{at}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                find_string_any_of(child, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// After preprocessing, every operation's 2xx responses must share one body shape: progenitor
/// asserts `response_types.len() <= 1` and panics otherwise.
fn lint_success_types(spec: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let empty = serde_json::Map::new();
    for (path, _, method, op) in operations(spec) {
        let id = op.get("operationId").and_then(Value::as_str).unwrap_or("?");
        let mut shapes: BTreeMap<String, Vec<&String>> = BTreeMap::new();
        let responses = op.get("responses").and_then(Value::as_object).unwrap_or(&empty);
        for (code, resp) in responses.iter().filter(|(c, _)| c.starts_with('2')) {
            let shape = match resp.get("content").and_then(Value::as_object) {
                None => "no body".to_string(),
                Some(c) if c.is_empty() => "no body".to_string(),
                Some(c) => c
                    .iter()
                    .map(|(media, m)| format!("{media} {}", m.get("schema").map(Value::to_string).unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(" | "),
            };
            shapes.entry(shape).or_default().push(code);
        }
        if shapes.len() > 1 {
            let detail: Vec<String> = shapes
                .iter()
                .map(|(shape, codes)| format!("{codes:?}: {shape}"))
                .collect();
            errors.push(format!(
                "{} {path} ({id}): 2xx responses have different bodies, which panics progenitor \
                 (`response_types.len() <= 1`, #344/#950), and codegen::preprocess does not adapt this case: {}",
                method.to_uppercase(),
                detail.join("; ")
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn good() -> Value {
        json!({
            "openapi": "3.0.3",
            "info": {"title": "t", "version": "1"},
            "paths": {"/v1/things": {
                "get": {"operationId": "listThings", "tags": ["things"], "responses": {
                    "200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
                    "4XX": {"description": "err", "content": {"application/json": {"schema": {"type": "object"}}}}
                }},
                "post": {"operationId": "makeThing", "tags": ["things"],
                    "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
                    "responses": {"201": {"description": "ok"}}}
            }},
            "components": {"schemas": {"Thing": {"type": "object", "properties": {"id": {"type": "string"}}}}}
        })
    }

    fn assert_one(errors: Vec<String>, needle: &str) {
        assert!(
            errors.iter().any(|e| e.contains(needle)),
            "expected an error containing {needle:?}, got {errors:#?}"
        );
    }

    #[test]
    fn a_good_spec_passes() {
        assert_eq!(validate(&good()), Vec::<String>::new());
        assert_eq!(preflight(&good()), Vec::<String>::new());
    }

    #[test]
    fn openapi_31_is_refused() {
        let mut s = good();
        s["openapi"] = json!("3.1.0");
        assert_one(validate(&s), "OpenAPI 3.1 is not supported");
        // Reported once, by `validate`: the pre-flight lint leaves the version to it.
        assert!(
            preflight(&s).iter().all(|e| !e.contains("openapi")),
            "{:#?}",
            preflight(&s)
        );
    }

    #[test]
    fn dangling_and_external_refs_are_invalid() {
        let mut s = good();
        s["paths"]["/v1/things"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] =
            json!("#/components/schemas/Nope");
        s["components"]["schemas"]["Other"] = json!({"$ref": "other.yaml#/X"});
        let errors = validate(&s);
        assert_one(errors.clone(), "`#/components/schemas/Nope` points to nothing");
        assert_one(errors, "external $ref `other.yaml#/X`");
    }

    #[test]
    fn a_missing_operation_id_is_refused() {
        let mut s = good();
        s["paths"]["/v1/things"]["get"]
            .as_object_mut()
            .unwrap()
            .remove("operationId");
        assert_one(preflight(&s), "GET /v1/things: no operationId");
    }

    #[test]
    fn duplicate_operation_ids_missing_tags_and_missing_success_are_found() {
        let mut s = good();
        s["paths"]["/v1/things"]["post"]["operationId"] = json!("listThings");
        s["paths"]["/v1/things"]["get"]["tags"] = json!([]);
        s["paths"]["/v1/things"]["get"]["responses"]
            .as_object_mut()
            .unwrap()
            .remove("200");
        let errors = preflight(&s);
        assert_one(
            errors.clone(),
            "operationId `listThings` is already used by GET /v1/things",
        );
        assert_one(errors.clone(), "GET /v1/things (listThings): no tag");
        assert_one(errors, "GET /v1/things (listThings): no 2xx response");
    }

    #[test]
    fn default_responses_and_bad_codes_are_found() {
        let mut s = good();
        s["paths"]["/v1/things"]["get"]["responses"]["default"] = json!({"description": "err"});
        s["paths"]["/v1/things"]["get"]["responses"]["4xx"] = json!({"description": "err"});
        let errors = preflight(&s);
        assert_one(errors.clone(), "`default` response");
        assert_one(errors, "response code `4xx`");
    }

    #[test]
    fn two_request_media_types_and_multipart_are_found() {
        let mut s = good();
        s["paths"]["/v1/things"]["post"]["requestBody"]["content"]["multipart/form-data"] =
            json!({"schema": {"type": "object"}});
        let errors = preflight(&s);
        assert_one(errors.clone(), "more than one media type");
        assert_one(errors, "multipart/form-data request bodies are unsupported");
    }

    #[test]
    fn path_item_refs_component_nullable_and_string_any_of_are_found() {
        let mut s = good();
        s["paths"]["/v1/other"] = json!({"$ref": "#/paths/~1v1~1things"});
        s["components"]["schemas"]["Maybe"] = json!({"type": "string", "nullable": true});
        s["components"]["schemas"]["Either"] =
            json!({"anyOf": [{"type": "string"}, {"type": "string", "format": "uuid"}]});
        let errors = preflight(&s);
        assert_one(errors.clone(), "path /v1/other: path-item `$ref`");
        assert_one(errors.clone(), "schema Maybe: component-level `nullable: true`");
        assert_one(errors, "/components/schemas/Either: `anyOf` over strings");
    }

    #[test]
    fn mixed_success_bodies_that_preprocess_does_not_adapt_are_found() {
        let mut s = good();
        // 200 with a body next to 204 without one: progenitor's `response_types.len() <= 1` panic.
        s["paths"]["/v1/things"]["get"]["responses"]["204"] = json!({"description": "empty"});
        assert_one(
            preflight(&s),
            "GET /v1/things (listThings): 2xx responses have different bodies",
        );
    }

    #[test]
    fn mixed_success_schemas_outside_the_preprocess_list_are_found() {
        let mut s = good();
        s["components"]["schemas"]["Other"] = json!({"type": "object"});
        s["paths"]["/v1/things"]["get"]["responses"]["202"] = json!({"description": "ok",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Other"}}}});
        assert_one(preflight(&s), "codegen::preprocess cannot adapt the spec");
    }

    #[test]
    fn the_committed_spec_passes() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.json");
        let spec: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(validate(&spec), Vec::<String>::new());
        assert_eq!(preflight(&spec), Vec::<String>::new());
    }
}
