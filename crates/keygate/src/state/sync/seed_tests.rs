//! The file's subscriptions seed the store: stored when missing, never overwritten, and
//! back after an API deletion only when the file changes.

use std::sync::Arc;

use keygate_store::sqlite::SqliteStore;
use keygate_store::{Store, SubscriptionStatus};

use super::StoreSync;
use crate::config::Config;
use crate::metrics::Metrics;

const FILE: &str = "services:\n  - name: shop\n    upstream: http://127.0.0.1:9001\n    plans: [{name: gold}]\n\
consumers:\n  - name: a\n    keys: [{key: own-key-0123456, id: own, subscription: s1}]\n\
subscriptions:\n  - {id: s1, consumer: a, service: shop, plan: gold, created_at: \"2020-01-01T00:00:00Z\"}\n";

fn start(store: &Arc<SqliteStore>, text: &str) -> StoreSync {
    let config = Config::parse("t.yaml", text).unwrap();
    StoreSync::start(store.clone(), config, Arc::new(Metrics::new(false))).unwrap()
}

#[test]
fn file_subscriptions_are_stored_once_and_then_left_to_the_api() {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let sync = start(&store, FILE);
    let stored = store.subscription("s1").unwrap().unwrap();
    assert_eq!(stored.status, SubscriptionStatus::Accepted);
    assert_eq!(stored.created_at, 1_577_836_800_000);
    let key = store.key("own").unwrap().unwrap();
    assert_eq!(key.subscription.as_deref(), Some("s1"));
    assert!(super::tests::works(&sync, "own-key-0123456"));
    drop(sync);

    // A change through the API stays over a restart on the same file...
    let mut paused = stored.clone();
    paused.status = SubscriptionStatus::Paused;
    store
        .update_subscription(&paused, SubscriptionStatus::Accepted)
        .unwrap();
    drop(start(&store, FILE));
    let status = store.subscription("s1").unwrap().unwrap().status;
    assert_eq!(status, SubscriptionStatus::Paused);
    // ...and so does a deletion, until the file changes.
    store.delete_subscription("s1").unwrap();
    drop(start(&store, FILE));
    assert!(store.subscription("s1").unwrap().is_none());
    drop(start(&store, &format!("{FILE}# changed\n")));
    assert!(
        store.subscription("s1").unwrap().is_none(),
        "a comment changes nothing"
    );
    let changed = FILE.replace("plan: gold,", "plan: gold, status: pending,");
    drop(start(&store, &changed));
    let status = store.subscription("s1").unwrap().unwrap().status;
    assert_eq!(status, SubscriptionStatus::Pending);
}

/// A rejected subscription of the file keeps its reason, as `keygate export` wrote it.
#[test]
fn a_file_rejection_keeps_its_reason() {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let text = FILE.replace(
        "plan: gold,",
        "plan: gold, status: rejected, reason: \"Partners only.\",",
    );
    drop(start(&store, &text));
    let stored = store.subscription("s1").unwrap().unwrap();
    assert_eq!(stored.status, SubscriptionStatus::Rejected);
    assert_eq!(stored.reason.as_deref(), Some("Partners only."));
}
