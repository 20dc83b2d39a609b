//! `fastvm volume ...`: managed shared volumes and their attachments to VMs (upstream API after
//! the reference).

use clap::Subcommand;
use fastvm::types::{Volume, VolumeAccessMode};

use super::output::{self, Table};
use super::{Ctx, Result};

/// Volume subcommands.
#[derive(Debug, Subcommand)]
#[command(
    after_help = "Examples:\n  fastvm volume create shared --size 10\n  fastvm volume attach VM_ID VOLUME_ID /mnt/shared\n  fastvm volume detach VM_ID VOLUME_ID"
)]
pub enum VolumeCmd {
    /// List the org's volumes
    #[command(alias = "list")]
    #[command(
        after_help = "Examples:\n  fastvm volume ls\n  fastvm volume ls --json | jq -r '.[] | select(.status == \"ready\") | .id'"
    )]
    Ls,
    /// Create a volume (read-write unless --read-only)
    #[command(
        after_help = "Examples:\n  fastvm volume create shared --size 10\n  fastvm volume create refs --size 1 --read-only"
    )]
    Create {
        /// Volume name
        name: String,
        /// Size in GiB (at least 1)
        #[arg(long, value_name = "GIB")]
        size: u64,
        /// Access mode `ro`: every VM mounts it read-only
        #[arg(long)]
        read_only: bool,
    },
    /// Show one volume
    #[command(after_help = "Examples:\n  fastvm volume get VOLUME_ID")]
    Get {
        /// Volume id
        id: String,
    },
    /// Rename, resize or change the access mode of a volume
    #[command(
        after_help = "Examples:\n  fastvm volume update VOLUME_ID --name datasets\n  fastvm volume update VOLUME_ID --size 20 --access-mode ro"
    )]
    Update {
        /// Volume id
        id: String,
        /// The new name
        #[arg(long, short = 'n')]
        name: Option<String>,
        /// The new size in GiB (a shrink needs what it holds to fit)
        #[arg(long, value_name = "GIB")]
        size: Option<u64>,
        /// The new access mode: rw or ro
        #[arg(long, value_name = "MODE")]
        access_mode: Option<String>,
    },
    /// Delete volumes (asks first on a terminal; -y to skip); what they hold is lost
    #[command(alias = "delete")]
    #[command(after_help = "Examples:\n  fastvm volume rm VOLUME_ID\n  fastvm volume rm -y VOLUME_ID OTHER_VOLUME_ID")]
    Rm {
        /// Volume ids
        #[arg(required = true)]
        ids: Vec<String>,
        /// Delete without asking (needed when stdin is not a terminal)
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// List the VMs a volume is attached to
    #[command(after_help = "Examples:\n  fastvm volume attachments VOLUME_ID")]
    Attachments {
        /// Volume id
        id: String,
    },
    /// Mount a ready volume in a VM, under /mnt/ or /data/
    #[command(
        after_help = "Examples:\n  fastvm volume attach VM_ID VOLUME_ID /mnt/shared\n  fastvm volume attach VM_ID VOLUME_ID /data/refs --read-only"
    )]
    Attach {
        /// VM id
        vm: String,
        /// Volume id
        volume: String,
        /// Where the VM sees it: an absolute path under /mnt/ or /data/
        mount_path: String,
        /// Mount it read-only
        #[arg(long)]
        read_only: bool,
    },
    /// Unmount a volume from a VM (what it holds stays in the volume)
    #[command(after_help = "Examples:\n  fastvm volume detach VM_ID VOLUME_ID")]
    Detach {
        /// VM id
        vm: String,
        /// Volume id
        volume: String,
    },
}

/// Runs a `volume` subcommand.
pub async fn run(ctx: &Ctx, cmd: VolumeCmd) -> Result {
    let volumes = ctx.client.volumes();
    match cmd {
        VolumeCmd::Ls => {
            let list = volumes.list().await?;
            if ctx.json {
                output::json(&list)?;
            } else if list.is_empty() {
                output::print_out("No volumes.");
            } else {
                let mut t = Table::new(&["ID", "NAME", "SIZE_GIB", "MODE", "STATUS", "MOUNTED", "CREATED"]);
                for v in &list {
                    t.row(vec![
                        v.id.clone(),
                        v.name.clone(),
                        v.size_gib.to_string(),
                        v.access_mode.as_ref().map(ToString::to_string).unwrap_or_default(),
                        v.status.to_string(),
                        v.mounted_count.to_string(),
                        output::time(&v.created_at),
                    ]);
                }
                t.print();
            }
        }
        VolumeCmd::Create { name, size, read_only } => {
            let mode = if read_only {
                VolumeAccessMode::Ro
            } else {
                VolumeAccessMode::Rw
            };
            print_one(ctx, &volumes.create(name, size).access_mode(mode).await?)?
        }
        VolumeCmd::Get { id } => print_one(ctx, &volumes.retrieve(&id).await?)?,
        VolumeCmd::Update {
            id,
            name,
            size,
            access_mode,
        } => {
            let mut update = volumes.update(&id);
            if let Some(n) = name {
                update = update.name(n);
            }
            if let Some(s) = size {
                update = update.size_gib(s);
            }
            if let Some(m) = access_mode {
                update = update.access_mode(VolumeAccessMode::from(m));
            }
            print_one(ctx, &update.await?)?
        }
        VolumeCmd::Rm { ids, yes } => {
            let tail = (" and everything in it", " and everything in them");
            super::confirm_delete(&ids, ("volume", "volumes"), tail, yes)?;
            return super::delete_each(ctx, &ids, |id| volumes.delete(id)).await;
        }
        VolumeCmd::Attachments { id } => {
            let list = volumes.attachments(&id).await?;
            if ctx.json {
                output::json(&list)?;
            } else if list.is_empty() {
                output::print_out("Not attached.");
            } else {
                let mut t = Table::new(&["VM", "MOUNT_PATH", "READ_ONLY", "MOUNT_STATUS"]);
                for a in &list {
                    t.row(vec![
                        a.vm_id.clone(),
                        a.mount_path.clone(),
                        a.read_only.unwrap_or(false).to_string(),
                        a.mount_status.as_ref().map(ToString::to_string).unwrap_or_default(),
                    ]);
                }
                t.print();
            }
        }
        VolumeCmd::Attach {
            vm,
            volume,
            mount_path,
            read_only,
        } => {
            let mut attach = volumes.attach(&vm, &volume, &mount_path);
            if read_only {
                attach = attach.read_only(true);
            }
            let a = attach.await?;
            if ctx.json {
                output::json(&a)?;
            } else {
                let status = a.mount_status.as_ref().map(ToString::to_string).unwrap_or_default();
                let said = format!("attached {} at {} ({status})", a.volume_id, a.mount_path);
                output::print_out(&output::clean(&said));
            }
        }
        VolumeCmd::Detach { vm, volume } => {
            let done = volumes.detach(&vm, &volume).await?;
            if ctx.json {
                output::json(&done)?;
            } else {
                output::print_out(&format!("detached {volume}"));
                for w in &done.warnings {
                    eprintln!("warning: {}", output::clean(&format!("{} ({})", w.message, w.type_)));
                }
            }
        }
    }
    Ok(0)
}

fn print_one(ctx: &Ctx, v: &Volume) -> Result<()> {
    if ctx.json {
        return output::json(v);
    }
    let mut fields = vec![
        ("id", v.id.clone()),
        ("name", v.name.clone()),
        ("status", v.status.to_string()),
        ("size_gib", v.size_gib.to_string()),
        (
            "access_mode",
            v.access_mode.as_ref().map(ToString::to_string).unwrap_or_default(),
        ),
        ("mounted", v.mounted_count.to_string()),
        ("created", output::time(&v.created_at)),
    ];
    if let Some(used) = v.used_gib {
        fields.push(("used_gib", used.to_string()));
    }
    if let Some(pending) = v.pending_size_gib.filter(|p| *p != 0) {
        fields.push(("pending_size_gib", pending.to_string()));
    }
    output::fields(&fields);
    Ok(())
}
