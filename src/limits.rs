//! The limits `build` and `verify` share.
//!
//! `verify` reads a bundle with bounded memory: it holds one CSV record, the two JSON
//! records and the tag files, each up to a cap. A bundle that `build` writes must pass
//! `verify`, so the build refuses, before it writes anything final, every input that
//! would give a file beyond these caps, naming the limit. One definition here keeps
//! the two sides from drifting apart.

/// The longest CSV record of a published file, in bytes as written (quotes, commas
/// and the line end included). `verify`'s CSV reader holds one record in memory.
pub const MAX_RECORD_BYTES: u64 = 16 << 20;

/// The most bytes of `disclosure.json` and `datapackage.json`, read whole.
pub const MAX_RECORD_FILE_BYTES: u64 = 64 << 20;

/// The most bytes of `bagit.txt` and `bag-info.txt`, read whole.
pub const MAX_BAG_INFO_BYTES: u64 = 1 << 20;

/// The most bytes of the manifests, read whole (they may list many media files).
pub const MAX_MANIFEST_BYTES: u64 = 256 << 20;

/// The longest policy text kept in `bag-info.txt` (`release.organisation`,
/// `release.description`), in bytes: with the other fields, the file stays well
/// under [`MAX_BAG_INFO_BYTES`].
pub const MAX_BAG_INFO_VALUE_BYTES: u64 = 256 << 10;

/// The largest policy file read.
pub const MAX_POLICY_BYTES: u64 = 4 << 20;

/// The largest key or seed file read (a key file holds 64 hex digits and a newline).
pub const MAX_KEY_FILE_BYTES: u64 = 64 << 10;

/// The largest signature file (`.minisig`) read.
pub const MAX_SIGNATURE_BYTES: u64 = 64 << 10;

/// The longest piece of input quoted in a message, in characters.
pub const MAX_QUOTED_CHARS: usize = 80;

/// The last year a zip entry can be dated (DOS dates end with 2107).
pub const MAX_ZIP_YEAR: u16 = 2107;

/// The first year a zip entry can be dated.
pub const MIN_ZIP_YEAR: u16 = 1980;
