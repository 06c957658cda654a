//! Numbers written into a message as text — a `Content-Length`, a chunk size — straight
//! into the output buffer, without `fmt` or a `String` of their own.

/// Appends `value` in decimal.
pub fn append_decimal(out: &mut Vec<u8>, value: u64) {
    append_in_radix(out, value, 10);
}

/// Appends `value` in lowercase hexadecimal, as chunk sizes are written.
pub fn append_hex(out: &mut Vec<u8>, value: u64) {
    append_in_radix(out, value, 16);
}

/// Appends `value` written in `radix` (at most 16), most significant digit first.
fn append_in_radix(out: &mut Vec<u8>, value: u64, radix: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    // 20 digits hold u64::MAX in decimal, the longest of the radixes used.
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = value;
    loop {
        start -= 1;
        digits[start] = DIGITS[(rest % radix) as usize];
        rest /= radix;
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
            let mut decimal = Vec::new();
            append_decimal(&mut decimal, value);
            assert_eq!(decimal, value.to_string().into_bytes());
            let mut hex = Vec::new();
            append_hex(&mut hex, value);
            assert_eq!(hex, format!("{value:x}").into_bytes());
        }
    }
}
