//! Snapshot imports (the upstream API after the reference): `pending` → `claimed` → `running`
//! → `succeeded` on the fake clock (the whole run takes `build_duration`: claimed after a
//! sixth of it, running after a third), with an event log of the phases; and the context
//! presign of dockerfile imports.
//!
//! An image import makes a snapshot without files, as a build does. A dockerfile import needs a
//! `contextRef` minted by this server's context presign: one it never minted, or one already
//! used by a create, is refused by the create (400: the API knows its references). What the
//! reference's upload holds is found out by the "worker", so it fails the import instead
//! (`failed`, with the error, in the phase that found it): no upload, not a ZIP archive, a
//! hostile one, no Dockerfile, a `COPY` whose source is missing. Otherwise the snapshot
//! carries the files the Dockerfile's `COPY`/`ADD` lines place (see `import_context.rs`). The
//! context is read at the create (off the lock), and the outcome revealed on the clock.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::find_mut;
use crate::error::{ApiError, ApiResult, parse};
use crate::import_context::{self, Failure};
use crate::model::StringMap;
use crate::state::{ContextRef, ImportEnd, Inner, Shared, Snapshot, SnapshotImport, ms_to_time, rfc3339};
use crate::vmfs::{Tree, discard};
use crate::{storage, validate};

/// Contexts may be this large (zipped).
const MAX_CONTEXT_BYTES: u64 = 1 << 30;
/// Build arguments: at most this many, and this many bytes of keys and values.
const MAX_BUILD_ARGS: usize = 64;
const MAX_BUILD_ARGS_BYTES: usize = 8 << 10;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PresignBody {
    size_bytes: Option<i64>,
}

pub async fn presign_context(State(s): State<Arc<Shared>>, body: Bytes) -> ApiResult<Json<Value>> {
    // The body is optional: none, or `{}`, or a planned size.
    let b: PresignBody = if body.iter().all(u8::is_ascii_whitespace) {
        PresignBody { size_bytes: None }
    } else {
        parse(&body)?
    };
    match b.size_bytes {
        Some(n) if n < 0 => return Err(ApiError::bad_request("sizeBytes must not be negative")),
        Some(n) if n as u64 > MAX_CONTEXT_BYTES => {
            return Err(ApiError::bad_request(format!(
                "sizeBytes {n} exceeds the limit of {MAX_CONTEXT_BYTES} bytes"
            )));
        }
        _ => {}
    }
    let (mut g, now) = s.lock();
    let (key, urls) = storage::presign_key(&s, &mut g, now, MAX_CONTEXT_BYTES);
    let context_ref = format!("ctx_{}", Uuid::new_v4().simple());
    g.import_contexts
        .insert(context_ref.clone(), ContextRef { key, used: false });
    Ok(Json(json!({
        "uploadUrl": urls["uploadUrl"],
        "contextRef": context_ref,
        "expiresInSec": urls["expiresInSec"],
        "maxUploadBytes": MAX_CONTEXT_BYTES,
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    name: Option<String>,
    machine_type: Option<String>,
    #[serde(rename = "diskGiB")]
    disk_gib: Option<i64>,
    source: Option<Source>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Source {
    #[serde(rename = "type")]
    kind: Option<String>,
    image: Option<String>,
    platform: Option<String>,
    context_ref: Option<String>,
    dockerfile_path: Option<String>,
    target: Option<String>,
    #[serde(default)]
    build_args: StringMap,
    registry_host: Option<String>,
    registry_username: Option<String>,
    registry_password: Option<String>,
}

/// The source's checks; returns whether it is a dockerfile import.
fn check_source(src: &Source) -> ApiResult<bool> {
    let dockerfile = match src.kind.as_deref() {
        Some("image") => false,
        Some("dockerfile") => true,
        Some(other) => return Err(ApiError::bad_request(format!("unknown source.type {other:?}"))),
        None => return Err(ApiError::bad_request("source.type is required (image or dockerfile)")),
    };
    let present = |o: &Option<String>| o.is_some();
    if dockerfile {
        if present(&src.image) || present(&src.platform) {
            return Err(ApiError::bad_request(
                "source.image and source.platform are for an image import",
            ));
        }
        if src.context_ref.as_deref().is_none_or(str::is_empty) {
            return Err(ApiError::bad_request(
                "source.contextRef is required for a dockerfile import",
            ));
        }
        if let Some(path) = &src.dockerfile_path {
            let escapes = path.split(['/', '\\']).any(|c| c == "..");
            if path.is_empty() || path.starts_with('/') || escapes {
                return Err(ApiError::bad_request(
                    "source.dockerfilePath must be relative to the context's root, without `..`",
                ));
            }
        }
        if src.build_args.len() > MAX_BUILD_ARGS
            || src.build_args.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>() > MAX_BUILD_ARGS_BYTES
        {
            return Err(ApiError::bad_request(
                "source.buildArgs: at most 64 pairs and 8 KiB in all",
            ));
        }
        if present(&src.registry_username) && src.registry_host.as_deref().is_none_or(str::is_empty) {
            return Err(ApiError::bad_request(
                "source.registryHost is required with credentials for a dockerfile import",
            ));
        }
    } else {
        if src.image.as_deref().is_none_or(|i| i.trim().is_empty()) {
            return Err(ApiError::bad_request("source.image is required for an image import"));
        }
        if present(&src.context_ref)
            || present(&src.dockerfile_path)
            || present(&src.target)
            || !src.build_args.is_empty()
        {
            return Err(ApiError::bad_request(
                "source.contextRef, dockerfilePath, target and buildArgs are for a dockerfile import",
            ));
        }
    }
    if present(&src.registry_username) != present(&src.registry_password) {
        return Err(ApiError::bad_request(
            "source.registryUsername and registryPassword go together",
        ));
    }
    Ok(dockerfile)
}

/// What the answers show of a source: never the password, nor the context's storage key.
fn source_view(src: &Source, dockerfile: bool, context_size: Option<u64>) -> Value {
    let mut v = Map::new();
    v.insert("type".into(), json!(if dockerfile { "dockerfile" } else { "image" }));
    let mut put = |k: &str, val: &Option<String>| {
        if let Some(val) = val {
            v.insert(k.into(), json!(val));
        }
    };
    if dockerfile {
        put(
            "dockerfilePath",
            &src.dockerfile_path.clone().or_else(|| Some("Dockerfile".into())),
        );
        put("target", &src.target);
        put("registryHost", &src.registry_host);
    } else {
        put("image", &src.image);
        put("platform", &src.platform.clone().or_else(|| Some("linux/amd64".into())));
    }
    put("registryUsername", &src.registry_username);
    if !src.build_args.is_empty() {
        v.insert("buildArgs".into(), json!(src.build_args));
    }
    if let Some(n) = context_size {
        v.insert("contextSizeBytes".into(), json!(n));
    }
    Value::Object(v)
}

pub async fn create(State(s): State<Arc<Shared>>, body: Bytes) -> ApiResult<Response> {
    let b: CreateBody = parse(&body)?;
    let src = b.source.ok_or_else(|| ApiError::bad_request("source is required"))?;
    let dockerfile = check_source(&src)?;
    let machine = b.machine_type.unwrap_or_else(|| validate::DEFAULT_MACHINE.into());
    let (cpu, memory_mib) = validate::machine_type(&machine)?;
    let disk_gib = b.disk_gib.unwrap_or(s.config.disk_gib);
    validate::gib("diskGiB", disk_gib)?;

    // The reference is consumed now, even if what it points to turns out unusable.
    let key = match (dockerfile, &src.context_ref) {
        (true, Some(r)) => {
            let (mut g, _) = s.lock();
            let ctx = g.import_contexts.get_mut(r).ok_or_else(|| {
                ApiError::bad_request(
                    "unknown source.contextRef: mint one with POST /v1/snapshot-imports/context-presign",
                )
            })?;
            if ctx.used {
                return Err(ApiError::bad_request("source.contextRef was already used by an import"));
            }
            ctx.used = true;
            Some(ctx.key.clone())
        }
        _ => None,
    };
    let id = Uuid::new_v4();
    let (outcome, context_size) = match key {
        Some(key) => {
            let archive = storage::object_path(&s, &key);
            let size = std::fs::metadata(&archive).ok().map(|m| m.len());
            (build_context(&s, id, archive, src.dockerfile_path.clone()).await, size)
        }
        None => (Ok(None), None),
    };

    let (mut g, now) = s.lock();
    let import = SnapshotImport {
        id,
        name: validate::normalize_name(b.name.as_deref(), || id.to_string()),
        source: source_view(&src, dockerfile, context_size),
        dockerfile,
        created_ms: now,
        machine,
        cpu,
        memory_mib,
        disk_gib,
        outcome,
        end: None,
    };
    let body = import_json(&s, &import, now);
    g.snapshot_imports.insert(id, import);
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// The files a dockerfile import's snapshot will carry, made from the uploaded archive on a
/// blocking thread (see `import_context`).
async fn build_context(
    s: &Shared,
    id: Uuid,
    archive: std::path::PathBuf,
    dockerfile: Option<String>,
) -> Result<Option<Arc<Tree>>, Failure> {
    let work = s.snapshots_dir().join(format!("import-{id}-work"));
    let dest = s.snapshots_dir().join(format!("import-{id}"));
    let host = s.config.host;
    let (w, d) = (work.clone(), dest.clone());
    let made = tokio::task::spawn_blocking(move || {
        import_context::snapshot_tree(&archive, dockerfile.as_deref().unwrap_or("Dockerfile"), host, &w, &d)
    })
    .await
    .unwrap_or_else(|e| {
        Err(Failure {
            phase: "build",
            message: e.to_string(),
        })
    });
    discard(work);
    match made {
        Ok(()) => Ok(Some(Arc::new(Tree::new(dest)))),
        Err(f) => {
            discard(dest);
            Err(f)
        }
    }
}

pub async fn list(State(s): State<Arc<Shared>>) -> Json<Value> {
    let (g, now) = s.lock();
    let mut all: Vec<&SnapshotImport> = g.snapshot_imports.values().collect();
    // Newest first, as the spec says.
    all.sort_by_key(|i| std::cmp::Reverse(i.created_ms));
    Json(Value::Array(all.into_iter().map(|i| import_json(&s, i, now)).collect()))
}

pub async fn retrieve(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let (mut g, now) = s.lock();
    let i = find_mut(&mut g.snapshot_imports, &id, "snapshot import")?;
    Ok(Json(import_json(&s, i, now)))
}

/// Moves an import in flight to `cancelled`; a finished one is answered as it is.
pub async fn cancel(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let (mut g, now) = s.lock();
    let i = find_mut(&mut g.snapshot_imports, &id, "snapshot import")?;
    if i.end.is_none() {
        i.end = Some(ImportEnd::Cancelled { at_ms: now });
        // The files the worker would have saved are dropped.
        i.outcome = Ok(None);
    }
    Ok(Json(import_json(&s, i, now)))
}

/// Deletes a finished import and its snapshot; one in flight is a 409.
pub async fn delete(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let (mut g, _) = s.lock();
    let Inner {
        snapshot_imports,
        snapshots,
        ..
    } = &mut *g;
    let i = find_mut(snapshot_imports, &id, "snapshot import")?;
    if i.end.is_none() {
        return Err(ApiError::conflict("the import is in flight: cancel it first"));
    }
    let id = i.id;
    if let Some(ImportEnd::Succeeded { snapshot_id, .. }) = i.end {
        snapshots.remove(&snapshot_id);
    }
    snapshot_imports.remove(&id);
    Ok(Json(json!({ "id": id.to_string(), "deleted": true })))
}

/// Ends every import whose run is over at `now` (called from the state's sweep): the snapshot
/// is made, or the failure found at the create is reported.
pub fn settle(s: &Shared, g: &mut Inner, now: i64) {
    let run_ms = run_ms(s);
    let due: Vec<Uuid> = (g.snapshot_imports.values())
        .filter(|i| i.end.is_none() && now - i.created_ms >= run_ms)
        .map(|i| i.id)
        .collect();
    for id in due {
        let room = s.snapshot_room(g);
        let Inner {
            snapshot_imports,
            snapshots,
            ..
        } = &mut *g;
        let Some(i) = snapshot_imports.get_mut(&id) else {
            continue;
        };
        let at_ms = i.created_ms + run_ms;
        let files = match std::mem::replace(&mut i.outcome, Ok(None)) {
            Err(failure) => {
                i.end = Some(ImportEnd::Failed { at_ms, failure });
                continue;
            }
            Ok(files) => files,
        };
        if let Err(message) = room {
            let failure = Failure {
                phase: "saving",
                message,
            };
            i.end = Some(ImportEnd::Failed { at_ms, failure });
            continue;
        }
        let snap = Snapshot::plain(i.name.clone(), i.id, at_ms, i.machine.clone(), i.disk_gib, files);
        i.end = Some(ImportEnd::Succeeded {
            at_ms,
            snapshot_id: snap.id,
        });
        snapshots.insert(snap.id, snap);
    }
}

/// How long an import runs.
fn run_ms(s: &Shared) -> i64 {
    (s.config.build_duration.as_millis() as i64).max(6)
}

/// The phases of a run, in order.
fn phases(dockerfile: bool) -> &'static [&'static str] {
    if dockerfile {
        &["preparing", "fetch_context", "build", "saving"]
    } else {
        &["preparing", "pull", "saving"]
    }
}

/// The `SnapshotImport` JSON of `i` at `now`.
pub fn import_json(s: &Shared, i: &SnapshotImport, now: i64) -> Value {
    let run = run_ms(s);
    let (claimed_at, running_at) = (i.created_ms + run / 6, i.created_ms + run / 3);
    let until = match &i.end {
        Some(ImportEnd::Succeeded { at_ms, .. } | ImportEnd::Failed { at_ms, .. } | ImportEnd::Cancelled { at_ms }) => {
            *at_ms
        }
        None => now,
    };
    let status = match &i.end {
        Some(ImportEnd::Succeeded { .. }) => "succeeded",
        Some(ImportEnd::Failed { .. }) => "failed",
        Some(ImportEnd::Cancelled { .. }) => "cancelled",
        None if now < claimed_at => "pending",
        None if now < running_at => "claimed",
        None => "running",
    };
    // Each phase takes an equal share of the running time.
    let list = phases(i.dockerfile);
    let share = (i.created_ms + run - running_at) / list.len() as i64;
    let failed = match &i.end {
        Some(ImportEnd::Failed { failure, .. }) => Some(failure),
        _ => None,
    };
    let mut events = Vec::new();
    let event = |phase: &str, status: &str, at: i64| json!({ "phase": phase, "status": status, "timestampMs": at });
    for (n, phase) in list.iter().enumerate() {
        let start = running_at + share * n as i64;
        if until < start {
            break;
        }
        events.push(event(phase, "started", start));
        if let Some(f) = failed.filter(|f| f.phase == *phase) {
            let mut e = event(phase, "failed", until);
            e["message"] = json!(f.message);
            events.push(e);
            break;
        }
        if until >= start + share {
            events.push(event(phase, "completed", start + share));
        }
    }
    match &i.end {
        Some(ImportEnd::Succeeded { at_ms, .. }) => events.push(event("done", "completed", *at_ms)),
        Some(ImportEnd::Cancelled { at_ms }) => {
            let mut e = event("done", "cancelled", *at_ms);
            e["message"] = json!("cancelled on request");
            events.push(e);
        }
        _ => {}
    }
    let mut v = json!({
        "id": i.id.to_string(),
        "name": i.name,
        "status": status,
        "source": i.source,
        "machineName": i.machine,
        "cpu": i.cpu,
        "memoryMiB": i.memory_mib,
        "diskGiB": i.disk_gib,
        "events": events,
        "createdAt": rfc3339(ms_to_time(i.created_ms)),
        "updatedAt": rfc3339(ms_to_time(until.min(now).max(i.created_ms))),
    });
    if until >= claimed_at {
        v["startedAt"] = json!(rfc3339(ms_to_time(claimed_at)));
    }
    match &i.end {
        Some(ImportEnd::Succeeded { at_ms, snapshot_id }) => {
            v["snapshotId"] = json!(snapshot_id.to_string());
            v["finishedAt"] = json!(rfc3339(ms_to_time(*at_ms)));
        }
        Some(ImportEnd::Failed { at_ms, failure }) => {
            v["error"] = json!(failure.message);
            v["finishedAt"] = json!(rfc3339(ms_to_time(*at_ms)));
        }
        Some(ImportEnd::Cancelled { at_ms }) => v["finishedAt"] = json!(rfc3339(ms_to_time(*at_ms))),
        None => {}
    }
    v
}
