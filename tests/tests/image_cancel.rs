//! An image build cancelled while its snapshot request is in flight leaves no snapshot: the
//! server made it, but its answer (and id) never reached the client. A proxy in front of the
//! fake passes the `POST /v1/snapshots` upstream and withholds its answer; the build is then
//! dropped.

use std::sync::Arc;

use fastvm::{FastvmClient, launch};
use fastvm_fake::FakeServer;
use fastvm_tests::fake::{snapshot_ids, vm_ids};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// What marks the request whose answer is withheld.
const HELD: &[u8] = b"POST /v1/snapshots ";

/// Starts a TCP proxy to `upstream` (`host:port`) and returns its address. On a connection
/// that carried [`HELD`], nothing more goes back to the client: HTTP/1.1 answers in order, so
/// every byte after that point is the held request's answer. `answered` is notified when
/// that answer arrives from upstream, that is once the server has made the snapshot.
async fn holding_proxy(upstream: String, answered: Arc<Notify>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(&upstream).await else {
                continue;
            };
            tokio::spawn(relay(client, server, answered.clone()));
        }
    });
    addr
}

async fn relay(client: TcpStream, server: TcpStream, answered: Arc<Notify>) {
    let (mut client_rx, mut client_tx) = client.into_split();
    let (mut server_rx, mut server_tx) = server.into_split();
    let holding = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let up = {
        let holding = holding.clone();
        async move {
            let mut seen = Vec::new();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match client_rx.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                seen.extend_from_slice(&buf[..n]);
                if seen.windows(HELD.len()).any(|w| w == HELD) {
                    holding.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                // Only the tail can hold the start of a split marker.
                let keep = seen.len().saturating_sub(HELD.len());
                seen.drain(..keep);
                if server_tx.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    };
    let down = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match server_rx.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if holding.load(std::sync::atomic::Ordering::SeqCst) {
                answered.notify_one();
                // Keep reading (and dropping) so the upstream is not stalled.
                continue;
            }
            if client_tx.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    tokio::join!(up, down);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_cancelled_during_its_snapshot_request_leaves_no_snapshot() {
    let server = FakeServer::start().await.expect("fake server");
    let direct = fastvm_tests::fake::client(&server);
    let answered = Arc::new(Notify::new());
    let upstream = server.base_url().trim_start_matches("http://").to_string();
    let proxy = holding_proxy(upstream, answered.clone()).await;
    let client = FastvmClient::builder()
        .api_key(server.api_key())
        .base_url(format!("http://{proxy}"))
        .build()
        .unwrap();

    let build = client
        .build_image("held", launch::machine("c1m2"))
        .step("true")
        .into_future();
    tokio::select! {
        r = build => panic!("the build finished although its snapshot answer was held: {r:?}"),
        () = answered.notified() => {}
    }
    // The build was dropped at the end of the `select!`: its drops waited for the cleanup.
    assert!(
        snapshot_ids(&direct).await.is_empty(),
        "the snapshot made for the cancelled build is left"
    );
    assert!(vm_ids(&direct).await.is_empty(), "the builder VM is left");
}
