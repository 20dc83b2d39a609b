//! Answers for the operations of the spec that the fake does not model: the first documented
//! success status, with the least body its schema allows (every required member, each with its
//! `default`, `example`, first `enum` value or the empty value of its type). A new read-only
//! operation of `openapi.json` is served this way with no code here; stateful behaviour stays
//! hand-written in `routes/` where it matters.

use serde_json::{Map, Value, json};

/// The status and body (`None`: no body) the spec's operation `op` answers by default.
pub fn answer(spec: &Value, op: &Value) -> (u16, Option<Value>) {
    let success = crate::facts::success_responses(op).into_iter().min_by_key(|(c, _)| *c);
    let Some((status, response)) = success else {
        return (200, None);
    };
    let schema = response.pointer("/content/application~1json/schema");
    (status, schema.map(|s| instance(spec, s, 0)))
}

/// The least value `schema` allows.
pub fn instance(spec: &Value, schema: &Value, depth: usize) -> Value {
    if depth > 16 {
        return Value::Null;
    }
    if let Some(target) = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
        .and_then(|r| spec.pointer(r))
    {
        return instance(spec, target, depth + 1);
    }
    for key in ["default", "example"] {
        if let Some(v) = schema.get(key) {
            return v.clone();
        }
    }
    if let Some(first) = schema.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
        return first.clone();
    }
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        let mut merged = Map::new();
        for part in parts {
            if let Value::Object(m) = instance(spec, part, depth + 1) {
                merged.extend(m);
            }
        }
        return Value::Object(merged);
    }
    if let Some(first) = ["oneOf", "anyOf"]
        .iter()
        .find_map(|k| schema.get(*k).and_then(Value::as_array).and_then(|a| a.first()))
    {
        return instance(spec, first, depth + 1);
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") | None if schema.get("properties").is_some() => {
            let props = schema.get("properties").and_then(Value::as_object);
            let mut out = Map::new();
            for name in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                let Some(name) = name.as_str() else { continue };
                let prop = props.and_then(|p| p.get(name)).unwrap_or(&Value::Null);
                let value = if prop.get("nullable").and_then(Value::as_bool) == Some(true) {
                    Value::Null
                } else {
                    instance(spec, prop, depth + 1)
                };
                out.insert(name.to_string(), value);
            }
            Value::Object(out)
        }
        Some("object") => json!({}),
        Some("array") => json!([]),
        Some("integer" | "number") => {
            let least = schema.get("minimum").cloned().unwrap_or(json!(0));
            if schema.get("exclusiveMinimum").and_then(Value::as_bool) == Some(true) {
                json!(least.as_f64().unwrap_or(0.0) as i64 + 1)
            } else {
                least
            }
        }
        Some("boolean") => json!(false),
        Some("string") => match schema.get("format").and_then(Value::as_str) {
            Some("date-time") => json!("2026-01-01T00:00:00Z"),
            Some("date") => json!("2026-01-01"),
            Some("uuid") => json!("00000000-0000-4000-8000-000000000000"),
            Some("uri" | "url") => json!("https://example.invalid/"),
            _ => {
                let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0);
                json!("x".repeat(min as usize))
            }
        },
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_answer_has_every_required_member_and_nothing_else() {
        let spec = json!({"components": {"schemas": {
            "Price": {"type": "object", "required": ["currency", "tiers", "at", "tier", "kind", "n", "note"],
                "properties": {
                    "currency": {"type": "string", "default": "usd"},
                    "tiers": {"type": "array", "items": {"type": "string"}},
                    "at": {"type": "string", "format": "date-time"},
                    "tier": {"$ref": "#/components/schemas/Tier"},
                    "kind": {"type": "string", "enum": ["spot", "reserved"]},
                    "n": {"type": "integer", "minimum": 1},
                    "note": {"type": "string", "nullable": true},
                    "optional": {"type": "string"}}},
            "Tier": {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}}}}});
        let op = json!({"responses": {
            "404": {"description": "no"},
            "202": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Price"}}}}}});
        let (status, body) = answer(&spec, &op);
        assert_eq!(status, 202);
        assert_eq!(
            body.unwrap(),
            json!({"currency": "usd", "tiers": [], "at": "2026-01-01T00:00:00Z", "tier": {"ok": false},
                "kind": "spot", "n": 1, "note": null})
        );
        assert_eq!(
            answer(&spec, &json!({"responses": {"204": {"description": "gone"}}})),
            (204, None)
        );
    }
}
