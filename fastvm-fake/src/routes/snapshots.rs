//! Snapshots: configuration and files captured from a running or paused VM. The files are
//! copied when the snapshot is created; it is `creating` for `snapshot_duration`, then `ready`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{find, find_mut, remove, within_quota};
use crate::Limits;
use crate::error::{ApiError, ApiResult, parse};
use crate::state::{Inner, NOTHING, Shared, Snapshot, Status, Vm, ms_to_time};
use crate::validate;
use crate::vmfs::{Tree, copy_tree, discard};

pub async fn list(State(s): State<Arc<Shared>>) -> Json<Value> {
    let (g, now) = s.lock();
    let mut snaps: Vec<&Snapshot> = g.snapshots.values().collect();
    snaps.sort_by_key(|s| s.created_at);
    Json(Value::Array(
        snaps.into_iter().map(|x| s.snapshot_json(x, now)).collect(),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    vm_id: String,
    name: Option<String>,
}

pub async fn create(State(s): State<Arc<Shared>>, body: Bytes) -> ApiResult<Response> {
    let b: CreateBody = parse(&body)?;
    let (vm_id, fs) = {
        let (g, now) = s.lock();
        let vm = find(&g.vms, &b.vm_id, "vm")?;
        if let Some(answer) = precheck(&s, &g, vm, now)? {
            return Ok(answer);
        }
        (vm.id, vm.fs.clone())
    };

    // The VM's files are copied without holding the lock (the VM keeps running meanwhile, as
    // a real VM does while its snapshot is taken).
    let id = Uuid::new_v4();
    let dest = s.snapshots_dir().join(id.to_string());
    let (src, to) = (fs.dir().to_path_buf(), dest.clone());
    let copied = tokio::task::spawn_blocking(move || copy_tree(&src, &to))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    if let Err(e) = copied {
        discard(dest);
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("copying the VM's files: {e}"),
        ));
    }
    let files = Arc::new(Tree::new(dest));

    // Checked again: the VM may have been deleted, paused and snapshotted, or the quota used
    // up while the files were copied. `files` is removed on the early returns.
    let (mut g, now) = s.lock();
    let vm = find(&g.vms, &vm_id.to_string(), "vm")?;
    if let Some(answer) = precheck(&s, &g, vm, now)? {
        return Ok(answer);
    }
    let snap = Snapshot {
        id,
        name: validate::normalize_name(b.name.as_deref(), || format!("snapshot-{}", &vm.id.to_string()[..8])),
        vm_id: vm.id,
        created_at: ms_to_time(now),
        ready_at_ms: now + s.config.snapshot_duration.as_millis() as i64,
        files: Some(files),
        firewall: vm.firewall.clone(),
        metadata: vm.metadata.clone(),
        env: vm.env.clone(),
        services: vm.services.values().cloned().collect(),
        bucket_mounts: vm.bucket_mounts.clone(),
        volumes: vm.volumes.clone(),
        machine: vm.machine.clone(),
        disk_gib: vm.disk_gib,
    };
    let body = s.snapshot_json(&snap, now);
    // The snapshot of this pause cycle, answered again by the next create (see `precheck`).
    if let Some(vm) = g.vms.get_mut(&vm_id).filter(|vm| vm.status == Status::Paused) {
        vm.pause_snapshot = Some(snap.id);
    }
    g.snapshots.insert(snap.id, snap);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Whether `vm` can be snapshotted now: an error, the answer to send instead (the snapshot of
/// the current pause cycle), or `None` to go on.
fn precheck(s: &Shared, g: &Inner, vm: &Vm, now: i64) -> ApiResult<Option<Response>> {
    if vm.status == Status::Provisioning {
        return Err(ApiError::conflict("vm must be running or paused"));
    }
    // Within one pause cycle the VM cannot change, so the same snapshot is returned again.
    if let Some(existing) = vm.pause_snapshot.filter(|_| vm.status == Status::Paused)
        && let Some(snap) = g.snapshots.get(&existing)
    {
        return Ok(Some(
            (StatusCode::CREATED, Json(s.snapshot_json(snap, now))).into_response(),
        ));
    }
    within_quota(
        s,
        g,
        &Limits {
            snapshot_count: 1,
            ..NOTHING
        },
    )?;
    Ok(None)
}

pub async fn retrieve(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let (mut g, now) = s.lock();
    Ok(Json(s.snapshot_json(find_mut(&mut g.snapshots, &id, "snapshot")?, now)))
}

#[derive(Deserialize)]
struct UpdateBody {
    name: Option<String>,
}

pub async fn update(State(s): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> ApiResult<Json<Value>> {
    let b: UpdateBody = parse(&body)?;
    let (mut g, now) = s.lock();
    let snap = find_mut(&mut g.snapshots, &id, "snapshot")?;
    if let Some(n) = b.name {
        snap.name = validate::rename(&n)?;
    }
    Ok(Json(s.snapshot_json(snap, now)))
}

/// Works whether the snapshot is `creating` or `ready`. Its files are removed once no launch is
/// still copying them.
pub async fn delete(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let (mut g, _) = s.lock();
    let snap = remove(&mut g.snapshots, &id, "snapshot")?;
    Ok(Json(json!({ "id": snap.id.to_string(), "deleted": true })))
}
