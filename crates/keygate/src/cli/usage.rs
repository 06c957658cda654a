//! `keygate usage`: the calls counted per hour or day, per key or consumer — allowed,
//! and refused by reason — through `GET /v1/usage`.

use std::process::ExitCode;

use clap::Args;
use serde_json::Value;

use super::client::{encode, finish, AdminArgs, AdminClient, CliError};
use super::output::{print_json, Format, Table};

/// `keygate usage …`
#[derive(Debug, Args)]
pub struct UsageArgs {
    /// Admin API and output options.
    #[command(flatten)]
    pub admin: AdminArgs,
    /// Only this consumer's calls.
    #[arg(long)]
    pub consumer: Option<String>,
    /// Only this key's calls.
    #[arg(long)]
    pub key: Option<String>,
    /// Only calls to this service.
    #[arg(long)]
    pub service: Option<String>,
    /// From (RFC 3339; default: a day before --until, 30 days with --day).
    #[arg(long)]
    pub since: Option<String>,
    /// Until (RFC 3339; default: now).
    #[arg(long)]
    pub until: Option<String>,
    /// One bucket per day instead of per hour.
    #[arg(long)]
    pub day: bool,
    /// One row per consumer instead of per key.
    #[arg(long)]
    pub by_consumer: bool,
}

/// Runs `keygate usage …`.
pub fn run(args: UsageArgs) -> ExitCode {
    finish(execute(args))
}

/// The query string of `args`.
fn query(args: &UsageArgs) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    let given = [
        ("consumer", &args.consumer),
        ("key_id", &args.key),
        ("service", &args.service),
        ("since", &args.since),
        ("until", &args.until),
    ];
    for (name, value) in given {
        if let Some(value) = value {
            pairs.push((name, encode(value)));
        }
    }
    if args.day {
        pairs.push(("granularity", "day".into()));
    }
    if args.by_consumer {
        pairs.push(("group", "consumer".into()));
    }
    let joined: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    joined.join("&")
}

fn execute(args: UsageArgs) -> Result<(), CliError> {
    let client = AdminClient::new(&args.admin.connection)?;
    let usage = client.get(&format!("/v1/usage?{}", query(&args)))?;
    match args.admin.output {
        Format::Json => print_json(&usage),
        Format::Table => table(&usage).print(),
    }
    Ok(())
}

/// One row per bucket: start, consumer, key, requests, allowed, refusals by reason.
fn table(usage: &Value) -> Table {
    let mut table = Table::new(&["START", "CONSUMER", "KEY", "REQUESTS", "ALLOWED", "REFUSED"]);
    let text = |value: &Value| match value.as_str() {
        Some("") => "-".to_owned(),
        Some(text) => text.to_owned(),
        None => "*".to_owned(),
    };
    for bucket in usage["data"].as_array().into_iter().flatten() {
        let refused: Vec<String> = bucket["refused"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(reason, count)| format!("{reason}={count}"))
            .collect();
        table.row(vec![
            text(&bucket["start"]),
            text(&bucket["consumer"]),
            text(&bucket["key_id"]),
            bucket["requests"].to_string(),
            bucket["allowed"].to_string(),
            if refused.is_empty() {
                "-".into()
            } else {
                refused.join(" ")
            },
        ]);
    }
    table
}
