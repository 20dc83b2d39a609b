//! Packing a local directory into the ZIP archive a snapshot import's build context is
//! ([`FastvmClient::import_snapshot_from_dir`](crate::FastvmClient::import_snapshot_from_dir)).
//!
//! As the upload's tar packer does, it walks the tree depth first in name order, never follows
//! a symlink and refuses devices, fifos and sockets. Unlike a tar archive, a ZIP archive has no
//! portable symlink entry that the build side is known to honour, so a symlink is refused too
//! (with its path), rather than silently left out of the context. File modes are kept (the
//! executable bit matters to a `RUN ./script`); owners and times are not (the build does not
//! see them).

use std::fs;
use std::io::{self, Seek, Write};
use std::path::{Path, PathBuf};

use super::pack::{self, at};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// What was packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Packed {
    /// Files and directories, the root excluded.
    pub(crate) entries: u64,
}

/// Writes the ZIP archive of everything under the directory `root` (its contents at the
/// archive's root) into `out`.
pub(crate) fn zip_dir<W: Write + Seek>(root: &Path, out: W) -> io::Result<Packed> {
    let mut zip = ZipWriter::new(out);
    let base = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let mut entries = 0;
    let mut stack = children(root)?;
    while let Some(path) = stack.pop() {
        let meta = fs::symlink_metadata(&path).map_err(|e| at(&path, e))?;
        let name = member_name(root, &path)?;
        let kind = meta.file_type();
        let options = base.unix_permissions(mode(&meta));
        if kind.is_dir() {
            zip.add_directory(format!("{name}/"), options).map_err(zip_error)?;
            stack.extend(children(&path)?);
        } else if kind.is_file() {
            let options = options.large_file(meta.len() >= u64::from(u32::MAX));
            zip.start_file(&name, options).map_err(zip_error)?;
            let mut file = fs::File::open(&path).map_err(|e| at(&path, e))?;
            io::copy(&mut file, &mut zip).map_err(|e| at(&path, e))?;
        } else if kind.is_symlink() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "{} is a symlink: a build context is sent as a ZIP archive, which does not carry symlinks (copy the file in, or remove the link)",
                    path.display()
                ),
            ));
        } else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("{} is neither a file nor a directory", path.display()),
            ));
        }
        entries += 1;
    }
    zip.finish().map_err(zip_error)?.flush()?;
    Ok(Packed { entries })
}

/// The entries of `dir`, in the order that popping them yields name order.
fn children(dir: &Path) -> io::Result<Vec<PathBuf>> {
    Ok(pack::children(dir)?.into_iter().rev().map(|e| e.path()).collect())
}

/// `path`'s name in the archive: relative to `root`, `/`-separated. A ZIP name is text, so a
/// name that is not UTF-8 is refused.
fn member_name(root: &Path, path: &Path) -> io::Result<String> {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    parts.map(|p| p.join("/")).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} has a name that is not UTF-8, which a ZIP archive cannot hold",
                path.display()
            ),
        )
    })
}

#[cfg(unix)]
fn mode(meta: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    // No setuid, setgid or sticky bit from a local file into a snapshot.
    meta.permissions().mode() & 0o777
}

#[cfg(not(unix))]
fn mode(meta: &fs::Metadata) -> u32 {
    if meta.is_dir() { 0o755 } else { 0o644 }
}

fn zip_error(e: zip::result::ZipError) -> io::Error {
    match e {
        zip::result::ZipError::Io(e) => e,
        other => io::Error::other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Read};

    use super::*;

    #[test]
    fn a_tree_is_zipped_in_name_order_with_its_modes() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::write(root.join("Dockerfile"), "FROM alpine\n").unwrap();
        fs::create_dir_all(root.join("app/bin")).unwrap();
        fs::write(root.join("app/bin/run"), "#!/bin/sh\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(root.join("app/bin/run"), fs::Permissions::from_mode(0o4755)).unwrap();
        }
        let mut buf = Cursor::new(Vec::new());
        assert_eq!(zip_dir(root, &mut buf).unwrap(), Packed { entries: 4 });

        let mut archive = zip::ZipArchive::new(Cursor::new(buf.into_inner())).unwrap();
        let names: Vec<String> = archive.file_names().map(|n| n.unwrap().into_owned()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(sorted, ["Dockerfile", "app/", "app/bin/", "app/bin/run"]);
        let mut run = archive.by_name("app/bin/run").unwrap();
        #[cfg(unix)]
        assert_eq!(run.unix_mode().unwrap() & 0o7777, 0o755, "setuid dropped");
        let mut text = String::new();
        run.read_to_string(&mut text).unwrap();
        assert_eq!(text, "#!/bin/sh\n");
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_and_fifos_are_refused_with_their_path() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("a"), "x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", tmp.path().join("link")).unwrap();
        let e = zip_dir(tmp.path(), Cursor::new(Vec::new())).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Unsupported);
        assert!(
            e.to_string().contains("link") && e.to_string().contains("symlink"),
            "{e}"
        );

        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let e = zip_dir(tmp.path(), Cursor::new(Vec::new())).unwrap_err();
            assert!(e.to_string().contains("pipe"), "{e}");
        }
    }
}
