//! `keygate consumers create|update|list|get|delete`: consumers through the admin API.

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use http::Method;
use serde_json::{json, Value};

use super::client::{encode, finish, AdminArgs, AdminClient, CliError};
use super::output::{cell, details, print_json, Format, Table};
use super::plans::parse_limit;

/// `keygate consumers …`
#[derive(Debug, Args)]
pub struct ConsumersArgs {
    /// Admin API and output options.
    #[command(flatten)]
    pub admin: AdminArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: ConsumersCommand,
}

/// The consumer subcommands.
#[derive(Debug, Subcommand)]
pub enum ConsumersCommand {
    /// Create a consumer; fails (409) when one of that name exists.
    Create {
        /// Consumer name: letters, digits, `.`, `_` and `-`.
        name: String,
        /// Its fields.
        #[command(flatten)]
        fields: ConsumerFields,
    },
    /// Change the given fields of an existing consumer; the others stay.
    Update {
        /// Consumer name.
        name: String,
        /// The fields to change.
        #[command(flatten)]
        fields: ConsumerFields,
    },
    /// List every consumer.
    List,
    /// Show one consumer.
    Get {
        /// Consumer name.
        name: String,
    },
    /// Delete a consumer (it must have no keys or subscriptions left, unless --cascade).
    Delete {
        /// Consumer name.
        name: String,
        /// Delete its keys and subscriptions first.
        #[arg(long)]
        cascade: bool,
    },
}

/// A consumer's fields as options; an option not given is not sent.
#[derive(Debug, Args)]
pub struct ConsumerFields {
    /// Client type (default: the name).
    #[arg(long)]
    client_type: Option<String>,
    /// A group, repeatable (replaces the groups).
    #[arg(long = "group")]
    groups: Vec<String>,
    /// A permission, repeatable (replaces the permissions).
    #[arg(long = "permission")]
    permissions: Vec<String>,
    /// Free text.
    #[arg(long)]
    description: Option<String>,
    /// Metadata, `name=value`, repeatable (replaces the metadata).
    #[arg(long = "metadata", value_parser = pair)]
    metadata: Vec<(String, String)>,
    /// A rate limit shared by all the consumer's keys, `COUNT/WINDOW[:BY]` (BY: `consumer`,
    /// the default, `key` or `subscription`), repeatable; replaces the consumer's limits.
    #[arg(long = "limit", value_name = "COUNT/WINDOW[:BY]", value_parser = parse_limit)]
    limits: Vec<Value>,
    /// A quota shared by all the consumer's keys, `COUNT/PERIOD[:BY]` with PERIOD `day` or
    /// `month` (UTC), repeatable; replaces the consumer's limits together with --limit.
    #[arg(long = "quota", value_name = "COUNT/PERIOD[:BY]", value_parser = parse_limit)]
    quotas: Vec<Value>,
    /// Removes the consumer's limits and quotas.
    #[arg(long, conflicts_with_all = ["limits", "quotas"])]
    no_limits: bool,
}

impl ConsumerFields {
    /// The JSON body: only the fields given.
    fn body(self) -> serde_json::Map<String, Value> {
        let mut body = serde_json::Map::new();
        if let Some(client_type) = self.client_type {
            body.insert("client_type".into(), json!(client_type));
        }
        if !self.groups.is_empty() {
            body.insert("groups".into(), json!(self.groups));
        }
        if !self.permissions.is_empty() {
            body.insert("permissions".into(), json!(self.permissions));
        }
        if let Some(description) = self.description {
            body.insert("description".into(), json!(description));
        }
        if !self.metadata.is_empty() {
            let metadata: BTreeMap<String, String> = self.metadata.into_iter().collect();
            body.insert("metadata".into(), json!(metadata));
        }
        if self.no_limits {
            body.insert("limits".into(), Value::Null);
        } else if !self.limits.is_empty() || !self.quotas.is_empty() {
            let mut limits = self.limits;
            limits.extend(self.quotas.into_iter().map(|mut quota| {
                quota["kind"] = json!("quota");
                quota
            }));
            body.insert("limits".into(), Value::Array(limits));
        }
        body
    }
}

/// Parses `name=value`.
pub fn pair(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("expected name=value, found `{text}`"))
}

/// Runs `keygate consumers …`.
pub fn run(args: ConsumersArgs) -> ExitCode {
    finish(execute(args))
}

fn execute(args: ConsumersArgs) -> Result<(), CliError> {
    let client = AdminClient::new(&args.admin.connection)?;
    let format = args.admin.output;
    match args.command {
        ConsumersCommand::Create { name, fields } => {
            let mut body = fields.body();
            body.insert("name".into(), json!(name));
            let reply = client.call(Method::POST, "/v1/consumers", Some(&Value::Object(body)))?;
            show_one(format, &reply.body, &format!("consumer {name} created"));
        }
        ConsumersCommand::Update { name, fields } => {
            let body = Value::Object(fields.body());
            let reply = client.call(Method::PATCH, &consumer_path(&name), Some(&body))?;
            show_one(format, &reply.body, &format!("consumer {name} updated"));
        }
        ConsumersCommand::List => {
            let consumers = client.list("/v1/consumers", "")?;
            match format {
                Format::Json => print_json(&Value::Array(consumers)),
                Format::Table => table(&consumers).print(),
            }
        }
        ConsumersCommand::Get { name } => {
            let consumer = client.get(&consumer_path(&name))?;
            show_one(format, &consumer, "");
        }
        ConsumersCommand::Delete { name, cascade } => {
            let mut path = consumer_path(&name);
            if cascade {
                path.push_str("?cascade=true");
            }
            client.call(Method::DELETE, &path, None)?;
            match format {
                Format::Json => print_json(&json!({"deleted": name})),
                Format::Table => outln!("consumer {name} deleted"),
            }
        }
    }
    Ok(())
}

/// `/v1/consumers/NAME`.
pub fn consumer_path(name: &str) -> String {
    format!("/v1/consumers/{}", encode(name))
}

/// Consumers as a table: NAME, CLIENT TYPE, GROUPS, ORIGIN, DESCRIPTION.
fn table(consumers: &[Value]) -> Table {
    let mut table = Table::new(&["NAME", "CLIENT TYPE", "GROUPS", "ORIGIN", "DESCRIPTION"]);
    for consumer in consumers {
        table.row(
            ["name", "client_type", "groups", "origin", "description"]
                .iter()
                .map(|field| cell(&consumer[*field]))
                .collect(),
        );
    }
    table
}

/// One consumer: a headline (when not empty) and its fields, or its JSON.
fn show_one(format: Format, consumer: &Value, headline: &str) {
    if format == Format::Json {
        print_json(consumer);
        return;
    }
    if !headline.is_empty() {
        outln!("{headline}");
    }
    let fields = [
        ("name", "name"),
        ("client type", "client_type"),
        ("groups", "groups"),
        ("permissions", "permissions"),
        ("description", "description"),
        ("metadata", "metadata"),
        ("origin", "origin"),
        ("created", "created_at"),
        ("updated", "updated_at"),
    ];
    let mut pairs: Vec<(&str, String)> = fields
        .iter()
        .map(|(label, field)| (*label, cell(&consumer[*field])))
        .collect();
    pairs.push(("limits", super::key_limits::cell(consumer)));
    out!("{}", details(&pairs));
}
