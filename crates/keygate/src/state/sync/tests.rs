//! Catch-up against a store that fails on demand: a failed read must not lose the rest
//! of a write, nor a pending rebuild of the routes; a key whose hash changed must leave
//! the index under its old hash.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use keygate_store::sqlite::SqliteStore;
use keygate_store::{
    BatchOp, Change, ConsumerRecord, Entity, KeyMode, KeyRecord, Millis, Origin, Page, Result,
    ServiceRecord, Store, StoreError, SubscriptionRecord, SubscriptionStatus, Written,
};

use super::StoreSync;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::state::test_records;

/// SQLite, except that `key` and `services` fail once each when told to.
struct Flaky {
    inner: SqliteStore,
    fail_key: AtomicBool,
    fail_services: AtomicBool,
}

fn injected() -> StoreError {
    StoreError::Unavailable("injected failure".into())
}

impl keygate_store::AccountStore for Flaky {
    fn put_account(&self, account: &keygate_store::AccountRecord) -> Result<()> {
        self.inner.put_account(account)
    }
    fn account(&self, name: &str) -> Result<Option<keygate_store::AccountRecord>> {
        self.inner.account(name)
    }
    fn accounts(&self, page: &Page) -> Result<Vec<keygate_store::AccountRecord>> {
        self.inner.accounts(page)
    }
    fn delete_account(&self, name: &str) -> Result<()> {
        self.inner.delete_account(name)
    }
    fn insert_account_token(&self, token: &keygate_store::AccountTokenRecord) -> Result<()> {
        self.inner.insert_account_token(token)
    }
    fn account_token(&self, id: &str) -> Result<Option<keygate_store::AccountTokenRecord>> {
        self.inner.account_token(id)
    }
    fn account_token_by_hash(
        &self,
        hash: &[u8; 32],
    ) -> Result<Option<keygate_store::AccountTokenRecord>> {
        self.inner.account_token_by_hash(hash)
    }
    fn account_tokens(
        &self,
        account: Option<&str>,
        page: &Page,
    ) -> Result<Vec<keygate_store::AccountTokenRecord>> {
        self.inner.account_tokens(account, page)
    }
    fn revoke_account_token(&self, id: &str, at: Millis) -> Result<()> {
        self.inner.revoke_account_token(id, at)
    }
    fn owner(&self, kind: keygate_store::OwnedKind, name: &str) -> Result<Option<String>> {
        self.inner.owner(kind, name)
    }
    fn set_owner(
        &self,
        kind: keygate_store::OwnedKind,
        name: &str,
        account: Option<&str>,
    ) -> Result<()> {
        self.inner.set_owner(kind, name, account)
    }
    fn owned(
        &self,
        kind: keygate_store::OwnedKind,
        account: &str,
        page: &Page,
    ) -> Result<Vec<String>> {
        self.inner.owned(kind, account, page)
    }
    fn append_audit(&self, record: &keygate_store::AuditRecord) -> Result<i64> {
        self.inner.append_audit(record)
    }
    fn audit(&self, query: &keygate_store::AuditQuery) -> Result<Vec<keygate_store::AuditRecord>> {
        self.inner.audit(query)
    }
}

impl Store for Flaky {
    fn revision(&self) -> Result<u64> {
        self.inner.revision()
    }
    fn load(&self, visit: &mut dyn FnMut(Entity)) -> Result<u64> {
        self.inner.load(visit)
    }
    fn changes_since(&self, revision: u64) -> Result<Vec<Change>> {
        self.inner.changes_since(revision)
    }
    fn put_consumer(&self, consumer: &ConsumerRecord) -> Result<Written> {
        self.inner.put_consumer(consumer)
    }
    fn consumer(&self, name: &str) -> Result<Option<ConsumerRecord>> {
        self.inner.consumer(name)
    }
    fn consumers(&self, page: &Page) -> Result<Vec<ConsumerRecord>> {
        self.inner.consumers(page)
    }
    fn delete_consumer(&self, name: &str) -> Result<u64> {
        self.inner.delete_consumer(name)
    }
    fn insert_key(&self, key: &KeyRecord) -> Result<u64> {
        self.inner.insert_key(key)
    }
    fn put_key(&self, key: &KeyRecord) -> Result<Written> {
        self.inner.put_key(key)
    }
    fn update_key(&self, key: &KeyRecord) -> Result<u64> {
        self.inner.update_key(key)
    }
    fn key(&self, id: &str) -> Result<Option<KeyRecord>> {
        if self.fail_key.swap(false, Ordering::SeqCst) {
            return Err(injected());
        }
        self.inner.key(id)
    }
    fn keys(&self, consumer: Option<&str>, page: &Page) -> Result<Vec<KeyRecord>> {
        self.inner.keys(consumer, page)
    }
    fn delete_key(&self, id: &str) -> Result<u64> {
        self.inner.delete_key(id)
    }
    fn renew_key(&self, old_id: &str, old_expires_at: Millis, new: &KeyRecord) -> Result<u64> {
        self.inner.renew_key(old_id, old_expires_at, new)
    }
    fn put_service(&self, service: &ServiceRecord) -> Result<Written> {
        self.inner.put_service(service)
    }
    fn service(&self, name: &str) -> Result<Option<ServiceRecord>> {
        self.inner.service(name)
    }
    fn services(&self, page: &Page) -> Result<Vec<ServiceRecord>> {
        if self.fail_services.swap(false, Ordering::SeqCst) {
            return Err(injected());
        }
        self.inner.services(page)
    }
    fn delete_service(&self, name: &str) -> Result<u64> {
        self.inner.delete_service(name)
    }
    fn apply_batch(&self, ops: &[BatchOp<'_>], setting: Option<(&str, &str)>) -> Result<u64> {
        self.inner.apply_batch(ops, setting)
    }
    fn insert_subscription(
        &self,
        subscription: &SubscriptionRecord,
        key: Option<&KeyRecord>,
    ) -> Result<u64> {
        self.inner.insert_subscription(subscription, key)
    }
    fn update_subscription(
        &self,
        subscription: &SubscriptionRecord,
        expected: SubscriptionStatus,
    ) -> Result<u64> {
        self.inner.update_subscription(subscription, expected)
    }
    fn update_subscription_with_key(
        &self,
        subscription: &SubscriptionRecord,
        expected: SubscriptionStatus,
        ended: &[String],
        ended_at: Millis,
        new: &KeyRecord,
    ) -> Result<u64> {
        self.inner
            .update_subscription_with_key(subscription, expected, ended, ended_at, new)
    }
    fn subscription(&self, id: &str) -> Result<Option<SubscriptionRecord>> {
        self.inner.subscription(id)
    }
    fn subscriptions(
        &self,
        consumer: Option<&str>,
        service: Option<&str>,
        page: &Page,
    ) -> Result<Vec<SubscriptionRecord>> {
        self.inner.subscriptions(consumer, service, page)
    }
    fn delete_subscription(&self, id: &str) -> Result<u64> {
        self.inner.delete_subscription(id)
    }
    fn setting(&self, name: &str) -> Result<Option<String>> {
        self.inner.setting(name)
    }
    fn record_last_used(&self, uses: &[(String, Millis)]) -> Result<()> {
        self.inner.record_last_used(uses)
    }

    fn add_counts(&self, deltas: &[keygate_store::CounterRow], now: Millis) -> Result<()> {
        self.inner.add_counts(deltas, now)
    }

    fn counts(&self, since: Millis, now: Millis) -> Result<Vec<keygate_store::CounterRow>> {
        self.inner.counts(since, now)
    }

    fn add_usage(&self, rows: &[keygate_store::UsageRow]) -> Result<()> {
        self.inner.add_usage(rows)
    }

    fn usage(&self, query: &keygate_store::UsageQuery) -> Result<Vec<keygate_store::UsageRow>> {
        self.inner.usage(query)
    }

    fn delete_usage_before(&self, before: Millis) -> Result<u64> {
        self.inner.delete_usage_before(before)
    }
}

fn key(id: &str, plaintext: &str) -> KeyRecord {
    test_records::key(id, "c", plaintext)
}

fn start() -> (Arc<Flaky>, StoreSync) {
    let store = Arc::new(Flaky {
        inner: SqliteStore::open_in_memory().unwrap(),
        fail_key: AtomicBool::new(false),
        fail_services: AtomicBool::new(false),
    });
    store
        .put_consumer(&ConsumerRecord {
            client_type: None,
            groups: Vec::new(),
            ..test_records::consumer("c", "c")
        })
        .unwrap();
    let config = Config::parse("t.yaml", "services: []\n").unwrap();
    let sync = StoreSync::start(store.clone(), config, Arc::new(Metrics::new(false))).unwrap();
    (store, sync)
}

/// Whether a request with `plaintext` as its key would be let in.
pub(super) fn works(sync: &StoreSync, plaintext: &str) -> bool {
    sync.state()
        .directory
        .check(plaintext.as_bytes(), SystemTime::now())
        .is_valid()
}

#[test]
fn a_failed_read_inside_one_write_is_retried_in_full() {
    let (store, sync) = start();
    let subscription = SubscriptionRecord {
        id: "s1".into(),
        consumer: "c".into(),
        service: "svc".into(),
        plan: "p".into(),
        status: SubscriptionStatus::Accepted,
        key_mode: KeyMode::Own,
        ends_at: None,
        created_at: 0,
        updated_at: 0,
        reason: None,
    };
    let own = KeyRecord {
        subscription: Some("s1".into()),
        ..key("k1", "key-of-s1-0001")
    };
    // One revision, two changes: the subscription, then its key, whose read fails.
    store
        .insert_subscription(&subscription, Some(&own))
        .unwrap();
    store.fail_key.store(true, Ordering::SeqCst);
    assert!(sync.catch_up().is_err());
    assert!(!works(&sync, "key-of-s1-0001"));
    sync.catch_up().unwrap();
    assert!(
        works(&sync, "key-of-s1-0001"),
        "the key of the failed write"
    );
}

#[test]
fn routes_stay_due_for_a_rebuild_after_a_failure() {
    let (store, sync) = start();
    let document = r#"{"name":"svc","upstream":"http://127.0.0.1:9","routes":[{"name":"all","paths":["/*"]}]}"#;
    store
        .put_service(&ServiceRecord {
            name: "svc".into(),
            document: document.into(),
            origin: Origin::Api,
            updated_at: 0,
        })
        .unwrap();
    store.fail_services.store(true, Ordering::SeqCst);
    assert!(sync.catch_up().is_err());
    assert!(sync.state().load().services.is_empty());
    sync.catch_up().unwrap();
    assert_eq!(
        sync.state().load().services.len(),
        1,
        "rebuilt after the failure"
    );
}

#[test]
fn a_key_whose_hash_changes_leaves_its_old_hash() {
    let (store, sync) = start();
    store.insert_key(&key("k1", "first-value-0001")).unwrap();
    sync.catch_up().unwrap();
    assert!(works(&sync, "first-value-0001"));
    store.put_key(&key("k1", "second-value-0002")).unwrap();
    sync.catch_up().unwrap();
    assert!(works(&sync, "second-value-0002"));
    assert!(!works(&sync, "first-value-0001"), "the old value is gone");
}
