//! The one reader of the export's CSV files: rows streamed one at a time, every error
//! located (file, line, column), the end of the file checked.
//!
//! [`Rows`] is what every loop over `accounts.csv`, `directory.csv`, `tweets.csv` and
//! `media.csv` uses, in the build, the auditor's commands and staff verify: the
//! header is read and checked once (`read_header`: not empty, no duplicate names, BOM stripped), a parse error names the record
//! and column, and the end of the file is checked for a quoted field left open
//! (`check_end`), which the parser would otherwise take, with every line after it,
//! as one value.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::{Error, Location, Result};

/// A CSV file of the export, read row by row.
pub struct Rows<R: Read = BufReader<File>> {
    path: PathBuf,
    rdr: csv::Reader<R>,
    header: csv::StringRecord,
    /// Where the last record read started (the header's position before any).
    last: csv::Position,
    /// Whether `path` can be read again to diagnose its end (not a stream).
    file: bool,
}

impl Rows {
    /// Opens `path` and reads and checks its header.
    pub fn open(path: &Path) -> Result<Self> {
        let mut rdr = open_csv(path)?;
        let header = read_header(path, &mut rdr)?;
        Ok(Rows {
            path: path.to_path_buf(),
            rdr,
            header,
            last: csv::Position::new(),
            file: true,
        })
    }
}

impl<R: Read> Rows<R> {
    /// Reads a stream (standard input), named `name` in errors. Its end cannot be
    /// read again, so a quote left open is not diagnosed: the parser's error stands.
    pub fn from_reader(name: &Path, reader: R) -> Result<Self> {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(reader);
        let header = read_header(name, &mut rdr)?;
        Ok(Rows {
            path: name.to_path_buf(),
            rdr,
            header,
            last: csv::Position::new(),
            file: false,
        })
    }

    /// The checked header.
    pub fn header(&self) -> &csv::StringRecord {
        &self.header
    }

    /// The file read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Index of a required column, or an error naming the file and column.
    pub fn require(&self, col: &str, why: &str) -> Result<usize> {
        require(&self.path, &self.header, col, why)
    }

    /// Reads the next row into `record`: `false` at the end of the file, once it is
    /// checked that no quoted field was left open.
    pub fn read(&mut self, record: &mut csv::StringRecord) -> Result<bool> {
        let read = self.rdr.read_record(record);
        self.step(read, record.position())
    }

    /// As [`Rows::read`], without the UTF-8 check of every field (for passes that
    /// read a few columns and check those).
    pub fn read_bytes(&mut self, record: &mut csv::ByteRecord) -> Result<bool> {
        let read = self.rdr.read_byte_record(record);
        self.step(read, record.position())
    }

    /// What a read returned, located: the record's start kept for the end check.
    fn step(&mut self, read: csv::Result<bool>, at: Option<&csv::Position>) -> Result<bool> {
        match read {
            Ok(true) => {
                self.last = at.cloned().unwrap_or_else(csv::Position::new);
                Ok(true)
            }
            Ok(false) if self.file => {
                check_end(&self.path, &self.header, &self.last).map(|()| false)
            }
            Ok(false) => Ok(false),
            Err(e) => Err(csv_error(&self.path, Some(self.header.as_byte_record()), e)),
        }
    }
}

/// Opens a CSV file of the export for streaming. A UTF-8 BOM is skipped (so the
/// reader's byte positions start after it: see [`crate::input::diagnose`]).
fn open_csv(path: &Path) -> Result<csv::Reader<BufReader<File>>> {
    let file = crate::files::open_regular(path)?;
    let mut buf = BufReader::with_capacity(1 << 20, file);
    if buf
        .fill_buf()
        .map_err(|e| Error::io(path, e))?
        .starts_with(crate::input::diagnose::BOM)
    {
        buf.consume(crate::input::diagnose::BOM.len());
    }
    Ok(csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(buf))
}

/// Called when a reader reaches the end of `path`: fails when the last record, which
/// started at `last` (the header's position when there are no rows), opened a quote
/// that was never closed. The parser would otherwise take everything after that
/// quote as one value.
fn check_end(path: &Path, header: &csv::StringRecord, last: &csv::Position) -> Result<()> {
    match crate::input::diagnose::open_quote_at(path, last.byte(), last.line()) {
        None => Ok(()),
        Some(q) => Err(Error::input(
            Location {
                file: path.to_path_buf(),
                line: Some(q.line),
                column: Some(
                    header
                        .get(q.field)
                        .map_or_else(|| format!("#{}", q.field + 1), str::to_string),
                ),
            },
            "unterminated quote: the quoted field opened here is never closed, so it runs to the end of the file",
        )),
    }
}

/// Reads and checks a header: non-empty, no duplicate names, BOM stripped.
fn read_header<R: std::io::Read>(
    path: &Path,
    rdr: &mut csv::Reader<R>,
) -> Result<csv::StringRecord> {
    let header = rdr.headers().map_err(|e| csv_error(path, None, e))?.clone();
    let mut fields: Vec<String> = header.iter().map(|s| s.to_string()).collect();
    if let Some(first) = fields.first_mut() {
        if let Some(stripped) = first.strip_prefix('\u{feff}') {
            *first = stripped.to_string();
        }
    }
    if fields.is_empty() || fields.iter().all(|f| f.is_empty()) {
        return Err(Error::input(
            Location::file(path),
            "the file is empty: expected a header row",
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, f) in fields.iter().enumerate() {
        if f.is_empty() {
            return Err(Error::input(
                Location::cell(path, 1, &format!("#{}", i + 1)),
                format!(
                    "header field {} of {} is empty: every column needs a name",
                    i + 1,
                    fields.len()
                ),
            ));
        }
        if !seen.insert(f.as_str()) {
            return Err(Error::input(
                Location::cell(path, 1, f),
                "the column appears twice in the header",
            ));
        }
    }
    let header = csv::StringRecord::from(fields);
    rdr.set_headers(header.clone());
    Ok(header)
}

/// Index of a required column, or an error naming the file and column.
pub fn require(path: &Path, header: &csv::StringRecord, col: &str, why: &str) -> Result<usize> {
    header.iter().position(|h| h == col).ok_or_else(|| {
        Error::input(
            Location::line(path, 1),
            format!("the header lacks column `{col}`, which {why}"),
        )
    })
}

/// Turns a csv crate error into an input error naming the file, line and column; for
/// the errors whose record the parser cannot place (an unterminated quote, invalid
/// UTF-8), the file is read again from that record ([`super::diagnose`]).
fn csv_error(file: &Path, headers: Option<&csv::ByteRecord>, err: csv::Error) -> Error {
    let line = err.position().map(|p| p.line());
    let column_name = |i: usize| {
        headers.and_then(|h| h.get(i)).map_or_else(
            || format!("#{}", i + 1),
            |c| String::from_utf8_lossy(c).into_owned(),
        )
    };
    let (column, message) = match err.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len,
            len,
            pos,
        } => {
            // Too few fields is what an unterminated quote in the last record looks
            // like: say so rather than count fields.
            let open = pos
                .as_ref()
                .and_then(|p| super::diagnose::open_quote_at(file, p.byte(), p.line()));
            if let Some(q) = open {
                return Error::input(
                    Location {
                        file: file.to_path_buf(),
                        line: Some(q.line),
                        column: Some(column_name(q.field)),
                    },
                    "unterminated quote: the quoted field opened here is never closed, so it runs to the end of the file",
                );
            }
            let (len, expected) = (*len as usize, *expected_len as usize);
            (
                Some(column_name(len.min(expected))),
                if len < expected {
                    format!("row has {len} fields, the header has {expected}: this and the later columns are missing")
                } else {
                    format!("row has {len} fields, the header has {expected}: this and the later fields have no column")
                },
            )
        }
        csv::ErrorKind::Utf8 { pos, err: utf8 } => {
            let start = pos.as_ref().map_or((0, 1), |p| (p.byte(), p.line()));
            let column = Some(column_name(utf8.field()));
            return match super::diagnose::invalid_utf8_at(file, start.0, start.1) {
                Some((offset, bad_line)) => Error::input(
                    Location {
                        file: file.to_path_buf(),
                        line: Some(bad_line),
                        column,
                    },
                    format!("invalid UTF-8 at byte offset {offset} of the file (the export must be UTF-8)"),
                ),
                None => Error::input(
                    Location {
                        file: file.to_path_buf(),
                        line,
                        column,
                    },
                    format!(
                        "invalid UTF-8 in the record starting at byte offset {}, {} bytes into the field (the export must be UTF-8)",
                        start.0 + super::diagnose::bom_len(file),
                        utf8.valid_up_to()
                    ),
                ),
            };
        }
        csv::ErrorKind::Io(e) => {
            return Error::io(file, std::io::Error::new(e.kind(), e.to_string()))
        }
        _ => (None, err.to_string()),
    };
    Error::input(
        Location {
            file: file.to_path_buf(),
            line,
            column,
        },
        message,
    )
}
