//! nginx `auth_request` with deploy/nginx/keygate-authz.conf, as shipped.

use std::net::SocketAddr;

use super::{
    anonymous_consumer_passes, assert_logged, client_forwarding_does_not_pass,
    client_identity_does_not_pass, other_refusals, seed_scenario,
    what_the_upstream_reads_is_what_is_checked, AuthzGateway,
};
use crate::differential::nginx::{binary, Nginx};
use crate::support::{Echo, TempDir};

/// The shipped snippet with its three addresses replaced, in a configuration that keeps
/// everything in `dir`.
fn config(dir: &TempDir, listen: SocketAddr, authz: SocketAddr, api: SocketAddr) -> String {
    let snippet = include_str!("../../../../../deploy/nginx/keygate-authz.conf")
        .replace("127.0.0.1:8080", &listen.to_string())
        .replace("127.0.0.1:9190", &authz.to_string())
        .replace("127.0.0.1:9001", &api.to_string());
    std::fs::write(dir.0.join("keygate-authz.conf"), snippet).expect("write snippet");
    let dir = dir.0.display();
    format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/keygate-authz.conf;
}}
"#
    )
}

/// Ignored where nginx was not installed when the tests were built (crates/keygate/build.rs);
/// under `CI=true` a missing nginx fails it.
#[test]
#[cfg_attr(
    not(keygate_test_nginx),
    ignore = "needs nginx (apt-get install nginx)"
)]
fn nginx_auth_request_runs_the_seed_scenario() {
    let binary = binary().expect("nginx is not installed: the authz test must run against it");
    let echo = Echo::start("api");
    let gateway = AuthzGateway::start(&[]);
    let nginx = Nginx::start_with(&binary, |dir, listen| {
        config(dir, listen, gateway.authz, echo.address)
    });
    seed_scenario(nginx.address);
    other_refusals(nginx.address);
    client_identity_does_not_pass(nginx.address);
    anonymous_consumer_passes(nginx.address);
    what_the_upstream_reads_is_what_is_checked(nginx.address);
    client_forwarding_does_not_pass(nginx.address);
    let missing = super::get(nginx.address, "/v1/orders/report", &[]);
    assert_eq!(
        missing.header("www-authenticate"),
        Some("Key realm=\"keygate\""),
        "{missing:?}\n{}",
        nginx.error_log()
    );
    let challenges = missing
        .headers
        .iter()
        .filter(|(name, _)| name == "www-authenticate")
        .count();
    assert_eq!(challenges, 1, "{missing:?}");
    assert_logged(&gateway, "nginx", 9);
}
