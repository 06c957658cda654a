//! `keygate keys create|list|get|update|revoke|renew|disable|enable|delete`: the key lifecycle
//! through the admin API. `keys create --client-type A` creates consumer `A` when it does
//! not exist yet (the Mia-Platform flow: one consumer per client type).

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use http::Method;
use serde_json::{json, Value};

use super::client::{encode, finish, AdminArgs, AdminClient, CliError};
use super::consumers::{consumer_path, pair};
use super::key_limits::KeyLimitArgs;
use super::output::{cell, details, print_json, Format, Table};
use crate::key::{check_custom, KeyHash};

/// `keygate keys …`
#[derive(Debug, Args)]
pub struct KeysArgs {
    /// Admin API and output options.
    #[command(flatten)]
    pub admin: AdminArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: KeysCommand,
}

/// The key subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it (the only time it is shown).
    Create(CreateArgs),
    /// List keys (prefixes only, never the keys).
    List {
        /// Only the keys of this consumer.
        #[arg(long)]
        consumer: Option<String>,
    },
    /// Show one key.
    Get {
        /// Key id.
        id: String,
    },
    /// Change a key's description, expiry or labels; what is not given stays.
    Update {
        /// Key id.
        id: String,
        /// Free text.
        #[arg(long)]
        description: Option<String>,
        /// When the key stops working, RFC 3339; `never` removes the expiry.
        #[arg(long)]
        expires_at: Option<String>,
        /// A label, `name=value`, repeatable (replaces the labels).
        #[arg(long = "label", value_parser = pair)]
        labels: Vec<(String, String)>,
        #[command(flatten)]
        limits: KeyLimitArgs,
    },
    /// Revoke a key: it stops working for good.
    Revoke {
        /// Key id.
        id: String,
    },
    /// Replace a key with a new one; the old one keeps working for the grace period.
    Renew {
        /// Key id.
        id: String,
        /// How long the old key keeps working, such as 2h, 30m or 0s (default 2h).
        #[arg(long)]
        grace: Option<String>,
        /// A custom key for the new one (default: generated; the custom-key rule: docs/admin-api.md#custom-keys).
        #[arg(long)]
        key: Option<String>,
        /// Description of the new key (default: the old one's).
        #[arg(long)]
        description: Option<String>,
        /// Expiry of the new key, RFC 3339.
        #[arg(long)]
        expires_at: Option<String>,
    },
    /// Undo the revocation of a subscription's key, while its subscription is accepted
    /// or paused.
    Reactivate {
        /// Key id.
        id: String,
    },
    /// Disable a key: refused until enabled again.
    Disable {
        /// Key id.
        id: String,
    },
    /// Enable a disabled key.
    Enable {
        /// Key id.
        id: String,
    },
    /// Delete a key.
    Delete {
        /// Key id.
        id: String,
    },
}

/// `keygate keys create`: who the key is for, and the key's fields.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The consumer that owns the key.
    #[arg(long)]
    pub consumer: Option<String>,
    /// Client type; without --consumer, the consumer is named after it and created if
    /// needed.
    #[arg(long)]
    pub client_type: Option<String>,
    /// A custom key instead of a generated one (the custom-key rule: docs/admin-api.md#custom-keys).
    #[arg(long)]
    pub key: Option<String>,
    /// Key id (default: derived from the key).
    #[arg(long)]
    pub id: Option<String>,
    /// Free text.
    #[arg(long)]
    pub description: Option<String>,
    /// When the key stops working, RFC 3339 such as 2030-01-01T00:00:00Z.
    #[arg(long)]
    pub expires_at: Option<String>,
    /// A label, `name=value`, repeatable.
    #[arg(long = "label", value_parser = pair)]
    pub labels: Vec<(String, String)>,
    #[command(flatten)]
    pub limits: KeyLimitArgs,
}

/// Runs `keygate keys …`.
pub fn run(args: KeysArgs) -> ExitCode {
    finish(execute(args))
}

fn execute(args: KeysArgs) -> Result<(), CliError> {
    let client = AdminClient::new(&args.admin.connection)?;
    let format = args.admin.output;
    match args.command {
        KeysCommand::Create(create) => create_key(&client, format, create)?,
        KeysCommand::List { consumer } => {
            let query = consumer
                .map(|name| format!("consumer={}", encode(&name)))
                .unwrap_or_default();
            let keys = client.list("/v1/keys", &query)?;
            match format {
                Format::Json => print_json(&Value::Array(keys)),
                Format::Table => {
                    let mut table = Table::new(&[
                        "ID",
                        "CONSUMER",
                        "PREFIX",
                        "STATUS",
                        "EXPIRES",
                        "DESCRIPTION",
                    ]);
                    for key in &keys {
                        table.row(
                            [
                                "id",
                                "consumer",
                                "prefix",
                                "status",
                                "expires_at",
                                "description",
                            ]
                            .iter()
                            .map(|field| cell(&key[*field]))
                            .collect(),
                        );
                    }
                    table.print();
                }
            }
        }
        KeysCommand::Get { id } => show(format, &client.get(&key_path(&id))?, ""),
        KeysCommand::Update {
            id,
            description,
            expires_at,
            labels,
            limits,
        } => {
            let mut body = serde_json::Map::new();
            if let Some(description) = description {
                body.insert("description".into(), json!(description));
            }
            match expires_at.as_deref() {
                Some("never") => {
                    body.insert("expires_at".into(), Value::Null);
                }
                Some(at) => {
                    body.insert("expires_at".into(), json!(at));
                }
                None => {}
            }
            if !labels.is_empty() {
                let labels: BTreeMap<String, String> = labels.into_iter().collect();
                body.insert("labels".into(), json!(labels));
            }
            limits.add_to(&mut body).map_err(CliError::Failed)?;
            if body.is_empty() {
                return Err(CliError::Failed(
                    "nothing to change: give --description, --expires-at, --label, --credits, \
                     --refill, --limit or --quota"
                        .into(),
                ));
            }
            let key = client
                .call(Method::PATCH, &key_path(&id), Some(&Value::Object(body)))?
                .body;
            show(format, &key, &format!("key {id} updated"));
        }
        KeysCommand::Revoke { id } => {
            let path = format!("{}/revoke", key_path(&id));
            let key = client.call(Method::POST, &path, None)?.body;
            show(format, &key, &format!("key {id} revoked"));
        }
        KeysCommand::Reactivate { id } => {
            let path = format!("{}/reactivate", key_path(&id));
            let key = client.call(Method::POST, &path, None)?.body;
            show(format, &key, &format!("key {id} reactivated"));
        }
        KeysCommand::Disable { id } => set_active(&client, format, &id, false)?,
        KeysCommand::Enable { id } => set_active(&client, format, &id, true)?,
        KeysCommand::Delete { id } => {
            client.call(Method::DELETE, &key_path(&id), None)?;
            match format {
                Format::Json => print_json(&json!({"deleted": id})),
                Format::Table => outln!("key {id} deleted"),
            }
        }
        KeysCommand::Renew {
            id,
            grace,
            key,
            description,
            expires_at,
        } => {
            let body = without_nulls(json!({
                "grace": grace,
                "key": key,
                "description": description,
                "expires_at": expires_at,
            }));
            let path = format!("{}/renew", key_path(&id));
            let renewed = client.call(Method::POST, &path, Some(&body))?.body;
            if format == Format::Json {
                print_json(&renewed);
                return Ok(());
            }
            let until = client
                .find(&key_path(&id))?
                .map(|old| cell(&old["expires_at"]))
                .unwrap_or_else(|| "-".to_owned());
            let headline = format!(
                "key {id} renewed as key {}; the old key works until {until}",
                cell(&renewed["id"])
            );
            print_plaintext(&renewed, &headline);
        }
    }
    Ok(())
}

/// `/v1/keys/ID`.
pub fn key_path(id: &str) -> String {
    format!("/v1/keys/{}", encode(id))
}

/// Drops the `null` fields of a JSON object.
fn without_nulls(mut value: Value) -> Value {
    if let Value::Object(fields) = &mut value {
        fields.retain(|_, field| !field.is_null());
    }
    value
}

fn create_key(client: &AdminClient, format: Format, args: CreateArgs) -> Result<(), CliError> {
    let Some(consumer) = args.consumer.clone().or_else(|| args.client_type.clone()) else {
        return Err(CliError::Failed(
            "name the key's owner: --consumer NAME or --client-type TYPE".into(),
        ));
    };
    let mut notes = Vec::new();
    if let Some(client_type) = &args.client_type {
        match client.find(&consumer_path(&consumer))? {
            None => {
                let body = json!({ "client_type": client_type });
                client.call(Method::PUT, &consumer_path(&consumer), Some(&body))?;
                notes.push(format!(
                    "consumer {consumer} created (client type {client_type})"
                ));
            }
            Some(existing) if existing["client_type"].as_str() != Some(client_type) => {
                eprintln!(
                    "keygate: warning: consumer {consumer} has client type {}, not {client_type}",
                    cell(&existing["client_type"])
                );
            }
            Some(_) => {}
        }
    }
    let labels: BTreeMap<String, String> = args.labels.into_iter().collect();
    let mut body = without_nulls(json!({
        "key": args.key,
        "id": args.id,
        "description": args.description,
        "expires_at": args.expires_at,
        "labels": labels,
    }));
    if let Some(fields) = body.as_object_mut() {
        args.limits.add_to(fields).map_err(CliError::Failed)?;
    }
    let path = format!("{}/keys", consumer_path(&consumer));
    let created = client.call(Method::POST, &path, Some(&body))?.body;
    if format == Format::Json {
        print_json(&created);
        return Ok(());
    }
    for note in notes {
        outln!("{note}");
    }
    let headline = format!(
        "key {} created for consumer {consumer}",
        cell(&created["id"])
    );
    print_plaintext(&created, &headline);
    Ok(())
}

/// Prints a new key's headline, its plaintext on a line of its own, and the warning.
fn print_plaintext(key: &Value, headline: &str) {
    outln!("{headline}");
    if let Some(plaintext) = key["key"].as_str() {
        outln!();
        outln!("    {plaintext}");
        outln!();
        outln!("This is the only time the key is shown: store it now. Only its hash is kept.");
    }
}

fn set_active(
    client: &AdminClient,
    format: Format,
    id: &str,
    active: bool,
) -> Result<(), CliError> {
    let body = json!({ "active": active });
    let key = client.call(Method::PATCH, &key_path(id), Some(&body))?.body;
    let verb = if active { "enabled" } else { "disabled" };
    show(format, &key, &format!("key {id} {verb}"));
    Ok(())
}

/// One key: a headline (when not empty) and its fields, or its JSON.
fn show(format: Format, key: &Value, headline: &str) {
    if format == Format::Json {
        print_json(key);
        return;
    }
    if !headline.is_empty() {
        outln!("{headline}");
    }
    let fields = [
        ("id", "id"),
        ("consumer", "consumer"),
        ("prefix", "prefix"),
        ("status", "status"),
        ("description", "description"),
        ("labels", "labels"),
        ("origin", "origin"),
        ("subscription", "subscription"),
        ("shared", "shared"),
        ("created", "created_at"),
        ("expires", "expires_at"),
        ("revoked", "revoked_at"),
        ("last used", "last_used_at"),
    ];
    let mut pairs: Vec<(&str, String)> = fields
        .iter()
        .map(|(label, field)| (*label, cell(&key[*field])))
        .collect();
    pairs.push(("limits", super::key_limits::cell(key)));
    out!("{}", details(&pairs));
}

/// A key given as plaintext or as `sha256:<hex>`: its hash, and the body field that creates
/// it through the API — `key` when the API takes it as a custom key, else `key_hash` (a
/// generated key, for one, may not come back as a custom key).
pub fn key_material(
    key: Option<&str>,
    key_hash: Option<&str>,
) -> Result<(KeyHash, &'static str, String), String> {
    match (key, key_hash) {
        (Some(plaintext), None) => {
            let hash = KeyHash::of(plaintext.as_bytes());
            if check_custom(plaintext).is_ok() {
                Ok((hash, "key", plaintext.to_owned()))
            } else {
                Ok((hash, "key_hash", hash_text(&hash)))
            }
        }
        (None, Some(text)) => {
            let hash = KeyHash::parse(text).map_err(|m| format!("key_hash: {m}"))?;
            Ok((hash, "key_hash", hash_text(&hash)))
        }
        _ => Err("each key needs exactly one of `key` and `key_hash`".into()),
    }
}

/// `sha256:<64 lowercase hex digits>`, as exports show hashes.
pub fn hash_text(hash: &KeyHash) -> String {
    let hex: String = hash.0.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("sha256:{hex}")
}

/// Whether two optional RFC 3339 times name the same instant.
pub fn same_time(a: Option<&str>, b: Option<&str>) -> bool {
    let instant = |text: &str| {
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .map(|t| t.unix_timestamp_nanos() / 1_000_000)
            .ok()
    };
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a == b || instant(a).is_some_and(|x| Some(x) == instant(b)),
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn times_compare_as_instants() {
        assert!(same_time(None, None));
        assert!(same_time(
            Some("2030-01-01T02:00:00+02:00"),
            Some("2030-01-01T00:00:00.000Z")
        ));
        assert!(!same_time(Some("2030-01-01T00:00:00Z"), None));
        assert!(!same_time(Some("soon"), Some("2030-01-01T00:00:00Z")));
    }

    #[test]
    fn generated_keys_travel_as_hashes() {
        let (hash, field, value) = key_material(Some("custom-key-0123"), None).unwrap();
        assert_eq!((field, value.as_str()), ("key", "custom-key-0123"));
        assert_eq!(hash, KeyHash::of(b"custom-key-0123"));
        let generated = crate::key::generate().unwrap();
        let (hash, field, value) = key_material(Some(&generated), None).unwrap();
        assert_eq!((field, value), ("key_hash", hash_text(&hash)));
        assert!(key_material(None, None).is_err());
        assert!(key_material(None, Some("sha256:00")).is_err());
    }

    /// A file key the custom-key rule refuses (a peer's short key, one with `<` or a
    /// backtick) is applied as its hash, so that it still works after the import.
    #[test]
    fn keys_the_custom_rule_refuses_travel_as_hashes() {
        for key in ["short", "with<angle>", "back`tick-key", "x"] {
            let (hash, field, value) = key_material(Some(key), None).unwrap();
            assert_eq!(hash, KeyHash::of(key.as_bytes()), "{key}");
            assert_eq!((field, value), ("key_hash", hash_text(&hash)), "{key}");
        }
    }
}
