#!/usr/bin/env python3
"""Where the survivors benchmark's RSS goes, per size class.

Builds bench/memret/survivors_pages.c against the allocator built without
the standard names (build/libebbtest.a), runs it (the workload's sizes and
order, then 11 s idle) and splits RSS / live bytes into: requested bytes,
class rounding, free space in pages that hold a live block ("pinned"),
resident pages with no live block and metadata. Live bytes include the used
part of the workload's own pointer and size arrays, as survivors.c counts
them (here they come from libc, so they add no overhead).

    python3 bench/memret/survivors_pages.py [--mib 1024] [--refill 100] [--idle 11] [--classes]
"""
import argparse, subprocess, sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--refill", type=int, default=100, help="phase two's bytes, %% of phase one's")
    ap.add_argument("--idle", type=int, default=11)
    ap.add_argument("--classes", action="store_true", help="print the table per size class")
    args = ap.parse_args()
    subprocess.run(["make", "-s", "build/libebbtest.a"], cwd=REPO, check=True)
    exe = REPO / "build" / "bench" / "survivors_pages"
    exe.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["gcc", "-std=gnu11", "-O2", "-D_GNU_SOURCE", "-Iinclude", "-Isrc", "-o", str(exe),
                    "bench/memret/survivors_pages.c", "build/libebbtest.a", "-lpthread"], cwd=REPO, check=True)
    out = subprocess.run([str(exe), str(args.mib), str(args.idle), str(args.refill)], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    rows = [l.split() for l in out if l and l[0].isdigit()]
    total = next(l.split() for l in out if l.startswith("total"))
    extra = dict(zip(*[iter(next(l for l in out if l.startswith("metadata")).split())] * 2))
    resident, pinned, alloc, req = (float(x) for x in total[3:7])
    meta, arrays = float(extra["metadata_mib"]), float(extra["arrays_mib"])
    if args.classes:
        print("| class | slabs | resident MiB | pinned MiB | allocated MiB | requested MiB |")
        print("|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            print(f"| {r[0]} | {r[1]} | {r[3]} | {r[4]} | {r[5]} | {r[6]} |")
    over = [("class rounding of live blocks", alloc - req),
            ("free space in pages holding a live block", pinned - alloc),
            ("resident slab pages holding no live block", resident - pinned),
            ("metadata (descriptors, caches, arenas)", meta)]
    req += arrays
    print(f"live bytes: {req:.1f} MiB (of which survivors.c's arrays {arrays:.1f}); "
          f"thread caches {extra['cached']} B, dirty {extra['dirty']} B")
    for name, mib in over:
        print(f"  {name:44s} {mib:6.1f} MiB = {mib / req:.3f} x live")
    print(f"  {'sum':44s} {sum(m for _, m in over):6.1f} MiB: RSS / live about "
          f"{1 + sum(m for _, m in over) / req:.2f} (plus libraries touched after the baseline)")


if __name__ == "__main__":
    sys.exit(main())
