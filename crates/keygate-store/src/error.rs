//! Why a store operation failed.

/// A store failure. The admin API maps these to statuses in one place.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The named entity does not exist.
    #[error("{kind} `{name}` not found")]
    NotFound {
        /// `consumer`, `key` or `service`.
        kind: &'static str,
        /// Its name or id.
        name: String,
    },
    /// The write conflicts with what is stored (duplicate, still referenced).
    #[error("{0}")]
    Conflict(String),
    /// The database cannot be reached or refused the operation.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be read back (a bug or manual tampering).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}
