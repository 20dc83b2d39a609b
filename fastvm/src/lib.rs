//! Rust SDK for the [fastvm](https://fastvm.org) microVM API.
//!
//! (Crate documentation is filled in below as the facade lands.)

#![deny(missing_docs)]

mod client;
mod config;
pub mod error;
pub mod exec;
mod http;
pub mod launch;
pub mod redact;
pub mod resources;
pub mod retry;
pub mod shell;
pub mod transfer;
mod validate;
pub mod wait;

pub use client::FastvmClient;
pub use config::{ClientBuilder, RequestOptions};
pub use error::{ApiError, ApiErrorKind, Error};

/// The generated wire types, re-exported from `fastvm-api`.
pub mod types {
    pub use fastvm_api::types::*;
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
