//! `keygate explain --service S --route R`: who can call a route — the consumers, keys
//! and client types its auth mode, `allow` expression, plans and subscriptions let
//! through, and on what request facts the rest depends — through
//! `GET /v1/services/{name}/routes/{route}/callers`.

use std::process::ExitCode;

use clap::Args;
use serde_json::Value;

use super::client::{encode, finish, AdminArgs, AdminClient, CliError};
use super::output::{print_json, Format, Table};

/// `keygate explain …`
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Admin API and output options.
    #[command(flatten)]
    pub admin: AdminArgs,
    /// The service the route belongs to (route names are per service).
    #[arg(long)]
    pub service: String,
    /// The route's name.
    #[arg(long)]
    pub route: String,
}

/// Runs `keygate explain …`.
pub fn run(args: ExplainArgs) -> ExitCode {
    finish(execute(args))
}

fn execute(args: ExplainArgs) -> Result<(), CliError> {
    let client = AdminClient::new(&args.admin.connection)?;
    let path = format!(
        "/v1/services/{}/routes/{}/callers",
        encode(&args.service),
        encode(&args.route)
    );
    let report = client.get(&path)?;
    match args.admin.output {
        Format::Json => print_json(&report),
        Format::Table => print_report(&report),
    }
    Ok(())
}

/// `yes`, or `depends on F, G: REST`.
fn verdict(value: &Value) -> String {
    match value["verdict"].as_str() {
        Some("depends") => {
            let on: Vec<&str> = value["on"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            format!(
                "depends on {}: {}",
                on.join(", "),
                value["rest"].as_str().unwrap_or("")
            )
        }
        Some(other) => other.to_owned(),
        None => "?".to_owned(),
    }
}

fn print_report(report: &Value) {
    let text = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    outln!(
        "route {} of service {}: auth {}, allow {}",
        text(&report["route"]),
        text(&report["service"]),
        text(&report["auth"]),
        report["allow"].as_str().unwrap_or("(none: any valid key)")
    );
    let plans: Vec<String> = report["plans"]
        .as_array()
        .into_iter()
        .flatten()
        .map(text)
        .collect();
    if !plans.is_empty() {
        outln!("plans, in order: {}", plans.join(", "));
    }
    match report["anonymous"]["consumer"].as_str() {
        Some(consumer) => outln!(
            "calls without a key: {} (as the anonymous consumer {consumer})",
            verdict(&report["anonymous"])
        ),
        None => outln!("calls without a key: {}", verdict(&report["anonymous"])),
    }
    let mut types = Table::new(&["CLIENT TYPE", "VERDICT"]);
    for entry in report["client_types"].as_array().into_iter().flatten() {
        types.row(vec![text(&entry["client_type"]), text(&entry["verdict"])]);
    }
    outln!();
    types.print();
    let mut keys = Table::new(&["CONSUMER", "CLIENT TYPE", "KEY", "PLANS", "VERDICT"]);
    for consumer in report["consumers"].as_array().into_iter().flatten() {
        for key in consumer["keys"].as_array().into_iter().flatten() {
            let plans: Vec<String> = key["plans"]
                .as_array()
                .into_iter()
                .flatten()
                .map(text)
                .collect();
            keys.row(vec![
                text(&consumer["name"]),
                text(&consumer["client_type"]),
                text(&key["id"]),
                if plans.is_empty() {
                    "-".into()
                } else {
                    plans.join(",")
                },
                verdict(key),
            ]);
        }
    }
    outln!();
    keys.print();
    let truncated = if report["truncated"] == true {
        " (list truncated)"
    } else {
        ""
    };
    outln!("{} valid keys checked{truncated}", report["keys_checked"]);
}
