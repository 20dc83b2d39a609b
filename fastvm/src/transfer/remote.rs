//! The VM-side shell commands of transfers, quoted in one place.
//!
//! Every path and URL goes through [`crate::exec::shell::quote`]; nothing else builds shell text.

use crate::exec::shell::quote;

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

// ---------------------------------------------------------------------------------------------
// Extracting an uploaded archive

/// What the verifying extraction prints on stdout, before the VM's digest, when the staged
/// archive is not the one the client sent.
const MISMATCH: &str = "fastvm-sha256-mismatch";

/// Extracts the uploaded archive `staging` under `root` (created first; its members are paths
/// relative to it) and always removes the staging file. With `sha256`, the staged bytes are
/// checked first: on a mismatch nothing is extracted, the file is removed and stdout says
/// [`MISMATCH`] and the VM's digest (see [`parse_mismatch`]).
pub(crate) fn extract(staging: &str, root: &str, sha256: Option<&str>) -> String {
    let s = quote(staging);
    let check = match sha256 {
        Some(hash) => format!(
            "h=$(sha256sum < {s}) && h=${{h%% *}} && [ \"$h\" = {hash} ] || \
             {{ rm -f {s}; echo \"{MISMATCH} ${{h:-none}}\"; exit 1; }}; ",
            hash = quote(hash)
        ),
        None => String::new(),
    };
    let r = quote(root);
    format!("{check}mkdir -p {r} && tar -xzf {s} -C {r}; st=$?; rm -f {s}; exit $st")
}

/// The VM's digest when a verifying [`extract`] found a mismatch; `None` otherwise
/// (including when `sha256sum` could not run: no 64-digit digest).
pub(crate) fn parse_mismatch(stdout: &str) -> Option<String> {
    let rest = stdout.lines().find_map(|l| l.strip_prefix(MISMATCH))?;
    parse_sha256(rest)
}

// ---------------------------------------------------------------------------------------------
// Readiness and background processes

/// The files a port probe reads: the kernel's TCP socket tables.
const TCP_TABLES: &[&str] = &["/proc/net/tcp", "/proc/net/tcp6"];

/// Exits 0 when a TCP socket listens on `port` in the VM, 1 when none does, 3 (with a message)
/// when the VM has no readable `/proc/net/tcp*`; any other status means `grep` failed. Needs
/// only `sh` and `grep`: a LISTEN socket (state `0A`) whose local address ends in the port's
/// 4 uppercase hex digits, in the tables the kernel prints for IPv4 and IPv6.
pub(crate) fn port_probe(port: u16) -> String {
    port_probe_in(port, TCP_TABLES)
}

fn port_probe_in(port: u16, tables: &[&str]) -> String {
    let files: Vec<String> = tables.iter().map(|t| quote(t)).collect();
    format!(
        "f=; for t in {files}; do [ -r \"$t\" ] && f=\"$f $t\"; done; \
         [ -n \"$f\" ] || {{ echo 'no readable /proc/net/tcp or /proc/net/tcp6 in the VM' >&2; exit 3; }}; \
         grep -q -e '^ *[0-9][0-9]*: [0-9A-F]*:{port:04X} [0-9A-F]*:[0-9A-F]* 0A ' $f",
        files = files.join(" ")
    )
}

/// A fresh default log path of a spawned process.
pub(crate) fn spawn_log_path() -> String {
    format!("/tmp/fastvm-spawn-{}.log", random_hex())
}

/// Starts `argv` detached: in a new session (`setsid`, where the VM has it) immune to hangups
/// (`nohup`, where it has it), stdin from `/dev/null`, stdout and stderr appended to `log`
/// (created with its parent directories), and prints its PID. With a non-zero `grace`, waits
/// that long and, if the process has exited with a non-zero status by then, exits with that
/// status and the end of the log on stderr.
pub(crate) fn spawn_detached(argv: &[String], log: &str, grace: std::time::Duration) -> String {
    let l = quote(log);
    let cmd: Vec<String> = argv.iter().map(|a| quote(a)).collect();
    let check = if grace.is_zero() {
        String::new()
    } else {
        // `kill -0` is true for a zombie, but the shell reaps its children while it waits for
        // the `sleep`: a process that died during the grace period is gone and `wait` has its
        // status.
        format!(
            "sleep {secs}.{millis:03} 2>/dev/null || sleep 1; \
             if ! kill -0 \"$pid\" 2>/dev/null; then wait \"$pid\"; st=$?; \
             if [ \"$st\" != 0 ]; then echo \"the process exited at once with status $st; its log ends with:\" >&2; \
             tail -c 2048 {l} >&2; exit \"$st\"; fi; fi; ",
            secs = grace.as_secs(),
            millis = grace.subsec_millis()
        )
    };
    format!(
        "d=$(dirname {l}) && mkdir -p \"$d\" && : >> {l} || {{ echo cannot write the log {l} >&2; exit 1; }}; \
         p=; command -v setsid >/dev/null 2>&1 && p=setsid; command -v nohup >/dev/null 2>&1 && p=\"$p nohup\"; \
         $p {cmd} < /dev/null >> {l} 2>&1 & pid=$!; {check}echo \"$pid\"",
        cmd = cmd.join(" ")
    )
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
    fn extraction_creates_the_root_unpacks_and_removes_staging() {
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
        let out = sh(&extract(staging.to_str().unwrap(), dest.to_str().unwrap(), None), None);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(std::fs::read(dest.join("sub/a b.txt")).unwrap(), b"hello");
        assert!(!staging.exists());

        // A corrupt archive fails with tar's status and still removes the staging file.
        std::fs::write(&staging, b"not gzip").unwrap();
        let out = sh(&extract(staging.to_str().unwrap(), dest.to_str().unwrap(), None), None);
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

    #[test]
    fn verified_extraction_extracts_only_the_archive_sent_and_always_removes_the_staging_file() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root dir");
        std::fs::create_dir(&root).unwrap();
        let src = tmp.path().join("src");
        std::fs::create_dir_all(src.join("srv/x")).unwrap();
        std::fs::write(src.join("srv/x/f"), b"hi").unwrap();
        let staging = tmp.path().join("it's staged.tar.gz");
        let tarball = |staging: &std::path::Path| {
            let st = Command::new("tar")
                .arg("-czf")
                .arg(staging)
                .arg("-C")
                .arg(&src)
                .arg("srv")
                .status()
                .unwrap();
            assert!(st.success());
        };
        let root_s = root.to_str().unwrap();
        let digest = |p: &std::path::Path| {
            let out = sh(&sha256(p.to_str().unwrap()), None);
            parse_sha256(&String::from_utf8_lossy(&out.stdout)).unwrap()
        };

        tarball(&staging);
        let out = sh(&extract(staging.to_str().unwrap(), root_s, None), None);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(std::fs::read(root.join("srv/x/f")).unwrap(), b"hi");
        assert!(!staging.exists());

        // Verified: the right digest extracts, a wrong one extracts nothing and says why.
        std::fs::remove_dir_all(root.join("srv")).unwrap();
        tarball(&staging);
        let good = digest(&staging);
        let out = sh(&extract(staging.to_str().unwrap(), root_s, Some(&good)), None);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(root.join("srv/x/f").exists() && !staging.exists());
        assert_eq!(parse_mismatch(&String::from_utf8_lossy(&out.stdout)), None);

        std::fs::remove_dir_all(root.join("srv")).unwrap();
        tarball(&staging);
        let theirs = digest(&staging);
        let out = sh(&extract(staging.to_str().unwrap(), root_s, Some(&"0".repeat(64))), None);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(parse_mismatch(&String::from_utf8_lossy(&out.stdout)), Some(theirs));
        assert!(!root.join("srv").exists() && !staging.exists());

        // A corrupt archive fails with tar's status and still removes the staging file.
        std::fs::write(&staging, b"not gzip").unwrap();
        let out = sh(&extract(staging.to_str().unwrap(), root_s, None), None);
        assert!(!out.status.success() && !out.stderr.is_empty());
        assert!(!staging.exists());
        // A missing staging file under verification is not called a mismatch.
        let out = sh(&extract(staging.to_str().unwrap(), root_s, Some(&good)), None);
        assert!(!out.status.success());
        assert_eq!(parse_mismatch(&String::from_utf8_lossy(&out.stdout)), None);
    }

    #[test]
    fn port_probe_finds_only_listening_sockets_on_the_port() {
        let tmp = tempfile::tempdir().unwrap();
        let tcp = tmp.path().join("tcp");
        let tcp6 = tmp.path().join("tcp6");
        let header =
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
        std::fs::write(
            &tcp,
            format!(
                "{header}   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0\n\
                 \x20 12: 0100007F:D431 0100007F:0050 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0\n"
            ),
        )
        .unwrap();
        std::fs::write(
            &tcp6,
            format!(
                "{header}   0: 00000000000000000000000001000000:0BB8 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  0 0 3 1 0\n"
            ),
        )
        .unwrap();
        let (t4, t6) = (tcp.to_str().unwrap(), tcp6.to_str().unwrap());
        let code = |port: u16, tables: &[&str]| sh(&port_probe_in(port, tables), None).status.code();
        assert_eq!(code(8080, &[t4, t6]), Some(0), "IPv4 listener");
        assert_eq!(code(3000, &[t4, t6]), Some(0), "IPv6 listener");
        assert_eq!(code(54321, &[t4, t6]), Some(1), "an established connection's port");
        assert_eq!(code(80, &[t4, t6]), Some(1), "a remote port");
        assert_eq!(code(8081, &[t4, t6]), Some(1));
        let missing = tmp.path().join("missing");
        assert_eq!(
            code(3000, &[missing.to_str().unwrap(), t6]),
            Some(0),
            "one table is enough"
        );
        assert_eq!(code(8080, &[missing.to_str().unwrap()]), Some(3));
        assert_eq!(
            port_probe(8080),
            port_probe_in(8080, &["/proc/net/tcp", "/proc/net/tcp6"])
        );
    }

    fn alive(pid: u32) -> bool {
        // Not a zombie: the test process is not the parent, so the state is read from /proc.
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit(')').next().map(|r| r.trim_start().to_string()))
            .is_some_and(|r| !r.starts_with('Z') && !r.starts_with('X'))
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn spawned_processes_outlive_the_launcher_and_log_there() {
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("new dir/it's.log");
        let argv: Vec<String> = ["sh", "-c", "echo started; echo oops >&2; exec sleep 30"]
            .map(String::from)
            .to_vec();
        let out = sh(
            &spawn_detached(&argv, log.to_str().unwrap(), std::time::Duration::from_millis(200)),
            None,
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let pid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        assert!(alive(pid), "the process ended with the launcher");
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.contains("started") && text.contains("oops"), "{text:?}");
        // Its own session: setsid made it the leader.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let fields: Vec<&str> = stat.rsplit(')').next().unwrap().split_whitespace().collect();
        assert_eq!(fields[3], pid.to_string(), "session id (stat field 6) {stat}");
        let _ = Command::new("kill").arg(pid.to_string()).status();

        // A command that cannot start fails the launcher with its status and log.
        let argv = vec!["/no/such/program".to_string()];
        let out = sh(
            &spawn_detached(&argv, log.to_str().unwrap(), std::time::Duration::from_millis(300)),
            None,
        );
        assert_eq!(out.status.code(), Some(127), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("status 127") && stderr.contains("/no/such/program"),
            "{stderr}"
        );

        // A quick command that succeeds is fine; without grace nothing is checked.
        let quick = vec!["true".to_string()];
        assert!(
            sh(
                &spawn_detached(&quick, log.to_str().unwrap(), std::time::Duration::from_millis(200)),
                None
            )
            .status
            .success()
        );
        let out = sh(
            &spawn_detached(&argv, log.to_str().unwrap(), std::time::Duration::ZERO),
            None,
        );
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).trim().parse::<u32>().is_ok());

        // An unwritable log is refused before anything starts.
        let file = tmp.path().join("a file");
        std::fs::write(&file, b"").unwrap();
        let bad = file.join("log");
        let out = sh(
            &spawn_detached(&quick, bad.to_str().unwrap(), std::time::Duration::ZERO),
            None,
        );
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write the log"));
        assert!(out.stdout.is_empty());
        assert!(spawn_log_path().starts_with("/tmp/fastvm-spawn-") && spawn_log_path().ends_with(".log"));
    }
}
/// A VM-side command's result as a `RemoteCommand` error unless it exited 0 in time.
pub(crate) fn check_exec(
    what: &str,
    out: crate::types::ExecVmResponse,
    timeout_sec: u64,
) -> crate::Result<crate::types::ExecVmResponse> {
    use crate::error::{FileTransferError, FileTransferErrorKind as Kind};
    if out.timed_out {
        let msg = format!("{what} timed out in the VM after {timeout_sec} s");
        return Err(FileTransferError::new(Kind::RemoteCommand, msg)
            .with_exit(out.exit_code, &out.stderr)
            .into());
    }
    if out.exit_code != 0 {
        let msg = format!("{what} failed in the VM");
        return Err(FileTransferError::new(Kind::RemoteCommand, msg)
            .with_exit(out.exit_code, &out.stderr)
            .into());
    }
    Ok(out)
}
