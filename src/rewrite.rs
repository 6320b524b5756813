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

/// Hosts whose paths name accounts.
const HOSTS: [&[u8]; 2] = [b"twitter.com/", b"x.com/"];

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

fn context(text: &[u8], start: usize) -> Context {
    if start == 0 {
        return Context::Plain;
    }
    let at = if text[start - 1] == b'@' {
        Some(start - 1)
    } else if ends_with_ci(text, start, "＠".as_bytes()) {
        Some(start - 3)
    } else {
        None
    };
    if let Some(at) = at {
        // `a@b` is an e-mail address, unless the word before is RT (`RT@b`).
        if at > 0 && is_word_byte(text[at - 1]) {
            let mut w = at;
            while w > 0 && is_word_byte(text[w - 1]) {
                w -= 1;
            }
            let word = &text[w..at];
            if word.eq_ignore_ascii_case(b"rt") {
                return Context::Mention;
            }
            return Context::Plain;
        }
        return Context::Mention;
    }
    for host in HOSTS {
        if ends_with_ci(text, start, host) {
            let h = start - host.len();
            // `x.com/` must not be the tail of `fox.com/`.
            if h == 0 || !(text[h - 1].is_ascii_alphanumeric() || text[h - 1] == b'-') {
                return Context::Link;
            }
        }
    }
    if ends_with_ci(text, start, b"screen_name=") {
        return Context::IntentName;
    }
    if ends_with_ci(text, start, b"user_id=") {
        return Context::IntentId;
    }
    Context::Plain
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
        let start = i;
        while i < bytes.len() && is_word_byte(bytes[i]) {
            i += 1;
        }
        let word = &text[start..i];
        let replacement: Option<String> = match context(bytes, start) {
            Context::Mention | Context::IntentName => reg.publish_handle(word),
            Context::Link => {
                let lower = word.to_ascii_lowercase();
                let reserved = RESERVED_PATHS.contains(&lower.as_str());
                let (replacement, link_private) = if reserved {
                    (reg.private_token(word).map(str::to_string), true)
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
                    (s != word).then_some(s)
                } else {
                    // Not an ID after all (`user_id=SomeName`): judged as a plain word.
                    reg.private_token(word).map(str::to_string)
                }
            }
            Context::Plain => reg.private_token(word).map(str::to_string),
        };
        if let Some(r) = replacement {
            out.push_str(&text[copied..start]);
            out.push_str(&r);
            copied = i;
        }
    }
    out.push_str(&text[copied..]);
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
