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
}

/// Shorthand result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
