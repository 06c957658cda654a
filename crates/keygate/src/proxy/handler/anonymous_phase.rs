//! Phase 3½: who a call goes on as when it has no key. On a service with an anonymous
//! consumer (`anonymous_consumer`, APISIX's `anonymous_consumer`, Kong's `anonymous`), a
//! call that an `auth: optional` route lets in without a key goes on as that consumer —
//! and so does one with an invalid key where the service says so
//! (`anonymous_on_invalid_key`). Every other call, and every call to a service without
//! one, passes through unchanged at the cost of one branch.

use super::{Caller, Identity, Matched};
use crate::access_record::AccessRecord;
use crate::config::AuthMode;
use crate::proxy::error::ProxyError;
use crate::state::anonymous::Anonymous;
use crate::state::Snapshot;

/// What [`super::authenticate`] found, or the service's anonymous consumer in its place.
/// The consumer comes from the snapshot (found there when it was built): a pointer is
/// copied, nothing is looked up. A consumer the directory did not hold then is refused
/// (`500`, as Kong answers a missing anonymous consumer): the gateway is misconfigured,
/// and the call must not pass as one without identity.
pub(super) fn anonymous(
    snapshot: &Snapshot,
    matched: &Matched<'_>,
    authenticated: Result<Caller, ProxyError>,
    record: &mut AccessRecord,
) -> Result<Caller, ProxyError> {
    let Some(anonymous) = &matched.service.anonymous else {
        return authenticated;
    };
    if matched.route.auth != AuthMode::Optional {
        return authenticated;
    }
    match authenticated {
        Ok(None) => {}
        Err(ProxyError::InvalidKey(_)) if anonymous.on_invalid_key => {
            // The call goes on as the anonymous consumer, not as the invalid key's.
            record.key = None;
        }
        other => return other,
    }
    match &snapshot.anonymous[matched.index.0] {
        Anonymous::Found(consumer) => {
            record.anonymous = Some(consumer.clone());
            Ok(Some(Identity::Anonymous(consumer.clone())))
        }
        Anonymous::Missing | Anonymous::None => Err(ProxyError::AnonymousConsumerMissing),
    }
}
