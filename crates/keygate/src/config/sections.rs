//! Files for `keygate apply` and `keygate diff`: the configuration file's shape, limited
//! to the sections that hold entities. A serve configuration given there is refused with
//! the position of each section the commands do not take, in `validate`'s format, rather
//! than half applied.

use super::{build, Config, ConfigError, Problem};

/// The sections `keygate apply` and `keygate diff` take.
pub const ENTITY_SECTIONS: [&str; 3] = ["consumers", "services", "subscriptions"];

/// The sections only `keygate serve` reads.
const SERVE_SECTIONS: [&str; 6] = [
    "proxy",
    "defaults",
    "store",
    "cache_file",
    "admin",
    "cluster",
];

impl Config {
    /// Checks the text of a file for `command` (`apply`, `diff`) as `validate` does, and
    /// reports every section other than [`ENTITY_SECTIONS`] at its line.
    pub fn parse_entities(name: &str, text: &str, command: &str) -> Result<Config, ConfigError> {
        let invalid = |problems| ConfigError::Invalid {
            path: name.to_owned(),
            text: text.into(),
            problems,
        };
        let config = build::build_for(text, build::FileUse::Entities).map_err(invalid)?;
        let problems = serve_sections(text, command);
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(invalid(problems))
        }
    }
}

/// A problem for each serve-only section of `text`, at the line where it starts (a
/// section written in flow style, `{proxy: …}`, is reported at 1:1).
fn serve_sections(text: &str, command: &str) -> Vec<Problem> {
    let Ok(serde_json::Value::Object(top)) = serde_saphyr::from_str::<serde_json::Value>(text)
    else {
        return Vec::new();
    };
    let taken = "`consumers`, `services` and `subscriptions`";
    let mut problems: Vec<Problem> = SERVE_SECTIONS
        .iter()
        .filter(|section| top.contains_key(**section))
        .map(|section| {
            let line = text
                .lines()
                .position(|line| starts_section(line, section))
                .map_or(1, |index| index + 1);
            Problem {
                line,
                column: 1,
                message: format!(
                    "`{section}` is a setting of `keygate serve`; `keygate {command}` takes {taken} only"
                ),
            }
        })
        .collect();
    problems.sort_by_key(|p| p.line);
    problems
}

/// Whether a line opens the top-level key `name` (`name:`, `"name":`, `'name':`).
fn starts_section(line: &str, name: &str) -> bool {
    let unquoted = line
        .strip_prefix('"')
        .and_then(|rest| rest.strip_prefix(name)?.strip_prefix('"'))
        .or_else(|| {
            line.strip_prefix('\'')
                .and_then(|rest| rest.strip_prefix(name)?.strip_prefix('\''))
        })
        .or_else(|| line.strip_prefix(name));
    unquoted.is_some_and(|rest| rest.trim_start().starts_with(':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_sections_are_reported_at_their_lines() {
        let text =
            "proxy:\n  listen: 127.0.0.1:8080\nconsumers: []\nadmin: {listen: 127.0.0.1:9180}\n";
        let error = Config::parse_entities("k.yaml", text, "apply")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some(
                "k.yaml:1:1: `proxy` is a setting of `keygate serve`; `keygate apply` takes `consumers`, `services` and `subscriptions` only\n 1 | proxy:\n   | ^\n\
                 k.yaml:4:1: `admin` is a setting of `keygate serve`; `keygate apply` takes `consumers`, `services` and `subscriptions` only\n 4 | admin: {listen: 127.0.0.1:9180}\n   | ^"
            )
        );
    }

    #[test]
    fn entity_sections_pass() {
        let text = "consumers: [{name: a}]\nservices: []\n";
        assert!(Config::parse_entities("k.yaml", text, "diff").is_ok());
    }

    #[test]
    fn quoted_and_json_keys_are_found() {
        assert!(starts_section("\"store\": \"sqlite::memory:\"", "store"));
        assert!(starts_section("store : x", "store"));
        assert!(!starts_section("stores: x", "store"));
        assert!(!starts_section("  store: x", "store"));
    }
}
