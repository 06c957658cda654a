//! What one request knows of its caller: a key and its consumer, copied out of the
//! directory when the key is checked, so that the request keeps one version of both to
//! its end whatever changes meanwhile.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use http::HeaderValue;
use keygate_store::{KeyMode, SubscriptionStatus};

use super::texts::{HeaderText, ShortText};
use crate::key::KeyHash;

/// A subscription as the data plane sees it.
#[derive(Debug)]
pub struct SubscriptionEntry {
    /// Unique id.
    pub id: Arc<str>,
    /// The service of its plan.
    pub service: Arc<str>,
    /// The plan's name.
    pub plan: Arc<str>,
    /// Where it stands; only `Accepted` lets a key through.
    pub status: SubscriptionStatus,
    /// Its own key or the consumer's shared key.
    pub key_mode: KeyMode,
    /// When it ends, if it does.
    pub ends_at: Option<SystemTime>,
}

impl SubscriptionEntry {
    /// Whether `key` is this subscription's key: its own key, or the consumer's shared
    /// key for a shared-key subscription.
    pub fn is_key_of(&self, key: &KeyEntry) -> bool {
        match self.key_mode {
            KeyMode::Own => key.subscription.as_deref().map(|id| &**id) == Some(&*self.id),
            KeyMode::Shared => key.shared,
        }
    }
}

/// A consumer's subscriptions, in no particular order; few per consumer, so scanned.
pub type Subscriptions = Arc<Vec<Arc<SubscriptionEntry>>>;

/// What a consumer is besides its name. Consumers with equal profiles share one copy
/// (see [`Directory`](super::Directory)): a million consumers of a few kinds cost a few
/// profiles, not a million.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ConsumerProfile {
    /// Client type, ready to send upstream.
    pub client_type: HeaderText,
    /// Groups.
    pub groups: Vec<String>,
    /// Permissions.
    pub permissions: Vec<String>,
    /// Free-form string map.
    pub metadata: BTreeMap<String, String>,
    /// The groups joined with commas; `None` when there are no groups.
    pub groups_header: Option<HeaderValue>,
    /// The consumer's limits, shared by all its keys; `None` for none.
    pub limits: Option<Arc<crate::limits::consumer_doc::ConsumerLimits>>,
}

/// A consumer as one request sees it.
#[derive(Debug, Clone)]
pub struct ConsumerEntry {
    /// Unique name.
    pub name: ShortText,
    /// Client type, groups, permissions and metadata.
    pub profile: Arc<ConsumerProfile>,
    /// Its subscriptions; `None` for none.
    pub subscriptions: Option<Subscriptions>,
}

impl ConsumerEntry {
    /// Its subscriptions.
    pub fn subscriptions(&self) -> &[Arc<SubscriptionEntry>] {
        self.subscriptions.as_deref().map_or(&[], Vec::as_slice)
    }
}

/// What a few keys carry beyond the rest: their own limits and credits. Kept behind a
/// pointer, `None` for most keys, so a million plain keys pay 8 bytes each for it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct KeyExtras {
    /// The key's own limits (rate limits and quotas), checked after the plan's.
    pub limits: Arc<[crate::limits::Limit]>,
    /// Its credits.
    pub credits: Option<crate::limits::Credits>,
    /// The document they were built from (the store's `limits` column).
    pub document: Box<str>,
}

/// A key's labels.
pub type Labels = BTreeMap<String, String>;

/// A key as one request sees it, with its consumer.
#[derive(Debug)]
pub struct KeyEntry {
    /// The SHA-256 of the key.
    pub hash: KeyHash,
    /// Stable id.
    pub id: ShortText,
    /// Display prefix, when known.
    pub prefix: Option<ShortText<14>>,
    /// Whether the key may be used.
    pub active: bool,
    /// Whether the key was revoked (for good).
    pub revoked: bool,
    /// Whether this is the consumer's shared key.
    pub shared: bool,
    /// When the key stops working.
    pub expires_at: Option<SystemTime>,
    /// Free-form string map; one copy shared by every key with the same labels.
    pub labels: Arc<Labels>,
    /// The subscription this key was issued for, if any.
    pub subscription: Option<Arc<ShortText>>,
    /// Whose key it is, as it was when the key was checked.
    pub consumer: ConsumerEntry,
    /// The key's limits and credits, when it has any.
    pub extras: Option<Arc<KeyExtras>>,
    /// Last noted use when the key was checked, in seconds since the epoch.
    pub(super) last_used_s: u32,
}

impl KeyEntry {
    /// The owning consumer, as it was when the key was checked.
    pub fn consumer(&self) -> &ConsumerEntry {
        &self.consumer
    }

    /// Whether a use at `now_ms` is worth noting: the last one noted is a minute old.
    pub fn use_is_news(&self, now_ms: i64) -> bool {
        now_ms / 1000 - i64::from(self.last_used_s) >= 60
    }
}

/// Why a presented key may or may not be used.
#[derive(Debug)]
pub enum KeyCheck {
    /// Known, active, not revoked, not expired.
    Valid(Arc<KeyEntry>),
    /// No key has this hash.
    NotFound,
    /// Known but marked inactive.
    Disabled(Arc<KeyEntry>),
    /// Known but revoked.
    Revoked(Arc<KeyEntry>),
    /// Known but past its expiry.
    Expired(Arc<KeyEntry>),
}

impl KeyCheck {
    /// Whether the key may be used.
    pub fn is_valid(&self) -> bool {
        matches!(self, KeyCheck::Valid(_))
    }

    /// Judges a known key at `now`.
    pub fn of(entry: Arc<KeyEntry>, now: SystemTime) -> KeyCheck {
        if entry.revoked {
            KeyCheck::Revoked(entry)
        } else if !entry.active {
            KeyCheck::Disabled(entry)
        } else if entry.expires_at.is_some_and(|at| at <= now) {
            KeyCheck::Expired(entry)
        } else {
            KeyCheck::Valid(entry)
        }
    }
}
