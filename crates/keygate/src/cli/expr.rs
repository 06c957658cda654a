//! `keygate expr check|eval`: try an `allow` expression from the command line — a dry run
//! that users can paste into a ticket.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use keygate_policy::{render_errors, Expr, StaticFacts};

use crate::proxy::path_normal::normalise;

/// `keygate expr …`
// Parsed once per process: the size of a variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum ExprCommand {
    /// Check an expression: print `ok`, or every error with its position, and exit 1.
    Check {
        /// The expression, such as "clientType === 'A' || clientType === 'B'".
        expression: String,
    },
    /// Evaluate an expression for the caller and request described by the options.
    Eval {
        /// The expression.
        expression: String,
        /// The facts to evaluate against.
        #[command(flatten)]
        facts: FactArgs,
    },
}

/// The caller and request of a dry run. Without `--consumer` and `--client-type`, the
/// call is anonymous.
#[derive(Debug, Args)]
pub struct FactArgs {
    /// Client type of the caller.
    #[arg(long)]
    client_type: Option<String>,
    /// Consumer name of the caller.
    #[arg(long)]
    consumer: Option<String>,
    /// Groups of the caller, comma-separated.
    #[arg(long, value_delimiter = ',')]
    groups: Vec<String>,
    /// Permissions of the caller, comma-separated.
    #[arg(long, value_delimiter = ',')]
    permissions: Vec<String>,
    /// Consumer metadata, `name=value`, repeatable.
    #[arg(long, value_parser = pair)]
    metadata: Vec<(String, String)>,
    /// Key id of the caller.
    #[arg(long)]
    key_id: Option<String>,
    /// Key labels, `name=value`, repeatable.
    #[arg(long, value_parser = pair)]
    label: Vec<(String, String)>,
    /// Plan name.
    #[arg(long)]
    plan: Option<String>,
    /// Subscription id.
    #[arg(long)]
    subscription: Option<String>,
    /// Request method.
    #[arg(long, default_value = "GET")]
    method: String,
    /// Request path, as the client sends it; put in normal form as the gateway does.
    #[arg(long, default_value = "/")]
    path: String,
    /// Request host.
    #[arg(long, default_value = "localhost")]
    host: String,
    /// Request headers, `name=value`, repeatable.
    #[arg(long, value_parser = pair)]
    header: Vec<(String, String)>,
    /// Query parameters, `name=value`, repeatable.
    #[arg(long, value_parser = pair)]
    query: Vec<(String, String)>,
    /// The request came in on a back-office listener.
    #[arg(long)]
    backoffice: bool,
    /// The request came over TLS (`request.tls`).
    #[arg(long)]
    tls: bool,
    /// The client presented a certificate (`request.clientCertificate`); implies `--tls`.
    #[arg(long)]
    client_certificate: bool,
    /// The key's credits left (`credits`); absent: the key has none.
    #[arg(long)]
    pub credits: Option<u64>,
    /// The least left of the call's quotas (`quota.remaining`); absent: none applies.
    #[arg(long)]
    pub quota_remaining: Option<u64>,
}

fn pair(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("expected name=value, found `{text}`"))
}

/// Runs `keygate expr …`.
pub fn run(command: ExprCommand) -> ExitCode {
    let (source, facts) = match command {
        ExprCommand::Check { expression } => (expression, None),
        ExprCommand::Eval { expression, facts } => (expression, Some(facts)),
    };
    let expr = match Expr::compile(&source) {
        Ok(expr) => expr,
        Err(errors) => {
            eprint!("{}", render_errors(&source, &errors));
            return ExitCode::FAILURE;
        }
    };
    let Some(facts) = facts else {
        outln!("ok");
        return ExitCode::SUCCESS;
    };
    // The gateway evaluates expressions on the normal path; so does this.
    let path = match normalise(&facts.path) {
        Ok(path) => path.into_owned(),
        Err(error) => {
            eprintln!("keygate: --path: {error}; the gateway answers such a path `400`");
            return ExitCode::FAILURE;
        }
    };
    let facts = StaticFacts {
        client_type: facts.client_type,
        consumer: facts.consumer,
        groups: facts.groups,
        permissions: facts.permissions,
        metadata: facts.metadata,
        key_id: facts.key_id,
        key_labels: facts.label,
        plan: facts.plan,
        subscription: facts.subscription,
        method: facts.method.to_ascii_uppercase(),
        path,
        host: facts.host,
        headers: facts
            .header
            .into_iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value))
            .collect(),
        query: facts.query,
        is_backoffice: facts.backoffice,
        tls: facts.tls || facts.client_certificate,
        client_certificate: facts.client_certificate,
        credits: facts.credits,
        quota_remaining: facts.quota_remaining,
    };
    outln!("{}", expr.eval(&facts));
    ExitCode::SUCCESS
}
