//! The per-operation pieces of the test suite that stay hand-written, found in the test sources
//! before any build: the retry tests' call of every operation that is not idempotent (a
//! repeat's effect is the facade method's, which nothing derives), and the tolerant reader's
//! facade call of every operation whose result the facade knows without a body
//! (`x-fastvm-empty-answer-known`: what it fills in is the facade method's) or whose facade
//! method converts the answer (a list's `keys`, a delete's id filled in: the generated call
//! would not show it). The tolerant reader
//! calls any other operation through its generated call and the facade's `call_api`, and the
//! decoding property tests take every answer type from the generated table
//! `fastvm_api::tables::ANSWERS`: neither needs a line for it.

use serde_json::Value;

use crate::codegen::facts;

/// The source of the function `name` in `text` (from `fn name(` to the next line that is `}`).
fn function<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let start = text.find(&format!("fn {name}("))?;
    let rest = &text[start..];
    let end = rest.find("\n}\n").map_or(rest.len(), |i| i + 3);
    Some(&rest[..end])
}

/// Whether the facade function that names `id` (in `facade`'s `(path, text)` sources) does more
/// than return its generated call's answer: it fills in an id (`known_id(`) or builds its own
/// `Ok(..)`.
fn converts(id: &str, facade: &[(String, String)]) -> bool {
    let needle = format!("\"{id}\"");
    facade.iter().any(|(_, text)| {
        text.match_indices(&needle).any(|(at, _)| {
            let start = text[..at].rfind("fn ").unwrap_or(0);
            let end = text[at..].find("\n    }\n").map_or(text.len(), |i| at + i);
            let body = &text[start..end];
            body.contains("known_id(") || body.contains("Ok(")
        })
    })
}

/// What the tables lack, each naming the file and the line to add. `facade` is the facade's
/// sources as `(path, text)`; `read` gives the text of a file under `tests/tests/` (`None`: the
/// file is not there, nothing is checked in it).
pub fn check(spec: &Value, facade: &[(String, String)], read: impl Fn(&str) -> Option<String>) -> Vec<String> {
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
    // The tolerant reader calls any other operation through its generated call; one whose
    // result the facade knows without a body (`call_or`), or whose facade method converts the
    // answer, needs its facade call there.
    arms(
        "tolerant_reader.rs",
        "call",
        ops.iter()
            .filter(|o| o.empty_answer_known || converts(&o.id, facade))
            .map(|o| o.id.as_str())
            .collect(),
        &|id| format!("\"{id}\" => encoded(<its facade call, as a user writes it>.await),"),
    );
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
            "/v1/b": {"post": {"operationId": "makeB", "x-fastvm-idempotent": false, "x-fastvm-empty-answer-known": true, "responses": {"201": {"description": "ok",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/B"}}}}}}}}});
        let reader = "async fn call(c: &C, op: &str) -> Outcome {\n    match op {\n        \"getA\" => x,\n    }\n}\n";
        let retry = "async fn call_non_idempotent(c: &C, op: &str) {\n    match op {\n    }\n}\n";
        let read = |file: &str| match file {
            "tolerant_reader.rs" => Some(reader.to_string()),
            "facade_retry.rs" => Some(retry.to_string()),
            _ => None,
        };
        let problems = check(&spec, &[], read);
        assert_eq!(problems.len(), 2, "{problems:#?}");
        // A facade method that converts its answer (here `getA`'s list) needs its arm too.
        let facade = [(
            "fastvm/src/resources/a.rs".to_string(),
            "    pub async fn list(&self) -> Result<Vec<A>> {\n        let l = call(\"getA\", c, |api| api.get_a().send()).await?;\n        Ok(l.items)\n    }\n".to_string(),
        )];
        let reader_without_get_a = |file: &str| match file {
            "tolerant_reader.rs" => Some("async fn call(c: &C, op: &str) -> Outcome {\n}\n".to_string()),
            _ => None,
        };
        let converted = check(&spec, &facade, reader_without_get_a);
        assert!(
            converted.iter().any(|p| p.contains("`call` has no arm for getA")),
            "{converted:#?}"
        );
        assert!(
            check(&spec, &[], reader_without_get_a)
                .iter()
                .all(|p| !p.contains("getA"))
        );
        assert!(
            problems[0].starts_with("tests/tests/tolerant_reader.rs: `call` has no arm for makeB"),
            "{problems:#?}"
        );
        assert!(
            problems[1].starts_with("tests/tests/facade_retry.rs: `call_non_idempotent` has no arm for makeB"),
            "{problems:#?}"
        );
    }

    #[test]
    fn the_committed_tests_have_every_arm() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let spec: Value = serde_json::from_str(&std::fs::read_to_string(root.join("openapi.json")).unwrap()).unwrap();
        let read = |file: &str| std::fs::read_to_string(root.join("tests/tests").join(file)).ok();
        let facade = crate::coverage::read_sources(&root.join("fastvm/src")).unwrap();
        assert_eq!(check(&spec, &facade, read), Vec::<String>::new());
    }
}
