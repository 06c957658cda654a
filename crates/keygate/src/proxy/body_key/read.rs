//! Reading a request body whole, up to a bound, for the key in it: from an HTTP/1.1
//! connection (which sends `100 Continue` when it first reads) or an HTTP/2 stream alike,
//! as an [`http_body::Body`].

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body::Body;
use http_body_util::BodyExt as _;

use crate::proxy::error::ProxyError;

/// The whole of `body`, at most `limit` bytes, each piece within `piece_timeout` of the
/// last. A body longer than `limit` is `413`, refused before a byte is asked for when
/// its declared length says so (a client waiting on `Expect: 100-continue` is then never
/// told to go on); one that stops coming `408`; one that breaks its framing or breaks
/// off `400`. Trailers are dropped.
pub async fn read_whole<B>(
    body: &mut B,
    limit: u64,
    piece_timeout: Duration,
) -> Result<Bytes, ProxyError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    if body.is_end_stream() {
        return Ok(Bytes::new());
    }
    let hint = body.size_hint();
    if hint.lower() > limit {
        return Err(ProxyError::RequestBodyTooLarge);
    }
    let room = hint.exact().unwrap_or(0).min(limit);
    let mut whole = BytesMut::with_capacity(usize::try_from(room).unwrap_or(0));
    loop {
        let frame = match tokio::time::timeout(piece_timeout, body.frame()).await {
            Err(_) => return Err(ProxyError::RequestBodyTimeout),
            Ok(None) => return Ok(whole.freeze()),
            Ok(Some(Err(error))) => {
                tracing::debug!(%error, "request body read for a key broke off");
                return Err(ProxyError::BadRequestBody);
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if (whole.len() + data.len()) as u64 > limit {
            return Err(ProxyError::RequestBodyTooLarge);
        }
        whole.extend_from_slice(&data);
    }
}
