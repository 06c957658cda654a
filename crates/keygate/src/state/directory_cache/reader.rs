//! Reading the cache file back, refusing a damaged one rather than reading half of it:
//! every length is bounded, every number checked, and the end marker required.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::AtomicU32;
use std::sync::Arc;

use keygate_store::{KeyMode, SubscriptionStatus};

use super::{CacheError, CacheStamp, END, MAGIC, MAX_TEXT, NO_END, NO_LABELS, VERSION};
use crate::key::KeyHash;
use crate::state::consumer_table::{ConsumerRef, ConsumerRow};
use crate::state::directory::system_time;
use crate::state::entries::{ConsumerProfile, Labels, SubscriptionEntry};
use crate::state::key_index::{KeyIds, KeyRow};
use crate::state::texts::{HeaderText, ShortText};

/// A cache file being read, and how far.
pub(super) struct In {
    reader: BufReader<File>,
    /// Bytes read so far from the start of the file.
    pub(super) position: u64,
    text: Vec<u8>,
}

impl In {
    pub(super) fn open(path: &Path) -> std::io::Result<In> {
        Ok(In {
            reader: BufReader::with_capacity(1 << 20, File::open(path)?),
            position: 0,
            text: Vec::new(),
        })
    }

    pub(super) fn seek(&mut self, to: u64) -> std::io::Result<()> {
        self.reader.seek(SeekFrom::Start(to))?;
        self.position = to;
        Ok(())
    }

    pub(super) fn bytes<const N: usize>(&mut self) -> Result<[u8; N], CacheError> {
        let mut bytes = [0u8; N];
        self.reader.read_exact(&mut bytes).map_err(truncated)?;
        self.position += N as u64;
        Ok(bytes)
    }

    pub(super) fn u8(&mut self) -> Result<u8, CacheError> {
        Ok(self.bytes::<1>()?[0])
    }

    pub(super) fn u32(&mut self) -> Result<u32, CacheError> {
        Ok(u32::from_le_bytes(self.bytes()?))
    }

    pub(super) fn u64(&mut self) -> Result<u64, CacheError> {
        Ok(u64::from_le_bytes(self.bytes()?))
    }

    pub(super) fn i64(&mut self) -> Result<i64, CacheError> {
        Ok(i64::from_le_bytes(self.bytes()?))
    }

    pub(super) fn count(&mut self) -> Result<usize, CacheError> {
        Ok(self.u32()? as usize)
    }

    /// Reads a text into the reusable buffer and returns it.
    pub(super) fn text(&mut self) -> Result<&str, CacheError> {
        let len = self.count()?;
        if len > MAX_TEXT {
            return Err(CacheError::Malformed("a text is too long"));
        }
        self.text.resize(len, 0);
        self.reader.read_exact(&mut self.text).map_err(truncated)?;
        self.position += len as u64;
        std::str::from_utf8(&self.text).map_err(|_| CacheError::Malformed("a text is not UTF-8"))
    }

    pub(super) fn optional_text(&mut self) -> Result<Option<&str>, CacheError> {
        match self.u8()? {
            0 => Ok(None),
            _ => self.text().map(Some),
        }
    }

    pub(super) fn texts(&mut self) -> Result<Vec<String>, CacheError> {
        (0..self.count()?)
            .map(|_| self.text().map(str::to_owned))
            .collect()
    }

    pub(super) fn map(&mut self) -> Result<BTreeMap<String, String>, CacheError> {
        (0..self.count()?)
            .map(|_| {
                let name = self.text()?.to_owned();
                Ok((name, self.text()?.to_owned()))
            })
            .collect()
    }

    pub(super) fn stamp(&mut self) -> Result<CacheStamp, CacheError> {
        if &self.bytes::<4>()? != MAGIC {
            return Err(CacheError::Malformed("not a directory cache"));
        }
        if self.u32()? != VERSION {
            return Err(CacheError::Malformed("written by another version"));
        }
        let store_id = self.text()?.to_owned();
        let revision = self.u64()?;
        let fingerprint = self.text()?.to_owned();
        Ok(CacheStamp {
            store_id,
            revision,
            fingerprint,
        })
    }

    pub(super) fn profile(&mut self) -> Result<ConsumerProfile, CacheError> {
        let client_type = HeaderText::new(self.text()?);
        let groups = self.texts()?;
        let permissions = self.texts()?;
        let metadata = self.map()?;
        let limits = match self.optional_text()? {
            None => None,
            Some(text) => Some(Arc::new(
                crate::limits::consumer_doc::parse(text)
                    .map_err(|_| CacheError::Malformed("a consumer's limits do not read"))?,
            )),
        };
        Ok(ConsumerProfile {
            limits,
            client_type,
            groups_header: (!groups.is_empty())
                .then(|| HeaderText::new(&groups.join(",")).header()),
            groups,
            permissions,
            metadata,
        })
    }

    /// Every shard's rows, each read by `row` (`None` for an empty slot), from a section
    /// that ends at byte `end`.
    pub(super) fn shards<T>(
        &mut self,
        end: u64,
        mut row: impl FnMut(&mut In) -> Result<T, CacheError>,
    ) -> Result<Vec<Vec<Option<T>>>, CacheError> {
        let mut shards = Vec::new();
        // The shard count is checked by the table built from them.
        for _ in 0..64 {
            let count = self.count()?;
            // Every row takes at least a byte: a larger count means a damaged file, and
            // must not reserve gigabytes. Rows are reserved exactly, with no room to spare.
            if count as u64 > end.saturating_sub(self.position) {
                return Err(CacheError::Malformed(
                    "a shard has more rows than its section bytes",
                ));
            }
            let mut rows = Vec::new();
            rows.try_reserve_exact(count)
                .map_err(|_| CacheError::Malformed("no memory for a shard's rows"))?;
            for _ in 0..count {
                rows.push(match self.u8()? {
                    0 => None,
                    _ => Some(row(self)?),
                });
            }
            shards.push(rows);
        }
        Ok(shards)
    }

    pub(super) fn consumer_row(
        &mut self,
        profiles: &[Arc<ConsumerProfile>],
    ) -> Result<ConsumerRow, CacheError> {
        let name = ShortText::new(self.text()?);
        let profile = profiles
            .get(self.count()?)
            .cloned()
            .ok_or(CacheError::Malformed(
                "a consumer names a profile the file lacks",
            ))?;
        let count = self.count()?;
        let subscriptions = if count == 0 {
            None
        } else {
            let mut all = Vec::with_capacity(count.min(16));
            for _ in 0..count {
                let id = self.text()?.into();
                let service = self.text()?.into();
                let plan = self.text()?.into();
                let status = status_of(self.u8()?)
                    .ok_or(CacheError::Malformed("unknown subscription status"))?;
                let key_mode = match self.u8()? {
                    0 => KeyMode::Own,
                    _ => KeyMode::Shared,
                };
                let ends_at = self.i64()?;
                all.push(Arc::new(SubscriptionEntry {
                    id,
                    service,
                    plan,
                    status,
                    key_mode,
                    ends_at: (ends_at != NO_END).then(|| system_time(ends_at)),
                }));
            }
            Some(Arc::new(all))
        };
        Ok(ConsumerRow {
            name,
            profile,
            subscriptions,
        })
    }

    pub(super) fn key_row(&mut self, label_sets: &[Arc<Labels>]) -> Result<KeyRow, CacheError> {
        let hash = KeyHash(self.bytes()?);
        let id = ShortText::new(self.text()?);
        let prefix = self.optional_text()?.map(ShortText::new);
        let ids = KeyIds::with_id(id, self.optional_text()?);
        let labels = match self.u32()? {
            NO_LABELS => None,
            number => Some(label_sets.get(number as usize).cloned().ok_or(
                CacheError::Malformed("a key names a label set the file lacks"),
            )?),
        };
        let (expires_at, last_used_s, consumer) = (self.i64()?, self.u32()?, self.u32()?);
        let extras = match self.optional_text()? {
            None => None,
            Some(text) => Some(Arc::new(
                crate::limits::key_doc::parse(ids.id(), text)
                    .map_err(|_| CacheError::Malformed("a key's limits do not read"))?,
            )),
        };
        Ok(KeyRow {
            hash,
            ids,
            prefix,
            labels,
            expires_at,
            last_used_s: AtomicU32::new(last_used_s),
            consumer: ConsumerRef::from_raw(consumer),
            extras,
            flags: self.u8()?,
        })
    }

    pub(super) fn end(&mut self) -> Result<(), CacheError> {
        if &self.bytes::<8>()? != END {
            return Err(CacheError::Malformed("the end mark is missing"));
        }
        let mut rest = [0u8; 1];
        match self.reader.read(&mut rest)? {
            0 => Ok(()),
            _ => Err(CacheError::Malformed("bytes after the end mark")),
        }
    }
}

pub(super) fn status_of(number: u8) -> Option<SubscriptionStatus> {
    Some(match number {
        0 => SubscriptionStatus::Pending,
        1 => SubscriptionStatus::Accepted,
        2 => SubscriptionStatus::Paused,
        3 => SubscriptionStatus::Rejected,
        4 => SubscriptionStatus::Closed,
        _ => return None,
    })
}

pub(super) fn truncated(error: std::io::Error) -> CacheError {
    if error.kind() == std::io::ErrorKind::UnexpectedEof {
        CacheError::Malformed("the file ends too early")
    } else {
        CacheError::Io(error)
    }
}
