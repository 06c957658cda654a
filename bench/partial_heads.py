#!/usr/bin/env python3
"""Memory held by slow clients' half-sent request heads: keygate beside nginx.

Opens CONNS connections to a server on 127.0.0.1 and on each sends the start of a
request head, `GET / HTTP/1.1`, `Host: a`, then `X-Pad: ` and PAD bytes of padding in
pieces of STEP bytes every INTERVAL seconds, and never finishes it. Once every
connection has sent all it will (or been answered and closed), waits HOLD seconds and
reads the server's resident set size (`VmRSS` and the peak `VmHWM` from
/proc/PID/status), then closes everything. Reports the RSS before and while the heads
are held, and how many connections the server refused (answered or closed) and with
which status.

    bench/partial_heads.py                    # keygate, then nginx, each with PAD 8000 and 46000
    PADS="24000" bench/partial_heads.py       # other head sizes
    KEYGATE_BIN=path/to/keygate SERVERS=keygate bench/partial_heads.py

keygate runs with one worker, no access log, a route with `auth: none` to a closed
port (the heads never complete, so nothing is forwarded), its SQLite store and
configuration in a temporary folder; nginx with one worker process and `return 200`,
its default `client_header_buffer_size 1k` and `large_client_header_buffers 4 8k`.
Both on free 127.0.0.1 ports; both stopped by process id at the end. The fd limit is
raised to 8192 (the hard limit must allow it). Every wait is bounded.

Environment: CONNS (2000), PADS ("8000 46000"), STEP (1000), INTERVAL (0.05), HOLD (2),
LINE (0: the padding is one field's value; N: fields of N bytes each, as a browser's
many cookies and headers would come, which nginx holds up to its 4 x 8k buffers),
SERVERS ("keygate nginx"), KEYGATE_BIN (target/release/keygate), KEYGATE_SETTINGS
(extra `proxy:` lines for keygate, such as `max_partial_head_bytes: 0`).
"""
import asyncio
import functools
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

CONNS = int(os.environ.get("CONNS", "2000"))
PADS = [int(p) for p in os.environ.get("PADS", "8000 46000").split()]
STEP = int(os.environ.get("STEP", "1000"))
INTERVAL = float(os.environ.get("INTERVAL", "0.05"))
HOLD = float(os.environ.get("HOLD", "2"))
SERVERS = os.environ.get("SERVERS", "keygate nginx").split()
LINE = int(os.environ.get("LINE", "0"))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEYGATE_BIN = os.environ.get("KEYGATE_BIN", os.path.join(ROOT, "target/release/keygate"))
KEYGATE_SETTINGS = os.environ.get("KEYGATE_SETTINGS", "")
START_TIMEOUT = 30
RUN_TIMEOUT = 120


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def status_kb(pid, field):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def wait_listening(port, process):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port}")


def start_keygate(folder):
    port, admin = free_port(), free_port()
    config = os.path.join(folder, "keygate.yaml")
    settings = "".join(f"  {line.strip()}\n" for line in KEYGATE_SETTINGS.split(";") if line.strip())
    with open(config, "w") as file:
        file.write(
            f"proxy:\n  listen: 127.0.0.1:{port}\n  header_timeout: 60s\n{settings}"
            f"admin:\n  listen: 127.0.0.1:{admin}\n  token: partial-heads-0123456789\n"
            f"store: sqlite://{folder}/keygate.db\n"
            "services:\n  - name: s\n    upstream: http://127.0.0.1:9\n    routes:\n"
            "      - name: all\n        paths: [\"/*\", \"/\"]\n        auth: none\n"
        )
    process = subprocess.Popen(
        [KEYGATE_BIN, "serve", "--config", config, "--workers", "1", "--access-log", "off"],
        cwd=folder, stdout=subprocess.DEVNULL, stderr=open(os.path.join(folder, "stderr"), "w"),
    )
    wait_listening(port, process)
    return process, process.pid, port


def start_nginx(folder):
    port = free_port()
    config = os.path.join(folder, "nginx.conf")
    with open(config, "w") as file:
        file.write(
            f"worker_processes 1;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log;\n"
            "daemon off;\nevents { worker_connections 8192; }\n"
            "http {\n  access_log off;\n"
            f"  client_body_temp_path {folder}/body;\n  proxy_temp_path {folder}/proxy;\n"
            f"  fastcgi_temp_path {folder}/fastcgi;\n  uwsgi_temp_path {folder}/uwsgi;\n"
            f"  scgi_temp_path {folder}/scgi;\n"
            f"  client_header_timeout 60s;\n  server {{ listen 127.0.0.1:{port}; return 200; }}\n}}\n"
        )
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    process = subprocess.Popen(
        [nginx, "-p", folder, "-c", config],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(folder, "stderr"), "w"),
    )
    wait_listening(port, process)
    children = subprocess.run(
        ["pgrep", "-P", str(process.pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    if len(children) != 1:
        raise SystemExit(f"expected one nginx worker, found {children}")
    return process, int(children[0]), port


@functools.lru_cache(maxsize=None)
def padding(pad):
    """PAD bytes of padding: one field's value, or fields of LINE bytes each."""
    if not LINE:
        return b"p" * pad
    line = b"p" * (LINE - 7) + b"\r\nX-P: "
    return (line * (pad // LINE + 1))[:pad]


async def slow_head(port, pad, outcome, sockets):
    """Sends the head's start and its padding slowly; notes how the server answered."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        outcome.append("connect failed")
        return
    sockets.append(writer)
    answer = asyncio.ensure_future(reader.read(64))
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ")
        sent = 0
        while sent < pad and not answer.done():
            piece = min(STEP, pad - sent)
            writer.write(padding(pad)[sent:sent + piece])
            await writer.drain()
            sent += piece
            await asyncio.sleep(INTERVAL)
    except OSError:
        pass
    if answer.done():
        data = answer.result() if not answer.exception() else b""
        outcome.append(data.split(b" ")[1].decode() if data.startswith(b"HTTP/") else "closed")
    else:
        answer.cancel()
        outcome.append("held")


async def load(port, pad, pid):
    outcome, sockets = [], []
    tasks = []
    for n in range(CONNS):
        tasks.append(asyncio.ensure_future(slow_head(port, pad, outcome, sockets)))
        if n % 100 == 99:
            await asyncio.sleep(0.01)
    await asyncio.wait_for(asyncio.gather(*tasks), RUN_TIMEOUT)
    await asyncio.sleep(HOLD)
    rss, peak = status_kb(pid, "VmRSS"), status_kb(pid, "VmHWM")
    for writer in sockets:
        writer.transport.abort()
    counts = {}
    for result in outcome:
        counts[result] = counts.get(result, 0) + 1
    return rss, peak, counts


def measure(server, pad):
    folder = tempfile.mkdtemp(prefix=f"partial-heads-{server}-")
    process = None
    try:
        process, pid, port = (start_keygate if server == "keygate" else start_nginx)(folder)
        time.sleep(0.5)
        before = status_kb(pid, "VmRSS")
        rss, peak, counts = asyncio.run(load(port, pad, pid))
        master = status_kb(process.pid, "VmRSS") if pid != process.pid else None
        return before, rss, peak, counts, master
    finally:
        if process is not None:
            process.send_signal(signal.SIGTERM if server == "keygate" else signal.SIGQUIT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(folder, ignore_errors=True)


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 8192 if hard == resource.RLIM_INFINITY else min(8192, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < CONNS * 2 + 100:
        raise SystemExit("the fd limit is too low for CONNS connections")
    print(f"{CONNS} connections, padding sent {STEP} bytes every {INTERVAL}s, held {HOLD}s")
    print("| server | padding | RSS before MB | RSS held MB | peak MB | held / refused |")
    print("|---|---|---|---|---|---|")
    for pad in PADS:
        for server in SERVERS:
            before, rss, peak, counts, master = measure(server, pad)
            held = counts.pop("held", 0)
            refused = ", ".join(f"{n} {what}" for what, n in sorted(counts.items())) or "0"
            name = server if master is None else f"{server} worker (master {master / 1000:.1f})"
            print(f"| {name} | {pad} | {before / 1000:.1f} | {rss / 1000:.1f} | {peak / 1000:.1f} "
                  f"| {held} / {refused} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
