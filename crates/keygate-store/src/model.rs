//! The stored entities. Keys are stored as SHA-256 only.

use std::collections::BTreeMap;

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// Where an entity came from: the configuration file (re-applied at every start and reload)
/// or the admin API. The file never deletes what the API created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// The configuration file.
    File,
    /// The admin API or CLI.
    Api,
}

/// A consumer (client, application).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    /// Unique name.
    pub name: String,
    /// Client type; the name when `None`.
    pub client_type: Option<String>,
    /// Groups.
    pub groups: Vec<String>,
    /// Permissions.
    pub permissions: Vec<String>,
    /// Description.
    pub description: Option<String>,
    /// Free-form string map.
    pub metadata: BTreeMap<String, String>,
    /// File or API.
    pub origin: Origin,
    /// Creation time.
    pub created_at: Millis,
    /// Last change.
    pub updated_at: Millis,
    /// The consumer's own limits (shared by all its keys), as the admin API's JSON
    /// (`{"limits": [...]}`); `None` for none. The gateway reads it; the store keeps it.
    pub limits: Option<String>,
}

/// A key: its SHA-256 and bookkeeping, never its plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Unique id.
    pub id: String,
    /// Owning consumer's name.
    pub consumer: String,
    /// SHA-256 of the key.
    pub hash: [u8; 32],
    /// First characters of the key, for display.
    pub prefix: Option<String>,
    /// Whether the key may be used.
    pub active: bool,
    /// Description.
    pub description: Option<String>,
    /// Free-form string map.
    pub labels: BTreeMap<String, String>,
    /// File or API.
    pub origin: Origin,
    /// Creation time.
    pub created_at: Millis,
    /// When the key stops working.
    pub expires_at: Option<Millis>,
    /// When the key was revoked; revoked keys never work again.
    pub revoked_at: Option<Millis>,
    /// Last successful use, written in batches.
    pub last_used_at: Option<Millis>,
    /// The subscription this key was issued for (its own key), if any.
    pub subscription: Option<String>,
    /// Whether this is its consumer's shared key: the one key of every subscription
    /// created with [`KeyMode::Shared`].
    pub shared: bool,
    /// The key's own limits and credits, as the admin API's JSON (`{"limits": [...],
    /// "credits": {...}}`); `None` for none. The gateway reads it; the store keeps it.
    pub limits: Option<String>,
}

/// Where a subscription stands. Only accepted subscriptions let a key through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionStatus {
    /// Waiting for approval (plans without `auto_approve`).
    Pending,
    /// Approved: its key works on the plan's service.
    Accepted,
    /// Suspended for a while; may be resumed.
    Paused,
    /// Refused while pending; final.
    Rejected,
    /// Ended; final.
    Closed,
}

impl SubscriptionStatus {
    /// The lowercase name, as on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Pending => "pending",
            SubscriptionStatus::Accepted => "accepted",
            SubscriptionStatus::Paused => "paused",
            SubscriptionStatus::Rejected => "rejected",
            SubscriptionStatus::Closed => "closed",
        }
    }

    /// Parses the lowercase name.
    pub fn parse(text: &str) -> Option<SubscriptionStatus> {
        Some(match text {
            "pending" => SubscriptionStatus::Pending,
            "accepted" => SubscriptionStatus::Accepted,
            "paused" => SubscriptionStatus::Paused,
            "rejected" => SubscriptionStatus::Rejected,
            "closed" => SubscriptionStatus::Closed,
            _ => return None,
        })
    }
}

/// Which key a subscription uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyMode {
    /// A key of its own, issued with the subscription.
    Own,
    /// The consumer's shared key, common to its shared-key subscriptions.
    Shared,
}

impl KeyMode {
    /// The lowercase name, as on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyMode::Own => "own",
            KeyMode::Shared => "shared",
        }
    }

    /// Parses the lowercase name.
    pub fn parse(text: &str) -> Option<KeyMode> {
        match text {
            "own" => Some(KeyMode::Own),
            "shared" => Some(KeyMode::Shared),
            _ => None,
        }
    }
}

/// A consumer's subscription to one plan of one service (Gravitee's subscription of an
/// application to an API key plan).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRecord {
    /// Unique id.
    pub id: String,
    /// The subscribing consumer's name.
    pub consumer: String,
    /// The service whose plan it subscribes to.
    pub service: String,
    /// The plan's name within the service.
    pub plan: String,
    /// Where it stands.
    pub status: SubscriptionStatus,
    /// Its own key or the consumer's shared key.
    pub key_mode: KeyMode,
    /// When it ends, if it does.
    pub ends_at: Option<Millis>,
    /// Creation time.
    pub created_at: Millis,
    /// Last change.
    pub updated_at: Millis,
    /// Why it was rejected, in the publisher's words, for the application's owner to
    /// read (Gravitee's reject reason); `None` when none was given or it was not rejected.
    pub reason: Option<String>,
}

/// A service, stored as the JSON document of its configuration-file form (with routes),
/// so the file, the API and the store share one shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRecord {
    /// Unique name.
    pub name: String,
    /// The service as JSON, in the configuration file's shape.
    pub document: String,
    /// File or API.
    pub origin: Origin,
    /// Last change.
    pub updated_at: Millis,
}

/// One entity streamed by [`crate::Store::load`].
#[derive(Debug, Clone)]
pub enum Entity {
    /// A consumer.
    Consumer(ConsumerRecord),
    /// A key.
    Key(KeyRecord),
    /// A service.
    Service(ServiceRecord),
    /// A subscription.
    Subscription(SubscriptionRecord),
}

/// What a put did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// A new entity; the revision it was committed at.
    Created(u64),
    /// An existing entity changed; the revision it was committed at.
    Updated(u64),
    /// The stored entity was already identical: no revision was used.
    Unchanged,
}

/// Which entity a change touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// A consumer.
    Consumer,
    /// A key.
    Key,
    /// A service.
    Service,
    /// A subscription.
    Subscription,
}

/// One committed change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The revision of the write.
    pub revision: u64,
    /// Which entity kind.
    pub kind: ChangeKind,
    /// Its name or id.
    pub name: String,
    /// Whether it was deleted (else created or updated).
    pub deleted: bool,
    /// For keys: the hash, so a deleted key can be removed from an index by hash.
    pub key_hash: Option<[u8; 32]>,
}

/// A page of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// Start after this name or id.
    pub after: Option<String>,
    /// At most this many (1–1000; 0 means 100).
    pub limit: usize,
}

/// One durable usage counter (a quota's or a key's credits), as kept in the store: nodes
/// count in memory and add their deltas to it in batches, never once per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterRow {
    /// What is counted: a stable 64-bit hash of the limit and the value it counts by.
    pub subject: i64,
    /// The start of the counter's window (ms since the epoch; 0 for no window).
    pub window: Millis,
    /// Units counted: the total when read, the delta to add when written.
    pub used: i64,
    /// After this time the counter is of no use (its window is over): loads skip it.
    pub keep_until: Millis,
}
