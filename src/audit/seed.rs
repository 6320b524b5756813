//! `disclose seed`: a fresh seed and its commitment, written to a 0600 file.

use std::path::Path;

use crate::error::{Error, Result};
use crate::sample;

/// A fresh seed: 32 bytes from the OS CSPRNG in hex, and its SHA-256 commitment.
pub fn new_seed() -> Result<(String, String)> {
    let seed = hex::encode(crate::secret::random_bytes::<32>("seed")?);
    let commitment = sample::seed_commitment(&seed);
    Ok((seed, commitment))
}

/// Writes a seed to a new file (mode 0600, never overwriting).
pub fn write_seed(path: &Path, seed: &str) -> Result<()> {
    crate::secret::write_secret_file(path, format!("{seed}\n").as_bytes(), || {
        Error::Usage(format!(
            "{} already exists; `disclose seed` never overwrites a seed",
            path.display()
        ))
    })
}
