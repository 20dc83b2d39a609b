//! The one path to the network (private): every API request, generated or hand-built, is
//! prepared (auth header, default headers, per-operation timeout), sent, traced and retried
//! here, and its failure mapped to [`Error`](crate::Error).
//!
//! - `http.rs`: the transport of a client view, and reading answers;
//! - `call.rs`: how resource methods make a generated call;
//! - `retry.rs`: [`RetryPolicy`] and the one retry loop;
//! - `ops.rs`: the per-operation facts the transport reads.

pub(crate) mod call;
pub(crate) mod http;
pub(crate) mod ops;
pub(crate) mod retry;

pub use retry::RetryPolicy;
