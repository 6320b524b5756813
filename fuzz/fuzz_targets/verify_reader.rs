//! Fuzz target `verify_reader`: see `check_verify_reader` in tests/integration/fuzz_checks.rs, which
//! the tests share so that every input found here is replayed by `cargo test`.
#![no_main]

#[allow(dead_code)]
#[path = "../../tests/integration/fuzz_checks.rs"]
mod fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::check_verify_reader(data));
