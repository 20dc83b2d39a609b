//! `fastvm quota`, `fastvm pricing` and `fastvm health`.

use super::output::{self, Table};
use super::{Ctx, Result};

/// Prints the org's quota limits and usage.
pub async fn quota(ctx: &Ctx) -> Result {
    let q = ctx.client.quotas().retrieve().await?;
    if ctx.json {
        output::json(&q)?;
        return Ok(0);
    }
    let mut t = Table::new(&["RESOURCE", "USED", "LIMIT"]);
    let rows = [
        ("vcpu", Some(q.usage.vcpu), Some(q.limits.vcpu)),
        ("memory_mib", Some(q.usage.memory_mib), Some(q.limits.memory_mib)),
        ("disk_gib", Some(q.usage.disk_gib), Some(q.limits.disk_gib)),
        ("snapshots", Some(q.usage.snapshot_count), Some(q.limits.snapshot_count)),
        ("volumes", q.usage.volume_count, q.limits.volume_count),
        ("volume_gib", q.usage.volume_gib, q.limits.volume_gib),
    ];
    // A server at the reference's version has no volume quotas: those rows are left out.
    for (name, used, limit) in rows {
        if let (Some(used), Some(limit)) = (used, limit) {
            t.row(vec![name.to_string(), used.to_string(), limit.to_string()]);
        }
    }
    t.print();
    Ok(0)
}

/// Prints the public list prices (upstream API after the reference).
pub async fn pricing(ctx: &Ctx) -> Result {
    let p = ctx.client.pricing().retrieve().await?;
    if ctx.json {
        output::json(&p)?;
        return Ok(0);
    }
    let mut t = Table::new(&["RESOURCE", "FROM", "TO", "USD"]);
    for tier in &p.compute.tiers {
        t.row(vec![
            format!("compute tier {}", tier.tier),
            format!("{} vCPU-h", tier.from_vcpu_hours),
            tier.to_vcpu_hours.map_or("-".to_string(), |h| format!("{h} vCPU-h")),
            format!("{} per vCPU-h", tier.rate_per_vcpu_hour),
        ]);
    }
    t.row(vec![
        "volume storage".to_string(),
        String::new(),
        String::new(),
        format!("{} per GiB-month", p.volume_storage.rate_per_gib_month),
    ]);
    t.print();
    Ok(0)
}

/// Checks that the API answers.
pub async fn health(ctx: &Ctx) -> Result {
    let h = ctx.client.health().check().await?;
    if ctx.json {
        output::json(&h)?;
    } else {
        output::print_out(h.status.as_deref().unwrap_or("ok"));
    }
    Ok(0)
}
