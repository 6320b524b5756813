//! The auditor's and staff's small tools: redo a sample from a population list and a
//! seed (and compare it with a bundle's record), make a seed for commit-then-reveal,
//! and look up the pseudonyms of given accounts.
//!
//! The sample reuses [`crate::sample`], the same code the build uses; DESIGN §3 and
//! `docs/AUDIT.md` describe it for independent re-implementation.

mod lookup;
mod population;
mod sampling;
mod seed;

pub use lookup::{lookup, Lookup, LookupOptions};
pub use population::{population, read_population, PopulationList};
pub use sampling::{compare, diagnose, read_record, rule_json, sampling_json, Comparison};
pub use seed::{new_seed, write_seed};
