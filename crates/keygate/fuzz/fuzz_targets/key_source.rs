//! Fuzz target: checks/key_source.rs on each input.
#![no_main]

#[path = "../checks/key_source.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
