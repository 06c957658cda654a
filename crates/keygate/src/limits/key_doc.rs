//! The limits and credits of one key, as the admin API takes them and the store keeps
//! them (the key's `limits` column, JSON): `{"limits": [...], "credits": {...}}`.
//! [`parse`] checks a document and builds what the request path reads.

use std::sync::Arc;

use http::header::HeaderName;
use serde::{Deserialize, Serialize};

use super::{Callers, Credits, Limit, LimitBy, Period, Refill, Window};
use crate::state::KeyExtras;

/// The largest `count` of a limit and the largest number of credits.
const MAX_COUNT: u64 = 1_000_000_000;

/// A key's limits document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyLimits {
    /// Rate limits and quotas of the key, in the shape of a service's `limits`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<LimitDoc>,
    /// The key's credits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credits: Option<CreditsDoc>,
}

/// One limit, as in the file's `limits:`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitDoc {
    /// Calls per window.
    pub count: u64,
    /// `second` … `month`.
    pub per: String,
    /// What it counts by (default `key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `rate` (default) or `quota`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// A key's credits as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditsDoc {
    /// The uses given when they were set.
    pub amount: u64,
    /// When they were set (ms since the epoch): a new setting starts a new count.
    pub set_at: i64,
    /// The refill, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refill: Option<RefillDoc>,
}

/// A refill as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefillDoc {
    /// The uses each period starts with.
    pub amount: u64,
    /// `day` or `month`.
    pub per: PeriodName,
}

/// `day` or `month`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeriodName {
    /// A UTC day.
    Day,
    /// A UTC calendar month.
    Month,
}

impl PeriodName {
    fn period(self) -> Period {
        match self {
            PeriodName::Day => Period::Day,
            PeriodName::Month => Period::Month,
        }
    }
}

/// Checks a document and builds the key's extras; `Err` says what is wrong.
pub fn parse(key_id: &str, text: &str) -> Result<KeyExtras, String> {
    let doc: KeyLimits = serde_json::from_str(text).map_err(|e| e.to_string())?;
    build(key_id, &doc, text)
}

/// Builds the key's extras from a checked document.
pub fn build(key_id: &str, doc: &KeyLimits, text: &str) -> Result<KeyExtras, String> {
    let mut limits = Vec::with_capacity(doc.limits.len());
    for (index, limit) in doc.limits.iter().enumerate() {
        limits.push(
            limit_of(Holder::Key(key_id), index, limit)
                .map_err(|e| format!("limits[{index}]: {e}"))?,
        );
    }
    let credits = match doc.credits {
        None => None,
        Some(credits) => {
            if credits.amount > MAX_COUNT
                || credits
                    .refill
                    .is_some_and(|r| r.amount == 0 || r.amount > MAX_COUNT)
            {
                return Err(format!(
                    "credits and a refill's amount are 0 to {MAX_COUNT} (a refill's at least 1)"
                ));
            }
            Some(Credits {
                amount: credits.amount,
                set_at: credits.set_at,
                refill: credits.refill.map(|r| Refill {
                    amount: r.amount,
                    per: r.per.period(),
                }),
            })
        }
    };
    Ok(KeyExtras {
        limits: limits.into(),
        credits,
        document: text.into(),
    })
}

/// Whose limit a document's entry is: a key's (by its id) or a consumer's.
#[derive(Debug, Clone, Copy)]
pub(super) enum Holder<'a> {
    /// A key's own limit: `by` defaults to `key`; named `key.<id>.<index>`.
    Key(&'a str),
    /// A consumer's limit, shared by its keys: `by` defaults to `consumer`; named
    /// `consumer.<index>` (one metric label for all consumers, not one each).
    Consumer,
}

/// Builds the limit at `index` of a key's or a consumer's document.
pub(super) fn limit_of(
    holder: Holder<'_>,
    index: usize,
    limit: &LimitDoc,
) -> Result<Limit, String> {
    if limit.count == 0 || limit.count > MAX_COUNT {
        return Err(format!(
            "`count` is 1 to {MAX_COUNT}, found {}",
            limit.count
        ));
    }
    let default_by = match holder {
        Holder::Key(_) => "key",
        Holder::Consumer => "consumer",
    };
    let by = match limit.by.as_deref().unwrap_or(default_by) {
        "key" => LimitBy::Key,
        "consumer" => LimitBy::Consumer,
        "subscription" => LimitBy::Subscription,
        // A consumer's limit is one definition for every consumer with the same
        // document: a header's value would be counted across consumers.
        other if matches!(holder, Holder::Key(_)) => match other
            .strip_prefix("header:")
            .map(|n| HeaderName::from_bytes(n.as_bytes()))
        {
            Some(Ok(name)) => LimitBy::Header(name),
            _ => {
                return Err(format!(
                    "`by` takes key, consumer, subscription or header:<name>, found `{other}`"
                ))
            }
        },
        other => {
            return Err(format!(
                "a consumer's limit counts by consumer, key or subscription, found `{other}`"
            ))
        }
    };
    // A key's limits need its key; a consumer's apply to its calls without one too (the
    // calls of a service's anonymous consumer).
    let callers = match holder {
        Holder::Key(_) => Callers::Keyed,
        Holder::Consumer => Callers::All,
    };
    let (owner, default_name) = match holder {
        Holder::Key(key_id) => (format!("key:{key_id}"), format!("key.{key_id}.{index}")),
        Holder::Consumer => ("consumer".to_owned(), format!("consumer.{index}")),
    };
    let name: Arc<str> = match &limit.name {
        Some(name) if crate::config::is_valid_name(name) => name.as_str().into(),
        Some(name) => {
            return Err(format!(
                "a limit name uses letters, digits, `.`, `_` and `-` only, found `{name}`"
            ))
        }
        None => default_name.into(),
    };
    match limit.kind.as_deref().unwrap_or("rate") {
        "rate" => {
            let per = Window::named(&limit.per).ok_or_else(|| {
                format!(
                    "`per` takes second, minute, hour, day or month, found `{}`",
                    limit.per
                )
            })?;
            let owner = format!("{owner}#{index}#{}/{}", limit.count, limit.per);
            Ok(Limit::new(name, limit.count, per, by, callers, &owner))
        }
        "quota" => {
            let period = Period::named(&limit.per)
                .ok_or_else(|| format!("a quota's `per` is day or month, found `{}`", limit.per))?;
            let owner = format!("quota:{owner}#{index}/{}", limit.per);
            Ok(Limit::quota(name, limit.count, period, by, callers, &owner))
        }
        other => Err(format!("`kind` takes rate or quota, found `{other}`")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::parse;

    #[test]
    fn documents_are_checked() {
        let extras = parse(
            "k1",
            r#"{"limits": [{"count": 5, "per": "minute"}, {"count": 100, "per": "month", "kind": "quota", "name": "monthly"}],
                "credits": {"amount": 10, "set_at": 5, "refill": {"amount": 7, "per": "day"}}}"#,
        )
        .unwrap();
        assert_eq!(extras.limits.len(), 2);
        assert_eq!(&*extras.limits[0].name, "key.k1.0");
        assert!(extras.limits[1].quota.is_some());
        assert_eq!(extras.credits.unwrap().refill.unwrap().amount, 7);
        for bad in [
            r#"{"limits": [{"count": 0, "per": "minute"}]}"#,
            r#"{"limits": [{"count": 1, "per": "hour", "kind": "quota"}]}"#,
            r#"{"limits": [{"count": 1, "per": "week"}]}"#,
            r#"{"limits": [{"count": 1, "per": "day", "by": "client_address"}]}"#,
            r#"{"credits": {"amount": 1, "set_at": 0, "refill": {"amount": 0, "per": "day"}}}"#,
            r#"{"other": 1}"#,
        ] {
            assert!(parse("k", bad).is_err(), "{bad}");
        }
    }
}
