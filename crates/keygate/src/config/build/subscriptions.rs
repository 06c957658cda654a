//! Checks the `subscriptions` section: each names a consumer of this file and — unless it
//! is closed or rejected — a service and a plan of this file, only a rejected one has a
//! `reason`, and every key that says it belongs to a subscription names one of its
//! consumer's.

use std::collections::HashMap;

use keygate_store::{KeyMode, SubscriptionStatus};

use super::super::file::{At, FileConsumer, FileSubscription};
use super::super::{Service, SubscriptionConfig};
use super::Checker;

impl Checker<'_> {
    pub(super) fn subscriptions(
        &mut self,
        subscriptions: &[At<FileSubscription>],
        consumers: &[At<FileConsumer>],
        services: &[Service],
    ) -> Vec<SubscriptionConfig> {
        let mut owners: HashMap<&str, (&str, KeyMode)> = HashMap::new();
        let mut built = Vec::with_capacity(subscriptions.len());
        for subscription in subscriptions {
            let entry = &subscription.value;
            self.check_name(&entry.id, "subscription");
            if !consumers
                .iter()
                .any(|c| c.value.name.value == entry.consumer.value)
            {
                self.report(
                    &entry.consumer.referenced,
                    format!(
                        "consumer `{}` is not in this file's `consumers`",
                        entry.consumer.value
                    ),
                );
            }
            let status = match &entry.status {
                None => SubscriptionStatus::Accepted,
                Some(text) => SubscriptionStatus::parse(&text.value).unwrap_or_else(|| {
                    self.report(
                        &text.referenced,
                        format!(
                            "expected pending, accepted, paused, rejected or closed, found `{}`",
                            text.value
                        ),
                    );
                    SubscriptionStatus::Accepted
                }),
            };
            // A closed or rejected subscription may outlive its plan and its service (only
            // live subscriptions hold them), as it does on the gateway that exported it.
            let live = !matches!(
                status,
                SubscriptionStatus::Closed | SubscriptionStatus::Rejected
            );
            match services.iter().find(|s| *s.name == *entry.service.value) {
                _ if !live => {}
                None => self.report(
                    &entry.service.referenced,
                    format!(
                        "service `{}` is not in this file's `services`",
                        entry.service.value
                    ),
                ),
                Some(service) => {
                    if !service.plans.iter().any(|p| *p.name == *entry.plan.value) {
                        self.report(
                            &entry.plan.referenced,
                            format!(
                                "service `{}` has no plan `{}`",
                                entry.service.value, entry.plan.value
                            ),
                        );
                    }
                }
            }
            let key_mode = match &entry.key_mode {
                None => KeyMode::Own,
                Some(text) => KeyMode::parse(&text.value).unwrap_or_else(|| {
                    self.report(
                        &text.referenced,
                        format!("expected own or shared, found `{}`", text.value),
                    );
                    KeyMode::Own
                }),
            };
            let known = owners.insert(
                entry.id.value.as_str(),
                (entry.consumer.value.as_str(), key_mode),
            );
            if known.is_some() {
                self.report(
                    &entry.id.referenced,
                    format!("subscription `{}` is defined twice", entry.id.value),
                );
            }
            let reason = entry.reason.as_ref().and_then(|reason| {
                let problem = match crate::subscription_reason::check(&reason.value) {
                    Err(problem) => problem,
                    Ok(()) if status == SubscriptionStatus::Rejected => {
                        return Some(reason.value.clone())
                    }
                    Ok(()) => format!(
                        "only a rejected subscription has a `reason` (why it was rejected), \
                         and this one is {}",
                        status.as_str()
                    ),
                };
                self.report(&reason.referenced, problem);
                None
            });
            let mut instant =
                |text: &Option<At<String>>| text.as_ref().and_then(|text| self.instant(text));
            built.push(SubscriptionConfig {
                id: entry.id.value.clone(),
                consumer: entry.consumer.value.clone(),
                service: entry.service.value.clone(),
                plan: entry.plan.value.clone(),
                status,
                key_mode,
                ends_at: instant(&entry.ends_at),
                created_at: instant(&entry.created_at),
                updated_at: instant(&entry.updated_at),
                reason,
            });
        }
        self.subscription_keys(consumers, &owners);
        built
    }

    /// A key with `subscription: ID` is the own key of a subscription of its consumer.
    fn subscription_keys(
        &mut self,
        consumers: &[At<FileConsumer>],
        owners: &HashMap<&str, (&str, KeyMode)>,
    ) {
        for consumer in consumers {
            let name = consumer.value.name.value.as_str();
            for key in &consumer.value.keys {
                let Some(id) = &key.value.subscription else {
                    continue;
                };
                match owners.get(id.value.as_str()) {
                    None => self.report(
                        &id.referenced,
                        format!("subscription `{}` is not in this file's `subscriptions`", id.value),
                    ),
                    Some((owner, _)) if *owner != name => self.report(
                        &id.referenced,
                        format!(
                            "subscription `{}` belongs to consumer `{owner}`, not `{name}`",
                            id.value
                        ),
                    ),
                    Some((_, KeyMode::Shared)) => self.report(
                        &id.referenced,
                        format!(
                            "subscription `{}` uses the shared key (`key_mode: shared`): mark the consumer's shared key with `shared: true` instead",
                            id.value
                        ),
                    ),
                    Some((_, KeyMode::Own)) => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::{Duration, SystemTime};

    use keygate_store::{KeyMode, SubscriptionStatus};

    use crate::config::Config;

    const SHOP: &str = "services:\n  - name: shop\n    upstream: http://127.0.0.1:9001\n    plans: [{name: gold}]\n";

    fn messages(text: &str) -> Vec<(usize, usize, String)> {
        match Config::parse("t.yaml", text) {
            Ok(_) => Vec::new(),
            Err(error) => error
                .problems()
                .iter()
                .map(|p| (p.line, p.column, p.message.clone()))
                .collect(),
        }
    }

    #[test]
    fn subscriptions_and_their_keys_are_read() {
        let text = format!(
            "{SHOP}consumers:\n  - name: a\n    keys:\n      - {{key: own-key-0123456, subscription: s1, revoked_at: \"2030-01-01T00:00:00Z\"}}\n      - {{key: shared-key-0123456, shared: true}}\n\
             subscriptions:\n  - {{id: s1, consumer: a, service: shop, plan: gold, created_at: \"1970-01-01T00:00:01Z\"}}\n  - {{id: s2, consumer: a, service: shop, plan: gold, key_mode: shared, status: paused}}\n"
        );
        let config = Config::parse("t.yaml", &text).unwrap();
        let [own, shared] = &config.consumers[0].keys[..] else {
            panic!("two keys")
        };
        assert_eq!(own.subscription.as_deref(), Some("s1"));
        assert!(own.revoked_at.is_some() && !own.shared);
        assert!(shared.shared && shared.subscription.is_none());
        let [first, second] = &config.subscriptions[..] else {
            panic!("two subscriptions")
        };
        assert_eq!(
            (first.status, first.key_mode, first.updated_at),
            (SubscriptionStatus::Accepted, KeyMode::Own, None)
        );
        assert_eq!(
            first.created_at,
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1))
        );
        assert_eq!(
            (second.status, second.key_mode),
            (SubscriptionStatus::Paused, KeyMode::Shared)
        );
    }

    #[test]
    fn references_must_be_in_the_file() {
        let text = format!(
            "{SHOP}consumers:\n  - name: a\n    keys: [{{key: own-key-0123456, subscription: s9}}]\n\
             subscriptions:\n  - {{id: s1, consumer: b, service: shop, plan: silver, status: on}}\n  - {{id: s2, consumer: a, service: none, plan: gold, key_mode: both}}\n"
        );
        assert_eq!(
            messages(&text),
            [
                (
                    7,
                    49,
                    "subscription `s9` is not in this file's `subscriptions`".into()
                ),
                (
                    9,
                    24,
                    "consumer `b` is not in this file's `consumers`".into()
                ),
                (9, 48, "service `shop` has no plan `silver`".into()),
                (
                    9,
                    64,
                    "expected pending, accepted, paused, rejected or closed, found `on`".into()
                ),
                (
                    10,
                    36,
                    "service `none` is not in this file's `services`".into()
                ),
                (10, 64, "expected own or shared, found `both`".into()),
            ]
        );
    }

    #[test]
    fn a_reason_is_a_rejected_subscriptions_and_follows_the_rule() {
        let text = format!(
            "{SHOP}consumers: [{{name: a}}]\nsubscriptions:\n  - {{id: s1, consumer: a, service: shop, plan: gold, status: rejected, reason: \"Partners only.\\nSee the terms.\"}}\n"
        );
        let config = Config::parse("t.yaml", &text).unwrap();
        assert_eq!(
            config.subscriptions[0].reason.as_deref(),
            Some("Partners only.\nSee the terms.")
        );
        let long = "x".repeat(501);
        let text = format!(
            "{SHOP}consumers: [{{name: a}}]\nsubscriptions:\n  - {{id: s1, consumer: a, service: shop, plan: gold, reason: why}}\n  - {{id: s2, consumer: a, service: shop, plan: gold, status: rejected, reason: {long}}}\n"
        );
        assert_eq!(
            messages(&text),
            [
                (
                    7,
                    62,
                    "only a rejected subscription has a `reason` (why it was rejected), and this one is accepted".into()
                ),
                (
                    8,
                    80,
                    "a reason has 1 to 500 characters, this one has 501".into()
                ),
            ]
        );
    }

    #[test]
    fn a_key_belongs_to_an_own_key_subscription_of_its_consumer() {
        let text = format!(
            "{SHOP}consumers:\n  - name: a\n    keys: [{{key: own-key-0123456, subscription: s1, shared: true}}]\n  - name: b\n    keys: [{{key: b-key-012345678, subscription: s1}}]\n\
             subscriptions:\n  - {{id: s1, consumer: a, service: shop, plan: gold, key_mode: shared}}\n"
        );
        let found: Vec<String> = messages(&text).into_iter().map(|p| p.2).collect();
        let gone = format!(
            "{SHOP}consumers: [{{name: a}}]\nsubscriptions:\n  - {{id: s1, consumer: a, service: old, plan: x, status: closed}}\n  - {{id: s2, consumer: a, service: shop, plan: x, status: rejected}}\n"
        );
        assert_eq!(
            messages(&gone),
            [],
            "final subscriptions may outlive their plans"
        );
        assert_eq!(
            found,
            [
                "a key is a subscription's own key (`subscription`) or the shared key (`shared: true`), not both",
                "subscription `s1` uses the shared key (`key_mode: shared`): mark the consumer's shared key with `shared: true` instead",
                "subscription `s1` belongs to consumer `a`, not `b`",
            ]
        );
    }
}
