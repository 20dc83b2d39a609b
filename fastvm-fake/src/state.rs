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
    pub machine: String,
    pub disk_gib: i64,
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

        let build_ms = self.config.build_duration.as_millis() as i64;
        let due: Vec<Uuid> = g
            .builds
            .values()
            .filter(|b| b.snapshot_id.is_none() && b.error.is_none() && now - b.created_ms >= build_ms)
            .map(|b| b.id)
            .collect();
        for id in due {
            let snapshot_count = g.snapshots.len() as i64;
            let b = g.builds.get_mut(&id).expect("due build exists");
            if let Some(f) = b.failure.clone() {
                b.error = Some(f);
                continue;
            }
            if snapshot_count >= self.config.limits.snapshot_count {
                b.error = Some("org snapshot quota exceeded".into());
                continue;
            }
            let snap = Snapshot {
                id: Uuid::new_v4(),
                name: b.name.clone().unwrap_or_else(|| b.id.to_string()),
                vm_id: b.id,
                created_at: ms_to_time(b.created_ms + build_ms),
                ready_at_ms: b.created_ms + build_ms,
                files: None,
                firewall: Firewall::default(),
                metadata: StringMap::new(),
                env: StringMap::new(),
                services: Vec::new(),
                machine: b.machine.clone(),
                disk_gib: b.disk_gib,
            };
            b.snapshot_id = Some(snap.id);
            g.snapshots.insert(snap.id, snap);
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
        };
        for vm in active {
            u.vcpu += vm.cpu;
            u.memory_mib += vm.memory_mib;
            u.disk_gib += vm.disk_gib;
        }
        u
    }

    /// The quota dimension (wire name) that adding these resources would exceed.
    pub fn exceeded(&self, g: &Inner, cpu: i64, mem: i64, disk: i64) -> Option<&'static str> {
        let u = self.usage(g);
        let l = &self.config.limits;
        if u.vcpu + cpu > l.vcpu {
            Some("vcpu")
        } else if u.memory_mib + mem > l.memory_mib {
            Some("memory_mib")
        } else if u.disk_gib + disk > l.disk_gib {
            Some("disk_gib")
        } else {
            None
        }
    }
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
