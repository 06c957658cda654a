//! A small, safe, JavaScript-looking expression language for authorization rules.
//!
//! Routes use it to decide who may call them (`allow: "groups.admin || clientType === 'A'"`)
//! and plans to decide whom they apply to (`selection_rule`). An expression is compiled once,
//! when the configuration is written, and evaluated for each request without allocating.
//!
//! The pipeline is lex → parse ([`parse`], giving an [`ast::Node`]) → check names and types
//! → compile to a small typed tree → evaluate ([`Expr::eval`]) against [`Facts`].
//! The language itself is described in the project's `docs/expressions.md`.
//!
//! ```
//! use keygate_policy::{render_errors, Expr, StaticFacts};
//!
//! let allow = Expr::compile("groups.admin && !isBackoffice").unwrap();
//! let facts = StaticFacts { groups: vec!["admin".into()], ..StaticFacts::default() };
//! assert!(allow.eval(&facts));
//!
//! let source = "clientType === 'A' ||";
//! let errors = Expr::compile(source).unwrap_err();
//! assert!(render_errors(source, &errors).starts_with("1:22: expected an expression"));
//! ```

pub mod ast;
mod check;
mod compile;
mod error;
mod eval;
mod expr;
mod facts;
mod lex;
pub mod limits;
mod names;
mod parse;
mod partial;
mod print;
mod render;
mod suggest;

pub use error::{Error, ErrorKind, Span};
pub use expr::Expr;
pub use facts::{Facts, StaticFacts};
pub use parse::parse;
pub use partial::{Residual, Verdict};
pub use render::render_errors;
