//! Rewriting a request for the upstream: hop-by-hop headers dropped, client-sent identity
//! headers (`super::identity_fields`) left out and the real ones added, `X-Forwarded-*` added, and the target's `Host`. The
//! replacing is done as the upstream request head is written ([`ForwardedFields`]), not
//! in the request's header map.

use std::fmt::Write as _;
use std::net::IpAddr;

use http::header::{
    HeaderName, CONNECTION, CONTENT_LENGTH, HOST, PROXY_AUTHENTICATE, TE, TRAILER,
    TRANSFER_ENCODING, UPGRADE,
};
use http::{HeaderMap, HeaderValue};

use super::admission::Identity;
use super::identity_fields::is_identity_field;
use super::request_id::RequestId;
use super::trace_context::{TraceParent, TRACEPARENT};
use super::upstream::request_head::append_field;
use super::upstream::FieldRewrite;
use crate::config::field_patterns::same_dashed;
use crate::config::{FieldPatterns, IdentityHeaders};
use header_safe::header_safe;

mod header_safe;

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
/// Set to `true` upstream for a call that goes on as the service's anonymous consumer,
/// as Kong sets it; a client's field of this name never passes (`X-Anonymous-*`).
pub static X_ANONYMOUS_CONSUMER: HeaderName = HeaderName::from_static("x-anonymous-consumer");

/// Removes the hop-by-hop headers of RFC 9110 §7.6.1 and every header that `Connection`
/// names. Used on requests and responses alike; allocates only for a message with several
/// `Connection` fields.
pub fn drop_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages have none: one pass over the names instead of eight lookups.
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
    match headers.get_all(CONNECTION).iter().count() {
        0 => {}
        1 => {
            if let Some(value) = headers.remove(CONNECTION) {
                remove_named(headers, value.as_bytes());
            }
        }
        _ => {
            // Cloning a header value shares its bytes.
            let values: Vec<HeaderValue> = headers.get_all(CONNECTION).iter().cloned().collect();
            headers.remove(CONNECTION);
            for value in &values {
                remove_named(headers, value.as_bytes());
            }
        }
    }
    for name in [&KEEP_ALIVE, &PROXY_CONNECTION] {
        headers.remove(name);
    }
    for name in [TE, TRAILER, TRANSFER_ENCODING, UPGRADE, PROXY_AUTHENTICATE] {
        headers.remove(name);
    }
}

/// Removes the fields a `Connection` value names (looked up by name, nothing allocated).
/// `Host` is never removed: a request needs it end to end, whatever `Connection` says.
pub(crate) fn remove_named(headers: &mut HeaderMap, connection: &[u8]) {
    for token in connection
        .split(|&byte| byte == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|token| !token.is_empty() && !token.eq_ignore_ascii_case(b"host"))
    {
        if let Ok(token) = std::str::from_utf8(token) {
            headers.remove(token);
        }
    }
}

/// The fields RFC 9110 §7.6.1 names hop-by-hop, and their old spellings.
pub(crate) fn is_hop_by_hop(name: &HeaderName) -> bool {
    name == CONNECTION
        || name == TE
        || name == TRAILER
        || name == TRANSFER_ENCODING
        || name == UPGRADE
        || name == PROXY_AUTHENTICATE
        || name == KEEP_ALIVE
        || name == PROXY_CONNECTION
}

/// The fields forwarding writes on a request in place of the client's: the caller's
/// identity (consumer name, key id, groups, client type; for the anonymous consumer no
/// key id and `X-Anonymous-Consumer: true`; none for anonymous calls without identity, and
/// whatever the client sent under those names, in the identity families of
/// [`super::identity_fields`] or under a name of `proxy.strip_request_headers` is left
/// out), `X-Forwarded-For` with the
/// client's address appended, `X-Forwarded-Proto` and `X-Forwarded-Host` as this gateway
/// saw them (client-sent values of those two are not trusted), and the target's `Host`
/// unless the service preserves the client's. A client field whose name reads as one of
/// these, or as a framing field, once `_` is taken for `-` (`X_Consumer_Username`, as a
/// CGI-style upstream reads it) is left out as well. Everything is borrowed: nothing is
/// allocated or inserted into the request's header map.
pub struct ForwardedFields<'a> {
    names: &'a IdentityHeaders,
    /// `proxy.strip_request_headers`.
    strip: &'a FieldPatterns,
    caller: Option<&'a Identity>,
    client: &'a ClientAddress,
    /// The host the client asked for, its `Host` (which holds an absolute target's
    /// authority, `downstream::request_head`).
    original_host: Option<&'a HeaderValue>,
    /// The `Host` sent instead of the client's; `None` keeps the client's.
    host: Option<&'a HeaderValue>,
    /// The request-id field's name and the request's id, sent in place of what the
    /// client sent under that name.
    request_id: Option<(&'a HeaderName, &'a RequestId)>,
    /// A generated `traceparent`, sent in place of the client's.
    traceparent: Option<&'a TraceParent>,
}

impl<'a> ForwardedFields<'a> {
    /// The fields for a request with `headers` from `client`, sent to a target whose
    /// `Host` is `target_host`; the client's fields that `strip` names are left out. The
    /// request's `Host` is its one authority: the head parser moved an absolute target's
    /// authority into it.
    pub fn new(
        headers: &'a HeaderMap,
        (names, strip): (&'a IdentityHeaders, &'a FieldPatterns),
        caller: Option<&'a Identity>,
        client: &'a ClientAddress,
        target_host: &'a HeaderValue,
        preserve_host: bool,
    ) -> ForwardedFields<'a> {
        let original_host = headers.get(HOST);
        // Without a `Host` (HTTP/1.0) the target's is sent even when preserving.
        let host = match (preserve_host, original_host) {
            (true, Some(_)) => None,
            _ => Some(target_host),
        };
        ForwardedFields {
            names,
            strip,
            caller,
            client,
            original_host,
            host,
            request_id: None,
            traceparent: None,
        }
    }

    /// Sends `id` upstream as field `name` (both set unless request ids are off), in
    /// place of any client field of that name.
    pub fn carry_request_id(&mut self, name: &'a Option<HeaderName>, id: &'a Option<RequestId>) {
        self.request_id = name.as_ref().zip(id.as_ref());
    }

    /// Sends `traceparent`, when set, in place of the client's.
    pub fn carry_traceparent(&mut self, traceparent: Option<&'a TraceParent>) {
        self.traceparent = traceparent;
    }
}

impl FieldRewrite for ForwardedFields<'_> {
    fn host(&self) -> Option<&HeaderValue> {
        self.host
    }

    fn replaces(&self, name: &HeaderName) -> bool {
        *name == X_FORWARDED_FOR
            || *name == X_FORWARDED_PROTO
            || *name == X_FORWARDED_HOST
            || *name == self.names.consumer
            || *name == self.names.credential
            || *name == self.names.groups
            || *name == self.names.client_type
            || self.names.consumer_id.as_ref() == Some(name)
            || self.names.custom_id.as_ref() == Some(name)
            || self.request_id.is_some_and(|(own, _)| name == own)
            || (self.traceparent.is_some() && *name == TRACEPARENT)
            || is_identity_field(name.as_str().as_bytes(), self.strip)
            // Only with `proxy.underscores_in_headers` does a name with `_` get this far.
            || (name.as_str().as_bytes().contains(&b'_') && self.reads_as_own(name))
    }

    fn append_fields(&self, fields: &HeaderMap, out: &mut Vec<u8>) {
        if let Some(caller) = self.caller {
            identity_fields(self.names, caller, |name, value| {
                append_field(out, name.as_str(), value);
            });
        }
        // Several `X-Forwarded-For` lines are folded into one, the client's address last.
        out.extend_from_slice(X_FORWARDED_FOR.as_str().as_bytes());
        out.extend_from_slice(b": ");
        for previous in fields.get_all(&X_FORWARDED_FOR) {
            let previous = previous.as_bytes().trim_ascii();
            if !previous.is_empty() {
                out.extend_from_slice(previous);
                out.extend_from_slice(b", ");
            }
        }
        out.extend_from_slice(self.client.header.as_bytes());
        out.extend_from_slice(b"\r\n");
        append_field(out, X_FORWARDED_PROTO.as_str(), self.client.scheme());
        if let Some(host) = &self.original_host {
            append_field(out, X_FORWARDED_HOST.as_str(), host.as_bytes());
        }
        if let Some((name, id)) = self.request_id {
            append_field(out, name.as_str(), id.as_bytes());
        }
        if let Some(traceparent) = self.traceparent {
            append_field(out, TRACEPARENT.as_str(), traceparent.as_bytes());
        }
    }
}

/// The identity fields a call by `caller` carries upstream, under `names`, each handed
/// to `field` in the order they are sent: consumer name, key id, client type, the
/// groups when the consumer has any, its ids, and for the anonymous consumer (which has
/// no key, so no key id) `X-Anonymous-Consumer: true`. One list for both ways a request
/// goes on: forwarded by the proxy ([`ForwardedFields`]), or let through by a front
/// proxy that asked (`super::authz::answer`). Values that may not be sent in a header
/// are empty. Handed over rather than iterated: no list of fields is built per request.
pub fn identity_fields(
    names: &IdentityHeaders,
    caller: &Identity,
    mut field: impl FnMut(&HeaderName, &[u8]),
) {
    let (key, consumer) = (caller.key(), caller.consumer());
    let profile = &consumer.profile;
    let name = header_safe(consumer.name.as_bytes());
    field(&names.consumer, name);
    if let Some(key) = key {
        field(&names.credential, header_safe(key.id.as_bytes()));
    }
    field(&names.client_type, profile.client_type.header_bytes());
    if let Some(groups) = &profile.groups_header {
        field(&names.groups, groups.as_bytes());
    }
    // Most consumers have no metadata: these lookups end at once.
    if let Some(consumer_id) = &names.consumer_id {
        let id = profile
            .metadata
            .get("id")
            .map_or(name, |id| header_safe(id.as_bytes()));
        field(consumer_id, id);
    }
    if let Some(custom_id) = &names.custom_id {
        if let Some(value) = profile.metadata.get("custom_id") {
            field(custom_id, header_safe(value.as_bytes()));
        }
    }
    if key.is_none() {
        field(&X_ANONYMOUS_CONSUMER, b"true");
    }
}

impl ForwardedFields<'_> {
    /// Whether a client field `name` with an `_` reads, with `_` taken for `-`, as a field
    /// the gateway sets or HTTP frames a message by.
    #[cold]
    fn reads_as_own(&self, name: &HeaderName) -> bool {
        let name = name.as_str().as_bytes();
        let own = [
            &X_FORWARDED_FOR,
            &X_FORWARDED_PROTO,
            &X_FORWARDED_HOST,
            &self.names.consumer,
            &self.names.credential,
            &self.names.groups,
            &self.names.client_type,
            &HOST,
            &CONTENT_LENGTH,
            &TRANSFER_ENCODING,
            &CONNECTION,
        ];
        own.iter()
            .copied()
            .chain(self.names.consumer_id.as_ref())
            .chain(self.names.custom_id.as_ref())
            .chain(self.request_id.as_ref().map(|(own, _)| *own))
            .any(|own| same_dashed(name, own.as_str().as_bytes()))
    }
}

/// A client's address, and its text as `X-Forwarded-For` carries it, written once per
/// connection rather than once per request; and what the connection's TLS handshake
/// told, when it had one.
#[derive(Debug, Clone)]
pub struct ClientAddress {
    /// The address.
    pub ip: IpAddr,
    /// The address as a header value.
    pub header: HeaderValue,
    /// `None` for plain HTTP.
    pub tls: Option<TlsFacts>,
}

/// What a connection's TLS handshake told about the client: the facts `request.tls`
/// and `request.clientCertificate` read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsFacts {
    /// Whether the client presented a certificate (checked against
    /// `proxy.tls.client_ca_file`; one that fails the check ends the handshake).
    pub client_certificate: bool,
}

impl ClientAddress {
    /// The address `ip` of a plain-HTTP client, with its header text.
    pub fn new(ip: IpAddr) -> ClientAddress {
        let mut text = String::with_capacity(40);
        let _ = write!(text, "{ip}");
        ClientAddress {
            ip,
            header: HeaderValue::from_str(&text)
                .unwrap_or_else(|_| HeaderValue::from_static("unknown")),
            tls: None,
        }
    }

    /// The same client, over TLS.
    pub fn with_tls(self, tls: TlsFacts) -> ClientAddress {
        ClientAddress {
            tls: Some(tls),
            ..self
        }
    }

    /// The scheme the client used: `X-Forwarded-Proto`'s value.
    pub fn scheme(&self) -> &'static [u8] {
        match self.tls {
            Some(_) => b"https",
            None => b"http",
        }
    }
}

#[cfg(test)]
mod tests;
