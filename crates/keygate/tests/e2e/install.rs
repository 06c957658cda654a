//! What an operator installs beside the binary — completions, manual page, JSON Schema —
//! printed by the real `keygate` process.

use std::path::Path;
use std::process::{Command, Output};

fn keygate(args: &[&str]) -> Output {
    Command::new(Path::new(env!("CARGO_BIN_EXE_keygate")))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn schema_prints_the_schema_file_of_the_repository() {
    let output = keygate(&["schema"]);
    assert!(output.status.success(), "{output:?}");
    let file = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/keygate.schema.json"
    ))
    .unwrap();
    assert!(
        output.stdout == file,
        "`keygate schema` differs from docs/keygate.schema.json"
    );
    let schema: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
}

#[test]
fn completions_print_a_script_for_each_documented_shell() {
    for (shell, marker) in [
        ("bash", "complete -F _keygate"),
        ("zsh", "#compdef keygate"),
        ("fish", "complete -c keygate"),
    ] {
        let output = keygate(&["completions", shell]);
        assert!(output.status.success(), "{shell}: {output:?}");
        let script = String::from_utf8(output.stdout).unwrap();
        assert!(script.contains(marker), "{shell}: no `{marker}`");
        assert!(script.contains("serve"), "{shell}");
    }
    let unknown = keygate(&["completions", "tcsh"]);
    assert_eq!(unknown.status.code(), Some(2), "{unknown:?}");
}

#[test]
fn man_prints_keygate_1_in_roff() {
    let output = keygate(&["man"]);
    assert!(output.status.success(), "{output:?}");
    let page = String::from_utf8(output.stdout).unwrap();
    assert!(page.contains(".TH keygate 1"), "{page}");
    assert!(page.contains("keygate\\-serve(1)"), "{page}");
}
