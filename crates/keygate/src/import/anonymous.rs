//! The peers' anonymous consumer (Kong's key-auth `anonymous`, APISIX's key-auth
//! `anonymous_consumer`), a setting of each route's plugin, as keygate's: the service's
//! `anonymous_consumer` with its route `auth: optional`. The plugins name the consumer by
//! the peer's reference (a username, or Kong's id), which is found among the imported
//! consumers once they are all read; both peers also let a call with an invalid key go on
//! as it, so the service gets `anonymous_on_invalid_key: true` — reported, as keygate's
//! own default is `401`.

use super::document::{Document, PeerAnonymous};
use super::Report;

/// What differs between a peer's anonymous consumer and keygate's, for the report.
pub(super) struct PeerWords {
    /// What the peer answers when the consumer does not exist.
    pub missing: &'static str,
    /// What keygate sends that the peer does not, or the other way round.
    pub differs: &'static str,
}

/// Sets each service's anonymous consumer from its routes' (taken from them), the name
/// `find` gives for the peer's reference. A keygate service has one: a route naming
/// another consumer than the service's first is left out, as is one naming a consumer
/// the file lacks (calls without a key are then refused, `401`).
pub(super) fn resolve(
    document: &mut Document,
    find: impl Fn(&str) -> Option<String>,
    words: &PeerWords,
    report: &mut Report,
) {
    for service in &mut document.services {
        for route in &mut service.routes {
            let Some(PeerAnonymous { reference, item }) = route.anonymous.take() else {
                continue;
            };
            let line = format!("{item}: key-auth anonymous consumer {reference}");
            let Some(name) = find(&reference) else {
                report.left_out(
                    line,
                    format!("the consumer is not in the file: calls without a key are refused (401; {})", words.missing),
                );
                continue;
            };
            match &service.anonymous_consumer {
                Some(kept) if *kept != name => {
                    report.left_out(
                        line,
                        format!("service {} already goes on as consumer {kept} for calls without a key, and has one anonymous consumer: this route's calls without a key are refused (401)", service.name),
                    );
                    continue;
                }
                _ => {}
            }
            service.anonymous_consumer = Some(name.clone());
            service.anonymous_on_invalid_key = Some(true);
            route.auth = Some("optional");
            report.mapped(
                line,
                format!(
                    "service {}: `anonymous_consumer: {name}`, route {} `auth: optional`",
                    service.name, route.name
                ),
            );
            report.changed(
                format!("{item}: key-auth anonymous, an invalid key"),
                format!("`anonymous_on_invalid_key: true`: an invalid key goes on as {name}, as in the peer (keygate's default answers it 401); two different keys in one source are 401 in keygate; {}", words.differs),
            );
        }
    }
}
