//! Which `Host` values (and absolute targets' authorities) a request may carry: RFC 3986's
//! host syntax, narrowed to what names a server, so that the gateway routes on the same
//! host the upstream reads. nginx refuses a few shapes (`..`, `/`, `\`, spaces,
//! controls); this refuses everything that is not a plain name, an address or a port.

use std::net::Ipv6Addr;

/// Whether `value` is `host` or `host:port`: the host a name of letters, digits, `-` and
/// `_` in dot-separated labels, none empty (so no `a..b` and no trailing dot), an IPv4
/// address (which is such a name) or an IPv6 address in brackets; the port one or more
/// digits up to 65535. No user information, percent-encoding, spaces or path.
pub fn is_valid_host(value: &[u8]) -> bool {
    if value.first() == Some(&b'[') {
        return is_ip_literal_host(value);
    }
    // One pass with one table lookup per byte, as this runs for every request.
    // `after_dot` also stands for the start, so that an empty name or label is refused.
    let mut after_dot = true;
    let mut rest = value;
    while let [byte, tail @ ..] = rest {
        match BYTE_CLASS[usize::from(*byte)] {
            NAME => after_dot = false,
            DOT if !after_dot => after_dot = true,
            COLON => return !after_dot && is_port(tail),
            _ => return false,
        }
        rest = tail;
    }
    !after_dot
}

/// A byte no host name holds.
const OTHER: u8 = 0;
/// A byte of a label: letter, digit, `-`, `_`.
const NAME: u8 = 1;
/// `.`, between labels.
const DOT: u8 = 2;
/// `:`, before the port.
const COLON: u8 = 3;

/// Each byte's part in a `Host` value outside brackets.
static BYTE_CLASS: [u8; 256] = {
    let mut table = [OTHER; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            NAME
        } else if b == b'.' {
            DOT
        } else if b == b':' {
            COLON
        } else {
            OTHER
        };
        byte += 1;
    }
    table
};

/// `[address]` or `[address]:port`.
#[cold]
fn is_ip_literal_host(value: &[u8]) -> bool {
    let Some(close) = value.iter().position(|&byte| byte == b']') else {
        return false;
    };
    is_ipv6(&value[1..close])
        && match &value[close + 1..] {
            [] => true,
            [b':', digits @ ..] => is_port(digits),
            _ => false,
        }
}

/// An IPv6 address as written between brackets (no zone: RFC 9110 has none in `Host`).
fn is_ipv6(literal: &[u8]) -> bool {
    std::str::from_utf8(literal).is_ok_and(|text| text.parse::<Ipv6Addr>().is_ok())
}

/// A port: one or more digits, at most 65535.
fn is_port(digits: &[u8]) -> bool {
    !digits.is_empty()
        && digits
            .iter()
            .try_fold(0u32, |port, &byte| {
                let port = port * 10 + u32::from(byte.wrapping_sub(b'0'));
                (byte.is_ascii_digit() && port <= 65535).then_some(port)
            })
            .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_addresses_and_ports_pass() {
        for value in [
            "api.example.com",
            "API.Example.COM",
            "localhost",
            "a",
            "my_host-1.internal",
            "127.0.0.1",
            "127.0.0.1:8080",
            "api.example.com:65535",
            "api.example.com:0080",
            "[::1]",
            "[2001:db8::7]:443",
            "[::ffff:127.0.0.1]:80",
        ] {
            assert!(is_valid_host(value.as_bytes()), "{value}");
        }
    }

    #[test]
    fn everything_else_is_refused() {
        for value in [
            "",
            " ",
            "a b",
            "x/../y",
            "a/b",
            "a\\b",
            "public.example:1@private.example",
            "user@private.example",
            "a..b",
            ".a",
            "a.",
            "example.com.",
            "a:",
            ":80",
            "a:65536",
            "a:99999999999",
            "a:80:80",
            "a:8o",
            "a%2eb",
            "a\tb",
            "a\0b",
            "caf\u{e9}.example",
            "[::1",
            "[::1]x",
            "[::1]:",
            "[fe80::1%25eth0]",
            "[v1.future]",
            "[1.2.3.4]",
            "::1",
        ] {
            assert!(!is_valid_host(value.as_bytes()), "{value:?}");
        }
    }
}
