//! Fuzzes the exec NDJSON decoder ([`fastvm::exec::ExecStream`]).
//!
//! Input layout: byte 0 is the number of cuts (mod 32), then two bytes per cut (little-endian
//! offsets into the body, mod its length + 1), then the body. Checked for every input:
//! no panic; the same events and error whether the body arrives in one chunk or cut at the
//! chosen offsets; at most one terminal item (`Exit` or an error), and it is the last one.
//!
//! Run: `cargo +nightly fuzz run exec_decode fuzz/corpus/exec_decode fuzz/seeds/exec_decode`.

#![no_main]

use bytes::Bytes;
use fastvm::exec::{ExecEvent, ExecStream};
use futures::StreamExt;
use libfuzzer_sys::fuzz_target;

/// Every item of the stream, errors rendered so runs can be compared.
fn decode(chunks: Vec<Bytes>) -> Vec<Result<ExecEvent, String>> {
    let stream = ExecStream::from_chunks(futures::stream::iter(chunks.into_iter().map(Ok)));
    futures::executor::block_on(StreamExt::collect::<Vec<_>>(stream))
        .into_iter()
        .map(|r| r.map_err(|e| format!("{e:?}")))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(n % 32);
    if rest.len() < 2 * n {
        return;
    }
    let (cut_bytes, body) = rest.split_at(2 * n);
    let body = Bytes::copy_from_slice(body);
    let mut cuts: Vec<usize> = cut_bytes
        .chunks_exact(2)
        .map(|c| usize::from(u16::from_le_bytes([c[0], c[1]])) % (body.len() + 1))
        .collect();
    cuts.sort_unstable();
    let mut chunks = Vec::with_capacity(n + 1);
    let mut start = 0;
    for cut in cuts {
        chunks.push(body.slice(start..cut));
        start = cut;
    }
    chunks.push(body.slice(start..));

    let whole = decode(vec![body.clone()]);
    let split = decode(chunks);
    assert_eq!(whole, split, "chunking changed the result");

    let terminal = |r: &Result<ExecEvent, String>| !matches!(r, Ok(e) if !e.is_exit());
    let last = whole.last().expect("a stream always ends with an exit or an error");
    assert!(terminal(last), "the stream ended without a terminal item: {last:?}");
    assert!(
        whole[..whole.len() - 1].iter().all(|r| !terminal(r)),
        "a terminal item before the end"
    );
});
