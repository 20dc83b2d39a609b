//! Redaction of what the SDK prints: URLs (through the one URL redaction, in
//! `fastvm_api::secret_debug`), secret query parameters written without their URL, the
//! client's own secrets wherever a server echoes them, secret members of JSON bodies, values
//! quoted by decoders; and the escaping that keeps text from outside on one line.
//!
//! Presigned storage URLs carry their signature in the query string, and a base URL could carry
//! credentials in its userinfo. Everything the SDK prints about a URL goes through [`url()`](fn@url).

use std::borrow::Cow;
use std::fmt;

/// What is shown instead of a secret.
pub(crate) const REDACTED: &str = "<redacted>";

/// Known secrets shorter than this are not looked for in text: they would mangle it (a real
/// API key or console token is much longer).
const MIN_SECRET: usize = 8;

/// Returns `raw` without its query string, fragment and userinfo, for error messages and logs:
/// the same redaction as the wire types' `Debug` (`fastvm_api::secret_debug::url`).
///
/// Unparseable input is cut at the first `?` or `#` so that nothing after it can leak.
/// (`https://store.example/o/abc?X-Amz-Signature=secret` becomes
/// `https://store.example/o/abc?<redacted>`.)
pub(crate) fn url(raw: &str) -> String {
    fastvm_api::secret_debug::url(raw)
}

/// Redacts every `http(s)://` URL inside free text (for example a VM-side `curl` error
/// message that echoes the presigned URL it was given), and the value of every secret query
/// parameter written without its URL (`X-Amz-Signature=…`, `sig=…`, `session=…`; see
/// [`secret_parameters`]).
pub(crate) fn text(s: &str) -> String {
    secret_parameters(&urls(s))
}

/// [`text`], and the client's own `secrets` (its API key, a console token) wherever they
/// appear: a server may echo them in its error text. For every message built from text a
/// server sent.
pub(crate) fn remote(s: &str, secrets: &[&str]) -> String {
    known(&text(s), secrets)
}

/// `s` with every one of `secrets` (those of [`MIN_SECRET`] characters or more) replaced.
pub(crate) fn known(s: &str, secrets: &[&str]) -> String {
    let mut out = s.to_string();
    for secret in secrets.iter().filter(|v| v.len() >= MIN_SECRET) {
        if out.contains(secret) {
            out = out.replace(secret, REDACTED);
        }
    }
    out
}

/// Whether a query parameter (or `name=value` pair in free text) called `name` carries a
/// secret: a signature, credential, token, session, key, secret or password, under the names
/// presigned URLs of S3, GCS and Azure and the console's WebSocket URL use.
fn is_secret_parameter(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    const ENDINGS: [&str; 10] = [
        "signature",
        "sig",
        "credential",
        "token",
        "secret",
        "password",
        "apikey",
        "api-key",
        "api_key",
        "accesskeyid",
    ];
    ENDINGS.iter().any(|e| name.ends_with(e)) || matches!(name.as_str(), "session" | "key" | "policy")
}

/// The value of every secret `name=value` pair (see [`is_secret_parameter`]) in `s`, with or
/// without a URL around it, becomes `<redacted>`; the name stays, to tell what was there. A
/// value ends at `&`, whitespace, a quote or a bracket.
pub(crate) fn secret_parameters(s: &str) -> String {
    let is_name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let ends_value = |c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '&' | '"' | '\'' | '`' | '<' | '>' | '#' | ',' | ';' | '(' | ')' | '[' | ']' | '{' | '}' | '\\'
            )
    };
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(eq) = rest.find('=') {
        let (before, after) = (&rest[..eq], &rest[eq + 1..]);
        let name_start = before
            .char_indices()
            .rev()
            .take_while(|&(_, c)| is_name(c))
            .last()
            .map_or(before.len(), |(i, _)| i);
        let name = &before[name_start..];
        let value_len = after.find(ends_value).unwrap_or(after.len());
        out.push_str(before);
        out.push('=');
        if !name.is_empty() && value_len > 0 && is_secret_parameter(name) {
            out.push_str(REDACTED);
            rest = &after[value_len..];
        } else {
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Every `http(s)://` URL in `s` redacted with [`url()`](fn@url).
fn urls(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    // Whichever scheme occurs first.
    while let Some(start) = [rest.find("http://"), rest.find("https://")]
        .into_iter()
        .flatten()
        .min()
    {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '\'' || c == '"' || c == '<' || c == '>')
            .unwrap_or(tail.len());
        out.push_str(&url(&tail[..end]));
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Redacts `s` as [`text`] does, and also every query value of `url` wherever it appears: a
/// storage server may echo the signature in an error body without the URL's scheme and host.
pub(crate) fn text_for(s: &str, url: &str) -> String {
    let mut secrets: Vec<String> = Vec::new();
    if let Some((_, query)) = url.split_once('?') {
        let query = query.split('#').next().unwrap_or(query);
        secrets.push(query.to_string());
        for pair in query.split('&') {
            let value = pair.split_once('=').map_or(pair, |(_, v)| v);
            secrets.push(value.to_string());
            if let Ok(decoded) = percent_encoding::percent_decode_str(value).decode_utf8() {
                secrets.push(decoded.into_owned());
            }
        }
    }
    // Short values (`op=put`, `1`) are not secrets and would mangle the text; longest first so
    // that a whole query is replaced before its parts.
    secrets.sort_by_key(|v| std::cmp::Reverse(v.len()));
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    known(&text(s), &secrets)
}

/// Whether `c` must not reach a terminal as it is: a control character (C0, DEL, C1: ESC,
/// BEL, CR, LF, tab, …), a line or paragraph separator, or a bidirectional override or
/// isolate (which reorders what a terminal shows).
pub(crate) fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{061c}' | '\u{200e}' | '\u{200f}')
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// `s` on one line and safe for a terminal: each character of [`is_unsafe`] is written as
/// Rust's `Debug` escapes it (`\n`, `\r`, `\t`, `\u{1b}`, `\u{202e}`). Escaping twice changes
/// nothing: an escape holds no such character.
pub(crate) fn one_line(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    let _ = fmt::Write::write_str(&mut OneLine(&mut out), s);
    Cow::Owned(out)
}

/// A [`fmt::Write`] that passes text on with [`one_line`]'s escapes: what every error's
/// `Display` writes through, whatever its fields hold.
pub(crate) struct OneLine<W>(pub(crate) W);

impl<W: fmt::Write> fmt::Write for OneLine<W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s;
        while let Some((at, c)) = rest.char_indices().find(|&(_, c)| is_unsafe(c)) {
            self.0.write_str(&rest[..at])?;
            write!(self.0, "{}", c.escape_debug())?;
            rest = &rest[at + c.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

/// Members of an answer whose values are secrets: a console token, the environment of a VM or
/// a command. Their values never appear in an error's body snippet.
const SECRET_MEMBERS: &[&str] = &["token", "envVars", "env", "apiKey"];

/// Redacts a (possibly truncated) JSON text for an error message: [`text`]'s URL redaction,
/// and the values of [`SECRET_MEMBERS`] (inside an object member such as `envVars`, every
/// value) become `"<redacted>"` (strings) or `<redacted>` (numbers, booleans, `null`). Keys
/// stay: they tell what the server sent.
pub(crate) fn json(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    // Per open object or array: whether its values are secret.
    let mut secret_scopes: Vec<bool> = Vec::new();
    // The last member name was a secret one, and its value has not been read yet.
    let mut secret_next = false;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        // Whether this value is secret: a secret member's, or inside one.
        let secret = secret_next || secret_scopes.last().copied().unwrap_or(false);
        match c {
            '"' => {
                // The whole string literal, to its closing quote (or the end of a cut snippet).
                let mut end = s.len();
                let mut escaped = false;
                for (j, d) in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if d == '\\' {
                        escaped = true;
                    } else if d == '"' {
                        end = j + 1;
                        break;
                    }
                }
                let literal = &s[i..end];
                let is_key = s[end..].trim_start().starts_with(':');
                if is_key {
                    let name = literal.trim_matches('"');
                    secret_next = SECRET_MEMBERS.contains(&name);
                    out.push_str(literal);
                } else if secret {
                    secret_next = false;
                    out.push_str("\"<redacted>\"");
                } else {
                    out.push_str(&text(literal));
                }
            }
            '{' | '[' => {
                secret_scopes.push(secret);
                secret_next = false;
                out.push(c);
            }
            '}' | ']' => {
                secret_scopes.pop();
                secret_next = false;
                out.push(c);
            }
            ':' => out.push(c),
            c if c.is_whitespace() => out.push(c),
            ',' => {
                secret_next = false;
                out.push(c);
            }
            // A number, `true`, `null`: a value that is not a string, shown unless secret (a
            // server may send a number where a secret string belongs).
            _ => {
                if secret {
                    while chars
                        .next_if(|&(_, d)| !matches!(d, ',' | '}' | ']') && !d.is_whitespace())
                        .is_some()
                    {}
                    secret_next = false;
                    out.push_str("<redacted>");
                } else {
                    out.push(c);
                }
            }
        }
    }
    out
}

/// A decoding error's message without the values it quotes (`invalid type: string "…"`, or
/// ``integer `…` ``): the value may be a secret member's. Field and variant names, which serde
/// also puts in backticks, stay.
pub(crate) fn quoted_values(message: &str) -> String {
    scalar_values(&string_values(message))
}

/// The values serde shows in backticks after their kind (`Unexpected`'s `Display`).
fn scalar_values(message: &str) -> String {
    const KINDS: [&str; 4] = ["integer `", "floating point `", "boolean `", "character `"];
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some((at, kind)) = KINDS.iter().filter_map(|k| rest.find(k).map(|i| (i, k))).min() {
        let value_start = at + kind.len();
        out.push_str(&rest[..value_start]);
        match rest[value_start..].find('`') {
            Some(end) => {
                out.push_str("<redacted>`");
                rest = &rest[value_start + end + 1..];
            }
            None => {
                out.push_str("<redacted>");
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The values serde shows in double quotes (strings).
fn string_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    let mut escaped = false;
    for c in message.chars() {
        if inside {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                inside = false;
                out.push_str("<redacted>\"");
            }
        } else {
            out.push(c);
            if c == '"' {
                inside = true;
            }
        }
    }
    if inside {
        out.push_str("<redacted>");
    }
    out
}

/// Cuts `bytes` to at most `max` bytes of lossy UTF-8, for snippets kept in errors.
pub(crate) fn snippet(bytes: &[u8], max: usize) -> String {
    let cut = &bytes[..bytes.len().min(max)];
    let mut s = String::from_utf8_lossy(cut).into_owned();
    if bytes.len() > max {
        s.push('…');
    }
    s
}

/// The last `max` bytes of `bytes`, from the first whole character, as lossy UTF-8 with URLs
/// redacted, and `…` in front when cut: the end of a command's output, where errors are (the
/// counterpart of [`snippet`]).
pub(crate) fn tail(bytes: &[u8], max: usize) -> String {
    let cut = bytes.len().saturating_sub(max);
    // Past the continuation bytes (at most 3) of a character that was cut.
    let start = cut + bytes[cut..].iter().take(3).take_while(|b| *b & 0xC0 == 0x80).count();
    let end = String::from_utf8_lossy(&bytes[start..]);
    text(&if cut > 0 { format!("…{end}") } else { end.into_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_snippets_hide_secret_members_and_keep_the_shape() {
        let body = r#"{"token":"tok-s3cret","websocketPath":"/c","envVars":{"A":"env-s3cret","B":"x\"y"},"url":"https://s.example/o?sig=abc"}"#;
        let shown = json(body);
        for secret in ["tok-s3cret", "env-s3cret", "x\\\"y", "sig=abc"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(
            shown.contains(r#""websocketPath":"/c""#) && shown.contains(r#""A":"<redacted>""#),
            "{shown}"
        );
        // Cut in the middle of a secret value: nothing of it shows.
        let cut = json(r#"{"id":"vm-1","token":"tok-s3"#);
        assert_eq!(cut, r#"{"id":"vm-1","token":"<redacted>""#);
        // After the secret member, values show again.
        assert_eq!(
            json(r#"{"env":{"K":"v"},"name":"n"}"#),
            r#"{"env":{"K":"<redacted>"},"name":"n"}"#
        );
        // A secret that is not a string is hidden too; other numbers and literals show.
        assert_eq!(
            json(r#"{"envVars":{"A":31337,"B":true, "C":-2.5e3},"token":null,"cpu":2,"on":false}"#),
            r#"{"envVars":{"A":<redacted>,"B":<redacted>, "C":<redacted>},"token":<redacted>,"cpu":2,"on":false}"#
        );
        assert_eq!(json(r#"{"token":12345"#), r#"{"token":<redacted>"#);
    }

    #[test]
    fn serde_messages_lose_their_quoted_values() {
        assert_eq!(
            quoted_values(r#"invalid type: string "s3cret", expected u64 at line 1 column 9"#),
            r#"invalid type: string "<redacted>", expected u64 at line 1 column 9"#
        );
        assert_eq!(quoted_values("missing field `id`"), "missing field `id`");
        assert_eq!(
            quoted_values("invalid type: integer `31337`, expected a string at line 1 column 20"),
            "invalid type: integer `<redacted>`, expected a string at line 1 column 20"
        );
        assert_eq!(
            quoted_values("invalid type: floating point `2.5`, expected a string; boolean `true`"),
            "invalid type: floating point `<redacted>`, expected a string; boolean `<redacted>`"
        );
        assert_eq!(
            quoted_values("unknown variant `x`, expected `a` or `b`"),
            "unknown variant `x`, expected `a` or `b`"
        );
        assert_eq!(quoted_values("character `q"), "character `<redacted>");
    }

    #[test]
    fn strips_query_fragment_and_userinfo() {
        assert_eq!(
            url("https://u:p@h.example/a/b?sig=1#frag"),
            "https://h.example/a/b?<redacted>"
        );
        assert_eq!(url("http://127.0.0.1:8080/x"), "http://127.0.0.1:8080/x");
        assert_eq!(url("not a url?sig=secret"), "not a url?<redacted>");
    }

    #[test]
    fn redacts_echoed_query_values_of_a_known_url() {
        let url = "https://s.example/o/k?X-Amz-Signature=abcdef0123456789&X-Amz-Credential=AKIA%2F2026&op=put";
        let body = "denied /o/k?X-Amz-Signature=abcdef0123456789 cred AKIA/2026 sig abcdef0123456789 op=put";
        let out = text_for(body, url);
        assert!(!out.contains("abcdef0123456789") && !out.contains("AKIA"), "{out}");
        assert!(out.contains("op=put"), "short values stay: {out}");
        assert_eq!(text_for("no secrets here", "https://s.example/o"), "no secrets here");
    }

    #[test]
    fn secret_parameters_without_a_url_lose_their_values() {
        assert_eq!(
            text("denied: X-Signature=abc123&X-Amz-Credential=AKIA%2Fx op=put sig=q1w2 session=t0k"),
            "denied: X-Signature=<redacted>&X-Amz-Credential=<redacted> op=put sig=<redacted> session=<redacted>"
        );
        // Names that only look alike stay, and so does an empty value; twice changes nothing.
        assert_eq!(text("design=1 keys=2 a== token="), "design=1 keys=2 a== token=");
        let once = text("'GET /o?X-Goog-Signature=ff00' (api_key=k1)");
        assert_eq!(once, "'GET /o?X-Goog-Signature=<redacted>' (api_key=<redacted>)");
        assert_eq!(text(&once), once);
    }

    #[test]
    fn known_secrets_go_wherever_they_are_and_short_ones_are_not_looked_for() {
        assert_eq!(
            remote("bad key hlm_k3y_12345678 (hlm_k3y_12345678)", &["hlm_k3y_12345678"]),
            "bad key <redacted> (<redacted>)"
        );
        assert_eq!(remote("a k b", &["k"]), "a k b");
    }

    #[test]
    fn one_line_escapes_controls_separators_and_bidi_overrides() {
        assert_eq!(one_line("plain é ✓"), "plain é ✓");
        let escaped = one_line("a\r\nb\u{1b}[31m\u{7}\t\u{2028}\u{202e}\u{85}");
        assert_eq!(escaped, r"a\r\nb\u{1b}[31m\u{7}\t\u{2028}\u{202e}\u{85}");
        assert_eq!(one_line(&escaped), escaped, "escaping twice changes nothing");
        let mut through = String::new();
        fmt::Write::write_str(&mut OneLine(&mut through), "x\ny").unwrap();
        assert_eq!(through, r"x\ny");
    }

    #[test]
    fn redacting_twice_changes_nothing() {
        let once = text("see https://h.example/a?sig=1 now");
        assert_eq!(text(&once), once);
        assert_eq!(once, "see https://h.example/a?<redacted> now");
    }

    #[test]
    fn redacts_urls_inside_text() {
        let msg = "curl: (22) The requested URL returned error: 403 for 'https://s.example/o?sig=SECRET' and http://x/y?z=SECRET2";
        let out = text(msg);
        assert!(!out.contains("SECRET"), "{out}");
        assert!(out.contains("https://s.example/o?<redacted>"));
        assert!(out.contains("http://x/y?<redacted>"));
    }
}
