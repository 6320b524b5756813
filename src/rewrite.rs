//! Rewriting free text so that it names no pseudonymised account (DESIGN §2).
//!
//! The text is cut into *words*: maximal runs of `[A-Za-z0-9_]`, the characters of a
//! handle. Each word is judged by what stands before it:
//!
//! - after `@` or `＠` (not inside an e-mail address such as `a@b.com`, but `RT@x`
//!   counts): a mention. Known public accounts stay, everything else becomes a
//!   pseudonym: the account's own when the name is known, the handle scheme when not.
//! - right after a platform host (`twitter.com/`, `x.com/`, with any scheme and
//!   `www.` or `mobile.`): a profile or post link, treated like a mention unless the
//!   path is one of the platform's reserved pages (`i`, `search`, `hashtag`, ...). A
//!   following `/status/<id>` is a post ID, hashed per the policy.
//! - after `screen_name=` or `user_id=` (intent links): a handle or user ID.
//! - anywhere else: the word is replaced when it is, whole, the screen name
//!   (case-insensitive) or user ID of a known pseudonymised account. This catches
//!   names written without `@`, which a mention rule alone would leave raw.

use std::borrow::Cow;

use crate::identity::Registry;
use crate::policy::PostIds;

/// Paths on the platform's hosts that are pages, not accounts.
const RESERVED_PATHS: [&str; 20] = [
    "i",
    "intent",
    "search",
    "hashtag",
    "home",
    "share",
    "explore",
    "settings",
    "messages",
    "notifications",
    "login",
    "signup",
    "tos",
    "privacy",
    "about",
    "help",
    "account",
    "compose",
    "statuses",
    "web",
];

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Whether `text[..end]` ends with `suffix`, ASCII case-insensitively.
fn ends_with_ci(text: &[u8], end: usize, suffix: &[u8]) -> bool {
    end >= suffix.len() && text[end - suffix.len()..end].eq_ignore_ascii_case(suffix)
}

/// What stands before a word.
#[derive(Debug, PartialEq, Eq)]
enum Context {
    Mention,
    Link,
    IntentName,
    IntentId,
    Plain,
}

/// The character that ends `text[..end]`, decoding a percent-escape (`%40` is `@`,
/// as in share links) and reading `＠` as `@`, with the position where it begins.
fn char_before(text: &[u8], end: usize) -> Option<(u8, usize)> {
    if end >= 3
        && text[end - 3] == b'%'
        && text[end - 2].is_ascii_hexdigit()
        && text[end - 1].is_ascii_hexdigit()
    {
        let hex = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
        return Some((hex(text[end - 2]) * 16 + hex(text[end - 1]), end - 3));
    }
    if ends_with_ci(text, end, "＠".as_bytes()) {
        return Some((b'@', end - 3));
    }
    end.checked_sub(1).map(|i| (text[i], i))
}

/// Whether a platform host (`twitter.com`, `x.com`) ends at `end`.
fn host_ends_at(text: &[u8], end: usize) -> bool {
    [&b"twitter.com"[..], &b"x.com"[..]].iter().any(|host| {
        ends_with_ci(text, end, host) && {
            let h = end - host.len();
            // `x.com` must not be the tail of `fox.com`.
            h == 0 || !(text[h - 1].is_ascii_alphanumeric() || text[h - 1] == b'-')
        }
    })
}

fn context(text: &[u8], start: usize) -> Context {
    let Some((c, at)) = char_before(text, start) else {
        return Context::Plain;
    };
    match c {
        b'@' => {
            // `a@b` is an e-mail address, unless the word before is RT (`RT@b`).
            if at > 0 && is_word_byte(text[at - 1]) {
                let mut w = at;
                while w > 0 && is_word_byte(text[w - 1]) {
                    w -= 1;
                }
                if text[w..at].eq_ignore_ascii_case(b"rt") {
                    return Context::Mention;
                }
                return Context::Plain;
            }
            Context::Mention
        }
        b'/' => {
            // host/name, host//name, host/#!/name (the 2010 form), host/i/user/<id>.
            let mut end = at;
            if ends_with_ci(text, end, b"#!") {
                match char_before(text, end - 2) {
                    Some((b'/', a)) => end = a,
                    _ => return Context::Plain,
                }
            }
            while let Some((b'/', a)) = char_before(text, end) {
                end = a;
            }
            if host_ends_at(text, end) {
                return Context::Link;
            }
            if ends_with_ci(text, end, b"/i/user") && host_ends_at(text, end - 7) {
                return Context::IntentId;
            }
            Context::Plain
        }
        b'=' => {
            if ends_with_ci(text, at, b"screen_name") {
                Context::IntentName
            } else if ends_with_ci(text, at, b"user_id") {
                Context::IntentId
            } else {
                Context::Plain
            }
        }
        _ => Context::Plain,
    }
}

/// Rewrites free text into `out`. Post IDs in post links are hashed per `post_ids`;
/// with `PseudonymisedAccounts`, a link's post is hashed when the account in the link
/// is pseudonymised or unknown.
pub fn rewrite_text(text: &str, reg: &Registry, post_ids: PostIds, out: &mut String) {
    let bytes = text.as_bytes();
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !is_word_byte(bytes[i]) {
            i += 1;
            continue;
        }
        let mut start = i;
        while i < bytes.len() && is_word_byte(bytes[i]) {
            i += 1;
        }
        // `%40name`, `%2Fname`: the two hex digits of a percent-escape are not part
        // of the word (unless the whole run is itself a pseudonymised name).
        if start > 0
            && bytes[start - 1] == b'%'
            && i - start > 2
            && bytes[start].is_ascii_hexdigit()
            && bytes[start + 1].is_ascii_hexdigit()
            && reg.private_token(&text[start..i]).is_none()
        {
            start += 2;
        }
        let word = &text[start..i];
        let replacement: Option<Cow<'_, str>> = match context(bytes, start) {
            Context::Mention | Context::IntentName => reg.publish_handle(word),
            Context::Link => {
                let reserved = RESERVED_PATHS.iter().any(|r| r.eq_ignore_ascii_case(word));
                let (replacement, link_private) = if reserved {
                    (reg.private_token(word).map(Cow::Borrowed), true)
                } else {
                    let r = reg.publish_handle(word);
                    let private = r.is_some();
                    (r, private)
                };
                // A post link: /<name>/status/<id> or /i/web/status/<id>.
                let rest = &text[i..];
                if let Some((prefix_len, id_len)) = status_id(rest) {
                    let id_start = i + prefix_len;
                    let id = &text[id_start..id_start + id_len];
                    let hash = match post_ids {
                        PostIds::Raw => false,
                        PostIds::All => true,
                        PostIds::PseudonymisedAccounts => link_private,
                    };
                    out.push_str(&text[copied..start]);
                    out.push_str(replacement.as_deref().unwrap_or(word));
                    out.push_str(&text[i..id_start]);
                    if hash {
                        out.push_str(&reg.pseudonymizer().tweet(id));
                    } else {
                        out.push_str(id);
                    }
                    i = id_start + id_len;
                    copied = i;
                    continue;
                }
                replacement
            }
            Context::IntentId => {
                if word.bytes().all(|b| b.is_ascii_digit()) {
                    let mut s = String::new();
                    reg.publish_id(word, &mut s);
                    (s != word).then_some(Cow::Owned(s))
                } else {
                    reg.private_token(word).map(Cow::Borrowed)
                }
            }
            Context::Plain => reg.private_token(word).map(Cow::Borrowed),
        };
        if let Some(r) = replacement {
            out.push_str(&text[copied..start]);
            out.push_str(&r);
            copied = i;
        }
    }
    out.push_str(&text[copied..]);
}

/// The first word of `text` that is, whole, the screen name or user ID of a known
/// pseudonymised account (for values published without rewriting).
pub fn private_word<'a>(text: &'a str, reg: &Registry) -> Option<&'a str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .find(|w| !w.is_empty() && reg.private_token(w).is_some())
}

/// If `rest` starts with `/status/<digits>` (or `/statuses/`, or `/web/status/`),
/// the length of the part before the digits and the number of digits.
fn status_id(rest: &str) -> Option<(usize, usize)> {
    let b = rest.as_bytes();
    for prefix in [&b"/status/"[..], &b"/statuses/"[..], &b"/web/status/"[..]] {
        if b.len() > prefix.len() && b[..prefix.len()].eq_ignore_ascii_case(prefix) {
            let digits = b[prefix.len()..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            let after = b.get(prefix.len() + digits).copied();
            if digits > 0 && !after.is_some_and(is_word_byte) {
                return Some((prefix.len(), digits));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_ids() {
        assert_eq!(status_id("/status/123"), Some((8, 3)));
        assert_eq!(status_id("/status/123?s=20"), Some((8, 3)));
        assert_eq!(status_id("/status/12a"), None);
        assert_eq!(status_id("/web/status/9"), Some((12, 1)));
        assert_eq!(status_id("/photo"), None);
    }

    #[test]
    fn contexts() {
        let t = "RT @ab x@cd RT@ef ＠gh twitter.com/ij fox.com/kl x.com/mn screen_name=op";
        let at = |w: &str| context(t.as_bytes(), t.find(w).unwrap());
        assert_eq!(at("ab"), Context::Mention);
        assert_eq!(at("cd"), Context::Plain);
        assert_eq!(at("ef"), Context::Mention);
        assert_eq!(at("gh"), Context::Mention);
        assert_eq!(at("ij"), Context::Link);
        assert_eq!(at("kl"), Context::Plain);
        assert_eq!(at("mn"), Context::Link);
        assert_eq!(at("op"), Context::IntentName);
    }
}
