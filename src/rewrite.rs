//! Rewriting free text so that it names no pseudonymised account (DESIGN §2 and
//! docs/PRIVACY.md).
//!
//! A value is read through its normalised view ([`crate::normalize`]); the hits of
//! [`crate::matching::detect`] replace whole spans of the original text:
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

use crate::identity::Registry;
use crate::matching::{apply_hits, detect, Hit, OnResidue, Replace, MARKER};
use crate::normalize::View;
use crate::policy::PostIds;

/// Rounds of the residue check before the whole value is replaced.
const MAX_ROUNDS: usize = 4;

thread_local! {
    static SCRATCH: RefCell<(View, Vec<Hit>, String)> =
        RefCell::new((View::new(), Vec::new(), String::new()));
}

/// Whether `text` is one that can hold nothing to match: no letter or digit at all.
fn nothing_to_match(text: &str) -> bool {
    !text.chars().any(|c| c.is_alphanumeric())
}

/// Rewrites free text into `out` (see the module documentation). Post IDs are hashed
/// per `post_ids`. A residue left after [`MAX_ROUNDS`] is never published: the value
/// becomes the marker.
pub fn rewrite_text(text: &str, reg: &Registry, post_ids: PostIds, out: &mut String) {
    let start = out.len();
    if rewrite_value(text, reg, post_ids, &[], out).is_err() {
        out.truncate(start);
        out.push_str(MARKER);
    }
}

/// Rewrites free text into `out`, redacting `own` (folded internal values of the
/// row's account). With `on_residue = "stop"`, a residue is an error: the message
/// gives the character position in the value, never the value.
pub fn rewrite_value(
    text: &str,
    reg: &Registry,
    post_ids: PostIds,
    own: &[String],
    out: &mut String,
) -> Result<(), String> {
    let Some(m) = reg.matcher() else {
        out.push_str(text);
        return Ok(());
    };
    if nothing_to_match(text) {
        out.push_str(text);
        return Ok(());
    }
    let stop = m.config().on_residue == OnResidue::Stop;
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

/// The first span of `text` that the detector would replace (for values published
/// without rewriting, which must not name a pseudonymised account).
pub fn private_word<'a>(text: &'a str, reg: &Registry) -> Option<&'a str> {
    reg.matcher()?;
    if nothing_to_match(text) {
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
    span.map(|(s, e)| &text[s..e])
}
