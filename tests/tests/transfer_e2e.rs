//! `client.upload` / `client.download` end to end against the local fake server. "Remote" paths
//! are VM paths named after temp directories of this host; the tests look at and prepare the
//! remote files through `FakeServer::vm_path` (the VM's own files when the fake isolates VMs,
//! the same host paths when it does not).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use fastvm::transfer::FileTransferErrorKind as Kind;
use fastvm::{Error, FastvmClient};
use fastvm_fake::FakeServer;

async fn setup() -> (FakeServer, FastvmClient, String) {
    fastvm_tests::fake::with_vm("transfer-e2e").await
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Deterministic bytes that do not compress away.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[derive(Debug, PartialEq, Eq)]
enum Node {
    Dir(u32),
    File(u32, Vec<u8>),
    Link(PathBuf),
}

/// Everything below `root`: kind, permission bits, content or link target.
fn tree(root: &Path) -> BTreeMap<PathBuf, Node> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Node>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let mode = m.permissions().mode() & 0o777;
            if m.file_type().is_symlink() {
                out.insert(rel, Node::Link(std::fs::read_link(&p).unwrap()));
            } else if m.is_dir() {
                out.insert(rel, Node::Dir(mode));
                walk(root, &p, out);
            } else {
                out.insert(rel, Node::File(mode, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

#[tokio::test]
async fn files_round_trip_byte_for_byte() {
    let (server, client, id) = setup().await;
    let tmp = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("one byte", vec![0x2a]),
        ("every byte", (0..=255u8).collect()),
        ("64 MiB", noise(64 << 20, 7)),
    ];
    for (i, (name, content)) in cases.into_iter().enumerate() {
        let local = tmp.path().join(format!("local {name}"));
        std::fs::write(&local, &content).unwrap();
        let remote = tmp.path().join(format!("vm/dir {i}/it's {name}"));
        let back = tmp.path().join(format!("back/{name}"));
        let verify = i % 2 == 0;
        client
            .upload(&id, &local, s(&remote))
            .verify(verify)
            .await
            .unwrap_or_else(|e| panic!("upload {name}: {e}"));
        let in_vm = server.vm_path(&id, &remote).unwrap();
        assert!(std::fs::read(in_vm).unwrap() == content, "{name}: remote differs");
        client
            .download(&id, s(&remote), &back)
            .verify(!verify)
            .await
            .unwrap_or_else(|e| panic!("download {name}: {e}"));
        assert!(std::fs::read(&back).unwrap() == content, "{name}: round trip differs");
    }
    // Only the downloaded files are in `back`: no temporary names left beside them.
    assert_eq!(std::fs::read_dir(tmp.path().join("back")).unwrap().count(), 4);
}

#[tokio::test]
async fn directories_round_trip_with_names_links_and_modes() {
    let (server, client, id) = setup().await;
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("a/b/c")).unwrap();
    std::fs::create_dir_all(src.join("empty/also empty")).unwrap();
    std::fs::write(src.join("a/b/c/deep.txt"), b"deep").unwrap();
    std::fs::write(src.join("ünï cødé 'single' \"double\" $(x).txt"), b"names").unwrap();
    std::fs::write(src.join("all bytes"), (0..=255u8).collect::<Vec<_>>()).unwrap();
    std::fs::write(src.join("zero"), b"").unwrap();
    std::fs::write(src.join("a/big.bin"), noise(3 << 20, 3)).unwrap();
    std::fs::write(src.join("run.sh"), b"#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(src.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(src.join("a/private"), b"p").unwrap();
    std::fs::set_permissions(src.join("a/private"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink("a/b/c/deep.txt", src.join("shortcut")).unwrap();
    std::os::unix::fs::symlink("../zero", src.join("a/up-but-inside")).unwrap();

    let remote = tmp.path().join("vm/srv/my 'site'");
    client.upload(&id, &src, s(&remote)).await.unwrap();
    assert_eq!(tree(&server.vm_path(&id, &remote).unwrap()), tree(&src));

    let back = tmp.path().join("back/site");
    client.download(&id, s(&remote), &back).await.unwrap();
    assert_eq!(tree(&back), tree(&src));
    assert_eq!(std::fs::read_dir(tmp.path().join("back")).unwrap().count(), 1);
}

#[tokio::test]
async fn missing_remote_path_is_not_found() {
    let (_server, client, id) = setup().await;
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("x");
    let r = client.download(&id, s(&tmp.path().join("no such path")), &local).await;
    match &r {
        Err(Error::FileTransfer { error: e, .. }) => assert_eq!(e.kind, Kind::NotFound, "{e}"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(r.unwrap_err().is_not_found());
    assert!(!local.exists());
}

#[tokio::test]
async fn a_remote_directory_with_an_escaping_symlink_is_refused_and_leaves_nothing() {
    let (server, client, id) = setup().await;
    let tmp = tempfile::tempdir().unwrap();
    let remote = tmp.path().join("vm/data");
    let in_vm = server.vm_path(&id, &remote).unwrap();
    std::fs::create_dir_all(&in_vm).unwrap();
    std::fs::write(in_vm.join("fine.txt"), b"ok").unwrap();
    std::os::unix::fs::symlink("/etc", in_vm.join("etc")).unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let r = client.download(&id, s(&remote), out.join("data")).await;
    match r {
        Err(Error::FileTransfer { error: e, .. }) => assert_eq!(e.kind, Kind::Archive, "{e}"),
        other => panic!("expected an Archive refusal, got {other:?}"),
    }
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
}

#[tokio::test]
async fn progress_reaches_the_total() {
    let (server, client, id) = setup().await;
    let tmp = tempfile::tempdir().unwrap();
    let remote = tmp.path().join("vm/f.bin");
    let in_vm = server.vm_path(&id, &remote).unwrap();
    std::fs::create_dir_all(in_vm.parent().unwrap()).unwrap();
    std::fs::write(&in_vm, noise(5 << 20, 11)).unwrap();
    let last = Arc::new(std::sync::Mutex::new(None));
    let monotonic = Arc::new(AtomicU64::new(0));
    let (l, m) = (last.clone(), monotonic.clone());
    client
        .download(&id, s(&remote), tmp.path().join("f.bin"))
        .progress(move |p| {
            assert!(p.bytes_done >= m.swap(p.bytes_done, Ordering::SeqCst));
            *l.lock().unwrap() = Some(p);
        })
        .await
        .unwrap();
    let p = last.lock().unwrap().expect("progress was reported");
    assert_eq!(p.bytes_done, 5 << 20);
    assert_eq!(p.bytes_total, Some(5 << 20));
}

#[tokio::test]
async fn a_cancelled_download_leaves_no_partial_file() {
    let (server, client, id) = setup().await;
    let tmp = tempfile::tempdir().unwrap();
    let remote = tmp.path().join("vm/big.bin");
    let in_vm = server.vm_path(&id, &remote).unwrap();
    std::fs::create_dir_all(in_vm.parent().unwrap()).unwrap();
    std::fs::write(&in_vm, noise(64 << 20, 5)).unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let tx = std::sync::Mutex::new(Some(tx));
    let download = client
        .download(&id, s(&remote), out.join("big.bin"))
        .progress(move |p| {
            if p.bytes_done > 0
                && let Some(tx) = tx.lock().unwrap().take()
            {
                let _ = tx.send(());
            }
        });
    tokio::select! {
        biased;
        _ = rx => {}
        r = download => panic!("the download finished before it was cancelled: {r:?}"),
    }
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0, "a partial file was left");
}

#[tokio::test]
async fn a_merge_with_a_late_conflict_leaves_the_destination_exactly_as_it_was() {
    let (server, client, id) = setup().await;
    let tmp = tempfile::tempdir().unwrap();
    let remote = tmp.path().join("vm/data");
    let in_vm = server.vm_path(&id, &remote).unwrap();
    std::fs::create_dir_all(in_vm.join("sub")).unwrap();
    for i in 0..50 {
        std::fs::write(in_vm.join(format!("f{i:02}")), format!("new {i}")).unwrap();
    }
    std::fs::write(in_vm.join("sub/inner"), b"new inner").unwrap();
    let local = tmp.path().join("local");
    // The conflict: a local directory where the archive has a file.
    std::fs::create_dir_all(local.join("f45")).unwrap();
    std::fs::write(local.join("f45/mine"), b"mine").unwrap();
    // Entries a merge would replace or add to, and one it would not touch.
    std::fs::write(local.join("f03"), b"old 3").unwrap();
    std::fs::create_dir(local.join("sub")).unwrap();
    std::fs::write(local.join("sub/old"), b"old").unwrap();
    std::fs::write(local.join("keep"), b"keep").unwrap();
    let before = tree(&local);

    let r = client.download(&id, s(&remote), &local).await;
    match r {
        Err(Error::FileTransfer { error: e, .. }) => {
            assert_eq!(e.kind, Kind::Io, "{e}");
            assert!(e.message.contains("f45"), "the conflict is named: {e}");
        }
        other => panic!("expected the conflict to be refused, got {other:?}"),
    }
    assert_eq!(tree(&local), before, "the destination changed");
    // (`vm` is there too when the fake does not isolate VMs: the remote side.)
    let mut left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "vm")
        .collect();
    left.sort();
    assert_eq!(left, ["local"], "a staging directory was left behind");
}
