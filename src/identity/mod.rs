//! Who an account is in the bundle: the release key, the pseudonym scheme, the rule
//! that decides who is pseudonymised, and the narrow view of published names that
//! the text matcher uses.
//!
//! The registry of every known account lives in [`crate::transform::Registry`]:
//! it also holds the matcher that finds names in prose.

pub mod key;
pub mod lookup;
pub mod pseudonym;

use std::collections::HashSet;

pub use key::{describe_access, Key};
pub use lookup::Names;
pub use pseudonym::Pseudonymizer;

/// The accounts that published values referred to, by user ID or handle.
#[derive(Debug, Default, Clone)]
pub struct References {
    /// Known user IDs referred to by ID (replies, retweets, mention lists, links).
    pub ids: HashSet<String>,
    /// User IDs that neither accounts.csv nor directory.csv knows.
    pub unknown_ids: HashSet<String>,
    /// Known handles (lowercase) referred to by name (`@mentions`, profile links).
    pub handles: HashSet<String>,
    /// Handles (lowercase) nobody knows.
    pub unknown_handles: HashSet<String>,
}

/// Whether an account with this follower count is pseudonymised.
pub fn is_pseudonymised(followers: Option<u64>, threshold: u64) -> bool {
    followers.is_none_or(|f| f < threshold)
}
