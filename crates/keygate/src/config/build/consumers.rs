//! Checks the `consumers` section: names, client types, groups, and every key.

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use super::super::is_header_safe_word;

use super::super::file::{At, FileConsumer, FileKey};
use super::super::{Consumer, KeyConfig};
use super::Checker;
use crate::key::{display_prefix, plausible, KeyHash, GENERATED_PREFIX};
use crate::limits::key_doc::{CreditsDoc, KeyLimits, LimitDoc, RefillDoc};

impl Checker<'_> {
    pub(super) fn consumers(&mut self, consumers: &[At<FileConsumer>]) -> Vec<Consumer> {
        let mut names = HashSet::new();
        let mut ids: HashMap<String, ()> = HashMap::new();
        let mut hashes = HashSet::new();
        let mut built = Vec::with_capacity(consumers.len());
        for consumer in consumers {
            let consumer = &consumer.value;
            self.check_name(&consumer.name, "consumer");
            if !names.insert(consumer.name.value.as_str()) {
                self.report(
                    &consumer.name.referenced,
                    format!("consumer `{}` is defined twice", consumer.name.value),
                );
            }
            let client_type = match &consumer.client_type {
                None => consumer.name.value.clone(),
                Some(client_type) => {
                    if !is_header_safe_word(&client_type.value) {
                        self.report(
                            &client_type.referenced,
                            format!(
                                "a client type is visible characters without spaces or commas, found `{}`",
                                client_type.value
                            ),
                        );
                    }
                    client_type.value.clone()
                }
            };
            let groups = consumer
                .groups
                .iter()
                .map(|group| {
                    if !is_header_safe_word(&group.value) {
                        self.report(
                            &group.referenced,
                            format!(
                                "a group is visible characters without spaces or commas, found `{}`",
                                group.value
                            ),
                        );
                    }
                    group.value.clone()
                })
                .collect();
            let permissions = consumer
                .permissions
                .iter()
                .map(|permission| {
                    if permission.value.is_empty() {
                        self.report(&permission.referenced, "a permission may not be empty");
                    }
                    permission.value.clone()
                })
                .collect();
            let mut keys = Vec::with_capacity(consumer.keys.len());
            for key in &consumer.keys {
                let Some(built_key) = self.key(key) else {
                    continue;
                };
                if !hashes.insert(built_key.hash) {
                    self.report(&key.referenced, "this key is already given to a consumer");
                } else if ids.insert(built_key.id.clone(), ()).is_some() {
                    let at = key
                        .value
                        .id
                        .as_ref()
                        .map_or(key.referenced, |id| id.referenced);
                    self.report(&at, format!("key id `{}` is used twice", built_key.id));
                }
                keys.push(built_key);
            }
            let limits = match crate::limits::consumer_doc::document(&consumer.limits) {
                Ok(limits) => limits,
                Err(message) => {
                    self.report(
                        &consumer.name.referenced,
                        format!("the consumer's limits: {message}"),
                    );
                    None
                }
            };
            built.push(Consumer {
                limits,
                name: consumer.name.value.clone(),
                client_type,
                groups,
                permissions,
                description: consumer.description.clone(),
                metadata: consumer.metadata.clone(),
                keys,
            });
        }
        built
    }

    fn key(&mut self, key: &At<FileKey>) -> Option<KeyConfig> {
        let FileKey {
            key: plaintext,
            key_hash,
            id,
            active,
            description,
            expires_at,
            labels,
            revoked_at,
            subscription,
            shared,
            limits,
            credits,
            refill,
        } = &key.value;
        let plaintext = match plaintext {
            Some(plaintext) => Some(self.secret(plaintext)?),
            None => None,
        };
        let key_hash = match key_hash {
            Some(key_hash) => Some(self.secret(key_hash)?),
            None => None,
        };
        let (hash, prefix) = match (&plaintext, &key_hash) {
            (Some(plaintext), None) => {
                let valid = !plaintext.value.is_empty()
                    && plaintext.value.chars().all(|c| c.is_ascii_graphic());
                if !valid {
                    self.report(
                        &plaintext.referenced,
                        "a key is visible ASCII characters without spaces",
                    );
                    return None;
                }
                // The gateway refuses a `kg_` key with a wrong checksum before any lookup:
                // such a key in the file could never be let through.
                if !plausible(plaintext.value.as_bytes()) {
                    self.report(
                        &plaintext.referenced,
                        format!(
                            "a key starting with `{GENERATED_PREFIX}` must be a key keygate generated (its checksum is wrong): the gateway would refuse it"
                        ),
                    );
                    return None;
                }
                (
                    KeyHash::of(plaintext.value.as_bytes()),
                    Some(display_prefix(&plaintext.value)),
                )
            }
            (None, Some(hash)) => match KeyHash::parse(&hash.value) {
                Ok(parsed) => (parsed, None),
                Err(message) => {
                    self.report(&hash.referenced, message);
                    return None;
                }
            },
            _ => {
                self.report(
                    &key.referenced,
                    "a key has exactly one of `key` or `key_hash`",
                );
                return None;
            }
        };
        let id = match id {
            None => hash.derived_id(),
            Some(id) => {
                self.check_name(id, "key id");
                id.value.clone()
            }
        };
        let expires_at = expires_at.as_ref().and_then(|text| self.instant(text));
        let revoked_at = revoked_at.as_ref().and_then(|text| self.instant(text));
        let shared = shared.unwrap_or(false);
        if let (Some(subscription), true) = (subscription, shared) {
            self.report(
                &subscription.referenced,
                "a key is a subscription's own key (`subscription`) or the shared key (`shared: true`), not both",
            );
        }
        if let Some(subscription) = subscription {
            self.check_name(subscription, "subscription id");
        }
        let limits = self.key_limits(key, &id, limits, *credits, *refill);
        Some(KeyConfig {
            limits,
            id,
            hash,
            prefix,
            active: active.unwrap_or(true),
            description: description.clone(),
            expires_at,
            labels: labels.clone(),
            revoked_at,
            subscription: subscription.as_ref().map(|s| s.value.clone()),
            shared,
        })
    }

    /// A file key's limits and credits as the store keeps them. Its credits count from
    /// `set_at` 0: the file is applied at every start, and the count must go on.
    fn key_limits(
        &mut self,
        key: &At<FileKey>,
        id: &str,
        limits: &[LimitDoc],
        credits: Option<u64>,
        refill: Option<RefillDoc>,
    ) -> Option<String> {
        if refill.is_some() && credits.is_none() {
            self.report(&key.referenced, "a key's `refill` needs `credits`");
            return None;
        }
        let doc = KeyLimits {
            limits: limits.to_vec(),
            credits: credits.map(|amount| CreditsDoc {
                amount,
                set_at: 0,
                refill,
            }),
        };
        if doc == KeyLimits::default() {
            return None;
        }
        let text = serde_json::to_string(&doc).ok()?;
        match crate::limits::key_doc::parse(id, &text) {
            Ok(_) => Some(text),
            Err(message) => {
                self.report(&key.referenced, format!("the key's limits: {message}"));
                None
            }
        }
    }

    /// An RFC 3339 instant, or a problem at its position.
    pub(super) fn instant(&mut self, text: &At<String>) -> Option<SystemTime> {
        let parsed = time::OffsetDateTime::parse(
            &text.value,
            &time::format_description::well_known::Rfc3339,
        );
        match parsed {
            Ok(instant) => Some(SystemTime::from(instant)),
            Err(_) => {
                self.report(
                    &text.referenced,
                    format!(
                        "expected an RFC 3339 time such as 2030-01-01T00:00:00Z, found `{}`",
                        text.value
                    ),
                );
                None
            }
        }
    }
}
