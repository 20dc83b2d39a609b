//! `client.pricing()`: the public list prices (an operation of the upstream API after the
//! reference).

use crate::transport::call::call;
use crate::types::PricingResponse;
use crate::{FastvmClient, Result};

/// `client.pricing()`: the published list price of each billable resource. The operation needs
/// no API key (the client sends its key anyway). Needs a server with the upstream API after the
/// reference; an older one answers 404.
#[derive(Debug, Clone, Copy)]
pub struct Pricing<'a> {
    client: &'a FastvmClient,
}

impl<'a> Pricing<'a> {
    pub(crate) fn new(client: &'a FastvmClient) -> Self {
        Pricing { client }
    }

    /// `GET /v1/pricing`: compute as a graduated ladder per vCPU-hour, and volume storage per
    /// GiB-month. Rates are decimal strings (`"0.09"`, USD): parse them with a decimal type,
    /// not a float, to keep them exact.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// let prices = client.pricing().retrieve().await?;
    /// for tier in &prices.compute.tiers {
    ///     let to = tier.to_vcpu_hours.map_or("∞".to_string(), |h| h.to_string());
    ///     println!("tier {}: {}–{to} vCPU-h at ${}/vCPU-h", tier.tier, tier.from_vcpu_hours, tier.rate_per_vcpu_hour);
    /// }
    /// println!("volumes: ${}/GiB-month", prices.volume_storage.rate_per_gib_month);
    /// # Ok(()) }
    /// ```
    pub async fn retrieve(&self) -> Result<PricingResponse> {
        call("getPricing", self.client, |api| api.get_pricing().send()).await
    }
}
