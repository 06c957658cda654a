#!/usr/bin/env python3
"""Writes a key set's consumers and keys straight into a keygate SQLite store.

    import_keys.py KEYS_FILE DB CONSUMERS LABELS [LIMITS]

KEYS_FILE has one "<key> <consumer> <client_type>" per line (the peers' key sets).
DB is a keygate SQLite file whose schema already exists: start keygate once with
`store: "sqlite://DB"` and stop it before importing. CONSUMERS 0 keeps one consumer
per consumer name of the file, with its client type; N spreads the keys over N
consumers `consumer-0000`... of client type A. LABELS 1 gives every key the label
`env: prod`, 0 none. LIMITS 1 gives every key a rate limit of its own (the document the
admin API writes for `--limit 100/minute`), 0 (default) none.

Why: a node with a million keys should hold them in its store and have a small
configuration file (1M consumers in a YAML file make a 135 MB file that takes keygate
tens of seconds to start and over a gigabyte of memory), and creating them through
the admin API, a few thousand a second, would take minutes; this takes about 20 s.
The rows are those the store writes for keys created through the API: origin `api`,
consumers in the group `readers`, key ids `key-0000000`... in file order, SHA-256
hashes and 6-character prefixes, active, timestamps 0. The whole import is one
transaction under one revision (`meta.revision` + 1) and writes no change log, so a
directory cache written before the import is never used: the next start reads the
store.
"""
import hashlib
import sqlite3
import sys

if len(sys.argv) not in (5, 6):
    sys.exit("usage: " + __doc__.split("\n\n")[1].strip())
keys_file, db, consumers = sys.argv[1], sys.argv[2], int(sys.argv[3])
LABELS = '{"env":"prod"}' if sys.argv[4] == "1" else "{}"
LIMITS = '{"limits":[{"count":100,"per":"minute","by":"key"}]}' if sys.argv[5:] == ["1"] else None
conn = sqlite3.connect(db)
conn.execute("PRAGMA journal_mode = WAL")
seen = set()


def consumer_rows():
    with open(keys_file) as f:
        for n, line in enumerate(f):
            key, name, client_type = line.split()
            if consumers:
                name, client_type = f"consumer-{n % consumers:04d}", "A"
            if name not in seen:
                seen.add(name)
                yield (name, client_type, '["readers"]', "[]", None, "{}", "api", 0, 0)


def key_rows():
    with open(keys_file) as f:
        for n, line in enumerate(f):
            key, name, _ = line.split()
            if consumers:
                name = f"consumer-{n % consumers:04d}"
            digest = hashlib.sha256(key.encode()).digest()
            yield (f"key-{n:07d}", name, digest, key[:6], 1, None, LABELS, "api", 0, None, None, None, None, 0,
                   LIMITS)


with conn:
    conn.executemany(
        "INSERT INTO consumers (name, client_type, groups, permissions, description, metadata,"
        " origin, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", consumer_rows())
    conn.executemany(
        "INSERT INTO keys (id, consumer, hash, prefix, active, description, labels, origin,"
        " created_at, expires_at, revoked_at, last_used_at, subscription_id, shared, limits)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", key_rows())
    conn.execute("UPDATE meta SET revision = revision + 1")
conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
conn.close()
