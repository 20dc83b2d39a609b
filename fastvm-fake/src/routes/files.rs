//! File staging for transfers: presign (served by [`crate::storage`]) and fetch into the "VM",
//! which is this host.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::Value;

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

pub async fn fetch(State(s): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> ApiResult<Json<Value>> {
    let b: FetchBody = parse(&body)?;
    let dir = {
        let (mut g, _) = s.lock();
        vm_mut(&mut g, &id)?.dir.clone()
    };
    let key = storage::verify_download_url(&s, &b.url)?;
    if b.path.is_empty() {
        return Err("path must not be empty".to_string().into());
    }
    // Relative paths land in the VM's directory; absolute ones are host paths (no isolation).
    let dest = dir.join(PathBuf::from(&b.path));
    let started = Instant::now();
    let copy = async {
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        tokio::fs::copy(storage::object_path(&s, &key), &dest).await
    };
    let limit = std::time::Duration::from_secs(b.timeout_sec.filter(|t| *t > 0).unwrap_or(600));
    let (exit_code, stderr, timed_out) = match tokio::time::timeout(limit, copy).await {
        Ok(Ok(_)) => (0, String::new(), false),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => (
            1,
            format!("fetch: no object at the URL, or cannot create {}: {e}\n", b.path),
            false,
        ),
        Ok(Err(e)) => (1, format!("fetch: writing {}: {e}\n", b.path), false),
        Err(_) => (124, "fetch: timed out\n".to_string(), true),
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
