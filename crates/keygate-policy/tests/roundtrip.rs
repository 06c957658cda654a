//! Property tests: printed trees parse back to the same tree, combinations of conditions
//! evaluate like their parts, and no input makes compiling or evaluating panic.
#![allow(clippy::unwrap_used)]

use keygate_policy::ast::{BinaryOp, Name, Node, NodeKind, UnaryOp};
use keygate_policy::{parse, Expr, Span, StaticFacts};
use proptest::prelude::*;

fn node(kind: NodeKind) -> Node {
    Node::new(kind, Span::default())
}

fn name(text: String) -> Name {
    Name {
        text,
        span: Span::default(),
    }
}

/// A name usable as a variable or function: not a keyword.
fn ident() -> impl Strategy<Value = String> {
    "[a-zA-Z_$][a-zA-Z0-9_$]{0,7}".prop_filter("keywords are not names", |s| {
        !matches!(s.as_str(), "true" | "false" | "null" | "in")
    })
}

/// A member name after `.`: keywords are allowed there.
fn member() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z_$][a-zA-Z0-9_$]{0,7}",
        Just("in".to_string()),
        Just("null".to_string())
    ]
}

fn string() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            any::<char>(),
            Just('\''),
            Just('"'),
            Just('\\'),
            Just('\n'),
            Just('\t'),
            Just('a'),
        ],
        0..6,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        (0u64..10_000_000, 0i32..6).prop_map(|(m, e)| m as f64 / 10f64.powi(e)),
        (0u64..u64::MAX).prop_map(|m| m as f64),
        (1.0e-30f64..1.0e30f64),
    ]
}

fn binary_op() -> impl Strategy<Value = BinaryOp> {
    prop_oneof![
        Just(BinaryOp::Or),
        Just(BinaryOp::And),
        Just(BinaryOp::StrictEq),
        Just(BinaryOp::StrictNe),
        Just(BinaryOp::LooseEq),
        Just(BinaryOp::LooseNe),
        Just(BinaryOp::Lt),
        Just(BinaryOp::Le),
        Just(BinaryOp::Gt),
        Just(BinaryOp::Ge),
        Just(BinaryOp::In),
    ]
}

/// Random trees of every node kind, without regard to names or types.
fn tree() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        string().prop_map(|s| node(NodeKind::Str(s))),
        number().prop_map(|n| node(NodeKind::Num(n))),
        any::<bool>().prop_map(|b| node(NodeKind::Bool(b))),
        Just(node(NodeKind::Null)),
        ident().prop_map(|s| node(NodeKind::Ident(s))),
    ];
    leaf.prop_recursive(6, 64, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| node(NodeKind::List(v))),
            (inner.clone(), member())
                .prop_map(|(b, m)| node(NodeKind::Member(Box::new(b), name(m)))),
            (inner.clone(), inner.clone())
                .prop_map(|(b, i)| node(NodeKind::Index(Box::new(b), Box::new(i)))),
            (ident(), prop::collection::vec(inner.clone(), 0..3))
                .prop_map(|(f, args)| node(NodeKind::Call(name(f), args))),
            inner
                .clone()
                .prop_map(|x| node(NodeKind::Unary(UnaryOp::Not, Box::new(x)))),
            (binary_op(), inner.clone(), inner).prop_map(|(op, l, r)| node(NodeKind::Binary(
                op,
                Box::new(l),
                Box::new(r)
            ))),
        ]
    })
}

/// Boolean conditions that compile, used as the atoms of combinations.
const ATOMS: &[&str] = &[
    "groups.admin",
    "clientType === 'B'",
    "clientType !== null",
    "isBackoffice",
    "'ops' in groups",
    "request.method === 'GET'",
    "startsWith(request.path, '/admin')",
    "request.headers['X-Tenant'] === 'acme'",
    "true",
    "false",
    "clientType in ['A', 'C']",
    "permissions.read",
];

#[derive(Debug, Clone)]
enum Combo {
    Atom(usize),
    Not(Box<Combo>),
    And(Box<Combo>, Box<Combo>),
    Or(Box<Combo>, Box<Combo>),
    Eq(Box<Combo>, Box<Combo>),
}

fn combo() -> impl Strategy<Value = Combo> {
    (0..ATOMS.len())
        .prop_map(Combo::Atom)
        .prop_recursive(6, 48, 2, |inner| {
            prop_oneof![
                inner.clone().prop_map(|c| Combo::Not(Box::new(c))),
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Combo::And(Box::new(a), Box::new(b))),
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Combo::Or(Box::new(a), Box::new(b))),
                (inner.clone(), inner).prop_map(|(a, b)| Combo::Eq(Box::new(a), Box::new(b))),
            ]
        })
}

impl Combo {
    fn source(&self) -> String {
        match self {
            Combo::Atom(i) => format!("({})", ATOMS[*i]),
            Combo::Not(c) => format!("!{}", c.source()),
            Combo::And(a, b) => format!("({} && {})", a.source(), b.source()),
            Combo::Or(a, b) => format!("({} || {})", a.source(), b.source()),
            Combo::Eq(a, b) => format!("({} === {})", a.source(), b.source()),
        }
    }

    /// The value, computed from atoms evaluated one by one.
    fn expected(&self, atoms: &[bool]) -> bool {
        match self {
            Combo::Atom(i) => atoms[*i],
            Combo::Not(c) => !c.expected(atoms),
            Combo::And(a, b) => a.expected(atoms) && b.expected(atoms),
            Combo::Or(a, b) => a.expected(atoms) || b.expected(atoms),
            Combo::Eq(a, b) => a.expected(atoms) == b.expected(atoms),
        }
    }
}

fn facts() -> impl Strategy<Value = StaticFacts> {
    (
        prop::option::of(prop_oneof![Just("A"), Just("B"), Just("C")]),
        prop::collection::vec(prop_oneof![Just("admin"), Just("ops"), Just("x")], 0..3),
        any::<bool>(),
        prop_oneof![Just("GET"), Just("POST")],
        prop_oneof![Just("/admin/x"), Just("/")],
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(client_type, groups, backoffice, method, path, tenant, read)| StaticFacts {
                client_type: client_type.map(String::from),
                groups: groups.into_iter().map(String::from).collect(),
                is_backoffice: backoffice,
                method: method.into(),
                path: path.into(),
                headers: if tenant {
                    vec![("x-tenant".into(), "acme".into())]
                } else {
                    Vec::new()
                },
                permissions: if read {
                    vec!["read".into()]
                } else {
                    Vec::new()
                },
                ..StaticFacts::default()
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn printing_then_parsing_gives_the_same_tree(tree in tree()) {
        let printed = tree.to_string();
        let parsed = parse(&printed);
        prop_assert!(parsed.is_ok(), "{printed:?} does not parse: {parsed:?}");
        let parsed = parsed.unwrap();
        prop_assert_eq!(&parsed, &tree, "printed as {:?}", printed);
        // And printing is stable.
        prop_assert_eq!(parsed.to_string(), printed);
    }

    #[test]
    fn combinations_evaluate_like_their_parts(c in combo(), facts in facts()) {
        let atoms: Vec<bool> = ATOMS
            .iter()
            .map(|a| Expr::compile(a).unwrap().eval(&facts))
            .collect();
        let source = c.source();
        let expr = Expr::compile(&source);
        prop_assert!(expr.is_ok(), "{source}: {expr:?}");
        prop_assert_eq!(expr.unwrap().eval(&facts), c.expected(&atoms), "{}", source);
    }

    #[test]
    fn arbitrary_text_never_panics(source in "\\PC{0,80}") {
        if let Ok(expr) = Expr::compile(&source) {
            let _ = expr.eval(&StaticFacts::default());
        }
    }

    #[test]
    fn token_soup_never_panics(parts in prop::collection::vec(prop_oneof![
        Just("clientType"), Just("groups"), Just("request"), Just("."), Just("["), Just("]"),
        Just("("), Just(")"), Just("'a'"), Just("1"), Just("null"), Just("==="), Just("!=="),
        Just("&&"), Just("||"), Just("!"), Just("in"), Just(","), Just("headers"), Just("admin"),
        Just("startsWith"), Just("matches"), Just("<"), Just("true"), Just("="), Just("#"),
    ], 0..24)) {
        let source = parts.join(" ");
        match Expr::compile(&source) {
            Ok(expr) => {
                let _ = expr.eval(&StaticFacts::default());
            }
            Err(errors) => {
                prop_assert!(!errors.is_empty());
                for e in &errors {
                    prop_assert!(e.span.start <= e.span.end && e.span.end <= source.len());
                }
                let _ = keygate_policy::render_errors(&source, &errors);
            }
        }
    }
}
