//! Fault injection: make the next N calls of an operation fail in a chosen way, so client
//! retry, timeout and stream-error paths can be tested against real HTTP.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What happens to a call that a [`Fault`] applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer with this status and an `{"error": ...}` body instead of running the operation.
    Status(u16),
    /// Wait this long, then run the operation normally.
    Delay(Duration),
    /// Close the connection without sending any response.
    DropConnection,
    /// For NDJSON exec: stream the output events but end the body without the terminal `x`
    /// event. Other operations run normally.
    TruncateStream,
}

/// One injected fault, applied to the next [`Fault::times`] calls of an operation.
///
/// ```
/// use fastvm_fake::Fault;
/// let f = Fault::status(503).header("Retry-After", "1").times(2);
/// assert_eq!(f.remaining(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct Fault {
    pub(crate) kind: FaultKind,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Option<serde_json::Value>,
    pub(crate) times: usize,
}

impl Fault {
    fn new(kind: FaultKind) -> Self {
        Fault {
            kind,
            headers: Vec::new(),
            body: None,
            times: 1,
        }
    }

    /// Answer with `status` (body `{"error": "injected fault"}` unless [`Fault::body`] is set).
    pub fn status(status: u16) -> Self {
        Self::new(FaultKind::Status(status))
    }

    /// Delay the call by `delay`, then serve it normally.
    pub fn delay(delay: Duration) -> Self {
        Self::new(FaultKind::Delay(delay))
    }

    /// Drop the connection before any response byte is sent.
    pub fn drop_connection() -> Self {
        Self::new(FaultKind::DropConnection)
    }

    /// End an NDJSON exec stream without its terminal `x` event.
    pub fn truncate_stream() -> Self {
        Self::new(FaultKind::TruncateStream)
    }

    /// Adds a response header (only used by [`Fault::status`] faults), e.g. `Retry-After`.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Replaces the JSON body of a [`Fault::status`] fault.
    pub fn body(mut self, body: serde_json::Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Applies the fault to the next `n` calls (default 1). `0` is treated as 1.
    pub fn times(mut self, n: usize) -> Self {
        self.times = n.max(1);
        self
    }

    /// How many more calls this fault applies to.
    pub fn remaining(&self) -> usize {
        self.times
    }

    /// The kind of fault.
    pub fn kind(&self) -> &FaultKind {
        &self.kind
    }
}

/// A handle to the fault queues of a running [`FakeServer`](crate::FakeServer), keyed by
/// operationId (as in `openapi.json`, e.g. `getVm`, `execVm`). Presigned storage requests use
/// the pseudo operations `storagePut` and `storageGet`. Cloning shares the queues.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    queues: Arc<Mutex<HashMap<String, VecDeque<Fault>>>>,
}

impl Faults {
    /// Queues `fault` for `operation_id`. Faults of one operation apply in the order pushed.
    pub fn push(&self, operation_id: impl Into<String>, fault: Fault) {
        let mut q = self.queues.lock().expect("faults lock");
        q.entry(operation_id.into()).or_default().push_back(fault);
    }

    /// Removes every queued fault.
    pub fn clear(&self) {
        self.queues.lock().expect("faults lock").clear();
    }

    /// How many calls of `operation_id` are still going to be faulted.
    pub fn pending(&self, operation_id: &str) -> usize {
        let q = self.queues.lock().expect("faults lock");
        q.get(operation_id).map_or(0, |f| f.iter().map(|f| f.times).sum())
    }

    /// Takes the fault for one call of `operation_id`, if any.
    pub(crate) fn take(&self, operation_id: &str) -> Option<Fault> {
        let mut q = self.queues.lock().expect("faults lock");
        let queue = q.get_mut(operation_id)?;
        let front = queue.front_mut()?;
        front.times -= 1;
        let mut taken = front.clone();
        taken.times = 1;
        if front.times == 0 {
            queue.pop_front();
        }
        Some(taken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_apply_n_times_in_order() {
        let f = Faults::default();
        f.push("getVm", Fault::status(503).times(2));
        f.push("getVm", Fault::drop_connection());
        assert_eq!(f.pending("getVm"), 3);
        assert_eq!(f.take("getVm").unwrap().kind, FaultKind::Status(503));
        assert_eq!(f.take("getVm").unwrap().kind, FaultKind::Status(503));
        assert_eq!(f.take("getVm").unwrap().kind, FaultKind::DropConnection);
        assert!(f.take("getVm").is_none());
        assert!(f.take("listVms").is_none());
    }
}
