//! The official CLI's configuration file, `$XDG_CONFIG_HOME/fastvm/config.toml` (default
//! `~/.config/fastvm/config.toml`), shared by the Python CLI and the `fastvm` CLI of this
//! workspace, and read by the SDK only when asked
//! ([`ClientBuilder::config_file`](crate::ClientBuilder::config_file)).
//!
//! The format is the Python CLI's: flat TOML, one `key = "value"` per line, keys sorted,
//! `"` and `\` escaped. [`KEYS`] are the keys the CLIs set; other keys are kept as they are.
//! Reading accepts the TOML a person is likely to write by hand in such a file (comments, bare
//! or quoted keys, basic and literal strings, numbers and booleans); a table header ends the
//! top-level keys, and multi-line values are refused.
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

use std::collections::BTreeMap;
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

/// A value of the file.
#[derive(Clone, PartialEq)]
enum Value {
    Str(String),
    /// Anything else (number, boolean, inline array...), as written.
    Raw(String),
}

/// The contents of a configuration file. Its `Debug` output never shows the API key.
#[derive(Clone, Default, PartialEq)]
pub struct ConfigFile {
    entries: BTreeMap<String, Value>,
}

impl fmt::Debug for ConfigFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in &self.entries {
            match v {
                _ if k == "api_key" => m.entry(k, &"<redacted>"),
                Value::Str(s) | Value::Raw(s) => m.entry(k, s),
            };
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

    /// Parses a file's text. Errors name the line, never its value.
    pub fn parse(text: &str) -> std::result::Result<ConfigFile, String> {
        let mut entries = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let at = |what: &str| format!("line {}: {what}", n + 1);
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line.starts_with('[') {
                // A table: what follows is not top-level.
                break;
            }
            let (key, rest) = parse_key(line).ok_or_else(|| at("expected `key = value`"))?;
            let rest = rest.trim_start();
            let rest = rest
                .strip_prefix('=')
                .ok_or_else(|| at("expected `=` after the key"))?
                .trim();
            let (value, tail) = parse_value(rest).map_err(&at)?;
            let tail = tail.trim();
            if !(tail.is_empty() || tail.starts_with('#')) {
                return Err(at("unexpected text after the value"));
            }
            if entries.insert(key, value).is_some() {
                return Err(at("a key defined twice"));
            }
        }
        Ok(ConfigFile { entries })
    }

    /// The string value of `key` (`None` when absent or not a string).
    pub fn get(&self, key: &str) -> Option<&str> {
        match self.entries.get(key) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// Whether `key` is present but not a string.
    pub fn is_non_string(&self, key: &str) -> bool {
        matches!(self.entries.get(key), Some(Value::Raw(_)))
    }

    /// Sets `key` to the string `value`.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.entries.insert(key.to_string(), Value::Str(value.into()));
    }

    /// Removes `key`; whether it was there.
    pub fn unset(&mut self, key: &str) -> bool {
        self.entries.remove(key).is_some()
    }

    /// The keys present, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// Whether the file has no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The file's text in the Python CLI's format: `key = "value"` lines, sorted by key.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        for (k, v) in &self.entries {
            let key = if !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
                k.clone()
            } else {
                format!("\"{}\"", escape(k))
            };
            match v {
                Value::Str(s) => out.push_str(&format!("{key} = \"{}\"\n", escape(s))),
                Value::Raw(r) => out.push_str(&format!("{key} = {r}\n")),
            }
        }
        out
    }

    /// Writes the file at `path`, creating its directory if needed, with mode 0600 on Unix
    /// (also when it existed with a wider mode: it holds an API key).
    ///
    /// The write is atomic: the text goes to a new file beside it, which then replaces `path`,
    /// so a failure (a full disk) leaves the old file whole.
    pub fn save(&self, path: &Path) -> Result<()> {
        let io = |what: &str, e: std::io::Error| Error::config(format!("cannot {what} {}: {e}", path.display()));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir).map_err(|e| io("create the directory of", e))?;
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let staging = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        let written = (|| {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&staging)?;
            std::io::Write::write_all(&mut file, self.to_toml().as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&staging, path)
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&staging);
            return Err(io("write", e));
        }
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

/// A key (bare or quoted; dotted keys are refused) and the rest of the line.
fn parse_key(line: &str) -> Option<(String, &str)> {
    if line.starts_with('"') || line.starts_with('\'') {
        let (v, rest) = parse_value(line).ok()?;
        match v {
            Value::Str(k) => Some((k, rest)),
            Value::Raw(_) => None,
        }
    } else {
        let end = line
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(line.len());
        (end > 0).then(|| (line[..end].to_string(), &line[end..]))
    }
}

/// A value at the start of `s` and what follows it.
fn parse_value(s: &str) -> std::result::Result<(Value, &str), &'static str> {
    if s.starts_with("\"\"\"") || s.starts_with("'''") {
        return Err("multi-line strings are not supported");
    }
    if let Some(body) = s.strip_prefix('\'') {
        let end = body.find('\'').ok_or("unterminated string")?;
        return Ok((Value::Str(body[..end].to_string()), &body[end + 1..]));
    }
    if let Some(body) = s.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => return Ok((Value::Str(out), &body[i + 1..])),
                '\\' => {
                    let (_, e) = chars.next().ok_or("unterminated string")?;
                    match e {
                        '"' => out.push('"'),
                        '\\' => out.push('\\'),
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'e' => out.push('\u{1b}'),
                        'u' | 'U' => {
                            let len = if e == 'u' { 4 } else { 8 };
                            let hex: String = chars.by_ref().take(len).map(|(_, c)| c).collect();
                            let code = u32::from_str_radix(&hex, 16).map_err(|_| "invalid escape")?;
                            out.push(char::from_u32(code).ok_or("invalid escape")?);
                        }
                        _ => return Err("invalid escape"),
                    }
                }
                c => out.push(c),
            }
        }
        return Err("unterminated string");
    }
    // A number, boolean, date or inline array/table: kept as written, up to a comment.
    let end = s.find('#').unwrap_or(s.len());
    let raw = s[..end].trim_end();
    if raw.is_empty() {
        return Err("a key without a value");
    }
    if raw.starts_with('[') && !raw.ends_with(']') || raw.starts_with('{') && !raw.ends_with('}') {
        return Err("multi-line values are not supported");
    }
    Ok((Value::Raw(raw.to_string()), &s[end..]))
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
        assert_eq!(
            file.to_toml(),
            "api_key = \"lit\\\\eral\"\nbase_url = \"https://x\"\ntimeout = 30\n"
        );
    }

    #[test]
    fn errors_name_the_line_and_never_the_value() {
        for bad in [
            "api_key \"sekrit\"",
            "api_key = \"sekrit",
            "api_key = \"\"\"sekrit",
            "api_key = \"sekrit\" trailing",
            "api_key = \"a\"\napi_key = \"sekrit\"",
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
