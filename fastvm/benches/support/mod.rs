//! What the benches share: the fake server as a separate process, and readings from `/proc`
//! (Linux). Each bench uses a part of it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// `name` from the environment, parsed, else `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The fake server's process; killed when dropped.
pub struct Fake(pub Child);

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `target/release/fastvm-fake --port 0 <args>` (building it first if missing) and
/// returns it with its base URL and API key.
pub fn start_fake(args: &[&str]) -> (Fake, String, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin = root.join("target/release/fastvm-fake");
    if !bin.exists() {
        let st = Command::new(env!("CARGO"))
            .args(["build", "--release", "-p", "fastvm-fake"])
            .current_dir(&root)
            .status()
            .expect("cargo build");
        assert!(st.success(), "cannot build fastvm-fake");
    }
    let mut child = Command::new(&bin)
        .args(["--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start fastvm-fake");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut url, mut key) = (String::new(), String::new());
    while url.is_empty() || key.is_empty() {
        let line = lines.next().expect("fake output").expect("fake output");
        if let Some(v) = line.strip_prefix("FASTVM_BASE_URL=") {
            url = v.to_string();
        } else if let Some(v) = line.strip_prefix("FASTVM_API_KEY=") {
            key = v.to_string();
        }
    }
    // Keep draining so the fake never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (Fake(child), url, key)
}

/// Resets this process's peak RSS (`VmHWM`).
pub fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A `kB` field of `/proc/<pid>/status` (`"VmHWM:"`, `"VmRSS:"`) in MiB; NaN when unreadable.
pub fn status_mib(pid: &str, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// CPU time of this process so far: the sum over its threads of the nanosecond counter in
/// `/proc/self/task/*/schedstat` (`getrusage` would need `unsafe`, which the workspace forbids).
pub fn cpu_time() -> Duration {
    let mut ns = 0u64;
    for task in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        ns += stat
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Duration::from_nanos(ns)
}
