//! Console sessions: kept in memory on the node that opened them (a restart signs every
//! one out; on a cluster, a session works on the node that opened it), found by the
//! SHA-256 of their id so that the table never holds an id a cookie could replay. A
//! session ends after [`IDLE`] without a call or [`ABSOLUTE`] after it opened, whichever
//! comes first, and when its account is disabled or deleted.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use keygate_store::Role;
use sha2::{Digest, Sha256};

/// The cookie that carries a session's id.
pub const COOKIE: &str = "keygate_session";
/// A session ends after this long without a call.
pub const IDLE: Duration = Duration::from_secs(30 * 60);
/// A session ends this long after it opened, however busy.
pub const ABSOLUTE: Duration = Duration::from_secs(12 * 3600);
/// The most sessions a node keeps; past it, the least recently used ends.
const MOST_SESSIONS: usize = 10_000;

/// One open session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The account signed in; `None` for the admin token.
    pub account: Option<String>,
    /// The role it signed in with (an account's current role is read at each call).
    pub role: Role,
    /// The token a cookie-authenticated write must repeat in `X-CSRF-Token`.
    pub csrf: String,
    opened: Instant,
    seen: Instant,
}

/// The open sessions of this node.
#[derive(Debug, Default)]
pub struct Sessions {
    table: Mutex<HashMap<[u8; 32], Session>>,
}

/// 32 random bytes as 64 hex digits.
fn random_hex() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn digest(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

impl Sessions {
    fn table(&self) -> MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens a session; returns its id (for the cookie) and the session.
    pub fn open(
        &self,
        account: Option<String>,
        role: Role,
    ) -> Result<(String, Session), getrandom::Error> {
        let id = random_hex()?;
        let now = Instant::now();
        let session = Session {
            account,
            role,
            csrf: random_hex()?,
            opened: now,
            seen: now,
        };
        let mut table = self.table();
        if table.len() >= MOST_SESSIONS {
            table.retain(|_, s| live(s, now));
            if table.len() >= MOST_SESSIONS {
                let oldest = table
                    .iter()
                    .min_by_key(|(_, s)| s.seen)
                    .map(|(key, _)| *key);
                if let Some(oldest) = oldest {
                    table.remove(&oldest);
                }
            }
        }
        table.insert(digest(&id), session.clone());
        Ok((id, session))
    }

    /// The live session of `id`, marked as used now; an expired one is removed.
    pub fn find(&self, id: &str) -> Option<Session> {
        self.find_at(id, Instant::now())
    }

    fn find_at(&self, id: &str, now: Instant) -> Option<Session> {
        let key = digest(id);
        let mut table = self.table();
        let session = table.get_mut(&key)?;
        if !live(session, now) {
            table.remove(&key);
            return None;
        }
        session.seen = now;
        Some(session.clone())
    }

    /// Ends the session of `id`, if open.
    pub fn close(&self, id: &str) {
        self.table().remove(&digest(id));
    }

    /// Ends every session of `account` (disabled, deleted, or a new password).
    pub fn close_account(&self, account: &str) {
        self.table()
            .retain(|_, s| s.account.as_deref() != Some(account));
    }
}

fn live(session: &Session, now: Instant) -> bool {
    now.duration_since(session.seen) < IDLE && now.duration_since(session.opened) < ABSOLUTE
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sessions_end_when_idle_or_old_and_are_found_by_id_only() {
        let sessions = Sessions::default();
        let (id, opened) = sessions.open(Some("alice".into()), Role::Owner).unwrap();
        assert_eq!(id.len(), 64);
        assert_eq!(opened.csrf.len(), 64);
        assert_ne!(id, opened.csrf);
        let found = sessions.find(&id).unwrap();
        assert_eq!(found.account.as_deref(), Some("alice"));
        assert!(
            sessions.find(&opened.csrf).is_none(),
            "the CSRF token is no session id"
        );
        // The table holds digests, never the id itself.
        assert!(!sessions.table().contains_key(id.as_bytes()));

        let later = Instant::now() + IDLE + Duration::from_secs(1);
        assert!(sessions.find_at(&id, later).is_none(), "idle too long");
        assert!(sessions.find(&id).is_none(), "and removed");

        let (busy, _) = sessions.open(None, Role::Admin).unwrap();
        let mut now = Instant::now();
        while now < Instant::now() + ABSOLUTE - IDLE {
            now += IDLE / 2;
            assert!(sessions.find_at(&busy, now).is_some());
        }
        assert!(sessions.find_at(&busy, now + IDLE).is_none(), "too old");
    }

    #[test]
    fn an_accounts_sessions_close_together() {
        let sessions = Sessions::default();
        let (a, _) = sessions.open(Some("alice".into()), Role::Owner).unwrap();
        let (b, _) = sessions.open(Some("alice".into()), Role::Owner).unwrap();
        let (c, _) = sessions.open(Some("bob".into()), Role::Owner).unwrap();
        sessions.close_account("alice");
        assert!(sessions.find(&a).is_none() && sessions.find(&b).is_none());
        assert!(sessions.find(&c).is_some());
        sessions.close(&c);
        assert!(sessions.find(&c).is_none());
    }
}
