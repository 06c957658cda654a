#!/usr/bin/env python3
"""Writes a keygate benchmark configuration from a key set.

    gen_config.py KEYS_FILE OUT_FILE PORT [--plain] [--no-allow] [--upstream URL]...
                  [--store URL] [--admin-listen HOST:PORT] [--no-consumers]
                  [--tls-listen PORT --cert FILE --key FILE] [--limits] [--redis URL]
                  [--authz-only --authz-grpc PORT] [--h2c]

KEYS_FILE has one "<key> <consumer> <client_type>" per line (the peers' key sets).
The configuration does what the peer gateways do: one service with no host and no
prefix, proxied to the upstream over its keep-alive pool; one route for every path;
the key read from the `apikey` header only and removed before forwarding; 401 for a
missing or unknown key; 403 unless the client type is A or B (the route's `allow`).

With --upstream given more than once, the service has those targets (round robin, and
keygate's defaults for retries and passive health).
Keys are grouped by consumer; each consumer gets the client type from the file.
Keys are written as `key_hash: sha256:<hex>` unless --plain is given (`key: <key>`).
Each consumer is written on one line in YAML flow style to keep a 1M-key file small.
With --tls-listen the proxy also listens for HTTPS (and HTTP/2 by ALPN) on that port
with the certificate and key files given (bench/tls.sh).
With --limits the route has one rate limit and one quota, both counted by key, so high
that no call is refused (bench/limits.sh measures what counting costs); with --redis URL
the rate limit is shared through that Redis (`cluster.rate_limits`).
With --authz-only keygate has no proxy listener: PORT is its authorization-service
listener (`authz.listen`), and --authz-grpc PORT its gRPC one (bench/authz.sh).
With --h2c the plain listener also serves HTTP/2 with prior knowledge (`proxy.http2.h2c`).
With --no-consumers the file has no `consumers:` and KEYS_FILE is not read: the
consumers and keys are meant to be in the store (written by bench/import_keys.py).
"""
import argparse
import hashlib
import sys

ALLOW = "clientType === 'A' || clientType === 'B'"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("keys")
    ap.add_argument("out")
    ap.add_argument("port", type=int)
    ap.add_argument("--plain", action="store_true", help="write plaintext `key:` entries")
    ap.add_argument("--no-allow", action="store_true", help="leave the route's `allow` out")
    ap.add_argument("--upstream", action="append", help="a target URL; once per target")
    ap.add_argument("--store", help="`store:` URL, such as sqlite::memory: (default: keygate's)")
    ap.add_argument("--admin-listen", help="`admin.listen:` address (default: keygate's)")
    ap.add_argument("--no-consumers", action="store_true",
                    help="write no consumers (they are in the store); KEYS is not read")
    ap.add_argument("--tls-listen", type=int, help="a second proxy listener, HTTPS, on this port")
    ap.add_argument("--cert", help="the HTTPS listener's certificate (PEM)")
    ap.add_argument("--key", help="the HTTPS listener's private key (PEM)")
    ap.add_argument("--limits", action="store_true",
                    help="a rate limit and a quota by key on the route, never reached")
    ap.add_argument("--redis", help="`cluster.rate_limits.redis:` URL")
    ap.add_argument("--h2c", action="store_true", help="HTTP/2 with prior knowledge on the listener")
    ap.add_argument("--authz-only", action="store_true",
                    help="no proxy listener; PORT is `authz.listen`")
    ap.add_argument("--authz-grpc", type=int, help="`authz.grpc_listen` port (with --authz-only)")
    a = ap.parse_args()
    if a.tls_listen and not (a.cert and a.key):
        print("--tls-listen needs --cert and --key", file=sys.stderr)
        return 2

    consumers = {}  # name -> (client_type, [keys]); dicts keep file order
    if not a.no_consumers:
        with open(a.keys) as f:
            for n, line in enumerate(f, 1):
                parts = line.split()
                if not parts:
                    continue
                if len(parts) != 3:
                    print(f"{a.keys}:{n}: expected '<key> <consumer> <client_type>'", file=sys.stderr)
                    return 1
                key, name, ctype = parts
                entry = consumers.setdefault(name, (ctype, []))
                if entry[0] != ctype:
                    print(f"{a.keys}:{n}: consumer {name} has two client types", file=sys.stderr)
                    return 1
                entry[1].append(key)

    route = [
        "      - name: all",
        '        paths: ["/*", "/"]',
    ]
    if not a.no_allow:
        route.append(f'        allow: "{ALLOW}"')
    if a.limits:
        route += [
            "        limits:",
            "          - {count: 1000000000, per: second, by: key, name: bench-rate}",
            "          - {count: 1000000000, per: day, by: key, kind: quota, name: bench-quota}",
        ]

    targets = a.upstream or ["http://127.0.0.1:9001"]
    if len(targets) == 1:
        upstream = [f"    upstream: {targets[0]}"]
    else:
        upstream = ["    upstream:", "      targets:", *(f"        - {t}" for t in targets)]

    source = a.keys.rsplit("/", 1)[-1]
    if a.no_consumers:
        about = [
            f"# keygate benchmark configuration for {source}: no consumers here;",
            "# the consumers and their keys are in the store",
        ]
    else:
        about = [
            "# keygate benchmark configuration, generated from " + source,
            f"# ({sum(len(k) for _, k in consumers.values())} keys, {len(consumers)} consumers,"
            f" {'plaintext keys' if a.plain else 'SHA-256 key hashes'})",
        ]
    head = [
        *about,
        *([f'store: "{a.store}"'] if a.store else []),
        *(["admin:", f"  listen: {a.admin_listen}"] if a.admin_listen else []),
        *(["cluster:", "  rate_limits:", f"    redis: {a.redis}"] if a.redis else []),
        "proxy:",
        *(
            [
                "  listen:",
                f"    - 127.0.0.1:{a.port}",
                f"    - {{address: 127.0.0.1:{a.tls_listen}, tls: true}}",
                "  tls:",
                f'    certificates: [{{cert_file: "{a.cert}", key_file: "{a.key}"}}]',
            ]
            if a.tls_listen
            else ["  listen: []"]
            if a.authz_only
            else [f"  listen: 127.0.0.1:{a.port}"]
        ),
        *(["  http2:", "    h2c: true"] if a.h2c else []),
        *(
            [
                "authz:",
                f"  listen: 127.0.0.1:{a.port}",
                *([f"  grpc_listen: 127.0.0.1:{a.authz_grpc}"] if a.authz_grpc else []),
            ]
            if a.authz_only
            else []
        ),
        "services:",
        "  - name: bench",
        *upstream,
        "    key_sources:",
        "      - header: apikey",
        "    routes:",
        *route,
        *([] if a.no_consumers else ["consumers:"]),
    ]
    with open(a.out, "w") as out:
        out.write("\n".join(head) + "\n")
        field = "key" if a.plain else "key_hash"
        for name, (ctype, keys) in consumers.items():
            if a.plain:
                vals = ", ".join(f'{{key: "{k}"}}' for k in keys)
            else:
                vals = ", ".join(
                    f'{{{field}: "sha256:{hashlib.sha256(k.encode()).hexdigest()}"}}' for k in keys
                )
            out.write(f"  - {{name: {name}, client_type: {ctype}, keys: [{vals}]}}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
