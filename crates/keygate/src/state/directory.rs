//! Who may call: consumers and their keys, built from store records and changed one
//! record at a time as the store reports changes.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::atomic::AtomicU32;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keygate_store::{ConsumerRecord, KeyRecord, Millis, SubscriptionRecord};

use super::consumer_table::{ConsumerRow, ConsumerTable};
use super::entries::{
    ConsumerEntry, ConsumerProfile, KeyCheck, KeyEntry, Labels, SubscriptionEntry,
};
use super::key_index::{
    last_used_seconds, KeyIds, KeyIndex, KeyRow, KeyState, ACTIVE, NEVER, REVOKED, SHARED,
};
use super::texts::{HeaderText, ShortText};
use crate::key::KeyHash;

/// Consumers by name and keys by hash.
#[derive(Default, Debug)]
pub struct Directory {
    /// Keys by hash: what the request path reads.
    pub keys: KeyIndex,
    consumers: ConsumerTable,
    /// The consumer of each subscription, to find it again when it is deleted.
    subscription_owners: RwLock<HashMap<String, String>>,
    /// One copy of each consumer profile in use: consumers of the same kind share it.
    profiles: Mutex<Interned<ConsumerProfile>>,
    /// One copy of each set of key labels in use: keys with the same labels share it.
    labels: Mutex<Interned<Labels>>,
}

/// The distinct values of one kind in use. Holds them strongly; those nothing uses any
/// more are dropped whenever the set has doubled since the last sweep, so it stays within
/// twice the values in use.
#[derive(Debug)]
struct Interned<T> {
    set: HashSet<Arc<T>>,
    swept_at: usize,
}

impl<T> Default for Interned<T> {
    fn default() -> Self {
        Interned {
            set: HashSet::new(),
            swept_at: 0,
        }
    }
}

impl<T: Hash + Eq> Interned<T> {
    /// A set holding `values`.
    fn of(values: Vec<Arc<T>>) -> Interned<T> {
        Interned {
            swept_at: values.len(),
            set: values.into_iter().collect(),
        }
    }

    /// The shared copy of `value`.
    fn intern(&mut self, value: T) -> Arc<T> {
        if let Some(shared) = self.set.get(&value) {
            return shared.clone();
        }
        if self.set.len() >= 2 * self.swept_at.max(512) {
            self.set.retain(|v| Arc::strong_count(v) > 1);
            self.swept_at = self.set.len();
        }
        let shared = Arc::new(value);
        self.set.insert(shared.clone());
        shared
    }
}

/// The labels of a key that has none: one allocation for all of them.
fn no_labels() -> Arc<Labels> {
    static NONE: OnceLock<Arc<Labels>> = OnceLock::new();
    NONE.get_or_init(Arc::default).clone()
}

impl Directory {
    /// A directory of rows read back from a cache: the key index, the consumer table,
    /// and the profiles and label sets their rows share.
    pub fn from_parts(
        keys: KeyIndex,
        consumers: ConsumerTable,
        profiles: Vec<Arc<ConsumerProfile>>,
        label_sets: Vec<Arc<Labels>>,
    ) -> Directory {
        let mut owners = HashMap::new();
        consumers.each_shard(|rows| {
            for row in rows.iter().flatten() {
                for subscription in row.subscriptions.iter().flat_map(|all| all.iter()) {
                    owners.insert(subscription.id.to_string(), row.name.to_string());
                }
            }
        });
        Directory {
            keys,
            consumers,
            subscription_owners: RwLock::new(owners),
            profiles: Mutex::new(Interned::of(profiles)),
            labels: Mutex::new(Interned::of(label_sets)),
        }
    }

    /// The consumer table.
    pub fn consumers(&self) -> &ConsumerTable {
        &self.consumers
    }

    /// Adds or changes a consumer; its keys see the change at once.
    pub fn put_consumer(&self, record: &ConsumerRecord) {
        let profile = consumer_profile(record);
        let profile = self
            .profiles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .intern(profile);
        let changed = profile.clone();
        self.consumers.upsert(
            &record.name,
            || ConsumerRow {
                name: ShortText::new(&record.name),
                profile,
                subscriptions: None,
            },
            |row| row.profile = changed,
        );
    }

    /// Adds or changes a subscription; its consumer's keys see it at once. Returns false
    /// (and adds nothing) when its consumer is unknown.
    pub fn put_subscription(&self, record: &SubscriptionRecord) -> bool {
        let entry = Arc::new(SubscriptionEntry {
            id: record.id.as_str().into(),
            service: record.service.as_str().into(),
            plan: record.plan.as_str().into(),
            status: record.status,
            key_mode: record.key_mode,
            ends_at: record.ends_at.map(system_time),
        });
        let known = self.consumers.update(&record.consumer, |row| {
            let mut subscriptions: Vec<_> = row
                .subscriptions
                .iter()
                .flat_map(|all| all.iter())
                .filter(|s| *s.id != *record.id)
                .cloned()
                .collect();
            subscriptions.push(entry);
            row.subscriptions = Some(Arc::new(subscriptions));
        });
        if known {
            self.subscription_owners
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(record.id.clone(), record.consumer.clone());
        }
        known
    }

    /// Forgets a subscription; returns its consumer's name, if it was known.
    pub fn remove_subscription(&self, id: &str) -> Option<String> {
        let owner = self
            .subscription_owners
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id)?;
        self.consumers.update(&owner, |row| {
            let subscriptions: Vec<_> = row
                .subscriptions
                .iter()
                .flat_map(|all| all.iter())
                .filter(|s| &*s.id != id)
                .cloned()
                .collect();
            row.subscriptions = (!subscriptions.is_empty()).then(|| Arc::new(subscriptions));
        });
        Some(owner)
    }

    /// The consumer named `name` as it is now: a snapshot's anonymous consumers are found
    /// here when it is built (`super::anonymous`), never on the request path.
    pub fn consumer(&self, name: &str) -> Option<ConsumerEntry> {
        let at = self.consumers.find(name)?;
        let shard = self.consumers.read(at);
        // The slot may have changed hands since it was found.
        let row = shard.row(at).filter(|row| &*row.name == name)?;
        Some(ConsumerEntry {
            name: row.name.clone(),
            profile: row.profile.clone(),
            subscriptions: row.subscriptions.clone(),
        })
    }

    /// Forgets a consumer. The store refuses to delete a consumer that still has keys.
    pub fn remove_consumer(&self, name: &str) {
        self.consumers.remove(name);
    }

    /// The number of consumers.
    pub fn consumer_count(&self) -> usize {
        self.consumers.len()
    }

    /// Adds or changes a key. Returns false (and adds nothing) when its consumer is unknown.
    pub fn put_key(&self, record: &KeyRecord) -> bool {
        let Some(consumer) = self.consumers.find(&record.consumer) else {
            return false;
        };
        let labels = (!record.labels.is_empty()).then(|| {
            self.labels
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .intern(record.labels.clone())
        });
        let flag = |on: bool, flag: u8| if on { flag } else { 0 };
        let flags = flag(record.active, ACTIVE)
            | flag(record.revoked_at.is_some(), REVOKED)
            | flag(record.shared, SHARED);
        self.keys.insert(KeyRow {
            hash: KeyHash(record.hash),
            ids: KeyIds::new(&record.id, record.subscription.as_deref()),
            prefix: record.prefix.as_deref().map(ShortText::new),
            labels,
            expires_at: record.expires_at.unwrap_or(NEVER),
            last_used_s: AtomicU32::new(last_used_seconds(record.last_used_at)),
            consumer,
            extras: key_extras(record),
            flags,
        });
        true
    }

    /// Removes a key by hash.
    pub fn remove_key(&self, hash: &[u8; 32]) {
        self.keys.remove(&KeyHash(*hash));
    }

    /// The key with this hash and its consumer, as they are now.
    pub fn get(&self, hash: &KeyHash) -> Option<(Arc<KeyEntry>, KeyState)> {
        self.get_at(hash, millis(SystemTime::now()))
    }

    fn get_at(&self, hash: &KeyHash, now_ms: Millis) -> Option<(Arc<KeyEntry>, KeyState)> {
        // The key's shard stays locked while its consumer is read: a consumer is deleted
        // only after its keys, so the consumer row cannot change owner meanwhile.
        self.keys
            .read(hash, |row| {
                let consumers = self.consumers.read(row.consumer);
                let consumer = consumers.row(row.consumer)?;
                Some((Arc::new(key_entry(row, consumer)), row.state(now_ms)))
            })
            .flatten()
    }

    /// Hashes a presented key and says whether it may be used at `now`.
    pub fn check(&self, presented: &[u8], now: SystemTime) -> KeyCheck {
        match self.get_at(&KeyHash::of(presented), millis(now)) {
            None => KeyCheck::NotFound,
            Some((entry, KeyState::Valid)) => KeyCheck::Valid(entry),
            Some((entry, KeyState::Disabled)) => KeyCheck::Disabled(entry),
            Some((entry, KeyState::Revoked)) => KeyCheck::Revoked(entry),
            Some((entry, KeyState::Expired)) => KeyCheck::Expired(entry),
        }
    }

    /// Visits every key valid at `now` with its consumer, shard by shard (each key's shard
    /// stays locked while its consumer is read, as in [`Directory::get`]). For the admin
    /// API's reports, never the request path.
    pub fn each_valid_key(&self, now: SystemTime, mut visit: impl FnMut(KeyEntry)) {
        let now_ms = millis(now);
        self.keys.each_shard(|rows| {
            for row in rows.iter().flatten() {
                if row.state(now_ms) != KeyState::Valid {
                    continue;
                }
                let consumers = self.consumers.read(row.consumer);
                if let Some(consumer) = consumers.row(row.consumer) {
                    visit(key_entry(row, consumer));
                }
            }
        });
    }

    /// Gives back the room that growing by doubling left unused: called after a full load.
    pub fn shrink_to_fit(&self) {
        self.keys.shrink_to_fit();
        self.consumers.shrink_to_fit();
    }
}

fn consumer_profile(record: &ConsumerRecord) -> ConsumerProfile {
    let client_type = record.client_type.as_deref().unwrap_or(&record.name);
    ConsumerProfile {
        client_type: HeaderText::new(client_type),
        groups: record.groups.clone(),
        permissions: record.permissions.clone(),
        metadata: record.metadata.clone(),
        groups_header: (!record.groups.is_empty())
            .then(|| HeaderText::new(&record.groups.join(",")).header()),
        limits: consumer_limits(record),
    }
}

/// A consumer's limits, from its stored document; one that no longer reads (written by
/// another version) is logged and left out rather than refusing the consumer.
fn consumer_limits(
    record: &ConsumerRecord,
) -> Option<Arc<crate::limits::consumer_doc::ConsumerLimits>> {
    let text = record.limits.as_deref()?;
    match crate::limits::consumer_doc::parse(text) {
        Ok(limits) => Some(Arc::new(limits)),
        Err(error) => {
            tracing::warn!(consumer = %record.name, %error, "the consumer's limits do not read; left out");
            None
        }
    }
}

/// A key's own limits and credits, from its stored document. The admin API checks a
/// document before it is written; one that no longer reads (written by another version)
/// is logged and left out rather than refusing the key.
fn key_extras(record: &KeyRecord) -> Option<Arc<super::KeyExtras>> {
    let text = record.limits.as_deref()?;
    match crate::limits::key_doc::parse(&record.id, text) {
        Ok(extras) => Some(Arc::new(extras)),
        Err(error) => {
            tracing::warn!(key_id = %record.id, %error, "the key's limits do not read; left out");
            None
        }
    }
}

/// What a request keeps of a key row and its consumer's row.
fn key_entry(row: &KeyRow, consumer: &ConsumerRow) -> KeyEntry {
    KeyEntry {
        hash: row.hash,
        id: row.ids.id_text().clone(),
        prefix: row.prefix.clone(),
        active: row.flags & ACTIVE != 0,
        revoked: row.flags & REVOKED != 0,
        shared: row.flags & SHARED != 0,
        expires_at: (row.expires_at != NEVER).then(|| system_time(row.expires_at)),
        labels: row.labels.clone().unwrap_or_else(no_labels),
        subscription: row.ids.subscription().cloned(),
        consumer: ConsumerEntry {
            name: consumer.name.clone(),
            profile: consumer.profile.clone(),
            subscriptions: consumer.subscriptions.clone(),
        },
        last_used_s: row.last_used_s.load(std::sync::atomic::Ordering::Relaxed),
        extras: row.extras.clone(),
    }
}

/// Milliseconds since the epoch as a `SystemTime`.
pub fn system_time(millis: Millis) -> SystemTime {
    if millis >= 0 {
        UNIX_EPOCH + Duration::from_millis(millis.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_millis(millis.unsigned_abs())
    }
}

/// A `SystemTime` as milliseconds since the epoch.
pub fn millis(time: SystemTime) -> Millis {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::state::test_records::{consumer, key};
    use crate::state::KeyCheck;

    #[test]
    fn keys_follow_their_consumer_and_states_are_told_apart() {
        let directory = Directory::default();
        assert!(
            !directory.put_key(&key("k1", "alex", "secret-1")),
            "no consumer yet"
        );
        directory.put_consumer(&consumer("alex", "A"));
        assert!(directory.put_key(&key("k1", "alex", "secret-1")));
        let now = SystemTime::now();
        let KeyCheck::Valid(entry) = directory.check(b"secret-1", now) else {
            panic!("valid expected");
        };
        assert_eq!(&*entry.consumer().profile.client_type, "A");
        assert_eq!(&*entry.consumer().name, "alex");

        directory.put_consumer(&consumer("alex", "B"));
        assert_eq!(
            &*entry.consumer().profile.client_type,
            "A",
            "a request keeps the version it checked"
        );
        let KeyCheck::Valid(again) = directory.check(b"secret-1", now) else {
            panic!("valid expected");
        };
        assert_eq!(
            &*again.consumer().profile.client_type,
            "B",
            "one change of the consumer reaches every key"
        );

        let mut revoked = key("k1", "alex", "secret-1");
        revoked.revoked_at = Some(1);
        directory.put_key(&revoked);
        assert!(matches!(
            directory.check(b"secret-1", now),
            KeyCheck::Revoked(_)
        ));

        let mut expired = key("k2", "alex", "secret-2");
        expired.expires_at = Some(millis(now) - 1);
        directory.put_key(&expired);
        assert!(matches!(
            directory.check(b"secret-2", now),
            KeyCheck::Expired(_)
        ));

        let mut inactive = key("k3", "alex", "secret-3");
        inactive.active = false;
        directory.put_key(&inactive);
        assert!(matches!(
            directory.check(b"secret-3", now),
            KeyCheck::Disabled(_)
        ));

        directory.remove_key(&KeyHash::of(b"secret-1").0);
        assert!(matches!(
            directory.check(b"secret-1", now),
            KeyCheck::NotFound
        ));
        assert_eq!(directory.keys.len(), 2);
    }

    #[test]
    fn equal_profiles_and_labels_are_kept_once() {
        let directory = Directory::default();
        directory.put_consumer(&consumer("alex", "A"));
        directory.put_consumer(&consumer("sam", "A"));
        let mut first = key("k1", "alex", "s1");
        first.labels.insert("env".into(), "prod".into());
        let mut second = key("k2", "sam", "s2");
        second.labels = first.labels.clone();
        directory.put_key(&first);
        directory.put_key(&second);
        let (one, _) = directory.get(&KeyHash::of(b"s1")).unwrap();
        let (two, _) = directory.get(&KeyHash::of(b"s2")).unwrap();
        assert!(Arc::ptr_eq(&one.labels, &two.labels));
        assert!(Arc::ptr_eq(
            &one.consumer().profile,
            &two.consumer().profile
        ));
        assert_eq!(&*two.consumer().name, "sam");
        assert_eq!(two.labels.get("env").map(String::as_str), Some("prod"));
    }

    #[test]
    fn use_is_noted_at_most_once_a_minute() {
        let directory = Directory::default();
        directory.put_consumer(&consumer("alex", "A"));
        directory.put_key(&key("k1", "alex", "s"));
        let hash = KeyHash::of(b"s");
        assert!(directory.keys.mark_used(&hash, 1_000_000));
        assert!(!directory.keys.mark_used(&hash, 1_000_500));
        assert!(directory.keys.mark_used(&hash, 1_061_000));
        let (entry, _) = directory.get(&hash).unwrap();
        assert!(!entry.use_is_news(1_061_000));
        assert!(entry.use_is_news(1_121_000));
    }

    #[test]
    fn subscriptions_follow_their_consumer() {
        let directory = Directory::default();
        directory.put_consumer(&consumer("alex", "A"));
        directory.put_key(&key("k1", "alex", "s"));
        let subscription = |id: &str| SubscriptionRecord {
            id: id.into(),
            consumer: "alex".into(),
            service: "weather".into(),
            plan: "premium".into(),
            status: keygate_store::SubscriptionStatus::Accepted,
            key_mode: keygate_store::KeyMode::Shared,
            ends_at: None,
            created_at: 0,
            updated_at: 0,
            reason: None,
        };
        assert!(directory.put_subscription(&subscription("sub-1")));
        assert!(directory.put_subscription(&subscription("sub-2")));
        assert!(directory.put_subscription(&subscription("sub-1")));
        let mut stranger = subscription("sub-3");
        stranger.consumer = "nobody".into();
        assert!(!directory.put_subscription(&stranger));
        let ids = |d: &Directory| {
            let (entry, _) = d.get(&KeyHash::of(b"s")).unwrap();
            let mut ids: Vec<String> = entry
                .consumer()
                .subscriptions()
                .iter()
                .map(|s| s.id.to_string())
                .collect();
            ids.sort();
            ids
        };
        assert_eq!(ids(&directory), ["sub-1", "sub-2"]);
        directory.remove_subscription("sub-1");
        directory.remove_subscription("sub-2");
        assert!(ids(&directory).is_empty());
    }

    #[test]
    fn time_conversions_round_trip() {
        let now = SystemTime::now();
        let back = system_time(millis(now));
        assert!(now.duration_since(back).unwrap() < Duration::from_millis(1));
        assert_eq!(millis(system_time(-5)), -5);
    }
}
