//! Caddy `forward_auth` with deploy/caddy/Caddyfile: to come.
