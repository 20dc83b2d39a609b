//! Per-call overhead of the facade compared with bare reqwest, against a minimal local server
//! (so the numbers reflect the client, not a server's work).
//!
//! `cargo bench -p fastvm --bench overhead` (results in docs/benchmarks.md)

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;

const VM_JSON: &str = r#"{"id":"9b0c6a34-0a2b-4c1e-9d6f-2f6a8b9c0d1e","name":"bench","orgId":"org","cpu":2,"memoryMiB":4096,"diskGiB":20,"status":"running","createdAt":"2026-05-15T10:00:00Z","machineName":"c2m4","metadata":{"team":"infra"},"envVars":{},"firewall":{"ingress":{"default":"deny","rules":[]},"egress":{"default":"allow","rules":[]},"dns":{"mode":"deny","domains":[],"blockBypass":false}},"publicIpv6":"2001:db8::1","ttl":null,"deletedAt":null,"pausedAt":null}"#;
const ID: &str = "9b0c6a34-0a2b-4c1e-9d6f-2f6a8b9c0d1e";

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

/// The same request by hand: GET + `X-API-Key` + JSON decode into the same type, optionally
/// with the facade's per-request timeout.
async fn bare_request(http: &reqwest::Client, base: &str, timeout: Option<Duration>) -> fastvm::types::Vm {
    let mut request = http
        .get(format!("{base}/v1/vms/{ID}"))
        .header("x-api-key", "bench-key")
        .header("accept", "application/json");
    if let Some(t) = timeout {
        request = request.timeout(t);
    }
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

async fn bare(http: &reqwest::Client, base: &str) -> fastvm::types::Vm {
    bare_request(http, base, None).await
}

async fn bare_with_timeout(http: &reqwest::Client, base: &str) -> fastvm::types::Vm {
    bare_request(http, base, Some(Duration::from_secs(60))).await
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let base = serve().await;
    // One connection pool for every path, so pool state cannot explain a difference.
    let http = reqwest::Client::new();
    let client = fastvm::FastvmClient::builder()
        .api_key("bench-key")
        .base_url(&base)
        .http_client(http.clone())
        .build()
        .expect("client");
    let generated = fastvm_api::Client::new_with_client(&base, http.clone(), fastvm_api::hooks::Policy::default());
    let sequential = 5_000;
    let concurrent_tasks = 64;
    let per_task = 100;

    // Warm both pools.
    for _ in 0..200 {
        client.vms().retrieve(ID).await.expect("warm facade");
        bare(&http, &base).await;
    }

    // `ONLY=facade|bare|generated CALLS=n`: run one path n times and exit, for instruction counts
    // under `valgrind --tool=callgrind` (loopback wall times are too noisy to split a 2 µs gap).
    if let Ok(only) = std::env::var("ONLY") {
        let calls: usize = std::env::var("CALLS").ok().and_then(|c| c.parse().ok()).unwrap_or(1000);
        for _ in 0..calls {
            match only.as_str() {
                "facade" => drop(std::hint::black_box(client.vms().retrieve(ID).await.expect("facade"))),
                "bare" => drop(std::hint::black_box(bare_with_timeout(&http, &base).await)),
                _ => drop(std::hint::black_box(
                    generated.get_vm().id(ID).send().await.expect("generated"),
                )),
            }
        }
        return;
    }

    // Interleaved rounds; the medians are what docs/benchmarks.md reports (loopback timings on a
    // shared 2-core machine vary by ±10 % from round to round).
    let rounds = 9;
    let mut rows: Vec<(&str, Vec<f64>)> = vec![
        ("fastvm retrieve, sequential", vec![]),
        ("bare reqwest, sequential", vec![]),
        ("bare reqwest + 60 s timeout, sequential", vec![]),
        ("generated client alone, sequential", vec![]),
        ("fastvm retrieve, 64 concurrent", vec![]),
        ("bare reqwest, 64 concurrent", vec![]),
        ("bare reqwest + 60 s timeout, 64 concurrent", vec![]),
        ("generated client alone, 64 concurrent", vec![]),
    ];
    for round in 0..rounds {
        let t = Instant::now();
        for _ in 0..sequential {
            std::hint::black_box(client.vms().retrieve(ID).await.expect("facade"));
        }
        rows[0].1.push(per_call(sequential, t.elapsed()));
        let t = Instant::now();
        for _ in 0..sequential {
            std::hint::black_box(bare(&http, &base).await);
        }
        rows[1].1.push(per_call(sequential, t.elapsed()));
        let t = Instant::now();
        for _ in 0..sequential {
            std::hint::black_box(bare_with_timeout(&http, &base).await);
        }
        rows[2].1.push(per_call(sequential, t.elapsed()));
        let t = Instant::now();
        for _ in 0..sequential {
            std::hint::black_box(generated.get_vm().id(ID).send().await.expect("generated"));
        }
        rows[3].1.push(per_call(sequential, t.elapsed()));

        let calls = concurrent_tasks * per_task;
        // The paths take turns going first, so that no path always follows the same one.
        let order = [(4, 0u8), (5, 1), (6, 2), (7, 3)];
        for i in 0..order.len() {
            let (row, kind) = order[(i + round) % order.len()];
            let t = Instant::now();
            let tasks: Vec<_> = (0..concurrent_tasks)
                .map(|_| {
                    let (c, h, b, g) = (client.clone(), http.clone(), base.clone(), generated.clone());
                    tokio::spawn(async move {
                        for _ in 0..per_task {
                            match kind {
                                0 => drop(std::hint::black_box(c.vms().retrieve(ID).await.expect("facade"))),
                                1 => drop(std::hint::black_box(bare(&h, &b).await)),
                                2 => drop(std::hint::black_box(bare_with_timeout(&h, &b).await)),
                                _ => drop(std::hint::black_box(g.get_vm().id(ID).send().await.expect("generated"))),
                            }
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.expect("task");
            }
            rows[row].1.push(per_call(calls, t.elapsed()));
        }
    }
    println!("median of {rounds} rounds (µs per call):");
    let medians: Vec<f64> = rows.iter_mut().map(|(_, v)| median(v)).collect();
    for ((label, _), m) in rows.iter().zip(&medians) {
        println!("  {label:<45} {m:>7.1}");
    }
    println!(
        "facade vs bare reqwest: sequential {:+.1} %, concurrent {:+.1} %",
        pct(medians[0], medians[1]),
        pct(medians[4], medians[5])
    );
    println!(
        "facade vs bare reqwest with the same 60 s timeout: sequential {:+.1} %, concurrent {:+.1} %",
        pct(medians[0], medians[2]),
        pct(medians[4], medians[6])
    );
    println!(
        "generated client alone vs bare reqwest: sequential {:+.1} %, concurrent {:+.1} %",
        pct(medians[3], medians[1]),
        pct(medians[7], medians[5])
    );
}

fn per_call(calls: usize, elapsed: Duration) -> f64 {
    elapsed.as_secs_f64() * 1e6 / calls as f64
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn pct(a: f64, b: f64) -> f64 {
    (a / b - 1.0) * 100.0
}
