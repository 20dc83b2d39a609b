//! Both archive uploads (a directory `upload` and `upload_many`) leave no staging file in the
//! VM, end to end against the fake, when the extraction's exec fails before running (a 503)
//! or when the upload is cancelled while the extraction is under way.

use std::path::Path;
use std::time::Duration;

use fastvm::FastvmClient;
use fastvm_fake::Fault;
use fastvm_tests::fake::{eventually, staging_files, with_vm};

/// The two routes into the one archive pipeline.
#[derive(Debug, Clone, Copy)]
enum Route {
    Dir,
    Many,
}

impl Route {
    async fn upload(self, client: &FastvmClient, id: &str, local: &Path, remote: &str) -> fastvm::Result<()> {
        match self {
            Route::Dir => client.upload(id, local, remote).await,
            Route::Many => client.upload_many(id).dir(local, remote).await,
        }
    }
}

/// A local directory with one file.
fn source(root: &Path) -> std::path::PathBuf {
    let dir = root.join("site");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), b"hello").unwrap();
    dir
}

async fn a_503_on_the_extraction_leaves_no_staging_file(route: Route) {
    let (server, client, id) = with_vm("cleanup-503").await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = source(tmp.path());
    let before = staging_files(&server, &id);
    // The extraction is the first exec: the 503 answers it without running it.
    server.faults().push("execVm", Fault::status(503));
    let remote = format!("{}/vm/site", tmp.path().display());
    let e = route.upload(&client, &id, &dir, &remote).await.unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(503), "{route:?}: {e}");
    assert_eq!(server.faults().pending("execVm"), 0);
    assert_eq!(
        staging_files(&server, &id),
        before,
        "{route:?}: the staging file is left in /var/tmp"
    );
    assert!(
        server.vm_path(&id, &remote).is_some_and(|p| !p.exists()),
        "{route:?}: extracted"
    );
}

#[tokio::test]
async fn a_503_on_the_extraction_of_a_directory_upload_leaves_no_staging_file() {
    a_503_on_the_extraction_leaves_no_staging_file(Route::Dir).await;
}

#[tokio::test]
async fn a_503_on_the_extraction_of_upload_many_leaves_no_staging_file() {
    a_503_on_the_extraction_leaves_no_staging_file(Route::Many).await;
}

/// Cancels the upload once its extraction request reached the server (held there by a long
/// delay), then looks at once: the drop of the cancelled upload removes the staging file
/// before it returns. Multi-thread, because that drop waits for a request to the fake, which
/// runs on this runtime too.
async fn a_cancelled_extraction_leaves_no_staging_file(route: Route) {
    let (server, client, id) = with_vm("cleanup-cancel").await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = source(tmp.path());
    let before = staging_files(&server, &id);
    server.faults().push("execVm", Fault::delay(Duration::from_secs(60)));
    let remote = format!("{}/vm/site", tmp.path().display());
    let upload = route.upload(&client, &id, &dir, &remote);
    let held = eventually("the extraction reaches the server", || {
        let pending = server.faults().pending("execVm");
        async move { pending == 0 }
    });
    tokio::select! {
        r = upload => panic!("{route:?}: the upload finished before it was cancelled: {r:?}"),
        () = held => {}
    }
    // `upload` is dropped here, at the end of the `select!`.
    assert_eq!(
        staging_files(&server, &id),
        before,
        "{route:?}: the staging file is left in /var/tmp"
    );
    assert!(
        server.vm_path(&id, &remote).is_some_and(|p| !p.exists()),
        "{route:?}: extracted"
    );
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_directory_upload_leaves_no_staging_file() {
    a_cancelled_extraction_leaves_no_staging_file(Route::Dir).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_upload_many_leaves_no_staging_file() {
    a_cancelled_extraction_leaves_no_staging_file(Route::Many).await;
}
