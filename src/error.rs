//! Typed errors for the whole pipeline.
//!
//! Every error a user can meet says *where*: the input file with line and column, or
//! the policy key at fault. The binary prints them once and maps them to exit codes.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where in an input file something went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub file: PathBuf,
    /// 1-based line number, when known.
    pub line: Option<u64>,
    /// The column name (header), when known.
    pub column: Option<String>,
}

impl Location {
    /// A location naming just a file.
    pub fn file(file: &Path) -> Self {
        Location {
            file: file.to_path_buf(),
            line: None,
            column: None,
        }
    }

    /// A location naming a file and a line.
    pub fn line(file: &Path, line: u64) -> Self {
        Location {
            file: file.to_path_buf(),
            line: Some(line),
            column: None,
        }
    }

    /// A location naming a file, a line and a column.
    pub fn cell(file: &Path, line: u64, column: &str) -> Self {
        Location {
            file: file.to_path_buf(),
            line: Some(line),
            column: Some(column.to_string()),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        if let Some(column) = &self.column {
            // Header names come from the input: escaped and bounded.
            write!(f, ", column {}", crate::message::clip(column))?;
        }
        Ok(())
    }
}

/// Everything that can stop a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input export is malformed or inconsistent.
    #[error("{location}: {message}")]
    Input {
        /// Where.
        location: Location,
        /// What.
        message: String,
    },
    /// The policy file is invalid.
    #[error("policy {file}: {key}: {message}")]
    Policy {
        /// The policy file.
        file: PathBuf,
        /// The dotted key at fault (`sample.fraction`), or `(file)`.
        key: String,
        /// What.
        message: String,
    },
    /// The key file is missing or malformed. Never carries key material.
    #[error("key file {file}: {message}")]
    Key {
        /// The key file.
        file: PathBuf,
        /// What (never the key).
        message: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Bad command-line usage that clap cannot catch.
    #[error("{0}")]
    Usage(String),
    /// Writing the zip failed.
    #[error("writing {path}: {message}")]
    Zip {
        /// The bundle being written.
        path: PathBuf,
        /// What.
        message: String,
    },
}

impl Error {
    /// An input error at a location.
    pub fn input(location: Location, message: impl Into<String>) -> Self {
        Error::Input {
            location,
            message: message.into(),
        }
    }

    /// An I/O error on a path.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Turns a csv crate error into an input error naming the file, line and column.
    pub fn csv(file: &Path, headers: Option<&csv::ByteRecord>, err: csv::Error) -> Self {
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
                    .and_then(|p| crate::input::diagnose::open_quote_at(file, p.byte(), p.line()));
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
                return match crate::input::diagnose::invalid_utf8_at(file, start.0, start.1) {
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
                            start.0 + crate::input::diagnose::bom_len(file),
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
}

/// Shorthand result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
