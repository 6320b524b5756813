//! Checks on the raw bytes of an input CSV that the csv parser does not make.
//!
//! The parser is lenient in two ways that matter here: a quoted field still open at
//! the end of the file silently swallows every line after its opening quote into one
//! value (a truncated export would publish those rows, internal columns included, as
//! the text of one post), and its UTF-8 errors say which record and field, not which
//! byte. Both are rare, so these functions re-read the file from the start of the
//! record concerned; they cost nothing on the normal path.
//!
//! Byte positions reported by the csv reader start after a skipped UTF-8 BOM
//! ([`bom_len`] gives its length), and lines are counted from 1 as the reader counts
//! them.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// The UTF-8 byte order mark, tolerated at the start of an input file.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Length of the BOM at the start of `path` (0 or 3). Unreadable files count as 0.
pub fn bom_len(path: &Path) -> u64 {
    let mut start = [0u8; 3];
    match File::open(path).and_then(|mut f| f.read_exact(&mut start)) {
        Ok(()) if start == BOM => 3,
        _ => 0,
    }
}

/// Opens `path` positioned at the reader's byte offset `byte` (BOM accounted for).
fn open_at(path: &Path, byte: u64) -> std::io::Result<BufReader<File>> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(bom_len(path) + byte))?;
    Ok(BufReader::with_capacity(1 << 16, file))
}

/// A quoted field left open at the end of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenQuote {
    /// Line of the opening quote.
    pub line: u64,
    /// 0-based index of the field the quote opens.
    pub field: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    StartRecord,
    StartField,
    InField,
    InQuoted,
    QuoteInQuoted,
}

/// Scans one record of RFC 4180 text (as the csv crate reads it: `,` delimiter, `"`
/// quotes doubled inside quoted fields, any of `\r`, `\n`, `\r\n` ending a record)
/// from its start, and reports an opening quote whose field reaches the end of the
/// input. `line` is the line the record starts on.
pub fn scan_record(input: impl Read, line: u64) -> std::io::Result<Option<OpenQuote>> {
    let mut state = State::StartRecord;
    let mut line = line;
    let mut field = 0usize;
    let mut open = OpenQuote { line, field: 0 };
    let mut buf = [0u8; 1 << 16];
    let mut input = input;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        for &b in &buf[..n] {
            if b == b'\n' {
                line += 1;
            }
            state = match (state, b) {
                (State::StartRecord, b'\r' | b'\n') => State::StartRecord,
                (State::StartRecord | State::StartField, b'"') => {
                    open = OpenQuote {
                        // The quote's own line: a `\n` cannot be the quote itself.
                        line,
                        field,
                    };
                    State::InQuoted
                }
                (State::InQuoted, b'"') => State::QuoteInQuoted,
                (State::InQuoted, _) => State::InQuoted,
                (State::QuoteInQuoted, b'"') => State::InQuoted,
                (_, b',') => {
                    field += 1;
                    State::StartField
                }
                (_, b'\r' | b'\n') => return Ok(None),
                _ => State::InField,
            };
        }
    }
    Ok((state == State::InQuoted).then_some(open))
}

/// Whether the record that starts at the reader's `byte` (on `line`) of `path` opens
/// a quote that is never closed. An unreadable file reports nothing (the read that
/// follows reports it).
pub fn open_quote_at(path: &Path, byte: u64, line: u64) -> Option<OpenQuote> {
    let rdr = open_at(path, byte).ok()?;
    scan_record(rdr, line).ok().flatten()
}

/// The first byte that is not valid UTF-8 at or after the reader's `byte` (on `line`):
/// its offset in the file (counting a BOM) and its line.
pub fn invalid_utf8_at(path: &Path, byte: u64, line: u64) -> Option<(u64, u64)> {
    let mut rdr = open_at(path, byte).ok()?;
    let mut offset = bom_len(path) + byte;
    let mut line = line;
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = rdr.read(&mut buf).ok()?;
        let eof = n == 0;
        pending.extend_from_slice(&buf[..n]);
        let (valid, bad) = match std::str::from_utf8(&pending) {
            Ok(_) => (pending.len(), false),
            // An incomplete sequence at the end of the chunk: read more, unless at EOF.
            Err(e) if e.error_len().is_none() && !eof => (e.valid_up_to(), false),
            Err(e) => (e.valid_up_to(), true),
        };
        line += memchr::memchr_iter(b'\n', &pending[..valid]).count() as u64;
        offset += valid as u64;
        if bad {
            return Some((offset, line));
        }
        if eof {
            return None;
        }
        pending.drain(..valid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str) -> Option<OpenQuote> {
        scan_record(text.as_bytes(), 1).unwrap()
    }

    #[test]
    fn closed_records() {
        assert_eq!(scan("a,b,c\n"), None);
        assert_eq!(scan("a,b,c"), None);
        assert_eq!(scan("a,\"b\nc\",d\nnext,\"open"), None);
        assert_eq!(scan("\r\n1,\"x\"\"y\"\r\n"), None);
        assert_eq!(scan("1,2\"3,4\n"), None);
        assert_eq!(scan("1,\"\""), None);
    }

    #[test]
    fn open_quotes() {
        assert_eq!(scan("a,\"b"), Some(OpenQuote { line: 1, field: 1 }));
        assert_eq!(
            scan("\n\na,b,\"c\nd\ne,f"),
            Some(OpenQuote { line: 3, field: 2 })
        );
        assert_eq!(scan("\"a\"\"\n"), Some(OpenQuote { line: 1, field: 0 }));
    }

    #[test]
    fn utf8_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.csv");
        std::fs::write(&p, b"\xEF\xBB\xBFa,b\n1,\"x\ny\xFFz\"\n").unwrap();
        // The reader's offsets start after the BOM: the record `1,...` starts at 4.
        assert_eq!(invalid_utf8_at(&p, 4, 2), Some((3 + 4 + 6, 3)));
        // A multi-byte character split across reads is not an error.
        let mut long = vec![b'a'; (1 << 16) - 1];
        long.extend_from_slice("é\n".as_bytes());
        long.push(0xC3);
        std::fs::write(&p, &long).unwrap();
        assert_eq!(invalid_utf8_at(&p, 0, 1), Some(((1 << 16) + 2, 2)));
    }
}
