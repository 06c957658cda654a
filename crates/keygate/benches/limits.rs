//! Criterion benches of rate limiting: the limiter's check on one hot subject and spread
//! over a million subjects, and the request path's whole limit phase
//! (`proxy::limit_check::check`) for a route with one limit counted by key, beside the
//! same route without limits (the one branch every other route pays).

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use http::HeaderMap;
use keygate::config::{Config, Route};
use keygate::limits::{Callers, Counters, Limit, LimitBy, Limiter, SubjectKind, Window};
use keygate::proxy::limit_check::{check, Caller, LimitRefusal, LimitReport};

/// The binary's allocator, as in the gateway.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A rate no bench reaches: every check admits, as on a well-behaved route.
fn generous(id: &str, by: LimitBy) -> Limit {
    Limit::new(
        "bench".into(),
        1_000_000_000,
        Window::Second,
        by,
        Callers::All,
        id,
    )
}

fn limiter_take(c: &mut Criterion) {
    let limiter = Limiter::default();
    let limit = generous("one", LimitBy::Key);
    let subject = limiter.subject(limit.id, SubjectKind::Key, b"39f5ce0c82259253");
    c.bench_function("limiter: hash subject + take, one subject", |b| {
        b.iter(|| {
            let subject =
                limiter.subject(limit.id, SubjectKind::Key, black_box(b"39f5ce0c82259253"));
            limiter
                .take(subject, limit.rate, 1, limiter.now())
                .remaining
        })
    });
    c.bench_function("limiter: take, one subject, clock read once", |b| {
        let now = limiter.now();
        b.iter(|| {
            limiter
                .take(black_box(subject), limit.rate, 1, now)
                .remaining
        })
    });
    let spread = Limiter::default();
    let subjects: Vec<u64> = (0..1_000_000u64)
        .map(|i| spread.subject(limit.id, SubjectKind::Key, &i.to_le_bytes()))
        .collect();
    let now = spread.now();
    for subject in &subjects {
        spread.take(*subject, limit.rate, 1, now);
    }
    let mut next = 0usize;
    c.bench_function("limiter: take, 1M subjects spread", |b| {
        b.iter(|| {
            next = (next + 7919) % subjects.len();
            spread.take(subjects[next], limit.rate, 1, now).remaining
        })
    });
}

fn route_with(limits: Vec<Limit>) -> Route {
    let config = Config::parse(
        "bench.yaml",
        "services:\n  - name: s\n    upstream: http://127.0.0.1:9\n    routes: [{name: r, paths: [\"/\"]}]\n",
    )
    .unwrap();
    let mut route = config.services[0].routes[0].clone();
    route.limits = Arc::from(limits);
    route
}

/// A small result, so that the bench loop does not spend its time copying a large one
/// through Criterion's `black_box`.
fn remaining(result: Result<Option<LimitReport>, LimitRefusal>) -> u64 {
    match result {
        Ok(Some(report)) => report.remaining,
        Ok(None) => 0,
        Err(refusal) => refusal.retry_after,
    }
}

fn limit_phase(c: &mut Criterion) {
    let limiter = Limiter::default();
    let counters = Counters::default();
    let headers = HeaderMap::new();
    let caller = Caller {
        key: None,
        consumer: None,
        subscription: None,
        client: IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)),
        headers: &headers,
    };
    let none = route_with(Vec::new());
    // What the handler does before it calls `check` at all.
    c.bench_function(
        "limit phase: route without limits, the handler's branch",
        |b| {
            b.iter(|| {
                let route = black_box(&none);
                let plan: &[Limit] = black_box(&[]);
                if route.limits.is_empty() && plan.is_empty() {
                    return 0;
                }
                remaining(check(&limiter, &counters, route, plan, &caller, true))
            })
        },
    );
    c.bench_function("limit phase: route without limits, check called", |b| {
        b.iter(|| {
            remaining(check(
                &limiter,
                &counters,
                black_box(&none),
                &[],
                &caller,
                true,
            ))
        })
    });
    let one = route_with(vec![generous("addr", LimitBy::ClientAddress)]);
    c.bench_function("limit phase: one limit by client address", |b| {
        b.iter(|| {
            remaining(check(
                &limiter,
                &counters,
                black_box(&one),
                &[],
                &caller,
                true,
            ))
        })
    });
}

criterion_group!(benches, limiter_take, limit_phase);
criterion_main!(benches);
