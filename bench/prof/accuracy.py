#!/usr/bin/env python3
"""How close is jeprof's estimate of a sampled leak to the truth?

Runs bench/prof/leak.c (4096 x 1024 B leaked from leak_test, 4 MiB) N times
under ebbmalloc at the default sample rate (lg_prof_sample 19), reads each
final dump with jeprof, and reports the mean and spread of the bytes jeprof
attributes to leak_test. About 8 samples land in 4 MiB at a 512 KiB period,
so one run alone is about +-35 %; the mean of 100 runs should be within a
few per cent.

    python3 bench/prof/accuracy.py [--runs 100] [--record]
"""
import argparse, datetime, os, statistics, subprocess, sys, tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TRUE = 4096 * 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--record", action="store_true", help="append the result to doc/benchmarks.md")
    args = ap.parse_args()
    lib = REPO / "lib" / "libebbmalloc.so"
    if not lib.exists():
        sys.exit("build first: make")
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(tmp) / "leak"
        subprocess.run(["gcc", "-O1", "-g", "-o", str(exe), str(REPO / "bench/prof/leak.c")], check=True)
        values = []
        for i in range(args.runs):
            prefix = Path(tmp) / f"run{i}"
            env = dict(os.environ, LD_PRELOAD=str(lib),
                       EBBMALLOC_CONF=f"prof:true,prof_final:true,prof_prefix:{prefix}")
            subprocess.run([str(exe)], env=env, check=True)
            dumps = list(Path(tmp).glob(f"run{i}.*.f.heap"))
            if len(dumps) != 1:
                sys.exit(f"run {i}: expected one final dump, found {dumps}")
            out = subprocess.run(["jeprof", "--text", "--show_bytes", str(exe), str(dumps[0])],
                                 capture_output=True, text=True, check=True).stdout
            got = 0
            for line in out.splitlines():
                f = line.split()
                if len(f) == 6 and f[5] == "leak_test":
                    got = int(f[0])
            values.append(got)
    mean = statistics.mean(values)
    sd = statistics.pstdev(values)
    lines = [
        f"runs {len(values)}; true {TRUE} B; jeprof's estimate for leak_test: "
        f"mean {mean:.0f} B ({100 * mean / TRUE:.1f} % of true), "
        f"per-run SD {100 * sd / TRUE:.1f} %, standard error of the mean {100 * sd / TRUE / len(values) ** 0.5:.1f} %, "
        f"range {100 * min(values) / TRUE:.0f}-{100 * max(values) / TRUE:.0f} %",
    ]
    print(lines[0])
    if args.record:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        with open(REPO / "doc" / "benchmarks.md", "a") as f:
            f.write(f"\n## {now} — heap-profile accuracy (default sample rate)\n\n"
                    f"Command (from the repository root): `python3 bench/prof/accuracy.py --runs {args.runs} --record`"
                    f" (ebbmalloc git {commit}; `bench/prof/leak.c`, gcc -O1 -g; "
                    f"`EBBMALLOC_CONF=prof:true,prof_final:true`, lg_prof_sample 19 = 512 KiB; "
                    f"`jeprof --text --show_bytes`).\n\n{lines[0]}.\n")


if __name__ == "__main__":
    main()
