//! The one place where a [`ProxyError`] becomes an HTTP response: status, JSON body with a
//! `message`, and the fields the status calls for (`WWW-Authenticate`, `Allow`,
//! `Location`).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;

use http::header::{HeaderName, ALLOW, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use http::{HeaderValue, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::Either;

use super::admission::Identity;
use super::authz::answer::{self, AnswerFields};
use super::error::ProxyError;
use super::grpc_status::{self, GrpcCode};
use super::limit_check::{LimitRefusal, Refused};
use super::limit_headers;
use super::ProxyBody;
use crate::config::Template;
use crate::state::Snapshot;

/// The response for an error. `challenge` is the `WWW-Authenticate` value sent with `401`.
pub fn error_response(error: &ProxyError, challenge: &HeaderValue) -> Response<ProxyBody> {
    let (status, body): (StatusCode, &'static str) = match error {
        ProxyError::NoRoute => (
            StatusCode::NOT_FOUND,
            r#"{"message":"No route matched the request"}"#,
        ),
        ProxyError::MethodNotAllowed { .. } => (
            StatusCode::METHOD_NOT_ALLOWED,
            r#"{"message":"Method not allowed"}"#,
        ),
        ProxyError::BadPath => (
            StatusCode::BAD_REQUEST,
            r#"{"message":"Invalid request path"}"#,
        ),
        ProxyError::MalformedRequest => (
            StatusCode::BAD_REQUEST,
            r#"{"message":"Malformed request"}"#,
        ),
        ProxyError::UnsupportedTransferCoding => (
            StatusCode::NOT_IMPLEMENTED,
            r#"{"message":"Unsupported transfer coding"}"#,
        ),
        ProxyError::HeadersTooLarge => (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            r#"{"message":"Request header fields too large"}"#,
        ),
        ProxyError::BadRequestBody => (
            StatusCode::BAD_REQUEST,
            r#"{"message":"Malformed request body"}"#,
        ),
        ProxyError::RequestBodyTimeout => (
            StatusCode::REQUEST_TIMEOUT,
            r#"{"message":"The request body did not arrive in time"}"#,
        ),
        ProxyError::RequestBodyTooLarge => (
            StatusCode::PAYLOAD_TOO_LARGE,
            r#"{"message":"Request body too large"}"#,
        ),
        ProxyError::MissingKey | ProxyError::Forbidden { anonymous: true } => (
            StatusCode::UNAUTHORIZED,
            r#"{"message":"Missing API key found in request"}"#,
        ),
        ProxyError::DuplicateKey => (
            StatusCode::UNAUTHORIZED,
            r#"{"message":"Duplicate API key found in request"}"#,
        ),
        ProxyError::InvalidKey(_) => (
            StatusCode::UNAUTHORIZED,
            r#"{"message":"Invalid API key in request"}"#,
        ),
        ProxyError::Forbidden { anonymous: false } | ProxyError::NotSubscribed(_) => (
            StatusCode::FORBIDDEN,
            r#"{"message":"You cannot consume this service"}"#,
        ),
        ProxyError::RateLimited(refusal) => (
            StatusCode::TOO_MANY_REQUESTS,
            match refusal.kind {
                Refused::Rate => r#"{"message":"API rate limit exceeded"}"#,
                Refused::Quota => r#"{"message":"API quota exceeded"}"#,
                Refused::Credits => r#"{"message":"API credits exhausted"}"#,
            },
        ),
        ProxyError::UpstreamConnect => (
            StatusCode::BAD_GATEWAY,
            r#"{"message":"Could not connect to the upstream server"}"#,
        ),
        ProxyError::UpstreamTimeout => (
            StatusCode::GATEWAY_TIMEOUT,
            r#"{"message":"The upstream server did not answer in time"}"#,
        ),
        ProxyError::UpstreamBroken => (
            StatusCode::BAD_GATEWAY,
            r#"{"message":"An invalid response was received from the upstream server"}"#,
        ),
        ProxyError::HttpsRedirect { .. } => (
            StatusCode::PERMANENT_REDIRECT,
            r#"{"message":"This service is served over HTTPS"}"#,
        ),
        ProxyError::UpstreamUnresolved => (
            StatusCode::BAD_GATEWAY,
            r#"{"message":"The upstream server's host name could not be resolved"}"#,
        ),
        ProxyError::UpstreamBusy => (
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"message":"The upstream server is at its connection limit"}"#,
        ),
        ProxyError::UpstreamTls => (
            StatusCode::BAD_GATEWAY,
            r#"{"message":"The upstream server's TLS certificate was refused"}"#,
        ),
        ProxyError::AnonymousConsumerMissing => (
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"message":"The service's anonymous consumer does not exist"}"#,
        ),
    };
    let field = match error {
        ProxyError::MissingKey
        | ProxyError::DuplicateKey
        | ProxyError::InvalidKey(_)
        | ProxyError::Forbidden { anonymous: true } => {
            // An empty challenge is none (`www_authenticate: off`).
            match challenge.is_empty() {
                true => OwnField::None,
                false => OwnField::Status(WWW_AUTHENTICATE, challenge.clone()),
            }
        }
        ProxyError::MethodNotAllowed { allow } => OwnField::Status(ALLOW, allow.clone()),
        ProxyError::HttpsRedirect { location } => OwnField::Status(LOCATION, location.clone()),
        _ => OwnField::None,
    };
    let mut response = Response::new(Either::Right(ErrorBody {
        json: Some(body),
        length: body.len() as u64,
        field,
        nginx_refusal: None,
        rare: match error {
            ProxyError::RateLimited(refusal) => Some(Box::new(RareParts {
                limit: Some(refusal.clone()),
                ..RareParts::default()
            })),
            _ => None,
        },
    }));
    *response.status_mut() = status;
    response
}

/// The response for an error to a gRPC call ([`grpc_status`]): HTTP `200` with
/// `content-type: application/grpc`, `grpc-status`, `grpc-message` (the JSON form's
/// message) and no body, so that over HTTP/2 it is a trailers-only response. The
/// status's own fields stay (`WWW-Authenticate` with `16`, `Retry-After` and the limit
/// fields with `8`).
pub fn grpc_error_response(error: &ProxyError, challenge: &HeaderValue) -> Response<ProxyBody> {
    into_grpc(error_response(error, challenge), error)
}

/// `response`, the JSON answer to `error`, in gRPC's form ([`grpc_error_response`]).
pub fn into_grpc(mut response: Response<ProxyBody>, error: &ProxyError) -> Response<ProxyBody> {
    if let Either::Right(body) = response.body_mut() {
        let message = body
            .json
            .take()
            .and_then(|json| json.strip_prefix(r#"{"message":""#))
            .and_then(|json| json.strip_suffix(r#""}"#))
            .unwrap_or("");
        body.length = 0;
        body.rare_mut().grpc = Some((grpc_status::code_for(error), message));
    }
    *response.status_mut() = StatusCode::OK;
    response
}

/// An error response's JSON body and the fields that go with it. The response writer
/// writes the fields from here ([`ErrorBody::append_fields`]), so an error response has
/// an empty `HeaderMap`, which costs no allocation.
///
/// This body is one side of every [`ProxyBody`], and a response moves several times on
/// its way to the writer: what only some answers carry sits behind one pointer
/// ([`RareParts`]), so that every response, forwarded ones included, moves a small value.
#[derive(Debug)]
pub struct ErrorBody {
    /// The JSON text, until it is taken as the body's one frame.
    json: Option<&'static str>,
    /// Its length in bytes, known after it is taken.
    length: u64,
    /// The status's own field, or the caller an authz check's `200` names.
    field: OwnField,
    /// nginx's form of a refusal (`super::authz::answer`): the JSON body in
    /// `x-keygate-body`, and the status meant when nginx is sent another.
    nginx_refusal: Option<Option<StatusCode>>,
    /// The parts of a gRPC answer, a `429`, a rarer authz answer or a template.
    rare: Option<Box<RareParts>>,
}

/// What an answer of keygate's own says in its head besides its type: one field that
/// its status calls for, or the identity fields of an authz check's `200`. Both in one
/// place, as no answer has both: every answer moves the size of one.
enum OwnField {
    /// Neither.
    None,
    /// `WWW-Authenticate` (on `401`), `Allow` (on `405`) or `Location` (on `308`), and
    /// its value.
    Status(HeaderName, HeaderValue),
    /// An authz check let the caller through: its identity fields, under the names of
    /// the snapshot it was checked against (`super::authz::answer`).
    Caller(Arc<Snapshot>, Identity),
}

/// What only some error answers carry ([`ErrorBody::rare`]).
#[derive(Debug, Default)]
struct RareParts {
    /// For a gRPC call: the status and message that replace the JSON body.
    grpc: Option<(GrpcCode, &'static str)>,
    /// On `429`: `Retry-After` and the rate-limit fields.
    limit: Option<LimitRefusal>,
    /// An authz check's answer: what the front proxy is told besides the caller's
    /// identity (`super::authz::answer`).
    check: Option<AnswerFields>,
    /// A response template answering instead of the JSON text (`responses.templates`):
    /// its body, type and fields.
    template: Option<Arc<Template>>,
    /// The template's body, until it is taken as the body's one frame.
    template_body: Option<Bytes>,
}

impl std::fmt::Debug for OwnField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OwnField::None => f.write_str("None"),
            OwnField::Status(name, value) => {
                f.debug_tuple("Status").field(name).field(value).finish()
            }
            OwnField::Caller(_, caller) => f
                .debug_tuple("Caller")
                .field(&caller.consumer().name)
                .finish(),
        }
    }
}

impl ErrorBody {
    /// No body and no fields.
    pub fn empty() -> ErrorBody {
        ErrorBody {
            json: None,
            length: 0,
            field: OwnField::None,
            nginx_refusal: None,
            rare: None,
        }
    }

    /// The rare parts, made on first use.
    fn rare_mut(&mut self) -> &mut RareParts {
        self.rare.get_or_insert_with(Box::default)
    }

    /// Answers with `json` (static text of keygate's own) instead of the JSON text chosen
    /// for the error: another wording of the same message.
    pub fn reword(&mut self, json: &'static str) {
        self.json = Some(json);
        self.length = json.len() as u64;
    }

    /// Answers with `template`'s body, type and fields instead of the JSON text; the
    /// status's own fields stay when the template keeps the status (`WWW-Authenticate`
    /// on `401`, `Retry-After` and the limit fields on `429`).
    pub fn use_template(&mut self, template: Arc<Template>, status: StatusCode) {
        if status != StatusCode::UNAUTHORIZED
            && matches!(&self.field, OwnField::Status(name, _) if name == WWW_AUTHENTICATE)
        {
            self.field = OwnField::None;
        }
        self.json = None;
        self.length = template.body.len() as u64;
        let rare = self.rare_mut();
        if status != StatusCode::TOO_MANY_REQUESTS {
            rare.limit = None;
        }
        rare.template_body = (!template.body.is_empty()).then(|| template.body.clone());
        rare.template = Some(template);
    }

    /// No body, and the identity fields of `caller` (the snapshot the request was
    /// checked against, and who called; none for an anonymous call) and `fields`: the
    /// answer of an authz check that lets a request through (`super::authz::answer`).
    /// Only the rarer `fields` are boxed.
    pub fn check_answer(
        caller: Option<(Arc<Snapshot>, Identity)>,
        fields: Option<AnswerFields>,
    ) -> ErrorBody {
        ErrorBody {
            field: match caller {
                Some((snapshot, caller)) => OwnField::Caller(snapshot, caller),
                None => OwnField::None,
            },
            rare: fields.map(|fields| {
                Box::new(RareParts {
                    check: Some(fields),
                    ..RareParts::default()
                })
            }),
            ..ErrorBody::empty()
        }
    }

    /// Answers nginx's `auth_request` in its form of a refusal: the JSON body in
    /// `x-keygate-body`, and in `x-keygate-status` the status `meant` when nginx is
    /// sent another (`super::authz::answer::denied`).
    pub fn refuse_for_nginx(&mut self, meant: Option<StatusCode>) {
        self.nginx_refusal = Some(meant);
    }

    /// A JSON body of keygate's own, without fields.
    pub fn static_json(json: &'static str) -> ErrorBody {
        ErrorBody {
            json: Some(json),
            length: json.len() as u64,
            ..ErrorBody::empty()
        }
    }

    /// The JSON text, until it is taken.
    pub fn json(&self) -> Option<&'static str> {
        self.json
    }

    /// The status's own fields (`WWW-Authenticate`, `Allow`, `Location`, `Retry-After`
    /// and the rate-limit fields), as [`ErrorBody::append_fields`] writes them: for
    /// answers that carry them elsewhere (Envoy's gRPC `Check`).
    pub fn fields(&self) -> Vec<(String, Vec<u8>)> {
        let mut text = Vec::new();
        self.append_fields(&mut text);
        text.split(|&byte| byte == b'\n')
            .filter_map(|line| {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let colon = line.iter().position(|&byte| byte == b':')?;
                let name = std::str::from_utf8(&line[..colon]).ok()?;
                Some((name.to_owned(), line[colon + 1..].trim_ascii().to_vec()))
            })
            .collect()
    }

    /// The JSON text's length in bytes.
    pub fn length(&self) -> u64 {
        self.length
    }

    /// For a gRPC call, its status and message (the fields [`ErrorBody::append_fields`]
    /// writes); `None` for the JSON form.
    pub fn grpc(&self) -> Option<(GrpcCode, &'static str)> {
        self.rare.as_ref().and_then(|rare| rare.grpc)
    }

    /// The template body, until it is taken.
    fn take_template_body(&mut self) -> Option<Bytes> {
        self.rare
            .as_mut()
            .and_then(|rare| rare.template_body.take())
    }

    /// Takes the JSON text (empty once taken).
    pub fn take_whole(&mut self) -> Bytes {
        match self.json.take() {
            Some(json) => Bytes::from_static(json.as_bytes()),
            None => self.take_template_body().unwrap_or_default(),
        }
    }

    /// Appends `content-type`, the status's own field and an authz answer's fields, one
    /// `name: value\r\n` each. Called before the body is taken: nginx's form of a
    /// refusal carries the JSON text in a field too.
    pub fn append_fields(&self, out: &mut Vec<u8>) {
        let rare = self.rare.as_deref();
        let template = rare.and_then(|rare| rare.template.as_ref());
        if let Some(template) = template {
            for (name, value) in template
                .content_type
                .iter()
                .map(|v| (&CONTENT_TYPE, v))
                .chain(template.headers.iter().map(|(name, value)| (name, value)))
            {
                out.extend_from_slice(name.as_str().as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(value.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
        match self.grpc() {
            // The empty body of an authz check's `200` has no type; a template's is above.
            None if self.length == 0 || template.is_some() => {}
            None => out.extend_from_slice(b"content-type: application/json\r\n"),
            Some((code, message)) => {
                out.extend_from_slice(b"content-type: application/grpc\r\ngrpc-status: ");
                out.extend_from_slice(code.as_str().as_bytes());
                out.extend_from_slice(b"\r\ngrpc-message: ");
                grpc_status::encode_message(message, out);
                out.extend_from_slice(b"\r\n");
            }
        }
        match &self.field {
            OwnField::None => {}
            OwnField::Status(name, value) => {
                out.extend_from_slice(name.as_str().as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(value.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            OwnField::Caller(snapshot, caller) => answer::append_identity(out, snapshot, caller),
        }
        if let Some(rare) = rare {
            if let Some(refusal) = &rare.limit {
                out.extend_from_slice(b"retry-after: ");
                out.extend_from_slice(itoa::Buffer::new().format(refusal.retry_after).as_bytes());
                out.extend_from_slice(b"\r\n");
                limit_headers::append(out, &refusal.report, refusal.headers);
            }
            if let Some(check) = &rare.check {
                check.append(out);
            }
        }
        if let Some(meant) = self.nginx_refusal {
            answer::append_nginx_refusal(out, meant, self.json);
        }
    }
}

impl Body for ErrorBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let json = self
            .json
            .take()
            .map(|json| Bytes::from_static(json.as_bytes()));
        Poll::Ready(
            json.or_else(|| self.take_template_body())
                .map(|data| Ok(Frame::data(data))),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.json.is_none()
            && self
                .rare
                .as_ref()
                .is_none_or(|rare| rare.template_body.is_none())
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.length)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use http_body_util::BodyExt as _;

    use super::*;

    /// The answer the request path gives (`super::super::refusal`), with `challenge` as
    /// the service's `WWW-Authenticate`.
    fn error_response_for(
        headers: &http::HeaderMap,
        error: &ProxyError,
        challenge: &HeaderValue,
    ) -> Response<ProxyBody> {
        let responses = crate::config::Responses {
            challenge: Some(challenge.clone()),
            ..crate::config::Responses::default()
        };
        super::super::refusal::refusal_response(headers, error, &responses, true)
    }
    use crate::proxy::error::InvalidKey;

    fn fields_of(response: &Response<ProxyBody>) -> String {
        let Either::Right(error) = response.body() else {
            panic!("an error response has the gateway's own body");
        };
        let mut out = Vec::new();
        error.append_fields(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[tokio::test]
    async fn an_unknown_key_is_a_401_with_the_challenge_and_json() {
        let challenge = HeaderValue::from_static("Key realm=\"keygate\"");
        let response = error_response(&ProxyError::InvalidKey(InvalidKey::NotFound), &challenge);
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().is_empty());
        assert_eq!(
            fields_of(&response),
            "content-type: application/json\r\nwww-authenticate: Key realm=\"keygate\"\r\n"
        );
        let body = response.into_body();
        let expected = r#"{"message":"Invalid API key in request"}"#;
        assert_eq!(body.size_hint().exact(), Some(expected.len() as u64));
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], expected.as_bytes());
    }

    #[tokio::test]
    async fn a_grpc_call_is_refused_with_grpc_status_and_no_body() {
        let challenge = HeaderValue::from_static("Key realm=\"keygate\"");
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        let missing = error_response_for(&headers, &ProxyError::MissingKey, &challenge);
        assert_eq!(missing.status(), StatusCode::OK);
        assert_eq!(
            fields_of(&missing),
            "content-type: application/grpc\r\ngrpc-status: 16\r\ngrpc-message: Missing API key found in request\r\nwww-authenticate: Key realm=\"keygate\"\r\n"
        );
        let body = missing.into_body();
        assert!(body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(0));
        assert!(body.collect().await.unwrap().to_bytes().is_empty());

        let forbidden = ProxyError::Forbidden { anonymous: false };
        let refused = error_response_for(&headers, &forbidden, &challenge);
        assert_eq!(
            fields_of(&refused),
            "content-type: application/grpc\r\ngrpc-status: 7\r\ngrpc-message: You cannot consume this service\r\n"
        );
        let Either::Right(body) = refused.body() else {
            panic!("the gateway's own body");
        };
        assert_eq!(
            body.grpc().map(|(code, _)| code),
            Some(GrpcCode::PermissionDenied)
        );

        // Not a gRPC call: JSON as ever.
        let json = error_response_for(&http::HeaderMap::new(), &forbidden, &challenge);
        assert_eq!(json.status(), StatusCode::FORBIDDEN);
        assert_eq!(fields_of(&json), "content-type: application/json\r\n");
    }

    #[test]
    fn a_405_names_the_allowed_methods_and_a_403_no_challenge() {
        let challenge = HeaderValue::from_static("Key");
        let allow = HeaderValue::from_static("GET, HEAD");
        let response = error_response(&ProxyError::MethodNotAllowed { allow }, &challenge);
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            fields_of(&response),
            "content-type: application/json\r\nallow: GET, HEAD\r\n"
        );
        let forbidden = ProxyError::Forbidden { anonymous: false };
        let response = error_response(&forbidden, &challenge);
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(fields_of(&response), "content-type: application/json\r\n");
    }

    #[test]
    fn a_429_carries_retry_after_and_the_limit_fields_of_its_route() {
        use crate::limits::HeaderMode;
        use crate::proxy::limit_check::{LimitRefusal, LimitReport};
        let refusal = LimitRefusal {
            kind: crate::proxy::limit_check::Refused::Rate,
            report: LimitReport {
                name: "default".into(),
                count: 10,
                window: 60,
                remaining: 0,
                reset: 60,
            },
            retry_after: 6,
            headers: HeaderMode::Ietf,
        };
        let error = ProxyError::RateLimited(refusal.clone());
        let response = error_response(&error, &HeaderValue::from_static(""));
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            fields_of(&response),
            "content-type: application/json\r\nretry-after: 6\r\n\
             ratelimit-policy: \"default\";q=10;w=60\r\nratelimit: \"default\";r=0;t=60\r\n"
        );
        let off = ProxyError::RateLimited(LimitRefusal {
            headers: HeaderMode::Off,
            ..refusal
        });
        let response = error_response(&off, &HeaderValue::from_static(""));
        assert_eq!(
            fields_of(&response),
            "content-type: application/json\r\nretry-after: 6\r\n"
        );
    }

    #[test]
    fn the_body_is_one_frame_then_ends() {
        let response = error_response(&ProxyError::NoRoute, &HeaderValue::from_static(""));
        let mut body = response.into_body();
        assert!(!body.is_end_stream());
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let first = Pin::new(&mut body).poll_frame(&mut cx);
        assert!(matches!(first, Poll::Ready(Some(Ok(_)))));
        assert!(body.is_end_stream());
        assert!(matches!(
            Pin::new(&mut body).poll_frame(&mut cx),
            Poll::Ready(None)
        ));
    }
}
