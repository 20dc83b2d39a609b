//! Contract tests of the org quota operation (`client.quotas()`).

mod common;

use common::{Api, assert_error_mapping, assert_lossless};
use serde_json::json;

#[tokio::test]
async fn get_org_quotas_wire() {
    let api = Api::start().await;
    let answer = json!({
        "orgId": "org-7f3a",
        "limits": { "vcpu": i64::MAX, "memoryMiB": 1_048_576, "diskGiB": 10_000, "snapshotCount": 500 },
        "usage": { "vcpu": 0, "memoryMiB": 0, "diskGiB": 0, "snapshotCount": 0 }
    });
    api.expect("getOrgQuotas", "/v1/org/quotas", 200, answer.clone()).await;
    let q = api.client.quotas().retrieve().await.unwrap();
    assert_eq!(q.limits.vcpu, i64::MAX);
    assert_eq!(q.usage.snapshot_count, 0);
    assert_lossless(&answer, &q);
    assert_eq!(api.sent("getOrgQuotas").await.body, None);
}

#[tokio::test]
async fn get_org_quotas_ignores_unknown_dimensions() {
    let api = Api::start().await;
    let answer = json!({
        "orgId": "org-7f3a",
        "limits": { "vcpu": 8, "memoryMiB": 16384, "diskGiB": 100, "snapshotCount": 10, "gpu": 2 },
        "usage": { "vcpu": 2, "memoryMiB": 4096, "diskGiB": 20, "snapshotCount": 1, "gpu": 0 },
        "plan": "team"
    });
    api.expect_lenient("getOrgQuotas", "/v1/org/quotas", 200, answer).await;
    let q = api.client.quotas().retrieve().await.unwrap();
    assert_eq!((q.limits.vcpu, q.usage.vcpu), (8, 2));
}

#[tokio::test]
async fn quota_errors_map_to_kinds() {
    assert_error_mapping("getOrgQuotas", "/v1/org/quotas", |c| async move {
        c.quotas().retrieve().await
    })
    .await;
}
