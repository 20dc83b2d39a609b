//! Health, org quotas and the public list prices.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::Limits;
use crate::state::Shared;

pub async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /v1/pricing` (upstream after the reference): the fake's own list prices, not the real
/// service's: two compute tiers (the top one open-ended) and a storage rate, as decimal strings.
pub async fn pricing() -> Json<Value> {
    Json(json!({
        "compute": { "tiers": [
            { "tier": 1, "fromVcpuHours": 0, "toVcpuHours": 1000, "ratePerVcpuHour": "0.09" },
            { "tier": 2, "fromVcpuHours": 1000, "toVcpuHours": null, "ratePerVcpuHour": "0.07" }
        ]},
        "volumeStorage": { "ratePerGiBMonth": "0.10" }
    }))
}

fn values(l: &Limits) -> Value {
    json!({
        "vcpu": l.vcpu,
        "memoryMiB": l.memory_mib,
        "diskGiB": l.disk_gib,
        "snapshotCount": l.snapshot_count,
        "volumeCount": l.volume_count,
        "volumeGiB": l.volume_gib,
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
