//! The fixed limits that keep compiling and evaluating an expression bounded.
//!
//! Every limit is checked while the expression is compiled, so a route or plan whose
//! expression is too large is refused when it is written, never when a request arrives.

/// The longest accepted source text, in bytes.
///
/// Authorization rules are one-liners; the limit keeps error output and parse work small.
pub const MAX_SOURCE_LEN: usize = 4096;

/// The deepest accepted nesting: parentheses, brackets, calls, `!` and operands of
/// operators all count one level each, except that a chain of the same `&&` or `||`
/// (`a || b || c`) counts as a single level.
///
/// Evaluation recurses at most this deep, which bounds its stack use.
pub const MAX_DEPTH: usize = 64;

/// The most elements a list literal (`['a', 'b']`) may have.
pub const MAX_LIST_LEN: usize = 256;

/// The most syntax-tree nodes (literals, names, operators, calls...) an expression may have.
pub const MAX_NODES: usize = 1024;

/// The most errors reported for one expression; parsing stops after that many.
pub const MAX_ERRORS: usize = 32;
