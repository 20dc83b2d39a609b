//! Packing local files and directories into the gzip tar an upload sends: the one packer of
//! [`upload`](crate::FastvmClient::upload) (a directory) and
//! [`upload_many`](crate::FastvmClient::upload_many).

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::archive::{self, ChannelWriter};

/// One archive member to write: a local file or directory at `name`, relative to the
/// extraction's root (`.` for the root itself: a directory's contents land in the root, and
/// its mode and time are given to the root).
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub(crate) local: PathBuf,
    pub(crate) name: String,
    pub(crate) dir: bool,
}

/// A `Write` that hashes what goes through it, when asked to.
pub(crate) struct Hashing<W> {
    pub(crate) inner: W,
    pub(crate) hasher: Option<Sha256>,
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
pub(super) fn at(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// The entries of the directory `dir`, in name order (every packer's walk order).
pub(super) fn children(dir: &Path) -> io::Result<Vec<fs::DirEntry>> {
    let mut children = fs::read_dir(dir)
        .and_then(|entries| entries.collect::<io::Result<Vec<_>>>())
        .map_err(|e| at(dir, e))?;
    children.sort_by_key(|e| e.file_name());
    Ok(children)
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
            for e in children(&local)?.into_iter().rev() {
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
pub(crate) fn pack(
    members: &[Member],
    tx: mpsc::Sender<io::Result<Bytes>>,
    hash: bool,
) -> io::Result<Option<[u8; 32]>> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
