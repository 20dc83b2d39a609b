//! End-to-end tests of the `fastvm` binary against an in-process `fastvm_fake::FakeServer`.
//!
//! "Remote" paths are VM paths named after temp directories of this host; the tests look at the
//! remote side through `FakeServer::vm_path` (the VM's own files when the fake isolates VMs).

use std::path::Path;
use std::process::{Output, Stdio};

use fastvm_fake::FakeServer;
use serde_json::Value;

const SSH_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIL/km9mHp9ByXu1+YcjQRlhg60cYVZLQRG1GUknsZuIt test@cli";
const SSH_FINGERPRINT: &str = "SHA256:ImoAx0gekA3wiMBGWdN4zvHxkCiXZX90wM5mWJEfENo";

/// The fake plus a way to run the binary against it.
struct Env {
    server: FakeServer,
}

impl Env {
    async fn start() -> Env {
        Env {
            server: FakeServer::start().await.expect("start the fake"),
        }
    }

    /// A fake whose launches answer 202 and boot after `delay`.
    async fn with_boot_delay(delay: std::time::Duration) -> Env {
        Env {
            server: FakeServer::builder()
                .boot_delay(delay)
                .start()
                .await
                .expect("start the fake"),
        }
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_fastvm"));
        c.args(args)
            .env("FASTVM_BASE_URL", self.server.base_url())
            .env("FASTVM_API_KEY", self.server.api_key())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        c
    }

    /// Runs the binary to completion.
    async fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().await.expect("spawn fastvm")
    }

    /// Runs the binary, requires exit status 0, and returns stdout.
    async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "fastvm {args:?} failed: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Runs the binary with `--json` appended and parses stdout.
    async fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        let stdout = self.ok(&args).await;
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("fastvm {args:?} printed non-JSON ({e}): {stdout}"))
    }

    async fn launch(&self) -> String {
        let vm = self.json(&["vm", "launch", "--name", "cli-test"]).await;
        assert_eq!(vm["status"], "running");
        vm["id"].as_str().expect("id").to_string()
    }

    async fn vm_ids(&self) -> Vec<String> {
        let list = self.json(&["vm", "ls"]).await;
        list.as_array()
            .expect("vm ls --json is an array")
            .iter()
            .map(|v| v["id"].as_str().unwrap().to_string())
            .collect()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vm_lifecycle() {
    let env = Env::start().await;
    let id = env.launch().await;

    let table = env.ok(&["vm", "ls"]).await;
    let mut lines = table.lines();
    assert!(lines.next().unwrap().starts_with("ID"), "a header line: {table}");
    let row = lines
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("{id} not in {table}"));
    assert!(row.contains("cli-test") && row.contains("running"), "{row}");
    assert_eq!(env.vm_ids().await, vec![id.clone()]);

    let got = env.ok(&["vm", "get", &id]).await;
    assert!(
        got.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["status", "running"]),
        "{got}"
    );

    let renamed = env.json(&["vm", "rename", &id, "renamed"]).await;
    assert_eq!(renamed["name"], "renamed");
    assert_eq!(env.json(&["vm", "get", &id]).await["name"], "renamed");

    assert_eq!(env.json(&["vm", "pause", &id]).await["status"], "paused");
    assert_eq!(env.json(&["vm", "resume", &id]).await["status"], "running");

    // Without a terminal to ask on, nothing is deleted without --yes.
    let refused = env.run(&["vm", "rm", &id]).await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stderr).contains("--yes"), "{}", text(&refused.stderr));
    assert_eq!(env.vm_ids().await, vec![id.clone()]);

    let deleted = env.ok(&["vm", "rm", "-y", &id]).await;
    assert_eq!(deleted.trim(), format!("Deleted {id}"));
    assert!(env.vm_ids().await.is_empty());

    let missing = env.run(&["vm", "get", &id]).await;
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr).starts_with("error: "),
        "{}",
        text(&missing.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vm_ls_filters_by_label_every_label_matching() {
    let env = Env::start().await;
    let launch = |team: &'static str, tier: &'static str| {
        let env = &env;
        async move {
            let team = format!("team={team}");
            let tier = format!("tier={tier}");
            let vm = env.json(&["vm", "launch", "--meta", &team, "--meta", &tier]).await;
            vm["id"].as_str().unwrap().to_string()
        }
    };
    let red_web = launch("red", "web").await;
    let red_db = launch("red", "db").await;
    let blue_web = launch("blue", "web").await;
    let listed = |args: &'static [&'static str]| {
        let env = &env;
        async move {
            let mut all = vec!["vm", "ls"];
            all.extend_from_slice(args);
            let mut ids: Vec<String> = env
                .json(&all)
                .await
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["id"].as_str().unwrap().to_string())
                .collect();
            ids.sort();
            ids
        }
    };
    let mut red = vec![red_web.clone(), red_db.clone()];
    red.sort();
    assert_eq!(listed(&["--label", "team=red"]).await, red);
    assert_eq!(
        listed(&["--label", "team=red", "--label", "tier=web"]).await,
        std::slice::from_ref(&red_web)
    );
    assert_eq!(
        listed(&["--label", "tier=web", "--status", "running"]).await.len(),
        2,
        "{blue_web}"
    );
    assert!(listed(&["--label", "team=green"]).await.is_empty());
    let bad = env.run(&["vm", "ls", "--label", "no-equals-sign"]).await;
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_streams_both_outputs_and_propagates_the_exit_code() {
    let env = Env::start().await;
    let id = env.launch().await;

    let out = env
        .run(&["exec", &id, "--", "sh", "-c", "echo out; echo err >&2; exit 3"])
        .await;
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(text(&out.stdout), "out\n");
    assert_eq!(text(&out.stderr), "err\n");

    // Arguments after -- reach the command untouched, --json included.
    let out = env.run(&["exec", &id, "--", "printf", "%s|", "a b", "--json"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "a b|--json|");

    let result = {
        let out = env
            .run(&[
                "exec",
                "--json",
                &id,
                "--",
                "sh",
                "-c",
                "printf hi; printf oops >&2; exit 5",
            ])
            .await;
        assert_eq!(out.status.code(), Some(5));
        serde_json::from_slice::<Value>(&out.stdout).expect("exec --json prints JSON")
    };
    assert_eq!(result["exitCode"], 5);
    assert_eq!(result["stdout"], "hi");
    assert_eq!(result["stderr"], "oops");
    assert_eq!(result["timedOut"], false);

    let mut child = env
        .command(&["exec", "--stdin", &id, "--", "tr", "a-z", "A-Z"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use tokio::io::AsyncWriteExt as _;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"piped input").await.unwrap();
    }
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "PIPED INPUT");

    let out = env.run(&["exec", "--timeout", "1", &id, "--", "sleep", "30"]).await;
    assert_eq!(out.status.code(), Some(137), "stderr: {}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_deletes_the_vm_whatever_the_outcome() {
    let env = Env::start().await;

    let out = env.run(&["run", "--", "echo", "hi"]).await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hi\n");
    assert!(env.vm_ids().await.is_empty());

    let out = env.run(&["run", "--", "sh", "-c", "exit 7"]).await;
    assert_eq!(out.status.code(), Some(7));
    assert!(env.vm_ids().await.is_empty());

    // A bad snapshot id fails the launch: nothing to delete, exit 1.
    let out = env.run(&["run", "--snapshot", "no-such-snapshot", "--", "true"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("error: "));
    assert!(env.vm_ids().await.is_empty());
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_deletes_the_vm_on_ctrl_c() {
    use tokio::io::AsyncBufReadExt;
    let env = Env::start().await;
    let mut child = env
        .command(&["run", "--", "sh", "-c", "echo started; exec sleep 60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait (no timing assertion) until the command runs in the VM and says so, so the
    // interrupt lands mid-stream; give up after a generous bound rather than hang.
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let started = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(line) = stdout.next_line().await.unwrap() {
            if line == "started" {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(started, Ok(true), "the command never started");
    assert_eq!(env.vm_ids().await.len(), 1);

    let out = interrupt(child).await;
    assert_eq!(out.status.code(), Some(130), "stderr: {}", text(&out.stderr));
    assert!(text(&out.stderr).contains("interrupted"));
    assert!(env.vm_ids().await.is_empty(), "the VM must be deleted after Ctrl-C");
}

/// Ctrl-C during `snapshot import`'s wait: the import is cancelled (the SDK's guard, run as
/// the wait is dropped) and the exit status is 130, as for `run`.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_import_cancels_the_import_on_ctrl_c() {
    let env = Env {
        server: FakeServer::builder()
            .build_duration(std::time::Duration::from_secs(600))
            .start()
            .await
            .expect("start the fake"),
    };
    let child = env
        .command(&["snapshot", "import", "--image", "alpine:3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait (no timing assertion) until the import exists, so that the interrupt lands in the
    // wait; give up after a generous bound rather than hang.
    let created = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            if let Some(first) = env
                .json(&["snapshot", "imports", "ls"])
                .await
                .as_array()
                .and_then(|l| l.first().cloned())
            {
                return first["id"].as_str().unwrap().to_string();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the import was never created");

    let out = interrupt(child).await;
    assert_eq!(out.status.code(), Some(130), "stderr: {}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("interrupted; the import was cancelled"),
        "{}",
        text(&out.stderr)
    );
    let after = env.json(&["snapshot", "imports", "get", &created]).await;
    assert_eq!(after["status"], "cancelled", "{after}");
}

/// Sends SIGINT (a Ctrl-C) to the running `fastvm` and waits for it to end.
#[cfg(unix)]
async fn interrupt(child: tokio::process::Child) -> Output {
    let pid = child.id().unwrap().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    child.wait_with_output().await.unwrap()
}

fn write_tree(root: &Path) {
    std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
    std::fs::write(root.join("top.txt"), "top level\n").unwrap();
    std::fs::write(
        root.join("sub/data.bin"),
        (0..=255u8).cycle().take(70_000).collect::<Vec<_>>(),
    )
    .unwrap();
    std::fs::write(root.join("sub/deeper/empty"), "").unwrap();
}

fn assert_same_tree(a: &Path, b: &Path) {
    for rel in ["top.txt", "sub/data.bin", "sub/deeper/empty"] {
        let (x, y) = (std::fs::read(a.join(rel)), std::fs::read(b.join(rel)));
        assert_eq!(
            x.unwrap(),
            y.unwrap_or_else(|e| panic!("{rel} missing in {}: {e}", b.display())),
            "{rel}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cp_round_trips_a_directory_and_a_file() {
    let env = Env::start().await;
    let id = env.launch().await;
    let local = tempfile::tempdir().unwrap();
    let remote = tempfile::tempdir().unwrap();

    let src = local.path().join("src");
    write_tree(&src);
    let up = remote.path().join("up");
    let out = env
        .run(&["cp", src.to_str().unwrap(), &format!("{id}:{}", up.display())])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // The summary line: bytes (more than none), time and rate.
    let summary = text(&out.stderr);
    let summary = summary.lines().last().unwrap_or_default();
    assert!(
        summary.starts_with("copied ") && summary.contains(" in ") && summary.contains("s"),
        "{summary}"
    );
    assert!(!summary.starts_with("copied 0 B"), "{summary}");
    let in_vm = |p: &Path| env.server.vm_path(&id, p).unwrap();
    assert_same_tree(&src, &in_vm(&up));

    let down = local.path().join("down");
    let copied = env
        .json(&["cp", &format!("{id}:{}", up.display()), down.to_str().unwrap()])
        .await;
    assert_eq!(copied["copied"], true);
    assert_same_tree(&src, &down);

    // A destination ending in / is a directory to copy into; -q: no summary line.
    let into = remote.path().join("into");
    std::fs::create_dir_all(in_vm(&into)).unwrap();
    let out = env
        .run(&[
            "cp",
            "-q",
            src.join("top.txt").to_str().unwrap(),
            &format!("{id}:{}/", into.display()),
        ])
        .await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stderr), "", "--quiet prints nothing");
    assert_eq!(
        std::fs::read_to_string(in_vm(&into.join("top.txt"))).unwrap(),
        "top level\n"
    );

    let missing = env
        .run(&["cp", &format!("{id}:{}/nope", remote.path().display()), "x"])
        .await;
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).starts_with("error: "));

    let both_local = env.run(&["cp", "a", "b"]).await;
    assert_eq!(both_local.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots() {
    let env = Env::start().await;
    let vm = env.launch().await;

    let snap = env.json(&["snapshot", "create", &vm, "--name", "golden"]).await;
    let snap_id = snap["id"].as_str().unwrap().to_string();
    assert_eq!(snap["name"], "golden");
    assert_eq!(snap["vmId"], vm.as_str());

    let table = env.ok(&["snapshot", "ls"]).await;
    assert!(
        table.lines().any(|l| l.starts_with(&snap_id) && l.contains("golden")),
        "{table}"
    );
    let list = env.json(&["snapshot", "ls"]).await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    assert_eq!(
        env.json(&["snapshot", "rename", &snap_id, "silver"]).await["name"],
        "silver"
    );
    assert_eq!(env.json(&["snapshot", "get", &snap_id]).await["name"], "silver");

    let restored = env
        .json(&["snapshot", "restore", &snap_id, "--name", "from-snap"])
        .await;
    assert_eq!(restored["status"], "running");
    assert_ne!(restored["id"], vm.as_str());
    assert_eq!(env.vm_ids().await.len(), 2);

    assert_eq!(
        env.run(&["snapshot", "rm", &snap_id]).await.status.code(),
        Some(1),
        "no terminal, no --yes"
    );
    let deleted = env.json(&["snapshot", "rm", "--yes", &snap_id]).await;
    assert_eq!(deleted[0]["deleted"], true);
    assert!(env.json(&["snapshot", "ls"]).await.as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_ssh_keys_and_firewall() {
    let env = Env::start().await;
    let vm = env.launch().await;

    let added = env.json(&["service", "add", &vm, "web", "8080"]).await;
    assert_eq!(added["port"], 8080);
    env.ok(&["service", "add", &vm, "grpc", "9090", "--h2c"]).await;
    let table = env.ok(&["service", "ls", &vm]).await;
    let rows: Vec<Vec<&str>> = table.lines().skip(1).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows, [["grpc", "9090", "true"], ["web", "8080", "false"]]);
    env.ok(&["service", "rm", &vm, "web"]).await;
    let list = env.json(&["service", "ls", &vm]).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "grpc");

    let key = env.json(&["ssh-key", "add", &vm, SSH_KEY, "--name", "laptop"]).await;
    assert_eq!(key["fingerprint"], SSH_FINGERPRINT);
    let table = env.ok(&["ssh-key", "ls", &vm]).await;
    assert!(table.contains(SSH_FINGERPRINT) && table.contains("laptop"), "{table}");
    env.ok(&["ssh-key", "rm", &vm, SSH_FINGERPRINT]).await;
    assert!(
        env.json(&["ssh-key", "ls", &vm]).await["keys"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // The user's keys (`--user`, upstream after the reference): not the VM's.
    let key = env.json(&["ssh-key", "add", "--user", SSH_KEY, "--name", "me"]).await;
    assert_eq!(key["fingerprint"], SSH_FINGERPRINT);
    let table = env.ok(&["ssh-key", "ls", "--user"]).await;
    assert!(table.contains(SSH_FINGERPRINT) && table.contains("me"), "{table}");
    assert!(
        env.json(&["ssh-key", "ls", &vm]).await["keys"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let both = env.run(&["ssh-key", "rm", "--user", &vm, SSH_FINGERPRINT]).await;
    assert_ne!(both.status.code(), Some(0), "a VM id with --user is refused");
    env.ok(&["ssh-key", "rm", "--user", SSH_FINGERPRINT]).await;
    assert!(
        env.json(&["ssh-key", "ls", "--user"]).await["keys"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.json");
    std::fs::write(
        &policy,
        r#"{"ingress":{"default":"deny","rules":[{"action":"allow","kind":"cidr","value":"10.0.0.0/8",
            "protocol":"tcp","ports":"22"}]}}"#,
    )
    .unwrap();
    env.ok(&["firewall", "set", &vm, policy.to_str().unwrap()]).await;
    let shown = env.json(&["firewall", "show", &vm]).await;
    assert_eq!(shown["ingress"]["rules"][0]["value"], "10.0.0.0/8");
    let shown_text = env.ok(&["firewall", "show", &vm]).await;
    assert!(shown_text.starts_with("ingress default: deny"), "{shown_text}");
    assert!(
        shown_text.lines().any(|l| l.contains("10.0.0.0/8") && l.contains("22")),
        "{shown_text}"
    );

    std::fs::write(&policy, r#"{"egress":{"default":"deny"}}"#).unwrap();
    let patched = env.json(&["firewall", "patch", &vm, policy.to_str().unwrap()]).await;
    assert_eq!(patched["egress"]["default"], "deny");
    assert_eq!(
        patched["ingress"]["rules"][0]["value"], "10.0.0.0/8",
        "patch keeps other blocks"
    );

    std::fs::write(&policy, "not json").unwrap();
    let bad = env.run(&["firewall", "set", &vm, policy.to_str().unwrap()]).await;
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad.stderr).contains("not a firewall policy"));
}

/// `fastvm bucket-mount` (upstream after the reference): credentials read from a file and
/// never printed, a mount listed, shown, rotated and removed; a bad key file refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_mounts_from_credential_files() {
    let env = Env::start().await;
    let vm = env.launch().await;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("reader.json");
    std::fs::write(
        &key,
        r#"{"type": "service_account", "project_id": "p", "client_email": "r@p.iam.gserviceaccount.com",
            "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEcliSecret\n-----END PRIVATE KEY-----\n"}"#,
    )
    .unwrap();
    let key = key.to_str().unwrap();

    let added = env
        .run(&[
            "--json",
            "bucket-mount",
            "add",
            &vm,
            "gs://datasets/2026",
            "/mnt/datasets",
            "--gcp-key",
            key,
            "--read-only",
        ])
        .await;
    assert_eq!(added.status.code(), Some(0), "{}", text(&added.stderr));
    let (out, err) = (text(&added.stdout), text(&added.stderr));
    assert!(
        !out.contains("MIIEcliSecret") && !err.contains("MIIEcliSecret"),
        "{out}{err}"
    );
    let mount: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (mount["mountPath"].as_str(), mount["readOnly"].as_bool()),
        (Some("/mnt/datasets"), Some(true))
    );
    let id = mount["id"].as_str().unwrap().to_string();

    let table = env.ok(&["bucket-mount", "ls", &vm]).await;
    assert!(
        table.contains(&id) && table.contains("gs://datasets/2026") && table.contains("mounted"),
        "{table}"
    );
    let aws = dir.path().join("credentials");
    std::fs::write(
        &aws,
        "[default]\naws_access_key_id = AKIA1\naws_secret_access_key = cliAwsSecret\n",
    )
    .unwrap();
    let rotated = env
        .run(&[
            "bucket-mount",
            "rotate",
            &vm,
            &id,
            "--aws-credentials",
            aws.to_str().unwrap(),
        ])
        .await;
    assert_eq!(rotated.status.code(), Some(0), "{}", text(&rotated.stderr));
    assert!(!text(&rotated.stdout).contains("cliAwsSecret"));
    assert_eq!(
        env.json(&["bucket-mount", "get", &vm, &id]).await["bucketUri"],
        "gs://datasets/2026"
    );

    // Exactly one credential source; a key file that is not one is named, never shown.
    let none = env.run(&["bucket-mount", "add", &vm, "s3://b", "/mnt/b"]).await;
    assert_eq!(none.status.code(), Some(2), "{}", text(&none.stderr));
    std::fs::write(dir.path().join("bad.json"), r#"{"private_key": "MIIEcliSecret"}"#).unwrap();
    let bad_key = dir.path().join("bad.json");
    let bad = env
        .run(&[
            "bucket-mount",
            "add",
            &vm,
            "gs://b",
            "/mnt/b",
            "--gcp-key",
            bad_key.to_str().unwrap(),
        ])
        .await;
    assert_eq!(bad.status.code(), Some(1));
    let err = text(&bad.stderr);
    assert!(err.contains("client_email") && !err.contains("MIIEcliSecret"), "{err}");

    let gone = env.ok(&["bucket-mount", "rm", &vm, &id]).await;
    assert_eq!(gone.trim(), format!("Deleted {id}"), "as every other rm");
    assert!(
        env.json(&["bucket-mount", "ls", &vm])
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volumes_are_created_attached_shared_detached_and_removed() {
    let env = Env::start().await;
    let (a, b) = (env.launch().await, env.launch().await);
    assert_eq!(env.ok(&["volume", "ls"]).await.trim(), "No volumes.");

    let vol = env.json(&["volume", "create", "shared", "--size", "2"]).await;
    assert_eq!(
        (vol["sizeGiB"].as_i64(), vol["accessMode"].as_str()),
        (Some(2), Some("rw"))
    );
    let id = vol["id"].as_str().unwrap().to_string();
    let table = env.ok(&["volume", "ls"]).await;
    assert!(
        table
            .lines()
            .nth(1)
            .is_some_and(|row| row.starts_with(&id) && row.contains("shared")),
        "{table}"
    );
    let renamed = env
        .json(&["volume", "update", &id, "--name", "data", "--size", "3"])
        .await;
    assert_eq!(
        (renamed["name"].as_str(), renamed["sizeGiB"].as_i64()),
        (Some("data"), Some(3))
    );
    assert!(env.ok(&["volume", "get", &id]).await.contains("data"));

    let att = env.json(&["volume", "attach", &a, &id, "/mnt/shared"]).await;
    assert_eq!(att["mountPath"], "/mnt/shared");
    let said = env
        .ok(&["volume", "attach", &b, &id, "/data/shared", "--read-only"])
        .await;
    assert!(said.contains("attached") && said.contains("/data/shared"), "{said}");
    let list = env.json(&["volume", "attachments", &id]).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    let table = env.ok(&["volume", "attachments", &id]).await;
    assert!(
        table.lines().any(|l| l.starts_with(&b) && l.contains("true")),
        "{table}"
    );

    // A bad mount path is refused by the SDK with the rule, and exits non-zero.
    let bad = env.run(&["volume", "attach", &a, &id, "/etc/x"]).await;
    assert_ne!(bad.status.code(), Some(0));
    assert!(text(&bad.stderr).contains("mountPath"), "{}", text(&bad.stderr));

    // A snapshot keeps its VM's attachment; restored once the volume is gone, the volume is
    // left out and the launch says so, on stderr and in `--json`.
    let snap = env.json(&["snapshot", "create", &a, "--name", "with-volume"]).await;
    let snap = snap["id"].as_str().unwrap().to_string();

    let done = env.json(&["volume", "detach", &a, &id]).await;
    assert_eq!(done["detached"], true);
    env.ok(&["volume", "detach", &b, &id]).await;
    assert_eq!(env.ok(&["volume", "attachments", &id]).await.trim(), "Not attached.");
    env.ok(&["volume", "rm", "-y", &id]).await;
    assert!(env.json(&["volume", "ls"]).await.as_array().unwrap().is_empty());

    let restored = env.run(&["snapshot", "restore", &snap]).await;
    assert_eq!(restored.status.code(), Some(0), "{}", text(&restored.stderr));
    let said = text(&restored.stderr);
    assert!(
        said.contains(&format!(
            "warning: the snapshot's volume {id} at /mnt/shared was left out"
        )),
        "{said}"
    );
    let restored = env.json(&["snapshot", "restore", &snap]).await;
    let skipped = &restored["attachmentWarnings"]["skippedSnapshotVolumes"];
    assert_eq!(skipped[0]["volumeId"], id.as_str(), "{restored}");
    assert_eq!(restored["status"], "running", "the VM's own fields stay at the top");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_health_and_configuration_errors() {
    let env = Env::start().await;

    assert_eq!(env.ok(&["health"]).await.trim(), "ok");
    assert!(env.json(&["health"]).await.is_object());

    env.launch().await;
    let quota = env.json(&["quota"]).await;
    assert!(quota["usage"]["vcpu"].as_i64().unwrap() >= 1);
    let table = env.ok(&["quota"]).await;
    assert!(table.lines().any(|l| l.starts_with("vcpu")), "{table}");
    let prices = env.json(&["pricing"]).await;
    assert!(
        prices["compute"]["tiers"].as_array().is_some_and(|t| !t.is_empty()),
        "{prices}"
    );
    let table = env.ok(&["pricing"]).await;
    assert!(
        table.contains("compute tier 1") && table.contains("per GiB-month"),
        "{table}"
    );

    // No key at all: refused before any request.
    let out = env
        .command(&["vm", "ls"])
        .env_remove("FASTVM_API_KEY")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no API key"), "{}", text(&out.stderr));

    // A wrong key: the server's 401 is reported, the key itself never is.
    let secret = "wrong-key-must-not-leak-7f3a";
    for args in [["--api-key", secret, "vm", "ls"], ["vm", "ls", "--api-key", secret]] {
        let out = env.run(&args).await;
        assert_eq!(out.status.code(), Some(1));
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(!stderr.contains(secret) && !stdout.contains(secret));
    }

    // Usage errors exit 2.
    assert_eq!(env.run(&["exec", "some-vm"]).await.status.code(), Some(2));
    assert_eq!(env.run(&["vm", "frobnicate"]).await.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_launches_are_waited_for() {
    let env = Env::with_boot_delay(std::time::Duration::from_millis(300)).await;

    let queued = env.json(&["vm", "launch", "--no-wait"]).await;
    assert_ne!(queued["status"], "running", "a boot delay answers 202 first");

    let id = env.launch().await; // asserts status running after the wait

    let out = env.run(&["run", "--", "echo", "booted"]).await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "booted\n");
    let left: Vec<String> = env.vm_ids().await;
    assert_eq!(left.len(), 2, "run deleted its own VM only: {left:?}");
    assert!(left.contains(&id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_lists_with_dry_run_and_deletes_without() {
    let env = Env::start().await;
    let launch = |name: &'static str, meta: &'static str| {
        let env = &env;
        async move {
            let vm = env.json(&["vm", "launch", "--name", name, "--meta", meta]).await;
            vm["id"].as_str().unwrap().to_string()
        }
    };
    let a = launch("sweep-a", "team=x").await;
    let b = launch("sweep-b", "team=x").await;
    let control = launch("control", "team=y").await;
    let snap = env.json(&["snapshot", "create", &a, "--name", "a-snap"]).await;
    let snap_id = snap["id"].as_str().unwrap().to_string();

    // --dry-run: a table of what would go, nothing deleted.
    let table = env
        .ok(&[
            "sweep",
            "--label",
            "team=x",
            "--older-than",
            "0s",
            "--snapshots",
            "--dry-run",
        ])
        .await;
    let mut lines = table.lines();
    assert!(lines.next().unwrap().starts_with("KIND"), "{table}");
    for (kind, id) in [("vm", &a), ("vm", &b), ("snapshot", &snap_id)] {
        assert!(
            table.lines().any(|l| l.starts_with(kind) && l.contains(id.as_str())),
            "{kind} {id} in {table}"
        );
    }
    assert!(!table.contains(&control), "{table}");
    assert!(table.contains("would delete 2 VMs and 1 snapshot"), "{table}");
    assert_eq!(env.vm_ids().await.len(), 3, "a dry run deletes nothing");

    // Snapshots only.
    let snaps = env
        .ok(&[
            "sweep",
            "--label",
            "team=x",
            "--older-than",
            "0s",
            "--snapshots-only",
            "--dry-run",
        ])
        .await;
    assert!(
        snaps.contains(snap_id.as_str()) && !snaps.contains(a.as_str()),
        "{snaps}"
    );
    assert!(snaps.contains("would delete 0 VMs and 1 snapshot"), "{snaps}");

    // Too young for --older-than 1h: nothing matches.
    let none = env
        .ok(&["sweep", "--label", "team=x", "--older-than", "1h", "-y"])
        .await;
    assert_eq!(none.trim(), "nothing to sweep");
    assert_eq!(env.vm_ids().await.len(), 3);

    // Without --dry-run and without a terminal to ask on, nothing is deleted without --yes.
    let refused = env.run(&["sweep", "--label", "team=x", "--older-than", "0s"]).await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stderr).contains("--yes"), "{}", text(&refused.stderr));
    assert_eq!(env.vm_ids().await.len(), 3);

    // With --yes it deletes, and --json reports it.
    let report = env
        .json(&[
            "sweep",
            "--label",
            "team=x",
            "--older-than",
            "0s",
            "--snapshots",
            "--yes",
        ])
        .await;
    assert_eq!(report["deleted"], true);
    assert_eq!(report["dryRun"], false);
    assert_eq!(report["vms"].as_array().unwrap().len(), 2);
    assert_eq!(report["snapshots"][0]["id"], snap_id.as_str());
    assert_eq!(report["errors"], serde_json::json!([]));
    assert_eq!(env.vm_ids().await, vec![control.clone()]);
    assert_eq!(env.json(&["snapshot", "ls"]).await, serde_json::json!([]));

    // By name prefix, as a table.
    launch("ci-1", "k=v").await;
    let out = env
        .ok(&["sweep", "--name-prefix", "ci-", "--older-than", "0", "-y"])
        .await;
    assert!(out.contains("deleted 1 VM and 0 snapshots"), "{out}");
    assert_eq!(env.vm_ids().await, vec![control]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_refuses_to_match_everything() {
    let env = Env::start().await;
    env.launch().await;
    for args in [
        &["sweep", "--older-than", "15m"][..],
        &["sweep", "--name-prefix", "", "--older-than", "15m"],
        &["sweep", "--label", "team=x"],
        &["sweep", "--label", "team=x", "--older-than", "15"],
        &["sweep", "--label", "nokey", "--older-than", "15m"],
    ] {
        let out = env.run(args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let out = env.run(&["sweep", "--older-than", "15m"]).await;
    assert!(text(&out.stderr).contains("--label"), "{}", text(&out.stderr));
    assert_eq!(env.vm_ids().await.len(), 1, "nothing was deleted");
}

/// `fastvm snapshot import` (a directory with a Dockerfile, or `--image`) and `fastvm snapshot
/// imports ls|get|cancel|rm` against the fake: a directory import waits until it succeeded; an
/// image import with `--no-wait` is pending, refused by `rm` while in flight, then cancelled and
/// removed; an import with no source is a usage error.
#[tokio::test]
async fn snapshot_imports_from_a_directory_and_an_image() {
    let env = Env {
        server: FakeServer::builder()
            .build_duration(std::time::Duration::from_secs(1))
            .start()
            .await
            .expect("start the fake"),
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM alpine:3\nCOPY app.txt /srv/\n").unwrap();
    std::fs::write(dir.path().join("app.txt"), "app").unwrap();
    let path = dir.path().to_str().unwrap();
    let done = env
        .json(&["snapshot", "import", path, "--name", "ctx", "--build-arg", "A=1"])
        .await;
    assert_eq!(
        (done["status"].as_str(), done["name"].as_str()),
        (Some("succeeded"), Some("ctx"))
    );
    let snapshot = done["snapshotId"].as_str().unwrap();
    assert_eq!(env.json(&["snapshot", "get", snapshot]).await["name"], "ctx");

    let pending = env
        .json(&["snapshot", "import", "--image", "alpine:3", "--no-wait"])
        .await;
    assert_eq!(pending["status"], "pending");
    let id = pending["id"].as_str().unwrap();
    let listed = env.json(&["snapshot", "imports", "ls"]).await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let table = env.ok(&["snapshot", "imports", "get", id]).await;
    assert!(table.contains("alpine:3") && table.contains("pending"), "{table}");
    let in_flight = env.run(&["snapshot", "imports", "rm", "-y", id]).await;
    assert_ne!(in_flight.status.code(), Some(0), "an import in flight is not removed");
    assert_eq!(
        env.json(&["snapshot", "imports", "cancel", id]).await["status"],
        "cancelled"
    );
    env.ok(&["snapshot", "imports", "rm", "-y", id]).await;
    assert_eq!(
        env.json(&["snapshot", "imports", "ls"]).await.as_array().unwrap().len(),
        1
    );

    let mut pending_ids = Vec::new();
    for _ in 0..2 {
        let pending = env
            .json(&["snapshot", "import", "--image", "alpine:3", "--no-wait"])
            .await;
        pending_ids.push(pending["id"].as_str().unwrap().to_string());
    }
    let cancelled = env
        .json(&["snapshot", "imports", "cancel", &pending_ids[0], &pending_ids[1]])
        .await;
    assert_eq!(
        cancelled.as_array().map(Vec::len),
        Some(2),
        "one JSON document: {cancelled}"
    );
    let no_value = env.run(&["snapshot", "import", path, "--build-arg", "A"]).await;
    assert_eq!(no_value.status.code(), Some(2), "{}", text(&no_value.stderr));

    let usage = env.run(&["snapshot", "import"]).await;
    assert_eq!(usage.status.code(), Some(2), "{}", text(&usage.stderr));
    let both = env.run(&["snapshot", "import", path, "--image", "alpine:3"]).await;
    assert_eq!(both.status.code(), Some(2), "{}", text(&both.stderr));
}
