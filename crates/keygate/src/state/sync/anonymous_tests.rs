//! A snapshot holds each service's anonymous consumer as it was when built: every change
//! of that consumer — its creation, its profile, its subscriptions, its deletion — builds
//! a new snapshot, and changes of other consumers do not.

use std::sync::Arc;

use keygate_store::sqlite::SqliteStore;
use keygate_store::{
    KeyMode, Origin, ServiceRecord, Store, SubscriptionRecord, SubscriptionStatus,
};

use super::StoreSync;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::state::anonymous::Anonymous;
use crate::state::test_records;

/// A service written through the API that names `visitor`, and one more without.
fn start(store: &Arc<SqliteStore>) -> StoreSync {
    let document = r#"{"name": "api", "upstream": "http://127.0.0.1:9",
        "anonymous_consumer": "visitor", "plans": [{"name": "free"}],
        "routes": [{"name": "r", "paths": ["/"], "auth": "optional"}]}"#;
    store
        .put_service(&ServiceRecord {
            name: "api".into(),
            document: document.into(),
            origin: Origin::Api,
            updated_at: 0,
        })
        .unwrap();
    let config = Config::parse("t.yaml", "").unwrap();
    StoreSync::start(store.clone(), config, Arc::new(Metrics::new(false))).unwrap()
}

/// The anonymous consumer of the snapshot's first service.
fn anonymous(sync: &StoreSync) -> Anonymous {
    sync.state().load().anonymous[0].clone()
}

#[test]
fn the_snapshot_follows_its_anonymous_consumer() {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let sync = start(&store);
    assert!(matches!(anonymous(&sync), Anonymous::Missing));

    store
        .put_consumer(&test_records::consumer("visitor", "public"))
        .unwrap();
    sync.catch_up().unwrap();
    let Anonymous::Found(found) = anonymous(&sync) else {
        panic!("created: found");
    };
    assert_eq!(&*found.profile.client_type, "public");

    store
        .put_consumer(&test_records::consumer("visitor", "guests"))
        .unwrap();
    sync.catch_up().unwrap();
    let Anonymous::Found(changed) = anonymous(&sync) else {
        panic!("changed: found");
    };
    assert_eq!(&*changed.profile.client_type, "guests");

    let before = sync.state().load();
    store
        .put_consumer(&test_records::consumer("someone-else", "X"))
        .unwrap();
    sync.catch_up().unwrap();
    assert!(
        Arc::ptr_eq(&before, &sync.state().load()),
        "another consumer's change keeps the snapshot"
    );

    let subscription = SubscriptionRecord {
        id: "sub-v".into(),
        consumer: "visitor".into(),
        service: "api".into(),
        plan: "free".into(),
        status: SubscriptionStatus::Accepted,
        key_mode: KeyMode::Shared,
        ends_at: None,
        reason: None,
        created_at: 0,
        updated_at: 0,
    };
    store.insert_subscription(&subscription, None).unwrap();
    sync.catch_up().unwrap();
    let Anonymous::Found(subscribed) = anonymous(&sync) else {
        panic!("subscribed: found");
    };
    assert_eq!(subscribed.subscriptions().len(), 1);
    store.delete_subscription("sub-v").unwrap();
    sync.catch_up().unwrap();
    let Anonymous::Found(unsubscribed) = anonymous(&sync) else {
        panic!("unsubscribed: found");
    };
    assert!(unsubscribed.subscriptions().is_empty());

    store.delete_consumer("visitor").unwrap();
    sync.catch_up().unwrap();
    assert!(matches!(anonymous(&sync), Anonymous::Missing), "deleted");
}

#[test]
fn a_file_consumer_comes_with_its_limits() {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let text = "services:\n  - {name: s, upstream: http://127.0.0.1:9, anonymous_consumer: guest, routes: [{name: r, paths: [/], auth: optional}]}\n\
        consumers:\n  - name: guest\n    limits: [{count: 3, per: minute, name: guest-minute}]\n";
    let config = Config::parse("t.yaml", text).unwrap();
    let sync = StoreSync::start(store, config, Arc::new(Metrics::new(false))).unwrap();
    let Anonymous::Found(guest) = anonymous(&sync) else {
        panic!("found");
    };
    assert!(guest.profile.limits.is_some(), "{guest:?}");
}
