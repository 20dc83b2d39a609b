//! Snapshots: configuration captured from a running or paused VM.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{find_mut, remove};
use crate::error::{ApiError, ApiResult, parse};
use crate::state::{Inner, Shared, Snapshot, Status, ms_to_time};
use crate::validate;

pub async fn list(State(s): State<Arc<Shared>>) -> Json<Value> {
    let (g, _) = s.lock();
    let mut snaps: Vec<&Snapshot> = g.snapshots.values().collect();
    snaps.sort_by_key(|s| s.created_at);
    Json(Value::Array(snaps.into_iter().map(|x| s.snapshot_json(x)).collect()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    vm_id: String,
    name: Option<String>,
}

pub async fn create(State(s): State<Arc<Shared>>, body: Bytes) -> ApiResult<Response> {
    let b: CreateBody = parse(&body)?;
    let (mut g, now) = s.lock();
    // Split borrow: the VM stays borrowed while the snapshots are read and added to.
    let Inner { vms, snapshots, .. } = &mut *g;
    let vm = find_mut(vms, &b.vm_id, "vm")?;
    if vm.status == Status::Provisioning {
        return Err(ApiError::conflict("vm must be running or paused"));
    }
    // Within one pause cycle the VM cannot change, so the same snapshot is returned again.
    if let Some(existing) = vm.pause_snapshot.filter(|_| vm.status == Status::Paused)
        && let Some(snap) = snapshots.get(&existing)
    {
        return Ok((StatusCode::CREATED, Json(s.snapshot_json(snap))).into_response());
    }
    if snapshots.len() as i64 >= s.config.limits.snapshot_count {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "org quota exceeded: snapshot_count",
        ));
    }
    let snap = Snapshot {
        id: Uuid::new_v4(),
        name: validate::normalize_name(b.name.as_deref(), || format!("snapshot-{}", &vm.id.to_string()[..8])),
        vm_id: vm.id,
        created_at: ms_to_time(now),
        firewall: vm.firewall.clone(),
        metadata: vm.metadata.clone(),
        env: vm.env.clone(),
        services: vm.services.values().cloned().collect(),
        machine: vm.machine.clone(),
        disk_gib: vm.disk_gib,
    };
    if vm.status == Status::Paused {
        vm.pause_snapshot = Some(snap.id);
    }
    let body = s.snapshot_json(&snap);
    snapshots.insert(snap.id, snap);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub async fn retrieve(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let (mut g, _) = s.lock();
    Ok(Json(s.snapshot_json(find_mut(&mut g.snapshots, &id, "snapshot")?)))
}

#[derive(Deserialize)]
struct UpdateBody {
    name: Option<String>,
}

pub async fn update(State(s): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> ApiResult<Json<Value>> {
    let b: UpdateBody = parse(&body)?;
    let (mut g, _) = s.lock();
    let snap = find_mut(&mut g.snapshots, &id, "snapshot")?;
    if let Some(n) = b.name {
        snap.name = validate::rename(&n)?;
    }
    Ok(Json(s.snapshot_json(snap)))
}

pub async fn delete(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let (mut g, _) = s.lock();
    let snap = remove(&mut g.snapshots, &id, "snapshot")?;
    Ok(Json(json!({ "id": snap.id.to_string(), "deleted": true })))
}
