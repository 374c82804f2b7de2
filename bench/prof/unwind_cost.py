#!/usr/bin/env python3
"""Cost of one heap-profile backtrace per prof_unwind method.

Builds and runs build/bench/unwind_cost (bench/prof/unwind_cost.c: the
library's prof_backtrace on a stack about 20 frames deep, methods
interleaved round by round) and prints its table; --record appends it to
doc/benchmarks.md as a dated section.

    python3 bench/prof/unwind_cost.py [--rounds 21] [--ms 40] [--record]
"""
import argparse, datetime, os, platform, subprocess, sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def sh(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else ""


def machine():
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    return f"CPU: {cpu or platform.machine()}; cores: {os.cpu_count()}; kernel: {platform.release()}; " \
           f"load average at start: {load}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--ms", type=float, default=40, help="milliseconds per method per round")
    ap.add_argument("--record", action="store_true", help="append the result to doc/benchmarks.md")
    args = ap.parse_args()
    subprocess.run(["make", "-s", "-C", str(REPO), "build/bench/unwind_cost"], check=True)
    where = machine()
    cmd = [str(REPO / "build/bench/unwind_cost"), "--rounds", str(args.rounds), "--ms", str(args.ms)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    print(out, end="")
    if not args.record:
        return
    rows, notes = [], []
    for line in out.splitlines()[2:]:
        f = line.split()
        if len(f) >= 5 and f[1].isdigit():
            rows.append(f"| {f[0]} | {f[1]} | {f[2]} | {f[3]} | {' '.join(f[4:])} |")
        elif line.strip():
            notes.append(line.strip())
    commit = sh(["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"]) or "unknown"
    if sh(["git", "-C", str(REPO), "status", "--porcelain", "--", "src", "include", "bench/prof", "Makefile"]):
        commit += " + uncommitted changes"
    lu = sh(["dpkg-query", "-W", "-f", "${Version}", "libunwind-dev"])
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = (f"\n## {now} — cost of one heap-profile backtrace per prof_unwind method\n\n"
            f"Command (from the repository root): `python3 bench/prof/unwind_cost.py --rounds {args.rounds}"
            f"{'' if args.ms == 40 else f' --ms {args.ms:g}'} --record` (ebbmalloc git {commit}; "
            f"`build/bench/unwind_cost`, built by `make build/bench/unwind_cost` from "
            f"`bench/prof/unwind_cost.c` and the library's sources, gcc -O2"
            f"{f'; libunwind {lu} (Debian libunwind-dev)' if lu else '; no libunwind'}).\n\n"
            f"Machine: {where}.\n\n"
            f"{args.rounds} rounds of about {args.ms:g} ms per method, methods interleaved; "
            f"ns per `prof_backtrace` call (median and fastest round).\n\n"
            "| method | frames | median ns | fastest ns | stack |\n|---|---:|---:|---:|---|\n"
            + "\n".join(rows) + "\n\n" + "".join(f"- {n}\n" for n in notes))
    with open(REPO / "doc" / "benchmarks.md", "a") as f:
        f.write(text)
    print("recorded in doc/benchmarks.md", file=sys.stderr)


if __name__ == "__main__":
    main()
