//! Fuzz target: checks/body_key.rs on each input.
#![no_main]

#[path = "../checks/body_key.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
