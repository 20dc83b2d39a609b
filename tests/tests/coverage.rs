//! The contract coverage table: every operation of `openapi.json` must name the contract test
//! that checks its wire format and the one that checks its error mapping, and those tests must
//! exist (not ignored) in the named file. The table is also kept in `docs/contract-coverage.md`;
//! regenerate it with `UPDATE_COVERAGE=1 cargo test -p fastvm-tests --test coverage`.

use std::collections::BTreeSet;
use std::path::Path;

/// operationId → (wire test, error-mapping test), each `file.rs::function`.
const COVERAGE: &[(&str, &str, &str)] = &[
    (
        "getHealth",
        "contract_health.rs::get_health_wire",
        "contract_health.rs::health_errors_map_to_kinds",
    ),
    (
        "presignBuildContext",
        "contract_build_contexts.rs::presign_build_context_wire",
        "contract_build_contexts.rs::build_context_errors_map_to_kinds",
    ),
    (
        "createBuild",
        "contract_builds.rs::create_build_wire",
        "contract_builds.rs::build_errors_map_to_kinds",
    ),
    (
        "getBuild",
        "contract_builds.rs::get_build_wire",
        "contract_builds.rs::build_errors_map_to_kinds",
    ),
    (
        "getOrgQuotas",
        "contract_quotas.rs::get_org_quotas_wire",
        "contract_quotas.rs::quota_errors_map_to_kinds",
    ),
    (
        "listSnapshots",
        "contract_snapshots.rs::list_snapshots_wire",
        "contract_snapshots.rs::snapshot_errors_map_to_kinds",
    ),
    (
        "createSnapshot",
        "contract_snapshots.rs::create_snapshot_wire",
        "contract_snapshots.rs::snapshot_errors_map_to_kinds",
    ),
    (
        "deleteSnapshot",
        "contract_snapshots.rs::delete_snapshot_wire",
        "contract_snapshots.rs::snapshot_errors_map_to_kinds",
    ),
    (
        "getSnapshot",
        "contract_snapshots.rs::get_snapshot_wire",
        "contract_snapshots.rs::snapshot_errors_map_to_kinds",
    ),
    (
        "updateSnapshot",
        "contract_snapshots.rs::update_snapshot_wire",
        "contract_snapshots.rs::snapshot_errors_map_to_kinds",
    ),
    (
        "listVms",
        "contract_vms.rs::list_vms_wire",
        "contract_vms.rs::vm_errors_map_to_kinds",
    ),
    (
        "launchVm",
        "contract_vms.rs::launch_vm_wire",
        "contract_vms.rs::vm_errors_map_to_kinds",
    ),
    (
        "deleteVm",
        "contract_vms.rs::delete_vm_wire",
        "contract_vms.rs::vm_errors_map_to_kinds",
    ),
    (
        "getVm",
        "contract_vms.rs::get_vm_wire_and_decoding",
        "contract_vms.rs::vm_errors_map_to_kinds",
    ),
    (
        "updateVm",
        "contract_vms.rs::update_vm_wire",
        "contract_vms.rs::vm_errors_map_to_kinds",
    ),
    (
        "createConsoleToken",
        "contract_vms.rs::create_console_token_wire",
        "contract_vms.rs::vm_errors_map_to_kinds",
    ),
    (
        "execVm",
        "exec.rs::run_returns_the_buffered_result_with_truncation_flags",
        "exec.rs::not_found_maps_to_an_api_error",
    ),
    (
        "fetchFileToVm",
        "contract_files.rs::fetch_file_to_vm_wire",
        "contract_files.rs::file_errors_map_to_kinds",
    ),
    (
        "presignFile",
        "contract_files.rs::presign_file_wire",
        "contract_files.rs::file_errors_map_to_kinds",
    ),
    (
        "patchVmFirewall",
        "contract_vms.rs::patch_vm_firewall_wire",
        "contract_vms.rs::vm_errors_map_to_kinds",
    ),
    (
        "setVmFirewall",
        "contract_vms.rs::set_vm_firewall_wire",
        "contract_vms.rs::vm_errors_map_to_kinds",
    ),
    (
        "pauseVm",
        "contract_vms.rs::pause_vm_wire",
        "contract_vms.rs::vm_errors_map_to_kinds",
    ),
    (
        "resumeVm",
        "contract_vms.rs::resume_vm_wire",
        "contract_vms.rs::vm_errors_map_to_kinds",
    ),
    (
        "listServices",
        "contract_services.rs::list_services_wire",
        "contract_services.rs::service_errors_map_to_kinds",
    ),
    (
        "registerService",
        "contract_services.rs::register_service_wire",
        "contract_services.rs::service_errors_map_to_kinds",
    ),
    (
        "deleteService",
        "contract_services.rs::delete_service_wire",
        "contract_services.rs::service_errors_map_to_kinds",
    ),
    (
        "updateService",
        "contract_services.rs::update_service_wire",
        "contract_services.rs::service_errors_map_to_kinds",
    ),
    (
        "listSshKeys",
        "contract_ssh_keys.rs::list_ssh_keys_wire",
        "contract_ssh_keys.rs::ssh_key_errors_map_to_kinds",
    ),
    (
        "addSshKey",
        "contract_ssh_keys.rs::add_ssh_key_wire",
        "contract_ssh_keys.rs::ssh_key_errors_map_to_kinds",
    ),
    (
        "deleteSshKey",
        "contract_ssh_keys.rs::delete_ssh_key_encodes_the_fingerprint",
        "contract_ssh_keys.rs::ssh_key_errors_map_to_kinds",
    ),
    (
        "refreshVmTtl",
        "contract_vms.rs::refresh_vm_ttl_wire",
        "contract_vms.rs::vm_errors_map_to_kinds",
    ),
];

const DOC: &str = "docs/contract-coverage.md";

fn tests_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests"))
}

/// The source of `file.rs::function`'s body, or why it is not a usable test.
fn test_source(entry: &str) -> Result<String, String> {
    let (file, func) = entry
        .split_once("::")
        .ok_or_else(|| format!("{entry}: not file.rs::function"))?;
    let text =
        std::fs::read_to_string(tests_dir().join(file)).map_err(|e| format!("{entry}: cannot read {file}: {e}"))?;
    let needle = format!("fn {func}(");
    let start = text
        .find(&needle)
        .ok_or_else(|| format!("{entry}: no fn {func} in {file}"))?;
    // The attributes right above the function: it must be a test, and not an ignored one.
    let head = &text[..start];
    let attrs: Vec<&str> = head
        .lines()
        .rev()
        .skip(1)
        .take_while(|l| l.trim_start().starts_with("#[") || l.trim_start().starts_with("///"))
        .collect();
    let last = head.lines().last().unwrap_or("");
    let all_attrs = format!("{} {}", attrs.join(" "), last);
    if !all_attrs.contains("test]") && !all_attrs.contains("test(") {
        return Err(format!("{entry}: is not a #[test] or #[tokio::test]"));
    }
    if all_attrs.contains("#[ignore") {
        return Err(format!("{entry}: is ignored, so it covers nothing"));
    }
    let body = &text[start..];
    let end = body.find("\n}\n").map_or(body.len(), |i| i + 3);
    Ok(body[..end].to_string())
}

fn render() -> String {
    let mut out = String::from(
        "# Contract test coverage\n\n\
         Generated by `tests/tests/coverage.rs`; regenerate with\n\
         `UPDATE_COVERAGE=1 cargo test -p fastvm-tests --test coverage`.\n\n\
         Every operation of `openapi.json`, the test (in `tests/tests/`) that checks its method, path, \
         headers and bodies against the spec, and the test that checks its error mapping.\n\n\
         | operationId | method | path | wire test | error test |\n\
         | --- | --- | --- | --- | --- |\n",
    );
    for op in fastvm_tests::schema::operations() {
        let (_, wire, errors) = COVERAGE.iter().find(|(id, ..)| *id == op.id).copied().unwrap_or((
            op.id.as_str(),
            "**MISSING**",
            "**MISSING**",
        ));
        out.push_str(&format!(
            "| `{}` | {} | `{}` | `{wire}` | `{errors}` |\n",
            op.id, op.method, op.path
        ));
    }
    out
}

#[test]
fn every_operation_has_a_contract_test() {
    let spec: BTreeSet<String> = fastvm_tests::schema::operations()
        .iter()
        .map(|o| o.id.clone())
        .collect();
    let table: BTreeSet<String> = COVERAGE.iter().map(|(id, ..)| id.to_string()).collect();
    assert_eq!(COVERAGE.len(), table.len(), "an operation is listed twice");
    let missing: Vec<_> = spec.difference(&table).collect();
    let unknown: Vec<_> = table.difference(&spec).collect();
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!("operations without a contract test: {missing:?}"));
    }
    if !unknown.is_empty() {
        problems.push(format!("table entries for operations not in openapi.json: {unknown:?}"));
    }
    for (op, wire, errors) in COVERAGE {
        for entry in [wire, errors] {
            match test_source(entry) {
                // Every test named here mentions the operation it checks.
                Ok(src) if !src.contains(&format!("\"{op}\"")) => {
                    problems.push(format!("{entry}: does not mention \"{op}\""));
                }
                Ok(_) => {}
                Err(e) => problems.push(e),
            }
        }
    }
    println!("{}", render());
    assert!(problems.is_empty(), "coverage problems:\n{}", problems.join("\n"));
}

#[test]
fn coverage_doc_is_up_to_date() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(DOC);
    let want = render();
    if std::env::var_os("UPDATE_COVERAGE").is_some() {
        std::fs::write(&path, &want).expect("write the coverage doc");
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{DOC} is out of date: regenerate with UPDATE_COVERAGE=1 cargo test -p fastvm-tests --test coverage"
    );
}
