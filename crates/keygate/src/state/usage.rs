//! `last_used_at` bookkeeping: the request path notes uses in memory (at most once a
//! minute per key) and a background task writes them to the store in batches — never one
//! write per request.

use std::sync::Mutex;

use super::{KeyEntry, KeyIndex, ShortText};

/// Uses waiting to be written.
#[derive(Debug, Default)]
pub struct Usage {
    pending: Mutex<Vec<(ShortText, i64)>>,
}

impl Usage {
    /// Notes that `key` (found in `keys`) was used at `now_ms`. Costs nothing but a
    /// comparison while the last use noted is less than a minute old.
    pub fn note(&self, keys: &KeyIndex, key: &KeyEntry, now_ms: i64) {
        if key.use_is_news(now_ms) && keys.mark_used(&key.hash, now_ms) {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.push((key.id.clone(), now_ms));
        }
    }

    /// Takes the uses noted since the last call.
    pub fn take(&self) -> Vec<(String, i64)> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending
            .drain(..)
            .map(|(id, at)| (id.to_string(), at))
            .collect()
    }
}
