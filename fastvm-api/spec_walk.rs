// Walking the operations of an OpenAPI spec: the one walker of the workspace.
//
// `codegen.rs` (and through it `build.rs` and `xtask`) and the tests' spec helper
// (`tests/src/schema.rs`) include this file with `#[path]`, so every tool sees the same
// operations. It depends on `serde_json` only.

use serde_json::Value;

/// The HTTP methods a path item holds operations under. Its other keys (`parameters`,
/// `summary`, `description`, `servers`, `$ref`) are not operations and are skipped everywhere.
pub const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// Every operation of the spec as `(path, path item, method, operation)`: paths in document
/// order, methods in [`METHODS`] order. The path item is there for its path-level `parameters`.
pub fn operations(spec: &Value) -> impl Iterator<Item = (&str, &Value, &'static str, &Value)> {
    let paths = spec.get("paths").and_then(Value::as_object).into_iter().flatten();
    paths.flat_map(|(path, item)| {
        METHODS
            .iter()
            .filter_map(move |&method| item.get(method).map(|op| (path.as_str(), item, method, op)))
    })
}
