//! Helpers shared by the store's integration tests.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use keygate_store::{
    ConsumerRecord, KeyMode, KeyRecord, Origin, SubscriptionRecord, SubscriptionStatus,
};

/// A directory of its own under the system's temporary directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new, empty directory whose name includes `name`.
    pub fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "keygate-store-{name}-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        TempDir(path)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A file in the directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A consumer.
pub fn consumer(name: &str) -> ConsumerRecord {
    ConsumerRecord {
        name: name.to_owned(),
        client_type: None,
        groups: vec!["readers".to_owned()],
        permissions: Vec::new(),
        description: None,
        metadata: BTreeMap::new(),
        origin: Origin::Api,
        created_at: 1_000,
        updated_at: 1_000,
        limits: None,
    }
}

/// Key number `n` of `consumer`, with a hash of its own.
pub fn key(n: u64, consumer: &str) -> KeyRecord {
    let mut hash = [0x5a; 32];
    hash[..8].copy_from_slice(&n.to_le_bytes());
    KeyRecord {
        limits: None,
        id: format!("key-{n:07}"),
        consumer: consumer.to_owned(),
        hash,
        prefix: Some(format!("kg_{:04x}", n % 0x1_0000)),
        active: true,
        description: None,
        labels: BTreeMap::from([("env".to_owned(), "prod".to_owned())]),
        origin: Origin::Api,
        created_at: 1_700_000_000_000,
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
        subscription: None,
        shared: false,
    }
}

/// A pending own-key subscription of `consumer`, without a reason.
pub fn subscription(id: &str, consumer: &str) -> SubscriptionRecord {
    SubscriptionRecord {
        id: id.to_owned(),
        consumer: consumer.to_owned(),
        service: "orders".to_owned(),
        plan: "gold".to_owned(),
        status: SubscriptionStatus::Pending,
        key_mode: KeyMode::Own,
        ends_at: None,
        created_at: 1_000,
        updated_at: 1_000,
        reason: None,
    }
}
