//! Header field names as read off the wire. `http` knows the standard names without
//! allocating, but finds them by parsing each name; any other name is copied into a new
//! buffer of its own. The names that API traffic carries on most requests and responses
//! — `Host`, the framing fields, the API key headers of APISIX, Kong and Gravitee, the
//! forwarding fields, request ids — are taken from a table instead, without a copy: a
//! name's length picks the few common names it could be, each then compared once,
//! case-insensitively.

use http::header::{HeaderName, InvalidHeaderName};

/// Declares the common names once: [`SPELLINGS`] (lowercase) and [`NAMES`], in the same
/// order, and [`BY_LENGTH`].
macro_rules! common_names {
    ($($spelled:literal,)*) => {
        /// The common names' spellings, lowercase, in [`NAMES`]'s order.
        const SPELLINGS: [&str; [$($spelled),*].len()] = [$($spelled),*];
        /// The common names (a standard one as `http`'s own constant).
        static NAMES: [HeaderName; SPELLINGS.len()] = [$(HeaderName::from_static($spelled)),*];
    };
}

common_names![
    "host",
    "apikey",
    "x-api-key",
    "content-length",
    "content-type",
    "date",
    "server",
    "connection",
    "keep-alive",
    "user-agent",
    "accept",
    "transfer-encoding",
    "accept-encoding",
    "cache-control",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-real-ip",
    "x-request-id",
    "x-gravitee-api-key",
    "authorization",
    "cookie",
    // What front proxies send with each authorization check (`authz.listen`): nginx's
    // `auth_request` as its documentation sets it up, Caddy's and Traefik's forward auth.
    "x-original-method",
    "x-original-uri",
    "x-forwarded-method",
    "x-forwarded-uri",
    "x-forwarded-port",
];

/// The longest common name's length, and one more.
const LENGTHS: usize = 19;

/// For each length, the common names of that length: bit `i` stands for `NAMES[i]`.
static BY_LENGTH: [u32; LENGTHS] = by_length();

const fn by_length() -> [u32; LENGTHS] {
    assert!(SPELLINGS.len() <= 32, "a name is one bit of a u32");
    let mut table = [0u32; LENGTHS];
    let mut index = 0;
    while index < SPELLINGS.len() {
        let length = SPELLINGS[index].len();
        assert!(length < LENGTHS, "LENGTHS holds every common name's length");
        table[length] |= 1 << index;
        index += 1;
    }
    table
}

/// The header name spelled `raw` (any case): one of the common names when it is one,
/// otherwise what `HeaderName::from_bytes` makes of it.
pub fn field_name(raw: &[u8]) -> Result<HeaderName, InvalidHeaderName> {
    match common_field_name(raw) {
        Some(name) => Ok(name),
        None => HeaderName::from_bytes(raw),
    }
}

/// The common name spelled `raw` (any case), if it is one. None of them holds an `_`.
pub fn common_field_name(raw: &[u8]) -> Option<HeaderName> {
    let mut candidates = *BY_LENGTH.get(raw.len())?;
    while candidates != 0 {
        let index = candidates.trailing_zeros() as usize;
        if spelled_in_any_case(SPELLINGS[index].as_bytes(), raw) {
            return Some(NAMES[index].clone());
        }
        candidates &= candidates - 1;
    }
    None
}

/// Whether `raw` is `spelled` in any case, a word at a time; `spelled` (a common name)
/// holds lowercase letters, digits and `-` only. `eq_ignore_ascii_case` lowers each byte
/// of both on its own, about ten instructions a byte. The last word overlaps the one
/// before it rather than being put together byte by byte.
fn spelled_in_any_case(spelled: &[u8], raw: &[u8]) -> bool {
    let length = spelled.len();
    if raw.len() != length {
        return false;
    }
    if length >= 8 {
        let mut at = 0;
        while at + 8 <= length {
            if !word_in_any_case(load8(spelled, at), load8(raw, at)) {
                return false;
            }
            at += 8;
        }
        at == length || word_in_any_case(load8(spelled, length - 8), load8(raw, length - 8))
    } else if length >= 4 {
        word_in_any_case(load4(spelled, 0), load4(raw, 0))
            && word_in_any_case(load4(spelled, length - 4), load4(raw, length - 4))
    } else {
        spelled
            .iter()
            .zip(raw)
            .all(|(&spelled, &raw)| word_in_any_case(u64::from(spelled), u64::from(raw)))
    }
}

/// The eight bytes of `bytes` from `at` (which has them) as one word.
fn load8(bytes: &[u8], at: usize) -> u64 {
    let word: [u8; 8] = bytes[at..at + 8].try_into().unwrap_or_default();
    u64::from_le_bytes(word)
}

/// The four bytes of `bytes` from `at` (which has them) as one word.
fn load4(bytes: &[u8], at: usize) -> u64 {
    let word: [u8; 4] = bytes[at..at + 4].try_into().unwrap_or_default();
    u64::from(u32::from_le_bytes(word))
}

/// Whether each byte of `raw` is the byte of `spelled` at its place, or that byte's upper
/// case where it is a lowercase letter. A lowercase letter (`a`–`z`, 0x61–0x7A) is the
/// only byte of a spelling that 0x1F lifts to 0x80 or more, with no carry into the next
/// byte (0x7A + 0x1F = 0x99): that bit, moved to 0x20, is the case bit `raw` may lack.
fn word_in_any_case(spelled: u64, raw: u64) -> bool {
    const LIFT: u64 = 0x1F1F_1F1F_1F1F_1F1F;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let letters = ((spelled + LIFT) & HIGH) >> 2;
    (raw | letters) == spelled
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn common_names_match_in_any_case_and_others_are_parsed() {
        assert_eq!(field_name(b"ApiKey").unwrap(), "apikey");
        assert_eq!(field_name(b"X-Forwarded-For").unwrap(), "x-forwarded-for");
        assert_eq!(field_name(b"Host").unwrap(), http::header::HOST);
        assert_eq!(
            field_name(b"CONTENT-LENGTH").unwrap(),
            http::header::CONTENT_LENGTH
        );
        assert_eq!(field_name(b"Content-Lengtx").unwrap(), "content-lengtx");
        for common in &NAMES {
            let upper = common.as_str().to_ascii_uppercase();
            assert_eq!(&field_name(upper.as_bytes()).unwrap(), common);
        }
        assert_eq!(
            field_name(b"X-Original-URI").unwrap(),
            "x-original-uri",
            "a check's fields are common names too"
        );
        assert_eq!(field_name(b"X-Custom").unwrap(), "x-custom");
        assert!(field_name(b"bad name").is_err());
        assert!(field_name(b"").is_err());
        assert!(
            field_name(&[b'a'; 40]).is_ok(),
            "longer than any common name"
        );
    }

    #[test]
    fn each_spelling_is_its_names_and_each_name_is_there_once() {
        let mut seen = std::collections::HashSet::new();
        for (spelled, name) in SPELLINGS.iter().zip(&NAMES) {
            assert_eq!(*spelled, name.as_str());
            assert!(seen.insert(name.clone()), "{name} twice");
        }
        assert_eq!(
            NAMES[0],
            http::header::HOST,
            "a standard name is http's own"
        );
    }

    #[test]
    fn the_length_table_finds_what_a_scan_of_every_name_finds() {
        // Every common name, every one with a letter changed or one byte more or fewer,
        // in two cases: the table's answer is the one a plain scan of the list gives.
        let scan = |raw: &[u8]| {
            NAMES
                .iter()
                .find(|name| name.as_str().as_bytes().eq_ignore_ascii_case(raw))
                .cloned()
        };
        let mut tried = 0;
        for spelled in SPELLINGS {
            let mut variants = vec![spelled.to_owned(), spelled.to_ascii_uppercase()];
            variants.push(format!("{spelled}x"));
            variants.push(spelled[1..].to_owned());
            for at in 0..spelled.len() {
                let mut changed = spelled.as_bytes().to_vec();
                changed[at] = if changed[at] == b'z' { b'y' } else { b'z' };
                variants.push(String::from_utf8(changed).unwrap());
            }
            for variant in variants {
                assert_eq!(
                    common_field_name(variant.as_bytes()),
                    scan(variant.as_bytes())
                );
                tried += 1;
            }
        }
        assert!(tried > 300);
    }

    #[test]
    fn spellings_match_in_any_case_and_nothing_else_does() {
        assert!(spelled_in_any_case(
            b"x-original-method",
            b"X-Original-METHOD"
        ));
        assert!(spelled_in_any_case(b"host", b"hOsT"));
        assert!(!spelled_in_any_case(b"host", b"hosts"));
        assert!(spelled_in_any_case(b"te", b"TE"), "shorter than a word");
        assert!(!spelled_in_any_case(b"te", b"t\x05"));
        // A byte that differs from the spelling's only in its 0x20 bit is not the same
        // where the spelling holds no letter: `-` (0x2D) is not `\r` (0x0D).
        assert!(!spelled_in_any_case(b"x-api-key", b"x\rapi-key"));
        assert!(!spelled_in_any_case(
            b"x-forwarded-for",
            b"x-forwarded\rfor"
        ));
        for spelled in SPELLINGS {
            let spelled = spelled.as_bytes();
            for at in 0..spelled.len() {
                for byte in 0..=255u8 {
                    let mut raw = spelled.to_vec();
                    raw[at] = byte;
                    assert_eq!(
                        spelled_in_any_case(spelled, &raw),
                        spelled.eq_ignore_ascii_case(&raw),
                        "{:?} at {at} as {byte:#x}",
                        std::str::from_utf8(spelled)
                    );
                }
            }
        }
    }

    #[test]
    fn no_common_name_holds_an_underscore() {
        // The request head parser looks for `_` only in names that are not common.
        assert!(SPELLINGS.iter().all(|spelled| !spelled.contains('_')));
        assert_eq!(common_field_name(b"APIKEY"), Some(NAMES[1].clone()));
        assert_eq!(common_field_name(b"x-custom"), None);
    }
}
