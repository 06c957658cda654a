//! The embedded SQLite store.
//!
//! One database file holds everything. It runs in write-ahead-log mode with full sync: a
//! write returns only once its commit is durable, so a crash right after keeps it.
//! Every effective write is one transaction that changes the data, bumps the revision
//! once and appends one `change_log` row per entity it touched, all under that revision:
//!
//! - most writes touch one entity and append one row;
//! - [`Store::renew_key`] appends the old key, then the new one;
//! - [`Store::put_key`] that changes a key's hash appends the key deleted under its old
//!   hash, then the key under its new hash, so an index by hash can drop the old entry;
//! - [`SqliteStore::insert_keys_batch`] appends one row per key.
//!
//! One connection behind a mutex serves every call. Writes of single entities go through
//! [group commit](group_commit): writes from several threads that arrive together share
//! one transaction and one fsync, each in its own savepoint, with its own revision, its
//! own change-log rows and its own result. Bulk writes run in a transaction of their own.
//!
//! A database file serves one process, which locks it, and is readable by its owner only
//! ([files]).

mod codec;
mod errors;
pub mod files;
mod group_commit;
mod schema;

use std::fmt;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{params, Connection, OpenFlags, Params, Row, Transaction, TransactionBehavior};

use self::codec::{consumer_columns, key_columns, service_columns, subscription_columns};
use self::errors::{corrupt, key_write, not_found, OrStore};
use self::group_commit::GroupCommit;
use crate::{
    BatchOp, Change, ChangeKind, ConsumerRecord, Entity, KeyRecord, Millis, Origin, Page, Result,
    ServiceRecord, Store, StoreError, SubscriptionRecord, SubscriptionStatus, Written,
};

/// The SQLite implementation of [`Store`].
pub struct SqliteStore {
    /// The only connection.
    conn: Mutex<Connection>,
    /// The file, or `:memory:`, for messages.
    location: String,
    /// Writes waiting to share a transaction.
    group: GroupCommit,
    /// The file's lock, held while the store is open; none in memory. Declared last: it
    /// is released after the connection is closed.
    _lock: Option<files::FileLock>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// Where a store URL points.
#[derive(Debug, PartialEq, Eq)]
enum Location<'a> {
    /// A private in-memory database.
    Memory,
    /// A database file.
    File(&'a Path),
}

/// The store URL forms, for messages.
const URL_FORMS: &str = "`sqlite://relative/path.db`, `sqlite:///absolute/path.db` or \
                         `sqlite::memory:`";

/// Parses a store URL. Errors never repeat the URL: it may hold a password.
fn parse_url(url: &str) -> Result<Location<'_>> {
    if url == "sqlite::memory:" {
        return Ok(Location::Memory);
    }
    match url.strip_prefix("sqlite://") {
        Some("") => Err(StoreError::Unavailable(format!(
            "the store URL names no database file; expected {URL_FORMS}"
        ))),
        Some(path) => Ok(Location::File(Path::new(path))),
        None => Err(StoreError::Unavailable(match url.split_once(':') {
            Some(("sqlite", _)) => format!("malformed SQLite store URL; expected {URL_FORMS}"),
            Some((scheme, _)) if !scheme.is_empty() && !scheme.contains(['/', '\\']) => format!(
                "unsupported store URL scheme `{scheme}`: this build supports SQLite only; \
                 expected {URL_FORMS}"
            ),
            _ => format!("the store URL has no scheme; expected {URL_FORMS}"),
        })),
    }
}

impl SqliteStore {
    /// Opens (creating it when absent, mode 0600) the database file at `path`, as given:
    /// its directory must exist. Refuses a file another process has open (see [files]);
    /// brings the schema up to date; refuses a database written by a newer version.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let lock = files::claim(path)?;
        let location = path.display().to_string();
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| {
            StoreError::Unavailable(format!("cannot open the database `{location}`: {e}"))
        })?;
        Self::start(conn, location, Some(lock))
    }

    /// Opens a new, private, in-memory database, lost when the store is dropped.
    pub fn open_in_memory() -> Result<SqliteStore> {
        let conn = Connection::open_in_memory().map_err(|e| {
            StoreError::Unavailable(format!("cannot open an in-memory database: {e}"))
        })?;
        Self::start(conn, ":memory:".to_owned(), None)
    }

    /// Opens the store a URL names: `sqlite://relative/path.db`,
    /// `sqlite:///absolute/path.db` or `sqlite::memory:`. Any other scheme is
    /// `Unavailable`.
    pub fn from_url(url: &str) -> Result<SqliteStore> {
        match parse_url(url)? {
            Location::Memory => Self::open_in_memory(),
            Location::File(path) => Self::open(path),
        }
    }

    /// Configures a new connection and migrates its schema.
    fn start(
        mut conn: Connection,
        location: String,
        lock: Option<files::FileLock>,
    ) -> Result<SqliteStore> {
        let context = |e: StoreError| {
            StoreError::Unavailable(format!("cannot open the database `{location}`: {e}"))
        };
        schema::configure(&conn).map_err(context)?;
        schema::migrate(&mut conn).map_err(context)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            location,
            group: GroupCommit::default(),
            _lock: lock,
        })
    }

    /// Bulk import, for tools and tests: adds many keys in one transaction, under one
    /// revision, with one change per key. All or nothing: `NotFound` when a consumer is
    /// absent, `Conflict` when an id or hash is already used. Returns the revision; an
    /// empty batch writes nothing and returns the current one.
    pub fn insert_keys_batch(&self, keys: &[KeyRecord]) -> Result<u64> {
        if keys.is_empty() {
            return self.revision();
        }
        self.write(|tx| {
            for key in keys {
                insert_key_row(tx, key).map_err(|e| match e {
                    StoreError::Conflict(message) => {
                        StoreError::Conflict(format!("key `{}`: {message}", key.id))
                    }
                    other => other,
                })?;
            }
            let revision = bump_revision(tx)?;
            for (seq, key) in keys.iter().enumerate() {
                log_key(tx, revision, seq, key, false)?;
            }
            Ok(revision)
        })
    }

    /// The connection. A panic while it was held left no transaction open (dropping a
    /// transaction rolls it back), so a poisoned lock is still usable.
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` in a write transaction of its own and commits when it succeeds. For bulk
    /// writes, and writes that borrow their arguments; others use [`Self::write_in_group`].
    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .or_store()?;
        let out = f(&tx)?;
        tx.commit().or_store()?;
        Ok(out)
    }

    /// Runs `f` in a write transaction shared with the writes of other threads that
    /// arrive meanwhile (group commit), inside a savepoint of its own: when `f` fails,
    /// only its changes are rolled back and the error is this caller's alone. Returns
    /// once the shared transaction is committed, so the write is durable. `f` may run on
    /// another writer's thread: it owns what it needs.
    fn write_in_group<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    {
        self.group.write(&self.conn, f)
    }
}

/// The number of rows a listing returns: 0 means 100, else 1 to 1000.
fn limit(page: &Page) -> i64 {
    match page.limit {
        0 => 100,
        n => i64::try_from(n.clamp(1, 1000)).unwrap_or(1000),
    }
}

/// Where a listing starts: after `page.after`, or from the first row. Names and ids are
/// never empty, so every one sorts after `""`, and the range still uses the index.
fn after(page: &Page) -> &str {
    page.after.as_deref().unwrap_or("")
}

/// The current revision.
fn current_revision(conn: &Connection) -> Result<u64> {
    let revision: i64 = conn
        .prepare_cached("SELECT revision FROM meta WHERE id = 1")
        .or_store()?
        .query_row([], |row| row.get(0))
        .or_store()?;
    u64::try_from(revision).map_err(|_| corrupt("the revision is negative"))
}

/// Adds 1 to the revision and returns the new one.
fn bump_revision(tx: &Transaction<'_>) -> Result<u64> {
    let revision: i64 = tx
        .prepare_cached("UPDATE meta SET revision = revision + 1 WHERE id = 1 RETURNING revision")
        .or_store()?
        .query_row([], |row| row.get(0))
        .or_store()?;
    u64::try_from(revision).map_err(|_| corrupt("the revision is negative"))
}

/// Appends one change-log row.
fn log_change(
    tx: &Transaction<'_>,
    revision: u64,
    seq: usize,
    kind: ChangeKind,
    name: &str,
    deleted: bool,
    key_hash: Option<&[u8; 32]>,
) -> Result<()> {
    let revision = i64::try_from(revision).map_err(|_| corrupt("the revision overflowed"))?;
    let seq = i64::try_from(seq).map_err(|_| corrupt("too many changes in one write"))?;
    tx.prepare_cached(
        "INSERT INTO change_log (revision, seq, kind, name, deleted, key_hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .or_store()?
    .execute(params![
        revision,
        seq,
        codec::kind_text(kind),
        name,
        deleted,
        key_hash.map(|h| &h[..])
    ])
    .or_store()?;
    Ok(())
}

/// Appends the change-log row of a key.
fn log_key(
    tx: &Transaction<'_>,
    revision: u64,
    seq: usize,
    key: &KeyRecord,
    deleted: bool,
) -> Result<()> {
    log_change(
        tx,
        revision,
        seq,
        ChangeKind::Key,
        &key.id,
        deleted,
        Some(&key.hash),
    )
}

/// Runs a query and decodes its first row, if any.
fn fetch_one<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    decode: fn(&Row<'_>) -> Result<T>,
) -> Result<Option<T>> {
    let mut stmt = conn.prepare_cached(sql).or_store()?;
    let mut rows = stmt.query(params).or_store()?;
    match rows.next().or_store()? {
        Some(row) => decode(row).map(Some),
        None => Ok(None),
    }
}

/// Runs a query and decodes every row.
fn fetch_all<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    decode: fn(&Row<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    stream(conn, sql, params, decode, &mut |item| out.push(item))?;
    Ok(out)
}

/// Runs a query and hands each decoded row to `visit`, one at a time.
fn stream<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    decode: fn(&Row<'_>) -> Result<T>,
    visit: &mut dyn FnMut(T),
) -> Result<()> {
    let mut stmt = conn.prepare_cached(sql).or_store()?;
    let mut rows = stmt.query(params).or_store()?;
    while let Some(row) = rows.next().or_store()? {
        visit(decode(row)?);
    }
    Ok(())
}

/// One consumer.
fn fetch_consumer(conn: &Connection, name: &str) -> Result<Option<ConsumerRecord>> {
    fetch_one(
        conn,
        concat!(
            "SELECT ",
            consumer_columns!(),
            " FROM consumers WHERE name = ?1"
        ),
        [name],
        codec::consumer,
    )
}

/// One key.
fn fetch_key(conn: &Connection, id: &str) -> Result<Option<KeyRecord>> {
    fetch_one(
        conn,
        concat!("SELECT ", key_columns!(), " FROM keys WHERE id = ?1"),
        [id],
        codec::key,
    )
}

/// One service.
fn fetch_service(conn: &Connection, name: &str) -> Result<Option<ServiceRecord>> {
    fetch_one(
        conn,
        concat!(
            "SELECT ",
            service_columns!(),
            " FROM services WHERE name = ?1"
        ),
        [name],
        codec::service,
    )
}

/// Inserts a key row, naming the clash when its id or hash is taken or its consumer
/// absent.
fn insert_key_row(tx: &Transaction<'_>, key: &KeyRecord) -> Result<()> {
    tx.prepare_cached(concat!(
        "INSERT INTO keys (",
        key_columns!(),
        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
    ))
    .or_store()?
    .execute(params![
        key.id,
        key.consumer,
        &key.hash[..],
        key.prefix,
        key.active,
        key.description,
        codec::to_json(&key.labels)?,
        codec::origin_text(key.origin),
        key.created_at,
        key.expires_at,
        key.revoked_at,
        key.last_used_at,
        key.subscription,
        key.shared,
    ])
    .map_err(|e| key_write(e, key))?;
    Ok(())
}

/// `put_consumer` inside an open transaction.
fn put_consumer_in(tx: &Transaction<'_>, consumer: &ConsumerRecord) -> Result<Written> {
    let groups = codec::to_json(&consumer.groups)?;
    let permissions = codec::to_json(&consumer.permissions)?;
    let metadata = codec::to_json(&consumer.metadata)?;
    let origin = codec::origin_text(consumer.origin);
    let stored = fetch_consumer(tx, &consumer.name)?;
    let created = match &stored {
        Some(stored) if codec::same_consumer(stored, consumer) => return Ok(Written::Unchanged),
        Some(_) => {
            tx.prepare_cached(
                "UPDATE consumers SET client_type = ?2, groups = ?3, permissions = ?4, \
                     description = ?5, metadata = ?6, origin = ?7, updated_at = ?8 \
                     WHERE name = ?1",
            )
            .or_store()?
            .execute(params![
                consumer.name,
                consumer.client_type,
                groups,
                permissions,
                consumer.description,
                metadata,
                origin,
                consumer.updated_at,
            ])
            .or_store()?;
            false
        }
        None => {
            tx.prepare_cached(concat!(
                "INSERT INTO consumers (",
                consumer_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ))
            .or_store()?
            .execute(params![
                consumer.name,
                consumer.client_type,
                groups,
                permissions,
                consumer.description,
                metadata,
                origin,
                consumer.created_at,
                consumer.updated_at,
            ])
            .or_store()?;
            true
        }
    };
    let revision = bump_revision(tx)?;
    log_change(
        tx,
        revision,
        0,
        ChangeKind::Consumer,
        &consumer.name,
        false,
        None,
    )?;
    Ok(if created {
        Written::Created(revision)
    } else {
        Written::Updated(revision)
    })
}

/// `delete_consumer` inside an open transaction.
fn delete_consumer_in(tx: &Transaction<'_>, name: &str) -> Result<u64> {
    let keys: i64 = tx
        .prepare_cached("SELECT count(*) FROM keys WHERE consumer = ?1")
        .or_store()?
        .query_row([name], |row| row.get(0))
        .or_store()?;
    if keys > 0 {
        let noun = if keys == 1 { "key" } else { "keys" };
        return Err(StoreError::Conflict(format!(
            "consumer `{name}` still has {keys} {noun}; delete them first"
        )));
    }
    let subscriptions: i64 = tx
        .prepare_cached("SELECT count(*) FROM subscriptions WHERE consumer = ?1")
        .or_store()?
        .query_row([name], |row| row.get(0))
        .or_store()?;
    if subscriptions > 0 {
        let noun = if subscriptions == 1 {
            "subscription"
        } else {
            "subscriptions"
        };
        return Err(StoreError::Conflict(format!(
            "consumer `{name}` still has {subscriptions} {noun}; delete them first"
        )));
    }
    let deleted = tx
        .prepare_cached("DELETE FROM consumers WHERE name = ?1")
        .or_store()?
        .execute([name])
        .or_store()?;
    if deleted == 0 {
        return Err(not_found("consumer", name));
    }
    let revision = bump_revision(tx)?;
    log_change(tx, revision, 0, ChangeKind::Consumer, name, true, None)?;
    Ok(revision)
}

/// `put_key` inside an open transaction.
fn put_key_in(tx: &Transaction<'_>, key: &KeyRecord) -> Result<Written> {
    let Some(stored) = fetch_key(tx, &key.id)? else {
        insert_key_row(tx, key)?;
        let revision = bump_revision(tx)?;
        log_key(tx, revision, 0, key, false)?;
        return Ok(Written::Created(revision));
    };
    if codec::same_key(&stored, key) {
        return Ok(Written::Unchanged);
    }
    tx.prepare_cached(
        "UPDATE keys SET consumer = ?2, hash = ?3, prefix = ?4, active = ?5, \
             description = ?6, labels = ?7, origin = ?8, expires_at = ?9, revoked_at = ?10, \
             subscription_id = ?11, shared = ?12 WHERE id = ?1",
    )
    .or_store()?
    .execute(params![
        key.id,
        key.consumer,
        &key.hash[..],
        key.prefix,
        key.active,
        key.description,
        codec::to_json(&key.labels)?,
        codec::origin_text(key.origin),
        key.expires_at,
        key.revoked_at,
        key.subscription,
        key.shared,
    ])
    .map_err(|e| key_write(e, key))?;
    let revision = bump_revision(tx)?;
    let mut seq = 0;
    if stored.hash != key.hash {
        log_key(tx, revision, seq, &stored, true)?;
        seq += 1;
    }
    log_key(tx, revision, seq, key, false)?;
    Ok(Written::Updated(revision))
}

/// `put_service` inside an open transaction.
fn put_service_in(tx: &Transaction<'_>, service: &ServiceRecord) -> Result<Written> {
    let stored = fetch_service(tx, &service.name)?;
    let created = match &stored {
        Some(stored) if codec::same_service(stored, service) => return Ok(Written::Unchanged),
        Some(_) => false,
        None => true,
    };
    tx.prepare_cached(concat!(
        "INSERT INTO services (",
        service_columns!(),
        ") VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO UPDATE SET \
             document = excluded.document, origin = excluded.origin, \
             updated_at = excluded.updated_at"
    ))
    .or_store()?
    .execute(params![
        service.name,
        service.document,
        codec::origin_text(service.origin),
        service.updated_at,
    ])
    .or_store()?;
    let revision = bump_revision(tx)?;
    log_change(
        tx,
        revision,
        0,
        ChangeKind::Service,
        &service.name,
        false,
        None,
    )?;
    Ok(if created {
        Written::Created(revision)
    } else {
        Written::Updated(revision)
    })
}

/// `delete_service` inside an open transaction.
fn delete_service_in(tx: &Transaction<'_>, name: &str) -> Result<u64> {
    let deleted = tx
        .prepare_cached("DELETE FROM services WHERE name = ?1")
        .or_store()?
        .execute([name])
        .or_store()?;
    if deleted == 0 {
        return Err(not_found("service", name));
    }
    let revision = bump_revision(tx)?;
    log_change(tx, revision, 0, ChangeKind::Service, name, true, None)?;
    Ok(revision)
}

/// One subscription.
fn fetch_subscription(conn: &Connection, id: &str) -> Result<Option<SubscriptionRecord>> {
    fetch_one(
        conn,
        concat!(
            "SELECT ",
            subscription_columns!(),
            " FROM subscriptions WHERE id = ?1"
        ),
        [id],
        codec::subscription,
    )
}

/// `insert_subscription` inside an open transaction.
fn insert_subscription_in(
    tx: &Transaction<'_>,
    subscription: &SubscriptionRecord,
    key: Option<&KeyRecord>,
) -> Result<u64> {
    if fetch_consumer(tx, &subscription.consumer)?.is_none() {
        return Err(not_found("consumer", &subscription.consumer));
    }
    if fetch_subscription(tx, &subscription.id)?.is_some() {
        return Err(StoreError::Conflict(format!(
            "a subscription with id `{}` already exists",
            subscription.id
        )));
    }
    tx.prepare_cached(concat!(
        "INSERT INTO subscriptions (",
        subscription_columns!(),
        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    ))
    .or_store()?
    .execute(params![
        subscription.id,
        subscription.consumer,
        subscription.service,
        subscription.plan,
        subscription.status.as_str(),
        subscription.key_mode.as_str(),
        subscription.ends_at,
        subscription.created_at,
        subscription.updated_at,
    ])
    .or_store()?;
    if let Some(key) = key {
        insert_key_row(tx, key)?;
    }
    let revision = bump_revision(tx)?;
    log_change(
        tx,
        revision,
        0,
        ChangeKind::Subscription,
        &subscription.id,
        false,
        None,
    )?;
    if let Some(key) = key {
        log_key(tx, revision, 1, key, false)?;
    }
    Ok(revision)
}

/// `update_subscription` inside an open transaction. Unchanged fields use no revision.
fn update_subscription_in(
    tx: &Transaction<'_>,
    subscription: &SubscriptionRecord,
    expected: SubscriptionStatus,
) -> Result<u64> {
    let stored = fetch_subscription(tx, &subscription.id)?
        .ok_or_else(|| not_found("subscription", &subscription.id))?;
    crate::stored_forms::expect_status(&stored, expected)?;
    if codec::same_mutable_subscription_fields(&stored, subscription) {
        return current_revision(tx);
    }
    tx.prepare_cached(
        "UPDATE subscriptions SET status = ?2, ends_at = ?3, updated_at = ?4 WHERE id = ?1",
    )
    .or_store()?
    .execute(params![
        subscription.id,
        subscription.status.as_str(),
        subscription.ends_at,
        subscription.updated_at,
    ])
    .or_store()?;
    let revision = bump_revision(tx)?;
    log_change(
        tx,
        revision,
        0,
        ChangeKind::Subscription,
        &subscription.id,
        false,
        None,
    )?;
    Ok(revision)
}

/// `delete_subscription` inside an open transaction.
fn delete_subscription_in(tx: &Transaction<'_>, id: &str) -> Result<u64> {
    let deleted = tx
        .prepare_cached("DELETE FROM subscriptions WHERE id = ?1")
        .or_store()?
        .execute([id])
        .or_store()?;
    if deleted == 0 {
        return Err(not_found("subscription", id));
    }
    let revision = bump_revision(tx)?;
    log_change(tx, revision, 0, ChangeKind::Subscription, id, true, None)?;
    Ok(revision)
}

/// `delete_key` inside an open transaction.
fn delete_key_in(tx: &Transaction<'_>, id: &str) -> Result<u64> {
    let stored = fetch_key(tx, id)?.ok_or_else(|| not_found("key", id))?;
    tx.prepare_cached("DELETE FROM keys WHERE id = ?1")
        .or_store()?
        .execute([id])
        .or_store()?;
    let revision = bump_revision(tx)?;
    log_key(tx, revision, 0, &stored, true)?;
    Ok(revision)
}

impl Store for SqliteStore {
    fn revision(&self) -> Result<u64> {
        current_revision(&self.conn())
    }

    /// Holds the connection while streaming: `visit` must not call this store.
    fn load(&self, visit: &mut dyn FnMut(Entity)) -> Result<u64> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .or_store()?;
        let revision = current_revision(&tx)?;
        stream(
            &tx,
            concat!("SELECT ", consumer_columns!(), " FROM consumers"),
            [],
            codec::consumer,
            &mut |c| visit(Entity::Consumer(c)),
        )?;
        stream(
            &tx,
            concat!("SELECT ", key_columns!(), " FROM keys"),
            [],
            codec::key,
            &mut |k| visit(Entity::Key(k)),
        )?;
        stream(
            &tx,
            concat!("SELECT ", service_columns!(), " FROM services"),
            [],
            codec::service,
            &mut |s| visit(Entity::Service(s)),
        )?;
        stream(
            &tx,
            concat!("SELECT ", subscription_columns!(), " FROM subscriptions"),
            [],
            codec::subscription,
            &mut |s| visit(Entity::Subscription(s)),
        )?;
        tx.commit().or_store()?;
        Ok(revision)
    }

    fn changes_since(&self, revision: u64) -> Result<Vec<Change>> {
        let after = i64::try_from(revision).unwrap_or(i64::MAX);
        fetch_all(
            &self.conn(),
            "SELECT revision, kind, name, deleted, key_hash FROM change_log \
             WHERE revision > ?1 ORDER BY revision, seq",
            [after],
            |row| {
                let revision: i64 = row.get(0).or_store()?;
                let name: String = row.get(2).or_store()?;
                let key_hash = row.get_ref(4).or_store()?;
                Ok(Change {
                    revision: u64::try_from(revision)
                        .map_err(|_| corrupt("the change log has a negative revision"))?,
                    kind: codec::kind(row.get_ref(1).or_store()?.as_str().unwrap_or_default())?,
                    deleted: row.get(3).or_store()?,
                    key_hash: match key_hash {
                        rusqlite::types::ValueRef::Null => None,
                        value => Some(codec::hash(value).ok_or_else(|| {
                            corrupt(format!("the change of `{name}` has a malformed key hash"))
                        })?),
                    },
                    name,
                })
            },
        )
    }

    fn put_consumer(&self, consumer: &ConsumerRecord) -> Result<Written> {
        let consumer = consumer.clone();
        self.write_in_group(move |tx| put_consumer_in(tx, &consumer))
    }

    fn consumer(&self, name: &str) -> Result<Option<ConsumerRecord>> {
        fetch_consumer(&self.conn(), name)
    }

    fn consumers(&self, page: &Page) -> Result<Vec<ConsumerRecord>> {
        fetch_all(
            &self.conn(),
            concat!(
                "SELECT ",
                consumer_columns!(),
                " FROM consumers WHERE name > ?2 ORDER BY name LIMIT ?1"
            ),
            params![limit(page), after(page)],
            codec::consumer,
        )
    }

    fn delete_consumer(&self, name: &str) -> Result<u64> {
        let name = name.to_owned();
        self.write_in_group(move |tx| delete_consumer_in(tx, &name))
    }

    fn insert_key(&self, key: &KeyRecord) -> Result<u64> {
        let key = key.clone();
        self.write_in_group(move |tx| {
            insert_key_row(tx, &key)?;
            let revision = bump_revision(tx)?;
            log_key(tx, revision, 0, &key, false)?;
            Ok(revision)
        })
    }

    fn put_key(&self, key: &KeyRecord) -> Result<Written> {
        let key = key.clone();
        self.write_in_group(move |tx| put_key_in(tx, &key))
    }

    /// A key whose mutable fields are already the given ones is left alone: the current
    /// revision is returned and none is used.
    fn update_key(&self, key: &KeyRecord) -> Result<u64> {
        let key = key.clone();
        self.write_in_group(move |tx| {
            let stored = fetch_key(tx, &key.id)?.ok_or_else(|| not_found("key", &key.id))?;
            if codec::same_mutable_key_fields(&stored, &key) {
                return current_revision(tx);
            }
            tx.prepare_cached(
                "UPDATE keys SET active = ?2, description = ?3, labels = ?4, expires_at = ?5, \
                 revoked_at = ?6 WHERE id = ?1",
            )
            .or_store()?
            .execute(params![
                key.id,
                key.active,
                key.description,
                codec::to_json(&key.labels)?,
                key.expires_at,
                key.revoked_at,
            ])
            .or_store()?;
            let revision = bump_revision(tx)?;
            log_key(tx, revision, 0, &stored, false)?;
            Ok(revision)
        })
    }

    fn key(&self, id: &str) -> Result<Option<KeyRecord>> {
        fetch_key(&self.conn(), id)
    }

    fn keys(&self, consumer: Option<&str>, page: &Page) -> Result<Vec<KeyRecord>> {
        let conn = self.conn();
        match consumer {
            None => fetch_all(
                &conn,
                concat!(
                    "SELECT ",
                    key_columns!(),
                    " FROM keys WHERE id > ?2 ORDER BY id LIMIT ?1"
                ),
                params![limit(page), after(page)],
                codec::key,
            ),
            Some(consumer) => fetch_all(
                &conn,
                concat!(
                    "SELECT ",
                    key_columns!(),
                    " FROM keys WHERE consumer = ?3 AND id > ?2 ORDER BY id LIMIT ?1"
                ),
                params![limit(page), after(page), consumer],
                codec::key,
            ),
        }
    }

    fn delete_key(&self, id: &str) -> Result<u64> {
        let id = id.to_owned();
        self.write_in_group(move |tx| delete_key_in(tx, &id))
    }

    fn renew_key(&self, old_id: &str, old_expires_at: Millis, new: &KeyRecord) -> Result<u64> {
        let (old_id, new) = (old_id.to_owned(), new.clone());
        self.write_in_group(move |tx| {
            let mut old = fetch_key(tx, &old_id)?.ok_or_else(|| not_found("key", &old_id))?;
            tx.prepare_cached("UPDATE keys SET expires_at = ?2 WHERE id = ?1")
                .or_store()?
                .execute(params![old_id, old_expires_at])
                .or_store()?;
            old.expires_at = Some(old_expires_at);
            insert_key_row(tx, &new)?;
            let revision = bump_revision(tx)?;
            log_key(tx, revision, 0, &old, false)?;
            log_key(tx, revision, 1, &new, false)?;
            Ok(revision)
        })
    }

    fn put_service(&self, service: &ServiceRecord) -> Result<Written> {
        let service = service.clone();
        self.write_in_group(move |tx| put_service_in(tx, &service))
    }

    fn service(&self, name: &str) -> Result<Option<ServiceRecord>> {
        fetch_service(&self.conn(), name)
    }

    fn services(&self, page: &Page) -> Result<Vec<ServiceRecord>> {
        fetch_all(
            &self.conn(),
            concat!(
                "SELECT ",
                service_columns!(),
                " FROM services WHERE name > ?2 ORDER BY name LIMIT ?1"
            ),
            params![limit(page), after(page)],
            codec::service,
        )
    }

    fn delete_service(&self, name: &str) -> Result<u64> {
        let name = name.to_owned();
        self.write_in_group(move |tx| delete_service_in(tx, &name))
    }

    fn apply_batch(&self, ops: &[BatchOp<'_>], setting: Option<(&str, &str)>) -> Result<u64> {
        self.write(|tx| {
            for op in ops {
                let (kind, name, stored_origin) = match op {
                    BatchOp::PutConsumer(c) => ("consumer", c.name.as_str(), fetch_consumer(tx, &c.name)?.map(|s| s.origin)),
                    BatchOp::PutKey(k) => ("key", k.id.as_str(), fetch_key(tx, &k.id)?.map(|s| s.origin)),
                    BatchOp::PutService(s) => ("service", s.name.as_str(), fetch_service(tx, &s.name)?.map(|s| s.origin)),
                };
                let origin = match op {
                    BatchOp::PutConsumer(c) => c.origin,
                    BatchOp::PutKey(k) => k.origin,
                    BatchOp::PutService(s) => s.origin,
                };
                if origin == Origin::File && stored_origin == Some(Origin::Api) {
                    return Err(StoreError::Conflict(format!(
                        "{kind} `{name}` was created through the admin API; the configuration file cannot take it over"
                    )));
                }
                match op {
                    BatchOp::PutConsumer(c) => put_consumer_in(tx, c)?,
                    BatchOp::PutKey(k) => put_key_in(tx, k)?,
                    BatchOp::PutService(s) => put_service_in(tx, s)?,
                };
            }
            if let Some((name, value)) = setting {
                tx.prepare_cached(
                    "INSERT INTO settings (name, value) VALUES (?1, ?2) \
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                )
                .or_store()?
                .execute([name, value])
                .or_store()?;
            }
            current_revision(tx)
        })
    }

    fn insert_subscription(
        &self,
        subscription: &SubscriptionRecord,
        key: Option<&KeyRecord>,
    ) -> Result<u64> {
        self.write(|tx| insert_subscription_in(tx, subscription, key))
    }

    fn update_subscription(
        &self,
        subscription: &SubscriptionRecord,
        expected: SubscriptionStatus,
    ) -> Result<u64> {
        self.write(|tx| update_subscription_in(tx, subscription, expected))
    }

    fn subscription(&self, id: &str) -> Result<Option<SubscriptionRecord>> {
        fetch_subscription(&self.conn(), id)
    }

    fn subscriptions(
        &self,
        consumer: Option<&str>,
        service: Option<&str>,
        page: &Page,
    ) -> Result<Vec<SubscriptionRecord>> {
        fetch_all(
            &self.conn(),
            concat!(
                "SELECT ",
                subscription_columns!(),
                " FROM subscriptions WHERE id > ?2 AND (?3 IS NULL OR consumer = ?3) \
                 AND (?4 IS NULL OR service = ?4) ORDER BY id LIMIT ?1"
            ),
            params![limit(page), after(page), consumer, service],
            codec::subscription,
        )
    }

    fn delete_subscription(&self, id: &str) -> Result<u64> {
        self.write(|tx| delete_subscription_in(tx, id))
    }

    fn setting(&self, name: &str) -> Result<Option<String>> {
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached("SELECT value FROM settings WHERE name = ?1")
            .or_store()?;
        let mut rows = statement.query([name]).or_store()?;
        match rows.next().or_store()? {
            Some(row) => Ok(Some(row.get(0).or_store()?)),
            None => Ok(None),
        }
    }

    fn record_last_used(&self, uses: &[(String, Millis)]) -> Result<()> {
        if uses.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE keys SET last_used_at = max(coalesce(last_used_at, ?2), ?2) \
                     WHERE id = ?1",
                )
                .or_store()?;
            for (id, at) in uses {
                stmt.execute(params![id, at]).or_store()?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(parse_url("sqlite::memory:").ok(), Some(Location::Memory));
        assert_eq!(
            parse_url("sqlite://data/keygate.db").ok(),
            Some(Location::File(Path::new("data/keygate.db")))
        );
        assert_eq!(
            parse_url("sqlite:///var/lib/keygate.db").ok(),
            Some(Location::File(Path::new("/var/lib/keygate.db")))
        );
        for url in ["sqlite://", "sqlite:keygate.db", "keygate.db", ""] {
            assert!(
                matches!(parse_url(url), Err(StoreError::Unavailable(_))),
                "{url}"
            );
        }
        match parse_url("postgres://user:secret@host/db") {
            Err(StoreError::Unavailable(message)) => {
                assert!(message.contains("`postgres`"), "{message}");
                assert!(!message.contains("secret"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn limits() {
        let page = |limit| Page { after: None, limit };
        assert_eq!(limit(&page(0)), 100);
        assert_eq!(limit(&page(1)), 1);
        assert_eq!(limit(&page(1000)), 1000);
        assert_eq!(limit(&page(5000)), 1000);
    }
}
