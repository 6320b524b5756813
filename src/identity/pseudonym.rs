//! The pseudonym scheme `hmac-sha256/v1` (DESIGN §2).
//!
//! Auditors and staff re-implement these functions, so they follow the design text
//! byte for byte: a domain string, a NUL byte, then the value.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::key::Key;

/// Identifies this scheme in the release record.
pub const SCHEME: &str = "hmac-sha256/v1";

/// The shortest pseudonym length a policy may ask for (hex digits).
pub const MIN_LENGTH: usize = 32;

/// Full pseudonym length (hex digits of an HMAC-SHA256).
pub const MAX_LENGTH: usize = 64;

/// Computes pseudonyms with one key at one length.
#[derive(Clone)]
pub struct Pseudonymizer {
    mac: Hmac<Sha256>,
    length: usize,
}

impl fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pseudonymizer(length {})", self.length)
    }
}

impl Pseudonymizer {
    /// A pseudonymizer for `key`, truncating to `length` hex digits (32..=64).
    pub fn new(key: &Key, length: usize) -> Self {
        assert!((MIN_LENGTH..=MAX_LENGTH).contains(&length));
        Pseudonymizer {
            mac: Hmac::<Sha256>::new_from_slice(&key.0).expect("HMAC takes any key length"),
            length,
        }
    }

    /// The length of the pseudonyms this makes.
    pub fn length(&self) -> usize {
        self.length
    }

    fn hash(&self, domain: &[u8], value: &[u8]) -> String {
        let mut mac = self.mac.clone();
        mac.update(domain);
        mac.update(b"\0");
        mac.update(value);
        let mut out = hex::encode(mac.finalize().into_bytes());
        out.truncate(self.length);
        out
    }

    /// Pseudonym of an account by user ID (decimal digits, no leading zeros).
    pub fn account(&self, userid: &str) -> String {
        self.hash(b"disclose/v1/account", userid.as_bytes())
    }

    /// Pseudonym of a screen name with no known user ID (case-insensitive).
    pub fn handle(&self, screen_name: &str) -> String {
        self.hash(b"disclose/v1/handle", screen_name.to_lowercase().as_bytes())
    }

    /// Pseudonym of a post ID.
    pub fn tweet(&self, tweetid: &str) -> String {
        self.hash(b"disclose/v1/tweet", tweetid.as_bytes())
    }

    /// Pseudonym of a media key, used in media file names when the post's ID is
    /// hashed (a raw media key would lead back to the post). Not part of DESIGN §2's
    /// fixed schemes: `"disclose/v1/media" || 0x00 || media_key`.
    pub fn media(&self, media_key: &str) -> String {
        self.hash(b"disclose/v1/media", media_key.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_pseudonyms_are_prefixes() {
        let key = Key::from_bytes([7; 32]);
        let full = Pseudonymizer::new(&key, 64).account("12");
        let short = Pseudonymizer::new(&key, 32).account("12");
        assert_eq!(&full[..32], short);
    }
}
