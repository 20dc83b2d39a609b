//! A fleet against the fake server running as a separate process: `client.fleet` launches 64
//! VMs, 16 at a time, each runs one command (`echo $i`, buffered, 16 at a time), and all are
//! deleted (16 at a time). Wall time per phase and the client's peak RSS, over a few rounds.
//!
//! Run by hand: `cargo bench -p fastvm --bench fleet`. It builds `target/release/fastvm-fake`
//! first if missing. Scale with `BENCH_VMS` (default 64), `BENCH_CONCURRENCY` (default 16) and
//! `BENCH_ROUNDS` (default 5); `BENCH_ISOLATION` is the fake's `--isolation` (default `auto`:
//! per-VM namespaces where the host allows them; `off` runs the commands directly). Peak RSS is
//! the process's VmHWM, reset before each round through `/proc/self/clear_refs`; the fake's own
//! peak RSS is read from `/proc/<pid>/status`. CPU time is the client process's (all threads,
//! `/proc/self/task/*/schedstat`). One VM is launched, used and deleted before the rounds, so
//! that none of them pays the fake's one-time isolation probe or the first connection
//! (`BENCH_WARMUP=0` skips it).

use std::time::{Duration, Instant};

use fastvm::FastvmClient;
use fastvm::exec::Command as VmCommand;
use fastvm::vm::OwnedVm;
use futures::StreamExt as _;

mod support;

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

struct Round {
    launch: Duration,
    exec: Duration,
    delete: Duration,
    total: Duration,
    cpu: Duration,
    peak_mib: f64,
}

async fn round(client: &FastvmClient, n: usize, k: usize) -> Round {
    support::reset_peak();
    let cpu = support::cpu_time();
    let started = Instant::now();
    let vms: Vec<OwnedVm> = client
        .fleet(fastvm::launch::machine("c1m2").label("bench", "fleet"), n)
        .concurrency(k)
        .poll_interval(Duration::from_millis(500))
        .await
        .expect("fleet");
    let launched = Instant::now();

    let outputs: Vec<(usize, String)> = futures::stream::iter(vms.iter().enumerate())
        .map(|(i, vm)| async move {
            let out = vm
                .run(VmCommand::sh(format!("echo {i}")))
                .await
                .and_then(fastvm::exec::RunOutput::check)
                .expect("exec");
            (i, out.stdout.trim().to_string())
        })
        .buffer_unordered(k)
        .collect()
        .await;
    for (i, stdout) in &outputs {
        assert_eq!(stdout, &i.to_string());
    }
    assert_eq!(outputs.len(), n);
    let executed = Instant::now();

    let deletes: Vec<_> = futures::stream::iter(vms)
        .map(OwnedVm::delete)
        .buffer_unordered(k)
        .collect()
        .await;
    assert!(deletes.iter().all(Result::is_ok), "a delete failed");
    let deleted = Instant::now();
    assert!(client.vms().list().await.expect("list").is_empty(), "VMs left behind");

    Round {
        launch: launched - started,
        exec: executed - launched,
        delete: deleted - executed,
        total: deleted - started,
        cpu: support::cpu_time().saturating_sub(cpu),
        peak_mib: support::status_mib("self", "VmHWM:"),
    }
}

fn stats(mut xs: Vec<f64>) -> (f64, f64, f64) {
    xs.sort_by(f64::total_cmp);
    (xs[xs.len() / 2], xs[0], xs[xs.len() - 1])
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let n = support::env_or("BENCH_VMS", 64);
    let k = support::env_or("BENCH_CONCURRENCY", 16);
    let rounds = support::env_or("BENCH_ROUNDS", 5).max(1);
    let isolation = std::env::var("BENCH_ISOLATION").unwrap_or_else(|_| "auto".into());
    let (fake, url, key) = support::start_fake(&["--isolation", &isolation]);
    let fake_pid = fake.0.id().to_string();
    let client = FastvmClient::builder().api_key(key).base_url(url).build().unwrap();
    eprintln!(
        "fleet of {n} VMs, concurrency {k}, {rounds} rounds, fake --isolation {isolation}; load average before: {}",
        loadavg()
    );
    if std::env::var("BENCH_WARMUP").as_deref() != Ok("0") {
        let warm = round(&client, 1, 1).await;
        eprintln!(
            "warm-up (1 VM): {:.3} s; client RSS after it: {:.1} MiB",
            warm.total.as_secs_f64(),
            support::status_mib("self", "VmRSS:")
        );
    }

    let mut all = Vec::new();
    for r in 1..=rounds {
        let round = round(&client, n, k).await;
        eprintln!(
            "round {r}: total {:>6.3} s = launch {:.3} s + exec {:.3} s + delete {:.3} s; client CPU {:.3} s; client peak RSS {:.1} MiB",
            round.total.as_secs_f64(),
            round.launch.as_secs_f64(),
            round.exec.as_secs_f64(),
            round.delete.as_secs_f64(),
            round.cpu.as_secs_f64(),
            round.peak_mib
        );
        all.push(round);
    }

    let col = |f: fn(&Round) -> f64| stats(all.iter().map(f).collect());
    eprintln!("\n| phase | median | min | max |\n|---|---:|---:|---:|");
    for (name, f) in [
        (
            "launch (fleet)",
            (|r: &Round| r.launch.as_secs_f64()) as fn(&Round) -> f64,
        ),
        ("exec (one `echo $i` each)", |r: &Round| r.exec.as_secs_f64()),
        ("delete", |r: &Round| r.delete.as_secs_f64()),
        ("total", |r: &Round| r.total.as_secs_f64()),
        ("client CPU time (all threads)", |r: &Round| r.cpu.as_secs_f64()),
    ] {
        let (med, min, max) = col(f);
        eprintln!("| {name} | {med:.3} s | {min:.3} s | {max:.3} s |");
    }
    let (med, min, max) = col(|r| r.peak_mib);
    eprintln!("| client peak RSS (VmHWM) | {med:.1} MiB | {min:.1} MiB | {max:.1} MiB |");
    eprintln!(
        "\nfake server peak RSS (VmHWM, whole run): {:.1} MiB; load average after: {}",
        support::status_mib(&fake_pid, "VmHWM:"),
        loadavg()
    );
}
