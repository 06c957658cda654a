//! Refusals of gRPC calls as gRPC statuses. A gRPC client reads the call's outcome from
//! `grpc-status` and `grpc-message`, not from the HTTP status: a `401` with a JSON body
//! is to it a broken call (`UNKNOWN` or `INTERNAL`, "Received http2 header with status:
//! 401"). So when the request is a gRPC call — its `content-type` is `application/grpc`
//! or `application/grpc+FORMAT`, as Envoy decides for its own local replies — keygate
//! answers its refusals as a trailers-only gRPC response: HTTP `200`,
//! `content-type: application/grpc`, `grpc-status` and `grpc-message`, no body. A `401`
//! becomes `16 UNAUTHENTICATED` and a `403` `7 PERMISSION_DENIED`, as in Kong and Envoy;
//! [`code_for`] has the whole table. Over HTTP/2 these fields end the stream in one
//! HEADERS frame, which is what gRPC calls trailers-only; over HTTP/1.1 they are the
//! response's head, which a gRPC-aware HTTP/1.1 client can still read.
//!
//! The detection needs no configuration: a service may serve gRPC and JSON side by side,
//! and each caller gets refusals in its own form.

use http::header::CONTENT_TYPE;
use http::HeaderMap;

use super::error::ProxyError;

/// gRPC status codes (grpc/grpc `doc/statuscodes.md`) that keygate answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum GrpcCode {
    /// 2: an error without a better code.
    Unknown = 2,
    /// 4: the deadline passed (the client's body did not arrive in time).
    DeadlineExceeded = 4,
    /// 7: the caller is known and may not make this call.
    PermissionDenied = 7,
    /// 8: a quota is used up (a rate limit).
    ResourceExhausted = 8,
    /// 9: the call cannot be made in this state (plain HTTP to an HTTPS-only service).
    FailedPrecondition = 9,
    /// 12: no such method (no route).
    Unimplemented = 12,
    /// 13: the request was malformed.
    Internal = 13,
    /// 14: the service cannot be reached now; the client may try again.
    Unavailable = 14,
    /// 16: no valid credentials.
    Unauthenticated = 16,
}

impl GrpcCode {
    /// The code as `grpc-status` carries it.
    pub fn as_str(self) -> &'static str {
        match self {
            GrpcCode::Unknown => "2",
            GrpcCode::DeadlineExceeded => "4",
            GrpcCode::PermissionDenied => "7",
            GrpcCode::ResourceExhausted => "8",
            GrpcCode::FailedPrecondition => "9",
            GrpcCode::Unimplemented => "12",
            GrpcCode::Internal => "13",
            GrpcCode::Unavailable => "14",
            GrpcCode::Unauthenticated => "16",
        }
    }
}

/// Whether `headers` are those of a gRPC call: `content-type` is `application/grpc`,
/// alone or followed by `+` (a message format) or `;` (parameters). gRPC-Web
/// (`application/grpc-web`) is not: its statuses travel in the body.
pub fn is_grpc_request(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return false;
    };
    let value = value.as_bytes();
    let prefix = b"application/grpc";
    value.len() >= prefix.len()
        && value[..prefix.len()].eq_ignore_ascii_case(prefix)
        && matches!(value.get(prefix.len()), None | Some(b'+' | b';'))
}

/// The gRPC status of a refusal. The HTTP statuses map as gRPC's own table
/// (`doc/http-grpc-status-mapping.md`) and Envoy do — `401` → `UNAUTHENTICATED`, `403` →
/// `PERMISSION_DENIED`, `404` → `UNIMPLEMENTED`, `502`/`503`/`504` → `UNAVAILABLE`, a
/// malformed request → `INTERNAL` — except where the refusal says more than its status:
/// a rate limit is `RESOURCE_EXHAUSTED` (a quota, as gRPC's codes describe it, and as
/// Kong's gRPC rate limiting answers), a body that stopped coming `DEADLINE_EXCEEDED`.
pub fn code_for(error: &ProxyError) -> GrpcCode {
    match error {
        ProxyError::MissingKey
        | ProxyError::DuplicateKey
        | ProxyError::InvalidKey(_)
        | ProxyError::Forbidden { anonymous: true } => GrpcCode::Unauthenticated,
        ProxyError::Forbidden { anonymous: false } | ProxyError::NotSubscribed(_) => {
            GrpcCode::PermissionDenied
        }
        ProxyError::NoRoute | ProxyError::MethodNotAllowed { .. } => GrpcCode::Unimplemented,
        ProxyError::RateLimited(_) | ProxyError::RequestBodyTooLarge => GrpcCode::ResourceExhausted,
        ProxyError::BadPath
        | ProxyError::MalformedRequest
        | ProxyError::UnsupportedTransferCoding
        | ProxyError::HeadersTooLarge
        | ProxyError::BadRequestBody
        | ProxyError::AnonymousConsumerMissing => GrpcCode::Internal,
        ProxyError::RequestBodyTimeout => GrpcCode::DeadlineExceeded,
        ProxyError::HttpsRedirect { .. } => GrpcCode::FailedPrecondition,
        ProxyError::UpstreamConnect
        | ProxyError::UpstreamTimeout
        | ProxyError::UpstreamBroken
        | ProxyError::UpstreamUnresolved
        | ProxyError::UpstreamBusy
        | ProxyError::UpstreamTls => GrpcCode::Unavailable,
    }
}

/// `message` as `grpc-message` carries it: percent-encoded, every byte outside
/// `0x20..=0x7E` and `%` itself as `%XX` (gRPC's PROTOCOL-HTTP2).
pub fn encode_message(message: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in message.as_bytes() {
        if (0x20..=0x7E).contains(&byte) && byte != b'%' {
            out.push(byte);
        } else {
            out.extend_from_slice(&[
                b'%',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xF)],
            ]);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use http::HeaderValue;

    use super::*;
    use crate::proxy::error::{InvalidKey, PlanRefusal};

    fn with_type(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn grpc_calls_are_told_by_their_content_type() {
        for grpc in [
            "application/grpc",
            "application/grpc+proto",
            "application/grpc+json",
            "Application/GRPC",
            "application/grpc; charset=utf-8",
        ] {
            assert!(is_grpc_request(&with_type(grpc)), "{grpc}");
        }
        for other in [
            "application/json",
            "application/grpc-web",
            "application/grpc-web+proto",
            "application/grpcx",
            "application/grp",
        ] {
            assert!(!is_grpc_request(&with_type(other)), "{other}");
        }
        assert!(!is_grpc_request(&HeaderMap::new()));
    }

    #[test]
    fn refusals_map_as_kong_and_envoy_do() {
        let cases = [
            (ProxyError::MissingKey, "16"),
            (ProxyError::InvalidKey(InvalidKey::Expired), "16"),
            (ProxyError::DuplicateKey, "16"),
            (ProxyError::Forbidden { anonymous: true }, "16"),
            (ProxyError::Forbidden { anonymous: false }, "7"),
            (ProxyError::NotSubscribed(PlanRefusal::Paused), "7"),
            (ProxyError::NoRoute, "12"),
            (ProxyError::UpstreamConnect, "14"),
            (ProxyError::UpstreamTimeout, "14"),
            (ProxyError::UpstreamTls, "14"),
            (ProxyError::UpstreamBusy, "14"),
            (ProxyError::BadRequestBody, "13"),
            (ProxyError::RequestBodyTimeout, "4"),
            (ProxyError::RequestBodyTooLarge, "8"),
        ];
        for (error, code) in cases {
            assert_eq!(code_for(&error).as_str(), code, "{error:?}");
            assert_eq!(code_for(&error) as u8, code.parse::<u8>().unwrap());
        }
    }

    #[test]
    fn messages_are_percent_encoded_outside_printable_ascii() {
        let mut out = Vec::new();
        encode_message("Invalid API key in request", &mut out);
        assert_eq!(out, b"Invalid API key in request");
        out.clear();
        encode_message("100% sûr\n", &mut out);
        assert_eq!(out, b"100%25 s%C3%BBr%0A");
    }
}
