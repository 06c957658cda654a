//! End-to-end tests: keygate and `keygate echo` as real processes on loopback, spoken to
//! over real sockets.

#![allow(clippy::unwrap_used, missing_docs)]

mod support;

mod admin;
mod admin_token;
mod allow;
mod anonymous;
mod authority;
mod authz;
mod balance;
mod body_keys;
mod cli;
mod cluster;
mod console;
mod consumer_limits;
mod consumers;
mod cors;
mod differential;
mod explain;
mod failover;
mod failures;
mod fileshape;
mod forwarding;
mod grpc;
mod grpc_streaming;
mod hardening;
mod health_check;
mod http1;
mod http2_streaming;
mod import;
mod install;
mod keys;
mod lifecycle;
mod limits;
mod limits_cluster;
mod limits_exact;
mod normalise;
mod one_process;
mod partial_heads;
mod plans;
mod pool_limits;
mod postgres_errors;
mod quotas;
mod quotas_cluster;
mod readme_curls;
mod request_ids;
mod responses;
mod routing;
mod secret_refs;
mod subscription_decisions;
mod targets_by_name;
mod tls;
mod usage;
mod walkthrough;

use support::{Echo, Gateway};

/// The example configuration of the README, with the two echo upstreams' real addresses.
pub fn example_config(first: &Echo, second: &Echo) -> String {
    let example = include_str!("../../../../examples/keygate.yaml");
    example
        .replace("proxy:\n  listen: 127.0.0.1:8080\n", "")
        .replace("127.0.0.1:9001", &first.address.to_string())
        .replace("127.0.0.1:9002", &second.address.to_string())
}

/// The example gateway with its two upstreams.
pub struct Example {
    pub gateway: Gateway,
    pub first: Echo,
    pub second: Echo,
}

impl Example {
    pub fn start() -> Example {
        let first = Echo::start("first");
        let second = Echo::start("second");
        let gateway = Gateway::start(&example_config(&first, &second));
        Example {
            gateway,
            first,
            second,
        }
    }
}

pub const ALEX: &str = "ec8e8fa78d4e271b368d";
pub const BOB: &str = "bob-key-0123456789abcdef";
