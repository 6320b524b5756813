//! Media metadata stripped losslessly before publishing (issue 11, point 9).
//!
//! Photos and videos carry who took them, where and when: EXIF (GPS, camera serial,
//! owner name), XMP, IPTC, comments, MP4/MOV `udta`/`meta` atoms (Apple's location
//! key, `©xyz`). A published media file keeps only what decoding needs; the pixel and
//! audio/video data are copied byte for byte.
//!
//! The format is told by content (magic bytes), never by extension or `kind`. Each
//! format has a small walker over its container, written for hostile input: every
//! length is checked against the bytes that remain, every loop advances, nothing
//! panics. A walk yields a [`Cleaning`]: a sorted list of [`Edit`]s (drop a range,
//! zero a range, put bytes over a range) that [`Cleaning::copy`] applies while
//! streaming the file, so no file is ever read whole.
//!
//! - **JPEG**: drops APP1 (EXIF, XMP), APP13 (IPTC/Photoshop), COM and every other
//!   APPn segment, wherever it stands (between progressive scans too), and anything
//!   after the end-of-image marker (MPF second images, vendor trailers). Kept: APP0
//!   `JFIF`, APP2 `ICC_PROFILE` (the colour profile: dropping it changes the colours;
//!   phone and camera profiles describe the device's colour space, not the person) and
//!   APP14 `Adobe` (it decides the colour transform). The first EXIF's orientation,
//!   when it is not upright, is kept alone in a 32-byte EXIF written here, so that a
//!   photo taken sideways still shows upright; nothing else of the EXIF survives.
//! - **PNG**: keeps the critical chunks and the colour, transparency, physical size and
//!   APNG animation chunks; drops `tEXt`, `zTXt`, `iTXt`, `eXIf`, `tIME` and every
//!   other ancillary chunk, and anything after `IEND`. An unknown critical chunk stops.
//! - **WebP**: drops the `EXIF` and `XMP ` chunks and unknown chunks (readers ignore
//!   them), at the top level and inside animation frames, clears the EXIF and XMP
//!   flags of `VP8X` and fixes the RIFF and frame sizes.
//! - **GIF**: drops comment extensions, application extensions other than the looping
//!   ones (`NETSCAPE2.0`, `ANIMEXTS1.0`; XMP is one), unknown extensions, and anything
//!   after the trailer.
//! - **MP4/MOV** (ISO base media): the `udta`, `meta`, `uuid` (XMP) and `XMP_` boxes at
//!   the top level and in `moov`, `trak`, `mdia` and `minf`, and unknown top-level boxes,
//!   become `free` boxes of the same size with their payload zeroed, so chunk offsets
//!   stay valid and the file keeps its size; the creation and modification times of
//!   `mvhd`, `tkhd` and `mdhd` are zeroed. Only box headers are read. A timed metadata
//!   track (handler `meta`: GoPro GPMF, dashcam GPS) and HEIF/AVIF images (whose
//!   `meta` box is the image) cannot be cleaned this way and stop the build.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use sha2::{Digest, Sha256};

/// A media format disclose can clean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JPEG (JFIF or EXIF).
    Jpeg,
    /// PNG, APNG included.
    Png,
    /// WebP (RIFF).
    Webp,
    /// GIF 87a or 89a.
    Gif,
    /// ISO base media: MP4, M4V, 3GP.
    Mp4,
    /// QuickTime movie (the same box structure).
    Mov,
}

impl Format {
    /// The name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "JPEG",
            Format::Png => "PNG",
            Format::Webp => "WebP",
            Format::Gif => "GIF",
            Format::Mp4 => "MP4",
            Format::Mov => "MOV",
        }
    }

    /// The extension of the published file: it follows the content.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Png => "png",
            Format::Webp => "webp",
            Format::Gif => "gif",
            Format::Mp4 => "mp4",
            Format::Mov => "mov",
        }
    }
}

/// The formats, for messages.
pub const FORMATS: &str = "JPEG, PNG, WebP, GIF, MP4/MOV";

/// The most edits one file may need: real files need a handful; a hostile one made of
/// millions of tiny segments is refused rather than planned in memory.
pub const MAX_EDITS: usize = 100_000;

/// Why a file cannot be cleaned. Messages name offsets and structures, never content.
#[derive(Debug)]
pub enum CleanError {
    /// Reading failed.
    Io(std::io::Error),
    /// The content is not a format disclose can clean.
    Unrecognised,
    /// The file is of a known format but malformed or not cleanable.
    Format(Format, String),
}

type Res<T> = std::result::Result<T, CleanError>;

/// One change to the source bytes. Ranges are `[start, end)` offsets of the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Leave the bytes out.
    Drop {
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
    /// Write zeros in their place.
    Zero {
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
    /// Write these bytes in place of the range (a JPEG's EXIF becomes its orientation).
    Replace {
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
        /// The replacement.
        bytes: Vec<u8>,
    },
    /// Write these bytes over as many source bytes.
    Put {
        /// First byte.
        at: u64,
        /// The replacement.
        bytes: Vec<u8>,
    },
}

impl Edit {
    fn start(&self) -> u64 {
        match self {
            Edit::Drop { start, .. } | Edit::Zero { start, .. } | Edit::Replace { start, .. } => {
                *start
            }
            Edit::Put { at, .. } => *at,
        }
    }

    fn end(&self) -> u64 {
        match self {
            Edit::Drop { end, .. } | Edit::Zero { end, .. } | Edit::Replace { end, .. } => *end,
            Edit::Put { at, bytes } => at + bytes.len() as u64,
        }
    }
}

/// What cleaning a file takes: its format, and the edits in source order.
#[derive(Debug, Clone)]
pub struct Cleaning {
    /// The format found.
    pub format: Format,
    /// The source file's size when it was read.
    pub source_bytes: u64,
    /// The cleaned file's size.
    pub bytes: u64,
    /// The edits, sorted, not overlapping.
    pub edits: Vec<Edit>,
}

/// Tells the format from the first bytes of a file.
pub fn sniff(head: &[u8]) -> Option<Format> {
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(Format::Jpeg);
    }
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(Format::Png);
    }
    if head.len() >= 12 && &head[0..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        return Some(Format::Webp);
    }
    if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        return Some(Format::Gif);
    }
    if head.len() >= 12 {
        let size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let kind = &head[4..8];
        let sized = size == 0 || size == 1 || size >= 8;
        if sized && kind == b"ftyp" {
            return Some(if &head[8..12] == b"qt  " {
                Format::Mov
            } else {
                Format::Mp4
            });
        }
        if sized && [&b"moov"[..], b"mdat", b"wide", b"free", b"skip", b"pnot"].contains(&kind) {
            return Some(Format::Mov);
        }
    }
    None
}

/// Reads the first bytes of `path` and tells its format.
pub fn sniff_file(path: &Path) -> Res<Format> {
    let mut f = File::open(path).map_err(CleanError::Io)?;
    let mut head = [0u8; 16];
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]).map_err(CleanError::Io)? {
            0 => break,
            k => n += k,
        }
    }
    sniff(&head[..n]).ok_or(CleanError::Unrecognised)
}

/// Walks `path` and works out how to clean it. Reads headers only where the format
/// allows (PNG, WebP, MP4/MOV skip over payloads); JPEG and GIF are read through.
pub fn plan(path: &Path) -> Res<Cleaning> {
    let format = sniff_file(path)?;
    let file = File::open(path).map_err(CleanError::Io)?;
    let len = file.metadata().map_err(CleanError::Io)?.len();
    let mut src = Src {
        r: BufReader::with_capacity(1 << 16, file),
        pos: 0,
        len,
        format,
    };
    let mut edits = match format {
        Format::Jpeg => jpeg(&mut src)?,
        Format::Png => png(&mut src)?,
        Format::Webp => webp(&mut src)?,
        Format::Gif => gif(&mut src)?,
        Format::Mp4 | Format::Mov => {
            let mut edits = Vec::new();
            isobmff(&mut src, 0, len, Level::Top, &mut edits)?;
            edits
        }
    };
    edits.sort_by_key(|e| (e.start(), e.end()));
    let mut last = 0;
    let mut dropped = 0;
    let mut added = 0;
    for e in &edits {
        if e.start() < last || e.end() > len || e.end() < e.start() {
            return Err(src.bad(e.start(), "overlapping structures"));
        }
        last = e.end();
        match e {
            Edit::Drop { start, end } => dropped += end - start,
            Edit::Replace { start, end, bytes } => {
                dropped += end - start;
                added += bytes.len() as u64;
            }
            _ => {}
        }
    }
    Ok(Cleaning {
        format,
        source_bytes: len,
        bytes: len - dropped + added,
        edits,
    })
}

impl Cleaning {
    /// Streams the cleaned file into `sink`; returns its size and SHA-256. The file
    /// must not have changed since [`plan`] read it.
    pub fn copy(
        &self,
        path: &Path,
        mut sink: impl FnMut(&[u8]) -> crate::error::Result<()>,
    ) -> std::result::Result<(u64, String), CopyError> {
        let mut f = File::open(path).map_err(CopyError::Io)?;
        let len = f.metadata().map_err(CopyError::Io)?.len();
        if len != self.source_bytes {
            return Err(CopyError::Changed);
        }
        let mut buf = vec![0u8; 1 << 20];
        let mut hasher = Sha256::new();
        let mut total = 0u64;
        let mut emit = |data: &[u8], hasher: &mut Sha256, total: &mut u64| {
            hasher.update(data);
            *total += data.len() as u64;
            sink(data).map_err(CopyError::Sink)
        };
        let mut pos = 0u64;
        let copy_to = |f: &mut File,
                       pos: &mut u64,
                       to: u64,
                       buf: &mut [u8],
                       out: &mut dyn FnMut(&[u8]) -> std::result::Result<(), CopyError>|
         -> std::result::Result<(), CopyError> {
            while *pos < to {
                let want = buf.len().min((to - *pos) as usize);
                let n = f.read(&mut buf[..want]).map_err(CopyError::Io)?;
                if n == 0 {
                    return Err(CopyError::Changed);
                }
                out(&buf[..n])?;
                *pos += n as u64;
            }
            Ok(())
        };
        for e in &self.edits {
            copy_to(&mut f, &mut pos, e.start(), &mut buf, &mut |d| {
                emit(d, &mut hasher, &mut total)
            })?;
            match e {
                Edit::Drop { end, .. } => {
                    f.seek(SeekFrom::Start(*end)).map_err(CopyError::Io)?;
                    pos = *end;
                }
                Edit::Zero { start, end } => {
                    let zeros = vec![0u8; (end - start).min(1 << 20) as usize];
                    let mut left = end - start;
                    while left > 0 {
                        let n = left.min(zeros.len() as u64) as usize;
                        emit(&zeros[..n], &mut hasher, &mut total)?;
                        left -= n as u64;
                    }
                    f.seek(SeekFrom::Start(*end)).map_err(CopyError::Io)?;
                    pos = *end;
                }
                Edit::Replace { end, bytes, .. } => {
                    emit(bytes, &mut hasher, &mut total)?;
                    f.seek(SeekFrom::Start(*end)).map_err(CopyError::Io)?;
                    pos = *end;
                }
                Edit::Put { bytes, .. } => {
                    emit(bytes, &mut hasher, &mut total)?;
                    pos = e.end();
                    f.seek(SeekFrom::Start(pos)).map_err(CopyError::Io)?;
                }
            }
        }
        copy_to(&mut f, &mut pos, len, &mut buf, &mut |d| {
            emit(d, &mut hasher, &mut total)
        })?;
        if total != self.bytes {
            return Err(CopyError::Changed);
        }
        Ok((total, hex::encode(hasher.finalize())))
    }
}

/// Why [`Cleaning::copy`] failed.
#[derive(Debug)]
pub enum CopyError {
    /// Reading the source failed.
    Io(std::io::Error),
    /// The source changed since it was planned.
    Changed,
    /// The sink failed.
    Sink(crate::error::Error),
}

/// A positioned reader over the source, every read bounds-checked.
struct Src {
    r: BufReader<File>,
    pos: u64,
    len: u64,
    format: Format,
}

impl Src {
    fn bad(&self, at: u64, what: &str) -> CleanError {
        CleanError::Format(self.format, format!("{what} at byte {at}"))
    }

    fn left(&self) -> u64 {
        self.len - self.pos
    }

    fn exact(&mut self, buf: &mut [u8]) -> Res<()> {
        if (buf.len() as u64) > self.left() {
            return Err(self.bad(self.pos, "truncated"));
        }
        self.r.read_exact(buf).map_err(CleanError::Io)?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn u8(&mut self) -> Res<u8> {
        let mut b = [0u8; 1];
        self.exact(&mut b)?;
        Ok(b[0])
    }

    fn arr<const N: usize>(&mut self) -> Res<[u8; N]> {
        let mut b = [0u8; N];
        self.exact(&mut b)?;
        Ok(b)
    }

    fn u16_be(&mut self) -> Res<u16> {
        Ok(u16::from_be_bytes(self.arr()?))
    }

    fn u32_be(&mut self) -> Res<u32> {
        Ok(u32::from_be_bytes(self.arr()?))
    }

    fn u32_le(&mut self) -> Res<u32> {
        Ok(u32::from_le_bytes(self.arr()?))
    }

    fn u64_be(&mut self) -> Res<u64> {
        Ok(u64::from_be_bytes(self.arr()?))
    }

    /// Moves to `to`, which must lie inside the file.
    fn seek(&mut self, to: u64) -> Res<()> {
        if to > self.len {
            return Err(self.bad(self.pos, "a length runs past the end of the file"));
        }
        let delta = to as i64 - self.pos as i64;
        self.r.seek_relative(delta).map_err(CleanError::Io)?;
        self.pos = to;
        Ok(())
    }

    fn skip(&mut self, n: u64) -> Res<()> {
        if n > self.left() {
            return Err(self.bad(self.pos, "a length runs past the end of the file"));
        }
        self.seek(self.pos + n)
    }

    /// Reads up to `n` bytes (fewer at the end of the file).
    fn peek_up_to(&mut self, n: usize) -> Res<Vec<u8>> {
        let n = (n as u64).min(self.left()) as usize;
        let mut v = vec![0u8; n];
        self.exact(&mut v)?;
        Ok(v)
    }
}

// ---- JPEG ----

fn jpeg(src: &mut Src) -> Res<Vec<Edit>> {
    let mut edits = Vec::new();
    if src.arr::<2>()? != [0xFF, 0xD8] {
        return Err(src.bad(0, "no start-of-image marker"));
    }
    let mut scans = 0u64;
    let mut oriented = false;
    let mut pending: Option<(u64, u8)> = None;
    loop {
        if edits.len() > MAX_EDITS {
            return Err(src.bad(src.pos, "too many metadata structures"));
        }
        let (start, marker) = match pending.take() {
            Some(p) => p,
            None => {
                let start = src.pos;
                if src.left() == 0 {
                    return Err(src.bad(start, "no end-of-image marker before the end"));
                }
                if src.u8()? != 0xFF {
                    return Err(src.bad(start, "expected a marker"));
                }
                let mut m = src.u8()?;
                while m == 0xFF {
                    m = src.u8()?;
                }
                (start, m)
            }
        };
        match marker {
            0xD9 => {
                if scans == 0 {
                    return Err(src.bad(start, "no image data (no start-of-scan)"));
                }
                if src.pos < src.len {
                    edits.push(Edit::Drop {
                        start: src.pos,
                        end: src.len,
                    });
                }
                return Ok(edits);
            }
            0x00 | 0xD8 => return Err(src.bad(start, "unexpected marker")),
            0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let length = src.u16_be()?;
        if length < 2 {
            return Err(src.bad(start, "segment length below 2"));
        }
        let payload = src.pos;
        let end = payload + u64::from(length) - 2;
        if end > src.len {
            return Err(src.bad(start, "segment runs past the end of the file"));
        }
        let head = src.peek_up_to(12.min(usize::from(length) - 2))?;
        let keep = match marker {
            0xE0 => head.starts_with(b"JFIF\0"),
            0xE2 => head.starts_with(b"ICC_PROFILE\0"),
            0xEE => head.starts_with(b"Adobe"),
            0xE1 | 0xE3..=0xED | 0xEF | 0xFE => false,
            _ => true,
        };
        if !keep {
            // The first EXIF's orientation survives, alone in an EXIF of our own, so
            // that a photo taken sideways shows upright.
            let orientation = if marker == 0xE1 && head.starts_with(b"Exif\0\0") && !oriented {
                src.seek(payload)?;
                let mut exif = vec![0u8; usize::from(length) - 2];
                src.exact(&mut exif)?;
                exif_orientation(&exif[6..])
            } else {
                None
            };
            match orientation {
                Some(o) => {
                    oriented = true;
                    edits.push(Edit::Replace {
                        start,
                        end,
                        bytes: orientation_segment(o),
                    });
                }
                None => edits.push(Edit::Drop { start, end }),
            }
        }
        src.seek(end)?;
        if marker == 0xDA {
            scans += 1;
            pending = Some(entropy(src)?);
        }
    }
}

/// The orientation (2 to 8; 1 is upright and needs nothing) of an EXIF TIFF block,
/// read from IFD0 with every offset checked.
fn exif_orientation(tiff: &[u8]) -> Option<u16> {
    let big = match tiff.get(0..2)? {
        b"MM" => true,
        b"II" => false,
        _ => return None,
    };
    let u16_at = |i: usize| -> Option<u16> {
        let b: [u8; 2] = tiff.get(i..i + 2)?.try_into().ok()?;
        Some(if big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    };
    let u32_at = |i: usize| -> Option<u32> {
        let b: [u8; 4] = tiff.get(i..i + 4)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    if u16_at(2)? != 42 {
        return None;
    }
    let ifd = usize::try_from(u32_at(4)?).ok()?;
    let count = usize::from(u16_at(ifd)?);
    (0..count).find_map(|k| {
        let e = ifd.checked_add(2 + 12 * k)?;
        // Tag 0x0112, type SHORT, one value.
        if u16_at(e)? == 0x0112 && u16_at(e + 2)? == 3 && u32_at(e + 4)? == 1 {
            u16_at(e + 8).filter(|o| (2..=8).contains(o))
        } else {
            None
        }
    })
}

/// An APP1 segment holding an EXIF with one entry: the orientation.
fn orientation_segment(orientation: u16) -> Vec<u8> {
    let mut v = vec![0xFF, 0xE1, 0, 34];
    v.extend_from_slice(b"Exif\0\0MM\0\x2A\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01");
    v.extend_from_slice(&orientation.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    v
}

/// Reads entropy-coded data up to the next marker; returns its offset and code.
fn entropy(src: &mut Src) -> Res<(u64, u8)> {
    loop {
        let left = src.left();
        let buf = src.r.fill_buf().map_err(CleanError::Io)?;
        let avail = (buf.len() as u64).min(left) as usize;
        if avail == 0 {
            return Err(src.bad(
                src.pos,
                "image data runs to the end of the file (no end-of-image marker)",
            ));
        }
        match memchr::memchr(0xFF, &buf[..avail]) {
            None => {
                src.r.consume(avail);
                src.pos += avail as u64;
            }
            Some(i) => {
                src.r.consume(i + 1);
                src.pos += i as u64 + 1;
                let at = src.pos - 1;
                let mut m = src.u8()?;
                if m == 0x00 || (0xD0..=0xD7).contains(&m) {
                    continue;
                }
                while m == 0xFF {
                    m = src.u8()?;
                }
                return Ok((at, m));
            }
        }
    }
}

// ---- PNG ----

/// Ancillary PNG chunks that decoding or colour needs (APNG's too); every other
/// ancillary chunk is dropped.
const PNG_KEEP: [&[u8; 4]; 16] = [
    b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB", b"cICP", b"mDCv", b"cLLi", b"bKGD", b"hIST",
    b"tRNS", b"pHYs", b"sPLT", b"acTL", b"fcTL", b"fdAT",
];

fn png(src: &mut Src) -> Res<Vec<Edit>> {
    let mut edits = Vec::new();
    src.skip(8)?;
    let mut first = true;
    loop {
        if edits.len() > MAX_EDITS {
            return Err(src.bad(src.pos, "too many metadata structures"));
        }
        let start = src.pos;
        if src.left() == 0 {
            return Err(src.bad(start, "no IEND chunk before the end"));
        }
        let length = src.u32_be()?;
        if length > 0x7FFF_FFFF {
            return Err(src.bad(start, "chunk length above 2^31-1"));
        }
        let kind: [u8; 4] = src.arr()?;
        if !kind.iter().all(u8::is_ascii_alphabetic) {
            return Err(src.bad(start, "chunk type is not four letters"));
        }
        let end = src.pos + u64::from(length) + 4;
        if end > src.len {
            return Err(src.bad(start, "chunk runs past the end of the file"));
        }
        if first && &kind != b"IHDR" {
            return Err(src.bad(start, "the first chunk is not IHDR"));
        }
        first = false;
        let critical = kind[0].is_ascii_uppercase();
        match &kind {
            b"IEND" => {
                if end < src.len {
                    edits.push(Edit::Drop {
                        start: end,
                        end: src.len,
                    });
                }
                return Ok(edits);
            }
            b"IHDR" | b"PLTE" | b"IDAT" => {}
            _ if critical => {
                return Err(src.bad(start, "unknown critical chunk"));
            }
            k if PNG_KEEP.contains(&k) => {}
            _ => edits.push(Edit::Drop { start, end }),
        }
        src.seek(end)?;
    }
}

// ---- WebP ----

fn webp(src: &mut Src) -> Res<Vec<Edit>> {
    let mut edits = Vec::new();
    src.skip(4)?;
    let size = src.u32_le()?;
    src.skip(4)?;
    let riff_end = 8 + u64::from(size);
    if size < 4 || riff_end > src.len {
        return Err(src.bad(4, "RIFF size out of bounds"));
    }
    let mut dropped = 0u64;
    let mut flags: Option<(u64, u8)> = None;
    let mut image = false;
    while src.pos < riff_end {
        if edits.len() > MAX_EDITS {
            return Err(src.bad(src.pos, "too many metadata structures"));
        }
        let start = src.pos;
        if riff_end - start < 8 {
            return Err(src.bad(start, "truncated chunk header"));
        }
        let kind: [u8; 4] = src.arr()?;
        let csize = u64::from(src.u32_le()?);
        let end = src.pos + csize + (csize & 1);
        if end > riff_end {
            return Err(src.bad(start, "chunk runs past the RIFF end"));
        }
        match &kind {
            b"VP8X" => {
                if start != 12 || csize < 10 {
                    return Err(src.bad(start, "misplaced or short VP8X chunk"));
                }
                flags = Some((src.pos, src.u8()?));
            }
            b"VP8 " | b"VP8L" => image = true,
            b"ANMF" => {
                // A frame: 16 bytes of geometry and timing, then its own chunks
                // (ALPH, VP8, VP8L; unknown ones are dropped and the size fixed).
                image = true;
                let body = src.pos;
                let frame_end = body + csize;
                if csize < 16 {
                    return Err(src.bad(start, "short ANMF chunk"));
                }
                let mut p = body + 16;
                let mut inner = 0u64;
                while p < frame_end {
                    if edits.len() > MAX_EDITS {
                        return Err(src.bad(p, "too many metadata structures"));
                    }
                    if frame_end - p < 8 {
                        return Err(src.bad(p, "truncated chunk header"));
                    }
                    src.seek(p)?;
                    let sub: [u8; 4] = src.arr()?;
                    let n = u64::from(src.u32_le()?);
                    let e = src.pos + n + (n & 1);
                    if e > frame_end {
                        return Err(src.bad(p, "chunk runs past its frame"));
                    }
                    if !matches!(&sub, b"ALPH" | b"VP8 " | b"VP8L") {
                        edits.push(Edit::Drop { start: p, end: e });
                        inner += e - p;
                    }
                    p = e;
                }
                if inner > 0 {
                    let new = u32::try_from(csize - inner)
                        .map_err(|_| src.bad(start, "chunk size out of bounds"))?;
                    edits.push(Edit::Put {
                        at: start + 4,
                        bytes: new.to_le_bytes().to_vec(),
                    });
                    dropped += inner;
                }
            }
            b"ALPH" | b"ANIM" | b"ICCP" => {}
            _ => {
                edits.push(Edit::Drop { start, end });
                dropped += end - start;
            }
        }
        src.seek(end)?;
    }
    if !image {
        return Err(src.bad(12, "no image data chunk"));
    }
    if riff_end < src.len {
        edits.push(Edit::Drop {
            start: riff_end,
            end: src.len,
        });
    }
    if dropped > 0 {
        let new = u32::try_from(u64::from(size) - dropped)
            .map_err(|_| src.bad(4, "RIFF size out of bounds"))?;
        edits.push(Edit::Put {
            at: 4,
            bytes: new.to_le_bytes().to_vec(),
        });
    }
    if let Some((at, f)) = flags {
        // Bit 3: EXIF present; bit 2: XMP present.
        let cleared = f & !0b0000_1100;
        if cleared != f {
            edits.push(Edit::Put {
                at,
                bytes: vec![cleared],
            });
        }
    }
    Ok(edits)
}

// ---- GIF ----

fn gif(src: &mut Src) -> Res<Vec<Edit>> {
    let mut edits = Vec::new();
    src.skip(6)?;
    let screen: [u8; 7] = src.arr()?;
    if screen[4] & 0x80 != 0 {
        src.skip(3u64 << ((screen[4] & 7) + 1))?;
    }
    let mut image = false;
    loop {
        if edits.len() > MAX_EDITS {
            return Err(src.bad(src.pos, "too many metadata structures"));
        }
        let start = src.pos;
        if src.left() == 0 {
            return Err(src.bad(start, "no trailer before the end"));
        }
        match src.u8()? {
            0x2C => {
                let desc: [u8; 9] = src.arr()?;
                if desc[8] & 0x80 != 0 {
                    src.skip(3u64 << ((desc[8] & 7) + 1))?;
                }
                src.u8()?; // LZW minimum code size
                sub_blocks(src)?;
                image = true;
            }
            0x21 => {
                let keep = match src.u8()? {
                    // Graphic control, plain text: part of the picture.
                    0xF9 | 0x01 => {
                        sub_blocks(src)?;
                        true
                    }
                    0xFF => {
                        let n = src.u8()?;
                        let id = src.peek_up_to(usize::from(n))?;
                        if id.len() != usize::from(n) {
                            return Err(src.bad(start, "truncated extension"));
                        }
                        sub_blocks(src)?;
                        n == 11 && (id == b"NETSCAPE2.0" || id == b"ANIMEXTS1.0")
                    }
                    _ => {
                        sub_blocks(src)?;
                        false
                    }
                };
                if !keep {
                    edits.push(Edit::Drop {
                        start,
                        end: src.pos,
                    });
                }
            }
            0x3B => {
                if !image {
                    return Err(src.bad(start, "no image"));
                }
                if src.pos < src.len {
                    edits.push(Edit::Drop {
                        start: src.pos,
                        end: src.len,
                    });
                }
                return Ok(edits);
            }
            _ => return Err(src.bad(start, "unknown block")),
        }
    }
}

fn sub_blocks(src: &mut Src) -> Res<()> {
    loop {
        let n = src.u8()?;
        if n == 0 {
            return Ok(());
        }
        src.skip(u64::from(n))?;
    }
}

// ---- MP4 / MOV ----

/// Where a box list lies: which boxes are walked into, which are blanked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Top,
    Moov,
    Trak,
    Mdia,
    Minf,
}

/// Top-level boxes kept as they are (every other one is blanked).
const TOP_KEEP: [&[u8; 4]; 12] = [
    b"ftyp", b"styp", b"moov", b"mdat", b"moof", b"mfra", b"sidx", b"ssix", b"prft", b"free",
    b"skip", b"wide",
];

/// HEIF and AVIF brands: their top-level `meta` box is the image.
const HEIF_BRANDS: [&[u8; 4]; 11] = [
    b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"mif2", b"msf1", b"avif",
    b"avis",
];

fn isobmff(src: &mut Src, from: u64, to: u64, level: Level, edits: &mut Vec<Edit>) -> Res<()> {
    let mut pos = from;
    while pos < to {
        if edits.len() > MAX_EDITS {
            return Err(src.bad(src.pos, "too many metadata structures"));
        }
        src.seek(pos)?;
        if to - pos < 8 {
            return Err(src.bad(pos, "truncated box header"));
        }
        let size32 = src.u32_be()?;
        let kind: [u8; 4] = src.arr()?;
        let (size, header) = match size32 {
            1 => {
                if to - pos < 16 {
                    return Err(src.bad(pos, "truncated box header"));
                }
                (src.u64_be()?, 16)
            }
            0 if level == Level::Top => (to - pos, 8),
            0 => return Err(src.bad(pos, "a box of size 0 inside another box")),
            n => (u64::from(n), 8),
        };
        if size < header || size > to - pos {
            return Err(src.bad(pos, "box size out of bounds"));
        }
        let end = pos + size;
        let body = pos + header;
        let blank = match (level, &kind) {
            (_, b"udta" | b"meta" | b"uuid" | b"XMP_") => true,
            (Level::Top, k) => !TOP_KEEP.contains(&k),
            _ => false,
        };
        if blank {
            edits.push(Edit::Put {
                at: pos + 4,
                bytes: b"free".to_vec(),
            });
            if end > body {
                edits.push(Edit::Zero { start: body, end });
            }
        } else {
            match (level, &kind) {
                (Level::Top, b"ftyp") => {
                    if size < header + 4 {
                        return Err(src.bad(pos, "short ftyp box"));
                    }
                    let brand: [u8; 4] = src.arr()?;
                    if HEIF_BRANDS.contains(&&brand) {
                        return Err(src.bad(
                            pos,
                            "a HEIF/AVIF image (its `meta` box is the image) cannot be cleaned",
                        ));
                    }
                }
                (Level::Top, b"moov") => isobmff(src, body, end, Level::Moov, edits)?,
                (Level::Moov, b"trak") => isobmff(src, body, end, Level::Trak, edits)?,
                (Level::Trak, b"mdia") => isobmff(src, body, end, Level::Mdia, edits)?,
                (Level::Mdia, b"minf") => isobmff(src, body, end, Level::Minf, edits)?,
                (Level::Moov, b"mvhd") | (Level::Trak, b"tkhd") | (Level::Mdia, b"mdhd") => {
                    // version(1) flags(3), then creation and modification times.
                    if size < header + 4 {
                        return Err(src.bad(pos, "short header box"));
                    }
                    let times = if src.u8()? == 1 { 16 } else { 8 };
                    if body + 4 + times > end {
                        return Err(src.bad(pos, "short header box"));
                    }
                    edits.push(Edit::Zero {
                        start: body + 4,
                        end: body + 4 + times,
                    });
                }
                (Level::Mdia, b"hdlr") => {
                    if size < header + 12 {
                        return Err(src.bad(pos, "short hdlr box"));
                    }
                    src.skip(8)?;
                    if &src.arr::<4>()? == b"meta" {
                        return Err(src.bad(
                            pos,
                            "a timed metadata track (handler `meta`, which can carry GPS) cannot be cleaned",
                        ));
                    }
                }
                _ => {}
            }
        }
        pos = end;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniff_by_content() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0"), Some(Format::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n"), Some(Format::Png));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(Format::Webp));
        assert_eq!(sniff(b"GIF89a"), Some(Format::Gif));
        assert_eq!(sniff(b"\0\0\0\x18ftypisom\0\0\0\0"), Some(Format::Mp4));
        assert_eq!(sniff(b"\0\0\0\x14ftypqt  \0\0\0\0"), Some(Format::Mov));
        assert_eq!(sniff(b"\0\0\0\x08wide\0\0\0\0"), Some(Format::Mov));
        assert_eq!(sniff(b"hello, world, not media"), None);
        assert_eq!(sniff(b""), None);
    }

    fn seeds() -> Vec<Vec<u8>> {
        let seg = |m: u8, p: &[u8]| {
            let mut v = vec![0xFF, m];
            v.extend_from_slice(&((p.len() + 2) as u16).to_be_bytes());
            v.extend_from_slice(p);
            v
        };
        let jpeg = [
            vec![0xFF, 0xD8],
            seg(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"),
            seg(0xE1, b"Exif\0\0secret"),
            seg(0xDA, &[1, 1, 0, 0, 63, 0]),
            vec![1, 0xFF, 0, 2, 0xFF, 0xD9, 9],
        ]
        .concat();
        let chunk = |k: &[u8], d: &[u8]| {
            let mut v = (d.len() as u32).to_be_bytes().to_vec();
            v.extend_from_slice(k);
            v.extend_from_slice(d);
            v.extend_from_slice(&[0; 4]);
            v
        };
        let png = [
            b"\x89PNG\r\n\x1a\n".to_vec(),
            chunk(b"IHDR", &[0; 13]),
            chunk(b"tEXt", b"a\0b"),
            chunk(b"IDAT", &[1, 2, 3]),
            chunk(b"IEND", &[]),
        ]
        .concat();
        let webp = b"RIFF\x2c\0\0\0WEBPVP8X\x0a\0\0\0\x0c\0\0\0\0\0\0\0\0\0VP8L\x03\0\0\0abc\0EXIF\x02\0\0\0xy".to_vec();
        let gif = b"GIF89a\x01\0\x01\0\x80\0\0\0\0\0\xff\xff\xff\x21\xfe\x02hi\0\x2c\0\0\0\0\x01\0\x01\0\0\x02\x02\x44\x01\0\x3b".to_vec();
        let bx = |k: &[u8], p: &[u8]| {
            let mut v = ((p.len() + 8) as u32).to_be_bytes().to_vec();
            v.extend_from_slice(k);
            v.extend_from_slice(p);
            v
        };
        let mp4 = [
            bx(b"ftyp", b"isom\0\0\0\0"),
            bx(
                b"moov",
                &[
                    bx(b"mvhd", &[0; 20]),
                    bx(b"udta", b"secret"),
                    bx(b"trak", &bx(b"mdia", &bx(b"hdlr", &[0; 24]))),
                ]
                .concat(),
            ),
            bx(b"mdat", b"data"),
        ]
        .concat();
        vec![jpeg, png, webp, gif, mp4]
    }

    fn run(bytes: &[u8]) -> Res<Vec<u8>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m");
        std::fs::write(&path, bytes).unwrap();
        let c = plan(&path)?;
        let mut out = Vec::new();
        c.copy(&path, |d| {
            out.extend_from_slice(d);
            Ok(())
        })
        .unwrap();
        Ok(out)
    }

    fn riff(kind: &[u8], d: &[u8]) -> Vec<u8> {
        let mut v = kind.to_vec();
        v.extend_from_slice(&(d.len() as u32).to_le_bytes());
        v.extend_from_slice(d);
        if d.len() % 2 == 1 {
            v.push(0);
        }
        v
    }

    #[test]
    fn jpeg_keeps_only_the_orientation_of_its_exif() {
        let seg = |m: u8, p: &[u8]| {
            let mut v = vec![0xFF, m];
            v.extend_from_slice(&((p.len() + 2) as u16).to_be_bytes());
            v.extend_from_slice(p);
            v
        };
        // Little-endian EXIF: IFD0 with a GPS-ish text entry and orientation 6.
        let mut tiff = b"II\x2A\0\x08\0\0\0\x02\0".to_vec();
        tiff.extend_from_slice(b"\x0e\x01\x02\0\x0c\0\0\0\x26\0\0\0");
        tiff.extend_from_slice(b"\x12\x01\x03\0\x01\0\0\0\x06\0\0\0");
        tiff.extend_from_slice(&[0, 0, 0, 0]);
        tiff.extend_from_slice(b"GPS 24.7136N");
        let exif = seg(0xE1, &[b"Exif\0\0".as_slice(), &tiff].concat());
        let tail = [seg(0xDA, &[1, 1, 0, 0, 63, 0]), vec![7, 0xFF, 0xD9]].concat();
        let dirty = [vec![0xFF, 0xD8], exif, tail.clone()].concat();
        let out = run(&dirty).unwrap();
        let want = [vec![0xFF, 0xD8], orientation_segment(6), tail].concat();
        assert_eq!(out, want);
        assert_eq!(exif_orientation(&want[12..]), Some(6));
        assert!(!out.windows(3).any(|w| w == b"GPS"));
    }

    #[test]
    fn webp_frames_lose_unknown_chunks() {
        let frame = |extra: &[u8]| {
            riff(
                b"ANMF",
                &[&[0u8; 16][..], &riff(b"VP8L", b"pixels"), extra].concat(),
            )
        };
        let file = |body: Vec<u8>| riff(b"RIFF", &[b"WEBP".to_vec(), body].concat());
        let vp8x = riff(b"VP8X", &[0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let anim = riff(b"ANIM", &[0; 6]);
        let dirty = file(
            [
                vp8x.clone(),
                anim.clone(),
                frame(&riff(b"NAME", b"+9665551")),
            ]
            .concat(),
        );
        let clean = file([vp8x, anim, frame(b"")].concat());
        assert_eq!(run(&dirty).unwrap(), clean);
    }

    #[test]
    fn many_tiny_segments_are_refused() {
        let mut jpeg = vec![0xFF, 0xD8];
        for _ in 0..=MAX_EDITS {
            jpeg.extend_from_slice(&[0xFF, 0xFE, 0, 2]);
        }
        match run(&jpeg) {
            Err(CleanError::Format(Format::Jpeg, m)) => {
                assert!(m.starts_with("too many metadata structures"), "{m}")
            }
            other => panic!("{other:?}"),
        }
    }

    /// Hostile input: truncations and random byte changes of small valid files never
    /// panic, always end, and a plan, when there is one, stays inside the file.
    #[test]
    fn mutated_files_never_panic() {
        use rand::{Rng, SeedableRng};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for seed in seeds() {
            let clean = {
                std::fs::write(&path, &seed).unwrap();
                plan(&path).unwrap_or_else(|e| panic!("{e:?}"))
            };
            assert!(!clean.edits.is_empty());
            for cut in 0..seed.len() {
                std::fs::write(&path, &seed[..cut]).unwrap();
                let _ = plan(&path);
            }
            for _ in 0..300 {
                let mut v = seed.clone();
                for _ in 0..rng.gen_range(1..4) {
                    let i = rng.gen_range(0..v.len());
                    v[i] = rng.gen();
                }
                std::fs::write(&path, &v).unwrap();
                if let Ok(c) = plan(&path) {
                    assert!(c.bytes <= v.len() as u64);
                    let mut out = Vec::new();
                    let (n, _) = c
                        .copy(&path, |d| {
                            out.extend_from_slice(d);
                            Ok(())
                        })
                        .unwrap();
                    assert_eq!(n, out.len() as u64);
                }
            }
        }
    }
}
