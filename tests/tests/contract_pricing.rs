//! Contract tests of the public list prices (`client.pricing()`), against wiremock.

mod common;

use common::{Api, assert_error_mapping, assert_lossless};
use serde_json::json;

#[tokio::test]
async fn get_pricing_wire() {
    let api = Api::start().await;
    let answer = json!({
        "compute": { "tiers": [
            { "tier": 1, "fromVcpuHours": 0.0, "toVcpuHours": 1000.0, "ratePerVcpuHour": "0.09" },
            { "tier": 2, "fromVcpuHours": 1000, "toVcpuHours": null, "ratePerVcpuHour": "0.07" }
        ]},
        "volumeStorage": { "ratePerGiBMonth": "0.10" }
    });
    api.expect("getPricing", "/v1/pricing", 200, answer.clone()).await;
    let prices = api.client.pricing().retrieve().await.unwrap();
    let tiers = &prices.compute.tiers;
    assert_eq!(tiers.len(), 2);
    assert_eq!((tiers[0].tier, tiers[0].to_vcpu_hours), (1, Some(1000.0)));
    // The open-ended top tier: `null` is kept as none, the rate stays the exact decimal string.
    assert_eq!(
        (tiers[1].to_vcpu_hours, tiers[1].rate_per_vcpu_hour.as_str()),
        (None, "0.07")
    );
    assert_eq!(prices.volume_storage.rate_per_gib_month, "0.10");
    assert_lossless(&answer["compute"]["tiers"][0], &tiers[0]);
    assert_eq!(api.sent("getPricing").await.body, None);
}

#[tokio::test]
async fn pricing_errors_map_to_kinds() {
    assert_error_mapping(
        "getPricing",
        "/v1/pricing",
        |c| async move { c.pricing().retrieve().await },
    )
    .await;
}
