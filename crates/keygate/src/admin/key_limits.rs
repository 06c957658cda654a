//! The limits `/v1/verify` reports for a key: its own limits and credits, its consumer's,
//! those of the plans its subscriptions are accepted to, and those of a named service,
//! that count by the key, its consumer or its subscription — with what is left of each
//! now. Nothing is taken: a verification
//! is not a call.

use std::net::{IpAddr, Ipv4Addr};

use http::HeaderMap;
use keygate_store::SubscriptionStatus;
use serde::Serialize;

use crate::limits::{Limit, LimitBy};
use crate::proxy::limit_check::{self, Caller};
use crate::proxy::quota_check;
use crate::state::{KeyEntry, SharedState};

/// One limit of the key, as `/v1/verify` shows it.
#[derive(Debug, Serialize)]
pub struct KeyLimit {
    /// The limit's name.
    pub name: String,
    /// The service it belongs to; absent for the key's own limits and credits.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service: String,
    /// The plan it belongs to, for a plan's limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// Requests per window.
    pub limit: u64,
    /// The window in seconds.
    pub window: u64,
    /// Calls left now.
    pub remaining: u64,
    /// Seconds until the whole count is back (0 for credits without a refill).
    pub reset: u64,
    /// `rate`, `quota` or `credits`.
    pub kind: &'static str,
}

/// The limits of `key` (and of `service`, when named) with their remaining counts.
pub fn of(state: &SharedState, key: &KeyEntry, service: Option<&str>) -> Vec<KeyLimit> {
    let snapshot = state.load();
    let headers = HeaderMap::new();
    let mut found = Vec::new();
    let counts_the_key = |limit: &&Limit| {
        matches!(
            limit.by,
            LimitBy::Key | LimitBy::Consumer | LimitBy::Subscription
        )
    };
    let subscriptions = key.consumer.subscriptions();
    let accepted = subscriptions
        .iter()
        .filter(|s| s.status == SubscriptionStatus::Accepted && s.is_key_of(key));
    for subscription in accepted {
        let Some(owner) = snapshot
            .services
            .iter()
            .find(|s| s.name == subscription.service)
        else {
            continue;
        };
        let Some(plan) = owner.plans.iter().find(|p| p.name == subscription.plan) else {
            continue;
        };
        let caller = Caller {
            key: Some(key),
            consumer: Some(&key.consumer),
            subscription: Some(&subscription.id),
            client: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            headers: &headers,
        };
        for limit in plan.limits.iter().filter(counts_the_key) {
            if limit_check::applies(limit, &caller) {
                found.push(view(state, limit, &caller, &owner.name, Some(&plan.name)));
            }
        }
    }
    if let Some(named) = service {
        if let Some(owner) = snapshot.services.iter().find(|s| &*s.name == named) {
            let subscription = subscriptions
                .iter()
                .find(|s| s.service == owner.name && s.status == SubscriptionStatus::Accepted);
            let caller = Caller {
                key: Some(key),
                consumer: Some(&key.consumer),
                subscription: subscription.map(|s| &*s.id),
                client: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                headers: &headers,
            };
            for limit in owner.limits.iter().filter(counts_the_key) {
                if limit_check::applies(limit, &caller) {
                    found.push(view(state, limit, &caller, &owner.name, None));
                }
            }
        }
    }
    let consumer = limit_check::consumer_limits(Some(&key.consumer));
    if !consumer.is_empty() {
        let subscription = subscriptions
            .iter()
            .find(|s| s.status == SubscriptionStatus::Accepted && s.is_key_of(key));
        let caller = Caller {
            key: Some(key),
            consumer: Some(&key.consumer),
            subscription: subscription.map(|s| &*s.id),
            client: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            headers: &headers,
        };
        for limit in consumer {
            found.push(view(state, limit, &caller, "", None));
        }
    }
    if let Some(extras) = key.extras.as_deref() {
        let caller = Caller {
            key: Some(key),
            consumer: Some(&key.consumer),
            subscription: None,
            client: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            headers: &headers,
        };
        for limit in extras.limits.iter() {
            let mut shown = view(state, limit, &caller, "", None);
            shown.service.clear();
            found.push(shown);
        }
        if let Some(credits) = &extras.credits {
            let now = quota_check::now_ms();
            let report = quota_check::credits_left(&state.counters, credits, key, now);
            found.push(KeyLimit {
                name: report.name.to_string(),
                service: String::new(),
                plan: None,
                limit: report.count,
                window: report.window,
                remaining: report.remaining,
                reset: report.reset,
                kind: "credits",
            });
        }
    }
    found
}

fn view(
    state: &SharedState,
    limit: &Limit,
    caller: &Caller<'_>,
    service: &str,
    plan: Option<&str>,
) -> KeyLimit {
    let report = limit_check::peek(&state.limiter, &state.counters, limit, caller);
    KeyLimit {
        name: report.name.to_string(),
        service: service.to_owned(),
        plan: plan.map(str::to_owned),
        limit: report.count,
        window: report.window,
        remaining: report.remaining,
        reset: report.reset,
        kind: if limit.quota.is_some() {
            "quota"
        } else {
            "rate"
        },
    }
}
