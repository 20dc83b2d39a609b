//! Managed volumes end to end against `fastvm-fake` (issue #28): a volume attached to two VMs
//! is one directory tree (a file one writes, the other reads), it outlives a detach and a VM's
//! delete, and the SDK and the fake refuse what the API refuses.

use std::time::Duration;

use fastvm::ApiErrorKind;
use fastvm::types::VolumeStatus;
use fastvm_fake::FakeServer;
use fastvm_tests::fake::{client, launch_kept};

/// How long the fake keeps a volume `creating` (and `deleting`), skipped with `advance`.
const SETTLE: Duration = Duration::from_secs(5);

/// `path` as a VM's command reaches it: itself with isolation; without, commands run on this
/// host in the VM's directory, so relative to it (absolute paths are the host's there).
fn at(server: &FakeServer, path: &str) -> String {
    if server.isolated() {
        path.to_string()
    } else {
        path.trim_start_matches('/').to_string()
    }
}

fn kind<T: std::fmt::Debug>(r: fastvm::Result<T>) -> (Option<ApiErrorKind>, String) {
    let err = r.unwrap_err();
    (err.api().map(|e| e.kind), err.to_string())
}

#[tokio::test]
async fn a_volume_is_shared_by_the_vms_it_is_attached_to() {
    let server = FakeServer::builder().volume_duration(SETTLE).start().await.unwrap();
    let client = client(&server);
    let a = client
        .attach(&launch_kept(&client, fastvm::launch::machine("c1m2")).await)
        .await
        .unwrap();
    let b = client
        .attach(&launch_kept(&client, fastvm::launch::machine("c1m2")).await)
        .await
        .unwrap();

    // `creating` until its storage is ready: an attach meanwhile is refused with VOL_NOT_READY.
    let vol = client.volumes().create("shared", 1).await.unwrap();
    assert_eq!(vol.status, VolumeStatus::Creating);
    let (k, msg) = kind(a.volumes().attach(&vol.id, "/mnt/shared").await);
    assert_eq!(k, Some(ApiErrorKind::Conflict), "{msg}");
    assert!(msg.contains("VOL_NOT_READY"), "{msg}");
    server.advance(SETTLE);
    assert_eq!(
        client.volumes().retrieve(&vol.id).await.unwrap().status,
        VolumeStatus::Ready
    );

    // Attached to both, at different paths.
    let att = a.volumes().attach(&vol.id, "/mnt/shared").await.unwrap();
    assert_eq!((att.volume_id.as_str(), att.read_only), (vol.id.as_str(), Some(false)));
    b.volumes().attach(&vol.id, "/data/shared").await.unwrap();
    assert_eq!(client.volumes().retrieve(&vol.id).await.unwrap().mounted_count, 2);
    let listed = a.volumes().list().await.unwrap();
    assert_eq!((listed.len(), listed[0].mount_path.as_str()), (1, "/mnt/shared"));
    let mut vms: Vec<String> = client
        .volumes()
        .attachments(&vol.id)
        .await
        .unwrap()
        .into_iter()
        .map(|x| x.vm_id)
        .collect();
    vms.sort();
    let mut both = vec![a.id().to_string(), b.id().to_string()];
    both.sort();
    assert_eq!(vms, both);
    let quotas = client.quotas().retrieve().await.unwrap();
    assert_eq!((quotas.usage.volume_count, quotas.usage.volume_gib), (Some(1), Some(1)));

    // What A writes, B reads.
    let write = format!("echo hi > {}", at(&server, "/mnt/shared/x"));
    a.run(write.as_str()).await.unwrap().check().unwrap();
    let read = format!("cat {}", at(&server, "/data/shared/x"));
    assert_eq!(b.run(read.as_str()).await.unwrap().check().unwrap().stdout, "hi\n");

    // Still attached: the volume cannot be deleted.
    let (k, msg) = kind(client.volumes().delete(&vol.id).await);
    assert_eq!(k, Some(ApiErrorKind::Conflict), "{msg}");

    // Detached from A, the file stays in the volume (B still reads it); a read-only
    // attachment reads it too, and (with isolation, where the fake can refuse it) cannot write.
    let done = a.volumes().detach(&vol.id).await.unwrap();
    assert!(done.detached && done.warnings.is_empty());
    assert_eq!(b.run(read.as_str()).await.unwrap().check().unwrap().stdout, "hi\n");
    let ro = a.volumes().attach(&vol.id, "/mnt/ro").read_only(true).await.unwrap();
    assert_eq!(ro.read_only, Some(true));
    let read_ro = format!("cat {}", at(&server, "/mnt/ro/x"));
    assert_eq!(a.run(read_ro.as_str()).await.unwrap().check().unwrap().stdout, "hi\n");
    if server.isolated() {
        let out = a.run("echo no > /mnt/ro/y").await.unwrap();
        assert_ne!(out.exit_code, 0, "a read-only attachment refuses writes: {out:?}");
    }
    a.volumes().detach(&vol.id).await.unwrap();
    let (k, _) = kind(a.volumes().detach(&vol.id).await);
    assert_eq!(k, Some(ApiErrorKind::NotFound), "not attached any more");

    // A VM deleted takes its attachments with it.
    client.vms().delete(b.id()).await.unwrap();
    assert!(client.volumes().attachments(&vol.id).await.unwrap().is_empty());
    assert_eq!(client.volumes().retrieve(&vol.id).await.unwrap().mounted_count, 0);

    // Deleted: `deleting`, then gone.
    let gone = client.volumes().delete(&vol.id).await.unwrap();
    assert!(gone.deleted && gone.id == vol.id);
    assert_eq!(
        client.volumes().retrieve(&vol.id).await.unwrap().status,
        VolumeStatus::Deleting
    );
    let (k, _) = kind(a.volumes().attach(&vol.id, "/mnt/again").await);
    assert_eq!(k, Some(ApiErrorKind::Conflict), "a deleting volume is not attachable");
    server.advance(SETTLE);
    assert!(client.volumes().retrieve(&vol.id).await.unwrap_err().is_not_found());
    assert!(client.volumes().list().await.unwrap().is_empty());
}

#[tokio::test]
async fn volume_refusals() {
    let server = FakeServer::start().await.unwrap();
    let client = client(&server);
    let vm = client
        .attach(&launch_kept(&client, fastvm::launch::machine("c1m2")).await)
        .await
        .unwrap();

    // A volume that does not exist: 404 from the server.
    let missing = "7a8b9c0d-0000-0000-0000-000000000000";
    let (k, msg) = kind(vm.volumes().attach(missing, "/mnt/x").await);
    assert_eq!(k, Some(ApiErrorKind::NotFound), "{msg}");

    // A bad mount path, a size of 0, a blank name: refused by the SDK, before any request
    // (an invalid input, not the fake's 400).
    let vol = client.volumes().create("v", 1).await.unwrap();
    for bad in ["/etc/x", "/mnt/../etc", "relative/x", "/mnt/"] {
        let err = vm.volumes().attach(&vol.id, bad).await.unwrap_err();
        assert!(matches!(err, fastvm::Error::InvalidInput { .. }), "{bad}: {err:?}");
    }
    assert!(matches!(
        client.volumes().create("v", 0).await.unwrap_err(),
        fastvm::Error::InvalidInput { .. }
    ));
    assert!(matches!(
        client.volumes().create(" ", 1).await.unwrap_err(),
        fastvm::Error::InvalidInput { .. }
    ));

    // The fake's own checks, through the generated client (the SDK would refuse these first).
    let body = fastvm::types::VolumeMount::new(vol.id.clone(), "/tmp/x");
    let raw = client.api().attach_volume().id(vm.id()).body(body).send().await;
    assert_eq!(raw.unwrap_err().status().map(|s| s.as_u16()), Some(400));

    // Renamed and resized; twice at one path is a conflict.
    let v = client
        .volumes()
        .update(&vol.id)
        .name("renamed")
        .size_gib(3)
        .await
        .unwrap();
    assert_eq!((v.name.as_str(), v.size_gib), ("renamed", 3));
    vm.volumes().attach(&vol.id, "/data/v").await.unwrap();
    let other = client.volumes().create("w", 1).await.unwrap();
    let (k, _) = kind(vm.volumes().attach(&other.id, "/data/v").await);
    assert_eq!(k, Some(ApiErrorKind::Conflict));
}

/// Volumes at launch (upstream after the reference): attached by the launch, kept by a
/// snapshot and attached again by its restore (what the first VM wrote is there), replaced by
/// a restore that names its own; one that cannot be attached is a warning, not a failure.
#[tokio::test]
async fn volumes_attach_at_launch_and_follow_snapshots() {
    use fastvm::types::VolumeMount;
    let server = FakeServer::start().await.unwrap();
    let client = client(&server);
    let vol = client.volumes().create("cache", 1).await.unwrap();
    let other = client.volumes().create("other", 1).await.unwrap();

    let first = client
        .launch_vm(fastvm::launch::machine("c1m2").volume(VolumeMount::new(vol.id.clone(), "/mnt/cache")))
        .await
        .unwrap();
    assert!(first.launch_warnings().is_empty(), "{:?}", first.launch_warnings());
    assert_eq!(first.state().volumes.len(), 1);
    let path = at(&server, "/mnt/cache/built");
    first
        .run(format!("echo artefact > {path}"))
        .await
        .unwrap()
        .check()
        .unwrap();

    let snap = first.snapshot().wait_ready().await.unwrap();
    assert_eq!(snap.volumes.len(), 1);
    assert_eq!(
        (snap.volumes[0].volume_id.as_str(), snap.volumes[0].mount_path.as_str()),
        (vol.id.as_str(), "/mnt/cache")
    );

    // The restore attaches the snapshot's volume again: the file is in the volume, not the copy.
    let restored = client.launch_vm(fastvm::launch::snapshot(&snap.id)).await.unwrap();
    let attached: Vec<String> = restored
        .volumes()
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.volume_id)
        .collect();
    assert_eq!(attached, [vol.id.as_str()]);
    let read = restored.run(format!("cat {path}")).await.unwrap();
    assert_eq!(read.check().unwrap().stdout, "artefact\n");

    // A restore that names its own volumes gets those only; a missing one is a warning.
    let replaced = client
        .launch_vm(
            fastvm::launch::snapshot(&snap.id)
                .volume(VolumeMount::new(other.id.clone(), "/data/other"))
                .volume(VolumeMount::new(
                    "3f0e8a54-0000-4000-8000-000000000000",
                    "/data/missing",
                )),
        )
        .await
        .unwrap();
    let attached: Vec<String> = replaced
        .volumes()
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.mount_path)
        .collect();
    assert_eq!(attached, ["/data/other"]);
    let failed = &replaced
        .launch_warnings()
        .attachments
        .as_ref()
        .expect("a warning")
        .failed_volume_attachments;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].mount_path, "/data/missing");

    // The snapshot's volume deleted: its restore runs without it and says so.
    for vm in [first, restored, replaced] {
        vm.delete().await.unwrap();
    }
    client.volumes().delete(&vol.id).await.unwrap();
    let without = client.launch_vm(fastvm::launch::snapshot(&snap.id)).await.unwrap();
    let skipped = &without
        .launch_warnings()
        .attachments
        .as_ref()
        .expect("a warning")
        .skipped_snapshot_volumes;
    assert_eq!((skipped.len(), skipped[0].reason.as_str()), (1, "deleted"));
    assert!(without.volumes().list().await.unwrap().is_empty());
}

/// One directory holds one mount: a bucket mount and a volume cannot share a mount path. A
/// bucket mount makes its directory in the VM's files only (with isolation; without, it makes
/// none): under an attached volume, whose mount path is a symlink into the volume, it is
/// refused and nothing lands in the volume; in a directory of the host's (`/usr`, `/dev`) it is
/// a 400 and nothing lands on the host.
#[tokio::test]
async fn bucket_mounts_and_volumes_keep_to_the_vms_files() {
    use fastvm::types::BucketCredentials;
    let aws =
        || BucketCredentials::aws_credentials_file("[default]\naws_access_key_id = A\naws_secret_access_key = S\n");
    let server = FakeServer::start().await.unwrap();
    let client = client(&server);
    let vm = client
        .attach(&launch_kept(&client, fastvm::launch::machine("c1m2")).await)
        .await
        .unwrap();
    let vol = client.volumes().create("v", 1).await.unwrap();
    let other = client.volumes().create("w", 1).await.unwrap();
    vm.volumes().attach(&vol.id, "/mnt/vol").await.unwrap();
    vm.bucket_mounts().create("s3://b", "/mnt/bucket", aws()).await.unwrap();

    // Either kind at the other's path is a conflict (a trailing `/` names the same directory).
    let (k, msg) = kind(vm.bucket_mounts().create("s3://b", "/mnt/vol/", aws()).await);
    assert_eq!(k, Some(ApiErrorKind::Conflict), "{msg}");
    let (k, msg) = kind(vm.volumes().attach(&other.id, "/mnt/bucket").await);
    assert_eq!(k, Some(ApiErrorKind::Conflict), "{msg}");

    // Under the volume: refused with isolation, and either way the volume stays empty.
    let under = vm.bucket_mounts().create("s3://b", "/mnt/vol/sub/dir", aws()).await;
    if server.isolated() {
        let (k, msg) = kind(under);
        assert_eq!(k, Some(ApiErrorKind::Conflict), "{msg}");
    }
    let ls = format!("ls -A {}", at(&server, "/mnt/vol"));
    assert_eq!(vm.run(ls.as_str()).await.unwrap().check().unwrap().stdout, "");

    // In a directory of the host's: a 400 with isolation, and nothing made on the host.
    for dir in ["/usr", "/dev"] {
        let path = format!("{dir}/fastvm-fake-bucket-{}", vm.id());
        let made = vm.bucket_mounts().create("s3://b", path.as_str(), aws()).await;
        if server.isolated() {
            let (k, msg) = kind(made);
            assert_eq!(k, Some(ApiErrorKind::BadRequest), "{path}: {msg}");
        }
        assert!(!std::path::Path::new(&path).exists(), "{path} made on the host");
    }
}

/// What a volume holds is read from its storage when it is fetched (`usedGiB`), and a resize
/// below it is refused; a sparse file counts its whole length, so no gigabytes are written.
#[tokio::test]
async fn a_volume_shows_what_it_holds_and_cannot_shrink_below_it() {
    let server = FakeServer::start().await.unwrap();
    let client = client(&server);
    let vm = client
        .attach(&launch_kept(&client, fastvm::launch::machine("c1m2")).await)
        .await
        .unwrap();
    let vol = client.volumes().create("big", 3).await.unwrap();
    vm.volumes().attach(&vol.id, "/mnt/big").await.unwrap();
    let fill = format!("truncate -s 2G {}", at(&server, "/mnt/big/sparse"));
    vm.run(fill.as_str()).await.unwrap().check().unwrap();
    assert_eq!(client.volumes().retrieve(&vol.id).await.unwrap().used_gib, Some(2));

    let (k, msg) = kind(client.volumes().update(&vol.id).size_gib(1).await);
    assert_eq!(k, Some(ApiErrorKind::Conflict), "{msg}");
    let v = client.volumes().update(&vol.id).size_gib(2).await.unwrap();
    assert_eq!(v.size_gib, 2);
    let missing = "7a8b9c0d-0000-0000-0000-000000000000";
    let (k, msg) = kind(client.volumes().update(missing).size_gib(1).await);
    assert_eq!(k, Some(ApiErrorKind::NotFound), "{msg}");
}
