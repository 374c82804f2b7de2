#!/usr/bin/env bash
# CPython (/usr/bin/python3, the Debian build, not a pyenv shim) running an
# allocation-heavy script (dicts, lists, strings, json round trips, big bytes
# objects, threads; a few hundred MB churned) with deterministic output.
# The stdout of a glibc run and of ebbmalloc runs must be equal; ebbmalloc's
# runs must end with its stats marker and print nothing else on stderr.
# Run twice under ebbmalloc: with pymalloc (Python's own small-object
# allocator, on top of malloc) and with PYTHONMALLOC=malloc, where every
# object goes through malloc.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

py=/usr/bin/python3
need "$py"
# Not -I or -E: they would ignore PYTHONMALLOC too.
unset PYTHONPATH PYTHONHOME PYTHONSTARTUP PYTHONMALLOC PYTHONDEVMODE PYTHONWARNINGS
export PYTHONHASHSEED=0

cat >"$tmp/work.py" <<'PY'
import collections, hashlib, json, random, re, sys, threading

random.seed(20261201)
total = hashlib.sha256()
churned = 0

def feed(*xs):
    for x in xs:
        total.update(repr(x).encode())

def section(name, *xs):
    feed(name, *xs)
    print(name + ":", *xs)

# Dicts of strings, rebuilt many times.
for rnd in range(6):
    d = {}
    for i in range(40000):
        k = "k%d-%d" % (i, random.randrange(10**9))
        d[k] = ("v%d" % i) * (i % 37)
    churned += sum(len(k) + len(v) for k, v in d.items())
    keys = sorted(d)
    section("dict%d" % rnd, len(d), keys[0], keys[-1], sum(map(len, d.values())))
    for k in keys[::2]:
        del d[k]
    d.update((k + "x", k) for k in keys[1::3])
    section("dict%d-after" % rnd, len(d))

# Lists: append, sort, slices, comprehensions.
lst = [random.randrange(10**6) for _ in range(300000)]
lst.sort()
evens = [x for x in lst if x % 2 == 0]
nested = [[j for j in range(i % 50)] for i in range(20000)]
churned += 8 * (len(lst) + len(evens)) + 8 * sum(map(len, nested))
section("lists", len(lst), lst[0], lst[-1], len(evens), sum(map(len, nested)))
del lst, evens, nested

# JSON round trips.
for rnd in range(4):
    obj = [{"id": i, "name": "item-%d" % (i * 7919 % 100003),
            "tags": ["t%d" % (j * i % 97) for j in range(i % 8)],
            "nested": {"a": i / 7.0, "b": [None, True, "x" * (i % 20)]}}
           for i in range(25000)]
    s = json.dumps(obj, sort_keys=True)
    back = json.loads(s)
    assert back == obj
    churned += 2 * len(s)
    section("json%d" % rnd, len(s), hashlib.md5(s.encode()).hexdigest())

# Strings: joins, splits, replace, regexes, formatting.
text = " ".join("word%d" % (i * 31 % 5000) for i in range(200000))
words = text.split()
counts = collections.Counter(words)
replaced = text.replace("word1", "WORD-ONE")
found = re.findall(r"word(\d*7)\b", text)
upper = [w.upper() for w in words[:100000]]
churned += len(text) * 3 + sum(map(len, upper))
section("strings", len(text), len(words), counts.most_common(3), len(replaced), len(found),
        hashlib.sha1("".join(upper).encode()).hexdigest())

# Big blocks: bytes and bytearrays from 64 KiB to 48 MiB.
acc = 0
for i in range(40):
    n = (64 << 10) << (i % 10)
    b = bytes([i % 251]) * n
    ba = bytearray(b)
    ba[n // 2] ^= 0xFF
    ba += b[: n // 3]
    acc = (acc * 31 + ba[n // 2] + len(ba)) % (1 << 61)
    churned += 3 * n
section("big", acc)

# Sets and tuples (printed sorted: set order depends on the hash seed).
s1 = {("a", i % 1000, str(i % 333)) for i in range(150000)}
s2 = {("a", i % 1000, str(i % 333)) for i in range(0, 150000, 3)}
section("sets", len(s1), len(s2), len(s1 & s2), sorted(s1 - s2)[:2])

# Threads: each builds its own structures; results gathered in order.
results = [None] * 4
def worker(t):
    r = random.Random(t)
    d = {}
    for i in range(60000):
        d.setdefault(r.randrange(5000), []).append("x%d" % i)
    results[t] = (len(d), sum(len(v) for v in d.values()),
                  hashlib.md5(json.dumps(sorted(d.items())[:50]).encode()).hexdigest())
ts = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
for t in ts:
    t.start()
for t in ts:
    t.join()
section("threads", results)

print("churned about %d MB" % (churned >> 20))
print("total", total.hexdigest())
PY

run_glibc glibc "$py" -s -B "$tmp/work.py"
expect_status "python on glibc: exit 0" 0
expect_match "python on glibc: churned a few hundred MB" '^churned about ([2-9][0-9][0-9]|[0-9]{4,}) MB$' \
	"$(grep '^churned' "$tmp/glibc.out" || true)"

run_ebb ebb "$py" -s -B "$tmp/work.py"
expect_status "python (pymalloc) on ebbmalloc: exit 0" 0
expect_same_file "python (pymalloc) on ebbmalloc: same stdout as glibc" "$tmp/glibc.out" "$tmp/ebb.out"
expect_marker "python (pymalloc) on ebbmalloc: stats marker" "$tmp/ebb.err"
expect_same_stderr "python (pymalloc) on ebbmalloc: nothing else on stderr" "$tmp/glibc.err" "$tmp/ebb.err"

run_ebb ebbm env PYTHONMALLOC=malloc "$py" -s -B "$tmp/work.py"
expect_status "python (PYTHONMALLOC=malloc) on ebbmalloc: exit 0" 0
expect_same_file "python (PYTHONMALLOC=malloc) on ebbmalloc: same stdout as glibc" "$tmp/glibc.out" "$tmp/ebbm.out"
expect_marker "python (PYTHONMALLOC=malloc) on ebbmalloc: stats marker" "$tmp/ebbm.err"
expect_same_stderr "python (PYTHONMALLOC=malloc) on ebbmalloc: nothing else on stderr" "$tmp/glibc.err" "$tmp/ebbm.err"

# PYTHONMALLOC=malloc really turned pymalloc off (its statistics are gone).
run_ebb check env PYTHONMALLOC=malloc "$py" -s -B -c 'import sys; sys._debugmallocstats()'
expect_eq "PYTHONMALLOC=malloc disables pymalloc" "0" "$(grep -c 'Small block threshold' "$tmp/check.err" || true)"

finish
