//! `fastvm sweep`: delete leftover VMs (and snapshots) by label, name prefix and age.
//!
//! Unlike the SDK's `client.sweep()`, which only lists unless told otherwise, the command
//! deletes what matches unless `--dry-run` is given (as `rm` does); it always needs at least one
//! `--label` or a `--name-prefix`, and an `--older-than` (`0s` for any age), so that it never
//! matches everything by accident. Like `rm`, it asks first on a terminal (it lists what matched,
//! then deletes exactly that once the user says yes), and needs `--yes` without one.

use std::time::Duration;

use clap::{ArgGroup, Args};
use fastvm::workflows::SweepReport;
use futures::StreamExt as _;
use serde_json::json;

use super::output::{self, Table};
use super::{CliError, Ctx, Result, parse_key_value};

/// `sweep` arguments.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("filter").required(true).multiple(true).args(["labels", "name_prefix"])))]
#[command(after_help = "\
On a terminal, what matched is listed and a confirmation asked before anything is deleted;
without a terminal (CI, cron) --yes is needed. Exit status: 0, 1 when a delete failed or the
confirmation was refused, 2 for a missing filter or age.

Examples:
  fastvm sweep --label job=ci --older-than 15m --dry-run
  fastvm sweep --name-prefix sdk-test- --older-than 1h30m --snapshots --yes")]
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
    /// Delete without asking (needed when stdin is not a terminal)
    #[arg(long, short = 'y', conflicts_with = "dry_run")]
    pub yes: bool,
}

/// A delete that failed: what, which, why.
struct Failure {
    kind: &'static str,
    id: String,
    error: String,
}

/// At most this many deletes at once after a confirmation (as the SDK's sweep).
const DELETE_CONCURRENCY: usize = 4;

/// Runs `sweep`: exit status 0, or 1 when a delete failed (after the report is printed).
pub async fn run(ctx: &Ctx, a: SweepArgs) -> Result {
    if a.labels.is_empty() && a.name_prefix.as_deref().is_none_or(str::is_empty) {
        return Err(CliError::Usage(
            "give at least one --label or a non-empty --name-prefix: a sweep without either would match everything"
                .to_string(),
        ));
    }
    // Whether to list first and ask (the deletes then are this command's own, of exactly what
    // was shown), or let the SDK's sweep list and delete at once.
    let ask = !a.dry_run && !a.yes;
    if ask && !super::can_ask() {
        return Err(CliError::Other(
            "sweep deletes what it matches and needs a confirmation, and there is no terminal to ask on: \
             pass --yes (-y) to go ahead, or --dry-run to only list"
                .to_string(),
        ));
    }
    let mut sweep = ctx
        .client
        .sweep()
        .older_than(a.older_than)
        .vms(!a.snapshots_only)
        .snapshots(a.snapshots || a.snapshots_only)
        .dry_run(a.dry_run || ask);
    for (k, v) in a.labels {
        sweep = sweep.label(k, v);
    }
    if let Some(p) = a.name_prefix {
        sweep = sweep.name_prefix(p);
    }
    let mut report = sweep.await?;
    let mut failures: Vec<Failure> = report
        .errors
        .iter()
        .map(|f| Failure {
            kind: kind_name(&f.kind.to_string()),
            id: f.id.clone(),
            error: f.error.to_string(),
        })
        .collect();
    if ask && (!report.vms.is_empty() || !report.snapshots.is_empty()) {
        // The table first (on stdout even with --json: the user is at a terminal, and the JSON
        // report follows the answer), then the question.
        if !ctx.json {
            print_rows(&report);
        }
        let what = format!(
            "{} and {}",
            count(report.vms.len(), "VM", "VMs"),
            count(report.snapshots.len(), "snapshot", "snapshots")
        );
        super::confirm(&format!("Delete {what}?"), false)?;
        failures = delete_listed(ctx, &report).await;
    } else if !ctx.json {
        print_rows(&report);
    }
    // A dry run only when asked for one (the listing before a question is not).
    report.deleted = !a.dry_run;
    if ctx.json {
        print_json(&report, &failures)?;
    } else {
        output::print_out(&summary(&report, failures.len()));
    }
    for failure in &failures {
        eprintln!(
            "error: cannot delete {} {}: {}",
            failure.kind, failure.id, failure.error
        );
    }
    Ok(if failures.is_empty() { 0 } else { 1 })
}

/// `vm` or `snapshot`, as the SDK names the kinds.
fn kind_name(kind: &str) -> &'static str {
    if kind == "snapshot" { "snapshot" } else { "vm" }
}

/// Deletes what `report` listed (a VM or snapshot already gone is not a failure, as in the
/// SDK's sweep).
async fn delete_listed(ctx: &Ctx, report: &SweepReport) -> Vec<Failure> {
    let mut targets: Vec<(&'static str, String)> = Vec::new();
    targets.extend(report.vms.iter().map(|vm| ("vm", vm.id.clone())));
    targets.extend(report.snapshots.iter().map(|s| ("snapshot", s.id.clone())));
    let client = &ctx.client;
    futures::stream::iter(targets)
        .map(|(kind, id)| async move {
            let result = if kind == "vm" {
                client.vms().delete(&id).await
            } else {
                client.snapshots().delete(&id).await
            };
            match result {
                Err(e) if !e.is_not_found() => Some(Failure {
                    kind,
                    id,
                    error: e.to_string(),
                }),
                _ => None,
            }
        })
        .buffer_unordered(DELETE_CONCURRENCY)
        .filter_map(std::future::ready)
        .collect()
        .await
}

fn print_json(report: &SweepReport, failures: &[Failure]) -> Result<()> {
    let errors: Vec<serde_json::Value> = failures
        .iter()
        .map(|f| json!({ "kind": f.kind, "id": f.id, "error": f.error }))
        .collect();
    output::json(&json!({
        "dryRun": !report.deleted,
        "deleted": report.deleted,
        "vms": report.vms,
        "snapshots": report.snapshots,
        "errors": errors,
    }))
}

/// The table of what matched (nothing when nothing did).
fn print_rows(report: &SweepReport) {
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
}

/// The line after the table: what was (or would be) deleted.
fn summary(report: &SweepReport, failed: usize) -> String {
    let matched = report.vms.len() + report.snapshots.len();
    let what = format!(
        "{} and {}",
        count(report.vms.len(), "VM", "VMs"),
        count(report.snapshots.len(), "snapshot", "snapshots")
    );
    if matched == 0 {
        "nothing to sweep".to_string()
    } else if !report.deleted {
        format!("would delete {what} (dry run: nothing was deleted)")
    } else if failed == 0 {
        format!("deleted {what}")
    } else {
        format!("deleted {what}, except {failed} that failed")
    }
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Parses an age with `humantime`: one or more `<number><unit>` (`90s`, `15m`, `2h`, `1d`,
/// `1h30m`, `1h 30m`, `2days`); a bare `0` is zero. A number without a unit is refused: `15`
/// could be seconds or minutes.
pub fn parse_age(s: &str) -> std::result::Result<Duration, String> {
    let text = s.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(text)
        .map_err(|e| format!("expected an age such as 90s, 15m, 2h, 1d or 1h30m, got {s:?} ({e})"))
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
        assert_eq!(parse_age("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_age("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_age("2days"), Ok(Duration::from_secs(2 * 86_400)));
        for bad in ["", "15", "m", "15x", "-1m", "h1"] {
            assert!(parse_age(bad).is_err(), "{bad:?}");
        }
        assert!(parse_age("99999999999999999999d").is_err());
        assert!(parse_age(&format!("{}d", u64::MAX / 2)).is_err(), "overflow is refused");
    }
}
