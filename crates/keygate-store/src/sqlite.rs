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

mod accounts;
mod change_log;
mod codec;
mod consumers;
mod errors;
pub mod files;
mod group_commit;
mod keys;
mod reads;
mod schema;
mod services;
mod store_calls;
mod subscriptions;
mod usage;

use std::fmt;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use self::change_log::{bump_revision, log_key};
use self::errors::OrStore;
use self::group_commit::GroupCommit;
use self::keys::insert_key_row;
use crate::{KeyRecord, Result, Store, StoreError};

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
}
