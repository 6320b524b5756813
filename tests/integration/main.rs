//! Integration tests: every test runs the real `disclose` binary in a fresh
//! temporary directory (see `workdir`).

mod build;
mod crash;
mod errors;
mod fuzz_checks;
mod fuzz_regressions;
mod media;
mod privacy;
mod properties;
mod researchers;
mod secrets;
mod sign;
mod staff;
mod tiers;
mod vectors;
mod verify;
mod workdir;
