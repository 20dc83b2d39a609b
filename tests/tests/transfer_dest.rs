//! Where `client.download` puts what it fetches, against the local fake server: a file into an
//! existing directory lands inside it under its base name, a directory into an existing
//! directory is merged into it, and a missing local path is created, as `cp` does.
//!
//! "Remote" paths are VM paths named after temp directories of this host; the tests write the
//! remote files through `FakeServer::vm_path` (the VM's own files when the fake isolates VMs,
//! the same host paths when it does not). Every test here uses absolute paths only, because
//! one of them changes the working directory of this test process (to download into `.`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fastvm::transfer::FileTransferErrorKind as Kind;
use fastvm::{Error, FastvmClient};
use fastvm_fake::FakeServer;

async fn setup() -> (FakeServer, FastvmClient, String) {
    fastvm_tests::fake::with_vm("transfer-dest").await
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Everything below `root`: `None` for a directory, else the file's content.
fn tree(root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Option<Vec<u8>>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if std::fs::symlink_metadata(&p).unwrap().is_dir() {
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

fn file(content: &str) -> Option<Vec<u8>> {
    Some(content.as_bytes().to_vec())
}

fn write(path: PathBuf, content: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// A remote file `vm/report.txt` and a remote directory `vm/data` (`x`, `sub/y`) below `root`,
/// written into VM `id`; their VM paths.
fn remote_tree(server: &FakeServer, id: &str, root: &Path) -> (PathBuf, PathBuf) {
    let host = |p: &str| server.vm_path(id, root.join(p)).expect("the VM exists");
    write(host("vm/report.txt"), "report");
    write(host("vm/data/x"), "x");
    write(host("vm/data/sub/y"), "y");
    (root.join("vm/report.txt"), root.join("vm/data"))
}

fn io_error(r: fastvm::Result<()>) -> String {
    match r {
        Err(Error::FileTransfer { error: e, .. }) if e.kind == Kind::Io => e.message,
        other => panic!("expected an Io error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_file_into_an_existing_directory_lands_inside_under_its_base_name() {
    let (server, client, id) = setup().await;
    let tmp = tempfile::tempdir().unwrap();
    let (report, _) = remote_tree(&server, &id, tmp.path());
    let out = tmp.path().join("out");
    write(out.join("other"), "other");

    client.download(&id, s(&report), &out).await.unwrap();
    let want = BTreeMap::from([("other".into(), file("other")), ("report.txt".into(), file("report"))]);
    assert_eq!(tree(&out), want);

    // Written with a trailing separator, through `..`, or through a symlink to the directory:
    // still inside it; a file of that name there is replaced.
    write(out.join("report.txt"), "old");
    let trailing = format!("{}/", s(&out));
    client.download(&id, s(&report), &trailing).await.unwrap();
    assert_eq!(tree(&out), want);
    std::fs::create_dir(out.join("sub")).unwrap();
    client.download(&id, s(&report), out.join("sub/..")).await.unwrap();
    std::fs::remove_dir(out.join("sub")).unwrap();
    assert_eq!(tree(&out), want);
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&out, &link).unwrap();
    std::fs::remove_file(out.join("report.txt")).unwrap();
    client.download(&id, s(&report), &link).await.unwrap();
    assert_eq!(tree(&out), want);
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
}

#[tokio::test]
async fn a_file_over_a_directory_of_its_name_is_refused_and_changes_nothing() {
    let (server, client, id) = setup().await;
    let tmp = tempfile::tempdir().unwrap();
    let (report, _) = remote_tree(&server, &id, tmp.path());
    let out = tmp.path().join("out");
    write(out.join("report.txt/mine"), "mine");
    let before = tree(&out);
    let msg = io_error(client.download(&id, s(&report), &out).await);
    assert!(msg.contains(s(&out.join("report.txt"))), "{msg}");
    assert!(msg.contains("is a directory"), "{msg}");
    assert_eq!(tree(&out), before);
}

#[tokio::test]
async fn a_directory_into_an_existing_directory_merges_its_contents() {
    let (server, client, id) = setup().await;
    let tmp = tempfile::tempdir().unwrap();
    let (_, data) = remote_tree(&server, &id, tmp.path());
    let out = tmp.path().join("out");
    write(out.join("keep"), "keep");
    write(out.join("sub/old"), "old");
    client.download(&id, s(&data), &out).await.unwrap();
    let want = BTreeMap::from([
        ("keep".into(), file("keep")),
        ("sub".into(), None),
        ("sub/old".into(), file("old")),
        ("sub/y".into(), file("y")),
        ("x".into(), file("x")),
    ]);
    assert_eq!(tree(&out), want);

    // A remote path ending in `.` names the same directory: no base name is needed to merge.
    let again = tmp.path().join("again");
    std::fs::create_dir(&again).unwrap();
    client.download(&id, &format!("{}/.", s(&data)), &again).await.unwrap();
    assert_eq!(tree(&again), tree(&server.vm_path(&id, &data).unwrap()));
}

#[tokio::test]
async fn missing_local_paths_are_created_with_their_parents() {
    let (server, client, id) = setup().await;
    let tmp = tempfile::tempdir().unwrap();
    let (report, data) = remote_tree(&server, &id, tmp.path());
    let new_file = tmp.path().join("new/a/renamed.txt");
    client.download(&id, s(&report), &new_file).await.unwrap();
    assert_eq!(std::fs::read(&new_file).unwrap(), b"report");
    assert_eq!(tree(&tmp.path().join("new")).len(), 2, "nothing but a/renamed.txt");
    let new_dir = tmp.path().join("new/b/copy");
    client.download(&id, s(&data), &new_dir).await.unwrap();
    assert_eq!(tree(&new_dir), tree(&server.vm_path(&id, &data).unwrap()));
}

/// A downloaded file is staged in a hidden sibling first; what lands has the mode of any new
/// file of this process (its umask's), not the private mode of a staging file.
#[cfg(unix)]
#[tokio::test]
async fn a_downloaded_file_has_the_mode_of_a_new_file() {
    use std::os::unix::fs::PermissionsExt as _;
    let (server, client, id) = setup().await;
    let tmp = tempfile::tempdir().unwrap();
    let (report, _) = remote_tree(&server, &id, tmp.path());
    let (fetched, reference) = (tmp.path().join("fetched.txt"), tmp.path().join("made-here.txt"));
    client.download(&id, s(&report), &fetched).await.unwrap();
    std::fs::File::create(&reference).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    // (Under a umask of 077 both are 0600 and this cannot tell; CI's is 022.)
    assert_eq!(
        mode(&fetched),
        mode(&reference),
        "the staging file's private mode leaked"
    );
}

#[tokio::test]
async fn a_directory_onto_an_existing_file_is_refused_and_the_file_kept() {
    let (server, client, id) = setup().await;
    let tmp = tempfile::tempdir().unwrap();
    let (_, data) = remote_tree(&server, &id, tmp.path());
    let out = tmp.path().join("out");
    write(out.join("taken"), "mine");
    let msg = io_error(client.download(&id, s(&data), out.join("taken")).await);
    assert!(msg.contains("exists and is not a directory"), "{msg}");
    assert_eq!(tree(&out), BTreeMap::from([("taken".into(), file("mine"))]));
}

/// Restores the working directory when dropped, even if the test fails.
struct Cwd(PathBuf);

impl Drop for Cwd {
    fn drop(&mut self) {
        let _ = std::env::set_current_dir(&self.0);
    }
}

#[tokio::test]
async fn dot_receives_the_file_or_the_directory_contents() {
    let (server, client, id) = setup().await;
    let tmp = tempfile::tempdir().unwrap();
    let (report, data) = remote_tree(&server, &id, tmp.path());
    let here = tmp.path().join("here");
    write(here.join("mine"), "mine");
    let _restore = Cwd(std::env::current_dir().unwrap());
    std::env::set_current_dir(&here).unwrap();

    client.download(&id, s(&report), ".").await.unwrap();
    client.download(&id, s(&data), ".").await.unwrap();
    client.download(&id, s(&report), "./").await.unwrap();
    let want = BTreeMap::from([
        ("mine".into(), file("mine")),
        ("report.txt".into(), file("report")),
        ("sub".into(), None),
        ("sub/y".into(), file("y")),
        ("x".into(), file("x")),
    ]);
    assert_eq!(tree(&here), want);
}
