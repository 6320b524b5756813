//! Reading the internal export (DESIGN §1): one located, streaming CSV reader for
//! every file ([`rows`]), the accounts and directory held in memory ([`export`]),
//! the media index ([`media`]), and the byte-level diagnoses the parser cannot make
//! ([`diagnose`]: unterminated quotes, invalid UTF-8).

pub mod diagnose;
pub mod export;
pub mod media;
pub mod rows;
