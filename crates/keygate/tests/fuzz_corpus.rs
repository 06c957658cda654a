//! Replays every file of the fuzz targets' corpora (crates/keygate/fuzz/corpus/) through
//! the same checks the targets run, so that each corpus — seeds and the crashes fuzzing
//! found — stays a regression suite that `cargo test` runs without a fuzzing toolchain.

#[path = "../fuzz/checks/body_key.rs"]
mod body_key;
#[path = "../fuzz/checks/chunked.rs"]
mod chunked;
#[path = "../fuzz/checks/key_source.rs"]
mod key_source;
#[path = "../fuzz/checks/path_normal.rs"]
mod path_normal;
#[path = "../fuzz/checks/request_head.rs"]
mod request_head;

use std::path::{Path, PathBuf};

/// Runs `check` on every file of the target's corpus; fails naming each file whose check
/// panicked, and when the corpus has fewer than `at_least` files (a moved directory would
/// otherwise pass with nothing replayed).
fn replay(target: &str, at_least: usize, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("the corpus {} cannot be read: {error}", dir.display()))
        .map(|entry| entry.expect("a readable directory entry").path())
        .collect();
    files.sort();
    assert!(
        files.len() >= at_least,
        "the corpus {} has {} files, fewer than {at_least}",
        dir.display(),
        files.len()
    );
    let failed: Vec<String> = files
        .iter()
        .filter(|path| {
            let data = std::fs::read(path).expect("a readable corpus file");
            std::panic::catch_unwind(|| check(&data)).is_err()
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(failed.is_empty(), "these corpus files fail: {failed:#?}");
}

#[test]
fn the_request_head_corpus_passes_the_head_checks() {
    replay("request_head", 20, request_head::run);
}

#[test]
fn the_chunked_corpus_passes_the_decoder_checks() {
    replay("chunked", 20, chunked::run);
}

#[test]
fn the_key_source_corpus_passes_the_extraction_checks() {
    replay("key_source", 10, key_source::run);
}

#[test]
fn the_body_key_corpus_passes_the_reading_and_cutting_checks() {
    replay("body_key", 100, body_key::run);
}

#[test]
fn the_path_normal_corpus_passes_the_normal_form_checks() {
    replay("path_normal", 20, path_normal::run);
}
