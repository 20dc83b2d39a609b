//! `fastvm completions SHELL`: a script for each shell, with no API key or configuration needed;
//! the bash one is loaded into a real bash when there is one.

use std::process::{Command, Output};

fn completions(shell: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fastvm"))
        .args(["completions", shell])
        .env_remove("FASTVM_API_KEY")
        .env("HOME", "/nonexistent-home-for-completions")
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .expect("spawn fastvm")
}

#[test]
fn a_script_for_each_shell() {
    // Each shell's own way of registering the completion, then words only the whole command
    // tree has (a nested subcommand and a flag of one).
    for (shell, marker) in [
        ("bash", "complete -F _fastvm"),
        ("zsh", "#compdef fastvm"),
        ("fish", "complete -c fastvm"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[fastvm]"),
    ] {
        let out = completions(shell);
        let script = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(script.contains(marker), "{shell}: no {marker:?}");
        for word in ["snapshot", "restore", "no-console", "older-than", "completions"] {
            assert!(script.contains(word), "{shell}: no {word:?}");
        }
    }
    assert_eq!(
        completions("tcsh").status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

#[cfg(unix)]
#[test]
fn bash_loads_the_script_and_completes_subcommands() {
    if Command::new("bash").arg("--version").output().is_err() {
        eprintln!("SKIPPED: no bash");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fastvm.bash");
    std::fs::write(&path, completions("bash").stdout).unwrap();
    // Completes `fastvm sn<TAB>` through the generated function, as bash would.
    let probe = format!(
        "source '{}' && complete -p fastvm && COMP_WORDS=(fastvm sn) COMP_CWORD=1 COMP_LINE='fastvm sn' \
         COMP_POINT=9 && _fastvm fastvm sn fastvm && printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        path.display()
    );
    let out = Command::new("bash").args(["-c", &probe]).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("-F _fastvm fastvm"), "{said}");
    assert!(
        said.lines().any(|l| l == "snapshot"),
        "`fastvm sn<TAB>` completes to snapshot:\n{said}"
    );
}
