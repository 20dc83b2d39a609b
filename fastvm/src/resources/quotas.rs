use crate::transport::call::call;
use crate::types::OrgQuotaUsage;
use crate::{FastvmClient, Result};

/// `client.quotas()`: org quotas and usage.
#[derive(Debug, Clone, Copy)]
pub struct Quotas<'a> {
    client: &'a FastvmClient,
}

impl<'a> Quotas<'a> {
    pub(crate) fn new(client: &'a FastvmClient) -> Self {
        Quotas { client }
    }

    /// `GET /v1/org/quotas`.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// let q = client.quotas().retrieve().await?;
    /// println!("vCPU {}/{}", q.usage.vcpu, q.limits.vcpu);
    /// # Ok(()) }
    /// ```
    pub async fn retrieve(&self) -> Result<OrgQuotaUsage> {
        call("getOrgQuotas", self.client, |api| api.get_org_quotas().send()).await
    }
}
