//! Per-VM authorized SSH keys.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::vm_mut;
use crate::error::{ApiError, ApiResult, parse};
use crate::fingerprint;
use crate::state::{Shared, SshKey, rfc3339};

fn key_json(k: &SshKey) -> Value {
    let mut v = json!({
        "publicKey": k.public_key,
        "fingerprint": k.fingerprint,
        "createdAt": rfc3339(k.created_at),
    });
    if let Some(n) = &k.name {
        v["name"] = json!(n);
    }
    v
}

pub async fn list(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let (mut g, _) = s.lock();
    let vm = vm_mut(&mut g, &id)?;
    Ok(Json(
        json!({ "keys": vm.ssh_keys.iter().map(key_json).collect::<Vec<_>>() }),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddBody {
    public_key: String,
    name: Option<String>,
}

pub async fn add(State(s): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> ApiResult<Response> {
    let b: AddBody = parse(&body)?;
    let parsed = fingerprint::parse(b.public_key.trim_end_matches([' ', '\t']))?;
    let (mut g, _) = s.lock();
    let vm = vm_mut(&mut g, &id)?;
    if vm.ssh_keys.iter().any(|k| k.fingerprint == parsed.fingerprint) {
        return Err(ApiError::conflict(format!(
            "key {} is already registered",
            parsed.fingerprint
        )));
    }
    let key = SshKey {
        public_key: parsed.public_key,
        fingerprint: parsed.fingerprint,
        name: b.name.filter(|n| !n.is_empty()),
        created_at: Utc::now(),
    };
    let body = key_json(&key);
    vm.ssh_keys.push(key);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// axum's `Path` percent-decodes the segment (`%2F` → `/`) and leaves `+` alone, which is
/// exactly the encoding SDKs use for fingerprints.
pub async fn delete(State(s): State<Arc<Shared>>, Path((id, fp)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    let (mut g, _) = s.lock();
    let vm = vm_mut(&mut g, &id)?;
    let before = vm.ssh_keys.len();
    vm.ssh_keys.retain(|k| k.fingerprint != fp);
    if vm.ssh_keys.len() == before {
        return Err(ApiError::not_found("ssh key", &fp));
    }
    Ok(Json(json!({ "id": fp, "deleted": true })))
}
