//! What [`super::handler::Gateway::check`] decides about a request, and what a request it
//! let through carries on: who called, which key sources go, the limit closest to
//! refusing. Both ways a request goes on read it here — forwarded by the proxy
//! (`handler::forward`), or answered to the front proxy that asked (`super::authz`) — so
//! that the two cannot differ on what reaches the upstream.

use std::sync::Arc;
use std::time::Instant;

use http::Response;

use super::limit_check::LimitReport;
use super::request_id::RequestIdField;
use super::ProxyBody;
use crate::access_record::AccessRecord;
use crate::config::{KeySource, Route};
use crate::state::{ConsumerEntry, KeyEntry, Snapshot};

/// What [`super::handler::Gateway::check`] found: a decision, or (exact mode only) rate
/// limits that [`super::handler::Gateway::settle`] must take in Redis first, or (routes
/// with `body` key sources only) a body that [`super::handler::Gateway::check_body`]
/// must read before the key is looked for.
// The decision stays inline (an answer is the common outcome, and boxing it would
// allocate for each); the rare exact-mode wait and body read are boxed.
#[allow(clippy::large_enum_variant)]
pub enum Checking {
    /// Decided without waiting.
    Decided(Checked),
    /// Let through so far; its rate limits wait for Redis.
    Limiting(Box<Admission>),
    /// Routed; the key may be in the body, which is to be read first.
    ReadingBody(Box<super::handler::BodyWait>),
}

/// What [`super::handler::Gateway::check`] decided about a request.
// The answer stays inline: every refusal and every front proxy's check ends in one, and
// boxing it would allocate for each.
#[allow(clippy::large_enum_variant)]
pub enum Checked {
    /// Answered: the response to send, and the request-id field it carries.
    Answered(Response<ProxyBody>, Option<RequestIdField>),
    /// Let through: to be forwarded with [`super::handler::Gateway::forward`]. Boxed,
    /// so that every decision moved is a third of the size (a few hundred bytes fewer
    /// to copy at each move, refusals and front proxies' checks included); only a
    /// request the proxy forwards pays for the box, which its forwarding future then
    /// holds in place of the admission itself.
    Admitted(Box<Admission>),
}

/// A request that passed every check, and what forwarding it needs.
pub struct Admission {
    /// The snapshot the request was checked against, kept to its end.
    pub(super) snapshot: Arc<Snapshot>,
    /// When the request was taken up.
    pub(super) started: Instant,
    /// The access record so far.
    pub(super) record: AccessRecord,
    /// The matched service and route, by index in `snapshot`.
    pub(super) route: (usize, usize),
    /// The caller and whether its key goes on.
    pub(super) admitted: Admitted,
}

/// Who is calling; `None` = anonymous, without identity (`auth: none`, or an
/// `auth: optional` route of a service without an anonymous consumer).
pub(super) type Caller = Option<Identity>;

/// What the checks let through to the upstream.
pub(super) struct Admitted {
    /// Who is calling.
    pub(super) caller: Caller,
    /// Whether the key goes on to the upstream (the route's or the selected plan's
    /// `forward_key`); otherwise it is removed.
    pub(super) forward_key: bool,
    /// The limit closest to refusing, for the answer's rate-limit headers; `None` when
    /// no limit applies.
    pub(super) limits: Option<LimitReport>,
    /// In exact mode, the rate limits still to be taken in Redis
    /// ([`super::handler::Gateway::settle`]).
    pub(super) pending: Option<Box<super::handler::Pending>>,
}

/// A caller with an identity: a valid key and its consumer, or the service's anonymous
/// consumer, which has no key. Either way a pointer: nothing is copied per request.
#[derive(Debug, Clone)]
pub enum Identity {
    /// A valid key, and its consumer as it was when the key was checked: one version for
    /// the whole request.
    Key(Arc<KeyEntry>),
    /// The service's anonymous consumer (`anonymous_consumer`), as the request's snapshot
    /// holds it: a call without a key (or, where the service says so, with an invalid
    /// one) on an `auth: optional` route.
    Anonymous(Arc<ConsumerEntry>),
}

impl Identity {
    /// The key; `None` for the anonymous consumer.
    pub fn key(&self) -> Option<&KeyEntry> {
        match self {
            Identity::Key(key) => Some(key),
            Identity::Anonymous(_) => None,
        }
    }

    /// The consumer: the key's, or the anonymous one.
    pub fn consumer(&self) -> &ConsumerEntry {
        match self {
            Identity::Key(key) => &key.consumer,
            Identity::Anonymous(consumer) => consumer,
        }
    }
}

impl Admitted {
    /// The key sources of `route` to empty before the request goes upstream: every one
    /// (found in or not, anonymous call or `auth: none`: each is a credential), none when
    /// the key is forwarded.
    pub(super) fn removed_key_sources<'r>(&self, route: &'r Route) -> &'r [KeySource] {
        match self.forward_key {
            true => &[],
            false => &route.key_sources,
        }
    }
}

impl Admission {
    /// The request-id field the response carries, unless ids are off.
    pub fn request_id_field(&self) -> Option<RequestIdField> {
        request_id_field(&self.snapshot, &self.record)
    }

    /// The snapshot the request was checked against.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// The matched route.
    pub fn route(&self) -> &Route {
        &self.snapshot.services[self.route.0].routes[self.route.1]
    }

    /// The snapshot the request was checked against, shared.
    pub fn snapshot_shared(&self) -> Arc<Snapshot> {
        self.snapshot.clone()
    }

    /// The caller; `None` for an anonymous call without identity.
    pub fn caller(&self) -> Option<&Identity> {
        self.admitted.caller.as_ref()
    }

    /// The key sources to empty before the request goes upstream
    /// ([`Admitted::removed_key_sources`]).
    pub fn removed_key_sources(&self) -> &[KeySource] {
        self.admitted.removed_key_sources(self.route())
    }

    /// The limit closest to refusing, when one applies.
    pub fn limits(&self) -> Option<&LimitReport> {
        self.admitted.limits.as_ref()
    }
}

/// The request-id field for the request `record` is about.
pub(super) fn request_id_field(
    snapshot: &Snapshot,
    record: &AccessRecord,
) -> Option<RequestIdField> {
    let name = snapshot.config.proxy.request_id_header.as_ref()?;
    Some(RequestIdField {
        name: name.clone(),
        id: record.request_id.clone()?,
    })
}
