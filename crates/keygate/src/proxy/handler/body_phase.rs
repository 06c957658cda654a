//! Routes with `body` key sources (`super::super::body_key`): a request [`Gateway::check`]
//! routed to one, with a body of a media type a key is read from, comes back as
//! [`Checking::ReadingBody`]; [`Gateway::check_body`] reads the body whole and goes on
//! from authentication with it, and [`Gateway::forward_read`] forwards the body as read,
//! without its key fields unless the key is forwarded. Every other request never builds
//! these futures.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::request::Parts;
use http::{HeaderValue, Response};
use http_body::Body;
use http_body_util::Full;

use super::{Admission, Checked, Checking, Gateway};
use crate::access_record::AccessRecord;
use crate::proxy::body_key::read::read_whole;
use crate::proxy::body_key::{KeyBody, Media};
use crate::proxy::error::ProxyError;
use crate::proxy::forward::ClientAddress;
use crate::proxy::ProxyBody;
use crate::state::Snapshot;

/// A request routed to a route with `body` key sources, waiting for its body to be read:
/// what [`Gateway::check`] began, kept for [`Gateway::check_body`].
pub struct BodyWait {
    pub(super) snapshot: Arc<Snapshot>,
    pub(super) started: Instant,
    pub(super) record: AccessRecord,
    pub(super) wanted: BodyWanted,
}

impl BodyWait {
    /// Whether `headers` declare a body longer than the gateway reads for a key: refused
    /// `413` unread, and a client waiting on `Expect: 100-continue` is never told to go
    /// on. HTTP/1.1's body says its length itself; an HTTP/2 stream's does not, so its
    /// `Content-Length` field (which `h2` holds the stream's data to) is read here.
    pub fn declared_too_long(&self, headers: &http::HeaderMap) -> bool {
        headers
            .get(CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|text| text.parse::<u64>().ok())
            .is_some_and(|declared| declared > self.wanted.limit)
    }
}

/// How the body is to be read.
pub(in crate::proxy) struct BodyWanted {
    /// What its `Content-Type` says.
    pub(super) media: Media,
    /// The most it may hold (`proxy.max_key_body_bytes`).
    pub(super) limit: u64,
    /// How long each piece may take to come (the service's `upstream.send_timeout`, as
    /// when a body is forwarded).
    pub(super) piece_timeout: Duration,
}

impl Gateway {
    /// Reads `body` (the request's, from its connection or stream) whole for the key in
    /// it, then decides on the request as [`Gateway::check`] does, with that body: and
    /// returns the body with the decision when the request is let through. A body too
    /// long (`413`), too slow (`408`), broken off or not readable as its media type
    /// (`400`) is refused, counted and logged as any refusal. In exact mode the rate
    /// limits are taken here too ([`Gateway::settle`]).
    pub async fn check_body<B>(
        &self,
        wait: Box<BodyWait>,
        request: &mut Parts,
        client: &ClientAddress,
        body: &mut B,
    ) -> (Checked, Option<KeyBody>)
    where
        B: Body<Data = Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        let too_long = wait.declared_too_long(&request.headers);
        let BodyWait {
            snapshot,
            started,
            mut record,
            wanted,
        } = *wait;
        let read = match too_long {
            true => Err(ProxyError::RequestBodyTooLarge),
            false => read_key_body(body, &wanted).await,
        };
        let key_body = match read {
            Ok(key_body) => key_body,
            Err(error) => {
                let refused =
                    self.refuse(&snapshot, started, &mut record, &request.headers, &error);
                return (refused, None);
            }
        };
        let checked = match self.decide(snapshot, started, record, request, client, Some(&key_body))
        {
            Checking::Decided(checked) => checked,
            Checking::Limiting(admission) => self.settle(admission, request).await,
            // Not reached: with the body read, no phase asks for it again.
            Checking::ReadingBody(wait) => {
                let BodyWait {
                    snapshot,
                    started,
                    mut record,
                    ..
                } = *wait;
                let error = ProxyError::BadRequestBody;
                self.refuse(&snapshot, started, &mut record, &request.headers, &error)
            }
        };
        let admitted = matches!(checked, Checked::Admitted(_));
        (checked, admitted.then_some(key_body))
    }

    /// [`Gateway::forward`] for a request whose body [`Gateway::check_body`] read: the
    /// body goes as read, less the fields of the route's `body` sources unless the key is
    /// forwarded, with a `Content-Length` of its own (a chunked body goes with one too).
    pub async fn forward_read(
        &self,
        admission: Box<Admission>,
        request: &mut Parts,
        body: KeyBody,
        client: &ClientAddress,
    ) -> Response<ProxyBody> {
        let bytes = body.for_upstream(admission.removed_key_sources());
        let chunked = request.headers.remove(TRANSFER_ENCODING).is_some();
        let framed = chunked || request.headers.contains_key(CONTENT_LENGTH);
        if framed || !bytes.is_empty() {
            request
                .headers
                .insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
        }
        self.forward(admission, request, Full::new(bytes), client)
            .await
    }
}

/// The body as `wanted` says to read it.
async fn read_key_body<B>(body: &mut B, wanted: &BodyWanted) -> Result<KeyBody, ProxyError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    match &wanted.media {
        Media::Kind(kind) => {
            let bytes = read_whole(body, wanted.limit, wanted.piece_timeout).await?;
            KeyBody::parse(bytes, kind.clone())
        }
        _ if body.is_end_stream() => Ok(KeyBody::empty()),
        // Two `Content-Type` fields, or a `Content-Encoding`: the gateway could neither
        // read the key fields nor remove them as the upstream would find them.
        _ => Err(ProxyError::BadRequestBody),
    }
}
