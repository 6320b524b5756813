//! Integration tests. Most run the real `disclose` binary in a fresh temporary
//! directory (see `workdir`); the exceptions call the library directly: `properties`
//! (rewriting and sampling, too many cases for a process each), `fuzz_regressions`
//! (replays fuzz inputs through `fuzz_checks`), and the crash and lock tests in
//! `crash` and `reliability` that hold a staging lock from the test itself.

mod build;
mod crash;
mod errors;
mod forms;
mod fuzz_checks;
mod fuzz_regressions;
mod golden;
mod json_schemas;
mod keys;
mod leakscan;
mod media;
mod media_fixtures;
mod obfuscation;
mod privacy;
mod properties;
mod readme;
mod reliability;
mod report_render;
mod researchers;
mod secrets;
mod sign;
mod staff;
mod tiers;
mod vectors;
mod verify;
mod workdir;
mod workflow;
