//! `disclose pseudonym`: the pseudonyms of given accounts, handles and posts.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::identity::{Key, Pseudonymizer};
use crate::input::export::Export;
use crate::policy::Policy;
use crate::transform::Registry;
use crate::values::check_id;

/// One looked-up account, handle or post.
#[derive(Debug, Clone, Serialize)]
pub struct Lookup {
    /// As given.
    pub input: String,
    /// `account`, `handle` or `post`.
    pub kind: &'static str,
    /// Whether it is published under a pseudonym.
    pub pseudonymised: bool,
    /// What the bundle shows for it.
    pub published: String,
    /// How it was resolved.
    pub note: String,
}

/// What `disclose pseudonym` is given.
#[derive(Debug, Clone)]
pub struct LookupOptions {
    /// The release key.
    pub key_file: PathBuf,
    /// Accept a key anyone could know (`--allow-demo-key`), with a warning.
    pub allow_demo_key: bool,
    /// Pseudonym length when no policy is given.
    pub length: usize,
    /// With the export and the policy, handles resolve to their accounts and public
    /// accounts are reported as such.
    pub export: Option<(PathBuf, PathBuf)>,
    /// User IDs and `@handles`.
    pub accounts: Vec<String>,
    /// Post IDs.
    pub posts: Vec<String>,
}

/// Looks up pseudonyms. Returns the lookups, the key fingerprint and warnings.
pub fn lookup(opts: &LookupOptions) -> Result<(Vec<Lookup>, String, Vec<String>)> {
    let (key, mut warnings) = Key::load(&opts.key_file, opts.allow_demo_key)?;
    let (registry, length) = match &opts.export {
        Some((input, policy)) => {
            let policy = Policy::load(policy)?;
            let export = Export::read(input, &policy)?;
            let pz = Pseudonymizer::new(&key, policy.pseudonymisation.length);
            let threshold = policy.pseudonymisation.follower_threshold;
            (
                Some(Registry::without_matching(&export, threshold, pz)),
                policy.pseudonymisation.length,
            )
        }
        None => {
            if !(crate::identity::pseudonym::MIN_LENGTH..=crate::identity::pseudonym::MAX_LENGTH)
                .contains(&opts.length)
            {
                return Err(Error::Usage(format!(
                    "--length must be between {} and {}",
                    crate::identity::pseudonym::MIN_LENGTH,
                    crate::identity::pseudonym::MAX_LENGTH
                )));
            }
            (None, opts.length)
        }
    };
    let pz = Pseudonymizer::new(&key, length);
    let mut out = Vec::new();
    let mut handles_unresolved = false;
    for a in &opts.accounts {
        if let Some(name) = a.strip_prefix('@').or_else(|| a.strip_prefix('＠')) {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(Error::Usage(format!(
                    "`{a}` is not a handle (@ followed by letters, digits and _)"
                )));
            }
            let (published, pseudonymised, note) = match &registry {
                Some(r) => match r.publish_handle(name) {
                    None => (
                        name.to_string(),
                        false,
                        "a public account: published as written".to_string(),
                    ),
                    Some(p) => (
                        p.into_owned(),
                        true,
                        "as published by this export and policy".to_string(),
                    ),
                },
                None => {
                    handles_unresolved = true;
                    (
                        pz.handle(name),
                        true,
                        "handle scheme (a screen name with no known user ID)".to_string(),
                    )
                }
            };
            out.push(Lookup {
                input: a.clone(),
                kind: "handle",
                pseudonymised,
                published,
                note,
            });
        } else {
            check_id(a)
                .map_err(|m| Error::Usage(format!("`{a}`: {m}; give a user ID or an @handle")))?;
            let (published, pseudonymised, note) = match &registry {
                Some(r) => {
                    let mut p = String::new();
                    r.publish_id(a, &mut p);
                    let private = r.id_is_private(a);
                    let note = if private {
                        "pseudonymised"
                    } else {
                        "a public account: published under its own ID"
                    };
                    (p, private, note.to_string())
                }
                None => (pz.account(a), true, "account scheme".to_string()),
            };
            out.push(Lookup {
                input: a.clone(),
                kind: "account",
                pseudonymised,
                published,
                note,
            });
        }
    }
    for t in &opts.posts {
        check_id(t).map_err(|m| Error::Usage(format!("post ID `{t}`: {m}")))?;
        out.push(Lookup {
            input: t.clone(),
            kind: "post",
            pseudonymised: true,
            published: pz.tweet(t),
            note: "post scheme (used where the policy hashes post IDs)".to_string(),
        });
    }
    if handles_unresolved {
        warnings.push(
            "without --input and --policy, @handles get the handle scheme: right for names nobody in the export has; a known account's name is published as its account pseudonym (look it up by user ID)".to_string(),
        );
    }
    Ok((out, key.fingerprint(), warnings))
}
