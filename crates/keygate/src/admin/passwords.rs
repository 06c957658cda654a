//! Account passwords: hashed with argon2id (the `argon2` crate's defaults, OWASP's
//! minimum: 19 MiB, 2 passes, 1 lane) into a PHC string with a random salt; checked in
//! constant time by the crate. An unknown account is checked against a fixed hash, so
//! that the time taken does not tell whether an account exists.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// The fewest characters a password may have.
pub const MIN_PASSWORD_LEN: usize = 12;
/// The most characters a password may have (argon2 reads all of it).
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Why a password cannot be set.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Too short or too long.
    #[error("a password has {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters, found {0}")]
    Length(usize),
    /// No random salt, or the hasher failed.
    #[error("cannot hash the password: {0}")]
    Hashing(String),
}

/// The argon2id PHC string of `password`.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    let length = password.chars().count();
    if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&length) {
        return Err(PasswordError::Length(length));
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|error| PasswordError::Hashing(error.to_string()))?;
    let salt =
        SaltString::encode_b64(&salt).map_err(|error| PasswordError::Hashing(error.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| PasswordError::Hashing(error.to_string()))
}

/// Whether `password` matches `stored` (a PHC string); `None` — no such account or no
/// password — is checked against a fixed hash and never matches.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    // The hash of a random password nobody knows, with the default parameters.
    const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$ieFxq+5ojJtkmnbpyy7N2IE6kyd8IFHqy1dcFl9B3Lg";
    let password = if password.len() > MAX_PASSWORD_LEN * 4 {
        ""
    } else {
        password
    };
    let Ok(parsed) = PasswordHash::new(stored.unwrap_or(DECOY)) else {
        return false;
    };
    let matched = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    matched && stored.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_is_argon2id_salted_and_checks_only_its_password() {
        let first = hash("correct horse battery").unwrap_or_default();
        let second = hash("correct horse battery").unwrap_or_default();
        assert!(
            first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{first}"
        );
        assert_ne!(first, second, "each hash has its own salt");
        assert!(verify("correct horse battery", Some(&first)));
        assert!(!verify("correct horse batterY", Some(&first)));
        assert!(!verify("", Some(&first)));
        assert!(!verify("anything at all", None));
        assert!(!verify("anything at all", Some("not a phc string")));
    }

    #[test]
    fn short_and_long_passwords_are_refused() {
        assert!(matches!(hash("short"), Err(PasswordError::Length(5))));
        assert!(hash(&"x".repeat(MAX_PASSWORD_LEN + 1)).is_err());
    }
}
