//! What to launch: `launch::machine("c1m2")` (a cold boot) or `launch::snapshot(id)` (a restore),
//! with the optional settings of a new VM.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::types::{
    CreateBucketMountRequest, CreateVmRequest, EnvVars, FirewallPolicy, MachineType, Metadata, Ttl, TtlAction,
    VolumeMount,
};
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

    /// Attaches a volume at boot (see `client.volumes()`): its id and where it is mounted
    /// (under `/mnt/` or `/data/`). A launch from a snapshot attaches the snapshot's volumes
    /// when none is given, and exactly the ones given otherwise. A volume that cannot be
    /// attached does not fail the launch: it is reported in the launch's
    /// [`LaunchWarnings`](crate::resources::LaunchWarnings). (To restore a snapshot without
    /// its volumes, launch from a [`CreateVmRequest`] whose `volumes` is `Some(vec![])`.)
    ///
    /// ```
    /// use fastvm::types::VolumeMount;
    /// let params = fastvm::launch::machine("c1m2")
    ///     .volume(VolumeMount::new("0b4c3c1e-shared", "/mnt/shared"))
    ///     .volume(VolumeMount::new("5f7e9a20-models", "/data/models").with_read_only(true));
    /// # let _ = params;
    /// ```
    pub fn volume(mut self, mount: VolumeMount) -> Self {
        self.request.volumes.get_or_insert_with(Vec::new).push(mount);
        self
    }

    /// Mounts a GCS or S3 bucket at boot (see
    /// [`BucketMounts::create`](crate::resources::BucketMounts::create) for the rules). As with
    /// [`volume`](Self::volume), the ones given replace a snapshot's, and one that cannot be
    /// mounted is reported in the launch's warnings. The credentials are redacted in `Debug`.
    ///
    /// ```
    /// use fastvm::types::{BucketCredentials, CreateBucketMountRequest};
    /// let creds = BucketCredentials::aws_credentials_file("[default]\naws_access_key_id = ...\n");
    /// let params = fastvm::launch::machine("c1m2")
    ///     .bucket_mount(CreateBucketMountRequest::new("s3://logs/2026", "/mnt/logs", creds).with_read_only(true));
    /// # let _ = params;
    /// ```
    pub fn bucket_mount(mut self, mount: CreateBucketMountRequest) -> Self {
        self.request.bucket_mounts.get_or_insert_with(Vec::new).push(mount);
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
        if let Some(d) = request.disk_gib {
            validate::gib("diskGiB", d)?;
        }
        if let Some(s) = &request.snapshot_id {
            validate::id("snapshotId", s)?;
        }
        for (i, v) in request.volumes.iter().flatten().enumerate() {
            validate::volume_mount(&format!("volumes[{i}]"), v)?;
        }
        for (i, b) in request.bucket_mounts.iter().flatten().enumerate() {
            validate::bucket_mount(&format!("bucketMounts[{i}]"), b)?;
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
    fn mounts_are_checked_and_credentials_never_shown() {
        use crate::types::BucketCredentials;
        let creds = || BucketCredentials::gcp_service_account("r@p.iam", "-----BEGIN PRIVATE KEY-----\nMIIEsecret");
        let params = machine("c1m2")
            .volume(VolumeMount::new("vol-1", "/mnt/shared"))
            .bucket_mount(CreateBucketMountRequest::new("gs://b/p", "/mnt/b", creds()).with_read_only(true));
        assert!(!format!("{params:?}").contains("MIIEsecret"));
        let wire = params.to_request().unwrap();
        assert_eq!(wire.volumes.unwrap()[0].volume_id, "vol-1");
        assert_eq!(wire.bucket_mounts.unwrap()[0].read_only, Some(true));
        // Neither is sent unless given: a restore then keeps the snapshot's.
        let plain = machine("c1m2").to_request().unwrap();
        assert!(plain.volumes.is_none() && plain.bucket_mounts.is_none());
        for (bad, field) in [
            (
                machine("c1m2").volume(VolumeMount::new("vol-1", "/srv/x")),
                "volumes[0].mountPath",
            ),
            (
                machine("c1m2").volume(VolumeMount::new("", "/mnt/x")),
                "volumes[0].volumeId",
            ),
            (
                machine("c1m2").bucket_mount(CreateBucketMountRequest::new("http://b", "/mnt/b", creds())),
                "bucketMounts[0].bucketUri",
            ),
            (
                machine("c1m2").bucket_mount(CreateBucketMountRequest::new("s3://b", "/mnt/../etc", creds())),
                "bucketMounts[0].mountPath",
            ),
            (
                machine("c1m2").bucket_mount(CreateBucketMountRequest::new(
                    "s3://b",
                    "/mnt/b",
                    BucketCredentials::aws_credentials_file(" "),
                )),
                "bucketMounts[0].credentials",
            ),
        ] {
            match bad.to_request() {
                Err(crate::Error::InvalidInput { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
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
