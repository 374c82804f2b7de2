"""Allocation-heavy Python workload for bench/run.py.

usage: python3 pyalloc.py ROUNDS

Each round builds a dict of records (strings, tuples, lists, small dicts),
sorts and transforms it, splits and joins strings, counts words, keeps a
random fifth of the records in a long-lived cache with a bounded size, and
drops the rest: many small objects with mixed lifetimes, as in a typical
Python service. The output is a checksum, so a wrong result is visible.
"""
import random
import sys


def one_round(rng, cache, n):
    records = {}
    for i in range(n):
        key = "k%d-%x" % (i, rng.getrandbits(32))
        records[key] = {
            "id": i,
            "name": key.upper() * (1 + i % 5),
            "tags": [str(i % 7), str(i % 11), key[-4:]],
            "pos": (i * 0.5, i * 1.5),
        }
    ordered = sorted(records.values(), key=lambda r: (len(r["name"]), r["id"]))
    text = " ".join(r["name"][:12] for r in ordered)
    counts = {}
    for word in text.split():
        counts[word[:4]] = counts.get(word[:4], 0) + 1
    merged = [tuple(r["tags"]) + r["pos"] for r in ordered[::3]]
    for key in rng.sample(sorted(records), n // 5):
        cache[key] = records[key]
    while len(cache) > 4 * n:
        cache.pop(next(iter(cache)))
    return len(text) + len(counts) + len(merged)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    rng = random.Random(1)
    cache = {}
    total = 0
    for _ in range(rounds):
        total += one_round(rng, cache, 20000)
    print("pyalloc: rounds=%d checksum=%d cached=%d" % (rounds, total, len(cache)))


if __name__ == "__main__":
    main()
