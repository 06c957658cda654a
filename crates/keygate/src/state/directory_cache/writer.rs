//! Writing the cache file: numbers little-endian, texts with their length, profiles and
//! label sets once each and then by number, every shard's rows in slot order.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::Arc;

use keygate_store::{KeyMode, SubscriptionStatus};

use super::{NO_END, NO_LABELS};
use crate::state::consumer_table::ConsumerRow;
use crate::state::entries::{ConsumerProfile, Labels};
use crate::state::key_index::KeyRow;

/// The cache file being written.
pub(super) struct Out(pub(super) BufWriter<File>);

impl Out {
    pub(super) fn u32(&mut self, value: u32) -> std::io::Result<()> {
        self.0.write_all(&value.to_le_bytes())
    }

    pub(super) fn u64(&mut self, value: u64) -> std::io::Result<()> {
        self.0.write_all(&value.to_le_bytes())
    }

    pub(super) fn i64(&mut self, value: i64) -> std::io::Result<()> {
        self.0.write_all(&value.to_le_bytes())
    }

    pub(super) fn count(&mut self, count: usize) -> std::io::Result<()> {
        let count = u32::try_from(count)
            .map_err(|_| std::io::Error::other("more than 2^32 entries in one list"))?;
        self.u32(count)
    }

    pub(super) fn text(&mut self, text: &str) -> std::io::Result<()> {
        self.count(text.len())?;
        self.0.write_all(text.as_bytes())
    }

    pub(super) fn optional_text(&mut self, text: Option<&str>) -> std::io::Result<()> {
        match text {
            Some(text) => {
                self.0.write_all(&[1])?;
                self.text(text)
            }
            None => self.0.write_all(&[0]),
        }
    }

    pub(super) fn texts(&mut self, texts: &[String]) -> std::io::Result<()> {
        self.count(texts.len())?;
        texts.iter().try_for_each(|text| self.text(text))
    }

    pub(super) fn map(&mut self, map: &BTreeMap<String, String>) -> std::io::Result<()> {
        self.count(map.len())?;
        map.iter().try_for_each(|(name, value)| {
            self.text(name)?;
            self.text(value)
        })
    }

    /// One shard: its row count, then each slot — 0 when empty, else 1 and the row
    /// written by `row`.
    pub(super) fn shard<T>(
        &mut self,
        rows: &[Option<T>],
        mut row: impl FnMut(&mut Out, &T) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        self.count(rows.len())?;
        for slot in rows {
            match slot {
                None => self.0.write_all(&[0])?,
                Some(value) => {
                    self.0.write_all(&[1])?;
                    row(self, value)?;
                }
            }
        }
        Ok(())
    }

    pub(super) fn consumer_row(
        &mut self,
        row: &ConsumerRow,
        profiles: &HashMap<*const ConsumerProfile, u32>,
    ) -> std::io::Result<()> {
        self.text(&row.name)?;
        self.u32(
            profiles
                .get(&Arc::as_ptr(&row.profile))
                .copied()
                .unwrap_or(0),
        )?;
        let subscriptions = row.subscriptions.as_deref().map_or(&[][..], Vec::as_slice);
        self.count(subscriptions.len())?;
        for subscription in subscriptions {
            self.text(&subscription.id)?;
            self.text(&subscription.service)?;
            self.text(&subscription.plan)?;
            self.0.write_all(&[
                status_number(subscription.status),
                key_mode_number(subscription.key_mode),
            ])?;
            self.i64(
                subscription
                    .ends_at
                    .map_or(NO_END, crate::state::directory::millis),
            )?;
        }
        Ok(())
    }

    pub(super) fn key_row(
        &mut self,
        row: &KeyRow,
        labels: &HashMap<*const Labels, u32>,
    ) -> std::io::Result<()> {
        self.0.write_all(&row.hash.0)?;
        self.text(row.ids.id())?;
        self.optional_text(row.prefix.as_deref())?;
        self.optional_text(row.ids.subscription().map(|id| &***id))?;
        self.u32(
            row.labels
                .as_ref()
                .and_then(|set| labels.get(&Arc::as_ptr(set)).copied())
                .unwrap_or(NO_LABELS),
        )?;
        self.i64(row.expires_at)?;
        self.u32(row.last_used_s.load(std::sync::atomic::Ordering::Relaxed))?;
        self.u32(row.consumer.raw())?;
        self.optional_text(row.extras.as_ref().map(|extras| &*extras.document))?;
        self.0.write_all(&[row.flags])
    }
}

pub(super) fn status_number(status: SubscriptionStatus) -> u8 {
    match status {
        SubscriptionStatus::Pending => 0,
        SubscriptionStatus::Accepted => 1,
        SubscriptionStatus::Paused => 2,
        SubscriptionStatus::Rejected => 3,
        SubscriptionStatus::Closed => 4,
    }
}

pub(super) fn key_mode_number(mode: KeyMode) -> u8 {
    match mode {
        KeyMode::Own => 0,
        KeyMode::Shared => 1,
    }
}
