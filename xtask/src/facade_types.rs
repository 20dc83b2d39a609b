//! `xtask check`'s facade surface check. `fastvm::types` is the list code generation derives
//! (`fastvm-api/codegen/facade_types.rs`: the types answers carry, with its exceptions), so a
//! type the spec adds is there without a hand-written line. What can still go wrong by hand is
//! checked here: `fastvm/src/lib.rs` must take that list (`fastvm_api::facade_types!()`), and no
//! public facade signature may name a generated type the list leaves out (a user could not
//! name it through `fastvm::types`).

use crate::Failure;

/// The names of the public types of the generated `types` module (not its `builder` and
/// `error` submodules).
pub fn generated_types(snapshot: &str) -> Vec<String> {
    let Some(start) = snapshot.find("pub mod types {") else {
        return Vec::new();
    };
    let body = &snapshot[start..];
    let end = body.find("\n    pub mod builder").unwrap_or(body.len());
    body[..end]
        .lines()
        .filter_map(|line| {
            let rest = line
                .strip_prefix("    pub struct ")
                .or_else(|| line.strip_prefix("    pub enum "))?;
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            (!name.is_empty()).then_some(name)
        })
        .collect()
}

fn has_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !ident(before) && !ident(after)
    })
}

/// The public signatures of a facade file, `(line number, text)`: each `pub` item or field that
/// is not `pub(crate)`, a module or a `use`, up to its body (at most a few lines).
fn public_signatures(text: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        if !t.starts_with("pub ") || t.starts_with("pub mod ") || t.starts_with("pub use ") {
            continue;
        }
        let mut sig = String::new();
        for l in lines.iter().skip(n).take(8) {
            let cut = l.find('{').map_or(*l, |i| &l[..i]);
            sig.push_str(cut);
            sig.push(' ');
            // A function's signature ends at its body; a field's at its comma.
            let field_end = !sig.contains("fn ") && l.trim_end().ends_with(',');
            if l.contains('{') || l.trim_end().ends_with(';') || field_end {
                break;
            }
        }
        out.push((n + 1, sig));
    }
    out
}

/// The check: `sources` are the facade's files (path, text), `snapshot` the committed generated
/// code.
pub fn check_types_surface(snapshot: &str, sources: &[(String, String)]) -> Vec<Failure> {
    let mut out = Vec::new();
    let lib = sources
        .iter()
        .find(|(p, _)| p.ends_with("lib.rs") && !p.contains("/bin/"));
    if !lib.is_some_and(|(_, text)| text.contains("fastvm_api::facade_types!()")) {
        out.push(Failure {
            check: "facade-types",
            message: "fastvm/src/lib.rs does not take the derived type list".into(),
            fix: "write `pub mod types { fastvm_api::facade_types!(); }` in fastvm/src/lib.rs".into(),
        });
    }
    let Some(listed) = crate::codegen::facade_types::listed(snapshot) else {
        out.push(Failure {
            check: "facade-types",
            message: "the generated code has no `facade_types!` macro".into(),
            fix: "run `cargo xtask regen`".into(),
        });
        return out;
    };
    // A generated type the facade defines its own namesake of (`Error`, `ExecEvent`) is not what
    // its signatures name.
    let own: Vec<&str> = sources
        .iter()
        .flat_map(|(_, text)| text.lines())
        .filter_map(|l| {
            let t = l.trim_start();
            let rest = ["pub struct ", "pub enum ", "pub type ", "pub trait "]
                .iter()
                .find_map(|p| t.strip_prefix(p))?;
            rest.split(|c: char| !c.is_alphanumeric() && c != '_').next()
        })
        .collect();
    let unlisted: Vec<String> = generated_types(snapshot)
        .into_iter()
        .filter(|t| !listed.contains(t) && !own.contains(&t.as_str()))
        .collect();
    let mut problems = Vec::new();
    for (path, text) in sources {
        for (line, sig) in public_signatures(text) {
            for t in unlisted.iter().filter(|t| has_word(&sig, t)) {
                problems.push(format!("{path}:{line}: a public signature names {t}"));
            }
        }
    }
    if !problems.is_empty() {
        out.push(Failure {
            check: "facade-types",
            message: format!(
                "generated types in the facade's public API that `fastvm::types` does not re-export:\n  {}",
                problems.join("\n  ")
            ),
            fix: "add each to EXCEPTIONS in fastvm-api/codegen/facade_types.rs as re-exported (`true`, with why) \
                  and run `cargo xtask regen`, or keep it out of the public signature"
                .into(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const SNAPSHOT: &str = "pub mod types {\n    pub struct Vm {\n    }\n    pub enum VmStatus {\n    }\n    pub struct VmCreateRequest {\n    }\n    pub struct Error {\n    }\n    pub mod builder {\n        pub struct Vm {\n    }\n}\nmacro_rules! facade_types {\n    () => {\n        pub use $crate::types::Vm;\n        pub use $crate::types::VmStatus;\n    };\n}\n";

    fn src(lib: &str, other: &str) -> Vec<(String, String)> {
        vec![
            ("fastvm/src/lib.rs".into(), lib.into()),
            ("fastvm/src/vms.rs".into(), other.into()),
        ]
    }

    const LIB: &str = "pub mod types {\n    fastvm_api::facade_types!();\n}\npub struct Error;\n";

    #[test]
    fn a_public_signature_naming_an_unlisted_type_is_reported_with_its_line() {
        assert_eq!(
            crate::codegen::facade_types::listed(SNAPSHOT).unwrap(),
            ["Vm", "VmStatus"]
        );
        let ok = "pub async fn get(&self) -> Result<Vm> {\n}\npub(crate) fn f(r: VmCreateRequest) {}\n\
                  pub fn e(&self) -> Result<(), Error> {}\n";
        assert_eq!(check_types_surface(SNAPSHOT, &src(LIB, ok)), Vec::new());
        let bad = "/// doc\npub async fn launch(\n    &self,\n    r: VmCreateRequest,\n) -> Result<Vm> {\n}\n";
        let failures = check_types_surface(SNAPSHOT, &src(LIB, bad));
        assert_eq!(failures.len(), 1, "{failures:#?}");
        assert!(
            failures[0]
                .message
                .contains("fastvm/src/vms.rs:2: a public signature names VmCreateRequest"),
            "{failures:#?}"
        );
    }

    #[test]
    fn the_facade_must_take_the_derived_list() {
        let failures = check_types_surface(SNAPSHOT, &src("pub mod types { pub use x::Vm; }", ""));
        assert!(failures[0].fix.contains("fastvm_api::facade_types!()"), "{failures:#?}");
        let failures = check_types_surface("pub mod types {\n}\n", &src(LIB, ""));
        assert!(failures[0].fix.contains("cargo xtask regen"), "{failures:#?}");
    }

    #[test]
    fn the_facade_names_no_generated_type_it_does_not_re_export() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let snapshot = std::fs::read_to_string(root.join("fastvm-api/generated/fastvm_api.rs")).unwrap();
        let sources = crate::coverage::read_sources(&root.join("fastvm/src")).unwrap();
        assert_eq!(check_types_surface(&snapshot, &sources), Vec::new());
    }
}
