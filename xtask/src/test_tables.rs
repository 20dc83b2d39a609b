//! The one per-operation piece of the test suite that stays hand-written, found in the test
//! sources before any build: the retry tests' call of every operation that is not idempotent
//! (a repeat's effect is the facade method's, which nothing derives). The tolerant reader calls
//! an operation without a hand-written call through its generated call and the facade's
//! `call_api`, and the decoding property tests take every answer type from the generated table
//! `fastvm_api::tables::ANSWERS`: neither needs a line per operation any more.

use serde_json::Value;

use crate::codegen::facts;

/// The source of the function `name` in `text` (from `fn name(` to the next line that is `}`).
fn function<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let start = text.find(&format!("fn {name}("))?;
    let rest = &text[start..];
    let end = rest.find("\n}\n").map_or(rest.len(), |i| i + 3);
    Some(&rest[..end])
}

/// What the table lacks, each naming the file and the line to add. `read` gives the text
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
        "facade_retry.rs",
        "call_non_idempotent",
        ops.iter().filter(|o| !o.idempotent).map(|o| o.id.as_str()).collect(),
        &|id| format!("\"{id}\" => <its facade call>.await.map(drop),"),
    );
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_missing_arm_is_named_with_the_line_to_add() {
        let spec = json!({"paths": {
            "/v1/a": {"get": {"operationId": "getA", "responses": {"200": {"description": "ok",
                "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/A"}}}}}}}},
            "/v1/b": {"post": {"operationId": "makeB", "x-fastvm-idempotent": false, "responses": {"201": {"description": "ok",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/B"}}}}}}}}});
        let retry = "async fn call_non_idempotent(c: &C, op: &str) {\n    match op {\n    }\n}\n";
        let read = |file: &str| match file {
            "facade_retry.rs" => Some(retry.to_string()),
            _ => None,
        };
        let problems = check(&spec, read);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(
            problems[0].starts_with("tests/tests/facade_retry.rs: `call_non_idempotent` has no arm for makeB"),
            "{problems:#?}"
        );
    }

    #[test]
    fn the_committed_tests_have_every_arm() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let spec: Value = serde_json::from_str(&std::fs::read_to_string(root.join("openapi.json")).unwrap()).unwrap();
        let read = |file: &str| std::fs::read_to_string(root.join("tests/tests").join(file)).ok();
        assert_eq!(check(&spec, read), Vec::<String>::new());
    }
}
