#!/usr/bin/env python3
"""Sends N keep-alive `GET /` requests with an `apikey` header, one at a time, spread
round-robin over C connections to 127.0.0.1:PORT, and prints how many of each status
came back as JSON. For counting a gateway's work per request: unlike wrk it sends an
exact number of requests.

    keepalive_client.py PORT KEY N [C]
"""
import collections
import json
import socket
import sys


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
    if len(sys.argv) not in (4, 5):
        raise SystemExit(__doc__)
    port, key, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    conns = int(sys.argv[4]) if len(sys.argv) == 5 else 10
    request = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\napikey: {key}\r\n\r\n".encode()
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
