//! `fastvm snapshot ...`: create, list, inspect, delete, rename and restore snapshots.

use clap::Subcommand;
use fastvm::types::Snapshot;

use super::output::{self, Table};
use super::{Ctx, Result};

/// Snapshot subcommands.
#[derive(Debug, Subcommand)]
#[command(
    after_help = "Examples:\n  fastvm snapshot create VM_ID --name golden\n  fastvm snapshot restore SNAPSHOT_ID --name copy"
)]
pub enum SnapshotCmd {
    /// Snapshot a running or paused VM
    #[command(after_help = "Examples:\n  fastvm snapshot create VM_ID --name golden")]
    Create {
        /// VM id
        vm: String,
        /// Snapshot name (default: "snapshot-" and the first 8 characters of the VM id)
        #[arg(long, short = 'n')]
        name: Option<String>,
    },
    /// List snapshots
    #[command(alias = "list")]
    #[command(
        after_help = "Examples:\n  fastvm snapshot ls\n  fastvm snapshot ls --json | jq -r '.[] | select(.status == \"ready\") | .id'"
    )]
    Ls,
    /// Show one snapshot
    #[command(after_help = "Examples:\n  fastvm snapshot get SNAPSHOT_ID")]
    Get {
        /// Snapshot id
        id: String,
    },
    /// Delete snapshots (asks first on a terminal; -y to skip)
    #[command(alias = "delete")]
    #[command(
        after_help = "Examples:\n  fastvm snapshot rm SNAPSHOT_ID\n  fastvm snapshot rm -y SNAPSHOT_ID OTHER_SNAPSHOT_ID"
    )]
    Rm {
        /// Snapshot ids
        #[arg(required = true)]
        ids: Vec<String>,
        /// Delete without asking (needed when stdin is not a terminal)
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Rename a snapshot
    #[command(after_help = "Examples:\n  fastvm snapshot rename SNAPSHOT_ID silver")]
    Rename {
        /// Snapshot id
        id: String,
        /// The new name
        name: String,
    },
    /// Launch a new VM from a snapshot and wait until it is running
    #[command(
        after_help = "Examples:\n  fastvm snapshot restore SNAPSHOT_ID --name from-golden\n  fastvm snapshot restore SNAPSHOT_ID --console"
    )]
    Restore {
        /// Snapshot id
        id: String,
        /// Name of the new VM
        #[arg(long, short = 'n')]
        name: Option<String>,
        /// How long to wait for the VM to be running, in seconds
        #[arg(long, default_value_t = 300, value_name = "SECONDS")]
        wait_timeout: u64,
        /// Open a console on the new VM once it runs (see `fastvm console`)
        #[arg(long)]
        console: bool,
    },
}

/// Runs a `snapshot` subcommand.
pub async fn run(ctx: &Ctx, cmd: SnapshotCmd) -> Result {
    let snapshots = ctx.client.snapshots();
    match cmd {
        SnapshotCmd::Create { vm, name } => {
            let mut create = snapshots.create(&vm);
            if let Some(name) = name {
                create = create.name(name);
            }
            print_one(ctx, &create.await?)?
        }
        SnapshotCmd::Ls => {
            let list = snapshots.list().await?;
            if ctx.json {
                output::json(&list)?;
            } else if list.is_empty() {
                output::print_out("No snapshots.");
            } else {
                // The Python CLI's columns, in its order.
                let mut t = Table::new(&["ID", "NAME", "VM", "STATUS", "CREATED"]);
                for s in &list {
                    t.row(vec![
                        s.id.clone(),
                        s.name.clone(),
                        s.vm_id.clone(),
                        s.status.to_string(),
                        output::time(&s.created_at),
                    ]);
                }
                t.print();
            }
        }
        SnapshotCmd::Get { id } => print_one(ctx, &snapshots.retrieve(&id).await?)?,
        SnapshotCmd::Rm { ids, yes } => {
            let question = match ids.as_slice() {
                [one] => format!("Delete snapshot {one}?"),
                many => format!("Delete {} snapshots: {}?", many.len(), many.join(", ")),
            };
            super::confirm(&question, yes)?;
            return super::delete_each(ctx, &ids, |id| snapshots.delete(id)).await;
        }
        SnapshotCmd::Rename { id, name } => print_one(ctx, &snapshots.update(&id).name(name).await?)?,
        SnapshotCmd::Restore {
            id,
            name,
            wait_timeout,
            console,
        } => {
            let mut params = fastvm::launch::snapshot(id);
            if let Some(n) = name {
                params = params.name(n);
            }
            let (vm, warnings) = super::vm::launch_and_wait(ctx, params, wait_timeout).await?;
            super::vm::print_launched(ctx, &vm, &warnings)?;
            if console {
                return super::console::attach(ctx, &vm.id).await;
            }
        }
    }
    Ok(0)
}

fn print_one(ctx: &Ctx, s: &Snapshot) -> Result<()> {
    if ctx.json {
        return output::json(s);
    }
    let services: Vec<String> = s.services.iter().map(|v| format!("{}:{}", v.name, v.port)).collect();
    output::fields(&[
        ("id", s.id.clone()),
        ("name", s.name.clone()),
        ("status", s.status.to_string()),
        ("vm", s.vm_id.clone()),
        ("created", output::time(&s.created_at)),
        ("services", services.join(", ")),
    ]);
    Ok(())
}
