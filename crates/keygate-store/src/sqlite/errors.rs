//! How SQLite failures become [`StoreError`]s.

use rusqlite::{ffi, ErrorCode};

use crate::{KeyRecord, StoreError};

/// Converts a SQLite result into a store result.
pub(super) trait OrStore<T> {
    /// Maps the error with [`from_sqlite`].
    fn or_store(self) -> Result<T, StoreError>;
}

impl<T> OrStore<T> for rusqlite::Result<T> {
    fn or_store(self) -> Result<T, StoreError> {
        self.map_err(from_sqlite)
    }
}

/// The general mapping: constraint violations are conflicts, values that cannot be read
/// back are corruption, everything else (busy, I/O, cannot open, …) makes the store
/// unavailable.
pub(super) fn from_sqlite(err: rusqlite::Error) -> StoreError {
    use rusqlite::Error as E;
    match &err {
        E::SqliteFailure(e, message) => match e.code {
            ErrorCode::ConstraintViolation => StoreError::Conflict(format!(
                "the write conflicts with stored data ({})",
                message.as_deref().unwrap_or("constraint violation")
            )),
            ErrorCode::DatabaseCorrupt => StoreError::Corrupt(err.to_string()),
            _ => StoreError::Unavailable(err.to_string()),
        },
        E::FromSqlConversionFailure(..)
        | E::InvalidColumnType(..)
        | E::IntegralValueOutOfRange(..)
        | E::Utf8Error(..) => StoreError::Corrupt(err.to_string()),
        _ => StoreError::Unavailable(err.to_string()),
    }
}

/// The mapping for a statement that inserts or rewrites a key: names the clash precisely.
pub(super) fn key_write(err: rusqlite::Error, key: &KeyRecord) -> StoreError {
    if let rusqlite::Error::SqliteFailure(e, message) = &err {
        if e.code == ErrorCode::ConstraintViolation {
            if e.extended_code == ffi::SQLITE_CONSTRAINT_FOREIGNKEY {
                return StoreError::NotFound {
                    kind: "consumer",
                    name: key.consumer.clone(),
                };
            }
            let message = message.as_deref().unwrap_or_default();
            if message.contains("keys.hash") {
                return StoreError::Conflict("this key is already in use".to_owned());
            }
            if message.contains("keys.id") {
                return StoreError::Conflict(format!("a key with id `{}` already exists", key.id));
            }
        }
    }
    from_sqlite(err)
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
