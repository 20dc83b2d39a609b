//! Managed volumes and their attachments (upstream API after the reference).
//!
//! A volume is a directory of this host (`Shared::volumes_dir`/`<id>`). Attaching it to a VM
//! puts a symlink at the mount path in the VM's files: with isolation it points at the
//! volume's view inside every VM ([`VOLUMES_IN_VM`]`/rw/<id>`, or the read-only
//! `…/ro/<id>` for a read-only attachment, whose writes fail with EROFS); without, at the
//! volume's directory on this host, reached by relative paths from the VM's working directory
//! (`mnt/shared`), as absolute paths are the host's there. Either way what one VM writes the
//! others read at once, and it stays in the volume after a detach. A detach removes the
//! symlink, never the volume's files; a VM's attachments go with it when it is deleted.
//!
//! Statuses follow the fake clock: `creating` for `volume_duration` after the create (an
//! attach is then 409 `VOL_NOT_READY`), `deleting` for as long after the delete, then gone.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{find_mut, make_dirs, mount_path_free, vm_mut, within_quota};
use crate::Limits;
use crate::error::{ApiError, ApiResult, parse};
use crate::isolation::VOLUMES_IN_VM;
use crate::state::{Attachment, Inner, NOTHING, Shared, Vm, Volume, attachment_json, ms_to_time};
use crate::validate;

pub async fn list(State(s): State<Arc<Shared>>) -> Json<Value> {
    let (g, now) = s.lock();
    let mut vols: Vec<&Volume> = g.volumes.values().collect();
    vols.sort_by_key(|v| v.created_at);
    Json(Value::Array(
        vols.into_iter().map(|v| s.volume_json(&g, v, now)).collect(),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    name: String,
    #[serde(rename = "sizeGiB")]
    size_gib: i64,
    access_mode: String,
}

pub async fn create(State(s): State<Arc<Shared>>, body: Bytes) -> ApiResult<Response> {
    let b: CreateBody = parse(&body)?;
    // Named as VMs and snapshots are renamed: a blank name is refused, not replaced.
    let name = validate::rename(&b.name)?;
    access_mode(&b.access_mode)?;
    validate::gib("sizeGiB", b.size_gib)?;
    let (mut g, now) = s.lock();
    within_quota(
        &s,
        &g,
        &Limits {
            volume_count: 1,
            volume_gib: b.size_gib,
            ..NOTHING
        },
    )?;
    let id = Uuid::new_v4();
    std::fs::create_dir_all(s.volumes_dir().join(id.to_string())).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("creating the volume's storage: {e}"),
        )
    })?;
    let v = Volume {
        id,
        name,
        access_mode: b.access_mode,
        size_gib: b.size_gib,
        created_at: ms_to_time(now),
        ready_at_ms: now + s.config.volume_duration.as_millis() as i64,
        gone_at_ms: None,
    };
    let body = s.volume_json(&g, &v, now);
    g.volumes.insert(id, v);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub async fn retrieve(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let (mut body, vid) = {
        let (mut g, now) = s.lock();
        let v = find_mut(&mut g.volumes, &id, "volume")?.clone();
        (s.volume_json(&g, &v, now), v.id)
    };
    // Read from the storage when fetched, as the API does (not in the list); after the lock,
    // as the walk takes as long as the volume is big and clients poll this.
    body["usedGiB"] = json!(used_bytes_of(&s, vid).await >> 30);
    Ok(Json(body))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateBody {
    name: Option<String>,
    #[serde(rename = "sizeGiB")]
    size_gib: Option<i64>,
    access_mode: Option<String>,
}

/// A resize takes effect at once (`pendingSizeGiB` is never seen here); a shrink below what the
/// volume holds is refused (409).
pub async fn update(State(s): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> ApiResult<Json<Value>> {
    let b: UpdateBody = parse(&body)?;
    if b.name.is_none() && b.size_gib.is_none() && b.access_mode.is_none() {
        return Err(ApiError::bad_request("give at least one of name, sizeGiB, accessMode"));
    }
    let name = b.name.as_deref().map(validate::rename).transpose()?;
    if let Some(m) = &b.access_mode {
        access_mode(m)?;
    }
    if let Some(gib) = b.size_gib {
        validate::gib("sizeGiB", gib)?;
    }
    // What the volume holds, for the shrink check: walked before the lock, as the walk takes as
    // long as the volume is big (a volume that does not exist holds nothing, and is a 404 below).
    let used = match (b.size_gib, id.parse::<Uuid>()) {
        (Some(_), Ok(vid)) => used_bytes_of(&s, vid).await,
        _ => 0,
    };
    let (mut g, now) = s.lock();
    // A copy, put back at the end: the quota check reads every volume meanwhile.
    let mut v = find_mut(&mut g.volumes, &id, "volume")?.clone();
    if v.gone_at_ms.is_some() {
        return Err(ApiError::conflict(format!("volume {id} is deleting")));
    }
    if let Some(gib) = b.size_gib {
        if gib > v.size_gib {
            within_quota(
                &s,
                &g,
                &Limits {
                    volume_gib: gib - v.size_gib,
                    ..NOTHING
                },
            )?;
        }
        if (gib as u64) << 30 < used {
            return Err(ApiError::conflict(format!(
                "volume {id} holds more than {gib} GiB: it cannot shrink to that"
            )));
        }
    }
    if let Some(n) = name {
        v.name = n;
    }
    if let Some(gib) = b.size_gib {
        v.size_gib = gib;
    }
    if let Some(m) = b.access_mode {
        v.access_mode = m;
    }
    let body = s.volume_json(&g, &v, now);
    g.volumes.insert(v.id, v);
    Ok(Json(body))
}

/// 200 once the volume is `deleting`; it is gone `volume_duration` later. A volume still
/// attached to a VM is refused with 409: the API documents nothing for it, so this is an
/// inference (inf.): a real server would have to unmount it from running VMs first. Deleting a
/// volume that is already `deleting` answers 200 again (a delete is idempotent).
pub async fn delete(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let (mut g, now) = s.lock();
    let Inner { vms, volumes, .. } = &mut *g;
    let v = find_mut(volumes, &id, "volume")?;
    let attached = vms.values().filter(|vm| attached(vm, v.id).is_some()).count();
    if attached > 0 {
        return Err(ApiError::conflict(format!(
            "volume {id} is attached to {attached} VM(s): detach it first"
        )));
    }
    if v.gone_at_ms.is_none() {
        v.gone_at_ms = Some(now + s.config.volume_duration.as_millis() as i64);
    }
    Ok(Json(json!({ "id": v.id.to_string(), "deleted": true })))
}

pub async fn attachments(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let (mut g, _) = s.lock();
    let vid = find_mut(&mut g.volumes, &id, "volume")?.id;
    let list: Vec<Value> = g
        .vms
        .values()
        .filter_map(|vm| {
            let a = attached(vm, vid)?;
            let mut item = attachment_json(vm, a);
            item["vmId"] = json!(vm.id.to_string());
            Some(item)
        })
        .collect();
    Ok(Json(Value::Array(list)))
}

/// A `VolumeMount`: the attach's body, and an entry of a launch's `volumes`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachBody {
    pub volume_id: String,
    pub mount_path: String,
    pub read_only: Option<bool>,
}

pub async fn attach(State(s): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> ApiResult<Response> {
    let b: AttachBody = parse(&body)?;
    mount_path(&b.mount_path)?;
    let (mut g, now) = s.lock();
    let Inner { vms, volumes, .. } = &mut *g;
    let vm = find_mut(vms, &id, "vm")?;
    let body = attach_now(&s, vm, volumes, b, now)?;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Attaches a volume to `vm` now (an attach, or a launch's `volumes`): the attachment's JSON,
/// or why not (404 for a volume that does not exist, 409 otherwise).
pub fn attach_now(
    s: &Shared,
    vm: &mut Vm,
    volumes: &mut std::collections::BTreeMap<Uuid, Volume>,
    b: AttachBody,
    now: i64,
) -> ApiResult<Value> {
    let id = vm.id;
    let v = find_mut(volumes, &b.volume_id, "volume")?;
    match v.status(now) {
        "ready" => {}
        status => {
            return Err(ApiError::conflict(format!(
                "VOL_NOT_READY: volume {} is {status}",
                v.id
            )));
        }
    }
    if attached(vm, v.id).is_some() {
        return Err(ApiError::conflict(format!(
            "volume {} is already attached to vm {id}",
            v.id
        )));
    }
    mount_path_free(vm, &b.mount_path)?;
    let a = Attachment {
        volume_id: v.id,
        mount_path: b.mount_path,
        read_only: b.read_only.unwrap_or(false) || v.access_mode == "ro",
    };
    let target = if vm.fs.isolated() {
        let view = if a.read_only { "ro" } else { "rw" };
        PathBuf::from(format!("{VOLUMES_IN_VM}/{view}/{}", v.id))
    } else {
        s.volumes_dir().join(v.id.to_string())
    };
    link(vm.fs.dir(), &a.mount_path, &target)?;
    let body = attachment_json(vm, &a);
    vm.volumes.push(a);
    Ok(body)
}

/// Removes the symlinks a snapshot's copy of a VM's files brought along (its attachments'),
/// before a restore attaches what it attaches.
pub fn unlink_all(vm: &Vm, attachments: &[Attachment]) {
    for a in attachments {
        unlink(vm.fs.dir(), &a.mount_path);
    }
}

/// Always clean here: a symlink is never busy, so no 502 `guest_umount_busy`.
pub async fn detach(
    State(s): State<Arc<Shared>>,
    Path((id, volume_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (mut g, _) = s.lock();
    let vm = vm_mut(&mut g, &id)?;
    let at = volume_id
        .parse::<Uuid>()
        .ok()
        .and_then(|vid| vm.volumes.iter().position(|a| a.volume_id == vid))
        .ok_or_else(|| ApiError::not_found("volume attachment", &format!("{volume_id} on vm {id}")))?;
    let a = vm.volumes.remove(at);
    unlink(vm.fs.dir(), &a.mount_path);
    Ok(Json(json!({ "detached": true })))
}

/// The attachment of volume `vid` to `vm`, if any.
fn attached(vm: &Vm, vid: Uuid) -> Option<&Attachment> {
    vm.volumes.iter().find(|a| a.volume_id == vid)
}

/// A volume's access mode: `rw` or `ro`.
fn access_mode(m: &str) -> ApiResult<()> {
    match m {
        "rw" | "ro" => Ok(()),
        other => Err(ApiError::bad_request(format!(
            "accessMode must be rw or ro, not {other:?}"
        ))),
    }
}

/// The API's rule: a directory under `/mnt/` or `/data/`, and a mount path
/// (`validate::mount_path`).
pub fn mount_path(p: &str) -> ApiResult<()> {
    validate::mount_path(p)?;
    let rest = p.strip_prefix("/mnt/").or_else(|| p.strip_prefix("/data/"));
    if rest.is_none_or(|rest| rest.trim_end_matches('/').is_empty()) {
        return Err(ApiError::bad_request(
            "mountPath must name a directory under /mnt/ or /data/",
        ));
    }
    Ok(())
}

/// Where the VM's `mount_path` is in its directory on this host (`dir`: its root with
/// isolation, its working directory without).
fn in_vm(dir: &FsPath, mount_path: &str) -> PathBuf {
    dir.join(mount_path.trim_start_matches('/').trim_end_matches('/'))
}

/// Puts the symlink `mount_path` → `target` in the VM's files, the directories on the way
/// made by [`make_dirs`] (which refuses a symlink or a file on the way, 409). Something
/// already at the mount path is refused (409), except an empty directory, which the volume
/// replaces as a mount covers it.
fn link(dir: &FsPath, mount_path: &str, target: &FsPath) -> ApiResult<()> {
    let conflict = |why: String| ApiError::conflict(format!("mountPath {mount_path}: {why}"));
    let at = make_dirs(dir, mount_path)?;
    // `make_dirs` left a directory there: only an empty one gives way.
    std::fs::remove_dir(&at).map_err(|_| conflict("something that is not an empty directory is there".into()))?;
    std::os::unix::fs::symlink(target, &at).map_err(|e| conflict(e.to_string()))
}

/// Removes the symlink of an attachment (only a symlink: what the VM put there instead stays).
fn unlink(dir: &FsPath, mount_path: &str) {
    let at = in_vm(dir, mount_path);
    if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
        let _ = std::fs::remove_file(&at);
    }
}

/// Bytes of the regular files of volume `vid`, walked on a blocking thread (never under the
/// state's lock: see [`used_bytes`]).
async fn used_bytes_of(s: &Shared, vid: Uuid) -> u64 {
    let dir = s.volumes_dir().join(vid.to_string());
    tokio::task::spawn_blocking(move || used_bytes(&dir)).await.unwrap_or(0)
}

/// Bytes of the regular files under `dir` (not following symlinks): a walk of the whole tree.
fn used_bytes(dir: &FsPath) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => used_bytes(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_paths() {
        for ok in ["/mnt/shared", "/data/a/b", "/mnt/x/"] {
            assert!(mount_path(ok).is_ok(), "{ok}");
        }
        for bad in [
            "/mnt/",
            "/mnt",
            "/tmp/x",
            "mnt/x",
            "/mnt/../etc",
            "/mnt/a//b",
            "/mnt/./a",
            "/mnt/a\0",
        ] {
            assert!(mount_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn link_makes_the_way_replaces_an_empty_dir_and_refuses_the_rest() {
        let tmp = tempfile::tempdir().unwrap();
        let (dir, target) = (tmp.path().join("vm"), tmp.path().join("vol"));
        std::fs::create_dir_all(dir.join("mnt/empty")).unwrap();
        std::fs::create_dir_all(&target).unwrap();
        link(&dir, "/mnt/a/b", &target).unwrap();
        assert_eq!(std::fs::read_link(dir.join("mnt/a/b")).unwrap(), target);
        link(&dir, "/mnt/empty", &target).unwrap();
        assert!(link(&dir, "/mnt/a/b", &target).is_err(), "taken");
        // A symlink on the way (one the VM made) is not followed.
        std::os::unix::fs::symlink("/etc", dir.join("mnt/out")).unwrap();
        assert!(link(&dir, "/mnt/out/x", &target).is_err());
        unlink(&dir, "/mnt/a/b");
        assert!(std::fs::symlink_metadata(dir.join("mnt/a/b")).is_err());
        assert!(target.exists(), "the volume stays");
    }
}
