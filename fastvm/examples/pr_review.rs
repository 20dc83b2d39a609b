//! A pull-request review, the flow of a GitHub PR reviewer (mergd/fastvm-reviewer): build a
//! baseline image from setup steps (and rebuild it, rotating the old one out), restore a VM from
//! it, put the repository in, check out the PR's branch, run the lint and test steps with their
//! output streamed and their results checked, print a short report, and delete everything.
//!
//! Runs without an account (a local fake server unless `FASTVM_API_KEY` is set) and without a
//! network: the repository is made here with this machine's `git` (two commits on `main`, one
//! on a branch `feature`) and uploaded; the VM needs `git` (installed by a setup step if it is
//! missing, which needs the VM's network).
//!
//! `cargo run --example pr_review`

#[path = "support/mod.rs"]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use fastvm::exec::{Command, shell_quote};
use fastvm::launch;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    support::run(example).await
}

/// The reviewer's lint tool, baked into the baseline image: whitespace errors in the change and
/// TODO markers in the sources fail it.
const LINT: &str = r#"#!/bin/sh
set -eu
base="$1"
git diff --check "$base"...HEAD
if grep -rn TODO src; then
    echo "lint: TODO markers left in src/" >&2
    exit 1
fi
echo "lint: $(git diff --name-only "$base"...HEAD | wc -l | tr -d ' ') changed files, no whitespace errors, no TODO"
"#;

async fn example(target: &support::Target) -> Result<(), Box<dyn std::error::Error>> {
    let client = &target.client;
    let root = &target.remote_root;
    // A reviewer keeps one stable name per repository (`<owner>-<repo>-baseline`); this run's id
    // keeps the example's image apart from anything else on the account.
    let baseline = format!("pr-review-base-{}", target.run);

    let result = review(target, &baseline, root).await;

    // The baseline is kept between reviews by a real reviewer; the example deletes it (every
    // snapshot of that name: also those of a build that stopped midway).
    let swept = client
        .sweep()
        .name_prefix(&baseline)
        .snapshots(true)
        .dry_run(false)
        .await?;
    println!("cleanup: deleted {} baseline snapshot(s)", swept.snapshots.len());
    result
}

async fn review(target: &support::Target, baseline: &str, root: &str) -> Result<(), Box<dyn std::error::Error>> {
    let client = &target.client;
    let reviewer = format!("{root}/reviewer");
    let workspace = format!("{root}/workspace");
    // On a real VM git is installed if the image lacks it. The fake's VMs share this host's
    // system directories (read-only when isolated, not at all otherwise): an install there would
    // change the host, so against the fake git must already be on this machine.
    let install_git = if target.fake.is_some() {
        "command -v git >/dev/null 2>&1 || { echo 'git is not installed on this machine' >&2; exit 1; }"
    } else {
        "command -v git >/dev/null 2>&1 || (apt-get update && apt-get install -y git)"
    };
    let setup = [
        Command::sh(install_git).timeout(Duration::from_secs(900)),
        Command::sh(format!(
            "mkdir -p {} {}",
            shell_quote(&reviewer),
            shell_quote(&workspace)
        )),
        Command::sh("cat > lint.sh && chmod +x lint.sh")
            .cwd(&reviewer)
            .stdin(LINT.as_bytes().to_vec()),
        Command::sh("git --version"),
    ];

    println!(
        "1. build the baseline image {baseline:?} from {} setup steps",
        setup.len()
    );
    let started = Instant::now();
    let first = client
        .build_image(baseline, target.labelled(launch::machine("c1m2")))
        .steps(setup.clone())
        .poll_interval(Duration::from_millis(500))
        .await?;
    println!(
        "   snapshot {} is {} after {:.1} s ({})",
        first.snapshot.id,
        first.snapshot.status,
        started.elapsed().as_secs_f64(),
        first.steps.last().map(|o| o.stdout.trim()).unwrap_or_default()
    );

    println!("\n2. rebuild it (the daily refresh), rotating the old snapshot out once the new one is ready");
    let image = client
        .build_image(baseline, target.labelled(launch::machine("c1m2")))
        .steps(setup)
        .rotate(true)
        .poll_interval(Duration::from_millis(500))
        .await?;
    println!(
        "   baseline rebuilt: replaced {} older snapshot{} ({})",
        image.rotated.len(),
        if image.rotated.len() == 1 { "" } else { "s" },
        image.rotated.join(", ")
    );
    for e in &image.cleanup_errors {
        eprintln!("   (cleanup after the build: {e})");
    }

    println!("\n3. make the repository to review: main with 2 commits, feature with 1 more");
    let local = tempfile::tempdir()?;
    let repo = local.path().join("app");
    make_repository(&repo)?;
    let request = local.path().join("review-request.env");
    std::fs::write(&request, "BASE=main\nHEAD=feature\n")?;

    println!("\n4. restore a VM from the baseline, upload the repository and the review request");
    let vm = client
        .launch_vm(
            target.labelled(
                launch::snapshot(&image.snapshot.id)
                    .name(format!("pr-review-{}", target.run))
                    .label("review", "feature"),
            ),
        )
        .await?;
    println!(
        "   {} runs, from {}",
        vm.id(),
        vm.state().source_name.clone().unwrap_or_default()
    );
    let app = format!("{workspace}/app");
    vm.upload_many()
        .dir(&repo, &app)
        .file(&request, format!("{workspace}/review-request.env"))
        .verify(true)
        .await?;

    let checkout = vm
        .run(
            Command::sh(". ../review-request.env && git checkout -q \"$HEAD\" && git log --oneline \"$BASE\"..HEAD")
                .cwd(&app),
        )
        .await?
        .check()?;
    let ahead: Vec<&str> = checkout.stdout.lines().collect();
    println!(
        "   checked out feature: {} commit(s) ahead of main: {}",
        ahead.len(),
        ahead.join("; ")
    );
    let stat = vm
        .run(Command::argv(["git", "diff", "--stat", "main...HEAD"]).cwd(&app))
        .await?
        .check()?;
    let summary = stat.stdout.lines().last().unwrap_or_default().trim().to_string();
    println!("   diff: {summary}");

    println!("\n5. run the review steps, streamed");
    let steps = [
        (
            "lint",
            Command::argv([format!("{reviewer}/lint.sh"), "main".into()]).cwd(&app),
        ),
        (
            "test",
            Command::sh("sh tests/run.sh")
                .cwd(&app)
                .env("TEST_REPORTER", "plain")
                .timeout(Duration::from_secs(300)),
        ),
    ];
    // Every step runs, as a reviewer reports them all; the example fails at the end if one did.
    let mut report = Vec::new();
    for (name, command) in steps {
        let started = Instant::now();
        let outcome = support::stream_lines(&vm, &format!("   [{name}]"), command)
            .await?
            .check();
        report.push((name, started.elapsed(), outcome));
    }
    let deleted = vm.delete().await?;
    println!("   deleted the review VM {}", deleted.id);

    println!("\nreview of feature against main ({summary}):");
    for (name, took, outcome) in &report {
        match outcome {
            Ok(out) => println!(
                "  {name:<5} passed in {:.2} s: {}",
                took.as_secs_f64(),
                String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default()
            ),
            Err(e) => println!("  {name:<5} FAILED in {:.2} s: {e}", took.as_secs_f64()),
        }
    }
    let failed = report.iter().filter(|(_, _, o)| o.is_err()).count();
    if failed > 0 {
        println!("review: {failed} of {} steps failed", report.len());
        return Err(format!("the review found problems in {failed} step(s)").into());
    }
    println!("review: {} steps passed", report.len());

    Ok(())
}

/// A small repository: a shell "library" with tests, two commits on `main`, and a branch
/// `feature` with one more; `main` is left checked out.
fn make_repository(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::create_dir_all(dir.join("tests"))?;
    let write = |path: &str, text: &str| std::fs::write(dir.join(path), text);

    git(dir, &["init", "-q", "-b", "main"])?;
    write("README.md", "# calc\n\nShell arithmetic, tested.\n")?;
    write("src/calc.sh", "add() { echo $(($1 + $2)); }\n")?;
    write("tests/test_add.sh", ". ./src/calc.sh\n[ \"$(add 2 3)\" = 5 ]\n")?;
    write(
        "tests/run.sh",
        r#"# Runs every tests/test_*.sh; fails if one does.
pass=0 fail=0
for t in tests/test_*.sh; do
    if sh "$t"; then echo "ok   $t"; pass=$((pass + 1)); else echo "FAIL $t"; fail=$((fail + 1)); fi
done
echo "$pass passed, $fail failed ($TEST_REPORTER reporter)"
[ "$fail" -eq 0 ]
"#,
    )?;
    git(dir, &["add", "."])?;
    git(dir, &["commit", "-q", "-m", "calc: add, with a test runner"])?;

    write(
        "src/calc.sh",
        "add() { echo $(($1 + $2)); }\nmul() { echo $(($1 * $2)); }\n",
    )?;
    write("tests/test_mul.sh", ". ./src/calc.sh\n[ \"$(mul 4 5)\" = 20 ]\n")?;
    git(dir, &["add", "."])?;
    git(dir, &["commit", "-q", "-m", "calc: mul"])?;

    git(dir, &["checkout", "-q", "-b", "feature"])?;
    write(
        "src/calc.sh",
        "add() { echo $(($1 + $2)); }\nmul() { echo $(($1 * $2)); }\nsub() { echo $(($1 - $2)); }\n",
    )?;
    write("tests/test_sub.sh", ". ./src/calc.sh\n[ \"$(sub 7 9)\" = -2 ]\n")?;
    git(dir, &["add", "."])?;
    git(dir, &["commit", "-q", "-m", "calc: sub"])?;
    git(dir, &["checkout", "-q", "main"])?;
    Ok(())
}

/// Runs this machine's `git` in `dir`, with no user or system configuration of its own.
fn git(dir: &Path, args: &[&str]) -> Result<(), Box<dyn std::error::Error>> {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Example Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_COMMITTER_NAME", "Example Author")
        .env("GIT_COMMITTER_EMAIL", "author@example.com")
        .output()
        .map_err(|e| format!("this example needs git on this machine: {e}"))?;
    if !out.status.success() {
        return Err(format!("git {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(())
}
