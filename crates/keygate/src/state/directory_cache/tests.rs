//! The cache file written and read back: equal directories, refusal of damaged,
//! foreign or stale files, and the writes that leave no half file behind.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::SystemTime;

use keygate_store::{ConsumerRecord, KeyMode, KeyRecord, SubscriptionRecord};

use super::*;
use crate::key::KeyHash;
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
        limits: Some(r#"{"limits":[{"count":5,"per":"minute"}]}"#.to_owned()),
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
        reason: None,
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
                "{state} {} {:?} {:?} {:?} {} {:?} {} {} {:?} {:?} {:?} {:?} {:?}",
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
                consumer.profile.limits.as_ref().map(|l| &*l.document),
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
