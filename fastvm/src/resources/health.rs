use crate::transport::call::call;
use crate::types::HealthResponse;
use crate::{FastvmClient, Result};

/// `client.health()`: the API health check.
#[derive(Debug, Clone, Copy)]
pub struct Health<'a> {
    client: &'a FastvmClient,
}

impl<'a> Health<'a> {
    pub(crate) fn new(client: &'a FastvmClient) -> Self {
        Health { client }
    }

    /// `GET /healthz`: succeeds when the API is reachable.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// let health = client.health().check().await?;
    /// println!("{:?}", health.status);
    /// # Ok(()) }
    /// ```
    pub async fn check(&self) -> Result<HealthResponse> {
        call("getHealth", self.client, |api| api.get_health().send()).await
    }
}
