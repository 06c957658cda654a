//! What the `chunked` fuzz target checks on one input, shared with the corpus replay test
//! (crates/keygate/tests/fuzz_corpus.rs): the chunked decoder never panics, gives the
//! same data and the same end whatever the read boundaries, never hands on more than it
//! was given, and decodes back whatever is encoded with any valid spelling of the sizes,
//! extensions and trailers.

use bytes::BytesMut;
use keygate::proxy::chunked::{ChunkedDecoder, Decoded};

/// How a stream of bytes ended for the decoder.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// The body is complete; these bytes followed it.
    Done(Vec<u8>),
    /// The input ran out before the body ended.
    NeedMore,
    /// The framing is broken.
    Refused,
}

/// Decodes `data` as a raw stream read in different pieces, then encodes `data` as a
/// body and decodes that. Panics when a check fails.
pub fn run(data: &[u8]) {
    let (whole, end) = decode(data, &[data.len()]);
    assert!(whole.len() <= data.len(), "more data out than bytes in");
    for pieces in [&[1][..], &[2], &[3, 1], &[7, 5, 1], &[64, 1, 2]] {
        let (split, split_end) = decode(data, pieces);
        assert_eq!(
            split_end, end,
            "read in pieces of {pieces:?} it ends otherwise"
        );
        assert_eq!(split, whole, "read in pieces of {pieces:?} the data differ");
    }
    round_trip(data);
}

/// Decodes `input` fed to the decoder in pieces whose sizes cycle through `pieces`, as a
/// connection reads: it appends each piece to the buffer and decodes until more is needed.
fn decode(input: &[u8], pieces: &[usize]) -> (Vec<u8>, End) {
    let mut decoder = ChunkedDecoder::new();
    let mut buffer = BytesMut::new();
    let mut data = Vec::new();
    let mut rest = input;
    let mut sizes = pieces.iter().cycle();
    loop {
        match decoder.decode(&mut buffer) {
            Err(_) => return (data, End::Refused),
            Ok(Decoded::Data(bytes)) => {
                assert!(!bytes.is_empty(), "an empty piece of chunk data");
                data.extend_from_slice(&bytes);
            }
            Ok(Decoded::Done) => {
                assert!(decoder.is_done(), "done, but the decoder says it is not");
                let mut after = buffer.to_vec();
                after.extend_from_slice(rest);
                return (data, End::Done(after));
            }
            Ok(Decoded::NeedMore) => {
                if rest.is_empty() {
                    return (data, End::NeedMore);
                }
                let size = sizes.next().copied().unwrap_or(1).clamp(1, rest.len());
                let (piece, left) = rest.split_at(size);
                buffer.extend_from_slice(piece);
                rest = left;
            }
        }
    }
}

/// Encodes `data` as a chunked body whose chunk sizes, spellings and extensions are
/// chosen by the data itself, followed by a pipelined request; decoding it must give
/// `data` back, end, and leave the request in the buffer.
fn round_trip(data: &[u8]) {
    const NEXT: &[u8] = b"GET / HTTP/1.1\r\n";
    let mut body = Vec::new();
    let mut rest = data;
    let mut choice = data.iter().copied().cycle();
    while !rest.is_empty() {
        let pick = choice.next().unwrap_or(0);
        let size = usize::from(pick % 23 + 1).min(rest.len());
        let (chunk, left) = rest.split_at(size);
        write_size(&mut body, size, pick);
        if pick & 0x10 != 0 {
            body.extend_from_slice(b";name=\"a;b\"\t; flag");
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(chunk);
        body.extend_from_slice(b"\r\n");
        rest = left;
    }
    let pick = choice.next().unwrap_or(0);
    write_size(&mut body, 0, pick);
    body.extend_from_slice(b"\r\n");
    if pick & 0x20 != 0 {
        body.extend_from_slice(b"x-checksum: 1\r\nx-empty:\r\n");
    }
    body.extend_from_slice(b"\r\n");
    body.extend_from_slice(NEXT);
    for pieces in [&[body.len()][..], &[1], &[5, 2]] {
        let (decoded, end) = decode(&body, pieces);
        assert_eq!(
            end,
            End::Done(NEXT.to_vec()),
            "a valid body did not end: {:?}",
            String::from_utf8_lossy(&body)
        );
        assert_eq!(decoded, data, "a valid body decoded to other data");
    }
}

/// Writes `size` in hex, upper or lower case and with up to 7 leading zeros as `pick`
/// says (RFC 9112 §7.1: `chunk-size = 1*HEXDIG`).
fn write_size(body: &mut Vec<u8>, size: usize, pick: u8) {
    let zeros = usize::from(pick >> 5);
    body.resize(body.len() + zeros, b'0');
    let text = if pick & 1 == 0 {
        format!("{size:x}")
    } else {
        format!("{size:X}")
    };
    body.extend_from_slice(text.as_bytes());
}
