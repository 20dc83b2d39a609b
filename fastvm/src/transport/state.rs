//! The client's state: the [`FastvmClient`] type itself, what every layer holds.
//!
//! The type is defined here, beside the transport it wraps, so that resource groups, handles and
//! workflows can hold a client without importing the public API built on top of them; that
//! API (construction, views, group accessors, every root method) is `client.rs`, in one file.

use std::fmt;
use std::sync::Arc;

use fastvm_api::hooks::Policy;

use crate::Result;
use crate::config::{RequestOptions, Settings};
use crate::error::{FileTransferError, FileTransferErrorKind};
use crate::transport::http::ApiTransport;

/// The fastvm client: cheap to clone (an `Arc`), `Send + Sync`, one shared connection pool.
///
/// ```no_run
/// # async fn demo() -> fastvm::Result<()> {
/// let client = fastvm::FastvmClient::from_env()?; // FASTVM_API_KEY, FASTVM_BASE_URL
/// let vm = client.launch_vm(fastvm::launch::machine("c1m2")).await?; // waits until it runs
/// let out = vm.run("echo hello").await?;
/// println!("{}", out.stdout);
/// vm.delete().await?; // or when `vm` is dropped
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct FastvmClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// The generated client of this view, sending through `transport`: the facade's calls and
    /// those made through [`FastvmClient::api`] alike.
    pub(crate) api: fastvm_api::Client,
    /// The view's transport; its `settings` are shared by every view of the client.
    pub(crate) transport: Arc<ApiTransport>,
}

impl fmt::Debug for FastvmClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FastvmClient")
            .field("settings", &self.inner.transport.settings)
            .finish()
    }
}

impl FastvmClient {
    /// A client view of `settings` with `options` on top: the generated client sends through
    /// the view's transport.
    pub(crate) fn view(settings: Arc<Settings>, options: RequestOptions) -> Self {
        let transport = Arc::new(ApiTransport { settings, options });
        let policy = Policy::from_arc(transport.clone());
        let api =
            fastvm_api::Client::new_with_client(&transport.settings.base_url, transport.settings.http.clone(), policy);
        FastvmClient {
            inner: Arc::new(Inner { api, transport }),
        }
    }

    /// This view with a connection pool of its own, for work run on a runtime of its own (a
    /// dropped guard's cleanup): see `Settings::with_own_pool`.
    pub(crate) fn with_own_pool(&self) -> Result<FastvmClient> {
        let transport = &self.inner.transport;
        let settings = transport.settings.with_own_pool()?;
        Ok(Self::view(Arc::new(settings), transport.options.clone()))
    }

    pub(crate) fn transport(&self) -> &ApiTransport {
        &self.inner.transport
    }

    /// The retry budget of this view (the client's, or a `with_options` override).
    pub(crate) fn max_retries(&self) -> u32 {
        self.inner.transport.max_retries()
    }

    /// The client of presigned storage requests (built on the first transfer).
    pub(crate) fn storage_http(&self) -> std::result::Result<&reqwest::Client, FileTransferError> {
        (self.inner.transport.settings.storage.client())
            .map_err(|message| FileTransferError::new(FileTransferErrorKind::Storage, message))
    }

    /// The retry policy of this view (the client's, with the view's `max_retries`), which
    /// storage uploads follow as API calls do.
    pub(crate) fn retry_policy(&self) -> crate::RetryPolicy {
        self.inner
            .transport
            .settings
            .retry
            .clone()
            .max_retries(self.max_retries())
    }
}
