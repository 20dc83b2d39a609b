//! `fastvm-fake`: serve the fake fastvm API on 127.0.0.1 until Ctrl-C.
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

/// A local stand-in for the fastvm API. Commands "run in VMs" on THIS host, unsandboxed.
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
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let mut builder = fastvm_fake::FakeServer::builder()
        .port(args.port)
        .boot_delay(Duration::from_millis(args.boot_delay_ms))
        .disk_gib(args.disk_gib)
        .variance(args.variance);
    if let Some(key) = args.api_key {
        builder = builder.api_key(key);
    }
    let server = builder.start().await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "FASTVM_BASE_URL={}", server.base_url())?;
    writeln!(out, "FASTVM_API_KEY={}", server.api_key())?;
    out.flush()?;
    drop(out);
    tokio::signal::ctrl_c().await?;
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
