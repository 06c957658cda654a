//! `keygate subscriptions create|list|get|accept|reject|pause|resume|close|delete`: a
//! consumer's subscriptions to the plans of services, through the admin API — `accept
//! --key` with a custom key, `reject --reason` with a reason for the application's owner.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use http::Method;
use serde_json::{json, Value};

use super::client::{encode, finish, AdminArgs, AdminClient, CliError};
use super::output::{cell, details, print_json, Format, Table};

/// `keygate subscriptions …`
#[derive(Debug, Args)]
pub struct SubscriptionsArgs {
    /// Admin API and output options.
    #[command(flatten)]
    pub admin: AdminArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: SubscriptionsCommand,
}

/// The subscription subcommands.
#[derive(Debug, Subcommand)]
pub enum SubscriptionsCommand {
    /// Subscribe a consumer to a plan; prints the key issued with it (shown once).
    Create {
        /// The subscribing consumer.
        #[arg(long)]
        consumer: String,
        /// The service.
        #[arg(long)]
        service: String,
        /// The service's plan.
        #[arg(long)]
        plan: String,
        /// Use the consumer's shared key (created with its first shared subscription).
        #[arg(long)]
        shared: bool,
        /// A custom key instead of a generated one (the custom-key rule: docs/admin-api.md#custom-keys).
        #[arg(long)]
        key: Option<String>,
        /// When the subscription ends (RFC 3339); its own key expires then too.
        #[arg(long)]
        ends_at: Option<String>,
        /// Subscription id (default: generated).
        #[arg(long)]
        id: Option<String>,
    },
    /// List subscriptions.
    List {
        /// Only this consumer's.
        #[arg(long)]
        consumer: Option<String>,
        /// Only those to this service's plans.
        #[arg(long)]
        service: Option<String>,
    },
    /// Show one subscription.
    Get {
        /// Subscription id.
        id: String,
    },
    /// Accept a pending subscription; with --key, prints the custom key it now has.
    Accept {
        /// Subscription id.
        id: String,
        /// A custom key for an own-key subscription, in place of the one made when it was
        /// requested, which stops working at once (the custom-key rule:
        /// docs/admin-api.md#custom-keys).
        #[arg(long)]
        key: Option<String>,
    },
    /// Reject a pending subscription.
    Reject {
        /// Subscription id.
        id: String,
        /// Why, shown to the application's owner (1 to 500 characters).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Pause an accepted subscription: its key is refused (403) until resumed.
    Pause {
        /// Subscription id.
        id: String,
    },
    /// Resume a paused subscription.
    Resume {
        /// Subscription id.
        id: String,
    },
    /// Close a subscription for good.
    Close {
        /// Subscription id.
        id: String,
    },
    /// Delete a subscription and its own key.
    Delete {
        /// Subscription id.
        id: String,
    },
}

/// Runs `keygate subscriptions …`.
pub fn run(args: SubscriptionsArgs) -> ExitCode {
    finish(execute(args))
}

fn subscription_path(id: &str) -> String {
    format!("/v1/subscriptions/{}", encode(id))
}

const COLUMNS: [(&str, &str); 6] = [
    ("ID", "id"),
    ("CONSUMER", "consumer"),
    ("SERVICE", "service"),
    ("PLAN", "plan"),
    ("STATUS", "status"),
    ("KEY MODE", "key_mode"),
];

fn execute(args: SubscriptionsArgs) -> Result<(), CliError> {
    let client = AdminClient::new(&args.admin.connection)?;
    let format = args.admin.output;
    let transition = |id: &str, action: &str, done: &str, body: Option<Value>| {
        let path = format!("{}/{action}", subscription_path(id));
        let reply = client.call(Method::POST, &path, body.as_ref())?;
        show(format, &reply.body, &format!("subscription {id} {done}"));
        if format == Format::Table {
            print_key(&reply.body["key"]);
        }
        Ok::<(), CliError>(())
    };
    match args.command {
        SubscriptionsCommand::Create {
            consumer,
            service,
            plan,
            shared,
            key,
            ends_at,
            id,
        } => {
            let mut body = json!({
                "consumer": consumer,
                "service": service,
                "plan": plan,
                "key_mode": if shared { "shared" } else { "own" },
            });
            for (field, value) in [("key", key), ("ends_at", ends_at), ("id", id)] {
                if let Some(value) = value {
                    body[field] = Value::String(value);
                }
            }
            let created = client
                .call(Method::POST, "/v1/subscriptions", Some(&body))?
                .body;
            if format == Format::Json {
                print_json(&created);
                return Ok(());
            }
            show(
                format,
                &created,
                &format!(
                    "subscription {} of consumer {consumer} to plan {plan} of service {service} \
                     created",
                    cell(&created["id"])
                ),
            );
            if !print_key(&created["key"]) && shared {
                outln!("it uses the consumer's existing shared key");
            }
        }
        SubscriptionsCommand::List { consumer, service } => {
            let mut query = Vec::new();
            if let Some(consumer) = consumer {
                query.push(format!("consumer={}", encode(&consumer)));
            }
            if let Some(service) = service {
                query.push(format!("service={}", encode(&service)));
            }
            let items = client.list("/v1/subscriptions", &query.join("&"))?;
            match format {
                Format::Json => print_json(&Value::Array(items)),
                Format::Table => {
                    let mut table = Table::new(&COLUMNS.map(|(header, _)| header));
                    for item in &items {
                        table.row(COLUMNS.iter().map(|(_, f)| cell(&item[*f])).collect());
                    }
                    table.print();
                }
            }
        }
        SubscriptionsCommand::Get { id } => show(format, &client.get(&subscription_path(&id))?, ""),
        SubscriptionsCommand::Accept { id, key } => {
            let body = key.map(|key| json!({ "key": key }));
            transition(&id, "accept", "accepted", body)?;
        }
        SubscriptionsCommand::Reject { id, reason } => {
            let body = reason.map(|reason| json!({ "reason": reason }));
            transition(&id, "reject", "rejected", body)?;
        }
        SubscriptionsCommand::Pause { id } => transition(&id, "pause", "paused", None)?,
        SubscriptionsCommand::Resume { id } => transition(&id, "resume", "resumed", None)?,
        SubscriptionsCommand::Close { id } => transition(&id, "close", "closed", None)?,
        SubscriptionsCommand::Delete { id } => {
            client.call(Method::DELETE, &subscription_path(&id), None)?;
            match format {
                Format::Json => print_json(&json!({"deleted": id})),
                Format::Table => outln!("subscription {id} deleted"),
            }
        }
    }
    Ok(())
}

/// Prints a key made by a subscription call with its plaintext (shown once); false when
/// the answer holds none.
fn print_key(key: &Value) -> bool {
    let Some(plaintext) = key["key"].as_str() else {
        return false;
    };
    outln!("key {}:", cell(&key["id"]));
    outln!();
    outln!("    {plaintext}");
    outln!();
    outln!("This is the only time the key is shown: store it now. Only its hash is kept.");
    true
}

fn show(format: Format, subscription: &Value, headline: &str) {
    if format == Format::Json {
        print_json(subscription);
        return;
    }
    if !headline.is_empty() {
        outln!("{headline}");
    }
    let fields = [
        ("id", "id"),
        ("consumer", "consumer"),
        ("service", "service"),
        ("plan", "plan"),
        ("status", "status"),
        ("key mode", "key_mode"),
        ("ends", "ends_at"),
        ("created", "created_at"),
        ("updated", "updated_at"),
    ];
    let mut pairs: Vec<(&str, String)> = fields
        .iter()
        .map(|(label, field)| (*label, cell(&subscription[*field])))
        .collect();
    // Only a rejection has one; the publisher's words, as the API keeps them.
    if subscription["reason"].is_string() {
        pairs.push(("reason", cell(&subscription["reason"])));
    }
    out!("{}", details(&pairs));
}
