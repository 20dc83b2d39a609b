//! Shared support of the workspace's contract and end-to-end tests.

pub mod fake;
pub mod schema;
