//! Writing the bundle: one zip holding one BagIt 1.0 bag (DESIGN §4, RFC 8493).
//!
//! Payload files are streamed into the zip while their SHA-256 and size are taken;
//! the tag files (`bagit.txt`, `bag-info.txt`, the manifests) follow. Everything
//! that could vary between machines is pinned: entry order, timestamps (the release
//! date), Unix attributes, the compression backend and level. The zip is written
//! to a temporary file beside its final path and renamed into place only when
//! complete.

pub mod csv;
pub mod deflate;
pub mod rawzip;
pub mod staging;

use std::fs::File;
use std::io::{BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::bundle::deflate::ParallelDeflate;
use crate::bundle::rawzip::RawEntry;
use crate::error::{Error, Result};
pub use crate::format::PayloadFile;
use crate::policy::Compression;

/// The bundle format this writes.
pub const FORMAT: &str = "disclose-bundle/1";

struct Current {
    path: String,
    hasher: Sha256,
    bytes: u64,
    /// A stored file whose name is known only at its end (the posts file: `_1`
    /// only when split) is written into a one-entry zip beside the bundle, then
    /// copied in raw under its name. Never dropped unfinished, like the bundle's
    /// own writer.
    spool: Option<std::mem::ManuallyDrop<ZipWriter<Sticky>>>,
    /// A deflated file is compressed on every core ([`ParallelDeflate`]) into a
    /// one-entry zip in a temporary file, then copied in raw under its name (known
    /// at its start or at its end).
    deflate: Option<ParallelDeflate<RawEntry<BufWriter<File>>>>,
}

/// The spool's file: the first write error is kept (and reported by the bundle
/// writer) and everything after it is discarded, so that the zip writer never fails
/// inside itself (it would print to stderr when dropped unfinished).
struct Sticky {
    file: BufWriter<File>,
    /// The position and length as the zip writer sees them (kept after a failure).
    pos: u64,
    len: u64,
    failed: std::sync::Arc<std::sync::Mutex<Option<std::io::Error>>>,
}

impl Sticky {
    fn keep(&self, e: std::io::Error) {
        let mut f = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        f.get_or_insert(e);
    }

    fn failed(&self) -> bool {
        self.failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }
}

impl Write for Sticky {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !self.failed() {
            if let Err(e) = self.file.write_all(buf) {
                self.keep(e);
            }
        }
        self.pos += buf.len() as u64;
        self.len = self.len.max(self.pos);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.failed() {
            if let Err(e) = self.file.flush() {
                self.keep(e);
            }
        }
        Ok(())
    }
}

impl std::io::Seek for Sticky {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        let to = match pos {
            std::io::SeekFrom::Start(n) => Some(n),
            std::io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            std::io::SeekFrom::End(d) => self.len.checked_add_signed(d),
        }
        .ok_or_else(|| std::io::Error::other("seek out of range"))?;
        // After a failure the spool is abandoned: only the position is kept.
        if !self.failed() {
            if let Err(e) = self.file.seek(std::io::SeekFrom::Start(to)) {
                self.keep(e);
            }
        }
        self.pos = to;
        self.len = self.len.max(to);
        Ok(to)
    }
}

/// Streams payload and tag files into a deterministic zip.
pub struct BundleWriter {
    /// Never dropped unfinished: `ZipWriter`'s drop would write a central directory
    /// into a file that is about to be deleted, and print to stderr when that fails
    /// (a full disk). A bundle abandoned on an error leaves its buffers and file
    /// handle to the end of the process.
    zip: std::mem::ManuallyDrop<ZipWriter<BufWriter<File>>>,
    zip_path: PathBuf,
    root: String,
    time: DateTime,
    compression: Compression,
    /// Threads that deflate payload files (the bytes do not depend on it).
    deflate_threads: usize,
    files: Vec<PayloadFile>,
    current: Option<Current>,
    /// The current spool's first write error (see [`Sticky`]).
    spool_failed: std::sync::Arc<std::sync::Mutex<Option<std::io::Error>>>,
}

/// bag-info.txt fields.
#[derive(Debug, Clone)]
pub struct BagInfo {
    /// Source-Organization.
    pub organisation: String,
    /// External-Description.
    pub description: String,
    /// External-Identifier: the release name.
    pub identifier: String,
    /// Bagging-Date: the release date.
    pub date: String,
}

impl BundleWriter {
    /// Starts a bundle in `file` (reported as `zip_path`), with all entries under
    /// `root/` and dated `date` (`YYYY-MM-DD`).
    pub fn new(
        file: File,
        zip_path: &Path,
        root: &str,
        date: &str,
        compression: Compression,
    ) -> Result<Self> {
        let y: u16 = date[0..4].parse().unwrap_or(1980);
        let m: u8 = date[5..7].parse().unwrap_or(1);
        let d: u8 = date[8..10].parse().unwrap_or(1);
        let time = DateTime::from_date_and_time(y, m, d, 0, 0, 0).map_err(|_| Error::Zip {
            path: zip_path.to_path_buf(),
            message: format!("release date {date} cannot be a zip timestamp"),
        })?;
        Ok(BundleWriter {
            zip: std::mem::ManuallyDrop::new(ZipWriter::new(BufWriter::with_capacity(
                1 << 20,
                file,
            ))),
            zip_path: zip_path.to_path_buf(),
            root: root.to_string(),
            time,
            compression,
            deflate_threads: 1,
            files: Vec::new(),
            current: None,
            spool_failed: Default::default(),
        })
    }

    /// Deflates payload files on `threads` threads (1 by default). The bundle's
    /// bytes are the same for any number.
    pub fn with_deflate_threads(mut self, threads: usize) -> Self {
        self.deflate_threads = threads.max(1);
        self
    }

    fn zip_err(&self, e: impl std::fmt::Display) -> Error {
        Error::Zip {
            path: self.zip_path.clone(),
            message: e.to_string(),
        }
    }

    fn options(&self, large: bool) -> SimpleFileOptions {
        self.options_with(large, self.compression)
    }

    fn options_with(&self, large: bool, compression: Compression) -> SimpleFileOptions {
        let (method, level) = match compression {
            Compression::Deflate(level) => (CompressionMethod::Deflated, Some(i64::from(level))),
            Compression::Stored => (CompressionMethod::Stored, None),
        };
        SimpleFileOptions::default()
            .compression_method(method)
            .compression_level(level)
            .last_modified_time(self.time)
            .system(zip::System::Unix)
            .unix_permissions(0o644)
            .large_file(large)
    }

    /// Starts a payload file at `rel` (relative to the bag root, `data/...`). `large`
    /// must be set when the file may reach 4 GiB.
    pub fn begin(&mut self, rel: &str, large: bool) -> Result<()> {
        self.begin_with(rel, large, self.compression)
    }

    /// Starts a payload file stored without compression (media: already compressed).
    pub fn begin_stored(&mut self, rel: &str, large: bool) -> Result<()> {
        self.begin_with(rel, large, Compression::Stored)
    }

    fn begin_with(&mut self, rel: &str, large: bool, compression: Compression) -> Result<()> {
        assert!(self.current.is_none(), "previous payload file not ended");
        if let Compression::Deflate(level) = compression {
            let dir = match self.zip_path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            return self.begin_deflated(&dir, rel, large, level);
        }
        let name = format!("{}/{rel}", self.root);
        let opts = self.options_with(large, compression);
        self.zip
            .start_file(name, opts)
            .map_err(|e| self.zip_err(e))?;
        self.current = Some(Current {
            path: rel.to_string(),
            hasher: Sha256::new(),
            bytes: 0,
            spool: None,
            deflate: None,
        });
        Ok(())
    }

    /// Starts a deflated payload file (`rel` may be empty: named at its end): a
    /// one-entry zip in an unnamed temporary file in `dir`, its data compressed
    /// by [`ParallelDeflate`] at `level`.
    fn begin_deflated(&mut self, dir: &Path, rel: &str, large: bool, level: u8) -> Result<()> {
        let tmp = tempfile::tempfile_in(dir).map_err(|e| Error::io(dir, e))?;
        let entry = RawEntry::begin(
            BufWriter::with_capacity(1 << 20, tmp),
            "deferred",
            large,
            self.time.datepart(),
            self.time.timepart(),
            0o644,
        )
        .map_err(|e| Error::io(&self.zip_path, e))?;
        self.current = Some(Current {
            path: rel.to_string(),
            hasher: Sha256::new(),
            bytes: 0,
            spool: None,
            deflate: Some(ParallelDeflate::new(
                entry,
                u32::from(level),
                self.deflate_threads,
            )),
        });
        Ok(())
    }

    /// Ends a deflated file's stream and copies its entry into the bundle as `rel`.
    fn copy_deflated(
        &mut self,
        deflate: ParallelDeflate<RawEntry<BufWriter<File>>>,
        rel: &str,
    ) -> Result<()> {
        let io = |e: std::io::Error| Error::io(&self.zip_path, e);
        let (entry, totals) = deflate.finish().map_err(io)?;
        let mut file = entry
            .finish(totals)
            .map_err(io)?
            .into_inner()
            .map_err(|e| io(e.into_error()))?;
        file.seek(std::io::SeekFrom::Start(0)).map_err(io)?;
        let mut archive = zip::ZipArchive::new(file).map_err(|e| self.zip_err(e))?;
        let entry = archive.by_index_raw(0).map_err(|e| self.zip_err(e))?;
        let name = format!("{}/{rel}", self.root);
        self.zip
            .raw_copy_file_rename(entry, name)
            .map_err(|e| self.zip_err(e))
    }

    /// Starts a payload file whose name is given at its end ([`Self::end_named`]).
    /// It is compressed like any other into a temporary file in `dir`, then copied
    /// into the bundle without recompression: the same bytes as written directly.
    pub fn begin_deferred(&mut self, dir: &Path, large: bool) -> Result<()> {
        assert!(self.current.is_none(), "previous payload file not ended");
        if let Compression::Deflate(level) = self.compression {
            return self.begin_deflated(dir, "", large, level);
        }
        let tmp = tempfile::tempfile_in(dir).map_err(|e| Error::io(dir, e))?;
        let failed = std::sync::Arc::new(std::sync::Mutex::new(None));
        self.spool_failed = failed.clone();
        let mut spool = ZipWriter::new(Sticky {
            file: BufWriter::with_capacity(1 << 20, tmp),
            pos: 0,
            len: 0,
            failed,
        });
        let opts = self.options(large);
        spool
            .start_file("deferred", opts)
            .map_err(|e| self.zip_err(e))?;
        self.current = Some(Current {
            path: String::new(),
            hasher: Sha256::new(),
            bytes: 0,
            spool: Some(std::mem::ManuallyDrop::new(spool)),
            deflate: None,
        });
        Ok(())
    }

    /// Ends the current payload file under `rel`, recording `rows`.
    pub fn end_named(&mut self, rel: &str, rows: u64) -> Result<PayloadFile> {
        if let Some(c) = self.current.as_mut() {
            c.path = rel.to_string();
        }
        let spool = self.current.as_mut().and_then(|c| c.spool.take());
        if let Some(spool) = spool {
            let finished = std::mem::ManuallyDrop::into_inner(spool).finish();
            self.check_spool()?;
            let file = finished
                .map_err(|e| self.zip_err(e))?
                .file
                .into_inner()
                .map_err(|e| Error::io(&self.zip_path, e.into_error()))?;
            let mut archive = zip::ZipArchive::new(file).map_err(|e| self.zip_err(e))?;
            let entry = archive.by_index_raw(0).map_err(|e| self.zip_err(e))?;
            let name = format!("{}/{rel}", self.root);
            self.zip
                .raw_copy_file_rename(entry, name)
                .map_err(|e| self.zip_err(e))?;
        }
        self.end(rows)
    }

    /// Appends to the current payload file.
    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        let cur = self.current.as_mut().expect("no payload file started");
        cur.hasher.update(data);
        cur.bytes += data.len() as u64;
        match (cur.deflate.as_mut(), cur.spool.as_mut()) {
            (Some(deflate), _) => deflate.write_all(data),
            (None, Some(spool)) => spool.write_all(data),
            (None, None) => self.zip.write_all(data),
        }
        .map_err(|e| Error::io(&self.zip_path, e))?;
        self.check_spool()
    }

    /// The spool's first write error, if any.
    fn check_spool(&self) -> Result<()> {
        match self
            .spool_failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            Some(e) => Err(Error::io(&self.zip_path, e)),
            None => Ok(()),
        }
    }

    /// Bytes written to the current payload file so far.
    pub fn current_bytes(&self) -> u64 {
        self.current.as_ref().map_or(0, |c| c.bytes)
    }

    /// Ends the current payload file, recording `rows`.
    pub fn end(&mut self, rows: u64) -> Result<PayloadFile> {
        let mut cur = self.current.take().expect("no payload file started");
        assert!(cur.spool.is_none(), "a deferred file ends with end_named");
        if let Some(deflate) = cur.deflate.take() {
            assert!(!cur.path.is_empty(), "a deferred file ends with end_named");
            self.copy_deflated(deflate, &cur.path)?;
        }
        let file = PayloadFile {
            path: cur.path,
            rows,
            bytes: cur.bytes,
            sha256: hex::encode(cur.hasher.finalize()),
        };
        self.files.push(file.clone());
        Ok(file)
    }

    /// Writes a whole small payload file.
    pub fn add(&mut self, rel: &str, data: &[u8], rows: u64) -> Result<PayloadFile> {
        self.begin(rel, false)?;
        self.write(data)?;
        self.end(rows)
    }

    /// The payload files written so far.
    pub fn files(&self) -> &[PayloadFile] {
        &self.files
    }

    fn add_tag(&mut self, name: &str, data: &[u8]) -> Result<String> {
        let opts = self.options(false);
        self.zip
            .start_file(format!("{}/{name}", self.root), opts)
            .map_err(|e| self.zip_err(e))?;
        self.zip
            .write_all(data)
            .map_err(|e| Error::io(&self.zip_path, e))?;
        Ok(hex::encode(Sha256::digest(data)))
    }

    /// Writes the tag files and the zip's central directory; returns the file, synced.
    pub fn finish(mut self, info: &BagInfo) -> Result<File> {
        assert!(self.current.is_none(), "payload file not ended");
        let mut files = self.files.clone();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let oxum_bytes: u64 = files.iter().map(|f| f.bytes).sum();
        let mut manifest = String::new();
        for f in &files {
            manifest.push_str(&format!("{}  {}\n", f.sha256, f.path));
        }
        let bagit = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";
        let one_line = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut bag_info = String::new();
        if !info.organisation.is_empty() {
            bag_info.push_str(&format!(
                "Source-Organization: {}\n",
                one_line(&info.organisation)
            ));
        }
        if !info.description.is_empty() {
            bag_info.push_str(&format!(
                "External-Description: {}\n",
                one_line(&info.description)
            ));
        }
        bag_info.push_str(&format!(
            "External-Identifier: {}\nBagging-Date: {}\nPayload-Oxum: {}.{}\nBag-Software-Agent: disclose {} ({})\n",
            info.identifier,
            info.date,
            oxum_bytes,
            files.len(),
            env!("CARGO_PKG_VERSION"),
            FORMAT
        ));
        let mut tags = Vec::new();
        for (name, data) in [
            ("bagit.txt", bagit.as_bytes()),
            ("bag-info.txt", bag_info.as_bytes()),
            ("manifest-sha256.txt", manifest.as_bytes()),
        ] {
            let sum = self.add_tag(name, data)?;
            tags.push(format!("{sum}  {name}\n"));
        }
        self.add_tag("tagmanifest-sha256.txt", tags.concat().as_bytes())?;
        let zip_path = self.zip_path.clone();
        let buf = std::mem::ManuallyDrop::into_inner(self.zip)
            .finish()
            .map_err(|e| Error::Zip {
                path: zip_path.clone(),
                message: e.to_string(),
            })?;
        let file = buf
            .into_inner()
            .map_err(|e| Error::io(&zip_path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&zip_path, e))?;
        Ok(file)
    }
}

/// A temporary file beside the bundle's final path, removed unless persisted.
pub struct PendingBundle {
    tmp: tempfile::NamedTempFile,
    dest: PathBuf,
}

impl PendingBundle {
    /// Creates the temporary file in `dest`'s directory. Refuses early when `dest`
    /// exists and `force` is off.
    pub fn create(dest: &Path, force: bool) -> Result<Self> {
        if dest.exists() && !force {
            return Err(Error::Usage(format!(
                "{} already exists; pass --force to replace it",
                dest.display()
            )));
        }
        let dir = dest.parent().unwrap_or(Path::new("."));
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Locked while this process lives, so the next build can tell it is stale.
        let tmp = crate::bundle::staging::create_locked(dir, &name)?;
        Ok(PendingBundle {
            tmp,
            dest: dest.to_path_buf(),
        })
    }

    /// The final path.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// The temporary file's path.
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// A handle to write the zip into.
    pub fn file(&self) -> Result<File> {
        self.tmp
            .as_file()
            .try_clone()
            .map_err(|e| Error::io(self.tmp.path(), e))
    }

    /// Moves the complete bundle to its final path.
    pub fn persist(self, force: bool) -> Result<()> {
        let dest = self.dest.clone();
        let from = self.tmp.path().to_path_buf();
        let result = if force {
            self.tmp.persist(&dest).map(|_| ())
        } else {
            self.tmp.persist_noclobber(&dest).map(|_| ())
        };
        result.map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                Error::Usage(format!(
                    "{} already exists; pass --force to replace it",
                    dest.display()
                ))
            } else {
                Error::io(&dest, e.error)
            }
        })?;
        crate::cleanup::forget(&from);
        if let Some(dir) = dest.parent() {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}
