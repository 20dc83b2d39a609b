//! Handlers, one module per resource group.

pub mod bucket_mounts;
pub mod builds;
pub mod files;
pub mod quotas;
pub mod services;
pub mod snapshot_imports;
pub mod snapshots;
pub mod ssh_keys;
pub mod vms;
pub mod volumes;

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use uuid::Uuid;

use axum::http::StatusCode;

use crate::Limits;
use crate::error::{ApiError, ApiResult};
use crate::state::{Inner, Shared, Vm};

/// The entity `id` names in `map`, or a 404 that calls it a `what` ("vm", "snapshot", ...).
/// An `id` that is not a UUID names nothing.
pub fn find_mut<'a, T>(map: &'a mut BTreeMap<Uuid, T>, id: &str, what: &str) -> ApiResult<&'a mut T> {
    id.parse::<Uuid>()
        .ok()
        .and_then(|u| map.get_mut(&u))
        .ok_or_else(|| ApiError::not_found(what, id))
}

/// Takes the entity `id` names out of `map`, or a 404 as for [`find_mut`].
pub fn remove<T>(map: &mut BTreeMap<Uuid, T>, id: &str, what: &str) -> ApiResult<T> {
    id.parse::<Uuid>()
        .ok()
        .and_then(|u| map.remove(&u))
        .ok_or_else(|| ApiError::not_found(what, id))
}

/// The entity `id` names in `map`, read-only; a 404 as for [`find_mut`].
pub fn find<'a, T>(map: &'a BTreeMap<Uuid, T>, id: &str, what: &str) -> ApiResult<&'a T> {
    id.parse::<Uuid>()
        .ok()
        .and_then(|u| map.get(&u))
        .ok_or_else(|| ApiError::not_found(what, id))
}

/// A 429 naming the quota dimension (`org quota exceeded: vcpu`) when adding `add` to the
/// org's usage would exceed it (see `Shared::exceeded`). The body has no `dimension` field:
/// that is the shape of resume's answer only.
pub fn within_quota(s: &Shared, g: &Inner, add: &Limits) -> ApiResult<()> {
    match s.exceeded(g, add) {
        Some(dim) => Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("org quota exceeded: {dim}"),
        )),
        None => Ok(()),
    }
}

/// The VM `id` names, or 404.
pub fn vm_mut<'a>(g: &'a mut Inner, id: &str) -> ApiResult<&'a mut Vm> {
    find_mut(&mut g.vms, id, "vm")
}

/// A 409 when `mount_path` is taken on `vm`, by a volume's attachment or a bucket mount: one
/// directory holds one mount, whichever kind (a trailing `/` names the same directory).
pub fn mount_path_free(vm: &Vm, mount_path: &str) -> ApiResult<()> {
    let same = |p: &str| p.trim_end_matches('/') == mount_path.trim_end_matches('/');
    let by = if vm.volumes.iter().any(|a| same(&a.mount_path)) {
        "a volume"
    } else if vm.bucket_mounts.iter().any(|m| same(&m.mount_path)) {
        "a bucket"
    } else {
        return Ok(());
    };
    Err(ApiError::conflict(format!(
        "{mount_path} is already the mount point of {by}"
    )))
}

/// Makes the directory `mount_path` (checked by `validate::mount_path`) in a VM's files at
/// `dir` (its root with isolation, its working directory without), with the directories on
/// the way, and answers where it is on this host. What exists on the way must be a real
/// directory: a symlink is not followed, as it could lead out of the VM's files (one the VM
/// made, or a volume's attachment, which leads into the volume); it and anything else that is
/// not a directory are refused (409).
pub fn make_dirs(dir: &Path, mount_path: &str) -> ApiResult<PathBuf> {
    let conflict = |why: String| ApiError::conflict(format!("mountPath {mount_path}: {why}"));
    let (mut at, mut in_vm) = (dir.to_path_buf(), PathBuf::from("/"));
    for part in Path::new(mount_path).components() {
        match part {
            Component::Normal(name) => {
                at.push(name);
                in_vm.push(name);
            }
            Component::RootDir | Component::CurDir => continue,
            // Never in a checked path; refused rather than walked up.
            Component::ParentDir | Component::Prefix(_) => return Err(conflict("`..` in the path".into())),
        }
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(conflict(format!("{} is not a directory", in_vm.display()))),
            Err(_) => std::fs::create_dir(&at).map_err(|e| conflict(e.to_string()))?,
        }
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn make_dirs_makes_the_way_and_follows_no_symlink() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vm");
        std::fs::create_dir_all(dir.join("mnt/old")).unwrap();
        assert_eq!(make_dirs(&dir, "/mnt/a/b/").unwrap(), dir.join("mnt/a/b"));
        assert!(dir.join("mnt/a/b").is_dir());
        assert_eq!(
            make_dirs(&dir, "/mnt/old").unwrap(),
            dir.join("mnt/old"),
            "one that exists"
        );
        // A symlink on the way (one the VM made, or a volume's attachment) is refused, and
        // nothing is made where it leads.
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, dir.join("mnt/out")).unwrap();
        let e = make_dirs(&dir, "/mnt/out/x").unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::CONFLICT, "{}", e.message());
        assert!(e.message().contains("/mnt/out is not a directory"), "{}", e.message());
        assert!(!outside.join("x").exists());
        std::fs::write(dir.join("mnt/file"), b"").unwrap();
        assert!(make_dirs(&dir, "/mnt/file/x").is_err());
        assert!(make_dirs(&dir, "/mnt/file").is_err());
    }
}
