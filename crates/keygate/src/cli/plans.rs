//! `keygate plans list|get|put|delete`: a service's API key plans through the admin API.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use http::Method;
use serde_json::{json, Value};

use super::client::{encode, finish, AdminArgs, AdminClient, CliError};
use super::output::{cell, details, print_json, Format, Table};

/// `keygate plans …`
#[derive(Debug, Args)]
pub struct PlansArgs {
    /// Admin API and output options.
    #[command(flatten)]
    pub admin: AdminArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: PlansCommand,
}

/// The plan subcommands.
#[derive(Debug, Subcommand)]
pub enum PlansCommand {
    /// List a service's plans, in the order they are tried.
    List {
        /// Service name.
        service: String,
    },
    /// Show one plan.
    Get {
        /// Service name.
        service: String,
        /// Plan name.
        plan: String,
    },
    /// Create or replace a plan (a new plan is tried after the existing ones).
    Put {
        /// Service name.
        service: String,
        /// Plan name.
        plan: String,
        /// Expression that must be true for the plan to be chosen.
        #[arg(long)]
        selection_rule: Option<String>,
        /// Send the key upstream ("Propagate API key to upstream").
        #[arg(long)]
        forward_key: bool,
        /// New subscriptions wait for `subscriptions accept` instead of starting accepted.
        #[arg(long)]
        manual_approval: bool,
        /// Free text.
        #[arg(long)]
        description: Option<String>,
        /// A rate limit, `COUNT/WINDOW[:BY]`: `10/minute`, `1000/day:key`,
        /// `5/second:header:x-tenant` (BY defaults to consumer). Repeat for several.
        #[arg(long = "limit", value_name = "COUNT/WINDOW[:BY]", value_parser = parse_limit)]
        limits: Vec<Value>,
    },
    /// Delete a plan (refused while it has pending, accepted or paused subscriptions).
    Delete {
        /// Service name.
        service: String,
        /// Plan name.
        plan: String,
    },
}

/// Runs `keygate plans …`.
pub fn run(args: PlansArgs) -> ExitCode {
    finish(execute(args))
}

fn plans_path(service: &str) -> String {
    format!("/v1/services/{}/plans", encode(service))
}

fn plan_path(service: &str, plan: &str) -> String {
    format!("{}/{}", plans_path(service), encode(plan))
}

fn execute(args: PlansArgs) -> Result<(), CliError> {
    let client = AdminClient::new(&args.admin.connection)?;
    let format = args.admin.output;
    match args.command {
        PlansCommand::List { service } => {
            let listing = client.get(&plans_path(&service))?;
            match format {
                Format::Json => print_json(&listing["data"]),
                Format::Table => {
                    let mut table = Table::new(&[
                        "NAME",
                        "SELECTION RULE",
                        "FORWARD KEY",
                        "AUTO APPROVE",
                        "DESCRIPTION",
                        "LIMITS",
                    ]);
                    for plan in listing["data"].as_array().into_iter().flatten() {
                        table.row(row(plan));
                    }
                    table.print();
                }
            }
        }
        PlansCommand::Get { service, plan } => {
            show(format, &client.get(&plan_path(&service, &plan))?, "");
        }
        PlansCommand::Put {
            service,
            plan,
            selection_rule,
            forward_key,
            manual_approval,
            description,
            limits,
        } => {
            let mut body = json!({
                "forward_key": forward_key,
                "auto_approve": !manual_approval,
            });
            if let Some(rule) = selection_rule {
                body["selection_rule"] = Value::String(rule);
            }
            if let Some(description) = description {
                body["description"] = Value::String(description);
            }
            if !limits.is_empty() {
                body["limits"] = Value::Array(limits);
            }
            let reply = client.call(Method::PUT, &plan_path(&service, &plan), Some(&body))?;
            let verb = if reply.status == 201 {
                "created"
            } else {
                "replaced"
            };
            show(
                format,
                &reply.body,
                &format!("plan {plan} of service {service} {verb}"),
            );
        }
        PlansCommand::Delete { service, plan } => {
            client.call(Method::DELETE, &plan_path(&service, &plan), None)?;
            match format {
                Format::Json => print_json(&json!({"deleted": plan, "service": service})),
                Format::Table => outln!("plan {plan} of service {service} deleted"),
            }
        }
    }
    Ok(())
}

/// `--limit COUNT/WINDOW[:BY]` as the limit's JSON; the gateway checks the values.
pub(super) fn parse_limit(text: &str) -> Result<Value, String> {
    let (rate, by) = match text.split_once(':') {
        Some((rate, by)) => (rate, Some(by)),
        None => (text, None),
    };
    let parsed = rate
        .split_once('/')
        .and_then(|(count, per)| Some((count.trim().parse::<u64>().ok()?, per.trim())));
    let Some((count, per)) = parsed else {
        return Err(format!(
            "expected COUNT/WINDOW[:BY] such as 10/minute or 1000/day:key, found `{text}`"
        ));
    };
    let mut limit = json!({"count": count, "per": per});
    if let Some(by) = by {
        limit["by"] = Value::String(by.to_owned());
    }
    Ok(limit)
}

/// A plan's limits as `10/minute by consumer, …`; `-` for none.
fn limits_cell(plan: &Value) -> String {
    let shown: Vec<String> = plan["limits"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|limit| {
            let by = limit["by"].as_str().unwrap_or("consumer");
            format!("{}/{} by {by}", limit["count"], cell(&limit["per"]))
        })
        .collect();
    if shown.is_empty() {
        "-".to_owned()
    } else {
        shown.join(", ")
    }
}

/// A plan's table cells; absent flags show their defaults.
fn row(plan: &Value) -> Vec<String> {
    let flag = |field: &str, default: bool| plan[field].as_bool().unwrap_or(default).to_string();
    vec![
        cell(&plan["name"]),
        cell(&plan["selection_rule"]),
        flag("forward_key", false),
        flag("auto_approve", true),
        cell(&plan["description"]),
        limits_cell(plan),
    ]
}

fn show(format: Format, plan: &Value, headline: &str) {
    if format == Format::Json {
        print_json(plan);
        return;
    }
    if !headline.is_empty() {
        outln!("{headline}");
    }
    let labels = [
        "name",
        "selection rule",
        "forward key",
        "auto approve",
        "description",
        "limits",
    ];
    let pairs: Vec<(&str, String)> = labels.into_iter().zip(row(plan)).collect();
    out!("{}", details(&pairs));
}
