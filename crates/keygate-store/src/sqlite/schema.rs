//! Connection settings and schema migrations.
//!
//! The schema version is SQLite's `user_version`: the number of migrations applied.
//! Migrations are append-only: never edit one that has shipped, add the next one.

use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use super::errors::OrStore;
use crate::{Result, StoreError};

/// How long a statement waits for another connection's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The migrations, in order. Migration `n` (1-based) moves the schema to version `n`.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    "
    CREATE TABLE meta (
        id       INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
        revision INTEGER NOT NULL CHECK (revision >= 0)
    );
    INSERT INTO meta (id, revision) VALUES (1, 0);

    -- One row per entity touched by a write; the rows of one write share its revision.
    CREATE TABLE change_log (
        revision INTEGER NOT NULL,
        seq      INTEGER NOT NULL,
        kind     TEXT    NOT NULL,
        name     TEXT    NOT NULL,
        deleted  INTEGER NOT NULL,
        key_hash BLOB,
        PRIMARY KEY (revision, seq)
    ) WITHOUT ROWID;

    CREATE TABLE consumers (
        name        TEXT    NOT NULL PRIMARY KEY,
        client_type TEXT,
        groups      TEXT    NOT NULL,
        permissions TEXT    NOT NULL,
        description TEXT,
        metadata    TEXT    NOT NULL,
        origin      TEXT    NOT NULL,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL
    );

    CREATE TABLE keys (
        id              TEXT    NOT NULL PRIMARY KEY,
        consumer        TEXT    NOT NULL REFERENCES consumers (name),
        hash            BLOB    NOT NULL UNIQUE,
        prefix          TEXT,
        active          INTEGER NOT NULL,
        description     TEXT,
        labels          TEXT    NOT NULL,
        origin          TEXT    NOT NULL,
        created_at      INTEGER NOT NULL,
        expires_at      INTEGER,
        revoked_at      INTEGER,
        last_used_at    INTEGER,
        subscription_id TEXT
    );
    CREATE INDEX keys_by_consumer ON keys (consumer, id);

    CREATE TABLE services (
        name       TEXT    NOT NULL PRIMARY KEY,
        document   TEXT    NOT NULL,
        origin     TEXT    NOT NULL,
        updated_at INTEGER NOT NULL
    );

    -- Ready for plans and subscriptions; not used yet.
    CREATE TABLE plans (
        service  TEXT NOT NULL,
        name     TEXT NOT NULL,
        document TEXT NOT NULL,
        PRIMARY KEY (service, name)
    );

    CREATE TABLE subscriptions (
        id         TEXT    NOT NULL PRIMARY KEY,
        consumer   TEXT    NOT NULL,
        service    TEXT    NOT NULL,
        plan       TEXT    NOT NULL,
        status     TEXT    NOT NULL,
        key_mode   TEXT    NOT NULL,
        ends_at    INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    ",
    // 2: named settings, such as the fingerprint of the configuration file last applied.
    "CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);",
    // 3: subscriptions and shared keys. Plans live in their service's document.
    "
    DROP TABLE plans;
    ALTER TABLE keys ADD COLUMN shared INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX keys_by_subscription ON keys (subscription_id);
    CREATE INDEX subscriptions_by_consumer ON subscriptions (consumer, id);
    CREATE INDEX subscriptions_by_service ON subscriptions (service, id);
    ",
    // 4: durable usage counters (quotas, credits), and the limits of keys.
    "
    CREATE TABLE counters (
        subject    INTEGER NOT NULL,
        window_start INTEGER NOT NULL,
        used       INTEGER NOT NULL,
        keep_until INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (subject, window_start)
    ) WITHOUT ROWID;
    CREATE INDEX counters_by_update ON counters (updated_at);
    ALTER TABLE keys ADD COLUMN limits TEXT;
    ",
    // 5: the limits of consumers (shared by their keys).
    "
    ALTER TABLE consumers ADD COLUMN limits TEXT;
    ",
    // 6: accounts and their scoped tokens, who owns consumers and services, the audit
    // log of admin writes.
    "
    CREATE TABLE accounts (
        name          TEXT    NOT NULL PRIMARY KEY,
        role          TEXT    NOT NULL,
        password_hash TEXT,
        disabled      INTEGER NOT NULL,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL
    );
    CREATE TABLE account_tokens (
        id          TEXT    NOT NULL PRIMARY KEY,
        account     TEXT    NOT NULL REFERENCES accounts (name),
        hash        BLOB    NOT NULL UNIQUE,
        prefix      TEXT    NOT NULL,
        description TEXT,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER,
        revoked_at  INTEGER
    );
    CREATE INDEX account_tokens_by_account ON account_tokens (account, id);
    ALTER TABLE consumers ADD COLUMN owner TEXT;
    ALTER TABLE services ADD COLUMN owner TEXT;
    CREATE INDEX consumers_by_owner ON consumers (owner, name);
    CREATE INDEX services_by_owner ON services (owner, name);
    CREATE TABLE audit_log (
        id          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
        at          INTEGER NOT NULL,
        actor       TEXT    NOT NULL,
        action      TEXT    NOT NULL,
        entity_kind TEXT    NOT NULL,
        entity      TEXT    NOT NULL,
        before_json TEXT,
        after_json  TEXT
    );
    CREATE INDEX audit_by_entity ON audit_log (entity_kind, entity, id);
    CREATE INDEX audit_by_time ON audit_log (at);
    ",
    // 7: hourly usage counts per key, service and outcome (`allowed` or a refusal).
    "
    CREATE TABLE usage_hours (
        hour     INTEGER NOT NULL,
        consumer TEXT    NOT NULL,
        key_id   TEXT    NOT NULL,
        service  TEXT    NOT NULL,
        outcome  TEXT    NOT NULL,
        count    INTEGER NOT NULL,
        PRIMARY KEY (hour, consumer, key_id, service, outcome)
    ) WITHOUT ROWID;
    CREATE INDEX usage_hours_by_consumer ON usage_hours (consumer, hour);
    CREATE INDEX usage_hours_by_key ON usage_hours (key_id, hour);
    ",
    // 8: the reason a subscription was rejected, for its application's owner.
    "
    ALTER TABLE subscriptions ADD COLUMN reason TEXT;
    ",
];

/// The schema version this code writes and understands.
pub(super) fn latest_version() -> i64 {
    i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)
}

/// Applies the connection settings: write-ahead log, full sync (a commit is on disk
/// before it returns), foreign keys, busy timeout, statement cache.
pub(super) fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT).or_store()?;
    conn.set_prepared_statement_cache_capacity(64);
    // Returns the resulting mode: `wal` for a file, `memory` for an in-memory database.
    let _mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .or_store()?;
    conn.pragma_update(None, "synchronous", "FULL").or_store()?;
    conn.pragma_update(None, "foreign_keys", true).or_store()?;
    Ok(())
}

/// Brings the schema up to date, in one transaction. Refuses a database written by a
/// newer version.
pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .or_store()?;
    let version: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .or_store()?;
    let latest = latest_version();
    if version > latest || version < 0 {
        return Err(StoreError::Unavailable(format!(
            "the database has schema version {version}, but this keygate understands \
             versions up to {latest}: it was written by a newer keygate; upgrade keygate \
             or use another database"
        )));
    }
    let applied = usize::try_from(version).unwrap_or_default();
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.execute_batch(sql).or_store()?;
        let reached = i64::try_from(index + 1).unwrap_or(i64::MAX);
        tx.pragma_update(None, "user_version", reached).or_store()?;
    }
    tx.commit().or_store()
}
