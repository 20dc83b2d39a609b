//! A `tracing` subscriber for the tests that read what the SDK logs: spans with their fields
//! (recorded later too) and scope, events with the spans they were inside.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

use super::Fields;

/// A span as recorded: its name and fields (`name{a=1 b="x" }`).
#[derive(Clone, Debug)]
pub struct SpanData {
    pub name: &'static str,
    pub fields: String,
    metadata: &'static Metadata<'static>,
}

/// An event: its fields and the spans it was inside, outermost first.
#[derive(Clone, Debug)]
pub struct EventData {
    pub fields: String,
    pub scope: Vec<SpanData>,
}

impl EventData {
    pub fn inside(&self, span: &str, with: &str) -> bool {
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
pub struct Capture {
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
    pub fn events(&self, message: &str) -> Vec<EventData> {
        let needle = format!("message={message} ");
        let state = self.state.lock().unwrap();
        state
            .events
            .iter()
            .filter(|e| e.fields.contains(&needle))
            .cloned()
            .collect()
    }
    pub fn spans(&self, name: &str) -> Vec<SpanData> {
        let state = self.state.lock().unwrap();
        state.spans.values().filter(|s| s.name == name).cloned().collect()
    }
    /// Everything recorded as text: each span (`span NAME fields`) and each event's fields.
    pub fn text(&self) -> String {
        let state = self.state.lock().unwrap();
        let spans = state.spans.values().map(|s| format!("span {} {}", s.name, s.fields));
        let events = state.events.iter().map(|e| e.fields.clone());
        spans.chain(events).collect::<Vec<_>>().join("\n")
    }
    pub fn dump(&self) -> String {
        let state = self.state.lock().unwrap();
        state
            .events
            .iter()
            .map(|e| format!("{:?}", e))
            .collect::<Vec<_>>()
            .join("\n")
    }
}
