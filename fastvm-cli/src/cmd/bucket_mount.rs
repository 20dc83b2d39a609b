//! `fastvm bucket-mount ...`: a customer's GCS or S3 buckets mounted into a VM (upstream API
//! after the reference). Credentials are read from files (never from the command line, where
//! other users and shell histories could read them) and never printed.

use clap::{Args, Subcommand};
use fastvm::types::{BucketCredentials, BucketMount};

use super::output::{self, Table};
use super::{CliError, Ctx, Result, read_input};

/// Bucket mount subcommands.
#[derive(Debug, Subcommand)]
#[command(
    after_help = "Examples:\n  fastvm bucket-mount add VM_ID gs://datasets/2026 /mnt/datasets --gcp-key reader.json --read-only\n  fastvm bucket-mount add VM_ID s3://logs /mnt/logs --aws-credentials ~/.aws/credentials\n  fastvm bucket-mount ls VM_ID\n  fastvm bucket-mount rm VM_ID MOUNT_ID"
)]
pub enum BucketMountCmd {
    /// List a VM's bucket mounts
    #[command(alias = "list")]
    #[command(after_help = "Examples:\n  fastvm bucket-mount ls VM_ID\n  fastvm --json bucket-mount ls VM_ID")]
    Ls {
        /// VM id
        vm: String,
    },
    /// Mount a bucket (gs://bucket[/prefix] or s3://bucket[/prefix]) at an absolute path of a VM
    #[command(
        after_help = "Examples:\n  fastvm bucket-mount add VM_ID gs://datasets/2026 /mnt/datasets --gcp-key reader.json --read-only\n  fastvm bucket-mount add VM_ID s3://logs /mnt/logs --aws-credentials ~/.aws/credentials"
    )]
    Add {
        /// VM id
        vm: String,
        /// The bucket: gs://bucket[/prefix] or s3://bucket[/prefix]
        bucket_uri: String,
        /// Where it appears in the VM (an absolute path)
        mount_path: String,
        #[command(flatten)]
        credentials: CredentialArgs,
        /// Mount it read-only
        #[arg(long)]
        read_only: bool,
    },
    /// Show one bucket mount
    #[command(after_help = "Examples:\n  fastvm bucket-mount get VM_ID MOUNT_ID")]
    Get {
        /// VM id
        vm: String,
        /// Bucket mount id
        id: String,
    },
    /// Replace a bucket mount's credentials (the mount re-authenticates)
    #[command(after_help = "Examples:\n  fastvm bucket-mount rotate VM_ID MOUNT_ID --gcp-key new-key.json")]
    Rotate {
        /// VM id
        vm: String,
        /// Bucket mount id
        id: String,
        #[command(flatten)]
        credentials: CredentialArgs,
    },
    /// Unmount buckets and delete their mounts
    #[command(alias = "delete")]
    #[command(after_help = "Examples:\n  fastvm bucket-mount rm VM_ID MOUNT_ID")]
    Rm {
        /// VM id
        vm: String,
        /// Bucket mount ids
        #[arg(required = true)]
        ids: Vec<String>,
    },
}

/// Where the credentials are read from: exactly one of the two.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct CredentialArgs {
    /// A GCP service account's JSON key file (- for stdin)
    #[arg(long, value_name = "FILE")]
    gcp_key: Option<String>,
    /// An AWS shared-credentials file with a [default] section (- for stdin)
    #[arg(long, value_name = "FILE")]
    aws_credentials: Option<String>,
}

impl CredentialArgs {
    fn read(&self) -> Result<BucketCredentials> {
        let text = |path: &str| {
            String::from_utf8(read_input(path)?).map_err(|_| CliError::Other(format!("{path} is not a text file")))
        };
        match (&self.gcp_key, &self.aws_credentials) {
            (Some(path), _) => BucketCredentials::gcp_service_account_json(&text(path)?)
                .map_err(|e| CliError::Other(format!("{path}: {e}"))),
            (None, Some(path)) => Ok(BucketCredentials::aws_credentials_file(text(path)?)),
            // Not reached: clap's group requires one of them.
            (None, None) => Err(CliError::Usage("give --gcp-key or --aws-credentials".into())),
        }
    }
}

fn print_mount(ctx: &Ctx, m: &BucketMount) -> Result<()> {
    if ctx.json {
        return output::json(m);
    }
    output::fields(&[
        ("id", m.id.clone()),
        ("bucket", m.bucket_uri.clone()),
        ("path", m.mount_path.clone()),
        ("status", status(m)),
        ("read-only", m.read_only.unwrap_or(false).to_string()),
        ("created", output::time(&m.created_at)),
    ]);
    Ok(())
}

/// The mount's status, with the server's reason when it has one.
fn status(m: &BucketMount) -> String {
    let status = m.mount_status.as_ref().map(ToString::to_string).unwrap_or_default();
    match &m.status_message {
        Some(why) => format!("{status} ({why})"),
        None => status,
    }
}

/// Runs a `bucket-mount` subcommand.
pub async fn run(ctx: &Ctx, cmd: BucketMountCmd) -> Result {
    let mounts = ctx.client.vms().bucket_mounts();
    match cmd {
        BucketMountCmd::Ls { vm } => {
            let list = mounts.list(&vm).await?;
            if ctx.json {
                output::json(&list)?;
            } else {
                let mut t = Table::new(&["ID", "BUCKET", "PATH", "STATUS", "RO"]);
                for m in &list {
                    let ro = if m.read_only.unwrap_or(false) { "yes" } else { "" };
                    t.row(vec![
                        m.id.clone(),
                        m.bucket_uri.clone(),
                        m.mount_path.clone(),
                        status(m),
                        ro.into(),
                    ]);
                }
                t.print();
            }
        }
        BucketMountCmd::Add {
            vm,
            bucket_uri,
            mount_path,
            credentials,
            read_only,
        } => {
            let m = mounts
                .create(&vm, bucket_uri, mount_path, credentials.read()?)
                .read_only(read_only)
                .await?;
            print_mount(ctx, &m)?;
        }
        BucketMountCmd::Get { vm, id } => print_mount(ctx, &mounts.retrieve(&vm, &id).await?)?,
        BucketMountCmd::Rotate { vm, id, credentials } => {
            let m = mounts.rotate_credentials(&vm, &id, credentials.read()?).await?;
            print_mount(ctx, &m)?;
        }
        BucketMountCmd::Rm { vm, ids } => return super::delete_each(ctx, &ids, |id| mounts.delete(&vm, id)).await,
    }
    Ok(0)
}
