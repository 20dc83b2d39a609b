//! Names as the server keeps them: [`sanitize`] turns any text into a VM or snapshot name that
//! the server stores unchanged.
//!
//! The server trims names, collapses each run of whitespace to one space and keeps at most
//! [`MAX_CHARS`] characters, so the name you send is not always the name you find later.
//! A sanitised name is already in that form: sending it again gives the same name back, and
//! [`Snapshots::find_by_name`](crate::resources::Snapshots::find_by_name) finds it.
//!
//! ```
//! use fastvm::names;
//! assert_eq!(names::sanitize("  build\t\tcache  v2\n"), "build cache v2");
//! assert_eq!(names::sanitize("").as_str(), names::UNNAMED);
//! assert_eq!(names::sanitize(&"é".repeat(100)).chars().count(), names::MAX_CHARS);
//! ```

/// The most characters (Unicode scalar values, the server's runes; not bytes) a name keeps.
pub const MAX_CHARS: usize = 64;

/// What [`sanitize`] gives for a name with nothing left in it (empty, or only whitespace and
/// control characters).
pub const UNNAMED: &str = "unnamed";

/// `name` in the form the server stores: control characters dropped (tabs, newlines and other
/// whitespace count as whitespace), leading and trailing whitespace removed, each run of
/// whitespace replaced by one space, and cut to at most [`MAX_CHARS`] characters (never inside
/// a character; a space left at the cut is removed too). A name with nothing left is
/// [`UNNAMED`].
///
/// The result is stable: the server stores it as it is, and `sanitize(sanitize(x)) ==
/// sanitize(x)`.
///
/// ```
/// use fastvm::names::sanitize;
/// assert_eq!(sanitize("nightly \u{1b}[31mred\u{1b}[0m"), "nightly [31mred[0m");
/// assert_eq!(sanitize(" \t\n"), "unnamed");
/// let long = format!("{} tail", "x".repeat(63));
/// assert_eq!(sanitize(&long), "x".repeat(63), "the space at the cut is dropped");
/// ```
pub fn sanitize(name: &str) -> String {
    let clean = clean(name);
    if clean.is_empty() { UNNAMED.to_string() } else { clean }
}

/// [`sanitize`] without the fallback: empty when nothing is left.
pub(crate) fn clean(name: &str) -> String {
    let kept: String = name.chars().filter(|c| c.is_whitespace() || !c.is_control()).collect();
    server_form(&kept)
}

/// What the server makes of `name`: trimmed, whitespace runs collapsed to one space, at most
/// [`MAX_CHARS`] characters (control characters are left alone; empty stays empty). A space
/// left at the cut is removed, so that the form of a stored name and the form of the name it
/// was stored from are equal whether or not the server keeps that space.
pub(crate) fn server_form(name: &str) -> String {
    let collapsed = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut: String = collapsed.chars().take(MAX_CHARS).collect();
    match cut.trim_end() {
        trimmed if trimmed.len() == cut.len() => cut,
        trimmed => trimmed.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_is_trimmed_and_collapsed() {
        assert_eq!(sanitize("  a \t\r\n b  "), "a b");
        assert_eq!(sanitize("a\u{a0}\u{2003}b"), "a b", "Unicode whitespace counts");
        assert_eq!(sanitize("one"), "one");
    }

    #[test]
    fn control_characters_are_dropped() {
        assert_eq!(sanitize("a\u{0}b\u{7}c\u{7f}d"), "abcd");
        assert_eq!(
            sanitize("a \u{1b} b"),
            "a b",
            "the gap left by a dropped character collapses"
        );
        assert_eq!(sanitize("\u{85}x\u{9f}"), "x", "C1 controls too (NEL is whitespace)");
        // Not control characters: format characters and emoji stay.
        assert_eq!(sanitize("a\u{200d}b 🦀"), "a\u{200d}b 🦀");
    }

    #[test]
    fn long_names_are_cut_at_64_characters_not_bytes() {
        let crab = "🦀".repeat(70);
        let cut = sanitize(&crab);
        assert_eq!(cut.chars().count(), MAX_CHARS);
        assert_eq!(cut.len(), MAX_CHARS * 4, "whole characters");
        let mixed = format!("{}é", "a".repeat(63));
        assert_eq!(sanitize(&mixed), mixed, "exactly 64 characters is kept whole");
        let over = format!("{}éz", "a".repeat(63));
        assert_eq!(sanitize(&over), mixed);
        // The cut comes after collapsing, as on the server.
        let spaced = format!("{}    b", "a".repeat(62));
        assert_eq!(sanitize(&spaced), format!("{} b", "a".repeat(62)));
        assert_eq!(sanitize(&format!("{} bcd", "a".repeat(63))), "a".repeat(63));
    }

    #[test]
    fn nothing_left_is_unnamed() {
        for empty in ["", "   ", "\t\n", "\u{0}\u{1b}", " \u{7f} "] {
            assert_eq!(sanitize(empty), UNNAMED, "{empty:?}");
            assert_eq!(clean(empty), "", "{empty:?}");
        }
    }

    #[test]
    fn sanitize_is_a_fixed_point_of_the_server_rules() {
        let inputs = [
            "  a  b ",
            "x\u{1}y",
            &"ab ".repeat(40),
            &"é ".repeat(40),
            "\u{3000}full width\u{3000}",
            "",
        ];
        for input in inputs {
            let s = sanitize(input);
            assert_eq!(sanitize(&s), s, "{input:?}");
            assert_eq!(server_form(&s), s, "the server keeps {s:?} as it is");
            assert!(s.chars().count() <= MAX_CHARS && !s.is_empty());
        }
    }
}
