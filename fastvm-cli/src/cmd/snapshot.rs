//! `fastvm snapshot ...`: create, list, inspect, delete, rename and restore snapshots; import
//! one from an image or a directory with a Dockerfile (`import`), and list, show, cancel and
//! remove imports (`imports ls|get|cancel|rm`: the collection's verbs, as `snapshot`'s own).

use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;
use fastvm::types::{Snapshot, SnapshotImport};

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
    /// Import a snapshot from an image, or from a directory with a Dockerfile, and wait for it
    #[command(
        after_help = "Examples:\n  fastvm snapshot import --image python:3.13-slim --name py\n  fastvm snapshot import ./service --name service --build-arg VERSION=1.4\n  fastvm snapshot import ./repo --dockerfile docker/Dockerfile.prod --no-wait --json\n\nWhile it waits, Ctrl-C (or the wait timeout) cancels the import."
    )]
    Import(Box<ImportArgs>),
    /// List, show, cancel and remove snapshot imports
    #[command(subcommand)]
    #[command(
        after_help = "Examples:\n  fastvm snapshot imports ls\n  fastvm snapshot imports get IMPORT_ID\n  fastvm snapshot imports cancel IMPORT_ID"
    )]
    Imports(ImportsCmd),
}

/// What `fastvm snapshot import` imports, and how.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// A directory with a Dockerfile and its build context (zipped and uploaded)
    #[arg(required_unless_present = "image", conflicts_with = "image", value_name = "DIR")]
    dir: Option<PathBuf>,
    /// A Docker/OCI image reference to import instead of a directory
    #[arg(long, value_name = "REF")]
    image: Option<String>,
    /// The Dockerfile's path in DIR (default: Dockerfile)
    #[arg(long, value_name = "PATH", conflicts_with = "image")]
    dockerfile: Option<String>,
    /// The multi-stage build target
    #[arg(long, conflicts_with = "image")]
    target: Option<String>,
    /// A build argument (repeatable)
    #[arg(long = "build-arg", value_name = "KEY=VALUE", conflicts_with = "image", value_parser = super::parse_key_value)]
    build_args: Vec<(String, String)>,
    /// The platform to pick from a multi-arch image (default linux/amd64)
    #[arg(long, requires = "image", value_name = "OS/ARCH")]
    platform: Option<String>,
    /// Name of the import and of its snapshot (default: the import's id)
    #[arg(long, short = 'n')]
    name: Option<String>,
    /// Machine type the import runs on
    #[arg(long, value_name = "TYPE")]
    machine_type: Option<String>,
    /// The snapshot's disk in GiB
    #[arg(long, value_name = "GIB")]
    disk_gib: Option<u32>,
    /// Return the pending import at once instead of waiting for it
    #[arg(long)]
    no_wait: bool,
    /// How long to wait for the import, in seconds (then it is cancelled)
    #[arg(long, default_value_t = 1800, value_name = "SECONDS")]
    wait_timeout: u64,
}

/// `fastvm snapshot imports ...`.
#[derive(Debug, Subcommand)]
pub enum ImportsCmd {
    /// List imports, newest first
    #[command(alias = "list")]
    #[command(after_help = "Examples:\n  fastvm snapshot imports ls\n  fastvm snapshot imports ls --json")]
    Ls,
    /// Show one import and its event log
    #[command(after_help = "Examples:\n  fastvm snapshot imports get IMPORT_ID")]
    Get {
        /// Import id
        id: String,
    },
    /// Cancel imports in flight (a finished one is shown as it is); --json prints the import,
    /// or an array of them for several ids
    #[command(after_help = "Examples:\n  fastvm snapshot imports cancel IMPORT_ID")]
    Cancel {
        /// Import ids
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Delete finished imports and the snapshots they made (asks first on a terminal; -y to skip)
    #[command(alias = "delete")]
    #[command(after_help = "Examples:\n  fastvm snapshot imports rm -y IMPORT_ID")]
    Rm {
        /// Import ids
        #[arg(required = true)]
        ids: Vec<String>,
        /// Delete without asking (needed when stdin is not a terminal)
        #[arg(long, short = 'y')]
        yes: bool,
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
            super::confirm_delete(&ids, ("snapshot", "snapshots"), ("", ""), yes)?;
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
        SnapshotCmd::Import(args) => {
            // Dropping the wait on Ctrl-C cancels the import (the SDK's guard) before exiting;
            // an import whose create was not answered yet has no known id and is left.
            let waits = !args.no_wait;
            let mut interrupts = super::run::listen_for_ctrl_c();
            let done = tokio::select! {
                done = import(ctx, *args) => done?,
                _ = super::run::interrupted(&mut interrupts, 1) => {
                    let what = if waits { "; the import was cancelled" } else { "" };
                    eprintln!("fastvm: interrupted{what}");
                    return Ok(super::run::EXIT_INTERRUPTED);
                }
            };
            print_import(ctx, &done)?
        }
        SnapshotCmd::Imports(cmd) => return imports(ctx, cmd).await,
    }
    Ok(0)
}

/// Runs `fastvm snapshot import`: the SDK's create-and-wait (an image) or its directory
/// workflow, both cancelling the import when the wait fails or is interrupted.
async fn import(ctx: &Ctx, a: ImportArgs) -> Result<SnapshotImport> {
    let deadline = Duration::from_secs(a.wait_timeout);
    if let Some(image) = a.image {
        let mut create = ctx.client.snapshot_imports().create().image(image);
        if let Some(p) = a.platform {
            create = create.platform(p);
        }
        if let Some(n) = a.name {
            create = create.name(n);
        }
        if let Some(m) = a.machine_type {
            create = create.machine_type(m);
        }
        if let Some(g) = a.disk_gib {
            create = create.disk_gib(g);
        }
        if a.no_wait {
            return Ok(create.await?);
        }
        return Ok(create.wait_ready().deadline(deadline).await?);
    }
    let dir = a.dir.unwrap_or_else(|| PathBuf::from("."));
    let mut import = ctx
        .client
        .import_snapshot_from_dir(dir)
        .wait(!a.no_wait)
        .deadline(deadline);
    if let Some(d) = a.dockerfile {
        import = import.dockerfile_path(d);
    }
    if let Some(t) = a.target {
        import = import.target(t);
    }
    for (k, v) in a.build_args {
        import = import.build_arg(k, v);
    }
    if let Some(n) = a.name {
        import = import.name(n);
    }
    if let Some(m) = a.machine_type {
        import = import.machine_type(m);
    }
    if let Some(g) = a.disk_gib {
        import = import.disk_gib(g);
    }
    Ok(import.await?)
}

/// Runs `fastvm snapshot imports ...`.
async fn imports(ctx: &Ctx, cmd: ImportsCmd) -> Result {
    let imports = ctx.client.snapshot_imports();
    match cmd {
        ImportsCmd::Ls => {
            let list = imports.list().await?;
            if ctx.json {
                output::json(&list)?;
            } else if list.is_empty() {
                output::print_out("No snapshot imports.");
            } else {
                let mut t = Table::new(&["ID", "NAME", "SOURCE", "STATUS", "SNAPSHOT", "CREATED"]);
                for i in &list {
                    t.row(vec![
                        i.id.clone(),
                        i.name.clone().unwrap_or_default(),
                        source(i),
                        i.status.to_string(),
                        i.snapshot_id.clone().unwrap_or_default(),
                        output::time(&i.created_at),
                    ]);
                }
                t.print();
            }
        }
        ImportsCmd::Get { id } => print_import(ctx, &imports.retrieve(&id).await?)?,
        ImportsCmd::Cancel { ids } => {
            // One JSON document: the import for one id (as `get`), an array for several, shown
            // also when a later cancel fails (what was done is not hidden).
            let mut done = Vec::with_capacity(ids.len());
            let mut failure = None;
            for id in &ids {
                match imports.cancel(id).await {
                    Ok(import) if ctx.json => done.push(import),
                    Ok(import) => print_import(ctx, &import)?,
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            match done.as_slice() {
                [one] if ctx.json && ids.len() == 1 => output::json(one)?,
                _ if ctx.json && (failure.is_none() || !done.is_empty()) => output::json(&done)?,
                _ => {}
            }
            if let Some(e) = failure {
                return Err(e.into());
            }
        }
        ImportsCmd::Rm { ids, yes } => {
            let tail = (" and its snapshot", " and their snapshots");
            super::confirm_delete(&ids, ("snapshot import", "snapshot imports"), tail, yes)?;
            return super::delete_each(ctx, &ids, |id| imports.delete(id)).await;
        }
    }
    Ok(0)
}

/// What an import imports, in a few words: the image, or the Dockerfile's path.
fn source(i: &SnapshotImport) -> String {
    match (&i.source.image, &i.source.dockerfile_path) {
        (Some(image), _) => image.clone(),
        (None, Some(path)) => format!("dockerfile {path}"),
        (None, None) => i.source.type_.as_ref().map(|t| t.to_string()).unwrap_or_default(),
    }
}

fn print_import(ctx: &Ctx, i: &SnapshotImport) -> Result<()> {
    if ctx.json {
        return output::json(i);
    }
    let events: Vec<String> = i.events.iter().map(|e| format!("{} {}", e.phase, e.status)).collect();
    output::fields(&[
        ("id", i.id.clone()),
        ("name", i.name.clone().unwrap_or_default()),
        ("status", i.status.to_string()),
        ("source", source(i)),
        ("snapshot", i.snapshot_id.clone().unwrap_or_default()),
        ("error", i.error.clone().unwrap_or_default()),
        ("created", output::time(&i.created_at)),
        ("events", events.join(", ")),
    ]);
    Ok(())
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
