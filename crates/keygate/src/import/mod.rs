//! Importers: read the export of another gateway (Kong's decK file, APISIX's standalone
//! file or Admin API dump, a Gravitee API export) and write the keygate configuration
//! that does the same, with a [`Report`] of every item mapped, changed or left out.
//!
//! Keys arrive in plaintext from the peers: they are written as `key_hash:
//! sha256:<hex>` unless the caller asks to keep them, and a key that keygate's custom-key
//! rule would refuse always goes as its hash (the peer accepted it; keygate only ever
//! compares hashes). The result is checked by `config::Config::parse` before anyone
//! writes it. docs/migration.md says what maps for each peer.

mod anonymous;
pub mod apisix;
mod cors;
pub mod document;
pub mod gravitee;
pub mod kong;
pub mod report;

use std::collections::BTreeSet;

use serde_json::Value;

pub use document::Document;
pub use report::Report;

use crate::key::KeyHash;

/// The gateway a file comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Peer {
    /// Kong's declarative file, as decK writes it (`kong.yaml`).
    Kong,
    /// APISIX: the standalone `apisix.yaml`, or Admin API list responses (JSON).
    Apisix,
    /// A Gravitee API export (JSON, v2 or v4 definition).
    Gravitee,
}

/// How keys are written.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Write keys that pass the custom-key rule as plaintext instead of their hashes.
    pub keep_plaintext: bool,
}

/// Why a file could not be imported at all (an item that cannot be mapped is a report
/// line, not an error).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Not YAML or JSON.
    #[error("cannot read the file as {what}: {reason}")]
    Syntax {
        /// YAML or JSON.
        what: &'static str,
        /// The parser's message, with its position.
        reason: String,
    },
    /// Readable, but not the peer's format.
    #[error("{0}")]
    Shape(String),
    /// The result does not pass `keygate validate` (a bug of the importer).
    #[error("the imported configuration is not valid:\n{0}")]
    Invalid(String),
}

/// What an import made.
#[derive(Debug)]
pub struct Imported {
    /// The keygate configuration.
    pub document: Document,
    /// What became of every item.
    pub report: Report,
}

/// Imports `text`, a file of `peer`, and checks the result as `keygate validate` would.
pub fn import(peer: Peer, text: &str, options: Options) -> Result<(Imported, String), ImportError> {
    let imported = match peer {
        Peer::Kong => kong::import(&parse_yaml(text)?, options)?,
        Peer::Apisix => apisix::import(&parse_yaml(text)?, options)?,
        Peer::Gravitee => gravitee::import(&parse_json(text)?, options)?,
    };
    let yaml = render(&imported.document)?;
    crate::config::Config::parse("imported configuration", &yaml)
        .map_err(|error| ImportError::Invalid(error.to_string()))?;
    Ok((imported, yaml))
}

/// The document as YAML.
pub fn render(document: &Document) -> Result<String, ImportError> {
    let mut text = serde_saphyr::to_string(document)
        .map_err(|error| ImportError::Invalid(error.to_string()))?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

/// Reads YAML (JSON is YAML too) into a JSON value. The file is the operator's own and
/// may hold a million consumers: the parser's size budget (made for untrusted input) is
/// off, as for the configuration file.
pub(crate) fn parse_yaml(text: &str) -> Result<Value, ImportError> {
    serde_saphyr::from_str_with_options(text, crate::config::file_options()).map_err(|error| {
        ImportError::Syntax {
            what: "YAML",
            reason: error.to_string(),
        }
    })
}

/// Reads JSON.
pub(crate) fn parse_json(text: &str) -> Result<Value, ImportError> {
    serde_json::from_str(text).map_err(|error| ImportError::Syntax {
        what: "JSON",
        reason: error.to_string(),
    })
}

/// A key as keygate stores it: its hash, or itself with `keep_plaintext` when it passes
/// the custom-key rule. Counts it in the report; the key itself is never reported.
///
/// A key the peer takes from the environment stays a reference that keygate resolves
/// the same way (see docs/config.md#secret-references): APISIX's `$env://NAME` as it is,
/// Kong's `{vault://env/name}` as `$env://NAME` (Kong's env vault reads the name in upper
/// case with `_` for `-`). A reference to another secret store (APISIX's `$secret://`,
/// Kong's other vaults) is left out and reported: `None`.
pub(crate) fn key_entry(key: &str, options: Options, report: &mut Report) -> Option<document::Key> {
    if let Some(reference) = environment_reference(key) {
        report.mapped(
            format!("key {key}"),
            format!("kept as the reference `{reference}`, resolved when keygate loads the file"),
        );
        return Some(document::Key {
            key: Some(reference),
            ..document::Key::default()
        });
    }
    if key.starts_with("$secret://") || key.starts_with("{vault://") {
        report.left_out(
            format!("key {key}"),
            "a reference to a secret store keygate does not read: resolve it, or put the key in an environment variable and write `$env://NAME`",
        );
        return None;
    }
    if options.keep_plaintext && crate::key::check_custom(key).is_ok() {
        report.keys_plaintext += 1;
        Some(document::Key {
            key: Some(key.to_owned()),
            ..document::Key::default()
        })
    } else {
        report.keys_hashed += 1;
        Some(document::Key {
            key_hash: Some(format!("{:?}", KeyHash::of(key.as_bytes()))),
            ..document::Key::default()
        })
    }
}

/// `key` as keygate's `$env://NAME` when the peer reads it from an environment variable.
fn environment_reference(key: &str) -> Option<String> {
    let name = match key.strip_prefix("$env://") {
        Some(name) => name.to_owned(),
        None => key
            .strip_prefix("{vault://env/")?
            .strip_suffix('}')?
            .to_ascii_uppercase()
            .replace('-', "_"),
    };
    let plain = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    plain.then(|| format!("$env://{name}"))
}

/// A name keygate accepts (`[A-Za-z0-9._-]`) made from `wanted`, unique among `taken`.
/// Other characters become `-`; a clash gets `-2`, `-3`, ….
pub(crate) fn unique_name(wanted: &str, taken: &mut BTreeSet<String>) -> String {
    let mut base: String = wanted
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    if base.is_empty() {
        base.push_str("unnamed");
    }
    let mut name = base.clone();
    let mut n = 1;
    while taken.contains(&name) {
        n += 1;
        name = format!("{base}-{n}");
    }
    taken.insert(name.clone());
    name
}

/// A group name keygate accepts (no comma, space or control character), or `None`.
pub(crate) fn group_name(group: &str) -> Option<String> {
    crate::config::is_header_safe_word(group).then(|| group.to_owned())
}

/// `['a', 'b'] in groups` (or `groups['a']` for one): true when the consumer is in any.
pub(crate) fn any_group(groups: &[String]) -> String {
    let quoted: Vec<String> = groups.iter().map(|g| quote(g)).collect();
    if quoted.len() == 1 {
        format!("groups[{}]", quoted[0])
    } else {
        format!("[{}] in groups", quoted.join(", "))
    }
}

/// A string literal of the expression language.
pub(crate) fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// A string field of a JSON object.
pub(crate) fn text<'a>(value: &'a Value, field: &str) -> Option<&'a str> {
    value.get(field)?.as_str()
}

/// The list field of a JSON object (empty when absent or not a list).
pub(crate) fn list<'a>(value: &'a Value, field: &str) -> &'a [Value] {
    value
        .get(field)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The strings of a list field.
pub(crate) fn strings(value: &Value, field: &str) -> Vec<String> {
    list(value, field)
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_valid_and_unique() {
        let mut taken = BTreeSet::new();
        assert_eq!(unique_name("orders api", &mut taken), "orders-api");
        assert_eq!(unique_name("orders api", &mut taken), "orders-api-2");
        assert_eq!(unique_name("", &mut taken), "unnamed");
    }

    #[test]
    fn keys_are_hashed_unless_kept_and_custom() {
        let mut report = Report::default();
        let hashed = key_entry("my-secret-key", Options::default(), &mut report).unwrap();
        assert_eq!(hashed.key, None);
        assert_eq!(
            hashed.key_hash.as_deref(),
            Some(format!("{:?}", KeyHash::of(b"my-secret-key")).as_str())
        );
        let kept = Options {
            keep_plaintext: true,
        };
        assert_eq!(
            key_entry("my-secret-key", kept, &mut report)
                .unwrap()
                .key
                .as_deref(),
            Some("my-secret-key")
        );
        // Too short for the custom-key rule: its hash, even when asked to keep keys.
        assert!(key_entry("abc", kept, &mut report).unwrap().key.is_none());
        assert_eq!((report.keys_hashed, report.keys_plaintext), (2, 1));
    }

    #[test]
    fn environment_references_stay_references() {
        let mut report = Report::default();
        let options = Options::default();
        let apisix = key_entry("$env://ALEX_KEY", options, &mut report).unwrap();
        assert_eq!(apisix.key.as_deref(), Some("$env://ALEX_KEY"));
        let kong = key_entry("{vault://env/alex-key}", options, &mut report).unwrap();
        assert_eq!(kong.key.as_deref(), Some("$env://ALEX_KEY"));
        assert!(key_entry("$secret://vault/1/alex/key", options, &mut report).is_none());
        assert!(key_entry("{vault://aws/alex-key}", options, &mut report).is_none());
        assert_eq!(report.count(report::Outcome::Mapped), 2);
        assert_eq!(report.count(report::Outcome::LeftOut), 2);
        assert_eq!((report.keys_hashed, report.keys_plaintext), (0, 0));
    }

    #[test]
    fn group_expressions_quote_names() {
        assert_eq!(any_group(&["gold".into()]), "groups['gold']");
        assert_eq!(
            any_group(&["a-b".into(), "it's".into()]),
            "['a-b', 'it\\'s'] in groups"
        );
    }
}
