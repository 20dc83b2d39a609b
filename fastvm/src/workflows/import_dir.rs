//! [`FastvmClient::import_snapshot_from_dir`]: a local directory (a Dockerfile and its files)
//! becomes a snapshot: zipped, uploaded to a presigned URL, imported, and waited for.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{FileTransferError, FileTransferErrorKind as Kind};
use crate::resources::poll::{WaitOptions, wait_setters};
use crate::resources::{Draft, SnapshotImports, import_setters, into_future, own_until_finished};
use crate::transfer::{context_zip, local_metadata, storage};
use crate::types::SnapshotImport;
use crate::{Error, FastvmClient, Result};

/// The request of [`FastvmClient::import_snapshot_from_dir`]; await it for the finished import
/// (its `snapshot_id` names the new snapshot).
///
/// Steps: the settings are checked and the Dockerfile looked for in the directory (before any
/// request); the directory is zipped into a temporary file (symlinks, devices, fifos and
/// sockets refused, with their path); `POST /v1/snapshot-imports/context-presign` with its size;
/// the archive is PUT to the signed URL (`Content-Type: application/zip`, with
/// `Content-Length`, retried as a file upload is); the import is created with the
/// `contextRef`, then waited for as [`CreateSnapshotImport::wait_ready`](crate::resources::CreateSnapshotImport::wait_ready)
/// waits: if the wait ends other than in `succeeded` (the deadline, a failed poll, the future
/// dropped), the import is cancelled before the error is returned. With
/// [`wait(false)`](Self::wait) the pending import is returned right after its create.
///
/// The signed URL never appears in logs or errors (its query is redacted).
#[derive(Debug)]
#[must_use = "a request does nothing until it is awaited"]
pub struct ImportFromDir<'a> {
    client: &'a FastvmClient,
    dir: PathBuf,
    draft: Draft,
    options: WaitOptions,
    wait: bool,
}

impl<'a> ImportFromDir<'a> {
    pub(crate) fn new(client: &'a FastvmClient, dir: PathBuf) -> Self {
        ImportFromDir {
            client,
            dir,
            draft: Draft::default(),
            options: WaitOptions::default(),
            wait: true,
        }
    }

    import_setters!();
    wait_setters!();

    /// Whether to wait for the import to finish (default `true`); with `false`, the pending
    /// import is returned once created, and it is not cancelled by anything here.
    pub fn wait(mut self, wait: bool) -> Self {
        self.wait = wait;
        self
    }

    async fn send(self) -> Result<SnapshotImport> {
        let ImportFromDir {
            client,
            dir,
            mut draft,
            options,
            wait,
        } = self;
        // Everything that can be refused without a request is, with a stand-in reference.
        draft.set_dockerfile("checked".into());
        draft.request()?;
        let dockerfile = draft
            .source
            .dockerfile_path
            .clone()
            .unwrap_or_else(|| "Dockerfile".into());
        look_for_dockerfile(&dir, &dockerfile).await?;

        let staged = tempfile::NamedTempFile::new().map_err(|e| {
            FileTransferError::new(Kind::Io, format!("cannot make a temporary file: {e}")).with_source(e)
        })?;
        let (zip_path, root) = (staged.path().to_path_buf(), dir.clone());
        let packed = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
            let file = std::fs::File::options().write(true).truncate(true).open(&zip_path)?;
            let packed = context_zip::zip_dir(&root, std::io::BufWriter::new(file))?;
            tracing::debug!(entries = packed.entries, "fastvm: zipped the build context");
            Ok(std::fs::metadata(&zip_path)?.len())
        })
        .await
        .map_err(|e| FileTransferError::join("zipping the build context", e))?;
        let size = packed.map_err(|e| {
            let kind = if e.kind() == std::io::ErrorKind::Unsupported {
                Kind::Unsupported
            } else {
                Kind::Io
            };
            FileTransferError::new(kind, format!("cannot zip {}: {e}", dir.display())).with_source(e)
        })?;

        let imports = SnapshotImports::new(client);
        let presigned = imports.presign_context().size_bytes(size).await?;
        if let Some(max) = storage::upload_limit(presigned.max_upload_bytes)
            && size > max
        {
            let msg = format!("the build context is {size} bytes zipped, over the limit of {max} (maxUploadBytes)");
            return Err(FileTransferError::new(Kind::TooLarge, msg).into());
        }
        storage::put_file(
            client.storage_http()?,
            &presigned.upload_url,
            (staged.path(), storage::ZIP),
            size,
            &Default::default(),
            &client.retry_policy(),
        )
        .await?;
        drop(staged);

        draft.set_dockerfile(presigned.context_ref);
        let create = crate::resources::CreateSnapshotImport { client, draft };
        let import = create.await?;
        if !wait {
            return Ok(import);
        }
        own_until_finished(client, import, options).await
    }
}

into_future!(ImportFromDir => SnapshotImport, |r: &ImportFromDir<'_>| tracing::debug_span!(
    "fastvm.import_dir",
    dir = %r.dir.display()
));

/// `dir` is a directory holding a file at `dockerfile` (what the server would only find out
/// after the upload).
async fn look_for_dockerfile(dir: &Path, dockerfile: &str) -> Result<()> {
    if !local_metadata(dir, "").await?.is_dir() {
        return Err(Error::invalid("dir", format!("{} is not a directory", dir.display())));
    }
    let at = dir.join(dockerfile);
    match tokio::fs::symlink_metadata(&at).await {
        Ok(meta) if meta.is_file() => Ok(()),
        _ => Err(Error::invalid(
            "dockerfilePath",
            format!("no Dockerfile at {dockerfile} in {}", dir.display()),
        )),
    }
}
