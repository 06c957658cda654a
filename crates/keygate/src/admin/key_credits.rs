//! The `limits`, `credits` and `refill` fields of a key in the admin API: how a create or
//! a change writes them into the key's stored document, checked as the gateway will read
//! it, and how the key shows them.

use keygate_store::KeyRecord;

use super::error::ApiError;
use crate::limits::key_doc::{self, CreditsDoc, KeyLimits, LimitDoc, RefillDoc};

/// The limit fields of a key's create or change; each absent field keeps what was there,
/// `null` removes it.
#[derive(Debug, Default)]
pub struct LimitFields {
    /// The key's own rate limits and quotas (replacing the ones it had).
    pub limits: Option<Option<Vec<LimitDoc>>>,
    /// Uses left: sets them anew (the count starts whole), `null` removes them.
    pub credits: Option<Option<u64>>,
    /// The credits' refill, `{amount, per: day|month}`; `null` removes it.
    pub refill: Option<Option<RefillDoc>>,
}

impl LimitFields {
    /// Whether the body names none of the fields.
    pub fn is_empty(&self) -> bool {
        self.limits.is_none() && self.credits.is_none() && self.refill.is_none()
    }
}

/// The key's document as stored.
pub fn document(record: &KeyRecord) -> KeyLimits {
    record
        .limits
        .as_deref()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default()
}

/// Writes `fields` into `record`'s document at `now_ms`, checked as the gateway reads it.
pub fn apply(record: &mut KeyRecord, fields: LimitFields, now_ms: i64) -> Result<(), ApiError> {
    if fields.is_empty() {
        return Ok(());
    }
    let mut doc = document(record);
    if let Some(limits) = fields.limits {
        doc.limits = limits.unwrap_or_default();
    }
    match fields.credits {
        Some(Some(amount)) => {
            doc.credits = Some(CreditsDoc {
                amount,
                set_at: now_ms,
                refill: doc.credits.and_then(|c| c.refill),
            })
        }
        Some(None) => doc.credits = None,
        None => {}
    }
    if let Some(refill) = fields.refill {
        match &mut doc.credits {
            Some(credits) => credits.refill = refill,
            None if refill.is_some() => {
                return Err(ApiError::Invalid(
                    "`refill` needs `credits`: give the key credits too".into(),
                ))
            }
            None => {}
        }
    }
    if doc == KeyLimits::default() {
        record.limits = None;
        return Ok(());
    }
    let text = serde_json::to_string(&doc).map_err(|e| ApiError::Internal(e.to_string()))?;
    key_doc::parse(&record.id, &text).map_err(ApiError::Invalid)?;
    record.limits = Some(text);
    Ok(())
}
