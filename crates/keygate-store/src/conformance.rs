//! A backend-independent test suite for [`Store`] implementations.
//!
//! Every backend runs the same checks, so the gateway sees one behaviour whatever keeps
//! its data. Beyond the trait's documentation, the checks pin down:
//!
//! - each effective write uses exactly one revision, and a failed or no-op write none
//!   (`update_key` with nothing to change returns the current revision);
//! - one change per touched entity, in order, all under the write's revision:
//!   `renew_key` logs the old key then the new one; `update_subscription_with_key` the
//!   subscription (when changed), the keys it ended, then the new key; a `put_key` that changes a key's hash
//!   logs the key deleted with its old hash, then the key with its new hash; key changes
//!   always carry the hash;
//! - `put_key` on an existing key keeps its `created_at` and `last_used_at`.
//!
//! The suite panics (with `assert!`) on the first difference. It is compiled in every
//! build, not only for tests, so that each backend's tests can call [`run_all`].

// A test suite: a failed `unwrap` is a failed check, reported with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod consumers;
mod counters;
mod fixtures;
mod keys;
mod revisions;
mod subscriptions;
mod usage;

use self::accounts::{account_tokens, accounts_crud, audit_log, ownership};
use self::consumers::{consumer_with_keys_is_kept, consumers_crud_and_pages, services_crud};
use self::counters::counters_add_up;
use self::keys::{
    duplicate_keys_conflict, key_needs_its_consumer, keys_listed_and_deleted,
    last_use_is_bookkeeping, put_key_replaces, renew_key_is_atomic,
    update_key_changes_mutable_fields,
};
use self::revisions::{
    batches_are_all_or_nothing, changes_are_logged, identical_puts_change_nothing,
    load_streams_everything, revision_counts_effective_writes,
};
use self::subscriptions::{
    subscription_reasons_are_kept, subscription_update_with_key_is_atomic, subscriptions_listed,
    subscriptions_with_their_keys,
};
use self::usage::usage_adds_up;
use crate::Store;

/// One check, run against a new, empty store.
type Check = fn(&dyn Store);

/// Every check, by name.
const CHECKS: &[(&str, Check)] = &[
    ("batches_are_all_or_nothing", batches_are_all_or_nothing),
    (
        "revision_counts_effective_writes",
        revision_counts_effective_writes,
    ),
    (
        "identical_puts_change_nothing",
        identical_puts_change_nothing,
    ),
    ("changes_are_logged", changes_are_logged),
    ("consumers_crud_and_pages", consumers_crud_and_pages),
    ("consumer_with_keys_is_kept", consumer_with_keys_is_kept),
    ("key_needs_its_consumer", key_needs_its_consumer),
    ("duplicate_keys_conflict", duplicate_keys_conflict),
    ("put_key_replaces", put_key_replaces),
    (
        "update_key_changes_mutable_fields",
        update_key_changes_mutable_fields,
    ),
    ("renew_key_is_atomic", renew_key_is_atomic),
    ("keys_listed_and_deleted", keys_listed_and_deleted),
    ("services_crud", services_crud),
    ("last_use_is_bookkeeping", last_use_is_bookkeeping),
    ("load_streams_everything", load_streams_everything),
    (
        "subscriptions_with_their_keys",
        subscriptions_with_their_keys,
    ),
    ("subscriptions_listed", subscriptions_listed),
    (
        "subscription_reasons_are_kept",
        subscription_reasons_are_kept,
    ),
    (
        "subscription_update_with_key_is_atomic",
        subscription_update_with_key_is_atomic,
    ),
    ("counters_add_up", counters_add_up),
    ("accounts_crud", accounts_crud),
    ("account_tokens", account_tokens),
    ("ownership", ownership),
    ("audit_log", audit_log),
    ("usage_adds_up", usage_adds_up),
];

/// Runs every check, each against a new, empty store from `make`, and panics at the first
/// failure. The name of each check is printed to standard error before it runs, so a
/// failure names its check.
pub fn run_all(make: &dyn Fn() -> Box<dyn Store>) {
    for (name, check) in CHECKS {
        eprintln!("store conformance: {name}");
        let store = make();
        check(store.as_ref());
    }
}
