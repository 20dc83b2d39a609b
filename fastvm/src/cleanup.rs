//! Cleanup that finishes before a dropped guard's `Drop` returns: the delete of a dropped
//! [`OwnedVm`](crate::vm::OwnedVm), of a failed helper's snapshot, of a staging file, the
//! cancel of a failed wait's snapshot import. [`Guard`] is the one guard of the last three.
//!
//! Rust has no async `Drop`, and a task spawned from one does not outlive the runtime: at the
//! end of `#[tokio::main]` (an error returned with `?`, a panic, a plain return) the runtime is
//! torn down with the task still waiting for its answer, and the VM keeps running. So the drop
//! waits for the work instead, bounded by [`DROP_WAIT`]:
//! - the work runs on a thread of its own with a current-thread runtime of its own, so it
//!   needs nothing from the caller's runtime, which may be a current-thread one blocked by
//!   this very drop, or one shutting down;
//! - its client has a connection pool of its own (a pooled connection is driven by the runtime
//!   that opened it);
//! - on a multi-thread runtime's thread the wait is a `block_in_place`, so the runtime's other
//!   tasks move to another worker meanwhile; elsewhere the thread simply waits.
//!
//! Nothing here panics: a thread or runtime that cannot be made is logged (`tracing`, at
//! `warn`) and the work is left to the server-side safety TTL, where there is one.

use std::future::Future;
use std::sync::mpsc;
use std::time::Duration;

use crate::FastvmClient;

/// What a [`Guard`] undoes, and how: awaited by [`Guard::undo`], or run by [`finish`] when the
/// guard is dropped armed. Failures are the implementation's to log: nobody is left to report
/// them to.
pub(crate) trait Undo: Send + 'static {
    /// The work, in a log line of a failure to run it at all ("remove a staging file").
    const WHAT: &'static str;
    /// Undoes it with `client`.
    fn undo(self, client: FastvmClient) -> impl Future<Output = ()> + Send;
}

/// Something a request made and must not leave behind if it fails (a staging file, a snapshot
/// not ready, an import in flight): [`disarm`](Self::disarm) keeps it, [`undo`](Self::undo)
/// undoes it now, and a guard dropped while armed (the request's future dropped, a panic) undoes
/// it before the drop returns (bounded, see the module docs).
pub(crate) struct Guard<T: Undo> {
    client: FastvmClient,
    target: Option<T>,
}

impl<T: Undo> Guard<T> {
    pub(crate) fn new(client: &FastvmClient, target: T) -> Self {
        Guard {
            client: client.clone(),
            target: Some(target),
        }
    }

    /// The same guard on another target (what was guarded has become known better).
    pub(crate) fn retarget(mut self, target: T) -> Self {
        self.target = Some(target);
        self
    }

    /// Keeps what is guarded.
    pub(crate) fn disarm(mut self) {
        self.target = None;
    }

    /// Undoes it now.
    pub(crate) async fn undo(mut self) {
        if let Some(target) = self.target.take() {
            target.undo(self.client.clone()).await;
        }
    }

    /// Keeps what is guarded when `keep` (the request succeeded), else undoes it now.
    pub(crate) async fn keep_if(self, keep: bool) {
        if keep { self.disarm() } else { self.undo().await }
    }
}

impl<T: Undo> Drop for Guard<T> {
    fn drop(&mut self) {
        if let Some(target) = self.target.take() {
            finish(&self.client, T::WHAT, move |client| target.undo(client));
        }
    }
}

/// The longest a dropped guard waits for its cleanup (the work's own deadline).
pub(crate) const DROP_WAIT: Duration = Duration::from_secs(30);

/// Runs `work` with a client of its own (see the module docs) and waits for it, at most
/// [`DROP_WAIT`]; `what` names it in the log line of a failure to run it at all.
pub(crate) fn finish<F, Fut>(client: &FastvmClient, what: &'static str, work: F)
where
    F: FnOnce(FastvmClient) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let client = client.clone();
    let (done, finished) = mpsc::sync_channel::<()>(1);
    let thread = std::thread::Builder::new()
        .name("fastvm-cleanup".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(e) => return tracing::warn!(error = %e, "fastvm: cannot start a runtime to {what}"),
            };
            let client = match client.with_own_pool() {
                Ok(client) => client,
                Err(e) => return tracing::warn!(error = %e, "fastvm: cannot make a client to {what}"),
            };
            let bounded = async { tokio::time::timeout(DROP_WAIT, work(client)).await.is_ok() };
            if !runtime.block_on(bounded) {
                tracing::warn!("fastvm: could not {what} within {DROP_WAIT:?}; gave up");
            }
            let _ = done.send(());
        });
    if let Err(e) = thread {
        return tracing::warn!(error = %e, "fastvm: cannot start a thread to {what}");
    }
    // The work's own deadline ends it; the margin covers starting the runtime and the client.
    let wait = move || {
        let _ = finished.recv_timeout(DROP_WAIT + Duration::from_secs(5));
    };
    wait_blocking(wait);
}

/// Runs the blocking `wait` where the current thread allows it: inside `block_in_place` on a
/// multi-thread runtime (so that its other tasks keep running), else directly.
fn wait_blocking(wait: impl FnOnce()) {
    let on_multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    // `block_in_place` refuses (by panicking) a few contexts the flavor does not reveal; a
    // panic while unwinding would abort, so it is only tried when not unwinding, and a refusal
    // is caught (before the closure ran) and the thread then waits directly.
    if on_multi_thread && !std::thread::panicking() {
        let mut wait = Some(wait);
        let _refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            tokio::task::block_in_place(|| wait.take().map(|wait| wait()));
        }));
        if let Some(wait) = wait {
            wait();
        }
        return;
    }
    wait();
}
