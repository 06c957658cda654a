//! The JSON Schema of the configuration file, for editors (`keygate schema`).
//!
//! It is written by hand in docs/keygate.schema.json — so that it can say what the types
//! alone cannot (the `auth` values, the duration syntax, "exactly one of `key` and
//! `key_hash`") — and compiled in, so that the binary prints exactly the file in the
//! repository. The tests beside it keep it true to the file's serde types in `file`.

/// The schema, as JSON text (draft-07, which editors' YAML plugins understand).
pub const SCHEMA: &str = include_str!("../../../../docs/keygate.schema.json");

#[cfg(test)]
#[path = "schema_tests.rs"]
mod tests;
