//! `fastvm ssh-key ...`: a VM's authorized SSH keys.

use clap::{ArgGroup, Subcommand};

use super::output::{self, Table};
use super::{CliError, Ctx, Result, read_input};

/// SSH key subcommands.
#[derive(Debug, Subcommand)]
#[command(after_help = "Examples:\n  fastvm ssh-key add VM_ID --file ~/.ssh/id_ed25519.pub\n  fastvm ssh-key ls VM_ID")]
pub enum SshKeyCmd {
    /// List a VM's authorized keys
    #[command(alias = "list")]
    #[command(after_help = "Examples:\n  fastvm ssh-key ls VM_ID")]
    Ls {
        /// VM id
        vm: String,
    },
    /// Authorize a public key (given inline or with --file)
    #[command(group(ArgGroup::new("source").required(true).args(["key", "file"])))]
    #[command(
        after_help = "Examples:\n  fastvm ssh-key add VM_ID --file ~/.ssh/id_ed25519.pub --name laptop\n  fastvm ssh-key add VM_ID \"ssh-ed25519 AAAA... me@laptop\""
    )]
    Add {
        /// VM id
        vm: String,
        /// The OpenSSH public key, e.g. "ssh-ed25519 AAAA... me@laptop"
        key: Option<String>,
        /// Read the public key from this file (e.g. ~/.ssh/id_ed25519.pub), or - for stdin
        #[arg(long, short = 'f')]
        file: Option<String>,
        /// A label for the key
        #[arg(long, short = 'n')]
        name: Option<String>,
    },
    /// Remove a key by its fingerprint (SHA256:...)
    #[command(alias = "delete")]
    #[command(after_help = "Examples:\n  fastvm ssh-key rm VM_ID SHA256:ImoAx0gekA3wiMBGWdN4zvHxkCiXZX90wM5mWJEfENo")]
    Rm {
        /// VM id
        vm: String,
        /// Key fingerprint, as `fastvm ssh-key ls` or `ssh-keygen -lf` print it
        fingerprint: String,
    },
}

/// Runs an `ssh-key` subcommand.
pub async fn run(ctx: &Ctx, cmd: SshKeyCmd) -> Result {
    let keys = ctx.client.vms().ssh_keys();
    match cmd {
        SshKeyCmd::Ls { vm } => {
            let list = keys.list(&vm).await?;
            if ctx.json {
                // The API's (and the Python CLI's) shape: `{"keys": [...]}`.
                output::json(&serde_json::json!({ "keys": list }))?;
            } else {
                let mut t = Table::new(&["FINGERPRINT", "TYPE", "NAME", "CREATED"]);
                for k in &list {
                    let kind = k.public_key.split_whitespace().next().unwrap_or_default();
                    t.row(vec![
                        k.fingerprint.clone(),
                        kind.to_string(),
                        k.name.clone().unwrap_or_default(),
                        output::time(&k.created_at),
                    ]);
                }
                t.print();
            }
        }
        SshKeyCmd::Add { vm, key, file, name } => {
            let key = match (key, file) {
                (Some(k), _) => k,
                (None, Some(f)) => String::from_utf8(read_input(&f)?)
                    .map_err(|_| CliError::Other(format!("{f} is not a text public key")))?,
                (None, None) => unreachable!("clap requires KEY or --file"),
            };
            let mut add = keys.add(&vm, key.trim());
            if let Some(name) = name {
                add = add.name(name);
            }
            let added = add.await?;
            if ctx.json {
                output::json(&added)?;
            } else {
                output::print_out(&format!("added {}", added.fingerprint));
            }
        }
        SshKeyCmd::Rm { vm, fingerprint } => {
            let r = keys.delete(&vm, &fingerprint).await?;
            if ctx.json {
                output::json(&r)?;
            } else {
                output::print_out(&format!("deleted {fingerprint}"));
            }
        }
    }
    Ok(0)
}
