//! `fastvm service ...`: a VM's services exposed through the public HTTP proxy.

use clap::Subcommand;

use super::output::{self, Table};
use super::{Ctx, Result};

/// Service subcommands.
#[derive(Debug, Subcommand)]
#[command(after_help = "Examples:\n  fastvm service add VM_ID web 8080\n  fastvm service ls VM_ID")]
pub enum ServiceCmd {
    /// List a VM's services
    #[command(alias = "list")]
    #[command(after_help = "Examples:\n  fastvm service ls VM_ID")]
    Ls {
        /// VM id
        vm: String,
    },
    /// Expose a port of a VM as a named service
    #[command(
        after_help = "Examples:\n  fastvm service add VM_ID web 8080\n  fastvm service add VM_ID grpc 9090 --h2c"
    )]
    Add {
        /// VM id
        vm: String,
        /// Service name (1-29 characters, part of the public URL)
        name: String,
        /// TCP port inside the VM (1024-65535)
        port: u16,
        /// Speak HTTP/2 cleartext to the backend (gRPC, h2c-only apps)
        #[arg(long)]
        h2c: bool,
    },
    /// Remove a service (succeeds also when it does not exist)
    #[command(alias = "delete")]
    #[command(after_help = "Examples:\n  fastvm service rm VM_ID web")]
    Rm {
        /// VM id
        vm: String,
        /// Service name
        name: String,
    },
}

/// Runs a `service` subcommand.
pub async fn run(ctx: &Ctx, cmd: ServiceCmd) -> Result {
    let services = ctx.client.vms().services();
    match cmd {
        ServiceCmd::Ls { vm } => {
            let list = services.list(&vm).await?;
            if ctx.json {
                output::json(&list)?;
            } else {
                let mut t = Table::new(&["NAME", "PORT", "H2C"]);
                for s in &list {
                    t.row(vec![s.name.clone(), s.port.to_string(), s.h2c.to_string()]);
                }
                t.print();
            }
        }
        ServiceCmd::Add { vm, name, port, h2c } => {
            let s = services.register(&vm, &name, port).h2c(h2c).await?;
            if ctx.json {
                output::json(&s)?;
            } else {
                output::print_out(&format!(
                    "added {} -> port {}{}",
                    s.name,
                    s.port,
                    if s.h2c { " (h2c)" } else { "" }
                ));
            }
        }
        ServiceCmd::Rm { vm, name } => {
            services.delete(&vm, &name).await?;
            if ctx.json {
                output::json(&serde_json::json!({ "name": name, "deleted": true }))?;
            } else {
                output::print_out(&format!("deleted {name}"));
            }
        }
    }
    Ok(0)
}
