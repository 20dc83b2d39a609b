//! What the `Debug` of a wire type shows of a secret (used by the generated code; see
//! `codegen/secrets.rs`): a console token as `<redacted>`, a presigned URL without its query
//! (where the signature is), an environment map by its names only.

use std::collections::BTreeMap;
use std::fmt;

/// Shows `<redacted>`.
pub struct Hidden;

impl fmt::Debug for Hidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Shows a URL without its query and fragment: `"https://store.example/o/abc?<redacted>"`.
pub struct Url<'a>(Option<&'a str>);

impl<'a> Url<'a> {
    /// The URL of a `String` or `Option<String>` field.
    pub fn of<T: UrlField + ?Sized>(value: &'a T) -> Self {
        Url(value.url())
    }
}

/// A field that holds a URL.
pub trait UrlField {
    /// The URL, if there is one.
    fn url(&self) -> Option<&str>;
}

impl UrlField for String {
    fn url(&self) -> Option<&str> {
        Some(self)
    }
}

impl UrlField for Option<String> {
    fn url(&self) -> Option<&str> {
        self.as_deref()
    }
}

impl fmt::Debug for Url<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("None"),
            Some(raw) => write!(f, "{:?}", url(raw)),
        }
    }
}

/// `raw` without its query string, fragment and userinfo: what of a URL may appear in a
/// message, a log or a `Debug` output (`https://u:p@store.example/o/abc?X-Amz-Signature=secret`
/// becomes `https://store.example/o/abc?<redacted>`). The one URL redaction of the workspace:
/// the `fastvm` facade's messages use it too.
///
/// Unparseable input is cut at the first `?` or `#` so that nothing after it can leak.
pub fn url(raw: &str) -> String {
    match reqwest::Url::parse(raw) {
        Ok(mut u) => {
            let had_query = u.query().is_some_and(|q| !q.is_empty()) || u.fragment().is_some_and(|f| !f.is_empty());
            u.set_query(None);
            u.set_fragment(None);
            let _ = u.set_username("");
            let _ = u.set_password(None);
            let mut s = u.to_string();
            if had_query {
                s.push_str("?<redacted>");
            } else if raw.ends_with('?') {
                // Keep an empty query's `?`: re-redacting `…/o?<redacted>` cuts the URL there.
                s.push('?');
            }
            s
        }
        Err(_) => match raw.find(['?', '#']) {
            Some(i) => format!("{}?<redacted>", &raw[..i]),
            None => raw.to_string(),
        },
    }
}

/// Shows an environment map's names, each value as `<redacted>`.
pub struct Names<'a>(pub &'a BTreeMap<String, String>);

impl fmt::Debug for Names<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.keys().map(|k| (k, Hidden))).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_query_and_userinfo() {
        let s = "https://u:p@store.example/o/abc?X-Amz-Signature=secret#frag".to_string();
        assert_eq!(
            format!("{:?}", Url::of(&s)),
            "\"https://store.example/o/abc?<redacted>\""
        );
        let plain = Some("https://store.example/o".to_string());
        assert_eq!(format!("{:?}", Url::of(&plain)), "\"https://store.example/o\"");
        assert_eq!(format!("{:?}", Url::of(&None::<String>)), "None");
    }

    #[test]
    fn an_environment_shows_names_only() {
        let env = BTreeMap::from([("TOKEN".to_string(), "s3cret".to_string())]);
        assert_eq!(format!("{:?}", Names(&env)), "{\"TOKEN\": <redacted>}");
    }
}
