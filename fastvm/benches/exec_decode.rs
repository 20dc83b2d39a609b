//! Decode throughput of the exec NDJSON stream.
//!
//! Feeds a synthetic body of `o` events through [`ExecStream`] in 64 KiB network chunks on one
//! thread (`futures::executor::block_on`) and reports MB/s of decoded payload (1 MB = 10^6
//! bytes). The body is generated on the fly as zero-copy slices of one repeating pattern, so the
//! peak RSS printed after each run reflects the decoder, not the size of the test body: it
//! should stay flat from 16 MiB to 1 GiB of output.
//!
//! Run: `cargo bench -p fastvm --bench exec_decode` (optionally `-- <payload MiB>`).

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use fastvm::exec::{ExecEvent, ExecStream};
use futures::StreamExt as _;

const NETWORK_CHUNK: usize = 64 * 1024;
const RUNS: usize = 5;

/// Deterministic incompressible bytes (xorshift64*), so no RNG crate is needed.
fn pseudo_random(len: usize, mut state: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A body of `events` identical `o` lines of `event_payload` bytes each, then an `x` line,
/// cut into `NETWORK_CHUNK`-byte chunks that borrow from one shared buffer.
fn body(event_payload: usize, events: usize) -> impl Iterator<Item = Bytes> {
    let line = format!(
        "{{\"t\":\"o\",\"d\":\"{}\"}}\n",
        STANDARD.encode(pseudo_random(event_payload, 0x9E37_79B9_7F4A_7C15))
    );
    let period = line.len();
    // Enough repetitions that any chunk starting inside the first period fits.
    let reps = NETWORK_CHUNK.div_ceil(period) + 1;
    let pattern = Bytes::from(line.repeat(reps).into_bytes());
    let exit: &'static [u8] = b"{\"t\":\"x\",\"ms\":1}\n";
    let total = period * events;
    let mut offset = 0;
    let mut exit_sent = false;
    std::iter::from_fn(move || {
        if offset < total {
            let start = offset % period;
            let len = NETWORK_CHUNK.min(total - offset);
            offset += len;
            Some(pattern.slice(start..start + len))
        } else if !exit_sent {
            exit_sent = true;
            Some(Bytes::from_static(exit))
        } else {
            None
        }
    })
}

/// Peak resident set size of this process, in KiB (Linux; 0 elsewhere).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Decodes one body and returns (payload bytes, wall time).
fn run(event_payload: usize, events: usize) -> (u64, Duration) {
    let chunks = body(event_payload, events).map(Ok);
    let mut stream = ExecStream::from_chunks(futures::stream::iter(chunks));
    let started = Instant::now();
    let mut payload = 0u64;
    let mut exited = false;
    futures::executor::block_on(async {
        while let Some(event) = stream.next().await {
            match event.expect("the body decodes") {
                ExecEvent::Stdout(b) => payload += b.len() as u64,
                ExecEvent::Exit { .. } => exited = true,
                other => panic!("unexpected event {other:?}"),
            }
        }
    });
    let elapsed = started.elapsed();
    assert!(exited, "no exit event");
    assert_eq!(payload, (event_payload * events) as u64, "payload lost");
    (payload, elapsed)
}

fn bench(label: &str, event_payload: usize, payload_mib: usize) {
    let events = payload_mib * 1024 * 1024 / event_payload;
    let mut rates: Vec<f64> = (0..RUNS)
        .map(|_| {
            let (bytes, elapsed) = run(event_payload, events);
            bytes as f64 / elapsed.as_secs_f64() / 1e6
        })
        .collect();
    rates.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{label:<28} payload {payload_mib:>5} MiB in {events:>7} events: median {:>7.0} MB/s, best {:>7.0} MB/s, peak RSS so far {:>6} KiB",
        rates[RUNS / 2],
        rates[RUNS - 1],
        peak_rss_kib()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a bare number overrides the payload size.
    let payload_mib: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(256);
    println!("exec NDJSON decode, {NETWORK_CHUNK}-byte network chunks, one thread, {RUNS} runs each");
    println!("peak RSS before decoding: {} KiB", peak_rss_kib());
    bench("64 KiB events (small body)", 64 * 1024, 16);
    bench("64 KiB events", 64 * 1024, payload_mib);
    bench("64 KiB events (4x body)", 64 * 1024, payload_mib * 4);
    bench("4 KiB events", 4 * 1024, payload_mib);
    bench("256 B events", 256, payload_mib / 4);
}
