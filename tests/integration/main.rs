//! Integration tests: every test runs the real `disclose` binary in a fresh
//! temporary directory (see `workdir`).

mod build;
mod privacy;
mod vectors;
mod verify;
mod workdir;
