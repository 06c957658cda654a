//! Change notifications: a dedicated connection that `LISTEN`s on the store's channel.
//!
//! Every write transaction sends `pg_notify(channel, revision)`; PostgreSQL delivers it
//! when (and only if) the transaction commits. A notification is a hint to catch up, not
//! the change itself: the receiver reads `changes_since` its last applied revision, so a
//! lost notification costs nothing once the next one, or a periodic reconcile, arrives.

use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use postgres::Client;

use super::errors::from_postgres;
use crate::{Result, StoreError};

/// How long a liveness check of an idle listening connection may take.
const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection listening for committed revisions. Obtained from
/// [`super::PostgresStore::listen`]; when [`Listener::wait`] fails the connection is gone:
/// drop the listener, reconnect (with backoff), and catch up.
pub struct Listener {
    client: Client,
    channel: String,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl Listener {
    /// Starts listening on `channel` over `client`.
    pub(super) fn start(mut client: Client, channel: &str) -> Result<Listener> {
        client
            .batch_execute(&format!("LISTEN {}", quote_identifier(channel)))
            .map_err(from_postgres)?;
        Ok(Listener {
            client,
            channel: channel.to_owned(),
        })
    }

    /// Waits up to `timeout` for notifications. Returns the highest revision notified
    /// (every notification already received is consumed), or `None` when none came. A
    /// notification whose payload is not a revision counts as `u64::MAX`: something
    /// changed. When none came, the connection is checked with a round trip, so a
    /// silently dead connection is noticed within one wait. `Err` when the connection is
    /// lost.
    pub fn wait(&mut self, timeout: Duration) -> Result<Option<u64>> {
        let mut highest = None;
        let mut note = |payload: &str| {
            let revision = payload.trim().parse::<u64>().unwrap_or(u64::MAX);
            highest = Some(highest.map_or(revision, |h: u64| h.max(revision)));
        };
        let first = {
            let mut notifications = self.client.notifications();
            let mut waiting = notifications.timeout_iter(timeout);
            waiting.next().map_err(lost)?
        };
        if let Some(notification) = first {
            if notification.channel() == self.channel {
                note(notification.payload());
            }
        }
        {
            let mut notifications = self.client.notifications();
            let mut pending = notifications.iter();
            while let Some(notification) = pending.next().map_err(lost)? {
                if notification.channel() == self.channel {
                    note(notification.payload());
                }
            }
        }
        if highest.is_none() {
            if self.client.is_closed() {
                return Err(StoreError::Unavailable(
                    "the listening connection to PostgreSQL was closed".to_owned(),
                ));
            }
            self.client.is_valid(PING_TIMEOUT).map_err(lost)?;
        }
        Ok(highest)
    }
}

/// A lost listening connection.
fn lost(error: postgres::Error) -> StoreError {
    StoreError::Unavailable(format!(
        "the listening connection to PostgreSQL failed: {}",
        from_postgres(error)
    ))
}

/// `name` as a quoted SQL identifier.
pub(super) fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::quote_identifier;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_identifier("keygate:a"), "\"keygate:a\"");
        assert_eq!(quote_identifier("a\"b"), "\"a\"\"b\"");
    }
}
