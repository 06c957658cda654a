//! The API key in the request body (Kong's `key_in_body`): `body: NAME` key sources read a
//! form field (`application/x-www-form-urlencoded`), a top-level member of a JSON object
//! (`application/json`) or a part of `multipart/form-data`.
//!
//! Only routes with a `body` source pay for it. On such a route a request whose body is of
//! one of the three media types is read whole, up to `proxy.max_key_body_bytes`, before
//! its key is looked for ([`read::read_whole`]); other bodies are streamed as always and
//! hold no key. `body` sources come last in a route's list: they are read when no
//! header, cookie or query source holds a key ([`extract`]).
//!
//! Unless the key is forwarded, every `body` source's field is removed from the body the
//! upstream gets ([`KeyBody::for_upstream`]), whoever's key it was — as every other key
//! source is — and the body goes with its new `Content-Length`. Nothing else changes:
//! the form's other pairs, the JSON document's other bytes and the other parts are kept
//! as sent (the document is edited, not written anew).
//!
//! A body that cannot be read as its media type (JSON that does not parse, multipart
//! without its boundary or closing delimiter) is refused `400`: the key in it could be
//! neither read nor removed.

mod form;
mod json;
mod media;
mod multipart;
pub mod read;

use std::borrow::Cow;
use std::ops::Range;

use bytes::Bytes;
use http::HeaderMap;

use super::error::ProxyError;
use super::key_source::{single, Extracted, Single};
use crate::config::{AuthMode, KeySource, Route};
pub use media::{media, BodyKind, Media};

/// One field of a body: where it lies, its name and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Field<'b> {
    /// The bytes that go when the field is removed (a separator next to it goes too,
    /// see [`cut`]).
    span: Range<usize>,
    /// The name as its media type reads it (percent-decoded, JSON-unescaped).
    name: Cow<'b, [u8]>,
    /// The name as written.
    raw_name: &'b [u8],
    /// The value as its media type reads it; `None` when it cannot be a key (a JSON value
    /// other than a string).
    value: Option<Cow<'b, [u8]>>,
}

impl Field<'_> {
    /// Whether the field is the one `name` names, as written or as read.
    fn is(&self, name: &str) -> bool {
        *self.name == *name.as_bytes() || self.raw_name == name.as_bytes()
    }
}

/// A request body read whole on a route with `body` key sources, and its media type.
#[derive(Debug, Clone)]
pub struct KeyBody {
    bytes: Bytes,
    kind: Option<BodyKind>,
}

impl KeyBody {
    /// No body: nothing was sent.
    pub fn empty() -> KeyBody {
        KeyBody {
            bytes: Bytes::new(),
            kind: None,
        }
    }

    /// `bytes` read as `kind`; `400` when they cannot be. An empty body holds no field.
    pub fn parse(bytes: Bytes, kind: BodyKind) -> Result<KeyBody, ProxyError> {
        let body = KeyBody {
            bytes,
            kind: Some(kind),
        };
        body.fields()
            .map_err(|Malformed| ProxyError::BadRequestBody)?;
        Ok(body)
    }

    /// The body as sent.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// Every field, in the body's order.
    fn fields(&self) -> Result<Vec<Field<'_>>, Malformed> {
        let bytes = &self.bytes[..];
        match &self.kind {
            _ if bytes.is_empty() => Ok(Vec::new()),
            None => Ok(Vec::new()),
            Some(BodyKind::Form) => Ok(form::fields(bytes)),
            Some(BodyKind::Json) => json::fields(bytes),
            Some(BodyKind::Multipart { boundary }) => multipart::fields(bytes, boundary),
        }
    }

    /// The body as it goes upstream: without the fields of the `body` sources among
    /// `removed` (the route's sources, unless the key is forwarded); the same bytes when
    /// none is in it.
    pub fn for_upstream(&self, removed: &[KeySource]) -> Bytes {
        let names: Vec<&str> = body_names(removed).collect();
        if names.is_empty() {
            return self.bytes.clone();
        }
        let Ok(fields) = self.fields() else {
            // Not reached: a body that does not parse is refused before forwarding.
            return self.bytes.clone();
        };
        let gone: Vec<bool> = fields
            .iter()
            .map(|field| names.iter().any(|name| field.is(name)))
            .collect();
        if !gone.contains(&true) {
            return self.bytes.clone();
        }
        let spans: Vec<Range<usize>> = fields.iter().map(|field| field.span.clone()).collect();
        Bytes::from(cut(&self.bytes, &spans, &gone))
    }
}

/// The body does not read as its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// The names of the `body` sources among `sources`.
fn body_names(sources: &[KeySource]) -> impl Iterator<Item = &str> {
    sources.iter().filter_map(|source| match source {
        KeySource::Body { name } => Some(name.as_str()),
        _ => None,
    })
}

/// Whether `route` reads keys from bodies: it has `body` sources (listed last, so only
/// its last source is looked at), and the key is either looked for or removed.
pub fn route_reads_body(route: &Route) -> bool {
    matches!(route.key_sources.last(), Some(KeySource::Body { .. }))
        && !(route.auth == AuthMode::None && route.forward_key)
}

/// Whether a request on `route` with `headers` is to be read whole first: `None` when the
/// route has no `body` source or the body is not of the three media types.
pub fn wanted(route: &Route, headers: &HeaderMap) -> Option<Media> {
    if !route_reads_body(route) {
        return None;
    }
    match media(headers) {
        Media::Other => None,
        media => Some(media),
    }
}

/// Looks for the key in the `body` sources of `sources`, in order, in `body`. Within a
/// source, two different non-empty values conflict (a form field or a part sent twice,
/// a JSON member written twice), as in every other source; so does a key beside a JSON
/// member of its name whose value is not a string.
pub fn extract<'b>(sources: &[KeySource], body: &'b KeyBody) -> Extracted<'b> {
    let Ok(fields) = body.fields() else {
        return Extracted::Absent;
    };
    for (index, source) in sources.iter().enumerate() {
        let KeySource::Body { name } = source else {
            continue;
        };
        let values = fields
            .iter()
            .filter(|field| field.is(name))
            .filter_map(|field| field.value.clone());
        // A JSON member of the name whose value is not a string beside one that is: a
        // last-wins upstream (JavaScript, Go, Python) would read `123` where the gateway
        // read the key, when the key is forwarded.
        let other = || {
            fields
                .iter()
                .any(|field| field.is(name) && field.value.is_none())
        };
        match single(values) {
            Single::None => continue,
            Single::One(_) if other() => return Extracted::Conflict,
            Single::One(key) => return Extracted::Found { source: index, key },
            Single::Conflict => return Extracted::Conflict,
        }
    }
    Extracted::Absent
}

/// `body` without the items at `spans` (in order, not overlapping) whose `gone` is true.
/// What lies before the first item and after the last is kept; between two kept items
/// goes the separator that followed the first of them as sent (`&` in a form, `, ` in a
/// JSON object, nothing between multipart parts): a removed item takes one separator
/// with it, and no separator is left dangling at either end.
fn cut(body: &[u8], spans: &[Range<usize>], gone: &[bool]) -> Vec<u8> {
    let (Some(first), Some(last)) = (spans.first(), spans.last()) else {
        return body.to_vec();
    };
    let mut out = Vec::with_capacity(body.len());
    out.extend_from_slice(&body[..first.start]);
    let mut previous: Option<usize> = None;
    for (index, span) in spans.iter().enumerate() {
        if gone.get(index).copied().unwrap_or(false) {
            continue;
        }
        if let Some(kept) = previous {
            let separator = spans[kept].end..spans[kept + 1].start;
            out.extend_from_slice(&body[separator]);
        }
        out.extend_from_slice(&body[span.clone()]);
        previous = Some(index);
    }
    out.extend_from_slice(&body[last.end..]);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
