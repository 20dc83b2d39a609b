use crate::transport::call::call;
use crate::types::HealthResponse;
use crate::{FastvmClient, Result};

/// `client.health()`: the API health checks (none needs an API key).
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

    /// `GET /livez`: succeeds while the API process is alive. From the API's spec before the
    /// reference: a server that no longer serves it answers 404
    /// ([`Error::is_not_found`](crate::Error::is_not_found)); [`check`](Self::check) is the
    /// health check every version has.
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// client.health().live().await?;
    /// # Ok(()) }
    /// ```
    pub async fn live(&self) -> Result<()> {
        call("getLiveness", self.client, |api| api.get_liveness().send()).await
    }

    /// `GET /readyz`: succeeds when the API is ready to serve; not ready is a 503
    /// ([`ApiErrorKind::Server`](crate::ApiErrorKind::Server)), returned once the client's
    /// retries are spent. From the API's spec before the reference, as [`live`](Self::live).
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient) -> fastvm::Result<()> {
    /// let ready = client.health().ready().await.is_ok();
    /// println!("ready: {ready}");
    /// # Ok(()) }
    /// ```
    pub async fn ready(&self) -> Result<()> {
        call("getReadiness", self.client, |api| api.get_readiness().send()).await
    }
}
