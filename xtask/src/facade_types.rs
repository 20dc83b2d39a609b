//! `xtask check`'s facade surface check: every generated wire type is either re-exported by
//! `fastvm::types` or named in its docs as not re-exported (with why), so a type the spec adds
//! is a decision, not an accident of a glob.

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

/// The generated types `lib_rs` (the facade's `lib.rs`) names nowhere.
pub fn unlisted(snapshot: &str, lib_rs: &str) -> Vec<String> {
    generated_types(snapshot)
        .into_iter()
        .filter(|name| !has_word(lib_rs, name))
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

/// The check: fails naming each generated type of `snapshot` (the committed generated code)
/// that `lib_rs` (the facade's `lib.rs`) neither re-exports nor lists as not re-exported.
pub fn check_types_surface(snapshot: &str, lib_rs: &str) -> Vec<Failure> {
    let missing = unlisted(snapshot, lib_rs);
    if missing.is_empty() {
        return Vec::new();
    }
    vec![Failure {
        check: "facade-types",
        message: format!(
            "generated types neither re-exported by `fastvm::types` nor listed as not re-exported: {}",
            missing.join(", ")
        ),
        fix: "in fastvm/src/lib.rs, add each to `pub mod types`'s `pub use` list (a type users meet) \
              or to its docs' list of types not re-exported, with why"
            .into(),
    }]
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const SNAPSHOT: &str = "pub mod types {\n    pub struct Vm {\n    }\n    pub enum VmStatus {\n    }\n    pub struct VmCreateResponse {\n    }\n    pub mod builder {\n        pub struct Vm {\n";

    #[test]
    fn a_type_named_nowhere_is_reported_by_whole_word() {
        assert_eq!(generated_types(SNAPSHOT), ["Vm", "VmStatus", "VmCreateResponse"]);
        // `VmStatus` contains `Vm`, but only whole words count.
        assert_eq!(unlisted(SNAPSHOT, "pub use x::{VmStatus};"), ["Vm", "VmCreateResponse"]);
        assert!(unlisted(SNAPSHOT, "pub use x::{Vm, VmStatus};\n/// not: `VmCreateResponse`").is_empty());
    }

    #[test]
    fn the_facade_names_every_generated_type() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
        let (snapshot, lib) = (read("fastvm-api/generated/fastvm_api.rs"), read("fastvm/src/lib.rs"));
        assert_eq!(check_types_surface(&snapshot, &lib), Vec::new());
    }
}
