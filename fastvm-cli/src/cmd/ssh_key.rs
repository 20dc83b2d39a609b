//! `fastvm ssh-key ...`: a VM's authorized SSH keys, or with `--user` the calling user's keys
//! for the stack's SSH gateway (`/v1/me/ssh-keys`, upstream after the reference).

use clap::Subcommand;

use super::output::{self, Table};
use super::{CliError, Ctx, Result, read_input};

/// SSH key subcommands.
#[derive(Debug, Subcommand)]
#[command(
    after_help = "Examples:\n  fastvm ssh-key add VM_ID --file ~/.ssh/id_ed25519.pub\n  fastvm ssh-key ls VM_ID\n  fastvm ssh-key add --user --file ~/.ssh/id_ed25519.pub\n  fastvm ssh-key ls --user"
)]
pub enum SshKeyCmd {
    /// List a VM's authorized keys (or, with --user, your own)
    #[command(alias = "list")]
    #[command(after_help = "Examples:\n  fastvm ssh-key ls VM_ID\n  fastvm ssh-key ls --user")]
    Ls {
        /// VM id (not with --user)
        #[arg(required_unless_present = "user", conflicts_with = "user")]
        vm: Option<String>,
        /// Your own keys, which open SSH to every VM you can reach (through the SSH gateway)
        #[arg(long)]
        user: bool,
    },
    /// Authorize a public key (given inline or with --file) for a VM, or with --user for you
    #[command(
        after_help = "Examples:\n  fastvm ssh-key add VM_ID --file ~/.ssh/id_ed25519.pub --name laptop\n  fastvm ssh-key add VM_ID \"ssh-ed25519 AAAA... me@laptop\"\n  fastvm ssh-key add --user --file ~/.ssh/id_ed25519.pub"
    )]
    Add {
        /// VM id, then the key (with --user: only the key)
        #[arg(num_args = 1..=2, value_names = ["VM_ID", "KEY"])]
        args: Vec<String>,
        /// The key is yours (for every VM you can reach), not a VM's
        #[arg(long)]
        user: bool,
        /// Read the public key from this file (e.g. ~/.ssh/id_ed25519.pub), or - for stdin
        #[arg(long, short = 'f')]
        file: Option<String>,
        /// A label for the key
        #[arg(long, short = 'n')]
        name: Option<String>,
    },
    /// Remove a key by its fingerprint (SHA256:...)
    #[command(alias = "delete")]
    #[command(
        after_help = "Examples:\n  fastvm ssh-key rm VM_ID SHA256:ImoAx0gekA3wiMBGWdN4zvHxkCiXZX90wM5mWJEfENo\n  fastvm ssh-key rm --user SHA256:ImoAx0gekA3wiMBGWdN4zvHxkCiXZX90wM5mWJEfENo"
    )]
    Rm {
        /// VM id, then the key's fingerprint as `fastvm ssh-key ls` or `ssh-keygen -lf` print it
        /// (with --user: only the fingerprint)
        #[arg(num_args = 1..=2, value_names = ["VM_ID", "FINGERPRINT"], required = true)]
        args: Vec<String>,
        /// The key is yours, not a VM's
        #[arg(long)]
        user: bool,
    },
}

/// Whose keys: a VM's (its id) or, with `--user`, the caller's.
enum Owner {
    Vm(String),
    User,
}

/// Splits the positional arguments of `add`/`rm`: `VM_ID [X]`, or with `--user` just `[X]`.
fn owner_and(mut args: Vec<String>, user: bool, what: &str) -> std::result::Result<(Owner, Option<String>), CliError> {
    if user {
        return match args.len() {
            0 | 1 => Ok((Owner::User, args.pop())),
            _ => Err(CliError::Other(format!("with --user, give only the {what} (no VM id)"))),
        };
    }
    let mut it = args.into_iter();
    let vm = it
        .next()
        .ok_or_else(|| CliError::Other("a VM id is required (or --user)".into()))?;
    Ok((Owner::Vm(vm), it.next()))
}

/// Runs an `ssh-key` subcommand. A VM's keys are deprecated upstream (replaced by the user's,
/// `--user`); the command keeps them, as the Python CLI does, for servers at the reference's
/// version.
#[allow(deprecated)]
pub async fn run(ctx: &Ctx, cmd: SshKeyCmd) -> Result {
    let (vm_keys, user_keys) = (ctx.client.vms().ssh_keys(), ctx.client.user_ssh_keys());
    match cmd {
        SshKeyCmd::Ls { vm, user } => {
            let list = match vm {
                Some(vm) if !user => vm_keys.list(&vm).await?,
                _ => user_keys.list().await?,
            };
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
        SshKeyCmd::Add { args, user, file, name } => {
            let (owner, key) = owner_and(args, user, "key")?;
            let key = match (key, file) {
                (Some(k), None) => k,
                (None, Some(f)) => String::from_utf8(read_input(&f)?)
                    .map_err(|_| CliError::Other(format!("{f} is not a text public key")))?,
                (Some(_), Some(_)) => {
                    return Err(CliError::Other("give the key inline or with --file, not both".into()));
                }
                (None, None) => return Err(CliError::Other("give the key inline or with --file".into())),
            };
            let added = match owner {
                Owner::Vm(vm) => {
                    let mut add = vm_keys.add(&vm, key.trim());
                    if let Some(name) = name {
                        add = add.name(name);
                    }
                    add.await?
                }
                Owner::User => {
                    let mut add = user_keys.add(key.trim());
                    if let Some(name) = name {
                        add = add.name(name);
                    }
                    add.await?
                }
            };
            if ctx.json {
                output::json(&added)?;
            } else {
                output::print_out(&format!("added {}", added.fingerprint));
            }
        }
        SshKeyCmd::Rm { args, user } => {
            let (owner, fingerprint) = owner_and(args, user, "fingerprint")?;
            let fingerprint = fingerprint.ok_or_else(|| CliError::Other("the key's fingerprint is required".into()))?;
            let r = match owner {
                Owner::Vm(vm) => vm_keys.delete(&vm, &fingerprint).await?,
                Owner::User => user_keys.delete(&fingerprint).await?,
            };
            if ctx.json {
                output::json(&r)?;
            } else {
                output::print_out(&format!("deleted {fingerprint}"));
            }
        }
    }
    Ok(0)
}
