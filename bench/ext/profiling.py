"""Cost of heap profiling: ebbmalloc with prof:true at the default sample
rate, and in exact mode (every allocation sampled), against plain ebbmalloc:

    python3 bench/run.py --allocators "ebbmalloc ebbmalloc-prof ebbmalloc-prof-fp" --ratios ebbmalloc
    python3 bench/run.py --allocators "ebbmalloc ebbmalloc-prof-exact" --ratios ebbmalloc --only ...
"""


def register(api):
    lib = api.REPO / "lib" / "libebbmalloc.so"
    api.register_allocator("ebbmalloc-prof", lib, env={"EBBMALLOC_CONF": "prof:true"}, snapshot=True)
    api.register_allocator("ebbmalloc-prof-fp", lib,
                           env={"EBBMALLOC_CONF": "prof:true,prof_unwind:fp"}, snapshot=True)
    api.register_allocator("ebbmalloc-prof-exact", lib,
                           env={"EBBMALLOC_CONF": "prof:true,lg_prof_sample:0,prof_prefix:"},
                           snapshot=True)
