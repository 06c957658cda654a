//! Who may call: consumers and their keys, built from store records and changed one
//! record at a time as the store reports changes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::Hash;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use keygate_store::{ConsumerRecord, KeyRecord, Millis, SubscriptionRecord};

use super::key_index::{
    ConsumerCell, ConsumerEntry, ConsumerProfile, HeaderText, KeyEntry, KeyIndex, ShortText,
    SubscriptionEntry,
};
use crate::key::KeyHash;

/// Consumers by name and keys by hash.
#[derive(Default, Debug)]
pub struct Directory {
    /// Keys by hash: what the request path reads.
    pub keys: KeyIndex,
    consumers: RwLock<HashMap<Box<str>, Arc<ConsumerCell>>>,
    /// The consumer of each subscription, to find it again when it is deleted.
    subscription_owners: RwLock<HashMap<String, String>>,
    /// One copy of each consumer profile in use: consumers of the same kind share it.
    profiles: Mutex<Interned<ConsumerProfile>>,
    /// One copy of each set of key labels in use: keys with the same labels share it.
    labels: Mutex<Interned<Labels>>,
}

/// A key's labels.
type Labels = BTreeMap<String, String>;

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

/// The subscriptions of a consumer that has none: one allocation for all of them.
fn no_subscriptions() -> Arc<[Arc<SubscriptionEntry>]> {
    static NONE: OnceLock<Arc<[Arc<SubscriptionEntry>]>> = OnceLock::new();
    NONE.get_or_init(|| Arc::new([])).clone()
}

impl Directory {
    /// Adds or changes a consumer; its keys see the change at once.
    pub fn put_consumer(&self, record: &ConsumerRecord) {
        let profile = consumer_profile(record);
        let profile = self
            .profiles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .intern(profile);
        let mut entry = ConsumerEntry {
            name: HeaderText::new(&record.name),
            profile,
            subscriptions: no_subscriptions(),
        };
        let mut consumers = self.consumers.write().unwrap_or_else(|e| e.into_inner());
        match consumers.get(record.name.as_str()) {
            Some(cell) => {
                entry.subscriptions = cell.load().subscriptions.clone();
                cell.store(Arc::new(entry));
            }
            None => {
                consumers.insert(
                    record.name.as_str().into(),
                    Arc::new(ArcSwap::from_pointee(entry)),
                );
            }
        }
    }

    /// Adds or changes a subscription; its consumer's keys see it at once. Returns false
    /// (and adds nothing) when its consumer is unknown.
    pub fn put_subscription(&self, record: &SubscriptionRecord) -> bool {
        let consumers = self.consumers.read().unwrap_or_else(|e| e.into_inner());
        let Some(cell) = consumers.get(record.consumer.as_str()) else {
            return false;
        };
        let entry = Arc::new(SubscriptionEntry {
            id: record.id.as_str().into(),
            service: record.service.as_str().into(),
            plan: record.plan.as_str().into(),
            status: record.status,
            key_mode: record.key_mode,
            ends_at: record.ends_at.map(system_time),
        });
        let current = cell.load_full();
        let mut subscriptions: Vec<_> = current
            .subscriptions
            .iter()
            .filter(|s| *s.id != *record.id)
            .cloned()
            .collect();
        subscriptions.push(entry);
        cell.store(Arc::new(ConsumerEntry {
            subscriptions: subscriptions.into(),
            ..(*current).clone()
        }));
        self.subscription_owners
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(record.id.clone(), record.consumer.clone());
        true
    }

    /// Forgets a subscription.
    pub fn remove_subscription(&self, id: &str) {
        let owner = self
            .subscription_owners
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        let Some(owner) = owner else {
            return;
        };
        let consumers = self.consumers.read().unwrap_or_else(|e| e.into_inner());
        if let Some(cell) = consumers.get(owner.as_str()) {
            let current = cell.load_full();
            let subscriptions: Vec<_> = current
                .subscriptions
                .iter()
                .filter(|s| &*s.id != id)
                .cloned()
                .collect();
            cell.store(Arc::new(ConsumerEntry {
                subscriptions: subscriptions.into(),
                ..(*current).clone()
            }));
        }
    }

    /// Forgets a consumer. The store refuses to delete a consumer that still has keys.
    pub fn remove_consumer(&self, name: &str) {
        let mut consumers = self.consumers.write().unwrap_or_else(|e| e.into_inner());
        consumers.remove(name);
    }

    /// The number of consumers.
    pub fn consumer_count(&self) -> usize {
        self.consumers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Adds or changes a key. Returns false (and adds nothing) when its consumer is unknown.
    pub fn put_key(&self, record: &KeyRecord) -> bool {
        let consumer = {
            let consumers = self.consumers.read().unwrap_or_else(|e| e.into_inner());
            consumers.get(record.consumer.as_str()).cloned()
        };
        let Some(consumer) = consumer else {
            return false;
        };
        let labels = if record.labels.is_empty() {
            no_labels()
        } else {
            self.labels
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .intern(record.labels.clone())
        };
        self.keys
            .insert(Arc::new(key_entry(record, consumer, labels)));
        true
    }

    /// Removes a key by hash.
    pub fn remove_key(&self, hash: &[u8; 32]) {
        self.keys.remove(&KeyHash(*hash));
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
    }
}

fn key_entry(record: &KeyRecord, consumer: Arc<ConsumerCell>, labels: Arc<Labels>) -> KeyEntry {
    KeyEntry {
        hash: KeyHash(record.hash),
        id: HeaderText::new(&record.id),
        prefix: record.prefix.as_deref().map(ShortText::new),
        active: record.active,
        revoked: record.revoked_at.is_some(),
        shared: record.shared,
        expires_at: record.expires_at.map(system_time),
        labels,
        consumer,
        subscription: record.subscription.as_deref().map(Arc::from),
        last_used_ms: AtomicI64::new(record.last_used_at.unwrap_or(0)),
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
    use std::collections::BTreeMap;

    use keygate_store::Origin;

    use super::*;
    use crate::state::KeyCheck;

    fn consumer(name: &str, client_type: &str) -> ConsumerRecord {
        ConsumerRecord {
            name: name.into(),
            client_type: Some(client_type.into()),
            groups: vec!["admin".into()],
            permissions: Vec::new(),
            description: None,
            metadata: BTreeMap::new(),
            origin: Origin::Api,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn key(id: &str, consumer: &str, plaintext: &str) -> KeyRecord {
        KeyRecord {
            id: id.into(),
            consumer: consumer.into(),
            hash: KeyHash::of(plaintext.as_bytes()).0,
            prefix: None,
            active: true,
            description: None,
            labels: BTreeMap::new(),
            origin: Origin::Api,
            created_at: 0,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
            subscription: None,
            shared: false,
        }
    }

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
        let KeyCheck::Valid(entry) = directory.keys.check(b"secret-1", now) else {
            panic!("valid expected");
        };
        assert_eq!(&*entry.consumer().profile.client_type, "A");

        directory.put_consumer(&consumer("alex", "B"));
        assert_eq!(
            &*entry.consumer().profile.client_type,
            "B",
            "one store reaches every key"
        );

        let mut revoked = key("k1", "alex", "secret-1");
        revoked.revoked_at = Some(1);
        directory.put_key(&revoked);
        assert!(matches!(
            directory.keys.check(b"secret-1", now),
            KeyCheck::Revoked(_)
        ));

        let mut expired = key("k2", "alex", "secret-2");
        expired.expires_at = Some(millis(now) - 1);
        directory.put_key(&expired);
        assert!(matches!(
            directory.keys.check(b"secret-2", now),
            KeyCheck::Expired(_)
        ));

        let mut inactive = key("k3", "alex", "secret-3");
        inactive.active = false;
        directory.put_key(&inactive);
        assert!(matches!(
            directory.keys.check(b"secret-3", now),
            KeyCheck::Disabled(_)
        ));

        directory.remove_key(&KeyHash::of(b"secret-1").0);
        assert!(matches!(
            directory.keys.check(b"secret-1", now),
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
        let one = directory.keys.get(&KeyHash::of(b"s1")).unwrap();
        let two = directory.keys.get(&KeyHash::of(b"s2")).unwrap();
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
        let entry = directory.keys.get(&KeyHash::of(b"s")).unwrap();
        assert!(entry.mark_used(1_000_000));
        assert!(!entry.mark_used(1_000_500));
        assert!(entry.mark_used(1_061_000));
    }

    #[test]
    fn time_conversions_round_trip() {
        let now = SystemTime::now();
        let back = system_time(millis(now));
        assert!(now.duration_since(back).unwrap() < Duration::from_millis(1));
        assert_eq!(millis(system_time(-5)), -5);
    }
}
