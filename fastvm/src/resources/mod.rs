//! Resource groups mirroring the reference: `client.vms()`, `client.vms().services()`, ….

mod build_contexts;
mod builds;
mod files;
mod health;
mod quotas;
mod services;
mod snapshots;
mod ssh_keys;
mod vms;

pub use build_contexts::BuildContexts;
pub use builds::Builds;
pub use files::Files;
pub use health::Health;
pub use quotas::Quotas;
pub use services::Services;
pub use snapshots::Snapshots;
pub use ssh_keys::SshKeys;
pub use vms::{LaunchResponse, LaunchedVm, Vms};
