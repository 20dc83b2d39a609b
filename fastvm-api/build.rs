//! Generates the client from `openapi.json` into `OUT_DIR` (never into the source tree).

#[path = "codegen.rs"]
mod codegen;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    // `fastvm-api/openapi.json` is a link to the workspace root's spec, so the crate packages it.
    let mut spec_path = std::path::Path::new(&manifest).join("openapi.json");
    // `cargo xtask grow-check` only: the spec named by FASTVM_API_SPEC (a copy with new optional
    // fields). Under its own feature, so these artifacts never stand in for the real ones in a
    // shared target directory (a feature changes the crate's and its dependents' hashes).
    if std::env::var_os("CARGO_FEATURE___GROWN_SPEC").is_some() {
        println!("cargo:rerun-if-env-changed=FASTVM_API_SPEC");
        // Without it (`--all-features`, a docs build), the real spec: the feature is inert.
        match std::env::var_os("FASTVM_API_SPEC") {
            Some(grown) => spec_path = std::path::PathBuf::from(grown),
            None => println!("cargo:warning=__grown-spec without FASTVM_API_SPEC: generating from openapi.json"),
        }
    }
    println!("cargo:rerun-if-changed={}", spec_path.display());
    println!("cargo:rerun-if-changed=codegen.rs");
    println!("cargo:rerun-if-changed=codegen");
    println!("cargo:rerun-if-changed=spec_walk.rs");
    println!("cargo:rerun-if-changed=facts.rs");
    let spec =
        std::fs::read_to_string(&spec_path).unwrap_or_else(|e| panic!("cannot read {}: {e}", spec_path.display()));
    let code = match codegen::generate(&spec) {
        Ok(code) => code,
        Err(e) => {
            panic!("cannot generate the fastvm client from openapi.json: {e}\nrun `cargo xtask check` for details")
        }
    };
    let out = std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("codegen.rs");
    std::fs::write(&out, code).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
}
