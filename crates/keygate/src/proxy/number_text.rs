//! Chunk sizes written as text — lowercase hexadecimal, as HTTP/1.1 chunked bodies want —
//! straight into the output buffer, without `fmt` or a `String` of their own. Decimal
//! numbers (`Content-Length`) go through the `itoa` crate, which measured faster than the
//! function this module had for them (docs/benchmarks.md, "Numbers as text"); `itoa`
//! writes decimal only, so hexadecimal stays here.

/// Appends `value` in lowercase hexadecimal, most significant digit first.
pub fn append_hex(out: &mut Vec<u8>, value: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    // 16 digits hold u64::MAX in hexadecimal.
    let mut digits = [0u8; 16];
    let mut start = digits.len();
    let mut rest = value;
    loop {
        start -= 1;
        digits[start] = DIGITS[(rest % 16) as usize];
        rest /= 16;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_fmt_writes_them() {
        for value in [0, 1, 9, 10, 17, 255, 4096, 1_000_000, u64::MAX] {
            let mut hex = Vec::new();
            append_hex(&mut hex, value);
            assert_eq!(hex, format!("{value:x}").into_bytes());
        }
    }
}
