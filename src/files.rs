//! Opening input files safely: only regular files, and whole-file reads capped.
//!
//! A FIFO given as an input would block the command forever, `/dev/zero` read whole
//! would exhaust memory, and a directory or a symbolic-link loop is not "missing".
//! Every input is opened here without blocking, its kind taken from the opened handle
//! (no race between a check and the open), and refused unless it is a regular file,
//! with its real kind named. Files read whole are read up to a cap named in the
//! message.

use std::fs::{File, Metadata};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Why an input cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotUsable {
    /// The path.
    pub path: PathBuf,
    /// What is wrong, as a phrase after the path (`is a FIFO (named pipe), not a
    /// regular file`).
    pub why: String,
}

impl std::fmt::Display for NotUsable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.why)
    }
}

impl From<NotUsable> for crate::error::Error {
    fn from(e: NotUsable) -> Self {
        crate::error::Error::input(crate::error::Location::file(&e.path), e.why)
    }
}

/// The kind of a file system object, as a noun phrase.
pub fn kind_of(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_file() {
        return "a regular file";
    }
    if t.is_dir() {
        return "a directory";
    }
    if t.is_symlink() {
        return "a symbolic link";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
    }
    "not a regular file"
}

/// What an OS error on opening says about the path, as a phrase.
pub fn describe_open_error(e: &std::io::Error) -> String {
    #[cfg(unix)]
    if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
        return "is a loop of symbolic links".into();
    }
    match e.kind() {
        std::io::ErrorKind::NotFound => "does not exist".into(),
        std::io::ErrorKind::PermissionDenied => "cannot be read: permission denied".into(),
        _ => format!("cannot be opened: {e}"),
    }
}

/// What a path is, when it is not a usable regular file: `None` for a regular file.
/// Follows symbolic links (a link to a regular file is a regular file).
pub fn problem(path: &Path) -> Option<String> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => None,
        Ok(m) => Some(format!("is {}, not a regular file", kind_of(&m))),
        Err(e) => Some(describe_open_error(&e)),
    }
}

/// Opens `path` for reading when it is a regular file. The file is opened without
/// blocking (a FIFO would wait for a writer) and its kind is taken from the handle.
pub fn open_regular(path: &Path) -> Result<File, NotUsable> {
    let fail = |why: String| NotUsable {
        path: path.to_path_buf(),
        why,
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
    }
    let file = opts.open(path).map_err(|e| fail(describe_open_error(&e)))?;
    let meta = file
        .metadata()
        .map_err(|e| fail(format!("cannot be read: {e}")))?;
    if !meta.is_file() {
        return Err(fail(format!("is {}, not a regular file", kind_of(&meta))));
    }
    #[cfg(unix)]
    {
        // Reads of a regular file never block; clear the flag all the same.
        let _ = rustix::fs::fcntl_setfl(&file, rustix::fs::OFlags::empty());
    }
    Ok(file)
}

/// Reads a regular file whole, refusing one larger than `cap` bytes (`what` names
/// the file in the message: `key file`, `policy`).
pub fn read_capped(path: &Path, cap: u64, what: &str) -> Result<Vec<u8>, NotUsable> {
    let file = open_regular(path)?;
    let fail = |why: String| NotUsable {
        path: path.to_path_buf(),
        why,
    };
    let mut out = Vec::new();
    // One byte more than the cap tells a file at the cap from a larger one, even when
    // the file grows while it is read.
    file.take(cap + 1)
        .read_to_end(&mut out)
        .map_err(|e| fail(format!("cannot be read: {e}")))?;
    if out.len() as u64 > cap {
        return Err(fail(format!(
            "is larger than {cap} bytes, the most a {what} may hold"
        )));
    }
    Ok(out)
}

/// Size and modification time of an input at the start of a command, to tell
/// whether it changed before the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    path: PathBuf,
    state: Option<(u64, Option<std::time::SystemTime>)>,
}

impl Snapshot {
    /// Records `path`'s size and modification time (or that it does not exist).
    pub fn take(path: &Path) -> Self {
        Snapshot {
            path: path.to_path_buf(),
            state: Self::state(path),
        }
    }

    fn state(path: &Path) -> Option<(u64, Option<std::time::SystemTime>)> {
        std::fs::metadata(path)
            .ok()
            .map(|m| (m.len(), m.modified().ok()))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `None` when the file is as it was; otherwise what changed, as a phrase.
    pub fn changed(&self) -> Option<String> {
        let now = Self::state(&self.path);
        match (&self.state, &now) {
            (a, b) if a == b => None,
            (Some(_), None) => Some("was removed".into()),
            (None, Some(_)) => Some("appeared".into()),
            (Some((a, _)), Some((b, _))) if a != b => {
                Some(format!("changed size from {a} to {b} bytes"))
            }
            _ => Some("was modified (its modification time changed)".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        let dir = tempfile::tempdir().unwrap();
        let err = open_regular(dir.path()).unwrap_err();
        assert!(err.why.contains("a directory"), "{err}");
        let missing = dir.path().join("nope");
        assert_eq!(open_regular(&missing).unwrap_err().why, "does not exist");
        #[cfg(unix)]
        {
            let z = open_regular(Path::new("/dev/zero")).unwrap_err();
            assert!(z.why.contains("character device"), "{z}");
            let a = dir.path().join("a");
            let b = dir.path().join("b");
            std::os::unix::fs::symlink(&a, &b).unwrap();
            std::os::unix::fs::symlink(&b, &a).unwrap();
            assert!(open_regular(&a).unwrap_err().why.contains("loop"));
        }
        let f = dir.path().join("f");
        std::fs::write(&f, b"12345").unwrap();
        assert_eq!(read_capped(&f, 5, "x").unwrap(), b"12345");
        let e = read_capped(&f, 4, "key file").unwrap_err();
        assert!(e.why.contains("larger than 4 bytes"), "{e}");
    }

    #[test]
    fn snapshots() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"1").unwrap();
        let s = Snapshot::take(&f);
        assert_eq!(s.changed(), None);
        std::fs::write(&f, b"12").unwrap();
        assert!(s.changed().unwrap().contains("from 1 to 2"));
    }
}
