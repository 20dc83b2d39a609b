//! Merging an extracted tree into an existing directory: all of it, or nothing.
//!
//! "All or nothing" means: when [`merge`] returns an error, the destination holds what it held
//! before (the same entries with the same contents). Every conflict is found before the first
//! move, and a move that still fails (a race, a permission error, a mount point in the way)
//! undoes the moves already made, putting back what they replaced. It is not one filesystem
//! transaction: another process can see the merge half done, changes made to the destination by
//! others while it runs are not guarded against, and nothing is fsynced, so a crash or a power
//! loss midway can leave it partly merged (with hidden `.<name>.fastvm-tmp-*` entries holding
//! the replaced files).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::archive::sibling_temp;
use crate::error::{FileTransferError, FileTransferErrorKind as Kind};

/// One planned move of an entry of the staged tree into the destination.
#[derive(Debug)]
struct Step {
    from: PathBuf,
    to: PathBuf,
    /// `to` holds a file or a symlink, set aside first (as `tar -x` replaces them).
    replaces: bool,
}

/// A rename already made, undone by renaming `to` back to `from`.
#[derive(Debug)]
struct Done {
    from: PathBuf,
    to: PathBuf,
    /// This rename set a replaced entry aside: `to` is a backup, removed once the merge is done.
    aside: bool,
}

/// Moves the contents of `src` (a staged tree) into the existing directory `dst`: a directory
/// present on both sides is merged into, a file or symlink in `dst` is replaced, anything else is
/// moved in whole. On error `dst` is left as it was (see the module docs for what that covers);
/// `src` keeps whatever was not moved, for the caller to remove.
pub(crate) fn merge(src: &Path, dst: &Path) -> Result<(), FileTransferError> {
    merge_with(src, dst, &mut |from, to| fs::rename(from, to))
}

/// [`merge`] with the forward renames done by `rename`: the seam through which the tests make
/// the N-th move fail. Undoing always uses `fs::rename`.
fn merge_with(
    src: &Path,
    dst: &Path,
    rename: &mut dyn FnMut(&Path, &Path) -> io::Result<()>,
) -> Result<(), FileTransferError> {
    let mut steps = Vec::new();
    plan(src, dst, &mut steps)?;
    let mut done = Vec::new();
    for step in &steps {
        if let Err(e) = apply(step, rename, &mut done) {
            return Err(undo(done, e));
        }
    }
    // The merge has landed: a backup that cannot be removed is only clutter, not a failure.
    for d in done.iter().filter(|d| d.aside) {
        if let Err(e) = fs::remove_file(&d.to) {
            tracing::warn!(path = %d.to.display(), error = %e, "cannot remove a replaced file");
        }
    }
    Ok(())
}

/// Appends to `steps` every move that merging `src` into `dst` takes, in name order, or fails on
/// the first conflict. Only looks: nothing is changed.
fn plan(src: &Path, dst: &Path, steps: &mut Vec<Step>) -> Result<(), FileTransferError> {
    let mut entries = fs::read_dir(src)
        .and_then(|it| it.collect::<io::Result<Vec<_>>>())
        .map_err(|e| FileTransferError::io("cannot read", src, e))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let from = entry.path();
        let to = dst.join(entry.file_name());
        // `file_type` does not follow symlinks: a staged link is moved as a link.
        let from_dir = entry
            .file_type()
            .map_err(|e| FileTransferError::io("cannot inspect", &from, e))?
            .is_dir();
        let existing = match fs::symlink_metadata(&to) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(FileTransferError::io("cannot inspect", &to, e)),
        };
        match (from_dir, existing) {
            (_, None) => steps.push(Step {
                from,
                to,
                replaces: false,
            }),
            // Its mode comes from the archive afterwards, through `apply_dir_meta`.
            (true, Some(m)) if m.is_dir() => plan(&from, &to, steps)?,
            // A symlink to a directory included: merging through it would write outside `dst`.
            (true, Some(_)) => {
                return Err(conflict(format!(
                    "{} is not a directory (symlinks are not followed), but the download has a directory there",
                    to.display()
                )));
            }
            (false, Some(m)) if m.is_dir() => {
                return Err(conflict(format!(
                    "{} is a directory and would be replaced by a file",
                    to.display()
                )));
            }
            (false, Some(_)) => steps.push(Step {
                from,
                to,
                replaces: true,
            }),
        }
    }
    Ok(())
}

fn conflict(msg: String) -> FileTransferError {
    FileTransferError::new(Kind::Io, format!("{msg}; nothing was changed"))
}

/// Makes one planned move, recording each rename in `done` as soon as it is made.
fn apply(
    step: &Step,
    rename: &mut dyn FnMut(&Path, &Path) -> io::Result<()>,
    done: &mut Vec<Done>,
) -> Result<(), FileTransferError> {
    if step.replaces {
        let backup = sibling_temp(&step.to).map_err(|e| FileTransferError::io("bad destination", &step.to, e))?;
        rename(&step.to, &backup).map_err(|e| FileTransferError::io("cannot set aside", &step.to, e))?;
        done.push(Done {
            from: step.to.clone(),
            to: backup,
            aside: true,
        });
    } else if fs::symlink_metadata(&step.to).is_ok() {
        // Appeared since the plan: a rename would silently replace a file, and we could not
        // put it back.
        let msg = format!("{} appeared while merging", step.to.display());
        return Err(FileTransferError::new(Kind::Io, msg));
    }
    rename(&step.from, &step.to).map_err(|e| FileTransferError::io("cannot move into place", &step.to, e))?;
    done.push(Done {
        from: step.from.clone(),
        to: step.to.clone(),
        aside: false,
    });
    Ok(())
}

/// Undoes `done` in reverse order after `cause`, and says in the error whether the destination
/// is back as it was. Keeps going past a rename that fails, to put back as much as it can.
fn undo(done: Vec<Done>, cause: FileTransferError) -> FileTransferError {
    let mut failed = Vec::new();
    for d in done.iter().rev() {
        if let Err(e) = fs::rename(&d.to, &d.from) {
            failed.push(format!("{} to {}: {e}", d.to.display(), d.from.display()));
        }
    }
    let mut err = cause;
    err.message = if failed.is_empty() {
        format!("{}; the moves already made were undone", err.message)
    } else {
        format!(
            "{}; undoing the merge failed too, so the destination is partly merged (cannot move back {})",
            err.message,
            failed.join("; ")
        )
    };
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Debug, PartialEq, Eq)]
    enum Node {
        Dir,
        File(Vec<u8>),
    }

    /// Everything below `root`: kind and content.
    fn tree(root: &Path) -> BTreeMap<PathBuf, Node> {
        fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Node>) {
            for e in fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                let rel = p.strip_prefix(root).unwrap().to_path_buf();
                if fs::symlink_metadata(&p).unwrap().is_dir() {
                    out.insert(rel, Node::Dir);
                    walk(root, &p, out);
                } else {
                    out.insert(rel, Node::File(fs::read(&p).unwrap()));
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(root, root, &mut out);
        out
    }

    fn write(path: PathBuf, data: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, data).unwrap();
    }

    /// A staged tree and a destination that overlap: moves in whole (`new`, `fresh/`), into a
    /// shared directory (`shared/`), and replacements (`f1`, `shared/f2`).
    fn fixture() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
        write(src.join("f1"), "new f1");
        write(src.join("new"), "new");
        write(src.join("fresh/a"), "fresh a");
        write(src.join("shared/f2"), "new f2");
        write(src.join("shared/deeper/b"), "new b");
        write(dst.join("f1"), "old f1");
        write(dst.join("keep"), "keep");
        write(dst.join("shared/f2"), "old f2");
        write(dst.join("shared/mine"), "mine");
        (tmp, src, dst)
    }

    #[test]
    fn merges_moves_and_replaces() {
        let (tmp, src, dst) = fixture();
        merge(&src, &dst).unwrap();
        let got = tree(&dst);
        assert_eq!(got[Path::new("f1")], Node::File(b"new f1".to_vec()));
        assert_eq!(got[Path::new("keep")], Node::File(b"keep".to_vec()));
        assert_eq!(got[Path::new("shared/f2")], Node::File(b"new f2".to_vec()));
        assert_eq!(got[Path::new("shared/mine")], Node::File(b"mine".to_vec()));
        assert_eq!(got[Path::new("shared/deeper/b")], Node::File(b"new b".to_vec()));
        assert_eq!(got[Path::new("fresh/a")], Node::File(b"fresh a".to_vec()));
        assert_eq!(got.len(), 10, "{got:?}");
        // No backups of the replaced files are left; `src` keeps only the shared skeleton.
        assert_eq!(tree(&src).into_keys().collect::<Vec<_>>(), [Path::new("shared")]);
        drop(tmp);
    }

    #[test]
    fn a_conflict_anywhere_is_found_before_the_first_move() {
        type Setup = fn(&Path, &Path);
        let cases: [(&str, Setup); 2] = [
            // A file in the download where the destination has a directory (late in name order).
            ("is a directory and would be replaced by a file", |src, dst| {
                write(src.join("shared/zz"), "file");
                write(dst.join("shared/zz/inner"), "inner");
            }),
            // A directory in the download where the destination has a file.
            ("is not a directory", |src, dst| {
                write(src.join("zz/inner"), "dir");
                write(dst.join("zz"), "file");
            }),
        ];
        for (what, setup) in cases {
            let (_tmp, src, dst) = fixture();
            setup(&src, &dst);
            let before = tree(&dst);
            let e = merge(&src, &dst).unwrap_err();
            assert_eq!(e.kind, Kind::Io);
            assert!(e.message.contains(what) && e.message.contains("zz"), "{e}");
            assert!(e.message.contains("nothing was changed"), "{e}");
            assert_eq!(tree(&dst), before, "{what}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_to_a_directory_is_not_merged_through() {
        let (tmp, src, dst) = fixture();
        let outside = tmp.path().join("outside");
        fs::create_dir(&outside).unwrap();
        fs::remove_dir_all(dst.join("shared")).unwrap();
        std::os::unix::fs::symlink(&outside, dst.join("shared")).unwrap();
        let e = merge(&src, &dst).unwrap_err();
        assert!(e.message.contains("symlinks are not followed"), "{e}");
        assert!(tree(&outside).is_empty());
    }

    /// The number of forward renames the fixture's merge makes: two per replacement, one per
    /// plain move.
    fn renames_in_fixture() -> usize {
        let (_tmp, src, dst) = fixture();
        let mut n = 0;
        merge_with(&src, &dst, &mut |a, b| {
            n += 1;
            fs::rename(a, b)
        })
        .unwrap();
        n
    }

    #[test]
    fn a_failed_move_undoes_the_moves_already_made() {
        let total = renames_in_fixture();
        assert_eq!(
            total,
            2 + 2 + 1 + 1 + 1,
            "f1, shared/f2 replaced; new, fresh, shared/deeper moved"
        );
        for fail_at in 1..=total {
            let (_tmp, src, dst) = fixture();
            let (before_dst, before_src) = (tree(&dst), tree(&src));
            let mut n = 0;
            let e = merge_with(&src, &dst, &mut |a, b| {
                n += 1;
                if n == fail_at {
                    return Err(io::Error::new(io::ErrorKind::PermissionDenied, "injected"));
                }
                fs::rename(a, b)
            })
            .unwrap_err();
            assert_eq!(e.kind, Kind::Io);
            assert!(e.message.contains("injected"), "{e}");
            assert!(e.message.contains("were undone"), "{e}");
            assert_eq!(tree(&dst), before_dst, "failing rename {fail_at} of {total}");
            assert_eq!(tree(&src), before_src, "failing rename {fail_at} of {total}");
        }
    }

    #[test]
    fn an_entry_appearing_during_the_merge_is_not_overwritten() {
        let (_tmp, src, dst) = fixture();
        let before = tree(&dst);
        let mut n = 0;
        let e = merge_with(&src, &dst, &mut |a, b| {
            n += 1;
            if n == 1 {
                // Another writer creates a path the plan found free.
                fs::write(dst.join("new"), "theirs").unwrap();
            }
            fs::rename(a, b)
        })
        .unwrap_err();
        assert!(e.message.contains("appeared while merging"), "{e}");
        let mut want = before;
        want.insert(PathBuf::from("new"), Node::File(b"theirs".to_vec()));
        assert_eq!(tree(&dst), want);
    }

    #[test]
    fn a_failed_undo_is_reported_with_the_paths() {
        let (_tmp, src, dst) = fixture();
        let mut n = 0;
        let e = merge_with(&src, &dst, &mut |a, b| {
            n += 1;
            if n == 4 {
                // The staged tree vanishes: the moves made so far cannot go back.
                fs::remove_dir_all(&src).unwrap();
                return Err(io::Error::other("injected"));
            }
            fs::rename(a, b)
        })
        .unwrap_err();
        assert!(e.message.contains("partly merged"), "{e}");
        assert!(e.message.contains(&dst.display().to_string()), "{e}");
    }
}
