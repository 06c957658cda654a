//! Reading from a socket into a connection's read buffer, shared by the client and the
//! upstream side: [`poll_fill`] grows the buffer by [`READ_CHUNK`] when it runs low (for
//! bodies and responses), [`poll_fill_within`] reads only into room already made (for
//! request heads, whose room is rationed by `downstream::head_room`). Generic over the
//! stream, so a plain socket's read is the same code it was before TLS.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{BufMut as _, BytesMut};
use tokio::io::AsyncRead;

/// Read buffers grow by this much when they run low.
pub const READ_CHUNK: usize = 16 * 1024;

/// Reads what `stream` has into `buffer`: the number of bytes, 0 at end of stream.
/// Through `AsyncRead`, so that a read that empties the socket also clears its readiness
/// and the next wait costs no system call.
pub fn poll_fill<S: AsyncRead + Unpin>(
    stream: &mut S,
    buffer: &mut BytesMut,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    // With nothing pending, `reserve` moves an unshared buffer back to the start of its
    // allocation: each message is then read into the same few cache lines instead of
    // walking through the whole buffer, one connection after another.
    if buffer.is_empty() || buffer.capacity() - buffer.len() < READ_CHUNK / 4 {
        buffer.reserve(READ_CHUNK);
    }
    tokio_util::io::poll_read_buf(Pin::new(stream), cx, buffer)
}

/// Reads what `stream` has into `buffer`, at most `room` bytes and no more than its spare
/// capacity: the buffer does not grow. The caller leaves at least one byte of room
/// (none would read as the end of the stream).
pub fn poll_fill_within<S: AsyncRead + Unpin>(
    stream: &mut S,
    buffer: &mut BytesMut,
    room: usize,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    debug_assert!(room > 0 && buffer.capacity() > buffer.len());
    tokio_util::io::poll_read_buf(Pin::new(stream), cx, &mut buffer.limit(room))
}
