//! Exec latency of `fastvm-fake` with and without VM isolation (see docs/benchmarks.md).
//!
//! ```sh
//! cargo run --release -p fastvm-fake --example exec_latency [-- <execs per mode, default 300>]
//! ```
//!
//! For each mode it starts a server, then times over one keep-alive HTTP/1.1 connection on
//! 127.0.0.1: the first exec in each of 10 fresh VMs (with isolation this starts the VM's
//! namespaces), then N execs of `["true"]` and N of `["sh", "-c", "echo hi"]` in one VM,
//! alternating the modes in rounds so both see the same machine load. Client-side wall time
//! per request, in milliseconds.

use std::time::{Duration, Instant};

use axum::body::Body;
use fastvm_fake::{FakeServer, Isolation};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

struct Conn {
    sender: SendRequest<Body>,
    host: String,
    key: String,
}

impl Conn {
    async fn open(server: &FakeServer) -> Conn {
        let host = server.base_url().strip_prefix("http://").unwrap().to_string();
        let stream = tokio::net::TcpStream::connect(&host).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        Conn {
            sender,
            host,
            key: server.api_key().to_string(),
        }
    }

    async fn post(&mut self, path: &str, body: Value) -> Value {
        self.sender.ready().await.unwrap();
        let req = hyper::Request::post(path)
            .header("host", &self.host)
            .header("x-api-key", &self.key)
            .header("content-type", "application/json")
            .body(Body::from(serde_json::to_vec(&body).unwrap()))
            .unwrap();
        let resp = self.sender.send_request(req).await.unwrap();
        let bytes = axum::body::to_bytes(Body::new(resp.into_body()), usize::MAX)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    async fn launch(&mut self) -> String {
        self.post("/v1/vms", json!({})).await["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// One exec; its wall time.
    async fn exec(&mut self, vm: &str, command: &Value) -> Duration {
        let t = Instant::now();
        let out = self
            .post(&format!("/v1/vms/{vm}/exec"), json!({ "command": command }))
            .await;
        let d = t.elapsed();
        assert_eq!(out["exitCode"], 0, "{out}");
        d
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn summary(label: &str, mut v: Vec<Duration>) {
    v.sort();
    let pick = |q: f64| ms(v[((v.len() - 1) as f64 * q).round() as usize]);
    let mean = v.iter().map(|d| ms(*d)).sum::<f64>() / v.len() as f64;
    println!(
        "| {label} | {} | {:.2} | {:.2} | {:.2} | {:.2} |",
        v.len(),
        pick(0.5),
        pick(0.9),
        pick(0.99),
        mean
    );
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args().nth(1).map_or(300, |a| a.parse().expect("a count"));
    let off = FakeServer::builder().isolation(Isolation::Off).start().await.unwrap();
    let t = Instant::now();
    let on = FakeServer::builder()
        .isolation(Isolation::Required)
        .start()
        .await
        .expect("isolation must be available for this benchmark");
    println!("isolation probe and server start: {:.1} ms", ms(t.elapsed()));

    let mut conns = [Conn::open(&off).await, Conn::open(&on).await];
    let labels = ["without isolation", "with isolation"];
    let t_true = json!(["true"]);
    let t_echo = json!(["sh", "-c", "echo hi"]);

    let mut first: [Vec<Duration>; 2] = Default::default();
    let mut launch: [Vec<Duration>; 2] = Default::default();
    for _ in 0..10 {
        for (i, c) in conns.iter_mut().enumerate() {
            let t = Instant::now();
            let vm = c.launch().await;
            launch[i].push(t.elapsed());
            first[i].push(c.exec(&vm, &t_true).await);
        }
    }
    let mut vms = Vec::new();
    for c in conns.iter_mut() {
        let vm = c.launch().await;
        c.exec(&vm, &t_true).await; // warm: namespaces up
        vms.push(vm);
    }
    let mut steady: [Vec<Duration>; 2] = Default::default();
    let mut shell: [Vec<Duration>; 2] = Default::default();
    for _ in 0..n / 10 {
        for (i, c) in conns.iter_mut().enumerate() {
            for _ in 0..10 {
                steady[i].push(c.exec(&vms[i], &t_true).await);
                shell[i].push(c.exec(&vms[i], &t_echo).await);
            }
        }
    }

    println!("\n| what | n | median ms | p90 ms | p99 ms | mean ms |\n|---|---:|---:|---:|---:|---:|");
    for i in 0..2 {
        summary(&format!("launch, {}", labels[i]), launch[i].clone());
    }
    for i in 0..2 {
        summary(&format!("first exec in a fresh VM, {}", labels[i]), first[i].clone());
    }
    for i in 0..2 {
        summary(&format!("exec `true`, {}", labels[i]), steady[i].clone());
    }
    for i in 0..2 {
        summary(&format!("exec `sh -c 'echo hi'`, {}", labels[i]), shell[i].clone());
    }
    on.shutdown().await;
    off.shutdown().await;
}
