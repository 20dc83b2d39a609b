//! What to launch: `launch::machine("c1m2")` (a cold boot) or `launch::snapshot(id)` (a restore),
//! with the optional settings of a new VM.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::types::{CreateVmRequest, EnvVars, FirewallPolicy, MachineType, Metadata, Ttl, TtlAction};
use crate::{Result, validate};

/// Launch parameters, built step by step; the argument of
/// [`Vms::launch`](crate::resources::Vms::launch).
///
/// ```
/// use std::time::Duration;
/// let params = fastvm::launch::machine("c1m2")
///     .name("dev")
///     .metadata("team", "infra")
///     .env("RUST_LOG", "debug")
///     .ttl(Duration::from_secs(3600), fastvm::types::TtlAction::Pause);
/// # let _ = params;
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use]
pub struct LaunchParams {
    request: CreateVmRequest,
    ttl: Option<(Duration, TtlAction)>,
}

/// Cold-boot a VM of `machine_type` (e.g. `c1m2`, `c2m4`).
pub fn machine(machine_type: impl Into<String>) -> LaunchParams {
    let mut request = CreateVmRequest::new();
    request.machine_type = Some(MachineType(machine_type.into()));
    LaunchParams::from(request)
}

/// Restore a VM from a snapshot.
pub fn snapshot(snapshot_id: impl Into<String>) -> LaunchParams {
    let mut request = CreateVmRequest::new();
    request.snapshot_id = Some(snapshot_id.into());
    LaunchParams::from(request)
}

impl LaunchParams {
    /// The VM's name (trimmed, at most 64 characters kept by the server).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.request.name = Some(name.into());
        self
    }

    /// Adds one metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.request
            .metadata
            .get_or_insert_with(|| Metadata(BTreeMap::new()))
            .0
            .insert(key.into(), value.into());
        self
    }

    /// Adds a label: a metadata entry to find the VM by later
    /// (`client.vms().list().metadata(key, value)`). The same as [`metadata`](Self::metadata).
    pub fn label(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata(key, value)
    }

    /// Adds one environment variable injected at boot.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.request
            .env_vars
            .get_or_insert_with(|| EnvVars(BTreeMap::new()))
            .0
            .insert(key.into(), value.into());
        self
    }

    /// Overrides the disk size in GiB (at least 1).
    pub fn disk_gib(mut self, gib: u32) -> Self {
        self.request.disk_gib = Some(i64::from(gib));
        self
    }

    /// A TTL: after `after` of running time (whole seconds, at least 1, at most a year), the
    /// server carries out `action` (pause or delete). Without one the VM has no TTL; a zero
    /// duration is refused when the VM is launched.
    pub fn ttl(mut self, after: Duration, action: TtlAction) -> Self {
        self.ttl = Some((after, action));
        self
    }

    /// The initial firewall policy.
    pub fn firewall(mut self, policy: FirewallPolicy) -> Self {
        self.request.firewall = Some(policy);
        self
    }

    /// Whether a TTL is set.
    pub(crate) fn has_ttl(&self) -> bool {
        self.ttl.is_some() || self.request.ttl.is_some()
    }

    /// The wire request, validated: what the API would refuse is refused here, before any
    /// request.
    pub(crate) fn to_request(&self) -> Result<CreateVmRequest> {
        let mut request = self.request.clone();
        if let Some((after, action)) = &self.ttl {
            request.ttl = Some(Ttl::new(
                validate::seconds("ttl.seconds", *after)?.get(),
                action.clone(),
            ));
        }
        if let Some(m) = &request.metadata {
            validate::metadata("metadata", m)?;
        }
        if let Some(e) = &request.env_vars {
            validate::env_vars("envVars", e)?;
        }
        if let Some(t) = &request.ttl {
            validate::ttl("ttl", t)?;
        }
        if let Some(f) = &request.firewall {
            validate::firewall("firewall", f)?;
        }
        if let Some(d) = request.disk_gib
            && d < 1
        {
            return Err(crate::Error::invalid("diskGiB", "must be at least 1"));
        }
        if let Some(s) = &request.snapshot_id {
            validate::id("snapshotId", s)?;
        }
        Ok(request)
    }
}

/// Launch parameters from a wire request, for settings this builder does not cover.
impl From<CreateVmRequest> for LaunchParams {
    fn from(request: CreateVmRequest) -> Self {
        LaunchParams { request, ttl: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_environment_names_not_values() {
        let params = machine("c1m2").env("DB_PASSWORD", "pw-s3cret");
        let shown = format!("{params:?}");
        assert!(shown.contains("DB_PASSWORD") && !shown.contains("pw-s3cret"), "{shown}");
    }

    #[test]
    fn a_zero_ttl_is_refused_and_fractions_round_up() {
        let zero = machine("c1m2").ttl(Duration::ZERO, TtlAction::Delete);
        match zero.to_request() {
            Err(crate::Error::InvalidInput { field, .. }) => assert_eq!(field, "ttl.seconds"),
            other => panic!("{other:?}"),
        }
        let wire = machine("c1m2")
            .ttl(Duration::from_millis(1500), TtlAction::Pause)
            .to_request()
            .unwrap();
        assert_eq!(wire.ttl.unwrap().seconds, 2);
        assert!(
            machine("c1m2").to_request().unwrap().ttl.is_none(),
            "no TTL unless one is set"
        );
        let year_and_a_second = Duration::from_secs(31_536_001);
        assert!(
            machine("c1m2")
                .ttl(year_and_a_second, TtlAction::Pause)
                .to_request()
                .is_err()
        );
    }
}
