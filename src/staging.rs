//! The bundle's temporary file, and the ones interrupted builds leave behind.
//!
//! A build writes `<release>.zip` as `.<release>.zip.<random>.partial` in the output
//! directory and renames it into place when complete. While the build runs it holds
//! an exclusive `flock` on that file; the kernel drops the lock when the process ends,
//! however it ends (SIGKILL, power loss, a panic). So the next build of the same
//! release tells a stale temporary file (unlocked: its writer is gone) from one being
//! written (locked): it removes the first and reports it, and refuses to run beside
//! the second.
//!
//! Races are closed by checking, under the lock, that the path still names the file
//! that was locked: a sweeper removes a file only while holding its lock, and a
//! creator that finds its fresh file swept away before it could lock it makes another.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Suffix of every temporary bundle file.
pub const SUFFIX: &str = ".partial";

/// Whether `file_name` is a temporary file of the bundle named `bundle_name`
/// (`<release>.zip`): `.<bundle_name>.<letters and digits>.partial`.
pub fn is_partial_of(file_name: &str, bundle_name: &str) -> bool {
    file_name
        .strip_prefix('.')
        .and_then(|r| r.strip_prefix(bundle_name))
        .and_then(|r| r.strip_prefix('.'))
        .and_then(|r| r.strip_suffix(SUFFIX))
        .is_some_and(|mid| !mid.is_empty() && mid.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(unix)]
fn same_file(path: &Path, file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::symlink_metadata(path), file.metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(path: &Path, _file: &File) -> bool {
    path.exists()
}

/// The outcome of trying to lock a file.
enum Lock {
    Held,
    Busy,
    Unsupported(String),
}

#[cfg(unix)]
fn lock(file: &File, wait: bool) -> Lock {
    use rustix::fs::{flock, FlockOperation};
    let op = if wait {
        FlockOperation::LockExclusive
    } else {
        FlockOperation::NonBlockingLockExclusive
    };
    loop {
        match flock(file, op) {
            Ok(()) => return Lock::Held,
            Err(rustix::io::Errno::INTR) => continue,
            Err(rustix::io::Errno::WOULDBLOCK) => return Lock::Busy,
            Err(e) => return Lock::Unsupported(std::io::Error::from(e).to_string()),
        }
    }
}

#[cfg(not(unix))]
fn lock(_file: &File, _wait: bool) -> Lock {
    Lock::Unsupported("file locks are not implemented on this platform".into())
}

/// Creates `.<bundle_name>.<random>.partial` in `dir` and locks it for the life of the
/// returned file (and of its clones).
pub fn create_locked(dir: &Path, bundle_name: &str) -> Result<tempfile::NamedTempFile> {
    for _ in 0..16 {
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{bundle_name}."))
            .suffix(SUFFIX)
            .tempfile_in(dir)
            .map_err(|e| {
                // The OS error alone: tempfile's text adds ` at path "<random name>"`.
                let text = e.to_string();
                let why = text.split(" at path \"").next().unwrap_or_default();
                Error::Usage(format!(
                    "cannot write to the output directory {}: {why}",
                    dir.display()
                ))
            })?;
        match lock(tmp.as_file(), true) {
            Lock::Held => {}
            // Without locks the file still works; only the sweep is less sure.
            Lock::Unsupported(_) => return Ok(tmp),
            Lock::Busy => unreachable!("a blocking lock does not report busy"),
        }
        if same_file(tmp.path(), tmp.as_file()) {
            return Ok(tmp);
        }
        // Swept by a concurrent build before we locked it: the path is no longer ours,
        // so forget it rather than remove whatever it names now, and try again.
        let (_file, path) = tmp.into_parts();
        let _ = path.keep();
    }
    Err(Error::Usage(format!(
        "cannot create a temporary file in {}: it keeps disappearing (another program is removing files there)",
        dir.display()
    )))
}

/// Removes the temporary files of `bundle_name` in `dir` that no running build holds,
/// and returns one line per file for the user. Fails when a running build is writing
/// the same bundle into the same directory.
pub fn sweep(dir: &Path, bundle_name: &str) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut paths: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        if name.to_str().is_some_and(|n| is_partial_of(n, bundle_name)) {
            paths.push(entry.path());
        }
    }
    paths.sort();
    for path in paths {
        match fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_file() => {}
            // Not a file this tool makes: leave it alone, but say so.
            Ok(_) => {
                notes.push(format!(
                    "left {} alone: it has the name of a temporary bundle but is not a regular file",
                    path.display()
                ));
                continue;
            }
            // Gone already (another build swept it).
            Err(_) => continue,
        }
        let Ok(file) = File::open(&path) else {
            continue;
        };
        match lock(&file, false) {
            Lock::Held => {
                if !same_file(&path, &file) {
                    continue;
                }
                let bytes = file.metadata().map_or(0, |m| m.len());
                fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                notes.push(format!(
                    "removed {} ({bytes} bytes), left by an interrupted build",
                    path.display()
                ));
            }
            Lock::Busy => {
                return Err(Error::Usage(format!(
                    "another build is writing {} (it holds a lock on it): wait for it to finish or stop it, then run again",
                    path.display()
                )))
            }
            Lock::Unsupported(why) => notes.push(format!(
                "left {} in place: cannot tell whether a build is still writing it ({why}); remove it if none is",
                path.display()
            )),
        }
    }
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_names() {
        assert!(is_partial_of(".r1.zip.Ab3xYz.partial", "r1.zip"));
        assert!(!is_partial_of(".r1.zip..partial", "r1.zip"));
        assert!(!is_partial_of("r1.zip.Ab3xYz.partial", "r1.zip"));
        assert!(!is_partial_of(".r1.zip.b.zip.Ab3xYz.partial", "r1.zip"));
        assert!(!is_partial_of(".r1.zip.Ab3xYz.partial~", "r1.zip"));
        assert!(!is_partial_of(".r2.zip.Ab3xYz.partial", "r1.zip"));
    }

    #[test]
    fn created_files_are_locked_and_swept_only_when_stale() {
        let dir = tempfile::tempdir().unwrap();
        let live = create_locked(dir.path(), "r.zip").unwrap();
        let name = live
            .path()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert!(is_partial_of(&name, "r.zip"), "{name}");
        // A live build's file: the sweep refuses to run beside it.
        let err = sweep(dir.path(), "r.zip").unwrap_err().to_string();
        assert!(err.contains("another build is writing"), "{err}");
        assert!(live.path().exists());
        // Its writer gone (the lock goes with the file handle), the file is stale.
        let (file, path) = live.into_parts();
        drop(file);
        let path = path.keep().unwrap();
        fs::write(dir.path().join(".other.zip.Q1w2E3.partial"), b"x").unwrap();
        let notes = sweep(dir.path(), "r.zip").unwrap();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("interrupted build"), "{notes:?}");
        assert!(!path.exists());
        // Another release's temporary file is not ours to remove.
        assert!(dir.path().join(".other.zip.Q1w2E3.partial").exists());
    }
}
