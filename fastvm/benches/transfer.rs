//! File and directory transfer throughput and client memory, against the fake server running
//! as a separate process, with `curl` as the physical reference.
//!
//! Run by hand: `cargo bench -p fastvm --bench transfer`. It builds `target/release/fastvm-fake`
//! first if missing. Scale with `BENCH_FILE_MIB` (default 1024) and `BENCH_DIR_FILES` (default
//! 10000, 20 KiB each). Peak RSS is the process's VmHWM, reset before each phase through
//! `/proc/self/clear_refs`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fastvm::FastvmClient;

mod support;

fn write_noise(path: &Path, len: u64, seed: u64) {
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let mut x = seed | 1;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for chunk in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        let n = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..n]).unwrap();
        left -= n as u64;
    }
    f.flush().unwrap();
}

struct Row {
    what: String,
    bytes: u64,
    secs: f64,
    rss: Option<f64>,
}

fn row(what: impl Into<String>, bytes: u64, t: Duration, rss: Option<f64>) -> Row {
    let r = Row {
        what: what.into(),
        bytes,
        secs: t.as_secs_f64(),
        rss,
    };
    eprintln!(
        "{:<44} {:>8.2} s {:>8.1} MiB/s  {}",
        r.what,
        r.secs,
        r.bytes as f64 / (1 << 20) as f64 / r.secs,
        r.rss.map(|m| format!("peak RSS {m:.1} MiB")).unwrap_or_default()
    );
    r
}

async fn timed<F: std::future::IntoFuture<Output = fastvm::Result<()>>>(f: F) -> (Duration, f64) {
    support::reset_peak();
    let t = Instant::now();
    f.await.expect("transfer");
    (t.elapsed(), support::status_mib("self", "VmHWM:"))
}

fn curl(args: &[&str]) -> Duration {
    let t = Instant::now();
    let st = Command::new("curl")
        .args(["-sS", "--fail"])
        .args(args)
        .status()
        .expect("curl");
    assert!(st.success());
    t.elapsed()
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let file_mib = support::env_or("BENCH_FILE_MIB", 1024);
    let dir_files = support::env_or("BENCH_DIR_FILES", 10_000);
    let (_fake, url, key) = support::start_fake(&[]);
    let client = FastvmClient::builder().api_key(key).base_url(url).build().unwrap();
    let vm = client.vms().launch(fastvm::launch::machine("c1m2")).await.unwrap().vm;
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let t = tmp.path();
    let mut rows = Vec::new();

    for mib in [file_mib / 4, file_mib] {
        let bytes = mib << 20;
        let local = t.join(format!("f{mib}"));
        write_noise(&local, bytes, mib);
        let remote = t.join(format!("vm/f{mib}"));
        let remote_s = remote.to_str().unwrap();
        let (d, rss) = timed(client.upload(&vm.id, &local, remote_s)).await;
        rows.push(row(format!("upload file {mib} MiB"), bytes, d, Some(rss)));
        let back = t.join(format!("back{mib}"));
        let (d, rss) = timed(client.download(&vm.id, remote_s, &back)).await;
        rows.push(row(format!("download file {mib} MiB"), bytes, d, Some(rss)));

        // The physical reference: the same bytes through the same fake storage with curl.
        let urls = client.vms().files().presign(&vm.id, remote_s).await.unwrap();
        let d = curl(&[
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/octet-stream",
            "-T",
            local.to_str().unwrap(),
            &urls.upload_url,
        ]);
        rows.push(row(format!("curl -T (storage PUT only) {mib} MiB"), bytes, d, None));
        let out = t.join("curl-out");
        let d = curl(&["-o", out.to_str().unwrap(), &urls.download_url]);
        rows.push(row(format!("curl GET (storage only) {mib} MiB"), bytes, d, None));

        // Like-for-like references: the whole operation the SDK performs, with curl doing the
        // client's storage leg (same presign, same VM-side fetch / VM-side curl, same server).
        let started = std::time::Instant::now();
        let urls = client.vms().files().presign(&vm.id, remote_s).await.unwrap();
        curl(&[
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/octet-stream",
            "-T",
            local.to_str().unwrap(),
            &urls.upload_url,
        ]);
        let fetched = client
            .vms()
            .files()
            .fetch(&vm.id, &urls.download_url, remote_s)
            .timeout(Duration::from_secs(600))
            .await
            .unwrap();
        assert_eq!(fetched.exit_code, 0, "reference fetch failed: {}", fetched.stderr);
        rows.push(row(
            format!("reference upload: presign + curl -T + fetch {mib} MiB"),
            bytes,
            started.elapsed(),
            None,
        ));
        let started = std::time::Instant::now();
        let urls = client.vms().files().presign(&vm.id, remote_s).await.unwrap();
        let push = format!(
            "curl --fail --silent --show-error -X PUT -H 'Content-Type: application/octet-stream' -T {} {}",
            fastvm::exec::shell_quote(remote_s),
            fastvm::exec::shell_quote(&urls.upload_url)
        );
        let pushed = client.vms().run(&vm.id, fastvm::exec::Command::sh(push)).await.unwrap();
        assert_eq!(pushed.exit_code, 0, "reference VM-side curl failed: {}", pushed.stderr);
        curl(&["-o", out.to_str().unwrap(), &urls.download_url]);
        rows.push(row(
            format!("reference download: VM curl -T + curl GET {mib} MiB"),
            bytes,
            started.elapsed(),
            None,
        ));
        for p in [&local, &remote, &back, &out] {
            let _ = std::fs::remove_file(p);
        }
    }

    let src: PathBuf = t.join("dir");
    let per_file = 20 * 1024u64;
    for i in 0..dir_files {
        let sub = src.join(format!("d{:03}", i % 100));
        std::fs::create_dir_all(&sub).unwrap();
        write_noise(&sub.join(format!("f{i}.bin")), per_file, i + 1);
    }
    let dir_bytes = dir_files * per_file;
    let remote = t.join("vm/dir");
    let remote_s = remote.to_str().unwrap();
    let (d, rss) = timed(client.upload(&vm.id, &src, remote_s)).await;
    rows.push(row(format!("upload dir {dir_files} files"), dir_bytes, d, Some(rss)));
    let back = t.join("dir-back");
    let (d, rss) = timed(client.download(&vm.id, remote_s, &back)).await;
    rows.push(row(format!("download dir {dir_files} files"), dir_bytes, d, Some(rss)));
    // Reference for the directory: tar + curl by hand (what the VM side of a download runs).
    let urls = client.vms().files().presign(&vm.id, "/tmp/ref.tgz").await.unwrap();
    let t0 = Instant::now();
    let st = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "tar -czf - -C {} . | curl -sS --fail -X PUT -H 'Content-Type: application/octet-stream' -T - {}",
            fastvm::exec::shell_quote(src.to_str().unwrap()),
            fastvm::exec::shell_quote(&urls.upload_url)
        ))
        .status()
        .unwrap();
    assert!(st.success());
    rows.push(row(
        "reference: tar -cz | curl -T - (dir)",
        dir_bytes,
        t0.elapsed(),
        None,
    ));

    println!("| transfer | size | wall time | throughput | client peak RSS |");
    println!("|---|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {:.0} MiB | {:.2} s | {:.0} MiB/s | {} |",
            r.what,
            r.bytes as f64 / (1 << 20) as f64,
            r.secs,
            r.bytes as f64 / (1 << 20) as f64 / r.secs,
            r.rss.map(|m| format!("{m:.1} MiB")).unwrap_or_else(|| "–".into())
        );
    }
    client.vms().delete(&vm.id).await.ok();
}
