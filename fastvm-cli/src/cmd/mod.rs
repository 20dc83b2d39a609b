//! One module per command group, and what they share: the [`Ctx`] and the [`CliError`].

pub mod bucket_mount;
pub mod config;
pub mod console;
pub mod cp;
pub mod exec;
pub mod firewall;
pub mod output;
pub mod quota;
pub mod run;
pub mod service;
pub mod snapshot;
pub mod ssh_key;
pub mod sweep;
pub mod vm;
pub mod volume;

use std::fmt;
use std::io::Write as _;
use std::process::ExitCode;

use fastvm::FastvmClient;
use fastvm::types::DeleteResponse;

/// What every command needs: the client and the output mode.
pub struct Ctx {
    pub client: FastvmClient,
    pub json: bool,
}

impl Ctx {
    /// Builds the client from the flags (clap already folded in the environment variables),
    /// then the configuration file (`fastvm config`) for what they leave unset.
    pub fn new(api_key: Option<&str>, base_url: Option<&str>, json: bool) -> Result<Self> {
        let given = |v: Option<&str>| v.map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
        let (mut api_key, mut base_url) = (given(api_key), given(base_url));
        if (api_key.is_none() || base_url.is_none())
            && let Some(path) = fastvm::config_file::default_path()
        {
            let file = fastvm::config_file::ConfigFile::load(&path)?;
            api_key = api_key.or_else(|| given(file.get("api_key")));
            base_url = base_url.or_else(|| given(file.get("base_url")));
        }
        let api_key = api_key.ok_or_else(|| {
            CliError::Other(
                "no API key: pass --api-key, set FASTVM_API_KEY, or run `fastvm config set api_key KEY`".to_string(),
            )
        })?;
        let mut builder = FastvmClient::builder()
            .api_key(api_key)
            .user_agent(concat!("fastvm-cli/", env!("CARGO_PKG_VERSION")));
        // An empty FASTVM_BASE_URL means the default, as in the SDKs.
        if let Some(url) = base_url {
            builder = builder.base_url(url);
        }
        Ok(Ctx {
            client: builder.build()?,
            json,
        })
    }
}

/// Why a command failed. Messages never contain the API key or a presigned URL's signature:
/// SDK errors are already redacted, and nothing else here prints either.
#[derive(Debug)]
pub enum CliError {
    /// An SDK call failed.
    Api(fastvm::Error),
    /// The arguments make no sense together (exit status 2, like clap's own usage errors).
    Usage(String),
    /// Anything else (a local file that cannot be read, bad JSON input, ...).
    Other(String),
    /// The user answered no to a confirmation (exit status 1 and `Aborted!`, as the Python
    /// CLI's click prints).
    Aborted,
}

impl CliError {
    /// Prints `error: ...` to stderr and gives the exit status.
    pub fn report(self) -> ExitCode {
        if matches!(self, CliError::Aborted) {
            eprintln!("Aborted!");
            return ExitCode::from(1);
        }
        eprintln!("error: {self}");
        match self {
            CliError::Usage(_) => ExitCode::from(2),
            _ => ExitCode::from(1),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Api(e) => write!(f, "{e}"),
            CliError::Usage(m) | CliError::Other(m) => f.write_str(m),
            CliError::Aborted => f.write_str("aborted"),
        }
    }
}

impl From<fastvm::Error> for CliError {
    fn from(e: fastvm::Error) -> Self {
        CliError::Api(e)
    }
}

/// Result of a command: the process exit status on success.
pub type Result<T = u8, E = CliError> = std::result::Result<T, E>;

/// Parses `KEY=VALUE` (the value may be empty and may contain `=`).
pub fn parse_key_value(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

/// Reads a local file, or stdin for `-`.
pub fn read_input(path: &str) -> Result<Vec<u8>> {
    use std::io::Read as _;
    if path == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| CliError::Other(format!("reading stdin: {e}")))?;
        Ok(buf)
    } else {
        std::fs::read(path).map_err(|e| CliError::Other(format!("reading {path}: {e}")))
    }
}

/// Whether a question can be asked: the answer is read from stdin, so stdin must be a terminal.
pub fn can_ask() -> bool {
    use std::io::IsTerminal as _;
    std::io::stdin().is_terminal()
}

/// Asks `question` with `[y/N]` before a destructive action, unless `yes` (`-y`/`--yes`).
///
/// The question goes to stderr (stdout stays for results, `--json` included) and the answer is
/// read from the terminal on stdin; anything but `y`/`yes` aborts. Without a terminal nothing is
/// asked and nothing is done: a script must say `--yes` (the Python CLI's click reads the answer
/// from stdin, and an empty stdin aborts it too, exit status 1).
pub fn confirm(question: &str, yes: bool) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !can_ask() {
        return Err(CliError::Other(format!(
            "{} needs a confirmation and there is no terminal to ask on: pass --yes (-y) to go ahead",
            question.trim_end_matches('?')
        )));
    }
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{question} [y/N]: ");
    let _ = err.flush();
    drop(err);
    let mut answer = String::new();
    // An error or end of input (Ctrl-D) is a no.
    let _ = std::io::stdin().read_line(&mut answer);
    if is_yes(&answer) {
        Ok(())
    } else {
        Err(CliError::Aborted)
    }
}

/// [`confirm`] before an `rm` of `names`: `Delete volume ID and everything in it?` for one,
/// `Delete 2 volumes and everything in them: ID, ID?` for more, from `(noun, plural)` and
/// `(tail, plural tail)`.
pub fn confirm_delete(names: &[String], noun: (&str, &str), tail: (&str, &str), yes: bool) -> Result<()> {
    let question = match names {
        [one] => format!("Delete {} {one}{}?", noun.0, tail.0),
        many => format!("Delete {} {}{}: {}?", many.len(), noun.1, tail.1, many.join(", ")),
    };
    confirm(&question, yes)
}

/// `y` or `yes`, in any case, surrounding blanks ignored.
fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// `rm` of VMs or snapshots: deletes `ids` in order with `delete`, printing `Deleted ID` lines
/// as it goes (or, with `--json`, one array of the API's answers at the end). It stops at the
/// first failure, but prints what was already deleted before returning that error, so `--json`
/// never hides a partial deletion.
pub async fn delete_each<'a, F, Fut>(ctx: &Ctx, ids: &'a [String], mut delete: F) -> Result
where
    F: FnMut(&'a str) -> Fut,
    Fut: Future<Output = fastvm::Result<DeleteResponse>>,
{
    let mut answers = Vec::new();
    let mut failure = None;
    for id in ids {
        match delete(id).await {
            Ok(r) => {
                if !ctx.json {
                    output::print_out(&format!("Deleted {}", r.id));
                }
                answers.push(r);
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    // On failure with nothing deleted, stdout stays empty as for any other failed command.
    if ctx.json && (failure.is_none() || !answers.is_empty()) {
        output::json(&answers)?;
    }
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_parsing() {
        assert_eq!(parse_key_value("a=b").unwrap(), ("a".into(), "b".into()));
        assert_eq!(parse_key_value("a=").unwrap(), ("a".into(), "".into()));
        assert_eq!(parse_key_value("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(parse_key_value("=b").is_err());
        assert!(parse_key_value("ab").is_err());
    }

    #[test]
    fn only_y_or_yes_confirms() {
        for yes in ["y\n", "Y", " yes \n", "YES"] {
            assert!(is_yes(yes), "{yes:?}");
        }
        for no in ["", "\n", "n", "no", "yy", "ye", "sure"] {
            assert!(!is_yes(no), "{no:?}");
        }
        assert!(confirm("Delete everything?", true).is_ok(), "--yes asks nothing");
    }

    #[test]
    fn missing_key_is_an_error_that_names_the_variable() {
        let e = Ctx::new(None, None, false).err().unwrap();
        assert!(e.to_string().contains("FASTVM_API_KEY"));
        assert!(Ctx::new(Some("  "), None, false).is_err());
    }

    #[test]
    fn bad_base_url_error_does_not_echo_the_key() {
        let e = Ctx::new(Some("sekrit-key-123"), Some("ftp://x"), false).err().unwrap();
        assert!(!e.to_string().contains("sekrit"));
    }
}
