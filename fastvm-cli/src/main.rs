//! `fastvm`: the command-line client of the [fastvm](https://fastvm.org) microVM API.
//!
//! A single static binary built on the `fastvm` SDK: no runtime to install, fast to start.
//!
//! ```text
//! export FASTVM_API_KEY=hlm_...
//! fastvm vm launch --machine c1m2 --name dev      # launch and wait until running
//! fastvm vm ls                                    # a table; add --json for the wire JSON
//! fastvm exec VM_ID uname -a                      # streamed live, exit code propagated
//! fastvm exec VM_ID 'ls / | wc -l'                # one argument: a shell line (sh -c)
//! fastvm run 'make test'                          # launch, run, always delete
//! fastvm cp ./src VM_ID:/root/src                 # upload a directory (progress bar)
//! fastvm cp VM_ID:/root/out.log .                 # download a file
//! fastvm sweep --label job=ci --older-than 15m    # delete leftovers (--dry-run: only list)
//! ```
//!
//! Every command accepts `--json` (print the API's JSON instead of a table) and the connection
//! flags `--api-key` / `--base-url`, which fall back to `FASTVM_API_KEY` / `FASTVM_BASE_URL`,
//! then to the configuration file shared with the official Python CLI (`fastvm config set`,
//! `$XDG_CONFIG_HOME/fastvm/config.toml`). `fastvm console VM` opens an interactive terminal.
//!
//! The commands and flags of the official Python CLI work too (`fastvm launch`, `fastvm rm`,
//! `fastvm vm exec`, `fastvm firewall get`, `-y`, ...): the CLI's README has the table.
//!
//! Exit status: 0 on success; 1 when the command fails (the message goes to stderr as
//! `error: ...`) or a confirmation was refused; 2 for usage errors. `exec` and `run` exit with
//! the remote command's exit code instead, 137 when the server-side `--timeout` killed it (as the
//! Python CLI), and 130 when `run` was interrupted with Ctrl-C.

mod cmd;
mod log;

use std::process::ExitCode;

use clap::{CommandFactory as _, Parser, Subcommand};

use crate::cmd::{
    Ctx, bucket_mount, config, console, cp, exec, firewall, quota, run, service, snapshot, ssh_key, sweep, vm, volume,
};

/// Command-line client for the fastvm microVM API.
///
/// Configure it with the --api-key / --base-url flags, FASTVM_API_KEY / FASTVM_BASE_URL, or
/// `fastvm config set` (in that order of precedence).
#[derive(Parser)]
#[command(name = "fastvm", version, propagate_version = true, max_term_width = 100)]
#[command(after_help = "\
Examples:
  fastvm launch --name dev                 # launch, then a console (Ctrl-] detaches)
  fastvm vm ls
  fastvm exec VM_ID 'ls / | wc -l'
  fastvm cp ./src VM_ID:/root/src
  fastvm rm VM_ID
  fastvm -v vm ls                          # each HTTP request on stderr")]
struct Cli {
    /// API key sent as X-API-Key (never printed)
    #[arg(
        long,
        env = "FASTVM_API_KEY",
        hide_env_values = true,
        global = true,
        display_order = 900
    )]
    api_key: Option<String>,

    /// API base URL (default: https://api.fastvm.org)
    #[arg(
        long,
        env = "FASTVM_BASE_URL",
        global = true,
        value_name = "URL",
        display_order = 901
    )]
    base_url: Option<String>,

    /// Print the API's JSON instead of human-readable tables
    #[arg(long, global = true, display_order = 902)]
    json: bool,

    /// Log each HTTP request on stderr (-vv: more, -vvv: every library); or FASTVM_LOG=debug
    #[arg(short, long, action = clap::ArgAction::Count, global = true, display_order = 903)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

// By hand, not derived: the API key must never reach a debug print or a log.
impl std::fmt::Debug for Cli {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cli")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url)
            .field("json", &self.json)
            .field("verbose", &self.verbose)
            .field("command", &self.command)
            .finish()
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manage VMs: launch, ls, get, rm, rename, pause, resume, exec, console
    #[command(subcommand)]
    Vm(vm::VmCmd),
    /// Launch a VM, wait until it runs, and open a console on it (--no-console to skip)
    Launch(vm::LaunchShortcutArgs),
    /// Delete VMs (the same as `fastvm vm rm`; asks first on a terminal, -y to skip)
    #[command(alias = "delete")]
    Rm(vm::RmArgs),
    /// Run a command in a VM, streaming its output; exits with the command's exit code
    Exec(exec::ExecArgs),
    /// Launch a VM, run a command in it, and delete the VM (also on failure or Ctrl-C)
    Run(run::RunArgs),
    /// Copy files or directories between this machine and a VM (VM:path syntax)
    Cp(cp::CpArgs),
    /// Manage snapshots: create, ls, get, rm, rename, restore
    #[command(subcommand)]
    Snapshot(snapshot::SnapshotCmd),
    /// Manage shared volumes: ls, create, get, update, rm, attachments, attach, detach
    #[command(subcommand)]
    Volume(volume::VolumeCmd),
    /// Show or change a VM's firewall policy
    #[command(subcommand)]
    Firewall(firewall::FirewallCmd),
    /// Manage a VM's services exposed through the public HTTP proxy
    #[command(subcommand)]
    Service(service::ServiceCmd),
    /// Manage a VM's authorized SSH keys
    #[command(subcommand, name = "ssh-key")]
    SshKey(ssh_key::SshKeyCmd),
    /// Mount GCS or S3 buckets into a VM (credentials read from files, never printed)
    #[command(subcommand, name = "bucket-mount")]
    BucketMount(bucket_mount::BucketMountCmd),
    /// Delete leftover VMs (and snapshots) by label or name prefix and age; --dry-run only lists
    Sweep(sweep::SweepArgs),
    /// Show the org's quota limits and usage
    #[command(after_help = "Examples:\n  fastvm quota\n  fastvm quota --json | jq .usage")]
    Quota,
    /// Show the public list prices (compute per vCPU-hour by tier, volume storage per GiB-month)
    #[command(after_help = "Examples:\n  fastvm pricing\n  fastvm pricing --json | jq .compute.tiers")]
    Pricing,
    /// Check that the API is reachable
    #[command(after_help = "Examples:\n  fastvm health\n  fastvm -v health")]
    Health,
    /// Open an interactive terminal on a VM (Ctrl-] detaches)
    Console(console::ConsoleArgs),
    /// Show or change the configuration file (api_key, base_url), shared with the Python CLI
    #[command(subcommand)]
    Config(config::ConfigCmd),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish)
    #[command(after_help = "\
Examples:
  fastvm completions bash > ~/.local/share/bash-completion/completions/fastvm
  fastvm completions zsh > \"${fpath[1]}/_fastvm\"
  fastvm completions fish > ~/.config/fish/completions/fastvm.fish
  fastvm completions powershell >> $PROFILE")]
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    log::init(cli.verbose);
    // No API call, so no client (and no API key needed).
    match cli.command {
        Command::Config(c) => {
            return match config::run(cli.json, c) {
                Ok(code) => ExitCode::from(code),
                Err(e) => e.report(),
            };
        }
        Command::Completions { shell } => {
            // Into memory first: clap_complete panics when its writer fails, and a closed pipe
            // (`fastvm completions bash | head`) is not an error.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "fastvm", &mut script);
            let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), &script);
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let ctx = match Ctx::new(cli.api_key.as_deref(), cli.base_url.as_deref(), cli.json) {
        Ok(ctx) => ctx,
        Err(e) => return e.report(),
    };
    let result = match cli.command {
        Command::Vm(c) => vm::run(&ctx, c).await,
        Command::Launch(a) => vm::launch_shortcut(&ctx, a).await,
        Command::Rm(a) => vm::rm(&ctx, a).await,
        Command::Exec(a) => exec::run(&ctx, a).await,
        Command::Run(a) => run::run(&ctx, a).await,
        Command::Cp(a) => cp::run(&ctx, a).await,
        Command::Snapshot(c) => snapshot::run(&ctx, c).await,
        Command::Firewall(c) => firewall::run(&ctx, c).await,
        Command::Service(c) => service::run(&ctx, c).await,
        Command::SshKey(c) => ssh_key::run(&ctx, c).await,
        Command::BucketMount(c) => bucket_mount::run(&ctx, c).await,
        Command::Volume(c) => volume::run(&ctx, c).await,
        Command::Sweep(a) => sweep::run(&ctx, a).await,
        Command::Quota => quota::quota(&ctx).await,
        Command::Pricing => quota::pricing(&ctx).await,
        Command::Health => quota::health(&ctx).await,
        Command::Console(a) => console::run(&ctx, a).await,
        Command::Config(_) | Command::Completions { .. } => unreachable!("handled above"),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => e.report(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every command's `--help`, groups included, ends with examples.
    #[test]
    fn every_command_has_an_example() {
        fn walk(cmd: &mut clap::Command, path: String, missing: &mut Vec<String>) {
            let help = cmd.render_long_help().to_string();
            if !help.contains("Examples:\n  fastvm ") {
                missing.push(path.clone());
            }
            for sub in cmd.get_subcommands_mut() {
                let name = format!("{path} {}", sub.get_name());
                walk(sub, name, missing);
            }
        }
        let mut cli = Cli::command();
        cli.build();
        let mut missing = Vec::new();
        walk(&mut cli, "fastvm".to_string(), &mut missing);
        // clap's own `help` subcommands.
        missing.retain(|p| !p.split(" ").any(|w| w == "help"));
        assert!(missing.is_empty(), "no example in the help of: {missing:?}");
    }

    #[test]
    fn debug_output_redacts_the_api_key() {
        let cli = Cli::try_parse_from(["fastvm", "--api-key", "sekrit-key-123", "quota"]).unwrap();
        let debug = format!("{cli:?}");
        assert!(!debug.contains("sekrit"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }

    #[test]
    fn config_set_does_not_debug_print_the_value() {
        let cli = Cli::try_parse_from(["fastvm", "config", "set", "api_key", "sekrit-key-123"]).unwrap();
        let debug = format!("{cli:?}");
        assert!(!debug.contains("sekrit"), "{debug}");
    }

    #[test]
    fn json_flag_is_global() {
        let cli = Cli::try_parse_from(["fastvm", "vm", "ls", "--json"]).unwrap();
        assert!(cli.json);
        let cli = Cli::try_parse_from(["fastvm", "--json", "quota"]).unwrap();
        assert!(cli.json);
    }

    fn exec_args(args: &[&str]) -> (exec::ExecArgs, bool) {
        let cli = Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        match cli.command {
            Command::Exec(a) | Command::Vm(vm::VmCmd::Exec(a)) => (a, cli.json),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn exec_takes_the_command_after_double_dash() {
        let (a, json) = exec_args(&["fastvm", "exec", "vm1", "--", "ls", "-la", "--json"]);
        assert_eq!(a.vm, "vm1");
        assert_eq!(a.command.command, ["ls", "-la", "--json"]);
        assert!(!json, "--json after -- belongs to the remote command");
        assert!(Cli::try_parse_from(["fastvm", "exec", "vm1"]).is_err());
    }

    #[test]
    fn exec_takes_the_python_clis_forms() {
        // No `--`: everything from the first word of the command on is the command's, options
        // of the remote command included (as click's `ignore_unknown_options` does).
        let (a, json) = exec_args(&["fastvm", "exec", "vm1", "ls", "-la", "--json"]);
        assert_eq!(a.command.command, ["ls", "-la", "--json"]);
        assert!(!json);
        let (a, _) = exec_args(&["fastvm", "vm", "exec", "--timeout", "5", "vm1", "ls / | wc -l"]);
        assert_eq!((a.vm.as_str(), a.command.timeout), ("vm1", Some(5)));
        assert_eq!(a.command.command, ["ls / | wc -l"]);
        let (a, json) = exec_args(&["fastvm", "--json", "exec", "vm1", "--timeout", "5", "true"]);
        assert_eq!((a.command.timeout, json), (Some(5), true));
    }

    #[test]
    fn python_cli_command_forms_parse() {
        for args in [
            &[
                "fastvm",
                "launch",
                "-m",
                "c1m2",
                "-n",
                "x",
                "--disk-gib",
                "20",
                "--no-console",
            ][..],
            &[
                "fastvm",
                "vm",
                "launch",
                "--machine",
                "c1m2",
                "--name",
                "x",
                "--disk-gib",
                "20",
                "--console",
            ],
            &["fastvm", "rm", "vm1", "-y"],
            &["fastvm", "rm", "--yes", "vm1"],
            &["fastvm", "vm", "rm", "vm1", "--yes"],
            &["fastvm", "vm", "rm", "-y", "vm1"],
            &["fastvm", "vm", "ls"],
            &["fastvm", "vm", "get", "vm1"],
            &["fastvm", "vm", "rename", "vm1", "new"],
            &["fastvm", "vm", "exec", "vm1", "ls"],
            &["fastvm", "vm", "console", "vm1"],
            &["fastvm", "console", "vm1"],
            &["fastvm", "run", "-m", "c1m2", "-n", "x", "--timeout", "9", "echo", "hi"],
            &["fastvm", "snapshot", "create", "vm1", "-n", "s"],
            &["fastvm", "snapshot", "ls"],
            &["fastvm", "snapshot", "rm", "s1", "-y"],
            &["fastvm", "snapshot", "rename", "s1", "new"],
            &["fastvm", "snapshot", "restore", "s1", "-n", "x", "--console"],
            &["fastvm", "firewall", "get", "vm1"],
            &["fastvm", "firewall", "set", "vm1", "--mode", "open"],
            &[
                "fastvm",
                "firewall",
                "set",
                "vm1",
                "--mode",
                "Restricted",
                "-r",
                "tcp:80",
                "--rule",
                "udp:5000-5010",
            ],
            &["fastvm", "firewall", "patch", "vm1", "--mode", "open"],
            &["fastvm", "firewall", "patch", "vm1", "-r", "tcp:443"],
            &["fastvm", "quota"],
            &["fastvm", "config", "set", "api_key", "k"],
            &["fastvm", "config", "get"],
            &["fastvm", "config", "get", "base_url"],
            &[
                "fastvm",
                "--api-key",
                "k",
                "--base-url",
                "http://x",
                "--json",
                "vm",
                "ls",
            ],
        ] {
            if let Err(e) = Cli::try_parse_from(args) {
                panic!("{args:?}: {e}");
            }
        }
        // The Python CLI refuses these too.
        assert!(Cli::try_parse_from(["fastvm", "firewall", "set", "vm1", "-r", "tcp:80"]).is_err());
        assert!(Cli::try_parse_from(["fastvm", "firewall", "set", "vm1", "--mode", "closed"]).is_err());
        assert!(Cli::try_parse_from(["fastvm", "firewall", "set", "vm1", "--mode", "open", "-r", "icmp"]).is_err());
    }
}
