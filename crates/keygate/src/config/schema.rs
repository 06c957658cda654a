//! The JSON Schema of the configuration file, for editors (`keygate schema`).
//!
//! It is written by hand in docs/keygate.schema.json — so that it can say what the types
//! alone cannot (the `auth` values, the duration syntax, "exactly one of `key` and
//! `key_hash`") — and compiled in, so that the binary prints exactly the file in the
//! repository. The tests beside it keep it true to the file's serde types in `file`, to
//! the field tables of docs/config.md and to examples/keygate.yaml: a field added to
//! `file` goes into the schema file and into docs/config.md's table in the same commit,
//! and `every_object_has_the_fields_of_its_serde_type` names the place it is missing.

/// The schema, as JSON text (draft-07, which editors' YAML plugins understand).
pub const SCHEMA: &str = include_str!("../../../../docs/keygate.schema.json");

#[cfg(test)]
#[path = "schema_tests.rs"]
mod tests;
