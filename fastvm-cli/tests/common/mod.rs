//! What the tests that run the binary in a real terminal share: a tmux pane of their own.
//!
//! tmux is required (it is on the development machines and in CI). Without it these tests say
//! so on stderr and pass without running; with `FASTVM_REQUIRE_TMUX=1` they fail instead.

#![allow(dead_code)] // each test crate uses a part

use std::process::Command;
use std::time::{Duration, Instant};

/// Whether tmux can run here; prints why not.
pub fn tmux_available() -> bool {
    let found = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        let msg = "SKIPPED: `tmux` is not installed, so the console tests in a real terminal did not run";
        assert!(std::env::var_os("FASTVM_REQUIRE_TMUX").is_none(), "{msg}");
        eprintln!("{msg}");
    }
    found
}

/// The pid of a process whose command line starts with `args` (from `/proc`, so that no
/// `pgrep` is needed).
pub fn process_with_args(args: &[&str]) -> Option<String> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid = entry.file_name().to_string_lossy().into_owned();
        pid.parse::<u32>().ok()?;
        let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
        let mut parts = cmdline.split(|b| *b == 0);
        args.iter().all(|a| parts.next() == Some(a.as_bytes())).then_some(pid)
    })
}

/// A tmux server of its own (its own socket) with one session running `script`; killed when
/// dropped.
pub struct Pane {
    socket: String,
}

impl Pane {
    pub fn start(script: &str, cols: u16, rows: u16) -> Pane {
        let socket = format!("fastvm-cli-test-{}-{}", std::process::id(), rand_suffix());
        let pane = Pane { socket };
        let status = pane
            .tmux()
            .args(["-f", "/dev/null", "new-session", "-d", "-s", "t"])
            .args(["-x", &cols.to_string(), "-y", &rows.to_string()])
            .args(["sh", "-c", script])
            .status()
            .expect("run tmux");
        assert!(status.success(), "tmux new-session failed");
        // Keep the pane (and its screen) after the command exits.
        let _ = pane
            .tmux()
            .args(["set-option", "-t", "t", "remain-on-exit", "on"])
            .status();
        pane
    }

    pub fn tmux(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }

    /// Types `keys` (tmux key names, e.g. `Enter`, `C-]`) or, with `literal`, text.
    pub fn send(&self, keys: &[&str], literal: bool) {
        let mut c = self.tmux();
        c.args(["send-keys", "-t", "t"]);
        if literal {
            c.arg("-l");
        }
        assert!(c.args(keys).status().unwrap().success(), "send-keys {keys:?}");
    }

    pub fn type_line(&self, line: &str) {
        self.send(&[line], true);
        self.send(&["Enter"], false);
    }

    /// The visible screen plus its scrollback.
    pub fn screen(&self) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-J", "-S", "-200", "-t", "t"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits (20 s at most) until the screen contains `needle`; the screen.
    pub fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.screen();
            if screen.contains(needle) {
                return screen;
            }
            assert!(Instant::now() < deadline, "no {needle:?} on the screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn resize(&self, cols: u16, rows: u16) {
        let status = self
            .tmux()
            .args([
                "resize-window",
                "-t",
                "t",
                "-x",
                &cols.to_string(),
                "-y",
                &rows.to_string(),
            ])
            .status()
            .unwrap();
        assert!(status.success(), "resize-window");
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").status();
    }
}

pub fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish()
}
