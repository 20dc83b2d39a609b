//! Ergonomic launch parameters: `launch::machine("c1m2")` or `launch::snapshot(id)`.

use std::collections::BTreeMap;

use crate::types::{CreateVmRequest, EnvVars, FirewallPolicy, MachineType, Metadata, Ttl, TtlAction};

/// Launch parameters built step by step; converts into the wire [`CreateVmRequest`].
///
/// ```
/// let params = fastvm::launch::machine("c1m2")
///     .name("dev")
///     .metadata("team", "infra")
///     .env("RUST_LOG", "debug")
///     .ttl_seconds(3600, fastvm::types::TtlAction::Pause);
/// let wire: fastvm::types::CreateVmRequest = params.into();
/// assert_eq!(wire.machine_type.unwrap().0, "c1m2");
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LaunchParams(CreateVmRequest);

/// Cold-boot a VM of `machine_type` (e.g. `c1m2`, `c2m4`).
pub fn machine(machine_type: impl Into<String>) -> LaunchParams {
    LaunchParams(CreateVmRequest {
        machine_type: Some(MachineType(machine_type.into())),
        ..Default::default()
    })
}

/// Restore a VM from a snapshot.
pub fn snapshot(snapshot_id: impl Into<String>) -> LaunchParams {
    LaunchParams(CreateVmRequest {
        snapshot_id: Some(snapshot_id.into()),
        ..Default::default()
    })
}

impl LaunchParams {
    /// The VM's name (trimmed, at most 64 characters kept by the server).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.0.name = Some(name.into());
        self
    }

    /// Adds one metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.0
            .metadata
            .get_or_insert_with(|| Metadata(BTreeMap::new()))
            .0
            .insert(key.into(), value.into());
        self
    }

    /// Adds one environment variable injected at boot.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.0
            .env_vars
            .get_or_insert_with(|| EnvVars(BTreeMap::new()))
            .0
            .insert(key.into(), value.into());
        self
    }

    /// Overrides the disk size in GiB.
    pub fn disk_gib(mut self, gib: i64) -> Self {
        self.0.disk_gi_b = Some(gib);
        self
    }

    /// Sets a TTL: after `seconds` of running time, `action` (pause or delete). `seconds` of 0
    /// is kept as "no TTL".
    pub fn ttl_seconds(mut self, seconds: u64, action: TtlAction) -> Self {
        self.0.ttl = (seconds > 0).then_some(Ttl { seconds, action });
        self
    }

    /// Sets the initial firewall policy.
    pub fn firewall(mut self, policy: FirewallPolicy) -> Self {
        self.0.firewall = Some(policy);
        self
    }

    /// The wire request, for anything not covered above.
    pub fn into_request(self) -> CreateVmRequest {
        self.0
    }
}

impl From<LaunchParams> for CreateVmRequest {
    fn from(p: LaunchParams) -> Self {
        p.0
    }
}
