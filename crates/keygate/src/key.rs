//! API keys as the gateway knows them: only a SHA-256, a display prefix and a stable id.

use std::fmt;

use sha2::{Digest, Sha256};

/// The SHA-256 of a key's bytes: the only form in which keys are stored or indexed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyHash(pub [u8; 32]);

impl KeyHash {
    /// Hashes a presented key.
    pub fn of(key: &[u8]) -> Self {
        KeyHash(Sha256::digest(key).into())
    }

    /// Parses `sha256:<64 lowercase or uppercase hex digits>`.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let hex = text
            .strip_prefix("sha256:")
            .ok_or("expected `sha256:` followed by 64 hex digits")?;
        if hex.len() != 64 {
            return Err("expected 64 hex digits after `sha256:`");
        }
        let mut bytes = [0u8; 32];
        for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
            let high = hex_value(pair[0]).ok_or("expected only hex digits after `sha256:`")?;
            let low = hex_value(pair[1]).ok_or("expected only hex digits after `sha256:`")?;
            bytes[i] = high << 4 | low;
        }
        Ok(KeyHash(bytes))
    }

    /// A stable id for a key that was given no id: 16 hex digits of a hash of the hash, so
    /// that the id never reveals the lookup hash itself.
    pub fn derived_id(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"keygate key id\0");
        hasher.update(self.0);
        let digest = hasher.finalize();
        let mut id = String::with_capacity(16);
        for byte in &digest[..8] {
            id.push_str(&format!("{byte:02x}"));
        }
        id
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sha256:")?;
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Prefix of generated keys. Scanners can find leaked keys by it, and custom keys may not
/// start with it.
pub const GENERATED_PREFIX: &str = "kg_";

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Generates a key: `kg_`, 32 random base62 characters, and 6 base62 characters of the
/// CRC32 of the random part (GitHub-token style), 41 characters in all.
pub fn generate() -> Result<String, getrandom::Error> {
    let mut random = String::with_capacity(32);
    let mut bytes = [0u8; 64];
    while random.len() < 32 {
        getrandom::fill(&mut bytes)?;
        // 62 * 4 = 248: bytes at or above it are dropped so every character is equally likely.
        for byte in bytes.iter().filter(|b| **b < 248) {
            if random.len() == 32 {
                break;
            }
            random.push(char::from(BASE62[usize::from(*byte % 62)]));
        }
    }
    Ok(format!("{GENERATED_PREFIX}{random}{}", checksum(&random)))
}

/// Whether a key that claims to be generated (starts with `kg_`) has the right shape and
/// checksum. Other keys are not judged. Lets the gateway drop mistyped or made-up keys
/// before any lookup.
pub fn plausible(key: &[u8]) -> bool {
    let Some(rest) = key.strip_prefix(GENERATED_PREFIX.as_bytes()) else {
        return true;
    };
    if rest.len() != 38 || !rest.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let (random, sum) = rest.split_at(32);
    std::str::from_utf8(random).is_ok_and(|random| checksum(random).as_bytes() == sum)
}

fn checksum(random: &str) -> String {
    let mut value = crc32(random.as_bytes());
    let mut digits = [b'0'; 6];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(value % 62) as usize];
        value /= 62;
    }
    digits.iter().map(|d| char::from(*d)).collect()
}

/// CRC-32 (IEEE), bit by bit: keys are short and this runs once per generated-looking key.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Characters a custom key may not hold besides spaces and controls: Gravitee's
/// `^ # % @ \ / ; = ? | ~ ,`, and the ones that are not URL-safe either (RFC 3986 has
/// no place for them unencoded): `< > " { } [ ]` and backtick.
const NOT_IN_CUSTOM_KEYS: &str = "^#%@\\/;=?|~,<>\"{}[]`";

/// The one custom-key rule (docs/admin-api.md#custom-keys; the admin API, the CLI and
/// `keygate apply` all check it here): 8 to 64 characters, visible ASCII (`!` to `~`),
/// none of `NOT_IN_CUSTOM_KEYS`, and not starting with the generated prefix. What is
/// left of the punctuation is `! $ & ' ( ) * + - . : _`. Keys that break it — shorter
/// ones from another gateway — are brought in by their hash (`key_hash`).
pub fn check_custom(key: &str) -> Result<(), String> {
    let length = key.chars().count();
    if !(8..=64).contains(&length) {
        return Err(format!(
            "a custom key has 8 to 64 characters, this one has {length}"
        ));
    }
    if let Some(bad) = key
        .chars()
        .find(|c| !c.is_ascii_graphic() || NOT_IN_CUSTOM_KEYS.contains(*c))
    {
        let bad = match bad {
            ' ' => "a space".to_owned(),
            c if c.is_ascii_graphic() => format!("`{c}`"),
            c => format!("{c:?}"),
        };
        return Err(format!(
            "a custom key may not contain {bad}: use letters, digits and ! $ & ' ( ) * + - . : _ (none of ^ # % @ \\ / ; = ? | ~ , < > \" {{ }} [ ] ` or space)"
        ));
    }
    if key.starts_with(GENERATED_PREFIX) {
        return Err(format!(
            "a custom key may not start with `{GENERATED_PREFIX}`, which marks generated keys"
        ));
    }
    Ok(())
}

/// The first characters of a key, shown in logs and listings so people can tell keys
/// apart without seeing them: a quarter of the key, at most 8 characters.
pub fn display_prefix(key: &str) -> String {
    let count = (key.chars().count() / 4).min(8);
    key.chars().take(count).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_hash_of_the_example_config() {
        let parsed = KeyHash::parse(
            "sha256:cfffcf49d8b485b308f1bbeedaf9a2cea8a07d01d1a6bb29d07e5fafd4c89a71",
        )
        .unwrap();
        assert_eq!(parsed, KeyHash::of(b"bob-key-0123456789abcdef"));
    }

    #[test]
    fn rejects_malformed_hashes() {
        assert!(KeyHash::parse("md5:abcd").is_err());
        assert!(KeyHash::parse("sha256:abcd").is_err());
        assert!(KeyHash::parse(&format!("sha256:{}", "g".repeat(64))).is_err());
    }

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        let a = KeyHash::of(b"a").derived_id();
        assert_eq!(a, KeyHash::of(b"a").derived_id());
        assert_ne!(a, KeyHash::of(b"b").derived_id());
        assert_eq!(a.len(), 16);
    }

    #[test]
    fn generated_keys_have_the_documented_shape_and_checksum() {
        let key = generate().unwrap();
        assert_eq!(key.len(), 41);
        assert!(key.starts_with("kg_"));
        assert!(plausible(key.as_bytes()));
        assert_ne!(key, generate().unwrap());
        let mut typo = key.clone().into_bytes();
        typo[10] = if typo[10] == b'a' { b'b' } else { b'a' };
        assert!(!plausible(&typo));
        assert!(!plausible(b"kg_short"));
        assert!(plausible(b"any-custom-key"));
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn custom_keys_follow_the_gravitee_rule() {
        assert!(check_custom("my-custom_key.123").is_ok());
        assert!(check_custom("short").unwrap_err().contains("8 to 64"));
        assert!(check_custom(&"x".repeat(65)).is_err());
        for bad in [
            "has space",
            "hash#tag1",
            "per%cent1",
            "at@sign12",
            "sla/sh123",
            "semi;colon",
            "equal=sign",
            "quest?ion",
            "pi|pe12345",
            "til~de1234",
            "com,ma1234",
            "back\\slash",
            "car^et1234",
            "less<than12",
            "more>than12",
            "quo\"te1234",
            "bra{ce1234",
            "bra}ce1234",
            "brack[et123",
            "brack]et123",
            "back`tick12",
            "tab\tkey1234",
            "caf\u{e9}-key-12",
        ] {
            assert!(check_custom(bad).is_err(), "{bad}");
        }
        for good in [
            "acme!key*2026",
            "a$b&c'd(e)f+g:h",
            "12345678",
            &"x".repeat(64),
        ] {
            assert!(check_custom(good).is_ok(), "{good}");
        }
        assert!(check_custom("has space1").unwrap_err().contains("a space"));
        assert!(check_custom("back`tick12").unwrap_err().contains("`"));
        assert!(check_custom("kg_notreallygenerated")
            .unwrap_err()
            .contains("kg_"));
    }

    #[test]
    fn prefix_shows_a_quarter_at_most_eight() {
        assert_eq!(display_prefix("ec8e8fa78d4e271b368d"), "ec8e8");
        assert_eq!(display_prefix(&"x".repeat(64)), "xxxxxxxx");
        assert_eq!(display_prefix("abc"), "");
    }
}
