//! Strings the server may extend stay plain strings in the spec.
//!
//! Every string `enum` of the spec decodes open: code generation gives each generated enum an
//! `Unknown(String)` catch-all (`codegen::tolerance`, step 4), so a value the server adds never
//! fails to decode. What is left to check is the spec's faithfulness: a string the spec
//! documents as open ("Additional values may be introduced") must not gain an `enum` in the spec
//! (its known values are typed by `codegen::tolerance::KNOWN_VALUES`, from the description),
//! and must be listed in [`OPEN`], each with an unknown-value test in `fastvm-api/tests/spec.rs`.
//!
//! Locations are `Schema` for a component schema, `Schema.prop` (and deeper `.prop`, `[]` for
//! array items) for an inline property, and `operationId.param`/`operationId.body` for inline
//! schemas in operations.

use serde_json::Value;

use crate::codegen::operations;

/// Strings the server may extend, kept open (plain `type: string`, no `enum`) so unknown values
/// decode. Each has a test in `fastvm-api/tests/spec.rs` decoding an unknown value.
pub const OPEN: &[&str] = &["VMStatus", "SnapshotStatus", "MachineType", "BuildResponse.status"];

/// The phrase the spec uses for values the server may extend.
pub const OPEN_PHRASE: &str = "Additional values may be introduced";

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

/// Checks the spec's open strings against [`OPEN`].
pub fn check(spec: &Value) -> Vec<String> {
    check_with(spec, OPEN)
}

/// [`check`] with an explicit list (for tests).
pub fn check_with(spec: &Value, open: &[&str]) -> Vec<String> {
    let strings = string_schemas(spec);
    let mut errors = Vec::new();
    for s in &strings {
        let has_enum = s.schema.get("enum").is_some();
        let says_open = s
            .schema
            .get("description")
            .and_then(Value::as_str)
            .is_some_and(|d| d.contains(OPEN_PHRASE));
        let is_open = open.contains(&s.at.as_str());
        if has_enum && says_open {
            errors.push(format!(
                "{}: documented as open (\"{OPEN_PHRASE}\") but has an `enum`: keep the spec faithful (a plain \
                 string with the known values in the description; codegen::tolerance::KNOWN_VALUES types them)",
                s.at
            ));
        } else if has_enum && is_open {
            errors.push(format!(
                "{}: listed in OPEN but has an `enum`; the spec should keep it a plain string",
                s.at
            ));
        } else if !has_enum && says_open && !is_open {
            errors.push(format!(
                "{}: documented as open (\"{OPEN_PHRASE}\"); add it to OPEN in xtask/src/enums.rs (and to \
                 codegen::tolerance::KNOWN_VALUES if it names known values) and add an unknown-value decoding \
                 test in fastvm-api/tests/spec.rs",
                s.at
            ));
        }
    }
    for at in open {
        if !strings.iter().any(|s| s.at == *at) {
            errors.push(format!(
                "{at}: listed in OPEN but the spec has no string there; remove the entry"
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
            "Status": {"type": "string", "description": "Known values: a, b. Additional values may be introduced."},
            "Kind": {"type": "string", "enum": ["x", "y"]},
            "Thing": {"type": "object", "properties": {
                "proto": {"type": "string", "enum": ["tcp", "udp"]},
                "tags": {"type": "array", "items": {"type": "string", "enum": ["p", "q"]}}}}
        }}})
    }

    #[test]
    fn open_strings_listed_pass_and_closed_enums_need_no_listing() {
        // `Kind`, `Thing.proto`, `Thing.tags[]` and `doIt.mode` are enums: decoded open by codegen.
        assert_eq!(check_with(&spec(), &["Status"]), Vec::<String>::new());
    }

    #[test]
    fn an_enum_documented_as_open_fails() {
        let mut s = spec();
        s["components"]["schemas"]["Status"]["enum"] = json!(["a", "b"]);
        let errors = check_with(&s, &["Status"]);
        assert!(
            errors.iter().any(|e| e.starts_with("Status: documented as open")),
            "{errors:#?}"
        );
    }

    #[test]
    fn an_open_string_missing_from_open_fails() {
        let errors = check_with(&spec(), &[]);
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert!(errors[0].starts_with("Status: documented as open"), "{errors:#?}");
    }

    #[test]
    fn an_open_entry_that_gains_an_enum_fails_as_open() {
        let mut s = spec();
        s["components"]["schemas"]["Status"] = json!({"type": "string", "enum": ["a", "b"]});
        let errors = check_with(&s, &["Status"]);
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert!(
            errors[0].starts_with("Status: listed in OPEN but has an `enum`"),
            "{errors:#?}"
        );
    }

    #[test]
    fn stale_list_entries_fail() {
        let errors = check_with(&spec(), &["Status", "Thing.gone"]);
        assert!(
            errors.iter().any(|e| e.starts_with("Thing.gone: listed in OPEN")),
            "{errors:#?}"
        );
    }

    #[test]
    fn the_committed_spec_is_fully_classified() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.json");
        let spec: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(check(&spec), Vec::<String>::new());
    }
}
