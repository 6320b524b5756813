//! Who an account is in the bundle: the release key, the pseudonym scheme, the rule
//! that decides who is pseudonymised, and the narrow view of published names that
//! the text matcher uses.
//!
//! The registry of every known account lives in [`crate::transform::Registry`]:
//! it also holds the matcher that finds names in prose.

pub mod key;
pub mod lookup;
pub mod pseudonym;

pub use key::{describe_access, Key};
pub use lookup::Names;
pub use pseudonym::Pseudonymizer;

/// The key an unknown ID or handle is counted under: a 64-bit hash with fixed seeds.
/// Two values count once only if their hashes collide (about one chance in 10^7 for
/// a million distinct values), which changes a figure of the report, nothing published.
pub fn unknown_key(value: &str) -> u64 {
    ahash::RandomState::with_seeds(
        0x243f_6a88_85a3_08d3,
        0x1319_8a2e_0370_7344,
        0xa409_3822_299f_31d0,
        0x082e_fa98_ec4e_6c89,
    )
    .hash_one(value)
}

/// Whether an account with this follower count is pseudonymised.
pub fn is_pseudonymised(followers: Option<u64>, threshold: u64) -> bool {
    followers.is_none_or(|f| f < threshold)
}
