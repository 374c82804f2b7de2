"""Cost of heap profiling: ebbmalloc with prof:true at the default sample
rate (the default backtraces, prof_unwind:dwarf, and the other methods),
and in exact mode (every allocation sampled), against plain ebbmalloc:

    python3 bench/run.py --allocators "ebbmalloc ebbmalloc-prof ebbmalloc-prof-fp" --ratios ebbmalloc
    python3 bench/run.py --allocators "ebbmalloc ebbmalloc-prof-exact" --ratios ebbmalloc --only ...

ebbmalloc-prof-libunwind needs the library built with UNWIND=libunwind:
`make build/libunwind/lib/libebbmalloc.so` (lib/ keeps the default build).
"""


def register(api):
    lib = api.REPO / "lib" / "libebbmalloc.so"
    api.register_allocator("ebbmalloc-prof", lib, env={"EBBMALLOC_CONF": "prof:true"}, snapshot=True)
    api.register_allocator("ebbmalloc-prof-libgcc", lib,
                           env={"EBBMALLOC_CONF": "prof:true,prof_unwind:libgcc"}, snapshot=True)
    api.register_allocator("ebbmalloc-prof-fp", lib,
                           env={"EBBMALLOC_CONF": "prof:true,prof_unwind:fp"}, snapshot=True)
    api.register_allocator("ebbmalloc-prof-libunwind",
                           api.REPO / "build" / "libunwind" / "lib" / "libebbmalloc.so",
                           env={"EBBMALLOC_CONF": "prof:true,prof_unwind:libunwind"}, snapshot=True,
                           hint="make build/libunwind/lib/libebbmalloc.so")
    api.register_allocator("ebbmalloc-prof-exact", lib,
                           env={"EBBMALLOC_CONF": "prof:true,lg_prof_sample:0,prof_prefix:"},
                           snapshot=True)
    for how in ("libgcc", "fp"):
        api.register_allocator(f"ebbmalloc-prof-exact-{how}", lib,
                               env={"EBBMALLOC_CONF": f"prof:true,lg_prof_sample:0,prof_prefix:,prof_unwind:{how}"},
                               snapshot=True)
