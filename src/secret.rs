//! Secret files and secret bytes: one writer for every file that must never be read by
//! others (signing keys, pseudonym keys, sampling seeds) and one source of randomness
//! (the operating system's, through `getrandom`).
//!
//! A secret file is created new (never overwriting) with mode 0600 on Unix, written
//! whole and synced before the call returns.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Creates `path` new with `mode` (Unix permissions; ignored elsewhere), writes `data`
/// and syncs it. An existing file is never overwritten: `exists` makes the error then.
pub fn write_new_file(
    path: &Path,
    mode: u32,
    data: &[u8],
    exists: impl FnOnce() -> Error,
) -> Result<()> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    let _ = mode;
    let mut f = opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            exists()
        } else {
            Error::io(path, e)
        }
    })?;
    f.write_all(data)
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(path, e))
}

/// Creates the secret file `path` (mode 0600), never overwriting: see [`write_new_file`].
pub fn write_secret_file(path: &Path, data: &[u8], exists: impl FnOnce() -> Error) -> Result<()> {
    write_new_file(path, 0o600, data, exists)
}

/// `N` bytes from the operating system's CSPRNG. `what` names the secret in the error.
pub fn random_bytes<const N: usize>(what: &str) -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| Error::Usage(format!("cannot draw random bytes for the {what}: {e}")))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_file_is_0600_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        write_secret_file(&path, b"one", || Error::Usage("exists".into())).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let err = write_secret_file(&path, b"two", || Error::Usage("exists".into()));
        assert!(matches!(err, Err(Error::Usage(m)) if m == "exists"));
        assert_eq!(fs::read(&path).unwrap(), b"one");
    }

    #[test]
    fn random_bytes_differ() {
        let a: [u8; 32] = random_bytes("test").unwrap();
        let b: [u8; 32] = random_bytes("test").unwrap();
        assert_ne!(a, b);
    }
}
