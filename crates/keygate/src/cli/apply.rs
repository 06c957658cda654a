//! `keygate apply -f FILE [--prune] [--dry-run]`: makes the gateway hold the consumers,
//! keys and services of a YAML file — the configuration file's shape, as `keygate
//! export` writes it, checked as `keygate validate` checks it; sections that only `keygate
//! serve` reads (`proxy:`, `admin:`, `store:` …) are refused with their positions.
//! `keygate diff` shows the same plan without making it.
//!
//! The gateway's export is read once, every change is planned, then the changes are made
//! in order: consumers, their keys, services, and last the deletions of `--prune`. An
//! entity that already matches is left alone, so applying a file twice changes nothing
//! the second time. Entities from the gateway's configuration file are never changed.
//! `--prune` deletes only kinds that the file has a section for: a file without
//! `services:` leaves every service alone.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use http::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::client::{encode, finish, AdminArgs, AdminClient, CliError};
use super::consumers::consumer_path;
use super::keys::{hash_text, key_material, key_path, same_time};
use super::output::{print_json, Format};

/// `keygate apply …`
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Admin API and output options.
    #[command(flatten)]
    pub admin: AdminArgs,
    /// The YAML file with `consumers:` and `services:`.
    #[arg(short = 'f', long = "file")]
    pub file: PathBuf,
    /// Also delete the API-made consumers, keys and services that the file lacks.
    #[arg(long)]
    pub prune: bool,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// A file given to `apply`, or the gateway's export with `?origin=true`: both have this
/// shape (the file has no `origin`: `Config::parse_entities` refuses it).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Document {
    consumers: Option<Vec<ConsumerEntry>>,
    services: Option<Vec<Value>>,
    /// Not applied: subscriptions (and their keys) are made with `keygate subscriptions
    /// create`, which issues their keys; a file's subscriptions seed `keygate serve`.
    /// Those the gateway lacks are named in a warning.
    subscriptions: Option<Vec<Value>>,
}

impl Document {
    /// The ids of the subscriptions.
    fn subscription_ids(&self) -> impl Iterator<Item = &str> {
        self.subscriptions
            .iter()
            .flatten()
            .filter_map(|s| s.get("id")?.as_str())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsumerEntry {
    name: String,
    client_type: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    permissions: Vec<String>,
    description: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    /// The consumer's limits, shared by its keys, as the admin API takes them.
    #[serde(default)]
    limits: Vec<Value>,
    #[serde(default)]
    keys: Vec<KeyEntry>,
    origin: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    key: Option<String>,
    key_hash: Option<String>,
    id: Option<String>,
    active: Option<bool>,
    description: Option<String>,
    expires_at: Option<String>,
    revoked_at: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    origin: Option<String>,
    /// Set on a subscription's own key (exports only).
    subscription: Option<String>,
    /// Set on a consumer's shared key (exports only).
    #[serde(default)]
    shared: bool,
    /// The key's own limits, as the admin API takes them.
    #[serde(default)]
    limits: Vec<Value>,
    /// Its credits (what they were set to, not what is left).
    credits: Option<u64>,
    /// Their refill.
    refill: Option<Value>,
}

impl KeyEntry {
    /// Whether the key belongs to subscriptions: such keys are issued and retired with
    /// their subscriptions, so `apply` neither creates nor prunes them.
    fn of_subscriptions(&self) -> bool {
        self.subscription.is_some() || self.shared
    }
}

/// Whether an entity of the gateway comes from its configuration file.
fn from_file(origin: Option<&str>) -> bool {
    origin == Some("file")
}

/// What a change does: `create`, `update` or `delete`.
type Action = &'static str;

/// One call to the admin API.
type Call = (Method, String, Option<Value>);

/// One line of the plan and the calls that make it.
#[derive(Debug, Serialize)]
pub(super) struct Change {
    pub(super) action: Action,
    pub(super) kind: &'static str,
    pub(super) name: String,
    /// For updates: the fields that differ.
    pub(super) fields: Vec<String>,
    /// For updates: each field that differs, as the gateway has it and as the file has it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) differences: Vec<Difference>,
    #[serde(skip)]
    calls: Vec<Call>,
}

/// One field of an entity that differs between the gateway and the file.
#[derive(Debug, Serialize)]
pub(super) struct Difference {
    /// The field's name.
    pub(super) field: String,
    /// On the gateway.
    pub(super) from: Value,
    /// In the file.
    pub(super) to: Value,
}

impl Difference {
    fn of(field: &str, from: Value, to: Value) -> Difference {
        Difference {
            field: field.to_owned(),
            from,
            to,
        }
    }
}

/// Every change, how many entities are already right, and what will not be done.
#[derive(Debug, Default)]
pub(super) struct Plan {
    pub(super) changes: Vec<Change>,
    pub(super) unchanged: usize,
    pub(super) warnings: Vec<String>,
}

impl Plan {
    fn add(&mut self, action: Action, kind: &'static str, name: &str, calls: Vec<Call>) {
        self.changes.push(Change {
            action,
            kind,
            name: name.to_owned(),
            fields: Vec::new(),
            differences: Vec::new(),
            calls,
        });
    }

    /// An entity that differs (or not, when `differences` is empty): an update, unless
    /// the gateway's configuration file owns it.
    fn update(
        &mut self,
        kind: &'static str,
        name: &str,
        origin: Option<&str>,
        differences: Vec<Difference>,
        calls: Vec<Call>,
    ) {
        let fields: Vec<String> = differences.iter().map(|d| d.field.clone()).collect();
        if fields.is_empty() {
            self.unchanged += 1;
        } else if from_file(origin) {
            let what = fields.join(", ");
            self.warnings.push(format!(
                "{kind} {name} differs ({what}) but comes from the gateway's configuration file; not changed"
            ));
        } else {
            self.add("update", kind, name, calls);
            if let Some(change) = self.changes.last_mut() {
                change.fields = fields;
                change.differences = differences;
            }
        }
    }

    fn delete(&mut self, kind: &'static str, name: &str, path: String) {
        self.add("delete", kind, name, vec![(Method::DELETE, path, None)]);
    }

    /// How many changes do `action`.
    pub(super) fn count(&self, action: Action) -> usize {
        self.changes.iter().filter(|c| c.action == action).count()
    }
}

/// Runs `keygate apply`.
pub fn run(args: ApplyArgs) -> ExitCode {
    match read_file(&args.file, "apply") {
        Ok(desired) => finish(execute(&args, &desired)),
        Err(code) => code,
    }
}

/// Reads and checks the file given to `command`. A problem in it is printed as `keygate
/// validate` prints it (`file:line:column: message` and the line), and is exit status 1.
pub(super) fn read_file(path: &std::path::Path, command: &str) -> Result<Document, ExitCode> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| {
        eprintln!("keygate: cannot read {shown}: {error}");
        ExitCode::FAILURE
    })?;
    if let Err(error) = crate::config::Config::parse_entities(&shown, &text, command) {
        eprintln!("{error}");
        return Err(ExitCode::FAILURE);
    }
    if text.trim().is_empty() {
        return Ok(Document::default());
    }
    // The file is the operator's own, as the configuration file is: a file of 100,000
    // consumers is read without the parser's size budget, as `parse_entities` read it.
    serde_saphyr::from_str_with_options(&text, crate::config::file_options()).map_err(|error| {
        eprintln!("keygate: {shown}: {error}");
        ExitCode::FAILURE
    })
}

/// Reads the gateway's entities and plans what makes them match `desired`; prints the
/// warnings on standard error.
pub(super) fn plan_against(
    client: &AdminClient,
    desired: &Document,
    prune: bool,
) -> Result<Plan, CliError> {
    let current: Document = serde_json::from_value(client.get("/v1/export?origin=true")?)?;
    let plan = plan(desired, &current, prune)?;
    for warning in &plan.warnings {
        eprintln!("keygate: warning: {warning}");
    }
    Ok(plan)
}

fn execute(args: &ApplyArgs, desired: &Document) -> Result<(), CliError> {
    let client = AdminClient::new(&args.admin.connection)?;
    let plan = plan_against(&client, desired, args.prune)?;
    let table = args.admin.output == Format::Table;
    for change in &plan.changes {
        if table {
            let fields = change.fields.join(", ");
            let fields = if fields.is_empty() {
                fields
            } else {
                format!(" ({fields})")
            };
            outln!("{} {} {}{fields}", change.action, change.kind, change.name);
        }
        if !args.dry_run {
            for (method, path, body) in &change.calls {
                client.call(method.clone(), path, body.as_ref())?;
            }
        }
    }
    if table {
        let [created, updated, deleted] = ["create", "update", "delete"].map(|a| plan.count(a));
        let tail = if args.dry_run {
            " (dry run: nothing was changed)"
        } else {
            ""
        };
        let unchanged = plan.unchanged;
        outln!(
            "{created} created, {updated} updated, {deleted} deleted, {unchanged} unchanged{tail}"
        );
        return Ok(());
    }
    let mut summary = plan_json(&plan);
    summary["dry_run"] = json!(args.dry_run);
    print_json(&summary);
    Ok(())
}

/// The plan as `--output json` prints it.
pub(super) fn plan_json(plan: &Plan) -> Value {
    let [created, updated, deleted] = ["create", "update", "delete"].map(|a| plan.count(a));
    json!({
        "changes": plan.changes,
        "created": created,
        "updated": updated,
        "deleted": deleted,
        "unchanged": plan.unchanged,
    })
}

fn failed<T>(message: String) -> Result<T, CliError> {
    Err(CliError::Failed(message))
}

/// Compares the file with the gateway and lists the changes.
fn plan(desired: &Document, current: &Document, prune: bool) -> Result<Plan, CliError> {
    let mut plan = Plan::default();
    let held: BTreeSet<&str> = current.subscription_ids().collect();
    for id in desired.subscription_ids().filter(|id| !held.contains(id)) {
        plan.warnings.push(format!(
            "subscription {id} is not on the gateway and is not applied: subscriptions and their keys are issued with `keygate subscriptions create`"
        ));
    }
    let current_consumers = current.consumers.as_deref().unwrap_or_default();
    let consumers: BTreeMap<&str, &ConsumerEntry> = current_consumers
        .iter()
        .map(|c| (c.name.as_str(), c))
        .collect();
    let keys: BTreeMap<&str, (&str, &KeyEntry)> = current_consumers
        .iter()
        .flat_map(|c| {
            c.keys
                .iter()
                .map(move |k| (k.id.as_deref().unwrap_or_default(), (c.name.as_str(), k)))
        })
        .collect();
    let mut seen_consumers = BTreeSet::new();
    let mut seen_keys = BTreeSet::new();
    for consumer in desired.consumers.iter().flatten() {
        let name = consumer.name.as_str();
        if !seen_consumers.insert(name) {
            return failed(format!("consumer {name} is in the file twice"));
        }
        plan_consumer(&mut plan, consumer, consumers.get(name).copied());
        for key in consumer.keys.iter().filter(|k| !k.of_subscriptions()) {
            plan_key(&mut plan, key, name, &keys, &mut seen_keys)?;
        }
    }
    let services: BTreeMap<String, (Value, Option<String>)> = (current.services.iter().flatten())
        .filter_map(split_service)
        .map(|(name, document, origin)| (name, (document, origin)))
        .collect();
    let mut seen_services = BTreeSet::new();
    for service in desired.services.iter().flatten() {
        let Some((name, document, _)) = split_service(service) else {
            return failed("each entry of `services:` is a map with a `name`".into());
        };
        if !seen_services.insert(name.clone()) {
            return failed(format!("service {name} is in the file twice"));
        }
        let call = vec![(Method::PUT, service_path(&name), Some(document.clone()))];
        match services.get(&name) {
            None => plan.add("create", "service", &name, call),
            Some((existing, origin)) => {
                let differences = document_differences(existing, &document);
                plan.update("service", &name, origin.as_deref(), differences, call);
            }
        }
    }
    if prune && desired.consumers.is_some() {
        for consumer in current_consumers {
            for key in consumer.keys.iter().filter(|k| !k.of_subscriptions()) {
                let id = key.id.as_deref().unwrap_or_default();
                if !from_file(key.origin.as_deref()) && !seen_keys.contains(id) {
                    plan.delete("key", id, key_path(id));
                }
            }
            let name = consumer.name.as_str();
            if !from_file(consumer.origin.as_deref()) && !seen_consumers.contains(name) {
                plan.delete("consumer", name, consumer_path(name));
            }
        }
    }
    if prune && desired.services.is_some() {
        for (name, (_, origin)) in &services {
            if !from_file(origin.as_deref()) && !seen_services.contains(name) {
                plan.delete("service", name, service_path(name));
            }
        }
    }
    Ok(plan)
}

/// The top-level fields in which two service documents differ, in name order.
fn document_differences(existing: &Value, wanted: &Value) -> Vec<Difference> {
    let empty = Map::new();
    let [old, new] = [existing, wanted].map(|d| d.as_object().unwrap_or(&empty));
    let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    names
        .into_iter()
        .filter(|name| old.get(*name) != new.get(*name))
        .map(|name| {
            let side = |d: &Map<String, Value>| d.get(name).cloned().unwrap_or(Value::Null);
            Difference::of(name, side(old), side(new))
        })
        .collect()
}

fn service_path(name: &str) -> String {
    format!("/v1/services/{}", encode(name))
}

/// A service entry's name, its document without `origin`, and its origin.
fn split_service(service: &Value) -> Option<(String, Value, Option<String>)> {
    let mut fields = service.as_object()?.clone();
    let origin = fields
        .remove("origin")
        .and_then(|o| o.as_str().map(str::to_owned));
    let name = fields.get("name")?.as_str()?.to_owned();
    Some((name, Value::Object(fields), origin))
}

/// Plans one key of consumer `name`; `keys` are the gateway's, by id, with their owner.
fn plan_key(
    plan: &mut Plan,
    key: &KeyEntry,
    name: &str,
    keys: &BTreeMap<&str, (&str, &KeyEntry)>,
    seen_keys: &mut BTreeSet<String>,
) -> Result<(), CliError> {
    let (hash, field, value) = key_material(key.key.as_deref(), key.key_hash.as_deref())
        .map_err(|m| CliError::Failed(format!("a key of consumer {name}: {m}")))?;
    let id = key.id.clone().unwrap_or_else(|| hash.derived_id());
    if !seen_keys.insert(id.clone()) {
        return failed(format!("key {id} is in the file twice"));
    }
    let Some(&(owner, existing)) = keys.get(id.as_str()) else {
        let body = json!({
            field: value,
            "id": id,
            "active": key.active.unwrap_or(true),
            "description": key.description,
            "expires_at": key.expires_at,
            "labels": key.labels,
            "limits": key.limits,
            "credits": key.credits,
            "refill": key.refill,
        });
        let mut calls = vec![(
            Method::POST,
            format!("{}/keys", consumer_path(name)),
            Some(body),
        )];
        if key.revoked_at.is_some() {
            calls.push((Method::POST, format!("{}/revoke", key_path(&id)), None));
        }
        plan.add("create", "key", &id, calls);
        return Ok(());
    };
    if owner != name {
        return failed(format!(
            "key {id} belongs to consumer {owner} on the gateway, not {name}"
        ));
    }
    if !existing
        .key_hash
        .as_deref()
        .is_some_and(|h| h.eq_ignore_ascii_case(&hash_text(&hash)))
    {
        return failed(format!(
            "key id {id} is taken on the gateway by a different key"
        ));
    }
    update_key(plan, key, &id, existing);
    Ok(())
}

fn plan_consumer(plan: &mut Plan, consumer: &ConsumerEntry, existing: Option<&ConsumerEntry>) {
    let name = consumer.name.as_str();
    let body = json!({
        "client_type": consumer.client_type,
        "groups": consumer.groups,
        "permissions": consumer.permissions,
        "description": consumer.description,
        "metadata": consumer.metadata,
        "limits": consumer.limits,
    });
    let call = vec![(Method::PUT, consumer_path(name), Some(body))];
    let Some(existing) = existing else {
        plan.add("create", "consumer", name, call);
        return;
    };
    // A consumer without a client type has its name as client type.
    let client_type = |c: &ConsumerEntry| c.client_type.clone().unwrap_or_else(|| c.name.clone());
    let differences = [
        (
            "client_type",
            json!(client_type(existing)),
            json!(client_type(consumer)),
        ),
        ("groups", json!(existing.groups), json!(consumer.groups)),
        (
            "permissions",
            json!(existing.permissions),
            json!(consumer.permissions),
        ),
        (
            "description",
            json!(existing.description),
            json!(consumer.description),
        ),
        (
            "metadata",
            json!(existing.metadata),
            json!(consumer.metadata),
        ),
        ("limits", json!(existing.limits), json!(consumer.limits)),
    ]
    .into_iter()
    .filter(|(_, from, to)| from != to)
    .map(|(field, from, to)| Difference::of(field, from, to))
    .collect();
    plan.update(
        "consumer",
        name,
        existing.origin.as_deref(),
        differences,
        call,
    );
}

fn update_key(plan: &mut Plan, key: &KeyEntry, id: &str, existing: &KeyEntry) {
    let revoked = existing.revoked_at.is_some();
    let mut patch = Map::new();
    let active = key.active.unwrap_or(true);
    // A revoked key cannot be made active again; the API refuses it.
    if existing.active.unwrap_or(true) != active && !(revoked && active) {
        patch.insert("active".into(), json!(active));
    }
    // Without a description in the file, the gateway's is kept: the API cannot remove one.
    if key.description.is_some() && key.description != existing.description {
        patch.insert("description".into(), json!(key.description));
    }
    if !same_time(key.expires_at.as_deref(), existing.expires_at.as_deref()) {
        patch.insert("expires_at".into(), json!(key.expires_at));
    }
    if key.labels != existing.labels {
        patch.insert("labels".into(), json!(key.labels));
    }
    if key.limits != existing.limits {
        patch.insert("limits".into(), json!(key.limits));
    }
    // Credits set again start a new count: only when the number itself changes.
    if key.credits != existing.credits {
        patch.insert("credits".into(), json!(key.credits));
    }
    if key.refill != existing.refill {
        patch.insert("refill".into(), json!(key.refill));
    }
    let before = [
        ("active", json!(existing.active.unwrap_or(true))),
        ("description", json!(existing.description)),
        ("expires_at", json!(existing.expires_at)),
        ("labels", json!(existing.labels)),
        ("limits", json!(existing.limits)),
        ("credits", json!(existing.credits)),
        ("refill", json!(existing.refill)),
    ];
    let mut differences: Vec<Difference> = before
        .into_iter()
        .filter_map(|(field, from)| {
            let to = patch.get(field)?.clone();
            Some(Difference::of(field, from, to))
        })
        .collect();
    let mut calls = Vec::new();
    if !patch.is_empty() {
        calls.push((Method::PATCH, key_path(id), Some(Value::Object(patch))));
    }
    if key.revoked_at.is_some() && !revoked {
        calls.push((Method::POST, format!("{}/revoke", key_path(id)), None));
        differences.push(Difference::of(
            "revoked",
            json!(existing.revoked_at),
            json!(key.revoked_at),
        ));
    }
    if key.revoked_at.is_none() && revoked {
        plan.warnings.push(format!(
            "key {id} is revoked on the gateway and stays revoked"
        ));
    }
    plan.update("key", id, existing.origin.as_deref(), differences, calls);
}
