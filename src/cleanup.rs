//! Leaving nothing behind when a command is interrupted.
//!
//! Temporary files, lock files and temporary directories are registered here when
//! they are made. On SIGINT or SIGTERM, [`install`]'s handler removes whatever of
//! them still exists, then exits with 128 + the signal number. What a run killed
//! without a chance to clean up (SIGKILL, power loss) leaves is swept by the next run:
//! build's temporary files by [`crate::bundle::staging::sweep`], staff verify's temporary
//! directories by [`private_tempdir`]. Each holds a lock while its owner lives, so a
//! sweep never removes what a running command is using.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

static REGISTERED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Removes `path` on SIGINT or SIGTERM (a file, or a directory with its contents).
/// A path that no longer exists then is skipped, so registering a temporary file
/// that is later renamed into place is harmless.
pub fn register(path: &Path) {
    if let Ok(mut r) = REGISTERED.lock() {
        r.push(path.to_path_buf());
    }
}

/// Forgets `path` (a file renamed into place must not be removed under its old name
/// if another file appears there).
pub fn forget(path: &Path) {
    if let Ok(mut r) = REGISTERED.lock() {
        r.retain(|p| p != path);
    }
}

/// Removes every registered path that still exists.
pub fn remove_registered() {
    let paths = match REGISTERED.lock() {
        Ok(r) => r.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    };
    for p in paths.iter().rev() {
        match std::fs::symlink_metadata(p) {
            Ok(m) if m.is_dir() => {
                let _ = std::fs::remove_dir_all(p);
            }
            Ok(_) => {
                let _ = std::fs::remove_file(p);
            }
            Err(_) => {}
        }
    }
}

/// Installs the SIGINT/SIGTERM handler: a thread that waits for either, removes the
/// registered paths, and exits with 128 + the signal number (130, 143).
#[cfg(unix)]
pub fn install() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            remove_registered();
            eprintln!(
                "interrupted ({}): removed the temporary files of this run",
                if sig == SIGINT { "SIGINT" } else { "SIGTERM" }
            );
            std::process::exit(128 + sig);
        }
    });
}

/// Without Unix signals there is nothing to install.
#[cfg(not(unix))]
pub fn install() {}

/// Takes an exclusive lock on `file` without waiting: `Ok(true)` when held,
/// `Ok(false)` when another process holds it.
#[cfg(unix)]
pub fn try_lock(file: &File) -> std::io::Result<bool> {
    use rustix::fs::{flock, FlockOperation};
    loop {
        match flock(file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(true),
            Err(rustix::io::Errno::INTR) => continue,
            Err(rustix::io::Errno::WOULDBLOCK) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Without file locks every lock is taken.
#[cfg(not(unix))]
pub fn try_lock(_file: &File) -> std::io::Result<bool> {
    Ok(true)
}

/// Name of the lock file inside a private temporary directory.
const DIR_LOCK: &str = ".lock";

/// A temporary directory in the system's temporary folder, named `<prefix>XXXXXX`,
/// removed when dropped or on SIGINT/SIGTERM, and locked while it lives. Before
/// making it, directories with the same prefix whose lock no one holds (left by a
/// killed run) are removed; their paths are returned for the user.
pub fn private_tempdir(prefix: &str) -> std::io::Result<(tempfile::TempDir, File, Vec<PathBuf>)> {
    let base = std::env::temp_dir();
    let mut swept = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&base) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if !name.starts_with(prefix) {
                continue;
            }
            let path = entry.path();
            // Only real directories this tool made: never follow a link.
            let meta = match std::fs::symlink_metadata(&path) {
                Ok(m) if m.is_dir() => m,
                _ => continue,
            };
            // A directory made in the last minute may not have its lock yet.
            let young = meta
                .modified()
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_none_or(|age| age < std::time::Duration::from_secs(60));
            if young {
                continue;
            }
            let Ok(lock) = File::open(path.join(DIR_LOCK)) else {
                continue;
            };
            if try_lock(&lock).unwrap_or(false) && std::fs::remove_dir_all(&path).is_ok() {
                swept.push(path);
            }
        }
    }
    let dir = tempfile::Builder::new().prefix(prefix).tempdir()?;
    register(dir.path());
    let lock = File::create(dir.path().join(DIR_LOCK))?;
    try_lock(&lock)?;
    Ok((dir, lock, swept))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_paths_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.partial");
        let d = dir.path().join("sub");
        std::fs::write(&f, b"x").unwrap();
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("inner"), b"y").unwrap();
        register(&f);
        register(&d);
        remove_registered();
        assert!(!f.exists() && !d.exists());
        forget(&f);
        forget(&d);
    }
}
