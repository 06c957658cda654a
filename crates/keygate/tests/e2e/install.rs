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

fn repository_file(path: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(path),
    )
    .unwrap()
}

/// The arguments after the binary of each `KEY=/usr/local/bin/keygate …` line of the unit.
fn unit_commands(unit: &str, key: &str) -> Vec<Vec<String>> {
    unit.lines()
        .filter_map(|line| {
            line.strip_prefix(key)?
                .strip_prefix("=/usr/local/bin/keygate ")
        })
        .map(|rest| rest.split_whitespace().map(str::to_owned).collect())
        .collect()
}

/// Runs `args` with the configuration path swapped for `config`.
fn run_with_config(args: &[String], from: &str, config: &Path) -> Output {
    let config = config.to_str().unwrap();
    let args: Vec<&str> = args
        .iter()
        .map(|arg| if arg == from { config } else { arg.as_str() })
        .collect();
    keygate(&args)
}

#[test]
fn the_systemd_unit_and_the_image_run_commands_keygate_has() {
    const CONFIG: &str = "/etc/keygate/keygate.yaml";
    let unit = repository_file("deploy/keygate.service");
    let start = unit_commands(&unit, "ExecStart");
    let reload = unit_commands(&unit, "ExecReload");
    assert_eq!(start.len(), 1, "{start:?}");
    assert_eq!(reload.len(), 1, "{reload:?}");
    assert!(unit.contains("ExecReload=/bin/kill -HUP $MAINPID"));

    let dockerfile = repository_file("deploy/Dockerfile");
    let cmd = dockerfile
        .lines()
        .find_map(|line| line.strip_prefix("CMD "))
        .unwrap();
    let cmd: Vec<String> = serde_json::from_str(cmd).unwrap();
    assert!(dockerfile.contains("ENTRYPOINT [\"/usr/local/bin/keygate\"]"));
    assert!(dockerfile.contains("COPY deploy/keygate.yaml /etc/keygate/keygate.yaml"));

    // The image's configuration is valid, and `validate` takes the unit's arguments.
    let image_config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/keygate.yaml");
    let checked = run_with_config(&reload[0], CONFIG, &image_config);
    assert!(checked.status.success(), "{checked:?}");

    // Both start commands parse (usage errors exit 2); with a missing file they stop at
    // reading it (exit 1), before listening anywhere.
    let missing = std::env::temp_dir().join(format!("keygate-missing-{}.yaml", std::process::id()));
    for args in [&start[0], &cmd] {
        assert_eq!(args[0], "serve", "{args:?}");
        assert!(args.iter().any(|arg| arg == CONFIG), "{args:?}");
        let output = run_with_config(args, CONFIG, &missing);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("keygate-missing"), "{args:?}: {stderr}");
    }
}
