//! The few per-operation pieces of the test suite that stay hand-written (a call through the
//! facade cannot be derived from the spec), found in the test sources before any build: the
//! tolerant reader's `call` of every operation, the retry tests' call of every operation that
//! is not idempotent, and the decoding property tests' fixture of every answer type.

use serde_json::Value;

use crate::codegen::facts;

/// The source of the function `name` in `text` (from `fn name(` to the next line that is `}`).
fn function<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let start = text.find(&format!("fn {name}("))?;
    let rest = &text[start..];
    let end = rest.find("\n}\n").map_or(rest.len(), |i| i + 3);
    Some(&rest[..end])
}

/// What the three tables lack, each naming the file and the line to add. `read` gives the text
/// of a file under `tests/tests/` (`None`: the file is not there, nothing is checked in it).
pub fn check(spec: &Value, read: impl Fn(&str) -> Option<String>) -> Vec<String> {
    let mut out = Vec::new();
    let ops = facts::operations(spec);
    let mut arms = |file: &str, func: &str, ops: Vec<&str>, line: &dyn Fn(&str) -> String| {
        let Some(text) = read(file) else { return };
        let body = function(&text, func).unwrap_or("");
        for id in ops {
            if !body.contains(&format!("\"{id}\" =>")) {
                out.push(format!(
                    "tests/tests/{file}: `{func}` has no arm for {id}: add `{}`",
                    line(id)
                ));
            }
        }
    };
    arms(
        "tolerant_reader.rs",
        "call",
        ops.iter().map(|o| o.id.as_str()).collect(),
        &|id| format!("\"{id}\" => encoded(<its facade call, as a user writes it>.await),"),
    );
    arms(
        "facade_retry.rs",
        "call_non_idempotent",
        ops.iter().filter(|o| !o.idempotent).map(|o| o.id.as_str()).collect(),
        &|id| format!("\"{id}\" => <its facade call>.await.map(drop),"),
    );
    if let Some(text) = read("tolerant_decoding_prop.rs") {
        for key in answer_types(spec) {
            let (needle, list) = match key.strip_prefix('[').and_then(|k| k.strip_suffix(']')) {
                Some(item) => (format!("array_of(\"{item}\")"), true),
                None => (format!("component(\"{key}\")"), false),
            };
            if !text.contains(&needle) {
                out.push(format!(
                    "tests/tests/tolerant_decoding_prop.rs: no fixture for the answer type {key}: add to `build_fixtures` \
                     `Fixture {{ name: \"..\", schema: {needle}, full: json!({{}}), decode: decode::<..>, list: {list} }}` \
                     (members left out of `full` are sampled from the spec)"
                ));
            }
        }
    }
    out
}

/// The answer types of the spec: `Schema` for a component answer, `[Schema]` for a list of one.
fn answer_types(spec: &Value) -> std::collections::BTreeSet<String> {
    let name = |s: &Value| s.get("$ref")?.as_str()?.rsplit('/').next().map(str::to_string);
    let mut out = std::collections::BTreeSet::new();
    for (_, _, _, op) in crate::codegen::operations(spec) {
        for (_, response) in facts::success_responses(op) {
            let Some(schema) = response.pointer("/content/application~1json/schema") else {
                continue;
            };
            match (name(schema), schema.get("items").and_then(name)) {
                (Some(n), _) => out.insert(n),
                (None, Some(item)) => out.insert(format!("[{item}]")),
                _ => false,
            };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_missing_arm_or_fixture_is_named_with_the_line_to_add() {
        let spec = json!({"paths": {
            "/v1/a": {"get": {"operationId": "getA", "responses": {"200": {"description": "ok",
                "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/A"}}}}}}}},
            "/v1/b": {"post": {"operationId": "makeB", "x-fastvm-idempotent": false, "responses": {"201": {"description": "ok",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/B"}}}}}}}}});
        let reader = "async fn call(c: &C, op: &str) -> Outcome {\n    match op {\n        \"getA\" => x,\n    }\n}\n";
        let retry = "async fn call_non_idempotent(c: &C, op: &str) {\n    match op {\n    }\n}\n";
        let prop = "vec![Fixture { schema: array_of(\"A\") }]";
        let read = |file: &str| match file {
            "tolerant_reader.rs" => Some(reader.to_string()),
            "facade_retry.rs" => Some(retry.to_string()),
            "tolerant_decoding_prop.rs" => Some(prop.to_string()),
            _ => None,
        };
        let problems = check(&spec, read);
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(
            problems[0].starts_with("tests/tests/tolerant_reader.rs: `call` has no arm for makeB"),
            "{problems:#?}"
        );
        assert!(
            problems[1].starts_with("tests/tests/facade_retry.rs: `call_non_idempotent` has no arm for makeB"),
            "{problems:#?}"
        );
        assert!(
            problems[2].contains("no fixture for the answer type B") && problems[2].contains("component(\"B\")"),
            "{problems:#?}"
        );
    }

    #[test]
    fn the_committed_tests_have_every_arm_and_fixture() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let spec: Value = serde_json::from_str(&std::fs::read_to_string(root.join("openapi.json")).unwrap()).unwrap();
        let read = |file: &str| std::fs::read_to_string(root.join("tests/tests").join(file)).ok();
        assert_eq!(check(&spec, read), Vec::<String>::new());
    }
}
