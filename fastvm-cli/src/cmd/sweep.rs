//! `fastvm sweep`: delete leftover VMs (and snapshots) by label, name prefix and age.
//!
//! Unlike the SDK's `client.sweep()`, which only lists unless told otherwise, the command
//! deletes what matches unless `--dry-run` is given (as `rm` does); it always needs at least one
//! `--label` or a `--name-prefix`, and an `--older-than` (`0s` for any age), so that it never
//! matches everything by accident.

use std::time::Duration;

use clap::{ArgGroup, Args};
use fastvm::fleet::SweepReport;
use serde_json::json;

use super::output::{self, Table};
use super::{CliError, Ctx, Result, parse_key_value};

/// `sweep` arguments.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("filter").required(true).multiple(true).args(["labels", "name_prefix"])))]
pub struct SweepArgs {
    /// Only what has metadata KEY set to VALUE (repeatable: every one must match)
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub labels: Vec<(String, String)>,
    /// Only what has a name starting with PREFIX
    #[arg(long, value_name = "PREFIX")]
    pub name_prefix: Option<String>,
    /// Only what was created at least AGE ago: 90s, 15m, 2h, 1d, 1h30m (0s: any age)
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    pub older_than: Duration,
    /// Also sweep snapshots, matched by the same filters (their metadata is their VM's)
    #[arg(long)]
    pub snapshots: bool,
    /// Sweep snapshots only, not VMs
    #[arg(long, conflicts_with = "snapshots")]
    pub snapshots_only: bool,
    /// Only list what would be deleted
    #[arg(long)]
    pub dry_run: bool,
}

/// Runs `sweep`: exit status 0, or 1 when a delete failed (after the report is printed).
pub async fn run(ctx: &Ctx, a: SweepArgs) -> Result {
    if a.labels.is_empty() && a.name_prefix.as_deref().is_none_or(str::is_empty) {
        return Err(CliError::Usage(
            "give at least one --label or a non-empty --name-prefix: a sweep without either would match everything"
                .to_string(),
        ));
    }
    let mut sweep = ctx
        .client
        .sweep()
        .older_than(a.older_than)
        .vms(!a.snapshots_only)
        .snapshots(a.snapshots || a.snapshots_only)
        .dry_run(a.dry_run);
    for (k, v) in a.labels {
        sweep = sweep.label(k, v);
    }
    if let Some(p) = a.name_prefix {
        sweep = sweep.name_prefix(p);
    }
    let report = sweep.await?;
    if ctx.json {
        print_json(&report)?;
    } else {
        print_table(&report);
    }
    for failure in &report.errors {
        eprintln!(
            "error: cannot delete {} {}: {}",
            failure.kind, failure.id, failure.error
        );
    }
    Ok(if report.errors.is_empty() { 0 } else { 1 })
}

fn print_json(report: &SweepReport) -> Result<()> {
    let errors: Vec<serde_json::Value> = report
        .errors
        .iter()
        .map(|f| json!({ "kind": f.kind.to_string(), "id": f.id, "error": f.error.to_string() }))
        .collect();
    output::json(&json!({
        "dryRun": !report.deleted,
        "deleted": report.deleted,
        "vms": report.vms,
        "snapshots": report.snapshots,
        "errors": errors,
    }))
}

fn print_table(report: &SweepReport) {
    let matched = report.vms.len() + report.snapshots.len();
    if matched > 0 {
        let mut t = Table::new(&["KIND", "ID", "NAME", "STATUS", "CREATED"]);
        for vm in &report.vms {
            t.row(vec![
                "vm".into(),
                vm.id.clone(),
                vm.name.clone(),
                vm.status.to_string(),
                output::time(&vm.created_at),
            ]);
        }
        for s in &report.snapshots {
            t.row(vec![
                "snapshot".into(),
                s.id.clone(),
                s.name.clone(),
                s.status.to_string(),
                output::time(&s.created_at),
            ]);
        }
        t.print();
    }
    let what = format!(
        "{} and {}",
        count(report.vms.len(), "VM", "VMs"),
        count(report.snapshots.len(), "snapshot", "snapshots")
    );
    let line = if matched == 0 {
        "nothing to sweep".to_string()
    } else if !report.deleted {
        format!("would delete {what} (dry run: nothing was deleted)")
    } else if report.errors.is_empty() {
        format!("deleted {what}")
    } else {
        format!("deleted {what}, except {} that failed", report.errors.len())
    };
    output::print_out(&line);
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Parses an age: one or more `<number><unit>` with the units `s`, `m`, `h` and `d` (`90s`,
/// `15m`, `2h`, `1d`, `1h30m`); a bare `0` is zero. A number without a unit is refused: `15`
/// could be seconds or minutes.
pub fn parse_age(s: &str) -> std::result::Result<Duration, String> {
    let bad = || format!("expected an age such as 90s, 15m, 2h, 1d or 1h30m, got {s:?}");
    let text = s.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err(bad());
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        total = n
            .checked_mul(unit)
            .and_then(|secs| total.checked_add(secs))
            .ok_or_else(|| format!("{s:?} is too long"))?;
    }
    if !digits.is_empty() {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        sweep: SweepArgs,
    }

    #[test]
    fn a_filter_and_an_age_are_required() {
        let parse = |args: &[&str]| Cli::try_parse_from(std::iter::once("sweep").chain(args.iter().copied()));
        let ok = parse(&["--label", "a=b", "--label", "c=d", "--older-than", "15m"]).unwrap();
        assert_eq!(ok.sweep.labels.len(), 2);
        assert_eq!(ok.sweep.older_than, Duration::from_secs(900));
        assert!(!ok.sweep.dry_run && !ok.sweep.snapshots, "deletes unless --dry-run");
        assert!(parse(&["--name-prefix", "ci-", "--older-than", "0s", "--dry-run"]).is_ok());
        assert!(parse(&["--older-than", "15m"]).is_err(), "no filter");
        assert!(parse(&["--label", "a=b"]).is_err(), "no age");
        assert!(
            parse(&["--label", "a=b", "--older-than", "15"]).is_err(),
            "an age without a unit"
        );
    }

    #[test]
    fn ages_have_units() {
        assert_eq!(parse_age("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_age("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_age("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_age("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_age("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_age("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_age("0"), Ok(Duration::ZERO));
        for bad in ["", "15", "m", "15x", "1.5h", "-1m", "15 m", "h1"] {
            assert!(parse_age(bad).is_err(), "{bad:?}");
        }
        assert!(parse_age("99999999999999999999d").is_err());
        assert!(parse_age(&format!("{}d", u64::MAX / 2)).is_err(), "overflow is refused");
    }
}
