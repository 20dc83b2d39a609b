//! In-process tar.gz archiving and safe extraction.
//!
//! Both run on a blocking thread and talk to the async side through bounded channels, so memory
//! stays bounded, and dropping the async side (cancellation) makes the thread stop at its next
//! read or write.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;

use super::error::{FileTransferError, FileTransferErrorKind as Kind};

/// Size of the chunks moved through the channels.
pub(crate) const CHUNK: usize = 256 * 1024;
/// Chunks in flight per channel: with [`CHUNK`], at most 2 MiB buffered.
pub(crate) const DEPTH: usize = 8;

// ---------------------------------------------------------------------------------------------
// Packing

/// A `Write` that sends full chunks down a bounded channel, blocking while it is full.
pub(crate) struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: BytesMut,
}

impl ChannelWriter {
    pub(crate) fn new(tx: mpsc::Sender<io::Result<Bytes>>) -> Self {
        ChannelWriter {
            tx,
            buf: BytesMut::with_capacity(CHUNK),
        }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = self.buf.split().freeze();
        self.buf.reserve(CHUNK);
        self.tx.blocking_send(Ok(chunk)).map_err(|_| closed())
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.tx.is_closed() {
            return Err(closed());
        }
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the upload stopped reading the archive")
}

/// Whether `e` only says that the consumer went away (its own error is the one to report).
pub(crate) fn is_closed(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

/// Writes a gzip tar of the contents of `dir`, rooted at `.`, into `tx`. Symlinks are stored as
/// links (never followed); modes and mtimes are kept. On failure the error is also sent down
/// the channel, so the request body fails instead of ending as if the archive were whole.
pub(crate) fn pack_dir(dir: &Path, tx: mpsc::Sender<io::Result<Bytes>>) -> io::Result<()> {
    let result = (|| {
        let gz = flate2::write::GzEncoder::new(ChannelWriter::new(tx.clone()), flate2::Compression::fast());
        let mut builder = tar::Builder::new(gz);
        builder.follow_symlinks(false);
        builder.mode(tar::HeaderMode::Complete);
        builder.append_dir_all(".", dir)?;
        builder.into_inner()?.finish()?.flush()
    })();
    if let Err(e) = &result {
        if !is_closed(e) {
            let _ = tx.blocking_send(Err(io::Error::new(e.kind(), e.to_string())));
        }
    }
    result
}

// ---------------------------------------------------------------------------------------------
// Extraction

/// Caps on what an archive may contain.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_entries: u64,
    pub(crate) max_total_bytes: u64,
}

/// A `Read` over chunks arriving from the async side. `Some(None)` marks the end; a channel
/// closed without it means the transfer was abandoned.
pub(crate) struct ChannelReader {
    rx: mpsc::Receiver<Option<Bytes>>,
    cur: Bytes,
    done: bool,
}

impl ChannelReader {
    pub(crate) fn new(rx: mpsc::Receiver<Option<Bytes>>) -> Self {
        ChannelReader {
            rx,
            cur: Bytes::new(),
            done: false,
        }
    }
}

const ABORTED: &str = "the download was abandoned";

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            if self.done {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Some(b)) => self.cur = b,
                Some(None) => self.done = true,
                None => return Err(io::Error::new(io::ErrorKind::ConnectionAborted, ABORTED)),
            }
        }
        let n = out.len().min(self.cur.len());
        out[..n].copy_from_slice(&self.cur[..n]);
        let _ = self.cur.split_to(n);
        Ok(n)
    }
}

fn aborted(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::ConnectionAborted && e.to_string() == ABORTED
}

/// Removes a path when dropped, unless disarmed: nothing half-written survives an error, a
/// panic or a cancellation.
pub(crate) struct TempGuard {
    path: Option<PathBuf>,
}

impl TempGuard {
    pub(crate) fn new(path: PathBuf) -> Self {
        TempGuard { path: Some(path) }
    }

    pub(crate) fn path(&self) -> &Path {
        self.path.as_deref().expect("armed guard")
    }

    pub(crate) fn disarm(mut self) {
        self.path = None;
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            match fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => {
                    let _ = fs::remove_dir_all(&p);
                }
                Ok(_) => {
                    let _ = fs::remove_file(&p);
                }
                Err(_) => {}
            }
        }
    }
}

/// A hidden sibling of `dest` for staging (`.<name>.fastvm-tmp-<random>`).
pub(crate) fn sibling_temp(dest: &Path) -> io::Result<PathBuf> {
    let name = dest
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the destination has no file name"))?;
    let mut tmp = OsString::from(".");
    tmp.push(name);
    tmp.push(format!(".fastvm-tmp-{}", hex::encode(rand::random::<[u8; 8]>())));
    Ok(dest.with_file_name(tmp))
}

fn refuse(msg: impl Into<String>) -> FileTransferError {
    FileTransferError::new(Kind::Archive, msg)
}

fn local_io(what: &str, path: &Path, e: io::Error) -> FileTransferError {
    FileTransferError::new(Kind::Io, format!("{what} {}: {e}", path.display())).with_source(e)
}

fn read_err(e: io::Error) -> FileTransferError {
    if aborted(&e) {
        FileTransferError::new(Kind::Io, ABORTED).with_source(e)
    } else {
        FileTransferError::new(Kind::Archive, format!("corrupt archive: {e}")).with_source(e)
    }
}

/// `path` as relative components, refusing absolute paths and `..`.
fn safe_rel(path: &Path) -> Result<PathBuf, FileTransferError> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            Component::ParentDir => return Err(refuse(format!("entry {} contains `..`", path.display()))),
            Component::RootDir | Component::Prefix(_) => {
                return Err(refuse(format!("entry {} is an absolute path", path.display())));
            }
        }
    }
    Ok(out)
}

#[derive(Debug)]
enum Part {
    Root,
    Parent,
    Name(OsString),
}

fn parts(p: &Path) -> impl Iterator<Item = Part> + '_ {
    p.components().filter_map(|c| match c {
        Component::RootDir | Component::Prefix(_) => Some(Part::Root),
        Component::ParentDir => Some(Part::Parent),
        Component::CurDir => None,
        Component::Normal(s) => Some(Part::Name(s.to_os_string())),
    })
}

/// Whether following `target` from the directory `from` (relative to `root`) leaves `root`,
/// resolving symlinks already present under `root`, so chains of links are caught too.
fn link_escapes(root: &Path, from: &Path, target: &Path) -> bool {
    let mut cur: Vec<OsString> = from.iter().map(|s| s.to_os_string()).collect();
    let mut todo: VecDeque<Part> = parts(target).collect();
    let mut hops = 0;
    while let Some(part) = todo.pop_front() {
        match part {
            Part::Root => return true,
            Part::Parent => {
                if cur.pop().is_none() {
                    return true;
                }
            }
            Part::Name(s) => {
                cur.push(s);
                let here = root.join(cur.iter().collect::<PathBuf>());
                let is_link = fs::symlink_metadata(&here).is_ok_and(|m| m.file_type().is_symlink());
                if is_link {
                    hops += 1;
                    let Ok(next) = fs::read_link(&here) else { return true };
                    if hops > 40 {
                        return true;
                    }
                    cur.pop();
                    for p in parts(&next).collect::<Vec<_>>().into_iter().rev() {
                        todo.push_front(p);
                    }
                }
            }
        }
    }
    false
}

/// Creates the directories of `rel` under `root` as needed, refusing to pass through anything
/// that is not a real directory (a symlink above all).
fn ensure_dirs(root: &Path, rel: &Path) -> Result<(), FileTransferError> {
    let mut cur = root.to_path_buf();
    for c in rel.iter() {
        cur.push(c);
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.is_dir() => {}
            Ok(m) if m.file_type().is_symlink() => {
                return Err(refuse(format!(
                    "entry {} would be written through the symlink {}",
                    rel.display(),
                    cur.strip_prefix(root).unwrap_or(&cur).display()
                )));
            }
            Ok(_) => {
                return Err(refuse(format!(
                    "entry {} needs {} to be a directory",
                    rel.display(),
                    cur.strip_prefix(root).unwrap_or(&cur).display()
                )));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&cur).map_err(|e| local_io("cannot create directory", &cur, e))?;
            }
            Err(e) => return Err(local_io("cannot inspect", &cur, e)),
        }
    }
    Ok(())
}

/// Makes room for a non-directory entry at `path`: an earlier file or link of the same name is
/// replaced (as tar does); a directory is not.
fn clear_slot(path: &Path, rel: &Path) -> Result<(), FileTransferError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Err(refuse(format!("entry {} would replace a directory", rel.display()))),
        Ok(_) => fs::remove_file(path).map_err(|e| local_io("cannot replace", path, e)),
        Err(_) => Ok(()),
    }
}

fn mtime_of(header: &tar::Header) -> Option<SystemTime> {
    header
        .mtime()
        .ok()
        .map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s))
}

/// What extraction wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Extracted {
    pub(crate) entries: u64,
    pub(crate) bytes: u64,
}

/// Extracts a gzip tar from `reader` into `root`, an existing empty directory, entry by entry:
/// absolute paths, `..`, links leaving `root`, device and fifo entries are refused with an
/// error; nothing is ever written through a symlink; setuid/setgid bits are dropped. The
/// archive is read to its very end (gzip trailer included) before this returns `Ok`.
pub(crate) fn extract(reader: impl Read, root: &Path, limits: Limits) -> Result<Extracted, FileTransferError> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(reader));
    let mut stats = Extracted::default();
    let mut dirs: Vec<(PathBuf, u32, Option<SystemTime>)> = Vec::new();
    let mut links: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut buf = vec![0u8; CHUNK];
    for entry in archive.entries().map_err(read_err)? {
        let mut entry = entry.map_err(read_err)?;
        stats.entries += 1;
        if stats.entries > limits.max_entries {
            return Err(refuse(format!(
                "the archive has more than {} entries",
                limits.max_entries
            )));
        }
        let raw_path = entry.path().map_err(read_err)?.into_owned();
        let rel = safe_rel(&raw_path)?;
        let dst = root.join(&rel);
        let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
        let kind = entry.header().entry_type();
        match kind {
            tar::EntryType::Directory => {
                ensure_dirs(root, &rel)?;
                dirs.push((rel, mode, mtime_of(entry.header())));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if rel.as_os_str().is_empty() {
                    return Err(refuse("a file entry has an empty name"));
                }
                let size = entry.header().size().map_err(read_err)?;
                stats.bytes = stats.bytes.saturating_add(size);
                if stats.bytes > limits.max_total_bytes {
                    return Err(refuse(format!(
                        "the archive holds more than {} bytes",
                        limits.max_total_bytes
                    )));
                }
                ensure_dirs(root, rel.parent().unwrap_or(Path::new("")))?;
                clear_slot(&dst, &rel)?;
                // create_new is O_EXCL: it never follows a symlink planted at the final name.
                let mut file = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&dst)
                    .map_err(|e| local_io("cannot create", &dst, e))?;
                loop {
                    let n = match entry.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(read_err(e)),
                    };
                    file.write_all(&buf[..n])
                        .map_err(|e| local_io("cannot write", &dst, e))?;
                }
                file.set_permissions(fs::Permissions::from_mode(mode))
                    .map_err(|e| local_io("cannot set the mode of", &dst, e))?;
                if let Some(t) = mtime_of(entry.header()) {
                    let _ = file.set_modified(t);
                }
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(read_err)?
                    .ok_or_else(|| refuse(format!("symlink {} has no target", rel.display())))?
                    .into_owned();
                let parent = rel.parent().unwrap_or(Path::new("")).to_path_buf();
                if rel.as_os_str().is_empty() || link_escapes(root, &parent, &target) {
                    return Err(refuse(format!(
                        "symlink {} -> {} points outside the destination",
                        rel.display(),
                        target.display()
                    )));
                }
                ensure_dirs(root, &parent)?;
                clear_slot(&dst, &rel)?;
                std::os::unix::fs::symlink(&target, &dst).map_err(|e| local_io("cannot create symlink", &dst, e))?;
                links.push((parent, rel));
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(read_err)?
                    .ok_or_else(|| refuse(format!("hard link {} has no target", rel.display())))?
                    .into_owned();
                let target_rel = safe_rel(&target).map_err(|_| {
                    refuse(format!(
                        "hard link {} -> {} points outside the destination",
                        rel.display(),
                        target.display()
                    ))
                })?;
                ensure_dirs(root, target_rel.parent().unwrap_or(Path::new("")))?;
                let src = root.join(&target_rel);
                match fs::symlink_metadata(&src) {
                    Ok(m) if m.is_file() => {}
                    _ => {
                        return Err(refuse(format!(
                            "hard link {} -> {} does not point to a file extracted earlier",
                            rel.display(),
                            target.display()
                        )));
                    }
                }
                ensure_dirs(root, rel.parent().unwrap_or(Path::new("")))?;
                clear_slot(&dst, &rel)?;
                fs::hard_link(&src, &dst).map_err(|e| local_io("cannot create hard link", &dst, e))?;
            }
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => {}
            other => {
                return Err(refuse(format!(
                    "entry {} has an unsupported type ({other:?}): devices, fifos and sparse files are refused",
                    rel.display()
                )));
            }
        }
    }
    // A later link may have redirected an earlier one: check every link against the final tree.
    for (parent, rel) in &links {
        let target = fs::read_link(root.join(rel)).map_err(|e| local_io("cannot read symlink", &root.join(rel), e))?;
        if link_escapes(root, parent, &target) {
            return Err(refuse(format!(
                "symlink {} -> {} points outside the destination",
                rel.display(),
                target.display()
            )));
        }
    }
    // Read the rest (end-of-archive padding, gzip trailer and its CRC), bounded.
    let mut rest = archive.into_inner().take(64 << 20);
    let extra = io::copy(&mut rest, &mut io::sink()).map_err(read_err)?;
    if extra >= 64 << 20 {
        return Err(refuse("the archive has too much trailing data"));
    }
    // Directory modes last, deepest first: a read-only directory must not block its children.
    dirs.sort_by_key(|(p, _, _)| std::cmp::Reverse(p.components().count()));
    for (rel, mode, mtime) in dirs {
        let p = root.join(&rel);
        fs::set_permissions(&p, fs::Permissions::from_mode(mode))
            .map_err(|e| local_io("cannot set the mode of", &p, e))?;
        if let (Some(t), Ok(f)) = (mtime, fs::File::open(&p)) {
            let _ = f.set_modified(t);
        }
    }
    Ok(stats)
}

/// Extracts into a staging directory beside `dest`, then moves the result into place; on any
/// error the staging directory is removed and `dest` is untouched.
pub(crate) fn extract_into_place(
    reader: impl Read,
    dest: &Path,
    limits: Limits,
) -> Result<Extracted, FileTransferError> {
    if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| local_io("cannot create directory", parent, e))?;
    }
    let staging = sibling_temp(dest).map_err(|e| local_io("bad destination", dest, e))?;
    fs::create_dir(&staging).map_err(|e| local_io("cannot create directory", &staging, e))?;
    let guard = TempGuard::new(staging);
    let stats = extract(reader, guard.path(), limits)?;
    place_dir(guard.path(), dest)?;
    guard.disarm();
    Ok(stats)
}

/// Moves the extracted tree `staging` to `dest`: a rename when `dest` is missing or an empty
/// directory, else a merge into the existing directory (as `tar -x` into it would).
fn place_dir(staging: &Path, dest: &Path) -> Result<(), FileTransferError> {
    match fs::metadata(dest) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::rename(staging, dest).map_err(|e| local_io("cannot move into place", dest, e))
        }
        Err(e) => Err(local_io("cannot inspect", dest, e)),
        Ok(m) if !m.is_dir() => Err(FileTransferError::new(
            Kind::Io,
            format!("{} exists and is not a directory", dest.display()),
        )),
        Ok(_) => {
            let empty = fs::read_dir(dest)
                .map_err(|e| local_io("cannot read", dest, e))?
                .next()
                .is_none();
            if empty && fs::symlink_metadata(dest).is_ok_and(|m| m.is_dir()) {
                return fs::rename(staging, dest).map_err(|e| local_io("cannot move into place", dest, e));
            }
            merge(staging, dest)?;
            fs::remove_dir_all(staging).map_err(|e| local_io("cannot remove", staging, e))
        }
    }
}

fn merge(src: &Path, dst: &Path) -> Result<(), FileTransferError> {
    for entry in fs::read_dir(src).map_err(|e| local_io("cannot read", src, e))? {
        let entry = entry.map_err(|e| local_io("cannot read", src, e))?;
        let s = entry.path();
        let d = dst.join(entry.file_name());
        let s_dir = entry
            .file_type()
            .map_err(|e| local_io("cannot inspect", &s, e))?
            .is_dir();
        let d_dir = fs::symlink_metadata(&d).is_ok_and(|m| m.is_dir());
        match (s_dir, d_dir) {
            (true, true) => {
                merge(&s, &d)?;
                if let Ok(m) = fs::metadata(&s) {
                    let _ = fs::set_permissions(&d, m.permissions());
                }
            }
            (false, true) => {
                return Err(FileTransferError::new(
                    Kind::Io,
                    format!("{} is a directory and would be replaced by a file", d.display()),
                ));
            }
            _ => fs::rename(&s, &d).map_err(|e| local_io("cannot move into place", &d, e))?,
        }
    }
    Ok(())
}
