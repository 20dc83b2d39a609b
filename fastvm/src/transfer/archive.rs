//! In-process tar.gz extraction, done safely, and the channels between the archive threads
//! and the async side.
//!
//! Both run on a blocking thread and talk to the async side through bounded channels, so memory
//! stays bounded, and dropping the async side (cancellation) makes the thread stop at its next
//! read or write.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;

use super::bounded::{self, HeaderScan, MAX_NAME_BYTES};
use super::merge;
use crate::error::{FileTransferError, FileTransferErrorKind as Kind};

/// Size of the chunks moved through the channels.
pub(crate) const CHUNK: usize = 256 * 1024;
/// Chunks in flight per channel: with [`CHUNK`], at most 2 MiB buffered.
pub(crate) const DEPTH: usize = 8;

// ---------------------------------------------------------------------------------------------
// The packer's side of its channel (packing itself is in `pack.rs`)

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

// ---------------------------------------------------------------------------------------------
// What extraction does differently off Unix

/// The filesystem calls of extraction that need Unix: permission bits and symlinks.
#[cfg(unix)]
mod sys {
    use std::fs;
    use std::io;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    use std::path::Path;

    /// Creates `path` exclusively (`O_EXCL`: never through a symlink planted there), readable by
    /// the owner only until [`set_file_mode`] gives it its archive mode.
    pub(super) fn create_new(path: &Path) -> io::Result<fs::File> {
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
    }

    /// Gives a just-written file its archive mode (already masked to the permission bits).
    pub(super) fn set_file_mode(file: &fs::File, mode: u32) -> io::Result<()> {
        file.set_permissions(fs::Permissions::from_mode(mode))
    }

    /// Gives a placed directory its archive mode.
    pub(super) fn set_dir_mode(path: &Path, mode: u32) -> io::Result<()> {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
    }

    pub(super) fn symlink(target: &Path, link: &Path) -> io::Result<()> {
        std::os::unix::fs::symlink(target, link)
    }
}

/// The same calls elsewhere. Archive modes are skipped, not faked: no permission model there
/// maps them faithfully (a read-only flag would turn 0o444 and 0o644 into the same thing). A
/// symlink entry is refused, failing the download ([`symlink_error`]): creating one off Unix
/// needs privileges and knowing whether the target is a directory, and silently dropping it
/// would leave a tree that looks complete but is not. Compiled on Unix too, for its tests.
#[cfg(any(test, not(unix)))]
mod portable {
    use std::fs;
    use std::io;
    use std::path::Path;

    /// Creates `path` exclusively (never through an entry already there, symlinks included).
    pub(super) fn create_new(path: &Path) -> io::Result<fs::File> {
        fs::OpenOptions::new().write(true).create_new(true).open(path)
    }

    pub(super) fn set_file_mode(_file: &fs::File, _mode: u32) -> io::Result<()> {
        Ok(())
    }

    pub(super) fn set_dir_mode(_path: &Path, _mode: u32) -> io::Result<()> {
        Ok(())
    }

    pub(super) fn symlink(_target: &Path, _link: &Path) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "symlinks are not created on this platform",
        ))
    }
}

#[cfg(not(unix))]
use portable as sys;

/// The error for a symlink entry that could not be created: a refusal of the entry when the
/// platform has no symlinks, an I/O error otherwise.
fn symlink_error(rel: &Path, dst: &Path, e: io::Error) -> FileTransferError {
    if e.kind() == io::ErrorKind::Unsupported {
        refuse(format!("entry {} is a symlink: {e}", rel.display())).with_source(e)
    } else {
        FileTransferError::io("cannot create symlink", dst, e)
    }
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

/// The inner error of what [`ChannelReader`] returns when the channel closed without the end
/// marker: a type, so that [`is_abandoned`] recognises it without comparing messages.
#[derive(Debug, thiserror::Error)]
#[error("the download was abandoned")]
struct Abandoned;

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            if self.done {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Some(b)) => self.cur = b,
                Some(None) => self.done = true,
                None => return Err(io::Error::new(io::ErrorKind::ConnectionAborted, Abandoned)),
            }
        }
        let n = out.len().min(self.cur.len());
        out[..n].copy_from_slice(&self.cur[..n]);
        let _ = self.cur.split_to(n);
        Ok(n)
    }
}

/// Whether `e` is (unwrapped) the error a [`ChannelReader`] returns for an abandoned download.
fn is_abandoned(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<Abandoned>())
}

/// The hidden name `dest` is staged under, without its random end: `.<name>.fastvm-tmp-`.
fn staging_prefix(dest: &Path) -> io::Result<OsString> {
    let name = dest
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the destination has no file name"))?;
    let mut prefix = OsString::from(".");
    prefix.push(name);
    prefix.push(".fastvm-tmp-");
    Ok(prefix)
}

/// A hidden sibling of `dest` that does not exist yet (`.<name>.fastvm-tmp-<random>`): where
/// a merge sets aside what it replaces.
pub(crate) fn sibling_temp(dest: &Path) -> io::Result<PathBuf> {
    let mut name = staging_prefix(dest)?;
    name.push(hex::encode(rand::random::<[u8; 8]>()));
    Ok(dest.with_file_name(name))
}

/// Stages `dest` (a downloaded file, an extracted directory) in a hidden sibling,
/// `.<name>.fastvm-tmp-<random>`, that `create` makes with the `tempfile` crate's builder in
/// `dest`'s directory (created first when missing). Its guard removes it when dropped unless it
/// is kept (`TempPath::persist`, `TempDir::keep`): nothing half-written survives an error, a
/// panic or a cancellation.
pub(crate) fn stage_beside<T>(
    dest: &Path,
    create: impl FnOnce(&mut tempfile::Builder<'_, '_>, &Path) -> io::Result<T>,
) -> Result<T, FileTransferError> {
    let prefix = staging_prefix(dest).map_err(|e| FileTransferError::io("bad destination", dest, e))?;
    let dir = match dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => {
            fs::create_dir_all(parent).map_err(|e| FileTransferError::io("cannot create directory", parent, e))?;
            parent
        }
        None => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).rand_bytes(16);
    create(&mut builder, dir).map_err(|e| FileTransferError::io("cannot create", dest, e))
}

fn refuse(msg: impl Into<String>) -> FileTransferError {
    FileTransferError::new(Kind::Archive, msg)
}

/// The error for a failed read of the archive. A refusal by [`HeaderScan`] is reported as is;
/// any other error is a corrupt archive whose message carries the `tar` crate's text (escaped,
/// as it can quote raw header bytes), and not also as the source, which would show it raw.
fn read_err(e: io::Error) -> FileTransferError {
    if is_abandoned(&e) {
        FileTransferError::new(Kind::Io, Abandoned.to_string()).with_source(e)
    } else if let Some(r) = bounded::refusal_in(&e) {
        refuse(r.message())
    } else {
        FileTransferError::new(Kind::Archive, format!("corrupt archive: {e}"))
    }
}

/// Refuses an entry name or link target longer than [`MAX_NAME_BYTES`], before it is copied
/// (a PAX record can hold one of up to 1 MiB). `what` is "entry name" or "link target".
fn check_name_len(what: &str, name: &Path) -> Result<(), FileTransferError> {
    let len = name.as_os_str().len();
    if len as u64 > MAX_NAME_BYTES {
        return Err(refuse(format!(
            "{what} of {len} bytes is over the limit of {MAX_NAME_BYTES} bytes"
        )));
    }
    Ok(())
}

/// What extraction keeps in memory until its end, in bytes: the deferred metadata of every
/// directory ([`DirMeta`]) and the name of every symlink (checked against the final tree).
/// Each record is charged its path's length plus [`KEPT_OVERHEAD`]; an archive that needs more
/// is refused. 32 MiB is about 160,000 directories with 80-byte paths, and stays well under
/// the 64 MiB a download may grow by (`tests/tests/hostile_archives.rs` measures it).
pub(crate) const MAX_KEPT_BYTES: u64 = 32 << 20;
/// The charge of a kept record beyond its paths: the record, its allocations, and the slack of
/// the growing list that holds it.
const KEPT_OVERHEAD: u64 = 128;

/// The running total of what extraction keeps until its end (see [`MAX_KEPT_BYTES`]).
#[derive(Debug, Default)]
struct Kept {
    bytes: u64,
    dirs: u64,
    links: u64,
}

impl Kept {
    /// Charges one more record with a path of `path_bytes` bytes, refusing past the limit.
    fn charge(&mut self, path_bytes: usize, dir: bool) -> Result<(), FileTransferError> {
        if dir {
            self.dirs += 1;
        } else {
            self.links += 1;
        }
        self.bytes = self.bytes.saturating_add(path_bytes as u64 + KEPT_OVERHEAD);
        if self.bytes > MAX_KEPT_BYTES {
            return Err(refuse(format!(
                "the archive's directories and symlinks need more than the limit of {} MiB kept until extraction ends ({} directories and {} symlinks so far)",
                MAX_KEPT_BYTES >> 20,
                self.dirs,
                self.links
            )));
        }
        Ok(())
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
                fs::create_dir(&cur).map_err(|e| FileTransferError::io("cannot create directory", &cur, e))?;
            }
            Err(e) => return Err(FileTransferError::io("cannot inspect", &cur, e)),
        }
    }
    Ok(())
}

/// Whether every component of `rel` under `root` already is a real directory (not a symlink).
/// Only checks: a hard link's target must have been extracted earlier, so nothing is created.
fn real_dirs(root: &Path, rel: &Path) -> bool {
    let mut cur = root.to_path_buf();
    rel.iter().all(|c| {
        cur.push(c);
        fs::symlink_metadata(&cur).is_ok_and(|m| m.is_dir())
    })
}

/// Makes room for a non-directory entry at `path`: an earlier file or link of the same name is
/// replaced (as tar does); a directory is not.
fn clear_slot(path: &Path, rel: &Path) -> Result<(), FileTransferError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Err(refuse(format!("entry {} would replace a directory", rel.display()))),
        Ok(_) => fs::remove_file(path).map_err(|e| FileTransferError::io("cannot replace", path, e)),
        Err(_) => Ok(()),
    }
}

fn mtime_of(header: &tar::Header) -> Option<SystemTime> {
    header
        .mtime()
        .ok()
        // The VM writes the archive: a base-256 mtime can be any u64, beyond what a
        // `SystemTime` holds (adding would panic); such a time is not kept.
        .and_then(|s| SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(s)))
}

/// What extraction wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Extracted {
    pub(crate) entries: u64,
    pub(crate) bytes: u64,
}

/// A directory entry whose mode and mtime are applied only once the tree is in its final place:
/// a read-only directory (0o555) would otherwise block moving its children out of staging.
#[derive(Debug)]
pub(crate) struct DirMeta {
    rel: PathBuf,
    mode: u32,
    mtime: Option<SystemTime>,
}

/// Applies the deferred directory metadata under `base`, deepest first, so that a read-only
/// directory never blocks its children; each mtime before its mode, as opening a directory to
/// set the mtime needs it to be readable.
fn apply_dir_meta(base: &Path, mut dirs: Vec<DirMeta>) -> Result<(), FileTransferError> {
    // Unstable: no buffer as large as half the list (the order within a depth does not matter).
    dirs.sort_unstable_by_key(|d| std::cmp::Reverse(d.rel.components().count()));
    for d in dirs {
        let p = base.join(&d.rel);
        // Placing only ever puts real directories at these paths; never chmod through a link.
        if !fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        if let (Some(t), Ok(f)) = (d.mtime, fs::File::open(&p)) {
            let _ = f.set_modified(t);
        }
        sys::set_dir_mode(&p, d.mode).map_err(|e| FileTransferError::io("cannot set the mode of", &p, e))?;
    }
    Ok(())
}

/// Extracts a gzip tar from `reader` into `root`, an existing empty directory, entry by entry:
/// absolute paths, `..`, links leaving `root`, device and fifo entries are refused with an
/// error; nothing is ever written through a symlink; setuid/setgid bits are dropped. The
/// archive is read to its very end (gzip trailer included) before this returns `Ok`.
///
/// Directory modes and mtimes are not applied here but returned, for [`apply_dir_meta`] once
/// the tree is in its final place.
pub(crate) fn extract(
    reader: impl Read,
    root: &Path,
    limits: Limits,
) -> Result<(Extracted, Vec<DirMeta>), FileTransferError> {
    // Every header is checked before the `tar` crate reads what it announces.
    let mut archive = tar::Archive::new(HeaderScan::new(flate2::read::GzDecoder::new(reader)));
    let mut stats = Extracted::default();
    let mut kept = Kept::default();
    let mut dirs: Vec<DirMeta> = Vec::new();
    // The names of the symlinks made (a name made twice is there twice); their targets are read
    // back from the tree at the end, so a later entry of the same name is the one checked.
    let mut links: Vec<PathBuf> = Vec::new();
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
        let rel = {
            let raw_path = entry.path().map_err(read_err)?;
            check_name_len("an entry name", &raw_path)?;
            safe_rel(&raw_path)?
        };
        let dst = root.join(&rel);
        let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
        let kind = entry.header().entry_type();
        match kind {
            tar::EntryType::Directory => {
                ensure_dirs(root, &rel)?;
                kept.charge(rel.as_os_str().len(), true)?;
                let mut rel = rel;
                rel.shrink_to_fit();
                dirs.push(DirMeta {
                    rel,
                    mode,
                    mtime: mtime_of(entry.header()),
                });
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if rel.as_os_str().is_empty() {
                    return Err(refuse("a file entry has an empty name"));
                }
                // `entry.size()` honours a PAX `size` record, which is what the reads below use.
                let size = entry.size();
                stats.bytes = stats.bytes.saturating_add(size);
                if stats.bytes > limits.max_total_bytes {
                    return Err(refuse(format!(
                        "the archive holds more than {} bytes",
                        limits.max_total_bytes
                    )));
                }
                ensure_dirs(root, rel.parent().unwrap_or(Path::new("")))?;
                clear_slot(&dst, &rel)?;
                let mut file = sys::create_new(&dst).map_err(|e| FileTransferError::io("cannot create", &dst, e))?;
                loop {
                    let n = match entry.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(read_err(e)),
                    };
                    file.write_all(&buf[..n])
                        .map_err(|e| FileTransferError::io("cannot write", &dst, e))?;
                }
                sys::set_file_mode(&file, mode)
                    .map_err(|e| FileTransferError::io("cannot set the mode of", &dst, e))?;
                if let Some(t) = mtime_of(entry.header()) {
                    let _ = file.set_modified(t);
                }
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(read_err)?
                    .ok_or_else(|| refuse(format!("symlink {} has no target", rel.display())))?;
                check_name_len("a link target", &target)?;
                let target = target.into_owned();
                if rel.as_os_str().is_empty() {
                    return Err(refuse("a symlink entry has an empty name"));
                }
                // Where the link points is checked once, against the final tree, below: a later
                // link can redirect an earlier one, so an early check would not be enough.
                ensure_dirs(root, rel.parent().unwrap_or(Path::new("")))?;
                clear_slot(&dst, &rel)?;
                sys::symlink(&target, &dst).map_err(|e| symlink_error(&rel, &dst, e))?;
                kept.charge(rel.as_os_str().len(), false)?;
                let mut rel = rel;
                rel.shrink_to_fit();
                links.push(rel);
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(read_err)?
                    .ok_or_else(|| refuse(format!("hard link {} has no target", rel.display())))?;
                check_name_len("a link target", &target)?;
                let target = target.into_owned();
                let target_rel = safe_rel(&target).map_err(|_| {
                    refuse(format!(
                        "hard link {} -> {} points outside the destination",
                        rel.display(),
                        target.display()
                    ))
                })?;
                let src = root.join(&target_rel);
                // The target must already exist as a file reached through real directories only.
                let exists = real_dirs(root, target_rel.parent().unwrap_or(Path::new("")))
                    && fs::symlink_metadata(&src).is_ok_and(|m| m.is_file());
                if !exists {
                    return Err(refuse(format!(
                        "hard link {} -> {} does not point to a file extracted earlier",
                        rel.display(),
                        target.display()
                    )));
                }
                ensure_dirs(root, rel.parent().unwrap_or(Path::new("")))?;
                clear_slot(&dst, &rel)?;
                fs::hard_link(&src, &dst).map_err(|e| FileTransferError::io("cannot create hard link", &dst, e))?;
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
    // A link that a later entry replaced (by a file, say) is gone and has nothing to check.
    // Sorted (without a buffer), so that the first escaping link reported is the first by name.
    links.sort_unstable();
    links.dedup();
    for rel in &links {
        let path = root.join(rel);
        let still_link = fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
        if !still_link {
            continue;
        }
        // The target as made: only real directories lead to it (nothing is written through a
        // symlink), and the last entry of this name made it.
        let target = fs::read_link(&path).map_err(|e| FileTransferError::io("cannot read the symlink", &path, e))?;
        let parent = rel.parent().unwrap_or(Path::new(""));
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
    Ok((stats, dirs))
}

/// Extracts into a staging directory, then moves the result into place; on any error the
/// staging directory is removed and `dest` is as it was.
///
/// A missing `dest` is created by renaming the staging directory (made beside it) to it. An
/// existing directory (or a symlink to one) is merged into, all or nothing (see
/// [`merge`](super::merge)); its staging directory is made inside it, so that only `dest` itself
/// must be writable, even when it has no usable parent (`.`, `/`), and the moves stay on one
/// filesystem. Anything else at `dest` is refused before extracting.
pub(crate) fn extract_into_place(
    reader: impl Read,
    dest: &Path,
    limits: Limits,
) -> Result<Extracted, FileTransferError> {
    let existing = existing_dir(dest)?;
    let staging = if existing {
        let mut builder = tempfile::Builder::new();
        let inside = builder.prefix(".fastvm-tmp-").rand_bytes(16).tempdir_in(dest);
        inside.map_err(|e| FileTransferError::io("cannot create directory in", dest, e))?
    } else {
        stage_beside(dest, |builder, dir| builder.tempdir_in(dir))?
    };
    let (stats, dirs) = extract(reader, staging.path(), limits)?;
    if existing {
        merge::merge(staging.path(), dest)?;
        // Left in staging: the skeleton of the directories merged into, removed with it.
        drop(staging);
    } else {
        // Fails rather than replaces if a file or a non-empty directory appeared meanwhile.
        fs::rename(staging.path(), dest).map_err(|e| FileTransferError::io("cannot move into place", dest, e))?;
        let _now_dest = staging.keep();
    }
    // Only now, with nothing left to move, may a directory become read-only.
    apply_dir_meta(dest, dirs)?;
    Ok(stats)
}

/// Whether `dest` is an existing directory (following symlinks, as the caller named it):
/// `false` when it is missing, an error when it is something else.
pub(crate) fn existing_dir(dest: &Path) -> Result<bool, FileTransferError> {
    match fs::metadata(dest) {
        Ok(m) if m.is_dir() => Ok(true),
        Ok(_) => Err(FileTransferError::new(
            Kind::Io,
            format!("{} exists and is not a directory", dest.display()),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(FileTransferError::io("cannot inspect", dest, e)),
    }
}

// These tests create symlinks, check modes and expect symlink entries to extract: Unix only.
// The portable fallback has its own tests below.
#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    const LIMITS: Limits = Limits {
        max_entries: 1000,
        max_total_bytes: 1 << 30,
    };

    #[test]
    fn an_mtime_beyond_system_time_is_dropped_not_a_panic() {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(u64::MAX);
        assert_eq!(mtime_of(&header), None);
        header.set_mtime(1_700_000_000);
        assert_eq!(
            mtime_of(&header),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
    }

    fn pack(dir: &Path) -> Vec<u8> {
        let (tx, mut rx) = mpsc::channel(DEPTH);
        let dir = dir.to_path_buf();
        let root = super::super::pack::Member {
            local: dir,
            name: ".".into(),
            dir: true,
        };
        let t = std::thread::spawn(move || super::super::pack::pack(&[root], tx, false));
        let mut out = Vec::new();
        while let Some(chunk) = rx.blocking_recv() {
            out.extend_from_slice(&chunk.unwrap());
        }
        t.join().unwrap().unwrap();
        out
    }

    fn gz(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        let tar = b.into_inner().unwrap();
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&tar).unwrap();
        e.finish().unwrap()
    }

    /// Appends an entry with a raw name (tar's own setters refuse `..` and absolute paths).
    fn raw(b: &mut tar::Builder<Vec<u8>>, name: &str, kind: tar::EntryType, link: Option<&str>, data: &[u8]) {
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(l) = link {
            h.as_old_mut().linkname[..l.len()].copy_from_slice(l.as_bytes());
        }
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_600_000_000);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }

    fn file(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
        raw(b, name, tar::EntryType::Regular, None, data);
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// Extracts `archive` to `<tmp>/dest` and expects an `Archive` refusal that leaves the parent
    /// directory exactly as it was (no `dest`, no staging directory) and nothing outside.
    fn refused(archive: &[u8], limits: Limits, needle: &str) {
        let tmp = tempfile::tempdir().unwrap();
        let parent = tmp.path().join("p");
        fs::create_dir(&parent).unwrap();
        let dest = parent.join("dest");
        let err = extract_into_place(io::Cursor::new(archive), &dest, limits).unwrap_err();
        assert_eq!(err.kind, Kind::Archive, "{err}");
        assert!(err.message.contains(needle), "{err}");
        assert!(names(&parent).is_empty(), "left behind: {:?}", names(&parent));
        assert_eq!(names(tmp.path()), vec!["p".to_string()]);
    }

    #[test]
    fn round_trip_keeps_tree_modes_and_links() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        fs::create_dir_all(src.join("a/b/c")).unwrap();
        fs::create_dir_all(src.join("empty/deeper")).unwrap();
        fs::write(src.join("a/b/c/deep.txt"), b"deep").unwrap();
        fs::write(src.join("ünï cødé 'q' \"d\".txt"), b"names").unwrap();
        fs::write(src.join("empty.bin"), b"").unwrap();
        let all: Vec<u8> = (0..=255).collect();
        fs::write(src.join("bytes"), &all).unwrap();
        fs::write(src.join("run.sh"), b"#!/bin/sh\n").unwrap();
        fs::set_permissions(src.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
        symlink("a/b/c/deep.txt", src.join("link")).unwrap();
        symlink("/etc/passwd", src.join("a/outside")).unwrap();
        fs::remove_file(src.join("a/outside")).unwrap();

        let bytes = pack(&src);
        let dest = tmp.path().join("out/dest");
        let stats = extract_into_place(io::Cursor::new(&bytes), &dest, LIMITS).unwrap();
        assert!(stats.entries >= 10, "{stats:?}");
        assert_eq!(fs::read(dest.join("a/b/c/deep.txt")).unwrap(), b"deep");
        assert_eq!(fs::read(dest.join("ünï cødé 'q' \"d\".txt")).unwrap(), b"names");
        assert_eq!(fs::read(dest.join("bytes")).unwrap(), all);
        assert_eq!(fs::read(dest.join("empty.bin")).unwrap(), b"");
        assert!(dest.join("empty/deeper").is_dir());
        let mode = fs::metadata(dest.join("run.sh")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755);
        assert_eq!(fs::read_link(dest.join("link")).unwrap(), Path::new("a/b/c/deep.txt"));
        assert_eq!(names(&tmp.path().join("out")), vec!["dest".to_string()]);
    }

    #[test]
    fn packing_never_follows_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("secret");
        fs::write(&outside, b"TOP SECRET").unwrap();
        let src = tmp.path().join("src");
        fs::create_dir(&src).unwrap();
        symlink(&outside, src.join("planted")).unwrap();
        let bytes = pack(&src);
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
        let mut saw = false;
        for e in archive.entries().unwrap() {
            let mut e = e.unwrap();
            if e.path().unwrap().ends_with("planted") {
                saw = true;
                assert_eq!(e.header().entry_type(), tar::EntryType::Symlink);
                let mut body = Vec::new();
                e.read_to_end(&mut body).unwrap();
                assert!(body.is_empty());
            }
        }
        assert!(saw);
    }

    #[test]
    fn refuses_parent_components() {
        refused(&gz(|b| file(b, "../evil", b"x")), LIMITS, "..");
        refused(&gz(|b| file(b, "ok/../../evil", b"x")), LIMITS, "..");
    }

    #[test]
    fn refuses_absolute_paths() {
        refused(&gz(|b| file(b, "/tmp/fastvm-abs-evil", b"x")), LIMITS, "absolute");
        assert!(!Path::new("/tmp/fastvm-abs-evil").exists());
    }

    #[test]
    fn refuses_escaping_symlinks() {
        refused(
            &gz(|b| raw(b, "etc", tar::EntryType::Symlink, Some("/etc"), b"")),
            LIMITS,
            "outside",
        );
        refused(
            &gz(|b| raw(b, "a/up", tar::EntryType::Symlink, Some("../.."), b"")),
            LIMITS,
            "outside",
        );
        // Each link is harmless alone; through the first, the second leaves the destination.
        refused(
            &gz(|b| {
                raw(b, "a/", tar::EntryType::Directory, None, b"");
                raw(b, "a/l", tar::EntryType::Symlink, Some(".."), b"");
                raw(b, "b", tar::EntryType::Symlink, Some("a/l/.."), b"");
            }),
            LIMITS,
            "outside",
        );
        // A link created after the one that goes through it.
        refused(
            &gz(|b| {
                raw(b, "b", tar::EntryType::Symlink, Some("a/l/.."), b"");
                raw(b, "a/", tar::EntryType::Directory, None, b"");
                raw(b, "a/l", tar::EntryType::Symlink, Some(".."), b"");
            }),
            LIMITS,
            "outside",
        );
    }

    #[test]
    fn never_writes_through_a_symlink() {
        // `sub/link -> ..` points inside, but `sub/link/x` would be written through it.
        refused(
            &gz(|b| {
                raw(b, "sub/", tar::EntryType::Directory, None, b"");
                raw(b, "sub/link", tar::EntryType::Symlink, Some(".."), b"");
                file(b, "sub/link/x", b"x");
            }),
            LIMITS,
            "through the symlink",
        );
    }

    #[test]
    fn refuses_escaping_hard_links_and_devices() {
        refused(
            &gz(|b| raw(b, "h", tar::EntryType::Link, Some("../../etc/passwd"), b"")),
            LIMITS,
            "outside",
        );
        refused(
            &gz(|b| raw(b, "h", tar::EntryType::Link, Some("/etc/passwd"), b"")),
            LIMITS,
            "outside",
        );
        refused(
            &gz(|b| raw(b, "dev", tar::EntryType::Char, None, b"")),
            LIMITS,
            "unsupported",
        );
        refused(
            &gz(|b| raw(b, "blk", tar::EntryType::Block, None, b"")),
            LIMITS,
            "unsupported",
        );
        refused(
            &gz(|b| raw(b, "fifo", tar::EntryType::Fifo, None, b"")),
            LIMITS,
            "unsupported",
        );
    }

    #[test]
    fn hard_links_inside_work() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("d");
        let archive = gz(|b| {
            file(b, "f", b"data");
            raw(b, "g", tar::EntryType::Link, Some("f"), b"");
        });
        extract_into_place(io::Cursor::new(archive), &dest, LIMITS).unwrap();
        assert_eq!(fs::read(dest.join("g")).unwrap(), b"data");
    }

    #[test]
    fn a_symlink_replaced_by_a_later_file_extracts() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("d");
        // The first `x` even points outside: only what is left at the end matters.
        let archive = gz(|b| {
            raw(b, "x", tar::EntryType::Symlink, Some("/etc/passwd"), b"");
            raw(b, "y", tar::EntryType::Symlink, Some("x"), b"");
            file(b, "x", b"plain");
        });
        extract_into_place(io::Cursor::new(archive), &dest, LIMITS).unwrap();
        let meta = fs::symlink_metadata(dest.join("x")).unwrap();
        assert!(meta.is_file());
        assert_eq!(fs::read(dest.join("x")).unwrap(), b"plain");
        assert_eq!(fs::read_link(dest.join("y")).unwrap(), Path::new("x"));
    }

    #[test]
    fn a_symlink_redirected_by_a_later_one_is_checked_with_its_final_target() {
        // `l` first points inside, then is replaced by a link leaving the destination.
        refused(
            &gz(|b| {
                raw(b, "l", tar::EntryType::Symlink, Some("a"), b"");
                raw(b, "l", tar::EntryType::Symlink, Some("../.."), b"");
            }),
            LIMITS,
            "outside",
        );
        // And the other way round extracts fine.
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("d");
        let archive = gz(|b| {
            raw(b, "l", tar::EntryType::Symlink, Some("../.."), b"");
            raw(b, "l", tar::EntryType::Symlink, Some("a"), b"");
        });
        extract_into_place(io::Cursor::new(archive), &dest, LIMITS).unwrap();
        assert_eq!(fs::read_link(dest.join("l")).unwrap(), Path::new("a"));
    }

    #[test]
    fn hard_link_to_a_missing_directory_creates_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let parent = tmp.path().join("p");
        fs::create_dir(&parent).unwrap();
        let staging = parent.join("staging");
        fs::create_dir(&staging).unwrap();
        let archive = gz(|b| raw(b, "h", tar::EntryType::Link, Some("no/such/f"), b""));
        let err = extract(io::Cursor::new(archive), &staging, LIMITS).unwrap_err();
        assert_eq!(err.kind, Kind::Archive, "{err}");
        assert!(err.message.contains("extracted earlier"), "{err}");
        assert!(names(&staging).is_empty(), "created: {:?}", names(&staging));
    }

    /// Appends a regular file whose real size is only in a PAX `size` record (the ustar size
    /// field says 0), as archivers do for files over 8 GiB.
    fn pax_sized_file(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
        let len = data.len().to_string();
        b.append_pax_extensions([("size", len.as_bytes())]).unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_path(name).unwrap();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(0);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }

    #[test]
    fn pax_sizes_count_toward_the_byte_cap() {
        let big = gz(|b| {
            pax_sized_file(b, "a", &[1u8; 600]);
            pax_sized_file(b, "b", &[2u8; 600]);
        });
        // The archive itself is sound: it extracts in full under the default caps.
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("d");
        let stats = extract_into_place(io::Cursor::new(&big), &dest, LIMITS).unwrap();
        assert_eq!(stats.bytes, 1200);
        assert_eq!(fs::read(dest.join("b")).unwrap(), [2u8; 600]);
        refused(
            &big,
            Limits {
                max_entries: 10,
                max_total_bytes: 1000,
            },
            "bytes",
        );
    }

    #[test]
    fn directory_modes_are_applied_after_placing() {
        // A read-only directory with children: applied in staging, its mode would block moving
        // the children out during a merge (for non-root users).
        let archive = gz(|b| {
            let mut h = tar::Header::new_ustar();
            h.set_path("ro/").unwrap();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
            h.set_mode(0o555);
            h.set_mtime(1_500_000_000);
            h.set_cksum();
            b.append(&h, io::empty()).unwrap();
            file(b, "ro/inner/f", b"f");
            file(b, "ro/g", b"g");
        });
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let tmp = tempfile::tempdir().unwrap();

        let fresh = tmp.path().join("fresh");
        extract_into_place(io::Cursor::new(&archive), &fresh, LIMITS).unwrap();
        assert_eq!(mode(&fresh.join("ro")), 0o555);
        let mtime = fs::metadata(fresh.join("ro")).unwrap().modified().unwrap();
        assert_eq!(mtime, SystemTime::UNIX_EPOCH + Duration::from_secs(1_500_000_000));

        // Merged into an existing tree that already has `ro` (writable) with other content.
        let merged = tmp.path().join("merged");
        fs::create_dir_all(merged.join("ro")).unwrap();
        fs::write(merged.join("ro/mine"), b"mine").unwrap();
        extract_into_place(io::Cursor::new(&archive), &merged, LIMITS).unwrap();
        assert_eq!(names(&merged.join("ro")), vec!["g", "inner", "mine"]);
        assert_eq!(fs::read(merged.join("ro/inner/f")).unwrap(), b"f");
        assert_eq!(mode(&merged.join("ro")), 0o555);
        assert_eq!(names(tmp.path()), vec!["fresh", "merged"]);

        // Let the temporary directory be removed.
        for d in [&fresh, &merged] {
            fs::set_permissions(d.join("ro"), fs::Permissions::from_mode(0o755)).unwrap();
        }
    }

    #[test]
    fn caps_entries_and_bytes() {
        let many = gz(|b| {
            for i in 0..11 {
                file(b, &format!("f{i}"), b"x");
            }
        });
        refused(
            &many,
            Limits {
                max_entries: 10,
                max_total_bytes: 1 << 20,
            },
            "entries",
        );
        let big = gz(|b| {
            file(b, "a", &[0u8; 600]);
            file(b, "b", &[0u8; 600]);
        });
        refused(
            &big,
            Limits {
                max_entries: 10,
                max_total_bytes: 1000,
            },
            "bytes",
        );
    }

    #[test]
    fn corrupt_or_truncated_archives_leave_nothing() {
        let good = gz(|b| {
            file(b, "a", &[7u8; 100_000]);
            file(b, "b", b"b");
        });
        refused(&good[..good.len() / 2], LIMITS, "corrupt");
        refused(b"definitely not gzip", LIMITS, "corrupt");
        let mut bad_crc = good.clone();
        let n = bad_crc.len();
        bad_crc[n - 6] ^= 0xff;
        refused(&bad_crc, LIMITS, "corrupt");
    }

    #[test]
    fn abandoned_stream_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("d");
        let good = gz(|b| file(b, "a", &[1u8; 300_000]));
        let (tx, rx) = mpsc::channel(DEPTH);
        tx.blocking_send(Some(Bytes::copy_from_slice(&good[..good.len() / 2])))
            .unwrap();
        drop(tx);
        let err = extract_into_place(ChannelReader::new(rx), &dest, LIMITS).unwrap_err();
        assert_eq!(err.kind, Kind::Io, "{err}");
        assert!(names(tmp.path()).is_empty());
    }

    /// A gzip tar whose first header announces a GNU long-name record of `size` bytes, with
    /// only `data` of it present.
    fn huge_header(kind: tar::EntryType, size: u64, data: &[u8]) -> Vec<u8> {
        let mut h = tar::Header::new_gnu();
        h.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_cksum();
        let mut tar = h.as_bytes().to_vec();
        tar.extend_from_slice(data);
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&tar).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn header_records_over_the_limits_are_refused_before_they_are_read() {
        // Only 1 KiB of the 256 MiB announced is there: the refusal comes from the header.
        refused(
            &huge_header(tar::EntryType::GNULongName, 256 << 20, &[b'a'; 1024]),
            LIMITS,
            "a GNU long-name record of 268435456 bytes is over the limit of 4097 bytes",
        );
        refused(
            &huge_header(tar::EntryType::GNULongLink, 256 << 20, &[b'a'; 1024]),
            LIMITS,
            "a GNU long-link-name record of 268435456 bytes is over the limit of 4097 bytes",
        );
        refused(
            &huge_header(tar::EntryType::XHeader, 256 << 20, b"9 path=a\n"),
            LIMITS,
            "a PAX extended header of 268435456 bytes is over the limit of 1048576 bytes (1 MiB)",
        );
    }

    #[test]
    fn names_and_link_targets_over_4096_bytes_are_refused() {
        let long = format!("{}/f", "d".repeat(4095));
        refused(
            &gz(|b| {
                b.append_pax_extensions([("path", long.as_bytes())])
                    .and_then(|()| {
                        let mut h = tar::Header::new_ustar();
                        h.set_path("short").unwrap();
                        h.set_size(0);
                        h.set_cksum();
                        b.append(&h, io::empty())
                    })
                    .unwrap()
            }),
            LIMITS,
            "an entry name of 4097 bytes is over the limit of 4096 bytes",
        );
        refused(
            &gz(|b| {
                b.append_pax_extensions([("linkpath", "t".repeat(4097).as_bytes())])
                    .unwrap();
                raw(b, "l", tar::EntryType::Symlink, Some("short"), b"");
            }),
            LIMITS,
            "a link target of 4097 bytes is over the limit of 4096 bytes",
        );
        // 4096 bytes exactly pass the check (and fail only where the OS says so).
        let tmp = tempfile::tempdir().unwrap();
        let archive = gz(|b| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            b.append_link(&mut h, "l", "t".repeat(4096)).unwrap();
        });
        let err = extract_into_place(io::Cursor::new(archive), &tmp.path().join("d"), LIMITS).unwrap_err();
        assert!(!err.message.contains("over the limit"), "{err}");
    }

    #[test]
    fn directories_kept_for_the_end_are_bounded() {
        // Paths of about 3.9 KB (15 nested 250-byte names, then a unique one): far fewer than
        // the entry cap fit in what extraction keeps until the end.
        let deep = vec!["p".repeat(250); 15].join("/");
        let per_dir = deep.len() as u64 + 8 + KEPT_OVERHEAD;
        let fits = MAX_KEPT_BYTES / per_dir;
        let archive = gz(|b| {
            for i in 0..fits + 1 {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                h.set_mode(0o755);
                b.append_data(&mut h, format!("{deep}/d{i:06}/"), io::empty()).unwrap();
            }
        });
        let msg = format!(
            "the archive's directories and symlinks need more than the limit of {} MiB kept until extraction ends ({} directories and 0 symlinks so far)",
            MAX_KEPT_BYTES >> 20,
            fits + 1
        );
        let limits = Limits {
            max_entries: 1 << 20,
            max_total_bytes: 1 << 30,
        };
        refused(&archive, limits, &msg);
        // One fewer fits.
        let archive = gz(|b| {
            for i in 0..fits {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                h.set_mode(0o755);
                b.append_data(&mut h, format!("{deep}/d{i:06}/"), io::empty()).unwrap();
            }
        });
        let tmp = tempfile::tempdir().unwrap();
        let stats = extract_into_place(io::Cursor::new(archive), &tmp.path().join("d"), limits).unwrap();
        assert_eq!(stats.entries, fits);
    }

    #[test]
    fn symlinks_count_toward_what_is_kept() {
        let deep = vec!["p".repeat(250); 15].join("/");
        let fits = MAX_KEPT_BYTES / (deep.len() as u64 + 8 + KEPT_OVERHEAD);
        let archive = gz(|b| {
            for i in 0..fits + 1 {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                b.append_link(&mut h, format!("{deep}/l{i:06}"), "t").unwrap();
            }
        });
        let limits = Limits {
            max_entries: 1 << 20,
            max_total_bytes: 1 << 30,
        };
        refused(
            &archive,
            limits,
            &format!("(0 directories and {} symlinks so far)", fits + 1),
        );
    }

    #[test]
    fn control_characters_of_names_and_tar_errors_are_escaped() {
        let archive = gz(|b| file(b, "../\x1b]0;pwned\x07\r\nx", b"x"));
        let tmp = tempfile::tempdir().unwrap();
        let err = extract_into_place(io::Cursor::new(archive), &tmp.path().join("d"), LIMITS).unwrap_err();
        assert_eq!(err.message, "entry ../\\u{1b}]0;pwned\\u{7}\\u{d}\\u{a}x contains `..`");
        // The `tar` crate's errors can quote raw header bytes.
        let err = read_err(io::Error::other("numeric field did not have utf-8 text: \x1b[2J\u{9b}"));
        assert_eq!(
            err.message,
            "corrupt archive: numeric field did not have utf-8 text: \\u{1b}[2J\\u{9b}"
        );
        assert!(std::error::Error::source(&err).is_none(), "the raw text again");
    }

    #[test]
    fn merges_into_an_existing_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("d");
        fs::create_dir_all(dest.join("sub")).unwrap();
        fs::write(dest.join("keep"), b"mine").unwrap();
        fs::write(dest.join("sub/old"), b"old").unwrap();
        let archive = gz(|b| {
            raw(b, "sub/", tar::EntryType::Directory, None, b"");
            file(b, "sub/new", b"new");
            file(b, "top", b"top");
        });
        extract_into_place(io::Cursor::new(archive), &dest, LIMITS).unwrap();
        assert_eq!(names(&dest), vec!["keep", "sub", "top"]);
        assert_eq!(names(&dest.join("sub")), vec!["new", "old"]);
        assert_eq!(names(tmp.path()), vec!["d"]);
    }
}

/// The fallback used off Unix, exercised wherever the tests run.
#[cfg(test)]
mod portable_tests {
    use super::*;

    #[test]
    fn portable_create_new_never_reuses_an_existing_entry() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("f");
        portable::create_new(&p).unwrap().write_all(b"one").unwrap();
        let e = portable::create_new(&p).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&p).unwrap(), b"one");
    }

    #[test]
    fn portable_modes_are_skipped_not_faked() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("f");
        let file = portable::create_new(&p).unwrap();
        let before = fs::metadata(&p).unwrap().permissions();
        // 0o444 would be "read-only" if modes were approximated; they are left alone.
        portable::set_file_mode(&file, 0o444).unwrap();
        portable::set_dir_mode(tmp.path(), 0o555).unwrap();
        assert_eq!(fs::metadata(&p).unwrap().permissions(), before);
        assert!(!fs::metadata(tmp.path()).unwrap().permissions().readonly());
    }

    #[test]
    fn portable_symlinks_are_refused_naming_the_entry() {
        let tmp = tempfile::tempdir().unwrap();
        let link = tmp.path().join("l");
        let e = portable::symlink(Path::new("target"), &link).unwrap_err();
        assert!(fs::symlink_metadata(&link).is_err(), "something was created");
        let err = symlink_error(Path::new("sub/l"), &link, e);
        assert_eq!(err.kind, Kind::Archive, "{err}");
        assert_eq!(
            err.message,
            format!(
                "entry {} is a symlink: symlinks are not created on this platform",
                Path::new("sub/l").display()
            )
        );
        // Any other failure stays an I/O error on the local path.
        let err = symlink_error(Path::new("l"), &link, io::Error::from(io::ErrorKind::PermissionDenied));
        assert_eq!(err.kind, Kind::Io, "{err}");
        assert!(err.message.contains(&link.display().to_string()), "{err}");
    }
}
