//! Reading a bundle's zip defensively, by streaming, without extracting anything.
//!
//! Before any entry is decompressed, [`Archive::open`] checks the whole archive: the
//! central directory is walked independently of the zip crate so that duplicate
//! names are seen (the crate keeps one entry per name), every name is checked as a
//! path, every local header is compared with its central record, byte ranges are
//! checked for overlap, entry types (symlinks, encryption, methods) are checked, and
//! declared sizes are bounded. Reading an entry then goes through [`EntryReader`],
//! which fails as soon as an entry expands beyond its declared size.

use crate::verify::report::CheckId;
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
    /// The date all entries carry (MS-DOS format), when they agree.
    pub date: Option<u16>,
}

/// `YYYY-MM-DD` of an MS-DOS date.
pub fn dos_date(d: u16) -> String {
    format!("{:04}-{:02}-{:02}", 1980 + (d >> 9), (d >> 5) & 15, d & 31)
}

const CDFH_SIG: u32 = 0x0201_4b50;
const LFH_SIG: u32 = 0x0403_4b50;

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// One record of the central directory, as written.
struct CentralRecord {
    fixed: [u8; 46],
    name: Vec<u8>,
    extra: Vec<u8>,
}

/// The central directory's records, duplicates included, and where it ends.
fn central_records(
    file: &mut File,
    start: u64,
    max: usize,
) -> io::Result<(Vec<CentralRecord>, u64)> {
    file.seek(SeekFrom::Start(start))?;
    let mut rdr = BufReader::new(file);
    let mut records = Vec::new();
    let mut end = start;
    loop {
        let mut fixed = [0u8; 46];
        match rdr.read_exact(&mut fixed) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        }
        if u32_at(&fixed, 0) != CDFH_SIG {
            break;
        }
        let mut name = vec![0u8; usize::from(u16_at(&fixed, 28))];
        rdr.read_exact(&mut name)?;
        let mut extra = vec![0u8; usize::from(u16_at(&fixed, 30))];
        rdr.read_exact(&mut extra)?;
        let comment = u64::from(u16_at(&fixed, 32));
        io::copy(&mut (&mut rdr).take(comment), &mut io::sink())?;
        end += 46 + name.len() as u64 + extra.len() as u64 + comment;
        records.push(CentralRecord { fixed, name, extra });
        if records.len() > max {
            break;
        }
    }
    Ok((records, end))
}

/// The IDs of the extra fields, or `None` when they do not parse.
fn extra_ids(mut extra: &[u8]) -> Option<Vec<u16>> {
    let mut ids = Vec::new();
    while !extra.is_empty() {
        if extra.len() < 4 {
            return None;
        }
        let id = u16_at(extra, 0);
        let len = usize::from(u16_at(extra, 2));
        if extra.len() < 4 + len {
            return None;
        }
        ids.push(id);
        extra = &extra[4 + len..];
    }
    Some(ids)
}

/// The fixed metadata of `disclose-bundle/1` entries (DESIGN section 4), checked on a
/// central record and its local header. Returns the problems found.
fn format_problems(c: &CentralRecord, local: &Local, is_dir: bool) -> Vec<String> {
    let f = &c.fixed;
    let mut out = Vec::new();
    if f[5] != 3 {
        out.push(format!("made on system {} instead of Unix (3)", f[5]));
    }
    if u16::from(f[4]) != u16_at(f, 6) {
        out.push(format!(
            "version made by {} differs from version needed {}",
            f[4],
            u16_at(f, 6)
        ));
    }
    let flags = u16_at(f, 8);
    if flags & !(0x0800 | 0x0006) != 0 {
        out.push(format!("general purpose flags {flags:#06x}"));
    }
    if u16_at(f, 12) != 0 {
        out.push(
            "a time of day other than 00:00 (entries are dated the release date at midnight)"
                .into(),
        );
    }
    if u16_at(f, 32) != 0 {
        out.push("a file comment".into());
    }
    if u16_at(f, 34) != 0 {
        out.push(format!("disk number {}", u16_at(f, 34)));
    }
    if u16_at(f, 36) != 0 {
        out.push(format!("internal attributes {:#06x}", u16_at(f, 36)));
    }
    let external = u32_at(f, 38);
    let mode = external >> 16;
    let ok_mode = if is_dir {
        mode & 0o170000 == 0o040000
    } else {
        external == 0o100644 << 16
    };
    if !ok_mode {
        out.push(format!(
            "external attributes {external:#010x} (mode {mode:o}) instead of a regular file of mode 644"
        ));
    }
    match extra_ids(&c.extra) {
        None => out.push("central extra fields that do not parse".into()),
        Some(ids) if ids.iter().any(|&id| id != 0x0001) => out.push(format!(
            "central extra fields {ids:04x?} (only zip64 is expected)"
        )),
        Some(_) => {}
    }
    match extra_ids(&local.extra) {
        None => out.push("local extra fields that do not parse".into()),
        Some(ids) if ids.iter().any(|&id| id != 0x0001) => out.push(format!(
            "local extra fields {ids:04x?} (only zip64 is expected)"
        )),
        Some(_) => {}
    }
    // The local header repeats version needed, flags, method, time, date and CRC
    // (and the sizes, unless zip64 or a data descriptor stands in for them).
    let l = &local.fixed;
    if l[4..18] != f[6..20] {
        out.push("the local header's version, flags, method, time, date or CRC-32 differ from the central record's".into());
    }
    let descriptor = flags & 0x0008 != 0;
    for (lo, co, what) in [(18, 20, "compressed size"), (22, 24, "size")] {
        let (a, b) = (u32_at(l, lo), u32_at(f, co));
        if !descriptor && a != b && a != u32::MAX && b != u32::MAX {
            out.push(format!(
                "the local header's {what} ({a}) differs from the central record's ({b})"
            ));
        }
    }
    out
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
        // Only a regular file: a FIFO would block, a device never end.
        let file = crate::files::open_regular(path)?;
        let meta = file.metadata().map_err(|e| Error::io(path, e))?;
        let mut raw = file.try_clone().map_err(|e| Error::io(path, e))?;
        let mut zip = match ZipArchive::new(BufReader::new(file)) {
            Ok(z) => z,
            Err(e) => {
                report.fail(
                    CheckId::ZipArchive,
                    Loc::bundle(),
                    format!("not a readable zip archive: {e}"),
                );
                return Ok(None);
            }
        };
        report.ran(CheckId::ZipArchive);
        if zip.offset() != 0 {
            report.fail(
                CheckId::ZipArchive,
                Loc::bundle(),
                format!(
                    "{} bytes of other data come before the zip archive",
                    zip.offset()
                ),
            );
        }

        // Every record of the central directory, duplicates included.
        let (records, cd_end) =
            match central_records(&mut raw, zip.central_directory_start(), limits.max_entries) {
                Ok(n) => n,
                Err(e) => {
                    report.fail(
                        CheckId::ZipArchive,
                        Loc::bundle(),
                        format!("the central directory cannot be read: {e}"),
                    );
                    return Ok(None);
                }
            };
        let names: Vec<&[u8]> = records.iter().map(|r| r.name.as_slice()).collect();
        let by_name: HashMap<&[u8], &CentralRecord> = records
            .iter()
            .rev()
            .map(|r| (r.name.as_slice(), r))
            .collect();
        report.ran(CheckId::ZipEntries);
        report.ran(CheckId::ZipExpansion);
        report.ran(CheckId::ZipFormat);
        let mut dates: Vec<u16> = Vec::new();
        if names.len() > limits.max_entries {
            report.fail(
                CheckId::ZipExpansion,
                Loc::bundle(),
                format!("more than {} entries", limits.max_entries),
            );
            return Ok(None);
        }

        // Names and duplicates.
        report.ran(CheckId::ZipNames);
        report.ran(CheckId::ZipUnique);
        let lossy = |n: &[u8]| String::from_utf8_lossy(n).into_owned();
        let mut seen: HashMap<&[u8], usize> = HashMap::new();
        let mut folded: HashMap<String, &[u8]> = HashMap::new();
        for &n in &names {
            if let Some(problem) = name_problem(n) {
                report.fail(CheckId::ZipNames, Loc::file(&lossy(n)), problem);
            }
            let count = seen.entry(n).or_default();
            *count += 1;
            if *count == 2 {
                report.fail(
                    CheckId::ZipUnique,
                    Loc::file(&lossy(n)),
                    "the name appears more than once in the central directory",
                );
            } else if *count == 1 {
                let key = lossy(n).to_lowercase();
                if let Some(other) = folded.get(&key) {
                    report.fail(
                        CheckId::ZipUnique,
                        Loc::file(&lossy(n)),
                        format!("the name differs only in case from `{}`", lossy(other)),
                    );
                } else {
                    folded.insert(key, n);
                }
            }
        }
        if zip.has_duplicate_names() && seen.len() == names.len() {
            report.fail(
                CheckId::ZipUnique,
                Loc::bundle(),
                "the zip reader sees duplicate names that the central directory walk did not",
            );
        }
        if seen.len() != zip.len() {
            report.fail(
                CheckId::ZipArchive,
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
                        CheckId::ZipArchive,
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
                report.fail(CheckId::ZipEntries, loc(), "the entry is a symbolic link");
            }
            if let Some(mode) = e.unix_mode() {
                let kind = mode & 0o170000;
                let expected = if is_dir { 0o040000 } else { 0o100000 };
                if kind != 0 && kind != expected && kind != 0o120000 {
                    report.fail(
                        CheckId::ZipEntries,
                        loc(),
                        format!("the entry is a special file (mode {mode:o})"),
                    );
                }
            }
            if e.encrypted() {
                report.fail(CheckId::ZipEntries, loc(), "the entry is encrypted");
            }
            if !matches!(
                e.compression(),
                CompressionMethod::Stored | CompressionMethod::Deflated
            ) {
                report.fail(
                    CheckId::ZipEntries,
                    loc(),
                    format!(
                        "compression method {:?} (only stored and deflate are allowed)",
                        e.compression()
                    ),
                );
            }
            if is_dir && e.size() != 0 {
                report.fail(
                    CheckId::ZipEntries,
                    loc(),
                    "a directory entry that holds data",
                );
            }
            let size = e.size();
            let compressed = e.compressed_size();
            total += u128::from(size);
            if size > RATIO_FLOOR
                && (compressed == 0
                    || u128::from(size) > u128::from(compressed) * u128::from(limits.max_ratio))
            {
                report.fail(
                    CheckId::ZipExpansion,
                    loc(),
                    format!(
                        "declares {size} bytes from {compressed} compressed bytes, a ratio above the limit of {} (an expansion bomb?)",
                        limits.max_ratio
                    ),
                );
            }
            // The local header: same name as the central record; its byte range.
            match local_header(&mut raw, e.header_start()) {
                Ok(local) => {
                    if local.name != e.name_raw() {
                        report.fail(
                            CheckId::ZipOverlap,
                            loc(),
                            format!("the local header names the entry `{}`", lossy(&local.name)),
                        );
                    }
                    if let Some(c) = by_name.get(e.name_raw()) {
                        dates.push(u16_at(&c.fixed, 14));
                        for problem in format_problems(c, &local, is_dir) {
                            report.fail(CheckId::ZipFormat, loc(), problem);
                        }
                    }
                    match local.data_start.checked_add(compressed) {
                        Some(end) if end <= zip.central_directory_start() => {
                            ranges.push((e.header_start(), end, i));
                        }
                        _ => report.fail(
                            CheckId::ZipOverlap,
                            loc(),
                            "the entry's data runs into the central directory",
                        ),
                    }
                }
                Err(msg) => report.fail(CheckId::ZipOverlap, loc(), msg),
            }
            entries.push(Entry {
                index: i,
                name,
                size,
                compressed,
                is_dir,
            });
        }
        for problem in end_record_problems(
            &mut raw,
            meta.len(),
            records.len() as u64,
            zip.central_directory_start(),
            cd_end,
        ) {
            report.fail(CheckId::ZipFormat, Loc::bundle(), problem);
        }
        dates.sort_unstable();
        dates.dedup();
        let date = match dates.as_slice() {
            [one] => Some(*one),
            [] => None,
            _ => {
                report.fail(
                    CheckId::ZipFormat,
                    Loc::bundle(),
                    "the entries are not all dated the same day",
                );
                None
            }
        };
        if total > u128::from(limits.max_total_bytes) {
            report.fail(
                CheckId::ZipExpansion,
                Loc::bundle(),
                format!(
                    "the entries declare {total} bytes in all, above the limit of {} (use --max-bytes to raise it)",
                    limits.max_total_bytes
                ),
            );
        }

        // Overlapping byte ranges (headers included), named.
        report.ran(CheckId::ZipOverlap);
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
                    CheckId::ZipOverlap,
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
                if !report.failed(CheckId::ZipOverlap) {
                    report.fail(
                        CheckId::ZipOverlap,
                        Loc::bundle(),
                        "the zip reader finds overlapping entries",
                    );
                }
            }
            Err(e) => report.fail(
                CheckId::ZipOverlap,
                Loc::bundle(),
                format!("entry ranges cannot be read: {e}"),
            ),
        }
        if !report.failed(CheckId::ZipOverlap) && !report.failed(CheckId::ZipUnique) {
            if let Err(e) = zip.validate_header_consistency() {
                report.fail(CheckId::ZipOverlap, Loc::bundle(), e.to_string());
            }
        }

        let safe = [
            CheckId::ZipArchive,
            CheckId::ZipNames,
            CheckId::ZipUnique,
            CheckId::ZipOverlap,
            CheckId::ZipEntries,
            CheckId::ZipExpansion,
        ]
        .iter()
        .all(|c| !report.failed(*c));
        report.stats.entries = entries.len() as u64;
        Ok(Some(Archive {
            zip,
            entries,
            safe,
            date,
        }))
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

    /// Where a stored (uncompressed) entry's bytes lie in the file: offset and length.
    /// `None` for a compressed entry.
    pub fn stored_range(&mut self, index: usize) -> Option<(u64, u64)> {
        let f = self.zip.by_index_raw(index).ok()?;
        if f.compression() != CompressionMethod::Stored || f.compressed_size() != f.size() {
            return None;
        }
        Some((f.data_start()?, f.compressed_size()))
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

/// A local file header.
struct Local {
    fixed: [u8; 30],
    name: Vec<u8>,
    extra: Vec<u8>,
    data_start: u64,
}

/// Reads a local file header.
fn local_header(file: &mut File, at: u64) -> std::result::Result<Local, String> {
    let cannot = |e: io::Error| format!("the local header cannot be read: {e}");
    let mut fixed = [0u8; 30];
    file.seek(SeekFrom::Start(at))
        .and_then(|_| file.read_exact(&mut fixed))
        .map_err(cannot)?;
    if u32_at(&fixed, 0) != LFH_SIG {
        return Err("no local file header where the central directory says".into());
    }
    let mut name = vec![0u8; usize::from(u16_at(&fixed, 26))];
    let mut extra = vec![0u8; usize::from(u16_at(&fixed, 28))];
    file.read_exact(&mut name).map_err(cannot)?;
    file.read_exact(&mut extra).map_err(cannot)?;
    let data_start = at + 30 + name.len() as u64 + extra.len() as u64;
    Ok(Local {
        fixed,
        name,
        extra,
        data_start,
    })
}

/// Checks the end of central directory record (and its zip64 form): it is the last
/// thing in the file (no archive comment, nothing after it), on disk 0, and its
/// counts, size and offset describe the central directory actually found.
fn end_record_problems(
    file: &mut File,
    file_len: u64,
    records: u64,
    cd_start: u64,
    cd_end: u64,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut read_at = |at: u64, n: usize| -> Option<Vec<u8>> {
        let mut b = vec![0u8; n];
        file.seek(SeekFrom::Start(at)).ok()?;
        file.read_exact(&mut b).ok()?;
        Some(b)
    };
    let Some(e) = file_len.checked_sub(22).and_then(|at| read_at(at, 22)) else {
        return vec!["the file is too short for an end record".into()];
    };
    if u32_at(&e, 0) != 0x0605_4b50 {
        return vec![
            "the end record is not the last 22 bytes: the archive has a comment or trailing data"
                .into(),
        ];
    }
    let mut n_disk = u64::from(u16_at(&e, 8));
    let mut n_total = u64::from(u16_at(&e, 10));
    let mut size = u64::from(u32_at(&e, 12));
    let mut offset = u64::from(u32_at(&e, 16));
    let mut disks = (u32::from(u16_at(&e, 4)), u32::from(u16_at(&e, 6)));
    let mut end = file_len - 22;
    if n_disk == 0xFFFF || n_total == 0xFFFF || size == 0xFFFF_FFFF || offset == 0xFFFF_FFFF {
        // zip64: a locator just before, pointing at the zip64 end record.
        let loc = file_len
            .checked_sub(42)
            .and_then(|at| read_at(at, 20))
            .filter(|l| u32_at(l, 0) == 0x0706_4b50);
        let rec = loc.as_ref().and_then(|l| {
            let at = u64::from_le_bytes(l[8..16].try_into().ok()?);
            read_at(at, 56)
                .filter(|r| u32_at(r, 0) == 0x0606_4b50)
                .map(|r| (at, r))
        });
        match rec {
            Some((at, r)) => {
                let u64_at = |i: usize| u64::from_le_bytes(r[i..i + 8].try_into().unwrap());
                disks = (u32_at(&r, 16), u32_at(&r, 20));
                n_disk = u64_at(24);
                n_total = u64_at(32);
                size = u64_at(40);
                offset = u64_at(48);
                end = at;
            }
            None => {
                return vec!["the end record asks for a zip64 end record that is not there".into()]
            }
        }
    }
    if disks != (0, 0) {
        out.push(format!(
            "the end record names disks {} and {}",
            disks.0, disks.1
        ));
    }
    if n_disk != records || n_total != records {
        out.push(format!(
            "the end record counts {n_disk} and {n_total} entries, the central directory holds {records}"
        ));
    }
    if offset != cd_start || size != cd_end - cd_start {
        out.push(format!(
            "the end record places the central directory at {offset} ({size} bytes), it is at {cd_start} ({} bytes)",
            cd_end - cd_start
        ));
    }
    if cd_end != end {
        out.push(format!(
            "{} bytes between the central directory and the end record",
            end.saturating_sub(cd_end)
        ));
    }
    out
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
