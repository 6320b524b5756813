//! Reading a bundle's zip defensively, by streaming, without extracting anything.
//!
//! Before any entry is decompressed, [`Archive::open`] checks the whole archive: the
//! central directory is walked independently of the zip crate so that duplicate
//! names are seen (the crate keeps one entry per name), every name is checked as a
//! path, every local header is compared with its central record, byte ranges are
//! checked for overlap, entry types (symlinks, encryption, methods) are checked, and
//! declared sizes are bounded. Reading an entry then goes through [`EntryReader`],
//! which fails as soon as an entry expands beyond its declared size.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use zip::{CompressionMethod, ZipArchive};

use super::report::{Loc, Report};
use crate::error::{Error, Result};

/// Bounds on what `verify` will decompress.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Sum of the declared uncompressed sizes of all entries.
    pub max_total_bytes: u64,
    /// Declared size over compressed size, for entries above [`RATIO_FLOOR`] bytes.
    pub max_ratio: u64,
    /// Number of entries.
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_total_bytes: DEFAULT_MAX_TOTAL_BYTES,
            max_ratio: DEFAULT_MAX_RATIO,
            max_entries: 1_000_000,
        }
    }
}

/// Default cap on the total declared size: 256 GiB.
pub const DEFAULT_MAX_TOTAL_BYTES: u64 = 256 << 30;
/// Default cap on an entry's expansion ratio.
pub const DEFAULT_MAX_RATIO: u64 = 500;
/// Entries smaller than this are not subject to the ratio limit.
pub const RATIO_FLOOR: u64 = 1 << 20;

/// One entry of the archive, as the central directory declares it.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Index for the zip crate.
    pub index: usize,
    /// The name (lossy UTF-8 for display when it is not UTF-8).
    pub name: String,
    /// Declared uncompressed size.
    pub size: u64,
    /// Compressed size.
    pub compressed: u64,
    /// A directory entry (name ends with `/`).
    pub is_dir: bool,
}

/// An open, checked archive.
pub struct Archive {
    zip: ZipArchive<BufReader<File>>,
    /// The entries, in central-directory order.
    pub entries: Vec<Entry>,
    /// Whether every archive-level safety check passed. Content is only read when
    /// it has.
    pub safe: bool,
}

const CDFH_SIG: u32 = 0x0201_4b50;
const LFH_SIG: u32 = 0x0403_4b50;

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Names as they appear in the central directory, duplicates included.
fn central_names(file: &mut File, start: u64, max: usize) -> io::Result<Vec<Vec<u8>>> {
    file.seek(SeekFrom::Start(start))?;
    let mut rdr = BufReader::new(file);
    let mut names = Vec::new();
    let mut fixed = [0u8; 46];
    loop {
        match rdr.read_exact(&mut fixed) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        }
        if u32_at(&fixed, 0) != CDFH_SIG {
            break;
        }
        let name_len = usize::from(u16_at(&fixed, 28));
        let skip = u64::from(u16_at(&fixed, 30)) + u64::from(u16_at(&fixed, 32));
        let mut name = vec![0u8; name_len];
        rdr.read_exact(&mut name)?;
        io::copy(&mut (&mut rdr).take(skip), &mut io::sink())?;
        names.push(name);
        if names.len() > max {
            break;
        }
    }
    Ok(names)
}

/// What is wrong with an entry name as a path, if anything.
pub fn name_problem(raw: &[u8]) -> Option<String> {
    let Ok(name) = std::str::from_utf8(raw) else {
        return Some("the name is not valid UTF-8".into());
    };
    if name.is_empty() {
        return Some("the name is empty".into());
    }
    if name.contains('\0') {
        return Some("the name contains a NUL byte".into());
    }
    if name.chars().any(|c| c.is_control()) {
        return Some("the name contains a control character".into());
    }
    if name.contains('\\') {
        return Some("the name contains a backslash".into());
    }
    if name.starts_with('/') {
        return Some("the name is an absolute path".into());
    }
    if name.contains(':') {
        return Some("the name contains `:` (a drive letter or stream name)".into());
    }
    let body = name.strip_suffix('/').unwrap_or(name);
    for comp in body.split('/') {
        match comp {
            "" => return Some("the name has an empty path component (`//`)".into()),
            "." => return Some("the name has a `.` component".into()),
            ".." => return Some("the name has a `..` component (path traversal)".into()),
            _ => {}
        }
    }
    None
}

impl Archive {
    /// Opens and checks the archive. `Err` when the file cannot be read at all (exit
    /// 2); `Ok(None)` when it is not a readable zip (a failure is recorded).
    pub fn open(path: &Path, limits: &Limits, report: &mut Report) -> Result<Option<Archive>> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let meta = file.metadata().map_err(|e| Error::io(path, e))?;
        if !meta.is_file() {
            return Err(Error::Usage(format!(
                "{} is not a regular file",
                path.display()
            )));
        }
        let mut raw = file.try_clone().map_err(|e| Error::io(path, e))?;
        let mut zip = match ZipArchive::new(BufReader::new(file)) {
            Ok(z) => z,
            Err(e) => {
                report.fail(
                    "zip.archive",
                    Loc::bundle(),
                    format!("not a readable zip archive: {e}"),
                );
                return Ok(None);
            }
        };
        report.ran("zip.archive");
        if zip.offset() != 0 {
            report.fail(
                "zip.archive",
                Loc::bundle(),
                format!(
                    "{} bytes of other data come before the zip archive",
                    zip.offset()
                ),
            );
        }

        // Every name in the central directory, duplicates included.
        let names = match central_names(&mut raw, zip.central_directory_start(), limits.max_entries)
        {
            Ok(n) => n,
            Err(e) => {
                report.fail(
                    "zip.archive",
                    Loc::bundle(),
                    format!("the central directory cannot be read: {e}"),
                );
                return Ok(None);
            }
        };
        report.ran("zip.entries");
        report.ran("zip.expansion");
        if names.len() > limits.max_entries {
            report.fail(
                "zip.expansion",
                Loc::bundle(),
                format!("more than {} entries", limits.max_entries),
            );
            return Ok(None);
        }

        // Names and duplicates.
        report.ran("zip.names");
        report.ran("zip.unique");
        let lossy = |n: &[u8]| String::from_utf8_lossy(n).into_owned();
        let mut seen: HashMap<&[u8], usize> = HashMap::new();
        let mut folded: HashMap<String, &[u8]> = HashMap::new();
        for n in &names {
            if let Some(problem) = name_problem(n) {
                report.fail("zip.names", Loc::file(&lossy(n)), problem);
            }
            let count = seen.entry(n.as_slice()).or_default();
            *count += 1;
            if *count == 2 {
                report.fail(
                    "zip.unique",
                    Loc::file(&lossy(n)),
                    "the name appears more than once in the central directory",
                );
            } else if *count == 1 {
                let key = lossy(n).to_lowercase();
                if let Some(other) = folded.get(&key) {
                    report.fail(
                        "zip.unique",
                        Loc::file(&lossy(n)),
                        format!("the name differs only in case from `{}`", lossy(other)),
                    );
                } else {
                    folded.insert(key, n.as_slice());
                }
            }
        }
        if zip.has_duplicate_names() && seen.len() == names.len() {
            report.fail(
                "zip.unique",
                Loc::bundle(),
                "the zip reader sees duplicate names that the central directory walk did not",
            );
        }
        if seen.len() != zip.len() {
            report.fail(
                "zip.archive",
                Loc::bundle(),
                format!(
                    "the central directory holds {} distinct names but the zip reader found {} entries",
                    seen.len(),
                    zip.len()
                ),
            );
        }

        // Entry metadata, types and declared sizes.
        let mut entries = Vec::with_capacity(zip.len());
        let mut total: u128 = 0;
        let mut ranges: Vec<(u64, u64, usize)> = Vec::with_capacity(zip.len());
        for i in 0..zip.len() {
            let e = match zip.by_index_data(i) {
                Ok(e) => e,
                Err(err) => {
                    report.fail(
                        "zip.archive",
                        Loc::bundle(),
                        format!("entry #{i} cannot be read: {err}"),
                    );
                    continue;
                }
            };
            let name = lossy(e.name_raw());
            let is_dir = name.ends_with('/');
            let loc = || Loc::file(&name);
            if e.is_symlink() {
                report.fail("zip.entries", loc(), "the entry is a symbolic link");
            }
            if let Some(mode) = e.unix_mode() {
                let kind = mode & 0o170000;
                let expected = if is_dir { 0o040000 } else { 0o100000 };
                if kind != 0 && kind != expected && kind != 0o120000 {
                    report.fail(
                        "zip.entries",
                        loc(),
                        format!("the entry is a special file (mode {mode:o})"),
                    );
                }
            }
            if e.encrypted() {
                report.fail("zip.entries", loc(), "the entry is encrypted");
            }
            if !matches!(
                e.compression(),
                CompressionMethod::Stored | CompressionMethod::Deflated
            ) {
                report.fail(
                    "zip.entries",
                    loc(),
                    format!(
                        "compression method {:?} (only stored and deflate are allowed)",
                        e.compression()
                    ),
                );
            }
            if is_dir && e.size() != 0 {
                report.fail("zip.entries", loc(), "a directory entry that holds data");
            }
            let size = e.size();
            let compressed = e.compressed_size();
            total += u128::from(size);
            if size > RATIO_FLOOR
                && (compressed == 0
                    || u128::from(size) > u128::from(compressed) * u128::from(limits.max_ratio))
            {
                report.fail(
                    "zip.expansion",
                    loc(),
                    format!(
                        "declares {size} bytes from {compressed} compressed bytes, a ratio above the limit of {} (an expansion bomb?)",
                        limits.max_ratio
                    ),
                );
            }
            // The local header: same name as the central record; its byte range.
            match local_header(&mut raw, e.header_start()) {
                Ok((local_name, data_start)) => {
                    if local_name != e.name_raw() {
                        report.fail(
                            "zip.overlap",
                            loc(),
                            format!("the local header names the entry `{}`", lossy(&local_name)),
                        );
                    }
                    match data_start.checked_add(compressed) {
                        Some(end) if end <= zip.central_directory_start() => {
                            ranges.push((e.header_start(), end, i));
                        }
                        _ => report.fail(
                            "zip.overlap",
                            loc(),
                            "the entry's data runs into the central directory",
                        ),
                    }
                }
                Err(msg) => report.fail("zip.overlap", loc(), msg),
            }
            entries.push(Entry {
                index: i,
                name,
                size,
                compressed,
                is_dir,
            });
        }
        if total > u128::from(limits.max_total_bytes) {
            report.fail(
                "zip.expansion",
                Loc::bundle(),
                format!(
                    "the entries declare {total} bytes in all, above the limit of {} (use --max-bytes to raise it)",
                    limits.max_total_bytes
                ),
            );
        }

        // Overlapping byte ranges (headers included), named.
        report.ran("zip.overlap");
        ranges.sort();
        for w in ranges.windows(2) {
            let (a, b) = (&w[0], &w[1]);
            if b.0 < a.1 {
                let an = entries
                    .iter()
                    .find(|e| e.index == a.2)
                    .map(|e| e.name.clone())
                    .unwrap_or_default();
                let bn = entries
                    .iter()
                    .find(|e| e.index == b.2)
                    .map(|e| e.name.clone())
                    .unwrap_or_default();
                report.fail(
                    "zip.overlap",
                    Loc::file(&bn),
                    format!("the entry's bytes overlap those of `{an}`"),
                );
            }
        }
        // The zip crate's own checks, as a second opinion (also finds local headers
        // hidden between entries).
        match zip.has_overlapping_entries() {
            Ok(false) => {}
            Ok(true) => {
                if !report.failed("zip.overlap") {
                    report.fail(
                        "zip.overlap",
                        Loc::bundle(),
                        "the zip reader finds overlapping entries",
                    );
                }
            }
            Err(e) => report.fail(
                "zip.overlap",
                Loc::bundle(),
                format!("entry ranges cannot be read: {e}"),
            ),
        }
        if !report.failed("zip.overlap") && !report.failed("zip.unique") {
            if let Err(e) = zip.validate_header_consistency() {
                report.fail("zip.overlap", Loc::bundle(), e.to_string());
            }
        }

        let safe = [
            "zip.archive",
            "zip.names",
            "zip.unique",
            "zip.overlap",
            "zip.entries",
            "zip.expansion",
        ]
        .iter()
        .all(|c| !report.failed(c));
        report.stats.entries = entries.len() as u64;
        Ok(Some(Archive { zip, entries, safe }))
    }

    fn declared(&self, index: usize) -> u64 {
        // Entries are in index order unless an entry could not be listed (and then the
        // archive is unsafe and nothing is read).
        match self.entries.get(index) {
            Some(e) if e.index == index => e.size,
            _ => self
                .entries
                .iter()
                .find(|e| e.index == index)
                .map_or(0, |e| e.size),
        }
    }

    /// A reader over entry `index` that fails as soon as it expands beyond its
    /// declared size, and at the end if it is shorter. CRC-32 is checked by the zip
    /// crate at the end.
    pub fn reader(&mut self, index: usize) -> io::Result<EntryReader<'_>> {
        let declared = self.declared(index);
        let inner = self
            .zip
            .by_index(index)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        Ok(EntryReader {
            inner,
            declared,
            read: 0,
        })
    }

    /// Reads a whole entry of at most `cap` bytes.
    pub fn read_small(&mut self, index: usize, cap: u64) -> io::Result<Vec<u8>> {
        let declared = self.declared(index);
        if declared > cap {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("declares {declared} bytes, more than the {cap} allowed for this file"),
            ));
        }
        let mut out = Vec::with_capacity(declared as usize);
        self.reader(index)?.read_to_end(&mut out)?;
        Ok(out)
    }
}

/// Reads a local file header: its name and where its data starts.
fn local_header(file: &mut File, at: u64) -> std::result::Result<(Vec<u8>, u64), String> {
    let mut fixed = [0u8; 30];
    file.seek(SeekFrom::Start(at))
        .and_then(|_| file.read_exact(&mut fixed))
        .map_err(|e| format!("the local header cannot be read: {e}"))?;
    if u32_at(&fixed, 0) != LFH_SIG {
        return Err("no local file header where the central directory says".into());
    }
    let name_len = usize::from(u16_at(&fixed, 26));
    let extra_len = u64::from(u16_at(&fixed, 28));
    let mut name = vec![0u8; name_len];
    file.read_exact(&mut name)
        .map_err(|e| format!("the local header cannot be read: {e}"))?;
    Ok((name, at + 30 + name_len as u64 + extra_len))
}

/// Streams one entry, bounded by its declared size.
pub struct EntryReader<'a> {
    inner: zip::read::ZipFile<'a, BufReader<File>>,
    declared: u64,
    read: u64,
}

impl Read for EntryReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.declared {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "expands beyond its declared size of {} bytes (an expansion bomb?)",
                    self.declared
                ),
            ));
        }
        if n == 0 && !buf.is_empty() && self.read < self.declared {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "ends after {} bytes but declares {}",
                    self.read, self.declared
                ),
            ));
        }
        Ok(n)
    }
}
