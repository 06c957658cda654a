//! The SQLite side of the hourly usage counts: adding deltas, reading buckets back,
//! deleting hours past their retention.

use rusqlite::{params, Connection, Transaction};

use super::errors::OrStore;
use crate::{Millis, Result, UsageQuery, UsageRow};

/// Adds every row's count to its stored hour (an upsert that adds).
pub(super) fn add_usage_in(tx: &Transaction<'_>, rows: &[UsageRow]) -> Result<()> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO usage_hours (hour, consumer, key_id, service, outcome, count) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT (hour, consumer, key_id, service, outcome) DO UPDATE SET \
             count = count + excluded.count",
        )
        .or_store()?;
    for row in rows {
        stmt.execute(params![
            row.start,
            row.consumer,
            row.key_id,
            row.service,
            row.outcome,
            row.count
        ])
        .or_store()?;
    }
    Ok(())
}

/// The buckets `query` asks for.
pub(super) fn usage_in(conn: &Connection, query: &UsageQuery) -> Result<Vec<UsageRow>> {
    let bucket = query.bucket_ms.max(1);
    let mut stmt = conn
        .prepare_cached(
            "SELECT hour - (hour % ?1) AS bucket, consumer, \
                    CASE WHEN ?2 THEN key_id ELSE '' END AS k, \
                    CASE WHEN ?3 THEN service ELSE '' END AS s, \
                    outcome, sum(count) \
             FROM usage_hours \
             WHERE hour >= ?4 AND hour < ?5 \
               AND (?6 IS NULL OR consumer = ?6) \
               AND (?7 IS NULL OR key_id = ?7) \
               AND (?8 IS NULL OR service = ?8) \
             GROUP BY bucket, consumer, k, s, outcome \
             ORDER BY bucket, consumer, k, s, outcome",
        )
        .or_store()?;
    let per_service = query.per_service || query.service.is_some();
    let rows = stmt
        .query_map(
            params![
                bucket,
                query.per_key,
                per_service,
                query.since,
                query.until,
                query.consumer,
                query.key_id,
                query.service
            ],
            |row| {
                Ok(UsageRow {
                    start: row.get(0)?,
                    consumer: row.get(1)?,
                    key_id: row.get(2)?,
                    service: row.get(3)?,
                    outcome: row.get(4)?,
                    count: row.get(5)?,
                })
            },
        )
        .or_store()?;
    rows.map(|row| row.or_store()).collect()
}

/// Deletes the hours before `before`.
pub(super) fn delete_usage_in(tx: &Transaction<'_>, before: Millis) -> Result<u64> {
    let deleted = tx
        .execute("DELETE FROM usage_hours WHERE hour < ?1", params![before])
        .or_store()?;
    Ok(u64::try_from(deleted).unwrap_or(u64::MAX))
}
