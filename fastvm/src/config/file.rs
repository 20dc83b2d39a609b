//! The official CLI's configuration file, `$XDG_CONFIG_HOME/fastvm/config.toml` (default
//! `~/.config/fastvm/config.toml`), shared by the Python CLI and the `fastvm` CLI of this
//! workspace, and read by the SDK only when asked
//! ([`ClientBuilder::config_file`](crate::ClientBuilder::config_file)).
//!
//! The format is the Python CLI's: flat TOML, one `key = "value"` per line, keys sorted,
//! `"` and `\` escaped. [`KEYS`] are the keys the CLIs set. The file is read and written with
//! `toml_edit`: any TOML is accepted, and what a person wrote by hand (comments, other keys,
//! tables, their order and spacing) is kept when a value is set or removed; only top-level
//! values are the file's keys.
//!
//! ```no_run
//! use fastvm::config_file::ConfigFile;
//!
//! # fn demo() -> fastvm::Result<()> {
//! let path = fastvm::config_file::default_path().expect("a home directory");
//! let mut file = ConfigFile::load(&path)?;
//! file.set("base_url", "http://127.0.0.1:8080");
//! file.save(&path)?; // created with mode 0600
//! # Ok(()) }
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The keys the CLIs know: `api_key` and `base_url`.
pub const KEYS: [&str; 2] = ["api_key", "base_url"];

/// `$XDG_CONFIG_HOME/fastvm/config.toml`, else `$HOME/.config/fastvm/config.toml` (an empty or
/// relative `XDG_CONFIG_HOME` is ignored, as the XDG specification says); `None` without a home
/// directory.
pub fn default_path() -> Option<PathBuf> {
    default_path_with(&|name| std::env::var_os(name))
}

pub(crate) fn default_path_with(env: &dyn Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
    let xdg = env("XDG_CONFIG_HOME").map(PathBuf::from).filter(|p| p.is_absolute());
    let base = match xdg {
        Some(dir) => dir,
        None => {
            let home = env("HOME")
                .or_else(|| if cfg!(windows) { env("USERPROFILE") } else { None })
                .map(PathBuf::from)
                .filter(|p| !p.as_os_str().is_empty())?;
            home.join(".config")
        }
    };
    Some(base.join("fastvm").join("config.toml"))
}

/// The contents of a configuration file: a TOML document, kept as written (comments, order,
/// tables, other keys) through `set` and `unset`. Its `Debug` output never shows the API key.
#[derive(Clone, Default)]
pub struct ConfigFile {
    doc: toml_edit::DocumentMut,
}

impl PartialEq for ConfigFile {
    /// The same text.
    fn eq(&self, other: &Self) -> bool {
        self.doc.to_string() == other.doc.to_string()
    }
}

impl fmt::Debug for ConfigFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in self.values() {
            if k == "api_key" {
                m.entry(&k, &"<redacted>");
            } else {
                match v.as_str() {
                    Some(s) => m.entry(&k, &s),
                    None => m.entry(&k, &v.to_string().trim()),
                };
            }
        }
        m.finish()
    }
}

impl ConfigFile {
    /// Reads the file at `path`; a file that does not exist is empty.
    pub fn load(path: &Path) -> Result<ConfigFile> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text).map_err(|e| Error::config(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ConfigFile::default()),
            Err(e) => Err(Error::config(format!("cannot read {}: {e}", path.display()))),
        }
    }

    /// Parses a file's text (TOML). Errors name the line, never its text: the parser's own
    /// message quotes the line, which may hold the key.
    pub fn parse(text: &str) -> std::result::Result<ConfigFile, String> {
        text.parse::<toml_edit::DocumentMut>()
            .map(|doc| ConfigFile { doc })
            .map_err(|e| {
                let line = e
                    .span()
                    .map_or(1, |span| text[..span.start.min(text.len())].matches('\n').count() + 1);
                // The message's first line names what is wrong ("invalid basic string",
                // "duplicate key"); the rest may quote the input.
                let what = e.message().lines().next().unwrap_or("invalid TOML").trim();
                let what = if what.is_empty() || what.contains('"') || what.contains('\'') {
                    "invalid TOML"
                } else {
                    what
                };
                format!("line {line}: {what}")
            })
    }

    /// The top-level values (a table's keys are not the file's keys).
    fn values(&self) -> impl Iterator<Item = (&str, &toml_edit::Value)> {
        self.doc.iter().filter_map(|(k, item)| Some((k, item.as_value()?)))
    }

    /// The string value of `key` (`None` when absent or not a string).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.doc.get(key)?.as_value()?.as_str()
    }

    /// Whether `key` is present but not a string.
    pub fn is_non_string(&self, key: &str) -> bool {
        self.doc.get(key).is_some_and(|item| item.as_str().is_none())
    }

    /// Sets `key` to the string `value`, written as the Python CLI writes it (a basic string,
    /// `"` and `\` escaped). A new key goes where the keys stay sorted if they were (the
    /// Python CLI's files are), else last.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        let value: String = value.into();
        let encoded = format!("\"{}\"", escape(&value));
        // Parsing the Python CLI's encoding keeps that representation (toml_edit would pick a
        // literal string for a value with `\` or `"`); it always parses, so the fallback is
        // only there not to panic.
        let mut new = encoded
            .parse::<toml_edit::Value>()
            .unwrap_or_else(|_| toml_edit::Value::from(value.as_str()));
        let was_sorted = self.is_sorted();
        match self.doc.get_mut(key).and_then(toml_edit::Item::as_value_mut) {
            Some(old) => {
                // Keep the comments and spacing around the old value.
                *new.decor_mut() = old.decor().clone();
                *old = new;
            }
            None => {
                self.doc.insert(key, toml_edit::Item::Value(new));
                if was_sorted {
                    self.doc.sort_values();
                }
            }
        }
    }

    /// Whether the top-level values are in key order.
    fn is_sorted(&self) -> bool {
        let keys: Vec<&str> = self.values().map(|(k, _)| k).collect();
        keys.windows(2).all(|w| w[0] <= w[1])
    }

    /// Removes `key`; whether it was there.
    pub fn unset(&mut self, key: &str) -> bool {
        self.doc.remove(key).is_some()
    }

    /// The keys present, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        let mut keys: Vec<&str> = self.values().map(|(k, _)| k).collect();
        keys.sort_unstable();
        keys.into_iter()
    }

    /// Whether the file has no keys.
    pub fn is_empty(&self) -> bool {
        self.values().next().is_none()
    }

    /// The file's text: as read, with the changes made (a file made here is in the Python CLI's
    /// format: `key = "value"` lines, sorted by key).
    pub fn to_toml(&self) -> String {
        self.doc.to_string()
    }

    /// Writes the file at `path`, creating its directory if needed, with mode 0600 on Unix
    /// (also when it existed with a wider mode: it holds an API key).
    ///
    /// The write is atomic: the text goes to a new file beside it, which then replaces `path`,
    /// so a failure (a full disk) leaves the old file whole.
    pub fn save(&self, path: &Path) -> Result<()> {
        let io = |what: &str, e: std::io::Error| Error::config(format!("cannot {what} {}: {e}", path.display()));
        let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
            Some(dir) => {
                let mut builder = std::fs::DirBuilder::new();
                builder.recursive(true);
                #[cfg(unix)]
                std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
                builder.create(dir).map_err(|e| io("create the directory of", e))?;
                dir
            }
            None => Path::new("."),
        };
        // A hidden sibling (same file system, so the rename is atomic), created 0600 on Unix and
        // removed when dropped unless it replaced `path`.
        let mut staging = tempfile::Builder::new()
            .prefix(".config.toml.")
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(|e| io("write", e))?;
        std::io::Write::write_all(&mut staging, self.to_toml().as_bytes()).map_err(|e| io("write", e))?;
        staging.as_file().sync_all().map_err(|e| io("write", e))?;
        staging.persist(path).map_err(|e| io("write", e.error))?;
        Ok(())
    }
}

/// Escapes a basic string's content as the Python CLI does (`\` and `"`), plus the control
/// characters TOML does not allow raw.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_python_cli_writes_and_writes_it_back_the_same() {
        let text = "api_key = \"hlm_a\\\"b\\\\c\"\nbase_url = \"http://127.0.0.1:8080\"\n";
        let file = ConfigFile::parse(text).unwrap();
        assert_eq!(file.get("api_key"), Some("hlm_a\"b\\c"));
        assert_eq!(file.get("base_url"), Some("http://127.0.0.1:8080"));
        assert_eq!(file.to_toml(), text);
        assert!(!format!("{file:?}").contains("hlm_a"), "{file:?}");
    }

    #[test]
    fn hand_written_toml_is_read_and_other_keys_are_kept() {
        let text =
            "# mine\n\"api_key\" = 'lit\\eral' # comment\n  timeout = 30\nflag=true\n[table]\napi_key = \"ignored\"\n";
        let mut file = ConfigFile::parse(text).unwrap();
        assert_eq!(file.get("api_key"), Some("lit\\eral"));
        assert_eq!(file.get("timeout"), None);
        assert!(file.is_non_string("timeout"));
        file.set("base_url", "https://x");
        assert!(file.unset("flag"));
        assert_eq!(file.keys().collect::<Vec<_>>(), ["api_key", "base_url", "timeout"]);
        // Everything written by hand is kept (the comments, the table, the order); the keys
        // were not sorted, so the new one goes last among the top-level values.
        assert_eq!(
            file.to_toml(),
            "# mine\n\"api_key\" = 'lit\\eral' # comment\n  timeout = 30\nbase_url = \"https://x\"\n[table]\napi_key = \"ignored\"\n"
        );
        // A changed value keeps its comment, and is written as the Python CLI writes it.
        file.set("api_key", "new\"key");
        assert!(
            file.to_toml()
                .starts_with("# mine\n\"api_key\" = \"new\\\"key\" # comment\n"),
            "{}",
            file.to_toml()
        );
        assert_eq!(
            ConfigFile::parse(&file.to_toml()).unwrap().get("api_key"),
            Some("new\"key")
        );
    }

    #[test]
    fn a_new_key_keeps_a_python_cli_file_sorted() {
        let mut file = ConfigFile::parse("base_url = \"http://x\"\n").unwrap();
        file.set("api_key", "k");
        assert_eq!(file.to_toml(), "api_key = \"k\"\nbase_url = \"http://x\"\n");
        let mut file = ConfigFile::default();
        file.set("base_url", "b");
        file.set("api_key", "a");
        assert_eq!(file.to_toml(), "api_key = \"a\"\nbase_url = \"b\"\n");
    }

    #[test]
    fn errors_name_the_line_and_never_the_value() {
        for bad in [
            "api_key \"sekrit\"",
            "api_key = \"sekrit",
            "api_key = \"\"\"sekrit",
            "api_key = \"sekrit\" trailing",
            "api_key = \"a\"\napi_key = \"sekrit\"",
            "[t]\nk = 1\n[t]\napi_key = \"sekrit\"",
            "= \"sekrit\"",
            "api_key = \"\\q sekrit\"",
        ] {
            let e = ConfigFile::parse(bad).unwrap_err();
            assert!(e.starts_with("line "), "{bad}: {e}");
            assert!(!e.contains("sekrit"), "{bad}: {e}");
        }
    }

    #[test]
    fn unicode_escapes_and_control_characters_round_trip() {
        let mut file = ConfigFile::default();
        file.set("base_url", "a\tb\u{1}é");
        let back = ConfigFile::parse(&file.to_toml()).unwrap();
        assert_eq!(back.get("base_url"), Some("a\tb\u{1}é"));
        assert_eq!(
            ConfigFile::parse("k = \"\\u00e9\\U0001F600\"").unwrap().get("k"),
            Some("é😀")
        );
    }

    #[test]
    fn the_default_path_follows_xdg() {
        use std::ffi::OsString;
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v))
        };
        let p = default_path_with(&env(&[("XDG_CONFIG_HOME", "/x/cfg"), ("HOME", "/home/u")]));
        assert_eq!(p, Some(PathBuf::from("/x/cfg/fastvm/config.toml")));
        let p = default_path_with(&env(&[("XDG_CONFIG_HOME", ""), ("HOME", "/home/u")]));
        assert_eq!(p, Some(PathBuf::from("/home/u/.config/fastvm/config.toml")));
        let p = default_path_with(&env(&[("XDG_CONFIG_HOME", "rel"), ("HOME", "/home/u")]));
        assert_eq!(p, Some(PathBuf::from("/home/u/.config/fastvm/config.toml")));
        assert_eq!(default_path_with(&env(&[])), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_new_file_is_private_and_its_directory_is_made() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/config.toml");
        let mut file = ConfigFile::default();
        file.set("api_key", "k");
        file.save(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(ConfigFile::load(&path).unwrap(), file);
        assert!(ConfigFile::load(&dir.path().join("missing.toml")).unwrap().is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn saving_over_a_readable_file_makes_it_private_and_leaves_no_staging_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "base_url = \"http://old\"\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut file = ConfigFile::load(&path).unwrap();
        file.set("api_key", "secret");
        file.save(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the key is never written into a world-readable file");
        let loaded = ConfigFile::load(&path).unwrap();
        assert_eq!(loaded.get("api_key"), Some("secret"));
        assert_eq!(loaded.get("base_url"), Some("http://old"));
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("config.toml")]);
    }

    #[cfg(unix)]
    #[test]
    fn a_failed_save_removes_its_staging_file() {
        let dir = tempfile::tempdir().unwrap();
        // The destination is a directory that is not empty: the staging file is written, the
        // rename over it fails.
        let path = dir.path().join("config.toml");
        std::fs::create_dir_all(path.join("inner")).unwrap();
        let mut file = ConfigFile::default();
        file.set("api_key", "new");
        let err = file.save(&path).unwrap_err();
        assert!(err.to_string().contains("config.toml"), "{err}");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("config.toml")]);
    }
}
