#!/usr/bin/env python3
"""Where does the cleaner thread of many-threads-64-cleaner wait?

Runs build/bench/many-threads 64 cleaner 8 400 (build it first with
`python3 bench/run.py --suite memory-return --only many-threads-64-cleaner
--runs 1 --no-record`) under perf, recording every context switch and
wake-up with call stacks, finds the cleaner thread (the one whose stacks
go through the workload's cleaner()) and adds up, per allocator function
it was blocked in, the time from sleeping to being woken; the time from
waking to running is reported apart. Prints the workload's peak live bytes
and peak RSS too.

    python3 bench/memret/cleaner_sleeps.py [LIBRARY.so ...]   (default lib/libebbmalloc.so)
"""
import collections, os, re, subprocess, sys, tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXE = REPO / "build" / "bench" / "many-threads"
HEADER = re.compile(r"^\s*\S+\s+(\d+)\s+(\d+\.\d+):\s+(sched:\S+):\s+(.*)$")


def events(text):
    for block in text.split("\n\n"):
        lines = block.strip("\n").split("\n")
        m = HEADER.match(lines[0]) if lines and lines[0] else None
        if m:
            yield int(m.group(1)), float(m.group(2)), m.group(3), m.group(4), [
                l.split()[1].split("+")[0] for l in lines[1:] if len(l.split()) > 1]


def analyse(text):
    evs = list(events(text))
    tids = collections.Counter(tid for tid, _, ev, _, stack in evs
                               if ev == "sched:sched_switch" and "cleaner" in stack)
    if not tids:
        return None
    me = tids.most_common(1)[0][0]
    asleep, runq, count = collections.Counter(), 0.0, collections.Counter()
    state = None
    for tid, t, ev, args, stack in evs:
        if ev == "sched:sched_switch" and tid == me:
            blocked = re.search(r"prev_state=[SD]", args) is not None
            if any(k in f for f in stack for k in ("pthread_cond", "pthread_mutex", "lll_lock", "futex_abstimed")):
                where = "the workload's queue (pthread)"
            else:
                where = next((f for f in stack if not f.startswith(
                    ("__", "schedule", "futex", "do_", "entry_", "x64", "syscall", "[unknown]", "os_",
                     "ebb_lock"))), "?")
            state = (t, where if blocked else None)
        elif ev == "sched:sched_wakeup" and re.search(rf"pid={me}\b", args) and state and state[1]:
            asleep[state[1]] += t - state[0]
            count[state[1]] += 1
            state = (t, None)
        elif ev == "sched:sched_switch" and re.search(rf"next_pid={me}\b", args) and state:
            if state[1] is None:
                runq += t - state[0]
            state = None
    return asleep, count, runq


def main():
    libs = sys.argv[1:] or [str(REPO / "lib" / "libebbmalloc.so")]
    if not EXE.exists():
        sys.exit(f"{EXE} missing: build it with bench/run.py first (see --help)")
    for lib in libs:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "perf.data"
            env = dict(os.environ, LD_PRELOAD=lib)
            run = subprocess.run(["perf", "record", "-q", "-a", "-g", "-e", "sched:sched_switch",
                                  "-e", "sched:sched_wakeup", "-o", str(data), "--",
                                  str(EXE), "64", "cleaner", "8", "400"],
                                 env=env, capture_output=True, text=True)
            line = next((l for l in run.stdout.split("\n") if l.startswith("threads=")), "")
            script = subprocess.run(["perf", "script", "-i", str(data), "-F", "comm,tid,time,event,trace,ip,sym"],
                                    capture_output=True, text=True).stdout
        got = analyse(script)
        live = re.search(r"peak_live_mib=(\S+)", line)
        peak = re.search(r" peak=(\S+)", line)
        print(f"== {lib}: peak live {live.group(1) if live else '?'} MiB, peak RSS {peak.group(1) if peak else '?'} MiB")
        if not got:
            print("   (no cleaner thread found in the trace)")
            continue
        asleep, count, runq = got
        for where, secs in asleep.most_common():
            print(f"   asleep in {where:32s} {secs:7.3f} s  ({count[where]} times)")
        print(f"   woken, waiting for a CPU           {runq:7.3f} s")


if __name__ == "__main__":
    main()
