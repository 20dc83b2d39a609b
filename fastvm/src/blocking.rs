//! The whole SDK for callers without an async runtime (feature `blocking`, off by default).
//!
//! There is one implementation: [`Client`] here is the async [`crate::FastvmClient`]
//! (it dereferences to it) plus a Tokio runtime this module owns, and every call of the async
//! API becomes blocking with [`Block::block`]: `client.vms().retrieve(id).block()?`. Resource
//! groups, request builders, helpers, the owned-VM guard: all the same as in the async client,
//! with `.block()` at the end instead of `.await`. An exec stream is an [`Iterator`] with
//! [`BlockingStream::iter`].
//!
//! ```no_run
//! use fastvm::blocking::{Block, BlockingStream, Client};
//! use fastvm::launch;
//!
//! fn main() -> fastvm::Result<()> {
//!     let client = Client::from_env()?;
//!     let vm = client.launch_vm(launch::machine("c1m2")).block()?; // deleted when dropped
//!     let out = vm.run("uname -a").block()?.check()?;
//!     println!("{}", out.stdout);
//!     for event in vm.stream("make -j8").block()?.iter() {
//!         println!("{:?}", event?);
//!     }
//!     vm.upload("./src", "/root/src").block()?;
//!     vm.delete().block()?;
//!     Ok(())
//! }
//! ```
//!
//! # Inside an async runtime
//! Blocking a thread of an async runtime would stall it (or deadlock a single-threaded one), so
//! [`Block::block`] called from inside a Tokio runtime returns [`Error::Config`] saying so, and
//! does nothing: use the async API there (`.await` instead of `.block()`).
//!
//! # Guards and streams
//! Dropping an [`OwnedVm`](crate::vm::OwnedVm) deletes its VM before the drop returns (up to
//! 30 s), as with the async client: a program may exit right after the drop, at the end of
//! `main` or on an early `?`. Dropping a stream or its iterator aborts the request.
//!
//! A blocking call is refused on any thread that runs inside a Tokio runtime, its
//! `spawn_blocking` threads included (there, hand the async call to the runtime instead).

use std::future::IntoFuture;
use std::sync::OnceLock;

use futures::StreamExt as _;

use crate::exec::{ExecEvent, ExecStream};
use crate::{ClientBuilder, Error, Result};

/// The runtime every blocking call runs on: created on first use, one for the process (a few
/// worker threads drive the I/O while the calling thread blocks).
fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("fastvm-blocking")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::config(format!("cannot start the blocking client's runtime: {e}")))
}

/// Runs `future` to completion on the blocking runtime, refusing (with an error) when called from
/// inside an async runtime.
fn block_on<F: std::future::Future>(future: F) -> Result<F::Output> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::config(
            "a fastvm::blocking call was made inside an async runtime, where it would block the \
             runtime's thread: use the async API (`.await`) there",
        ));
    }
    let rt = runtime()?;
    crate::background::remember(rt.handle());
    Ok(rt.block_on(future))
}

/// Makes any call of the SDK blocking: `.block()` where the async API says `.await`.
///
/// Implemented for every request of the SDK (anything awaitable whose output is a
/// `fastvm::Result`).
pub trait Block: IntoFuture<Output = Result<Self::Value>> + Sized {
    /// The call's value.
    type Value;

    /// Runs the call on the blocking runtime and returns its result. From inside an async
    /// runtime it returns [`Error::Config`] without running the call.
    fn block(self) -> Result<Self::Value> {
        block_on(self.into_future())?
    }
}

impl<T, F> Block for F
where
    F: IntoFuture<Output = Result<T>>,
{
    type Value = T;
}

/// An exec stream as an [`Iterator`]: `stream.iter()`.
pub trait BlockingStream {
    /// The events of the stream, each read by blocking the calling thread; it ends after the
    /// exit event, or with the stream's error. From inside an async runtime it yields one
    /// [`Error::Config`] and ends.
    fn iter(self) -> Events;
}

impl BlockingStream for ExecStream {
    fn iter(self) -> Events {
        Events { stream: Some(self) }
    }
}

/// The iterator of [`BlockingStream::iter`]. Dropping it aborts the request.
#[derive(Debug)]
pub struct Events {
    stream: Option<ExecStream>,
}

impl Iterator for Events {
    type Item = Result<ExecEvent>;

    fn next(&mut self) -> Option<Result<ExecEvent>> {
        let stream = self.stream.as_mut()?;
        let next = match block_on(stream.next()) {
            Ok(next) => next,
            Err(e) => Some(Err(e)),
        };
        if !matches!(next, Some(Ok(_))) {
            self.stream = None;
        }
        next
    }
}

/// The blocking fastvm client: the async [`crate::FastvmClient`], whose every call is made
/// blocking with [`Block::block`]. It dereferences to the async client, so every resource group,
/// request builder and helper is there: `client.vms().list().status(..).block()?`.
///
/// ```no_run
/// use fastvm::blocking::{Block, Client};
/// let client = Client::builder().api_key("hlm_...").max_retries(3).build()?;
/// let vms = client.vms().list().block()?;
/// # Ok::<(), fastvm::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    inner: crate::FastvmClient,
}

impl Client {
    /// A client configured from the environment, as [`crate::FastvmClient::from_env`].
    pub fn from_env() -> Result<Self> {
        crate::FastvmClient::from_env().map(Self::from)
    }

    /// A builder; finish it with [`Builder::build`].
    pub fn builder() -> Builder {
        Builder(ClientBuilder::new())
    }

    /// The async client inside.
    pub fn as_async(&self) -> &crate::FastvmClient {
        &self.inner
    }

    /// Launches a VM, runs `f` with it (on the calling thread), and deletes it afterwards, also
    /// when `f` fails or panics; as [`crate::FastvmClient::with_vm`].
    ///
    /// ```no_run
    /// use fastvm::blocking::{Block, Client};
    /// let client = Client::from_env()?;
    /// let kernel = client.with_vm(fastvm::launch::machine("c1m2"), |vm| {
    ///     Ok::<_, fastvm::Error>(vm.run("uname -r").block()?.check()?.stdout.clone())
    /// })?;
    /// # Ok::<(), fastvm::Error>(())
    /// ```
    pub fn with_vm<T, E, F>(&self, params: impl Into<crate::launch::LaunchParams>, f: F) -> std::result::Result<T, E>
    where
        F: FnOnce(crate::vm::Vm) -> std::result::Result<T, E>,
        E: From<Error>,
    {
        self.inner.launch_vm(params).block_with(f)
    }
}

/// [`LaunchVm::with`](crate::vm::LaunchVm::with) for blocking callers: a launch configured with
/// its options (wait timeout, safety TTL), then `f` on the calling thread.
pub trait BlockWith {
    /// Launches the VM as configured, runs `f` with it (on the calling thread), and deletes it
    /// afterwards, also when `f` fails or panics; as [`Client::with_vm`].
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use fastvm::blocking::{Block, BlockWith, Client};
    /// let client = Client::from_env()?;
    /// let kernel = client
    ///     .launch_vm(fastvm::launch::machine("c1m2"))
    ///     .deadline(Duration::from_secs(60))
    ///     .safety_ttl(Duration::from_secs(120))
    ///     .block_with(|vm| Ok::<_, fastvm::Error>(vm.run("uname -r").block()?.check()?.stdout.clone()))?;
    /// # Ok::<(), fastvm::Error>(())
    /// ```
    fn block_with<T, E, F>(self, f: F) -> std::result::Result<T, E>
    where
        F: FnOnce(crate::vm::Vm) -> std::result::Result<T, E>,
        E: From<Error>;
}

impl BlockWith for crate::vm::LaunchVm<'_> {
    fn block_with<T, E, F>(self, f: F) -> std::result::Result<T, E>
    where
        F: FnOnce(crate::vm::Vm) -> std::result::Result<T, E>,
        E: From<Error>,
    {
        let owned = self.block()?;
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(owned.vm().clone())));
        let id = owned.id().to_string();
        let deleted = owned.delete().block();
        crate::vm::scoped_result(&id, outcome, deleted)
    }
}

impl From<crate::FastvmClient> for Client {
    fn from(inner: crate::FastvmClient) -> Self {
        Client { inner }
    }
}

impl std::ops::Deref for Client {
    type Target = crate::FastvmClient;

    fn deref(&self) -> &crate::FastvmClient {
        &self.inner
    }
}

/// Builds a blocking [`Client`]: the async [`ClientBuilder`] (it dereferences to it for
/// reading; its setters are here too through [`Builder::with`]), finished with
/// [`build`](Self::build).
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Builder(ClientBuilder);

impl Builder {
    /// Sets the API key (see [`ClientBuilder::api_key`]).
    pub fn api_key(self, key: impl Into<String>) -> Self {
        self.with(|b| b.api_key(key))
    }

    /// Sets the base URL (see [`ClientBuilder::base_url`]).
    pub fn base_url(self, url: impl Into<String>) -> Self {
        self.with(|b| b.base_url(url))
    }

    /// Sets the retry budget (see [`ClientBuilder::max_retries`]).
    pub fn max_retries(self, retries: u32) -> Self {
        self.with(|b| b.max_retries(retries))
    }

    /// Any other setting of the async [`ClientBuilder`]: `builder.with(|b| b.timeout(d))`.
    pub fn with(self, f: impl FnOnce(ClientBuilder) -> ClientBuilder) -> Self {
        Builder(f(self.0))
    }

    /// Builds the client.
    pub fn build(self) -> Result<Client> {
        self.0.build().map(Client::from)
    }
}
