//! The SDK's whole scenario against `fastvm-fake`, under each of the fake's wire variances and
//! under all of them together.
//!
//! The official SDKs accept any 2xx and never validate response bodies (api-notes §12), and the
//! real server is free to answer the way each [`Rule`] models: another 2xx, Go `omitempty`,
//! explicit `null`s, members the spec does not know, enum values no client has seen yet. So
//! every operation the facade offers must give the same outcomes under every variance as
//! without one; where a rule changes what the server reports (a new status, an extra firewall
//! rule), the scenario says exactly what the caller sees instead.
//!
//! [`scenario`] is the one place the scenario is written; each test only picks the variance.
//! It runs against two fakes with the same variance: one whose launches answer 201 (running at
//! once) and one with a boot delay, whose launches answer 202 and are polled.
// Tests deprecated operations too (builds, build contexts, a VM's SSH keys), kept for
// servers at the reference's version.
#![allow(deprecated)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fastvm::exec::{Command, ExecEvent};
use fastvm::types::{
    DnsPolicy, EgressPolicy, EgressRule, EgressRuleKind, EgressRuleProtocol, FirewallPolicy, IngressPolicy,
    IngressRule, IngressRuleKind, IngressRuleProtocol, PolicyAction, Service, SnapshotStatus, Ttl, TtlAction, VmInfo,
    VmStatus,
};
use fastvm::{ApiErrorKind, Error, FastvmClient, launch};
use fastvm_fake::{FakeServer, Fault, Rule, Variance};
use futures::StreamExt as _;

/// How long a VM of the booting fake provisions before it runs.
const BOOT_DELAY: Duration = Duration::from_millis(300);
/// How long a build takes on both fakes.
const BUILD_DURATION: Duration = Duration::from_millis(400);
/// Poll as fast as the SDK allows (it floors the interval at 500 ms)...
const POLL: Duration = Duration::from_millis(500);
/// ...for at most this long.
const DEADLINE: Duration = Duration::from_secs(20);

/// An OpenSSH ed25519 key and what `ssh-keygen -lf` prints for it (see the fake's fingerprint
/// tests). The fingerprint has a `/`, which must travel percent-encoded in the delete's path.
const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOGfWKDypYxh9k4VQH+JgkxbE1p4BzWv0Gh65glAi+CQ me@host";
const ED25519_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOGfWKDypYxh9k4VQH+JgkxbE1p4BzWv0Gh65glAi+CQ";
const ED25519_FINGERPRINT: &str = "SHA256:zh+clZr1I3/nhfKn28aLGRIwOA4ff2ORSTI8Cs4Ovq4";

/// A UUID no fake ever issued.
const MISSING: &str = "00000000-0000-4000-8000-00000000dead";

/// The two fakes of one variance and a client for each.
struct Fakes {
    /// Boot delay 0: launches answer 201 with a running VM.
    server: FakeServer,
    client: FastvmClient,
    /// A boot delay: launches answer 202 and the VM provisions for [`BOOT_DELAY`].
    booting: FakeServer,
    booting_client: FastvmClient,
}

impl Fakes {
    async fn start(variance: Variance) -> Fakes {
        let start = |boot: Duration| {
            FakeServer::builder()
                .variance(variance)
                .boot_delay(boot)
                .build_duration(BUILD_DURATION)
                // Snapshots are ready at once here; waiting for one is tested on its own.
                .snapshot_duration(Duration::ZERO)
                .start()
        };
        let server = start(Duration::ZERO).await.expect("fake server");
        let booting = start(BOOT_DELAY).await.expect("booting fake server");
        assert_eq!(server.variance(), variance);
        let client = fastvm_tests::fake::client(&server);
        let booting_client = fastvm_tests::fake::client(&booting);
        Fakes {
            server,
            client,
            booting,
            booting_client,
        }
    }
}

async fn run_under(variance: Variance) {
    let started = Instant::now();
    let fakes = Fakes::start(variance).await;
    scenario(&fakes).await;
    eprintln!("variance {variance}: scenario passed in {:?}", started.elapsed());
}

#[tokio::test]
async fn none() {
    run_under(Variance::none()).await;
}

#[tokio::test]
async fn new_enums() {
    run_under(Rule::NewEnums.into()).await;
}

#[tokio::test]
async fn omitempty() {
    run_under(Rule::Omitempty.into()).await;
}

#[tokio::test]
async fn nulls() {
    run_under(Rule::Nulls.into()).await;
}

#[tokio::test]
async fn extra_fields() {
    run_under(Rule::ExtraFields.into()).await;
}

#[tokio::test]
async fn other_2xx() {
    run_under(Rule::Other2xx.into()).await;
}

#[tokio::test]
async fn all() {
    run_under(Variance::all()).await;
}

/// Every rule has its own test above (a new rule must get one too).
#[test]
fn every_rule_has_a_test() {
    assert_eq!(Rule::ALL.len(), 5, "add a #[tokio::test] for the new rule");
}

/// The whole scenario: every operation of the facade at least once, with real outcomes checked.
async fn scenario(f: &Fakes) {
    let client = &f.client;
    let v = f.server.variance();
    let tmp = tempfile::tempdir().expect("temp dir");

    health_and_quotas(client).await;
    assert_eq!(f.booting.variance(), v);
    let vm = launch_201(client, &f.server).await;
    launch_202(&f.booting_client, v).await;
    list_and_retrieve(client, &vm).await;
    update_and_ttl(client, &vm.id).await;
    pause_and_resume(client, &vm).await;
    services(client, &vm.id).await;
    firewall(client, &vm.id, v).await;
    console_token(client, &vm.id).await;
    tokio::join!(buffered_exec(client, &vm.id), streamed_exec(client, &vm.id));
    ssh_keys(client, &vm.id).await;
    raw_files(client, &f.server, &vm.id).await;
    transfers(client, &f.server, &vm.id, tmp.path()).await;
    let restored = snapshots(client, &vm).await;
    builds(client, v).await;
    errors(client, &vm.id).await;
    deletes(client, &[&vm.id, &restored]).await;
}

/// `GET /healthz`, and `GET /v1/org/quotas` of an org with nothing running.
async fn health_and_quotas(client: &FastvmClient) {
    let health = client.health().check().await.expect("health");
    assert_eq!(health.status.as_deref(), Some("ok"));
    let q = client.quotas().retrieve().await.expect("quotas");
    assert!(!q.org_id.is_empty(), "{q:?}");
    let limits = fastvm_fake::Limits::default();
    assert_eq!(
        (
            q.limits.vcpu,
            q.limits.memory_mib,
            q.limits.disk_gib,
            q.limits.snapshot_count
        ),
        (limits.vcpu, limits.memory_mib, limits.disk_gib, limits.snapshot_count)
    );
    assert_eq!(
        (
            q.usage.vcpu,
            q.usage.memory_mib,
            q.usage.disk_gib,
            q.usage.snapshot_count
        ),
        (0, 0, 0, 0)
    );
}

/// Launch with boot delay 0: the raw answer is 201 with a running VM, and launch-and-wait
/// returns at once.
async fn launch_201(client: &FastvmClient, server: &FakeServer) -> VmInfo {
    let raw = client
        .vms()
        .launch(launch::machine("c1m2").name("e2e-raw"))
        .await
        .expect("launch without waiting");
    assert_eq!(raw.status, reqwest::StatusCode::CREATED);
    assert_eq!(raw.vm.status, VmStatus::Running);
    assert_eq!(
        (raw.vm.name.as_str(), raw.vm.cpu, raw.vm.memory_mib),
        ("e2e-raw", 1, 2048)
    );
    assert!(raw.vm.snapshot_restore_warnings.is_none());
    let gone = client.vms().delete(&raw.vm.id).await.expect("delete the raw VM");
    assert_eq!((gone.id.as_str(), gone.deleted), (raw.vm.id.as_str(), true));

    // Were the VM polled, this would answer its first poll.
    server.faults().push("getVm", Fault::status(404));
    let vm = client
        .launch_vm(
            launch::machine("c2m4")
                .name("e2e-main")
                .metadata("team", "infra")
                .env("GREETING", "hello from the env"),
        )
        .no_safety_ttl()
        .await
        .map(fastvm_tests::fake::released)
        .expect("launch and wait");
    assert_eq!(server.faults().pending("getVm"), 1, "a 201 is not polled");
    server.faults().clear();
    assert!(vm.snapshot_restore_warnings.is_none());
    let vm = vm.vm;
    assert_eq!(vm.status, VmStatus::Running);
    assert_eq!(vm.name, "e2e-main");
    assert_eq!((vm.cpu, vm.memory_mib, vm.disk_gib), (2, 4096, 10));
    assert_eq!(vm.machine_name.as_deref(), Some("c2m4"));
    assert_eq!(vm.metadata.as_deref(), Some(&map(&[("team", "infra")])));
    assert_eq!(
        vm.env_vars.as_deref(),
        Some(&map(&[("GREETING", "hello from the env")]))
    );
    assert!(!vm.id.is_empty() && !vm.org_id.is_empty());
    assert!(vm.created_at.is_some());
    assert!(vm.ttl.is_none() && vm.expires_at_ms.is_none() && vm.paused_at.is_none());
    assert!(vm.public_ipv6.as_deref().is_some_and(|ip| ip.contains(':')), "{vm:?}");
    vm
}

/// Launch with a boot delay: the raw answer is 202 with a VM still booting (`scheduling` under
/// new-enums, a status this SDK does not know: waiting treats it as in progress), then
/// launch-and-wait polls until it runs; a restore from a snapshot likewise.
async fn launch_202(client: &FastvmClient, v: Variance) {
    let booting_status = if v.contains(Rule::NewEnums) {
        VmStatus::Unknown("scheduling".into())
    } else {
        VmStatus::Provisioning
    };
    let raw = client
        .vms()
        .launch(launch::machine("c1m2").name("e2e-boot-raw"))
        .await
        .expect("launch without waiting");
    assert_eq!(raw.status, reqwest::StatusCode::ACCEPTED);
    assert_eq!(raw.vm.status, booting_status);
    let polled = client.vms().retrieve(&raw.vm.id).await.expect("retrieve while booting");
    assert_eq!(polled.status, booting_status);
    assert_eq!(
        client
            .vms()
            .pause(&raw.vm.id)
            .await
            .map_err(|e| e.api().map(|a| a.kind)),
        Err(Some(ApiErrorKind::Conflict)),
        "a booting VM cannot be paused"
    );
    let ready = client
        .wait_for_vm_ready(&raw.vm.id)
        .poll_interval(POLL)
        .deadline(DEADLINE)
        .await
        .expect("wait for the VM");
    assert_eq!(
        (ready.id.as_str(), &ready.status),
        (raw.vm.id.as_str(), &VmStatus::Running)
    );

    let started = Instant::now();
    let vm = client
        .launch_vm(launch::machine("c1m2").name("e2e-boot"))
        .no_safety_ttl()
        .poll_interval(POLL)
        .deadline(DEADLINE)
        .await
        .map(fastvm_tests::fake::released)
        .expect("launch and wait through a 202");
    assert!(started.elapsed() >= BOOT_DELAY, "the VM was polled until it ran");
    assert_eq!(vm.status, VmStatus::Running);
    assert_eq!(vm.name, "e2e-boot");
    let running = client
        .vms()
        .list()
        .status(VmStatus::Running)
        .await
        .expect("list running");
    let mut ids: Vec<&str> = running.iter().map(|vm| vm.id.as_str()).collect();
    ids.sort_unstable();
    let mut want = [raw.vm.id.as_str(), vm.id.as_str()];
    want.sort_unstable();
    assert_eq!(ids, want);

    // A restore from a snapshot is a launch too: 202, polled until it runs.
    let snap = client
        .snapshots()
        .create(&vm.id)
        .name("e2e-boot-snap")
        .await
        .expect("snapshot");
    let restored = client
        .launch_vm(launch::snapshot(&snap.id).name("e2e-boot-restored"))
        .no_safety_ttl()
        .poll_interval(POLL)
        .deadline(DEADLINE)
        .await
        .map(fastvm_tests::fake::released)
        .expect("restore through a 202");
    assert_eq!(restored.status, VmStatus::Running);
    assert_eq!(restored.source_name.as_deref(), Some("e2e-boot-snap"));
    assert!(restored.snapshot_restore_warnings.is_none());
    let gone = client.snapshots().delete(&snap.id).await.expect("delete the snapshot");
    assert_eq!((gone.id.as_str(), gone.deleted), (snap.id.as_str(), true));

    for id in [&raw.vm.id, &vm.id, &restored.vm.id] {
        let gone = client.vms().delete(id).await.expect("delete");
        assert_eq!((gone.id.as_str(), gone.deleted), (id.as_str(), true));
    }
    assert!(client.vms().list().await.expect("list").is_empty());
}

/// `GET /v1/vms` with and without a status filter, `GET /v1/vms/{id}`, and the quota usage of
/// the one running VM.
async fn list_and_retrieve(client: &FastvmClient, vm: &VmInfo) {
    let all = client.vms().list().await.expect("list");
    assert_eq!(all, std::slice::from_ref(vm), "the list shows the VM as launched");
    let running = client
        .vms()
        .list()
        .status(VmStatus::Running)
        .await
        .expect("list running");
    assert_eq!(running.len(), 1);
    assert_eq!(running[0].id, vm.id);
    assert!(
        client
            .vms()
            .list()
            .status(VmStatus::Paused)
            .await
            .expect("list paused")
            .is_empty()
    );
    assert!(
        client
            .vms()
            .list()
            .status(VmStatus::from("no-such-status"))
            .await
            .expect("list")
            .is_empty()
    );
    let got = client.vms().retrieve(&vm.id).await.expect("retrieve");
    assert_eq!(&got, vm, "retrieve gives what launch gave");
    let q = client.quotas().retrieve().await.expect("quotas");
    assert_eq!((q.usage.vcpu, q.usage.memory_mib, q.usage.disk_gib), (2, 4096, 10));
}

/// `PATCH /v1/vms/{id}` (name, metadata, TTL), the TTL refresh, and clearing the TTL.
async fn update_and_ttl(client: &FastvmClient, id: &str) {
    let ttl = Ttl::new(3600, TtlAction::Pause);
    let vm = client
        .vms()
        .update(id)
        .name("e2e-renamed")
        .metadata([("team", "db"), ("tier", "1")])
        .ttl(Duration::from_secs(3600), TtlAction::Pause)
        .await
        .expect("update");
    assert_eq!(vm.name, "e2e-renamed");
    assert_eq!(vm.metadata.as_deref(), Some(&map(&[("team", "db"), ("tier", "1")])));
    assert_eq!(vm.ttl.as_ref(), Some(&ttl));
    let expires = vm.expires_at_ms.expect("a running VM with a TTL has expiresAtMs");
    assert!(vm.ttl_remaining_ms.is_none());

    tokio::time::sleep(Duration::from_millis(5)).await;
    let refreshed = client.vms().refresh_ttl(id).await.expect("refresh the TTL");
    assert_eq!(refreshed.ttl.as_ref(), Some(&ttl));
    assert!(
        refreshed.expires_at_ms.expect("expiresAtMs") > expires,
        "the refresh restarted the cycle"
    );

    let cleared = client.vms().update(id).clear_ttl().await.expect("clear the TTL");
    assert!(cleared.ttl.is_none() && cleared.expires_at_ms.is_none(), "{cleared:?}");
    assert_eq!(cleared.name, "e2e-renamed", "clearing the TTL keeps the rest");
    let err = client.vms().refresh_ttl(id).await.expect_err("no TTL to refresh");
    assert_eq!(err.api().map(|a| a.kind), Some(ApiErrorKind::Conflict), "{err:?}");

    // Metadata is replaced whole; an empty map clears it (the server may then omit it).
    let vm = client
        .vms()
        .update(id)
        .metadata(BTreeMap::<String, String>::new())
        .await
        .expect("clear the metadata");
    assert!(vm.metadata.is_none_or(|m| m.is_empty()));
    assert_eq!(vm.name, "e2e-renamed");
}

/// Pause and resume, with the TTL countdown frozen while paused, and paused VMs freeing quota.
async fn pause_and_resume(client: &FastvmClient, vm: &VmInfo) {
    let ttl = Ttl::new(7200, TtlAction::Delete);
    let with_ttl = client
        .vms()
        .update(&vm.id)
        .ttl(Duration::from_secs(7200), TtlAction::Delete)
        .await
        .expect("set a TTL");
    assert!(with_ttl.expires_at_ms.is_some());

    let paused = client.vms().pause(&vm.id).await.expect("pause");
    assert_eq!(paused.status, VmStatus::Paused);
    assert!(paused.paused_at.is_some());
    assert!(paused.expires_at_ms.is_none(), "the countdown froze");
    let remaining = paused.ttl_remaining_ms.expect("ttlRemainingMs while paused");
    assert!(remaining > 0 && remaining <= 7_200_000, "{remaining}");
    let again = client.vms().pause(&vm.id).await.expect("pause is idempotent");
    assert_eq!(again.status, VmStatus::Paused);
    let listed = client.vms().list().status(VmStatus::Paused).await.expect("list paused");
    assert_eq!(
        listed.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(),
        [vm.id.as_str()]
    );
    assert!(
        client
            .vms()
            .list()
            .status(VmStatus::Running)
            .await
            .expect("list")
            .is_empty()
    );
    let q = client.quotas().retrieve().await.expect("quotas");
    assert_eq!(q.usage.vcpu, 0, "a paused VM holds no vCPU");

    let resumed = client.vms().resume(&vm.id).await.expect("resume");
    assert_eq!(resumed.status, VmStatus::Running);
    assert!(resumed.paused_at.is_none() && resumed.ttl_remaining_ms.is_none());
    assert!(resumed.expires_at_ms.is_some(), "the countdown runs again");
    assert_eq!(resumed.ttl.as_ref(), Some(&ttl));
    let cleared = client.vms().update(&vm.id).clear_ttl().await.expect("clear the TTL");
    assert!(cleared.ttl.is_none());
}

/// Services: register, list (sorted by name), update, delete (also of an absent one).
async fn services(client: &FastvmClient, id: &str) {
    let svc = client.vms().services();
    let web = svc.register(id, "web", 8080).await.expect("register web");
    assert_eq!(web, service("web", 8080, false));
    let grpc = svc.register(id, "grpc", 9090).h2c(true).await.expect("register grpc");
    assert_eq!(grpc, service("grpc", 9090, true));
    let again = svc.register(id, "web", 8080).await.expect("an identical registration");
    assert_eq!(again, web);
    let err = svc.register(id, "web", 8181).await.expect_err("a conflicting one");
    assert_eq!(err.api().map(|a| a.kind), Some(ApiErrorKind::Conflict), "{err:?}");
    assert_eq!(
        svc.list(id).await.expect("list"),
        [service("grpc", 9090, true), service("web", 8080, false)]
    );
    let web = svc.update(id, "web", 8081).h2c(true).await.expect("update web");
    assert_eq!(web, service("web", 8081, true));
    let web = svc.update(id, "web", 8081).h2c(false).await.expect("update web back");
    assert_eq!(web, service("web", 8081, false));
    svc.delete(id, "grpc").await.expect("delete grpc");
    svc.delete(id, "grpc")
        .await
        .expect("deleting an absent service succeeds");
    assert_eq!(svc.list(id).await.expect("list"), [service("web", 8081, false)]);
}

/// The firewall: set, patch (an ingress block with no rules), and the effective view, which
/// holds the service's auto-rule and, under new-enums, a rule of a protocol this SDK does not
/// know.
async fn firewall(client: &FastvmClient, id: &str, v: Variance) {
    let policy = full_policy();
    let vm = client
        .vms()
        .set_firewall(id, policy.clone())
        .await
        .expect("set the firewall");
    assert_eq!(vm.firewall.as_ref(), Some(&policy), "the stored policy is what was set");

    let deny_all: FirewallPolicy =
        serde_json::from_value(serde_json::json!({"ingress": {"default": "deny", "rules": []}})).unwrap();
    let vm = client
        .vms()
        .patch_firewall(id, deny_all)
        .await
        .expect("patch the firewall");
    let stored = vm.firewall.expect("firewall");
    assert_eq!(
        stored.ingress,
        Some(IngressPolicy::deny_except([])),
        "the patch replaced ingress"
    );
    assert_eq!(
        (stored.egress, stored.dns),
        (policy.egress.clone(), policy.dns.clone()),
        "the patch kept the other blocks"
    );

    let effective = client
        .vms()
        .retrieve(id)
        .await
        .expect("retrieve")
        .effective_firewall
        .expect("effectiveFirewall");
    let ingress = effective.ingress.clone().expect("effective ingress");
    assert_eq!(ingress.default, PolicyAction::Deny);
    let auto = IngressRule::allow_tcp("8081", "::/0").with_description("auto: proxy service web");
    let (unknown, known): (Vec<_>, Vec<_>) = ingress.rules.iter().partition(|r| r.protocol.is_unknown());
    assert_eq!(known, [&auto], "the user's rules (none) and the service's auto-rule");
    assert_eq!(effective.egress, policy.egress);
    if v.contains(Rule::NewEnums) {
        assert_eq!(unknown.len(), 1, "{unknown:?}");
        let icmp = unknown[0];
        assert_eq!(icmp.protocol, IngressRuleProtocol::Unknown("icmp".into()));
        assert_eq!(icmp.protocol.as_str(), "icmp");
        assert_eq!(
            (&icmp.action, &icmp.kind, icmp.ports.as_str()),
            (&PolicyAction::Allow, &IngressRuleKind::Cidr, "any")
        );
        // Sent back as a policy, the unknown protocol is not refused by the SDK
        // (`InvalidInput`): it goes out verbatim, and the server decides. The fake does not
        // accept `icmp` in a user's policy, and says so with a 400 naming it.
        let err = client
            .vms()
            .set_firewall(id, effective.clone())
            .await
            .expect_err("the fake refuses icmp in a user policy");
        let api = err.api().unwrap_or_else(|| panic!("an API error, not {err:?}"));
        assert_eq!(api.kind, ApiErrorKind::BadRequest, "{err:?}");
        assert!(api.message.contains("\"icmp\""), "sent verbatim: {}", api.message);
    } else {
        assert!(unknown.is_empty(), "{unknown:?}");
        // The effective view sent back as the user's policy is accepted as it is.
        let vm = client
            .vms()
            .set_firewall(id, effective.clone())
            .await
            .expect("set the effective policy");
        assert_eq!(vm.firewall.as_ref(), Some(&effective));
    }
    let vm = client.vms().set_firewall(id, policy.clone()).await.expect("restore");
    assert_eq!(vm.firewall, Some(policy));
}

/// `POST /v1/vms/{id}/console-token`.
async fn console_token(client: &FastvmClient, id: &str) {
    let token = client.vms().console_token(id).await.expect("console token");
    assert_eq!(token.token.len(), 48, "{token:?}");
    assert_eq!(token.websocket_path, format!("/v1/vms/{id}/console/ws"));
    assert_eq!(token.expires_in_sec, 60);
}

/// Buffered exec: both streams and a non-zero exit, exit 0 with every empty field left out under
/// omitempty, the VM's env, stdin, argv passed as is, and the server-side timeout.
async fn buffered_exec(client: &FastvmClient, id: &str) {
    let vms = client.vms();
    let out = vms.run(id, "printf out; printf err >&2; exit 3").await.expect("run");
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str(), out.exit_code, out.timed_out),
        ("out", "err", 3, false)
    );
    assert!(!out.stdout_truncated && !out.stderr_truncated);

    let ok = vms.run(id, "true").await.expect("run true");
    assert_eq!(
        (ok.stdout.as_str(), ok.stderr.as_str(), ok.exit_code, ok.timed_out),
        ("", "", 0, false)
    );

    let env = vms.run(id, "printf %s \"$GREETING\"").await.expect("run with env");
    assert_eq!(env.stdout, "hello from the env");

    let piped = vms
        .run(id, Command::argv(["cat"]).stdin(b"piped $HOME; input\n".to_vec()))
        .await
        .expect("run with stdin");
    assert_eq!((piped.stdout.as_str(), piped.exit_code), ("piped $HOME; input\n", 0));
    let argv = vms
        .run(id, ["printf", "%s|", "a b", "$HOME"])
        .await
        .expect("run an argv");
    assert_eq!(argv.stdout, "a b|$HOME|");

    let slow = vms
        .run(
            id,
            Command::sh("printf started; sleep 30").timeout(Duration::from_secs(1)),
        )
        .await
        .expect("run with a timeout");
    assert!(slow.timed_out, "{slow:?}");
    assert_ne!(slow.exit_code, 0);
    assert_eq!(slow.stdout, "started");
}

/// Streamed exec: the events in order and the exit event, exit 0 (whose `c` omitempty drops),
/// stdin, and the timeout.
async fn streamed_exec(client: &FastvmClient, id: &str) {
    let vms = client.vms();
    let mut stream = vms
        .stream(id, "printf a; sleep 0.1; printf b >&2; sleep 0.1; printf c; exit 5")
        .await
        .expect("stream");
    // Chunk boundaries are the server's, and stdout and stderr are read concurrently: each
    // stream's bytes are checked in order, and the exit event comes last, once.
    let (mut stdout, mut stderr, mut exit) = (Vec::new(), Vec::new(), None);
    while let Some(event) = stream.next().await {
        assert!(exit.is_none(), "an event after the exit");
        match event.expect("event") {
            ExecEvent::Stdout(b) => stdout.extend_from_slice(&b),
            ExecEvent::Stderr(b) => stderr.extend_from_slice(&b),
            e @ ExecEvent::Exit { .. } => exit = Some(e),
            other => panic!("an event the server never sends: {other:?}"),
        }
    }
    assert_eq!((stdout.as_slice(), stderr.as_slice()), (&b"ac"[..], &b"b"[..]));
    let exit = exit.expect("the exit event");
    match &exit {
        ExecEvent::Exit {
            code,
            timed_out,
            diagnostic,
            ..
        } => assert_eq!((*code, *timed_out, diagnostic.as_deref()), (5, false, None)),
        other => panic!("the last event is the exit, not {other:?}"),
    }

    let ok = vms
        .stream(id, Command::argv(["cat"]).stdin(b"streamed stdin".to_vec()))
        .await
        .expect("stream")
        .collect()
        .await
        .expect("collect");
    assert_eq!(
        (ok.stdout.as_slice(), ok.stderr.as_slice()),
        (&b"streamed stdin"[..], &b""[..])
    );
    assert_eq!((ok.exit.code, ok.exit.timed_out), (0, false));
    assert!(ok.success());

    let (mut out, mut err) = (Vec::new(), Vec::new());
    let exit = vms
        .stream(id, "printf to-out; printf to-err >&2; exit 2")
        .await
        .expect("stream")
        .tee(&mut out, &mut err)
        .await
        .expect("tee");
    assert_eq!((out.as_slice(), err.as_slice()), (&b"to-out"[..], &b"to-err"[..]));
    assert_eq!((exit.code, exit.timed_out, exit.diagnostic), (2, false, None));

    let slow = vms
        .stream(
            id,
            Command::sh("printf started; sleep 30").timeout(Duration::from_secs(1)),
        )
        .await
        .expect("stream")
        .collect()
        .await
        .expect("collect");
    assert_eq!(slow.stdout, b"started");
    assert!(slow.exit.timed_out && !slow.success(), "{slow:?}");
}

/// SSH keys: add (the comment is stripped), a duplicate refused, list, delete by a fingerprint
/// with a `/` in it.
async fn ssh_keys(client: &FastvmClient, id: &str) {
    let keys = client.vms().ssh_keys();
    assert!(keys.list(id).await.expect("list").is_empty());
    let added = keys.add(id, &format!("{ED25519}\n")).name("laptop").await.expect("add");
    assert_eq!(added.public_key, ED25519_KEY);
    assert_eq!(added.fingerprint, ED25519_FINGERPRINT);
    assert_eq!(added.name.as_deref(), Some("laptop"));
    assert!(added.created_at.is_some());
    let err = keys.add(id, ED25519).await.expect_err("a duplicate");
    assert_eq!(err.api().map(|a| a.kind), Some(ApiErrorKind::Conflict), "{err:?}");
    assert_eq!(keys.list(id).await.expect("list"), std::slice::from_ref(&added));
    let gone = keys.delete(id, &added.fingerprint).await.expect("delete");
    assert_eq!((gone.id.as_str(), gone.deleted), (ED25519_FINGERPRINT, true));
    assert!(keys.list(id).await.expect("list").is_empty());
    let err = keys.delete(id, ED25519_FINGERPRINT).await.expect_err("deleted already");
    assert!(err.is_not_found(), "{err:?}");
}

/// The raw file flow: presign, PUT the bytes to storage, have the VM fetch them.
async fn raw_files(client: &FastvmClient, server: &FakeServer, id: &str) {
    // Under /root only when the fake's VMs have their own filesystem (else: this host's).
    let scratch = tempfile::tempdir().expect("scratch dir");
    let dest_buf = if server.isolated() {
        PathBuf::from("/root/raw/fetched.bin")
    } else {
        scratch.path().join("raw/fetched.bin")
    };
    let dest = dest_buf.as_path();
    let urls = client.vms().files().presign(id, s(dest)).await.expect("presign");
    assert!(urls.expires_in_sec > 0, "{urls:?}");
    assert_eq!(urls.max_upload_bytes, 10 << 30, "the VM's disk");
    let content: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let put = reqwest::Client::new()
        .put(&urls.upload_url)
        .header("content-type", "application/octet-stream")
        .body(content.clone())
        .send()
        .await
        .expect("PUT to storage");
    assert!(put.status().is_success(), "{}", put.status());
    let fetched = client
        .vms()
        .files()
        .fetch(id, &urls.download_url, s(dest))
        .timeout(Duration::from_secs(30))
        .await
        .expect("fetch");
    assert_eq!((fetched.exit_code, fetched.timed_out), (0, false), "{fetched:?}");
    let in_vm = server.vm_path(id, dest).expect("a VM path");
    assert!(std::fs::read(in_vm).expect("fetched file") == content);
    let back = reqwest::get(&urls.download_url).await.expect("GET from storage");
    assert!(back.bytes().await.expect("body") == content);
}

/// `upload` and `download` of a file and of a directory, both verified, round-tripping their
/// contents.
async fn transfers(client: &FastvmClient, server: &FakeServer, id: &str, tmp: &Path) {
    let file = tmp.join("local/file.bin");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let content: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&file, &content).unwrap();
    let remote = Path::new("/home/e2e/file.bin");
    client
        .upload(id, &file, s(remote))
        .verify(true)
        .await
        .expect("upload a file");
    assert!(std::fs::read(server.vm_path(id, remote).unwrap()).expect("remote file") == content);
    let back = tmp.join("back/file.bin");
    client
        .download(id, s(remote), &back)
        .verify(true)
        .await
        .expect("download a file");
    assert!(std::fs::read(&back).expect("downloaded file") == content);

    let dir = tmp.join("local/project");
    std::fs::create_dir_all(dir.join("src/nested")).unwrap();
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    std::fs::write(dir.join("README.md"), "# demo\n").unwrap();
    std::fs::write(dir.join("src/main.rs"), "fn main() {}\n").unwrap();
    std::fs::write(dir.join("src/nested/data.bin"), &content).unwrap();
    std::fs::write(dir.join("zero"), b"").unwrap();
    let remote = Path::new("/srv/project");
    client
        .upload(id, &dir, s(remote))
        .verify(true)
        .await
        .expect("upload a directory");
    assert_eq!(tree(&server.vm_path(id, remote).unwrap()), tree(&dir));
    let back = tmp.join("back/project");
    client
        .download(id, s(remote), &back)
        .verify(true)
        .await
        .expect("download a directory");
    assert_eq!(tree(&back), tree(&dir));
    assert_eq!(tree(&dir).len(), 7, "the tree has what was written");
}

/// Snapshots: create, list, retrieve, rename, restore a VM from one (launch from snapshot),
/// delete. Returns the restored VM's id.
async fn snapshots(client: &FastvmClient, vm: &VmInfo) -> String {
    let snaps = client.snapshots();
    let snap = snaps.create(&vm.id).name("e2e-snap").await.expect("create");
    assert_eq!(snap.status, SnapshotStatus::Ready);
    assert_eq!((snap.name.as_str(), snap.vm_id.as_str()), ("e2e-snap", vm.id.as_str()));
    assert_eq!(snap.firewall, Some(full_policy()), "the VM's firewall is captured");
    assert_eq!(
        snap.env_vars.as_deref(),
        Some(&map(&[("GREETING", "hello from the env")]))
    );
    let services: Vec<(&str, i64)> = snap.services.iter().map(|s| (s.name.as_str(), s.port)).collect();
    assert_eq!(services, [("web", 8081)]);
    assert_eq!(snaps.list().await.expect("list"), std::slice::from_ref(&snap));
    assert_eq!(snaps.retrieve(&snap.id).await.expect("retrieve"), snap);
    let renamed = snaps.update(&snap.id).name("e2e-snap-renamed").await.expect("rename");
    assert_eq!(renamed.name, "e2e-snap-renamed");
    assert_eq!(renamed.id, snap.id);
    let q = client.quotas().retrieve().await.expect("quotas");
    assert_eq!(q.usage.snapshot_count, 1);

    let restored = client
        .launch_vm(launch::snapshot(&snap.id).name("e2e-restored"))
        .no_safety_ttl()
        .await
        .map(fastvm_tests::fake::released)
        .expect("launch from the snapshot");
    assert!(restored.snapshot_restore_warnings.is_none());
    assert_eq!(restored.status, VmStatus::Running);
    assert_eq!(restored.name, "e2e-restored");
    assert_eq!(restored.source_name.as_deref(), Some("e2e-snap-renamed"));
    assert_eq!((restored.cpu, restored.memory_mib), (2, 4096), "the snapshot's machine");
    assert_eq!(restored.firewall, Some(full_policy()));
    assert_eq!(
        restored.env_vars.as_deref(),
        Some(&map(&[("GREETING", "hello from the env")]))
    );
    let services = client.vms().services().list(&restored.id).await.expect("services");
    assert_eq!(services, [service("web", 8081, false)], "services were replayed");
    let out = client
        .vms()
        .run(&restored.id, "printf %s \"$GREETING\"")
        .await
        .expect("run");
    assert_eq!(out.stdout, "hello from the env");

    let gone = snaps.delete(&snap.id).await.expect("delete");
    assert_eq!((gone.id.as_str(), gone.deleted), (snap.id.as_str(), true));
    let err = snaps.retrieve(&snap.id).await.expect_err("deleted");
    assert!(err.is_not_found(), "{err:?}");
    assert!(snaps.list().await.expect("list").is_empty());
    restored.vm.id
}

/// Builds: a build-context upload, create (`queued` under new-enums, a status this SDK does not
/// know), wait until completed, and the snapshot it made.
async fn builds(client: &FastvmClient, v: Variance) {
    let urls = client
        .build_contexts()
        .presign()
        .await
        .expect("presign a build context");
    assert!(urls.expires_in_sec > 0 && urls.max_upload_bytes > 0, "{urls:?}");
    let put = reqwest::Client::new()
        .put(&urls.upload_url)
        .header("content-type", "application/gzip")
        .body(b"\x1f\x8b not really a tarball".to_vec())
        .send()
        .await
        .expect("PUT the context");
    assert!(put.status().is_success(), "{}", put.status());

    let build = client
        .builds()
        .create()
        .name("e2e-build")
        .dockerfile("FROM alpine:3.20\nCOPY . /app\n")
        .context_url(urls.download_url.clone())
        .await
        .expect("create a build");
    let queued = if v.contains(Rule::NewEnums) {
        fastvm::types::BuildStatus::Unknown("queued".into())
    } else {
        fastvm::types::BuildStatus::Pending
    };
    assert_eq!(build.status, queued);
    assert_eq!(build.image_ref, "alpine:3.20", "taken from the Dockerfile's FROM");
    assert_eq!(build.name.as_deref(), Some("e2e-build"));
    assert!(build.snapshot_id.is_none() && build.error.is_none());

    let done = client
        .wait_for_build(&build.id)
        .poll_interval(POLL)
        .deadline(DEADLINE)
        .await
        .expect("wait for the build");
    assert_eq!(done.status, fastvm::types::BuildStatus::Completed);
    assert!(done.error.is_none() && done.progress.is_none(), "{done:?}");
    let snapshot_id = done.snapshot_id.clone().expect("a completed build has its snapshot");
    assert_eq!(client.builds().retrieve(&build.id).await.expect("retrieve"), done);
    let snap = client
        .snapshots()
        .retrieve(&snapshot_id)
        .await
        .expect("the build's snapshot");
    assert_eq!(
        (snap.name.as_str(), &snap.status),
        ("e2e-build", &SnapshotStatus::Ready)
    );
    let gone = client.snapshots().delete(&snapshot_id).await.expect("delete it");
    assert_eq!(gone.id, snapshot_id);
}

/// Errors: 404s (`is_not_found`), and input the SDK refuses before sending (`InvalidInput`).
async fn errors(client: &FastvmClient, id: &str) {
    let err = client.vms().retrieve(MISSING).await.expect_err("no such VM");
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(err.status(), Some(reqwest::StatusCode::NOT_FOUND));
    let api = err.api().expect("an API error");
    assert_eq!((api.kind, api.operation), (ApiErrorKind::NotFound, Some("getVm")));
    assert!(api.message.contains(MISSING), "{}", api.message);
    for err in [
        client.vms().delete(MISSING).await.map(drop),
        client.snapshots().retrieve(MISSING).await.map(drop),
        client.builds().retrieve(MISSING).await.map(drop),
        client.vms().stream(MISSING, "true").await.map(drop),
        client.vms().services().list(MISSING).await.map(drop),
    ] {
        let err = err.expect_err("no such resource");
        assert!(err.is_not_found(), "{err:?}");
    }

    let invalid = [
        client.builds().create().await.map(drop),
        client
            .launch_vm(launch::machine("c1m2").disk_gib(0))
            .no_safety_ttl()
            .await
            .map(fastvm_tests::fake::released)
            .map(drop),
        client.vms().services().register(id, "Not_A_Name", 80).await.map(drop),
        client
            .vms()
            .run(id, Command::argv(Vec::<String>::new()))
            .await
            .map(drop),
    ];
    for (result, field) in invalid.into_iter().zip(["imageRef", "diskGiB", "name", "command"]) {
        match result {
            Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected InvalidInput for {field}, got {other:?}"),
        }
    }
    let quota_before = client.quotas().retrieve().await.expect("quotas");
    assert_eq!(quota_before.usage.vcpu, 4, "nothing was launched by the refused calls");
}

/// Deletes the VMs: each answer (a body, or under other-2xx a 204 without one) gives the
/// deleted id; after them nothing is left.
async fn deletes(client: &FastvmClient, ids: &[&str]) {
    for id in ids {
        let gone = client.vms().delete(id).await.expect("delete");
        assert_eq!((gone.id.as_str(), gone.deleted), (*id, true));
        let err = client.vms().retrieve(id).await.expect_err("deleted");
        assert!(err.is_not_found(), "{err:?}");
    }
    assert!(client.vms().list().await.expect("list").is_empty());
    let q = client.quotas().retrieve().await.expect("quotas");
    assert_eq!(
        (
            q.usage.vcpu,
            q.usage.memory_mib,
            q.usage.disk_gib,
            q.usage.snapshot_count
        ),
        (0, 0, 0, 0)
    );
}

/// A policy with every block and field set, and nothing the server would fill in, so that it
/// reads back exactly as sent under every variance.
fn full_policy() -> FirewallPolicy {
    FirewallPolicy::new()
        .with_ingress(IngressPolicy::deny_except([
            IngressRule::allow_tcp("22", "10.0.0.0/8").with_description("office")
        ]))
        .with_egress(EgressPolicy::allow_except([
            EgressRule::new(
                PolicyAction::Deny,
                EgressRuleKind::Fqdn,
                "*.example.com",
                EgressRuleProtocol::Any,
                "any",
            )
            .with_description("no tracking"),
            EgressRule::new(
                PolicyAction::Allow,
                EgressRuleKind::Cidr,
                "2001:db8::/32",
                EgressRuleProtocol::Udp,
                "53",
            )
            .with_description("dns"),
        ]))
        .with_dns(DnsPolicy::only(["example.com", "*.example.org"]).blocking_bypass())
}

fn service(name: &str, port: i64, h2c: bool) -> Service {
    Service::new(name, port, h2c)
}

fn map(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Everything below `root`: relative path to `None` (a directory) or the file's bytes.
fn tree(root: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Option<Vec<u8>>>) {
        for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            if p.is_dir() {
                out.insert(rel, None);
                walk(root, &p, out);
            } else {
                out.insert(rel, Some(std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}
