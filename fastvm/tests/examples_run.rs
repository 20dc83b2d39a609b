//! Runs the examples end to end against the embedded fake server, so the README's main job
//! (`cargo run --example quickstart`) cannot rot. `cargo test` builds the examples before the
//! tests run; this test runs the built binaries.

use std::path::PathBuf;
use std::process::Command;

/// `target/<profile>/examples/<name>`, next to this test's own `deps/` directory.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// Each example, and lines its output must contain on success. Every example also ends with
/// `cleanup: nothing left`: after it ran, the fake has no VM and no snapshot (the examples'
/// `support::Target::nothing_left` lists both).
const EXAMPLES: &[(&str, &[&str])] = &[
    (
        "quickstart",
        &[
            "identical = true",
            "the snapshot kept the upload: README.md says \"# demo\"",
            "done: everything created was deleted",
        ],
    ),
    (
        "launch_and_wait",
        &["its safety TTL: 600 s, then delete", "deleted all three"],
    ),
    (
        "stream_exec",
        &[
            "[stdout] out 3",
            "collected 10 stdout bytes, exit 3",
            "tee finished with exit 0",
        ],
    ),
    ("transfer", &["file round trip identical: true"]),
    (
        "snapshots",
        &["found by name: true", "restored ", "GREETING in the restored VM: hello"],
    ),
    (
        "services_and_firewall",
        &["moved to port 9090 with h2c true", "deleted the VM"],
    ),
    (
        "error_handling",
        &["command exited 42", "checked: command", "retrieved "],
    ),
    ("blocking", &["round trip identical = true", "with_vm ran uname: "]),
    (
        "pr_review",
        &[
            "baseline rebuilt: replaced 1 older snapshot",
            "checked out feature: 1 commit(s) ahead of main",
            "[test] 3 passed, 0 failed",
            "review: 2 steps passed",
        ],
    ),
    (
        "agent_sandbox",
        &[
            "discovery: 1 running VM for the task",
            "keepalive: the TTL was refreshed",
            "discovery: 0 running VMs while the task sleeps",
            "wake: the task's files survived (goal.txt, plan.md)",
            "sweep: deleted 1 VM(s) and 1 snapshot(s)",
        ],
    ),
    (
        "test_fleet",
        &[
            "uploaded 20 test files",
            "8 VMs running after",
            "shard-3.xml: 3 tests (t03, t11, t19), 0 failed",
            "fleet: 8 VMs ran 20 tests: 20 passed, 0 failed",
            "deleted 8 of 8 fleet VMs",
        ],
    ),
];

#[test]
fn examples_run_against_the_fake() {
    for (name, expected) in EXAMPLES {
        let path = example(name);
        if !path.exists() {
            // `cargo test` (the README command) builds the examples first; a filtered run such
            // as `cargo test --test examples_run` does not, so build them here.
            let status = Command::new(env!("CARGO"))
                .args([
                    "build",
                    "--quiet",
                    "-p",
                    "fastvm",
                    "--examples",
                    "--features",
                    "blocking",
                ])
                .status()
                .expect("run cargo build --examples");
            assert!(status.success(), "building the examples failed");
        }
        let out = Command::new(&path)
            .env_remove("FASTVM_API_KEY")
            .env_remove("FASTVM_BASE_URL")
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", path.display()));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{name} failed: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("using fastvm-fake"),
            "{name} did not say it uses the fake:\n{stdout}"
        );
        for line in expected.iter().chain(&["cleanup: nothing left"]) {
            assert!(stdout.contains(line), "{name} did not print {line:?}:\n{stdout}");
        }
    }
}
