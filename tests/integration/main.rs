//! Integration tests: every test runs the real `disclose` binary in a fresh
//! temporary directory (see `workdir`).

mod build;
mod crash;
mod errors;
mod forms;
mod fuzz_checks;
mod fuzz_regressions;
mod media;
mod obfuscation;
mod privacy;
mod properties;
mod secrets;
mod sign;
mod staff;
mod tiers;
mod vectors;
mod verify;
mod workdir;
