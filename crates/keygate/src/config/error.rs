//! Configuration errors that point into the file: `file:line:column: message`, the line,
//! and a caret under the fault.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// One thing wrong with a configuration file, at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong and what was expected.
    pub message: String,
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read the file: {source}")]
    Read {
        /// The file as named by the user.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file was read but is not a valid configuration.
    #[error("{}", render(path, text, problems))]
    Invalid {
        /// The file as named by the user.
        path: String,
        /// The file's text, to show the faulty lines.
        text: Arc<str>,
        /// Every problem found, in file order.
        problems: Vec<Problem>,
    },
}

impl ConfigError {
    /// The problems found, empty for a read error.
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Read { .. } => &[],
            ConfigError::Invalid { problems, .. } => problems,
        }
    }
}

fn render(path: &str, text: &str, problems: &[Problem]) -> String {
    let mut out = String::new();
    for (i, problem) in problems.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(
            &RenderedProblem {
                path,
                text,
                problem,
            }
            .to_string(),
        );
    }
    out
}

struct RenderedProblem<'a> {
    path: &'a str,
    text: &'a str,
    problem: &'a Problem,
}

impl fmt::Display for RenderedProblem<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Problem {
            line,
            column,
            message,
        } = self.problem;
        write!(f, "{}:{line}:{column}: {message}", self.path)?;
        if let Some(source_line) = self.text.lines().nth(line.saturating_sub(1)) {
            let gutter = line.to_string();
            let pad = " ".repeat(gutter.len());
            let before: String = source_line
                .chars()
                .take(column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let shown = without_password(source_line);
            write!(f, "\n {gutter} | {shown}\n {pad} | {before}^")?;
        }
        Ok(())
    }
}

/// `line` with the password of a `scheme://user:password@host` URL in it shown as `***`,
/// so that an error on a store URL's line does not print the password.
fn without_password(line: &str) -> Cow<'_, str> {
    let Some(scheme_end) = line.find("://") else {
        return Cow::Borrowed(line);
    };
    let authority_start = scheme_end + 3;
    let rest = &line[authority_start..];
    let ends_authority = |c: char| matches!(c, '/' | '?' | '#' | '"' | '\'') || c.is_whitespace();
    let authority = &rest[..rest.find(ends_authority).unwrap_or(rest.len())];
    let Some(at) = authority.rfind('@') else {
        return Cow::Borrowed(line);
    };
    let Some(colon) = authority[..at].find(':') else {
        return Cow::Borrowed(line);
    };
    let user_end = authority_start + colon + 1;
    let host_start = authority_start + at;
    Cow::Owned(format!("{}***{}", &line[..user_end], &line[host_start..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_position_line_and_caret() {
        let error = ConfigError::Invalid {
            path: "k.yaml".into(),
            text: "a: 1\nbb: x\n".into(),
            problems: vec![Problem {
                line: 2,
                column: 5,
                message: "expected a number".into(),
            }],
        };
        assert_eq!(
            error.to_string(),
            "k.yaml:2:5: expected a number\n 2 | bb: x\n   |     ^"
        );
    }

    #[test]
    fn a_password_in_a_url_is_not_shown() {
        let error = ConfigError::Invalid {
            path: "k.yaml".into(),
            text: "store: \"postgres://keygate:s3cr@t@db:5432/gate?sslmode=require\"\n".into(),
            problems: vec![Problem {
                line: 1,
                column: 8,
                message: "no TLS".into(),
            }],
        };
        assert_eq!(
            error.to_string(),
            "k.yaml:1:8: no TLS\n 1 | store: \"postgres://keygate:***@db:5432/gate?sslmode=require\"\n   |        ^"
        );
        for line in [
            "store: postgres://keygate@db/gate",
            "upstream: http://a:80/x",
            "a: b",
        ] {
            assert_eq!(without_password(line), line);
        }
    }
}
