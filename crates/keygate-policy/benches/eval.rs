//! Benchmarks: evaluating the seed expression and a ten-clause one, and compiling the seed.
// criterion's macros generate public functions without doc comments.
#![allow(missing_docs)]
#![allow(clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use keygate_policy::{Expr, StaticFacts};
use std::hint::black_box;

const SEED: &str = "clientType === 'A' || clientType === 'B'";

/// Ten clauses mixing groups, headers, method, path, lists and permissions; the facts below
/// satisfy every clause, so all ten are evaluated.
const TEN_CLAUSES: &str = "(groups.admin || groups['ops-team']) \
    && request.method !== 'DELETE' \
    && startsWith(request.path, '/api/') \
    && request.headers['X-Tenant'] === 'acme' \
    && clientType in ['A', 'B', 'C'] \
    && !isBackoffice \
    && ['orders:read', 'orders:write'] in permissions \
    && metadata.team !== null \
    && request.query['dry'] === null";

fn b_consumer() -> StaticFacts {
    StaticFacts {
        client_type: Some("B".into()),
        consumer: Some("acme-app".into()),
        groups: vec!["staff".into(), "ops-team".into()],
        permissions: vec!["orders:write".into()],
        metadata: vec![("team".into(), "payments".into())],
        method: "GET".into(),
        path: "/api/orders".into(),
        host: "api.example.com".into(),
        headers: vec![
            ("accept".into(), "*/*".into()),
            ("x-tenant".into(), "acme".into()),
        ],
        ..StaticFacts::default()
    }
}

fn benches(c: &mut Criterion) {
    let facts = b_consumer();

    let seed = Expr::compile(SEED).unwrap();
    assert!(seed.eval(&facts));
    c.bench_function("eval seed (B consumer)", |b| {
        b.iter(|| black_box(&seed).eval(black_box(&facts)))
    });

    let ten = Expr::compile(TEN_CLAUSES).unwrap();
    assert!(ten.eval(&facts));
    c.bench_function("eval ten clauses", |b| {
        b.iter(|| black_box(&ten).eval(black_box(&facts)))
    });

    c.bench_function("compile seed", |b| {
        b.iter(|| Expr::compile(black_box(SEED)).unwrap())
    });
}

criterion_group!(eval, benches);
criterion_main!(eval);
