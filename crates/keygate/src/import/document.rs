//! The keygate configuration an import writes: the file's own shape (docs/config.md),
//! only the parts an import fills, serialised in the order a person reads them.

use std::collections::BTreeMap;

use serde::Serialize;

/// The written file.
#[derive(Debug, Default, Serialize)]
pub struct Document {
    /// Names of the identity headers, as the peer sent them upstream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defaults: Option<Defaults>,
    /// The services.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<Service>,
    /// The consumers and their keys.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub consumers: Vec<Consumer>,
    /// Subscriptions of the consumers to the services' plans.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscriptions: Vec<Subscription>,
}

/// `defaults:`.
#[derive(Debug, Default, Serialize)]
pub struct Defaults {
    /// `defaults.identity_headers`.
    pub identity_headers: IdentityHeaders,
}

/// `defaults.identity_headers`.
#[derive(Debug, Default, Serialize)]
pub struct IdentityHeaders {
    /// Carries the consumer name.
    pub consumer: &'static str,
    /// Carries the key id.
    pub credential: &'static str,
    /// Carries the groups.
    pub groups: &'static str,
}

/// One service.
#[derive(Debug, Default, Serialize)]
pub struct Service {
    /// Unique name.
    pub name: String,
    /// Host names; empty = any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// Path prefix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// Remove the prefix before forwarding (keygate's default is true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strip_prefix: Option<bool>,
    /// Send the client's Host upstream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preserve_host: Option<bool>,
    /// Where calls go.
    pub upstream: Upstream,
    /// Where keys are read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub key_sources: Vec<KeySource>,
    /// The routes.
    pub routes: Vec<Route>,
    /// API key plans.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub plans: Vec<Plan>,
    /// Limits on every call.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<Limit>,
    /// Calls from browsers on other origins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cors: Option<Cors>,
    /// How refusals are answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub responses: Option<Responses>,
    /// The consumer calls without a key go on as, on the `auth: optional` routes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anonymous_consumer: Option<String>,
    /// Whether calls with an invalid key go on as it too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anonymous_on_invalid_key: Option<bool>,
}

/// `responses:` of a service: its templates.
#[derive(Debug, Default, Serialize)]
pub struct Responses {
    /// Templates by refusal key.
    pub templates: std::collections::BTreeMap<String, Template>,
}

/// One response template.
#[derive(Debug, Default, Serialize)]
pub struct Template {
    /// The status.
    pub status: u16,
    /// The body, as written.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub body: String,
    /// The body's type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// More fields.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub headers: std::collections::BTreeMap<String, String>,
}

/// `cors:` of a service.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Cors {
    /// Origins allowed.
    pub origins: Vec<String>,
    /// Methods a preflight may ask for; empty for keygate's default.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    /// Request fields allowed; empty for the ones asked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<String>,
    /// Response fields exposed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expose_headers: Vec<String>,
    /// Credentials allowed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub credentials: bool,
    /// How long a preflight's answer is kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age: Option<String>,
}

/// `upstream:` — one URL, or weighted targets.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Upstream {
    /// One base URL.
    Url(String),
    /// Several targets.
    Targets {
        /// The targets.
        targets: Vec<Target>,
    },
}

impl Default for Upstream {
    fn default() -> Self {
        Upstream::Url(String::new())
    }
}

/// One weighted target.
#[derive(Debug, Serialize)]
pub struct Target {
    /// Base URL.
    pub url: String,
    /// Relative share.
    pub weight: u32,
}

/// One key source: a header, a query parameter or a body field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeySource {
    /// A request header.
    Header(String),
    /// A query parameter.
    Query(String),
    /// A field of a form, JSON or multipart request body.
    Body(String),
}

/// One route.
#[derive(Debug, Default, Serialize)]
pub struct Route {
    /// Name, unique in its service.
    pub name: String,
    /// Path patterns.
    pub paths: Vec<String>,
    /// Methods; empty = all.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    /// `required` (default), `optional` or `none`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<&'static str>,
    /// Send the key upstream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward_key: Option<bool>,
    /// Where keys are read on this route.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub key_sources: Vec<KeySource>,
    /// The `allow` expression.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow: Option<String>,
    /// Limits on every call to the route.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<Limit>,
    /// The peer's anonymous consumer for this route, as the peer names it, until
    /// [`super::anonymous`] finds it among the imported consumers; never written.
    #[serde(skip)]
    pub anonymous: Option<PeerAnonymous>,
}

/// A route's anonymous consumer as the peer's plugin names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerAnonymous {
    /// The peer's reference: a consumer's username (APISIX, Kong) or id (Kong).
    pub reference: String,
    /// The report's name of the peer's route.
    pub item: String,
}

/// One limit.
#[derive(Debug, Clone, Serialize)]
pub struct Limit {
    /// Calls per window.
    pub count: u64,
    /// The window.
    pub per: &'static str,
    /// What is counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// One plan.
#[derive(Debug, Default, Serialize)]
pub struct Plan {
    /// Name, unique in its service.
    pub name: String,
    /// When the plan is chosen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selection_rule: Option<String>,
    /// Send the key upstream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward_key: Option<bool>,
    /// New subscriptions start accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_approve: Option<bool>,
    /// What the plan offers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The plan's limits.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<Limit>,
}

/// One consumer.
#[derive(Debug, Default, Serialize)]
pub struct Consumer {
    /// Unique name.
    pub name: String,
    /// Groups.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// What the peer said of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The peer's other fields kept (such as `custom_id`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// The keys.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<Key>,
}

/// One key: its hash, or (with `--keep-plaintext`) the key.
#[derive(Debug, Default, Serialize)]
pub struct Key {
    /// The plaintext key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `sha256:<hex>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_hash: Option<String>,
    /// Stable id (the peer's credential id when it is a valid name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Whether it may be used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// RFC 3339 expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// The subscription (in this file) whose own key this is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription: Option<String>,
}

/// One subscription.
#[derive(Debug, Default, Serialize)]
pub struct Subscription {
    /// Unique id.
    pub id: String,
    /// Consumer name.
    pub consumer: String,
    /// Service name.
    pub service: String,
    /// Plan name.
    pub plan: String,
    /// `accepted`, `pending`, `paused`, `rejected`, `closed`.
    pub status: &'static str,
    /// RFC 3339 end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<String>,
    /// Why it was rejected (a rejected subscription only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}
