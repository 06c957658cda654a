//! How PostgreSQL failures become [`StoreError`]s.
//!
//! Messages never include the store URL or connection parameters: they may hold a
//! password.

use postgres::error::SqlState;

use crate::{KeyRecord, StoreError};

/// Converts a PostgreSQL result into a store result.
pub(super) trait OrStore<T> {
    /// Maps the error with [`from_postgres`].
    fn or_store(self) -> Result<T, StoreError>;
}

impl<T> OrStore<T> for Result<T, postgres::Error> {
    fn or_store(self) -> Result<T, StoreError> {
        self.map_err(from_postgres)
    }
}

/// The general mapping: integrity violations are conflicts; everything else (refused or
/// lost connections, timeouts, the server shutting down, …) makes the store unavailable.
/// Values that cannot be read back are mapped to `Corrupt` where rows are decoded.
pub(super) fn from_postgres(err: postgres::Error) -> StoreError {
    match err.code() {
        Some(code) if code.code().starts_with("23") => StoreError::Conflict(format!(
            "the write conflicts with stored data ({})",
            err.as_db_error()
                .map_or("constraint violation", |db| db.message())
        )),
        _ => StoreError::Unavailable(describe(&err)),
    }
}

/// A one-line description of a failure, without connection parameters.
fn describe(err: &postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => format!("PostgreSQL: {} ({})", db.message(), db.code().code()),
        None => format!("PostgreSQL: {err}"),
    }
}

/// Whether the failure means the connection is gone (closed, reset, terminated by the
/// server or an administrator): the connection must be dropped, and an operation that
/// sent nothing yet may be tried again on a new one.
pub(super) fn is_connection_lost(err: &postgres::Error) -> bool {
    if err.is_closed() {
        return true;
    }
    match err.code() {
        Some(code) => {
            code.code().starts_with("08")
                || *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CRASH_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW
                || *code == SqlState::IDLE_SESSION_TIMEOUT
        }
        // No server error: an I/O failure or a closed socket. (Values that cannot be
        // decoded are mapped where rows are read and never come here.)
        None => true,
    }
}

/// The mapping for a statement that inserts or rewrites a key: names the clash precisely,
/// with the same messages as the SQLite store.
pub(super) fn key_write(err: postgres::Error, key: &KeyRecord) -> StoreError {
    if let Some(db) = err.as_db_error() {
        if *db.code() == SqlState::FOREIGN_KEY_VIOLATION {
            return StoreError::NotFound {
                kind: "consumer",
                name: key.consumer.clone(),
            };
        }
        if *db.code() == SqlState::UNIQUE_VIOLATION {
            match db.constraint() {
                Some("keys_hash_unique") => {
                    return StoreError::Conflict("this key is already in use".to_owned());
                }
                Some("keys_pkey") => {
                    return StoreError::Conflict(format!(
                        "a key with id `{}` already exists",
                        key.id
                    ));
                }
                _ => {}
            }
        }
    }
    from_postgres(err)
}

/// A `NotFound` error.
pub(super) fn not_found(kind: &'static str, name: &str) -> StoreError {
    StoreError::NotFound {
        kind,
        name: name.to_owned(),
    }
}

/// A `Corrupt` error.
pub(super) fn corrupt(message: impl Into<String>) -> StoreError {
    StoreError::Corrupt(message.into())
}
