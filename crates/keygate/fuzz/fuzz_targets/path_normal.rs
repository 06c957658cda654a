//! Fuzz target: checks/path_normal.rs on each input.
#![no_main]

#[path = "../checks/path_normal.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
