//! Handlers, one module per resource group.

pub mod builds;
pub mod files;
pub mod quotas;
pub mod services;
pub mod snapshots;
pub mod ssh_keys;
pub mod vms;

use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::state::{Inner, Vm};

/// The VM `id` names, or 404.
pub fn vm_mut<'a>(g: &'a mut Inner, id: &str) -> ApiResult<&'a mut Vm> {
    id.parse::<Uuid>()
        .ok()
        .and_then(|u| g.vms.get_mut(&u))
        .ok_or_else(|| ApiError::not_found("vm", id))
}
