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

use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::state::{Inner, Vm};

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

/// The VM `id` names, or 404.
pub fn vm_mut<'a>(g: &'a mut Inner, id: &str) -> ApiResult<&'a mut Vm> {
    find_mut(&mut g.vms, id, "vm")
}
