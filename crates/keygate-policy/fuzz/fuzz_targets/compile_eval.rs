//! Fuzz target: compile arbitrary text and, when it compiles, evaluate it.
#![no_main]

#[path = "../exercise.rs"]
mod exercise;

libfuzzer_sys::fuzz_target!(|data: &[u8]| exercise::run(data));
