//! POSIX shell quoting: the one place that turns arbitrary strings into shell words.

/// Quotes `s` as one POSIX shell word (single quotes; an embedded `'` becomes `'\''`), for
/// building a shell command line from arbitrary strings. Public as
/// [`fastvm::exec::shell_quote`](crate::exec::shell_quote).
///
/// ```
/// use fastvm::exec::shell_quote;
/// assert_eq!(shell_quote("it's here"), r#"'it'\''s here'"#);
/// let line = format!("grep -r {} /srv", shell_quote("a b; rm -rf /"));
/// assert_eq!(line, "grep -r 'a b; rm -rf /' /srv");
/// ```
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// `s` as one shell word, quoted only when it needs to be (for readable messages).
pub(crate) fn quote_if_needed(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b));
    if plain { s.to_string() } else { quote(s) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_survive_sh() {
        for s in [
            "plain",
            "",
            "with space",
            "it's",
            "$(rm -rf /)",
            "a\nb",
            "`x`",
            "\"q\"",
            "ü ñ",
        ] {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf %s {}", quote(s)))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), s);
        }
    }
}
