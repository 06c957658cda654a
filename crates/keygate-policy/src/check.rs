//! The checker: resolves names, checks types and builds the compiled form in one pass.
//!
//! Every error found is collected; a sub-expression that already failed becomes
//! [`Value::Invalid`], which silences errors that would only be its consequences.

mod ops;
#[cfg(test)]
mod tests;

use crate::ast::{Node, NodeKind, UnaryOp};
use crate::compile::{Cond, Num, SetKind, Text};
use crate::error::{Error, ErrorKind, Span};
use crate::names::{self, Function, MapKind, ObjectKind, FUNCTIONS, VARIABLES};
use crate::suggest::did_you_mean;

/// What a checked sub-expression is: its type, and for values that can be evaluated, the
/// compiled node that evaluates it.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Bool(Cond),
    /// A string, or null when a lookup finds nothing.
    Text(Text),
    /// The literal `null`.
    Null,
    Num(f64),
    /// A number looked up in the request facts (absent when the caller has none).
    NumFact(Num),
    List(List),
    Set(SetKind),
    Map(MapKind),
    Object(ObjectKind),
    /// An error has been reported for this sub-expression.
    Invalid,
}

/// A checked list literal; all elements are literals of one type.
#[derive(Debug, Clone)]
pub(crate) enum List {
    Empty,
    Text(Vec<Box<str>>),
    Num(Vec<f64>),
    Bool(Vec<bool>),
}

impl Value {
    /// The type, as said in messages ("a string").
    fn describe(&self) -> &'static str {
        match self {
            Value::Bool(_) => "a boolean",
            Value::Text(_) => "a string",
            Value::Null => "null",
            Value::Num(_) | Value::NumFact(_) => "a number",
            Value::List(_) => "a list",
            Value::Set(_) => "a set of names",
            Value::Map(_) => "a map of names to strings",
            Value::Object(_) => "an object",
            Value::Invalid => "invalid",
        }
    }
}

/// Checks a parsed expression and compiles it; the whole expression must be boolean.
pub(crate) fn check(source: &str, root: &Node) -> Result<Cond, Vec<Error>> {
    let mut checker = Checker {
        source,
        errors: Vec::new(),
    };
    let cond = match checker.value(root) {
        Value::Bool(cond) => Some(cond),
        Value::Invalid => None,
        other => {
            let what = checker.what(root, &other);
            let hint = match other {
                Value::Text(_) | Value::Null => "; compare it, as in `clientType === 'A'`",
                Value::Set(_) => "; test membership, as in `groups.admin` or `'admin' in groups`",
                _ => "",
            };
            checker.error(
                ErrorKind::Type,
                root.span,
                format!("the expression must be true or false, but {what}{hint}"),
            );
            None
        }
    };
    match cond {
        Some(cond) if checker.errors.is_empty() => Ok(cond),
        _ => {
            let mut errors = checker.errors;
            if errors.is_empty() {
                errors.push(Error::new(ErrorKind::Type, root.span, "invalid expression"));
            }
            errors.sort_by_key(|e| e.span.start);
            Err(errors)
        }
    }
}

pub(crate) struct Checker<'s> {
    source: &'s str,
    errors: Vec<Error>,
}

impl Checker<'_> {
    fn error(&mut self, kind: ErrorKind, span: Span, message: String) {
        self.errors.push(Error::new(kind, span, message));
    }

    /// "`clientType` is a string": the operand quoted when short, for messages.
    fn what(&self, node: &Node, value: &Value) -> String {
        let text = self
            .source
            .get(node.span.start..node.span.end)
            .unwrap_or("");
        if !text.is_empty() && text.chars().count() <= 40 && !text.contains('\n') {
            format!("`{text}` is {}", value.describe())
        } else {
            format!("this is {}", value.describe())
        }
    }

    /// Checks one node.
    pub(crate) fn value(&mut self, node: &Node) -> Value {
        match &node.kind {
            NodeKind::Str(s) => Value::Text(Text::Lit(s.as_str().into())),
            NodeKind::Num(n) => Value::Num(*n),
            NodeKind::Bool(b) => Value::Bool(Cond::Const(*b)),
            NodeKind::Null => Value::Null,
            NodeKind::List(items) => self.list(items),
            NodeKind::Ident(name) => self.variable(name, node.span),
            NodeKind::Member(base, name) => {
                let base_value = self.value(base);
                self.member(base_value, base, &name.text, name.span)
            }
            NodeKind::Index(base, index) => {
                let base_value = self.value(base);
                if let NodeKind::Str(name) = &index.kind {
                    return self.member(base_value, base, name, index.span);
                }
                let index_value = self.value(index);
                if !matches!(base_value, Value::Invalid) && !matches!(index_value, Value::Invalid) {
                    self.error(
                        ErrorKind::Type,
                        index.span,
                        "an index must be a string literal, as in `request.headers['x-tenant']`"
                            .to_string(),
                    );
                }
                Value::Invalid
            }
            NodeKind::Call(name, args) => self.call(&name.text, name.span, args, node.span),
            NodeKind::Unary(UnaryOp::Not, operand) => match self.value(operand) {
                Value::Bool(c) => Value::Bool(Cond::not(c)),
                Value::Invalid => Value::Invalid,
                other => {
                    let what = self.what(operand, &other);
                    self.error(
                        ErrorKind::Type,
                        operand.span,
                        format!("`!` needs a boolean, but {what}"),
                    );
                    Value::Invalid
                }
            },
            NodeKind::Binary(op, left, right) => self.binary(*op, node, left, right),
        }
    }

    fn variable(&mut self, name: &str, span: Span) -> Value {
        if let Some(value) = names::variable(name) {
            return value;
        }
        let message = if let Some(f) = Function::named(name) {
            format!("`{name}` is a function; call it as `{}`", f.signature())
        } else if let Some(s) = did_you_mean(name, VARIABLES) {
            format!("unknown variable `{name}`; did you mean `{s}`?")
        } else {
            format!(
                "unknown variable `{name}`; the variables are {}",
                VARIABLES.join(", ")
            )
        };
        self.error(ErrorKind::UnknownVariable, span, message);
        Value::Invalid
    }

    /// `base.name` or `base['name']`.
    fn member(&mut self, base_value: Value, base: &Node, name: &str, span: Span) -> Value {
        match base_value {
            Value::Invalid => Value::Invalid,
            Value::Set(set) => Value::Bool(Cond::InSet(set, Text::Lit(name.into()))),
            Value::Map(map) => Value::Text(map.get(name)),
            Value::Object(object) => {
                if let Some(value) = object.member(name) {
                    return value;
                }
                let of = self
                    .source
                    .get(base.span.start..base.span.end)
                    .unwrap_or("");
                let members = object.members();
                let message = match did_you_mean(name, members) {
                    Some(s) => format!("`{of}` has no member `{name}`; did you mean `{s}`?"),
                    None => format!(
                        "`{of}` has no member `{name}`; its members are {}",
                        members.join(", ")
                    ),
                };
                self.error(ErrorKind::UnknownMember, span, message);
                Value::Invalid
            }
            other => {
                let what = self.what(base, &other);
                self.error(
                    ErrorKind::UnknownMember,
                    span,
                    format!("{what} and has no member `{name}`"),
                );
                Value::Invalid
            }
        }
    }

    /// A list literal: literals of one type only.
    fn list(&mut self, items: &[Node]) -> Value {
        let mut list = List::Empty;
        let mut ok = true;
        for item in items {
            let problem = match (&mut list, &item.kind) {
                (List::Empty, NodeKind::Str(s)) => {
                    list = List::Text(vec![s.as_str().into()]);
                    None
                }
                (List::Empty, NodeKind::Num(n)) => {
                    list = List::Num(vec![*n]);
                    None
                }
                (List::Empty, NodeKind::Bool(b)) => {
                    list = List::Bool(vec![*b]);
                    None
                }
                (List::Text(v), NodeKind::Str(s)) => {
                    v.push(s.as_str().into());
                    None
                }
                (List::Num(v), NodeKind::Num(n)) => {
                    v.push(*n);
                    None
                }
                (List::Bool(v), NodeKind::Bool(b)) => {
                    v.push(*b);
                    None
                }
                (_, NodeKind::Null) => Some(
                    "a list cannot contain null; test for null with `=== null` instead".to_string(),
                ),
                (_, NodeKind::Str(_) | NodeKind::Num(_) | NodeKind::Bool(_)) => Some(
                    "the elements of a list must all be strings, all numbers or all booleans"
                        .to_string(),
                ),
                _ => Some(
                    "the elements of a list must be literals (strings, numbers or booleans)"
                        .to_string(),
                ),
            };
            if let Some(message) = problem {
                self.error(ErrorKind::Type, item.span, message);
                ok = false;
            }
        }
        if ok {
            Value::List(list)
        } else {
            Value::Invalid
        }
    }

    /// A function call.
    fn call(&mut self, name: &str, name_span: Span, args: &[Node], span: Span) -> Value {
        let values: Vec<Value> = args.iter().map(|a| self.value(a)).collect();
        let Some(function) = Function::named(name) else {
            let message = if names::variable(name).is_some() {
                format!("`{name}` is a variable, not a function")
            } else if let Some(s) = did_you_mean(name, FUNCTIONS) {
                format!("unknown function `{name}`; did you mean `{s}`?")
            } else {
                format!(
                    "unknown function `{name}`; the functions are {}",
                    FUNCTIONS.join(", ")
                )
            };
            self.error(ErrorKind::UnknownFunction, name_span, message);
            return Value::Invalid;
        };
        if args.len() != function.arity() {
            self.error(
                ErrorKind::Arity,
                span,
                format!(
                    "`{name}` takes {} arguments, as in `{}`, but is given {}",
                    function.arity(),
                    function.signature(),
                    args.len()
                ),
            );
            return Value::Invalid;
        }
        let mut values = values.into_iter();
        let (Some(first), Some(second)) = (values.next(), values.next()) else {
            return Value::Invalid;
        };
        let (a, b) = (&args[0], &args[1]);
        match function {
            Function::StartsWith | Function::EndsWith => {
                let x = self.text_arg(name, first, a);
                let y = self.text_arg(name, second, b);
                match (x, y) {
                    (Some(x), Some(y)) if function == Function::StartsWith => {
                        Value::Bool(Cond::StartsWith(x, y))
                    }
                    (Some(x), Some(y)) => Value::Bool(Cond::EndsWith(x, y)),
                    _ => Value::Invalid,
                }
            }
            Function::Contains => match first {
                Value::List(list) => self.in_list(second, b, list, span),
                Value::Set(set) => match self.text_arg(name, second, b) {
                    Some(x) => Value::Bool(Cond::InSet(set, x)),
                    None => Value::Invalid,
                },
                first => {
                    let x = self.text_arg(name, first, a);
                    let y = self.text_arg(name, second, b);
                    match (x, y) {
                        (Some(x), Some(y)) => Value::Bool(Cond::Contains(x, y)),
                        _ => Value::Invalid,
                    }
                }
            },
            Function::Matches => {
                let x = self.text_arg(name, first, a);
                let regex = self.regex(b);
                match (x, regex) {
                    (Some(x), Some(regex)) => Value::Bool(Cond::Matches(x, Box::new(regex))),
                    _ => Value::Invalid,
                }
            }
        }
    }

    /// A string argument of function `function` (null is accepted and makes it false).
    fn text_arg(&mut self, function: &str, value: Value, node: &Node) -> Option<Text> {
        match value {
            Value::Text(t) => Some(t),
            Value::Null => Some(Text::Null),
            Value::Invalid => None,
            other => {
                let what = self.what(node, &other);
                self.error(
                    ErrorKind::Type,
                    node.span,
                    format!("`{function}` needs a string here, but {what}"),
                );
                None
            }
        }
    }

    /// The pattern of `matches`: a string literal holding a valid regular expression.
    fn regex(&mut self, node: &Node) -> Option<regex::Regex> {
        let NodeKind::Str(pattern) = &node.kind else {
            self.error(
                ErrorKind::Type,
                node.span,
                "the pattern of `matches` must be a string literal, as in `matches(s, '^a+$')`"
                    .to_string(),
            );
            return None;
        };
        let built = regex::RegexBuilder::new(pattern)
            .size_limit(256 * 1024)
            .dfa_size_limit(256 * 1024)
            .build();
        match built {
            Ok(regex) => Some(regex),
            Err(e) => {
                let detail = e.to_string();
                let last = detail
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("")
                    .trim();
                let last = last.strip_prefix("error: ").unwrap_or(last);
                self.error(
                    ErrorKind::Regex,
                    node.span,
                    format!("invalid regular expression: {last}"),
                );
                None
            }
        }
    }
}
