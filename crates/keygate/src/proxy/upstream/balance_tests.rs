//! The choice of target per policy, without sockets: weighted order, least outstanding,
//! and what a hash ring keeps in place when targets go.

#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr};

use http::{HeaderMap, HeaderName, HeaderValue};

use super::*;

/// Targets `10.0.0.<n>:80` with these weights, `n` from 1.
fn targets(weights: &[u32]) -> Vec<Target> {
    weights
        .iter()
        .enumerate()
        .map(|(index, &weight)| target(index + 1, weight))
        .collect()
}

fn target(n: usize, weight: u32) -> Target {
    Target {
        scheme: http::uri::Scheme::HTTP,
        authority: format!("10.0.0.{n}:80").parse().unwrap(),
        base_path: String::new(),
        weight,
    }
}

fn picks(balancer: &Balancer, count: usize) -> Vec<usize> {
    (0..count)
        .map(|_| balancer.first(None, |_| true).unwrap())
        .collect()
}

fn consumer_affinity(balancer: &Balancer, consumer: &str) -> Option<Affinity> {
    let headers = HeaderMap::new();
    balancer.affinity(&HashInputs {
        consumer: Some(consumer),
        key_id: Some("key-id"),
        client: IpAddr::V4(Ipv4Addr::LOCALHOST),
        headers: &headers,
    })
}

/// The URL of the target each of `consumers` hashes to, on a ring of `targets`.
fn owners(targets: &[Target], consumers: &[String]) -> Vec<String> {
    let balancer = Balancer::new(&Balance::Hash(HashOn::Consumer), targets);
    consumers
        .iter()
        .map(|consumer| {
            let affinity = consumer_affinity(&balancer, consumer);
            let index = balancer.first(affinity, |_| true).unwrap();
            targets[index].authority.to_string()
        })
        .collect()
}

fn consumers(count: usize) -> Vec<String> {
    (0..count).map(|n| format!("consumer-{n}")).collect()
}

#[test]
fn equal_weights_take_turns_in_target_order() {
    let balancer = Balancer::new(&Balance::RoundRobin, &targets(&[1, 1, 1]));
    assert!(balancer.schedule.is_none(), "no schedule for equal weights");
    assert_eq!(picks(&balancer, 7), [0, 1, 2, 0, 1, 2, 0]);
    let doubled = Balancer::new(&Balance::RoundRobin, &targets(&[4, 4]));
    assert_eq!(picks(&doubled, 4), [0, 1, 0, 1]);
}

#[test]
fn weights_interleave_smoothly_as_nginx_does() {
    let balancer = Balancer::new(&Balance::RoundRobin, &targets(&[5, 1, 1]));
    assert_eq!(
        picks(&balancer, 14),
        [0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0]
    );
    // Weights are reduced by their common divisor: the cycle stays short.
    let reduced = Balancer::new(&Balance::RoundRobin, &targets(&[10, 2, 2]));
    assert_eq!(reduced.schedule.as_ref().unwrap().len(), 7);
}

#[test]
fn each_target_gets_its_weights_share() {
    let balancer = Balancer::new(&Balance::RoundRobin, &targets(&[1, 2, 3, 250]));
    let mut counts = [0usize; 4];
    for index in picks(&balancer, 256 * 10) {
        counts[index] += 1;
    }
    assert_eq!(counts, [10, 20, 30, 2500]);
}

#[test]
fn a_target_refused_is_passed_over_and_its_share_spread_by_weight() {
    let balancer = Balancer::new(&Balance::RoundRobin, &targets(&[2, 1, 1]));
    let mut counts = [0usize; 3];
    let mut asked_of_down = 0;
    for _ in 0..400 {
        let index = balancer
            .first(None, |index| {
                asked_of_down += usize::from(index == 0);
                index != 0
            })
            .unwrap();
        counts[index] += 1;
    }
    assert_eq!(counts, [0, 200, 200]);
    assert_eq!(asked_of_down, 200, "asked at most once per pick");
    // None usable: the target whose turn it is, all the same.
    let all_down = picks_with(&balancer, 3, |_| false);
    assert_eq!(all_down.len(), 3);
    let one = Balancer::new(&Balance::RoundRobin, &targets(&[1]));
    assert_eq!(picks_with(&one, 2, |_| false), [0, 0]);
}

fn picks_with(balancer: &Balancer, count: usize, usable: fn(usize) -> bool) -> Vec<usize> {
    (0..count)
        .map(|_| balancer.first(None, usable).unwrap())
        .collect()
}

#[test]
fn round_robin_retries_go_on_in_target_order_to_one_not_tried() {
    let balancer = Balancer::new(&Balance::RoundRobin, &targets(&[1, 1, 1, 1]));
    assert_eq!(balancer.after(1, None, bit(1), |_| true), Some(2));
    assert_eq!(balancer.after(3, None, bit(3) | bit(0), |_| true), Some(1));
    assert_eq!(balancer.after(1, None, bit(1), |index| index != 2), Some(3));
    assert_eq!(balancer.after(0, None, 0b1111, |_| true), None);
    assert!(balancer.start(0).is_none(), "round-robin counts nothing");
}

#[test]
fn no_targets_no_choice() {
    let balancer = Balancer::new(&Balance::LeastOutstanding, &[]);
    assert_eq!(balancer.first(None, |_| true), None);
}

#[test]
fn least_outstanding_takes_the_least_loaded_and_equal_ones_in_turn() {
    let balancer = Balancer::new(&Balance::LeastOutstanding, &targets(&[1, 1, 1]));
    // Idle targets take turns.
    assert_eq!(picks(&balancer, 3), [0, 1, 2]);
    let busy = [balancer.start(0), balancer.start(0), balancer.start(2)];
    assert_eq!((balancer.outstanding(0), balancer.outstanding(2)), (2, 1));
    assert_eq!(picks(&balancer, 3), [1, 1, 1], "the idle one");
    let one_more = balancer.start(1);
    let picked = picks(&balancer, 4);
    assert!(
        picked.iter().all(|&index| index == 1 || index == 2),
        "{picked:?}"
    );
    assert!(
        picked.contains(&1) && picked.contains(&2),
        "ties take turns"
    );
    drop(busy);
    drop(one_more);
    assert_eq!((0..3).map(|i| balancer.outstanding(i)).sum::<usize>(), 0);
}

#[test]
fn least_outstanding_reads_loads_per_unit_of_weight() {
    let balancer = Balancer::new(&Balance::LeastOutstanding, &targets(&[3, 1]));
    let mut held = Vec::new();
    let mut counts = [0usize; 2];
    for _ in 0..40 {
        let index = balancer.first(None, |_| true).unwrap();
        counts[index] += 1;
        held.push(balancer.start(index));
    }
    assert_eq!(counts, [30, 10], "in flight three to one");
    // Equally loaded (idle), they take turns by weight.
    let idle = Balancer::new(&Balance::LeastOutstanding, &targets(&[2, 1]));
    assert_eq!(picks(&idle, 6), [0, 1, 0, 0, 1, 0]);
}

#[test]
fn least_outstanding_passes_over_refused_and_tried_targets() {
    let balancer = Balancer::new(&Balance::LeastOutstanding, &targets(&[1, 1, 1]));
    let _busy = [balancer.start(1), balancer.start(1)];
    for _ in 0..3 {
        assert_eq!(
            balancer.first(None, |index| index != 0 && index != 2),
            Some(1)
        );
    }
    assert_eq!(balancer.after(0, None, bit(0), |_| true), Some(2));
    assert_eq!(balancer.after(0, None, bit(0) | bit(2), |_| true), Some(1));
    assert_eq!(balancer.after(0, None, 0b111, |_| true), None);
    // Every one refused: the least loaded anyway.
    let picked = balancer.first(None, |_| false).unwrap();
    assert_ne!(picked, 1);
}

#[test]
fn hashing_keeps_a_consumer_on_one_target() {
    let balancer = Balancer::new(&Balance::Hash(HashOn::Consumer), &targets(&[1, 1, 1, 1]));
    for consumer in consumers(50) {
        let affinity = consumer_affinity(&balancer, &consumer);
        let first = balancer.first(affinity, |_| true);
        for _ in 0..5 {
            assert_eq!(balancer.first(affinity, |_| true), first, "{consumer}");
        }
    }
}

#[test]
fn hashing_spreads_consumers_over_the_targets_by_weight() {
    let ids = consumers(10_000);
    for weights in [[1u32, 1, 1, 1], [3, 1, 1, 1]] {
        let targets = targets(&weights);
        let owners = owners(&targets, &ids);
        let total: u32 = weights.iter().sum();
        for (target, weight) in targets.iter().zip(weights) {
            let share = owners
                .iter()
                .filter(|o| **o == target.authority.as_str())
                .count() as f64
                / 1e4;
            let expected = f64::from(weight) / f64::from(total);
            assert!(
                (share - expected).abs() < 0.06,
                "{weights:?}: {} has {share}, expected about {expected}",
                target.authority
            );
        }
    }
}

#[test]
fn removing_one_of_four_targets_moves_only_its_consumers_about_a_quarter() {
    let ids = consumers(10_000);
    let four = targets(&[1, 1, 1, 1]);
    let removed = four[2].authority.to_string();
    let three: Vec<Target> = four
        .iter()
        .filter(|t| t.authority.as_str() != removed)
        .cloned()
        .collect();
    let before = owners(&four, &ids);
    let after = owners(&three, &ids);
    let mut moved = 0;
    for (was, is) in before.iter().zip(&after) {
        if was != is {
            moved += 1;
            assert_eq!(*was, removed, "a consumer moved off a target that stayed");
        }
    }
    let fraction = f64::from(moved) / 1e4;
    assert!((0.18..=0.32).contains(&fraction), "moved {fraction}");
    // Adding it back restores every consumer.
    assert_eq!(owners(&four, &ids), before);
}

#[test]
fn a_hashed_target_refused_sends_its_consumers_where_its_removal_would() {
    let ids = consumers(2_000);
    let four = targets(&[1, 1, 1, 1]);
    let without: Vec<Target> = [0, 1, 3].iter().map(|&i| four[i].clone()).collect();
    let expected = owners(&without, &ids);
    let balancer = Balancer::new(&Balance::Hash(HashOn::Consumer), &four);
    for (consumer, expected) in ids.iter().zip(expected) {
        let affinity = consumer_affinity(&balancer, consumer);
        let index = balancer.first(affinity, |index| index != 2).unwrap();
        assert_eq!(four[index].authority.as_str(), expected, "{consumer}");
        // A retry after that target goes on along the ring, past both.
        let next = balancer
            .after(index, affinity, bit(index) | bit(2), |_| true)
            .unwrap();
        assert!(next != index && next != 2);
    }
}

#[test]
fn hashing_on_each_input_and_without_it_round_robin() {
    let settings = [
        HashOn::Consumer,
        HashOn::Key,
        HashOn::ClientAddress,
        HashOn::Header(HeaderName::from_static("x-tenant")),
    ];
    let mut headers = HeaderMap::new();
    headers.insert("x-tenant", HeaderValue::from_static("acme"));
    let inputs = HashInputs {
        consumer: Some("alice"),
        key_id: Some("k1"),
        client: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
        headers: &headers,
    };
    let empty = HeaderMap::new();
    let anonymous = HashInputs {
        consumer: None,
        key_id: None,
        headers: &empty,
        ..inputs
    };
    for on in settings {
        let balancer = Balancer::new(&Balance::Hash(on.clone()), &targets(&[1, 1]));
        let affinity = balancer.affinity(&inputs);
        assert!(affinity.is_some(), "{on:?}");
        assert_eq!(balancer.affinity(&inputs), affinity, "stable: {on:?}");
        let without = balancer.affinity(&anonymous);
        assert_eq!(without.is_some(), on == HashOn::ClientAddress, "{on:?}");
    }
    let anonymous_picks: Vec<_> = {
        let balancer = Balancer::new(&Balance::Hash(HashOn::Consumer), &targets(&[1, 1]));
        (0..4)
            .map(|_| {
                balancer
                    .first(balancer.affinity(&anonymous), |_| true)
                    .unwrap()
            })
            .collect()
    };
    assert_eq!(
        anonymous_picks,
        [0, 1, 0, 1],
        "round-robin without a consumer"
    );
    let round_robin = Balancer::new(&Balance::RoundRobin, &targets(&[1, 1]));
    assert_eq!(round_robin.affinity(&inputs), None);
}

#[test]
fn a_url_listed_twice_gets_its_own_points() {
    let twice = vec![target(1, 1), target(1, 1)];
    let owners = {
        let balancer = Balancer::new(&Balance::Hash(HashOn::Consumer), &twice);
        consumers(1000)
            .iter()
            .map(|c| {
                balancer
                    .first(consumer_affinity(&balancer, c), |_| true)
                    .unwrap()
            })
            .filter(|&index| index == 1)
            .count()
    };
    assert!((300..700).contains(&owners), "{owners}");
}

/// The share of `count` picks that went to target 0.
fn share_of_first(balancer: &Balancer, count: usize) -> f64 {
    let firsts = picks(balancer, count).iter().filter(|&&i| i == 0).count();
    firsts as f64 / count as f64
}

#[test]
fn a_target_that_comes_back_ramps_up_to_its_share_over_slow_start() {
    let slow_start = std::time::Duration::from_secs(2);
    let balancer =
        Balancer::new(&Balance::RoundRobin, &targets(&[1, 1])).with_slow_start(Some(slow_start));
    assert_eq!(
        share_of_first(&balancer, 400),
        0.5,
        "not ramping until it comes back"
    );
    balancer.came_back(0);
    let at_once = share_of_first(&balancer, 400);
    assert!(at_once < 0.05, "just back: {at_once}");
    std::thread::sleep(slow_start / 2);
    let halfway = share_of_first(&balancer, 400);
    assert!(
        (0.1..0.45).contains(&halfway),
        "half-way: {halfway}, about 0.25"
    );
    std::thread::sleep(slow_start / 2 + std::time::Duration::from_millis(100));
    assert_eq!(share_of_first(&balancer, 400), 0.5, "at full weight");
    assert_eq!(balancer.came_back[0].load(Ordering::Relaxed), 0, "done");
}

#[test]
fn least_outstanding_gives_a_target_that_comes_back_a_lower_weight() {
    let balancer = Balancer::new(&Balance::LeastOutstanding, &targets(&[1, 1]))
        .with_slow_start(Some(std::time::Duration::from_secs(60)));
    balancer.came_back(0);
    let mut held = Vec::new();
    for _ in 0..20 {
        let index = balancer.first(None, |_| true).unwrap();
        held.push(balancer.start(index));
    }
    // Just back, its weight is a thousandth of the other's: the other holds them all
    // but (at most) the first.
    assert!(balancer.outstanding(1) >= 19, "{}", balancer.outstanding(1));
}

#[test]
fn without_slow_start_a_target_back_takes_its_turns_at_once() {
    let balancer = Balancer::new(&Balance::RoundRobin, &targets(&[1, 1]));
    balancer.came_back(0);
    assert_eq!(share_of_first(&balancer, 100), 0.5);
    let none = Balancer::new(&Balance::RoundRobin, &targets(&[1, 1])).with_slow_start(None);
    assert!(none.came_back.is_empty());
}
