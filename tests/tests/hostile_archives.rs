//! Hostile directory archives through `client.download`, end to end: the API is wiremock, the
//! storage GET a plain HTTP server on 127.0.0.1 serving crafted `.tar.gz` bytes.
//!
//! The memory tests run each download in a child process (this test binary again, running
//! `download_child`) and read its peak resident memory from `/proc/self/status` (`VmHWM`, reset
//! through `/proc/self/clear_refs` just before the download): a bound on memory, not on time.
//! Each prints what it measured (`docs/benchmarks.md` records the numbers).

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use bytes::Bytes;
use common::{Api, json_response};
use fastvm::Error;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::Mock;
use wiremock::matchers::{body_string_contains, method, path};

const VM: &str = "vm-hostile-1";
/// The child's archive file; unset, `download_child` does nothing.
const CHILD_ENV: &str = "FASTVM_HOSTILE_ARCHIVE";
const MIB: u64 = 1 << 20;
/// The promise: no archive makes a download grow the process by this much.
const MAX_GROWTH: u64 = 64 * MIB;

// ---------------------------------------------------------------------------------------------
// Writing tar by hand: the `tar` crate's builder refuses much of what these archives hold.

const BLOCK: usize = 512;

/// A GNU header block (`ustar  \0` magic) with `name` (cut to 100 bytes), type `kind` and size
/// field `size`.
fn header(name: &[u8], kind: u8, size: u64) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    let n = name.len().min(100);
    h[..n].copy_from_slice(&name[..n]);
    h[100..107].copy_from_slice(b"0000755");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    h[136..147].copy_from_slice(b"14000000000");
    h[156] = kind;
    h[257..265].copy_from_slice(b"ustar  \0");
    checksum(&mut h);
    h
}

fn checksum(h: &mut [u8; BLOCK]) {
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
}

/// Writes `data` and the zeros that pad it to a whole block.
fn padded(out: &mut dyn Write, data: &[u8]) {
    out.write_all(data).unwrap();
    out.write_all(&[0u8; BLOCK][..(BLOCK - data.len() % BLOCK) % BLOCK])
        .unwrap();
}

/// Writes `len` bytes of `byte` and its padding, a block at a time.
fn filler(out: &mut dyn Write, byte: u8, len: u64) {
    let block = [byte; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        out.write_all(&block[..n]).unwrap();
        left -= n as u64;
    }
    out.write_all(&[0u8; BLOCK][..(BLOCK - (len % BLOCK as u64) as usize) % BLOCK])
        .unwrap();
}

/// Writes the end of the archive: two zero blocks.
fn end(out: &mut dyn Write) {
    out.write_all(&[0u8; 2 * BLOCK]).unwrap();
}

/// The tar stream that `write` produces, gzipped by `gzip -1` (fast even in a debug build).
fn gzip(write: impl FnOnce(&mut dyn Write) + Send + 'static) -> Vec<u8> {
    let mut child = Command::new("gzip")
        .args(["-1", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run gzip");
    let stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, stdin);
        write(&mut out);
        out.flush().unwrap();
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success());
    out.stdout
}

/// A GNU long-name record announcing and holding 256 MiB, then one empty file.
fn long_name_archive() -> Vec<u8> {
    gzip(|out| {
        let size: u64 = 256 * MIB;
        out.write_all(&header(b"././@LongLink", b'L', size)).unwrap();
        filler(out, b'a', size);
        out.write_all(&header(b"f", b'0', 0)).unwrap();
        end(out);
    })
}

/// A PAX extended header of 256 MiB (one `comment` record), then one empty file.
fn pax_archive() -> Vec<u8> {
    gzip(|out| {
        let size: u64 = 256 * MIB;
        let mut h = header(b"PaxHeaders/f", b'x', size);
        h[257..265].copy_from_slice(b"ustar\x0000");
        checksum(&mut h);
        out.write_all(&h).unwrap();
        // "<len> comment=<value>\n", `len` counting the whole record, its own 9 digits included.
        let head = format!("{size} comment=");
        out.write_all(head.as_bytes()).unwrap();
        let value = size - head.len() as u64 - 1;
        let block = [b'c'; 64 * 1024];
        let mut left = value;
        while left > 0 {
            let n = left.min(block.len() as u64) as usize;
            out.write_all(&block[..n]).unwrap();
            left -= n as u64;
        }
        out.write_all(b"\n").unwrap();
        out.write_all(&header(b"f", b'0', 0)).unwrap();
        end(out);
    })
}

/// Directories named by GNU long-name records, 3,900 bytes each: 15 nested 255-byte names and
/// a unique 60-byte one.
fn many_dirs_archive(count: usize) -> Vec<u8> {
    gzip(move |out| {
        let deep = vec!["p".repeat(255); 15].join("/");
        for i in 0..count {
            let name = format!("{deep}/{:q<60}/", format!("{i:06}"));
            assert_eq!(name.len(), 3901);
            let record = [name.as_bytes(), b"\0"].concat();
            out.write_all(&header(b"././@LongLink", b'L', record.len() as u64))
                .unwrap();
            padded(out, &record);
            out.write_all(&header(name.as_bytes(), b'5', 0)).unwrap();
        }
        end(out);
    })
}

/// Directories with short names (ustar headers only), as many as `count`: the most records
/// per byte kept until the end.
fn short_dirs_archive(count: usize) -> Vec<u8> {
    gzip(move |out| {
        for i in 0..count {
            out.write_all(&header(format!("{i:07}/").as_bytes(), b'5', 0)).unwrap();
        }
        end(out);
    })
}

/// Symlinks with short names and one-byte targets, as many as `count`.
fn short_links_archive(count: usize) -> Vec<u8> {
    gzip(move |out| {
        for i in 0..count {
            let mut h = header(format!("{i:07}").as_bytes(), b'2', 0);
            h[157] = b't';
            checksum(&mut h);
            out.write_all(&h).unwrap();
        }
        end(out);
    })
}

// ---------------------------------------------------------------------------------------------
// The servers and the download

/// Serves `body` to every GET on 127.0.0.1 (one response per connection) and returns a
/// presigned-looking URL for it. Written by hand so that the body is never copied per request.
async fn storage_server(body: Bytes) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/gzip\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                if sock.write_all(resp.as_bytes()).await.is_ok() {
                    // The client hangs up once it refuses the archive.
                    let _ = sock.write_all(&body).await;
                    let _ = sock.shutdown().await;
                }
            });
        }
    });
    format!("http://{addr}/storage/obj?X-Amz-Signature=sekrit0123456789")
}

/// Answers `POST /exec` whose body contains `needle` with a successful run printing `stdout`.
async fn exec_when(api: &Api, needle: &str, stdout: &str) {
    let body = json!({
        "exitCode": 0, "stdout": stdout, "stderr": "", "durationMs": 3,
        "stdoutTruncated": false, "stderrTruncated": false, "timedOut": false,
    });
    common::valid_fixture("execVm", 200, &body);
    Mock::given(method("POST"))
        .and(path(format!("/v1/vms/{VM}/exec")))
        .and(body_string_contains(needle))
        .respond_with(json_response(200, &body))
        .named(format!("exec containing {needle:?}"))
        .expect(1)
        .mount(&api.server)
        .await;
}

/// Resident memory figures of this process from `/proc/self/status`, in bytes.
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    let kib: u64 = line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kib * 1024
}

/// Downloads the directory `/data` whose archive is `archive` into a fresh `dest`, and says what
/// happened: the error (kind, message, `Display` and each source's text), what was left in
/// the temporary directory and, with `measure`, how much the peak resident memory grew.
async fn download(archive: Bytes, measure: bool) -> Value {
    let storage = storage_server(archive).await;
    let api = Api::start().await;
    exec_when(&api, "if [ -d", "dir\n").await;
    let presign = json!({
        "uploadUrl": storage.clone(),
        "downloadUrl": storage,
        "expiresInSec": 3600,
        "maxUploadBytes": 1 << 30,
    });
    api.expect("presignFile", &format!("/v1/vms/{VM}/files/presign"), 200, presign)
        .await;
    exec_when(&api, "tar -czf", "").await;
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("dest");

    // The peak so far is forgotten: what follows is the download's own.
    let reset = measure && std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let base = if reset {
        status_bytes("VmRSS:")
    } else {
        status_bytes("VmHWM:")
    };
    let result = api.client.download(VM, "/data", &dest).await;
    let growth = status_bytes("VmHWM:").saturating_sub(base);

    let error = match &result {
        Ok(()) => Value::Null,
        Err(e) => {
            let mut chain = Vec::new();
            let mut src = std::error::Error::source(e);
            while let Some(s) = src {
                chain.push(s.to_string());
                src = s.source();
            }
            let (kind, message) = match e {
                Error::FileTransfer { error, .. } => (format!("{:?}", error.kind), error.message.clone()),
                other => (format!("not a transfer error: {other:?}"), String::new()),
            };
            json!({"kind": kind, "message": message, "display": e.to_string(), "chain": chain})
        }
    };
    let mut left: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    // A download that succeeded leaves `dest`, possibly with read-only directories.
    let _ = Command::new("chmod").arg("-R").arg("u+rwx").arg(tmp.path()).status();
    json!({
        "error": error,
        "left": left,
        "growth": if measure { json!(growth) } else { Value::Null },
        "reset": reset,
    })
}

#[test]
#[ignore = "helper: run in a child process by the memory tests"]
fn download_child() {
    let Some(file) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let archive = Bytes::from(std::fs::read(file).unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let outcome = rt.block_on(download(archive, true));
    println!("HOSTILE-RESULT {outcome}");
}

/// Runs `download_child` on `archive` and returns its outcome, printing the growth measured.
fn download_in_child(what: &str, archive: &[u8]) -> Value {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("archive.tgz");
    std::fs::write(&file, archive).unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "download_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.find("HOSTILE-RESULT ").map(|i| &l[i + "HOSTILE-RESULT ".len()..]))
        .unwrap_or_else(|| {
            panic!(
                "the child reported nothing: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let outcome: Value = serde_json::from_str(line).unwrap();
    let growth = outcome["growth"].as_u64().unwrap();
    eprintln!(
        "{what}: archive {} KiB, peak resident memory grew by {:.1} MiB (HWM reset: {}), error: {}",
        archive.len() / 1024,
        growth as f64 / MIB as f64,
        outcome["reset"],
        outcome["error"]["message"]
    );
    outcome
}

/// Asserts that `outcome` is an `Archive` refusal whose message contains `needle`, that left
/// nothing behind, within [`MAX_GROWTH`].
fn assert_refused_within_bound(outcome: &Value, needle: &str) {
    assert_eq!(outcome["error"]["kind"], "Archive", "{outcome}");
    let message = outcome["error"]["message"].as_str().unwrap();
    assert!(message.contains(needle), "{message}");
    assert_eq!(outcome["left"], json!([]), "left behind: {outcome}");
    let growth = outcome["growth"].as_u64().unwrap();
    assert!(
        growth < MAX_GROWTH,
        "peak memory grew by {} MiB (bound: 64 MiB)",
        growth / MIB
    );
}

#[test]
fn a_256_mib_gnu_long_name_record_is_refused_within_64_mib() {
    let archive = long_name_archive();
    let outcome = download_in_child("GNU long-name record of 256 MiB", &archive);
    assert_refused_within_bound(
        &outcome,
        "a GNU long-name record of 268435456 bytes is over the limit of 4097 bytes",
    );
}

#[test]
fn a_256_mib_pax_header_is_refused_within_64_mib() {
    let archive = pax_archive();
    let outcome = download_in_child("PAX header of 256 MiB", &archive);
    assert_refused_within_bound(
        &outcome,
        "a PAX extended header of 268435456 bytes is over the limit of 1048576 bytes (1 MiB)",
    );
}

#[test]
fn a_hundred_thousand_directories_with_long_names_stay_within_64_mib() {
    let archive = many_dirs_archive(100_000);
    let outcome = download_in_child("100,000 directories with 3.9 KB names", &archive);
    assert_refused_within_bound(
        &outcome,
        "the archive's directories and symlinks need more than the limit of 32 MiB kept until extraction ends",
    );
}

#[test]
fn three_hundred_thousand_short_named_directories_stay_within_64_mib() {
    // The most records per byte kept: the limit is reached with the most overhead per record.
    let archive = short_dirs_archive(300_000);
    let outcome = download_in_child("300,000 directories with 7-byte names", &archive);
    assert_refused_within_bound(
        &outcome,
        "the archive's directories and symlinks need more than the limit of 32 MiB kept until extraction ends",
    );
}

#[test]
fn three_hundred_thousand_short_symlinks_stay_within_64_mib() {
    // Symlinks cost more per record than directories (a map entry with two paths).
    let archive = short_links_archive(300_000);
    let outcome = download_in_child("300,000 symlinks with 7-byte names", &archive);
    assert_refused_within_bound(
        &outcome,
        "the archive's directories and symlinks need more than the limit of 32 MiB kept until extraction ends",
    );
}

// ---------------------------------------------------------------------------------------------
// Control characters

/// Panics if `text` holds a control character (or a Unicode control that reorders a line).
fn assert_printable(text: &str) {
    let bad =
        |c: char| c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c) || ('\u{2066}'..='\u{2069}').contains(&c);
    assert!(!text.chars().any(bad), "raw control characters in {text:?}");
}

/// Asserts that `outcome` is an `Archive` error whose message is `expected` and whose every
/// rendering (message, `Display`, each source) is free of control characters.
fn assert_escaped(outcome: &Value, expected: &str) {
    assert_eq!(outcome["error"]["kind"], "Archive", "{outcome}");
    assert_eq!(outcome["error"]["message"], expected, "{outcome}");
    assert_printable(outcome["error"]["message"].as_str().unwrap());
    assert_printable(outcome["error"]["display"].as_str().unwrap());
    for s in outcome["error"]["chain"].as_array().unwrap() {
        assert_printable(s.as_str().unwrap());
    }
    assert_eq!(outcome["left"], json!([]), "left behind: {outcome}");
}

#[tokio::test]
async fn control_characters_from_the_archive_are_escaped_in_errors() {
    // A refused name: OSC title-setting (ESC ] ... BEL), CR, LF and a bidi override.
    let name = "../\x1b]0;owned\x07\r\nx\u{202e}y";
    let refused_name = gzip(move |out| {
        out.write_all(&header(name.as_bytes(), b'0', 0)).unwrap();
        end(out);
    });
    let outcome = download(Bytes::from(refused_name), false).await;
    assert_escaped(
        &outcome,
        "entry ../\\u{1b}]0;owned\\u{7}\\u{d}\\u{a}x\\u{202e}y contains `..`",
    );

    // A symlink leaving the destination, its target holding a screen-clearing escape.
    let link = gzip(|out| {
        let mut h = header(b"l", b'2', 0);
        let target = b"/\x1b[2J\x1b[Hetc";
        h[157..157 + target.len()].copy_from_slice(target);
        checksum(&mut h);
        out.write_all(&h).unwrap();
        end(out);
    });
    let outcome = download(Bytes::from(link), false).await;
    assert_escaped(
        &outcome,
        "symlink l -> /\\u{1b}[2J\\u{1b}[Hetc points outside the destination",
    );

    // The `tar` crate's own error quoting raw header bytes: a GNU sparse entry whose first
    // block's offset field is an escape sequence, not a number.
    let sparse = gzip(|out| {
        let mut h = header(b"s", b'S', 0);
        h[386..391].copy_from_slice(b"\x1b[31m");
        h[398..400].copy_from_slice(b"0\0");
        h[483..494].copy_from_slice(b"00000000000");
        checksum(&mut h);
        out.write_all(&h).unwrap();
        end(out);
    });
    let outcome = download(Bytes::from(sparse), false).await;
    let message = outcome["error"]["message"].as_str().unwrap().to_string();
    assert!(message.starts_with("corrupt archive: "), "{outcome}");
    assert!(message.contains("\\u{1b}[31m"), "{outcome}");
    assert_escaped(&outcome, &message);
}

/// The archives the memory tests serve are what they claim: a sound `tar` reader finds the
/// huge records in them (so a refusal is the SDK's doing, not a broken fixture).
#[test]
fn the_hostile_fixtures_are_sound_archives() {
    let many = many_dirs_archive(3);
    let tar = gunzip(&many);
    let listed = tar_list(&tar);
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(
        listed.iter().all(|n| n.len() == 3901 && n.ends_with("q/")),
        "{listed:?}"
    );
    assert!(Path::new(&listed[2]).ends_with(format!("{:q<60}", "000002")));
}

fn gunzip(gz: &[u8]) -> Vec<u8> {
    let mut child = Command::new("gzip")
        .args(["-d", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = gz.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success());
    out.stdout
}

/// The member names GNU tar lists in an uncompressed archive.
fn tar_list(tar: &[u8]) -> Vec<String> {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a.tar");
    std::fs::write(&file, tar).unwrap();
    let out = Command::new("tar").arg("-tf").arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}
