//! Reading a spec (JSON or YAML) and writing it in the one canonical form.
//!
//! Canonical form is what Python's `json.dumps(doc, indent=2, sort_keys=True,
//! ensure_ascii=False) + "\n"` prints: keys sorted by code point, two-space indent, `": "`
//! between key and value, non-ASCII kept as UTF-8, one trailing newline. The committed
//! `openapi.json` was first written that way, so either tool can rewrite it without churn.
//! (The two differ only for floats in exponent form, which the spec does not use.)

use std::path::Path;

use serde_json::{Map, Value};

/// Parses a spec from text. YAML is accepted when the path ends in `.yaml`/`.yml`, or when the
/// text is not JSON (YAML is a superset of JSON, so JSON is tried first for better errors).
pub fn parse_spec(text: &str, path: Option<&Path>) -> Result<Value, String> {
    let is_yaml = path
        .and_then(Path::extension)
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    if !is_yaml {
        match serde_json::from_str::<Value>(text) {
            Ok(v) => return Ok(v),
            // Text that starts like JSON is JSON with a mistake: report the JSON error.
            Err(e) if text.trim_start().starts_with('{') => return Err(format!("not valid JSON: {e}")),
            Err(_) => {}
        }
    }
    let yaml: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| format!("not valid JSON or YAML: {e}"))?;
    yaml_to_json(yaml, "")
}

/// Converts YAML to JSON by hand because YAML keys may be numbers (`200:` under `responses`)
/// and serde_json's map only takes string keys.
fn yaml_to_json(v: serde_yaml::Value, at: &str) -> Result<Value, String> {
    use serde_yaml::Value as Y;
    Ok(match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                Value::Number(
                    serde_json::Number::from_f64(f).ok_or_else(|| format!("{at}: {f} cannot be written as JSON"))?,
                )
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| yaml_to_json(item, &format!("{at}/{i}")))
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    other => return Err(format!("{at}: unsupported YAML mapping key {other:?}")),
                };
                let value = yaml_to_json(v, &format!("{at}/{key}"))?;
                out.insert(key, value);
            }
            Value::Object(out)
        }
        Y::Tagged(t) => {
            return Err(format!(
                "{at}: YAML tag {} is not allowed in an OpenAPI document",
                t.tag
            ));
        }
    })
}

/// A copy of `v` whose object keys are in sorted order at every level.
///
/// Explicit because xtask enables serde_json's `preserve_order`, under which maps keep
/// insertion order (and feature unification could turn it on for any crate).
pub fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&map[k.as_str()])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// The canonical text of a spec document.
pub fn canonical_text(v: &Value) -> String {
    let mut text = serde_json::to_string_pretty(&sorted(v)).expect("a serde_json::Value always serialises");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_keys_at_every_level_and_ends_with_a_newline() {
        let v: Value = serde_json::from_str(r#"{"b":1,"a":{"z":[{"y":1,"x":2}],"c":"é"}}"#).unwrap();
        let text = canonical_text(&v);
        let expected = "{\n  \"a\": {\n    \"c\": \"é\",\n    \"z\": [\n      {\n        \"x\": 2,\n        \"y\": 1\n      }\n    ]\n  },\n  \"b\": 1\n}\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn canonicalisation_is_idempotent() {
        let v: Value =
            serde_json::from_str(r#"{"q":{"b":[3,{"k":"\u0001\"\\\n"}],"a":{}},"p":[],"é":"ü","Z":null,"n":-1.5}"#)
                .unwrap();
        let once = canonical_text(&v);
        let twice = canonical_text(&serde_json::from_str(&once).unwrap());
        assert_eq!(once, twice);
        // Uppercase sorts before lowercase and non-ASCII after both, as in Python's sort_keys.
        let top: Vec<&str> = once.lines().filter(|l| l.starts_with("  \"")).collect();
        assert!(top[0].starts_with("  \"Z\""), "{top:?}");
        assert!(top.last().unwrap().starts_with("  \"é\""), "{top:?}");
        assert!(once.contains(r#""k": "\u0001\"\\\n""#), "{once}");
    }

    #[test]
    fn the_committed_spec_is_canonical() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.json");
        let text = std::fs::read_to_string(path).unwrap();
        assert_eq!(canonical_text(&parse_spec(&text, None).unwrap()), text);
    }

    #[test]
    fn yaml_with_numeric_response_codes_becomes_the_same_json() {
        let yaml =
            "openapi: 3.0.3\npaths:\n  /x:\n    get:\n      responses:\n        200:\n          description: ok\n";
        let from_yaml = parse_spec(yaml, Some(Path::new("spec.yaml"))).unwrap();
        let from_json = parse_spec(
            r#"{"openapi":"3.0.3","paths":{"/x":{"get":{"responses":{"200":{"description":"ok"}}}}}}"#,
            None,
        )
        .unwrap();
        assert_eq!(canonical_text(&from_yaml), canonical_text(&from_json));
    }

    #[test]
    fn broken_json_reports_the_json_error() {
        let err = parse_spec("{\"openapi\": ", None).unwrap_err();
        assert!(err.starts_with("not valid JSON"), "{err}");
    }
}
