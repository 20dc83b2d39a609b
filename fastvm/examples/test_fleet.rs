//! A test suite sharded across a fleet: a VM gets the suite (20 small shell tests and a shard
//! runner, uploaded in one archive with `upload_many`) and is snapshotted; 8 VMs are launched
//! from the snapshot, 4 at a time (`client.fleet`); VM i runs tests i, i+8, i+16 with its
//! output streamed behind its index and writes a JUnit-style result file, which is downloaded;
//! a summary is printed and everything is deleted.
//!
//! Runs without an account (a local fake server unless `FASTVM_API_KEY` is set).
//!
//! `cargo run --example test_fleet`

#[path = "support/mod.rs"]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use fastvm::exec::Command;
use fastvm::launch;
use fastvm::vm::OwnedVm;

/// How many VMs run the suite.
const VMS: usize = 8;
/// How many launches run at a time.
const CONCURRENCY: usize = 4;
/// How many tests the suite has.
const TESTS: usize = 20;

/// Runs the tests of one shard: `run-shard.sh INDEX TOTAL RESULT_FILE`. Test k (in name order)
/// belongs to shard k mod TOTAL. Prints a line per test, writes a JUnit-style file, and fails
/// if a test failed.
const RUNNER: &str = r#"set -u
i=$1 n=$2 out=$3
mkdir -p "$(dirname "$out")"
: > "$out.cases"
pass=0 fail=0 k=0
for t in tests/t*.sh; do
    if [ $((k % n)) -eq "$i" ]; then
        name=$(basename "$t" .sh)
        if sh "$t" > "$out.log" 2>&1; then
            echo "PASS $name"
            pass=$((pass + 1))
            echo "  <testcase name=\"$name\"/>" >> "$out.cases"
        else
            echo "FAIL $name: $(tail -n 1 "$out.log")"
            fail=$((fail + 1))
            echo "  <testcase name=\"$name\"><failure/></testcase>" >> "$out.cases"
        fi
    fi
    k=$((k + 1))
done
{
    echo "<testsuite name=\"shard-$i\" tests=\"$((pass + fail))\" failures=\"$fail\">"
    cat "$out.cases"
    echo "</testsuite>"
} > "$out"
rm -f "$out.cases" "$out.log"
echo "shard $i of $n: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    support::run(example).await
}

async fn example(target: &support::Target) -> Result<(), Box<dyn std::error::Error>> {
    let client = &target.client;
    let suite = format!("{}/suite", target.remote_root);
    let local = tempfile::tempdir()?;
    write_suite(local.path())?;

    println!("1. a VM with the suite ({TESTS} tests), snapshotted");
    let builder = client
        .launch_vm(target.labelled(launch::machine("c1m2").name("test-fleet-builder")))
        .await?;
    builder
        .upload_many()
        .dir(local.path().join("tests"), format!("{suite}/tests"))
        .file(local.path().join("run-shard.sh"), format!("{suite}/run-shard.sh"))
        .verify(true)
        .await?;
    let count = builder
        .run(Command::sh("ls tests | wc -l").cwd(&suite))
        .await?
        .check()?;
    println!(
        "   uploaded {} test files to {suite} in one archive",
        count.stdout.trim()
    );
    let snap = builder
        .snapshot()
        .name(format!("test-fleet-{}", target.run))
        .wait_ready()
        .poll_interval(Duration::from_millis(500))
        .await?;
    builder.delete().await?;
    println!("   snapshot {} is {}; the builder VM is deleted", snap.id, snap.status);

    // From here the snapshot exists: it is deleted after the fleet, whatever the fleet did.
    let outcome = fan_out(target, &snap.id, &suite, local.path()).await;
    client.snapshots().delete(&snap.id).await?;
    println!("deleted snapshot {}", snap.id);
    outcome
}

/// Launches the fleet, runs the shards, and deletes the fleet's VMs whatever happened.
async fn fan_out(
    target: &support::Target,
    snapshot_id: &str,
    suite: &str,
    local: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    println!("\n2. {VMS} VMs from the snapshot, at most {CONCURRENCY} launches at a time");
    let started = Instant::now();
    let vms = target
        .client
        .fleet(
            target.labelled(launch::snapshot(snapshot_id).label("suite", "test-fleet")),
            VMS,
        )
        .concurrency(CONCURRENCY)
        .poll_interval(Duration::from_millis(500))
        .await?;
    println!(
        "   {} VMs running after {:.1} s",
        vms.len(),
        started.elapsed().as_secs_f64()
    );

    let result = run_shards(&vms, suite, local).await;

    let deletes = futures::future::join_all(vms.into_iter().map(OwnedVm::delete)).await;
    let deleted = deletes.iter().filter(|d| d.is_ok()).count();
    println!("deleted {deleted} of {VMS} fleet VMs");
    if let Some(Err(e)) = deletes.into_iter().find(Result::is_err) {
        result?;
        return Err(e.into());
    }
    result
}

/// Runs shard i on VM i (all at once, output streamed behind `[vm i]`), downloads the result
/// files, and prints the summary; fails if a test failed.
async fn run_shards(vms: &[OwnedVm], suite: &str, local: &Path) -> Result<(), Box<dyn std::error::Error>> {
    println!("\n3. each VM runs its shard");
    let runs = vms.iter().enumerate().map(|(i, vm)| async move {
        let result = format!("{suite}/results/shard-{i}.xml");
        let command = Command::argv(["sh", "run-shard.sh", &i.to_string(), &VMS.to_string(), &result])
            .cwd(suite)
            .timeout(Duration::from_secs(300));
        let out = support::stream_lines(vm, &format!("   [vm {i}]"), command).await?;
        Ok::<_, Box<dyn std::error::Error>>((i, out, result))
    });
    let runs = futures::future::try_join_all(runs).await?;

    println!("\n4. download the result files");
    let results = local.join("results");
    let (mut tests, mut failures, mut failed_shards) = (0, 0, Vec::new());
    for ((i, out, remote), vm) in runs.into_iter().zip(vms) {
        let file = results.join(format!("shard-{i}.xml"));
        vm.download(&remote, &file).await?;
        let xml = std::fs::read_to_string(&file)?;
        let names: Vec<&str> = xml
            .lines()
            .filter_map(|l| l.trim().strip_prefix("<testcase name=\""))
            .filter_map(|l| l.split('"').next())
            .collect();
        let failed = xml.matches("<failure").count();
        println!(
            "   shard-{i}.xml: {} tests ({}), {failed} failed",
            names.len(),
            names.join(", ")
        );
        tests += names.len();
        failures += failed;
        if !out.exit.success() || failed > 0 {
            failed_shards.push(i);
        }
    }

    println!(
        "\nfleet: {VMS} VMs ran {tests} tests: {} passed, {failures} failed",
        tests - failures
    );
    if tests != TESTS {
        return Err(format!("the shards ran {tests} tests, the suite has {TESTS}").into());
    }
    if !failed_shards.is_empty() {
        return Err(format!("shards {failed_shards:?} failed").into());
    }
    Ok(())
}

/// The suite: `tests/t00.sh` … `tests/t19.sh` (some sleep a little, so that the shards' output
/// interleaves) and `run-shard.sh`.
fn write_suite(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("tests"))?;
    for k in 0..TESTS {
        std::fs::write(
            dir.join(format!("tests/t{k:02}.sh")),
            format!(
                "# test {k}\nset -e\nsleep 0.{}\n[ $(({k} * {k})) -eq {} ]\n[ \"$(echo t{k:02} | tr t T)\" = T{k:02} ]\n",
                k % 3,
                k * k
            ),
        )?;
    }
    std::fs::write(dir.join("run-shard.sh"), RUNNER)
}
