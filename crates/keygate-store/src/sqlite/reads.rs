//! Reading rows: one record by its name or id, a page of a listing, or every row
//! streamed to a visitor.

use rusqlite::{Connection, Params, Row};

use super::codec;
use super::codec::{consumer_columns, key_columns, service_columns, subscription_columns};
use super::errors::OrStore;
use crate::{ConsumerRecord, KeyRecord, Page, Result, ServiceRecord, SubscriptionRecord};

/// The number of rows a listing returns: 0 means 100, else 1 to 1000.
pub(super) fn limit(page: &Page) -> i64 {
    match page.limit {
        0 => 100,
        n => i64::try_from(n.clamp(1, 1000)).unwrap_or(1000),
    }
}

/// Where a listing starts: after `page.after`, or from the first row. Names and ids are
/// never empty, so every one sorts after `""`, and the range still uses the index.
pub(super) fn after(page: &Page) -> &str {
    page.after.as_deref().unwrap_or("")
}

/// Runs a query and decodes its first row, if any.
pub(super) fn fetch_one<T>(
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
pub(super) fn fetch_all<T>(
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
pub(super) fn stream<T>(
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
pub(super) fn fetch_consumer(conn: &Connection, name: &str) -> Result<Option<ConsumerRecord>> {
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
pub(super) fn fetch_key(conn: &Connection, id: &str) -> Result<Option<KeyRecord>> {
    fetch_one(
        conn,
        concat!("SELECT ", key_columns!(), " FROM keys WHERE id = ?1"),
        [id],
        codec::key,
    )
}

/// One service.
pub(super) fn fetch_service(conn: &Connection, name: &str) -> Result<Option<ServiceRecord>> {
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

/// One subscription.
pub(super) fn fetch_subscription(
    conn: &Connection,
    id: &str,
) -> Result<Option<SubscriptionRecord>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        let page = |limit| Page { after: None, limit };
        assert_eq!(limit(&page(0)), 100);
        assert_eq!(limit(&page(1)), 1);
        assert_eq!(limit(&page(1000)), 1000);
        assert_eq!(limit(&page(5000)), 1000);
    }
}
