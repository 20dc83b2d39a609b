//! `fastvm vm ...`: launch, list, inspect, delete, rename, pause and resume VMs.

use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use fastvm::launch::LaunchParams;
use fastvm::resources::LaunchWarnings;
use fastvm::resources::Wait;
use fastvm::types::{TtlAction, VmInfo, VmStatus};

use super::output::{self, Table};
use super::{Ctx, Result, parse_key_value};

/// VM subcommands.
#[derive(Debug, Subcommand)]
#[command(
    after_help = "Examples:\n  fastvm vm launch --name dev\n  fastvm vm ls\n  fastvm vm exec VM_ID 'uname -a'\n  fastvm vm rm VM_ID"
)]
pub enum VmCmd {
    /// Launch a VM (a machine type, or a snapshot restore) and wait until it is running
    #[command(
        after_help = "Examples:\n  fastvm vm launch --machine c2m4 --name dev --meta team=red\n  fastvm vm launch --snapshot SNAPSHOT_ID --ttl 3600 --ttl-action delete\n  fastvm vm launch --console"
    )]
    Launch(LaunchArgs),
    /// List VMs
    #[command(alias = "list")]
    #[command(
        after_help = "Examples:\n  fastvm vm ls\n  fastvm vm ls --status running --label team=red\n  fastvm vm ls --json | jq -r '.[].id'"
    )]
    Ls {
        /// Only VMs with this status (e.g. running, paused)
        #[arg(long)]
        status: Option<String>,
        /// Only VMs whose metadata has KEY set to VALUE (repeatable: every one must match)
        #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_key_value)]
        labels: Vec<(String, String)>,
    },
    /// Show one VM
    #[command(after_help = "Examples:\n  fastvm vm get VM_ID\n  fastvm vm get VM_ID --json | jq .status")]
    Get {
        /// VM id
        id: String,
    },
    /// Delete VMs (asks first on a terminal; -y to skip)
    #[command(alias = "delete")]
    #[command(after_help = "Examples:\n  fastvm vm rm VM_ID\n  fastvm vm rm -y VM_ID OTHER_VM_ID")]
    Rm(RmArgs),
    /// Rename a VM
    #[command(after_help = "Examples:\n  fastvm vm rename VM_ID new-name")]
    Rename {
        /// VM id
        id: String,
        /// The new name
        name: String,
    },
    /// Pause a VM (idempotent)
    #[command(after_help = "Examples:\n  fastvm vm pause VM_ID")]
    Pause {
        /// VM id
        id: String,
    },
    /// Resume a paused VM and wait until it is running
    #[command(after_help = "Examples:\n  fastvm vm resume VM_ID\n  fastvm vm resume --no-wait VM_ID")]
    Resume {
        /// VM id
        id: String,
        /// Return as soon as the server accepted the resume, without waiting
        #[arg(long)]
        no_wait: bool,
    },
    /// Run a command in a VM (the same as `fastvm exec`)
    Exec(super::exec::ExecArgs),
    /// Open an interactive terminal on a VM (the same as `fastvm console`)
    #[command(after_help = "Examples:\n  fastvm vm console VM_ID")]
    Console(super::console::ConsoleArgs),
}

/// `vm rm` and `rm` arguments.
#[derive(Debug, Args)]
#[command(after_help = "\
Asks `Delete VM ID (name)? [y/N]` when stdin is a terminal; without one, deletes only with --yes.

Examples:
  fastvm rm VM_ID
  fastvm rm -y VM_ID OTHER_VM_ID")]
pub struct RmArgs {
    /// VM ids
    #[arg(required = true)]
    pub ids: Vec<String>,
    /// Delete without asking (needed when stdin is not a terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// `launch` (the Python CLI's shortcut): `vm launch`, then a console unless --no-console.
#[derive(Debug, Args)]
#[command(after_help = "\
Without a terminal on stdin the console is skipped (the VM keeps running).

Examples:
  fastvm launch --name dev
  fastvm launch -m c2m4 --no-console --json")]
pub struct LaunchShortcutArgs {
    #[command(flatten)]
    pub opts: LaunchOpts,
    /// Do not open a console once the VM runs
    #[arg(long)]
    pub no_console: bool,
}

/// What a VM is launched from, and how (shared by `vm launch` and `run`).
#[derive(Debug, Clone, Args)]
pub struct LaunchOpts {
    /// Machine type to cold-boot (ignored with --snapshot)
    #[arg(long, short = 'm', default_value = "c1m2", value_name = "TYPE")]
    pub machine: String,
    /// Restore from this snapshot instead of cold-booting
    #[arg(long, short = 's', value_name = "SNAPSHOT_ID")]
    pub snapshot: Option<String>,
    /// VM name
    #[arg(long, short = 'n')]
    pub name: Option<String>,
    /// Metadata entry (repeatable)
    #[arg(long = "meta", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub metadata: Vec<(String, String)>,
    /// Environment variable injected at boot (repeatable)
    #[arg(long = "env", short = 'e', value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub env: Vec<(String, String)>,
    /// Disk size in GiB
    #[arg(long, value_name = "GIB")]
    pub disk_gib: Option<u32>,
    /// TTL: after this many seconds of running time, apply --ttl-action
    #[arg(long, value_name = "SECONDS")]
    pub ttl: Option<u64>,
    /// What the TTL does when it runs out
    #[arg(long, value_enum, default_value_t = TtlActionArg::Pause, requires = "ttl")]
    pub ttl_action: TtlActionArg,
    /// How long to wait for the VM to be running, in seconds
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub wait_timeout: u64,
}

/// `--ttl-action` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TtlActionArg {
    /// Pause the VM (the cycle re-arms on resume)
    Pause,
    /// Delete the VM
    Delete,
}

impl LaunchOpts {
    /// The SDK's launch parameters.
    pub fn params(&self) -> LaunchParams {
        let mut p = match &self.snapshot {
            Some(id) => fastvm::launch::snapshot(id),
            None => fastvm::launch::machine(&self.machine),
        };
        if let Some(n) = &self.name {
            p = p.name(n);
        }
        for (k, v) in &self.metadata {
            p = p.metadata(k, v);
        }
        for (k, v) in &self.env {
            p = p.env(k, v);
        }
        if let Some(d) = self.disk_gib {
            p = p.disk_gib(d);
        }
        if let Some(t) = self.ttl {
            let action = match self.ttl_action {
                TtlActionArg::Pause => TtlAction::Pause,
                TtlActionArg::Delete => TtlAction::Delete,
            };
            p = p.ttl(Duration::from_secs(t), action);
        }
        p
    }

    /// `wait` with these options' deadline.
    pub fn wait<'a>(&self, wait: Wait<'a, VmInfo>) -> Wait<'a, VmInfo> {
        wait.deadline(Duration::from_secs(self.wait_timeout))
    }
}

/// `vm launch` arguments.
#[derive(Debug, Args)]
pub struct LaunchArgs {
    #[command(flatten)]
    pub opts: LaunchOpts,
    /// Print the server's first answer without waiting for the VM to run
    #[arg(long, conflicts_with = "console")]
    pub no_wait: bool,
    /// Open a console on the VM once it runs (see `fastvm console`)
    #[arg(long)]
    pub console: bool,
}

/// Runs a `vm` subcommand.
pub async fn run(ctx: &Ctx, cmd: VmCmd) -> Result {
    let vms = ctx.client.vms();
    match cmd {
        VmCmd::Launch(a) => {
            if a.no_wait {
                let r = vms.launch(a.opts.params()).await?;
                if ctx.json {
                    output::json(&r.vm)?;
                } else {
                    output::fields(&[
                        ("id", r.vm.id.clone()),
                        ("name", r.vm.name.clone()),
                        ("status", r.vm.status.to_string()),
                    ]);
                }
            } else {
                let (vm, warnings) = launch_and_wait(ctx, a.opts.params(), a.opts.wait_timeout).await?;
                print_launched(ctx, &vm, &warnings)?;
                if a.console {
                    return super::console::attach(ctx, &vm.id).await;
                }
            }
        }
        VmCmd::Ls { status, labels } => {
            let mut list = vms.list();
            if let Some(status) = status {
                list = list.status(VmStatus::from(status));
            }
            for (k, v) in labels {
                list = list.metadata(k, v);
            }
            let list = list.await?;
            if ctx.json {
                output::json(&list)?;
            } else if list.is_empty() {
                output::print_out("No VMs.");
            } else {
                print_table(&list);
            }
        }
        VmCmd::Get { id } => print_vm(ctx, &vms.retrieve(&id).await?)?,
        VmCmd::Rm(a) => return rm(ctx, a).await,
        VmCmd::Rename { id, name } => {
            print_vm(ctx, &vms.update(&id).name(name).await?)?;
        }
        VmCmd::Pause { id } => print_vm(ctx, &vms.pause(&id).await?)?,
        VmCmd::Resume { id, no_wait } => {
            let mut vm = vms.resume(&id).await?;
            if !no_wait && vm.status != VmStatus::Running {
                vm = ctx.client.wait_for_vm_ready(&id).await?;
            }
            print_vm(ctx, &vm)?;
        }
        VmCmd::Exec(a) => return super::exec::run(ctx, a).await,
        VmCmd::Console(a) => return super::console::run(ctx, a).await,
    }
    Ok(0)
}

/// Runs `launch`: launches and waits, prints the VM, then attaches a console unless
/// `--no-console`, or when there is no terminal to attach (the VM is left running and a note
/// says how to attach later).
pub async fn launch_shortcut(ctx: &Ctx, a: LaunchShortcutArgs) -> Result {
    let (vm, warnings) = launch_and_wait(ctx, a.opts.params(), a.opts.wait_timeout).await?;
    print_launched(ctx, &vm, &warnings)?;
    if a.no_console {
        return Ok(0);
    }
    if !super::can_ask() {
        eprintln!(
            "fastvm: no terminal on stdin, so no console; attach later with `fastvm console {}`",
            vm.id
        );
        return Ok(0);
    }
    super::console::attach(ctx, &vm.id).await
}

/// Runs `vm rm` and `rm`: asks first on a terminal unless `--yes`, refuses without one.
pub async fn rm(ctx: &Ctx, a: RmArgs) -> Result {
    let vms = ctx.client.vms();
    let mut named = a.ids.clone();
    if !a.yes && super::can_ask() {
        // As the Python CLI does: each VM is looked up first, so that the question names it
        // (and a wrong id fails before anything is asked).
        named.clear();
        for id in &a.ids {
            let vm = vms.retrieve(id).await?;
            named.push(format!("{} ({})", vm.id, output::clean(&vm.name)));
        }
    }
    super::confirm_delete(&named, ("VM", "VMs"), ("", ""), a.yes)?;
    super::delete_each(ctx, &a.ids, |id| vms.delete(id)).await
}

/// Launches a VM and waits until it runs (`wait_timeout` seconds at most), as the CLI's
/// launching commands do: the VM is kept once it runs (no safety TTL: it is the user's), and
/// deleted when the launch or the wait fails or is interrupted (the SDK's owned launch).
pub async fn launch_and_wait(
    ctx: &Ctx,
    params: LaunchParams,
    wait_timeout: u64,
) -> Result<(fastvm::types::VmInfo, LaunchWarnings)> {
    let owned = (ctx.client.launch_vm(params))
        .no_safety_ttl()
        .deadline(Duration::from_secs(wait_timeout))
        .await?;
    let warnings = owned.launch_warnings().clone();
    Ok((owned.release().state().clone(), warnings))
}

/// Prints a freshly launched VM; what the launch could not do is reported on stderr.
pub fn print_launched(ctx: &Ctx, vm: &fastvm::types::VmInfo, warnings: &LaunchWarnings) -> Result<()> {
    if ctx.json {
        // The same shape as the API's launch answer: the VM plus its warnings.
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Launched<'a> {
            #[serde(flatten)]
            vm: &'a fastvm::types::VmInfo,
            #[serde(skip_serializing_if = "Option::is_none")]
            snapshot_restore_warnings: Option<&'a fastvm::types::SnapshotRestoreWarnings>,
            #[serde(skip_serializing_if = "Option::is_none")]
            attachment_warnings: Option<&'a fastvm::types::AttachmentWarnings>,
        }
        output::json(&Launched {
            vm,
            snapshot_restore_warnings: warnings.snapshot_restore.as_ref(),
            attachment_warnings: warnings.attachments.as_ref(),
        })?;
    } else {
        print_vm(ctx, vm)?;
    }
    print_launch_warnings(warnings);
    Ok(())
}

/// Reports on stderr what a launch could not do (shared by `vm launch`, `snapshot restore`
/// and `run`); nothing when it did everything.
pub fn print_launch_warnings(warnings: &LaunchWarnings) {
    if let Some(w) = &warnings.snapshot_restore {
        let names: Vec<&str> = w.unregistered_services.iter().map(|s| s.name.as_str()).collect();
        let names = if names.is_empty() {
            "no names given".to_string()
        } else {
            names.join(", ")
        };
        eprintln!(
            "warning: the snapshot's services could not be re-registered ({}); add them with `fastvm service add`",
            output::clean(&names)
        );
    }
    let Some(w) = &warnings.attachments else { return };
    let lines = (w.failed_volume_attachments.iter())
        .map(|v| {
            format!(
                "volume {} did not attach at {}: {}",
                v.volume_id, v.mount_path, v.status_message
            )
        })
        .chain(w.skipped_snapshot_volumes.iter().map(|v| {
            format!(
                "the snapshot's volume {} at {} was left out: {}",
                v.volume_id, v.mount_path, v.reason
            )
        }))
        .chain(w.failed_bucket_mount_attachments.iter().map(|b| {
            format!(
                "bucket {} did not mount at {}: {}",
                b.bucket_uri, b.mount_path, b.status_message
            )
        }))
        .chain(w.skipped_snapshot_bucket_mounts.iter().map(|b| {
            format!(
                "the snapshot's bucket {} at {} was left out: {}",
                b.bucket_uri, b.mount_path, b.reason
            )
        }));
    for line in lines {
        // The reasons are the server's: no control character reaches the terminal as it is.
        eprintln!("warning: {}", output::clean(&line));
    }
}

/// Prints one VM: JSON, or one field per line.
pub fn print_vm(ctx: &Ctx, vm: &VmInfo) -> Result<()> {
    if ctx.json {
        return output::json(vm);
    }
    let mut f = vec![
        ("id", vm.id.clone()),
        ("name", vm.name.clone()),
        ("status", vm.status.to_string()),
        ("machine", vm.machine_name.clone().unwrap_or_default()),
        ("cpu", vm.cpu.to_string()),
        ("memory", format!("{} MiB", vm.memory_mib)),
        ("disk", format!("{} GiB", vm.disk_gib)),
        ("ipv6", vm.public_ipv6.clone().unwrap_or_default()),
        ("source", vm.source_name.clone().unwrap_or_default()),
        ("created", output::time(&vm.created_at)),
    ];
    if let Some(t) = &vm.paused_at {
        f.push(("paused", output::time(&Some(*t))));
    }
    if let Some(ttl) = &vm.ttl {
        f.push(("ttl", format!("{}s, then {}", ttl.seconds, ttl.action)));
    }
    if let Some(m) = &vm.metadata {
        let pairs: Vec<String> = m.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        f.push(("metadata", pairs.join(", ")));
    }
    if let Some(e) = &vm.env_vars {
        // Values are often secrets: the table names the variables only (--json has them all).
        let keys: Vec<&str> = e.0.keys().map(String::as_str).collect();
        f.push(("env", keys.join(", ")));
    }
    output::fields(&f);
    Ok(())
}

fn print_table(vms: &[VmInfo]) {
    // The Python CLI's columns, in its order (full ids, though: its 8-character ones cannot be
    // given back to any command).
    let mut t = Table::new(&["ID", "NAME", "MACHINE", "STATUS", "IPv6", "CREATED"]);
    for vm in vms {
        t.row(vec![
            vm.id.clone(),
            vm.name.clone(),
            vm.machine_name.clone().unwrap_or_default(),
            vm.status.to_string(),
            vm.public_ipv6.clone().unwrap_or_default(),
            output::time(&vm.created_at),
        ]);
    }
    t.print();
}
