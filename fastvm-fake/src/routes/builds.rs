//! Builds (`pending` → `running` → `completed` on the fake clock) and build-context presign.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::find_mut;
use crate::error::{ApiError, ApiResult, parse};
use crate::state::{Build, Shared};
use crate::{storage, validate};

/// Build contexts may be this large.
const MAX_CONTEXT_BYTES: u64 = 10 << 30;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    name: Option<String>,
    image_ref: Option<String>,
    dockerfile_content: Option<String>,
    machine_type: Option<String>,
    #[serde(rename = "diskGiB")]
    disk_gib: Option<i64>,
    context_download_url: Option<String>,
}

pub async fn create(State(s): State<Arc<Shared>>, body: Bytes) -> ApiResult<Response> {
    let b: CreateBody = parse(&body)?;
    let dockerfile_from = b.dockerfile_content.as_deref().and_then(|d| {
        d.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix("FROM ").or_else(|| l.strip_prefix("from ")))
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_string)
    });
    let image_ref = match (b.image_ref.filter(|i| !i.is_empty()), &b.dockerfile_content) {
        (Some(i), _) => i,
        (None, Some(_)) => dockerfile_from.unwrap_or_else(|| "scratch".into()),
        (None, None) => return Err(ApiError::bad_request("give imageRef or dockerfileContent")),
    };
    let machine = b.machine_type.unwrap_or_else(|| validate::DEFAULT_MACHINE.into());
    validate::machine_type(&machine)?;
    let disk_gib = b.disk_gib.unwrap_or(10);
    validate::gib("diskGiB", disk_gib)?;
    // A bad context URL is only discovered by the build VM, so the build fails later.
    let failure = b
        .context_download_url
        .as_deref()
        .and_then(|u| storage::verify_download_url(&s, u).err())
        .map(|e| format!("fetching build context: {e}"));
    let (mut g, now) = s.lock();
    let build = Build {
        id: Uuid::new_v4(),
        name: b.name.filter(|n| !n.trim().is_empty()),
        image_ref,
        created_ms: now,
        machine,
        disk_gib,
        failure,
        snapshot_id: None,
        error: None,
    };
    let body = s.build_json(&build, now);
    g.builds.insert(build.id, build);
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

pub async fn retrieve(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let (mut g, now) = s.lock();
    let b = find_mut(&mut g.builds, &id, "build")?;
    Ok(Json(s.build_json(b, now)))
}

pub async fn presign_context(State(s): State<Arc<Shared>>) -> Json<Value> {
    let (mut g, now) = s.lock();
    Json(storage::presign(&s, &mut g, now, MAX_CONTEXT_BYTES))
}
