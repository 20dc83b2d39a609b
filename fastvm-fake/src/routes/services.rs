//! Service registrations (`/v1/vms/{id}/services`).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::vm_mut;
use crate::error::{ApiError, ApiResult, parse};
use crate::model::Service;
use crate::state::Shared;
use crate::validate;

/// `MAX_SERVICES_PER_VM` of the real API.
pub const MAX_SERVICES_PER_VM: usize = 16;

pub async fn list(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let (mut g, _) = s.lock();
    let vm = vm_mut(&mut g, &id)?;
    // A BTreeMap keyed by name: already sorted by name.
    Ok(Json(json!(vm.services.values().collect::<Vec<_>>())))
}

#[derive(Deserialize)]
struct RegisterBody {
    name: String,
    port: i64,
    #[serde(default)]
    h2c: bool,
}

pub async fn register(State(s): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> ApiResult<Response> {
    let b: RegisterBody = parse(&body)?;
    validate::service_name(&b.name)?;
    validate::service_port(b.port)?;
    let (mut g, _) = s.lock();
    let vm = vm_mut(&mut g, &id)?;
    let wanted = Service {
        name: b.name,
        port: b.port,
        h2c: b.h2c,
    };
    match vm.services.get(&wanted.name) {
        Some(existing) if *existing == wanted => {}
        Some(existing) => {
            return Err(ApiError::conflict(format!(
                "service {} is already registered with port {} h2c {}; use PUT to change it",
                existing.name, existing.port, existing.h2c
            )));
        }
        None => {
            cap(vm.services.len())?;
            vm.services.insert(wanted.name.clone(), wanted.clone());
        }
    }
    Ok((StatusCode::CREATED, Json(json!(wanted))).into_response())
}

// The spec gives this failure no response of its own, so it uses the generic `Error` shape
// (strict 4XX validation would refuse `QuotaExceededError`'s `count`), with the status of the
// other quota failures.
fn cap(current: usize) -> ApiResult<()> {
    if current >= MAX_SERVICES_PER_VM {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "vm_service_quota_exceeded",
        ));
    }
    Ok(())
}

#[derive(Deserialize)]
struct UpdateBody {
    port: i64,
    h2c: Option<bool>,
}

pub async fn update(
    State(s): State<Arc<Shared>>,
    Path((id, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    validate::service_name(&name)?;
    let b: UpdateBody = parse(&body)?;
    validate::service_port(b.port)?;
    let (mut g, _) = s.lock();
    let vm = vm_mut(&mut g, &id)?;
    let h2c = b.h2c.or(vm.services.get(&name).map(|s| s.h2c)).unwrap_or(false);
    if !vm.services.contains_key(&name) {
        cap(vm.services.len())?;
    }
    let svc = Service {
        name,
        port: b.port,
        h2c,
    };
    vm.services.insert(svc.name.clone(), svc.clone());
    Ok(Json(json!(svc)))
}

pub async fn delete(State(s): State<Arc<Shared>>, Path((id, name)): Path<(String, String)>) -> ApiResult<StatusCode> {
    let (mut g, _) = s.lock();
    let vm = vm_mut(&mut g, &id)?;
    vm.services.remove(&name);
    Ok(StatusCode::NO_CONTENT)
}
