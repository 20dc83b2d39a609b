//! The one poll loop, and how long and how often it polls ([`WaitOptions`]), shared by every
//! wait: a VM running, a build finished, a snapshot ready, a readiness probe.

use std::time::{Duration, Instant};

use crate::{Error, Result};

/// Default interval between polls.
pub(crate) const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);
/// Default total wait.
pub(crate) const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(300);
/// Polls are never closer together than this, whatever the configured interval.
pub(crate) const MIN_POLL_INTERVAL: Duration = Duration::from_millis(500);

/// How long and how often to poll: set on the waiting request builders with `poll_interval`
/// and `deadline`. `pub` only so that the sealed trait of `resources::Wait` may take it: this
/// module is private, so no user can name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitOptions {
    /// Time between polls (±10 % jitter, never under 500 ms). Default 2 s.
    pub(crate) poll_interval: Duration,
    /// Total deadline, counted from the start of polling. Default 300 s.
    pub(crate) timeout: Duration,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            poll_interval: DEFAULT_POLL_INTERVAL,
            timeout: DEFAULT_WAIT_TIMEOUT,
        }
    }
}

impl WaitOptions {
    /// The sleep before the next poll: the interval ±10 %, at least 500 ms, at most `remaining`.
    pub(crate) fn next_sleep(&self, remaining: Duration) -> Duration {
        let jitter = 0.9 + 0.2 * rand::random::<f64>();
        // `try_from` rather than `mul_f64`: an absurd interval from the caller must not panic.
        let jittered =
            Duration::try_from_secs_f64(self.poll_interval.as_secs_f64() * jitter).unwrap_or(self.poll_interval);
        jittered.max(MIN_POLL_INTERVAL).min(remaining)
    }
}

/// `start + timeout`, saturating (a caller may pass `Duration::MAX` to mean "forever").
fn deadline(start: Instant, timeout: Duration) -> Instant {
    start
        .checked_add(timeout)
        .unwrap_or_else(|| start + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// One poll's outcome: finished (with the result to return) or still going (with its status).
pub(crate) enum Step<T, S> {
    Done(Result<T>),
    Pending(S),
}

/// The one poll loop: `fetch` immediately, then every `opts.next_sleep(..)` until it is done or
/// `opts.timeout` (counted from the start) has passed; then `on_deadline(last_status, waited)`
/// is the error.
pub(crate) async fn poll<T, S, F, Fut>(
    opts: WaitOptions,
    mut fetch: F,
    on_deadline: impl FnOnce(S, Duration) -> Error,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Step<T, S>>>,
{
    let started = Instant::now();
    let deadline = deadline(started, opts.timeout);
    loop {
        let last_status = match fetch().await? {
            Step::Done(result) => return result,
            Step::Pending(status) => status,
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(on_deadline(last_status, now - started));
        }
        tokio::time::sleep(opts.next_sleep(deadline - now)).await;
    }
}

/// The `poll_interval` and `deadline` setters of a waiting request builder (a struct with an
/// `options: WaitOptions` field).
macro_rules! wait_setters {
    () => {
        /// Time between polls (default 2 s; ±10 % jitter, never under 500 ms).
        pub fn poll_interval(mut self, interval: Duration) -> Self {
            self.options.poll_interval = interval;
            self
        }

        /// How long the whole wait may take, counted from the first poll (default 300 s).
        pub fn deadline(mut self, deadline: Duration) -> Self {
            self.options.timeout = deadline;
            self
        }
    };
}
pub(crate) use wait_setters;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleep_is_jittered_floored_and_capped() {
        let o = WaitOptions {
            poll_interval: Duration::from_secs(2),
            ..WaitOptions::default()
        };
        for _ in 0..100 {
            let s = o.next_sleep(Duration::from_secs(100));
            assert!(
                s >= Duration::from_millis(1800) && s <= Duration::from_millis(2200),
                "{s:?}"
            );
        }
        let fast = WaitOptions {
            poll_interval: Duration::from_millis(10),
            ..WaitOptions::default()
        };
        assert_eq!(fast.next_sleep(Duration::from_secs(100)), MIN_POLL_INTERVAL);
        assert_eq!(o.next_sleep(Duration::from_millis(100)), Duration::from_millis(100));
        let huge = WaitOptions {
            poll_interval: Duration::MAX,
            ..WaitOptions::default()
        };
        assert_eq!(huge.next_sleep(Duration::from_secs(1)), Duration::from_secs(1));
        assert!(deadline(Instant::now(), Duration::MAX) > Instant::now());
    }
}
