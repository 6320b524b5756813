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
        let prefix = format!(".{bundle_name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(SUFFIX);
        // An ordinary file once in place (0644 under the usual umask), not 0600.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(fs::Permissions::from_mode(0o666));
        }
        let tmp = builder.tempfile_in(dir).map_err(|e| {
            // The OS error alone: tempfile's text adds ` at path "<random name>"`.
            let text = e.to_string();
            let why = text.split(" at path \"").next().unwrap_or_default();
            Error::Usage(format!(
                "cannot write to the output directory {}: {why}",
                dir.display()
            ))
        })?;
        crate::cleanup::register(tmp.path());
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

/// Whether `file_name` is a temporary file of anything a build of the release (or
/// tier) `name` writes: `<name>.zip`, its signature `<name>.zip.minisig`, its report
/// `<name>.report.html`, or a media volume `<name>_media_<digits>.zip`.
pub fn is_partial_of_release(file_name: &str, name: &str) -> bool {
    let volume = |n: &str| {
        file_name
            .strip_prefix('.')
            .and_then(|r| r.strip_prefix(name))
            .and_then(|r| r.strip_prefix("_media_"))
            .and_then(|r| r.split_once(".zip"))
            .is_some_and(|(digits, _)| {
                !digits.is_empty()
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && is_partial_of(file_name, &format!("{n}_media_{digits}.zip"))
            })
    };
    [
        format!("{name}.zip"),
        format!("{name}.zip.minisig"),
        format!("{name}.report.html"),
    ]
    .iter()
    .any(|f| is_partial_of(file_name, f))
        || volume(name)
}

/// The lock that makes one build of a release at a time: `.<release>.lock` in the
/// output directory, created if needed and held (`flock`) for the whole build. A
/// second build of the same release finds it held and is refused. The file is
/// removed when the build ends, under the lock; a file left by a killed build is
/// taken over by the next one (its lock went with its process).
#[derive(Debug)]
pub struct BuildLock {
    file: File,
    path: PathBuf,
}

impl BuildLock {
    /// Takes the lock of `release` in `dir`, or fails naming it.
    pub fn acquire(dir: &Path, release: &str) -> Result<Self> {
        let path = dir.join(format!(".{release}.lock"));
        for _ in 0..16 {
            let file = fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| {
                    Error::Usage(format!(
                        "cannot write to the output directory {}: {e}",
                        dir.display()
                    ))
                })?;
            match lock(&file, false) {
                Lock::Held => {}
                Lock::Busy => {
                    return Err(Error::Usage(format!(
                        "another build of release {release} is running: it holds the lock {}; wait for it to finish or stop it, then run again",
                        path.display()
                    )))
                }
                Lock::Unsupported(_) => {
                    crate::cleanup::register(&path);
                    return Ok(BuildLock { file, path });
                }
            }
            // The file locked must still be the one at the path: a build that just
            // ended removes its lock file, and a lock on a removed file locks nothing.
            if same_file(&path, &file) {
                crate::cleanup::register(&path);
                return Ok(BuildLock { file, path });
            }
        }
        Err(Error::Usage(format!(
            "cannot take the lock {}: it keeps disappearing (another program is removing files there)",
            path.display()
        )))
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for BuildLock {
    fn drop(&mut self) {
        // Still locked here: no other build can hold this file while it is removed.
        if same_file(&self.path, &self.file) {
            let _ = fs::remove_file(&self.path);
        }
        crate::cleanup::forget(&self.path);
    }
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
        let ours = |n: &str| {
            is_partial_of(n, bundle_name)
                || bundle_name
                    .strip_suffix(".zip")
                    .is_some_and(|r| is_partial_of_release(n, r))
        };
        if name.to_str().is_some_and(ours) {
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
    fn release_partial_names() {
        assert!(is_partial_of_release(".r.zip.Ab3.partial", "r"));
        assert!(is_partial_of_release(".r.zip.minisig.Ab3.partial", "r"));
        assert!(is_partial_of_release(".r.report.html.Ab3.partial", "r"));
        assert!(is_partial_of_release(".r_media_001.zip.Ab3.partial", "r"));
        assert!(!is_partial_of_release(".r_media_.zip.Ab3.partial", "r"));
        assert!(!is_partial_of_release(".r_unhashed.zip.Ab3.partial", "r"));
        assert!(!is_partial_of_release(".rr.zip.Ab3.partial", "r"));
    }

    #[test]
    fn one_lock_per_release_removed_with_its_build() {
        let dir = tempfile::tempdir().unwrap();
        let a = BuildLock::acquire(dir.path(), "r").unwrap();
        let err = BuildLock::acquire(dir.path(), "r").unwrap_err().to_string();
        assert!(
            err.contains("another build of release r is running"),
            "{err}"
        );
        // Another release is not locked.
        let other = BuildLock::acquire(dir.path(), "s").unwrap();
        drop(other);
        assert!(a.path().exists());
        drop(a);
        assert!(!dir.path().join(".r.lock").exists());
        // A lock file left by a killed build (unlocked) is taken over.
        fs::write(dir.path().join(".r.lock"), b"").unwrap();
        let b = BuildLock::acquire(dir.path(), "r").unwrap();
        drop(b);
        assert!(!dir.path().join(".r.lock").exists());
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
