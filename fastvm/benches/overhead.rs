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

async fn bare(http: &reqwest::Client, base: &str) -> fastvm::types::Vm {
    http.get(format!("{base}/v1/vms/{ID}"))
        .header("x-api-key", "bench-key")
        .header("accept", "application/json")
        .send()
        .await
        .expect("send")
        .error_for_status()
        .expect("status")
        .json()
        .await
        .expect("decode")
}

fn report(label: &str, calls: usize, elapsed: Duration) -> f64 {
    let per = elapsed.as_secs_f64() * 1e6 / calls as f64;
    println!(
        "{label:<40} {calls:>6} calls in {:>8.1} ms = {per:>7.1} µs/call",
        elapsed.as_secs_f64() * 1e3
    );
    per
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let base = serve().await;
    let client = fastvm::FastvmClient::builder()
        .api_key("bench-key")
        .base_url(&base)
        .build()
        .expect("client");
    let http = reqwest::Client::new();
    let sequential = 5_000;
    let concurrent_tasks = 64;
    let per_task = 100;

    // Warm both pools.
    for _ in 0..200 {
        client.vms().retrieve(ID).await.expect("warm facade");
        bare(&http, &base).await;
    }

    for round in 1..=3 {
        println!("round {round}");
        let t = Instant::now();
        for _ in 0..sequential {
            std::hint::black_box(client.vms().retrieve(ID).await.expect("facade"));
        }
        let f = report("fastvm retrieve, sequential", sequential, t.elapsed());
        let t = Instant::now();
        for _ in 0..sequential {
            std::hint::black_box(bare(&http, &base).await);
        }
        let b = report("bare reqwest GET+decode, sequential", sequential, t.elapsed());
        println!("  overhead sequential: {:+.1} %", (f / b - 1.0) * 100.0);

        let t = Instant::now();
        let tasks: Vec<_> = (0..concurrent_tasks)
            .map(|_| {
                let c = client.clone();
                tokio::spawn(async move {
                    for _ in 0..per_task {
                        std::hint::black_box(c.vms().retrieve(ID).await.expect("facade"));
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task");
        }
        let f = report(
            "fastvm retrieve, 64 concurrent",
            concurrent_tasks * per_task,
            t.elapsed(),
        );
        let t = Instant::now();
        let tasks: Vec<_> = (0..concurrent_tasks)
            .map(|_| {
                let (h, b) = (http.clone(), base.clone());
                tokio::spawn(async move {
                    for _ in 0..per_task {
                        std::hint::black_box(bare(&h, &b).await);
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task");
        }
        let b = report("bare reqwest, 64 concurrent", concurrent_tasks * per_task, t.elapsed());
        println!("  overhead concurrent: {:+.1} %", (f / b - 1.0) * 100.0);
    }
}
