//! `fastvm config` and the precedence of flags, environment variables and the configuration
//! file, with `HOME` and `XDG_CONFIG_HOME` pointed at temporary directories.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use fastvm_fake::FakeServer;

/// Runs `fastvm ARGS` with `home` as HOME, `xdg` (if any) as XDG_CONFIG_HOME, no FASTVM_*
/// variables but `env`.
async fn fastvm(home: &Path, xdg: Option<&Path>, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_fastvm"));
    c.args(args)
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("FASTVM_API_KEY")
        .env_remove("FASTVM_BASE_URL")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if let Some(xdg) = xdg {
        c.env("XDG_CONFIG_HOME", xdg);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().await.expect("spawn fastvm")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    text(&out.stdout)
}

fn default_file(home: &Path) -> PathBuf {
    home.join(".config/fastvm/config.toml")
}

#[tokio::test]
async fn set_get_list_unset_in_the_python_clis_format_never_showing_the_key() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let key = "hlm_0123456789abcdef_secret";

    let out = fastvm(h, None, &[], &["config", "set", "api_key", key]).await;
    let said = ok(&out);
    assert_eq!(said.trim(), "Set api_key = hlm_0123…");
    ok(&fastvm(
        h,
        None,
        &[],
        &["config", "set", "base_url", "http://127.0.0.1:9/a\"b\\c"],
    )
    .await);

    let file = default_file(h);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        format!("api_key = \"{key}\"\nbase_url = \"http://127.0.0.1:9/a\\\"b\\\\c\"\n"),
        "one sorted `key = \"value\"` per line, `\"` and `\\` escaped"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    for args in [
        &["config", "get", "api_key"][..],
        &["config", "get"],
        &["config", "list"],
    ] {
        let out = ok(&fastvm(h, None, &[], args).await);
        assert!(!out.contains("secret") && !out.contains("456789"), "{args:?}: {out}");
        assert!(out.contains("hlm_0123…"), "{args:?}: {out}");
    }
    let list = ok(&fastvm(h, None, &[], &["config", "list"]).await);
    assert_eq!(list, "  api_key = hlm_0123…\n  base_url = http://127.0.0.1:9/a\"b\\c\n");
    let json = ok(&fastvm(h, None, &[], &["config", "get", "--json"]).await);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["api_key"], "hlm_0123…");
    assert_eq!(
        ok(&fastvm(h, None, &[], &["config", "get", "base_url"]).await).trim(),
        "http://127.0.0.1:9/a\"b\\c"
    );
    assert_eq!(
        ok(&fastvm(h, None, &[], &["config", "path"]).await).trim(),
        file.display().to_string()
    );

    // Unknown keys are refused (exit status 1, as the Python CLI), and nothing is written.
    let out = fastvm(h, None, &[], &["config", "set", "region", "x"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("api_key, base_url"), "{}", text(&out.stderr));
    assert!(!std::fs::read_to_string(&file).unwrap().contains("region"));

    ok(&fastvm(h, None, &[], &["config", "unset", "api_key"]).await);
    assert_eq!(
        ok(&fastvm(h, None, &[], &["config", "get", "api_key"]).await).trim(),
        "(not set)"
    );
    ok(&fastvm(h, None, &[], &["config", "unset", "base_url"]).await);
    assert!(ok(&fastvm(h, None, &[], &["config", "list"]).await).starts_with("No configuration set."));
}

#[tokio::test]
async fn a_file_written_by_the_python_cli_is_read_and_kept() {
    let home = tempfile::tempdir().unwrap();
    let xdg = tempfile::tempdir().unwrap();
    let file = xdg.path().join("fastvm/config.toml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    // What the Python CLI writes (sorted, escaped), plus a key it would keep.
    std::fs::write(&file, "api_key = \"hlm_python_written_key\"\nother = true\n").unwrap();
    let out = ok(&fastvm(home.path(), Some(xdg.path()), &[], &["config", "list"]).await);
    assert!(out.contains("api_key = hlm_pyth…"), "{out}");
    ok(&fastvm(
        home.path(),
        Some(xdg.path()),
        &[],
        &["config", "set", "base_url", "http://x"],
    )
    .await);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "api_key = \"hlm_python_written_key\"\nbase_url = \"http://x\"\nother = true\n"
    );
    assert!(!default_file(home.path()).exists(), "XDG_CONFIG_HOME wins over HOME");
}

#[tokio::test]
async fn flags_then_environment_then_the_file() {
    let server = FakeServer::start().await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let url = server.base_url();
    let key = server.api_key();

    // No key anywhere: the error says where one can come from.
    let out = fastvm(h, None, &[], &["--base-url", url, "vm", "ls"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("fastvm config set api_key"),
        "{}",
        text(&out.stderr)
    );

    // The file alone is enough.
    ok(&fastvm(h, None, &[], &["config", "set", "api_key", key]).await);
    ok(&fastvm(h, None, &[], &["config", "set", "base_url", url]).await);
    assert_eq!(ok(&fastvm(h, None, &[], &["vm", "ls", "--json"]).await).trim(), "[]");

    // The environment beats the file: a wrong key there is used (and refused by the server).
    let wrong_key = [("FASTVM_API_KEY", "fake_wrong_key")];
    let out = fastvm(h, None, &wrong_key, &["vm", "ls"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("401"), "{}", text(&out.stderr));
    // ... and the flag beats the environment.
    ok(&fastvm(h, None, &wrong_key, &["--api-key", key, "vm", "ls"]).await);

    // The same for the base URL: a dead one in the environment is used, the flag beats it.
    let dead = [("FASTVM_BASE_URL", "http://127.0.0.1:1")];
    let out = fastvm(h, None, &dead, &["vm", "ls"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    ok(&fastvm(h, None, &dead, &["--base-url", url, "vm", "ls"]).await);
    // An empty variable counts as unset: the file's value is used.
    ok(&fastvm(
        h,
        None,
        &[("FASTVM_BASE_URL", ""), ("FASTVM_API_KEY", "")],
        &["vm", "ls"],
    )
    .await);

    // A broken file is an error naming the file, not its contents.
    std::fs::write(default_file(h), "api_key = \"hlm_broken_secret").unwrap();
    let out = fastvm(h, None, &[], &["vm", "ls"]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("config.toml") && !err.contains("hlm_broken"), "{err}");
    // ... unless flags and environment leave nothing to read from it.
    ok(&fastvm(h, None, &[], &["--api-key", key, "--base-url", url, "vm", "ls"]).await);
    server.shutdown().await;
}
