//! `disclose` turns a platform's internal export of a takedown into a public
//! disclosure bundle: low-follower accounts pseudonymised, the wider network
//! represented by a reproducible sample, internal columns redacted, and everything
//! packaged as a BagIt bag with a Frictionless data package and a release record.
//!
//! The modules follow the data, each importing only those above it:
//!
//! 1. [`policy`]: the release policy, checked before anything is read (the file as
//!    written, the column rules, the checks);
//! 2. [`input`]: reading the internal export (one located CSV reader for every file;
//!    accounts held, posts streamed; the media index);
//! 3. [`identity`]: the release key, the pseudonym scheme and who is pseudonymised;
//! 4. [`sample`]: the reproducible sample of the wider network;
//! 5. [`transform`]: each published value, free text included (its
//!    [`transform::Registry`] knows every account's published form);
//! 6. [`pipeline`]: a [`pipeline::Plan`] per audience (public bundle or tier) selects,
//!    resolves columns, streams the posts and stages the bundle;
//! 7. [`review`]: what a release would publish, its re-identification risk, and the
//!    release report;
//! 8. [`bundle`] and [`record`]: the zip (parallel deflate, staged files and locks),
//!    the bag and the records inside it, whose types [`format`](mod@format) defines once;
//! 9. [`verify`] and [`audit`]: checking a bundle, redoing its sample, looking up
//!    pseudonyms.
//!
//! Under them all: [`error`] (errors with file, line and column), [`values`] (the
//! value checks build and verify share), [`message`] (bounded, escaped quoting),
//! [`limits`], [`secret`] (keys and seeds), [`files`], [`cleanup`];
//! beside the pipeline: [`mediaclean`], [`typed`] (Parquet), [`loading`],
//! [`sign`], [`unpack`].
//!
//! [`synth`] makes synthetic exports for examples and benchmarks.
//!
//! ```no_run
//! use disclose::pipeline::{build, BuildOptions};
//! let summary = build(&BuildOptions {
//!     policy: "policies/io-archive.toml".into(),
//!     input: "examples/export".into(),
//!     key_file: "examples/demo-only.key".into(),
//!     allow_demo_key: true,
//!     out_dir: "target".into(),
//!     seed: Some("demo-only-seed".into()),
//!     force: true,
//!     threads: 2,
//!     progress: None,
//! })?;
//! println!("{} accounts released", summary.counts.released_accounts);
//! # Ok::<(), disclose::error::Error>(())
//! ```

#![warn(missing_docs)]

pub mod audit;
pub mod bundle;
pub mod cleanup;
pub mod error;
pub mod files;
pub mod format;
pub mod identity;
pub mod input;
pub mod limits;
pub mod loading;
pub mod mediaclean;
pub mod message;
pub mod pipeline;
pub mod policy;
pub mod record;
pub mod review;
pub mod sample;
pub mod secret;
pub mod sign;
pub use disclose_synth as synth;
pub mod transform;
pub mod typed;
pub mod unpack;
pub mod values;
pub mod verify;
