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
//! let vm = client.vms().launch(launch::machine("c1m2").name("dev")).await?; // waits until running
//! let out = client.vms().run(&vm.id, "echo hello from $(hostname)").await?;
//! println!("{}", out.stdout);
//! client.vms().delete(&vm.id).await?;
//! # Ok(()) }
//! ```
//!
//! # Map
//! - [`FastvmClient`]: configuration ([`ClientBuilder`]), resource groups mirroring the API
//!   reference ([`resources`]), per-call [`RequestOptions`].
//! - [`types`]: the wire types, generated from `openapi.json` by progenitor (crate `fastvm-api`).
//! - [`exec`]: [`exec::Command`], the NDJSON [`exec::ExecStream`] and its events.
//! - [`transfer`]: file and directory upload/download through presigned URLs.
//! - [`config_file`]: the official CLI's configuration file (read only when asked).
//! - [`console`]: interactive console sessions (a terminal on a VM over a WebSocket).
//! - [`wait`]: launch-and-wait and build polling.
//! - [`Error`]: the one error type; [`RetryPolicy`]: how failed calls are retried.
//!
//! Every request goes through one transport that adds the `X-API-Key` header, applies the
//! per-operation timeout and the retry policy, and traces each attempt with `tracing`.

#![deny(missing_docs)]

mod call;
mod client;
mod config;
pub mod config_file;
pub mod console;
mod error;
pub mod exec;
mod http;
pub mod launch;
mod ops;
mod redact;
pub mod resources;
mod retry;
mod shell;
pub mod transfer;
mod validate;
pub mod vm;
pub mod wait;

pub use client::FastvmClient;
pub use config::{ClientBuilder, RequestOptions};
pub use error::{ApiError, ApiErrorKind, Error};
pub use retry::RetryPolicy;

/// The generated wire types, re-exported from `fastvm-api`.
pub mod types {
    pub use fastvm_api::types::*;
}

/// The README's examples, compiled (and the `no_run` ones type-checked) by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
