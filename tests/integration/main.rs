//! Integration tests: every test runs the real `disclose` binary in a fresh
//! temporary directory (see `workdir`).

mod build;
mod media;
mod privacy;
mod sign;
mod staff;
mod tiers;
mod vectors;
mod verify;
mod workdir;
