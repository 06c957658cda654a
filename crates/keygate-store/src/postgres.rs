//! The PostgreSQL store: several gateway nodes sharing one database.
//!
//! The same tables and the same rules as the SQLite store (every effective write is one
//! transaction that changes the data, bumps `meta.revision` once and appends one
//! `change_log` row per touched entity), plus what a cluster needs:
//!
//! - **Ordered revisions.** A write transaction first locks the `meta` row
//!   (`SELECT … FOR UPDATE`) and later bumps it with `UPDATE … RETURNING`, so writers —
//!   on any node — run one at a time, revision `r + 1` commits after `r`, and
//!   `changes_since` never sees `r + 1` without `r`. Writes are rare (admin calls, the
//!   configuration file); reads and `record_last_used` take no such lock.
//! - **Notifications.** Each write transaction that bumped the revision runs
//!   `pg_notify(channel, revision)`, delivered at commit to every node that
//!   [`PostgresStore::listen`]s. The channel is named after the schema, so clusters in
//!   different schemas of one database do not hear each other.
//! - **Streaming load.** [`Store::load`] reads every table in one `REPEATABLE READ READ
//!   ONLY` transaction, row by row, and returns the revision of that same snapshot.
//! - **Pooled connections** ([`pool`]): a connection that was lost (server restart,
//!   `pg_terminate_backend`, network) is dropped, and a call whose first statement found
//!   its pooled connection dead is retried once on a new one — nothing had been sent.
//!   Lost connections and refused connects are `Unavailable`; messages never include the
//!   URL.
//!
//! TLS is not built in: connect over a trusted network or a local socket.

mod accounts;
mod codec;
mod errors;
mod listener;
mod pool;
mod schema;
mod subscriptions;
mod tls;
mod usage;
mod writes;

use std::collections::BTreeMap;
use std::fmt;

use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::{Client, IsolationLevel};

use self::codec::{consumer_columns, key_columns, service_columns, subscription_columns};
use self::errors::{corrupt, from_postgres, is_connection_lost, OrStore};
pub use self::listener::Listener;
use self::pool::{Conn, Pool};
use self::writes::Tx;
use crate::{
    BatchOp, Change, ConsumerRecord, CounterRow, Entity, KeyRecord, Millis, Origin, Page, Result,
    ServiceRecord, Store, StoreError, SubscriptionRecord, SubscriptionStatus, UsageQuery, UsageRow,
    Written,
};

/// Connections a store opens at most, unless told otherwise.
pub const DEFAULT_POOL_SIZE: usize = 8;

/// How many keys one statement of [`PostgresStore::insert_keys_batch`] inserts.
const BULK_CHUNK: usize = 5_000;

/// The PostgreSQL implementation of [`Store`].
pub struct PostgresStore {
    pool: Pool,
    /// The schema the tables live in.
    schema: String,
    /// The notification channel of this schema.
    channel: String,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("schema", &self.schema)
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

/// The notification channel of a schema: `keygate:<schema>`, or a digest of the schema's
/// name when that would pass PostgreSQL's 63-byte limit on names.
fn channel_of(schema: &str) -> String {
    let channel = format!("keygate:{schema}");
    if channel.len() <= 63 {
        return channel;
    }
    // FNV-1a: stable across builds and platforms.
    let digest = schema
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
    format!("keygate:{digest:016x}")
}

impl PostgresStore {
    /// Checks a store URL (`postgres://user[:password]@host[:port]/database[?params]`, or
    /// `postgresql://…`) without connecting. Errors never repeat the URL.
    pub fn check_url(url: &str) -> Result<()> {
        pool::parse_url(url).map(drop)
    }

    /// Connects with at most [`DEFAULT_POOL_SIZE`] connections, brings the schema up to
    /// date, and refuses a schema written by a newer version. The tables live in the
    /// current schema of the connection: `public` unless the URL says otherwise with
    /// `?options=-c%20search_path%3D<schema>` (the schema must exist).
    pub fn open(url: &str) -> Result<PostgresStore> {
        Self::open_with_pool(url, DEFAULT_POOL_SIZE)
    }

    /// [`PostgresStore::open`] with at most `pool_size` connections (at least one).
    pub fn open_with_pool(url: &str, pool_size: usize) -> Result<PostgresStore> {
        let server = pool::parse_url(url)?;
        let pool = Pool::new(server, pool_size);
        let schema = {
            let mut conn = pool.get()?;
            schema::migrate(&mut conn)?
        };
        Ok(PostgresStore {
            pool,
            channel: channel_of(&schema),
            schema,
        })
    }

    /// The schema the tables live in.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Opens a dedicated connection that listens for committed revisions. See
    /// [`Listener`].
    pub fn listen(&self) -> Result<Listener> {
        Listener::start(pool::connect(self.pool.server())?, &self.channel)
    }

    /// Bulk import, for tools and benchmarks: adds many keys in one transaction, under one
    /// revision, with one change per key. All or nothing: `NotFound` when a consumer is
    /// absent, `Conflict` when an id or hash is already used. Returns the revision; an
    /// empty batch writes nothing and returns the current one.
    pub fn insert_keys_batch(&self, keys: &[KeyRecord]) -> Result<u64> {
        if keys.is_empty() {
            return self.revision();
        }
        self.write(|tx| {
            for chunk in keys.chunks(BULK_CHUNK) {
                bulk_insert_keys(tx, chunk)?;
            }
            let revision = writes::bump_revision(tx)?;
            let mut seq = 0;
            for chunk in keys.chunks(BULK_CHUNK) {
                bulk_log_keys(tx, revision, seq, chunk)?;
                seq += chunk.len();
            }
            Ok(revision)
        })
    }

    /// Runs `read` on a pooled connection; when it fails because that connection turned
    /// out to be dead, runs it again on another — up to [`BEGIN_TRIES`] in all, as
    /// [`PostgresStore::begin`] does (reads can be repeated, and several idle connections
    /// die together when the server ends them).
    fn read<T>(&self, read: impl Fn(&mut Client) -> Result<T>) -> Result<T> {
        let mut tries = 0;
        loop {
            let mut conn = self.pool.get()?;
            tries += 1;
            match read(&mut conn) {
                Err(StoreError::Unavailable(_)) if conn.is_closed() && tries < BEGIN_TRIES => {
                    conn.discard();
                }
                outcome => {
                    if outcome.is_err() && conn.is_closed() {
                        conn.discard();
                    }
                    return outcome;
                }
            }
        }
    }

    /// A pooled connection on which a transaction has begun with `begin`. When the first
    /// statements fail because the pooled connection was dead, another is tried — up to
    /// [`BEGIN_TRIES`] in all: nothing had been sent. (Several idle connections die
    /// together when the server ends them, and background tasks — the quota flush —
    /// keep more than one in the pool.)
    fn begin<'p>(&'p self, begin: &str) -> Result<Conn<'p>> {
        let mut tries = 0;
        loop {
            let mut conn = self.pool.get()?;
            tries += 1;
            match conn.batch_execute(begin) {
                Ok(()) => return Ok(conn),
                Err(error) if is_connection_lost(&error) && tries < BEGIN_TRIES => {
                    conn.discard();
                }
                Err(error) => {
                    if is_connection_lost(&error) {
                        conn.discard();
                    }
                    return Err(from_postgres(error));
                }
            }
        }
    }

    /// Runs `f` in a write transaction, notifies the new revision when it bumped one, and
    /// commits when it succeeds. Writers wait for each other on the `meta` row lock.
    fn write<T>(&self, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.begin("BEGIN ISOLATION LEVEL READ COMMITTED")?;
        let outcome = self.write_in(&mut conn, f);
        if outcome.is_err() && conn.is_closed() {
            conn.discard();
        }
        outcome
    }

    /// The body of [`PostgresStore::write`], on a connection where `BEGIN` has run.
    fn write_in<T>(
        &self,
        conn: &mut Conn<'_>,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        // The transaction is open on the server; this handle rolls it back when dropped.
        let inner = conn.transaction().or_store()?;
        let mut tx = Tx {
            inner,
            start: 0,
            last: 0,
        };
        let row = tx
            .inner
            .query_one("SELECT revision FROM meta WHERE id = 1 FOR UPDATE", &[])
            .or_store()?;
        tx.start = writes::revision_of(row.get(0))?;
        tx.last = tx.start;
        let out = f(&mut tx)?;
        if tx.last > tx.start {
            let payload = tx.last.to_string();
            tx.inner
                .execute("SELECT pg_notify($1, $2)", &[&self.channel, &payload])
                .or_store()?;
        }
        tx.inner.commit().or_store()?;
        Ok(out)
    }
}

/// How many records [`Store::load`] passes between its threads at once.
const LOAD_BATCH: usize = 4_096;
/// How many batches may wait between the two threads of [`Store::load`].
const LOAD_QUEUE: usize = 8;

/// Reads every table in one read-only snapshot and sends the records in batches; returns
/// the snapshot's revision. Stops early when the receiver has gone.
fn read_snapshot(
    client: &mut Client,
    sender: &std::sync::mpsc::SyncSender<Vec<Entity>>,
) -> Result<u64> {
    let mut tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .or_store()?;
    let row = tx
        .query_one("SELECT revision FROM meta WHERE id = 1", &[])
        .or_store()?;
    let revision = writes::revision_of(row.get(0))?;
    let mut batch = Vec::with_capacity(LOAD_BATCH);
    let mut gone = false;
    let mut push = |entity: Entity| {
        batch.push(entity);
        if batch.len() == LOAD_BATCH && !gone {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(LOAD_BATCH));
            gone = sender.send(full).is_err();
        }
    };
    stream(
        &mut tx,
        concat!("SELECT ", consumer_columns!(), " FROM consumers"),
        codec::consumer,
        &mut |c| push(Entity::Consumer(c)),
    )?;
    stream(
        &mut tx,
        concat!("SELECT ", key_columns!(), " FROM keys"),
        codec::key,
        &mut |k| push(Entity::Key(k)),
    )?;
    stream(
        &mut tx,
        concat!("SELECT ", service_columns!(), " FROM services"),
        codec::service,
        &mut |s| push(Entity::Service(s)),
    )?;
    stream(
        &mut tx,
        concat!("SELECT ", subscription_columns!(), " FROM subscriptions"),
        codec::subscription,
        &mut |s| push(Entity::Subscription(s)),
    )?;
    if !batch.is_empty() {
        let _ = sender.send(batch);
    }
    tx.commit().or_store()?;
    Ok(revision)
}

/// Inserts keys with one statement (arrays unnested into rows).
fn bulk_insert_keys(tx: &mut Tx<'_>, keys: &[KeyRecord]) -> Result<()> {
    let labels = keys
        .iter()
        .map(|k| codec::to_json(&k.labels))
        .collect::<Result<Vec<_>>>()?;
    let column = |f: fn(&KeyRecord) -> Option<i64>| keys.iter().map(f).collect::<Vec<_>>();
    let ids: Vec<&str> = keys.iter().map(|k| k.id.as_str()).collect();
    let consumers: Vec<&str> = keys.iter().map(|k| k.consumer.as_str()).collect();
    let hashes: Vec<&[u8]> = keys.iter().map(|k| &k.hash[..]).collect();
    let prefixes: Vec<Option<&str>> = keys.iter().map(|k| k.prefix.as_deref()).collect();
    let active: Vec<bool> = keys.iter().map(|k| k.active).collect();
    let descriptions: Vec<Option<&str>> = keys.iter().map(|k| k.description.as_deref()).collect();
    let origins: Vec<&str> = keys.iter().map(|k| codec::origin_text(k.origin)).collect();
    let created: Vec<i64> = keys.iter().map(|k| k.created_at).collect();
    let subscriptions: Vec<Option<&str>> = keys.iter().map(|k| k.subscription.as_deref()).collect();
    let shared: Vec<bool> = keys.iter().map(|k| k.shared).collect();
    let limits: Vec<Option<&str>> = keys.iter().map(|k| k.limits.as_deref()).collect();
    let params: [&(dyn ToSql + Sync); 15] = [
        &ids,
        &consumers,
        &hashes,
        &prefixes,
        &active,
        &descriptions,
        &labels,
        &origins,
        &created,
        &column(|k| k.expires_at),
        &column(|k| k.revoked_at),
        &column(|k| k.last_used_at),
        &subscriptions,
        &shared,
        &limits,
    ];
    tx.inner
        .execute(
            concat!(
                "INSERT INTO keys (",
                key_columns!(),
                ") SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::text[], \
                 $5::bool[], $6::text[], $7::text[], $8::text[], $9::int8[], $10::int8[], \
                 $11::int8[], $12::int8[], $13::text[], $14::bool[], $15::text[])"
            ),
            &params,
        )
        .map_err(bulk_error)?;
    Ok(())
}

/// Appends the changes of bulk-inserted keys, numbered from `first_seq`.
fn bulk_log_keys(
    tx: &mut Tx<'_>,
    revision: u64,
    first_seq: usize,
    keys: &[KeyRecord],
) -> Result<()> {
    let revision = i64::try_from(revision).map_err(|_| corrupt("the revision overflowed"))?;
    let first = i32::try_from(first_seq).map_err(|_| corrupt("too many changes in one write"))?;
    let ids: Vec<&str> = keys.iter().map(|k| k.id.as_str()).collect();
    let hashes: Vec<&[u8]> = keys.iter().map(|k| &k.hash[..]).collect();
    tx.inner
        .execute(
            "INSERT INTO change_log (revision, seq, kind, name, deleted, key_hash) \
             SELECT $1, $2 + ordinality::int - 1, 'key', id, false, hash \
             FROM unnest($3::text[], $4::bytea[]) WITH ORDINALITY AS k(id, hash, ordinality)",
            &[&revision, &first, &ids, &hashes],
        )
        .or_store()?;
    Ok(())
}

/// The error of a bulk insert: the absent consumer, or the clash.
fn bulk_error(error: postgres::Error) -> StoreError {
    use postgres::error::SqlState;
    if let Some(db) = error.as_db_error() {
        if *db.code() == SqlState::FOREIGN_KEY_VIOLATION {
            // The detail reads `Key (consumer)=(name) is not present in table …`.
            let name = db
                .detail()
                .and_then(|d| d.split_once(")=(")?.1.split_once(')').map(|(n, _)| n))
                .unwrap_or("?");
            return StoreError::NotFound {
                kind: "consumer",
                name: name.to_owned(),
            };
        }
        if *db.code() == SqlState::UNIQUE_VIOLATION {
            return StoreError::Conflict(match db.constraint() {
                Some("keys_hash_unique") => "a key of the batch is already in use".to_owned(),
                _ => "a key id of the batch already exists".to_owned(),
            });
        }
    }
    from_postgres(error)
}

/// The number of rows a listing returns: 0 means 100, else 1 to 1000.
fn limit(page: &Page) -> i64 {
    match page.limit {
        0 => 100,
        n => i64::try_from(n.clamp(1, 1000)).unwrap_or(1000),
    }
}

/// Where a listing starts: after `page.after`, or from the first row (names and ids are
/// never empty, so every one sorts after `""`).
fn after(page: &Page) -> &str {
    page.after.as_deref().unwrap_or("")
}

/// Runs a query and decodes every row.
fn fetch_all<T>(
    client: &mut Client,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    decode: fn(&postgres::Row) -> Result<T>,
) -> Result<Vec<T>> {
    client
        .query(sql, params)
        .or_store()?
        .iter()
        .map(decode)
        .collect()
}

/// Streams the rows of `sql` through `decode` to `visit`, one at a time.
fn stream<T>(
    tx: &mut postgres::Transaction<'_>,
    sql: &str,
    decode: fn(&postgres::Row) -> Result<T>,
    visit: &mut dyn FnMut(T),
) -> Result<()> {
    let none: [&(dyn ToSql + Sync); 0] = [];
    let mut rows = tx.query_raw(sql, none).or_store()?;
    while let Some(row) = rows.next().or_store()? {
        visit(decode(&row)?);
    }
    Ok(())
}

/// How many pooled connections a transaction's begin tries before it gives up.
const BEGIN_TRIES: usize = 4;

impl Store for PostgresStore {
    fn revision(&self) -> Result<u64> {
        self.read(|client| {
            let row = client
                .query_one("SELECT revision FROM meta WHERE id = 1", &[])
                .or_store()?;
            writes::revision_of(row.get(0))
        })
    }

    /// One `REPEATABLE READ READ ONLY` snapshot, streamed: a helper thread receives and
    /// decodes the rows while this thread hands the records, in batches, to `visit`, so
    /// decoding and building the caller's state use two cores. `visit` must not call this
    /// store.
    fn load(&self, visit: &mut dyn FnMut(Entity)) -> Result<u64> {
        let mut conn = self.begin("SELECT 1")?;
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<Entity>>(LOAD_QUEUE);
        let client = &mut *conn;
        let outcome = std::thread::scope(|scope| {
            let reader = scope.spawn(move || read_snapshot(client, &sender));
            for batch in receiver {
                batch.into_iter().for_each(&mut *visit);
            }
            reader
                .join()
                .unwrap_or_else(|_| Err(corrupt("the thread reading the store panicked")))
        });
        if outcome.is_err() && conn.is_closed() {
            conn.discard();
        }
        outcome
    }

    fn changes_since(&self, revision: u64) -> Result<Vec<Change>> {
        let after = i64::try_from(revision).unwrap_or(i64::MAX);
        self.read(|client| {
            fetch_all(
                client,
                "SELECT revision, kind, name, deleted, key_hash FROM change_log \
                 WHERE revision > $1 ORDER BY revision, seq",
                &[&after],
                |row| {
                    let get = |e: postgres::Error| corrupt(format!("a change-log row: {e}"));
                    let name: String = row.try_get(2).map_err(get)?;
                    let key_hash: Option<&[u8]> = row.try_get(4).map_err(get)?;
                    Ok(Change {
                        revision: writes::revision_of(row.try_get(0).map_err(get)?)?,
                        kind: codec::kind(row.try_get(1).map_err(get)?)?,
                        deleted: row.try_get(3).map_err(get)?,
                        key_hash: match key_hash {
                            None => None,
                            Some(bytes) => Some(codec::hash(bytes).ok_or_else(|| {
                                corrupt(format!("the change of `{name}` has a malformed key hash"))
                            })?),
                        },
                        name,
                    })
                },
            )
        })
    }

    fn put_consumer(&self, consumer: &ConsumerRecord) -> Result<Written> {
        self.write(|tx| writes::put_consumer_in(tx, consumer))
    }

    fn consumer(&self, name: &str) -> Result<Option<ConsumerRecord>> {
        self.read(|client| writes::fetch_consumer(client, name))
    }

    fn consumers(&self, page: &Page) -> Result<Vec<ConsumerRecord>> {
        self.read(|client| {
            fetch_all(
                client,
                concat!(
                    "SELECT ",
                    consumer_columns!(),
                    " FROM consumers WHERE name > $2 ORDER BY name LIMIT $1"
                ),
                &[&limit(page), &after(page)],
                codec::consumer,
            )
        })
    }

    fn delete_consumer(&self, name: &str) -> Result<u64> {
        self.write(|tx| writes::delete_consumer_in(tx, name))
    }

    fn insert_key(&self, key: &KeyRecord) -> Result<u64> {
        self.write(|tx| writes::insert_key_in(tx, key))
    }

    fn put_key(&self, key: &KeyRecord) -> Result<Written> {
        self.write(|tx| writes::put_key_in(tx, key))
    }

    /// A key whose mutable fields are already the given ones is left alone: the current
    /// revision is returned and none is used.
    fn update_key(&self, key: &KeyRecord) -> Result<u64> {
        self.write(|tx| writes::update_key_in(tx, key))
    }

    fn key(&self, id: &str) -> Result<Option<KeyRecord>> {
        self.read(|client| writes::fetch_key(client, id))
    }

    fn keys(&self, consumer: Option<&str>, page: &Page) -> Result<Vec<KeyRecord>> {
        self.read(|client| match consumer {
            None => fetch_all(
                client,
                concat!(
                    "SELECT ",
                    key_columns!(),
                    " FROM keys WHERE id > $2 ORDER BY id LIMIT $1"
                ),
                &[&limit(page), &after(page)],
                codec::key,
            ),
            Some(consumer) => fetch_all(
                client,
                concat!(
                    "SELECT ",
                    key_columns!(),
                    " FROM keys WHERE consumer = $3 AND id > $2 ORDER BY id LIMIT $1"
                ),
                &[&limit(page), &after(page), &consumer],
                codec::key,
            ),
        })
    }

    fn delete_key(&self, id: &str) -> Result<u64> {
        self.write(|tx| writes::delete_key_in(tx, id))
    }

    fn renew_key(&self, old_id: &str, old_expires_at: Millis, new: &KeyRecord) -> Result<u64> {
        self.write(|tx| writes::renew_key_in(tx, old_id, old_expires_at, new))
    }

    fn put_service(&self, service: &ServiceRecord) -> Result<Written> {
        self.write(|tx| writes::put_service_in(tx, service))
    }

    fn service(&self, name: &str) -> Result<Option<ServiceRecord>> {
        self.read(|client| writes::fetch_service(client, name))
    }

    fn services(&self, page: &Page) -> Result<Vec<ServiceRecord>> {
        self.read(|client| {
            fetch_all(
                client,
                concat!(
                    "SELECT ",
                    service_columns!(),
                    " FROM services WHERE name > $2 ORDER BY name LIMIT $1"
                ),
                &[&limit(page), &after(page)],
                codec::service,
            )
        })
    }

    fn delete_service(&self, name: &str) -> Result<u64> {
        self.write(|tx| writes::delete_service_in(tx, name))
    }

    fn apply_batch(&self, ops: &[BatchOp<'_>], setting: Option<(&str, &str)>) -> Result<u64> {
        self.write(|tx| {
            for op in ops {
                let (kind, name, origin, stored_origin) = match op {
                    BatchOp::PutConsumer(c) => (
                        "consumer",
                        c.name.as_str(),
                        c.origin,
                        writes::fetch_consumer(&mut tx.inner, &c.name)?.map(|s| s.origin),
                    ),
                    BatchOp::PutKey(k) => (
                        "key",
                        k.id.as_str(),
                        k.origin,
                        writes::fetch_key(&mut tx.inner, &k.id)?.map(|s| s.origin),
                    ),
                    BatchOp::PutService(s) => (
                        "service",
                        s.name.as_str(),
                        s.origin,
                        writes::fetch_service(&mut tx.inner, &s.name)?.map(|s| s.origin),
                    ),
                };
                if origin == Origin::File && stored_origin == Some(Origin::Api) {
                    return Err(StoreError::Conflict(format!(
                        "{kind} `{name}` was created through the admin API; the configuration \
                         file cannot take it over"
                    )));
                }
                match op {
                    BatchOp::PutConsumer(c) => writes::put_consumer_in(tx, c)?,
                    BatchOp::PutKey(k) => writes::put_key_in(tx, k)?,
                    BatchOp::PutService(s) => writes::put_service_in(tx, s)?,
                };
            }
            if let Some((name, value)) = setting {
                writes::put_setting_in(tx, name, value)?;
            }
            Ok(tx.last)
        })
    }

    fn insert_subscription(
        &self,
        subscription: &SubscriptionRecord,
        key: Option<&KeyRecord>,
    ) -> Result<u64> {
        self.write(|tx| subscriptions::insert_subscription_in(tx, subscription, key))
    }

    fn update_subscription(
        &self,
        subscription: &SubscriptionRecord,
        expected: SubscriptionStatus,
    ) -> Result<u64> {
        self.write(|tx| subscriptions::update_subscription_in(tx, subscription, expected))
    }

    fn update_subscription_with_key(
        &self,
        subscription: &SubscriptionRecord,
        expected: SubscriptionStatus,
        ended: &[String],
        ended_at: Millis,
        new: &KeyRecord,
    ) -> Result<u64> {
        self.write(|tx| {
            subscriptions::update_subscription_with_key_in(
                tx,
                subscription,
                expected,
                ended,
                ended_at,
                new,
            )
        })
    }

    fn subscription(&self, id: &str) -> Result<Option<SubscriptionRecord>> {
        self.read(|client| writes::fetch_subscription(client, id))
    }

    fn subscriptions(
        &self,
        consumer: Option<&str>,
        service: Option<&str>,
        page: &Page,
    ) -> Result<Vec<SubscriptionRecord>> {
        self.read(|client| {
            fetch_all(
                client,
                concat!(
                    "SELECT ",
                    subscription_columns!(),
                    " FROM subscriptions WHERE id > $2 AND ($3::text IS NULL OR consumer = $3) \
                     AND ($4::text IS NULL OR service = $4) ORDER BY id LIMIT $1"
                ),
                &[&limit(page), &after(page), &consumer, &service],
                codec::subscription,
            )
        })
    }

    fn delete_subscription(&self, id: &str) -> Result<u64> {
        self.write(|tx| subscriptions::delete_subscription_in(tx, id))
    }

    fn setting(&self, name: &str) -> Result<Option<String>> {
        self.read(|client| {
            Ok(client
                .query_opt("SELECT value FROM settings WHERE name = $1", &[&name])
                .or_store()?
                .map(|row| row.get(0)))
        })
    }

    /// One statement; the latest time per key wins, and rows are locked in id order so
    /// two nodes writing at once cannot deadlock.
    fn record_last_used(&self, uses: &[(String, Millis)]) -> Result<()> {
        if uses.is_empty() {
            return Ok(());
        }
        let mut latest: BTreeMap<&str, Millis> = BTreeMap::new();
        for (id, at) in uses {
            let entry = latest.entry(id.as_str()).or_insert(*at);
            *entry = (*entry).max(*at);
        }
        let ids: Vec<&str> = latest.keys().copied().collect();
        let times: Vec<Millis> = latest.values().copied().collect();
        self.read(|client| {
            client
                .execute(
                    "UPDATE keys SET last_used_at = greatest(coalesce(keys.last_used_at, u.at), u.at) \
                     FROM (SELECT k.id, u.at FROM unnest($1::text[], $2::int8[]) AS u(id, at) \
                           JOIN keys k ON k.id = u.id ORDER BY k.id FOR UPDATE OF k) AS u \
                     WHERE keys.id = u.id",
                    &[&ids, &times],
                )
                .or_store()
                .map(drop)
        })
    }

    /// One statement; rows are locked in (subject, window) order so two nodes adding at
    /// once cannot deadlock, and each adds its delta to what the other wrote.
    fn add_counts(&self, deltas: &[CounterRow], now: Millis) -> Result<()> {
        if deltas.is_empty() {
            return Ok(());
        }
        let mut sorted: Vec<CounterRow> = deltas.to_vec();
        sorted.sort_by_key(|row| (row.subject, row.window));
        let subjects: Vec<i64> = sorted.iter().map(|row| row.subject).collect();
        let windows: Vec<i64> = sorted.iter().map(|row| row.window).collect();
        let used: Vec<i64> = sorted.iter().map(|row| row.used).collect();
        let keep: Vec<i64> = sorted.iter().map(|row| row.keep_until).collect();
        self.read(|client| {
            client
                .execute(
                    "INSERT INTO counters AS c (subject, window_start, used, keep_until, updated_at) \
                     SELECT s, w, u, k, $5 FROM unnest($1::int8[], $2::int8[], $3::int8[], $4::int8[]) \
                     AS d(s, w, u, k) ORDER BY s, w \
                     ON CONFLICT (subject, window_start) DO UPDATE SET \
                     used = c.used + EXCLUDED.used, updated_at = EXCLUDED.updated_at, \
                     keep_until = greatest(c.keep_until, EXCLUDED.keep_until)",
                    &[&subjects, &windows, &used, &keep, &now],
                )
                .or_store()
                .map(drop)
        })
    }

    fn counts(&self, changed_since: Millis, now: Millis) -> Result<Vec<CounterRow>> {
        self.read(|client| {
            let rows = client
                .query(
                    "SELECT subject, window_start, used, keep_until FROM counters \
                     WHERE updated_at >= $1 AND keep_until > $2",
                    &[&changed_since, &now],
                )
                .or_store()?;
            Ok(rows
                .iter()
                .map(|row| CounterRow {
                    subject: row.get(0),
                    window: row.get(1),
                    used: row.get(2),
                    keep_until: row.get(3),
                })
                .collect())
        })
    }

    fn add_usage(&self, rows: &[UsageRow]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        self.read(|client| usage::add_usage_in(client, rows))
    }

    fn usage(&self, query: &UsageQuery) -> Result<Vec<UsageRow>> {
        self.read(|client| usage::usage_in(client, query))
    }

    fn delete_usage_before(&self, before: Millis) -> Result<u64> {
        self.read(|client| usage::delete_usage_in(client, before))
    }
}

#[cfg(test)]
mod tests {
    use super::channel_of;

    #[test]
    fn channels_fit_and_differ() {
        assert_eq!(channel_of("public"), "keygate:public");
        let long = "s".repeat(80);
        let other = format!("{}t", "s".repeat(79));
        assert!(channel_of(&long).len() <= 63);
        assert_ne!(channel_of(&long), channel_of(&other));
    }
}
