//! Setting up the facade against `fastvm-fake` for the end-to-end tests.

use std::collections::BTreeSet;

use fastvm::FastvmClient;
use fastvm_fake::FakeServer;

/// A facade client for `server`.
pub fn client(server: &FakeServer) -> FastvmClient {
    FastvmClient::builder()
        .api_key(server.api_key())
        .base_url(server.base_url())
        .build()
        .expect("client for the fake")
}

/// A fresh fake server, a client for it, and the id of a running VM named `name`. Keep the
/// server alive for the test: dropping it stops it.
pub async fn with_vm(name: &str) -> (FakeServer, FastvmClient, String) {
    let server = FakeServer::start().await.expect("fake server");
    let client = client(&server);
    let id = launch_kept(&client, fastvm::launch::machine("c1m2").name(name)).await;
    (server, client, id)
}

/// Launches a VM like `params` without a safety TTL, waits until it runs, keeps it (released
/// from its guard) and returns its id.
pub async fn launch_kept(client: &FastvmClient, params: fastvm::launch::LaunchParams) -> String {
    let owned = client.launch_vm(params).no_safety_ttl().await.expect("launch");
    owned.release().id().to_string()
}

/// The ids of the VMs `client` lists.
pub async fn vm_ids(client: &FastvmClient) -> BTreeSet<String> {
    client
        .vms()
        .list()
        .await
        .expect("list VMs")
        .into_iter()
        .map(|v| v.id)
        .collect()
}

/// The ids of the snapshots `client` lists.
pub async fn snapshot_ids(client: &FastvmClient) -> BTreeSet<String> {
    let snapshots = client.snapshots().list().await.expect("list snapshots");
    snapshots.into_iter().map(|s| s.id).collect()
}

/// Polls `cond` (every 50 ms, for up to 10 s): background work finishes on its own time.
pub async fn eventually<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if cond().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("never happened: {what}");
}

/// The names of the `fastvm-upload-*` staging files in VM `id`'s `/var/tmp`.
pub fn staging_files(server: &FakeServer, id: &str) -> BTreeSet<String> {
    let dir = server.vm_path(id, "/var/tmp").expect("the VM's /var/tmp");
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with("fastvm-upload-"))
                .collect()
        })
        .unwrap_or_default()
}

/// A VM launched and waited for by [`FastvmClient::launch_vm`], released from its guard (the
/// test deletes it, or the fake goes away with it), with the warnings of its restore.
#[derive(Debug, Clone)]
pub struct Launched {
    /// The VM, as the launch (and the wait) left it.
    pub vm: fastvm::types::VmInfo,
    /// The warnings of a partly successful snapshot restore.
    pub snapshot_restore_warnings: Option<fastvm::types::SnapshotRestoreWarnings>,
}

impl std::ops::Deref for Launched {
    type Target = fastvm::types::VmInfo;
    fn deref(&self) -> &fastvm::types::VmInfo {
        &self.vm
    }
}

/// Releases an owned, launched VM into a [`Launched`].
pub fn released(owned: fastvm::vm::OwnedVm) -> Launched {
    let snapshot_restore_warnings = owned.launch_warnings().snapshot_restore.clone();
    Launched {
        vm: owned.release().state().clone(),
        snapshot_restore_warnings,
    }
}
