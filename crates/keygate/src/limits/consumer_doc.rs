//! The limits of one consumer, shared by all its keys, as the admin API takes them and
//! the store keeps them (the consumer's `limits` column, JSON): `{"limits": [...]}`.
//! [`parse`] checks a document and builds what the request path reads.
//!
//! A consumer's limit counts by `consumer` (default), `key` or `subscription`. Its id
//! does not name the consumer, so consumers with the same document share one
//! definition (and one profile in the directory) while each counts apart: the subject
//! is the consumer's name, key or subscription.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::key_doc::{limit_of, Holder, LimitDoc};
use super::Limit;

/// A consumer's limits document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerLimitsDoc {
    /// Rate limits and quotas, in the shape of a key's `limits`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<LimitDoc>,
}

/// A consumer's limits as the request path reads them.
#[derive(Debug, PartialEq, Eq)]
pub struct ConsumerLimits {
    /// The limits, checked after the plan's and before the key's own.
    pub limits: Arc<[Limit]>,
    /// The document they were built from (the store's `limits` column).
    pub document: Box<str>,
}

impl Hash for ConsumerLimits {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // The limits are built from the document alone: equal documents, equal limits.
        self.document.hash(state);
    }
}

/// Checks a stored document and builds the consumer's limits; `Err` says what is wrong.
pub fn parse(text: &str) -> Result<ConsumerLimits, String> {
    let doc: ConsumerLimitsDoc = serde_json::from_str(text).map_err(|e| e.to_string())?;
    build(&doc, text)
}

/// Builds the consumer's limits from a checked document (`text` is its stored form).
pub fn build(doc: &ConsumerLimitsDoc, text: &str) -> Result<ConsumerLimits, String> {
    let mut limits = Vec::with_capacity(doc.limits.len());
    for (index, limit) in doc.limits.iter().enumerate() {
        limits.push(
            limit_of(Holder::Consumer, index, limit)
                .map_err(|e| format!("limits[{index}]: {e}"))?,
        );
    }
    Ok(ConsumerLimits {
        limits: limits.into(),
        document: text.into(),
    })
}

/// The stored text of `limits` (`None` for none), checked as the gateway will read it.
pub fn document(limits: &[LimitDoc]) -> Result<Option<String>, String> {
    if limits.is_empty() {
        return Ok(None);
    }
    let doc = ConsumerLimitsDoc {
        limits: limits.to_vec(),
    };
    let text = serde_json::to_string(&doc).map_err(|e| e.to_string())?;
    build(&doc, &text)?;
    Ok(Some(text))
}

/// The limits of a stored document (none when it does not read).
pub fn limits_of(text: Option<&str>) -> Vec<LimitDoc> {
    text.and_then(|text| serde_json::from_str::<ConsumerLimitsDoc>(text).ok())
        .map(|doc| doc.limits)
        .unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::limits::LimitBy;

    #[test]
    fn a_consumer_limit_counts_by_consumer_and_is_named_by_its_place() {
        let limits = parse(
            r#"{"limits": [{"count": 10, "per": "minute"}, {"count": 5, "per": "second", "by": "key", "name": "burst"}, {"count": 100, "per": "day", "kind": "quota"}]}"#,
        )
        .unwrap();
        assert_eq!(limits.limits[0].by, LimitBy::Consumer);
        assert_eq!(&*limits.limits[0].name, "consumer.0");
        assert_eq!(limits.limits[1].by, LimitBy::Key);
        assert_eq!(&*limits.limits[1].name, "burst");
        assert!(limits.limits[2].quota.is_some());
        let again = parse(&limits.document).unwrap();
        assert_eq!(again, limits, "the same document builds the same limits");
    }

    #[test]
    fn bad_documents_are_refused_with_the_place() {
        for (bad, says) in [
            (
                r#"{"limits": [{"count": 0, "per": "minute"}]}"#,
                "limits[0]: `count`",
            ),
            (r#"{"limits": [{"count": 1, "per": "week"}]}"#, "`per`"),
            (
                r#"{"limits": [{"count": 1, "per": "day", "by": "header:x-a"}]}"#,
                "counts by consumer, key or subscription",
            ),
            (
                r#"{"limits": [{"count": 1, "per": "day", "by": "client_address"}]}"#,
                "by",
            ),
            (r#"{"other": 1}"#, "unknown field"),
        ] {
            let error = parse(bad).unwrap_err();
            assert!(error.contains(says), "{bad}: {error}");
        }
        assert_eq!(document(&[]).unwrap(), None);
    }
}
