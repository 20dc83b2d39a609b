//! Every string that documents its values is classified as open or closed, in the spec.
//!
//! Every string `enum` of the spec decodes open: code generation gives each generated enum an
//! `Unknown(String)` catch-all (`codegen::tolerance`, step 4), so a value the server adds never
//! fails to decode. What is left to check is the spec's faithfulness and its classification: a
//! plain string whose description documents values ("Known values: ..", "Additional values may
//! be introduced", "Future server versions may introduce additional values") must say
//! `x-fastvm-open: true` (its `x-fastvm-known-values` are then typed as an open enum) or
//! `false`, and a string documented as open must not gain an `enum` in the spec.
//!
//! Locations are `Schema` for a component schema, `Schema.prop` (and deeper `.prop`, `[]` for
//! array items) for an inline property, and `operationId.param`/`operationId.body` for inline
//! schemas in operations.

use serde_json::Value;

use crate::codegen::facts::{OPEN, VALUE_PHRASES};
use crate::codegen::operations;

/// A string schema found in the spec, at its location.
pub struct StringSchema<'a> {
    /// Location name (see the module docs).
    pub at: String,
    /// The schema.
    pub schema: &'a Value,
}

/// Every string schema in the spec (explicit `type: string`, or an `enum` of strings).
pub fn string_schemas(spec: &Value) -> Vec<StringSchema<'_>> {
    let mut out = Vec::new();
    if let Some(schemas) = spec.pointer("/components/schemas").and_then(Value::as_object) {
        for (name, schema) in schemas {
            walk(schema, name.clone(), &mut out);
        }
    }
    for (path, item, method, op) in operations(spec) {
        let path_params = item.get("parameters").and_then(Value::as_array);
        let id = op.get("operationId").and_then(Value::as_str).map(str::to_string);
        let id = id.unwrap_or_else(|| format!("{} {path}", method.to_uppercase()));
        let params = op.get("parameters").and_then(Value::as_array);
        for p in path_params.into_iter().chain(params).flatten() {
            if let (Some(name), Some(schema)) = (p.get("name").and_then(Value::as_str), p.get("schema")) {
                walk(schema, format!("{id}.{name}"), &mut out);
            }
        }
        if let Some(content) = op.pointer("/requestBody/content").and_then(Value::as_object) {
            for m in content.values() {
                if let Some(schema) = m.get("schema") {
                    walk(schema, format!("{id}.body"), &mut out);
                }
            }
        }
        for (code, resp) in op.get("responses").and_then(Value::as_object).into_iter().flatten() {
            for m in resp
                .get("content")
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|c| c.values())
            {
                if let Some(schema) = m.get("schema") {
                    walk(schema, format!("{id}.{code}"), &mut out);
                }
            }
        }
    }
    out
}

fn walk<'a>(schema: &'a Value, at: String, out: &mut Vec<StringSchema<'a>>) {
    if schema.get("$ref").is_some() {
        return;
    }
    let ty = schema.get("type").and_then(Value::as_str);
    let string_enum = schema
        .get("enum")
        .and_then(Value::as_array)
        .is_some_and(|vals| vals.iter().any(Value::is_string));
    if ty == Some("string") || (ty.is_none() && string_enum) {
        out.push(StringSchema { at: at.clone(), schema });
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            walk(prop, format!("{at}.{name}"), out);
        }
    }
    if let Some(items) = schema.get("items") {
        walk(items, format!("{at}[]"), out);
    }
    if let Some(extra) = schema.get("additionalProperties").filter(|v| v.is_object()) {
        walk(extra, format!("{at}{{*}}"), out);
    }
    for kw in ["allOf", "oneOf", "anyOf"] {
        for (i, part) in schema
            .get(kw)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            walk(part, format!("{at}#{kw}{i}"), out);
        }
    }
}

/// Checks that every string documenting values is classified, and that none documented as
/// open has an `enum`.
pub fn check(spec: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    for s in &string_schemas(spec) {
        let has_enum = s.schema.get("enum").is_some();
        let description = s
            .schema
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_ascii_lowercase();
        let documents_values = VALUE_PHRASES.iter().any(|p| description.contains(p));
        let says_open = ["additional values", "new values", "may introduce", "may be introduced"]
            .iter()
            .any(|p| description.contains(p));
        let classified = s.schema.get(OPEN).is_some();
        if has_enum && says_open {
            errors.push(format!(
                "openapi.json: {}: documented as open (more values may come) but has an `enum`: keep the spec \
                 faithful: a plain string with the known values in its description, `\"{OPEN}\": true` and \
                 `\"x-fastvm-known-values\": [..]` (code generation types them as an open enum)",
                s.at
            ));
        } else if !has_enum && documents_values && !classified {
            errors.push(format!(
                "openapi.json: {}: a string that documents values is not classified as open or closed: add \
                 `\"{OPEN}\": true` and `\"x-fastvm-known-values\": [..the values it names..]` when the server \
                 may add values (it decodes as an open enum keeping unknown values), or `\"{OPEN}\": false` when \
                 the list is complete",
                s.at
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec() -> Value {
        json!({"paths": {"/x": {"post": {"operationId": "doIt",
            "parameters": [{"name": "mode", "in": "query", "schema": {"type": "string", "enum": ["a", "b"]}}],
            "responses": {"200": {"description": "ok"}}}}},
        "components": {"schemas": {
            "Status": {"type": "string", "x-fastvm-open": true, "x-fastvm-known-values": ["a", "b"],
                "description": "Known values: a, b. Additional values may be introduced."},
            "Kind": {"type": "string", "enum": ["x", "y"]},
            "Thing": {"type": "object", "properties": {
                "proto": {"type": "string", "enum": ["tcp", "udp"]},
                "tags": {"type": "array", "items": {"type": "string", "enum": ["p", "q"]}}}}
        }}})
    }

    #[test]
    fn classified_strings_pass_and_closed_enums_need_no_classification() {
        // `Kind`, `Thing.proto`, `Thing.tags[]` and `doIt.mode` are enums: decoded open by codegen.
        assert_eq!(check(&spec()), Vec::<String>::new());
    }

    #[test]
    fn an_enum_documented_as_open_fails() {
        let mut s = spec();
        s["components"]["schemas"]["Status"]["enum"] = json!(["a", "b"]);
        let errors = check(&s);
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("openapi.json: Status: documented as open")),
            "{errors:#?}"
        );
    }

    #[test]
    fn an_unclassified_string_naming_values_fails_whatever_the_wording() {
        for wording in [
            "Known values: a, b.",
            "The state. Future server versions may introduce additional values.",
            "Additional values may be introduced in future server versions.",
        ] {
            let mut s = spec();
            s["components"]["schemas"]["Thing"]["properties"]["state"] =
                json!({"type": "string", "description": wording});
            let errors = check(&s);
            assert_eq!(errors.len(), 1, "{wording}: {errors:#?}");
            assert!(
                errors[0].starts_with("openapi.json: Thing.state: a string that documents values is not classified"),
                "{errors:#?}"
            );
            s["components"]["schemas"]["Thing"]["properties"]["state"]["x-fastvm-open"] = json!(false);
            assert_eq!(check(&s), Vec::<String>::new(), "{wording}");
        }
    }

    #[test]
    fn the_committed_spec_is_fully_classified() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.json");
        let spec: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(check(&spec), Vec::<String>::new());
    }
}
