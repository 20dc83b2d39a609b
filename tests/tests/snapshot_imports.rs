//! Snapshot imports end to end against `fastvm-fake`: a directory with a Dockerfile becomes a
//! snapshot whose VMs see the files its `COPY` lines placed; an image import; the guarded
//! create-and-wait cancels its import when it is dropped and when its deadline passes; a failed
//! import is its own error; a context with a symlink is refused before anything is sent.

use std::future::IntoFuture;
use std::time::Duration;

use fastvm::Error;
use fastvm::types::SnapshotImportStatus;
use fastvm_fake::{FakeServer, Fault};
use fastvm_tests::fake;

/// A fake whose imports finish after `run`.
async fn server(run: Duration) -> FakeServer {
    FakeServer::builder()
        .build_duration(run)
        .start()
        .await
        .expect("fake server")
}

/// The status of the import `id`, as the API reports it.
async fn status(client: &fastvm::FastvmClient, id: &str) -> SnapshotImportStatus {
    client.snapshot_imports().retrieve(id).await.unwrap().status
}

#[tokio::test]
async fn a_context_directory_becomes_a_snapshot_whose_vms_see_its_files() {
    let server = server(Duration::from_secs(1)).await;
    let client = fake::client(&server);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM alpine:3\nWORKDIR /root\nCOPY hello.txt app/\nRUN echo this line is not run\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hello from the context\n").unwrap();

    let import = client
        .import_snapshot_from_dir(dir.path())
        .name("from-dir")
        .build_arg("VERSION", "1")
        .poll_interval(Duration::from_millis(500))
        .await
        .unwrap();
    assert_eq!(import.status, SnapshotImportStatus::Succeeded);
    assert_eq!(import.name.as_deref(), Some("from-dir"));
    assert!(
        import.source.context_size_bytes.is_some_and(|n| n > 0),
        "{:?}",
        import.source
    );
    assert_eq!(import.source.build_args.get("VERSION").map(String::as_str), Some("1"));
    let snapshot = import
        .snapshot_id
        .clone()
        .expect("a succeeded import names its snapshot");

    let vm = client
        .launch_vm(fastvm::launch::snapshot(&snapshot).name("from-import"))
        .await
        .unwrap();
    let out = vm
        .run("cat app/hello.txt")
        .await
        .unwrap()
        .check()
        .unwrap()
        .stdout
        .clone();
    assert_eq!(out, "hello from the context\n");
    vm.delete().await.unwrap();

    // Deleting the import deletes its snapshot.
    client.snapshot_imports().delete(&import.id).await.unwrap();
    assert!(!fake::snapshot_ids(&client).await.contains(&snapshot));
}

#[tokio::test]
async fn an_image_import_waits_until_it_succeeded() {
    let server = server(Duration::from_secs(1)).await;
    let client = fake::client(&server);
    let import = client
        .snapshot_imports()
        .create()
        .image("alpine:3")
        .name("alpine")
        .wait_ready()
        .poll_interval(Duration::from_millis(500))
        .await
        .unwrap();
    assert_eq!(import.status, SnapshotImportStatus::Succeeded);
    let snap = client
        .snapshots()
        .retrieve(import.snapshot_id.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(snap.name, "alpine");
    assert_eq!(snap.status, fastvm::types::SnapshotStatus::Ready);
    // The plain wait, on an import that already finished, returns it.
    let again = client.wait_for_snapshot_import(&import.id).await.unwrap();
    assert_eq!(again.snapshot_id, import.snapshot_id);
}

#[tokio::test]
async fn the_guarded_wait_cancels_its_import_when_dropped() {
    let server = server(Duration::from_secs(3600)).await;
    let client = fake::client(&server);
    // A fault that changes nothing, to see when the wait's first poll reached the server: by
    // then the create's answer was read and the import is the wait's.
    server.faults().push("getSnapshotImport", Fault::delay(Duration::ZERO));
    let wait = client
        .snapshot_imports()
        .create()
        .image("alpine:3")
        .wait_ready()
        .into_future();
    // Dropped once it polls, by losing the race.
    let created = async {
        while server.faults().pending("getSnapshotImport") > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let all = client.snapshot_imports().list().await.unwrap();
        all.into_iter().next().expect("the import was created").id
    };
    let id = tokio::select! {
        biased;
        id = created => id,
        done = wait => panic!("the import cannot finish within the hour: {done:?}"),
    };
    // The drop returned only after the cancel was answered.
    assert_eq!(status(&client, &id).await, SnapshotImportStatus::Cancelled);
}

#[tokio::test]
async fn the_guarded_wait_cancels_its_import_when_its_deadline_passes() {
    let server = server(Duration::from_secs(3600)).await;
    let client = fake::client(&server);
    let err = client
        .snapshot_imports()
        .create()
        .image("alpine:3")
        .wait_ready()
        .deadline(Duration::from_secs(1))
        .await
        .unwrap_err();
    let Error::SnapshotImportNotFinished {
        import_id, last_status, ..
    } = &err
    else {
        panic!("expected SnapshotImportNotFinished, got {err:?}");
    };
    assert!(
        matches!(
            last_status,
            SnapshotImportStatus::Pending | SnapshotImportStatus::Claimed
        ),
        "{err}"
    );
    assert!(err.to_string().contains(last_status.as_str()), "{err}");
    assert_eq!(status(&client, import_id).await, SnapshotImportStatus::Cancelled);
    // The plain wait does not own the import: it gives the cancelled state as an error.
    let plain = client.wait_for_snapshot_import(import_id).await.unwrap_err();
    assert!(matches!(plain, Error::SnapshotImportCancelled { .. }), "{plain:?}");
}

#[tokio::test]
async fn a_failed_import_is_an_error_with_the_servers_diagnostic() {
    let server = server(Duration::from_secs(1)).await;
    let client = fake::client(&server);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM alpine:3\nCOPY missing.txt /srv/\n").unwrap();
    let err = client
        .import_snapshot_from_dir(dir.path())
        .poll_interval(Duration::from_millis(500))
        .await
        .unwrap_err();
    match &err {
        Error::SnapshotImportFailed { import_id, message, .. } => {
            assert!(message.contains("missing.txt"), "{err}");
            assert_eq!(status(&client, import_id).await, SnapshotImportStatus::Failed);
        }
        other => panic!("expected SnapshotImportFailed, got {other:?}"),
    }
}

#[cfg(unix)]
#[tokio::test]
async fn a_context_that_cannot_be_zipped_or_has_no_dockerfile_is_refused_before_any_request() {
    let server = server(Duration::from_secs(1)).await;
    let client = fake::client(&server);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM alpine:3\n").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("passwd")).unwrap();
    let err = client.import_snapshot_from_dir(dir.path()).await.unwrap_err();
    let transfer = err.file_transfer().unwrap_or_else(|| panic!("{err:?}"));
    assert_eq!(
        transfer.kind,
        fastvm::transfer::FileTransferErrorKind::Unsupported,
        "{err}"
    );
    assert!(err.to_string().contains("passwd"), "{err}");

    let empty = tempfile::tempdir().unwrap();
    let err = client.import_snapshot_from_dir(empty.path()).await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidInput { field, .. } if field == "dockerfilePath"),
        "{err:?}"
    );
    let err = client
        .import_snapshot_from_dir(dir.path())
        .dockerfile_path("../Dockerfile")
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::InvalidInput { .. }), "{err:?}");
    assert!(
        client.snapshot_imports().list().await.unwrap().is_empty(),
        "nothing was created"
    );
}
