//! The `fastvm` facade against `fastvm-fake`: the quickstart path (launch-and-wait, run,
//! stream) and retries over real HTTP.

use std::time::Duration;

use fastvm_fake::{FakeServer, Fault};

#[tokio::test]
async fn quickstart_launch_waits_through_provisioning_then_runs_and_streams() {
    let server = FakeServer::builder()
        .boot_delay(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let client = fastvm_tests::fake::client(&server);
    let vm = client
        .launch_vm(fastvm::launch::machine("c1m2").name("qs"))
        .no_safety_ttl()
        .await
        .map(fastvm_tests::fake::released)
        .unwrap();
    assert_eq!(vm.vm.status, fastvm::types::VmStatus::Running);

    let out = client
        .vms()
        .run(&vm.vm.id, "echo hello; echo oops >&2; exit 4")
        .await
        .unwrap();
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str(), out.exit_code),
        ("hello\n", "oops\n", 4)
    );

    let streamed = client.vms().stream(&vm.vm.id, "printf a; printf b >&2").await.unwrap();
    let collected = streamed.collect().await.unwrap();
    assert_eq!(
        (collected.stdout.as_slice(), collected.stderr.as_slice()),
        (&b"a"[..], &b"b"[..])
    );
    assert!(collected.success());
}

#[tokio::test]
async fn facade_retries_injected_503s_and_reports_truncated_streams() {
    let (server, client, vm_id) = fastvm_tests::fake::with_vm("retries").await;

    server
        .faults()
        .push("getVm", Fault::status(503).header("Retry-After", "0").times(2));
    let got = client.vms().retrieve(&vm_id).await.unwrap();
    assert_eq!(got.id, vm_id);
    assert_eq!(
        server.faults().pending("getVm"),
        0,
        "both faults were consumed by retries"
    );

    server.faults().push("execVm", Fault::truncate_stream());
    let stream = client.vms().stream(&vm_id, "echo hi").await.unwrap();
    let err = stream.collect().await.unwrap_err();
    assert!(matches!(err, fastvm::Error::StreamClosed { .. }), "{err:?}");
}

/// `list().metadata(k, v)` filters on the fake as on the API: every filter must match, and it
/// combines with the status filter.
#[tokio::test]
async fn list_filters_by_metadata_all_filters_matching() {
    use fastvm::types::VmStatus;
    let server = FakeServer::start().await.unwrap();
    let client = fastvm_tests::fake::client(&server);
    let launch = |name: &'static str, team: &'static str, env: &'static str| {
        let client = client.clone();
        async move {
            let params = fastvm::launch::machine("c1m2")
                .name(name)
                .metadata("team", team)
                .metadata("env", env);
            fastvm_tests::fake::launch_kept(&client, params).await
        }
    };
    let red_prod = launch("a", "red", "prod").await;
    let red_dev = launch("b", "red", "dev").await;
    let blue_prod = launch("c", "blue", "prod").await;
    let ids = |vms: Vec<fastvm::types::VmInfo>| {
        let mut ids: Vec<String> = vms.into_iter().map(|vm| vm.id).collect();
        ids.sort();
        ids
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let red = client.vms().list().metadata("team", "red").await.unwrap();
    assert_eq!(ids(red), sorted(vec![red_prod.clone(), red_dev.clone()]));
    let red_and_prod = client
        .vms()
        .list()
        .metadata("team", "red")
        .metadata("env", "prod")
        .await
        .unwrap();
    assert_eq!(ids(red_and_prod), std::slice::from_ref(&red_prod));
    let nobody = client.vms().list().metadata("team", "green").await.unwrap();
    assert!(nobody.is_empty());
    client.vms().pause(&red_prod).await.unwrap();
    let running_red = client
        .vms()
        .list()
        .status(VmStatus::Running)
        .metadata("team", "red")
        .await
        .unwrap();
    assert_eq!(ids(running_red), std::slice::from_ref(&red_dev));
    assert_eq!(ids(client.vms().list().await.unwrap()).len(), 3, "{blue_prod}");
    // A filter the API would refuse is refused before any request.
    let err = client.vms().list().metadata("", "x").await.unwrap_err();
    assert!(matches!(err, fastvm::Error::InvalidInput { .. }), "{err:?}");
}

/// The user's SSH keys (`/v1/me/ssh-keys`, upstream after the reference) against the fake: a key
/// added is listed with the fingerprint `ssh-keygen -lf` prints, a duplicate is a conflict, a
/// deleted one is gone, and the keys are the user's, not a VM's.
#[tokio::test]
async fn user_ssh_keys_are_added_listed_refused_twice_and_deleted() {
    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOGfWKDypYxh9k4VQH+JgkxbE1p4BzWv0Gh65glAi+CQ me@host\n";
    let (_server, client, vm) = fastvm_tests::fake::with_vm("user-keys").await;
    let keys = client.user_ssh_keys();
    assert!(keys.list().await.unwrap().is_empty());

    let added = keys.add(KEY).name("laptop").await.unwrap();
    // What `ssh-keygen -lf` prints for it (its `/` is encoded in the delete's path below).
    assert_eq!(added.fingerprint, "SHA256:zh+clZr1I3/nhfKn28aLGRIwOA4ff2ORSTI8Cs4Ovq4");
    assert!(!added.public_key.contains("me@host"), "the comment is stripped");
    let listed = keys.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].fingerprint.as_str(), listed[0].name.as_deref()),
        (added.fingerprint.as_str(), Some("laptop"))
    );
    // The user's keys are not the VM's.
    assert!(client.vms().ssh_keys().list(&vm).await.unwrap().is_empty());

    let twice = keys.add(KEY).await.unwrap_err();
    assert_eq!(
        twice.api().map(|e| e.kind),
        Some(fastvm::ApiErrorKind::Conflict),
        "{twice}"
    );

    let gone = keys.delete(&added.fingerprint).await.unwrap();
    assert!(gone.deleted && gone.id == added.fingerprint, "{gone:?}");
    assert!(keys.list().await.unwrap().is_empty());
    assert!(keys.delete(&added.fingerprint).await.unwrap_err().is_not_found());
}

/// The public list prices (`/v1/pricing`, upstream after the reference) from the fake: a
/// ladder whose top tier is open-ended, rates as exact decimal strings; no API key needed.
#[tokio::test]
async fn prices_are_read_from_the_fake_without_a_key() {
    let server = FakeServer::start().await.unwrap();
    let prices = fastvm_tests::fake::client(&server).pricing().retrieve().await.unwrap();
    let tiers = &prices.compute.tiers;
    assert!(
        !tiers.is_empty() && tiers.last().unwrap().to_vcpu_hours.is_none(),
        "{tiers:?}"
    );
    assert!(
        tiers
            .windows(2)
            .all(|w| w[0].to_vcpu_hours == Some(w[1].from_vcpu_hours))
    );
    assert!(prices.volume_storage.rate_per_gib_month.parse::<f64>().is_ok());
    // Public: answered without the key too.
    let anonymous = reqwest::get(format!("{}/v1/pricing", server.base_url())).await.unwrap();
    assert_eq!(anonymous.status(), 200);
}
