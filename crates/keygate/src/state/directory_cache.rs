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

mod reader;
mod writer;

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use self::reader::In;
use self::writer::Out;
use super::consumer_table::ConsumerTable;
use super::directory::Directory;
use super::entries::{ConsumerProfile, Labels};
use super::key_index::KeyIndex;

const MAGIC: &[u8; 4] = b"KGDC";
const END: &[u8; 8] = b"KGDC-END";
const VERSION: u32 = 3;
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
        out.optional_text(profile.limits.as_ref().map(|limits| &*limits.document))?;
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

#[cfg(test)]
mod tests;
