//! Reading a `Transfer-Encoding: chunked` body (RFC 9112 §7.1) as it arrives, from a
//! client or from an upstream: chunk data is handed on as slices of the read buffer,
//! without copying; sizes, extensions and trailers are read byte by byte and dropped.

use bytes::{Buf, Bytes, BytesMut};

/// Where the decoder is in the chunked stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the hexadecimal size; `digits` counts the digits seen, leading zeros
    /// included.
    Size { size: u64, digits: u8 },
    /// After the size: extensions up to the CR, ignored.
    Extension { size: u64 },
    /// Expecting the LF that ends the size line.
    SizeLf { size: u64 },
    /// `remaining` bytes of chunk data still to come.
    Data { remaining: u64 },
    /// Expecting the CR after chunk data.
    DataCr,
    /// Expecting the LF after chunk data.
    DataLf,
    /// At the start of a trailer line (or of the final empty line).
    TrailerStart,
    /// Inside a trailer field, ignored.
    TrailerLine,
    /// Expecting the LF that ends a trailer field.
    TrailerLf,
    /// Expecting the LF of the final empty line.
    FinalLf,
    /// The body is complete.
    Done,
}

/// What one step of decoding gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// Chunk data.
    Data(Bytes),
    /// The buffer is used up before the body ended: read more.
    NeedMore,
    /// The last chunk and the trailers have been read.
    Done,
}

/// The sender broke the chunked framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid chunked encoding")]
pub struct ChunkedError;

/// A chunked body decoder, fed from a connection's read buffer.
#[derive(Debug)]
pub struct ChunkedDecoder {
    state: State,
    /// Framing bytes (sizes, extensions, trailers) read since the last chunk data.
    framing_run: usize,
}

/// At most this many significant hex digits in a chunk size (under 2^60 bytes): more is
/// an attack or a bug. Leading zeros do not count (`0000000000000005` is 5, as nginx
/// reads it); they are framing bytes, bounded like the others.
const MAX_SIZE_DIGITS: u32 = 15;

/// At most this many framing bytes in a row (extensions and trailers are read and
/// dropped): a sender that goes on longer is refused rather than read forever.
const MAX_FRAMING_RUN: usize = 64 * 1024;

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder::new()
    }
}

impl ChunkedDecoder {
    /// A decoder at the start of a body.
    pub fn new() -> ChunkedDecoder {
        ChunkedDecoder {
            state: State::Size { size: 0, digits: 0 },
            framing_run: 0,
        }
    }

    /// Whether the whole body has been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes framing from `buffer` up to the next chunk data, the end of the body, or
    /// the end of the buffer. Data is split off `buffer` without copying.
    pub fn decode(&mut self, buffer: &mut BytesMut) -> Result<Decoded, ChunkedError> {
        loop {
            match self.state {
                State::Done => return Ok(Decoded::Done),
                State::Data { remaining } => {
                    if buffer.is_empty() {
                        return Ok(Decoded::NeedMore);
                    }
                    let available = u64::try_from(buffer.len()).unwrap_or(u64::MAX);
                    let take = remaining.min(available);
                    self.state = if take == remaining {
                        State::DataCr
                    } else {
                        State::Data {
                            remaining: remaining - take,
                        }
                    };
                    // `take` is at most `buffer.len()`, so it fits in usize.
                    let data = buffer.split_to(usize::try_from(take).unwrap_or(buffer.len()));
                    self.framing_run = 0;
                    return Ok(Decoded::Data(data.freeze()));
                }
                _ => {}
            }
            let Some(&byte) = buffer.first() else {
                return Ok(Decoded::NeedMore);
            };
            buffer.advance(1);
            self.framing_run += 1;
            if self.framing_run > MAX_FRAMING_RUN {
                return Err(ChunkedError);
            }
            self.state = next(self.state, byte)?;
        }
    }
}

/// One framing byte.
fn next(state: State, byte: u8) -> Result<State, ChunkedError> {
    Ok(match (state, byte) {
        (State::Size { size, digits }, _) if byte.is_ascii_hexdigit() => {
            // `size` already has the most significant digits allowed: one more would
            // reach 2^60, and in the end overflow.
            if size >> (4 * (MAX_SIZE_DIGITS - 1)) != 0 {
                return Err(ChunkedError);
            }
            let digit = u64::from(hex_value(byte));
            State::Size {
                size: size * 16 + digit,
                digits: digits.saturating_add(1),
            }
        }
        (State::Size { size, digits }, b'\r') if digits > 0 => State::SizeLf { size },
        (State::Size { size, digits }, b';' | b' ' | b'\t') if digits > 0 => {
            State::Extension { size }
        }
        (State::Extension { size }, b'\r') => State::SizeLf { size },
        (State::Extension { .. }, b'\n') => return Err(ChunkedError),
        (State::Extension { size }, _) => State::Extension { size },
        (State::SizeLf { size: 0 }, b'\n') => State::TrailerStart,
        (State::SizeLf { size }, b'\n') => State::Data { remaining: size },
        (State::DataCr, b'\r') => State::DataLf,
        (State::DataLf, b'\n') => State::Size { size: 0, digits: 0 },
        (State::TrailerStart, b'\r') => State::FinalLf,
        (State::TrailerStart | State::TrailerLine, b'\n') => return Err(ChunkedError),
        (State::TrailerLine, b'\r') => State::TrailerLf,
        (State::TrailerStart | State::TrailerLine, _) => State::TrailerLine,
        (State::TrailerLf, b'\n') => State::TrailerStart,
        (State::FinalLf, b'\n') => State::Done,
        _ => return Err(ChunkedError),
    })
}

fn hex_value(byte: u8) -> u8 {
    match byte {
        b'0'..=b'9' => byte - b'0',
        b'a'..=b'f' => byte - b'a' + 10,
        _ => byte - b'A' + 10,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Decodes `input` fed in pieces of `step` bytes; the data and whether it ended.
    fn decode_in_steps(input: &[u8], step: usize) -> Result<(Vec<u8>, bool), ChunkedError> {
        let mut decoder = ChunkedDecoder::new();
        let mut buffer = BytesMut::new();
        let mut data = Vec::new();
        for piece in input.chunks(step) {
            buffer.extend_from_slice(piece);
            loop {
                match decoder.decode(&mut buffer)? {
                    Decoded::Data(bytes) => data.extend_from_slice(&bytes),
                    Decoded::NeedMore => break,
                    Decoded::Done => return Ok((data, true)),
                }
            }
        }
        Ok((data, decoder.is_done()))
    }

    #[test]
    fn chunks_are_joined_whatever_the_read_boundaries() {
        let input = b"5\r\nhello\r\n6;name=value\r\n world\r\nA \r\n0123456789\r\n0\r\nx-trailer: 1\r\n\r\n";
        for step in 1..=input.len() {
            let (data, done) = decode_in_steps(input, step).unwrap();
            assert_eq!(data, b"hello world0123456789", "step {step}");
            assert!(done, "step {step}");
        }
    }

    #[test]
    fn bytes_after_the_body_stay_in_the_buffer() {
        let mut decoder = ChunkedDecoder::new();
        let mut buffer = BytesMut::from(&b"2\r\nhi\r\n0\r\n\r\nHTTP/1.1"[..]);
        assert_eq!(
            decoder.decode(&mut buffer).unwrap(),
            Decoded::Data(Bytes::from_static(b"hi"))
        );
        assert_eq!(decoder.decode(&mut buffer).unwrap(), Decoded::Done);
        assert_eq!(&buffer[..], b"HTTP/1.1");
    }

    #[test]
    fn an_unfinished_body_asks_for_more() {
        let (data, done) = decode_in_steps(b"5\r\nhel", 3).unwrap();
        assert_eq!(data, b"hel");
        assert!(!done);
    }

    #[test]
    fn endless_extensions_or_trailers_are_refused() {
        let mut extension = b"1;".to_vec();
        extension.resize(MAX_FRAMING_RUN + 10, b'a');
        assert_eq!(decode_in_steps(&extension, 4096), Err(ChunkedError));
        let mut trailers = b"0\r\n".to_vec();
        while trailers.len() <= MAX_FRAMING_RUN {
            trailers.extend_from_slice(b"x-trailer: 1\r\n");
        }
        assert_eq!(decode_in_steps(&trailers, 4096), Err(ChunkedError));
    }

    #[test]
    fn leading_zeros_in_a_size_are_not_significant() {
        let input = b"0000000000000005\r\nhello\r\n00000000000000000000\r\n\r\n";
        assert_eq!(
            decode_in_steps(input, 3).unwrap(),
            (b"hello".to_vec(), true)
        );
        let largest = b"0fffffffffffffff\r\n";
        assert_eq!(decode_in_steps(largest, 4).unwrap(), (Vec::new(), false));
    }

    #[test]
    fn broken_framing_is_refused() {
        for input in [
            &b"x\r\n"[..],
            b"\r\n",
            b"5\r\nhelloXX",
            b"5\nhello\r\n",
            b"1234567890abcdef0\r\n",
            b"1000000000000000\r\n",
            b"00001000000000000000\r\n",
            b"0\r\nbad\ntrailer\r\n\r\n",
            b"0\r\n\rX",
        ] {
            assert_eq!(
                decode_in_steps(input, input.len()),
                Err(ChunkedError),
                "{input:?}"
            );
        }
    }
}
