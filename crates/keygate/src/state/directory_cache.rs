//! The directory cache: the directory of consumers and keys written to a file at a
//! store revision, so that a restart reads one compact file instead of every row of the
//! store, then catches up with the store's change log from that revision. The store
//! stays the truth: the file is only used when it names this store and the revision it
//! was written at is one the store has passed, and deleting it only costs one slower
//! start.
//!
//! The file (all numbers little-endian): `KGDC`, format version (u32), store id, revision
//! (u64), configuration fingerprint, name-hash seed (u64), the consumer profiles and the
//! key label sets (each written once and referred to by number), the byte lengths of the
//! consumer and key sections (u64 each), the sections — every shard's rows in slot
//! order, empty slots included, so that rows come back where they were — and `KGDC-END`.
//! The two sections are read by two threads at once.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU32;
use std::sync::Arc;

use keygate_store::{KeyMode, SubscriptionStatus};

use super::consumer_table::{ConsumerRef, ConsumerRow, ConsumerTable};
use super::directory::{system_time, Directory};
use super::entries::{ConsumerProfile, Labels, SubscriptionEntry};
use super::key_index::{KeyIds, KeyIndex, KeyRow};
use super::texts::{HeaderText, ShortText};
use crate::key::KeyHash;

const MAGIC: &[u8; 4] = b"KGDC";
const END: &[u8; 8] = b"KGDC-END";
const VERSION: u32 = 1;
/// Longest text a cache may hold; a longer length means a damaged file.
const MAX_TEXT: usize = 1 << 20;
/// `ends_at` of a subscription that does not end.
const NO_END: i64 = i64::MIN;
/// Label set number of a key without labels.
const NO_LABELS: u32 = u32::MAX;

/// Why a cache file was not used.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// It could not be read or written.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// It is not a cache file of this version, or it is damaged.
    #[error("not a usable directory cache: {0}")]
    Malformed(&'static str),
}

/// What a cache file was written from: which store, at which revision, with which
/// configuration file applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheStamp {
    /// The store's id (its `store_id` setting).
    pub store_id: String,
    /// The store revision the directory was at.
    pub revision: u64,
    /// The fingerprint of the configuration file applied to the store.
    pub fingerprint: String,
}

/// Writes `directory`, stamped with `stamp`, to `path`: first to a file beside it, then
/// renamed over it, so a crash never leaves half a cache. The caller keeps the directory
/// from changing meanwhile.
pub fn write(directory: &Directory, stamp: &CacheStamp, path: &Path) -> Result<(), CacheError> {
    let partial = partial_path(path);
    let written = write_to(directory, stamp, &partial);
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
        return written;
    }
    std::fs::rename(&partial, path)?;
    Ok(())
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

fn write_to(directory: &Directory, stamp: &CacheStamp, path: &Path) -> Result<(), CacheError> {
    let file = open_private(path)?;
    let mut out = Out(BufWriter::with_capacity(1 << 20, file));
    out.0.write_all(MAGIC)?;
    out.u32(VERSION)?;
    out.text(&stamp.store_id)?;
    out.u64(stamp.revision)?;
    out.text(&stamp.fingerprint)?;
    out.u64(directory.consumers().seed())?;

    // Profiles and label sets, each once, numbered in the order first met.
    let mut profiles: Vec<Arc<ConsumerProfile>> = Vec::new();
    let mut profile_numbers: HashMap<*const ConsumerProfile, u32> = HashMap::new();
    directory.consumers().each_shard(|rows| {
        for row in rows.iter().flatten() {
            profile_numbers
                .entry(Arc::as_ptr(&row.profile))
                .or_insert_with(|| {
                    profiles.push(row.profile.clone());
                    u32::try_from(profiles.len() - 1).unwrap_or(u32::MAX)
                });
        }
    });
    let mut label_sets: Vec<Arc<Labels>> = Vec::new();
    let mut label_numbers: HashMap<*const Labels, u32> = HashMap::new();
    directory.keys.each_shard(|rows| {
        for labels in rows.iter().flatten().filter_map(|row| row.labels.as_ref()) {
            label_numbers.entry(Arc::as_ptr(labels)).or_insert_with(|| {
                label_sets.push(labels.clone());
                u32::try_from(label_sets.len() - 1).unwrap_or(u32::MAX)
            });
        }
    });
    out.count(profiles.len())?;
    for profile in &profiles {
        out.text(&profile.client_type)?;
        out.texts(&profile.groups)?;
        out.texts(&profile.permissions)?;
        out.map(&profile.metadata)?;
    }
    out.count(label_sets.len())?;
    for labels in &label_sets {
        out.map(labels)?;
    }

    // The section lengths are known once the sections are written.
    let lengths_at = out.0.stream_position()?;
    out.u64(0)?;
    out.u64(0)?;
    let consumers_at = out.0.stream_position()?;
    let mut failed = None;
    directory.consumers().each_shard(|rows| {
        if failed.is_none() {
            failed = out
                .shard(rows, |out, row| out.consumer_row(row, &profile_numbers))
                .err();
        }
    });
    let keys_at = out.0.stream_position()?;
    directory.keys.each_shard(|rows| {
        if failed.is_none() {
            failed = out
                .shard(rows, |out, row| out.key_row(row, &label_numbers))
                .err();
        }
    });
    if let Some(error) = failed {
        return Err(error.into());
    }
    let end_at = out.0.stream_position()?;
    out.0.write_all(END)?;
    out.0.seek(SeekFrom::Start(lengths_at))?;
    out.u64(keys_at - consumers_at)?;
    out.u64(end_at - keys_at)?;
    let file = out.0.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(())
}

/// Creates `path` readable by its owner only: it holds key hashes.
fn open_private(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Reads only the stamp of the cache at `path`, to decide whether to read the rest.
pub fn read_stamp(path: &Path) -> Result<CacheStamp, CacheError> {
    let mut input = In::open(path)?;
    input.stamp()
}

/// Reads the cache at `path`: its stamp and the directory it holds.
pub fn read(path: &Path) -> Result<(CacheStamp, Directory), CacheError> {
    let mut input = In::open(path)?;
    let stamp = input.stamp()?;
    let seed = input.u64()?;
    let profiles = (0..input.count()?)
        .map(|_| input.profile().map(Arc::new))
        .collect::<Result<Vec<_>, _>>()?;
    let label_sets = (0..input.count()?)
        .map(|_| input.map().map(Arc::new))
        .collect::<Result<Vec<_>, _>>()?;
    let consumers_len = input.u64()?;
    let keys_len = input.u64()?;
    let consumers_at = input.position;
    let keys_at = consumers_at
        .checked_add(consumers_len)
        .ok_or(CacheError::Malformed("section lengths out of range"))?;

    let (consumer_shards, key_shards) = std::thread::scope(|scope| {
        let label_sets = &label_sets;
        let keys = scope.spawn(move || -> Result<_, CacheError> {
            let mut input = In::open(path)?;
            input.seek(keys_at)?;
            let end = keys_at.saturating_add(keys_len);
            let shards = input.shards(end, |input| input.key_row(label_sets))?;
            if input.position - keys_at != keys_len {
                return Err(CacheError::Malformed(
                    "the key section has the wrong length",
                ));
            }
            input.end()?;
            Ok(shards)
        });
        let consumers = input
            .shards(keys_at, |input| input.consumer_row(&profiles))
            .and_then(|shards| {
                if input.position - consumers_at == consumers_len {
                    Ok(shards)
                } else {
                    Err(CacheError::Malformed(
                        "the consumer section has the wrong length",
                    ))
                }
            });
        let keys = keys
            .join()
            .unwrap_or(Err(CacheError::Malformed("the key reader stopped")));
        (consumers, keys)
    });
    let consumers = ConsumerTable::from_shards(seed, consumer_shards?)
        .ok_or(CacheError::Malformed("wrong number of consumer shards"))?;
    let keys = KeyIndex::from_shards(key_shards?).ok_or(CacheError::Malformed(
        "wrong number of key shards or a key in the wrong shard",
    ))?;
    Ok((
        stamp,
        Directory::from_parts(keys, consumers, profiles, label_sets),
    ))
}

struct Out(BufWriter<File>);

impl Out {
    fn u32(&mut self, value: u32) -> std::io::Result<()> {
        self.0.write_all(&value.to_le_bytes())
    }

    fn u64(&mut self, value: u64) -> std::io::Result<()> {
        self.0.write_all(&value.to_le_bytes())
    }

    fn i64(&mut self, value: i64) -> std::io::Result<()> {
        self.0.write_all(&value.to_le_bytes())
    }

    fn count(&mut self, count: usize) -> std::io::Result<()> {
        let count = u32::try_from(count)
            .map_err(|_| std::io::Error::other("more than 2^32 entries in one list"))?;
        self.u32(count)
    }

    fn text(&mut self, text: &str) -> std::io::Result<()> {
        self.count(text.len())?;
        self.0.write_all(text.as_bytes())
    }

    fn optional_text(&mut self, text: Option<&str>) -> std::io::Result<()> {
        match text {
            Some(text) => {
                self.0.write_all(&[1])?;
                self.text(text)
            }
            None => self.0.write_all(&[0]),
        }
    }

    fn texts(&mut self, texts: &[String]) -> std::io::Result<()> {
        self.count(texts.len())?;
        texts.iter().try_for_each(|text| self.text(text))
    }

    fn map(&mut self, map: &BTreeMap<String, String>) -> std::io::Result<()> {
        self.count(map.len())?;
        map.iter().try_for_each(|(name, value)| {
            self.text(name)?;
            self.text(value)
        })
    }

    /// One shard: its row count, then each slot — 0 when empty, else 1 and the row
    /// written by `row`.
    fn shard<T>(
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

    fn consumer_row(
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
                    .map_or(NO_END, super::directory::millis),
            )?;
        }
        Ok(())
    }

    fn key_row(
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
        self.0.write_all(&[row.flags])
    }
}

fn status_number(status: SubscriptionStatus) -> u8 {
    match status {
        SubscriptionStatus::Pending => 0,
        SubscriptionStatus::Accepted => 1,
        SubscriptionStatus::Paused => 2,
        SubscriptionStatus::Rejected => 3,
        SubscriptionStatus::Closed => 4,
    }
}

fn status_of(number: u8) -> Option<SubscriptionStatus> {
    Some(match number {
        0 => SubscriptionStatus::Pending,
        1 => SubscriptionStatus::Accepted,
        2 => SubscriptionStatus::Paused,
        3 => SubscriptionStatus::Rejected,
        4 => SubscriptionStatus::Closed,
        _ => return None,
    })
}

fn key_mode_number(mode: KeyMode) -> u8 {
    match mode {
        KeyMode::Own => 0,
        KeyMode::Shared => 1,
    }
}

struct In {
    reader: BufReader<File>,
    /// Bytes read so far from the start of the file.
    position: u64,
    text: Vec<u8>,
}

impl In {
    fn open(path: &Path) -> std::io::Result<In> {
        Ok(In {
            reader: BufReader::with_capacity(1 << 20, File::open(path)?),
            position: 0,
            text: Vec::new(),
        })
    }

    fn seek(&mut self, to: u64) -> std::io::Result<()> {
        self.reader.seek(SeekFrom::Start(to))?;
        self.position = to;
        Ok(())
    }

    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], CacheError> {
        let mut bytes = [0u8; N];
        self.reader.read_exact(&mut bytes).map_err(truncated)?;
        self.position += N as u64;
        Ok(bytes)
    }

    fn u8(&mut self) -> Result<u8, CacheError> {
        Ok(self.bytes::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, CacheError> {
        Ok(u32::from_le_bytes(self.bytes()?))
    }

    fn u64(&mut self) -> Result<u64, CacheError> {
        Ok(u64::from_le_bytes(self.bytes()?))
    }

    fn i64(&mut self) -> Result<i64, CacheError> {
        Ok(i64::from_le_bytes(self.bytes()?))
    }

    fn count(&mut self) -> Result<usize, CacheError> {
        Ok(self.u32()? as usize)
    }

    /// Reads a text into the reusable buffer and returns it.
    fn text(&mut self) -> Result<&str, CacheError> {
        let len = self.count()?;
        if len > MAX_TEXT {
            return Err(CacheError::Malformed("a text is too long"));
        }
        self.text.resize(len, 0);
        self.reader.read_exact(&mut self.text).map_err(truncated)?;
        self.position += len as u64;
        std::str::from_utf8(&self.text).map_err(|_| CacheError::Malformed("a text is not UTF-8"))
    }

    fn optional_text(&mut self) -> Result<Option<&str>, CacheError> {
        match self.u8()? {
            0 => Ok(None),
            _ => self.text().map(Some),
        }
    }

    fn texts(&mut self) -> Result<Vec<String>, CacheError> {
        (0..self.count()?)
            .map(|_| self.text().map(str::to_owned))
            .collect()
    }

    fn map(&mut self) -> Result<BTreeMap<String, String>, CacheError> {
        (0..self.count()?)
            .map(|_| {
                let name = self.text()?.to_owned();
                Ok((name, self.text()?.to_owned()))
            })
            .collect()
    }

    fn stamp(&mut self) -> Result<CacheStamp, CacheError> {
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

    fn profile(&mut self) -> Result<ConsumerProfile, CacheError> {
        let client_type = HeaderText::new(self.text()?);
        let groups = self.texts()?;
        let permissions = self.texts()?;
        let metadata = self.map()?;
        Ok(ConsumerProfile {
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
    fn shards<T>(
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

    fn consumer_row(
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

    fn key_row(&mut self, label_sets: &[Arc<Labels>]) -> Result<KeyRow, CacheError> {
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
        Ok(KeyRow {
            hash,
            ids,
            prefix,
            labels,
            expires_at: self.i64()?,
            last_used_s: AtomicU32::new(self.u32()?),
            consumer: ConsumerRef::from_raw(self.u32()?),
            flags: self.u8()?,
        })
    }

    fn end(&mut self) -> Result<(), CacheError> {
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

fn truncated(error: std::io::Error) -> CacheError {
    if error.kind() == std::io::ErrorKind::UnexpectedEof {
        CacheError::Malformed("the file ends too early")
    } else {
        CacheError::Io(error)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::SystemTime;

    use keygate_store::{ConsumerRecord, KeyRecord, SubscriptionRecord};

    use super::*;
    use crate::state::test_records;
    use crate::state::KeyCheck;

    fn scratch(name: &str) -> PathBuf {
        crate::state::scratch_dir(name).join("directory.cache")
    }

    fn consumer(name: &str, client_type: &str, groups: &[&str]) -> ConsumerRecord {
        ConsumerRecord {
            groups: groups.iter().map(|g| g.to_string()).collect(),
            permissions: vec!["read".into()],
            description: Some("not kept".into()),
            metadata: BTreeMap::from([("tier".to_owned(), "gold".to_owned())]),
            ..test_records::consumer(name, client_type)
        }
    }

    fn key(id: &str, consumer: &str, secret: &str) -> KeyRecord {
        KeyRecord {
            prefix: Some(secret[..4].to_owned()),
            last_used_at: Some(1_700_000_000_000),
            ..test_records::key(id, consumer, secret)
        }
    }

    fn stamp() -> CacheStamp {
        CacheStamp {
            store_id: "store-1".into(),
            revision: 42,
            fingerprint: "abc".into(),
        }
    }

    /// A directory with every kind of row: shared profiles, labels, a subscription, a
    /// revoked, a disabled and an expired key, and empty slots left by removals.
    fn sample() -> Directory {
        let directory = Directory::default();
        for i in 0..300 {
            directory.put_consumer(&consumer(
                &format!("user{i}"),
                ["A", "B", "C"][i % 3],
                &["g1"],
            ));
        }
        directory.put_consumer(&consumer(
            "a-consumer-name-longer-than-twenty-two",
            "A",
            &[],
        ));
        for i in 0..300 {
            let mut record = key(
                &format!("key-{i}"),
                &format!("user{i}"),
                &format!("secret-{i}"),
            );
            if i % 10 == 0 {
                record.labels = BTreeMap::from([("env".to_owned(), "prod".to_owned())]);
            }
            record.active = i != 1;
            record.revoked_at = (i == 2).then_some(5);
            record.expires_at = (i == 3).then_some(1_000);
            record.subscription = (i == 4).then(|| "sub-1".to_owned());
            record.shared = i == 5;
            directory.put_key(&record);
        }
        directory.put_key(&key(
            "an-id-that-is-longer-than-twenty-two-bytes",
            "a-consumer-name-longer-than-twenty-two",
            "long-secret",
        ));
        directory.put_subscription(&SubscriptionRecord {
            id: "sub-1".into(),
            consumer: "user4".into(),
            service: "weather".into(),
            plan: "premium".into(),
            status: keygate_store::SubscriptionStatus::Paused,
            key_mode: KeyMode::Own,
            ends_at: Some(2_000_000_000_000),
            created_at: 0,
            updated_at: 0,
        });
        for i in (100..300).step_by(7) {
            directory.remove_key(&KeyHash::of(format!("secret-{i}").as_bytes()).0);
        }
        directory.remove_consumer("user299");
        directory
    }

    /// What a request would see of every key the sample ever had.
    fn seen(directory: &Directory) -> Vec<String> {
        let now = SystemTime::now();
        (0..300)
            .map(|i| format!("secret-{i}"))
            .chain(["long-secret".to_owned()])
            .map(|secret| {
                let (state, entry) = match directory.check(secret.as_bytes(), now) {
                    KeyCheck::NotFound => return "not found".to_owned(),
                    KeyCheck::Valid(e) => ("valid", e),
                    KeyCheck::Disabled(e) => ("disabled", e),
                    KeyCheck::Revoked(e) => ("revoked", e),
                    KeyCheck::Expired(e) => ("expired", e),
                };
                let consumer = entry.consumer();
                format!(
                    "{state} {} {:?} {:?} {:?} {} {:?} {} {} {:?} {:?} {:?} {:?}",
                    &*entry.id,
                    entry.prefix,
                    entry.expires_at,
                    entry.subscription,
                    entry.shared,
                    entry.labels,
                    &*consumer.name,
                    &*consumer.profile.client_type,
                    consumer.profile.groups,
                    consumer.profile.metadata,
                    consumer.profile.groups_header,
                    consumer
                        .subscriptions()
                        .iter()
                        .map(|s| (s.id.to_string(), s.status, s.key_mode, s.ends_at))
                        .collect::<Vec<_>>(),
                )
            })
            .collect()
    }

    #[test]
    fn a_directory_comes_back_as_it_was_written() {
        let path = scratch("round-trip");
        let directory = sample();
        write(&directory, &stamp(), &path).unwrap();
        assert_eq!(read_stamp(&path).unwrap(), stamp());
        let (read_stamp, back) = read(&path).unwrap();
        assert_eq!(read_stamp, stamp());
        assert_eq!(seen(&back), seen(&directory));
        assert_eq!(back.keys.len(), directory.keys.len());
        assert_eq!(back.consumer_count(), directory.consumer_count());
        assert!(!partial_path(&path).exists());

        // It goes on working as a directory: consumers found by name, slots reused,
        // subscriptions found by id, profiles still shared.
        assert!(back.put_key(&key("new", "user1", "new-secret")));
        assert!(back.check(b"new-secret", SystemTime::now()).is_valid());
        back.remove_subscription("sub-1");
        let KeyCheck::Valid(four) = back.check(b"secret-4", SystemTime::now()) else {
            panic!("valid expected");
        };
        assert!(four.consumer().subscriptions().is_empty());
        let KeyCheck::Valid(seven) = back.check(b"secret-7", SystemTime::now()) else {
            panic!("valid expected");
        };
        assert!(Arc::ptr_eq(
            &four.consumer().profile,
            &seven.consumer().profile
        ));
        back.put_consumer(&consumer("user7", "Z", &[]));
        let KeyCheck::Valid(seven) = back.check(b"secret-7", SystemTime::now()) else {
            panic!("valid expected");
        };
        assert_eq!(&*seven.consumer().profile.client_type, "Z");
    }

    #[test]
    fn a_damaged_file_is_refused_never_half_read() {
        let path = scratch("damaged");
        write(&sample(), &stamp(), &path).unwrap();
        let whole = std::fs::read(&path).unwrap();
        let damaged = path.with_extension("damaged");
        let mut cuts = vec![
            0,
            3,
            10,
            40,
            whole.len() / 2,
            whole.len() - 9,
            whole.len() - 1,
        ];
        cuts.extend((60..whole.len()).step_by(997));
        for cut in cuts {
            std::fs::write(&damaged, &whole[..cut]).unwrap();
            assert!(
                matches!(read(&damaged), Err(CacheError::Malformed(_))),
                "cut at {cut}"
            );
        }
        let mut longer = whole.clone();
        longer.push(0);
        std::fs::write(&damaged, &longer).unwrap();
        assert!(read(&damaged).is_err());
        // A flipped byte anywhere never panics; most are caught.
        for at in (0..whole.len()).step_by(31) {
            let mut flipped = whole.clone();
            flipped[at] ^= 0xff;
            std::fs::write(&damaged, &flipped).unwrap();
            let _ = read(&damaged);
        }
        assert!(matches!(
            read(&path.with_extension("absent")),
            Err(CacheError::Io(_))
        ));
    }
}
