//! Authorized SSH keys: per VM (the reference), and the calling user's (`/v1/me/ssh-keys`, the
//! upstream API after it).

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
    let key = new_key(&body)?;
    let (mut g, _) = s.lock();
    let vm = vm_mut(&mut g, &id)?;
    registered(&mut vm.ssh_keys, key)
}

/// The key of an add request's body, its fingerprint derived.
fn new_key(body: &[u8]) -> ApiResult<SshKey> {
    let b: AddBody = parse(body)?;
    let parsed = fingerprint::parse(b.public_key.trim_end_matches([' ', '\t']))?;
    Ok(SshKey {
        public_key: parsed.public_key,
        fingerprint: parsed.fingerprint,
        name: b.name.filter(|n| !n.is_empty()),
        created_at: Utc::now(),
    })
}

/// `key` added to `keys` (201), unless its fingerprint is already there (409).
fn registered(keys: &mut Vec<SshKey>, key: SshKey) -> ApiResult<Response> {
    if keys.iter().any(|k| k.fingerprint == key.fingerprint) {
        return Err(ApiError::conflict(format!(
            "key {} is already registered",
            key.fingerprint
        )));
    }
    let body = key_json(&key);
    keys.push(key);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// axum's `Path` percent-decodes the segment (`%2F` → `/`) and leaves `+` alone, which is
/// exactly the encoding SDKs use for fingerprints.
pub async fn delete(State(s): State<Arc<Shared>>, Path((id, fp)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    let (mut g, _) = s.lock();
    let vm = vm_mut(&mut g, &id)?;
    removed(&mut vm.ssh_keys, fp)
}

fn removed(keys: &mut Vec<SshKey>, fp: String) -> ApiResult<Json<Value>> {
    let before = keys.len();
    keys.retain(|k| k.fingerprint != fp);
    if keys.len() == before {
        return Err(ApiError::not_found("ssh key", &fp));
    }
    Ok(Json(json!({ "id": fp, "deleted": true })))
}

/// How many keys a user may have (upstream's documented limit; the status of the refusal is
/// not documented: 409 here, as for a duplicate, is an inference).
const MAX_USER_KEYS: usize = 32;

pub async fn user_list(State(s): State<Arc<Shared>>) -> Json<Value> {
    let (g, _) = s.lock();
    Json(json!({ "keys": g.user_ssh_keys.iter().map(key_json).collect::<Vec<_>>() }))
}

pub async fn user_add(State(s): State<Arc<Shared>>, body: Bytes) -> ApiResult<Response> {
    let key = new_key(&body)?;
    let (mut g, _) = s.lock();
    if g.user_ssh_keys.len() >= MAX_USER_KEYS {
        return Err(ApiError::conflict(format!(
            "a user has at most {MAX_USER_KEYS} SSH keys"
        )));
    }
    registered(&mut g.user_ssh_keys, key)
}

pub async fn user_delete(State(s): State<Arc<Shared>>, Path(fp): Path<String>) -> ApiResult<Json<Value>> {
    let (mut g, _) = s.lock();
    removed(&mut g.user_ssh_keys, fp)
}
