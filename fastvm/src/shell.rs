//! POSIX shell quoting: the one place that turns arbitrary strings into shell words.

/// Quotes `s` as one POSIX shell word (single quotes; embedded `'` becomes `'\''`).
///
/// ```
/// assert_eq!(fastvm::shell::quote("it's here"), r#"'it'\''s here'"#);
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

/// Joins `words` into one shell command line, quoting each.
pub fn join<I, S>(words: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    words
        .into_iter()
        .map(|w| quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
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
