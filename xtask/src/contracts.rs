//! Which contract test covers each operation, found in the test sources (std only: the tests'
//! own `tests/tests/coverage.rs` includes this file with `#[path]`, so `cargo xtask check` and
//! the test suite agree without a hand-kept table).
//!
//! An operation `opId` is covered when `tests/tests/*.rs` holds, not `#[ignore]`d:
//! - a **wire test**: a test whose name starts with the operationId in snake case (`get_vm_wire`,
//!   `delete_ssh_key_encodes_the_fingerprint`, `exec_vm_…`) and whose body names `"opId"`;
//! - an **error test**: a test whose name says `error` (`vm_errors_map_to_kinds`) and whose
//!   body names `"opId"`.

#![allow(dead_code)]

use std::path::Path;

/// One test function of the suite.
#[derive(Debug, Clone)]
pub struct TestFn {
    /// The file, relative to `tests/tests/`.
    pub file: String,
    /// The function's name.
    pub name: String,
    /// Its source, from `fn` to the closing brace at the start of a line.
    pub body: String,
}

impl TestFn {
    /// `file.rs::name`.
    pub fn entry(&self) -> String {
        format!("{}::{}", self.file, self.name)
    }
}

/// The non-ignored `#[test]` and `#[tokio::test]` functions of every `.rs` file in `dir`.
pub fn tests_in(dir: &Path) -> std::io::Result<Vec<TestFn>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path)?;
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.extend(tests_of(&file, &text));
    }
    Ok(out)
}

/// The test functions of one file's `text`.
pub fn tests_of(file: &str, text: &str) -> Vec<TestFn> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let Some(rest) = trimmed
            .strip_prefix("async fn ")
            .or_else(|| trimmed.strip_prefix("fn "))
        else {
            continue;
        };
        let Some(name) = rest.split('(').next().filter(|n| !n.is_empty() && !n.contains(' ')) else {
            continue;
        };
        // The attributes and doc lines right above the function.
        let attrs: Vec<&str> = lines[..i]
            .iter()
            .rev()
            .take_while(|l| {
                let l = l.trim_start();
                l.starts_with("#[") || l.starts_with("///") || l.starts_with("//")
            })
            .copied()
            .collect();
        let is_test = attrs.iter().any(|a| {
            let a = a.trim_start();
            a.starts_with("#[test]") || a.starts_with("#[tokio::test")
        });
        let ignored = attrs.iter().any(|a| a.trim_start().starts_with("#[ignore"));
        if !is_test || ignored {
            continue;
        }
        let end = lines[i..]
            .iter()
            .position(|l| *l == "}")
            .map_or(lines.len(), |n| i + n + 1);
        out.push(TestFn {
            file: file.to_string(),
            name: name.to_string(),
            body: lines[i..end].join("\n"),
        });
    }
    out
}

/// The operationId in lower case without separators, as a test name starts when it is the
/// operation's wire test (`getVm`: `get_vm_wire` → `getvmwire`).
fn folded(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The wire test and the error test of `op` among `tests`, if any.
pub fn covering<'a>(op: &str, tests: &'a [TestFn]) -> (Option<&'a TestFn>, Option<&'a TestFn>) {
    let named = format!("\"{op}\"");
    let prefix = folded(op);
    let mentions: Vec<&TestFn> = tests.iter().filter(|t| t.body.contains(&named)).collect();
    let wire = mentions
        .iter()
        .filter(|t| folded(&t.name).starts_with(&prefix))
        // The plainest name first: `get_vm_wire` before `get_vm_wire_and_decoding`.
        .min_by_key(|t| (!t.name.contains("wire"), t.name.len()))
        .copied();
    // A group's `*_errors_map_to_kinds` first, else any test about an error.
    let errors = mentions
        .iter()
        .filter(|t| t.name.contains("error"))
        .min_by_key(|t| !t.name.contains("errors_map"))
        .copied();
    (wire, errors)
}

/// Every operation in `ops` that lacks a wire or an error test, in words naming the fix.
pub fn missing(ops: &[String], tests: &[TestFn]) -> Vec<String> {
    let ops: Vec<(String, String)> = ops
        .iter()
        .map(|op| (op.clone(), "tests/tests/contract_<group>.rs".to_string()))
        .collect();
    missing_in(&ops, tests)
}

/// [`missing`], each operation with the test file its tests belong in.
pub fn missing_in(ops: &[(String, String)], tests: &[TestFn]) -> Vec<String> {
    let mut out = Vec::new();
    for (op, file) in ops {
        let (wire, errors) = covering(op, tests);
        if wire.is_none() {
            out.push(format!(
                "operation {op} has no contract test: add a test named after it (for example `{}_wire`) to \
                 {file} that mounts the operation with `api.expect(\"{op}\", ..)` (its method, path and bodies \
                 are checked against openapi.json)",
                snake(op)
            ));
        }
        if errors.is_none() {
            out.push(format!(
                "operation {op} has no error-mapping test: name \"{op}\" in the group's `*_errors_map_to_kinds` test \
                 in {file}"
            ));
        }
    }
    out
}

/// `getOrgQuotas` → `get_org_quotas` (for messages; matching folds case instead).
pub fn snake(op: &str) -> String {
    let mut out = String::new();
    for (i, c) in op.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The coverage table of `docs/contract-coverage.md` for `ops` (`(id, method, path)`).
pub fn render(ops: &[(String, String, String)], tests: &[TestFn]) -> String {
    let mut out = String::from(
        "# Contract test coverage\n\n\
         Generated by `cargo xtask regen` from the test sources (`xtask/src/contracts.rs` says how a test is \
         found); `cargo xtask check` and `tests/tests/coverage.rs` fail when it is out of date.\n\n\
         Every operation of `openapi.json`, the test (in `tests/tests/`) that checks its method, path, \
         headers and bodies against the spec, and the test that checks its error mapping.\n\n\
         | operationId | method | path | wire test | error test |\n\
         | --- | --- | --- | --- | --- |\n",
    );
    for (id, method, path) in ops {
        let (wire, errors) = covering(id, tests);
        let show = |t: Option<&TestFn>| t.map_or_else(|| "**MISSING**".to_string(), TestFn::entry);
        out.push_str(&format!(
            "| `{id}` | {method} | `{path}` | `{}` | `{}` |\n",
            show(wire),
            show(errors)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = r#"
#[tokio::test]
async fn get_vm_wire() {
    api.expect("getVm", "/v1/vms/x", 200, vm).await;
}

#[tokio::test]
#[ignore]
async fn list_vms_wire() {
    api.expect("listVms", "/v1/vms", 200, vms).await;
}

/// Errors.
#[tokio::test]
async fn vm_errors_map_to_kinds() {
    for op in ["getVm", "listVms"] {}
}

fn get_vm_helper() {
    "getVm";
}
"#;

    #[test]
    fn tests_are_found_by_name_and_the_operation_they_name() {
        let tests = tests_of("contract_vms.rs", SRC);
        let names: Vec<&str> = tests.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            ["get_vm_wire", "vm_errors_map_to_kinds"],
            "ignored and non-tests left out"
        );
        let (wire, errors) = covering("getVm", &tests);
        assert_eq!(wire.map(TestFn::entry).as_deref(), Some("contract_vms.rs::get_vm_wire"));
        assert_eq!(
            errors.map(TestFn::entry).as_deref(),
            Some("contract_vms.rs::vm_errors_map_to_kinds")
        );
        let problems = missing(&["getVm".to_string(), "listVms".to_string()], &tests);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(
            problems[0].starts_with("operation listVms has no contract test"),
            "{problems:#?}"
        );
        assert!(problems[0].contains("list_vms_wire"), "{problems:#?}");
        assert_eq!(snake("getOrgQuotas"), "get_org_quotas");
    }
}
