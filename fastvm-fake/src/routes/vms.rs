//! VM lifecycle, TTL and firewall (console tokens: `crate::console`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{find_mut, remove, vm_mut, within_quota};
use crate::Limits;
use crate::error::{ApiError, ApiResult, parse};
use crate::model::{Firewall, FirewallInput, StringMap, Ttl};
use crate::state::{BucketMount, Inner, NOTHING, Shared, Snapshot, Status, Vm, ms_to_time};
use crate::validate;
use crate::vmfs::{VmFs, discard, remove_tree};

pub async fn list(State(s): State<Arc<Shared>>, Query(q): Query<HashMap<String, String>>) -> Json<Value> {
    let (g, _) = s.lock();
    let vms = g
        .vms
        .values()
        .filter(|vm| q.get("status").is_none_or(|st| st == vm.status.as_str()))
        .filter(|vm| {
            // `metadata.<key>=<value>` equality filters, as the real API accepts.
            q.iter()
                .filter_map(|(k, v)| Some((k.strip_prefix("metadata.")?, v)))
                .all(|(k, v)| vm.metadata.get(k) == Some(v))
        })
        .map(|vm| s.vm_json(vm))
        .collect();
    Json(Value::Array(vms))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LaunchBody {
    machine_type: Option<String>,
    snapshot_id: Option<String>,
    name: Option<String>,
    metadata: Option<StringMap>,
    firewall: Option<FirewallInput>,
    env_vars: Option<StringMap>,
    #[serde(rename = "diskGiB")]
    disk_gib: Option<i64>,
    ttl: Option<Ttl>,
    /// Checked by `bucket_mounts::parse_mount` (its messages never repeat a credential).
    bucket_mounts: Option<Vec<Value>>,
    volumes: Option<Vec<crate::routes::volumes::AttachBody>>,
}

/// A launch checked against the state: everything but the VM's files.
struct Plan {
    snapshot: Option<Snapshot>,
    machine: String,
    cpu: i64,
    memory_mib: i64,
    disk_gib: i64,
    metadata: StringMap,
    env: StringMap,
    firewall: Firewall,
    /// The launch's bucket mounts, or else the snapshot's.
    bucket_mounts: Vec<BucketMount>,
    id: Uuid,
    public_ipv6: String,
}

fn plan(s: &Shared, g: &mut Inner, b: &mut LaunchBody) -> ApiResult<Plan> {
    let snapshot = match &b.snapshot_id {
        Some(id) => Some(find_mut(&mut g.snapshots, id, "snapshot")?.clone()),
        None => None,
    };
    let machine = match (&b.machine_type, &snapshot) {
        (Some(m), _) => m.clone(),
        (None, Some(snap)) => snap.machine.clone(),
        (None, None) => validate::DEFAULT_MACHINE.into(),
    };
    let (cpu, memory_mib) = validate::machine_type(&machine)?;
    let disk_gib = b
        .disk_gib
        .or(snapshot.as_ref().map(|s| s.disk_gib))
        .unwrap_or(s.config.disk_gib);
    validate::gib("diskGiB", disk_gib)?;
    // The request's values win over the snapshot's, which win over the defaults.
    let metadata = b
        .metadata
        .take()
        .or_else(|| snapshot.as_ref().map(|s| s.metadata.clone()))
        .unwrap_or_default();
    let env = b
        .env_vars
        .take()
        .or_else(|| snapshot.as_ref().map(|s| s.env.clone()))
        .unwrap_or_default();
    let firewall = match b.firewall.take() {
        Some(fw) => Firewall::replaced_by(fw),
        None => snapshot.as_ref().map(|s| s.firewall.clone()).unwrap_or_default(),
    };
    validate::metadata(&metadata)?;
    validate::env_vars(&env)?;
    validate::firewall(&firewall)?;
    for v in b.volumes.iter().flatten() {
        crate::routes::volumes::mount_path(&v.mount_path)?;
    }
    let bucket_mounts = match b.bucket_mounts.take() {
        Some(list) => list
            .iter()
            .map(crate::routes::bucket_mounts::parse_mount)
            .collect::<ApiResult<Vec<_>>>()?,
        None => snapshot.as_ref().map(|s| s.bucket_mounts.clone()).unwrap_or_default(),
    };
    if let Some(t) = &b.ttl {
        validate::ttl(t)?;
    }
    within_quota(s, g, &footprint(cpu, memory_mib, disk_gib))?;
    g.next_ip += 1;
    Ok(Plan {
        snapshot,
        machine,
        cpu,
        memory_mib,
        disk_gib,
        metadata,
        env,
        firewall,
        bucket_mounts,
        id: Uuid::new_v4(),
        public_ipv6: format!("fd00:fa57::{:x}", g.next_ip),
    })
}

pub async fn launch(State(s): State<Arc<Shared>>, body: Bytes) -> ApiResult<Response> {
    let mut b: LaunchBody = parse(&body)?;
    if b.machine_type.is_some() && b.snapshot_id.is_some() {
        return Err(ApiError::bad_request("give machineType or snapshotId, not both"));
    }
    let p = {
        let (mut g, _) = s.lock();
        plan(&s, &mut g, &mut b)?
    };

    // The VM's files (a copy of the snapshot's, if any), made without holding the lock.
    let dir = s.vms_dir().join(p.id.to_string());
    let host = s.config.host;
    let files = p.snapshot.as_ref().and_then(|snap| snap.files.clone());
    let volumes = s.volumes_dir();
    let made = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || VmFs::create(host, dir, files.as_ref().map(|f| f.dir()), volumes)
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r.map_err(|e| e.to_string()));
    let fs = match made {
        Ok(fs) => Arc::new(fs),
        Err(e) => {
            discard(dir);
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("creating the VM's files: {e}"),
            ));
        }
    };

    // The time from here on: the VM is created now, after its files (the copy takes a while).
    let (mut g, now) = s.lock();
    // Checked again: other launches may have used up the quota meanwhile.
    if let Err(e) = within_quota(&s, &g, &footprint(p.cpu, p.memory_mib, p.disk_gib)) {
        drop(g);
        discard(fs.dir().to_path_buf());
        return Err(e);
    }
    // A VM from a snapshot that is still `creating` boots once the snapshot is ready.
    let boot_ms = s.config.boot_delay.as_millis() as i64;
    let ready_at_ms = p.snapshot.as_ref().map_or(now, |snap| snap.ready_at_ms.max(now)) + boot_ms;
    let booted = ready_at_ms <= now;
    let id = p.id;
    let mut vm = Vm {
        id,
        name: validate::normalize_name(b.name.as_deref(), || format!("vm-{}", &id.to_string()[..8])),
        machine: p.machine,
        cpu: p.cpu,
        memory_mib: p.memory_mib,
        disk_gib: p.disk_gib,
        status: if booted { Status::Running } else { Status::Provisioning },
        created_at: ms_to_time(now),
        ready_at_ms,
        paused_at: None,
        metadata: p.metadata,
        env: p.env,
        firewall: p.firewall,
        services: p
            .snapshot
            .as_ref()
            .map(|s| s.services.iter().map(|sv| (sv.name.clone(), sv.clone())).collect())
            .unwrap_or_else(BTreeMap::new),
        ssh_keys: Vec::new(),
        bucket_mounts: Vec::new(),
        ttl: b.ttl,
        deadline_ms: b.ttl.filter(|_| booted).map(|t| now + t.seconds * 1000),
        remaining_ms: None,
        source_name: p.snapshot.as_ref().map(|s| s.name.clone()).unwrap_or_default(),
        public_ipv6: p.public_ipv6,
        pause_snapshot: None,
        fs,
        volumes: Vec::new(),
    };
    // What cannot be attached does not fail the launch: it is reported in attachmentWarnings.
    let mut warnings = serde_json::Map::new();
    let mut warn = |kind: &str, item: Value| {
        let list = warnings.entry(kind).or_insert_with(|| json!([]));
        list.as_array_mut().expect("a list").push(item);
    };
    // The symlinks of the snapshot's attachments go first: until attached again they lead
    // nowhere, and a bucket mount under one would be refused.
    let from_snapshot = p.snapshot.as_ref().map(|snap| snap.volumes.clone()).unwrap_or_default();
    crate::routes::volumes::unlink_all(&vm, &from_snapshot);
    for m in p.bucket_mounts {
        let (uri, path) = (m.bucket_uri.clone(), m.mount_path.clone());
        // A fresh id per VM: a snapshot's mount is mounted again, not shared.
        let m = crate::state::BucketMount {
            id: Uuid::new_v4(),
            ..m
        };
        if let Err(e) = crate::routes::bucket_mounts::mount(&mut vm, m) {
            warn(
                "failedBucketMountAttachments",
                json!({"bucketUri": uri, "mountPath": path, "statusMessage": e.message()}),
            );
        }
    }
    let asked = b.volumes.take();
    let snapshot_volumes = asked.is_none();
    let to_attach = asked.unwrap_or_else(|| {
        from_snapshot
            .iter()
            .map(|a| crate::routes::volumes::AttachBody {
                volume_id: a.volume_id.to_string(),
                mount_path: a.mount_path.clone(),
                read_only: Some(a.read_only),
            })
            .collect()
    });
    let Inner { volumes, .. } = &mut *g;
    for a in to_attach {
        let (volume_id, mount_path) = (a.volume_id.clone(), a.mount_path.clone());
        if let Err(e) = crate::routes::volumes::attach_now(&s, &mut vm, volumes, a, now) {
            if snapshot_volumes {
                let reason = if e.status == StatusCode::NOT_FOUND {
                    "deleted"
                } else {
                    "deleting"
                };
                warn(
                    "skippedSnapshotVolumes",
                    json!({"volumeId": volume_id, "mountPath": mount_path, "reason": reason}),
                );
            } else {
                warn(
                    "failedVolumeAttachments",
                    json!({"volumeId": volume_id, "mountPath": mount_path, "statusMessage": e.message()}),
                );
            }
        }
    }
    let mut body = s.vm_json(&vm);
    if !warnings.is_empty() {
        body["attachmentWarnings"] = Value::Object(warnings);
    }
    g.vms.insert(id, vm);
    let status = if booted {
        StatusCode::CREATED
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(body)).into_response())
}

/// What a VM of this size holds of the org's quota while it is not paused.
fn footprint(vcpu: i64, memory_mib: i64, disk_gib: i64) -> Limits {
    Limits {
        vcpu,
        memory_mib,
        disk_gib,
        ..NOTHING
    }
}

pub async fn retrieve(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let (mut g, _) = s.lock();
    let vm = vm_mut(&mut g, &id)?;
    Ok(Json(s.vm_json(vm)))
}

pub async fn update(State(s): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> ApiResult<Json<Value>> {
    // A map, so that an absent `ttl` (keep) differs from `ttl: null` (remove).
    let b: serde_json::Map<String, Value> = parse(&body)?;
    let name: Option<String> = field(&b, "name")?;
    let metadata: Option<StringMap> = field(&b, "metadata")?;
    // Absent: None (keep); `null`: Some(None) (remove).
    let ttl: Option<Option<Ttl>> = field(&b, "ttl")?;
    if name.is_none() && metadata.is_none() && ttl.is_none() {
        return Err(ApiError::bad_request("give at least one of name, metadata, ttl"));
    }
    if let Some(m) = &metadata {
        validate::metadata(m)?;
    }
    if let Some(Some(t)) = &ttl {
        validate::ttl(t)?;
    }
    let (mut g, now) = s.lock();
    let vm = vm_mut(&mut g, &id)?;
    if let Some(n) = name {
        vm.name = validate::rename(&n)?;
    }
    if let Some(m) = metadata {
        vm.metadata = m;
    }
    if let Some(t) = ttl {
        vm.ttl = t;
        reset_ttl(vm, now);
    }
    Ok(Json(s.vm_json(vm)))
}

/// Starts a fresh TTL cycle (or clears the countdown when there is no TTL).
fn reset_ttl(vm: &mut Vm, now: i64) {
    let budget = vm.ttl.map(|t| t.seconds * 1000);
    vm.deadline_ms = None;
    vm.remaining_ms = None;
    match vm.status {
        Status::Running => vm.deadline_ms = budget.map(|b| now + b),
        Status::Paused => vm.remaining_ms = budget,
        // Counting starts when the VM comes up.
        Status::Provisioning => vm.remaining_ms = budget,
    }
}

fn field<T: serde::de::DeserializeOwned>(b: &serde_json::Map<String, Value>, key: &str) -> ApiResult<Option<T>> {
    match b.get(key) {
        None => Ok(None),
        Some(v) => serde_json::from_value(v.clone())
            .map(Some)
            .map_err(|e| ApiError::bad_request(format!("invalid {key}: {e}"))),
    }
}

pub async fn delete(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    // The lock is released before the await.
    let vm = {
        let (mut g, _) = s.lock();
        remove(&mut g.vms, &id, "vm")?
    };
    // Every process of the VM is gone before the answer (with isolation).
    vm.fs.stop().await;
    let dir = vm.fs.dir().to_path_buf();
    let _ = tokio::task::spawn_blocking(move || remove_tree(&dir)).await;
    Ok(Json(json!({ "id": vm.id.to_string(), "deleted": true })))
}

pub async fn pause(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let (mut g, now) = s.lock();
    let vm = vm_mut(&mut g, &id)?;
    match vm.status {
        Status::Paused => {}
        Status::Provisioning => return Err(ApiError::conflict("vm is still provisioning")),
        Status::Running => {
            vm.status = Status::Paused;
            vm.paused_at = Some(ms_to_time(now));
            vm.remaining_ms = vm.deadline_ms.take().map(|d| (d - now).max(0));
            vm.pause_snapshot = None;
        }
    }
    Ok(Json(s.vm_json(vm)))
}

pub async fn resume(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult<Response> {
    let (mut g, now) = s.lock();
    let vm = vm_mut(&mut g, &id)?;
    if vm.status == Status::Paused {
        let (cpu, mem, disk) = (vm.cpu, vm.memory_mib, vm.disk_gib);
        // The quota check reads every VM, so the borrow of this one ends here and the VM is
        // looked up again to be resumed.
        if let Some(dim) = s.exceeded(&g, &footprint(cpu, mem, disk)) {
            let body = json!({ "error": format!("resuming would exceed the org {dim} quota"), "dimension": dim });
            return Ok((StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response());
        }
        let vm = vm_mut(&mut g, &id)?;
        vm.status = Status::Running;
        vm.paused_at = None;
        vm.deadline_ms = vm.remaining_ms.take().map(|r| now + r);
        return Ok(Json(s.vm_json(vm)).into_response());
    }
    Ok(Json(s.vm_json(vm)).into_response())
}

pub async fn refresh_ttl(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let (mut g, now) = s.lock();
    let vm = vm_mut(&mut g, &id)?;
    if vm.ttl.is_none() {
        return Err(ApiError::conflict("vm has no ttl configured"));
    }
    reset_ttl(vm, now);
    Ok(Json(s.vm_json(vm)))
}

pub async fn set_firewall(State(s): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> ApiResult<Json<Value>> {
    let input: FirewallInput = parse(&body)?;
    let fw = Firewall::replaced_by(input);
    validate::firewall(&fw)?;
    let (mut g, _) = s.lock();
    let vm = vm_mut(&mut g, &id)?;
    vm.firewall = fw;
    Ok(Json(s.vm_json(vm)))
}

pub async fn patch_firewall(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let input: FirewallInput = parse(&body)?;
    let (mut g, _) = s.lock();
    let vm = vm_mut(&mut g, &id)?;
    let fw = vm.firewall.patched_by(input);
    validate::firewall(&fw)?;
    vm.firewall = fw;
    Ok(Json(s.vm_json(vm)))
}
