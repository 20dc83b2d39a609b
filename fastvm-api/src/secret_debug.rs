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
            // Also without userinfo: `https://user:pass@host` keeps only the host.
            Some(url) => {
                let cut = url.find(['?', '#']);
                let head = &url[..cut.unwrap_or(url.len())];
                let head = match (head.find("://"), head.rfind('@')) {
                    (Some(scheme), Some(at)) if at > scheme => format!("{}{}", &head[..scheme + 3], &head[at + 1..]),
                    _ => head.to_string(),
                };
                let tail = if cut.is_some() { "?<redacted>" } else { "" };
                write!(f, "\"{head}{tail}\"")
            }
        }
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
