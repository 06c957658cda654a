//! The [`Store`] calls of the SQLite store: reads on the connection, writes of single
//! entities through group commit, each with the `*_in` function of its entity.

use rusqlite::{params, TransactionBehavior};

use super::change_log::{bump_revision, current_revision, log_key};
use super::codec::{consumer_columns, key_columns, service_columns, subscription_columns};
use super::consumers::{delete_consumer_in, put_consumer_in};
use super::errors::{corrupt, not_found, OrStore};
use super::keys::{delete_key_in, insert_key_row, put_key_in};
use super::reads::{
    after, fetch_all, fetch_consumer, fetch_key, fetch_service, fetch_subscription, limit, stream,
};
use super::services::{delete_service_in, put_service_in};
use super::subscriptions::{
    delete_subscription_in, insert_subscription_in, update_subscription_in,
    update_subscription_with_key_in,
};
use super::usage::{add_usage_in, delete_usage_in, usage_in};
use super::{codec, SqliteStore};
use crate::{
    BatchOp, Change, ConsumerRecord, CounterRow, Entity, KeyRecord, Millis, Origin, Page, Result,
    ServiceRecord, Store, StoreError, SubscriptionRecord, SubscriptionStatus, UsageQuery, UsageRow,
    Written,
};

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
                 revoked_at = ?6, limits = ?7 WHERE id = ?1",
            )
            .or_store()?
            .execute(params![
                key.id,
                key.active,
                key.description,
                codec::to_json(&key.labels)?,
                key.expires_at,
                key.revoked_at,
                key.limits,
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

    fn update_subscription_with_key(
        &self,
        subscription: &SubscriptionRecord,
        expected: SubscriptionStatus,
        ended: &[String],
        ended_at: Millis,
        new: &KeyRecord,
    ) -> Result<u64> {
        self.write(|tx| {
            update_subscription_with_key_in(tx, subscription, expected, ended, ended_at, new)
        })
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

    fn add_counts(&self, deltas: &[CounterRow], now: Millis) -> Result<()> {
        if deltas.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO counters (subject, window_start, used, keep_until, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (subject, window_start) DO UPDATE SET \
                     used = used + excluded.used, updated_at = excluded.updated_at, \
                     keep_until = max(keep_until, excluded.keep_until)",
                )
                .or_store()?;
            for row in deltas {
                stmt.execute(params![
                    row.subject,
                    row.window,
                    row.used,
                    row.keep_until,
                    now
                ])
                .or_store()?;
            }
            Ok(())
        })
    }

    fn counts(&self, changed_since: Millis, now: Millis) -> Result<Vec<CounterRow>> {
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached(
                "SELECT subject, window_start, used, keep_until FROM counters \
                 WHERE updated_at >= ?1 AND keep_until > ?2",
            )
            .or_store()?;
        let rows = statement
            .query_map(params![changed_since, now], |row| {
                Ok(CounterRow {
                    subject: row.get(0)?,
                    window: row.get(1)?,
                    used: row.get(2)?,
                    keep_until: row.get(3)?,
                })
            })
            .or_store()?;
        rows.map(|row| row.or_store()).collect()
    }

    fn add_usage(&self, rows: &[UsageRow]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        self.write(|tx| add_usage_in(tx, rows))
    }

    fn usage(&self, query: &UsageQuery) -> Result<Vec<UsageRow>> {
        usage_in(&self.conn(), query)
    }

    fn delete_usage_before(&self, before: Millis) -> Result<u64> {
        self.write(|tx| delete_usage_in(tx, before))
    }
}
