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

/// Whether `shell` accepts `script` without running it; `None` when the shell is not
/// installed.
fn syntax_check(shell: &str, flag: &str, script: &[u8]) -> Option<Result<(), String>> {
    // Tests run in parallel: each check writes a file of its own.
    static CHECKS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let check = CHECKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = std::env::temp_dir().join(format!(
        "keygate-completion-{}-{check}.{shell}",
        std::process::id()
    ));
    std::fs::write(&file, script).expect("write the script");
    let checked = std::process::Command::new(shell)
        .arg(flag)
        .arg(&file)
        .output();
    std::fs::remove_file(&file).ok();
    match checked {
        Ok(output) if output.status.success() => Some(Ok(())),
        Ok(output) => Some(Err(String::from_utf8_lossy(&output.stderr).into_owned())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => panic!("cannot run {shell}: {error}"),
    }
}

#[test]
fn completion_scripts_are_valid_in_their_shells() {
    for (shell, flag, name) in [
        (Shell::Bash, "-n", "bash"),
        (Shell::Zsh, "-n", "zsh"),
        (Shell::Fish, "--no-execute", "fish"),
    ] {
        match syntax_check(name, flag, &completion_script(shell)) {
            Some(Ok(())) => {}
            Some(Err(error)) => panic!("{name} {flag}: {error}"),
            None => eprintln!("{name} is not installed: its syntax check is skipped"),
        }
    }
}

#[test]
fn the_syntax_check_catches_a_broken_script() {
    let broken = b"f() {\n  if then\n";
    if let Some(result) = syntax_check("bash", "-n", broken) {
        assert!(result.is_err(), "bash -n accepted a broken script");
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
