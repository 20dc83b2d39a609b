//! The README's promise that its Install block and its quickstart, pasted into a new crate,
//! build and run: this test does exactly that, then runs the program against `fastvm-fake` and
//! checks that it left nothing behind.
//!
//! The one change made to what the README says: `fastvm` comes from this checkout (a path
//! dependency) instead of git, as the crate is not fetched from the network in tests. The new
//! crate gets the workspace's `Cargo.lock` (so it builds offline with the versions CI tested)
//! and its own target directory under the workspace's (a crate outside the workspace resolves
//! features on its own; sharing the directory would rebuild the workspace's dependencies).

use std::path::{Path, PathBuf};

use fastvm_fake::FakeServer;

/// The workspace's root (this test crate is one of its members).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The contents of the first fenced block of `lang` after the heading `heading`.
fn block_after<'a>(readme: &'a str, heading: &str, lang: &str) -> &'a str {
    let at = readme
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("README.md has no heading {heading:?}"));
    let fence = format!("\n```{lang}\n");
    let start = readme[at..]
        .find(&fence)
        .map(|i| at + i + fence.len())
        .unwrap_or_else(|| panic!("no ```{lang} block after {heading:?}"));
    let len = readme[start..].find("\n```").expect("an unclosed block");
    &readme[start..start + len + 1]
}

/// The Install block, with `fastvm` taken from this checkout.
fn manifest(install: &str) -> String {
    let fastvm = workspace().join("fastvm");
    let mut replaced = 0;
    let deps: Vec<String> = install
        .lines()
        .map(|line| {
            if line.starts_with("fastvm =") {
                replaced += 1;
                format!("fastvm = {{ path = {:?} }}", fastvm.display().to_string())
            } else {
                line.to_string()
            }
        })
        .collect();
    assert_eq!(replaced, 1, "the Install block names fastvm once:\n{install}");
    assert!(install.starts_with("[dependencies]\n"), "{install}");
    format!(
        "[package]\nname = \"readme-quickstart\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         # Not a member of the SDK's workspace.\n[workspace]\n\n{}\n",
        deps.join("\n")
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn readme_install_and_quickstart_build_and_run_in_a_new_crate() {
    let readme = std::fs::read_to_string(workspace().join("README.md")).expect("README.md");
    let install = block_after(&readme, "## Install", "toml");
    let quickstart = block_after(&readme, "## Quickstart in code", "rust,no_run");
    assert!(
        quickstart.contains("async fn main()")
            && !quickstart.lines().any(|l| l.starts_with('#') && !l.starts_with("#[")),
        "the quickstart is a whole program, with no line hidden from the reader:\n{quickstart}"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let krate = dir.path();
    std::fs::create_dir(krate.join("src")).unwrap();
    std::fs::write(krate.join("Cargo.toml"), manifest(install)).unwrap();
    std::fs::write(krate.join("src/main.rs"), quickstart).unwrap();
    std::fs::copy(workspace().join("Cargo.lock"), krate.join("Cargo.lock")).unwrap();

    // target/debug/deps/<this test> → target
    let target = std::env::current_exe()
        .expect("test path")
        .ancestors()
        .nth(3)
        .expect("target directory")
        .join("readme-quickstart");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let build = tokio::process::Command::new(&cargo)
        .args(["build", "--offline", "--quiet"])
        .current_dir(krate)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .output()
        .await
        .expect("run cargo");
    assert!(
        build.status.success(),
        "the README's quickstart does not build in a new crate:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );

    let server = FakeServer::start().await.expect("fake server");
    let client = fastvm_tests::fake::client(&server);
    let run = tokio::process::Command::new(target.join("debug/readme-quickstart"))
        .current_dir(krate) // it uploads ./src and downloads ./src-back
        .env("FASTVM_API_KEY", server.api_key())
        .env("FASTVM_BASE_URL", server.base_url())
        .env_remove("FASTVM_CUSTOM_HEADERS")
        .output()
        .await
        .expect("run the quickstart");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "the quickstart failed: {stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("exit 0: ") && stdout.contains("building\nexit 0"),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(krate.join("src-back/main.rs")).expect("downloaded main.rs"),
        quickstart,
        "the directory came back as it was uploaded"
    );
    assert!(
        fastvm_tests::fake::vm_ids(&client).await.is_empty(),
        "a VM was left behind"
    );
    assert!(
        fastvm_tests::fake::snapshot_ids(&client).await.is_empty(),
        "a snapshot was left behind"
    );
}
