//! Rewriting free text so that it names no pseudonymised account (DESIGN §2 and
//! docs/PRIVACY.md).
//!
//! A value is read through its normalised view ([`super::normalize`]); the hits of
//! [`super::matching::detect`] replace whole spans of the original text:
//!
//! - structured references (`@name` in any written form, `host/<name>` and
//!   `host/<name>/status/<id>` links on any host, `screen_name=`, `user_id=`,
//!   `tweet_id=`, `in_reply_to=`, `id=`, `from:` parameters) and digit runs equal to a
//!   pseudonymised account's user ID or a hashed post ID get the linkable pseudonym.
//!   On the platform's own hosts and in mentions, names nobody knows are pseudonymised
//!   on sight (fail closed); known public accounts stay as written;
//! - every other match of a name (inside a word, a part of a word, a whole token, a
//!   display-name phrase) gets the fixed marker `[account]`.
//!
//! Then the *residue check* runs the same detector over the rewritten value; whatever
//! it still finds is replaced and counted (or, with `on_residue = "stop"`, the build
//! stops).

use std::cell::RefCell;

use super::matching::{apply_hits, detect, replaced_spans, Hit, OnResidue, Replace, MARKER};
use super::normalize::View;
use super::registry::Registry;
use crate::policy::PostIds;

/// Rounds of the residue check before the whole value is replaced.
const MAX_ROUNDS: usize = 4;

thread_local! {
    static SCRATCH: RefCell<(View, Vec<Hit>, String)> =
        RefCell::new((View::new(), Vec::new(), String::new()));
}

/// Whether `text` is one that can hold nothing to match: no letter or digit at all
/// (enclosed letters such as `🅐` count as letters).
fn nothing_to_match(text: &str) -> bool {
    !text
        .chars()
        .any(|c| c.is_alphanumeric() || (!c.is_ascii() && super::normalize::enclosed(c).is_some()))
}

/// Rewrites free text into `out` (see the module documentation). Post IDs are hashed
/// per `post_ids`. A residue left after `MAX_ROUNDS` rounds is never published: the value
/// becomes the marker.
pub fn rewrite_text(text: &str, reg: &Registry, post_ids: PostIds, out: &mut String) {
    let start = out.len();
    if rewrite_value(text, reg, post_ids, &[], out).is_err() {
        out.truncate(start);
        out.push_str(MARKER);
    }
}

/// Rewrites free text into `out`, redacting `own` (folded internal values of the
/// row's account). With `on_residue = "stop"`, a residue is an error: the message gives the character
/// position in the value, never the value.
pub fn rewrite_value(
    text: &str,
    reg: &Registry,
    post_ids: PostIds,
    own: &[String],
    out: &mut String,
) -> Result<(), String> {
    // Without a matcher (a tier: nothing is pseudonymised) only the row's own
    // internal values are looked for.
    let stop = reg
        .matcher()
        .is_some_and(|m| m.config().on_residue == OnResidue::Stop);
    if (reg.matcher().is_none() && own.is_empty()) || nothing_to_match(text) {
        out.push_str(text);
        return Ok(());
    }
    SCRATCH.with(|s| {
        let (view, hits, tmp) = &mut *s.borrow_mut();
        hits.clear();
        view.build(text);
        detect(text, view, reg, post_ids, own, hits);
        if hits.is_empty() {
            out.push_str(text);
            return Ok(());
        }
        tmp.clear();
        apply_hits(text, hits, tmp);
        if !residue_possible(text, hits) {
            out.push_str(tmp);
            return Ok(());
        }
        // The residue check: the detector over the rewritten value.
        for _ in 0..MAX_ROUNDS {
            hits.clear();
            view.build(tmp);
            detect(tmp, view, reg, post_ids, own, hits);
            hits.retain(|h| h.with != Replace::Keep);
            if hits.is_empty() {
                out.push_str(tmp);
                return Ok(());
            }
            if stop {
                let column = tmp[..hits[0].start].chars().count() + 1;
                return Err(format!(
                    "after rewriting, a written form of a pseudonymised account's identity remains at character {column} of the rewritten value (policy: pseudonymisation.on_residue = \"stop\")"
                ));
            }
            for _ in hits.iter() {
                reg.count_residue();
            }
            let mut next = String::with_capacity(tmp.len());
            apply_hits(tmp, hits, &mut next);
            *tmp = next;
        }
        Err("the residue check did not converge".into())
    })
}

/// Whether replacing `hits` in `text` can have made a new match, so that the residue
/// check must run: the replacements (the marker, `[redacted]`, pseudonyms of 32 or
/// more hex digits) are opaque, so a new match needs a new context at the edge of a
/// replaced span (a letter, digit, `_`, `#` or non-ASCII character right next to
/// it: a new part or word boundary, a longer digit or hex run; an `@` right after
/// it: a new mention), or an escape anywhere
/// (decoding reaches across spans). Otherwise every match of the rewritten value was
/// already one of the original, and was replaced. The spans are those replaced
/// ([`replaced_spans`]: overlapping hits merged, a kept hit merged with a replaced
/// one widening it): the edges of a hit inside a replaced span are gone.
fn residue_possible(text: &str, hits: &mut [Hit]) -> bool {
    // The full-width and small escape characters all start with the byte EF.
    let bytes = text.as_bytes();
    if bytes.iter().any(|b| matches!(b, b'&' | b'%' | b'\\'))
        || (bytes.contains(&0xEF) && text.contains(['％', '＆', '＼', '﹪', '﹠', '﹨']))
    {
        return true;
    }
    let sensitive = |c: char| !c.is_ascii() || c.is_ascii_alphanumeric() || c == '_' || c == '#';
    // `x@y` is no mention, `[account]@y` is: an `@` after a span is a new context.
    replaced_spans(hits).any(|(s, e, _)| {
        text[..s].chars().next_back().is_some_and(sensitive)
            || text[e..]
                .chars()
                .next()
                .is_some_and(|c| c == '@' || sensitive(c))
    })
}

/// The first span of `text` that the detector would replace (for values published
/// without rewriting, which must not name a pseudonymised account).
pub fn private_word<'a>(text: &'a str, reg: &Registry) -> Option<&'a str> {
    let id = reg.matcher()?.id();
    if nothing_to_match(text) {
        return None;
    }
    // Kept values repeat (client names, languages): remember the clean ones.
    thread_local! {
        static CLEAN: RefCell<(u64, ahash::AHashSet<String>)> = RefCell::new(Default::default());
    }
    let known_clean = CLEAN.with(|c| {
        let c = c.borrow();
        c.0 == id && c.1.contains(text)
    });
    if known_clean {
        return None;
    }
    let span = SCRATCH.with(|s| {
        let (view, hits, _) = &mut *s.borrow_mut();
        hits.clear();
        view.build(text);
        detect(text, view, reg, PostIds::Raw, &[], hits);
        hits.iter()
            .filter(|h| h.with != Replace::Keep)
            .map(|h| (h.start, h.end))
            .min()
    });
    if span.is_none() && text.len() <= 256 {
        CLEAN.with(|c| {
            let mut c = c.borrow_mut();
            if c.0 != id || c.1.len() >= 4096 {
                *c = (id, Default::default());
            }
            c.1.insert(text.to_string());
        });
    }
    span.map(|(s, e)| &text[s..e])
}
