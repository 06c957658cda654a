//! Schema migrations.
//!
//! The tables live in the connection's current schema (the first existing schema of its
//! `search_path`), so several keygate clusters — or test runs — can share one database,
//! one schema each. The schema version is the row of `keygate_schema`: the number of
//! migrations applied. Nodes that start together migrate one at a time (an advisory lock
//! per schema). Migrations are append-only: never edit one that has shipped, add the next.
//!
//! Text keys sort with the "C" collation (byte order), as in SQLite, so listings page the
//! same way on both stores.

use postgres::Client;

use super::errors::OrStore;
use crate::{Result, StoreError};

/// The migrations, in order. Migration `n` (1-based) moves the schema to version `n`.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema, at the level of SQLite's version 3.
    r#"
    CREATE TABLE meta (
        id       INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
        revision BIGINT  NOT NULL CHECK (revision >= 0)
    );
    INSERT INTO meta (id, revision) VALUES (1, 0);

    -- One row per entity touched by a write; the rows of one write share its revision.
    CREATE TABLE change_log (
        revision BIGINT  NOT NULL,
        seq      INTEGER NOT NULL,
        kind     TEXT    NOT NULL,
        name     TEXT    NOT NULL,
        deleted  BOOLEAN NOT NULL,
        key_hash BYTEA,
        PRIMARY KEY (revision, seq)
    );

    CREATE TABLE consumers (
        name        TEXT COLLATE "C" NOT NULL PRIMARY KEY,
        client_type TEXT,
        groups      TEXT   NOT NULL,
        permissions TEXT   NOT NULL,
        description TEXT,
        metadata    TEXT   NOT NULL,
        origin      TEXT   NOT NULL,
        created_at  BIGINT NOT NULL,
        updated_at  BIGINT NOT NULL
    );

    CREATE TABLE keys (
        id              TEXT COLLATE "C" NOT NULL,
        consumer        TEXT COLLATE "C" NOT NULL,
        hash            BYTEA   NOT NULL,
        prefix          TEXT,
        active          BOOLEAN NOT NULL,
        description     TEXT,
        labels          TEXT    NOT NULL,
        origin          TEXT    NOT NULL,
        created_at      BIGINT  NOT NULL,
        expires_at      BIGINT,
        revoked_at      BIGINT,
        last_used_at    BIGINT,
        subscription_id TEXT COLLATE "C",
        shared          BOOLEAN NOT NULL DEFAULT false,
        CONSTRAINT keys_pkey PRIMARY KEY (id),
        CONSTRAINT keys_hash_unique UNIQUE (hash),
        CONSTRAINT keys_consumer_fkey FOREIGN KEY (consumer) REFERENCES consumers (name)
    );
    CREATE INDEX keys_by_consumer ON keys (consumer, id);
    CREATE INDEX keys_by_subscription ON keys (subscription_id);

    CREATE TABLE services (
        name       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
        document   TEXT   NOT NULL,
        origin     TEXT   NOT NULL,
        updated_at BIGINT NOT NULL
    );

    CREATE TABLE subscriptions (
        id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
        consumer   TEXT COLLATE "C" NOT NULL,
        service    TEXT COLLATE "C" NOT NULL,
        plan       TEXT   NOT NULL,
        status     TEXT   NOT NULL,
        key_mode   TEXT   NOT NULL,
        ends_at    BIGINT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
    );
    CREATE INDEX subscriptions_by_consumer ON subscriptions (consumer, id);
    CREATE INDEX subscriptions_by_service ON subscriptions (service, id);

    -- Named settings, such as the fingerprint of the configuration file last applied.
    CREATE TABLE settings (
        name  TEXT NOT NULL PRIMARY KEY,
        value TEXT NOT NULL
    );
    "#,
    // 2: durable usage counters (quotas, credits), and the limits of keys.
    r#"
    CREATE TABLE counters (
        subject    BIGINT NOT NULL,
        window_start BIGINT NOT NULL,
        used       BIGINT NOT NULL,
        keep_until BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (subject, window_start)
    );
    CREATE INDEX counters_by_update ON counters (updated_at);
    ALTER TABLE keys ADD COLUMN limits TEXT;
    "#,
    // 3: the limits of consumers (shared by their keys).
    r#"
    ALTER TABLE consumers ADD COLUMN limits TEXT;
    "#,
    // 4: accounts and their scoped tokens, who owns consumers and services, the audit
    // log of admin writes.
    r#"
    CREATE TABLE accounts (
        name          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
        role          TEXT    NOT NULL,
        password_hash TEXT,
        disabled      BOOLEAN NOT NULL,
        created_at    BIGINT  NOT NULL,
        updated_at    BIGINT  NOT NULL
    );
    CREATE TABLE account_tokens (
        id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
        account     TEXT COLLATE "C" NOT NULL,
        hash        BYTEA   NOT NULL,
        prefix      TEXT    NOT NULL,
        description TEXT,
        created_at  BIGINT  NOT NULL,
        expires_at  BIGINT,
        revoked_at  BIGINT,
        CONSTRAINT account_tokens_hash_unique UNIQUE (hash),
        CONSTRAINT account_tokens_account_fkey FOREIGN KEY (account) REFERENCES accounts (name)
    );
    CREATE INDEX account_tokens_by_account ON account_tokens (account, id);
    ALTER TABLE consumers ADD COLUMN owner TEXT COLLATE "C";
    ALTER TABLE services ADD COLUMN owner TEXT COLLATE "C";
    CREATE INDEX consumers_by_owner ON consumers (owner, name);
    CREATE INDEX services_by_owner ON services (owner, name);
    CREATE TABLE audit_log (
        id          BIGSERIAL NOT NULL PRIMARY KEY,
        at          BIGINT NOT NULL,
        actor       TEXT   NOT NULL,
        action      TEXT   NOT NULL,
        entity_kind TEXT   NOT NULL,
        entity      TEXT   NOT NULL,
        before_json TEXT,
        after_json  TEXT
    );
    CREATE INDEX audit_by_entity ON audit_log (entity_kind, entity, id);
    CREATE INDEX audit_by_time ON audit_log (at);
    "#,
    // 5: hourly usage counts per key, service and outcome (`allowed` or a refusal).
    r#"
    CREATE TABLE usage_hours (
        hour     BIGINT NOT NULL,
        consumer TEXT COLLATE "C" NOT NULL,
        key_id   TEXT COLLATE "C" NOT NULL,
        service  TEXT COLLATE "C" NOT NULL,
        outcome  TEXT COLLATE "C" NOT NULL,
        count    BIGINT NOT NULL,
        PRIMARY KEY (hour, consumer, key_id, service, outcome)
    );
    CREATE INDEX usage_hours_by_consumer ON usage_hours (consumer, hour);
    CREATE INDEX usage_hours_by_key ON usage_hours (key_id, hour);
    "#,
    // 6: the reason a subscription was rejected, for its application's owner.
    r#"
    ALTER TABLE subscriptions ADD COLUMN reason TEXT;
    "#,
];

/// The schema version this code writes and understands.
pub(super) fn latest_version() -> i32 {
    i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX)
}

/// Brings the schema up to date, in one transaction, and returns the schema's name.
/// Refuses a schema written by a newer version, and a `search_path` that names no
/// existing schema.
pub(super) fn migrate(client: &mut Client) -> Result<String> {
    let mut tx = client.transaction().or_store()?;
    let schema: Option<String> = tx
        .query_one("SELECT current_schema()", &[])
        .or_store()?
        .get(0);
    let Some(schema) = schema else {
        return Err(StoreError::Unavailable(
            "the connection's search_path names no existing schema: create the schema first, \
             or fix `options=-c search_path=…` in the store URL"
                .to_owned(),
        ));
    };
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('keygate schema ' || $1::text))",
        &[&schema],
    )
    .or_store()?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS keygate_schema (version INTEGER NOT NULL)")
        .or_store()?;
    let version: i32 = match tx
        .query_opt("SELECT version FROM keygate_schema", &[])
        .or_store()?
    {
        Some(row) => row.get(0),
        None => {
            tx.execute("INSERT INTO keygate_schema (version) VALUES (0)", &[])
                .or_store()?;
            0
        }
    };
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
        tx.batch_execute(sql).or_store()?;
        let reached = i32::try_from(index + 1).unwrap_or(i32::MAX);
        tx.execute("UPDATE keygate_schema SET version = $1", &[&reached])
            .or_store()?;
    }
    tx.commit().or_store()?;
    Ok(schema)
}
