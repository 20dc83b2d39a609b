//! `fastvm console` in a real terminal: the binary runs in a tmux pane against an in-process
//! `fastvm_fake::FakeServer`, keys are typed with `send-keys` and the screen is read with
//! `capture-pane`.
//!
//! tmux is required (it is on the development machines and in CI). Without it these tests say
//! so on stderr and pass without running; with `FASTVM_REQUIRE_TMUX=1` they fail instead.

#![cfg(unix)]

use std::process::Command;
use std::time::Duration;

use fastvm_fake::FakeServer;

mod common;

use common::{Pane, process_with_args, tmux_available};

/// A fake with one running VM: (server, vm id).
async fn fake_with_vm() -> (FakeServer, String) {
    let server = FakeServer::start().await.expect("start the fake");
    let client = fastvm::FastvmClient::builder()
        .api_key(server.api_key())
        .base_url(server.base_url())
        .build()
        .unwrap();
    let vm = client
        .launch_vm(fastvm::launch::machine("c1m2"))
        .no_safety_ttl()
        .await
        .unwrap();
    (server, vm.release().id().to_string())
}

/// A shell script for the pane: the terminal's settings before, `fastvm ARGS`, its exit status,
/// and the settings after (to compare: the terminal must be restored).
fn script(server: &FakeServer, args: &str) -> String {
    format!(
        "stty -g > \"$STTY_FILE.before\"; echo PID=$$; \
         FASTVM_API_KEY='{key}' FASTVM_BASE_URL='{url}' '{bin}' {args}; echo \"EXIT=$?\"; \
         stty -g > \"$STTY_FILE.after\"; echo SAVED; sleep 600",
        key = server.api_key(),
        url = server.base_url(),
        bin = env!("CARGO_BIN_EXE_fastvm"),
    )
}

/// The pane's script with `STTY_FILE` set to a path in `dir`.
fn with_stty_file(dir: &std::path::Path, script: &str) -> String {
    format!("STTY_FILE='{}'; export STTY_FILE; {script}", dir.join("stty").display())
}

fn assert_restored(dir: &std::path::Path) {
    let before = std::fs::read_to_string(dir.join("stty.before")).unwrap();
    let after = std::fs::read_to_string(dir.join("stty.after")).unwrap();
    assert_eq!(before, after, "the terminal's settings were not restored");
}

/// Starts `fastvm <args>` in a `cols`×`rows` pane, with the terminal's settings saved to a file
/// in the returned directory when it ends, and waits until the console is attached.
fn attach(server: &FakeServer, args: &str, cols: u16, rows: u16) -> (tempfile::TempDir, Pane) {
    let dir = tempfile::tempdir().unwrap();
    let pane = Pane::start(&with_stty_file(dir.path(), &script(server, args)), cols, rows);
    pane.wait_for("Press Ctrl-] to detach");
    (dir, pane)
}

#[tokio::test(flavor = "multi_thread")]
async fn typed_commands_resizes_the_ctrl_c_hint_and_ctrl_bracket_detach() {
    if !tmux_available() {
        return;
    }
    let (server, vm) = fake_with_vm().await;
    let (dir, pane) = attach(&server, &format!("console {vm}"), 100, 30);

    // A typed command runs in the VM and its output appears.
    pane.type_line("echo typed-$((6*7))");
    pane.wait_for("typed-42");

    // The initial size, then a resize, reach the VM's terminal.
    pane.type_line("stty size; echo sized-$((10+1))");
    let screen = pane.wait_for("sized-11");
    assert!(screen.contains("30 100"), "initial size:\n{screen}");
    pane.resize(120, 40);
    std::thread::sleep(Duration::from_millis(300));
    pane.type_line("stty size; echo sized-$((20+2))");
    let screen = pane.wait_for("sized-22");
    assert!(screen.contains("40 120"), "after the resize:\n{screen}");

    // Two Ctrl-C within a second: the hint (and the VM's shell gets them).
    pane.send(&["C-c", "C-c"], false);
    pane.wait_for("(To disconnect, press Ctrl-])");

    // Ctrl-] detaches with status 0 and the terminal as it was.
    pane.send(&["C-]"], false);
    let screen = pane.wait_for("SAVED");
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(screen.contains(&format!("Detached from VM {vm}")), "{screen}");
    assert_restored(dir.path());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_terminal_is_restored_after_shell_exit_signals_launch_console_and_server_shutdown() {
    if !tmux_available() {
        return;
    }
    let (server, vm) = fake_with_vm().await;

    // The VM's shell exits: the server closes the console; status 0, terminal restored.
    let (dir, pane) = attach(&server, &format!("console {vm}"), 80, 24);
    pane.type_line("exit");
    let screen = pane.wait_for("SAVED");
    assert!(screen.contains("EXIT=0") && screen.contains("closed"), "{screen}");
    assert_restored(dir.path());
    drop(pane);

    // A signal while attached: 128 + its number, and the terminal restored. SIGHUP is the
    // terminal going away; SIGINT and SIGQUIT come from another process here (in raw mode the
    // keys that would send them reach the VM instead).
    for (signal, status) in [("TERM", 143), ("HUP", 129), ("INT", 130), ("QUIT", 131)] {
        let (dir, pane) = attach(&server, &format!("console {vm}"), 80, 24);
        let pid = process_with_args(&[env!("CARGO_BIN_EXE_fastvm"), "console", &vm])
            .unwrap_or_else(|| panic!("no `fastvm console {vm}` process"));
        assert!(
            Command::new("kill")
                .args([&format!("-{signal}"), &pid])
                .status()
                .unwrap()
                .success()
        );
        let screen = pane.wait_for("SAVED");
        assert!(screen.contains(&format!("EXIT={status}")), "SIG{signal}: {screen}");
        assert_restored(dir.path());
        drop(pane);
    }

    // `vm launch --console` attaches to the new VM.
    let (dir, pane) = attach(&server, "vm launch --machine c1m2 --console", 80, 24);
    pane.type_line("echo launched-$((2*21))");
    pane.wait_for("launched-42");
    pane.send(&["C-]"], false);
    let screen = pane.wait_for("SAVED");
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert_restored(dir.path());
    drop(pane);

    // The server going away mid-session: the CLI ends and restores the terminal.
    let (dir, pane) = attach(&server, &format!("console {vm}"), 80, 24);
    server.shutdown().await;
    let screen = pane.wait_for("SAVED");
    assert!(screen.contains("EXIT="), "{screen}");
    assert_restored(dir.path());
}
