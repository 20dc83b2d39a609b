//! Every operation in the spec must be reachable through the `fastvm` facade.
//!
//! The facade calls generated operations as `api().<method>()`, where `<method>` is the
//! operationId in snake case (progenitor's naming, via `heck`), and names the operation of a
//! request it builds by hand (an NDJSON exec, list VMs' metadata filters) with
//! `ops::find("<operationId>")`. So an operation is covered when a non-comment line of
//! `fastvm/src/**/*.rs` calls `.<method>(` or `ops::find("<operationId>")`.

use std::path::Path;

use heck::ToSnakeCase;
use serde_json::Value;

use crate::codegen::operation_ids;

/// Operations deliberately not exposed by the facade, with the reason. Empty: the facade covers
/// the whole API. An entry needs a comment saying why and where users should go instead.
pub const NOT_IN_FACADE: &[(&str, &str)] = &[];

/// The generated method name of an operationId: progenitor's `sanitize(id, Case::Snake)`.
pub fn method_name(operation_id: &str) -> String {
    // progenitor turns characters that cannot continue an identifier into word breaks.
    let cleaned: String = operation_id
        .replace('\'', "")
        .chars()
        .map(|c| if c.is_alphanumeric() || c == '_' { c } else { '-' })
        .collect();
    let mut name = cleaned.to_snake_case();
    if name.is_empty() {
        name = "x".into();
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    if RUST_KEYWORDS.contains(&name.as_str()) {
        name.push('_');
    }
    name
}

const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false", "fn",
    "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self",
    "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where", "while", "abstract", "become",
    "box", "do", "final", "macro", "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
];

/// The facade's source files as (path, text) pairs.
pub fn read_sources(dir: &Path) -> std::io::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push((path.display().to_string(), std::fs::read_to_string(&path)?));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Checks that every operation is called somewhere in `sources`, or listed in `allow`.
pub fn check(spec: &Value, sources: &[(String, String)], allow: &[(&str, &str)]) -> Vec<String> {
    // Comment lines are dropped so a doc example or a note naming a method does not count.
    let code: String = sources
        .iter()
        .flat_map(|(_, text)| text.lines())
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let ids = operation_ids(spec);
    let mut errors = Vec::new();
    for id in &ids {
        let method = method_name(id);
        let called = code.contains(&format!(".{method}(")) || code.contains(&format!("ops::find(\"{id}\")"));
        let allowed = allow.iter().any(|(a, _)| a == id);
        if !called && !allowed {
            // The group file of its tag, when the facade has one.
            let tag = crate::codegen::operations(spec)
                .find(|(_, _, _, op)| op.get("operationId").and_then(Value::as_str) == Some(id))
                .and_then(|(_, _, _, op)| op.pointer("/tags/0").and_then(Value::as_str))
                .map(|t| t.replace('-', "_"));
            let file = match tag {
                Some(tag) if sources.iter().any(|(p, _)| p.ends_with(&format!("resources/{tag}.rs"))) => {
                    format!("fastvm/src/resources/{tag}.rs")
                }
                Some(tag) => format!("a new fastvm/src/resources/{tag}.rs (a group, as the others)"),
                None => "fastvm/src/resources/<group>.rs".to_string(),
            };
            errors.push(format!(
                "operation {id} is not reachable through the fastvm facade: nothing in fastvm/src calls \
                 `api().{method}()`. Add a facade method for it in {file} (`call(\"{id}\", self.client, |api| \
                 api.{method}()..send())`), or list it in NOT_IN_FACADE in xtask/src/coverage.rs with the reason"
            ));
        }
        if called && allowed {
            errors.push(format!(
                "operation {id} is listed in NOT_IN_FACADE but the facade calls it; remove the entry"
            ));
        }
    }
    // A body-less answer is accepted (`call_or`, or `call_delete` on top of it) exactly where
    // the spec says it is complete.
    let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    for op in crate::codegen::facts::operations(spec) {
        let accepts = ["call_or", "call_delete"]
            .iter()
            .any(|f| compact.contains(&format!("{f}(\"{}\"", op.id)));
        if op.empty_answer_known && !accepts {
            errors.push(format!(
                "operation {} is marked x-fastvm-empty-answer-known in openapi.json, but its facade method does not \
                 accept a body-less answer: call it with `call_or(\"{}\", client, |api| .., || <the known result>)` \
                 (a delete: `call_delete`) in fastvm/src/resources (or remove the mark)",
                op.id, op.id
            ));
        }
        if accepts && !op.empty_answer_known {
            errors.push(format!(
                "operation {} is called with `call_or` (a body-less answer is accepted) but openapi.json does not say \
                 its answer is known without a body: add `\"x-fastvm-empty-answer-known\": true` to the operation",
                op.id
            ));
        }
    }
    for (a, _) in allow {
        if !ids.iter().any(|id| id == a) {
            errors.push(format!(
                "NOT_IN_FACADE lists {a}, which is not an operation in the spec; remove the entry"
            ));
        }
    }
    // The operationId string the facade passes to `call(..)` names the operation in retries,
    // tracing and errors; a typo there would mislabel it silently.
    for (path, text) in sources {
        for (lineno, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for pat in [
                "call(\"",
                "call_with_status(\"",
                "call_or(\"",
                "call_delete(\"",
                "ops::find(\"",
            ] {
                for (pos, _) in line.match_indices(pat) {
                    let rest = &line[pos + pat.len()..];
                    let Some(end) = rest.find('"') else { continue };
                    let label = &rest[..end];
                    if !ids.iter().any(|id| id == label) {
                        errors.push(format!(
                            "{path}:{}: `{pat}{label}\"` names no operation in the spec",
                            lineno + 1
                        ));
                    }
                }
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn method_names_follow_progenitor() {
        assert_eq!(method_name("launchVm"), "launch_vm");
        assert_eq!(method_name("fetchFileToVm"), "fetch_file_to_vm");
        assert_eq!(method_name("getOrgQuotas"), "get_org_quotas");
        assert_eq!(method_name("presignURL"), "presign_url");
        assert_eq!(method_name("get-thing.v2"), "get_thing_v2");
        assert_eq!(method_name("type"), "type_");
    }

    fn spec() -> Value {
        json!({"paths": {"/vms": {"get": {"operationId": "listVms"}, "post": {"operationId": "launchVm"}}}})
    }

    fn src(text: &str) -> Vec<(String, String)> {
        vec![("vms.rs".to_string(), text.to_string())]
    }

    #[test]
    fn covered_operations_pass() {
        let code = "call(\"listVms\", self.client.api().list_vms().send())\nlet b = api.launch_vm();";
        assert_eq!(check(&spec(), &src(code), &[]), Vec::<String>::new());
    }

    #[test]
    fn an_uncalled_operation_fails_and_comments_do_not_count() {
        let code = "self.client.api().list_vms().send()\n/// e.g. `client.api().launch_vm()`\n// .launch_vm(";
        let errors = check(&spec(), &src(code), &[]);
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert!(
            errors[0].starts_with("operation launchVm is not reachable"),
            "{errors:#?}"
        );
    }

    #[test]
    fn the_allowlist_excuses_and_must_stay_accurate() {
        let code = "self.client.api().list_vms().send()";
        assert_eq!(
            check(&spec(), &src(code), &[("launchVm", "test")]),
            Vec::<String>::new()
        );
        let errors = check(
            &spec(),
            &src(code),
            &[("launchVm", "test"), ("listVms", "test"), ("gone", "test")],
        );
        assert!(
            errors
                .iter()
                .any(|e| e.contains("listVms is listed in NOT_IN_FACADE but")),
            "{errors:#?}"
        );
        assert!(
            errors.iter().any(|e| e.contains("NOT_IN_FACADE lists gone")),
            "{errors:#?}"
        );
    }

    #[test]
    fn a_hand_built_request_names_its_operation() {
        let code = "send_json(client, request, crate::ops::find(\"listVms\"))\napi().launch_vm()";
        assert_eq!(check(&spec(), &src(code), &[]), Vec::<String>::new());
        let code = "send_json(client, request, crate::ops::find(\"listVM\"))\napi().launch_vm()";
        let errors = check(&spec(), &src(code), &[]);
        assert!(
            errors.iter().any(|e| e.contains("listVms is not reachable")),
            "{errors:#?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.contains("`ops::find(\"listVM\"` names no operation")),
            "{errors:#?}"
        );
    }

    #[test]
    fn a_body_less_answer_is_accepted_exactly_where_the_spec_says_it_is_known() {
        let mut spec = spec();
        spec["paths"]["/vms"]["post"]["x-fastvm-empty-answer-known"] = json!(true);
        let plain = "api().list_vms()\ncall(\"launchVm\", c, |api| api.launch_vm())";
        let errors = check(&spec, &src(plain), &[]);
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert!(
            errors[0].starts_with("operation launchVm is marked x-fastvm-empty-answer-known"),
            "{errors:#?}"
        );
        let accepting = "api().list_vms()\ncall_or(\n    \"launchVm\",\n    c,\n    |api| api.launch_vm(),\n    || 1)";
        assert_eq!(check(&spec, &src(accepting), &[]), Vec::<String>::new());
        let deleting = "api().list_vms()\ncall_delete(\"launchVm\", c, id, |api| api.launch_vm())";
        assert_eq!(check(&spec, &src(deleting), &[]), Vec::<String>::new());
        let errors = check(&super::tests::spec(), &src(accepting), &[]);
        assert!(
            errors[0].contains("add `\"x-fastvm-empty-answer-known\": true`"),
            "{errors:#?}"
        );
    }

    #[test]
    fn a_mislabelled_call_fails() {
        let code = "call(\"listVMs\", api().list_vms().send())\ncall_with_status(\"launchVm\", api().launch_vm())";
        let errors = check(&spec(), &src(code), &[]);
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert!(
            errors[0].contains("vms.rs:1: `call(\"listVMs\"` names no operation"),
            "{errors:#?}"
        );
    }
}
