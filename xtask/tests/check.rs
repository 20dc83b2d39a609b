//! `cargo xtask check` and `regen` on the real workspace and on crafted copies of it.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use xtask::{Failure, Workspace};

fn real() -> Workspace {
    Workspace::locate()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A copy of the files `check` reads, in a temporary directory.
struct Scratch {
    _dir: tempfile::TempDir,
    ws: Workspace,
}

impl Scratch {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace {
            root: dir.path().to_path_buf(),
        };
        let real = real();
        std::fs::create_dir_all(ws.snapshot().parent().unwrap()).unwrap();
        std::fs::copy(real.spec(), ws.spec()).unwrap();
        link_or_copy(&ws);
        std::fs::copy(real.snapshot(), ws.snapshot()).unwrap();
        copy_dir(&real.facade_src(), &ws.facade_src());
        copy_dir(&real.tests_dir(), &ws.tests_dir());
        copy_dir(&real.root.join("tests/fixtures"), &ws.root.join("tests/fixtures"));
        std::fs::create_dir_all(ws.coverage_doc().parent().unwrap()).unwrap();
        std::fs::copy(real.coverage_doc(), ws.coverage_doc()).unwrap();
        std::fs::copy(real.root.join("Cargo.toml"), ws.root.join("Cargo.toml")).unwrap();
        std::fs::copy(real.root.join("fastvm/Cargo.toml"), ws.root.join("fastvm/Cargo.toml")).unwrap();
        Scratch { _dir: dir, ws }
    }

    fn spec(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.ws.spec()).unwrap()).unwrap()
    }

    /// Writes `spec` canonically, as `regen` would.
    fn set_spec(&self, spec: &Value) {
        std::fs::write(self.ws.spec(), xtask::canon::canonical_text(spec)).unwrap();
    }

    fn check(&self) -> Vec<Failure> {
        xtask::check(&self.ws, None)
    }
}

#[cfg(unix)]
fn link_or_copy(ws: &Workspace) {
    std::os::unix::fs::symlink("../openapi.json", ws.crate_spec()).unwrap();
}

#[cfg(not(unix))]
fn link_or_copy(ws: &Workspace) {
    std::fs::copy(ws.spec(), ws.crate_spec()).unwrap();
}

fn checks(failures: &[Failure]) -> Vec<&'static str> {
    failures.iter().map(|f| f.check).collect()
}

fn render(failures: &[Failure]) -> String {
    failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

#[test]
fn the_real_workspace_passes() {
    let failures = xtask::check(&real(), None);
    assert!(
        failures.is_empty(),
        "cargo xtask check fails on the workspace:\n{}",
        render(&failures)
    );
}

#[test]
fn the_binary_passes_on_the_real_workspace_and_fails_on_drift() {
    let ok = Command::new(env!("CARGO_BIN_EXE_xtask")).arg("check").output().unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));

    let scratch = Scratch::new();
    let mut snapshot = std::fs::read_to_string(scratch.ws.snapshot()).unwrap();
    snapshot.push_str("// hand edit\n");
    std::fs::write(scratch.ws.snapshot(), snapshot).unwrap();
    let bad = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("check")
        .arg("--root")
        .arg(&scratch.ws.root)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("error[snapshot]"), "{stderr}");
    assert!(
        stderr.contains("-// hand edit"),
        "the diff shows the stray line: {stderr}"
    );
    assert!(stderr.contains("fix: cargo xtask regen"), "{stderr}");
}

#[test]
fn an_unchanged_copy_passes() {
    let scratch = Scratch::new();
    let failures = scratch.check();
    assert!(failures.is_empty(), "{}", render(&failures));
}

#[test]
fn a_non_canonical_spec_fails_with_a_diff() {
    let scratch = Scratch::new();
    let compact = serde_json::to_string(&scratch.spec()).unwrap();
    std::fs::write(scratch.ws.spec(), compact).unwrap();
    let failures = scratch.check();
    // The snapshot still matches: build.rs output does not depend on formatting.
    assert_eq!(checks(&failures), ["spec-canonical"], "{}", render(&failures));
    assert!(
        failures[0].message.contains("+++ openapi.json (canonical)"),
        "{}",
        failures[0].message
    );
    assert_eq!(failures[0].fix, "cargo xtask regen");
}

#[test]
fn an_openapi_31_spec_fails_as_invalid_once() {
    let scratch = Scratch::new();
    let mut spec = scratch.spec();
    spec["openapi"] = json!("3.1.0");
    scratch.set_spec(&spec);
    let failures = scratch.check();
    assert_eq!(checks(&failures), ["spec-valid"], "{}", render(&failures));
    assert!(
        failures[0].message.contains("OpenAPI 3.1 is not supported"),
        "{}",
        failures[0].message
    );
}

#[test]
fn a_stale_snapshot_fails_with_a_diff() {
    let scratch = Scratch::new();
    let mut spec = scratch.spec();
    spec["components"]["schemas"]["VM"]["properties"]["zone"] = json!({"type": "string", "description": "Zone."});
    scratch.set_spec(&spec);
    let failures = scratch.check();
    assert_eq!(checks(&failures), ["snapshot"], "{}", render(&failures));
    assert!(
        failures[0].message.contains("+        pub zone:"),
        "{}",
        failures[0].message
    );
}

#[test]
fn an_operation_missing_from_the_facade_fails() {
    let scratch = Scratch::new();
    let mut removed = 0;
    for file in xtask::coverage::read_sources(&scratch.ws.facade_src()).unwrap() {
        if file.1.contains(".get_org_quotas(") {
            std::fs::write(&file.0, file.1.replace(".get_org_quotas(", ".gone(")).unwrap();
            removed += 1;
        }
    }
    assert!(removed > 0, "the facade should call get_org_quotas");
    let failures = scratch.check();
    assert_eq!(checks(&failures), ["facade-coverage"], "{}", render(&failures));
    assert!(
        failures[0]
            .message
            .starts_with("operation getOrgQuotas is not reachable"),
        "{}",
        failures[0].message
    );
}

#[test]
fn a_new_string_enum_needs_no_classification_but_an_open_string_stays_plain() {
    // A new enum decodes open by construction (codegen::tolerance): nothing to classify.
    let scratch = Scratch::new();
    let mut spec = scratch.spec();
    spec["components"]["schemas"]["VM"]["properties"]["tier"] = json!({"type": "string", "enum": ["a", "b"]});
    scratch.set_spec(&spec);
    regen_snapshot(&scratch.ws);
    let failures = scratch.check();
    // Nothing asked for: the new type joins the facade's `fastvm::types` by code generation.
    assert_eq!(checks(&failures), Vec::<&str>::new(), "{}", render(&failures));
    let code = std::fs::read_to_string(scratch.ws.snapshot()).unwrap();
    let list = xtask::codegen::facade_types::listed(&code).unwrap();
    assert!(list.contains(&"VmTier".to_string()), "{list:?}");
    // A string the spec documents as open that gains an `enum` in the spec is reported.
    spec["components"]["schemas"]["VMStatus"]["enum"] = json!(["running", "paused"]);
    let errors = xtask::enums::check(&spec);
    assert!(
        errors.iter().any(|e| e.contains("VMStatus: documented as open")),
        "{errors:#?}"
    );
}

#[test]
fn a_construct_progenitor_mishandles_fails_the_lint_before_generation() {
    let scratch = Scratch::new();
    let mut spec = scratch.spec();
    let get_vm = spec["paths"]["/v1/vms/{id}"]["get"]["responses"]
        .as_object_mut()
        .unwrap();
    let error = get_vm["4XX"].clone();
    get_vm.insert("default".into(), error);
    scratch.set_spec(&spec);
    let failures = scratch.check();
    // Generation is skipped, so there is no unreadable progenitor panic next to the lint.
    assert_eq!(checks(&failures), ["preflight"], "{}", render(&failures));
    assert!(
        failures[0]
            .message
            .contains("GET /v1/vms/{id} (getVm): `default` response"),
        "{}",
        failures[0].message
    );
}

#[test]
fn a_progenitor_panic_becomes_an_error() {
    // A request body with two media types: progenitor's `todo!("more media types than expected")`.
    let mut spec = real_spec();
    let body = spec["paths"]["/v1/vms"]["post"]["requestBody"]["content"]["application/json"].clone();
    spec["paths"]["/v1/vms"]["post"]["requestBody"]["content"]["application/x-yaml"] = body;
    let err = xtask::generate(&xtask::canon::canonical_text(&spec)).unwrap_err();
    assert!(err.starts_with("progenitor panicked:"), "{err}");
    assert!(err.contains("media types"), "{err}");
}

#[test]
fn a_success_with_and_one_without_a_body_generate() {
    // 200 with a body next to 204 without one once made progenitor panic (one success type);
    // codegen now merges every 2xx into one `2XX` response, and an empty body is handed back
    // to the facade (`fastvm_api::decode::success`).
    let mut spec = real_spec();
    spec["paths"]["/v1/vms/{id}"]["get"]["responses"]["204"] = json!({"description": "empty"});
    let code = xtask::generate(&xtask::canon::canonical_text(&spec)).unwrap();
    assert!(code.contains("200..=299 => crate::decode::success(response).await"));
}

#[test]
fn upstream_differences_fail_with_the_summary() {
    let scratch = Scratch::new();
    let upstream = scratch.ws.root.join("upstream.json");
    std::fs::write(&upstream, std::fs::read(scratch.ws.spec()).unwrap()).unwrap();
    assert!(xtask::check(&scratch.ws, Some(&upstream)).is_empty());

    let mut spec = scratch.spec();
    spec["paths"].as_object_mut().unwrap().remove("/healthz");
    std::fs::write(&upstream, serde_json::to_string(&spec).unwrap()).unwrap();
    let failures = xtask::check(&scratch.ws, Some(&upstream));
    assert_eq!(checks(&failures), ["upstream"], "{}", render(&failures));
    let msg = &failures[0].message;
    assert!(
        msg.contains("[BREAKING] operation removed: getHealth (GET /healthz)"),
        "{msg}"
    );
    assert!(
        failures[0].fix.starts_with("cargo xtask regen --from "),
        "{}",
        failures[0].fix
    );
}

fn real_spec() -> Value {
    serde_json::from_str(&std::fs::read_to_string(real().spec()).unwrap()).unwrap()
}

fn regen_snapshot(ws: &Workspace) {
    xtask::regen(ws, None).expect("regen");
}

#[test]
fn regen_from_yaml_writes_the_canonical_spec_and_the_snapshot_and_summarises() {
    let scratch = Scratch::new();
    let mut spec = scratch.spec();
    spec["components"]["schemas"]["CreateVMRequest"]["properties"]["zone"] = json!({"type": "string"});
    spec["components"]["schemas"]["CreateVMRequest"]["required"] = json!(["zone"]);
    let yaml_path: PathBuf = scratch.ws.root.join("upstream.yaml");
    std::fs::write(&yaml_path, serde_yaml::to_string(&spec).unwrap()).unwrap();

    let report = xtask::regen(&scratch.ws, Some(&yaml_path)).expect("regen");
    assert!(report.spec_written && report.snapshot_written, "{report}");
    let breaking = report.summary.find("CreateVMRequest: new required field `zone`");
    assert!(
        breaking.len() == 1 && breaking[0].breaking,
        "{}",
        report.summary.render()
    );
    assert_eq!(report.summary.changes.len(), 1, "{}", report.summary.render());

    let written = std::fs::read_to_string(scratch.ws.spec()).unwrap();
    assert_eq!(written, xtask::canon::canonical_text(&spec));
    assert!(
        std::fs::read_to_string(scratch.ws.snapshot())
            .unwrap()
            .contains("pub zone: ::std::string::String")
    );
    let failures = scratch.check();
    assert!(failures.is_empty(), "{}", render(&failures));

    // Running it again changes nothing.
    let again = xtask::regen(&scratch.ws, Some(&yaml_path)).expect("regen");
    assert!(
        !again.spec_written && !again.snapshot_written && again.summary.is_empty(),
        "{again}"
    );
}

#[test]
fn regen_refuses_31_and_missing_operation_ids_and_writes_nothing() {
    let scratch = Scratch::new();
    let before = (
        std::fs::read(scratch.ws.spec()).unwrap(),
        std::fs::read(scratch.ws.snapshot()).unwrap(),
    );
    let from = scratch.ws.root.join("upstream.json");

    let mut v31 = scratch.spec();
    v31["openapi"] = json!("3.1.0");
    std::fs::write(&from, v31.to_string()).unwrap();
    let err = xtask::regen(&scratch.ws, Some(&from)).unwrap_err();
    assert!(err.contains("OpenAPI 3.1 is not supported"), "{err}");

    let mut no_id = scratch.spec();
    no_id["paths"]["/healthz"]["get"]
        .as_object_mut()
        .unwrap()
        .remove("operationId");
    std::fs::write(&from, no_id.to_string()).unwrap();
    let err = xtask::regen(&scratch.ws, Some(&from)).unwrap_err();
    assert!(err.contains("GET /healthz: no operationId"), "{err}");

    let after = (
        std::fs::read(scratch.ws.spec()).unwrap(),
        std::fs::read(scratch.ws.snapshot()).unwrap(),
    );
    assert!(before == after, "a refused spec must leave the workspace untouched");
}

/// The maintainers' exercise "a new public GET": before any build, `check` names each missing
/// piece (the facade method, the contract tests) with the file to edit, and nothing else.
#[test]
fn a_new_public_get_is_listed_piece_by_piece_before_any_build() {
    let scratch = Scratch::new();
    let mut spec = scratch.spec();
    spec["paths"]["/v1/example-prices"] = json!({"get": {
        "operationId": "getExamplePrices", "security": [], "tags": ["quotas"], "summary": "List prices",
        "responses": {"200": {"description": "The prices.", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"currency": {"type": "string"}}}}}}}}});
    scratch.set_spec(&spec);
    regen_snapshot(&scratch.ws);
    let failures = scratch.check();
    assert_eq!(
        checks(&failures),
        // Only the two hand-written pieces: its answer type joins `fastvm::types` and the test
        // tables by code generation.
        ["facade-coverage", "contract-coverage"],
        "{}",
        render(&failures)
    );
    let shown = render(&failures);
    assert!(
        shown.contains("operation getExamplePrices is not reachable through the fastvm facade"),
        "{shown}"
    );
    assert!(
        shown.contains("operation getExamplePrices has no contract test"),
        "{shown}"
    );
    assert!(
        shown.contains("`get_example_prices_wire`") && shown.contains("tests/tests/contract_quotas.rs"),
        "{shown}"
    );
    assert!(
        shown.contains("operation getExamplePrices has no error-mapping test"),
        "{shown}"
    );
    // The generated table says it is public, safe to repeat and ordinary.
    let code = std::fs::read_to_string(scratch.ws.snapshot()).unwrap();
    // Its answer type is re-exported by the facade, and in the tests' tables.
    let list = xtask::codegen::facade_types::listed(&code).unwrap();
    assert!(list.contains(&"GetExamplePricesResponse".to_string()), "{list:?}");
    assert!(code.contains("id: \"getExamplePrices\",\n            call: call_get_example_prices"));
    let row = &code[code.rfind("id: \"getExamplePrices\"").unwrap()..];
    let row = &row[..row.find('}').unwrap()];
    assert!(
        row.contains("idempotent: true") && row.contains("public: true"),
        "{row}"
    );
}

/// Every fact the workspace derives from the spec, missing, is named with its fix.
#[test]
fn missing_facts_are_named_with_the_file_and_the_fix() {
    let scratch = Scratch::new();
    let mut spec = scratch.spec();
    // A POST that does not say whether it is safe to repeat.
    spec["paths"]["/v1/vms/{id}/reboot"] = json!({"post": {
        "operationId": "rebootVm", "tags": ["vms"],
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
            "$ref": "#/components/schemas/Volume"}}}}}}});
    // An answer schema with an id and a status, an upstream-worded open string, a secret-looking
    // field, none of them classified.
    spec["components"]["schemas"]["Volume"] = json!({"type": "object", "required": ["id", "status"], "properties": {
        "id": {"type": "string"},
        "status": {"type": "string", "description": "The state. Future server versions may introduce additional values."},
        "accessToken": {"type": "string"}}});
    // A typo in an extension's name.
    spec["paths"]["/v1/vms"]["post"]["x-fastvm-idempotant"] = json!(false);
    scratch.set_spec(&spec);
    let failures = scratch.check();
    let shown = render(&failures);
    for needle in [
        "operation rebootVm (POST /v1/vms/{id}/reboot) does not say whether it is safe to repeat: add `\"x-fastvm-idempotent\": true`",
        "schema Volume (in an answer) has an id or status, and does not say which fields stay required: add `\"x-fastvm-essential\"",
        "schema Volume: property accessToken looks secret and is not classified: add `\"x-fastvm-secret-fields\"",
        "openapi.json: Volume.status: a string that documents values is not classified as open or closed",
        "unknown extension x-fastvm-idempotant",
    ] {
        assert!(shown.contains(needle), "{needle}\n{shown}");
    }
    // Generation is skipped while facts are missing: no snapshot diff hides the list.
    assert!(!checks(&failures).contains(&"snapshot"), "{shown}");
}

#[test]
fn a_fixture_that_no_longer_matches_is_named() {
    let scratch = Scratch::new();
    let mut spec = scratch.spec();
    let vm = spec["components"]["schemas"]["VM"]["properties"]
        .as_object_mut()
        .unwrap();
    vm.remove("publicIpv6");
    scratch.set_spec(&spec);
    regen_snapshot(&scratch.ws);
    let failures = scratch.check();
    let shown = render(&failures);
    assert!(
        shown.contains("tests/fixtures/answers/VM.json: /: publicIpv6 is not a member of the schema"),
        "{shown}"
    );
}

/// `regen` compares with what is committed: an edit of openapi.json in place is a change, and
/// its summary comes from the generated code (a changed return type is breaking, with the
/// facade file that calls it).
#[test]
fn regen_reports_an_in_place_edit_against_git_head_from_the_generated_api() {
    let scratch = Scratch::new();
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .arg("-C")
            .arg(&scratch.ws.root)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "base"]);
    let mut spec = scratch.spec();
    let responses = spec["paths"]["/v1/snapshots/{id}"]["delete"]["responses"]
        .as_object_mut()
        .unwrap();
    responses.remove("200");
    responses.insert("204".into(), json!({"description": "Deleted."}));
    scratch.set_spec(&spec);
    let report = xtask::regen(&scratch.ws, None).unwrap().to_string();
    assert!(report.contains("Compared with openapi.json at git HEAD."), "{report}");
    assert!(
        report.contains("operation deleteSnapshot: new response 204"),
        "{report}"
    );
    assert!(
        report.contains("[BREAKING] builder::DeleteSnapshot::send")
            && report.contains(
                "is now `fn(self) -> Result<ResponseValue<()>, Error<()>>` [used in fastvm/src/resources/snapshots.rs]"
            ),
        "{report}"
    );
}

/// Stable output order: an additive spec change (an operation, two schemas, a field) shows in
/// the generated code as insertions only, nothing moved or rewritten.
#[test]
fn an_additive_spec_change_only_inserts_generated_lines() {
    let old = real_spec();
    let mut new = old.clone();
    new["paths"]["/v1/example-prices"] = json!({"get": {"operationId": "getExamplePrices", "security": [], "tags": ["quotas"],
        "responses": {"200": {"description": "The prices.", "content": {"application/json": {"schema": {
            "$ref": "#/components/schemas/ExamplePricing"}}}}}}});
    new["components"]["schemas"]["ExamplePricing"] = json!({"type": "object", "required": ["currency"], "properties": {
        "currency": {"type": "string"},
        "tiers": {"type": "array", "items": {"$ref": "#/components/schemas/ExamplePricingTier"}}}});
    new["components"]["schemas"]["ExamplePricingTier"] = json!({"type": "object", "properties": {
        "machineType": {"type": "string"}, "hourly": {"type": "number", "nullable": true}}});
    new["components"]["schemas"]["VM"]["properties"]["exampleZone"] = json!({"type": "string"});
    let generate = |spec: &Value| xtask::generate(&xtask::canon::canonical_text(spec)).unwrap();
    let (before, after) = (generate(&old), generate(&new));
    let diff = similar::TextDiff::from_lines(&before, &after);
    let removed = diff
        .iter_all_changes()
        .filter(|c| c.tag() == similar::ChangeTag::Delete)
        .count();
    let inserted = diff
        .iter_all_changes()
        .filter(|c| c.tag() == similar::ChangeTag::Insert)
        .count();
    assert_eq!(
        removed,
        0,
        "{}",
        xtask::unified_diff(&before, &after, "before", "after")
    );
    // The new operation, its answer types (no builders: they are only received) and the field.
    assert!(inserted > 50, "{inserted}");
}

/// A deprecated operation keeps its types and builder; its `Client` method carries the note.
#[test]
fn a_deprecated_operation_keeps_its_types_and_its_method_says_why() {
    let mut spec = real_spec();
    let op = &mut spec["paths"]["/v1/builds"]["post"];
    op["deprecated"] = json!(true);
    op["x-fastvm-deprecation"] = json!("builds are replaced by snapshot imports (importSnapshot)");
    let code = xtask::generate(&xtask::canon::canonical_text(&spec)).unwrap();
    let at = code.find("pub fn create_build(&self)").expect("the method stays");
    let before = &code[..at];
    let attr = &before[before.rfind("#[deprecated").expect("deprecated")..];
    assert!(
        attr.contains("builds are replaced by snapshot imports (importSnapshot)"),
        "{attr}"
    );
    assert!(code.contains("pub struct CreateBuildRequest") && code.contains("pub struct CreateBuild<'a>"));
    assert!(code.contains("deprecated: true"), "the operations table says it");
    // A note without the mark is named.
    // (Whether or not the real spec has deprecated the operation by now.)
    let mut spec = real_spec();
    let op = spec["paths"]["/v1/builds"]["post"].as_object_mut().unwrap();
    op.remove("deprecated");
    op.insert("x-fastvm-deprecation".into(), json!("why"));
    let problems = xtask::codegen::facts::problems(&spec);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("has x-fastvm-deprecation but is not `deprecated: true`")),
        "{problems:#?}"
    );
}

/// `regen --from` an upstream copy (which has no `x-fastvm-*` facts) keeps ours.
#[test]
fn regen_from_upstream_carries_our_extensions_over() {
    let scratch = Scratch::new();
    let spec = scratch.spec();
    let mut upstream = spec.clone();
    strip_extensions(&mut upstream);
    assert!(
        xtask::codegen::facts::operations(&upstream)
            .iter()
            .any(|o| o.id == "pauseVm")
    );
    let path = scratch.ws.root.join("upstream.json");
    std::fs::write(&path, serde_json::to_string(&upstream).unwrap()).unwrap();
    let report = xtask::regen(&scratch.ws, Some(&path)).unwrap();
    assert!(report.carried > 20, "{report}");
    let (now, before) = (
        xtask::canon::canonical_text(&scratch.spec()),
        xtask::canon::canonical_text(&spec),
    );
    assert!(
        now == before,
        "{}",
        xtask::unified_diff(&before, &now, "before", "after regen --from")
    );
    assert!(scratch.check().is_empty(), "{}", render(&scratch.check()));
}

fn strip_extensions(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !k.starts_with("x-fastvm-"));
            m.values_mut().for_each(strip_extensions);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_extensions),
        _ => {}
    }
}
