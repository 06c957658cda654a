//! The command line: `serve`, `validate`, `echo`, `expr`, and the admin client commands
//! `consumers`, `keys`, `services`, `plans`, `subscriptions`, `usage`, `explain`, `apply`, `export`,
//! `import`; and
//! `completions`, `man`, `schema` for installing it.

/// `print!` for command output, through [`output::write_out`]: a reader that went away
/// ends the command quietly instead of a panic.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::output::write_out(format_args!($($arg)*))
    };
}

/// `println!` for command output, through [`output::write_out`].
macro_rules! outln {
    () => {
        $crate::cli::output::write_out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::output::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

mod accounts;
mod apply;
mod client;
mod consumers;
mod diff;
mod explain;
mod expr;
mod generate;
mod import;
mod key_limits;
mod keys;
mod output;
mod plans;
mod services;
mod subscriptions;
mod usage;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

use crate::access_log::AccessLogTarget;
use crate::config::Config;

/// keygate: an API gateway whose heart is API-key authentication.
#[derive(Debug, Parser)]
#[command(name = "keygate", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
// Parsed once per process: the size of a variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway.
    Serve {
        /// Configuration file.
        #[arg(long, short = 'c', default_value = "keygate.yaml")]
        config: PathBuf,
        /// Worker threads (default: the number of cores).
        #[arg(long)]
        workers: Option<usize>,
        /// Access log: off, stdout, or a file to append to.
        #[arg(long, default_value = "stdout")]
        access_log: AccessLogTarget,
    },
    /// Check a configuration file: exit 0 when valid, else print every error and exit 1.
    Validate {
        /// Configuration file.
        file: Option<PathBuf>,
        /// Configuration file (same as the positional argument).
        #[arg(short = 'f', long = "file", conflicts_with = "file")]
        file_flag: Option<PathBuf>,
    },
    /// Check or try out an `allow` expression.
    #[command(subcommand)]
    Expr(expr::ExprCommand),
    /// Manage consumers through the admin API.
    Consumers(consumers::ConsumersArgs),
    /// Manage API keys through the admin API.
    Keys(keys::KeysArgs),
    /// Manage services and their routes through the admin API.
    Services(services::ServicesArgs),
    /// Manage the API key plans of services through the admin API.
    Plans(plans::PlansArgs),
    /// Manage consumers' subscriptions to plans through the admin API.
    Subscriptions(subscriptions::SubscriptionsArgs),
    /// Calls per hour or day, per key or consumer: allowed, and refused by reason.
    Usage(usage::UsageArgs),
    /// Who can call a route: the consumers, keys and client types let through, and on
    /// what request facts the rest depends.
    Explain(explain::ExplainArgs),
    /// Manage the accounts that sign in to the admin API and the console (admins only).
    Accounts(accounts::AccountsArgs),
    /// Manage the scoped API tokens of accounts (admins only).
    Tokens(accounts::TokensArgs),
    /// Show the audit log of admin API writes, newest first (admins only).
    Audit(accounts::AuditArgs),
    /// Make the gateway hold the consumers, keys and services of a YAML file.
    Apply(apply::ApplyArgs),
    /// Print everything the gateway holds (key hashes, never keys) as YAML or JSON.
    Export(output::ExportArgs),
    /// Show what `apply` would change on the gateway, and change nothing.
    Diff(diff::DiffArgs),
    /// Write the keygate configuration for a Kong, APISIX or Gravitee export, with a report.
    Import(import::ImportArgs),
    /// Run a small upstream that answers with the request it received, as JSON.
    Echo {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9001")]
        listen: SocketAddr,
        /// Name reported in answers (default: the address).
        #[arg(long)]
        name: Option<String>,
    },
    /// Print the shell completion script for bash, zsh, fish, elvish or powershell.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page keygate(1) in roff, or write every page into a directory.
    Man(generate::ManArgs),
    /// Print the JSON Schema of the configuration file, for editors.
    Schema,
}

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve {
            config,
            workers,
            access_log,
        } => serve(config, workers, &access_log),
        Command::Validate { file, file_flag } => {
            let Some(path) = file.or(file_flag) else {
                eprintln!("keygate validate: name the file to check: keygate validate FILE");
                return ExitCode::from(2);
            };
            validate(&path)
        }
        Command::Echo { listen, name } => run_echo(listen, name),
        Command::Expr(command) => expr::run(command),
        Command::Consumers(args) => consumers::run(args),
        Command::Keys(args) => keys::run(args),
        Command::Services(args) => services::run(args),
        Command::Plans(args) => plans::run(args),
        Command::Subscriptions(args) => subscriptions::run(args),
        Command::Usage(args) => usage::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Accounts(args) => accounts::run_accounts(args),
        Command::Tokens(args) => accounts::run_tokens(args),
        Command::Audit(args) => accounts::run_audit(args),
        Command::Apply(args) => apply::run(args),
        Command::Export(args) => output::export(args),
        Command::Diff(args) => diff::run(args),
        Command::Import(args) => import::run(args),
        Command::Completions { shell } => generate::completions(shell),
        Command::Man(args) => generate::man(args),
        Command::Schema => generate::schema(),
    }
}

fn validate(path: &std::path::Path) -> ExitCode {
    match Config::load(path) {
        Ok(config) => {
            outln!(
                "{}: valid ({} services, {} consumers)",
                path.display(),
                config.services.len(),
                config.consumers.len()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}

fn runtime(workers: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = workers {
        builder.worker_threads(workers.max(1));
    }
    builder.enable_all().build()
}

fn serve(path: PathBuf, workers: Option<usize>, access_log: &AccessLogTarget) -> ExitCode {
    let config = match Config::load(&path) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    // The admin API, reloads and bookkeeping run on one control thread; the proxy has
    // `workers` threads of its own.
    let runtime = match runtime(Some(1)) {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("keygate: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let workers = workers.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    match runtime.block_on(crate::app::run(
        path,
        config,
        access_log,
        workers,
        stop_signal(),
    )) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("keygate: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run_echo(listen: SocketAddr, name: Option<String>) -> ExitCode {
    let runtime = match runtime(None) {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("keygate: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let listener = match TcpListener::bind(listen).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("keygate echo: cannot listen on {listen}: {error}");
                return ExitCode::FAILURE;
            }
        };
        let address = listener.local_addr().map_or(listen, |a| a);
        tracing::info!("echo listening on {address}");
        let name = name.unwrap_or_else(|| crate::echo::default_name(address));
        crate::echo::serve(listener, name, stop_signal()).await;
        ExitCode::SUCCESS
    })
}

/// Completes on SIGTERM or SIGINT.
async fn stop_signal() {
    let terminate = async {
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
        () = terminate => tracing::info!("SIGTERM received"),
    }
}
