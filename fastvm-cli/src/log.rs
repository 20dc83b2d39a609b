//! What the SDK logs, on stderr: `-v` (repeatable), `FASTVM_LOG` (the Python SDK's variable) or
//! `RUST_LOG`, in that order of precedence.
//!
//! The SDK logs each HTTP attempt at DEBUG level (`fastvm request`: operation, method, URL
//! without its query or userinfo, status, duration, attempt, request id), each presigned
//! storage request (`fastvm storage request`: method, URL without its query, status, duration,
//! attempt) and each retry (`fastvm retrying`: the next attempt, delay), inside the spans of
//! the call (`fastvm.call`: operation, VM id) and of the workflow (`fastvm.launch`,
//! `fastvm.transfer`, `fastvm.fleet`, `fastvm.image`), which the log line prefixes; it never
//! logs the API key or a header. Without any of the three, only the SDK's warnings are printed.

use std::str::FromStr as _;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// The SDK's crates (`fastvm`, `fastvm_api`): a target prefix.
const SDK: &str = "fastvm";

/// What to log: `verbose` is the number of `-v`, then the two variables' values.
///
/// `-v`: the SDK's DEBUG events (one line per request); `-vv`: its TRACE events too; `-vvv`:
/// every crate's TRACE events. `FASTVM_LOG` is a level for the SDK (`debug`, `info`, `trace`,
/// `warn`, `error`, `off`); `RUST_LOG` is `target=level` directives, comma-separated. A value
/// that cannot be read is reported and ignored.
pub fn filter(verbose: u8, fastvm_log: Option<&str>, rust_log: Option<&str>) -> (Targets, Option<String>) {
    let sdk = |level: LevelFilter| Targets::new().with_target(SDK, level);
    match verbose {
        0 => {}
        1 => return (sdk(LevelFilter::DEBUG), None),
        2 => return (sdk(LevelFilter::TRACE), None),
        _ => return (Targets::new().with_default(LevelFilter::TRACE), None),
    }
    let default = sdk(LevelFilter::WARN);
    if let Some(value) = fastvm_log.map(str::trim).filter(|v| !v.is_empty()) {
        return match LevelFilter::from_str(value) {
            Ok(level) => (sdk(level), None),
            Err(_) => (
                default,
                Some(format!(
                    "FASTVM_LOG={value:?} is not a level (debug, info, trace, warn, error, off); ignored"
                )),
            ),
        };
    }
    if let Some(value) = rust_log.map(str::trim).filter(|v| !v.is_empty()) {
        return match Targets::from_str(value) {
            Ok(targets) => (targets, None),
            Err(e) => (
                default,
                Some(format!("RUST_LOG={value:?} cannot be read ({e}); ignored")),
            ),
        };
    }
    (default, None)
}

/// Installs the stderr logger for this process.
pub fn init(verbose: u8) {
    let fastvm_log = std::env::var("FASTVM_LOG").ok();
    let rust_log = std::env::var("RUST_LOG").ok();
    let (targets, problem) = filter(verbose, fastvm_log.as_deref(), rust_log.as_deref());
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(true);
    // Fails only when a logger is already installed, which nothing else here does.
    let _ = tracing_subscriber::registry().with(fmt).with(targets).try_init();
    if let Some(problem) = problem {
        eprintln!("fastvm: {problem}");
    }
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    fn logs(t: &Targets, target: &str, level: Level) -> bool {
        t.would_enable(target, &level)
    }

    #[test]
    fn flags_then_fastvm_log_then_rust_log() {
        let (t, _) = filter(0, None, None);
        assert!(logs(&t, "fastvm::vm", Level::WARN) && !logs(&t, "fastvm::http", Level::DEBUG));

        let (t, _) = filter(1, Some("off"), Some("off"));
        assert!(logs(&t, "fastvm::http", Level::DEBUG) && !logs(&t, "fastvm::http", Level::TRACE));
        assert!(!logs(&t, "hyper", Level::DEBUG));
        let (t, _) = filter(2, None, None);
        assert!(logs(&t, "fastvm::http", Level::TRACE) && !logs(&t, "hyper", Level::DEBUG));
        let (t, _) = filter(3, None, None);
        assert!(logs(&t, "hyper", Level::TRACE));

        let (t, _) = filter(0, Some("debug"), Some("off"));
        assert!(logs(&t, "fastvm::http", Level::DEBUG) && !logs(&t, "fastvm::http", Level::TRACE));
        let (t, _) = filter(0, Some("INFO"), None);
        assert!(logs(&t, "fastvm::http", Level::INFO) && !logs(&t, "fastvm::http", Level::DEBUG));
        let (t, _) = filter(0, None, Some("fastvm=trace,other=warn"));
        assert!(logs(&t, "fastvm::http", Level::TRACE) && logs(&t, "other", Level::WARN));
    }

    #[test]
    fn unreadable_values_are_reported_and_ignored() {
        let (t, problem) = filter(0, Some("loud"), None);
        assert!(problem.unwrap().contains("FASTVM_LOG"));
        assert!(!logs(&t, "fastvm::http", Level::DEBUG));
        let (_, problem) = filter(0, None, Some("fastvm=noisy"));
        assert!(problem.unwrap().contains("RUST_LOG"));
    }
}
