//! Rewriting a request for the upstream: hop-by-hop headers dropped, client-sent identity
//! headers replaced by the real ones, `X-Forwarded-*` added, and the target's `Host`.

use std::fmt::Write as _;
use std::net::IpAddr;

use http::header::{
    HeaderName, CONNECTION, HOST, PROXY_AUTHENTICATE, TE, TRAILER, TRANSFER_ENCODING, UPGRADE,
};
use http::{HeaderMap, HeaderValue};

use crate::config::IdentityHeaders;
use crate::state::{ConsumerEntry, KeyEntry};

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

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
                remove_named(headers, &value);
            }
        }
        _ => {
            // Cloning a header value shares its bytes.
            let values: Vec<HeaderValue> = headers.get_all(CONNECTION).iter().cloned().collect();
            headers.remove(CONNECTION);
            for value in &values {
                remove_named(headers, value);
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
fn remove_named(headers: &mut HeaderMap, connection: &HeaderValue) {
    let Ok(tokens) = connection.to_str() else {
        return;
    };
    for token in tokens
        .split(',')
        .map(str::trim)
        .filter(|token| !token.is_empty())
    {
        headers.remove(token);
    }
}

/// The fields RFC 9110 §7.6.1 names hop-by-hop, and their old spellings.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    name == CONNECTION
        || name == TE
        || name == TRAILER
        || name == TRANSFER_ENCODING
        || name == UPGRADE
        || name == PROXY_AUTHENTICATE
        || name == KEEP_ALIVE
        || name == PROXY_CONNECTION
}

/// Replaces whatever identity headers the client sent with the caller's: consumer name,
/// key id, groups and client type. Anonymous calls get none.
pub fn set_identity(
    headers: &mut HeaderMap,
    names: &IdentityHeaders,
    caller: Option<(&KeyEntry, &ConsumerEntry)>,
) {
    let Some((key, consumer)) = caller else {
        for name in [
            &names.consumer,
            &names.credential,
            &names.groups,
            &names.client_type,
        ] {
            headers.remove(name);
        }
        return;
    };
    // `insert` replaces every value a client sent under the name.
    headers.insert(names.consumer.clone(), header_value(&consumer.name));
    headers.insert(names.credential.clone(), header_value(&key.id));
    headers.insert(
        names.client_type.clone(),
        consumer.profile.client_type.header(),
    );
    match &consumer.profile.groups_header {
        Some(groups) => {
            headers.insert(names.groups.clone(), groups.clone());
        }
        None => {
            headers.remove(&names.groups);
        }
    }
}

/// A text as a header value; empty when it is not header-safe (an old or hand-edited
/// store), rather than failing the request. One allocation, owned by the header map.
fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A client's address, and its text as `X-Forwarded-For` carries it, written once per
/// connection rather than once per request.
#[derive(Debug, Clone)]
pub struct ClientAddress {
    /// The address.
    pub ip: IpAddr,
    /// The address as a header value.
    pub header: HeaderValue,
}

impl ClientAddress {
    /// The address `ip`, with its header text.
    pub fn new(ip: IpAddr) -> ClientAddress {
        let mut text = String::with_capacity(40);
        let _ = write!(text, "{ip}");
        ClientAddress {
            ip,
            header: HeaderValue::from_str(&text)
                .unwrap_or_else(|_| HeaderValue::from_static("unknown")),
        }
    }
}

/// Appends the client address to `X-Forwarded-For` (several lines are folded into one),
/// and sets `X-Forwarded-Proto` and `X-Forwarded-Host` to what this gateway saw
/// (client-sent values of those two are not trusted). Then sets `Host` to the target's
/// unless `preserve_host`.
pub fn set_forwarded(
    headers: &mut HeaderMap,
    client: &ClientAddress,
    original_host: Option<HeaderValue>,
    target_host: &HeaderValue,
    preserve_host: bool,
) {
    if headers.contains_key(&X_FORWARDED_FOR) {
        let mut chain = String::with_capacity(64);
        for previous in headers.get_all(&X_FORWARDED_FOR) {
            match previous.to_str().map(str::trim) {
                Ok(previous) if !previous.is_empty() => {
                    chain.push_str(previous);
                    chain.push_str(", ");
                }
                _ => {}
            }
        }
        let _ = write!(chain, "{}", client.ip);
        if let Ok(value) = HeaderValue::from_str(&chain) {
            headers.insert(X_FORWARDED_FOR.clone(), value);
        }
    } else {
        headers.insert(X_FORWARDED_FOR.clone(), client.header.clone());
    }
    headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static("http"));
    match &original_host {
        Some(host) => {
            headers.insert(X_FORWARDED_HOST.clone(), host.clone());
        }
        None => {
            headers.remove(&X_FORWARDED_HOST);
        }
    }
    if !preserve_host || original_host.is_none() {
        headers.insert(HOST, target_host.clone());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_and_connection_named_headers_go() {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONNECTION,
            HeaderValue::from_static("keep-alive, x-private"),
        );
        headers.insert("x-private", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert(TE, HeaderValue::from_static("trailers"));
        headers.insert("x-kept", HeaderValue::from_static("1"));
        drop_hop_by_hop(&mut headers);
        let left: Vec<_> = headers.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, ["x-kept"]);
    }

    #[test]
    fn every_connection_field_is_read() {
        let mut headers = HeaderMap::new();
        headers.append(CONNECTION, HeaderValue::from_static("x-one"));
        headers.append(CONNECTION, HeaderValue::from_static(" , X-Two ,"));
        headers.insert("x-one", HeaderValue::from_static("1"));
        headers.insert("x-two", HeaderValue::from_static("2"));
        headers.insert("x-kept", HeaderValue::from_static("1"));
        drop_hop_by_hop(&mut headers);
        let left: Vec<_> = headers.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, ["x-kept"]);
    }

    #[test]
    fn forwarded_for_is_appended_and_host_replaced() {
        let mut headers = HeaderMap::new();
        headers.append("x-forwarded-for", HeaderValue::from_static("1.1.1.1"));
        headers.append("x-forwarded-for", HeaderValue::from_static("2.2.2.2"));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        let host = HeaderValue::from_static("api.example.com");
        headers.insert(HOST, host.clone());
        let target = HeaderValue::from_static("127.0.0.1:9001");
        set_forwarded(
            &mut headers,
            &ClientAddress::new([127, 0, 0, 1].into()),
            Some(host),
            &target,
            false,
        );
        assert_eq!(headers["x-forwarded-for"], "1.1.1.1, 2.2.2.2, 127.0.0.1");
        assert_eq!(headers["x-forwarded-proto"], "http");
        assert_eq!(headers["x-forwarded-host"], "api.example.com");
        assert_eq!(headers[HOST], "127.0.0.1:9001");
    }

    #[test]
    fn preserve_host_keeps_the_clients_host() {
        let mut headers = HeaderMap::new();
        let host = HeaderValue::from_static("api.example.com");
        headers.insert(HOST, host.clone());
        let target = HeaderValue::from_static("127.0.0.1:9001");
        set_forwarded(
            &mut headers,
            &ClientAddress::new([10, 0, 0, 1].into()),
            Some(host),
            &target,
            true,
        );
        assert_eq!(headers[HOST], "api.example.com");
        assert_eq!(headers["x-forwarded-for"], "10.0.0.1");
    }
}
