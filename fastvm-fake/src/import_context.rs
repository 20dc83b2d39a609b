//! What a dockerfile import's build context becomes in the fake: the files of its snapshot.
//!
//! The fake runs no build. It reads the uploaded ZIP archive (refusing what a careful
//! extractor refuses: names leaving the root, symlinks, more than [`MAX_ENTRIES`] entries or
//! [`MAX_BYTES`] of contents), finds the Dockerfile, and applies the lines that place files:
//! `WORKDIR <dir>` (made, and the base of relative paths; `/` at first, as in Docker) and
//! `COPY`/`ADD [--flag…] <src>… <dest>` (or their JSON form) from the context; `ADD` of a URL,
//! `COPY --from` and wildcards fail the import, every other instruction (`FROM`, `RUN`, `ENV`,
//! …) is ignored. A source directory's contents are copied into `dest`; a file goes to
//! `dest/<name>` when `dest` ends in `/`, is a directory already or there are several
//! sources, else to `dest`.
//!
//! Where the files land: with isolation a VM's `/` is its root, so `/app/x` is `/app/x`.
//! Without, a VM's absolute paths are the host's, so the snapshot's directory stands for the
//! VM's working directory, `/root` (the working directory and `HOME` of an isolated VM): `/root/app/x`
//! is `app/x` in the VM's directory, and any other absolute path `/srv/x` is `srv/x` there.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::isolation::Host;
use crate::vmfs::{VM_CWD, normalize};

/// A context archive may hold at most this many entries.
pub const MAX_ENTRIES: usize = 100_000;
/// A context archive's contents may add up to at most this many bytes.
pub const MAX_BYTES: u64 = 1 << 30;

/// Why an import fails, and in which phase of its event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub phase: &'static str,
    pub message: String,
}

fn fail(phase: &'static str, message: impl Into<String>) -> Failure {
    Failure {
        phase,
        message: message.into(),
    }
}

/// Makes the snapshot tree at `dest` from the ZIP archive at `archive`, building the
/// Dockerfile at `dockerfile` (relative to the context's root). `work` is a scratch directory
/// (removed by the caller).
pub fn snapshot_tree(
    archive: &Path,
    dockerfile: &str,
    host: Option<&'static Host>,
    work: &Path,
    dest: &Path,
) -> Result<(), Failure> {
    let file = fs::File::open(archive)
        .map_err(|_| fail("fetch_context", "no build context was uploaded for this contextRef"))?;
    let context = work.join("context");
    unzip(file, &context).map_err(|e| {
        fail(
            "fetch_context",
            format!("the build context is not a usable ZIP archive: {e}"),
        )
    })?;
    let text = fs::read_to_string(context.join(dockerfile))
        .map_err(|_| fail("build", format!("no Dockerfile at {dockerfile} in the build context")))?;
    fs::create_dir_all(dest).map_err(|e| fail("saving", e.to_string()))?;
    if let Some(host) = host {
        host.prepare_root(dest, true)
            .map_err(|e| fail("saving", e.to_string()))?;
    }
    let place = |vm_path: &Path| -> PathBuf {
        let rel = match host {
            Some(_) => vm_path.strip_prefix("/").unwrap_or(vm_path),
            None => vm_path
                .strip_prefix(VM_CWD)
                .or_else(|_| vm_path.strip_prefix("/"))
                .unwrap_or(vm_path),
        };
        dest.join(rel)
    };
    let mut workdir = PathBuf::from("/");
    for line in instructions(&text) {
        let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((&line, ""));
        match word.to_ascii_uppercase().as_str() {
            "WORKDIR" => {
                workdir = resolve(&workdir, rest.trim()).map_err(|e| fail("build", e))?;
                fs::create_dir_all(place(&workdir)).map_err(|e| fail("build", e.to_string()))?;
            }
            "COPY" | "ADD" => {
                copy(&context, rest, &workdir, &place).map_err(|e| fail("build", format!("{line}: {e}")))?
            }
            _ => {}
        }
    }
    Ok(())
}

/// The Dockerfile's instructions: comments and blank lines dropped, `\` continuations joined.
fn instructions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                out.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out
}

/// `path` made absolute against `base`, `.` and `..` resolved lexically; an empty path is
/// an error (a Dockerfile line that lacks one).
fn resolve(base: &Path, path: &str) -> Result<PathBuf, String> {
    if path.is_empty() {
        return Err("a path is missing".into());
    }
    // An absolute `path` replaces `base` in the join.
    Ok(normalize(&base.join(path)))
}

/// One `COPY`/`ADD`'s arguments applied.
fn copy(context: &Path, args: &str, workdir: &Path, place: &dyn Fn(&Path) -> PathBuf) -> Result<(), String> {
    let mut words: Vec<String> = if args.trim_start().starts_with('[') {
        serde_json::from_str(args.trim()).map_err(|e| format!("bad JSON form: {e}"))?
    } else {
        args.split_whitespace().map(str::to_string).collect()
    };
    if words.iter().any(|w| w.starts_with("--from")) {
        return Err("COPY --from is not modelled by the fake".into());
    }
    words.retain(|w| !w.starts_with("--"));
    let Some((dest, sources)) = words.split_last() else {
        return Err("no destination".into());
    };
    if sources.is_empty() {
        return Err("no source".into());
    }
    let into_dir = dest.ends_with('/') || sources.len() > 1;
    let dest = resolve(workdir, dest)?;
    for src in sources {
        if src.contains("://") {
            return Err(format!("{src}: remote sources are not modelled by the fake"));
        }
        if src.contains(['*', '?', '[']) {
            return Err(format!("{src}: wildcards are not modelled by the fake"));
        }
        let rel = resolve(Path::new("/"), src)?;
        let from = context.join(rel.strip_prefix("/").unwrap_or(&rel));
        let meta = fs::symlink_metadata(&from).map_err(|_| format!("{src}: not found in the build context"))?;
        if meta.is_dir() {
            merge(&from, &place(&dest)).map_err(|e| e.to_string())?;
        } else {
            // As Docker: a destination that is a directory already takes the file in it.
            let into_dir = into_dir || place(&dest).is_dir();
            let to = match (into_dir, from.file_name()) {
                (true, Some(name)) => place(&dest).join(name),
                _ => place(&dest),
            };
            if let Some(parent) = to.parent() {
                fs::create_dir_all(parent).map_err(|e| e.to_string())?;
            }
            fs::copy(&from, &to).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// Copies the contents of the directory `from` into `to` (made if missing), merging.
fn merge(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            merge(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Extracts the ZIP archive `file` into `root` (made here): regular files and directories
/// only, every name inside `root`, bounded in entries and bytes, modes kept without
/// setuid/setgid/sticky bits.
fn unzip(file: fs::File, root: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mut archive = zip::ZipArchive::new(io::BufReader::new(file)).map_err(|e| e.to_string())?;
    if archive.len() > MAX_ENTRIES {
        return Err(format!("more than {MAX_ENTRIES} entries"));
    }
    fs::create_dir_all(root).map_err(|e| e.to_string())?;
    let mut total: u64 = 0;
    let mut seen = HashSet::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| e.to_string())?;
        let name = entry.name().map_err(|e| e.to_string())?.to_string();
        let Some(rel) = entry.enclosed_name() else {
            return Err(format!("entry {name:?} leaves the archive's root"));
        };
        if entry.is_symlink() {
            return Err(format!("entry {name:?} is a symlink"));
        }
        if !seen.insert(rel.clone()) {
            return Err(format!("entry {name:?} is in the archive twice"));
        }
        let path = root.join(&rel);
        // Every parent is a directory this extraction made (no symlinks are ever made).
        if entry.is_dir() {
            fs::create_dir_all(&path).map_err(|e| e.to_string())?;
            continue;
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        let mut out = fs::File::create(&path).map_err(|e| e.to_string())?;
        // Counted as read, not as declared: a declared size can lie.
        let left = MAX_BYTES - total;
        let copied = io::copy(&mut io::Read::take(&mut entry, left + 1), &mut out)
            .map_err(|e| format!("entry {name:?}: {e}"))?;
        if copied > left {
            return Err(format!("contents over {MAX_BYTES} bytes"));
        }
        total += copied;
        if let Some(mode) = entry.unix_mode() {
            let _ = fs::set_permissions(&path, fs::Permissions::from_mode(mode & 0o777));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn archive(entries: &[(&str, &str)]) -> tempfile::NamedTempFile {
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        let mut zip = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        for (name, body) in entries {
            zip.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            zip.write_all(body.as_bytes()).unwrap();
        }
        tmp.write_all(&zip.finish().unwrap().into_inner()).unwrap();
        tmp
    }

    fn build(entries: &[(&str, &str)]) -> (tempfile::TempDir, Result<(), Failure>) {
        let zip = archive(entries);
        let dir = tempfile::tempdir().unwrap();
        let r = snapshot_tree(
            zip.path(),
            "Dockerfile",
            None,
            &dir.path().join("work"),
            &dir.path().join("tree"),
        );
        (dir, r)
    }

    #[test]
    fn paths_resolve_against_the_workdir() {
        let base = Path::new("/app");
        assert_eq!(resolve(base, "src/./x").unwrap(), PathBuf::from("/app/src/x"));
        assert_eq!(resolve(base, "../../etc").unwrap(), PathBuf::from("/etc"));
        assert_eq!(resolve(base, "/srv/y/").unwrap(), PathBuf::from("/srv/y"));
        assert!(resolve(base, "").is_err());
    }

    #[test]
    fn copy_and_workdir_place_the_context_files() {
        let (dir, r) = build(&[
            (
                "Dockerfile",
                "FROM alpine:3\n# comment\nWORKDIR /root/app\nCOPY hello.txt .\nCOPY conf/ /srv/conf/\nRUN apk add \\\n  curl\nCOPY [\"a b.txt\", \"x.txt\", \"both/\"]\n",
            ),
            ("hello.txt", "hi"),
            ("conf/app.toml", "k = 1"),
            ("a b.txt", "a"),
            ("x.txt", "x"),
        ]);
        r.unwrap();
        let tree = dir.path().join("tree");
        assert_eq!(fs::read_to_string(tree.join("app/hello.txt")).unwrap(), "hi");
        assert_eq!(fs::read_to_string(tree.join("srv/conf/app.toml")).unwrap(), "k = 1");
        assert_eq!(fs::read_to_string(tree.join("app/both/a b.txt")).unwrap(), "a");
        assert_eq!(fs::read_to_string(tree.join("app/both/x.txt")).unwrap(), "x");
    }

    #[test]
    fn a_bad_context_fails_in_its_phase() {
        let (_d, r) = build(&[("hello.txt", "hi")]);
        assert_eq!(r.unwrap_err().phase, "build");
        let (_d, r) = build(&[("Dockerfile", "COPY missing /x\n")]);
        assert!(r.unwrap_err().message.contains("missing"));
        let (_d, r) = build(&[("Dockerfile", "COPY *.txt /x\n"), ("a.txt", "")]);
        assert!(r.unwrap_err().message.contains("wildcards"));
        let (_d, r) = build(&[("../evil", "x"), ("Dockerfile", "")]);
        let e = r.unwrap_err();
        assert_eq!(e.phase, "fetch_context");
        assert!(e.message.contains("leaves"), "{e:?}");

        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk");
        fs::write(&junk, "not a zip").unwrap();
        let r = snapshot_tree(&junk, "Dockerfile", None, &dir.path().join("w"), &dir.path().join("t"));
        assert_eq!(r.unwrap_err().phase, "fetch_context");
        let r = snapshot_tree(
            &dir.path().join("none"),
            "Dockerfile",
            None,
            &dir.path().join("w2"),
            &dir.path().join("t2"),
        );
        assert!(r.unwrap_err().message.contains("no build context was uploaded"));
    }
}
