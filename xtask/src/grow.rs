//! `cargo xtask grow-check`: a new optional field in the spec is not a breaking change.
//!
//! A copy of `openapi.json` gains an optional field in an answer (`VM`), in answer types nested
//! in others (`SnapshotService` in `Snapshot`, `OrgQuotaValues` in `OrgQuotaUsage`), in a
//! firewall type both sent and received (`IngressRule`), in a request body (`ExecVMRequest`) and
//! in an answer the facade completes itself (`Service`). `fastvm-api` is generated from that
//! copy (its `__grown-spec` feature: build.rs reads the file named by `FASTVM_API_SPEC`), and the
//! facade, its examples and the CLI are type-checked against it unchanged (`cargo check
//! --workspace --lib --bins --examples`: also the tests' helper library). The feature gives
//! those crates their own artifacts in the shared target directory, so the real ones are neither
//! replaced nor reused (docs/maintainers-benchmark.md, "Shared target directories"); the
//! dependencies are the ones `cargo clippy` already checked.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::{Value, json};

/// `(schema, property)`: the optional fields the copy gains.
pub const GROWN: &[(&str, &str)] = &[
    ("VM", "placementZone"),
    ("SnapshotService", "grownNote"),
    ("OrgQuotaValues", "grownGpus"),
    ("IngressRule", "grownNote"),
    ("ExecVMRequest", "grownPriority"),
    ("Service", "grownNote"),
];

/// `spec` with the [`GROWN`] fields: optional (not `required`), plain strings but one integer.
pub fn grown(spec: &Value) -> Result<Value, String> {
    let mut spec = spec.clone();
    for (schema, property) in GROWN {
        let props = spec
            .pointer_mut(&format!("/components/schemas/{schema}/properties"))
            .and_then(Value::as_object_mut)
            .ok_or_else(|| {
                format!("grow-check: openapi.json has no object schema {schema}: update GROWN in xtask/src/grow.rs")
            })?;
        if props.contains_key(*property) {
            return Err(format!(
                "grow-check: {schema} already has {property}: choose another name in GROWN (xtask/src/grow.rs)"
            ));
        }
        let ty = if property.ends_with("Gpus") {
            "integer"
        } else {
            "string"
        };
        props.insert(
            property.to_string(),
            json!({"type": ty, "description": "A field a later API version could add (cargo xtask grow-check)."}),
        );
    }
    Ok(spec)
}

/// The target directory cargo uses for this workspace.
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// Writes the grown copy, checks that the generated code has the new fields, then type-checks
/// `fastvm` (library and examples) and `fastvm-cli` against it. Returns what it did and how long
/// the build took.
pub fn run(ws: &crate::Workspace) -> Result<String, String> {
    let text = std::fs::read_to_string(ws.spec()).map_err(|e| format!("cannot read openapi.json: {e}"))?;
    let spec: Value = serde_json::from_str(&text).map_err(|e| format!("openapi.json is not JSON: {e}"))?;
    let grown = grown(&spec)?;
    let grown_text = crate::canon::canonical_text(&grown);
    let code = crate::generate(&grown_text)?;
    for field in ["placement_zone", "grown_note", "grown_gpus", "grown_priority"] {
        if !code.contains(&format!("pub {field}:")) {
            return Err(format!(
                "grow-check: the generated code from the grown spec has no field {field}"
            ));
        }
    }
    let dir = target_dir(&ws.root).join("grow-check");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join("openapi.json");
    // Written only when it changed, so a second run is a no-op build.
    if std::fs::read_to_string(&path).ok().as_deref() != Some(grown_text.as_str()) {
        std::fs::write(&path, &grown_text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let started = Instant::now();
    let output = Command::new(cargo)
        .current_dir(&ws.root)
        .env("FASTVM_API_SPEC", &path)
        // The whole workspace's selection, so that the dependencies are resolved with the same
        // features as under `cargo clippy --workspace --all-targets` and are not checked again;
        // only the crates above fastvm-api (fastvm, fastvm-cli, the tests' helper library) are.
        .args([
            "check",
            "--workspace",
            "--lib",
            "--bins",
            "--examples",
            "--features",
            "fastvm-api/__grown-spec",
            "--message-format=json-render-diagnostics",
        ])
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "grow-check: the facade, its examples or the CLI do not build against {} (openapi.json plus the optional \
             fields of GROWN): a new optional field broke them. Build generated structs with their `new` or \
             `builder()`, never with a struct literal",
            path.display()
        ));
    }
    // The build generated from the grown copy (not from openapi.json): its fastvm-api code has
    // the new fields.
    let out_dirs = fastvm_api_out_dirs(&String::from_utf8_lossy(&output.stdout));
    let grown_code = out_dirs
        .iter()
        .filter_map(|d| std::fs::read_to_string(Path::new(d).join("codegen.rs")).ok())
        .any(|code| code.contains("pub placement_zone:"));
    if !grown_code {
        return Err(format!(
            "grow-check: fastvm-api was not generated from {} (build script output dirs: {out_dirs:?}): does \
             fastvm-api/build.rs still read FASTVM_API_SPEC under the __grown-spec feature?",
            path.display()
        ));
    }
    Ok(format!(
        "grow-check: fastvm (library, examples) and fastvm-cli build unchanged against openapi.json plus {} optional \
         fields ({}) in {:.1} s",
        GROWN.len(),
        GROWN
            .iter()
            .map(|(s, p)| format!("{s}.{p}"))
            .collect::<Vec<_>>()
            .join(", "),
        started.elapsed().as_secs_f64()
    ))
}

/// The `out_dir` of each run of fastvm-api's build script in cargo's JSON messages.
fn fastvm_api_out_dirs(messages: &str) -> Vec<String> {
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|m| m["reason"] == "build-script-executed")
        .filter(|m| m["package_id"].as_str().is_some_and(|id| id.contains("fastvm-api")))
        .filter_map(|m| m["out_dir"].as_str().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn the_grown_spec_has_each_field_optional_and_generates() {
        let grown = grown(&spec()).unwrap();
        for (schema, property) in GROWN {
            let s = &grown["components"]["schemas"][schema];
            assert!(s["properties"][property].is_object(), "{schema}.{property}");
            let required = s["required"].as_array().cloned().unwrap_or_default();
            assert!(!required.contains(&json!(property)), "{schema}.{property} is optional");
        }
        let code = crate::generate(&crate::canon::canonical_text(&grown)).unwrap();
        // Inside the VM's answer type, non_exhaustive: a new field breaks no struct literal.
        let at = code.find("pub struct VmInfo {").unwrap();
        assert!(code[..at].trim_end().ends_with("#[non_exhaustive]"));
        assert!(code[at..].contains("pub placement_zone: ::std::option::Option<::std::string::String>"));
    }

    #[test]
    fn the_build_scripts_output_is_found_in_cargos_messages() {
        let messages = concat!(
            r#"{"reason":"compiler-artifact","package_id":"path+file:///w/fastvm-api#0.1.0"}"#,
            "\n",
            r#"{"reason":"build-script-executed","package_id":"path+file:///w/fastvm-api#0.1.0","out_dir":"/t/out"}"#,
            "\n",
            r#"{"reason":"build-script-executed","package_id":"registry+https://x#serde@1.0.0","out_dir":"/t/s"}"#,
            "\nnot json\n"
        );
        assert_eq!(fastvm_api_out_dirs(messages), ["/t/out"]);
    }

    #[test]
    fn a_name_already_taken_or_a_schema_gone_is_refused() {
        let once = grown(&spec()).unwrap();
        assert!(grown(&once).unwrap_err().contains("already has"));
        let mut gone = spec();
        gone["components"]["schemas"]
            .as_object_mut()
            .unwrap()
            .remove("SnapshotService");
        assert!(grown(&gone).unwrap_err().contains("no object schema SnapshotService"));
    }
}
