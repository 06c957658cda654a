//! Secret references: `$env://NAME` and `$file://PATH` written in place of a key, a key
//! hash, the admin token, the store URL or the Redis URL, so that a configuration file can
//! be committed and shared without the secrets it uses (APISIX's `$env://`, Kong's
//! `{vault://env/…}`).
//!
//! A reference is resolved each time the file is loaded (at start, on every reload, by
//! `validate`), never written back: `keygate export` prints what the store holds. A file's
//! contents lose their trailing line break (`echo secret > file` and Docker or Kubernetes
//! secrets end with one); nothing else is trimmed. A relative path is taken from the
//! working directory, as `admin.token_file` is. A reference that cannot be resolved, or
//! that names an empty value, is an error at the reference's position.

use std::borrow::Cow;

use super::super::file::At;
use super::Checker;

/// What a value refers to, when it is a reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reference<'a> {
    /// `$env://NAME`: the environment variable `NAME`.
    Env(&'a str),
    /// `$file://PATH`: the contents of the file `PATH`.
    File(&'a str),
}

/// `text` as a reference, or `None` when it is a plain value.
fn reference(text: &str) -> Option<Reference<'_>> {
    if let Some(name) = text.strip_prefix("$env://") {
        return Some(Reference::Env(name));
    }
    text.strip_prefix("$file://").map(Reference::File)
}

/// `text` itself, or the value its reference names; `Err` says why a reference could not
/// be resolved.
fn resolve(text: &str) -> Result<Cow<'_, str>, String> {
    let value = match reference(text) {
        None => return Ok(Cow::Borrowed(text)),
        Some(Reference::Env("")) => {
            return Err(
                "`$env://` needs the variable's name, such as $env://KEYGATE_ADMIN_TOKEN"
                    .to_owned(),
            )
        }
        Some(Reference::Env(name)) => match std::env::var(name) {
            Ok(value) => value,
            Err(std::env::VarError::NotPresent) => {
                return Err(format!(
                    "`{text}`: the environment variable {name} is not set"
                ))
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(format!(
                    "`{text}`: the environment variable {name} is not UTF-8"
                ))
            }
        },
        Some(Reference::File("")) => {
            return Err(
                "`$file://` needs a file path, such as $file:///run/secrets/admin-token".to_owned(),
            )
        }
        Some(Reference::File(path)) => match std::fs::read_to_string(path) {
            Ok(mut contents) => {
                let kept = contents
                    .strip_suffix("\r\n")
                    .or_else(|| contents.strip_suffix('\n'))
                    .map_or(contents.len(), str::len);
                contents.truncate(kept);
                contents
            }
            Err(error) => return Err(format!("`{text}`: cannot read the file {path}: {error}")),
        },
    };
    match value.is_empty() {
        true => Err(format!("`{text}` names an empty value")),
        false => Ok(Cow::Owned(value)),
    }
}

impl Checker<'_> {
    /// `value`, with a secret reference replaced by what it names (at the reference's
    /// position); `None`, reported, when the reference cannot be resolved.
    pub(super) fn secret(&mut self, value: &At<String>) -> Option<At<String>> {
        match resolve(&value.value) {
            Ok(resolved) => Some(At::new(
                resolved.into_owned(),
                value.referenced,
                value.defined,
            )),
            Err(message) => {
                self.report(&value.referenced, message);
                None
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::key::KeyHash;

    #[test]
    fn plain_values_are_themselves() {
        assert_eq!(resolve("kg_plain").unwrap(), "kg_plain");
        assert_eq!(resolve("$other://x").unwrap(), "$other://x");
        assert!(matches!(
            resolve("sqlite://keygate.db").unwrap(),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn environment_references_read_the_variable() {
        // A name no other test or process sets; PATH is always set and never empty.
        let path = std::env::var("PATH").unwrap();
        assert_eq!(resolve("$env://PATH").unwrap(), path);
        let error = resolve("$env://KEYGATE_SECRET_REFS_TEST_UNSET").unwrap_err();
        assert!(
            error.contains("KEYGATE_SECRET_REFS_TEST_UNSET is not set"),
            "{error}"
        );
        assert!(resolve("$env://")
            .unwrap_err()
            .contains("needs the variable's name"));
    }

    #[test]
    fn file_references_read_the_file_without_its_line_break() {
        let folder =
            std::env::temp_dir().join(format!("keygate-secret-refs-{}", std::process::id()));
        std::fs::create_dir_all(&folder).unwrap();
        let cases = [
            ("plain", "secret-value-0123", "secret-value-0123"),
            ("newline", "secret-value-0123\n", "secret-value-0123"),
            ("crlf", "secret-value-0123\r\n", "secret-value-0123"),
            ("two", "secret-value-0123\n\n", "secret-value-0123\n"),
            ("spaces", " secret ", " secret "),
        ];
        for (name, contents, expected) in cases {
            let path = folder.join(name);
            std::fs::write(&path, contents).unwrap();
            let text = format!("$file://{}", path.display());
            assert_eq!(resolve(&text).unwrap(), expected, "{name}");
        }
        let empty = folder.join("empty");
        std::fs::write(&empty, "\n").unwrap();
        let text = format!("$file://{}", empty.display());
        assert!(resolve(&text).unwrap_err().contains("names an empty value"));
        let missing = format!("$file://{}", folder.join("missing").display());
        assert!(resolve(&missing)
            .unwrap_err()
            .contains("cannot read the file"));
        assert!(resolve("$file://")
            .unwrap_err()
            .contains("needs a file path"));
        std::fs::remove_dir_all(&folder).unwrap();
    }

    #[test]
    fn a_file_takes_its_secrets_by_reference() {
        let folder =
            std::env::temp_dir().join(format!("keygate-secret-config-{}", std::process::id()));
        std::fs::create_dir_all(&folder).unwrap();
        let token = folder.join("admin-token");
        std::fs::write(&token, "kgadmin_0123456789abcdef\n").unwrap();
        let key = folder.join("alex-key");
        std::fs::write(&key, "ec8e8fa78d4e271b368d\n").unwrap();
        let text = format!(
            "admin:\n  token: $file://{}\nconsumers:\n  - name: alex\n    keys:\n      - key: $file://{}\n",
            token.display(),
            key.display()
        );
        let config = Config::parse("t.yaml", &text).unwrap();
        assert_eq!(
            config.admin.token.as_deref(),
            Some("kgadmin_0123456789abcdef")
        );
        assert_eq!(
            config.consumers[0].keys[0].hash,
            KeyHash::of(b"ec8e8fa78d4e271b368d")
        );
        std::fs::remove_dir_all(&folder).unwrap();
    }

    #[test]
    fn an_unresolved_reference_is_an_error_at_its_position() {
        let text = "store: $env://KEYGATE_SECRET_REFS_TEST_UNSET\nconsumers:\n  - name: alex\n    keys:\n      - key_hash: $file:///nonexistent/keygate-hash\n";
        let error = Config::parse("t.yaml", text).unwrap_err().to_string();
        assert!(error.contains("t.yaml:1:8"), "{error}");
        assert!(
            error.contains("KEYGATE_SECRET_REFS_TEST_UNSET is not set"),
            "{error}"
        );
        assert!(error.contains("t.yaml:5:19"), "{error}");
        assert!(
            error.contains("cannot read the file /nonexistent/keygate-hash"),
            "{error}"
        );
        // Neither mistake is taken for another: no "exactly one of" nor a store-URL error.
        assert!(!error.contains("exactly one of"), "{error}");
        assert!(!error.contains("expected a store URL"), "{error}");
    }
}
