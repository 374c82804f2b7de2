"""The memory-return scenarios (suite "memory-return"): does RSS follow the
live heap after a mass free, with many threads, and with survivors?

    python3 bench/run.py --suite memory-return      # or: make bench-memory
"""

MIB = ("MiB", 1)


def register(api):
    class CreateDestroy(api.CWorkload):
        name = source = "create-destroy"
        suite = "memory-return"
        description = ("10 000 objects of 250 mixed blocks (16 B-64 KiB, half with a 100-300 KiB "
                       "buffer), about 6 GiB, destroyed in random order, then 11 s idle")
        metrics = {
            "peak_mib": ("peak RSS (MiB)", *MIB),
            "after_free_mib": ("RSS right after the free (MiB)", *MIB),
            "idle_05s_mib": ("RSS 0.5 s after the free (MiB)", *MIB),
            "idle_2s_mib": ("RSS 2 s after the free (MiB)", *MIB),
            "idle_11s_mib": ("RSS 11 s after the free (MiB)", *MIB),
            "kept_2s_pct": ("kept 2 s after the free, % of peak", "%", 1),
        }

        def args(self, ctx, params):
            return [api.scaled(ctx, 10000)]

    class ManyThreads(api.CWorkload):
        source = "many-threads"
        suite = "memory-return"
        metrics = {
            "peak_mib": ("peak RSS (MiB)", *MIB),
            "after_free_2s_mib": ("RSS 2 s after the free, threads alive (MiB)", *MIB),
            "kept_2s_pct": ("kept 2 s after the free, % of peak", "%", 1),
            "vsz_after_free_2s_mib": ("virtual size after the free (MiB)", *MIB),
            "maps_ge_60mib": ("anonymous mappings >= 60 MiB", "", 1),
            "after_exit_2s_mib": ("RSS after the threads exit (MiB)", *MIB),
            "peak_over_live": ("peak RSS / peak live bytes", "x", 1),
        }

        def __init__(self, threads, cleaner):
            self.threads, self.cleaner = threads, cleaner
            self.name = f"many-threads-{threads}" + ("-cleaner" if cleaner else "")
            self.description = (f"{threads} threads churn inflate-like state (7 KiB + 32 KiB + "
                                f"4 x 1-64 KiB) up to 8 MiB each, free it all and stay alive"
                                + ("; one cleaner thread does half of the frees" if cleaner else ""))

        def args(self, ctx, params):
            return [self.threads, "cleaner" if self.cleaner else "plain", 8, api.scaled(ctx, 400)]

    class Survivors(api.CWorkload):
        source = "survivors"
        suite = "memory-return"
        metrics = {
            "ratio_end": ("RSS / live at the end", "x", 1),
            "ratio_2s": ("RSS / live 2 s later", "x", 1),
            "ratio_11s": ("RSS / live 11 s later", "x", 1),
        }

        def __init__(self, refill):
            # refill: the second phase's bytes, % of the first's. 100 is the
            # issue's reference (glibc keeps every phase-1 page and still
            # stays near 1x: the new mix fills the old holes); 25 leaves most
            # of the held pages to the survivors alone.
            self.refill = refill
            self.name = "survivors" if refill == 100 else f"survivors-refill{refill}"
            self.description = (f"1 GiB of 16 B-4 KiB blocks, all but every 50th freed, then "
                                f"{refill * 1024 // 100} MiB of 2-8 KiB blocks; RSS / live bytes")

        def args(self, ctx, params):
            return [api.scaled(ctx, 1024), self.refill]

    api.register_workload(CreateDestroy())
    for threads, cleaner in ((16, False), (64, False), (64, True)):
        api.register_workload(ManyThreads(threads, cleaner))
    for refill in (100, 25):
        api.register_workload(Survivors(refill))
    register_variants(api)


def register_variants(api):
    """ebbmalloc with purging off, for the cost of purging on the default
    suite: --allocators "ebbmalloc ebbmalloc-nopurge" --ratios ebbmalloc."""
    api.register_allocator("ebbmalloc-nopurge", api.REPO / "lib" / "libebbmalloc.so",
                           env={"EBBMALLOC_CONF": "dirty_decay_ms:-1,background_thread:false"},
                           snapshot=True)
