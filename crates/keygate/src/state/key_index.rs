//! The key index: SHA-256 of a key to its record and consumer, with the identity header
//! values built once so that forwarding a request copies no strings.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::time::SystemTime;

use http::HeaderValue;

use crate::config::Consumer;
use crate::key::KeyHash;

/// A consumer as the data plane sees it.
#[derive(Debug)]
pub struct ConsumerEntry {
    /// Unique name.
    pub name: Arc<str>,
    /// Client type.
    pub client_type: Arc<str>,
    /// Groups.
    pub groups: Vec<String>,
    /// Permissions.
    pub permissions: Vec<String>,
    /// Free-form string map.
    pub metadata: BTreeMap<String, String>,
    /// The name, ready to send upstream.
    pub name_header: HeaderValue,
    /// The client type, ready to send upstream.
    pub client_type_header: HeaderValue,
    /// The groups joined with commas; `None` when there are no groups.
    pub groups_header: Option<HeaderValue>,
}

/// A key as the data plane sees it.
#[derive(Debug)]
pub struct KeyEntry {
    /// Stable id.
    pub id: Arc<str>,
    /// The id, ready to send upstream.
    pub id_header: HeaderValue,
    /// Display prefix, when known.
    pub prefix: Option<Arc<str>>,
    /// Whether the key may be used.
    pub active: bool,
    /// When the key stops working.
    pub expires_at: Option<SystemTime>,
    /// Free-form string map.
    pub labels: BTreeMap<String, String>,
    /// Whose key it is.
    pub consumer: Arc<ConsumerEntry>,
}

/// The outcome of looking a presented key up.
#[derive(Debug)]
pub enum KeyCheck<'a> {
    /// Known, active and not expired.
    Valid(&'a Arc<KeyEntry>),
    /// No key has this hash.
    NotFound,
    /// Known but marked inactive.
    Disabled(&'a Arc<KeyEntry>),
    /// Known but past its expiry.
    Expired(&'a Arc<KeyEntry>),
}

/// Map from key hash to key. SHA-256 output is already uniformly spread, so the map uses
/// its first eight bytes as the hash instead of hashing it again.
#[derive(Debug, Default)]
pub struct KeyIndex {
    by_hash: HashMap<KeyHash, Arc<KeyEntry>, BuildHasherDefault<DigestHasher>>,
}

impl KeyIndex {
    /// Builds the index of every configured key.
    pub fn build(consumers: &[Consumer]) -> KeyIndex {
        let mut index = KeyIndex::default();
        for consumer in consumers {
            let entry = Arc::new(consumer_entry(consumer));
            for key in &consumer.keys {
                let record = KeyEntry {
                    id: key.id.as_str().into(),
                    id_header: header_value(&key.id),
                    prefix: key.prefix.as_deref().map(Arc::from),
                    active: key.active,
                    expires_at: key.expires_at,
                    labels: key.labels.clone(),
                    consumer: entry.clone(),
                };
                index.insert(key.hash, Arc::new(record));
            }
        }
        index
    }

    /// Adds or replaces one key: O(1), no rebuild.
    pub fn insert(&mut self, hash: KeyHash, entry: Arc<KeyEntry>) {
        self.by_hash.insert(hash, entry);
    }

    /// Removes one key: O(1).
    pub fn remove(&mut self, hash: &KeyHash) -> Option<Arc<KeyEntry>> {
        self.by_hash.remove(hash)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether no key is known.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// Hashes a presented key and says whether it may be used at `now`.
    pub fn check(&self, presented: &[u8], now: SystemTime) -> KeyCheck<'_> {
        match self.by_hash.get(&KeyHash::of(presented)) {
            None => KeyCheck::NotFound,
            Some(entry) if !entry.active => KeyCheck::Disabled(entry),
            Some(entry) if entry.expires_at.is_some_and(|at| at <= now) => KeyCheck::Expired(entry),
            Some(entry) => KeyCheck::Valid(entry),
        }
    }
}

impl KeyCheck<'_> {
    /// Whether the key may be used.
    pub fn is_valid(&self) -> bool {
        matches!(self, KeyCheck::Valid(_))
    }
}

fn consumer_entry(consumer: &Consumer) -> ConsumerEntry {
    ConsumerEntry {
        name: consumer.name.as_str().into(),
        client_type: consumer.client_type.as_str().into(),
        groups: consumer.groups.clone(),
        permissions: consumer.permissions.clone(),
        metadata: consumer.metadata.clone(),
        name_header: header_value(&consumer.name),
        client_type_header: header_value(&consumer.client_type),
        groups_header: (!consumer.groups.is_empty())
            .then(|| header_value(&consumer.groups.join(","))),
    }
}

/// Config checking guarantees names, client types, groups and ids are header-safe; should
/// one slip through, it is sent empty rather than failing the request.
fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A hasher for keys that are already cryptographic digests.
#[derive(Default)]
pub struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut first = [0u8; 8];
        let take = bytes.len().min(8);
        first[..take].copy_from_slice(&bytes[..take]);
        self.0 ^= u64::from_le_bytes(first);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::Config;

    fn index() -> KeyIndex {
        let config =
            Config::parse("t.yaml", include_str!("../../../../examples/keygate.yaml")).unwrap();
        KeyIndex::build(&config.consumers)
    }

    #[test]
    fn finds_valid_disabled_expired_and_unknown_keys() {
        let index = index();
        let now = SystemTime::now();
        match index.check(b"ec8e8fa78d4e271b368d", now) {
            KeyCheck::Valid(entry) => {
                assert_eq!(&*entry.consumer.name, "alex");
                assert_eq!(entry.consumer.client_type_header, "A");
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(index.check(b"bob-key-0123456789abcdef", now), KeyCheck::Valid(e) if e.consumer.groups_header.as_ref().unwrap() == "admin")
        );
        assert!(matches!(
            index.check(b"carol-inactive-key-01", now),
            KeyCheck::Disabled(_)
        ));
        assert!(matches!(
            index.check(b"carol-expired-key-01", now),
            KeyCheck::Expired(_)
        ));
        assert!(matches!(index.check(b"nope", now), KeyCheck::NotFound));
    }

    #[test]
    fn expiry_is_judged_at_the_given_instant() {
        let mut index = index();
        let hash = KeyHash::of(b"later");
        let alex = match index.check(b"ec8e8fa78d4e271b368d", SystemTime::now()) {
            KeyCheck::Valid(entry) => entry.consumer.clone(),
            other => panic!("{other:?}"),
        };
        let expires = SystemTime::now() + Duration::from_secs(60);
        index.insert(
            hash,
            Arc::new(KeyEntry {
                id: "later".into(),
                id_header: HeaderValue::from_static("later"),
                prefix: None,
                active: true,
                expires_at: Some(expires),
                labels: BTreeMap::new(),
                consumer: alex,
            }),
        );
        assert!(matches!(
            index.check(b"later", SystemTime::now()),
            KeyCheck::Valid(_)
        ));
        assert!(matches!(
            index.check(b"later", expires),
            KeyCheck::Expired(_)
        ));
        assert!(index.remove(&hash).is_some());
        assert!(matches!(
            index.check(b"later", SystemTime::now()),
            KeyCheck::NotFound
        ));
    }
}
