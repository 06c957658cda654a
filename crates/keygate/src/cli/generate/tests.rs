//! The generated completions and manual pages cover every subcommand.

use super::*;

/// Every subcommand's name, at every depth, with its parents (`["keys", "create"]`).
fn subcommand_paths() -> Vec<Vec<String>> {
    fn walk(command: &clap::Command, parents: &[String], paths: &mut Vec<Vec<String>>) {
        for sub in command.get_subcommands() {
            let mut path = parents.to_vec();
            path.push(sub.get_name().to_owned());
            walk(sub, &path, paths);
            paths.push(path);
        }
    }
    let mut paths = Vec::new();
    walk(&Cli::command(), &[], &mut paths);
    paths
}

#[test]
fn the_definition_has_the_subcommands_the_tests_expect() {
    let paths = subcommand_paths();
    for expected in [
        &["serve"][..],
        &["completions"],
        &["man"],
        &["schema"],
        &["keys", "create"],
    ] {
        assert!(
            paths.iter().any(|path| path == expected),
            "{expected:?} missing from {paths:?}"
        );
    }
}

#[test]
fn completion_scripts_name_every_subcommand() {
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let script = String::from_utf8(completion_script(shell)).expect("UTF-8");
        for path in subcommand_paths() {
            let name = path.last().expect("a name");
            assert!(
                script.contains(name.as_str()),
                "{shell} completion lacks subcommand {}",
                path.join(" ")
            );
        }
    }
}

#[test]
fn bash_completion_script_names_each_subcommand_path() {
    // bash's script dispatches on `keygate__subcmd__keys__subcmd__create`: the nesting is
    // there too.
    let script = String::from_utf8(completion_script(Shell::Bash)).expect("UTF-8");
    for path in subcommand_paths() {
        let joined = format!("keygate__subcmd__{}", path.join("__subcmd__")).replace('-', "__");
        assert!(script.contains(&joined), "bash completion lacks {joined}");
    }
}

#[test]
fn bash_completion_script_is_valid_bash() {
    let script = completion_script(Shell::Bash);
    let dir = std::env::temp_dir().join(format!("keygate-completion-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("keygate.bash");
    std::fs::write(&file, script).expect("write the script");
    let checked = std::process::Command::new("bash")
        .arg("-n")
        .arg(&file)
        .output();
    std::fs::remove_dir_all(&dir).ok();
    match checked {
        Ok(output) => assert!(
            output.status.success(),
            "bash -n: {}",
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("bash is not installed: syntax check skipped");
        }
        Err(error) => panic!("cannot run bash: {error}"),
    }
}

#[test]
fn man_page_names_every_subcommand() {
    let page = String::from_utf8(man_page().expect("render")).expect("UTF-8");
    assert!(
        page.starts_with(".ie") || page.contains(".TH keygate 1"),
        "{page}"
    );
    for sub in Cli::command().get_subcommands() {
        // roff escapes the hyphen of `keygate-serve(1)`.
        let reference = format!("keygate\\-{}(1)", sub.get_name().replace('-', "\\-"));
        assert!(page.contains(&reference), "keygate(1) lacks {reference}");
    }
}

#[test]
fn man_dir_holds_a_page_for_every_subcommand() {
    let dir = std::env::temp_dir().join(format!("keygate-man-{}", std::process::id()));
    write_man_pages(&dir).expect("write the pages");
    let mut missing = Vec::new();
    for name in std::iter::once("keygate".to_owned()).chain(
        subcommand_paths()
            .iter()
            .filter(|path| path.last().is_some_and(|name| name != "help"))
            .map(|path| format!("keygate-{}", path.join("-"))),
    ) {
        if !dir.join(format!("{name}.1")).is_file() {
            missing.push(name);
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    assert!(missing.is_empty(), "no page for {missing:?}");
}
