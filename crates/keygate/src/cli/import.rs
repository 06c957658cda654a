//! `keygate import kong|apisix|gravitee FILE [--out FILE] [--apply] [--keep-plaintext]`:
//! reads another gateway's export, prints the report of what became of every item on
//! standard error, and writes the keygate configuration (standard output by default),
//! or hands it to `keygate apply`. The mapping itself is in `crate::import`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::apply::{self, ApplyArgs};
use super::client::AdminArgs;
use crate::import::{self, Options, Peer};

/// `keygate import …`
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The gateway the file comes from.
    #[arg(value_enum)]
    pub peer: Peer,
    /// Its export: decK's kong.yaml; apisix.yaml or Admin API JSON; a Gravitee API export.
    pub file: PathBuf,
    /// Write the keygate configuration here instead of standard output.
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// Make the gateway hold the imported consumers, keys and services, as `keygate
    /// apply` does (the `defaults:` section goes only to a written file).
    #[arg(long)]
    pub apply: bool,
    /// Write keys that pass the custom-key rule as plaintext instead of SHA-256 hashes.
    #[arg(long)]
    pub keep_plaintext: bool,
    /// Admin API options, for `--apply`.
    #[command(flatten)]
    pub admin: AdminArgs,
}

/// Runs `keygate import`.
pub fn run(args: ImportArgs) -> ExitCode {
    let shown = args.file.display().to_string();
    let text = match std::fs::read_to_string(&args.file) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("keygate import: cannot read {shown}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let options = Options {
        keep_plaintext: args.keep_plaintext,
    };
    let (mut imported, yaml) = match import::import(args.peer, &text, options) {
        Ok(done) => done,
        Err(error) => {
            eprintln!("keygate import: {shown}: {error}");
            return ExitCode::FAILURE;
        }
    };
    eprint!("{}", imported.report.render());
    let header = format!(
        "# keygate import {} {}: check with `keygate validate`, load with `keygate apply -f`\n",
        peer_word(args.peer),
        args.file
            .file_name()
            .map_or(shown.clone(), |n| n.to_string_lossy().into_owned())
    );
    match &args.out {
        Some(path) => {
            if let Err(error) = write_private(path, &format!("{header}{yaml}")) {
                eprintln!("keygate import: cannot write {}: {error}", path.display());
                return ExitCode::FAILURE;
            }
            eprintln!("wrote {}", path.display());
        }
        None if !args.apply => out!("{header}{yaml}"),
        None => {}
    }
    if !args.apply {
        return ExitCode::SUCCESS;
    }
    if imported.document.defaults.take().is_some() {
        eprintln!(
            "note: `defaults:` (identity header names) is not sent by --apply: put it in the gateway's own configuration file"
        );
    }
    let entities = match import::render(&imported.document) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("keygate import: {error}");
            return ExitCode::FAILURE;
        }
    };
    let path = std::env::temp_dir().join(format!("keygate-import-{}.yaml", std::process::id()));
    let _ = std::fs::remove_file(&path);
    if let Err(error) = write_new_private(&path, &entities) {
        eprintln!("keygate import: cannot write {}: {error}", path.display());
        return ExitCode::FAILURE;
    }
    let code = apply::run(ApplyArgs {
        admin: args.admin,
        file: path.clone(),
        prune: false,
        dry_run: false,
    });
    let _ = std::fs::remove_file(&path);
    code
}

fn peer_word(peer: Peer) -> &'static str {
    match peer {
        Peer::Kong => "kong",
        Peer::Apisix => "apisix",
        Peer::Gravitee => "gravitee",
    }
}

/// Writes a file only its owner can read: it may hold keys (`--keep-plaintext`).
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    write_with(
        path,
        text,
        std::fs::OpenOptions::new().create(true).truncate(true),
    )
}

/// [`write_private`] for a file that must not exist yet (the temporary file `--apply`
/// hands on): another user's file or link in its place is an error, never written through.
fn write_new_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    write_with(path, text, std::fs::OpenOptions::new().create_new(true))
}

fn write_with(
    path: &std::path::Path,
    text: &str,
    options: &mut std::fs::OpenOptions,
) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = options.write(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())
}
