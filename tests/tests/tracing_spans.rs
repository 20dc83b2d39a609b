//! What a user's `tracing` subscriber sees: one `fastvm.call` span per API call (operation, VM
//! id), a span per workflow (`fastvm.launch` with the VM id once known, `fastvm.transfer`,
//! `fastvm.fleet`), each request line with its attempt number, and storage requests logged with
//! their URL's query (the presigned signature) left out.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::{Api, Fields};
use serde_json::json;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use wiremock::ResponseTemplate;

/// A span as recorded: its name and fields (`name{a=1 b="x" }`).
#[derive(Clone, Debug)]
struct SpanData {
    name: &'static str,
    fields: String,
    metadata: &'static Metadata<'static>,
}

/// An event: its fields and the spans it was inside, outermost first.
#[derive(Clone, Debug)]
struct EventData {
    fields: String,
    scope: Vec<SpanData>,
}

impl EventData {
    fn inside(&self, span: &str, with: &str) -> bool {
        self.scope.iter().any(|s| s.name == span && s.fields.contains(with))
    }
}

#[derive(Default)]
struct State {
    spans: HashMap<u64, SpanData>,
    entered: Vec<u64>,
    events: Vec<EventData>,
}

/// Records spans (with fields recorded later), the entered stack and events, on the thread it
/// is the default subscriber of (the tests' current-thread runtime; the fake serves on a thread
/// of its own, which this does not see).
#[derive(Clone, Default)]
struct Capture {
    state: Arc<Mutex<State>>,
    next: Arc<AtomicU64>,
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        let mut fields = String::new();
        attrs.record(&mut Fields(&mut fields));
        let metadata = attrs.metadata();
        let name = metadata.name();
        let span = SpanData { name, fields, metadata };
        self.state.lock().unwrap().spans.insert(id, span);
        Id::from_u64(id)
    }
    fn record(&self, id: &Id, values: &Record<'_>) {
        let mut state = self.state.lock().unwrap();
        if let Some(span) = state.spans.get_mut(&id.into_u64()) {
            values.record(&mut Fields(&mut span.fields));
        }
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = String::new();
        event.record(&mut Fields(&mut fields));
        let mut state = self.state.lock().unwrap();
        let scope = state
            .entered
            .iter()
            .filter_map(|id| state.spans.get(id).cloned())
            .collect();
        state.events.push(EventData { fields, scope });
    }
    /// What `Span::current()` is (the SDK records a launch's VM id on it).
    fn current_span(&self) -> tracing_core::span::Current {
        let state = self.state.lock().unwrap();
        match state.entered.last() {
            Some(id) => tracing_core::span::Current::new(Id::from_u64(*id), state.spans[id].metadata),
            None => tracing_core::span::Current::none(),
        }
    }
    fn enter(&self, id: &Id) {
        self.state.lock().unwrap().entered.push(id.into_u64());
    }
    fn exit(&self, id: &Id) {
        let mut state = self.state.lock().unwrap();
        if let Some(at) = state.entered.iter().rposition(|e| *e == id.into_u64()) {
            state.entered.remove(at);
        }
    }
}

impl Capture {
    fn events(&self, message: &str) -> Vec<EventData> {
        let needle = format!("message={message} ");
        let state = self.state.lock().unwrap();
        state
            .events
            .iter()
            .filter(|e| e.fields.contains(&needle))
            .cloned()
            .collect()
    }
    fn spans(&self, name: &str) -> Vec<SpanData> {
        let state = self.state.lock().unwrap();
        state.spans.values().filter(|s| s.name == name).cloned().collect()
    }
    fn dump(&self) -> String {
        let state = self.state.lock().unwrap();
        state
            .events
            .iter()
            .map(|e| format!("{:?}", e))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[tokio::test]
async fn calls_and_workflows_have_spans_and_storage_requests_are_logged() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let fake = fastvm_fake::FakeServer::start().await.unwrap();
    let client = fastvm_tests::fake::client(&fake);

    let vm = client.launch_vm(fastvm::launch::machine("c1m2")).await.unwrap();
    let id = vm.id().to_string();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, b"spans").unwrap();
    vm.upload(&file, "/root/f").await.unwrap();
    vm.run("cat /root/f").await.unwrap().check().unwrap();
    let fleet = client.fleet(fastvm::launch::machine("c1m2"), 2).await.unwrap();
    drop(fleet);
    vm.delete().await.unwrap();

    let dump = capture.dump();
    let requests = capture.events("fastvm request");
    assert!(!requests.is_empty(), "no request line:\n{dump}");
    // Every request line is one attempt, numbered, inside its call's span.
    for r in &requests {
        assert!(r.fields.contains("attempt=1 "), "{r:?}");
        assert!(r.inside("fastvm.call", "operation="), "{r:?}");
    }
    // The launch: its call inside the launch span, which names the VM once launched.
    let launch = requests
        .iter()
        .find(|r| r.inside("fastvm.call", "operation=launchVm"))
        .unwrap();
    assert!(launch.scope.iter().any(|s| s.name == "fastvm.launch"), "{launch:?}");
    let launches = capture.spans("fastvm.launch");
    assert!(
        launches.iter().any(|s| s.fields.contains(&format!("vm_id={id} "))),
        "{launches:?}"
    );
    // A call on the VM carries its id.
    let exec = requests
        .iter()
        .find(|r| r.inside("fastvm.call", "operation=execVm"))
        .unwrap();
    assert!(exec.inside("fastvm.call", &format!("vm_id={id} ")), "{exec:?}");
    // The upload: its presign, storage PUT and fetch inside one transfer span.
    let transfer = |e: &EventData| e.inside("fastvm.transfer", "direction=upload ");
    let presign = requests
        .iter()
        .find(|r| r.inside("fastvm.call", "operation=presignFile"))
        .unwrap();
    assert!(transfer(presign), "{presign:?}");
    let storage = capture.events("fastvm storage request");
    let put = storage.iter().find(|e| e.fields.contains("method=PUT ")).expect(&dump);
    assert!(transfer(put), "{put:?}");
    assert!(
        put.fields.contains("attempt=1 ") && put.fields.contains("status=200 "),
        "{put:?}"
    );
    let url = put.fields.split("url=").nth(1).unwrap().split(' ').next().unwrap();
    assert!(
        url.starts_with("http://127.0.0.1") && !url.contains("X-Amz-Signature"),
        "{url}"
    );
    // The fleet's launches inside its span.
    let in_fleet = requests
        .iter()
        .filter(|r| r.inside("fastvm.fleet", "n=2 ") && r.inside("fastvm.call", "operation=launchVm"))
        .count();
    assert_eq!(in_fleet, 2, "{dump}");
}

#[tokio::test]
async fn a_retried_call_logs_each_attempt_by_number() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let api = Api::start_with(|b| b.max_retries(1)).await;
    let retry_soon = ResponseTemplate::new(503).insert_header("retry-after-ms", "1");
    api.respond_first("getOrgQuotas", "/v1/org/quotas", retry_soon, 1).await;
    let values = json!({"vcpu": 1, "memoryMiB": 1, "diskGiB": 1, "snapshotCount": 0});
    let quotas = json!({"orgId": "o", "limits": values, "usage": values});
    api.expect("getOrgQuotas", "/v1/org/quotas", 200, quotas).await;

    api.client.quotas().retrieve().await.unwrap();

    let requests = capture.events("fastvm request");
    let statuses: Vec<_> = requests
        .iter()
        .map(|r| {
            let attempt = r.fields.split("attempt=").nth(1).unwrap().split(' ').next().unwrap();
            let status = r.fields.split("status=").nth(1).unwrap().split(' ').next().unwrap();
            (attempt.to_string(), status.to_string())
        })
        .collect();
    assert_eq!(
        statuses,
        [("1".into(), "503".into()), ("2".into(), "200".into())],
        "{}",
        capture.dump()
    );
    // Both attempts, and the retry between them, inside the one call's span.
    assert!(
        requests
            .iter()
            .all(|r| r.inside("fastvm.call", "operation=getOrgQuotas"))
    );
    let retrying = capture.events("fastvm retrying");
    assert_eq!(retrying.len(), 1, "{}", capture.dump());
    assert!(retrying[0].fields.contains("attempt=2 "), "{:?}", retrying[0]);
    assert!(retrying[0].inside("fastvm.call", "operation=getOrgQuotas"));
}
