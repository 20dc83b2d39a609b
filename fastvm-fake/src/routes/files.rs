//! File staging for transfers: presign (served by [`crate::storage`]) and fetch into the VM.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::Deserialize;
use serde_json::Value;
use tokio::io::AsyncReadExt;

use super::vm_mut;
use crate::error::{ApiResult, parse};
use crate::exec::exec_result_json;
use crate::state::Shared;
use crate::storage;

#[derive(Deserialize)]
struct PresignBody {
    #[allow(dead_code)] // Only scopes the object on the real API; any value is accepted.
    path: String,
}

pub async fn presign(State(s): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> ApiResult<Json<Value>> {
    let _: PresignBody = parse(&body)?;
    let (mut g, now) = s.lock();
    let disk = vm_mut(&mut g, &id)?.disk_gib;
    Ok(Json(storage::presign(&s, &mut g, now, disk as u64 * (1 << 30))))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FetchBody {
    url: String,
    path: String,
    timeout_sec: Option<u64>,
}

/// Writes the object into the VM: inside its namespaces with isolation (so symlinks resolve
/// in the VM, read-only system directories refuse it, and nothing lands on the host), else on
/// this host (relative paths against the VM's directory). Missing parent directories are made.
const FETCH_SCRIPT: &str =
    r#"d=$(dirname -- "$1") && mkdir -p -- "$d" && cat > "$1" || { echo "fetch: cannot write $1" >&2; exit 1; }"#;

pub async fn fetch(State(s): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> ApiResult<Json<Value>> {
    let b: FetchBody = parse(&body)?;
    let (fs, env) = {
        let (mut g, _) = s.lock();
        let vm = vm_mut(&mut g, &id)?;
        (vm.fs.clone(), vm.env.clone())
    };
    let key = storage::verify_download_url(&s, &b.url)?;
    if b.path.is_empty() {
        return Err("path must not be empty".to_string().into());
    }
    let started = Instant::now();
    let limit = Duration::from_secs(b.timeout_sec.filter(|t| *t > 0).unwrap_or(600));
    let (exit_code, stderr, timed_out) = match std::fs::File::open(storage::object_path(&s, &key)) {
        Err(e) => (1, format!("fetch: no object at the URL ({e})\n"), false),
        Ok(object) => {
            let argv = ["sh", "-c", FETCH_SCRIPT, "fetch", &b.path].map(String::from);
            match fs.command(&argv, &env).await {
                Err(e) => (1, format!("fetch: cannot start the copy in the VM: {e}\n"), false),
                Ok(mut cmd) => {
                    cmd.stdin(Stdio::from(object))
                        .stdout(Stdio::null())
                        .stderr(Stdio::piped())
                        .process_group(0)
                        .kill_on_drop(true);
                    run(cmd, limit).await
                }
            }
        }
    };
    let duration_ms = started.elapsed().as_millis() as i64;
    Ok(Json(exec_result_json(
        exit_code,
        "",
        &stderr,
        timed_out,
        false,
        false,
        duration_ms,
    )))
}

/// Runs the copy; on timeout kills its process group. Exit code, stderr, timed out.
async fn run(mut cmd: tokio::process::Command, limit: Duration) -> (i32, String, bool) {
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return (1, format!("fetch: cannot start the copy: {e}\n"), false),
    };
    let pid = child.id();
    let mut err = child.stderr.take().expect("piped stderr");
    let wait = async {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf).await;
        (child.wait().await, buf)
    };
    match tokio::time::timeout(limit, wait).await {
        Ok((status, buf)) => {
            let code = status.ok().and_then(|s| s.code()).unwrap_or(1);
            (code, String::from_utf8_lossy(&buf).into_owned(), false)
        }
        Err(_) => {
            if let Some(pid) = pid {
                let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
            (124, "fetch: timed out\n".to_string(), true)
        }
    }
}
