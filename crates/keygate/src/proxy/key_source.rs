//! Finding the API key in a request (headers, cookies, query) and removing every place a
//! key could be before the request is forwarded. Keys in the body are `super::body_key`'s.
//!
//! Sources are tried in order and the first that holds a non-empty key wins. Within one
//! source, two different values are a conflict (`401`): a header sent twice, a cookie set
//! twice, a query parameter repeated (also under an encoded name: `apikey` and `api%6Bey`
//! are one parameter, as Kong reads them). A header source with a `scheme` only counts
//! when the value starts with that scheme (`Bearer <key>`, scheme case-insensitive). On a
//! service with `key_header_names: dash_or_underscore`, a header source reads (and
//! strips) every spelling of its name with `_` and `-` alike, all as one source.

use std::borrow::Cow;

use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};

use crate::config::field_patterns::same_dashed;
use crate::config::KeySource;
use crate::proxy::field_lookup;

/// The result of looking for a key.
#[derive(Debug, PartialEq, Eq)]
pub enum Extracted<'r> {
    /// No source holds a key.
    Absent,
    /// The key, and the index of the source it was found in.
    Found {
        /// Index into the route's key sources.
        source: usize,
        /// The key's bytes (query values are percent-decoded).
        key: Cow<'r, [u8]>,
    },
    /// A source holds two different values.
    Conflict,
}

/// Looks for the key in `sources`, in order.
pub fn extract<'r>(
    sources: &[KeySource],
    headers: &'r HeaderMap,
    query: Option<&'r str>,
) -> Extracted<'r> {
    for (index, source) in sources.iter().enumerate() {
        let values = match source {
            KeySource::Header {
                name,
                scheme,
                separators_alike: false,
            } => single(
                field_lookup::all(headers, name)
                    .filter_map(|value| strip_scheme(value.as_bytes(), scheme.as_deref()))
                    .map(Cow::Borrowed),
            ),
            KeySource::Header {
                name,
                scheme,
                separators_alike: true,
            } => single(
                headers
                    .iter()
                    .filter(|(field, _)| alike(field, name))
                    .filter_map(|(_, value)| strip_scheme(value.as_bytes(), scheme.as_deref()))
                    .map(Cow::Borrowed),
            ),
            KeySource::Cookie { name } => single(
                cookies(headers)
                    .filter(|(cookie, _)| *cookie == name.as_str())
                    .map(|(_, value)| Cow::Borrowed(value.as_bytes())),
            ),
            KeySource::Query { name } => single(
                query_pairs(query.unwrap_or(""))
                    .filter(|(param, _)| is_param(param, name))
                    .map(|(_, value)| percent_decode(value.as_bytes())),
            ),
            // Read from the body, when it was read (`super::body_key::extract`).
            KeySource::Body { .. } => Single::None,
        };
        match values {
            Single::None => continue,
            Single::One(key) => return Extracted::Found { source: index, key },
            Single::Conflict => return Extracted::Conflict,
        }
    }
    Extracted::Absent
}

/// What one source holds.
pub(super) enum Single<'r> {
    /// No key.
    None,
    /// One key (perhaps sent several times).
    One(Cow<'r, [u8]>),
    /// Two different keys.
    Conflict,
}

/// Whether the field `field` is spelled as `name` once `_` and `-` read alike.
fn alike(field: &http::HeaderName, name: &http::HeaderName) -> bool {
    same_dashed(field.as_str().as_bytes(), name.as_str().as_bytes())
}

/// Reduces a source's values to one: empty values are ignored, repeats of the same value
/// are fine, different values conflict.
pub(super) fn single<'r>(values: impl Iterator<Item = Cow<'r, [u8]>>) -> Single<'r> {
    let mut found: Option<Cow<'r, [u8]>> = None;
    for value in values.filter(|v| !v.is_empty()) {
        match &found {
            None => found = Some(value),
            Some(first) if *first == value => {}
            Some(_) => return Single::Conflict,
        }
    }
    found.map_or(Single::None, Single::One)
}

fn strip_scheme<'v>(value: &'v [u8], scheme: Option<&str>) -> Option<&'v [u8]> {
    let value = value.trim_ascii();
    let Some(scheme) = scheme else {
        return Some(value);
    };
    let (head, rest) = value.split_at_checked(scheme.len())?;
    if !head.eq_ignore_ascii_case(scheme.as_bytes()) || !rest.starts_with(b" ") {
        return None;
    }
    Some(rest.trim_ascii())
}

/// Every `name=value` pair of every `Cookie` header; quotes around a value are removed.
fn cookies(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|header| header.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            Some((name.trim(), value))
        })
}

/// Whether the query parameter name `param`, as sent, is `name` once decoded as Kong
/// (and any form reader) decodes it: `api%6Bey` is `apikey`, `+` is a space. A name
/// without `%` or `+` — nearly every one — is compared as it is, nothing decoded.
pub(super) fn is_param(param: &str, name: &str) -> bool {
    *percent_decode(param.as_bytes()) == *name.as_bytes()
}

/// The `name=value` pairs of a query string as sent (empty pairs skipped).
pub(super) fn query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

/// `bytes` percent-decoded, `+` a space (as forms and query strings are read); borrowed
/// when there is nothing to decode.
pub(super) fn percent_decode(bytes: &[u8]) -> Cow<'_, [u8]> {
    if !bytes.iter().any(|&byte| byte == b'%' || byte == b'+') {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| Some((hex(*bytes.get(i + 1)?)?, hex(*bytes.get(i + 2)?)?)))
            .flatten();
        match (bytes[i], escaped) {
            (_, Some((high, low))) => {
                out.push(high << 4 | low);
                i += 3;
                continue;
            }
            (b'+', None) => out.push(b' '),
            (byte, None) => out.push(byte),
        }
        i += 1;
    }
    Cow::Owned(out)
}

fn hex(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).map(|d| d as u8)
}

/// Removes from the request everything any of `sources` could read a key from, whether
/// or not a key was found there: every configured header (for a source with a `scheme`,
/// its values in that scheme), every configured cookie (the others are kept), every
/// configured query parameter (the others are kept; names are compared percent-decoded,
/// as an upstream would read them). A route's key sources are credentials by definition:
/// a second copy of a key, or a key the gateway did not look at, must not reach the
/// upstream either. Returns the new query when it changed.
///
/// Nothing is allocated unless a cookie or query parameter has to go (or a header holds
/// values both in and out of its scheme).
pub fn strip(
    sources: &[KeySource],
    headers: &mut HeaderMap,
    query: Option<&str>,
) -> Option<String> {
    let mut cookies = false;
    let mut params = false;
    for source in sources {
        match source {
            KeySource::Header {
                name,
                scheme,
                separators_alike: true,
            } => {
                // Every spelling present; collecting none allocates nothing.
                let spellings: Vec<http::HeaderName> = headers
                    .keys()
                    .filter(|field| alike(field, name))
                    .cloned()
                    .collect();
                for spelling in &spellings {
                    match scheme {
                        None => drop(headers.remove(spelling)),
                        Some(scheme) => strip_scheme_values(headers, spelling, scheme),
                    }
                }
            }
            KeySource::Header {
                name, scheme: None, ..
            } => {
                headers.remove(name);
            }
            KeySource::Header {
                name,
                scheme: Some(scheme),
                ..
            } => strip_scheme_values(headers, name, scheme),
            KeySource::Cookie { .. } => cookies = true,
            KeySource::Query { .. } => params = true,
            // Removed from the body as it is forwarded (`super::body_key`).
            KeySource::Body { .. } => {}
        }
    }
    if cookies {
        strip_cookies(sources, headers);
    }
    if params {
        return query.and_then(|query| strip_params(sources, query));
    }
    None
}

/// Removes the values of header `name` written in `scheme` (a `Bearer` token), keeping
/// the others (a `Basic` credential meant for the upstream).
fn strip_scheme_values(headers: &mut HeaderMap, name: &http::HeaderName, scheme: &str) {
    let is_key = |value: &HeaderValue| strip_scheme(value.as_bytes(), Some(scheme)).is_some();
    let (mut keys, mut others) = (0usize, 0usize);
    for value in headers.get_all(name) {
        if is_key(value) {
            keys += 1;
        } else {
            others += 1;
        }
    }
    if keys == 0 {
        return;
    }
    if others == 0 {
        headers.remove(name);
        return;
    }
    // Cloning a header value shares its bytes.
    let kept: Vec<HeaderValue> = headers
        .get_all(name)
        .iter()
        .filter(|value| !is_key(value))
        .cloned()
        .collect();
    headers.remove(name);
    for value in kept {
        headers.append(name.clone(), value);
    }
}

/// Whether `name` (a cookie's) is one of `sources`' cookies.
fn is_key_cookie(sources: &[KeySource], name: &[u8]) -> bool {
    sources
        .iter()
        .any(|source| matches!(source, KeySource::Cookie { name: key } if key.as_bytes() == name))
}

/// The name of one `name=value` pair of a `Cookie` header; `None` for a pair without `=`.
fn cookie_name(pair: &[u8]) -> Option<&[u8]> {
    let equals = pair.iter().position(|&byte| byte == b'=')?;
    Some(pair[..equals].trim_ascii())
}

/// Removes `sources`' cookies from every `Cookie` header, keeping the other pairs as
/// they were written (joined into one `Cookie` field). Read as bytes, so that a header
/// the key lookup could not read is cleaned as well.
fn strip_cookies(sources: &[KeySource], headers: &mut HeaderMap) {
    let is_key = |pair: &[u8]| cookie_name(pair).is_some_and(|name| is_key_cookie(sources, name));
    if !cookie_pairs(headers).any(is_key) {
        return;
    }
    let mut kept = Vec::new();
    for pair in cookie_pairs(headers).filter(|pair| !is_key(pair)) {
        if !kept.is_empty() {
            kept.extend_from_slice(b"; ");
        }
        kept.extend_from_slice(pair);
    }
    headers.remove(COOKIE);
    if kept.is_empty() {
        return;
    }
    // Pieces of valid field values joined by `; ` are a valid field value.
    if let Ok(value) = HeaderValue::from_bytes(&kept) {
        headers.insert(COOKIE, value);
    }
}

/// The `Cookie` field a request with `headers` carries upstream once `sources`' cookies
/// are removed, for a front proxy to set in place of the client's (authz mode): `None`
/// without a `Cookie` field, an empty value when only key cookies were in it. Allocates
/// only when a key cookie goes or several `Cookie` fields are joined.
pub fn cookie_without_keys(sources: &[KeySource], headers: &HeaderMap) -> Option<HeaderValue> {
    let mut fields = headers.get_all(COOKIE).iter();
    let first = fields.next()?;
    let is_key = |pair: &[u8]| cookie_name(pair).is_some_and(|name| is_key_cookie(sources, name));
    if fields.next().is_none() && !cookie_pairs(headers).any(is_key) {
        return Some(first.clone());
    }
    let mut kept = Vec::new();
    for pair in cookie_pairs(headers).filter(|pair| !is_key(pair)) {
        if !kept.is_empty() {
            kept.extend_from_slice(b"; ");
        }
        kept.extend_from_slice(pair);
    }
    // Pieces of valid field values joined by `; ` are a valid field value.
    Some(HeaderValue::from_bytes(&kept).unwrap_or_else(|_| HeaderValue::from_static("")))
}

/// Every `name=value` pair of every `Cookie` header, as written (trimmed).
fn cookie_pairs(headers: &HeaderMap) -> impl Iterator<Item = &[u8]> {
    headers
        .get_all(COOKIE)
        .iter()
        .flat_map(|header| header.as_bytes().split(|&byte| byte == b';'))
        .map(<[u8]>::trim_ascii)
        .filter(|pair| !pair.is_empty())
}

/// `query` without `sources`' parameters; `None` when none of them is in it.
fn strip_params(sources: &[KeySource], query: &str) -> Option<String> {
    let is_key = |pair: &str| {
        let param = pair.split_once('=').map_or(pair, |(name, _)| name);
        sources
            .iter()
            .any(|source| matches!(source, KeySource::Query { name } if is_param(param, name)))
    };
    if !query.split('&').any(is_key) {
        return None;
    }
    let mut kept = String::with_capacity(query.len());
    for pair in query
        .split('&')
        .filter(|pair| !pair.is_empty() && !is_key(pair))
    {
        if !kept.is_empty() {
            kept.push('&');
        }
        kept.push_str(pair);
    }
    Some(kept)
}

#[cfg(test)]
mod tests;
