//! keygate's entities and where they are kept.
//!
//! [`Store`] is the interface the gateway uses; [`sqlite::SqliteStore`] is the embedded
//! default. Every write bumps a revision and appends a [`Change`] in the same transaction,
//! so a node can catch up with `changes_since(revision)` instead of reloading everything.
//! A write that changes nothing (the same record again) bumps nothing.

mod accounts;
/// A test suite every [`Store`] implementation must pass.
pub mod conformance;
mod error;
mod model;
/// The PostgreSQL store, for several gateway nodes sharing one database.
pub mod postgres;
pub mod sqlite;
mod stored_forms;
mod usage;

pub use accounts::{
    AccountRecord, AccountStore, AccountTokenRecord, AuditQuery, AuditRecord, OwnedKind, Role,
};
pub use error::StoreError;
pub use model::{
    Change, ChangeKind, ConsumerRecord, CounterRow, Entity, KeyMode, KeyRecord, Millis, Origin,
    Page, ServiceRecord, SubscriptionRecord, SubscriptionStatus, Written,
};
pub use usage::{UsageQuery, UsageRow, DAY_MS, HOUR_MS};

/// One put of a batch; see [`Store::apply_batch`].
#[derive(Debug, Clone, Copy)]
pub enum BatchOp<'a> {
    /// Creates or replaces a consumer.
    PutConsumer(&'a ConsumerRecord),
    /// Creates or replaces a key.
    PutKey(&'a KeyRecord),
    /// Creates or replaces a service.
    PutService(&'a ServiceRecord),
}

/// Result of a store operation.
pub type Result<T> = std::result::Result<T, StoreError>;

/// The storage interface. Calls block: the gateway runs them off its request threads.
/// Implementations must be safe to call from several threads at once.
pub trait Store: AccountStore + Send + Sync + 'static {
    /// The current revision: 0 for a new store, then +1 per effective write.
    fn revision(&self) -> Result<u64>;

    /// Streams every entity — consumers, keys, services, then subscriptions — from one consistent
    /// read, and returns the revision that read saw. Streaming keeps memory flat for a
    /// million keys.
    fn load(&self, visit: &mut dyn FnMut(Entity)) -> Result<u64>;

    /// The changes committed after `revision`, oldest first.
    fn changes_since(&self, revision: u64) -> Result<Vec<Change>>;

    /// Creates or replaces a consumer by name. `created_at` of an existing consumer is kept.
    fn put_consumer(&self, consumer: &ConsumerRecord) -> Result<Written>;
    /// One consumer.
    fn consumer(&self, name: &str) -> Result<Option<ConsumerRecord>>;
    /// Consumers ordered by name, after `page.after`, at most `page.limit`.
    fn consumers(&self, page: &Page) -> Result<Vec<ConsumerRecord>>;
    /// Deletes a consumer. `NotFound` when absent; `Conflict` while it still has keys or
    /// subscriptions.
    fn delete_consumer(&self, name: &str) -> Result<u64>;

    /// Adds a key. `NotFound` when its consumer is absent; `Conflict` when its id or hash
    /// is already used.
    fn insert_key(&self, key: &KeyRecord) -> Result<u64>;
    /// Creates or replaces a key by id (used to apply the configuration file). `Conflict`
    /// when another key has the same hash.
    fn put_key(&self, key: &KeyRecord) -> Result<Written>;
    /// Replaces an existing key's mutable fields (`active`, `description`, `labels`,
    /// `expires_at`, `revoked_at`). `NotFound` when absent.
    fn update_key(&self, key: &KeyRecord) -> Result<u64>;
    /// One key by id.
    fn key(&self, id: &str) -> Result<Option<KeyRecord>>;
    /// Keys ordered by id, optionally of one consumer, after `page.after`, at most
    /// `page.limit`.
    fn keys(&self, consumer: Option<&str>, page: &Page) -> Result<Vec<KeyRecord>>;
    /// Deletes a key. `NotFound` when absent.
    fn delete_key(&self, id: &str) -> Result<u64>;
    /// In one transaction: sets the old key's `expires_at` and adds the new key.
    fn renew_key(&self, old_id: &str, old_expires_at: Millis, new: &KeyRecord) -> Result<u64>;

    /// Creates or replaces a service by name.
    fn put_service(&self, service: &ServiceRecord) -> Result<Written>;
    /// One service.
    fn service(&self, name: &str) -> Result<Option<ServiceRecord>>;
    /// Services ordered by name, after `page.after`, at most `page.limit`.
    fn services(&self, page: &Page) -> Result<Vec<ServiceRecord>>;
    /// Deletes a service. `NotFound` when absent.
    fn delete_service(&self, name: &str) -> Result<u64>;

    /// Applies many puts in ONE transaction — all or nothing, one commit — and then stores
    /// `setting` (name, value) in the same transaction. Used to apply the configuration
    /// file: a million keys cost one commit, not a million. A put of an entity of origin
    /// `File` over one of origin `Api` is refused with `Conflict`. Returns the revision.
    fn apply_batch(&self, ops: &[BatchOp<'_>], setting: Option<(&str, &str)>) -> Result<u64>;

    /// Adds a subscription and, when given, the key issued with it, in one transaction
    /// (one revision; the subscription's change, then the key's). `NotFound` when its
    /// consumer is absent; `Conflict` when its id, or the key's id or hash, is used.
    fn insert_subscription(
        &self,
        subscription: &SubscriptionRecord,
        key: Option<&KeyRecord>,
    ) -> Result<u64>;
    /// Replaces an existing subscription's mutable fields (`status`, `ends_at`,
    /// `updated_at`, `reason`) — only while its stored status is `expected`, checked in
    /// the write's own transaction, so two transitions racing (on one node or several)
    /// cannot both win. `NotFound` when absent; `Conflict` when the status is no longer
    /// `expected`.
    fn update_subscription(
        &self,
        subscription: &SubscriptionRecord,
        expected: SubscriptionStatus,
    ) -> Result<u64>;
    /// `update_subscription` and the key change that goes with it, in one transaction
    /// (one revision): each key of `ended` gets `expires_at = ended_at` (as `renew_key`
    /// does to its old key), then `new` is added. Changes are logged in that order: the
    /// subscription's (when its fields changed), the ended keys', the new key's. All or
    /// nothing: `NotFound` when the
    /// subscription or an ended key is absent; `Conflict` when the status is no longer
    /// `expected`, or the new key's id or hash is used. (Accepting a subscription with a
    /// custom key: the key made with it gives way to the custom one.)
    fn update_subscription_with_key(
        &self,
        subscription: &SubscriptionRecord,
        expected: SubscriptionStatus,
        ended: &[String],
        ended_at: Millis,
        new: &KeyRecord,
    ) -> Result<u64>;
    /// One subscription by id.
    fn subscription(&self, id: &str) -> Result<Option<SubscriptionRecord>>;
    /// Subscriptions ordered by id, optionally of one consumer and/or one service, after
    /// `page.after`, at most `page.limit`.
    fn subscriptions(
        &self,
        consumer: Option<&str>,
        service: Option<&str>,
        page: &Page,
    ) -> Result<Vec<SubscriptionRecord>>;
    /// Deletes a subscription (its key stays; delete it separately). `NotFound` when
    /// absent.
    fn delete_subscription(&self, id: &str) -> Result<u64>;

    /// A named setting stored with [`Store::apply_batch`].
    fn setting(&self, name: &str) -> Result<Option<String>>;

    /// Records when keys were last used. Bumps no revision and appends no change: this is
    /// bookkeeping, written in batches, never once per request.
    fn record_last_used(&self, uses: &[(String, Millis)]) -> Result<()>;

    /// Adds each row's `used` (a delta) to its stored counter, creating it at the delta,
    /// in one transaction, and stamps the rows changed at `now` — as
    /// `UPDATE … SET used = used + delta`, so the deltas of several nodes add up. Bumps no
    /// revision.
    fn add_counts(&self, deltas: &[CounterRow], now: Millis) -> Result<()>;

    /// The counters changed at or after `changed_since` whose `keep_until` is after
    /// `now`, with their totals (0 for `changed_since` reads them all).
    fn counts(&self, changed_since: Millis, now: Millis) -> Result<Vec<CounterRow>>;

    /// Adds each row's `count` (a delta) to the stored count of its hour, key, service and
    /// outcome, creating it at the delta, in one transaction — so the counts of several
    /// nodes add up. Bumps no revision.
    fn add_usage(&self, rows: &[UsageRow]) -> Result<()>;

    /// The usage counts `query` asks for, summed per bucket and grouped as it says,
    /// ordered by bucket start, consumer, key id, service and outcome.
    fn usage(&self, query: &UsageQuery) -> Result<Vec<UsageRow>>;

    /// Deletes the usage counts of hours starting before `before` (ms); returns how many
    /// rows went.
    fn delete_usage_before(&self, before: Millis) -> Result<u64>;
}
