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
    fn prefix_shows_a_quarter_at_most_eight() {
        assert_eq!(display_prefix("ec8e8fa78d4e271b368d"), "ec8e8");
        assert_eq!(display_prefix(&"x".repeat(64)), "xxxxxxxx");
        assert_eq!(display_prefix("abc"), "");
    }
}
