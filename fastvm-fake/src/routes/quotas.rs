//! Health and org quotas.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::Limits;
use crate::state::Shared;

pub async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

fn values(l: &Limits) -> Value {
    json!({
        "vcpu": l.vcpu,
        "memoryMiB": l.memory_mib,
        "diskGiB": l.disk_gib,
        "snapshotCount": l.snapshot_count,
    })
}

pub async fn retrieve(State(s): State<Arc<Shared>>) -> Json<Value> {
    let (g, _) = s.lock();
    Json(json!({
        "orgId": s.org_id,
        "limits": values(&s.config.limits),
        "usage": values(&s.usage(&g)),
    }))
}
