//! Per-call overhead of the facade compared with bare reqwest, against a minimal local server
//! (so the numbers reflect the client, not a server's work).
//!
//! `cargo bench -p fastvm --bench overhead` (results in docs/benchmarks.md). `ROUNDS=n` sets the
//! number of rounds (default 31); `ONLY=<path> CALLS=n [TASKS=k]` runs one path n times (over k
//! concurrent tasks) and exits, for instruction counts under `valgrind --tool=callgrind`;
//! `PAIRS=n` runs only the comparison of the facade with the same request in n short paired
//! blocks per mode (about 25 s for 400), the quick way to compare two builds of the facade.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;

const VM_JSON: &str = r#"{"id":"9b0c6a34-0a2b-4c1e-9d6f-2f6a8b9c0d1e","name":"bench","orgId":"org","cpu":2,"memoryMiB":4096,"diskGiB":20,"status":"running","createdAt":"2026-05-15T10:00:00Z","machineName":"c2m4","metadata":{"team":"infra"},"envVars":{},"firewall":{"ingress":{"default":"deny","rules":[]},"egress":{"default":"allow","rules":[]},"dns":{"mode":"deny","domains":[],"blockBypass":false}},"publicIpv6":"2001:db8::1","ttl":null,"deletedAt":null,"pausedAt":null}"#;
const ID: &str = "9b0c6a34-0a2b-4c1e-9d6f-2f6a8b9c0d1e";
/// The facade's per-request timeout (its default).
const TIMEOUT: Duration = Duration::from_secs(60);

mod support;

async fn serve() -> String {
    let app = Router::new().route(
        "/v1/vms/{id}",
        get(|| async { ([(axum::http::header::CONTENT_TYPE, "application/json")], VM_JSON) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    format!("http://{addr}")
}

/// The ways of getting the VM that are compared.
#[derive(Clone, Copy)]
enum Path {
    /// `client.vms().retrieve(id)`.
    Facade,
    /// GET + `X-API-Key` + JSON decode into the same type: the least a hand-written call does.
    Bare,
    /// The request the facade sends, by hand: `X-API-Key`, `Accept`, `User-Agent` and the
    /// facade's 60 s per-request timeout, decoded into the same type.
    BareSameRequest,
    /// The generated `fastvm-api` client alone (no auth, retry or timeout transport).
    Generated,
}

const PATHS: [(Path, &str); 4] = [
    (Path::Facade, "fastvm retrieve"),
    (Path::Bare, "bare reqwest, minimal"),
    (Path::BareSameRequest, "bare reqwest, same request"),
    (Path::Generated, "generated client alone"),
];

/// Everything the paths share; one reqwest connection pool for all of them, so pool state
/// cannot explain a difference.
struct Bench {
    base: String,
    user_agent: String,
    http: reqwest::Client,
    client: fastvm::FastvmClient,
    generated: fastvm_api::Client,
}

impl Bench {
    async fn call(&self, path: Path) {
        match path {
            Path::Facade => drop(std::hint::black_box(
                self.client.vms().retrieve(ID).await.expect("facade"),
            )),
            Path::Bare => drop(std::hint::black_box(
                self.bare(
                    self.http
                        .get(format!("{}/v1/vms/{ID}", self.base))
                        .header("x-api-key", "bench-key"),
                )
                .await,
            )),
            Path::BareSameRequest => drop(std::hint::black_box(
                self.bare(
                    self.http
                        .get(format!("{}/v1/vms/{ID}", self.base))
                        .header("x-api-key", "bench-key")
                        .header("accept", "application/json")
                        .header("user-agent", &self.user_agent)
                        .timeout(TIMEOUT),
                )
                .await,
            )),
            Path::Generated => drop(std::hint::black_box(
                self.generated.get_vm().id(ID).send().await.expect("generated"),
            )),
        }
    }

    async fn bare(&self, request: reqwest::RequestBuilder) -> fastvm::types::VmInfo {
        request
            .send()
            .await
            .expect("send")
            .error_for_status()
            .expect("status")
            .json()
            .await
            .expect("decode")
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let base = serve().await;
    let http = reqwest::Client::new();
    let bench = Arc::new(Bench {
        base: base.clone(),
        user_agent: format!("fastvm-rs/{}", env!("CARGO_PKG_VERSION")),
        client: fastvm::FastvmClient::builder()
            .api_key("bench-key")
            .base_url(&base)
            .http_client(http.clone())
            .build()
            .expect("client"),
        generated: fastvm_api::Client::new_with_client(&base, http.clone(), fastvm_api::hooks::Policy::default()),
        http,
    });
    let sequential = 2_000;
    let concurrent_tasks = 64;
    let per_task = 100;

    // Warm the pool.
    for _ in 0..200 {
        bench.call(Path::Facade).await;
        bench.call(Path::Bare).await;
    }

    // `ONLY=facade|bare|same|generated CALLS=n [TASKS=k]`: run one path n times and exit, for
    // instruction counts under callgrind (they do not depend on scheduling, unlike loopback wall
    // times).
    if let Ok(only) = std::env::var("ONLY") {
        let calls: usize = support::env_or("CALLS", 1000);
        let path = match only.as_str() {
            "facade" => Path::Facade,
            "bare" => Path::Bare,
            "same" => Path::BareSameRequest,
            "generated" => Path::Generated,
            other => panic!("ONLY={other}: expected facade, bare, same or generated"),
        };
        // `TASKS=k`: the calls are spread over k concurrent tasks.
        let tasks: usize = support::env_or("TASKS", 1);
        spread(&bench, path, tasks, calls / tasks).await;
        return;
    }

    // `PAIRS=n`: only the paired comparison below, with n pairs per mode.
    let pairs_only = std::env::var("PAIRS").ok().and_then(|p| p.parse::<usize>().ok());
    if let Some(pairs) = pairs_only {
        for (mode, label) in ["sequential", "64 concurrent"].iter().enumerate() {
            print_paired(label, pairs, &paired_blocks(&bench, mode == 1, pairs).await);
        }
        return;
    }

    // Interleaved rounds, the order of the paths rotating from round to round so that no path
    // always follows the same one. Loopback timings on a shared 2-core machine vary by ±10 %
    // from round to round, so many short rounds are taken and their medians reported, for wall
    // time and for the CPU time of the whole process (client and server) per call.
    let rounds: usize = support::env_or("ROUNDS", 31);
    // samples[mode][path]: (wall µs per call, CPU µs per call); mode 0 sequential, 1 concurrent.
    let mut samples = vec![vec![Vec::<(f64, f64)>::new(); PATHS.len()]; 2];
    for round in 0..rounds {
        for (mode, mode_samples) in samples.iter_mut().enumerate() {
            for i in 0..PATHS.len() {
                let index = (i + round) % PATHS.len();
                let path = PATHS[index].0;
                let (wall, cpu) = (Instant::now(), support::cpu_time());
                let calls = if mode == 0 {
                    for _ in 0..sequential {
                        bench.call(path).await;
                    }
                    sequential
                } else {
                    spread(&bench, path, concurrent_tasks, per_task).await;
                    concurrent_tasks * per_task
                };
                mode_samples[index].push((
                    per_call(calls, wall.elapsed()),
                    per_call(calls, support::cpu_time() - cpu),
                ));
            }
        }
    }
    println!("medians of {rounds} rounds, µs per call (wall / CPU of client and server together):");
    let mut medians = [[(0.0, 0.0); PATHS.len()]; 2];
    for (mode, label) in ["sequential", "64 concurrent"].iter().enumerate() {
        for (index, (_, name)) in PATHS.iter().enumerate() {
            let wall = median(samples[mode][index].iter().map(|s| s.0).collect());
            let cpu = median(samples[mode][index].iter().map(|s| s.1).collect());
            medians[mode][index] = (wall, cpu);
            println!("  {:<45} {wall:>7.1} / {cpu:>6.1}", format!("{name}, {label}"));
        }
    }
    for (against, name) in [(2, "bare reqwest, same request"), (1, "bare reqwest, minimal")] {
        println!(
            "facade vs {name}: sequential {:+.1} % wall / {:+.1} % CPU, 64 concurrent {:+.1} % wall / {:+.1} % CPU",
            pct(medians[0][0].0, medians[0][against].0),
            pct(medians[0][0].1, medians[0][against].1),
            pct(medians[1][0].0, medians[1][against].0),
            pct(medians[1][0].1, medians[1][against].1),
        );
    }
    // Paired: the facade against the same request within each round, then the median of those
    // ratios. The machine's speed drifts from round to round (by tens of percent on a shared
    // host); a ratio taken within one round cancels what both paths saw alike.
    let paired = |mode: usize, part: fn(&(f64, f64)) -> f64| {
        let ratios: Vec<f64> = samples[mode][0]
            .iter()
            .zip(&samples[mode][2])
            .map(|(f, b)| part(f) / part(b))
            .collect();
        (median(ratios) - 1.0) * 100.0
    };
    println!(
        "facade vs bare reqwest, same request, median of per-round ratios: sequential {:+.1} % wall / {:+.1} % CPU, 64 concurrent {:+.1} % wall / {:+.1} % CPU",
        paired(0, |s| s.0),
        paired(0, |s| s.1),
        paired(1, |s| s.0),
        paired(1, |s| s.1),
    );
    println!(
        "generated client alone vs bare reqwest, minimal: sequential {:+.1} % wall, 64 concurrent {:+.1} % wall",
        pct(medians[0][3].0, medians[0][1].0),
        pct(medians[1][3].0, medians[1][1].0)
    );
    for (mode, label) in ["sequential", "64 concurrent"].iter().enumerate() {
        print_paired(label, 400, &paired_blocks(&bench, mode == 1, 400).await);
    }
}

/// The facade against the same request in `pairs` short blocks run back to back, in alternating
/// order: 100 sequential calls, or 64 tasks × 10 calls (10–20 ms a block). Returns the sorted
/// wall-time ratios (facade / same request) of the pairs. Rounds of thousands of calls each
/// still see the machine's speed drift between them (by tens of percent on a shared host);
/// blocks this short, side by side, see the same machine, so this is the estimate the goal is
/// judged by.
async fn paired_blocks(bench: &Arc<Bench>, concurrent: bool, pairs: usize) -> Vec<f64> {
    let block = |path: Path| {
        let bench = bench.clone();
        async move {
            let started = Instant::now();
            if concurrent {
                spread(&bench, path, 64, 10).await;
            } else {
                for _ in 0..100 {
                    bench.call(path).await;
                }
            }
            started.elapsed().as_secs_f64()
        }
    };
    let mut ratios = Vec::with_capacity(pairs);
    for pair in 0..pairs {
        let (facade, same) = if pair % 2 == 0 {
            let facade = block(Path::Facade).await;
            (facade, block(Path::BareSameRequest).await)
        } else {
            let same = block(Path::BareSameRequest).await;
            (block(Path::Facade).await, same)
        };
        ratios.push(facade / same);
    }
    ratios.sort_by(f64::total_cmp);
    ratios
}

/// `per_task` calls of `path` in each of `tasks` concurrent tasks, until all are done.
async fn spread(bench: &Arc<Bench>, path: Path, tasks: usize, per_task: usize) {
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let bench = bench.clone();
            tokio::spawn(async move {
                for _ in 0..per_task {
                    bench.call(path).await;
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("task");
    }
}

fn print_paired(label: &str, pairs: usize, ratios: &[f64]) {
    let q = |f: f64| (ratios[((ratios.len() - 1) as f64 * f) as usize] - 1.0) * 100.0;
    println!(
        "facade vs bare reqwest, same request, {label}, {pairs} paired blocks: median {:+.1} % wall (quartiles {:+.1} % … {:+.1} %)",
        q(0.5),
        q(0.25),
        q(0.75)
    );
}

fn per_call(calls: usize, elapsed: Duration) -> f64 {
    elapsed.as_secs_f64() * 1e6 / calls as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn pct(a: f64, b: f64) -> f64 {
    (a / b - 1.0) * 100.0
}
