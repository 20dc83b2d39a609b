//! The committed snapshot under `generated/` is exactly what build.rs generated for this build,
//! so plain `cargo test` catches a spec or generator change that was not regenerated.

#[test]
fn committed_snapshot_matches_build_output() {
    let built = include_str!(concat!(env!("OUT_DIR"), "/codegen.rs"));
    let committed = include_str!("../generated/fastvm_api.rs");
    if built != committed {
        let first = built.lines().zip(committed.lines()).position(|(a, b)| a != b);
        panic!(
            "fastvm-api/generated/fastvm_api.rs is out of date (first differing line: {}); run `cargo xtask regen`",
            first.map_or_else(
                || "past the end of the shorter file".to_string(),
                |i| (i + 1).to_string()
            )
        );
    }
}
