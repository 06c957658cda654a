//! Whether a stored text may be sent as a header value, checked as each identity field
//! is written (`super::identity_fields`): on every request, over the consumer's name,
//! the key's id and the consumer's ids. Nearly every such text is plain; eight bytes are
//! ruled plain at once, and only a text with a control byte in it (a tab, or one that
//! may not be sent) is looked at byte by byte.

/// `bytes` when they may be sent as a header value (what `HeaderValue` accepts: a tab
/// or any byte but the other control bytes and DEL); empty when they may not (an old or
/// hand-edited store), rather than failing the request.
pub(super) fn header_safe(bytes: &[u8]) -> &[u8] {
    if !has_control(bytes) || bytes.iter().all(|&byte| is_value_byte(byte)) {
        bytes
    } else {
        b""
    }
}

/// Whether `byte` may be in a header value.
fn is_value_byte(byte: u8) -> bool {
    byte == b'\t' || (byte >= b' ' && byte != 0x7f)
}

/// `0x01` in every byte of a word.
const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
/// `0x80` in every byte of a word.
const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);

/// Whether `bytes` has a byte below `0x20` or a DEL, eight bytes at a time (a text
/// shorter than eight bytes is looked at byte by byte).
fn has_control(bytes: &[u8]) -> bool {
    if bytes.len() < 8 {
        return bytes.iter().any(|&byte| byte < b' ' || byte == 0x7f);
    }
    let mut words = bytes.chunks_exact(8);
    let mut found = 0;
    for word in &mut words {
        found |= control_bits(word);
    }
    // The last eight bytes, which overlap the words above when the length is not a
    // multiple of eight.
    found |= control_bits(&bytes[bytes.len() - 8..]);
    found != 0
}

/// Not zero when the eight bytes of `word` have one below `0x20` or a DEL. A byte `b`
/// below `n` (at most `0x80`) sets its high bit in `x - n` (per byte) where it is not
/// set in `x`; a borrow can flag bytes above a flagged one, never a word that has none.
/// DEL is the byte that `x ^ 0x7f` (per byte) makes zero, a byte below one.
fn control_bits(word: &[u8]) -> u64 {
    let mut eight = [0; 8];
    eight.copy_from_slice(word);
    let word = u64::from_le_bytes(eight);
    let below_space = word.wrapping_sub(ONES * 0x20) & !word;
    let del = word ^ (ONES * 0x7f);
    let is_del = del.wrapping_sub(ONES) & !del;
    (below_space | is_del) & HIGHS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_texts_pass_and_control_bytes_other_than_tab_empty_them() {
        assert_eq!(header_safe(b"alex\tthe great"), b"alex\tthe great");
        assert_eq!(header_safe("caf\u{e9}".as_bytes()), "caf\u{e9}".as_bytes());
        assert_eq!(header_safe(b"line\nbreak"), b"");
        assert_eq!(header_safe(b"del\x7f"), b"");
        assert_eq!(header_safe(b""), b"");
        assert_eq!(header_safe(b"de15c14e4efe1e67"), b"de15c14e4efe1e67");
    }

    /// Every byte value at every position of texts of 1 to 24 bytes, in a text of
    /// plain bytes and in one of high (non-ASCII) bytes, against the byte-wise rule.
    #[test]
    fn the_word_check_agrees_with_the_byte_rule_for_every_byte_at_every_position() {
        for filler in [b'a', b' ', b'~', 0x80, 0xff] {
            for length in 1..=24 {
                for position in 0..length {
                    for byte in 0..=u8::MAX {
                        let mut text = vec![filler; length];
                        text[position] = byte;
                        let expected: &[u8] = if is_value_byte(byte) { &text } else { b"" };
                        assert_eq!(
                            header_safe(&text),
                            expected,
                            "byte {byte:#04x} at {position} of {length}, filler {filler:#04x}"
                        );
                    }
                }
            }
        }
    }

    /// Two bytes of every pair of values below `0x21` or around DEL side by side, so a
    /// borrow from one into the other is tried.
    #[test]
    fn neighbouring_control_bytes_are_found() {
        let values: Vec<u8> = (0..=0x21).chain(0x7e..=0x81).collect();
        for &low in &values {
            for &high in &values {
                for at in 0..15 {
                    let mut text = vec![b'x'; 16];
                    text[at] = low;
                    text[at + 1] = high;
                    let safe = is_value_byte(low) && is_value_byte(high);
                    assert_eq!(
                        header_safe(&text).is_empty(),
                        !safe,
                        "{low:#x} {high:#x} at {at}"
                    );
                }
            }
        }
    }
}
