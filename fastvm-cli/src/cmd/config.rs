//! `fastvm config set|get|unset|list|path`: the configuration file shared with the official
//! Python CLI (`$XDG_CONFIG_HOME/fastvm/config.toml`, default `~/.config/fastvm/config.toml`),
//! in its format. Flags and environment variables take precedence over the file.

use std::path::PathBuf;

use clap::Subcommand;
use fastvm::config_file::{ConfigFile, KEYS};

use super::{CliError, Result, output};

/// `config` subcommands.
#[derive(Subcommand)]
#[command(after_help = "Examples:\n  fastvm config set api_key hlm_...\n  fastvm config get")]
pub enum ConfigCmd {
    /// Set a value (keys: api_key, base_url)
    #[command(
        after_help = "Examples:\n  fastvm config set api_key hlm_...\n  fastvm config set base_url https://api.fastvm.org"
    )]
    Set {
        /// api_key or base_url
        key: String,
        /// The value (the API key is never printed back in full)
        value: String,
    },
    /// Show a value, or every value without KEY (the API key as its first characters only)
    #[command(after_help = "Examples:\n  fastvm config get\n  fastvm config get base_url")]
    Get {
        /// api_key or base_url
        key: Option<String>,
    },
    /// Remove a value
    #[command(after_help = "Examples:\n  fastvm config unset base_url")]
    Unset {
        /// api_key or base_url
        key: String,
    },
    /// Show every value (the API key as its first characters only)
    #[command(alias = "ls")]
    #[command(after_help = "Examples:\n  fastvm config list")]
    List,
    /// Print the configuration file's path
    #[command(after_help = "Examples:\n  fastvm config path\n  $EDITOR \"$(fastvm config path)\"")]
    Path,
}

// By hand, not derived: `config set api_key VALUE` must not reach a debug print.
impl std::fmt::Debug for ConfigCmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigCmd::Set { key, .. } => f
                .debug_struct("Set")
                .field("key", key)
                .field("value", &"<redacted>")
                .finish(),
            ConfigCmd::Get { key } => f.debug_struct("Get").field("key", key).finish(),
            ConfigCmd::Unset { key } => f.debug_struct("Unset").field("key", key).finish(),
            ConfigCmd::List => f.write_str("List"),
            ConfigCmd::Path => f.write_str("Path"),
        }
    }
}

/// The file's path, or why there is none.
pub fn path() -> Result<PathBuf> {
    fastvm::config_file::default_path()
        .ok_or_else(|| CliError::Other("no configuration directory: set HOME or XDG_CONFIG_HOME".to_string()))
}

/// What `get` and `list` show of a value: the API key as a prefix and `…`.
pub fn shown(key: &str, value: &str) -> String {
    if key != "api_key" {
        return value.to_string();
    }
    let chars = value.chars().count();
    // Eight characters, as the Python CLI shows; fewer of a short key, so that never the whole
    // key (nor most of it) is printed.
    let keep = if chars > 12 { 8 } else { chars / 3 };
    format!("{}…", value.chars().take(keep).collect::<String>())
}

fn known(key: &str) -> Result<()> {
    if KEYS.contains(&key) {
        Ok(())
    } else {
        // Exit status 1, as the Python CLI's (a click exception, not a usage error).
        Err(CliError::Other(format!(
            "unknown config key {key:?}; valid keys: {}",
            KEYS.join(", ")
        )))
    }
}

/// Runs a `config` subcommand (no API call, so no client).
pub fn run(json: bool, cmd: ConfigCmd) -> Result {
    let path = path()?;
    match cmd {
        ConfigCmd::Set { key, value } => {
            known(&key)?;
            if value.trim().is_empty() {
                return Err(CliError::Usage(format!(
                    "an empty {key}; use `fastvm config unset {key}`"
                )));
            }
            let mut file = ConfigFile::load(&path)?;
            file.set(&key, value.clone());
            file.save(&path)?;
            if !json {
                output::print_out(&format!("Set {key} = {}", shown(&key, &value)));
            }
            Ok(0)
        }
        ConfigCmd::Unset { key } => {
            known(&key)?;
            let mut file = ConfigFile::load(&path)?;
            if file.unset(&key) {
                file.save(&path)?;
                output::print_out(&format!("Unset {key}"));
            } else {
                output::print_out(&format!("{key} is not set"));
            }
            Ok(0)
        }
        ConfigCmd::Get { key: Some(key) } => {
            known(&key)?;
            let file = ConfigFile::load(&path)?;
            let value = file.get(&key).map(|v| shown(&key, v));
            if json {
                output::json(&serde_json::json!({ key: value }))?;
            } else {
                output::print_out(value.as_deref().unwrap_or("(not set)"));
            }
            Ok(0)
        }
        ConfigCmd::Get { key: None } | ConfigCmd::List => {
            let file = ConfigFile::load(&path)?;
            if json {
                let map: serde_json::Map<String, serde_json::Value> = file
                    .keys()
                    .filter_map(|k| Some((k.to_string(), shown(k, file.get(k)?).into())))
                    .collect();
                output::json(&map)?;
            } else if file.is_empty() {
                output::print_out("No configuration set. Use 'fastvm config set <key> <value>'.");
            } else {
                for k in file.keys() {
                    match file.get(k) {
                        Some(v) => output::print_out(&format!("  {k} = {}", shown(k, v))),
                        None => output::print_out(&format!("  {k} = (not a string)")),
                    }
                }
            }
            Ok(0)
        }
        ConfigCmd::Path => {
            output::print_out(&path.display().to_string());
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_shown_as_a_prefix_only() {
        assert_eq!(shown("api_key", "hlm_0123456789abcdef"), "hlm_0123…");
        assert_eq!(shown("api_key", "short-key"), "sho…");
        assert_eq!(shown("api_key", "ab"), "…");
        assert_eq!(shown("base_url", "http://x"), "http://x");
    }
}
