//! `cargo xtask <command>`: maintainer tasks for the fastvm-rs workspace.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Maintainer tasks: spec regeneration and drift checks")]
struct Cli {
    /// Workspace root to work on (default: the workspace xtask was built in). For tests.
    #[arg(long, global = true, hide = true, value_name = "DIR")]
    root: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Rewrite openapi.json canonically (from --from if given) and regenerate the committed snapshot.
    Regen {
        /// A new upstream spec (OpenAPI 3.0.x, JSON or YAML) to take as openapi.json.
        #[arg(long, value_name = "PATH")]
        from: Option<PathBuf>,
    },
    /// Type-check the facade, its examples and the CLI against the spec plus new optional fields.
    GrowCheck,
    /// Fail on any drift between the spec, the generated snapshot and the facade.
    Check {
        /// Also fail when openapi.json differs from this upstream copy of the spec.
        #[arg(long, value_name = "PATH")]
        upstream: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let ws = match cli.root {
        Some(root) => xtask::Workspace { root },
        None => xtask::Workspace::locate(),
    };
    match cli.command {
        Command::Regen { from } => reported(xtask::regen(&ws, from.as_deref())),
        Command::GrowCheck => reported(xtask::grow::run(&ws)),
        Command::Check { upstream } => {
            let failures = xtask::check(&ws, upstream.as_deref());
            if failures.is_empty() {
                println!(
                    "xtask check: spec and its facts, generated snapshot, facade and contract coverage, string \
                     classification, fixtures, test tables, the facade's types and its layers, the fastvm-api version rule are in step"
                );
                return ExitCode::SUCCESS;
            }
            for f in &failures {
                eprintln!("{f}\n");
            }
            eprintln!("xtask check: {} check(s) failed", failures.len());
            ExitCode::FAILURE
        }
    }
}

/// A command's report on stdout, or its error on stderr and a failing exit.
fn reported<R: std::fmt::Display, E: std::fmt::Display>(result: Result<R, E>) -> ExitCode {
    match result {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
