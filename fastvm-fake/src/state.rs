//! The in-memory world of one fake server: VMs, snapshots, builds, snapshot imports, staged
//! objects, and the clock that drives boot delays, TTLs, builds and imports.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::faults::Faults;
use crate::isolation::Host;
use crate::model::{Firewall, Rule, Service, StringMap, Ttl, TtlAction};
use crate::vmfs::{Tree, VmFs, discard};
use crate::{Isolation, Limits, REDACTED, Variance};

/// Settings fixed at start.
#[derive(Clone)]
pub struct Config {
    pub api_key: String,
    pub boot_delay: Duration,
    pub limits: Limits,
    pub disk_gib: i64,
    pub build_duration: Duration,
    pub snapshot_duration: Duration,
    /// How long a volume is `creating` after its create, and `deleting` after its delete.
    pub volume_duration: Duration,
    pub variance: Variance,
    /// What the builder asked for.
    pub isolation: Isolation,
    /// Set when VMs are isolated (the probe succeeded).
    pub host: Option<&'static Host>,
}

// By hand, not derived: the API key must never reach a debug print or a log.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("api_key", &REDACTED)
            .field("boot_delay", &self.boot_delay)
            .field("limits", &self.limits)
            .field("disk_gib", &self.disk_gib)
            .field("build_duration", &self.build_duration)
            .field("snapshot_duration", &self.snapshot_duration)
            .field("volume_duration", &self.volume_duration)
            .field("variance", &self.variance)
            .field("isolation", &self.isolation)
            .field("isolated", &self.host.is_some())
            .finish()
    }
}

/// Lifecycle states the fake models (`VMStatus` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Provisioning,
    Running,
    Paused,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Provisioning => "provisioning",
            Status::Running => "running",
            Status::Paused => "paused",
        }
    }
}

/// A registered SSH key.
#[derive(Debug, Clone)]
pub struct SshKey {
    pub public_key: String,
    pub fingerprint: String,
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A bucket mounted into a VM (recorded: the fake reaches no bucket).
#[derive(Clone)]
pub struct BucketMount {
    pub id: Uuid,
    pub bucket_uri: String,
    pub mount_path: String,
    pub read_only: bool,
    pub created_at: DateTime<Utc>,
    /// As sent (a snapshot's restore mounts the bucket again with them); never answered.
    pub credentials: Value,
}

// By hand, not derived: the credentials must never reach a debug print or a log.
impl std::fmt::Debug for BucketMount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketMount")
            .field("id", &self.id)
            .field("bucket_uri", &self.bucket_uri)
            .field("mount_path", &self.mount_path)
            .field("read_only", &self.read_only)
            .field("credentials", &REDACTED)
            .finish()
    }
}

/// One VM.
#[derive(Debug, Clone)]
pub struct Vm {
    pub id: Uuid,
    pub name: String,
    pub machine: String,
    pub cpu: i64,
    pub memory_mib: i64,
    pub disk_gib: i64,
    pub status: Status,
    pub created_at: DateTime<Utc>,
    /// When a provisioning VM becomes running (ms since the epoch, fake clock).
    pub ready_at_ms: i64,
    pub paused_at: Option<DateTime<Utc>>,
    pub metadata: StringMap,
    pub env: StringMap,
    pub firewall: Firewall,
    pub services: BTreeMap<String, Service>,
    pub ssh_keys: Vec<SshKey>,
    pub bucket_mounts: Vec<BucketMount>,
    pub ttl: Option<Ttl>,
    /// Absolute expiry while running.
    pub deadline_ms: Option<i64>,
    /// Budget left while paused (or provisioning).
    pub remaining_ms: Option<i64>,
    pub source_name: String,
    pub public_ipv6: String,
    /// The snapshot already taken in the current pause cycle (returned again on repeat).
    pub pause_snapshot: Option<Uuid>,
    /// The VM's files and how its commands run.
    pub fs: Arc<VmFs>,
    /// The volumes attached to it, in the order attached (they go with the VM when it is
    /// deleted).
    pub volumes: Vec<Attachment>,
}

/// A volume attached to a VM.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub volume_id: Uuid,
    /// As the attach gave it (checked by `validate::mount_path`).
    pub mount_path: String,
    /// Asked for, or implied by the volume's `ro` access mode at attach time.
    pub read_only: bool,
}

/// A managed volume: a directory of this host (`Shared::volumes_dir`) that the VMs it is
/// attached to see at their mount paths (see `routes::volumes`).
#[derive(Debug, Clone)]
pub struct Volume {
    pub id: Uuid,
    pub name: String,
    /// `rw` or `ro`.
    pub access_mode: String,
    pub size_gib: i64,
    pub created_at: DateTime<Utc>,
    /// When it turns from `creating` to `ready` (ms since the epoch, fake clock).
    pub ready_at_ms: i64,
    /// Set by a delete: from then on `deleting`, and gone from this time on.
    pub gone_at_ms: Option<i64>,
}

impl Volume {
    /// `creating`, `ready` or `deleting` at `now`.
    pub fn status(&self, now: i64) -> &'static str {
        if self.gone_at_ms.is_some() {
            "deleting"
        } else if now < self.ready_at_ms {
            "creating"
        } else {
            "ready"
        }
    }
}

/// A snapshot: the VM's configuration and files at the time it was taken.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub id: Uuid,
    pub name: String,
    pub vm_id: Uuid,
    pub created_at: DateTime<Utc>,
    /// When it turns from `creating` to `ready` (ms since the epoch, fake clock).
    pub ready_at_ms: i64,
    /// A copy of the VM's directory (none for a build's snapshot).
    pub files: Option<Arc<Tree>>,
    pub firewall: Firewall,
    pub metadata: StringMap,
    pub env: StringMap,
    pub services: Vec<Service>,
    /// The VM's bucket mounts, mounted again by a restore that names none.
    pub bucket_mounts: Vec<BucketMount>,
    /// The VM's volume attachments, attached again by a restore that names none.
    pub volumes: Vec<Attachment>,
    pub machine: String,
    pub disk_gib: i64,
}

impl Snapshot {
    /// A snapshot that no VM's configuration went into (a build's, an import's): made by
    /// `made_by` (the build or import, shown as its `vmId`), ready at `at_ms`, with `files`
    /// (none for a build's or an image import's), on `machine` with `disk_gib`.
    pub fn plain(
        name: String,
        made_by: Uuid,
        at_ms: i64,
        machine: String,
        disk_gib: i64,
        files: Option<Arc<Tree>>,
    ) -> Snapshot {
        Snapshot {
            id: Uuid::new_v4(),
            name,
            vm_id: made_by,
            created_at: ms_to_time(at_ms),
            ready_at_ms: at_ms,
            files,
            firewall: Firewall::default(),
            metadata: StringMap::new(),
            env: StringMap::new(),
            services: Vec::new(),
            bucket_mounts: Vec::new(),
            volumes: Vec::new(),
            machine,
            disk_gib,
        }
    }
}

/// A build; its status follows from the clock.
#[derive(Debug, Clone)]
pub struct Build {
    pub id: Uuid,
    pub name: Option<String>,
    pub image_ref: String,
    /// Creation time (ms since the epoch, fake clock); the build's progress follows from it.
    pub created_ms: i64,
    pub machine: String,
    pub disk_gib: i64,
    /// Set at creation when the build is doomed (bad context URL), reported once it runs.
    pub failure: Option<String>,
    pub snapshot_id: Option<Uuid>,
    pub error: Option<String>,
}

/// A snapshot import (`routes/snapshot_imports.rs`); its status follows from the clock until
/// it ends.
#[derive(Debug)]
pub struct SnapshotImport {
    pub id: Uuid,
    pub name: String,
    /// The `SnapshotImportSourceView` JSON (no secrets).
    pub source: Value,
    pub dockerfile: bool,
    /// Creation time (ms since the epoch, fake clock).
    pub created_ms: i64,
    pub machine: String,
    pub cpu: i64,
    pub memory_mib: i64,
    pub disk_gib: i64,
    /// Decided at the create, revealed when the run is over: the snapshot's files (none for an
    /// image import), or why the import fails.
    pub outcome: Result<Option<Arc<Tree>>, crate::import_context::Failure>,
    /// Set once the import is terminal.
    pub end: Option<ImportEnd>,
}

/// How an import ended, and when (ms, fake clock).
#[derive(Debug, Clone)]
pub enum ImportEnd {
    Succeeded {
        at_ms: i64,
        snapshot_id: Uuid,
    },
    Failed {
        at_ms: i64,
        failure: crate::import_context::Failure,
    },
    Cancelled {
        at_ms: i64,
    },
}

/// A `contextRef` of the context presign: the staging object it names, and whether a create
/// consumed it.
#[derive(Debug, Clone)]
pub struct ContextRef {
    pub key: String,
    pub used: bool,
}

/// A presigned staging object.
#[derive(Debug, Clone)]
pub struct Object {
    pub max_bytes: u64,
}

/// Everything mutable.
#[derive(Debug, Default)]
pub struct Inner {
    pub vms: BTreeMap<Uuid, Vm>,
    pub snapshots: BTreeMap<Uuid, Snapshot>,
    /// A `BTreeMap` like the VMs and snapshots, so `routes::find_mut` looks up all three.
    pub builds: BTreeMap<Uuid, Build>,
    pub volumes: BTreeMap<Uuid, Volume>,
    /// The calling user's SSH keys (`/v1/me/ssh-keys`): the fake has one user, the key's.
    pub user_ssh_keys: Vec<SshKey>,
    /// Snapshot imports, and the context references minted for them (by `contextRef`).
    pub snapshot_imports: BTreeMap<Uuid, SnapshotImport>,
    pub import_contexts: HashMap<String, ContextRef>,
    pub objects: HashMap<String, Object>,
    /// Added to the wall clock (see `FakeServer::advance`).
    pub clock_offset_ms: i64,
    pub next_ip: u32,
}

/// State shared by all requests of one server.
pub struct Shared {
    pub config: Config,
    pub org_id: String,
    pub base_url: String,
    pub secret: [u8; 32],
    pub faults: Faults,
    // Before `root`: fields drop in order, and the VMs' processes must be killed before their
    // directories are removed.
    inner: Mutex<Inner>,
    pub root: tempfile::TempDir,
}

// By hand, not derived: the API key (in `config`) and the URL-signing secret must never reach
// a debug print or a log.
impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .field("org_id", &self.org_id)
            .field("base_url", &self.base_url)
            .field("secret", &REDACTED)
            .field("faults", &self.faults)
            .field("inner", &self.inner)
            .field("root", &self.root)
            .finish()
    }
}

impl Shared {
    pub fn new(config: Config, base_url: String, root: tempfile::TempDir) -> Self {
        Shared {
            config,
            org_id: Uuid::new_v4().to_string(),
            base_url,
            secret: rand::random(),
            faults: Faults::default(),
            inner: Mutex::new(Inner::default()),
            root,
        }
    }

    /// Locks the state after applying everything the clock says has happened.
    pub fn lock(&self) -> (MutexGuard<'_, Inner>, i64) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let now = Utc::now().timestamp_millis() + g.clock_offset_ms;
        self.sweep(&mut g, now);
        (g, now)
    }

    /// Where staged objects live.
    pub fn objects_dir(&self) -> PathBuf {
        self.root.path().join("objects")
    }

    /// Where VM directories live.
    pub fn vms_dir(&self) -> PathBuf {
        self.root.path().join("vms")
    }

    /// Where snapshots' copies of VM directories live.
    pub fn snapshots_dir(&self) -> PathBuf {
        self.root.path().join("snapshots")
    }

    /// Where volumes' directories live (one per volume, named by its id).
    pub fn volumes_dir(&self) -> PathBuf {
        self.root.path().join("volumes")
    }

    /// Takes every VM out (for shutdown).
    pub fn take_vms(&self) -> Vec<Vm> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut g.vms).into_values().collect()
    }

    /// Kills every VM's processes now, without waiting (for `Drop`).
    pub fn kill_vms(&self) {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        for vm in g.vms.values() {
            vm.fs.kill_now();
        }
    }

    fn sweep(&self, g: &mut Inner, now: i64) {
        let mut deleted = Vec::new();
        for vm in g.vms.values_mut() {
            if vm.status == Status::Provisioning && vm.ready_at_ms <= now {
                vm.status = Status::Running;
                if let Some(t) = vm.ttl {
                    vm.deadline_ms = Some(vm.ready_at_ms + vm.remaining_ms.take().unwrap_or(t.seconds * 1000));
                }
            }
            if vm.status != Status::Running {
                continue;
            }
            let (Some(t), Some(deadline)) = (vm.ttl, vm.deadline_ms) else {
                continue;
            };
            if deadline > now {
                continue;
            }
            match t.action {
                TtlAction::Pause => {
                    vm.status = Status::Paused;
                    vm.paused_at = Some(ms_to_time(deadline));
                    vm.deadline_ms = None;
                    // Pause re-arms the cycle for the next running session.
                    vm.remaining_ms = Some(t.seconds * 1000);
                    vm.pause_snapshot = None;
                }
                TtlAction::Delete => deleted.push(vm.id),
            }
        }
        for id in deleted {
            if let Some(vm) = g.vms.remove(&id) {
                destroy(vm.fs);
            }
        }

        // A deleted volume's storage is cleaned up (its directory removed) once it is due.
        let gone: Vec<Uuid> = g
            .volumes
            .values()
            .filter(|v| v.gone_at_ms.is_some_and(|t| t <= now))
            .map(|v| v.id)
            .collect();
        for id in gone {
            g.volumes.remove(&id);
            discard(self.volumes_dir().join(id.to_string()));
        }

        let build_ms = self.config.build_duration.as_millis() as i64;
        let due: Vec<Uuid> = g
            .builds
            .values()
            .filter(|b| b.snapshot_id.is_none() && b.error.is_none() && now - b.created_ms >= build_ms)
            .map(|b| b.id)
            .collect();
        for id in due {
            let room = self.snapshot_room(g);
            let Inner { builds, snapshots, .. } = &mut *g;
            let Some(b) = builds.get_mut(&id) else {
                continue;
            };
            if let Some(f) = b.failure.clone() {
                b.error = Some(f);
                continue;
            }
            if let Err(e) = room {
                b.error = Some(e);
                continue;
            }
            let name = b.name.clone().unwrap_or_else(|| b.id.to_string());
            let snap = Snapshot::plain(name, b.id, b.created_ms + build_ms, b.machine.clone(), b.disk_gib, None);
            b.snapshot_id = Some(snap.id);
            snapshots.insert(snap.id, snap);
        }
        crate::routes::snapshot_imports::settle(self, g, now);
    }

    /// The `VM` JSON of `vm` at `now`.
    pub fn vm_json(&self, vm: &Vm) -> Value {
        let mut v = json!({
            "id": vm.id.to_string(),
            "name": vm.name,
            "orgId": self.org_id,
            "machineName": vm.machine,
            "sourceName": vm.source_name,
            "firewall": vm.firewall,
            "effectiveFirewall": effective_firewall(vm),
            "metadata": vm.metadata,
            "envVars": vm.env,
            "publicIpv6": vm.public_ipv6,
            "cpu": vm.cpu,
            "memoryMiB": vm.memory_mib,
            "diskGiB": vm.disk_gib,
            "status": vm.status.as_str(),
            "createdAt": rfc3339(vm.created_at),
            "deletedAt": null,
            "ttl": vm.ttl,
            "pausedAt": vm.paused_at.map(rfc3339),
            "bucketMounts": vm.bucket_mounts.iter().map(|m| crate::routes::bucket_mounts::mount_json(vm, m)).collect::<Vec<_>>(),
            "volumes": vm.volumes.iter().map(|a| attachment_json(vm, a)).collect::<Vec<_>>(),
        });
        if vm.ttl.is_some() {
            match (vm.status, vm.deadline_ms, vm.remaining_ms) {
                (Status::Running, Some(d), _) => v["expiresAtMs"] = json!(d),
                (Status::Paused, _, Some(r)) => v["ttlRemainingMs"] = json!(r),
                _ => {}
            }
        }
        v
    }

    /// The `Volume` JSON of `v` at `now`; `mountedCount` counts the running VMs it is attached
    /// to (paused ones are not counted, as the API documents).
    pub fn volume_json(&self, g: &Inner, v: &Volume, now: i64) -> Value {
        let mounted = g
            .vms
            .values()
            .filter(|vm| vm.status == Status::Running && vm.volumes.iter().any(|a| a.volume_id == v.id))
            .count();
        json!({
            "id": v.id.to_string(),
            "name": v.name,
            "orgId": self.org_id,
            "accessMode": v.access_mode,
            "sizeGiB": v.size_gib,
            "status": v.status(now),
            "mountedCount": mounted,
            "createdAt": rfc3339(v.created_at),
        })
    }

    pub fn snapshot_json(&self, s: &Snapshot, now: i64) -> Value {
        json!({
            "id": s.id.to_string(),
            "name": s.name,
            "orgId": self.org_id,
            "vmId": s.vm_id.to_string(),
            "status": if now < s.ready_at_ms { "creating" } else { "ready" },
            "createdAt": rfc3339(s.created_at),
            "firewall": s.firewall,
            "metadata": s.metadata,
            "envVars": s.env,
            "services": s.services,
            "machineName": s.machine,
            "bucketMounts": s.bucket_mounts.iter().map(|m| json!({
                "bucketUri": m.bucket_uri, "mountPath": m.mount_path, "readOnly": m.read_only,
            })).collect::<Vec<_>>(),
            "volumes": s.volumes.iter().map(|a| json!({
                "volumeId": a.volume_id.to_string(), "mountPath": a.mount_path, "readOnly": a.read_only,
            })).collect::<Vec<_>>(),
        })
    }

    pub fn build_json(&self, b: &Build, now: i64) -> Value {
        let build_ms = self.config.build_duration.as_millis() as i64;
        let mut v = json!({
            "id": b.id.to_string(),
            "imageRef": b.image_ref,
            "createdAt": rfc3339(ms_to_time(b.created_ms)),
        });
        if let Some(n) = &b.name {
            v["name"] = json!(n);
        }
        if let Some(s) = b.snapshot_id {
            v["status"] = json!("completed");
            v["snapshotId"] = json!(s.to_string());
        } else if let Some(e) = &b.error {
            v["status"] = json!("failed");
            v["error"] = json!(e);
        } else if now - b.created_ms < build_ms / 4 {
            v["status"] = json!("pending");
        } else {
            v["status"] = json!("running");
            v["progress"] = json!(format!("building {}", b.image_ref));
        }
        v
    }

    /// Org usage: VMs holding resources (paused ones free theirs) and all snapshots.
    pub fn usage(&self, g: &Inner) -> Limits {
        let active = g.vms.values().filter(|v| v.status != Status::Paused);
        let mut u = Limits {
            vcpu: 0,
            memory_mib: 0,
            disk_gib: 0,
            snapshot_count: g.snapshots.len() as i64,
            // Deleting volumes still hold their storage until it is cleaned up.
            volume_count: g.volumes.len() as i64,
            volume_gib: g.volumes.values().map(|v| v.size_gib).sum(),
        };
        for vm in active {
            u.vcpu += vm.cpu;
            u.memory_mib += vm.memory_mib;
            u.disk_gib += vm.disk_gib;
        }
        u
    }

    /// The first quota dimension (wire name) that adding `add` to the org's usage would exceed;
    /// a dimension `add` adds nothing to is not checked.
    pub fn exceeded(&self, g: &Inner, add: &Limits) -> Option<&'static str> {
        let (u, l) = (self.usage(g), &self.config.limits);
        [
            ("vcpu", u.vcpu, add.vcpu, l.vcpu),
            ("memory_mib", u.memory_mib, add.memory_mib, l.memory_mib),
            ("disk_gib", u.disk_gib, add.disk_gib, l.disk_gib),
            ("snapshot_count", u.snapshot_count, add.snapshot_count, l.snapshot_count),
            ("volume_count", u.volume_count, add.volume_count, l.volume_count),
            ("volume_gib", u.volume_gib, add.volume_gib, l.volume_gib),
        ]
        .into_iter()
        .find(|&(_, used, add, limit)| add > 0 && used + add > limit)
        .map(|(dim, ..)| dim)
    }

    /// Whether the org's quota has room for one more snapshot; else the error a build or an
    /// import ends with (a snapshot's create answers a 429 instead: `routes::within_quota`).
    pub fn snapshot_room(&self, g: &Inner) -> Result<(), String> {
        let one = Limits {
            snapshot_count: 1,
            ..NOTHING
        };
        match self.exceeded(g, &one) {
            Some(_) => Err("org snapshot quota exceeded".into()),
            None => Ok(()),
        }
    }
}

/// No resources: what a quota check's `add` starts from (`Limits { vcpu: 2, ..NOTHING }`).
pub const NOTHING: Limits = Limits {
    vcpu: 0,
    memory_mib: 0,
    disk_gib: 0,
    snapshot_count: 0,
    volume_count: 0,
    volume_gib: 0,
};

/// A VM's attachment as the API shows it (`VolumeAttachment`): mounted while the VM runs,
/// pending while it is paused or provisioning (it mounts when it runs).
pub fn attachment_json(vm: &Vm, a: &Attachment) -> Value {
    let status = if vm.status == Status::Running {
        "mounted"
    } else {
        "pending"
    };
    json!({
        "volumeId": a.volume_id.to_string(),
        "mountPath": a.mount_path,
        "readOnly": a.read_only,
        "mountStatus": status,
    })
}

/// `firewall` ∪ one ingress allow rule per service (what the proxy needs to reach it).
pub fn effective_firewall(vm: &Vm) -> Firewall {
    let mut fw = vm.firewall.clone();
    for s in vm.services.values() {
        fw.ingress.rules.push(Rule {
            action: "allow".into(),
            kind: "cidr".into(),
            value: "::/0".into(),
            protocol: "tcp".into(),
            ports: s.port.to_string(),
            description: Some(format!("auto: proxy service {}", s.name)),
        });
    }
    fw
}

/// Kills a removed VM's processes and removes its directory, in the background when there is a
/// runtime.
pub fn destroy(fs: Arc<VmFs>) {
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => {
            rt.spawn(async move {
                fs.stop().await;
                discard(fs.dir().to_path_buf());
            });
        }
        Err(_) => {
            fs.kill_now();
            discard(fs.dir().to_path_buf());
        }
    }
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn ms_to_time(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_else(Utc::now)
}
