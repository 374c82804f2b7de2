#!/usr/bin/env python3
"""How low can survivors' RSS / live go for an allocator with size classes?

Replays bench/workloads/survivors.c's sizes (same generator, same order) in
Python, lays each class's blocks out in slabs as src/sizeclass.c does
(blocks back to back, slots may straddle pages) and, for comparison, with no
slot straddling a page boundary, and counts the 4 KiB pages that hold a
phase-one survivor (every 50th block).

Phase two (2-8 KiB) can only reuse the free space next to survivors of the
same classes, so in the classes phase two never asks for, the rest of every
page holding a survivor stays resident whatever the allocator does, short
of moving live blocks: a floor on RSS / live that holds even with no class
rounding and no metadata at all. Live bytes include the used part of the
workload's own pointer and size arrays, as survivors.c counts them.

    python3 bench/memret/survivors_layout.py [--mib 1024] [--refill 100]
"""
import argparse, collections

MASK = (1 << 64) - 1
PAGE = 4096


def class_bytes(c):
    if c < 8:
        return 16 * (c + 1)
    g, k = (c - 8) // 8, (c - 8) % 8 + 1
    return (128 << g) + (k << (4 + g))


CLASSES = [class_bytes(c) for c in range(72)]


def size_class(n):
    return next(c for c, s in enumerate(CLASSES) if s >= n)


def slab(size):
    """src/sizeclass.c pick_slab: least tail waste, longest of those."""
    best = None
    for p in range(1, 17):
        b = p * PAGE
        n = b // size
        if n > 512:
            break
        if n < 2:
            continue
        w = b - n * size
        if best is None or w * best[0] * PAGE <= best[2] * b:
            best = (p, n, w)
    return best[0], best[1]


def contiguous(size, k):
    return k * size


def no_straddle(size, k):
    if size >= PAGE:
        return k * size
    per = PAGE // size
    return (k // per) * PAGE + (k % per) * size


def replay(mib, refill):
    rng = [0x9e3779b97f4a7c15]

    def nxt():
        x = rng[0]
        x ^= (x << 13) & MASK
        x ^= x >> 7
        x ^= (x << 17) & MASK
        rng[0] = x
        return x

    target = mib << 20
    cap = target // 16
    p1, total = [], 0
    while total < target and len(p1) < cap:
        n = 16 << (nxt() % 8)
        n += nxt() % n
        p1.append(n)
        total += n
    second = target // 100 * refill
    p2, total, cap2 = [], 0, second // 2048 + 1
    while total < second and len(p2) < cap2:
        n = 2048 + nxt() % 6144
        p2.append(n)
        total += n
    return p1, p2


def pinned_pages(seq, size, layout):
    """Pages holding a survivor, for one class's blocks in allocation order."""
    pages, slots = slab(size)
    if layout is no_straddle and size < PAGE:
        slots = (PAGE // size) * pages
    pins = set()
    for j, survivor in enumerate(seq):
        if survivor:
            off = layout(size, j % slots)
            for pg in range(off // PAGE, (off + size - 1) // PAGE + 1):
                pins.add((j // slots, pg))
    return len(pins)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--refill", type=int, default=100, help="phase two's bytes, %% of phase one's")
    args = ap.parse_args()
    p1, p2 = replay(args.mib, args.refill)
    per_class = collections.defaultdict(list)
    surv_req = collections.Counter()
    for i, n in enumerate(p1):
        c = size_class(n)
        per_class[c].append(i % 50 == 0)
        if i % 50 == 0:
            surv_req[c] += n
    p2_classes = {size_class(n) for n in p2}
    arrays = 16 * len(p1) + 8 * len(p2)
    live = sum(surv_req.values()) + sum(p2) + arrays
    mib = 1 << 20
    print(f"live {live / mib:.1f} MiB ({sum(surv_req.values()) / mib:.1f} MiB phase-one survivors, "
          f"{sum(p2) / mib:.1f} MiB phase two, {arrays / mib:.1f} MiB survivors.c's own arrays)")
    floor = 0
    for name, layout in (("back to back (ebbmalloc)", contiguous), ("no slot across a page", no_straddle)):
        pinned = only = only_req = 0
        for c, seq in per_class.items():
            pg = pinned_pages(seq, CLASSES[c], layout)
            pinned += pg
            if c not in p2_classes:
                only += pg
                only_req += surv_req[c]
        spare = (only * PAGE - only_req) / mib
        print(f"{name:26s}: {pinned * PAGE / mib:6.1f} MiB of pages hold a survivor; in classes phase two "
              f"never uses, {only * PAGE / mib:.1f} MiB of pages for {only_req / mib:.1f} MiB of survivors "
              f"({spare:.1f} MiB that nothing can reuse)")
        floor = spare if not floor else min(floor, spare)
    print(f"floor, with no rounding and no metadata: RSS / live >= "
          f"(live + {floor:.1f}) / live = {(live + floor * mib) / live:.3f}")


if __name__ == "__main__":
    main()
