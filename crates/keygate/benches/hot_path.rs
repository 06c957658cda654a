//! Criterion benches of the request path's hot functions: route match, key extraction,
//! key hash + lookup in indexes of 10,000 and 1,000,000 keys, and the upstream exchange's own HTTP/1.1
//! work (writing a request head, parsing a response head), and numbers written as text
//! (the `itoa` crate against the decimal writer `proxy::number_text` had), and request
//! paths put in normal form (`proxy::path_normal`: the one scan every request pays, and
//! the rewrite only odd paths pay), and the choice of an upstream target under each
//! `balance` policy.

#![allow(missing_docs, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::SystemTime;

use criterion::{criterion_group, criterion_main, Criterion};
use http::{HeaderMap, HeaderValue, Method};
use keygate::config::{default_key_sources, Config};
use keygate::key::KeyHash;
use keygate::proxy::downstream::request_head as client_request_head;
use keygate::proxy::field_maps;
use keygate::proxy::key_source::extract;
use keygate::proxy::path_normal::normalise;
use keygate::proxy::upstream::{request_head, response_head, HashInputs, Upstream};
use keygate::state::router::Router;
use keygate::state::Directory;
use keygate_store::{ConsumerRecord, KeyRecord, Origin};

const EXAMPLE: &str = include_str!("../../../examples/keygate.yaml");

/// The binary's allocator, so that rows are laid out as in the gateway.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn route_match(c: &mut Criterion) {
    let config = Config::parse("example.yaml", EXAMPLE).unwrap();
    let router = Router::build(&config.services);
    c.bench_function("route match: host + prefix + exact", |b| {
        b.iter(|| {
            router.find(
                black_box("auth.httpbin.org"),
                black_box("/v1/json"),
                &Method::GET,
            )
        })
    });
    c.bench_function("route match: prefix + parameter", |b| {
        b.iter(|| {
            router.find(
                black_box("localhost:8080"),
                black_box("/orders/42"),
                &Method::GET,
            )
        })
    });
    c.bench_function("route match: miss", |b| {
        b.iter(|| {
            router.find(
                black_box("localhost"),
                black_box("/nowhere/at/all"),
                &Method::GET,
            )
        })
    });
}

fn key_extraction(c: &mut Criterion) {
    let sources = default_key_sources();
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("host", "localhost:8080"),
        ("user-agent", "wrk"),
        ("accept", "*/*"),
        ("client-key", "ec8e8fa78d4e271b368d"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    c.bench_function("key extraction: second default header", |b| {
        b.iter(|| extract(black_box(&sources), black_box(&headers), None))
    });
    let mut cookie = HeaderMap::new();
    cookie.insert(
        "cookie",
        HeaderValue::from_static("theme=dark; lang=en; mia_client_key=ec8e8fa78d4e271b368d"),
    );
    c.bench_function("key extraction: cookie", |b| {
        b.iter(|| extract(black_box(&sources), black_box(&cookie), None))
    });
}

/// A directory of `keys` keys named `bench-key-<n>`, each with its own consumer of client
/// type A (the benchmark key sets' shape), or all of one consumer when `one_consumer`.
fn directory_of(keys: usize, one_consumer: bool) -> Directory {
    let directory = Directory::default();
    let consumer = |name: String| ConsumerRecord {
        name,
        client_type: Some("A".into()),
        groups: Vec::new(),
        permissions: Vec::new(),
        description: None,
        metadata: BTreeMap::new(),
        origin: Origin::Api,
        created_at: 0,
        updated_at: 0,
        limits: None,
    };
    if one_consumer {
        directory.put_consumer(&consumer("bench".into()));
    }
    for n in 0..keys {
        let key = format!("bench-key-{n:08}");
        let owner = if one_consumer {
            "bench".to_owned()
        } else {
            let name = format!("consumer-{n:08}");
            directory.put_consumer(&consumer(name.clone()));
            name
        };
        directory.put_key(&KeyRecord {
            limits: None,
            id: key.clone(),
            consumer: owner,
            hash: KeyHash::of(key.as_bytes()).0,
            prefix: None,
            active: true,
            description: None,
            labels: BTreeMap::new(),
            origin: Origin::Api,
            created_at: 0,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
            subscription: None,
            shared: false,
        });
    }
    directory.shrink_to_fit();
    directory
}

fn key_lookup(c: &mut Criterion) {
    let directory = directory_of(10_000, true);
    let index = &directory;
    let now = SystemTime::now();
    c.bench_function("key hash + lookup (10k keys): hit", |b| {
        b.iter(|| {
            index
                .check(black_box(b"bench-key-00004242"), now)
                .is_valid()
        })
    });
    c.bench_function("key hash + lookup (10k keys): miss", |b| {
        b.iter(|| {
            index
                .check(black_box(b"bench-key-unknown!"), now)
                .is_valid()
        })
    });
    c.bench_function("sha-256 of a 20-byte key", |b| {
        b.iter(|| KeyHash::of(black_box(b"ec8e8fa78d4e271b368d")))
    });
}

/// Hits spread over every key of the index, one consumer per key, in a fixed scattered
/// order: each lookup finds its table slot, key row and consumer row away from the last
/// one's, as under load from many clients. Misses likewise, each unknown key probing a
/// different part of the table, as a flood of guessed keys would. Sets the 10k-key index
/// beside the 1M-key one (about 150 MB, far beyond the caches and the TLB's reach).
fn key_lookup_spread(c: &mut Criterion) {
    for keys in [10_000usize, 1_000_000] {
        let directory = directory_of(keys, false);
        // A step coprime with the key count visits every key once per round.
        let step = 7_919;
        let presented: Vec<String> = (0..keys)
            .map(|n| format!("bench-key-{:08}", n * step % keys))
            .collect();
        let unknown: Vec<String> = (0..keys).map(|n| format!("unknown-key-{n:08}")).collect();
        let now = SystemTime::now();
        let label = if keys == 1_000_000 { "1M" } else { "10k" };
        for (kind, keys_asked) in [("hits", &presented), ("misses", &unknown)] {
            let mut next = 0;
            c.bench_function(
                &format!("key hash + lookup ({label} keys): {kind} spread over all"),
                |b| {
                    b.iter(|| {
                        next = (next + 1) % keys;
                        directory
                            .check(black_box(keys_asked[next].as_bytes()), now)
                            .is_valid()
                    })
                },
            );
        }
    }
}

fn upstream_heads(c: &mut Criterion) {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("host", "127.0.0.1:9001"),
        ("user-agent", "wrk"),
        ("accept", "*/*"),
        ("x-consumer-username", "consumer-000042"),
        ("x-credential-identifier", "key-0000042"),
        ("client-type", "A"),
        ("x-forwarded-for", "127.0.0.1"),
        ("x-forwarded-proto", "http"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    let mut out = Vec::with_capacity(1024);
    c.bench_function("upstream request head: 8 fields", |b| {
        b.iter(|| {
            out.clear();
            request_head::write_head(
                &mut out,
                &Method::GET,
                request_head::RequestPath::whole(black_box("/orders/42?page=2")),
                black_box(&headers),
                &request_head::AsSent,
                request_head::BodyFraming::None,
            );
            out.len()
        })
    });
    // What nginx answers with `return 200 '...'`.
    let response = bytes::Bytes::from_static(
        b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 30 Nov 2026 03:30:00 GMT\r\n\
          Content-Type: application/json\r\nContent-Length: 17\r\nConnection: keep-alive\r\n\r\n\
          {\"upstream\":\"ok\"}",
    );
    c.bench_function("upstream response head: parse, 5 fields", |b| {
        b.iter(|| response_head::parse(black_box(&response), &Method::GET).unwrap())
    });
}

fn client_heads(c: &mut Criterion) {
    // What wrk sends in the whole-gateway benchmark.
    let wrk = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\napikey: 5f0c3a9e8d7b6a5f4e3d2c1b\r\n\r\n";
    // A browser-like request with ten fields.
    let browser = b"GET /orders/42?page=2 HTTP/1.1\r\nHost: api.example.com\r\n\
        User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/133.0\r\n\
        Accept: application/json\r\nAccept-Language: en-GB,en;q=0.5\r\n\
        Accept-Encoding: gzip, deflate, br\r\nReferer: https://app.example.com/orders\r\n\
        apikey: 5f0c3a9e8d7b6a5f4e3d2c1b\r\nCookie: session=abc123; theme=dark\r\n\
        Connection: keep-alive\r\nPriority: u=0\r\n\r\n";
    for (name, raw) in [
        ("client request head: parse, 2 fields (wrk)", &wrk[..]),
        ("client request head: parse, 10 fields", &browser[..]),
    ] {
        c.bench_function(name, |b| {
            // As on a connection: the fields go into a map the thread kept, given back
            // emptied as the request ends.
            b.iter_batched(
                || bytes::BytesMut::from(raw),
                |mut buffer| {
                    let head = client_request_head::parse(
                        &mut buffer,
                        client_request_head::UnderscoredFields::Dropped,
                    )
                    .unwrap()
                    .unwrap();
                    field_maps::give_back(head.parts.headers);
                },
                criterion::BatchSize::SmallInput,
            )
        });
    }
}

/// What `proxy::number_text` had for decimal numbers before `itoa` replaced it, kept
/// here as the baseline of the `number text` group.
fn append_decimal(out: &mut Vec<u8>, value: u64) {
    append_in_radix(out, value, 10);
}

fn append_in_radix(out: &mut Vec<u8>, value: u64, radix: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = value;
    loop {
        start -= 1;
        digits[start] = DIGITS[(rest % radix) as usize];
        rest /= radix;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

/// The decimal numbers the request path writes: status codes and `Content-Length`s from
/// an empty body to 10 MiB, written into a reused buffer as a response head is.
fn number_text(c: &mut Criterion) {
    const VALUES: [u64; 8] = [200, 404, 0, 2, 512, 17_408, 1_048_576, 10_485_760];
    let mut out = Vec::with_capacity(256);
    c.bench_function("number text: former number_text::append_decimal x8", |b| {
        b.iter(|| {
            out.clear();
            for value in black_box(VALUES) {
                append_decimal(&mut out, value);
            }
            black_box(out.len())
        })
    });
    c.bench_function("number text: itoa::Buffer x8", |b| {
        b.iter(|| {
            out.clear();
            let mut buffer = itoa::Buffer::new();
            for value in black_box(VALUES) {
                out.extend_from_slice(buffer.format(value).as_bytes());
            }
            black_box(out.len())
        })
    });
}

fn path_normal_form(c: &mut Criterion) {
    for (name, path) in [
        (
            "path normal form: already normal, 3 segments",
            "/orders/42/items",
        ),
        (
            "path normal form: already normal, 60 bytes",
            "/v1/api/customers/1234567890/orders/2024-11/items?ignored",
        ),
        (
            "path normal form: escapes and dot segments",
            "/orders/%72eport/../a//b/./%7Ec",
        ),
    ] {
        let path = path.split('?').next().unwrap();
        c.bench_function(name, |b| {
            b.iter(|| normalise(black_box(path)).map(|p| p.len()))
        });
    }
}

/// `Upstream::pick` of four healthy targets under each policy, the request's hash
/// included where there is one.
fn upstream_pick(c: &mut Criterion) {
    let policies = [
        ("round_robin", ""),
        ("round_robin, weights 3 1 1 1", ""),
        ("least_outstanding", "      balance: least_outstanding\n"),
        ("hash on consumer", "      balance: hash\n"),
        (
            "hash on client_address",
            "      balance: hash\n      hash_on: client_address\n",
        ),
    ];
    let headers = HeaderMap::new();
    let inputs = HashInputs {
        consumer: Some("consumer-0042"),
        key_id: Some("3f9a1c0e5b7d2a46"),
        client: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
        headers: &headers,
    };
    for (name, balance) in policies {
        let first = if name.contains("weights") {
            "{url: http://127.0.0.1:9001, weight: 3}"
        } else {
            "http://127.0.0.1:9001"
        };
        let text = format!(
            "services:\n  - name: s\n    upstream:\n      targets: [{first}, http://127.0.0.1:9002, http://127.0.0.1:9003, http://127.0.0.1:9004]\n{balance}    routes:\n      - name: r\n        paths: [/]\n"
        );
        let config = Config::parse("bench.yaml", &text).unwrap();
        let upstream = Upstream::new(&config.services[0].upstream);
        c.bench_function(&format!("upstream pick: {name}"), |b| {
            b.iter(|| {
                let affinity = upstream.affinity(black_box(&inputs));
                upstream.pick(affinity).map(|target| target.base_path.len())
            })
        });
    }
}

criterion_group!(
    benches,
    upstream_pick,
    path_normal_form,
    number_text,
    route_match,
    key_extraction,
    key_lookup,
    key_lookup_spread,
    upstream_heads,
    client_heads
);
criterion_main!(benches);
