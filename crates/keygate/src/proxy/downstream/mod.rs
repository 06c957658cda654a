//! The client side of the proxy: keygate's own HTTP/1.1 server connection. Each request
//! is parsed from the connection's buffer (field values are slices of it), handled in
//! the connection's task with its body read from the socket only when forwarded, and
//! answered with its head and (when it came whole, as small bodies do) its body in one
//! write. One timer per connection limits how long a client takes to send a head and to
//! take a response.
//!
//! keygate serves HTTP/1.1 and HTTP/1.0 with keep-alive and pipelining; `Expect:
//! 100-continue` is answered when the body is first read; ambiguous framing (both
//! `Content-Length` and `Transfer-Encoding`, or conflicting lengths) is refused with
//! `400`, a transfer coding other than `chunked` with `501`, a head over the limit with
//! `431`. Every request reaches the gateway in one reading: origin-form target, one
//! valid `Host` (an absolute target's authority), no field named with an `_` unless
//! configured. Upgrades (WebSocket) are not supported.

pub mod connection;
pub mod date;
pub mod head_room;
pub mod host;
pub mod request_body;
pub mod request_head;
pub mod response_writer;

pub use connection::{serve_connection, Limits};
