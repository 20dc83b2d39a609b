//! [`FastvmClient`] and its resource accessors.

use std::fmt;
use std::sync::Arc;

use fastvm_api::hooks::Policy;

use crate::Result;
use crate::config::{ClientBuilder, RequestOptions, Settings};
use crate::resources::{BuildContexts, Builds, Health, Quotas, Snapshots, Vms};
use crate::transport::http::ApiTransport;

/// The fastvm client: cheap to clone (an `Arc`), `Send + Sync`, one shared connection pool.
///
/// ```no_run
/// # async fn demo() -> fastvm::Result<()> {
/// let client = fastvm::FastvmClient::from_env()?; // FASTVM_API_KEY, FASTVM_BASE_URL
/// let vm = client.vms().launch(fastvm::launch::machine("c1m2")).await?;
/// let out = client.vms().run(&vm.id, "echo hello").await?;
/// println!("{}", out.stdout);
/// client.vms().delete(&vm.id).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct FastvmClient {
    inner: Arc<Inner>,
}

struct Inner {
    /// The generated client of this view, sending through `transport`: the facade's calls and
    /// those made through [`FastvmClient::api`] alike.
    api: fastvm_api::Client,
    /// The view's transport; its `settings` are shared by every view of the client.
    transport: Arc<ApiTransport>,
}

impl fmt::Debug for FastvmClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FastvmClient")
            .field("settings", &self.inner.transport.settings)
            .finish()
    }
}

impl FastvmClient {
    /// A client configured from `FASTVM_API_KEY` (required) and `FASTVM_BASE_URL` (optional;
    /// empty means the default `https://api.fastvm.org`).
    pub fn from_env() -> Result<Self> {
        ClientBuilder::new().build()
    }

    /// A builder for a client configured in code.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    pub(crate) fn from_parts(settings: Settings) -> Self {
        Self::view(Arc::new(settings), RequestOptions::default())
    }

    fn view(settings: Arc<Settings>, options: RequestOptions) -> Self {
        let transport = Arc::new(ApiTransport { settings, options });
        let policy = Policy::from_arc(transport.clone());
        let api =
            fastvm_api::Client::new_with_client(&transport.settings.base_url, transport.settings.http.clone(), policy);
        FastvmClient {
            inner: Arc::new(Inner { api, transport }),
        }
    }

    /// A view of this client whose calls use `options` (timeout, retries) on top of this
    /// view's own. It shares the connection pool; creating one is cheap.
    pub fn with_options(&self, options: RequestOptions) -> Self {
        let merged = options.over(&self.inner.transport.options);
        Self::view(self.inner.transport.settings.clone(), merged)
    }

    /// This view with a connection pool of its own, for work run on a runtime of its own (a
    /// dropped guard's cleanup): see `Settings::with_own_pool`.
    pub(crate) fn with_own_pool(&self) -> Result<FastvmClient> {
        let transport = &self.inner.transport;
        let settings = transport.settings.with_own_pool()?;
        Ok(Self::view(Arc::new(settings), transport.options.clone()))
    }

    /// The API base URL in use (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.inner.transport.settings.base_url
    }

    /// The generated low-level client, for anything the facade does not wrap. Its calls go
    /// through the same auth, timeout and retry policy.
    pub fn api(&self) -> &fastvm_api::Client {
        &self.inner.api
    }

    pub(crate) fn transport(&self) -> &ApiTransport {
        &self.inner.transport
    }

    /// The retry budget of this view (the client's, or a `with_options` override).
    pub(crate) fn max_retries(&self) -> u32 {
        self.inner.transport.max_retries()
    }

    pub(crate) fn storage_http(&self) -> std::result::Result<&reqwest::Client, crate::transfer::FileTransferError> {
        self.inner.transport.settings.storage.client().map_err(|message| {
            crate::transfer::FileTransferError::new(crate::transfer::FileTransferErrorKind::Storage, message)
        })
    }

    /// The retry policy of the client, shared by API calls and storage uploads.
    pub(crate) fn retry_policy(&self) -> &crate::RetryPolicy {
        &self.inner.transport.settings.retry
    }

    /// Health check (`GET /healthz`).
    pub fn health(&self) -> Health<'_> {
        Health::new(self)
    }

    /// VMs and their sub-resources (services, SSH keys, files).
    pub fn vms(&self) -> Vms<'_> {
        Vms::new(self)
    }

    /// Snapshots.
    pub fn snapshots(&self) -> Snapshots<'_> {
        Snapshots::new(self)
    }

    /// Image builds.
    pub fn builds(&self) -> Builds<'_> {
        Builds::new(self)
    }

    /// Build-context uploads.
    pub fn build_contexts(&self) -> BuildContexts<'_> {
        BuildContexts::new(self)
    }

    /// Org quotas.
    pub fn quotas(&self) -> Quotas<'_> {
        Quotas::new(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync + 'static>() {}
    fn send<T: Send + 'static>() {}

    /// The client is shared across tasks and threads; errors cross `?` into `anyhow`-style
    /// boxes; streams and transfer futures are spawned.
    #[test]
    fn public_types_are_thread_safe() {
        send_sync::<FastvmClient>();
        send_sync::<crate::Error>();
        send_sync::<crate::RequestOptions>();
        send_sync::<crate::RetryPolicy>();
        send::<crate::exec::ExecStream>();
    }

    /// Every request builder is awaited as a `Send` future, so it can be spawned.
    #[tokio::test]
    async fn futures_are_send() {
        use std::future::IntoFuture;
        fn is_send<F: std::future::Future + Send>(_: F) {}
        let client = FastvmClient::builder()
            .api_key("k")
            .base_url("http://127.0.0.1:9")
            .build()
            .unwrap();
        is_send(client.vms().launch(crate::launch::machine("c1m2")).into_future());
        is_send(client.vms().list().into_future());
        is_send(client.vms().stream("id", "true"));
        is_send(client.upload("id", "/nonexistent", "/x").into_future());
        is_send(client.download("id", "/x", "/nonexistent").into_future());
        is_send(client.wait_for_vm_ready("id").into_future());
    }

    #[test]
    fn clones_share_one_pool_and_debug_hides_the_key() {
        let client = FastvmClient::builder().api_key("secret-key-123").build().unwrap();
        let other = client.clone();
        assert!(Arc::ptr_eq(&client.inner, &other.inner));
        let debug = format!("{client:?}");
        assert!(!debug.contains("secret-key-123"), "{debug}");
        assert!(debug.contains("https://api.fastvm.org"), "{debug}");
    }
}
