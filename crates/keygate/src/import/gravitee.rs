//! placeholder
use super::{ImportError, Imported, Options};

/// Imports a file.
pub fn import(_file: &serde_json::Value, _options: Options) -> Result<Imported, ImportError> {
    Err(ImportError::Shape("not yet".into()))
}
