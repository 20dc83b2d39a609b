//! Bucket mounts of a VM (`/v1/vms/{id}/bucket-mounts`, the upstream API after the reference).
//!
//! The fake cannot reach a bucket: a mount is recorded, checked like the real API checks its
//! body, and shown in the VM as an empty directory at its path (with isolation; without, the
//! VM's absolute paths are the host's and nothing is created). Credentials are kept in memory
//! (a snapshot's restore mounts the bucket again with them) and never answered or logged.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{make_dirs, mount_path_free, vm_mut};
use crate::error::{ApiError, ApiResult, parse};
use crate::state::{BucketMount, Shared, Vm, rfc3339};

/// A mount as the API answers it.
pub fn mount_json(vm: &Vm, m: &BucketMount) -> Value {
    json!({
        "id": m.id.to_string(),
        "vmId": vm.id.to_string(),
        "bucketUri": m.bucket_uri,
        "mountPath": m.mount_path,
        "readOnly": m.read_only,
        "mountStatus": "mounted",
        "createdAt": rfc3339(m.created_at),
    })
}

/// A mount from a request's body (`POST …/bucket-mounts`, a launch's `bucketMounts[i]`),
/// checked. The messages never repeat a credential.
pub fn parse_mount(body: &Value) -> ApiResult<BucketMount> {
    let text = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
    let bucket_uri = text("bucketUri");
    let bucket = ["gs://", "s3://"].iter().find_map(|s| bucket_uri.strip_prefix(s));
    if bucket.is_none_or(|b| b.split('/').next().is_none_or(str::is_empty)) {
        return Err(ApiError::bad_request(
            "bucketUri must be gs://<bucket>[/prefix] or s3://<bucket>[/prefix]",
        ));
    }
    let mount_path = text("mountPath");
    crate::validate::mount_path(&mount_path)?;
    let read_only = match body.get("readOnly") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::bad_request("readOnly must be a boolean")),
    };
    Ok(BucketMount {
        id: Uuid::new_v4(),
        bucket_uri,
        mount_path,
        read_only,
        created_at: Utc::now(),
        credentials: credentials(body.get("credentials"))?,
    })
}

/// The credentials of a body, checked per type (the wire's tagged union).
fn credentials(c: Option<&Value>) -> ApiResult<Value> {
    let c = c.ok_or_else(|| ApiError::bad_request("credentials are required"))?;
    let value = c.get("value").filter(|v| v.is_object());
    let filled = |name: &str| {
        value
            .and_then(|v| v.get(name))
            .and_then(Value::as_str)
            .is_some_and(|s| !s.trim().is_empty())
    };
    match c.get("type").and_then(Value::as_str) {
        Some("gcp-service-account-json") => {
            let kind = value.and_then(|v| v.get("type")).and_then(Value::as_str);
            if kind != Some("service_account") || !filled("client_email") || !filled("private_key") {
                return Err(ApiError::bad_request(
                    "credentials.value must be a service account key: type service_account, client_email, private_key",
                ));
            }
        }
        Some("aws-credentials") => {
            let data = value
                .and_then(|v| v.get("data"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            let default = data.lines().any(|l| l.trim() == "[default]");
            if !default || !data.contains("aws_access_key_id") || !data.contains("aws_secret_access_key") {
                return Err(ApiError::bad_request(
                    "credentials.value.data must be a credentials file with a [default] section holding aws_access_key_id and aws_secret_access_key",
                ));
            }
        }
        _ => {
            return Err(ApiError::bad_request(
                "credentials.type must be gcp-service-account-json or aws-credentials",
            ));
        }
    }
    Ok(c.clone())
}

/// Records `m` on `vm` and, with isolation, makes its directory in the VM's files: a path
/// taken by a volume or a bucket is a 409 (`mount_path_free`), as is one that leads through a
/// symlink or a file (`make_dirs`); one in a directory of the host's (`/usr`, `/dev`, ...),
/// which no mount of the fake's could cover, is a 400.
pub fn mount(vm: &mut Vm, m: BucketMount) -> ApiResult<&BucketMount> {
    mount_path_free(vm, &m.mount_path)?;
    if vm.fs.isolated() {
        if !vm.fs.owns(std::path::Path::new(&m.mount_path)) {
            return Err(ApiError::bad_request(format!(
                "mountPath {} is in a system directory of the VM",
                m.mount_path
            )));
        }
        make_dirs(vm.fs.dir(), &m.mount_path)?;
    }
    vm.bucket_mounts.push(m);
    Ok(vm.bucket_mounts.last().expect("just pushed"))
}

pub async fn list(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let (mut g, _) = s.lock();
    let vm = vm_mut(&mut g, &id)?;
    Ok(Json(Value::Array(
        vm.bucket_mounts.iter().map(|m| mount_json(vm, m)).collect(),
    )))
}

pub async fn create(State(s): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> ApiResult<Response> {
    let body: Value = parse(&body)?;
    let m = parse_mount(&body)?;
    let (mut g, _) = s.lock();
    let vm = vm_mut(&mut g, &id)?;
    let m = mount(vm, m)?.clone();
    let answer = mount_json(vm, &m);
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// Where the mount `mount_id` names is in `vm.bucket_mounts`, or 404 (an id that is not a
/// UUID names nothing, as for `routes::find_mut`).
fn position(vm: &Vm, mount_id: &str) -> ApiResult<usize> {
    mount_id
        .parse::<Uuid>()
        .ok()
        .and_then(|u| vm.bucket_mounts.iter().position(|m| m.id == u))
        .ok_or_else(|| ApiError::not_found("bucket mount", mount_id))
}

/// The mount `mount_id` names on `vm`, or 404.
fn find<'a>(vm: &'a mut Vm, mount_id: &str) -> ApiResult<&'a mut BucketMount> {
    let at = position(vm, mount_id)?;
    Ok(&mut vm.bucket_mounts[at])
}

pub async fn retrieve(
    State(s): State<Arc<Shared>>,
    Path((id, mount_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (mut g, _) = s.lock();
    let vm = vm_mut(&mut g, &id)?;
    let m = find(vm, &mount_id)?.clone();
    Ok(Json(mount_json(vm, &m)))
}

pub async fn rotate(
    State(s): State<Arc<Shared>>,
    Path((id, mount_id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let body: Value = parse(&body)?;
    let credentials = credentials(body.get("credentials"))?;
    let (mut g, _) = s.lock();
    let vm = vm_mut(&mut g, &id)?;
    let m = find(vm, &mount_id)?;
    m.credentials = credentials;
    let m = m.clone();
    Ok(Json(mount_json(vm, &m)))
}

pub async fn delete(
    State(s): State<Arc<Shared>>,
    Path((id, mount_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (mut g, _) = s.lock();
    let vm = vm_mut(&mut g, &id)?;
    let at = position(vm, &mount_id)?;
    vm.bucket_mounts.remove(at);
    Ok(StatusCode::NO_CONTENT)
}
