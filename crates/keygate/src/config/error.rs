//! Configuration errors that point into the file: `file:line:column: message`, the line,
//! and a caret under the fault.

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
            write!(f, "\n {gutter} | {source_line}\n {pad} | {before}^")?;
        }
        Ok(())
    }
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
}
