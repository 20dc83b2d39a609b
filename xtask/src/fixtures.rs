//! The tests' answer fixtures (`tests/fixtures/answers/<Schema>.json`) still match the spec.
//!
//! Each file is one full record of the component schema it is named after. The tests validate
//! them with `jsonschema` too, after a build; here the same mismatches are found in a moment,
//! before any build: a member the schema does not declare, a required member missing, a value
//! of the wrong type or outside an `enum`, `null` where the schema is not nullable. What is
//! not checked (formats, patterns, bounds) is left to the tests.

use std::path::Path;

use serde_json::Value;

/// Where the answer fixtures are, relative to the workspace.
pub const DIR: &str = "tests/fixtures/answers";

/// Every mismatch between the fixtures in `dir` and `spec`, each naming the file and the fix.
pub fn check(spec: &Value, dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let shown = format!("{DIR}/{name}.json");
        let Some(schema) = spec.pointer(&format!("/components/schemas/{name}")) else {
            out.push(format!(
                "{shown}: openapi.json has no schema {name}: remove the fixture, or rename it after the schema it is"
            ));
            continue;
        };
        let value: Value = match std::fs::read_to_string(&path).map(|t| serde_json::from_str(&t)) {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                out.push(format!("{shown}: not JSON: {e}"));
                continue;
            }
            Err(e) => {
                out.push(format!("{shown}: {e}"));
                continue;
            }
        };
        let mut problems = Vec::new();
        validate(spec, schema, &value, "", &mut problems);
        out.extend(
            problems
                .into_iter()
                .map(|p| format!("{shown}: {p}: update the fixture to openapi.json's {name}")),
        );
    }
    out
}

/// The mismatches of `value` (at JSON pointer `at`) with `schema`.
pub fn validate(spec: &Value, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
    let here = if at.is_empty() { "/" } else { at };
    if let Some(target) = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/"))
        .and_then(|r| spec.pointer(&format!("/{r}")))
    {
        return validate(spec, target, value, at, out);
    }
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        for part in parts {
            validate(spec, part, value, at, out);
        }
    }
    if value.is_null() {
        if schema.get("nullable").and_then(Value::as_bool) != Some(true) && schema.get("type").is_some() {
            out.push(format!("{here}: null, but the schema is not nullable"));
        }
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        out.push(format!(
            "{here}: {value} is not one of {}",
            Value::Array(allowed.clone())
        ));
    }
    let ty = schema.get("type").and_then(Value::as_str);
    let fits = match ty {
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        _ => true,
    };
    if !fits {
        out.push(format!("{here}: {value} is not of type {}", ty.unwrap_or("?")));
        return;
    }
    if let (Some(members), Some(props)) = (value.as_object(), schema.get("properties").and_then(Value::as_object)) {
        for required in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            if let Some(r) = required.as_str()
                && !members.contains_key(r)
            {
                out.push(format!("{here}: the required member {r} is missing"));
            }
        }
        for (key, member) in members {
            match props.get(key) {
                Some(p) => validate(spec, p, member, &format!("{at}/{key}"), out),
                None if schema.get("additionalProperties").is_some_and(Value::is_object) => {}
                None => out.push(format!("{here}: {key} is not a member of the schema")),
            }
        }
    } else if let (Some(members), Some(extra)) = (
        value.as_object(),
        schema.get("additionalProperties").filter(|v| v.is_object()),
    ) {
        for (key, member) in members {
            validate(spec, extra, member, &format!("{at}/{key}"), out);
        }
    }
    if let (Some(items), Some(schema)) = (value.as_array(), schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            validate(spec, schema, item, &format!("{at}/{i}"), out);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec() -> Value {
        json!({"components": {"schemas": {
            "Thing": {"type": "object", "required": ["id"], "properties": {
                "id": {"type": "string"}, "n": {"type": "integer", "nullable": true},
                "kind": {"type": "string", "enum": ["a", "b"]},
                "tags": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}}}},
            "Tag": {"type": "object", "properties": {"name": {"type": "string"}}}
        }}})
    }

    fn problems(value: Value) -> Vec<String> {
        let spec = spec();
        let mut out = Vec::new();
        validate(&spec, &spec["components"]["schemas"]["Thing"], &value, "", &mut out);
        out
    }

    #[test]
    fn a_matching_record_passes_and_each_mismatch_is_named() {
        let good = json!({"id": "x", "n": null, "kind": "a", "tags": [{"name": "t"}], "labels": {"k": "v"}});
        assert_eq!(problems(good), Vec::<String>::new());
        let bad = json!({"n": "1", "kind": "c", "tags": [{"nom": "t"}], "labels": {"k": 1}, "extra": true});
        let found = problems(bad);
        for needle in [
            "/: the required member id is missing",
            "/n: \"1\" is not of type integer",
            "/kind: \"c\" is not one of",
            "/tags/0: nom is not a member of the schema",
            "/labels/k: 1 is not of type string",
            "/: extra is not a member of the schema",
        ] {
            assert!(found.iter().any(|p| p.starts_with(needle)), "{needle}: {found:#?}");
        }
    }

    #[test]
    fn the_committed_fixtures_match_the_committed_spec() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let spec: Value = serde_json::from_str(&std::fs::read_to_string(root.join("openapi.json")).unwrap()).unwrap();
        assert_eq!(check(&spec, &root.join(DIR)), Vec::<String>::new());
    }
}
