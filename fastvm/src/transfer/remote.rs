//! The VM-side shell commands of transfers, quoted in one place.
//!
//! Every path and URL goes through [`crate::shell::quote`]; nothing else builds shell text.

use crate::shell::quote;

/// What a remote path is, as the classify command reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RemoteKind {
    File,
    Dir,
    /// Exists but is neither a regular file nor a directory (device, fifo, socket).
    Other,
    Missing,
}

/// One command whose exit status is 0 whatever the path is, so that a non-zero exit or a
/// timeout means the command itself failed, never that the path is missing. `-d`/`-f` follow
/// symlinks, so a link to a directory is a directory and a dangling link is missing.
pub(crate) fn classify(path: &str) -> String {
    let p = quote(path);
    format!(
        "if [ -d {p} ]; then echo dir; elif [ -f {p} ]; then echo file; \
         elif [ -e {p} ]; then echo other; else echo missing; fi"
    )
}

/// Parses the classify command's stdout; `None` for anything unexpected.
pub(crate) fn parse_classify(stdout: &str) -> Option<RemoteKind> {
    match stdout.trim() {
        "dir" => Some(RemoteKind::Dir),
        "file" => Some(RemoteKind::File),
        "other" => Some(RemoteKind::Other),
        "missing" => Some(RemoteKind::Missing),
        _ => None,
    }
}

fn curl_put(source: &str, url: &str) -> String {
    format!(
        "curl --fail --silent --show-error -X PUT -H 'Content-Type: application/octet-stream' -T {} {}",
        source,
        quote(url)
    )
}

/// Pushes the file at `path` to the presigned `upload_url`.
pub(crate) fn put_file(path: &str, upload_url: &str) -> String {
    curl_put(&quote(path), upload_url)
}

/// Tars the contents of `dir` (rooted at `.`, as upload archives are) and pipes them to the
/// presigned `upload_url`. A pipeline's status is curl's alone and `pipefail` is not POSIX, so
/// tar records its own status in `status_file`; a tar failure wins over curl's success.
pub(crate) fn put_dir(dir: &str, upload_url: &str, status_file: &str) -> String {
    let s = quote(status_file);
    format!(
        "{{ tar -czf - -C {dir} .; echo $? > {s}; }} | {curl}; c=$?; \
         t=$(cat {s} 2>/dev/null || echo 1); rm -f {s}; \
         if [ \"$t\" != 0 ]; then echo \"tar exited with status $t\" >&2; exit \"$t\"; fi; exit $c",
        dir = quote(dir),
        curl = curl_put("-", upload_url),
    )
}

/// Extracts the uploaded archive `staging` into `dest` and always removes the staging file.
pub(crate) fn extract_upload(staging: &str, dest: &str) -> String {
    let s = quote(staging);
    format!(
        "mkdir -p {d} && tar -xzf {s} -C {d}; st=$?; rm -f {s}; exit $st",
        d = quote(dest)
    )
}

/// Removes `path` (a staging file), ignoring its absence.
pub(crate) fn remove(path: &str) -> String {
    format!("rm -f {}", quote(path))
}

/// Prints the SHA-256 of `path` as the first word of stdout.
pub(crate) fn sha256(path: &str) -> String {
    format!("sha256sum < {}", quote(path))
}

/// Parses `sha256sum` output: the first word, when it is 64 hex digits.
pub(crate) fn parse_sha256(stdout: &str) -> Option<String> {
    let word = stdout.split_whitespace().next()?;
    (word.len() == 64 && word.bytes().all(|b| b.is_ascii_hexdigit())).then(|| word.to_ascii_lowercase())
}

fn random_hex() -> String {
    let bytes: [u8; 16] = rand::random();
    hex::encode(bytes)
}

/// A fresh staging path for an uploaded directory archive.
pub(crate) fn upload_staging_path() -> String {
    format!("/var/tmp/fastvm-upload-{}.tar.gz", random_hex())
}

/// A fresh path for the status of a VM-side `tar` on download.
pub(crate) fn tar_status_path() -> String {
    format!("/var/tmp/fastvm-download-{}.status", random_hex())
}

// These tests run the commands with the host's `sh`, `tar` and `sha256sum`, and make symlinks
// and executable scripts: Unix only.
#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::process::Command;

    fn sh(line: &str, path_prefix: Option<&std::path::Path>) -> std::process::Output {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(line);
        if let Some(p) = path_prefix {
            let old = std::env::var("PATH").unwrap_or_default();
            cmd.env("PATH", format!("{}:{old}", p.display()));
        }
        cmd.output().unwrap()
    }

    const NAMES: &[&str] = &[
        "plain",
        "with space",
        "it's",
        "quo\"te",
        "ünï cødé",
        "$(touch pwned)",
        "-dash",
    ];

    #[test]
    fn classify_distinguishes_file_dir_other_and_missing() {
        let tmp = tempfile::tempdir().unwrap();
        for name in NAMES {
            let dir = tmp.path().join(format!("d {name}"));
            let file = tmp.path().join(format!("f {name}"));
            std::fs::create_dir(&dir).unwrap();
            std::fs::write(&file, b"x").unwrap();
            let missing = tmp.path().join(format!("m {name}"));
            for (path, want) in [
                (&dir, RemoteKind::Dir),
                (&file, RemoteKind::File),
                (&missing, RemoteKind::Missing),
            ] {
                let out = sh(&classify(path.to_str().unwrap()), None);
                assert!(out.status.success());
                let got = parse_classify(&String::from_utf8_lossy(&out.stdout));
                assert_eq!(got, Some(want), "{}", path.display());
            }
        }
        let out = sh(&classify("/dev/null"), None);
        assert_eq!(
            parse_classify(&String::from_utf8_lossy(&out.stdout)),
            Some(RemoteKind::Other)
        );
        let dangling = tmp.path().join("dangling");
        std::os::unix::fs::symlink(tmp.path().join("nowhere"), &dangling).unwrap();
        let out = sh(&classify(dangling.to_str().unwrap()), None);
        assert_eq!(
            parse_classify(&String::from_utf8_lossy(&out.stdout)),
            Some(RemoteKind::Missing)
        );
        assert!(!std::path::Path::new("pwned").exists());
        assert_eq!(parse_classify("garbage"), None);
    }

    #[test]
    fn extract_upload_unpacks_and_removes_staging() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("sub/a b.txt"), b"hello").unwrap();
        let staging = tmp.path().join("it's staging.tar.gz");
        let st = Command::new("tar")
            .arg("-czf")
            .arg(&staging)
            .arg("-C")
            .arg(&src)
            .arg(".")
            .status()
            .unwrap();
        assert!(st.success());
        let dest = tmp.path().join("new dir/ü 'q'");
        let out = sh(&extract_upload(staging.to_str().unwrap(), dest.to_str().unwrap()), None);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(std::fs::read(dest.join("sub/a b.txt")).unwrap(), b"hello");
        assert!(!staging.exists());

        // A corrupt archive fails with tar's status and still removes the staging file.
        std::fs::write(&staging, b"not gzip").unwrap();
        let out = sh(&extract_upload(staging.to_str().unwrap(), dest.to_str().unwrap()), None);
        assert!(!out.status.success());
        assert!(!out.stderr.is_empty());
        assert!(!staging.exists());
    }

    /// Fake `curl` and `tar` on PATH: curl copies its `-T` source into $OUT, tar fails on demand.
    fn fake_tools(dir: &std::path::Path, tar_fails: bool) {
        use std::os::unix::fs::PermissionsExt;
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let curl = "#!/bin/sh\nsrc=''\nwhile [ $# -gt 0 ]; do if [ \"$1\" = -T ]; then src=$2; shift; fi; last=$1; shift; done\n\
                    if [ \"$src\" = - ]; then cat > \"$OUT\"; else cat \"$src\" > \"$OUT\"; fi\necho \"$last\" > \"$OUT.url\"\n";
        std::fs::write(bin.join("curl"), curl).unwrap();
        let tar = if tar_fails {
            "#!/bin/sh\necho 'tar: ./secret: Cannot open: Permission denied' >&2\nprintf partial\nexit 2\n".to_string()
        } else {
            format!("#!/bin/sh\nexec {} \"$@\"\n", which_tar())
        };
        std::fs::write(bin.join("tar"), tar).unwrap();
        for f in ["curl", "tar"] {
            std::fs::set_permissions(bin.join(f), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }

    fn which_tar() -> String {
        let out = Command::new("sh").arg("-c").arg("command -v tar").output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    #[test]
    fn put_commands_send_the_right_bytes_and_surface_tar_failure() {
        let tmp = tempfile::tempdir().unwrap();
        let out_file = tmp.path().join("out");
        let url = "http://127.0.0.1:1/o?sig=a'b&x=1";
        let src = tmp.path().join("it's a file");
        std::fs::write(&src, b"payload").unwrap();
        fake_tools(tmp.path(), false);
        let run = |line: &str| {
            let mut cmd = Command::new("sh");
            cmd.arg("-c").arg(line).env("OUT", &out_file);
            let old = std::env::var("PATH").unwrap_or_default();
            cmd.env("PATH", format!("{}:{old}", tmp.path().join("bin").display()));
            cmd.output().unwrap()
        };
        let out = run(&put_file(src.to_str().unwrap(), url));
        assert!(out.status.success());
        assert_eq!(std::fs::read(&out_file).unwrap(), b"payload");
        assert_eq!(std::fs::read_to_string(tmp.path().join("out.url")).unwrap().trim(), url);

        let dir = tmp.path().join("d ü");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("x"), b"1").unwrap();
        let status = tmp.path().join("status");
        let out = run(&put_dir(dir.to_str().unwrap(), url, status.to_str().unwrap()));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let list = Command::new("tar").arg("-tzf").arg(&out_file).output().unwrap();
        assert!(String::from_utf8_lossy(&list.stdout).lines().any(|l| l == "./x"));
        assert!(!status.exists());

        fake_tools(tmp.path(), true);
        let out = run(&put_dir(dir.to_str().unwrap(), url, status.to_str().unwrap()));
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("Permission denied"), "{stderr}");
        assert!(stderr.contains("tar exited with status 2"), "{stderr}");
        assert!(!status.exists());
    }

    #[test]
    fn sha256_matches_and_parses() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("a 'b'");
        std::fs::write(&f, b"abc").unwrap();
        let out = sh(&sha256(f.to_str().unwrap()), None);
        assert_eq!(
            parse_sha256(&String::from_utf8_lossy(&out.stdout)).as_deref(),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(parse_sha256("nothex  -"), None);
    }

    #[test]
    fn staging_paths_are_random_and_under_var_tmp() {
        let a = upload_staging_path();
        let b = upload_staging_path();
        assert_ne!(a, b);
        assert!(a.starts_with("/var/tmp/fastvm-upload-") && a.ends_with(".tar.gz"));
        assert_eq!(a.len(), "/var/tmp/fastvm-upload-".len() + 32 + ".tar.gz".len());
    }
}
