//! Applying a column's action to one value.
//!
//! Every value the bundle publishes passes through [`apply`], which validates the
//! input (so that malformed IDs, dates or lists stop the build with their location)
//! and writes the published form. Identifier actions consult the [`Registry`].
//!
//! Free text goes through [`rewrite`], which reads it through its [`normalize`]d
//! view and finds names with [`matching`].

pub mod idset;
pub mod matching;
pub mod normalize;
pub mod registry;
pub mod rewrite;
pub mod strmap;

pub use registry::{Published, Registry};

use crate::policy::{Action, CoordMode, PostIds};
use crate::values::{
    check_date, check_datetime, check_id, check_type, parse_list, parse_number, FieldType,
};
use rewrite::{private_word, rewrite_value};

/// What a row contributes to its values' transformation.
#[derive(Debug, Clone, Copy)]
pub struct RowContext<'a> {
    /// The row's account is pseudonymised.
    pub private: bool,
    /// The row's account's published ID (its pseudonym when private).
    pub published_id: &'a str,
    /// How post IDs are treated.
    pub post_ids: PostIds,
    /// Internal values of the row's account (normalised), redacted from its text.
    pub own: &'a [String],
}

/// Whether a post ID is published as its pseudonym: all of them with
/// `post_ids = "all"`, none with `"raw"`, and with `"pseudonymised_accounts"` those of
/// private posts (written by a pseudonymised or unknown account). The rule of
/// DESIGN §2, stated once for post ID columns and media file names.
pub fn post_id_hashed(post_ids: PostIds, post_private: bool) -> bool {
    match post_ids {
        PostIds::Raw => false,
        PostIds::All => true,
        PostIds::PseudonymisedAccounts => post_private,
    }
}

/// Applies `action` to `value`, appending the published form to `out`.
/// `post_private` is used by `PostId` only: whether the post's author is
/// pseudonymised or unknown.
pub fn apply(
    action: &Action,
    value: &str,
    row: &RowContext<'_>,
    post_private: bool,
    reg: &Registry,
    out: &mut String,
) -> Result<(), String> {
    match action {
        Action::Drop | Action::Blank => {}
        Action::Keep(ty) => {
            check_type(*ty, value)?;
            if *ty == FieldType::String {
                // Fail closed: a value kept as is must not name a pseudonymised account.
                if let Some(w) = private_word(value, reg) {
                    // The word itself is not quoted: it is the protected name.
                    let _ = w;
                    return Err("a value kept as is names a pseudonymised account; classify the column as `text` to rewrite it, or `drop` it".to_string());
                }
            }
            out.push_str(value);
        }
        Action::Constant(v) => out.push_str(v),
        Action::AccountId => {
            if !value.is_empty() {
                check_id(value)?;
                reg.publish_id(value, out);
            }
        }
        Action::AccountName => {
            if row.private {
                out.push_str(row.published_id);
            } else {
                // A public account's name passes through the text rules: a name that
                // is also a pseudonymised account's (a case-insensitive collision, a
                // stale handle) or a display name quoting one must not publish it.
                rewrite_value(value, reg, row.post_ids, row.own, out)?;
            }
        }
        Action::AccountIds => {
            let items = parse_list(value)?;
            if value.is_empty() {
                return Ok(());
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                check_id(item).map_err(|m| format!("in the list: {m}"))?;
                if i > 0 {
                    out.push_str(", ");
                }
                reg.publish_id(item, out);
            }
            out.push(']');
        }
        Action::PostId => {
            if !value.is_empty() {
                check_id(value)?;
                if post_id_hashed(row.post_ids, post_private) {
                    out.push_str(&reg.pseudonymizer().tweet(value));
                } else {
                    out.push_str(value);
                }
            }
        }
        Action::Text => rewrite_value(value, reg, row.post_ids, row.own, out)?,
        Action::Date(p) => {
            if !value.is_empty() {
                check_date(value)?;
                out.push_str(&value[..p.chars().min(10)]);
            }
        }
        Action::DateTime(p) => {
            if !value.is_empty() {
                check_datetime(value)?;
                out.push_str(&value[..p.chars()]);
            }
        }
        Action::Coordinates(mode) => {
            if value.is_empty() {
                if *mode == CoordMode::Presence {
                    out.push_str("absent");
                }
                return Ok(());
            }
            let v = parse_number(value)?;
            match mode {
                CoordMode::Keep => out.push_str(value),
                CoordMode::Round(n) => {
                    let s = format!("{:.*}", usize::from(*n), v);
                    // Never publish "-0.00": it is the same place as "0.00".
                    if s.starts_with('-') && s[1..].bytes().all(|b| b == b'0' || b == b'.') {
                        out.push_str(&s[1..]);
                    } else {
                        out.push_str(&s);
                    }
                }
                CoordMode::Presence => out.push_str("present"),
            }
        }
    }
    Ok(())
}
