#!/usr/bin/env python3
"""The soak test's slow traffic, key changes, reloads and measurements (bench/soak.sh
starts it beside the paced wrk runs).

    soak_client.py --proxy PORT --admin PORT --token TOKEN --pid PID --config FILE \
        --seconds S --warmup S --key VALID_KEY [--interval 30]

For S seconds, against keygate on 127.0.0.1:
- slow heads: every second, three requests whose head (with an 8 KB field, so that it
  outgrows the first read buffer) is sent in ten pieces over about 2 s, then finished
  (expected 200), and two heads that are never finished (expected: closed by keygate
  at its header timeout, no answer);
- slow bodies: every second, two POSTs of 64 KiB sent in eight pieces over about 2 s
  (expected 200, and the upstream saw the whole body);
- key changes through the admin API every 3 s: create a key (201), use it (200),
  revoke it (200), use it (401), delete it (204);
- a reload every 10 s: SIGHUP, every other time after rewriting the file
  (`proxy.header_timeout` 10s <-> 11s);
- every INTERVAL seconds, keygate's resident set size (VmRSS) and open file
  descriptors (/proc/PID/fd), printed as they are taken.
At the end it prints the status counts of each class, the ones not expected, and the
growth of RSS and descriptors from the first sample after the warm-up to the last.
The last line is JSON. Everything is bounded: each request has a 30 s timeout.
"""
import argparse
import asyncio
import collections
import json
import os
import signal
import time

TIMEOUT = 30
EXPECTED = {
    "slow-head": {"200"},
    "abandoned-head": {"closed"},
    "slow-body": {"200"},
    "key-create": {"201"},
    "key-use": {"200"},
    "key-revoke": {"200"},
    "key-use-revoked": {"401"},
    "key-delete": {"204"},
}


class Soak:
    def __init__(self, options):
        self.options = options
        self.statuses = collections.defaultdict(collections.Counter)
        self.samples = []
        self.started = time.monotonic()
        self.stop_at = self.started + options.seconds
        self.reloads = 0
        self.bad_bodies = 0

    def running(self):
        return time.monotonic() < self.stop_at

    def note(self, what, status):
        self.statuses[what][status] += 1

    async def exchange(self, port, pieces, pause, read=True):
        """Sends `pieces` with `pause` seconds between them; returns (status, body) of
        the answer read to the end of the connection, or ("closed", b"")."""
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port), TIMEOUT)
        except (OSError, asyncio.TimeoutError):
            return "connect-failed", b""
        try:
            for n, piece in enumerate(pieces):
                if n:
                    await asyncio.sleep(pause)
                writer.write(piece)
                await writer.drain()
            if not read:
                return "sent", b""
            data = await asyncio.wait_for(reader.read(-1), TIMEOUT)
        except asyncio.TimeoutError:
            return "timeout", b""
        except OSError:
            return "reset", b""
        finally:
            writer.close()
        if not data:
            return "closed", b""
        head, _, body = data.partition(b"\r\n\r\n")
        parts = head.split(b" ", 2)
        return (parts[1].decode() if len(parts) > 1 else "garbled"), body

    async def slow_head(self):
        pad = "p" * 8000
        text = (f"GET /soak/slow-head HTTP/1.1\r\nHost: soak\r\napikey: {self.options.key}\r\n"
                f"X-Pad: {pad}\r\nConnection: close\r\n\r\n").encode()
        pieces = [text[i:i + len(text) // 10 + 1] for i in range(0, len(text), len(text) // 10 + 1)]
        status, _ = await self.exchange(self.options.proxy, pieces, 0.2)
        self.note("slow-head", status)

    async def abandoned_head(self):
        text = f"GET /soak/abandoned HTTP/1.1\r\nHost: soak\r\napikey: {self.options.key}\r\nX-Pad: ".encode()
        status, _ = await self.exchange(self.options.proxy, [text, b"p" * 3000], 0.5)
        self.note("abandoned-head", status)

    async def slow_body(self):
        body = b"b" * 65536
        head = (f"POST /soak/slow-body HTTP/1.1\r\nHost: soak\r\napikey: {self.options.key}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        pieces = [head] + [body[i:i + 8192] for i in range(0, len(body), 8192)]
        status, answer = await self.exchange(self.options.proxy, pieces, 0.25)
        self.note("slow-body", status)
        if status == "200" and b'"body_length":65536' not in answer:
            self.bad_bodies += 1

    async def admin(self, method, path, body=b""):
        head = (f"{method} {path} HTTP/1.1\r\nHost: admin\r\nX-API-KEY: {self.options.token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n").encode()
        return await self.exchange(self.options.admin, [head + body], 0)

    async def use(self, key):
        text = f"GET /soak/churn HTTP/1.1\r\nHost: soak\r\napikey: {key}\r\nConnection: close\r\n\r\n"
        status, _ = await self.exchange(self.options.proxy, [text.encode()], 0)
        return status

    async def key_changes(self):
        while self.running():
            status, body = await self.admin("POST", "/v1/consumers/churn/keys", b"{}")
            self.note("key-create", status)
            if status == "201":
                created = json.loads(body)
                key, key_id = created["key"], created["id"]
                self.note("key-use", await self.use(key))
                status, _ = await self.admin("POST", f"/v1/keys/{key_id}/revoke")
                self.note("key-revoke", status)
                self.note("key-use-revoked", await self.use(key))
                status, _ = await self.admin("DELETE", f"/v1/keys/{key_id}")
                self.note("key-delete", status)
            await asyncio.sleep(3)

    async def reloads_loop(self):
        with open(self.options.config) as file:
            original = file.read()
        while self.running():
            await asyncio.sleep(10)
            if self.reloads % 2 == 0:
                text = original
                if self.reloads % 4 == 0:
                    text = original.replace("header_timeout: 10s", "header_timeout: 11s")
                with open(self.options.config, "w") as file:
                    file.write(text)
            os.kill(self.options.pid, signal.SIGHUP)
            self.reloads += 1

    def sample(self):
        with open(f"/proc/{self.options.pid}/status") as status:
            rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
        fds = len(os.listdir(f"/proc/{self.options.pid}/fd"))
        elapsed = round(time.monotonic() - self.started)
        self.samples.append((elapsed, rss, fds))
        print(f"t={elapsed:>5}s rss={rss / 1024:.1f} MiB fds={fds}", flush=True)

    async def monitor(self):
        self.sample()
        while self.running():
            await asyncio.sleep(min(self.options.interval, max(0.0, self.stop_at - time.monotonic())))
            self.sample()

    async def every_second(self):
        tasks = set()
        while self.running():
            for make in (self.slow_head, self.slow_head, self.slow_head,
                         self.abandoned_head, self.abandoned_head, self.slow_body, self.slow_body):
                task = asyncio.ensure_future(make())
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await asyncio.sleep(1)
        if tasks:
            await asyncio.wait(tasks, timeout=TIMEOUT + 5)

    async def run(self):
        await asyncio.gather(self.monitor(), self.every_second(), self.key_changes(),
                             self.reloads_loop())

    def report(self):
        unexpected = {}
        for what, counts in sorted(self.statuses.items()):
            print(f"{what}: " + ", ".join(f"{status} x{n}" for status, n in sorted(counts.items())))
            wrong = {status: n for status, n in counts.items() if status not in EXPECTED[what]}
            if wrong:
                unexpected[what] = wrong
        after = [s for s in self.samples if s[0] >= self.options.warmup]
        growth = {}
        if len(after) >= 2:
            first, last = after[0], after[-1]
            growth = {
                "from_s": first[0], "to_s": last[0],
                "rss_kib": [first[1], last[1]], "rss_growth_pct": round(100 * (last[1] - first[1]) / first[1], 2),
                "fds": [first[2], last[2]], "fd_growth": last[2] - first[2],
                "rss_max_after_warmup_kib": max(s[1] for s in after),
            }
        result = {"unexpected": unexpected, "bad_bodies": self.bad_bodies, "reload_signals": self.reloads,
                  "growth": growth, "samples": self.samples}
        print(json.dumps(result))


def main():
    parser = argparse.ArgumentParser()
    for name in ("proxy", "admin", "pid"):
        parser.add_argument(f"--{name}", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--warmup", type=float, default=60)
    parser.add_argument("--interval", type=float, default=30)
    soak = Soak(parser.parse_args())
    asyncio.run(soak.run())
    soak.report()


if __name__ == "__main__":
    main()
