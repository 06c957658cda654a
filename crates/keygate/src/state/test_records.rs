//! Store records for the state's tests: a plain consumer and a plain key, which tests
//! change field by field with struct update syntax.

use std::collections::BTreeMap;

use keygate_store::{ConsumerRecord, KeyRecord, Origin};

use crate::key::KeyHash;

/// A consumer of origin `api` in the group `admin`.
pub fn consumer(name: &str, client_type: &str) -> ConsumerRecord {
    ConsumerRecord {
        name: name.into(),
        client_type: Some(client_type.into()),
        groups: vec!["admin".into()],
        permissions: Vec::new(),
        description: None,
        metadata: BTreeMap::new(),
        origin: Origin::Api,
        created_at: 0,
        updated_at: 0,
        limits: None,
    }
}

/// An active key of origin `api` whose plaintext is `plaintext`.
pub fn key(id: &str, consumer: &str, plaintext: &str) -> KeyRecord {
    KeyRecord {
        limits: None,
        id: id.into(),
        consumer: consumer.into(),
        hash: KeyHash::of(plaintext.as_bytes()).0,
        prefix: None,
        active: true,
        description: None,
        labels: BTreeMap::new(),
        origin: Origin::Api,
        created_at: 0,
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
        subscription: None,
        shared: false,
    }
}
