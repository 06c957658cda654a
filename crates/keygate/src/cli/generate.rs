//! `keygate completions`, `keygate man` and `keygate schema`: shell completions and
//! manual pages generated from the command-line definition itself, and the configuration
//! file's JSON Schema, so that what an operator installs can never disagree with the
//! binary that installs it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

use super::Cli;

/// The arguments of `keygate man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write `keygate.1` and one page per subcommand (`keygate-serve.1`, …) into this
    /// directory instead of printing `keygate.1`.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `keygate completions SHELL`: prints the completion script for `shell`.
pub fn completions(shell: Shell) -> ExitCode {
    write_stdout(&completion_script(shell))
}

/// `keygate man [--dir DIR]`.
pub fn man(args: ManArgs) -> ExitCode {
    let Some(dir) = args.dir else {
        return match man_page() {
            Ok(page) => write_stdout(&page),
            Err(error) => {
                eprintln!("keygate man: {error}");
                ExitCode::FAILURE
            }
        };
    };
    match write_man_pages(&dir) {
        Ok(()) => {
            outln!("manual pages written to {}", dir.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("keygate man: cannot write into {}: {error}", dir.display());
            ExitCode::FAILURE
        }
    }
}

/// `keygate schema`: prints the configuration file's JSON Schema.
pub fn schema() -> ExitCode {
    write_stdout(crate::config::SCHEMA.as_bytes())
}

/// The completion script of `keygate` for `shell`.
fn completion_script(shell: Shell) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "keygate", &mut script);
    script
}

/// The `keygate(1)` page, in roff.
fn man_page() -> std::io::Result<Vec<u8>> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut page)?;
    Ok(page)
}

/// Writes `keygate.1` and a page for every subcommand, at every depth
/// (`keygate-keys-create.1`), into `dir`.
fn write_man_pages(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    clap_mangen::generate_to(Cli::command(), dir)
}

/// Writes `bytes` to standard output; a reader that went away ends the command quietly.
fn write_stdout(bytes: &[u8]) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("keygate: cannot write the output: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests;
