#!/usr/bin/env python3
"""Sends N keep-alive `GET /` requests with an `apikey` header, one at a time, spread
round-robin over C connections to 127.0.0.1:PORT, and prints how many of each status
came back as JSON. For counting a gateway's work per request: unlike wrk it sends an
exact number of requests.

    keepalive_client.py PORT KEY N [C] [--path PATH] [--header "Name: value"]...

--path sends another target than `/`; each --header adds a field (before `apikey`), as
an authorization check carries the original method and URI (bench/authz_instructions.sh).
"""
import argparse
import collections
import json
import socket


def read_response(sock, pending):
    """Reads one response (Content-Length framed); returns (status, bytes left over)."""
    while True:
        end = pending.find(b"\r\n\r\n")
        if end >= 0:
            lines = pending[:end].decode("latin-1").split("\r\n")
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            total = end + 4 + length
            if len(pending) >= total:
                return lines[0].split(" ")[1], pending[total:]
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("the gateway closed a connection")
        pending += chunk


def main():
    parser = argparse.ArgumentParser(usage=__doc__)
    parser.add_argument("port", type=int)
    parser.add_argument("key")
    parser.add_argument("count", type=int)
    parser.add_argument("conns", type=int, nargs="?", default=10)
    parser.add_argument("--path", default="/")
    parser.add_argument("--header", action="append", default=[])
    args = parser.parse_args()
    port, key, count, conns = args.port, args.key, args.count, args.conns
    fields = "".join(f"{field}\r\n" for field in args.header)
    request = (
        f"GET {args.path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{fields}apikey: {key}\r\n\r\n"
    ).encode()
    socks = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(conns)]
    pending = [b""] * conns
    statuses = collections.Counter()
    for n in range(count):
        i = n % conns
        socks[i].sendall(request)
        status, pending[i] = read_response(socks[i], pending[i])
        statuses[status] += 1
    for sock in socks:
        sock.close()
    print(json.dumps(dict(statuses)))


if __name__ == "__main__":
    main()
