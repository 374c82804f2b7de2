# ebbmalloc build. `make` builds the libraries and the launcher; `make check`
# installs what the tests need (Debian) and runs every test.

CC ?= cc
CXX ?= c++
PREFIX ?= /usr/local
DESTDIR ?=

WARN := -Wall -Wextra -Werror
BASE_CFLAGS := -std=gnu11 -g -fPIC -D_GNU_SOURCE -Iinclude -Isrc $(WARN) \
	-fvisibility=hidden -ftls-model=initial-exec -fno-semantic-interposition \
	-fno-strict-aliasing -fno-omit-frame-pointer -momit-leaf-frame-pointer \
	-foptimize-sibling-calls
# make UNWIND=libunwind adds prof_unwind:libunwind (libunwind's
# unw_backtrace; Debian: libunwind-dev) and makes libunwind.so.8 a run-time
# dependency; the default build needs nothing but libc. libunwind exports
# _Unwind_* names of its own: libgcc's unwinder is linked ahead of it, so
# prof_unwind:libgcc and dwarf's fallback stay libgcc's.
UNWIND ?=
ifeq ($(UNWIND),libunwind)
BASE_CFLAGS += -DEBB_LIBUNWIND
SO_LIBS := -l:libgcc_eh.a -lunwind
TEST_LIBS := -lunwind
else ifneq ($(UNWIND),)
$(error UNWIND must be empty or libunwind, not "$(UNWIND)")
endif
# Objects depend on the UNWIND choice, so switching it rebuilds them.
UNWIND_STAMP := build/unwind-$(or $(UNWIND),default).stamp

CFLAGS ?= -O2
ALL_CFLAGS := $(BASE_CFLAGS) $(CFLAGS)
# Bind our own calls locally and resolve every symbol at load time: the
# allocator may be entered by the dynamic loader before lazy binding works.
# libgcc's unwinder (heap-profile backtraces) is linked in and hidden, so
# the library needs no libgcc_s and never interposes the program's own.
SO_LDFLAGS := -shared -Wl,-z,now -Wl,-Bsymbolic-functions -Wl,--no-undefined \
	-static-libgcc -Wl,--exclude-libs,ALL -Wl,--version-script=src/libebbmalloc.map

SRCS := $(sort $(wildcard src/*.c))
# The unit tests link the allocator without the standard names, so the test
# harness (and ASan) keep their own malloc.
TEST_SRCS := $(filter-out src/override_cxx.c,$(SRCS))

OBJS := $(patsubst src/%.c,build/obj/%.o,$(SRCS))
TEST_OBJS := $(patsubst src/%.c,build/test/%.o,$(TEST_SRCS))
ASAN_OBJS := $(patsubst src/%.c,build/asan/%.o,$(TEST_SRCS))

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(patsubst tests/unit/%.c,build/unit/%,$(UNIT_SRCS))
ASAN_BINS := $(patsubst tests/unit/%.c,build/unit-asan/%,$(UNIT_SRCS))
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

PROG_SRCS := $(sort $(wildcard tests/programs/*.c))
PROG_BINS := $(patsubst tests/programs/%.c,build/programs/%,$(PROG_SRCS))

.PHONY: all clean install uninstall unit test-asan e2e test check deps demo programs
all: lib/libebbmalloc.so lib/libebbmalloc.a bin/ebbmalloc

$(UNWIND_STAMP):
	@mkdir -p $(@D)
	rm -f build/unwind-*.stamp
	touch $@

build/obj/%.o: src/%.c $(wildcard src/*.h) include/ebbmalloc.h $(UNWIND_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

build/test/%.o: src/%.c $(wildcard src/*.h) include/ebbmalloc.h $(UNWIND_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DEBB_NO_OVERRIDE -c $< -o $@

build/asan/%.o: src/%.c $(wildcard src/*.h) include/ebbmalloc.h $(UNWIND_STAMP)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -O1 $(ASAN_FLAGS) -DEBB_NO_OVERRIDE -c $< -o $@

lib/libebbmalloc.so: $(OBJS) src/libebbmalloc.map
	@mkdir -p $(@D)
	$(CC) $(SO_LDFLAGS) -o $@ $(filter %.o,$^) $(SO_LIBS) -lpthread

lib/libebbmalloc.a: $(OBJS)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

bin/ebbmalloc: tools/ebbmalloc.in
	@mkdir -p $(@D)
	sed 's|@LIBDIR@|$(abspath lib)|g' $< > $@
	chmod +x $@

build/libebbtest.a: $(TEST_OBJS)
	rm -f $@
	ar rcs $@ $^

build/libebbasan.a: $(ASAN_OBJS)
	rm -f $@
	ar rcs $@ $^

build/unit/%: tests/unit/%.c build/libebbtest.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(filter %.o,$^) build/libebbtest.a -lcmocka $(TEST_LIBS) -lpthread

build/unit-asan/%: tests/unit/%.c build/libebbasan.a
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -O1 $(ASAN_FLAGS) -o $@ $< $(filter %.o,$^) build/libebbasan.a -lcmocka $(TEST_LIBS) -lpthread

# test_prof_unwind walks code built without frame pointers, as most
# distributions build theirs: its call chains are an object of their own.
build/unit/unwind_chains.o: tests/unit/unwind_chains.c tests/unit/unwind_chains.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -fomit-frame-pointer -c $< -o $@

build/unit-asan/unwind_chains.o: tests/unit/unwind_chains.c tests/unit/unwind_chains.h
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -O1 $(ASAN_FLAGS) -fomit-frame-pointer -c $< -o $@

build/unit/test_prof_unwind: build/unit/unwind_chains.o
build/unit-asan/test_prof_unwind: build/unit-asan/unwind_chains.o

build/programs/%: tests/programs/%.c include/ebbmalloc.h
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -Iinclude -o $@ $< -lpthread

programs: $(PROG_BINS)

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

test-asan: $(ASAN_BINS)
	@set -e; for t in $(ASAN_BINS); do echo "== $$t (asan/ubsan)"; \
		ASAN_OPTIONS=detect_leaks=0 $$t; done

e2e: all programs
	bash tests/e2e/run.sh

# The benchmarks' C sources, compiled (not run) by the tests so that a
# change to the library's internals cannot leave one of them broken.
BENCH_CHECK_SRCS := bench/launch.c $(wildcard bench/workloads/*.c) bench/prof/leak.c
bench-build-check: build/libebbtest.a build/bench/unwind_cost
	@mkdir -p build/bench-check
	@set -e; for f in $(BENCH_CHECK_SRCS); do \
		$(CC) -std=gnu11 -O2 -pthread -Wall -Wextra -Werror -Ibench/workloads \
			-o build/bench-check/$$(basename $$f .c) $$f -ldl; done
	$(CC) -std=gnu11 -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude -Isrc \
		-o build/bench-check/survivors_pages bench/memret/survivors_pages.c build/libebbtest.a -lpthread
.PHONY: bench-build-check

test: unit test-asan e2e bench-build-check

deps:
	bash tools/install-deps.sh

check: deps
	$(MAKE) test

# The leak demo runs the printed jeprof command when jeprof is installed
# (Debian: libjemalloc-dev); its dumps go to build/, not the source tree.
demo: all programs
	@echo "== finding a leak (bin/ebbmalloc --leak --prefix build/ebbmalloc-leak -- build/programs/prof_demo)"
	@bin/ebbmalloc --leak --prefix build/ebbmalloc-leak -- build/programs/prof_demo 2>&1 | tee build/demo-leak.log
	@cmd=$$(sed -n 's/^ebbmalloc: see where the leaked memory was allocated: //p' build/demo-leak.log); \
	if [ -z "$$cmd" ]; then echo "(the launcher printed no jeprof command)"; \
	elif command -v jeprof >/dev/null 2>&1; then echo "== $$cmd"; sh -c "$$cmd" 2>/dev/null; \
	else echo "(jeprof is not installed: apt-get install libjemalloc-dev, then run: $$cmd)"; fi
	@echo "== on glibc's malloc"
	@build/programs/demo
	@echo "== on ebbmalloc (bin/ebbmalloc --stats -- build/programs/demo)"
	@bin/ebbmalloc --stats -- build/programs/demo

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin
	install -m 755 lib/libebbmalloc.so $(DESTDIR)$(PREFIX)/lib/
	install -m 644 lib/libebbmalloc.a $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/ebbmalloc.h $(DESTDIR)$(PREFIX)/include/
	sed 's|@LIBDIR@|$(PREFIX)/lib|g' tools/ebbmalloc.in > $(DESTDIR)$(PREFIX)/bin/ebbmalloc
	chmod 755 $(DESTDIR)$(PREFIX)/bin/ebbmalloc

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/lib/libebbmalloc.so $(DESTDIR)$(PREFIX)/lib/libebbmalloc.a \
		$(DESTDIR)$(PREFIX)/include/ebbmalloc.h $(DESTDIR)$(PREFIX)/bin/ebbmalloc

clean:
	rm -rf build lib bin

# Benchmarks (bench/run.py; results are appended to doc/benchmarks.md).
# ALLOCATORS="glibc ebbmalloc /path/to/lib.so" picks the allocators,
# BENCH_FLAGS passes further options (e.g. BENCH_FLAGS="--runs 7 --only larson").
.PHONY: bench bench-quick bench-fastpath bench-unwind
BENCH_RUN = bash tools/install-deps.sh --bench && ALLOCATORS="$(ALLOCATORS)" python3 bench/run.py
bench: all
	$(BENCH_RUN) $(BENCH_FLAGS)
bench-quick: all
	$(BENCH_RUN) --quick $(BENCH_FLAGS)
bench-fastpath: all
	$(BENCH_RUN) --fastpath $(BENCH_FLAGS)
bench-memory: all
	$(BENCH_RUN) --suite memory-return $(BENCH_FLAGS)
.PHONY: bench-memory

# Cost of one heap-profile backtrace per prof_unwind method
# (bench/prof/unwind_cost.c, from the library's own sources), with
# libunwind when its header is installed. UNWIND_COST_FLAGS="--rounds 21".
UNWIND_COST_SRCS := bench/prof/unwind_cost.c src/prof_bt.c src/prof_unwind.c src/prof_cfi.c \
	src/config.c src/msg.c src/os.c
HAVE_LIBUNWIND = $(shell echo '\#include <libunwind.h>' | $(CC) -E -x c - >/dev/null 2>&1 && echo yes)
build/bench/unwind_cost: $(UNWIND_COST_SRCS) $(wildcard src/*.h)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DEBB_NO_OVERRIDE $(if $(HAVE_LIBUNWIND),-DEBB_LIBUNWIND) -o $@ \
		$(UNWIND_COST_SRCS) -static-libgcc -l:libgcc_eh.a $(if $(HAVE_LIBUNWIND),-lunwind) -lpthread
bench-unwind: build/bench/unwind_cost
	build/bench/unwind_cost $(UNWIND_COST_FLAGS)

# The library built with UNWIND=libunwind in build/libunwind/, from a copy
# of the sources so that lib/ keeps the default build: the
# ebbmalloc-prof-libunwind variant of bench/ext/profiling.py.
build/libunwind/lib/libebbmalloc.so: $(SRCS) $(wildcard src/*.h) include/ebbmalloc.h Makefile
	rm -rf build/libunwind
	mkdir -p build/libunwind
	cp -r Makefile src include tools build/libunwind/
	$(MAKE) -C build/libunwind UNWIND=libunwind lib/libebbmalloc.so
