//! `POST /v1/vms/{id}/exec`: runs the argv in the VM (its own namespaces with isolation, else
//! this host; see [`crate::vmfs::VmFs::command`]), answering either a buffered
//! `ExecVMResponse` or an NDJSON stream of `ExecEvent` lines written as the child produces
//! output.

use std::convert::Infallible;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Child;
use tokio::sync::mpsc;

use crate::TruncateStream;
use crate::error::{ApiError, ApiResult, parse};
use crate::routes::vm_mut;
use crate::state::{Shared, Status};

/// Per-stream cap of the buffered (JSON) answer.
pub const OUTPUT_CAP: usize = 4 << 20;
/// Timeout when the request gives none.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecBody {
    command: Vec<String>,
    timeout_sec: Option<i64>,
    stdin: Option<String>,
}

/// What the pump reports, in order: output chunks, then exactly one `Exit`.
#[derive(Debug)]
enum Msg {
    Out(Bytes),
    Err(Bytes),
    Exit(Outcome),
}

#[derive(Debug, Default)]
struct Outcome {
    code: i32,
    timed_out: bool,
    ms: i64,
    /// Set only when the command could not be started.
    diagnostic: Option<String>,
}

pub async fn handler(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    truncate: Option<axum::Extension<TruncateStream>>,
    body: Bytes,
) -> ApiResult<Response> {
    let b: ExecBody = parse(&body)?;
    if b.command.first().is_none_or(String::is_empty) {
        return Err(ApiError::bad_request("command must be a non-empty argv"));
    }
    let timeout = match b.timeout_sec {
        Some(t) if t < 1 => return Err(ApiError::bad_request("timeoutSec must be at least 1")),
        Some(t) => Duration::from_secs(t as u64),
        None => DEFAULT_TIMEOUT,
    };
    let stdin = match &b.stdin {
        Some(s) => Some(
            STANDARD
                .decode(s)
                .map_err(|_| ApiError::bad_request("stdin must be base64"))?,
        ),
        None => None,
    };
    let (fs, env) = {
        let (mut g, _) = s.lock();
        let vm = vm_mut(&mut g, &id)?;
        if vm.status != Status::Running {
            return Err(ApiError::conflict(format!("vm is {}, not running", vm.status.as_str())));
        }
        (vm.fs.clone(), vm.env.clone())
    };
    let ndjson = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/x-ndjson"));

    let (tx, rx) = mpsc::channel(16);
    let spawned = fs.command(&b.command, &env).await.and_then(|mut cmd| {
        cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so a timeout kills `sh -c` and everything it started.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
    });
    match spawned {
        Ok(child) => {
            let watch = SpawnWatch::new(fs.spawn_failure_prefix(), &b.command[0]);
            tokio::spawn(pump(child, stdin, timeout, watch, tx));
        }
        Err(e) => {
            let outcome = Outcome {
                code: 127,
                diagnostic: Some(format!("cannot start {:?}: {e}", b.command[0])),
                ..Outcome::default()
            };
            let _ = tx.send(Msg::Exit(outcome)).await;
        }
    }
    if ndjson {
        Ok(stream_response(rx, truncate.is_some()))
    } else {
        Ok(Json(collect(rx).await).into_response())
    }
}

/// Kills the child's process group unless the child was reaped.
struct Group {
    pid: Option<u32>,
}

impl Group {
    fn kill(&self) {
        if let Some(pid) = self.pid {
            let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Holds back the first stderr bytes while they may be the launcher's "failed to execute"
/// message (isolation: `nsenter` executes the argv, so an exec failure reaches us as its
/// stderr and exit status 126/127, not as a spawn error). If the command then exits 126 or 127
/// with exactly that one line, it becomes the exit event's diagnostic, as a spawn failure is;
/// otherwise the bytes are passed on as stderr, in order.
#[derive(Debug)]
struct SpawnWatch {
    prefix: Option<&'static str>,
    argv0: String,
    held: Vec<u8>,
    /// After this nothing is held back: a failed exec reports at once.
    until: tokio::time::Instant,
}

impl SpawnWatch {
    /// The longest line held back.
    const MAX: usize = 4096;
    /// How long after the spawn bytes may be held back.
    const WINDOW: Duration = Duration::from_secs(2);

    fn new(prefix: Option<&'static str>, argv0: &str) -> SpawnWatch {
        SpawnWatch {
            prefix,
            argv0: argv0.to_string(),
            held: Vec::new(),
            until: tokio::time::Instant::now() + Self::WINDOW,
        }
    }

    fn holding(&self) -> bool {
        self.prefix.is_some()
    }

    /// Whether bytes are held back now (and the window timer matters).
    fn has_held(&self) -> bool {
        self.holding() && !self.held.is_empty()
    }

    /// Whether the held bytes can still be (the start of) the launcher's one-line message.
    fn plausible(&self) -> bool {
        let Some(p) = self.prefix.map(str::as_bytes) else {
            return false;
        };
        let h = &self.held;
        if h.len() < p.len() {
            return p.starts_with(h);
        }
        let newline = h.iter().position(|&b| b == b'\n');
        h.starts_with(p) && h.len() <= Self::MAX && newline.is_none_or(|i| i == h.len() - 1)
    }

    /// Stops holding; what was held, to send as stderr.
    fn release(&mut self) -> Option<Bytes> {
        self.prefix = None;
        (!self.held.is_empty()).then(|| Bytes::from(std::mem::take(&mut self.held)))
    }

    /// A chunk of stderr: what to send now.
    fn stderr(&mut self, chunk: Bytes) -> Option<Bytes> {
        if !self.holding() {
            return Some(chunk);
        }
        if tokio::time::Instant::now() >= self.until {
            self.held.extend_from_slice(&chunk);
            return self.release();
        }
        self.held.extend_from_slice(&chunk);
        if self.plausible() { None } else { self.release() }
    }

    /// At exit with `code`: the diagnostic, if the held bytes were the launcher's message.
    fn diagnostic(&mut self, code: i32) -> Option<String> {
        let prefix = self.prefix?;
        let line = std::str::from_utf8(&self.held).ok()?.strip_suffix('\n')?;
        let rest = line.strip_prefix(prefix)?;
        let reason = rest.strip_prefix(self.argv0.as_str())?.strip_prefix(": ")?;
        if !(code == 126 || code == 127) {
            return None;
        }
        let d = format!("cannot start {:?}: {reason}", self.argv0);
        self.held.clear();
        self.prefix = None;
        Some(d)
    }
}

async fn pump(
    mut child: Child,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
    mut watch: SpawnWatch,
    tx: mpsc::Sender<Msg>,
) {
    let started = Instant::now();
    let mut group = Group { pid: child.id() };
    if let (Some(mut pipe), Some(data)) = (child.stdin.take(), stdin) {
        // Separately, so a child that writes before reading everything cannot deadlock us.
        tokio::spawn(async move {
            let _ = pipe.write_all(&data).await;
        });
    }
    let out = child.stdout.take();
    let err = child.stderr.take();
    let run = async {
        read_both(out, err, &mut watch, &tx).await?;
        child.wait().await.ok()
    };
    let (status, timed_out) = match tokio::time::timeout(timeout, run).await {
        Ok(Some(status)) => (Some(status), false),
        // The client went away (or waiting failed): nobody to report to.
        Ok(None) => return,
        Err(_) => {
            group.kill();
            (child.wait().await.ok(), true)
        }
    };
    group.pid = None;
    let code = status.map_or(-1, |s| s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(9)));
    let diagnostic = if timed_out { None } else { watch.diagnostic(code) };
    if let Some(held) = watch.release()
        && tx.send(Msg::Err(held)).await.is_err()
    {
        return;
    }
    let outcome = Outcome {
        code,
        timed_out,
        ms: started.elapsed().as_millis() as i64,
        diagnostic,
    };
    let _ = tx.send(Msg::Exit(outcome)).await;
}

/// Forwards chunks of both pipes until both are at EOF; `None` when the receiver is gone.
async fn read_both(
    mut out: Option<impl AsyncRead + Unpin>,
    mut err: Option<impl AsyncRead + Unpin>,
    watch: &mut SpawnWatch,
    tx: &mpsc::Sender<Msg>,
) -> Option<()> {
    let mut obuf = vec![0u8; 64 * 1024];
    let mut ebuf = vec![0u8; 64 * 1024];
    while out.is_some() || err.is_some() {
        let until = watch.until;
        let msg = tokio::select! {
            r = read_some(&mut out, &mut obuf) => r.map(|b| Msg::Out(Bytes::copy_from_slice(b))),
            r = read_some(&mut err, &mut ebuf) => r.map(|b| Msg::Err(Bytes::copy_from_slice(b))),
            _ = tx.closed() => return None,
            // Held bytes are not kept past the window: the command did start.
            _ = tokio::time::sleep_until(until), if watch.has_held() => watch.release().map(Msg::Err),
        };
        let msg = match msg {
            Some(Msg::Err(b)) if watch.holding() => watch.stderr(b).map(Msg::Err),
            Some(Msg::Out(b)) => {
                // Output first: the command did start.
                if let Some(held) = watch.release() {
                    tx.send(Msg::Err(held)).await.ok()?;
                }
                Some(Msg::Out(b))
            }
            other => other,
        };
        if let Some(msg) = msg {
            tx.send(msg).await.ok()?;
        }
    }
    Some(())
}

/// One read of `pipe`; at EOF or error the pipe is retired and `None` returned. A retired pipe
/// never completes, so `select!` keeps waiting on the other one.
async fn read_some<'a>(pipe: &mut Option<impl AsyncRead + Unpin>, buf: &'a mut [u8]) -> Option<&'a [u8]> {
    let Some(p) = pipe.as_mut() else {
        return std::future::pending().await;
    };
    match p.read(buf).await {
        Ok(0) | Err(_) => {
            *pipe = None;
            None
        }
        Ok(n) => Some(&buf[..n]),
    }
}

async fn collect(mut rx: mpsc::Receiver<Msg>) -> Value {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let (mut out_trunc, mut err_trunc) = (false, false);
    let append = |buf: &mut Vec<u8>, trunc: &mut bool, chunk: &[u8]| {
        let room = OUTPUT_CAP - buf.len();
        if chunk.len() > room {
            *trunc = true;
        }
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
    };
    let mut outcome = Outcome::default();
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Out(b) => append(&mut out, &mut out_trunc, &b),
            Msg::Err(b) => append(&mut err, &mut err_trunc, &b),
            Msg::Exit(o) => {
                outcome = o;
                break;
            }
        }
    }
    if let Some(d) = outcome.diagnostic.take() {
        err.extend_from_slice(d.as_bytes());
    }
    exec_result_json(
        outcome.code,
        &String::from_utf8_lossy(&out),
        &String::from_utf8_lossy(&err),
        outcome.timed_out,
        out_trunc,
        err_trunc,
        outcome.ms,
    )
}

/// The buffered exec answer (`ExecVMResponse`): what `exec` without streaming and
/// `files/fetch` both return.
pub fn exec_result_json(
    exit_code: i32,
    stdout: &str,
    stderr: &str,
    timed_out: bool,
    stdout_truncated: bool,
    stderr_truncated: bool,
    duration_ms: i64,
) -> Value {
    json!({
        "exitCode": exit_code,
        "stdout": stdout,
        "stderr": stderr,
        "timedOut": timed_out,
        "stdoutTruncated": stdout_truncated,
        "stderrTruncated": stderr_truncated,
        "durationMs": duration_ms,
    })
}

/// One `ExecEvent` line, with the wire's omissions (`c` when 0, `to` when false).
fn event_line(msg: &Msg) -> Bytes {
    let v = match msg {
        Msg::Out(b) => json!({ "t": "o", "d": STANDARD.encode(b) }),
        Msg::Err(b) => json!({ "t": "e", "d": STANDARD.encode(b) }),
        Msg::Exit(o) => {
            let mut v = json!({ "t": "x", "ms": o.ms });
            if o.code != 0 {
                v["c"] = json!(o.code);
            }
            if o.timed_out {
                v["to"] = json!(true);
            }
            if let Some(d) = &o.diagnostic {
                v["d"] = json!(d);
            }
            v
        }
    };
    let mut line = serde_json::to_vec(&v).expect("JSON of a JSON value");
    line.push(b'\n');
    Bytes::from(line)
}

fn stream_response(rx: mpsc::Receiver<Msg>, truncate: bool) -> Response {
    let stream = futures::stream::unfold(rx, move |mut rx| async move {
        match rx.recv().await? {
            Msg::Exit(_) if truncate => None,
            msg => Some((Ok::<_, Infallible>(event_line(&msg)), rx)),
        }
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_line(b: &Bytes) -> Value {
        assert_eq!(b.last(), Some(&b'\n'));
        serde_json::from_slice(b).unwrap()
    }

    #[test]
    fn exit_events_omit_zero_code_and_false_timeout() {
        let ok = parse_line(&event_line(&Msg::Exit(Outcome {
            ms: 5,
            ..Outcome::default()
        })));
        assert_eq!(ok, json!({"t": "x", "ms": 5}));
        let bad = parse_line(&event_line(&Msg::Exit(Outcome {
            code: 137,
            timed_out: true,
            ms: 9,
            diagnostic: None,
        })));
        assert_eq!(bad, json!({"t": "x", "ms": 9, "c": 137, "to": true}));
        let out = parse_line(&event_line(&Msg::Err(Bytes::from_static(b"\xffhi"))));
        assert_eq!(out, json!({"t": "e", "d": STANDARD.encode(b"\xffhi")}));
    }

    const P: &str = crate::isolation::SPAWN_FAILURE_PREFIX;

    #[tokio::test]
    async fn a_launcher_exec_failure_becomes_the_diagnostic() {
        let mut w = SpawnWatch::new(Some(P), "/no/such");
        // Split anywhere, it is held back while it can still be the message.
        let line = format!("{P}/no/such: No such file or directory\n");
        let (a, b) = line.split_at(7);
        assert_eq!(w.stderr(Bytes::copy_from_slice(a.as_bytes())), None);
        assert_eq!(w.stderr(Bytes::copy_from_slice(b.as_bytes())), None);
        assert_eq!(
            w.diagnostic(127).as_deref(),
            Some("cannot start \"/no/such\": No such file or directory")
        );
        assert_eq!(w.release(), None, "nothing left to send as stderr");
    }

    #[tokio::test]
    async fn anything_else_is_passed_on_as_stderr_in_order() {
        // Another program's name, another exit code, a second line, plain output.
        let line = format!("{P}other: No such file or directory\n");
        let mut w = SpawnWatch::new(Some(P), "/no/such");
        assert_eq!(w.stderr(Bytes::from(line.clone())), None);
        assert_eq!(w.diagnostic(127), None);
        assert_eq!(w.release(), Some(Bytes::from(line)));

        let line = format!("{P}/x: denied\n");
        let mut w = SpawnWatch::new(Some(P), "/x");
        assert_eq!(w.stderr(Bytes::from(line.clone())), None);
        assert_eq!(w.diagnostic(1), None);
        assert_eq!(w.release(), Some(Bytes::from(line)));

        let mut w = SpawnWatch::new(Some(P), "/x");
        let two = format!("{P}/x: denied\nmore\n");
        assert_eq!(w.stderr(Bytes::from(two.clone())), Some(Bytes::from(two)));
        assert!(!w.holding());

        let mut w = SpawnWatch::new(Some(P), "sh");
        assert_eq!(w.stderr(Bytes::from_static(b"fast")), None, "still a prefix");
        assert_eq!(
            w.stderr(Bytes::from_static(b"er\n")),
            Some(Bytes::from_static(b"faster\n"))
        );
        assert_eq!(w.stderr(Bytes::from_static(b"x")), Some(Bytes::from_static(b"x")));

        // Without isolation nothing is ever held.
        let mut w = SpawnWatch::new(None, "sh");
        assert_eq!(w.stderr(Bytes::from_static(b"f")), Some(Bytes::from_static(b"f")));
        assert_eq!(w.diagnostic(127), None);
    }

    #[tokio::test]
    async fn collect_caps_each_stream_and_flags_it() {
        let (tx, rx) = mpsc::channel(8);
        tokio::spawn(async move {
            let big = Bytes::from(vec![b'a'; OUTPUT_CAP - 1]);
            tx.send(Msg::Out(big)).await.unwrap();
            tx.send(Msg::Out(Bytes::from_static(b"bc"))).await.unwrap();
            tx.send(Msg::Err(Bytes::from_static(b"e"))).await.unwrap();
            tx.send(Msg::Exit(Outcome::default())).await.unwrap();
        });
        let v = collect(rx).await;
        assert_eq!(v["stdout"].as_str().unwrap().len(), OUTPUT_CAP);
        assert!(v["stdout"].as_str().unwrap().ends_with("ab"));
        assert_eq!(v["stdoutTruncated"], json!(true));
        assert_eq!(v["stderr"], json!("e"));
        assert_eq!(v["stderrTruncated"], json!(false));
    }
}
