//! `Expr`: a compiled expression, built once when a route or plan is written and
//! evaluated for every request.

#[cfg(test)]
mod tests;

use crate::compile::Cond;
use crate::error::Error;
use crate::facts::Facts;
use crate::partial::{Residual, Verdict};

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

    /// What the expression says about a caller whatever its request: `facts` answers for
    /// the caller (consumer, client type, groups, permissions, metadata, key, plan,
    /// subscription); every request fact is treated as unknown. See [`Verdict`].
    ///
    /// ```
    /// use keygate_policy::{Expr, StaticFacts, Verdict};
    ///
    /// let allow = Expr::compile("clientType === 'A' && request.method === 'GET'").unwrap();
    /// let a = StaticFacts { client_type: Some("A".into()), ..StaticFacts::default() };
    /// let Verdict::Depends(rest) = allow.partial(&a) else { panic!() };
    /// assert_eq!(rest.facts, ["request.method"]);
    /// assert_eq!(rest.expression, "request.method === 'GET'");
    /// assert_eq!(allow.partial(&StaticFacts::default()), Verdict::No);
    /// ```
    pub fn partial<F: Facts + ?Sized>(&self, facts: &F) -> Verdict {
        match crate::parse::parse(&self.source) {
            Ok(tree) => crate::partial::partial(&self.source, &tree, facts),
            // Not reached: the source compiled once.
            Err(_) => Verdict::Depends(Residual::whole(&self.source)),
        }
    }
}
