//! "Who can call this route": the consumers, keys and client types that a route's auth
//! mode, `allow` expression and its service's plans and subscriptions let through,
//! computed from the current snapshot and directory (what the proxy reads), never from
//! the store.
//!
//! Each valid key is judged with [`keygate_policy::Expr::partial`]: `yes` (whatever the
//! request), `depends` (on request facts, with the parts that decide), or left out
//! (`no`). On a service with plans the key's accepted, unended subscriptions are tried in
//! the plans' order, as the proxy does: a plan whose selection rule says `yes` is taken
//! (later plans are not reached); one that says `depends` may be taken. Calls without a
//! key on an `auth: optional` route are judged as the service's anonymous consumer when
//! it has one (as the snapshot holds it), the same way, with no key.

use std::collections::BTreeMap;
use std::time::SystemTime;

use keygate_policy::{Expr, Facts, StaticFacts, Verdict};
use keygate_store::SubscriptionStatus;

use super::anonymous::Anonymous;
use super::{ConsumerEntry, Directory, KeyEntry, Snapshot};
use crate::config::{AuthMode, Route, Service};

/// One key that may call the route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCaller {
    /// The key's id.
    pub id: String,
    /// The plans the key may be let through by (empty on a service without plans).
    pub plans: Vec<String>,
    /// `Yes`, or `Depends` with what the rest depends on.
    pub verdict: Verdict,
}

/// One consumer with at least one key that may call the route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerCaller {
    /// The consumer's name.
    pub name: String,
    /// Its client type.
    pub client_type: String,
    /// `yes` when one of its keys may call whatever the request.
    pub always: bool,
    /// Its keys that may call, by id.
    pub keys: Vec<KeyCaller>,
}

/// Who can call one route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callers {
    /// The route's auth mode.
    pub auth: AuthMode,
    /// The route's `allow` expression, if any.
    pub allow: Option<String>,
    /// The service's plans, in the order they are tried.
    pub plans: Vec<String>,
    /// What calls without a key get: `Yes` on `auth: none`; the `allow` expression's
    /// verdict for an anonymous caller on `auth: optional` (for the service's anonymous
    /// consumer, with its plans; `No` when it is missing); `No` on `auth: required`.
    pub anonymous: Verdict,
    /// The consumer calls without a key go on as on this route, if any.
    pub anonymous_consumer: Option<String>,
    /// The consumers that may call, by name.
    pub consumers: Vec<ConsumerCaller>,
    /// Client types of those consumers, and whether one of each may call whatever the
    /// request.
    pub client_types: BTreeMap<String, bool>,
    /// Valid keys judged.
    pub keys_checked: usize,
}

/// The caller facts of a key and its consumer, or of the anonymous consumer without a
/// key (and a plan and subscription), for partial evaluation: request facts are never
/// read for a decided part, and answer empty.
struct CallerFacts<'k> {
    key: Option<&'k KeyEntry>,
    consumer: &'k ConsumerEntry,
    plan: Option<&'k str>,
    subscription: Option<&'k str>,
}

impl Facts for CallerFacts<'_> {
    fn client_type(&self) -> Option<&str> {
        Some(&self.consumer.profile.client_type)
    }
    fn consumer(&self) -> Option<&str> {
        Some(&self.consumer.name)
    }
    fn in_group(&self, group: &str) -> bool {
        self.consumer.profile.groups.iter().any(|g| g == group)
    }
    fn has_permission(&self, permission: &str) -> bool {
        let permissions = &self.consumer.profile.permissions;
        permissions.iter().any(|p| p == permission)
    }
    fn metadata(&self, name: &str) -> Option<&str> {
        self.consumer.profile.metadata.get(name).map(String::as_str)
    }
    fn key_id(&self) -> Option<&str> {
        Some(&self.key?.id)
    }
    fn key_label(&self, name: &str) -> Option<&str> {
        self.key?.labels.get(name).map(String::as_str)
    }
    fn plan(&self) -> Option<&str> {
        self.plan
    }
    fn subscription(&self) -> Option<&str> {
        self.subscription
    }
    fn method(&self) -> &str {
        ""
    }
    fn path(&self) -> &str {
        ""
    }
    fn host(&self) -> &str {
        ""
    }
    fn header(&self, _: &str) -> Option<&str> {
        None
    }
    fn query(&self, _: &str) -> Option<&str> {
        None
    }
    fn is_backoffice(&self) -> bool {
        false
    }
    fn tls(&self) -> bool {
        false
    }
    fn client_certificate(&self) -> bool {
        false
    }
}

/// The verdict of an optional expression: `Yes` when absent.
fn judge(expr: Option<&Expr>, facts: &dyn Facts) -> Verdict {
    expr.map_or(Verdict::Yes, |expr| expr.partial(facts))
}

/// Whether `key` may call `route` of `service`, and by which plans.
fn judge_key(service: &Service, route: &Route, key: &KeyEntry, now: SystemTime) -> KeyCaller {
    let (plans, verdict) = judge_caller(service, route, Some(key), &key.consumer, now);
    KeyCaller {
        id: key.id.to_string(),
        plans,
        verdict,
    }
}

/// Whether `consumer` may call `route` of `service` with `key` (none for the anonymous
/// consumer, whose subscriptions serve it whatever their key mode), and by which plans.
fn judge_caller(
    service: &Service,
    route: &Route,
    key: Option<&KeyEntry>,
    consumer: &ConsumerEntry,
    now: SystemTime,
) -> (Vec<String>, Verdict) {
    let caller = |plan, subscription| CallerFacts {
        key,
        consumer,
        plan,
        subscription,
    };
    let (mut plans, mut verdict) = (Vec::new(), Verdict::No);
    if service.plans.is_empty() {
        return (
            Vec::new(),
            judge(route.allow.as_deref(), &caller(None, None)),
        );
    }
    for plan in &service.plans {
        let subscription = consumer.subscriptions().iter().find(|s| {
            s.service == service.name
                && s.plan == plan.name
                && key.is_none_or(|key| s.is_key_of(key))
                && s.status == SubscriptionStatus::Accepted
                && s.ends_at.is_none_or(|at| at > now)
        });
        let Some(subscription) = subscription else {
            continue;
        };
        let facts = caller(Some(&plan.name), Some(&subscription.id));
        let selected = judge(plan.selection_rule.as_deref(), &facts);
        if selected == Verdict::No {
            continue;
        }
        let taken_for_sure = selected == Verdict::Yes;
        let through = selected.and(judge(route.allow.as_deref(), &facts));
        if through != Verdict::No {
            plans.push(plan.name.to_string());
        }
        verdict = std::mem::replace(&mut verdict, Verdict::No).or(through);
        if taken_for_sure {
            break;
        }
    }
    (plans, verdict)
}

/// Who can call the route `route` of the service `service` at `now`; `None` when the
/// snapshot has no such route.
pub fn callers(
    snapshot: &Snapshot,
    directory: &Directory,
    service: &str,
    route: &str,
    now: SystemTime,
) -> Option<Callers> {
    let index = snapshot.services.iter().position(|s| &*s.name == service)?;
    let service = &snapshot.services[index];
    let route = service.routes.iter().find(|r| &*r.name == route)?;
    let as_consumer = match (route.auth, &service.anonymous) {
        (AuthMode::Optional, Some(anonymous)) => {
            Some((&anonymous.name, &snapshot.anonymous[index]))
        }
        _ => None,
    };
    let anonymous = match (route.auth, as_consumer) {
        (AuthMode::None, _) => Verdict::Yes,
        (AuthMode::Optional, None) => judge(route.allow.as_deref(), &StaticFacts::default()),
        (AuthMode::Optional, Some((_, Anonymous::Found(consumer)))) => {
            judge_caller(service, route, None, consumer, now).1
        }
        (AuthMode::Optional, Some(_)) | (AuthMode::Required, _) => Verdict::No,
    };
    let mut by_consumer: BTreeMap<String, ConsumerCaller> = BTreeMap::new();
    let mut keys_checked = 0;
    if route.auth != AuthMode::None {
        directory.each_valid_key(now, |key| {
            keys_checked += 1;
            let judged = judge_key(service, route, &key, now);
            if judged.verdict == Verdict::No {
                return;
            }
            let consumer = by_consumer
                .entry(key.consumer.name.to_string())
                .or_insert_with(|| ConsumerCaller {
                    name: key.consumer.name.to_string(),
                    client_type: key.consumer.profile.client_type.to_string(),
                    always: false,
                    keys: Vec::new(),
                });
            consumer.always |= judged.verdict == Verdict::Yes;
            consumer.keys.push(judged);
        });
    }
    let mut client_types: BTreeMap<String, bool> = BTreeMap::new();
    let mut consumers: Vec<ConsumerCaller> = by_consumer.into_values().collect();
    for consumer in &mut consumers {
        consumer.keys.sort_by(|a, b| a.id.cmp(&b.id));
        *client_types
            .entry(consumer.client_type.clone())
            .or_default() |= consumer.always;
    }
    Some(Callers {
        auth: route.auth,
        allow: route.allow.as_ref().map(|allow| allow.source().to_owned()),
        plans: service.plans.iter().map(|p| p.name.to_string()).collect(),
        anonymous,
        anonymous_consumer: as_consumer.map(|(name, _)| name.to_string()),
        consumers,
        client_types,
        keys_checked,
    })
}
