//! The `fastvm` facade against `fastvm-fake`: the quickstart path (launch-and-wait, run,
//! stream) and retries over real HTTP.
// Tests deprecated operations too (builds, build contexts, a VM's SSH keys), kept for
// servers at the reference's version.
#![allow(deprecated)]

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

/// Bucket mounts on the fake (upstream after the reference): mounted at their path in the VM,
/// listed on the VM's state, credentials rotated, kept by a snapshot and mounted again by its
/// restore (with their stored credentials), replaced by a restore that names its own, deleted.
#[tokio::test]
async fn bucket_mounts_are_mounted_kept_by_snapshots_and_deleted() {
    use fastvm::types::{BucketCredentials, CreateBucketMountRequest};
    let aws = || {
        BucketCredentials::aws_credentials_file(
            "[default]\naws_access_key_id = A\naws_secret_access_key = fakeSecret\n",
        )
    };
    let (server, client, vm_id) = fastvm_tests::fake::with_vm("bucket-mounts").await;
    let vm = client.attach(&vm_id).await.unwrap();
    let mount = vm
        .bucket_mounts()
        .create("s3://logs/2026", "/mnt/logs", aws())
        .read_only(true)
        .await
        .unwrap();
    assert_eq!(mount.mount_status, Some(fastvm::types::MountStatus::Mounted));
    assert_eq!((mount.read_only, mount.vm_id.as_str()), (Some(true), vm_id.as_str()));
    let on_vm = client.vms().retrieve(&vm_id).await.unwrap();
    assert_eq!(on_vm.bucket_mounts.len(), 1);
    assert_eq!(on_vm.bucket_mounts[0].id, mount.id);
    if server.isolated() {
        assert!(
            vm.run("test -d /mnt/logs").await.unwrap().success(),
            "the mount point exists in the VM"
        );
    }
    // A second mount at the same path is refused; the bad body's credentials are not echoed.
    let twice = vm
        .bucket_mounts()
        .create("s3://other", "/mnt/logs", aws())
        .await
        .unwrap_err();
    assert_eq!(
        twice.api().map(|e| e.kind),
        Some(fastvm::ApiErrorKind::Conflict),
        "{twice}"
    );
    assert!(!twice.to_string().contains("fakeSecret"));

    let rotated = vm
        .bucket_mounts()
        .rotate_credentials(
            &mount.id,
            BucketCredentials::gcp_service_account("w@p.iam", "-----BEGIN PRIVATE KEY-----\nk"),
        )
        .await
        .unwrap();
    assert_eq!(rotated.id, mount.id);

    // A snapshot keeps the mount (no credentials) and its machine type; a restore mounts it again.
    let snap = client.snapshots().create(&vm_id).wait_ready().await.unwrap();
    assert_eq!(snap.bucket_mounts.len(), 1);
    assert_eq!(snap.bucket_mounts[0].bucket_uri, "s3://logs/2026");
    assert_eq!(
        snap.machine_name.as_deref(),
        Some(on_vm.machine_name.as_deref().unwrap_or("c1m2"))
    );
    let restored = client.launch_vm(fastvm::launch::snapshot(&snap.id)).await.unwrap();
    let mounts = restored.bucket_mounts().list().await.unwrap();
    assert_eq!(mounts.len(), 1);
    assert_eq!(mounts[0].mount_path, "/mnt/logs");
    assert_ne!(mounts[0].id, mount.id, "a mount of its own");
    // A restore naming its own mounts replaces the snapshot's.
    let replaced = client
        .launch_vm(
            fastvm::launch::snapshot(&snap.id).bucket_mount(CreateBucketMountRequest::new(
                "gs://models",
                "/data/models",
                aws(),
            )),
        )
        .await
        .unwrap();
    let paths: Vec<String> = replaced
        .bucket_mounts()
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.mount_path)
        .collect();
    assert_eq!(paths, ["/data/models"]);
    assert!(replaced.launch_warnings().is_empty());

    let gone = vm.bucket_mounts().delete(&mount.id).await.unwrap();
    assert!(gone.deleted && gone.id == mount.id);
    assert!(vm.bucket_mounts().list().await.unwrap().is_empty());
    assert!(vm.bucket_mounts().retrieve(&mount.id).await.unwrap_err().is_not_found());
    restored.delete().await.unwrap();
    replaced.delete().await.unwrap();
    client.snapshots().delete(&snap.id).await.unwrap();
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
