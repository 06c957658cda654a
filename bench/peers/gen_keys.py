#!/usr/bin/env python3
"""The benchmark's key sets, the same on every machine (seeded), for keygate and its peers.

Usage: gen_keys.py DIR. Writes into DIR:

  keys-10k.txt, keys-1m.txt     "<key> <consumer> <client_type>" per line, for keygate
                                (bench/gen_config.py, bench/import_keys.py)
  nginx-10k.map, nginx-1m.map   lines of an nginx `map`:  <key> "<client_type>:<consumer>";
  haproxy-10k.map, haproxy-1m.map  HAProxy map lines:     <key> <client_type>:<consumer>
  valid_key                     a key of client type A: let through
  typec_key                     a key of client type C: refused by the route's rule (403)
  invalid_key                   a key in neither set (401)

Key n (from 1) is 32 lowercase hex digits (128 random bits, random.Random(42)); its
consumer is user<n, 7 digits>; its client type C when n is a multiple of 100, else A for
odd n and B for even n. The 10k set is the first 10,000 keys of the 1M set.
"""
import os
import random
import sys

SIZE = 1_000_000
SETS = ((10_000, "10k"), (SIZE, "1m"))


def client_type(n):
    if n % 100 == 0:
        return "C"
    return "A" if n % 2 else "B"


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "keys"
    os.makedirs(out, exist_ok=True)
    rng = random.Random(42)
    keys, seen = [], set()
    while len(keys) < SIZE:
        key = "%032x" % rng.getrandbits(128)
        if key in seen:
            continue
        seen.add(key)
        n = len(keys) + 1
        keys.append((key, "user%07d" % n, client_type(n)))

    for count, tag in SETS:
        rows = keys[:count]
        with open(os.path.join(out, f"keys-{tag}.txt"), "w") as f:
            f.writelines(f"{key} {user} {kind}\n" for key, user, kind in rows)
        with open(os.path.join(out, f"nginx-{tag}.map"), "w") as f:
            f.writelines(f'{key} "{kind}:{user}";\n' for key, user, kind in rows)
        with open(os.path.join(out, f"haproxy-{tag}.map"), "w") as f:
            f.writelines(f"{key} {kind}:{user}\n" for key, user, kind in rows)

    unknown = "%032x" % random.Random(7).getrandbits(128)
    if unknown in seen:
        sys.exit("gen_keys.py: the unknown key is in the set")
    for name, key in (("valid_key", keys[0][0]), ("typec_key", keys[99][0]), ("invalid_key", unknown)):
        with open(os.path.join(out, name), "w") as f:
            f.write(key + "\n")


if __name__ == "__main__":
    main()
