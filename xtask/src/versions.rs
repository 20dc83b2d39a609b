//! `xtask check`'s version rule between the facade and the generated crate.
//!
//! `fastvm-api` is generated: a spec change can change its public API in any release (a
//! return type when an answer loses its body, a renamed parameter). `fastvm` is written against
//! one generation of it, so it requires that exact version (`=0.1.0`): a `fastvm` release never
//! builds against a `fastvm-api` it was not tested with, and the two are released together. (The
//! other half of the rule needs no check here: every generated struct is `#[non_exhaustive]`, so
//! the compiler refuses a struct literal of one outside `fastvm-api`.)

use crate::Failure;

/// The value of `key = "..."` in the `[section]` of a Cargo manifest's text (a plain line
/// reader: the workspace manifest keeps these on one line each).
fn value_in(manifest: &str, section: &str, key: &str) -> Option<String> {
    let mut inside = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == format!("[{section}]");
            continue;
        }
        if !inside {
            continue;
        }
        let Some(rest) = line.strip_prefix(key) else { continue };
        let Some(rest) = rest.trim_start().strip_prefix('=') else {
            continue;
        };
        return Some(rest.trim().to_string());
    }
    None
}

/// The `version = "..."` of an inline table (`{ path = "x", version = "=0.1.0" }`).
fn table_version(table: &str) -> Option<String> {
    let at = table.find("version")?;
    let rest = table[at + "version".len()..].trim_start().strip_prefix('=')?;
    let rest = rest.trim_start().strip_prefix('"')?;
    rest.split('"').next().map(str::to_string)
}

/// The check: `root_manifest` is the workspace's `Cargo.toml`, `facade_manifest` the facade's
/// (`fastvm/Cargo.toml`).
pub fn check(root_manifest: &str, facade_manifest: &str) -> Vec<Failure> {
    let fail = |message: String, fix: String| {
        vec![Failure {
            check: "versions",
            message,
            fix,
        }]
    };
    let Some(version) = value_in(root_manifest, "workspace.package", "version") else {
        return fail(
            "Cargo.toml: no `version` under [workspace.package]".into(),
            "give the workspace its version there".into(),
        );
    };
    let version = version.trim_matches('"').to_string();
    let wanted = format!("={version}");
    // The facade names the generated crate through the workspace's table, or on its own.
    let own = value_in(facade_manifest, "dependencies", "fastvm-api");
    let (file, table) = match own {
        Some(t) if !t.contains("workspace = true") => ("fastvm/Cargo.toml", Some(t)),
        Some(_) => (
            "Cargo.toml",
            value_in(root_manifest, "workspace.dependencies", "fastvm-api"),
        ),
        None => match value_in(facade_manifest, "dependencies", "fastvm-api.workspace") {
            Some(_) => (
                "Cargo.toml",
                value_in(root_manifest, "workspace.dependencies", "fastvm-api"),
            ),
            None => {
                return fail(
                    "fastvm/Cargo.toml: the facade does not depend on fastvm-api".into(),
                    "add `fastvm-api.workspace = true` under [dependencies]".into(),
                );
            }
        },
    };
    let found = table.as_deref().and_then(table_version);
    if found.as_deref() == Some(wanted.as_str()) {
        return Vec::new();
    }
    fail(
        format!(
            "{file}: fastvm requires fastvm-api {}, not the exact version `{wanted}`: a fastvm-api release with \
             another generation of the client could break a published fastvm",
            found.map_or("without a version".to_string(), |v| format!("`{v}`"))
        ),
        format!(
            "in {file}, write the fastvm-api dependency as `{{ path = \"fastvm-api\", version = \"{wanted}\" }}` (the \
             workspace version, exact)"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "[workspace.package]\nversion = \"0.2.0\"\n\n[workspace.dependencies]\n\
                        fastvm-api = { path = \"fastvm-api\", version = \"=0.2.0\" }\n";
    const FACADE: &str = "[package]\nname = \"fastvm\"\n\n[dependencies]\nfastvm-api.workspace = true\n";

    #[test]
    fn an_exact_requirement_of_the_workspace_version_passes() {
        assert_eq!(check(ROOT, FACADE), Vec::new());
    }

    #[test]
    fn a_caret_or_stale_requirement_names_the_file_and_the_fix() {
        let caret = ROOT.replace("\"=0.2.0\" }", "\"0.2.0\" }");
        let failures = check(&caret, FACADE);
        assert_eq!(failures.len(), 1);
        assert!(
            failures[0]
                .message
                .starts_with("Cargo.toml: fastvm requires fastvm-api `0.2.0`"),
            "{failures:?}"
        );
        assert!(failures[0].fix.contains("version = \"=0.2.0\""), "{failures:?}");
        // A release bump that forgot the pin.
        let stale = ROOT.replace("version = \"0.2.0\"\n\n", "version = \"0.3.0\"\n\n");
        assert!(check(&stale, FACADE)[0].fix.contains("=0.3.0"));
        // The facade's own table is the one read when it has one.
        let own = "[dependencies]\nfastvm-api = { path = \"../fastvm-api\", version = \"0.2\" }\n";
        let failures = check(ROOT, own);
        assert!(failures[0].message.starts_with("fastvm/Cargo.toml:"), "{failures:?}");
        let own = own.replace("\"0.2\"", "\"=0.2.0\"");
        assert_eq!(check(ROOT, &own), Vec::new());
    }

    #[test]
    fn the_workspace_follows_the_rule() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
        assert_eq!(check(&read("Cargo.toml"), &read("fastvm/Cargo.toml")), Vec::new());
    }
}
