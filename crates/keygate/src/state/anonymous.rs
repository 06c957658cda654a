//! The anonymous consumer of each service (`anonymous_consumer`), found by name in the
//! directory once, when a snapshot is built: the request path reads it by the service's
//! index and copies nothing but a pointer. A change of one of these consumers (its
//! profile, limits or subscriptions, its creation or deletion) builds a new snapshot
//! (`sync`), so that calls see it as they would a key's consumer.

use std::collections::HashMap;
use std::sync::Arc;

use super::{ConsumerEntry, Directory};
use crate::config::Service;

/// What a service's calls without a key go on as.
#[derive(Debug, Clone)]
pub enum Anonymous {
    /// The service names no anonymous consumer.
    None,
    /// The consumer, as it was when the snapshot was built.
    Found(Arc<ConsumerEntry>),
    /// The service names a consumer the directory does not hold: its calls without a key
    /// are refused (`500`) until the consumer exists.
    Missing,
}

/// The anonymous consumer of each service, by service index. A consumer named by several
/// services is one entry. A missing one is logged here, once per snapshot, not per call.
pub fn resolve(services: &[Service], directory: &Directory) -> Vec<Anonymous> {
    let mut found: HashMap<&str, Option<Arc<ConsumerEntry>>> = HashMap::new();
    services
        .iter()
        .map(|service| {
            let Some(anonymous) = &service.anonymous else {
                return Anonymous::None;
            };
            let name = &*anonymous.name;
            let entry = found
                .entry(name)
                .or_insert_with(|| directory.consumer(name).map(Arc::new));
            match entry {
                Some(consumer) => Anonymous::Found(consumer.clone()),
                None => {
                    tracing::warn!(
                        service = %service.name,
                        consumer = %name,
                        "the service's anonymous consumer does not exist: its calls without a key are refused (500) until it is created"
                    );
                    Anonymous::Missing
                }
            }
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::state::test_records::consumer;

    fn services() -> Vec<Service> {
        let text = "services:\n\
            \x20 - {name: a, upstream: http://127.0.0.1:9, anonymous_consumer: guest, routes: [{name: r, paths: [/], auth: optional}]}\n\
            \x20 - {name: b, upstream: http://127.0.0.1:9, anonymous_consumer: guest, routes: [{name: r, paths: [/], auth: optional}]}\n\
            \x20 - {name: c, upstream: http://127.0.0.1:9, routes: [{name: r, paths: [/]}]}\n\
            \x20 - {name: d, upstream: http://127.0.0.1:9, anonymous_consumer: visitor, routes: [{name: r, paths: [/], auth: optional}]}\n\
            consumers: [{name: guest}, {name: visitor}]\n";
        Config::parse("t.yaml", text).unwrap().services
    }

    #[test]
    fn each_service_gets_its_consumer_once_found() {
        let directory = Directory::default();
        directory.put_consumer(&consumer("guest", "G"));
        let resolved = resolve(&services(), &directory);
        let [Anonymous::Found(a), Anonymous::Found(b), Anonymous::None, Anonymous::Missing] =
            &resolved[..]
        else {
            panic!("{resolved:?}");
        };
        assert!(Arc::ptr_eq(a, b), "one entry for one consumer");
        assert_eq!(&*a.name, "guest");
        assert_eq!(&*a.profile.client_type, "G");
    }
}
