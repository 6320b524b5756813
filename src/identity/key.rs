//! The release key: reading, checking, generating and fingerprinting it (DESIGN §2).
//!
//! The key never leaves this module in printable form: [`Key`] has no `Debug` or
//! `Display` that shows it; [`super::pseudonym`] alone reads its bytes.

use std::fmt;
use std::fs;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The shipped demo key, `examples/demo-only.key`: refused without `--allow-demo-key`.
pub const DEMO_KEY_HEX: &str = "44b59524183680fddd1c7f5df6a8cd5e4d1d01d86ea275e108224a3b00e356be";

/// A key whose 32 bytes take fewer distinct values than this is refused without
/// `--allow-demo-key`. 32 random bytes take fewer than 8 values with a probability
/// below 10^-30.
pub const MIN_DISTINCT_BYTES: usize = 8;

/// A release key: 32 secret bytes.
#[derive(Clone)]
pub struct Key(pub(super) [u8; 32]);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<secret>)")
    }
}

impl Key {
    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Key(bytes)
    }

    /// Parses a key file's text: 64 hex digits, one trailing newline allowed.
    /// The error never quotes the text.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let body = text
            .strip_suffix("\r\n")
            .or_else(|| text.strip_suffix('\n'))
            .unwrap_or(text);
        if body.len() != 64 {
            return Err(format!(
                "expected exactly 64 hex digits (a trailing newline allowed), found {} bytes",
                body.len()
            ));
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(body, &mut bytes)
            .map_err(|_| "expected exactly 64 hex digits, found a non-hex character".to_string())?;
        Ok(Key(bytes))
    }

    /// Reads a key file. Warns (returns a note) when the file is readable by others.
    pub fn read(path: &Path) -> Result<(Self, Option<String>)> {
        // Only a regular file: a FIFO would block, /dev/zero never end.
        crate::files::open_regular(path).map_err(|e| Error::Key {
            file: path.to_path_buf(),
            message: e.why,
        })?;
        let meta = fs::metadata(path).map_err(|e| Error::Key {
            file: path.to_path_buf(),
            message: format!("cannot read: {e}"),
        })?;
        let mut warning = None;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode();
            if mode & 0o077 != 0 {
                warning = Some(format!(
                    "key file {} is {} (mode {:o}); run chmod 600 on it",
                    path.display(),
                    describe_access(mode),
                    mode & 0o777
                ));
            }
        }
        let _ = meta;
        let raw = crate::files::read_capped(path, crate::limits::MAX_KEY_FILE_BYTES, "key file")
            .map_err(|e| Error::Key {
                file: path.to_path_buf(),
                message: e.why,
            })?;
        let text = String::from_utf8(raw).map_err(|_| Error::Key {
            file: path.to_path_buf(),
            message: "expected 64 hex digits, found bytes that are not text".into(),
        })?;
        let key = Key::parse(&text).map_err(|message| Error::Key {
            file: path.to_path_buf(),
            message,
        })?;
        Ok((key, warning))
    }

    /// Reads a key file for use: like [`Key::read`], and refuses a key anyone could
    /// know (see [`Key::weakness`]) unless `allow_demo_key` (`--allow-demo-key`) is
    /// given; then it warns instead. Returns the key and its warnings.
    pub fn load(path: &Path, allow_demo_key: bool) -> Result<(Self, Vec<String>)> {
        let (key, warning) = Key::read(path)?;
        let mut warnings: Vec<String> = warning.into_iter().collect();
        if let Some(weakness) = key.weakness() {
            if !allow_demo_key {
                return Err(Error::Key {
                    file: path.to_path_buf(),
                    message: format!(
                        "{weakness}: its fingerprint in the bundle would tell everyone which key it is. Make a release key with `disclose keygen --out release.key`, or pass --allow-demo-key for a demonstration"
                    ),
                });
            }
            warnings.push(format!(
                "key file {}: {weakness}; accepted because of --allow-demo-key: never publish a bundle built with it",
                path.display()
            ));
        }
        Ok((key, warnings))
    }

    /// Why this key must not make a real release, if it must not: its bytes take
    /// fewer than [`MIN_DISTINCT_BYTES`] values (all equal, all zero, a short pattern
    /// repeated: a random key has about 30), or it is the shipped demo key. Never
    /// quotes the key.
    pub fn weakness(&self) -> Option<&'static str> {
        let mut seen = [false; 256];
        for b in self.0 {
            seen[b as usize] = true;
        }
        let distinct = seen.iter().filter(|s| **s).count();
        if distinct == 1 {
            Some("the key has no entropy (all its bytes are equal)")
        } else if distinct < MIN_DISTINCT_BYTES {
            Some("the key has almost no entropy (a few byte values repeated)")
        } else if hex::encode(self.0) == DEMO_KEY_HEX {
            Some("this is the shipped demo key (examples/demo-only.key), which everyone has")
        } else {
            None
        }
    }

    /// Makes a fresh key from the OS CSPRNG and writes it to `path` with mode 0600.
    /// Never overwrites an existing file. Returns the key's fingerprint.
    pub fn generate(path: &Path) -> Result<String> {
        let key = Key(crate::secret::random_bytes::<32>("release key")?);
        let mut text = hex::encode(key.0);
        text.push('\n');
        crate::secret::write_secret_file(path, text.as_bytes(), || Error::Key {
            file: path.to_path_buf(),
            message: "already exists; keygen never overwrites a key".into(),
        })?;
        Ok(key.fingerprint())
    }

    /// First 16 hex digits of `SHA-256("disclose/v1/key-fingerprint" || 0x00 || key)`.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"disclose/v1/key-fingerprint\0");
        h.update(self.0);
        hex::encode(h.finalize())[..16].to_string()
    }

    /// Whether `needle` holds this key, raw or in hex (for leak tests and scans).
    pub fn appears_in(&self, haystack: &[u8]) -> bool {
        let hex_lower = hex::encode(self.0);
        let hex_upper = hex_lower.to_ascii_uppercase();
        contains(haystack, &self.0)
            || contains(haystack, hex_lower.as_bytes())
            || contains(haystack, hex_upper.as_bytes())
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// What group and others may do with a file of `mode`, in words: `readable by its
/// group and others`, `writable by others`, ...
pub fn describe_access(mode: u32) -> String {
    let who = |group: bool, other: bool| match (group, other) {
        (true, true) => Some("its group and others"),
        (true, false) => Some("its group"),
        (false, true) => Some("others"),
        (false, false) => None,
    };
    let mut parts = Vec::new();
    if let Some(w) = who(mode & 0o040 != 0, mode & 0o004 != 0) {
        parts.push(format!("readable by {w}"));
    }
    if let Some(w) = who(mode & 0o020 != 0, mode & 0o002 != 0) {
        parts.push(format!("writable by {w}"));
    }
    if let Some(w) = who(mode & 0o010 != 0, mode & 0o001 != 0) {
        parts.push(format!("executable by {w}"));
    }
    parts.join(" and ")
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_parse_accepts_trailing_newline_only() {
        let hex = "00".repeat(32);
        assert!(Key::parse(&hex).is_ok());
        assert!(Key::parse(&format!("{hex}\n")).is_ok());
        assert!(Key::parse(&format!("{hex}\n\n")).is_err());
        assert!(Key::parse(&hex[..62]).is_err());
        assert!(Key::parse(&format!("{}zz", &hex[..62])).is_err());
    }

    #[test]
    fn weak_keys_are_named() {
        assert!(Key::from_bytes([0; 32]).weakness().is_some());
        assert!(Key::from_bytes([0xab; 32]).weakness().is_some());
        let mut pattern = [0u8; 32];
        for (i, b) in pattern.iter_mut().enumerate() {
            *b = (i % 4) as u8;
        }
        assert!(Key::from_bytes(pattern).weakness().is_some());
        let demo = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo-only.key"),
        )
        .unwrap();
        assert!(Key::parse(&demo).unwrap().weakness().is_some());
        let mut sequence = [0u8; 32];
        for (i, b) in sequence.iter_mut().enumerate() {
            *b = i as u8;
        }
        assert!(Key::from_bytes(sequence).weakness().is_none());
    }

    #[test]
    fn key_debug_hides_material() {
        let key = Key::from_bytes([0xab; 32]);
        assert!(!format!("{key:?}").contains("abab"));
    }
}
