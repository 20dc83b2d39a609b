//! Where background work (a VM's TTL keepalive) runs: the caller's Tokio runtime, else the
//! blocking client's, which has no runtime of its own in the caller's thread.

use std::sync::OnceLock;

/// The blocking client's runtime, once a blocking call started it.
static BLOCKING: OnceLock<tokio::runtime::Handle> = OnceLock::new();

/// Remembers the blocking client's runtime (the first one wins; there is one).
#[cfg_attr(not(feature = "blocking"), allow(dead_code))]
pub(crate) fn remember(handle: &tokio::runtime::Handle) {
    let _ = BLOCKING.set(handle.clone());
}

/// The runtime to spawn background work on: the current one, else the blocking client's. A
/// drop never starts a runtime.
pub(crate) fn runtime() -> Option<tokio::runtime::Handle> {
    tokio::runtime::Handle::try_current()
        .ok()
        .or_else(|| BLOCKING.get().cloned())
}
