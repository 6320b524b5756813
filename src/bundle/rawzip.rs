//! A one-entry zip whose deflate data is written by the caller (already compressed,
//! e.g. by [`crate::bundle::deflate::ParallelDeflate`]), with the CRC-32 and sizes given at
//! the end.
//!
//! The bundle writer copies such an entry into the bundle with
//! `ZipWriter::raw_copy_file_rename`, as it already does for the spooled first posts
//! part: the zip crate then writes the bundle's own headers from the values here.
//! The layout is the plain one of APPNOTE 6.3: local header (sizes patched in place
//! once known, no data descriptor), the data, one central directory header, and the
//! end records; with `large`, ZIP64 extra fields in both headers and the ZIP64 end
//! records, so the entry may exceed 4 GiB.

use std::io::{self, Seek, SeekFrom, Write};

use crate::bundle::deflate::Totals;

const LOCAL: u32 = 0x0403_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const END: u32 = 0x0605_4b50;
const END64: u32 = 0x0606_4b50;
const LOCATOR64: u32 = 0x0706_4b50;
/// Deflate, the only method this writes.
const DEFLATED: u16 = 8;

/// Where a one-entry zip is being written; the caller writes the compressed data
/// to [`RawEntry::data`] between [`RawEntry::begin`] and [`RawEntry::finish`].
pub struct RawEntry<W: Write + Seek> {
    out: W,
    name: Vec<u8>,
    large: bool,
    dos_date: u16,
    dos_time: u16,
    unix_mode: u32,
    /// Where the local header starts.
    start: u64,
}

fn version(large: bool) -> u16 {
    if large {
        45
    } else {
        20
    }
}

/// General purpose flags: bit 11 when the name is not ASCII (it is UTF-8).
fn flags(name: &[u8]) -> u16 {
    if name.is_ascii() {
        0
    } else {
        1 << 11
    }
}

/// Writing to the entry writes its compressed data (as [`RawEntry::data`]).
impl<W: Write + Seek> Write for RawEntry<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.out.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl<W: Write + Seek> RawEntry<W> {
    /// Starts the entry `name` at the current position of `out`, dated `dos_date`
    /// and `dos_time` (MS-DOS format), with Unix permissions `unix_mode`.
    pub fn begin(
        mut out: W,
        name: &str,
        large: bool,
        dos_date: u16,
        dos_time: u16,
        unix_mode: u32,
    ) -> io::Result<Self> {
        if name.len() > usize::from(u16::MAX) {
            return Err(io::Error::other("zip entry name too long"));
        }
        let start = out.stream_position()?;
        let mut e = RawEntry {
            out,
            name: name.as_bytes().to_vec(),
            large,
            dos_date,
            dos_time,
            unix_mode,
            start,
        };
        let header = e.local_header(&Totals {
            crc32: 0,
            uncompressed: 0,
            compressed: 0,
        });
        e.out.write_all(&header)?;
        Ok(e)
    }

    /// Where the compressed data goes.
    pub fn data(&mut self) -> &mut W {
        &mut self.out
    }

    fn local_header(&self, t: &Totals) -> Vec<u8> {
        let mut h = Vec::with_capacity(30 + self.name.len() + 20);
        put32(&mut h, LOCAL);
        put16(&mut h, version(self.large));
        put16(&mut h, flags(&self.name));
        put16(&mut h, DEFLATED);
        put16(&mut h, self.dos_time);
        put16(&mut h, self.dos_date);
        put32(&mut h, t.crc32);
        if self.large {
            put32(&mut h, u32::MAX);
            put32(&mut h, u32::MAX);
        } else {
            put32(&mut h, t.compressed as u32);
            put32(&mut h, t.uncompressed as u32);
        }
        put16(&mut h, self.name.len() as u16);
        put16(&mut h, if self.large { 20 } else { 0 });
        h.extend_from_slice(&self.name);
        if self.large {
            put16(&mut h, 0x0001);
            put16(&mut h, 16);
            put64(&mut h, t.uncompressed);
            put64(&mut h, t.compressed);
        }
        h
    }

    /// Patches the local header with `totals` (what the data written holds), writes
    /// the central directory and end records, and returns the writer.
    pub fn finish(mut self, totals: Totals) -> io::Result<W> {
        let end = self.out.stream_position()?;
        let header = self.local_header(&totals);
        if end - self.start != header.len() as u64 + totals.compressed {
            return Err(io::Error::other(
                "the zip entry's data is not the size its totals say",
            ));
        }
        let fits = |v: u64| v < u64::from(u32::MAX);
        let small = fits(totals.compressed) && fits(totals.uncompressed) && fits(end);
        if !self.large && !small {
            return Err(io::Error::other(
                "a zip entry of 4 GiB or more must be started as large",
            ));
        }
        self.out.seek(SeekFrom::Start(self.start))?;
        self.out.write_all(&header)?;
        self.out.seek(SeekFrom::Start(end))?;

        let offset_in_extra = self.large && !fits(self.start);
        let mut c = Vec::with_capacity(46 + self.name.len() + 28);
        put32(&mut c, CENTRAL);
        put16(&mut c, (3 << 8) | version(self.large)); // made by Unix
        put16(&mut c, version(self.large));
        put16(&mut c, flags(&self.name));
        put16(&mut c, DEFLATED);
        put16(&mut c, self.dos_time);
        put16(&mut c, self.dos_date);
        put32(&mut c, totals.crc32);
        if self.large {
            put32(&mut c, u32::MAX);
            put32(&mut c, u32::MAX);
        } else {
            put32(&mut c, totals.compressed as u32);
            put32(&mut c, totals.uncompressed as u32);
        }
        put16(&mut c, self.name.len() as u16);
        let extra = match (self.large, offset_in_extra) {
            (false, _) => 0,
            (true, false) => 20,
            (true, true) => 28,
        };
        put16(&mut c, extra);
        put16(&mut c, 0); // comment
        put16(&mut c, 0); // disk
        put16(&mut c, 0); // internal attributes
        put32(&mut c, (0o100_000 | self.unix_mode) << 16);
        put32(
            &mut c,
            if offset_in_extra {
                u32::MAX
            } else {
                self.start as u32
            },
        );
        c.extend_from_slice(&self.name);
        if self.large {
            put16(&mut c, 0x0001);
            put16(&mut c, extra - 4);
            put64(&mut c, totals.uncompressed);
            put64(&mut c, totals.compressed);
            if offset_in_extra {
                put64(&mut c, self.start);
            }
        }
        self.out.write_all(&c)?;

        let cd_size = c.len() as u64;
        let mut e = Vec::with_capacity(98);
        if self.large {
            let end64 = end + cd_size;
            put32(&mut e, END64);
            put64(&mut e, 44);
            put16(&mut e, (3 << 8) | 45);
            put16(&mut e, 45);
            put32(&mut e, 0);
            put32(&mut e, 0);
            put64(&mut e, 1);
            put64(&mut e, 1);
            put64(&mut e, cd_size);
            put64(&mut e, end);
            put32(&mut e, LOCATOR64);
            put32(&mut e, 0);
            put64(&mut e, end64);
            put32(&mut e, 1);
        }
        put32(&mut e, END);
        put16(&mut e, 0);
        put16(&mut e, 0);
        put16(&mut e, if self.large { u16::MAX } else { 1 });
        put16(&mut e, if self.large { u16::MAX } else { 1 });
        put32(&mut e, if self.large { u32::MAX } else { cd_size as u32 });
        put32(&mut e, if self.large { u32::MAX } else { end as u32 });
        put16(&mut e, 0);
        self.out.write_all(&e)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

fn put16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}

fn put32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}

fn put64(v: &mut Vec<u8>, x: u64) {
    v.extend_from_slice(&x.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::deflate::ParallelDeflate;
    use std::io::{Cursor, Read};

    fn text(len: usize) -> Vec<u8> {
        let row = b"tweetid,userid,text\n12345,abc,\"hi, there\"\n";
        (0..len).map(|i| row[i % row.len()]).collect()
    }

    /// A one-entry zip of `data`, compressed with 2 threads.
    fn one_entry(data: &[u8], large: bool) -> Vec<u8> {
        let date = (2026 - 1980) << 9 | 11 << 5 | 30;
        let mut e = RawEntry::begin(Cursor::new(Vec::new()), "deferred", large, date, 0, 0o644)
            .expect("begin");
        let mut d = ParallelDeflate::with_chunk(e.data(), 6, 2, 10_000);
        d.write_all(data).unwrap();
        let (_, totals) = d.finish().unwrap();
        e.finish(totals).expect("finish").into_inner()
    }

    fn read_back(zip_bytes: Vec<u8>, name: &str) -> (Vec<u8>, u32, Option<u32>) {
        let mut a = zip::ZipArchive::new(Cursor::new(zip_bytes)).expect("a zip");
        assert_eq!(a.len(), 1);
        let mut f = a.by_name(name).expect("the entry");
        assert_eq!(f.compression(), zip::CompressionMethod::Deflated);
        let crc = f.crc32();
        let mode = f.unix_mode();
        let mut out = Vec::new();
        // The zip crate checks the CRC-32 at the end of the entry.
        f.read_to_end(&mut out).expect("inflates, CRC matches");
        (out, crc, mode)
    }

    #[test]
    fn zip_crate_reads_the_entry_small_and_large() {
        for len in [0, 1, 9_999, 10_000, 10_001, 123_456] {
            let data = text(len);
            for large in [false, true] {
                let (out, crc, mode) = read_back(one_entry(&data, large), "deferred");
                assert_eq!(out, data, "{len} bytes, large {large}");
                let mut c = flate2::Crc::new();
                c.update(&data);
                assert_eq!(crc, c.sum());
                assert_eq!(mode, Some(0o100_644));
            }
        }
    }

    #[test]
    fn raw_copy_into_another_zip_keeps_the_data() {
        let data = text(200_000);
        let src = one_entry(&data, false);
        let mut a = zip::ZipArchive::new(Cursor::new(src)).unwrap();
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        w.raw_copy_file_rename(a.by_index_raw(0).unwrap(), "bag/data/posts.csv")
            .unwrap();
        let copied = w.finish().unwrap().into_inner();
        let (out, _, _) = read_back(copied, "bag/data/posts.csv");
        assert_eq!(out, data);
    }

    #[test]
    fn totals_that_do_not_match_the_data_are_refused() {
        let mut e = RawEntry::begin(Cursor::new(Vec::new()), "x", false, 0, 0, 0o644).unwrap();
        e.data().write_all(b"not what the totals say").unwrap();
        let bad = Totals {
            crc32: 0,
            uncompressed: 1,
            compressed: 3,
        };
        assert!(e.finish(bad).is_err());
    }
}
