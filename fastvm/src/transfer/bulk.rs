//! [`FastvmClient::upload_many`]: many (local path → absolute remote path) pairs in one
//! archive, one storage upload and one VM-side extraction.

use std::collections::HashMap;
use std::path::PathBuf;

use super::options::{TransferOptions, debug_request, shared_setters};
use super::pack::Member;
use super::upload::local_metadata;
use crate::error::{FileTransferError, FileTransferErrorKind as Kind};
use crate::resources::into_future;
use crate::vm::Vm;
use crate::{Error, FastvmClient, Result, validate};

impl Vm {
    /// Uploads many files and directories to absolute paths in this VM in one archive; see
    /// [`FastvmClient::upload_many`].
    ///
    /// ```no_run
    /// # async fn demo(vm: fastvm::vm::Vm) -> fastvm::Result<()> {
    /// vm.upload_many()
    ///     .file("app.env", "/etc/app/app.env")
    ///     .dir("./migrations", "/opt/app/migrations")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn upload_many(&self) -> UploadMany<'_> {
        self.client().upload_many(self.id())
    }
}

/// What a pair's local path must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    File,
    Dir,
    Either,
}

/// One (local → remote) pair, as added.
#[derive(Debug, Clone)]
struct Pair {
    local: PathBuf,
    remote: String,
    want: Want,
}

/// The request of [`FastvmClient::upload_many`] and [`Vm::upload_many`]: add pairs, set
/// options, await it.
#[must_use = "a request does nothing until it is awaited"]
pub struct UploadMany<'a> {
    client: &'a FastvmClient,
    vm_id: &'a str,
    pairs: Vec<Pair>,
    options: TransferOptions,
}

debug_request!(UploadMany, vm_id, pairs);

impl UploadMany<'_> {
    fn push(mut self, local: impl Into<PathBuf>, remote: impl Into<String>, want: Want) -> Self {
        self.pairs.push(Pair {
            local: local.into(),
            remote: remote.into(),
            want,
        });
        self
    }

    /// Uploads the local file `local` (a symlink is followed) to the absolute path `remote`.
    pub fn file(self, local: impl Into<PathBuf>, remote: impl Into<String>) -> Self {
        self.push(local, remote, Want::File)
    }

    /// Uploads the local directory `local` (a symlink to one is followed; symlinks inside are
    /// kept as links) to the absolute path `remote`, which becomes that directory.
    pub fn dir(self, local: impl Into<PathBuf>, remote: impl Into<String>) -> Self {
        self.push(local, remote, Want::Dir)
    }

    /// Uploads `local`, a file or a directory (whichever it is when the request is sent), to
    /// the absolute path `remote`, as [`file`](Self::file) or [`dir`](Self::dir) would.
    pub fn path(self, local: impl Into<PathBuf>, remote: impl Into<String>) -> Self {
        self.push(local, remote, Want::Either)
    }

    shared_setters!("The VM-side `files/fetch` timeout (default 600 s; whole seconds, at least 1).");

    async fn send(self) -> Result<()> {
        let opts = self.options.check()?;
        self.client.upload_many_with(self.vm_id, &self.pairs, &opts).await
    }
}

into_future!(UploadMany => (), |u: &UploadMany<'_>| tracing::debug_span!(
    "fastvm.transfer",
    direction = "upload_many",
    vm_id = u.vm_id
));

// ---------------------------------------------------------------------------------------------
// Checking the pairs

/// `remote` as a member name relative to `/` (normal components joined by `/`), or why it is
/// refused.
fn member_name(remote: &str) -> std::result::Result<String, &'static str> {
    if remote.contains('\0') {
        return Err("must not contain NUL");
    }
    if !remote.starts_with('/') {
        return Err("must be an absolute path (start with `/`)");
    }
    let mut parts = Vec::new();
    for c in remote.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err("must not contain a `..` component"),
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return Err("must not be `/` itself");
    }
    Ok(parts.join("/"))
}

fn field(i: usize, side: &str) -> String {
    format!("pairs[{i}].{side}")
}

/// Checks every pair (the remote paths first, then the local ones) and returns the members
/// to archive, in order. Nothing here sends a request.
async fn plan(pairs: &[Pair]) -> Result<Vec<Member>> {
    if pairs.is_empty() {
        return Err(Error::invalid(
            "pairs",
            "nothing to upload: add pairs with .file, .dir or .path",
        ));
    }
    let mut names = Vec::with_capacity(pairs.len());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, p) in pairs.iter().enumerate() {
        let name = member_name(&p.remote).map_err(|why| {
            Error::invalid(
                field(i, "remote"),
                format!("{:?} (from {}) {why}", p.remote, p.local.display()),
            )
        })?;
        if let Some(j) = seen.insert(name.clone(), i) {
            return Err(Error::invalid(
                field(i, "remote"),
                format!(
                    "{:?} (from {}) is also the remote path of pairs[{j}] (from {})",
                    p.remote,
                    p.local.display(),
                    pairs[j].local.display()
                ),
            ));
        }
        names.push(name);
    }
    let mut members = Vec::with_capacity(pairs.len());
    for (i, (p, name)) in pairs.iter().zip(names).enumerate() {
        let meta = local_metadata(&p.local, &format!(" (pairs[{i}], for {:?})", p.remote)).await?;
        let dir = if meta.is_dir() {
            true
        } else if meta.is_file() {
            false
        } else {
            let msg = format!("{} (pairs[{i}]) is neither a file nor a directory", p.local.display());
            return Err(FileTransferError::new(Kind::Unsupported, msg).into());
        };
        match (p.want, dir) {
            (Want::File, true) => {
                return Err(Error::invalid(
                    field(i, "local"),
                    format!("{} is a directory, not a file (use .dir or .path)", p.local.display()),
                ));
            }
            (Want::Dir, false) => {
                return Err(Error::invalid(
                    field(i, "local"),
                    format!("{} is a file, not a directory (use .file or .path)", p.local.display()),
                ));
            }
            _ => {}
        }
        if !dir && (p.remote.ends_with('/') || p.remote.ends_with("/.")) {
            return Err(Error::invalid(
                field(i, "remote"),
                format!(
                    "{:?} names a directory, but {} is a file: give the file's full remote path",
                    p.remote,
                    p.local.display()
                ),
            ));
        }
        members.push(Member {
            local: p.local.clone(),
            name,
            dir,
        });
    }
    // A path inside one that is uploaded as a file cannot be created.
    let files: HashMap<&str, usize> = members
        .iter()
        .enumerate()
        .filter(|(_, m)| !m.dir)
        .map(|(i, m)| (m.name.as_str(), i))
        .collect();
    for (i, m) in members.iter().enumerate() {
        let mut prefix = m.name.as_str();
        while let Some(cut) = prefix.rfind('/') {
            prefix = &prefix[..cut];
            if let Some(&j) = files.get(prefix) {
                return Err(Error::invalid(
                    field(i, "remote"),
                    format!(
                        "{:?} is inside {:?}, which pairs[{j}] uploads as a file",
                        pairs[i].remote, pairs[j].remote
                    ),
                ));
            }
        }
    }
    Ok(members)
}

impl FastvmClient {
    /// [`FastvmClient::upload_many`], with its options resolved: the members are named
    /// relative to `/`, where the archive is extracted.
    async fn upload_many_with(&self, vm_id: &str, pairs: &[Pair], opts: &TransferOptions) -> Result<()> {
        validate::id("id", vm_id)?;
        let members = plan(pairs).await?;
        self.send_archive(vm_id, members, "/", opts).await
    }
}

impl<'a> UploadMany<'a> {
    /// The request of [`FastvmClient::upload_many`].
    pub(crate) fn new(client: &'a FastvmClient, vm_id: &'a str) -> Self {
        UploadMany {
            client,
            vm_id,
            pairs: Vec::new(),
            options: TransferOptions::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_paths_become_member_names_or_are_refused() {
        assert_eq!(member_name("/etc/app/config.toml").unwrap(), "etc/app/config.toml");
        assert_eq!(member_name("//srv/./site//").unwrap(), "srv/site");
        assert_eq!(member_name("/a b/it's").unwrap(), "a b/it's");
        assert_eq!(member_name("/...").unwrap(), "...");
        for (bad, why) in [
            ("", "absolute"),
            ("srv/x", "absolute"),
            ("./x", "absolute"),
            ("/srv/../etc", ".."),
            ("/..", ".."),
            ("/", "`/` itself"),
            ("//./", "`/` itself"),
            ("/a\0b", "NUL"),
        ] {
            let e = member_name(bad).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }
}
