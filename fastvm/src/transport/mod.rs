//! The one path to the network (private): every API request, generated or hand-built, is
//! prepared (auth header, default headers, per-operation timeout), sent, traced and retried
//! here, and its failure mapped to [`Error`](crate::Error).
//!
//! - `state.rs`: the [`FastvmClient`] type and its private state (its API is `client.rs`);
//! - `http.rs`: the transport of a client view: prepare, send, trace;
//! - `call.rs`: how resource methods make a generated call;
//! - `response.rs`: reading answers and mapping error answers to [`Error::Api`](crate::Error::Api);
//! - `retry.rs`: [`RetryPolicy`] and the one retry loop;
//! - `ops.rs`: the per-operation facts the transport reads.

pub(crate) mod call;
pub(crate) mod http;
pub(crate) mod ops;
pub(crate) mod response;
pub(crate) mod retry;
mod state;

pub use retry::RetryPolicy;
pub use state::FastvmClient;
