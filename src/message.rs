//! Bounded, escaped text for messages.
//!
//! Input quoted in a message could be enormous (one 100 MB value) or carry terminal
//! control sequences (ESC), NUL, or characters that reorder or hide text on screen
//! (RLO and the other bidi controls, zero-width characters, a BOM). [`clip`] shortens
//! a quoted piece and escapes such characters as `\u{..}`; [`bounded`] does the same
//! for a whole message, with a larger cap. Values of the export are not quoted at all
//! (they may be protected); these functions bound what is.

use crate::limits::MAX_QUOTED_CHARS;

/// Whether `c` must not be printed raw: C0 and C1 controls (but not tab), DEL, the
/// bidi controls, zero-width and other invisible format characters, the BOM, and the
/// line and paragraph separators.
pub fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(c,
            '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}')
}

/// `s` with every unsafe character (see [`is_unsafe`]) written as `\u{XXXX}`, and
/// at most `max` characters kept; a cut says how many characters were left out.
pub fn escape_within(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max * 2 + 32));
    let mut chars = s.chars();
    for (kept, c) in chars.by_ref().enumerate() {
        if kept == max {
            let rest = 1 + chars.count();
            out.push_str(&format!("… ({rest} more characters cut)"));
            return out;
        }
        if is_unsafe(c) {
            out.push_str(&format!("\\u{{{:04X}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// A piece of input for quoting in a message: escaped, and cut to
/// [`MAX_QUOTED_CHARS`] characters.
pub fn clip(s: &str) -> String {
    escape_within(s, MAX_QUOTED_CHARS)
}

/// The longest message printed, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4096;

/// A whole message for the terminal: escaped, and cut to [`MAX_MESSAGE_CHARS`].
pub fn bounded(s: &str) -> String {
    escape_within(s, MAX_MESSAGE_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_cuts() {
        assert_eq!(clip("plain"), "plain");
        assert_eq!(clip("a\u{1b}[31mb"), "a\\u{001B}[31mb");
        assert_eq!(
            clip("x\u{202E}y\u{0}z\u{FEFF}"),
            "x\\u{202E}y\\u{0000}z\\u{FEFF}"
        );
        let long = "é".repeat(100);
        let c = clip(&long);
        assert!(c.starts_with(&"é".repeat(80)));
        assert!(c.ends_with("… (20 more characters cut)"), "{c}");
        assert_eq!(escape_within("abc", 3), "abc");
    }
}
