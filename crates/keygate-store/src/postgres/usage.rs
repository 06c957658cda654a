//! The PostgreSQL side of the hourly usage counts: adding deltas (several nodes add to
//! the same rows), reading buckets back, deleting hours past their retention.

use postgres::Client;

use super::errors::OrStore;
use crate::{Millis, Result, UsageQuery, UsageRow};

/// Adds every row's count to its stored hour in one statement. Rows are locked in key
/// order, so two nodes adding at once cannot deadlock, and each adds its delta to what
/// the other wrote.
pub(super) fn add_usage_in(client: &mut Client, rows: &[UsageRow]) -> Result<()> {
    let mut sorted: Vec<&UsageRow> = rows.iter().collect();
    sorted.sort_by(|a, b| {
        (a.start, &a.consumer, &a.key_id, &a.service, &a.outcome).cmp(&(
            b.start,
            &b.consumer,
            &b.key_id,
            &b.service,
            &b.outcome,
        ))
    });
    let hours: Vec<i64> = sorted.iter().map(|r| r.start).collect();
    let consumers: Vec<&str> = sorted.iter().map(|r| r.consumer.as_str()).collect();
    let keys: Vec<&str> = sorted.iter().map(|r| r.key_id.as_str()).collect();
    let services: Vec<&str> = sorted.iter().map(|r| r.service.as_str()).collect();
    let outcomes: Vec<&str> = sorted.iter().map(|r| r.outcome.as_str()).collect();
    let counts: Vec<i64> = sorted.iter().map(|r| r.count).collect();
    client
        .execute(
            "INSERT INTO usage_hours AS u (hour, consumer, key_id, service, outcome, count) \
             SELECT h, c, k, s, o, n FROM unnest($1::int8[], $2::text[], $3::text[], \
                    $4::text[], $5::text[], $6::int8[]) AS d(h, c, k, s, o, n) \
             ORDER BY h, c, k, s, o \
             ON CONFLICT (hour, consumer, key_id, service, outcome) DO UPDATE SET \
             count = u.count + EXCLUDED.count",
            &[&hours, &consumers, &keys, &services, &outcomes, &counts],
        )
        .or_store()
        .map(drop)
}

/// The buckets `query` asks for.
pub(super) fn usage_in(client: &mut Client, query: &UsageQuery) -> Result<Vec<UsageRow>> {
    let bucket = query.bucket_ms.max(1);
    let per_service = query.per_service || query.service.is_some();
    let rows = client
        .query(
            "SELECT hour - (hour % $1) AS bucket, consumer, \
                    CASE WHEN $2 THEN key_id ELSE '' END AS k, \
                    CASE WHEN $3 THEN service ELSE '' END AS s, \
                    outcome, sum(count)::int8 \
             FROM usage_hours \
             WHERE hour >= $4 AND hour < $5 \
               AND ($6::text IS NULL OR consumer = $6) \
               AND ($7::text IS NULL OR key_id = $7) \
               AND ($8::text IS NULL OR service = $8) \
             GROUP BY bucket, consumer, k, s, outcome \
             ORDER BY bucket, consumer, k, s, outcome",
            &[
                &bucket,
                &query.per_key,
                &per_service,
                &query.since,
                &query.until,
                &query.consumer,
                &query.key_id,
                &query.service,
            ],
        )
        .or_store()?;
    Ok(rows
        .iter()
        .map(|row| UsageRow {
            start: row.get(0),
            consumer: row.get(1),
            key_id: row.get(2),
            service: row.get(3),
            outcome: row.get(4),
            count: row.get(5),
        })
        .collect())
}

/// Deletes the hours before `before`.
pub(super) fn delete_usage_in(client: &mut Client, before: Millis) -> Result<u64> {
    client
        .execute("DELETE FROM usage_hours WHERE hour < $1", &[&before])
        .or_store()
}
