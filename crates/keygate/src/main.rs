//! The `keygate` command.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: with a million consumers and keys the
/// directory is millions of small long-lived allocations, which mimalloc packs tighter
/// and makes faster than glibc's malloc (see docs/benchmarks.md, "Start-up from the
/// store").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    keygate::cli::run(keygate::cli::Cli::parse())
}
