//! Workflows: compositions of many calls with their own errors and cleanup.

pub mod fleet;
pub mod image;
mod prune;
