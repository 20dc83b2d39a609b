//! `fastvm-fake`: serve the fake fastvm API on 127.0.0.1 until Ctrl-C (or SIGTERM).
//!
//! Prints two lines a shell can `eval`:
//! ```text
//! FASTVM_BASE_URL=http://127.0.0.1:PORT
//! FASTVM_API_KEY=...
//! ```
//! e.g. `eval "$(fastvm-fake --port 0 | head -n 2)"` is not enough on its own (the pipe ends the
//! server); run it in another terminal or as `fastvm-fake > env.txt &` then `. ./env.txt`.

use std::io::Write;
use std::time::Duration;

use clap::Parser;

/// A local stand-in for the fastvm API. Commands "run in VMs" on THIS host: with isolation
/// (Linux) each VM has its own filesystem, without it they are unsandboxed.
#[derive(Parser)]
#[command(name = "fastvm-fake", version, about)]
struct Args {
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// API key clients must send as X-API-Key (default: a random one).
    #[arg(long)]
    api_key: Option<String>,
    /// Boot delay in milliseconds: 0 = launch answers 201 running; more = 202 provisioning.
    #[arg(long, default_value_t = 0)]
    boot_delay_ms: u64,
    /// Default disk size (GiB) of launched VMs; also the upload limit.
    #[arg(long, default_value_t = 10)]
    disk_gib: i64,
    /// Wire variance, to test client tolerance: comma-separated rules from new-enums,
    /// omitempty, nulls, extra-fields, other-2xx; or all, or none.
    #[arg(long, default_value_t = fastvm_fake::Variance::none())]
    variance: fastvm_fake::Variance,
    /// How long a snapshot stays `creating` before it is `ready`, in milliseconds.
    #[arg(long, default_value_t = 300)]
    snapshot_duration_ms: u64,
    /// Per-VM filesystems: auto (where this host allows it; otherwise warn and run commands
    /// on the host), required (fail to start without), off (commands run on the host). With
    /// auto, FASTVM_FAKE_ISOLATION (auto, required, off) decides when set.
    #[arg(long, value_enum, default_value_t = IsolationArg::Auto)]
    isolation: IsolationArg,
}

/// `--isolation` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum IsolationArg {
    Auto,
    Required,
    Off,
}

impl From<IsolationArg> for fastvm_fake::Isolation {
    fn from(a: IsolationArg) -> Self {
        match a {
            IsolationArg::Auto => fastvm_fake::Isolation::Auto,
            IsolationArg::Required => fastvm_fake::Isolation::Required,
            IsolationArg::Off => fastvm_fake::Isolation::Off,
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let mut builder = fastvm_fake::FakeServer::builder()
        .port(args.port)
        .boot_delay(Duration::from_millis(args.boot_delay_ms))
        .disk_gib(args.disk_gib)
        .variance(args.variance)
        .snapshot_duration(Duration::from_millis(args.snapshot_duration_ms))
        .isolation(args.isolation.into());
    if let Some(key) = args.api_key {
        builder = builder.api_key(key);
    }
    // Ctrl-C or SIGTERM: stop the VMs' processes and remove the temporary directory. Registered
    // before anything is printed: a signal sent as soon as the first line appears must find
    // the handler (the default action would kill the process and leave its files behind).
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let server = match builder.start().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    if server.isolated() {
        eprintln!("fastvm-fake: each VM has its own filesystem (host system directories read-only)");
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "FASTVM_BASE_URL={}", server.base_url())?;
    writeln!(out, "FASTVM_API_KEY={}", server.api_key())?;
    out.flush()?;
    drop(out);
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    server.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use fastvm_fake::{Rule, Variance};

    use super::Args;

    fn variance(arg: &str) -> Result<Variance, String> {
        Args::try_parse_from(["fastvm-fake", "--variance", arg])
            .map(|a| a.variance)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn isolation_is_auto_by_default_and_parses_each_name() {
        let parse = |args: &[&str]| Args::try_parse_from(args).map(|a| fastvm_fake::Isolation::from(a.isolation));
        assert_eq!(parse(&["fastvm-fake"]).unwrap(), fastvm_fake::Isolation::Auto);
        for i in [
            fastvm_fake::Isolation::Auto,
            fastvm_fake::Isolation::Required,
            fastvm_fake::Isolation::Off,
        ] {
            assert_eq!(parse(&["fastvm-fake", "--isolation", i.name()]).unwrap(), i);
        }
        assert!(parse(&["fastvm-fake", "--isolation", "on"]).is_err());
    }

    #[test]
    fn snapshot_duration_defaults_to_300_ms() {
        assert_eq!(Args::try_parse_from(["fastvm-fake"]).unwrap().snapshot_duration_ms, 300);
        let a = Args::try_parse_from(["fastvm-fake", "--snapshot-duration-ms", "0"]).unwrap();
        assert_eq!(a.snapshot_duration_ms, 0);
    }

    #[test]
    fn variance_is_off_by_default() {
        assert_eq!(
            Args::try_parse_from(["fastvm-fake"]).unwrap().variance,
            Variance::none()
        );
    }

    #[test]
    fn variance_accepts_each_name_lists_and_all() {
        for rule in Rule::ALL {
            assert_eq!(variance(rule.name()), Ok(Variance::from(rule)));
        }
        assert_eq!(variance("all"), Ok(Variance::all()));
        assert_eq!(variance("none"), Ok(Variance::none()));
        assert_eq!(
            variance("omitempty,extra-fields"),
            Ok(Variance::from(Rule::Omitempty).with(Rule::ExtraFields))
        );
    }

    #[test]
    fn unknown_variance_names_are_refused_with_the_valid_ones() {
        let err = variance("omitempty,nul").unwrap_err();
        assert!(err.contains("\"nul\""), "{err}");
        for name in ["new-enums", "omitempty", "nulls", "extra-fields", "other-2xx", "all"] {
            assert!(err.contains(name), "{err}");
        }
    }
}
