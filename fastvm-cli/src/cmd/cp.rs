//! `fastvm cp SRC DST`: copy files and directories to or from a VM, `scp`-style.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{HumanBytes, ProgressBar, ProgressStyle};

use super::{CliError, Ctx, Result};

/// `cp` arguments.
#[derive(Debug, Args)]
#[command(after_help = "\
Exactly one of SRC and DST is a VM path, written VM_ID:/absolute/path. Directories are copied
recursively (as one compressed archive). DST names the copy itself: `cp ./site VM:/srv/www`
makes /srv/www hold the contents of ./site (merged into an existing directory on download). A
DST ending in / (or . or ..) is a directory to copy into: the source's name is appended.
A local path that contains a colon before any slash must be written with a leading ./
(e.g. ./a:b).

A line on stderr tells the bytes moved through storage (compressed, for a directory), the time
and the rate; --quiet leaves it and the progress bar out.

Examples:
  fastvm cp ./project 0b6e...:/root/project
  fastvm cp 0b6e...:/var/log/app.log ./app.log")]
pub struct CpArgs {
    /// Source: a local path or VM_ID:PATH
    pub src: String,
    /// Destination: a local path or VM_ID:PATH
    pub dst: String,
    /// No progress bar and no summary line
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Check the copy with a SHA-256 computed in the VM (files only)
    #[arg(long)]
    pub verify: bool,
}

/// One side of a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A path on this machine.
    Local(PathBuf),
    /// A path in a VM.
    Remote {
        /// VM id.
        vm: String,
        /// Path inside the VM.
        path: String,
    },
}

impl Location {
    /// `VM:path` is remote when `VM` is non-empty and has no `/` (so `./a:b` and `/a:b` are
    /// local), as scp decides.
    pub fn parse(s: &str) -> Location {
        match s.split_once(':') {
            Some((vm, path)) if !vm.is_empty() && !vm.contains('/') && !vm.starts_with('.') => Location::Remote {
                vm: vm.to_string(),
                path: path.to_string(),
            },
            _ => Location::Local(PathBuf::from(s)),
        }
    }
}

/// Runs `cp`.
pub async fn run(ctx: &Ctx, a: CpArgs) -> Result {
    let (src, dst) = (Location::parse(&a.src), Location::parse(&a.dst));
    let progress = if a.quiet || ctx.json {
        ProgressBar::hidden()
    } else {
        // Draws only when stderr is a terminal: pipes and CI logs stay clean.
        ProgressBar::new_spinner()
    };
    let moved = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let result = match (src, dst) {
        (Location::Local(local), Location::Remote { vm, path }) => {
            upload(ctx, &vm, &local, &path, (&progress, &moved), a.verify).await
        }
        (Location::Remote { vm, path }, Location::Local(local)) => {
            download(ctx, &vm, &path, &local, (&progress, &moved), a.verify).await
        }
        (Location::Local(_), Location::Local(_)) => Err(CliError::Usage(
            "one of SRC and DST must be a VM path (VM_ID:/path)".to_string(),
        )),
        (Location::Remote { .. }, Location::Remote { .. }) => Err(CliError::Usage(
            "copying between two VMs is not supported: copy through this machine".to_string(),
        )),
    };
    progress.finish_and_clear();
    result?;
    if !a.quiet {
        eprintln!("{}", summary(moved.load(Ordering::Relaxed), started.elapsed()));
    }
    if ctx.json {
        super::output::json(&serde_json::json!({ "source": a.src, "destination": a.dst, "copied": true }))?;
    }
    Ok(0)
}

/// The line after a transfer: bytes, time, rate.
fn summary(bytes: u64, took: Duration) -> String {
    let secs = took.as_secs_f64();
    // A transfer too quick to time has no meaningful rate.
    let rate = if secs >= 0.001 {
        format!(" ({}/s)", HumanBytes((bytes as f64 / secs) as u64))
    } else {
        String::new()
    };
    format!("copied {} in {secs:.2}s{rate}", HumanBytes(bytes))
}

/// Where a transfer's progress goes: the bar, and the count for the summary line.
type Progress<'a> = (&'a ProgressBar, &'a Arc<AtomicU64>);

/// A progress callback that drives `bar` and keeps the bytes done in `moved` (a retried upload
/// starts again from zero, so the last value is what the successful attempt moved).
fn progress((bar, moved): Progress<'_>) -> impl Fn(fastvm::transfer::Progress) + Send + Sync + 'static {
    let bar = bar.clone();
    let moved = moved.clone();
    move |p| {
        moved.store(p.bytes_done, Ordering::Relaxed);
        if let Some(total) = p.bytes_total {
            if bar.length() != Some(total) {
                bar.set_style(bar_style());
                bar.set_length(total);
            }
        } else if bar.length().is_some() {
            // A retried upload restarts without a known total.
            bar.unset_length();
            bar.set_style(spinner_style());
        }
        bar.set_position(p.bytes_done);
    }
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {bytes} {binary_bytes_per_sec}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

async fn upload(ctx: &Ctx, vm: &str, local: &Path, remote: &str, to: Progress<'_>, verify: bool) -> Result<()> {
    let name = local.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let remote = into_dir(remote, name);
    to.0.set_style(spinner_style());
    ctx.client
        .upload(vm, local, &remote)
        .verify(verify)
        .progress(progress(to))
        .await?;
    Ok(())
}

async fn download(ctx: &Ctx, vm: &str, remote: &str, local: &Path, to: Progress<'_>, verify: bool) -> Result<()> {
    let name = remote.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
    let local = PathBuf::from(into_dir(&local.to_string_lossy(), name));
    to.0.set_style(spinner_style());
    ctx.client
        .download(vm, remote, &local)
        .verify(verify)
        .progress(progress(to))
        .await?;
    Ok(())
}

/// A destination ending in `/` (or `.`/`..`) is a directory to copy into: the source's name
/// is appended. Any other destination names the copy itself.
fn into_dir(dst: &str, src_name: &str) -> String {
    let is_dir = dst.ends_with('/') || dst == "." || dst == ".." || dst.ends_with("/.") || dst.ends_with("/..");
    if !is_dir || src_name.is_empty() || src_name == "." || src_name == ".." {
        return dst.to_string();
    }
    if dst.ends_with('/') {
        format!("{dst}{src_name}")
    } else {
        format!("{dst}/{src_name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(vm: &str, path: &str) -> Location {
        Location::Remote {
            vm: vm.into(),
            path: path.into(),
        }
    }

    #[test]
    fn location_parsing() {
        assert_eq!(Location::parse("vm1:/root/x"), remote("vm1", "/root/x"));
        assert_eq!(Location::parse("vm1:"), remote("vm1", ""));
        assert_eq!(Location::parse("/tmp/a:b"), Location::Local("/tmp/a:b".into()));
        assert_eq!(Location::parse("./a:b"), Location::Local("./a:b".into()));
        assert_eq!(Location::parse("dir/a:b"), Location::Local("dir/a:b".into()));
        assert_eq!(Location::parse("plain"), Location::Local("plain".into()));
        assert_eq!(Location::parse(":x"), Location::Local(":x".into()));
    }

    #[test]
    fn the_summary_has_bytes_time_and_rate() {
        assert_eq!(
            summary(3 * 1024 * 1024, Duration::from_secs(2)),
            "copied 3.00 MiB in 2.00s (1.50 MiB/s)"
        );
        assert_eq!(summary(10, Duration::ZERO), "copied 10 B in 0.00s");
    }

    #[test]
    fn destination_directories_get_the_source_name() {
        assert_eq!(into_dir("/root/", "a.txt"), "/root/a.txt");
        assert_eq!(into_dir(".", "a.txt"), "./a.txt");
        assert_eq!(into_dir("out/..", "a.txt"), "out/../a.txt");
        assert_eq!(into_dir("/root/b.txt", "a.txt"), "/root/b.txt");
        assert_eq!(into_dir("/root/", ""), "/root/");
        assert_eq!(into_dir("/root/", ".."), "/root/");
    }
}
