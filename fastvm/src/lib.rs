//! Rust SDK for the [fastvm](https://fastvm.org) microVM API.
//!
//! Launch Linux microVMs (cold or from snapshots), run and stream commands in them, move files
//! and whole directories in and out, snapshot them, open services and firewalls, build images.
//!
//! ```no_run
//! use fastvm::{FastvmClient, launch};
//!
//! # async fn demo() -> fastvm::Result<()> {
//! let client = FastvmClient::from_env()?; // FASTVM_API_KEY, optional FASTVM_BASE_URL
//! // Waits until running; deleted when `vm` is dropped (or explicitly, below).
//! let vm = client.launch_vm(launch::machine("c1m2").name("dev")).await?;
//! let out = vm.run("echo hello from $(hostname)").await?.check()?;
//! println!("{}", out.stdout);
//! vm.delete().await?;
//! # Ok(()) }
//! ```
//!
//! # Install
//! ```toml
//! [dependencies]
//! fastvm = "0.1"
//! tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
//! futures = "0.3" # to consume exec streams with `StreamExt`, as the examples do
//! ```
//!
//! # Features
//! - `rustls` (default): TLS for API calls and the console's WebSocket through rustls, with the
//!   platform's roots.
//! - `native-tls`: the platform's TLS instead (`default-features = false`; OpenSSL's headers on
//!   Linux).
//! - `blocking`: `fastvm::blocking`, the same API for callers without an async
//!   runtime.
//! - Neither TLS feature (`default-features = false`): the crate builds, for plain `http://`
//!   only (a local `fastvm-fake`, a proxy on loopback): an `https://` call fails (reqwest is
//!   built without TLS) and the console says this build has no TLS.
//!
//! Examples, one per capability, are in the repository's `fastvm/examples/` (`cargo run
//! --example quickstart` runs against an embedded `fastvm-fake` when `FASTVM_API_KEY` is unset).
//!
//! # Map
//! - [`FastvmClient`]: configuration ([`ClientBuilder`]), resource groups mirroring the API
//!   reference ([`resources`]), per-call [`RequestOptions`]. Required parameters are positional;
//!   optional ones are set on the request builder a method returns, which is awaited directly.
//! - [`vm`]: a [`vm::Vm`] handle, and [`vm::OwnedVm`], deleted on every exit path
//!   ([`FastvmClient::launch_vm`], [`FastvmClient::with_vm`]); waiting for a port or a command
//!   in a VM, and background processes ([`vm::Vm::wait_for_port`], [`vm::Vm::spawn`]).
//! - [`types`]: the wire types, generated from `openapi.json` by progenitor (crate `fastvm-api`);
//!   tolerant of what the server may add or leave out, with open enums for statuses.
//! - [`exec`]: [`exec::Command`] (`sh`, `bash`, argv; cwd, env, stdin, timeout), checked results
//!   ([`exec::RunOutput::check`]), the NDJSON [`exec::ExecStream`] and its events.
//! - Waits: launch-and-wait ([`FastvmClient::launch_vm`]), build and snapshot polling
//!   ([`FastvmClient::wait_for_build`], [`FastvmClient::wait_for_snapshot_ready`]).
//! - [`transfer`]: file and directory upload/download through presigned URLs, and many files at
//!   once ([`transfer::UploadMany`]).
//! - [`workflows`]: many VMs at once (fleets), sweeping leftovers by label and age, keeping the
//!   newest snapshots of a name family, images made from setup steps; [`names`]: names within
//!   the server's rules.
//! - [`console`]: interactive console sessions (a terminal on a VM over a WebSocket).
//! - [`config_file`]: the official CLI's configuration file (read only when asked).
//! - [`Error`]: the one error type; [`RetryPolicy`]: how failed calls are retried.
//! - `blocking` (feature `blocking`): the same API for callers without an async runtime.
//!
//! # The rules of this API
//! - **Resource groups** (`client.vms()`, `client.snapshots()`, …) do one HTTP operation per
//!   method, named as in the API reference. **Handles** ([`vm::Vm`], [`vm::OwnedVm`]) and
//!   **workflows** ([`FastvmClient::launch_vm`], [`workflows`], transfers) wait, own and
//!   compose.
//! - What a call needs is positional; everything optional is a setter on the request builder the
//!   method returns, which is awaited directly.
//! - **`timeout`** is the limit of one request or one command (the client's HTTP timeout,
//!   [`exec::Command::timeout`], a transfer's `fetch_timeout`/`exec_timeout`); **`deadline`** is
//!   how long a whole wait may take, across all its polls (every `wait_*`, a launch, a fleet,
//!   an image build, [`exec::ExecStream::deadline`]).
//!
//! # Logging
//! The SDK logs with `tracing`, with targets under `fastvm`: each HTTP attempt and presigned
//! storage request at DEBUG (method, URL without its query, status, duration, attempt), retries
//! at DEBUG, failed cleanups at WARN, inside a `fastvm.call` span per API call (operation, VM id)
//! and a span per workflow (`fastvm.launch`, `fastvm.transfer`, `fastvm.fleet`,
//! `fastvm.image`). No secret is logged at any level. With `tracing-subscriber`:
//!
//! ```ignore
//! tracing_subscriber::fmt().with_env_filter("fastvm=debug").init();
//! ```
//!
//! Every request goes through one transport that adds the `X-API-Key` header, applies the
//! per-operation timeout and traces each attempt; one loop applies the retry policy to every API
//! call and storage upload.

#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod background;
#[cfg(feature = "blocking")]
#[cfg_attr(docsrs, doc(cfg(feature = "blocking")))]
pub mod blocking;
mod cleanup;
mod client;
mod config;
mod error;
pub mod exec;
pub mod names;
mod redact;
pub mod resources;
pub mod transfer;
mod transport;
mod validate;
pub mod vm;
pub mod workflows;

#[doc(inline)]
pub use config::file as config_file;
#[doc(inline)]
pub use vm::{console, launch};

pub use config::{ClientBuilder, RequestOptions};
pub use error::{ApiError, ApiErrorKind, Error};
pub use transport::FastvmClient;
pub use transport::RetryPolicy;

/// The wire types a user of this crate meets: what calls return, and the values they take
/// (firewall policies, TTLs, metadata, statuses). Generated from `openapi.json` by `fastvm-api`.
///
/// The list is derived by code generation (`fastvm-api/codegen/facade_types.rs`): every type an
/// answer of the API can carry, at any depth, plus [`CreateVmRequest`](types::CreateVmRequest)
/// (users pass it to a launch), minus `SshKeyListResponse` (the facade answers with a `Vec` of
/// its keys). The other generated types are `fastvm_api::types`, for `client.api()`: the request
/// bodies the SDK builds from its own builders, and the wire's internals the SDK turns into its
/// own types (the error bodies: [`ApiError`]; the exec stream's events: [`exec::ExecEvent`]).
/// `cargo xtask check` fails on a public facade signature that names a generated type not
/// listed here.
pub mod types {
    fastvm_api::facade_types!();
}

/// The README's examples, compiled (and the `no_run` ones type-checked) by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
