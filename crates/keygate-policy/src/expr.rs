//! `Expr`: a compiled expression, built once when a route or plan is written and
//! evaluated for every request.

#[cfg(test)]
mod tests;

use crate::compile::Cond;
use crate::error::Error;
use crate::facts::Facts;

/// A compiled expression: checked, immutable, `Send + Sync`, cheap to evaluate.
///
/// ```
/// use keygate_policy::{Expr, StaticFacts};
///
/// let expr = Expr::compile("clientType === 'A' || clientType === 'B'").unwrap();
/// let facts = StaticFacts { client_type: Some("B".into()), ..StaticFacts::default() };
/// assert!(expr.eval(&facts));
/// assert!(!expr.eval(&StaticFacts::default())); // anonymous: clientType is null
/// ```
#[derive(Debug, Clone)]
pub struct Expr {
    source: Box<str>,
    cond: Cond,
}

impl Expr {
    /// Parses, checks and compiles `source`.
    ///
    /// On failure returns every error found (syntax errors after recovery, or all name and
    /// type errors of a well-formed expression), sorted by position; render them with
    /// [`crate::render_errors`].
    pub fn compile(source: &str) -> Result<Expr, Vec<Error>> {
        let tree = crate::parse::parse(source)?;
        let cond = crate::check::check(source, &tree)?;
        Ok(Expr {
            source: source.into(),
            cond,
        })
    }

    /// The source text the expression was compiled from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates the expression against the facts of one request.
    ///
    /// Never panics and never allocates: it only reads literals stored in the expression
    /// and borrowed answers from `facts`. The one caveat is `matches`, whose regular
    /// expression engine may allocate its reusable scratch space the first time it runs on
    /// a thread.
    pub fn eval<F: Facts + ?Sized>(&self, facts: &F) -> bool {
        crate::eval::eval(&self.cond, facts)
    }
}
