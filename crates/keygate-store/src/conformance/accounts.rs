//! Checks of accounts, their tokens, ownership and the audit log.

use super::fixtures::{consumer, is_conflict, is_not_found, page, service};
use crate::{AccountRecord, AccountTokenRecord, AuditQuery, AuditRecord, OwnedKind, Role, Store};

fn account(name: &str, role: Role) -> AccountRecord {
    AccountRecord {
        name: name.to_owned(),
        role,
        password_hash: Some(format!(
            "$argon2id$v=19$m=19456,t=2,p=1$salt$hash-of-{name}"
        )),
        disabled: false,
        created_at: 1_000,
        updated_at: 1_000,
    }
}

fn token(id: &str, account: &str, n: u8) -> AccountTokenRecord {
    AccountTokenRecord {
        id: id.to_owned(),
        account: account.to_owned(),
        hash: [n; 32],
        prefix: format!("kgtok_{n}"),
        description: Some("ci".to_owned()),
        created_at: 2_000,
        expires_at: Some(9_000),
        revoked_at: None,
    }
}

/// Accounts are created, replaced (keeping `created_at`), listed by name in pages, and
/// deleted with their tokens; none of it bumps the revision.
pub(super) fn accounts_crud(store: &dyn Store) {
    let revision = store.revision().unwrap();
    store.put_account(&account("bob", Role::Owner)).unwrap();
    store
        .put_account(&account("alice", Role::Publisher))
        .unwrap();
    let mut changed = account("alice", Role::Admin);
    changed.created_at = 5_000;
    changed.updated_at = 6_000;
    changed.disabled = true;
    changed.password_hash = None;
    store.put_account(&changed).unwrap();
    let stored = store.account("alice").unwrap().unwrap();
    assert_eq!(stored.role, Role::Admin);
    assert!(stored.disabled);
    assert_eq!(stored.password_hash, None);
    assert_eq!(stored.created_at, 1_000, "created_at is kept");
    assert_eq!(stored.updated_at, 6_000);
    assert_eq!(store.account("nobody").unwrap(), None);

    let first = store.accounts(&page(None, 1)).unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].name, "alice");
    let second = store.accounts(&page(Some("alice"), 10)).unwrap();
    assert_eq!(second, vec![account("bob", Role::Owner)]);

    store.insert_account_token(&token("t1", "bob", 1)).unwrap();
    store.delete_account("bob").unwrap();
    assert_eq!(store.account("bob").unwrap(), None);
    assert_eq!(
        store.account_token("t1").unwrap(),
        None,
        "its tokens go with it"
    );
    let err = store.delete_account("bob").unwrap_err();
    assert!(is_not_found(&err, "account", "bob"), "{err}");
    assert_eq!(
        store.revision().unwrap(),
        revision,
        "accounts bump no revision"
    );
}

/// Tokens need their account, are unique by id and hash, are found by hash, listed per
/// account, and revoked once (a second revocation keeps the first time).
pub(super) fn account_tokens(store: &dyn Store) {
    let err = store
        .insert_account_token(&token("t1", "carol", 1))
        .unwrap_err();
    assert!(is_not_found(&err, "account", "carol"), "{err}");
    store.put_account(&account("carol", Role::Owner)).unwrap();
    store
        .put_account(&account("dave", Role::Publisher))
        .unwrap();
    store
        .insert_account_token(&token("t1", "carol", 1))
        .unwrap();
    store.insert_account_token(&token("t2", "dave", 2)).unwrap();
    store
        .insert_account_token(&token("t3", "carol", 3))
        .unwrap();
    assert!(is_conflict(
        &store
            .insert_account_token(&token("t1", "carol", 9))
            .unwrap_err()
    ));
    assert!(is_conflict(
        &store
            .insert_account_token(&token("t9", "carol", 1))
            .unwrap_err()
    ));

    assert_eq!(
        store.account_token("t2").unwrap(),
        Some(token("t2", "dave", 2))
    );
    assert_eq!(
        store.account_token_by_hash(&[3; 32]).unwrap(),
        Some(token("t3", "carol", 3))
    );
    assert_eq!(store.account_token_by_hash(&[7; 32]).unwrap(), None);
    let ids = |tokens: Vec<AccountTokenRecord>| -> Vec<String> {
        tokens.into_iter().map(|t| t.id).collect()
    };
    assert_eq!(
        ids(store
            .account_tokens(Some("carol"), &page(None, 10))
            .unwrap()),
        ["t1", "t3"]
    );
    assert_eq!(
        ids(store.account_tokens(None, &page(Some("t1"), 1)).unwrap()),
        ["t2"]
    );

    store.revoke_account_token("t1", 7_000).unwrap();
    store.revoke_account_token("t1", 8_000).unwrap();
    assert_eq!(
        store.account_token("t1").unwrap().unwrap().revoked_at,
        Some(7_000)
    );
    let err = store.revoke_account_token("t9", 1).unwrap_err();
    assert!(is_not_found(&err, "token", "t9"), "{err}");
}

/// Consumers and services have an optional owner, which survives puts of the entity,
/// goes with its deletion, and keeps its account from being deleted.
pub(super) fn ownership(store: &dyn Store) {
    store.put_account(&account("erin", Role::Owner)).unwrap();
    store.put_account(&account("pat", Role::Publisher)).unwrap();
    store.put_consumer(&consumer("app-b")).unwrap();
    store.put_consumer(&consumer("app-a")).unwrap();
    store.put_consumer(&consumer("other")).unwrap();
    store
        .put_service(&service("orders", r#"{"name":"orders"}"#))
        .unwrap();

    assert_eq!(store.owner(OwnedKind::Consumer, "app-a").unwrap(), None);
    let err = store.owner(OwnedKind::Consumer, "ghost").unwrap_err();
    assert!(is_not_found(&err, "consumer", "ghost"), "{err}");
    store
        .set_owner(OwnedKind::Consumer, "app-a", Some("erin"))
        .unwrap();
    store
        .set_owner(OwnedKind::Consumer, "app-b", Some("erin"))
        .unwrap();
    store
        .set_owner(OwnedKind::Service, "orders", Some("pat"))
        .unwrap();
    let err = store
        .set_owner(OwnedKind::Service, "orders", Some("ghost"))
        .unwrap_err();
    assert!(is_not_found(&err, "account", "ghost"), "{err}");
    let err = store
        .set_owner(OwnedKind::Service, "ghost", None)
        .unwrap_err();
    assert!(is_not_found(&err, "service", "ghost"), "{err}");

    assert_eq!(
        store
            .owned(OwnedKind::Consumer, "erin", &page(None, 10))
            .unwrap(),
        ["app-a", "app-b"]
    );
    assert_eq!(
        store
            .owned(OwnedKind::Consumer, "erin", &page(Some("app-a"), 10))
            .unwrap(),
        ["app-b"]
    );
    assert!(store
        .owned(OwnedKind::Consumer, "pat", &page(None, 10))
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .owned(OwnedKind::Service, "pat", &page(None, 10))
            .unwrap(),
        ["orders"]
    );

    // A put of the entity keeps its owner.
    let mut changed = consumer("app-a");
    changed.description = Some("changed".to_owned());
    changed.updated_at += 1;
    store.put_consumer(&changed).unwrap();
    store
        .put_service(&service("orders", r#"{"name":"orders","hosts":[]}"#))
        .unwrap();
    assert_eq!(
        store
            .owner(OwnedKind::Consumer, "app-a")
            .unwrap()
            .as_deref(),
        Some("erin")
    );
    assert_eq!(
        store
            .owner(OwnedKind::Service, "orders")
            .unwrap()
            .as_deref(),
        Some("pat")
    );

    assert!(is_conflict(&store.delete_account("erin").unwrap_err()));
    assert!(is_conflict(&store.delete_account("pat").unwrap_err()));
    store.delete_service("orders").unwrap();
    store.delete_account("pat").unwrap();
    store.delete_consumer("app-a").unwrap();
    store.set_owner(OwnedKind::Consumer, "app-b", None).unwrap();
    store.delete_account("erin").unwrap();
    // A consumer made again under a deleted one's name has no owner.
    store.put_consumer(&consumer("app-a")).unwrap();
    assert_eq!(store.owner(OwnedKind::Consumer, "app-a").unwrap(), None);
}

/// The audit log keeps what it is given, reads newest first, filters by entity and time,
/// and pages by id.
pub(super) fn audit_log(store: &dyn Store) {
    let record = |at: i64, kind: &str, entity: &str| AuditRecord {
        id: 0,
        at,
        actor: "admin token".to_owned(),
        action: format!("PUT /v1/{kind}s/{{name}}"),
        entity_kind: kind.to_owned(),
        entity: entity.to_owned(),
        before: None,
        after: Some(format!(r#"{{"name":"{entity}"}}"#)),
    };
    let revision = store.revision().unwrap();
    let first = store.append_audit(&record(100, "consumer", "a")).unwrap();
    let second = store.append_audit(&record(200, "service", "s")).unwrap();
    let third = store.append_audit(&record(300, "consumer", "b")).unwrap();
    assert!(first < second && second < third);
    assert_eq!(
        store.revision().unwrap(),
        revision,
        "the audit log bumps no revision"
    );

    let all = store
        .audit(&AuditQuery {
            limit: 10,
            ..AuditQuery::default()
        })
        .unwrap();
    let ids: Vec<i64> = all.iter().map(|r| r.id).collect();
    assert_eq!(ids, [third, second, first]);
    let mut expected = record(200, "service", "s");
    expected.id = second;
    assert_eq!(all[1], expected);

    let consumers = store
        .audit(&AuditQuery {
            entity_kind: Some("consumer".into()),
            limit: 10,
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(consumers.len(), 2);
    let one = store
        .audit(&AuditQuery {
            entity_kind: Some("consumer".into()),
            entity: Some("a".into()),
            limit: 10,
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].id, first);
    let recent = store
        .audit(&AuditQuery {
            since: Some(200),
            limit: 10,
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(recent.len(), 2);
    let paged = store
        .audit(&AuditQuery {
            before_id: Some(third),
            limit: 1,
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(paged.len(), 1);
    assert_eq!(paged[0].id, second);
}
