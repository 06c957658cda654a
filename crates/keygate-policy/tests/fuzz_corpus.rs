//! Replays every file of the fuzz seed corpus through the fuzz target's checks, so that
//! the corpus stays a regression suite without a nightly toolchain.

#[path = "../fuzz/exercise.rs"]
mod exercise;

#[test]
fn every_corpus_file_compiles_or_fails_cleanly() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/compile_eval");
    let mut count = 0;
    let entries = std::fs::read_dir(&dir).expect("the seed corpus directory exists");
    for entry in entries {
        let path = entry.expect("readable directory entry").path();
        let data = std::fs::read(&path).expect("readable corpus file");
        let outcome = std::panic::catch_unwind(|| exercise::run(&data));
        assert!(outcome.is_ok(), "corpus file {} panicked", path.display());
        count += 1;
    }
    assert!(count >= 24, "the seed corpus has only {count} files");
}
