//! The official Python CLI's (0.7.0) command forms, run through this binary against an in-process
//! `fastvm_fake::FakeServer`: each form must parse and mean the same, with the same exit status,
//! and print what a script of that CLI reads. The confirmations of destructive commands are
//! tried in a real terminal (a tmux pane).

use std::process::{Output, Stdio};

use fastvm_fake::FakeServer;
use serde_json::Value;

#[cfg(unix)]
mod common;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

async fn fastvm(server: &FakeServer, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_fastvm"))
        .args(args)
        .env("FASTVM_BASE_URL", server.base_url())
        .env("FASTVM_API_KEY", server.api_key())
        .env_remove("FASTVM_LOG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("spawn fastvm")
}

async fn vm_ids(server: &FakeServer) -> Vec<String> {
    let out = fastvm(server, &["--json", "vm", "ls"]).await;
    let list: Value = serde_json::from_slice(&out.stdout).expect("vm ls --json");
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect()
}

/// What a row of the table expects of stdout.
enum Expect {
    /// Contains every one of these.
    Contains(&'static [&'static str]),
    /// Is exactly this.
    Is(&'static str),
    /// Is JSON where each pointer has this value.
    Json(&'static [(&'static str, &'static str)]),
    /// Anything (the exit status is what matters).
    Any,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_clis_command_forms_work_with_the_same_exit_status() {
    let server = FakeServer::start().await.expect("start the fake");
    // `launch` without --no-console and without a terminal launches and says how to attach.
    let out = fastvm(&server, &["--json", "launch", "-m", "c1m2", "-n", "py-vm"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("fastvm console"), "{}", text(&out.stderr));
    let vm: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = vm["id"].as_str().unwrap().to_string();
    let snap: Value = serde_json::from_slice(
        &fastvm(&server, &["--json", "snapshot", "create", &id, "-n", "py-snap"])
            .await
            .stdout,
    )
    .unwrap();
    let snap_id = snap["id"].as_str().unwrap().to_string();

    // (arguments with VM / SNAP for the ids, exit status, stdout)
    let table: &[(&[&str], i32, Expect)] = &[
        (
            &[
                "launch",
                "--machine",
                "c1m2",
                "--name",
                "second",
                "--disk-gib",
                "12",
                "--no-console",
            ],
            0,
            Expect::Contains(&["second", "running"]),
        ),
        (
            &["vm", "launch", "-m", "c1m2", "-n", "third"],
            0,
            Expect::Contains(&["third", "running"]),
        ),
        (
            &["vm", "ls"],
            0,
            Expect::Contains(&["ID", "NAME", "MACHINE", "STATUS", "IPv6", "CREATED", "py-vm"]),
        ),
        (&["--json", "vm", "ls"], 0, Expect::Json(&[("/0/status", "running")])),
        (&["vm", "get", "VM"], 0, Expect::Contains(&["py-vm", "running"])),
        (&["--json", "vm", "get", "VM"], 0, Expect::Json(&[("/name", "py-vm")])),
        (
            &["vm", "rename", "VM", "py-renamed"],
            0,
            Expect::Contains(&["py-renamed"]),
        ),
        // exec: the Python form (one shell line, or words joined into one) and ours (argv).
        (&["exec", "VM", "echo $((6*7)) | tr 4 X"], 0, Expect::Is("X2\n")),
        (&["vm", "exec", "VM", "echo", "hi"], 0, Expect::Is("hi\n")),
        (&["exec", "VM", "ls", "-d", "/"], 0, Expect::Is("/\n")),
        (&["exec", "VM", "exit 3"], 3, Expect::Is("")),
        (&["vm", "exec", "--timeout", "1", "VM", "sleep 30"], 137, Expect::Is("")),
        (
            &["--json", "exec", "VM", "echo hi"],
            0,
            Expect::Json(&[("/stdout", "hi\n")]),
        ),
        (&["firewall", "get", "VM"], 0, Expect::Any),
        (
            &[
                "firewall",
                "set",
                "VM",
                "--mode",
                "restricted",
                "-r",
                "tcp:80",
                "-r",
                "udp:5000-5010",
            ],
            0,
            Expect::Contains(&["ingress default: deny", "5000-5010"]),
        ),
        (
            &["--json", "firewall", "get", "VM"],
            0,
            Expect::Json(&[
                ("/ingress/default", "deny"),
                ("/ingress/rules/0/ports", "80"),
                ("/ingress/rules/0/protocol", "tcp"),
            ]),
        ),
        (
            &["--json", "firewall", "patch", "VM", "--mode", "open"],
            0,
            Expect::Json(&[("/ingress/default", "allow"), ("/ingress/rules/2/ports", "5000-5010")]),
        ),
        (
            &["--json", "firewall", "patch", "VM", "-r", "tcp:443"],
            0,
            Expect::Json(&[("/ingress/default", "allow"), ("/ingress/rules/0/ports", "443")]),
        ),
        (&["firewall", "set", "VM", "-r", "tcp:80"], 2, Expect::Is("")),
        (
            &["firewall", "set", "VM", "--mode", "open", "-r", "icmp:1"],
            2,
            Expect::Is(""),
        ),
        (
            &["snapshot", "ls"],
            0,
            Expect::Contains(&["ID", "NAME", "VM", "STATUS", "CREATED", "py-snap"]),
        ),
        (
            &["snapshot", "rename", "SNAP", "py-snap-2"],
            0,
            Expect::Contains(&["py-snap-2"]),
        ),
        (
            &["--json", "snapshot", "restore", "SNAP", "-n", "restored"],
            0,
            Expect::Json(&[("/name", "restored"), ("/status", "running")]),
        ),
        (&["quota"], 0, Expect::Any),
        (&["--json", "quota"], 0, Expect::Any),
        (
            &["run", "-m", "c1m2", "-n", "eph", "echo", "ran"],
            0,
            Expect::Is("ran\n"),
        ),
        (&["run", "--timeout", "30", "exit 4"], 4, Expect::Is("")),
        // Destructive commands without a terminal: refused without -y (click's confirm aborts
        // on an empty stdin too), done with it.
        (&["snapshot", "rm", "SNAP"], 1, Expect::Is("")),
        (&["snapshot", "rm", "SNAP", "-y"], 0, Expect::Contains(&["Deleted"])),
        (&["rm", "VM"], 1, Expect::Is("")),
        (&["vm", "rm", "VM"], 1, Expect::Is("")),
        (&["rm", "nonexistent-vm", "-y"], 1, Expect::Is("")),
        (&["vm", "frobnicate"], 2, Expect::Is("")),
        (&["exec", "VM"], 2, Expect::Is("")),
        (&["rm", "VM", "--yes"], 0, Expect::Contains(&["Deleted"])),
    ];
    for (args, status, expect) in table {
        let args: Vec<&str> = args
            .iter()
            .map(|a| match *a {
                "VM" => id.as_str(),
                "SNAP" => snap_id.as_str(),
                other => other,
            })
            .collect();
        let out = fastvm(&server, &args).await;
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(
            out.status.code(),
            Some(*status),
            "fastvm {args:?}\nstdout: {stdout}\nstderr: {stderr}"
        );
        match expect {
            Expect::Contains(needles) => {
                for n in *needles {
                    assert!(stdout.contains(n), "fastvm {args:?}: no {n:?} in\n{stdout}");
                }
            }
            Expect::Is(exact) => assert_eq!(stdout, *exact, "fastvm {args:?}: {stderr}"),
            Expect::Json(pointers) => {
                let v: Value =
                    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("fastvm {args:?}: {e}: {stdout}"));
                for (pointer, want) in *pointers {
                    assert_eq!(
                        v.pointer(pointer).and_then(Value::as_str),
                        Some(*want),
                        "fastvm {args:?}: {pointer} in {v}"
                    );
                }
            }
            Expect::Any => {}
        }
        if *status == 1 && args.contains(&"rm") && !args.iter().any(|a| a.starts_with('-')) {
            assert!(
                stderr.contains("--yes"),
                "fastvm {args:?} says how to go ahead: {stderr}"
            );
        }
    }
    assert!(!vm_ids(&server).await.contains(&id), "`rm VM --yes` deleted it");
    server.shutdown().await;
}

/// On a terminal, `vm rm`, `rm`, `snapshot rm` and `sweep` ask `[y/N]`; anything but yes leaves
/// everything in place with exit status 1 (`Aborted!`), yes deletes.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destructive_commands_ask_on_a_terminal() {
    use common::Pane;

    if !common::tmux_available() {
        return;
    }
    let server = FakeServer::start().await.expect("start the fake");
    let launch = |name: &'static str| {
        let server = &server;
        async move {
            let out = fastvm(server, &["--json", "vm", "launch", "-n", name, "--meta", "job=confirm"]).await;
            let vm: Value = serde_json::from_slice(&out.stdout).unwrap();
            vm["id"].as_str().unwrap().to_string()
        }
    };
    let a = launch("ask-a").await;
    let b = launch("ask-b").await;

    // `fastvm ARGS` in a pane, then its exit status on the screen.
    let pane = |args: String| {
        let script = format!(
            "FASTVM_API_KEY='{key}' FASTVM_BASE_URL='{url}' '{bin}' {args}; echo \"EXIT=$?\"; sleep 600",
            key = server.api_key(),
            url = server.base_url(),
            bin = env!("CARGO_BIN_EXE_fastvm"),
        );
        Pane::start(&script, 200, 30)
    };

    // No: nothing deleted, exit 1.
    let p = pane(format!("vm rm {a}"));
    let screen = p.wait_for("[y/N]");
    assert!(screen.contains(&format!("Delete VM {a} (ask-a)?")), "{screen}");
    p.type_line("n");
    let screen = p.wait_for("EXIT=");
    assert!(screen.contains("Aborted!") && screen.contains("EXIT=1"), "{screen}");
    assert_eq!(vm_ids(&server).await.len(), 2);
    drop(p);

    // An empty answer is a no.
    let p = pane(format!("rm {a}"));
    p.wait_for("[y/N]");
    p.send(&["Enter"], false);
    assert!(p.wait_for("EXIT=").contains("EXIT=1"));
    assert_eq!(vm_ids(&server).await.len(), 2);
    drop(p);

    // Yes: deleted.
    let p = pane(format!("rm {a}"));
    p.wait_for("[y/N]");
    p.type_line("y");
    let screen = p.wait_for("EXIT=");
    assert!(
        screen.contains(&format!("Deleted {a}")) && screen.contains("EXIT=0"),
        "{screen}"
    );
    assert_eq!(vm_ids(&server).await, vec![b.clone()]);
    drop(p);

    // -y: no question.
    let snap = fastvm(&server, &["--json", "snapshot", "create", &b]).await;
    let snap: Value = serde_json::from_slice(&snap.stdout).unwrap();
    let snap = snap["id"].as_str().unwrap().to_string();
    let p = pane(format!("snapshot rm -y {snap}"));
    let screen = p.wait_for("EXIT=");
    assert!(!screen.contains("[y/N]") && screen.contains("EXIT=0"), "{screen}");
    drop(p);

    // sweep: the table, then the question; no keeps everything.
    let p = pane("sweep --label job=confirm --older-than 0s".to_string());
    let screen = p.wait_for("[y/N]");
    assert!(
        screen.contains(&b) && screen.contains("Delete 1 VM and 0 snapshots?"),
        "{screen}"
    );
    p.type_line("no");
    assert!(p.wait_for("EXIT=").contains("EXIT=1"));
    assert_eq!(vm_ids(&server).await, vec![b.clone()]);
    drop(p);
    let p = pane("sweep --label job=confirm --older-than 0s".to_string());
    p.wait_for("[y/N]");
    p.type_line("yes");
    let screen = p.wait_for("EXIT=");
    assert!(
        screen.contains("deleted 1 VM and 0 snapshots") && screen.contains("EXIT=0"),
        "{screen}"
    );
    assert!(vm_ids(&server).await.is_empty());
    server.shutdown().await;
}
