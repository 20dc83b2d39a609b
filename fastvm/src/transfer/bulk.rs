//! [`FastvmClient::upload_many`]: many (local path → absolute remote path) pairs in one
//! archive, one storage upload and one VM-side extraction.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::archive::{self, ChannelWriter, DEPTH};
use super::error::{FileTransferError, FileTransferErrorKind as Kind};
use super::options::{Progress, TransferOptions};
use super::{remote, storage};
use crate::exec::Command;
use crate::resources::into_future;
use crate::vm::Vm;
use crate::{Error, FastvmClient, Result, validate};

impl FastvmClient {
    /// Uploads many local files and directories to absolute paths in the VM with one archive,
    /// one storage upload and one VM-side extraction: add the pairs with
    /// [`file`](UploadMany::file), [`dir`](UploadMany::dir) or [`path`](UploadMany::path), then
    /// await.
    ///
    /// The pairs are archived in process into one gzip tar whose members are the remote paths
    /// relative to `/` (files with their modes and modification times, directories
    /// recursively with symlinks kept as links, as [`upload`](Self::upload) archives a
    /// directory), streamed with bounded memory to a staging file under `/var/tmp`, fetched
    /// into the VM (one `files/presign`, one storage PUT, one `files/fetch`) and extracted by
    /// one `tar -xzf … -C /`, which removes the staging file whatever happens. Missing parent
    /// directories are created by `tar`. Members are owned by the VM user that extracts them
    /// (root on fastvm VMs), not by the local uid. A directory's own mode and time are given to
    /// its remote path, as `upload` does. Pairs are extracted in the order they were added, so
    /// a file placed inside an uploaded directory replaces the directory's file of that name.
    ///
    /// Refused before any request, with [`Error::InvalidInput`] naming the pair
    /// (`pairs[2].remote`, …): no pair at all; a remote path that is relative, has a `..`
    /// component, contains NUL, or is `/` itself; two pairs with the same remote path (after
    /// removing `.` components and repeated or trailing `/`); a file whose remote path ends in
    /// `/`; a pair whose remote path lies inside one that another pair uploads as a file;
    /// [`file`](UploadMany::file) given a directory or [`dir`](UploadMany::dir) a file. A local
    /// path that does not exist is [`Error::FileTransfer`] with kind `NotFound` (as with
    /// `upload`), one that is neither a file nor a directory kind `Unsupported`.
    ///
    /// Later failures are `FileTransfer` errors (`Storage`, `TooLarge` against `maxUploadBytes`,
    /// `Io` for a local file that cannot be read, `RemoteCommand` for a failed fetch or
    /// extraction, `Verify`) or the API error of a call. The staging file is removed on every
    /// failure after the upload (by the extraction command itself, else by one more `rm -f`
    /// exec), and, best effort in the background, when the future is dropped midway. The
    /// archive is sent chunked, as directory uploads are (see the [module docs](super)).
    ///
    /// The VM needs `sh`, `tar` with gzip support, `rm`, and `sha256sum` for
    /// [`verify`](UploadMany::verify).
    ///
    /// ```no_run
    /// # async fn demo(client: fastvm::FastvmClient, vm_id: &str) -> fastvm::Result<()> {
    /// client
    ///     .upload_many(vm_id)
    ///     .file("config.toml", "/etc/app/config.toml")
    ///     .file("target/release/app", "/usr/local/bin/app")
    ///     .dir("./site", "/srv/site")
    ///     .verify(true)
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn upload_many<'a>(&'a self, vm_id: &'a str) -> UploadMany<'a> {
        UploadMany {
            client: self,
            vm_id,
            pairs: Vec::new(),
            fetch_timeout: None,
            exec_timeout: None,
            options: TransferOptions::default(),
        }
    }
}

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
    fetch_timeout: Option<Duration>,
    exec_timeout: Option<Duration>,
    options: TransferOptions,
}

impl fmt::Debug for UploadMany<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pairs: Vec<(&Path, &str)> = self
            .pairs
            .iter()
            .map(|p| (p.local.as_path(), p.remote.as_str()))
            .collect();
        f.debug_struct("UploadMany")
            .field("vm_id", &self.vm_id)
            .field("pairs", &pairs)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

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

    /// The VM-side `files/fetch` timeout (default 600 s; whole seconds, at least 1).
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = Some(timeout);
        self
    }

    /// The timeout of the VM-side extraction (default 600 s; whole seconds, at least 1).
    pub fn exec_timeout(mut self, timeout: Duration) -> Self {
        self.exec_timeout = Some(timeout);
        self
    }

    /// Checks, before extracting anything, that the staged archive has the SHA-256 the client
    /// computed while sending it (in the same VM-side command, with `sha256sum`): a mismatch is
    /// [`FileTransferErrorKind::Verify`](super::FileTransferErrorKind::Verify) and nothing is
    /// extracted. Default off.
    pub fn verify(mut self, verify: bool) -> Self {
        self.options.verify = verify;
        self
    }

    /// Called as archive bytes are sent to storage, from the transfer's task: keep it cheap and
    /// non-blocking. The bytes are those of the compressed archive, whose total is unknown.
    pub fn progress(mut self, f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.options.progress = Some(std::sync::Arc::new(f));
        self
    }

    async fn send(self) -> Result<()> {
        let mut opts = self.options;
        if let Some(t) = self.fetch_timeout {
            opts.fetch_timeout_sec = validate::seconds("fetch_timeout", t)?.get();
        }
        if let Some(t) = self.exec_timeout {
            opts.exec_timeout_sec = validate::seconds("exec_timeout", t)?.get();
        }
        self.client.upload_many_with(self.vm_id, &self.pairs, &opts).await
    }
}

into_future!(UploadMany => ());

// ---------------------------------------------------------------------------------------------
// Checking the pairs

/// One archive member to write: a local file or directory at `name` (relative to `/`).
#[derive(Debug, Clone)]
struct Member {
    local: PathBuf,
    name: String,
    dir: bool,
}

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
        let meta = match tokio::fs::metadata(&p.local).await {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let msg = format!(
                    "cannot stat {} (pairs[{i}], for {:?}): no such file or directory",
                    p.local.display(),
                    p.remote
                );
                return Err(FileTransferError::new(Kind::NotFound, msg).with_source(e).into());
            }
            Err(e) => return Err(FileTransferError::io("cannot stat", &p.local, e).into()),
        };
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

// ---------------------------------------------------------------------------------------------
// Packing

/// A `Write` that hashes what goes through it, when asked to.
struct Hashing<W> {
    inner: W,
    hasher: Option<Sha256>,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(data)?;
        if let Some(h) = self.hasher.as_mut() {
            h.update(&data[..n]);
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Reads exactly `left` bytes of a file: a file that shrank while it was archived is an error
/// (the header already promised its size); bytes it grew by are left out.
struct Exact<'a> {
    file: fs::File,
    left: u64,
    path: &'a Path,
}

impl Read for Exact<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let max = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.file.read(&mut buf[..max])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} shrank while it was archived", self.path.display()),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// A header with `meta`'s type, mode, size and time, owned by root (uid and gid 0), so that
/// the extracting user owns the files whatever the local uid is.
fn header(meta: &fs::Metadata) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_metadata_in_mode(meta, tar::HeaderMode::Complete);
    h.set_uid(0);
    h.set_gid(0);
    // Short ASCII names always fit.
    let _ = h.set_username("root");
    let _ = h.set_groupname("root");
    h
}

/// `e` with the path it is about in its message.
fn at(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

fn append_file<W: Write>(b: &mut tar::Builder<W>, local: &Path, name: &Path) -> io::Result<()> {
    let file = fs::File::open(local).map_err(|e| at(local, e))?;
    let meta = file.metadata().map_err(|e| at(local, e))?;
    let mut h = header(&meta);
    let body = Exact {
        file,
        left: meta.len(),
        path: local,
    };
    b.append_data(&mut h, name, body)
}

/// Appends the directory `root` at `name` and everything below it, depth first in name order:
/// directories before their contents, symlinks as links (never followed).
fn append_tree<W: Write>(b: &mut tar::Builder<W>, root: &Path, name: &Path) -> io::Result<()> {
    let meta = fs::metadata(root).map_err(|e| at(root, e))?;
    let mut stack = vec![(root.to_path_buf(), name.to_path_buf(), meta)];
    while let Some((local, member, meta)) = stack.pop() {
        let kind = meta.file_type();
        if kind.is_dir() {
            let mut h = header(&meta);
            b.append_data(&mut h, &member, io::empty())?;
            let mut children = fs::read_dir(&local)
                .and_then(|entries| entries.collect::<io::Result<Vec<_>>>())
                .map_err(|e| at(&local, e))?;
            children.sort_by_key(|e| e.file_name());
            for e in children.into_iter().rev() {
                let path = e.path();
                let meta = fs::symlink_metadata(&path).map_err(|err| at(&path, err))?;
                stack.push((path, member.join(e.file_name()), meta));
            }
        } else if kind.is_symlink() {
            let target = fs::read_link(&local).map_err(|e| at(&local, e))?;
            let mut h = header(&meta);
            h.set_size(0);
            b.append_link(&mut h, &member, &target)?;
        } else if kind.is_file() {
            append_file(b, &local, &member)?;
        } else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("{} is neither a file, a directory nor a symlink", local.display()),
            ));
        }
    }
    Ok(())
}

/// Writes the gzip tar of `members` into `tx` and returns the SHA-256 of the compressed bytes
/// when `hash` is set. On failure the error is also sent down the channel, so the request body
/// fails instead of ending as if the archive were whole.
fn pack(members: &[Member], tx: mpsc::Sender<io::Result<Bytes>>, hash: bool) -> io::Result<Option<[u8; 32]>> {
    let result = (|| {
        let sink = Hashing {
            inner: ChannelWriter::new(tx.clone()),
            hasher: hash.then(Sha256::new),
        };
        let gz = flate2::write::GzEncoder::new(sink, flate2::Compression::fast());
        let mut builder = tar::Builder::new(gz);
        for m in members {
            if m.dir {
                append_tree(&mut builder, &m.local, Path::new(&m.name))?;
            } else {
                append_file(&mut builder, &m.local, Path::new(&m.name))?;
            }
        }
        let mut sink = builder.into_inner()?.finish()?;
        sink.flush()?;
        Ok(sink.hasher.map(|h| h.finalize().into()))
    })();
    if let Err(e) = &result
        && !archive::is_closed(e)
    {
        let _ = tx.blocking_send(Err(io::Error::new(e.kind(), e.to_string())));
    }
    result
}

// ---------------------------------------------------------------------------------------------
// Sending

/// The staging file in the VM, from the moment it may exist: [`remove`](Self::remove) deletes
/// it (awaited), a drop while armed (a cancelled upload) deletes it in the background.
struct Staging {
    client: FastvmClient,
    vm_id: String,
    path: String,
    armed: bool,
}

impl Staging {
    /// Best effort: the upload's own error is the one to report.
    async fn remove(mut self) {
        self.armed = false;
        let _ = self.client.vms().run(&self.vm_id, remote::remove(&self.path)).await;
    }

    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (client, vm_id, path) = (self.client.clone(), self.vm_id.clone(), self.path.clone());
            runtime.spawn(async move {
                let _ = client.vms().run(&vm_id, remote::remove(&path)).await;
            });
        }
    }
}

impl FastvmClient {
    /// [`FastvmClient::upload_many`], with its options resolved.
    async fn upload_many_with(&self, vm_id: &str, pairs: &[Pair], opts: &TransferOptions) -> Result<()> {
        validate::id("id", vm_id)?;
        let members = plan(pairs).await?;
        let staging = remote::upload_staging_path();
        let urls = self.vms().files().presign(vm_id, &staging).await?;
        let max = u64::try_from(urls.max_upload_bytes).ok().filter(|max| *max > 0);
        let (tx, rx) = mpsc::channel(DEPTH);
        let verify = opts.verify;
        // Dropping this future drops the body and with it the receiver: the packer's next write
        // fails and its thread ends.
        let packer = tokio::task::spawn_blocking(move || pack(&members, tx, verify));
        let put = storage::put_stream(
            self.storage_http()?,
            &urls.upload_url,
            rx,
            opts,
            max.unwrap_or(u64::MAX),
        )
        .await;
        let packed = packer.await.map_err(|e| FileTransferError::join("archiver", e))?;
        // The archiver's own failure explains a broken body better than the storage error.
        let hash = match packed {
            Ok(hash) => hash,
            Err(e) if archive::is_closed(&e) => None,
            Err(e) => {
                let msg = format!("cannot archive {e}");
                return Err(FileTransferError::new(Kind::Io, msg).with_source(e).into());
            }
        };
        put?;

        let staged = Staging {
            client: self.clone(),
            vm_id: vm_id.to_string(),
            path: staging.clone(),
            armed: true,
        };
        let timeout = opts.fetch_timeout();
        let fetched = self
            .vms()
            .files()
            .fetch(vm_id, &urls.download_url, &staging)
            .timeout(Duration::from_secs(timeout))
            .await
            .and_then(|out| super::check_exec("files/fetch", out, timeout));
        if let Err(e) = fetched {
            staged.remove().await;
            return Err(e);
        }
        let timeout = opts.exec_timeout();
        let line = remote::extract_bulk(&staging, hash.map(hex::encode).as_deref());
        let out = match self
            .vms()
            .run(vm_id, Command::sh(line).timeout(Duration::from_secs(timeout)))
            .await
        {
            Ok(out) => out.into_result(),
            Err(e) => {
                // The command may or may not have run.
                staged.remove().await;
                return Err(e);
            }
        };
        if out.timed_out {
            // Killed, maybe before its `rm`.
            staged.remove().await;
        } else {
            staged.disarm();
        }
        if !out.timed_out
            && out.exit_code != 0
            && let (Some(theirs), Some(ours)) = (remote::parse_mismatch(&out.stdout), hash)
        {
            let msg = format!(
                "SHA-256 mismatch for the staged archive: client {}, VM {theirs}; nothing was extracted",
                hex::encode(ours)
            );
            return Err(FileTransferError::new(Kind::Verify, msg).into());
        }
        super::check_exec("extracting the archive", out, timeout)?;
        Ok(())
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

    fn members_of(archive: &[u8]) -> Vec<(String, tar::EntryType, u32, u64)> {
        let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
        ar.entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().to_string_lossy().into_owned(),
                    h.entry_type(),
                    h.mode().unwrap() & 0o7777,
                    h.uid().unwrap(),
                )
            })
            .collect()
    }

    #[cfg(unix)]
    #[test]
    fn packing_puts_members_at_their_paths_owned_by_root_with_modes_and_links() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("tool");
        std::fs::write(&f, b"#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o750)).unwrap();
        let d = tmp.path().join("site");
        std::fs::create_dir_all(d.join("b")).unwrap();
        std::fs::write(d.join("b/z"), b"z").unwrap();
        std::fs::write(d.join("a"), b"a").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.join("link")).unwrap();
        let members = vec![
            Member {
                local: f.clone(),
                name: "usr/local/bin/tool".into(),
                dir: false,
            },
            Member {
                local: d.clone(),
                name: "srv/site".into(),
                dir: true,
            },
        ];
        let (tx, mut rx) = mpsc::channel(1024);
        let hash = pack(&members, tx, true).unwrap().unwrap();
        let mut bytes = Vec::new();
        while let Ok(chunk) = rx.try_recv() {
            bytes.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(<[u8; 32]>::from(Sha256::digest(&bytes)), hash);
        let got = members_of(&bytes);
        let names: Vec<&str> = got.iter().map(|m| m.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "usr/local/bin/tool",
                "srv/site",
                "srv/site/a",
                "srv/site/b",
                "srv/site/b/z",
                "srv/site/link"
            ]
        );
        assert!(got.iter().all(|m| m.3 == 0), "{got:?}");
        assert_eq!(got[0].2, 0o750);
        assert_eq!(got[5].1, tar::EntryType::Symlink);
        let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
        let link = ar.entries().unwrap().nth(5).unwrap().unwrap();
        assert_eq!(link.link_name().unwrap().unwrap(), Path::new("/etc/passwd"));
    }

    #[test]
    fn a_file_that_shrinks_fails_the_archive() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("f");
        std::fs::write(&f, b"abc").unwrap();
        let mut r = Exact {
            file: fs::File::open(&f).unwrap(),
            left: 10,
            path: &f,
        };
        let mut out = Vec::new();
        let e = r.read_to_end(&mut out).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        assert!(e.to_string().contains("shrank"), "{e}");
        let mut r = Exact {
            file: fs::File::open(&f).unwrap(),
            left: 2,
            path: &f,
        };
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"ab");
    }
}
