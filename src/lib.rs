//! `disclose` turns a platform's internal export of a takedown into a public
//! disclosure bundle: low-follower accounts pseudonymised, the wider network
//! represented by a reproducible sample, internal columns redacted, and everything
//! packaged as a BagIt bag with a Frictionless data package and a release record.
//!
//! The modules follow the data:
//!
//! 1. [`policy`]: the release policy, checked before anything is read;
//! 2. [`export`]: reading the internal export (accounts held, posts streamed);
//! 3. [`identity`] and [`pseudonym`]: who is pseudonymised and under what name;
//! 4. [`sample`]: the reproducible sample of the wider network;
//! 5. [`transform`] and [`rewrite`]: each published value, free text included;
//! 6. [`bundle`] and [`record`]: the zip, the bag and the records inside it;
//! 7. [`build`]: the pipeline that ties them together;
//! 8. [`verify`] and [`audit`]: checking a bundle, redoing its sample, looking up
//!    pseudonyms.
//!
//! [`synth`] makes synthetic exports for examples and benchmarks.
//!
//! ```no_run
//! use disclose::build::{build, BuildOptions};
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
pub mod build;
pub mod bundle;
pub mod cleanup;
pub mod csvout;
pub mod error;
pub mod export;
pub mod files;
pub mod identity;
pub mod inputcheck;
pub mod limits;
pub mod loading;
pub mod matching;
pub mod media;
pub mod mediaclean;
pub mod message;
pub mod normalize;
pub mod plan;
pub mod policy;
pub mod pseudonym;
pub mod record;
pub mod report;
pub mod rewrite;
pub mod sample;
pub mod secret;
pub mod sign;
pub mod staging;
pub mod synth;
pub mod transform;
pub mod typed;
pub mod unpack;
pub mod values;
pub mod verify;
