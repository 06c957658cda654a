//! An HTTP/2 request brought to the one reading the HTTP/1.1 parser gives
//! (`downstream::request_head`), so that every later phase sees the same request
//! whichever protocol carried it: an origin-form target, exactly one valid `Host` (the
//! `:authority`, which a `Host` field may repeat but not contradict), the same method
//! rules, the same field-name rules, and `Cookie` as one field.
//!
//! The h2 crate has already refused what RFC 9113 §8.2–§8.3 calls malformed: missing or
//! repeated pseudo-header fields, connection-specific fields (`Connection`,
//! `Keep-Alive`, `Proxy-Connection`, `Transfer-Encoding`, `Upgrade`, `TE` other than
//! `trailers`), and a body that does not match its `Content-Length`. Field names arrive
//! lower-case.

use http::header::{HeaderName, CONTENT_LENGTH, COOKIE, HOST};
use http::request::Parts;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderMap, HeaderValue, Uri, Version};

use crate::proxy::downstream::host::is_valid_host;
use crate::proxy::downstream::request_head::{
    method, parse_length, plain_name, UnderscoredFields, MAX_FIELDS,
};
use crate::proxy::error::ProxyError;

/// Why an HTTP/2 request was refused before the gateway saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// A rule of the request's form is broken (`400`).
    #[error("malformed HTTP/2 request: {0}")]
    Malformed(&'static str),
    /// More than [`MAX_FIELDS`] fields (`431`).
    #[error("more than {MAX_FIELDS} header fields")]
    TooManyFields,
}

impl From<RequestError> for ProxyError {
    fn from(error: RequestError) -> ProxyError {
        match error {
            RequestError::Malformed(_) => ProxyError::MalformedRequest,
            RequestError::TooManyFields => ProxyError::HeadersTooLarge,
        }
    }
}

/// `parts` of a request as h2 decoded it, in the form the gateway reads.
pub fn normalise(mut parts: Parts, underscored: UnderscoredFields) -> Result<Parts, RequestError> {
    // Upper-case tokens only; CONNECT (and with it extended CONNECT) and TRACE refused.
    method(parts.method.as_str().as_bytes())
        .map_err(|_| RequestError::Malformed("method not accepted"))?;
    let uri = std::mem::take(&mut parts.uri);
    let path = origin_form(&uri)?;
    let fields = std::mem::take(&mut parts.headers);
    if fields.len() > MAX_FIELDS {
        return Err(RequestError::TooManyFields);
    }
    let (headers, host) = fields_and_host(fields, uri.authority(), underscored)?;
    parts.headers = headers;
    parts.headers.insert(
        HOST,
        host.ok_or(RequestError::Malformed("no :authority and no Host"))?,
    );
    parts.uri = Uri::from(path);
    parts.version = Version::HTTP_2;
    Ok(parts)
}

/// The request's path and query, from a target with an `http` or `https` scheme and a
/// path that begins with `/` (`OPTIONS *` is refused, as over HTTP/1.1). h2 keeps
/// `:scheme` in the target only beside an `:authority`.
fn origin_form(uri: &Uri) -> Result<PathAndQuery, RequestError> {
    match uri.scheme() {
        Some(scheme) if *scheme == Scheme::HTTP || *scheme == Scheme::HTTPS => {}
        None if uri.authority().is_none() => {}
        _ => return Err(RequestError::Malformed(":scheme not http or https")),
    }
    match uri.path_and_query() {
        Some(path) if path.as_str().starts_with('/') => Ok(path.clone()),
        _ => Err(RequestError::Malformed(":path not an absolute path")),
    }
}

/// The fields the gateway keeps, and the one authority: `:authority` when sent (a
/// `Host` field beside it must say the same), else the one `Host` field.
fn fields_and_host(
    fields: HeaderMap,
    authority: Option<&Authority>,
    underscored: UnderscoredFields,
) -> Result<(HeaderMap, Option<HeaderValue>), RequestError> {
    let mut host = match authority {
        Some(authority) => {
            // `user@host` is refused, as in an HTTP/1.1 absolute target.
            if authority.as_str().contains('@') || !is_valid_host(authority.as_str().as_bytes()) {
                return Err(RequestError::Malformed("invalid :authority"));
            }
            Some(
                HeaderValue::from_str(authority.as_str())
                    .map_err(|_| RequestError::Malformed("invalid :authority"))?,
            )
        }
        None => None,
    };
    let mut headers = HeaderMap::with_capacity(fields.len());
    let mut hosts = 0;
    let mut length: Option<u64> = None;
    let mut cookie: Option<Vec<u8>> = None;
    let mut name: Option<HeaderName> = None;
    for (next_name, value) in fields {
        // `into_iter` names only the first of several values of one name.
        if let Some(next_name) = next_name {
            name = Some(next_name);
        }
        let Some(name) = &name else { continue };
        if name == HOST {
            hosts += 1;
            if hosts > 1 || !is_valid_host(value.as_bytes()) {
                return Err(RequestError::Malformed("invalid or repeated Host"));
            }
            match &host {
                Some(authority) if !same_host(authority, &value) => {
                    return Err(RequestError::Malformed("Host and :authority differ"));
                }
                Some(_) => {}
                None => host = Some(value),
            }
            continue;
        }
        if !plain_name(name.as_str().as_bytes(), underscored) {
            tracing::debug!(field = %name, "request field dropped: its name holds more than letters, digits and `-`");
            continue;
        }
        if name == CONTENT_LENGTH {
            let parsed = parse_length(value.as_bytes())
                .map_err(|_| RequestError::Malformed("invalid Content-Length"))?;
            if length.is_some_and(|seen| seen != parsed) {
                return Err(RequestError::Malformed("conflicting Content-Length fields"));
            }
            length = Some(parsed);
        }
        if name == COOKIE {
            // RFC 9113 §8.2.3: crumbs sent as fields of their own are one `Cookie`
            // again, joined with `; `, for key sources and HTTP/1.1 upstreams.
            match &mut cookie {
                None => cookie = Some(value.as_bytes().to_vec()),
                Some(joined) => {
                    joined.extend_from_slice(b"; ");
                    joined.extend_from_slice(value.as_bytes());
                }
            }
            continue;
        }
        headers.append(name.clone(), value);
    }
    if let Some(cookie) = cookie {
        let value = HeaderValue::from_maybe_shared(bytes::Bytes::from(cookie))
            .map_err(|_| RequestError::Malformed("invalid Cookie"))?;
        headers.insert(COOKIE, value);
    }
    Ok((headers, host))
}

/// Whether two authorities name the same host and port (host names are
/// case-insensitive).
fn same_host(authority: &HeaderValue, host: &HeaderValue) -> bool {
    authority.as_bytes().eq_ignore_ascii_case(host.as_bytes())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
