//! Finding the API key in a request (headers, cookies, query) and removing it before the
//! request is forwarded.
//!
//! Sources are tried in order and the first that holds a non-empty key wins. Within one
//! source, two different values are a conflict (`401`): a header sent twice, a cookie set
//! twice, a query parameter repeated. A header source with a `scheme` only counts when the
//! value starts with that scheme (`Bearer <key>`, scheme case-insensitive).

use std::borrow::Cow;

use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};

use crate::config::KeySource;

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
            KeySource::Header { name, scheme } => single(
                headers
                    .get_all(name)
                    .iter()
                    .filter_map(|value| strip_scheme(value.as_bytes(), scheme.as_deref()))
                    .map(Cow::Borrowed),
            ),
            KeySource::Cookie { name } => single(
                cookies(headers)
                    .filter(|(cookie, _)| *cookie == name.as_str())
                    .map(|(_, value)| Cow::Borrowed(value.as_bytes())),
            ),
            KeySource::Query { name } => single(
                query_pairs(query.unwrap_or(""))
                    .filter(|(param, _)| *param == name.as_str())
                    .map(|(_, value)| percent_decode(value)),
            ),
        };
        match values {
            Single::None => continue,
            Single::One(key) => return Extracted::Found { source: index, key },
            Single::Conflict => return Extracted::Conflict,
        }
    }
    Extracted::Absent
}

enum Single<'r> {
    None,
    One(Cow<'r, [u8]>),
    Conflict,
}

/// Reduces a source's values to one: empty values are ignored, repeats of the same value
/// are fine, different values conflict.
fn single<'r>(values: impl Iterator<Item = Cow<'r, [u8]>>) -> Single<'r> {
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

fn query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

fn percent_decode(value: &str) -> Cow<'_, [u8]> {
    if !value.contains(['%', '+']) {
        return Cow::Borrowed(value.as_bytes());
    }
    let bytes = value.as_bytes();
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

/// Removes the key found in `source` from the request: the header, the one cookie (the
/// others are kept), or the query parameter. Returns the new query when it changed.
pub fn remove(source: &KeySource, headers: &mut HeaderMap, query: Option<&str>) -> Option<String> {
    match source {
        KeySource::Header { name, .. } => {
            headers.remove(name);
            None
        }
        KeySource::Cookie { name } => {
            let kept: Vec<String> = cookies(headers)
                .filter(|(cookie, _)| *cookie != name.as_str())
                .map(|(cookie, value)| format!("{cookie}={value}"))
                .collect();
            headers.remove(COOKIE);
            if !kept.is_empty() {
                if let Ok(value) = HeaderValue::from_str(&kept.join("; ")) {
                    headers.insert(COOKIE, value);
                }
            }
            None
        }
        KeySource::Query { name } => {
            let kept: Vec<&str> = query
                .unwrap_or("")
                .split('&')
                .filter(|pair| !pair.is_empty())
                .filter(|pair| pair.split_once('=').map_or(*pair, |(n, _)| n) != name.as_str())
                .collect();
            Some(kept.join("&"))
        }
    }
}

#[cfg(test)]
mod tests;
