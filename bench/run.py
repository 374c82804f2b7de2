#!/usr/bin/env python3
"""ebbmalloc benchmark harness: compares allocators on a suite of workloads.

    python3 bench/run.py                  # full suite, 5 runs, appends to doc/benchmarks.md
    python3 bench/run.py --quick          # reduced suite, 3 runs
    python3 bench/run.py --fastpath       # ns and instructions per malloc+free pair
    python3 bench/run.py --list           # workloads and allocators known

Every workload runs under every allocator through LD_PRELOAD (glibc: no
preload), interleaved run by run (A B C D E, then B C D E A, ...: each round
starts one allocator further on), so that drift in the machine's speed hits
every allocator alike and none always runs first. The report gives the
median wall time and peak RSS of each, their spread (min-max) and ratios
against glibc and mimalloc with a geometric-mean row; it is appended to
doc/benchmarks.md (or --out) with a gnuplot chart next to it.

A run that crashes, times out, reports corrupted memory or cannot preload
its allocator is recorded as "failed", and the script exits with status 1.

Standard library only. See doc/benchmarks.md for the workloads and how to
add new ones (WORKLOADS / register_workload, ALLOCATORS / register_allocator,
and the extension modules in bench/ext/).
"""

import argparse
import datetime
import hashlib
import importlib.util
import math
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ for bench/ext modules in the tree

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
WORKLOAD_SRC = BENCH / "workloads"
EXT_DIR = BENCH / "ext"
BUILD = REPO / "build" / "bench"
DEFAULT_OUT = REPO / "doc" / "benchmarks.md"

CC = "gcc"
CFLAGS = ["-O2", "-pthread"]

# Environment variables that tune an allocator: removed from every child so
# that each allocator runs with its defaults (an allocator variant may set
# its own, see register_allocator).
TUNING_VARS = re.compile(
    r"^(LD_PRELOAD|MALLOC_.*|GLIBC_TUNABLES|EBBMALLOC_CONF|MALLOC_CONF|"
    r"JE_MALLOC_CONF|_RJEM_MALLOC_CONF|MIMALLOC_.*|TCMALLOC_.*|PYTHONMALLOC)$")


def nproc():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def multiarch_libdir():
    arch = sysconfig.get_config_var("MULTIARCH") or "x86_64-linux-gnu"
    return Path("/usr/lib") / arch


LIBDIR = multiarch_libdir()


def die(msg, status=2):
    print(f"bench: error: {msg}", file=sys.stderr)
    sys.exit(status)


# --------------------------------------------------------------------------
# Allocators
# --------------------------------------------------------------------------

class Allocator:
    """One allocator as the runner uses it.

    path: the shared library to preload, or None for glibc's own malloc.
    env: extra environment (e.g. EBBMALLOC_CONF for a profiling variant).
    package: the Debian package that provides it (for its version and for
    tools/install-deps.sh), or None.
    """

    def __init__(self, name, path, env=None, package=None, snapshot=False):
        self.name = name
        self.path = str(path) if path else None
        self.env = dict(env or {})
        self.package = package
        # Copy the library before the runs, so a rebuild in the work tree
        # during a long run cannot change (or remove) what is measured.
        self.snapshot = snapshot
        self.preload = self.path
        self.version = ""

    def __repr__(self):
        return f"Allocator({self.name!r}, {self.path!r})"


# name -> dict(path=..., env=..., package=..., snapshot=...). Extensions add
# variants with register_allocator(), e.g. ebbmalloc with profiling on.
ALLOCATORS = {}


def register_allocator(name, path, env=None, package=None, snapshot=False, hint=None):
    """hint: the command that builds path, named when it is missing."""
    ALLOCATORS[name] = dict(path=path, env=env or {}, package=package, snapshot=snapshot, hint=hint)


register_allocator("glibc", None, package="libc6")
register_allocator("ebbmalloc", REPO / "lib" / "libebbmalloc.so", snapshot=True)
register_allocator("jemalloc", LIBDIR / "libjemalloc.so.2", package="libjemalloc2")
register_allocator("tcmalloc", LIBDIR / "libtcmalloc_minimal.so.4", package="libtcmalloc-minimal4")
register_allocator("mimalloc", LIBDIR / "libmimalloc.so.2", package="libmimalloc2.0")

DEFAULT_ALLOCATORS = "glibc ebbmalloc jemalloc tcmalloc mimalloc"


def parse_allocators(spec, alloc_env):
    """'glibc ebbmalloc /path/libx.so label=/path/liby.so' -> [Allocator]."""
    result = []
    for tok in spec.split():
        label = None
        if "=" in tok and "/" not in tok.split("=", 1)[0]:
            label, tok = tok.split("=", 1)
        if tok in ALLOCATORS:
            info = ALLOCATORS[tok]
            a = Allocator(label or tok, info["path"], info["env"], info["package"], info["snapshot"])
        elif "/" in tok or tok.endswith(".so") or ".so." in tok:
            path = Path(tok).expanduser()
            if not path.is_absolute():
                path = Path.cwd() / path
            a = Allocator(label or path.name, path, snapshot=not str(path).startswith("/usr/"))
        else:
            die(f"unknown allocator '{tok}': known are {', '.join(ALLOCATORS)}, "
                "or give the path of a shared library")
        result.append(a)
    names = [a.name for a in result]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        die(f"allocator named twice: {', '.join(sorted(dup))} (use label=path to rename)")
    for item in alloc_env:
        name, _, kv = item.partition(":")
        key, eq, val = kv.partition("=")
        if not eq or not key:
            die(f"--alloc-env wants NAME:KEY=VALUE, got '{item}'")
        hits = [a for a in result if a.name == name]
        if not hits:
            die(f"--alloc-env: no allocator named '{name}' in the list")
        hits[0].env[key] = val
    if not result:
        die("no allocators given")
    return result


# --------------------------------------------------------------------------
# Running one process
# --------------------------------------------------------------------------

class RunError(Exception):
    """A run failed: crash, non-zero exit, timeout, corrupted data, ..."""

    def __init__(self, short, detail=""):
        super().__init__(short)
        self.short = short
        self.detail = detail


class Result:
    """What one run measured. metrics holds workload-specific extras."""

    def __init__(self, time_s, rss_kib, metrics=None):
        self.time_s = time_s
        self.rss_kib = rss_kib
        self.metrics = dict(metrics or {})


def child_env(alloc, ctx, workload=None):
    """(environment, library to preload or "") for a run under alloc."""
    env = {k: v for k, v in os.environ.items() if not TUNING_VARS.match(k)}
    env["LC_ALL"] = "C"
    env.update(alloc.env if alloc else {})
    preload = alloc.preload if alloc else None
    if alloc and preload is None and workload is not None and workload.links_allocator:
        # The program links an allocator of its own (Debian's redis-server
        # links libjemalloc): preloading libc puts glibc's malloc first in
        # the symbol search order, so "glibc" really means glibc.
        preload = ctx.libc
    return env, preload or ""


def describe_status(status):
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return f"killed by {name}" + (" (core dumped)" if os.WCOREDUMP(status) else "")
    return f"exit status {os.WEXITSTATUS(status)}"


def tail(text, lines=12):
    t = text.strip().splitlines()
    return "\n".join(t[-lines:])


class Proc:
    """A child in its own process group, with stdout/stderr in temp files,
    reaped with wait4 so its rusage (ru_maxrss) is known."""

    def __init__(self, cmd, env, cwd=None):
        self.cmd = cmd
        self.out = tempfile.TemporaryFile()
        self.err = tempfile.TemporaryFile()
        self.t0 = time.perf_counter()
        self.popen = subprocess.Popen(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                      stdout=self.out, stderr=self.err,
                                      start_new_session=True)
        self.pid = self.popen.pid
        self.status = None
        self.rusage = None
        self.wall = None
        self.timed_out = False

    def _reaped(self, status, ru):
        self.wall = time.perf_counter() - self.t0
        self.status, self.rusage = status, ru
        self.popen.returncode = os.waitstatus_to_exitcode(status)

    def kill(self):
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def wait(self, timeout):
        if self.status is not None:
            return
        def on_timeout():
            self.timed_out = True
            self.kill()
        timer = threading.Timer(timeout, on_timeout)
        timer.start()
        try:
            _, status, ru = os.wait4(self.pid, 0)
        finally:
            timer.cancel()
        self._reaped(status, ru)

    def poll(self):
        """True when the child has exited (and is then reaped)."""
        if self.status is not None:
            return True
        pid, status, ru = os.wait4(self.pid, os.WNOHANG)
        if pid == 0:
            return False
        self._reaped(status, ru)
        return True

    def text(self, which):
        f = self.out if which == "out" else self.err
        f.seek(0)
        return f.read().decode("utf-8", "replace")

    def check(self, what, timeout):
        """Raise RunError unless the child exited 0 within the time."""
        stderr = self.text("err")
        if self.timed_out:
            raise RunError(f"timed out after {timeout:g} s", tail(stderr))
        if "cannot be preloaded" in stderr:
            raise RunError("the allocator could not be preloaded", tail(stderr))
        if self.status != 0:
            raise RunError(f"{what}: {describe_status(self.status)}", tail(stderr))

    def close(self):
        if self.status is None:
            self.kill()
            try:
                self.wait(10)
            except ChildProcessError:
                pass
        self.out.close()
        self.err.close()


METRIC_LINE = re.compile(r"^@metric\s+([A-Za-z_][A-Za-z0-9_]*)\s+(\S+)\s*$", re.M)
LAUNCH = BUILD / "launch"


def run_command(cmd, alloc, ctx, workload=None, cwd=None):
    """Run cmd under alloc to completion, through bench/launch.c, which
    forks it, waits for it with wait4 and reports the wall time and
    ru_maxrss (see launch.c for why the runner does not wait4 itself)."""
    env, preload = child_env(alloc, ctx, workload)
    fd, result_file = tempfile.mkstemp(prefix="bench-result-", dir=BUILD)
    os.close(fd)
    p = Proc([str(LAUNCH), result_file, preload, *cmd], env, cwd)
    try:
        p.wait(ctx.timeout)
        stderr = p.text("err")
        if p.timed_out:
            raise RunError(f"timed out after {ctx.timeout:g} s", tail(stderr))
        if p.status != 0:
            raise RunError(f"launcher: {describe_status(p.status)}", tail(stderr))
        with open(result_file) as f:
            fields = dict(kv.split("=", 1) for kv in f.read().split())
        status = int(fields["status"])
        if "cannot be preloaded" in stderr:
            raise RunError("the allocator could not be preloaded", tail(stderr))
        if status != 0:
            raise RunError(f"{Path(cmd[0]).name}: {describe_status(status)}", tail(stderr))
        stdout = p.text("out")
        metrics = {k: float(v) for k, v in METRIC_LINE.findall(stdout)}
        res = Result(int(fields["wall_ns"]) / 1e9, int(fields["maxrss_kib"]), metrics)
        res.cpu_s = (int(fields["utime_us"]) + int(fields["stime_us"])) / 1e6
        res.stdout = stdout
        return res
    finally:
        p.close()
        os.unlink(result_file)


# --------------------------------------------------------------------------
# Workloads
# --------------------------------------------------------------------------

class Variant:
    """One row of the tables: a workload with fixed parameters."""

    def __init__(self, workload, label, params):
        self.workload = workload
        self.label = label
        self.params = params


class Workload:
    """Base class of a workload. To add one, subclass Workload (define
    command(), or run() for anything that is not one process) or CWorkload
    (a C program in bench/workloads/), and register_workload() an instance,
    here or from a module in bench/ext/ (see doc/benchmarks.md).

    name         row label (thread variants get -<N>t appended)
    description  one line for the report and --list
    threaded     one variant per thread count (--threads)
    quick        part of the --quick suite
    suite        which suite it belongs to (--suite; default "default")
    needs        executables that must exist (installed when missing)
    links_allocator  the program links its own malloc (see child_env)
    metrics      {key: (title, unit, scale[, format])}: extra numbers the
                 workload reports ("@metric KEY VALUE" lines on its stdout,
                 or Result.metrics from a custom run()), each tabulated like
                 time and peak RSS (value x scale, in unit; lower is better)
    """

    name = ""
    description = ""
    threaded = False
    quick = True
    suite = "default"
    needs = ()
    links_allocator = False
    metrics = {}

    def prepare(self, ctx):
        """Build binaries or generate inputs; called once before the runs."""

    def variants(self, ctx):
        if self.threaded:
            return [Variant(self, f"{self.name}-{t}t", {"threads": t}) for t in ctx.threads]
        return [Variant(self, self.name, {})]

    def command(self, ctx, params):
        raise NotImplementedError

    def run(self, ctx, alloc, params):
        return run_command(self.command(ctx, params), alloc, ctx, self, cwd=BUILD)

    def show(self, ctx, params):
        """The command line, as shown in the report."""
        return " ".join(shlex.quote(rel(a)) for a in self.command(ctx, params))


def rel(arg):
    """Paths inside the repository relative to its root, for the report."""
    s = str(arg)
    return os.path.relpath(s, REPO) if s.startswith(str(REPO) + "/") else s


WORKLOADS = []


def register_workload(w):
    if any(x.name == w.name for x in WORKLOADS):
        raise ValueError(f"workload {w.name} registered twice")
    WORKLOADS.append(w)
    return w


def scaled(ctx, n):
    return max(1, int(round(n * ctx.scale)))


def compile_c(src, exe):
    exe.parent.mkdir(parents=True, exist_ok=True)
    deps = [src, *WORKLOAD_SRC.glob("*.h"), Path(__file__)]
    if exe.exists() and all(exe.stat().st_mtime >= d.stat().st_mtime for d in deps):
        return
    cmd = [CC, *CFLAGS, "-Wall", "-Wextra", "-o", str(exe), str(src)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        die(f"cannot compile {rel(src)}:\n{r.stderr}")


class CWorkload(Workload):
    """A C program bench/workloads/<source>.c; args(ctx, params) -> argv tail."""

    source = ""
    needs = ("gcc",)

    def exe(self):
        return BUILD / self.source

    def prepare(self, ctx):
        compile_c(WORKLOAD_SRC / f"{self.source}.c", self.exe())

    def args(self, ctx, params):
        raise NotImplementedError

    def command(self, ctx, params):
        return [str(self.exe()), *[str(a) for a in self.args(ctx, params)]]


class Larson(CWorkload):
    name = source = "larson"
    description = ("server simulation: threads replace random 16-1000 B objects in shared slot "
                   "arrays, most objects are freed by another thread")
    threaded = True

    def args(self, ctx, p):
        return [p["threads"], scaled(ctx, 4_000_000), 1000, 20000]


class XMalloc(CWorkload):
    name = source = "xmalloc"
    description = ("producer/consumer: half the threads allocate batches of 256 objects "
                   "(16-512 B), the other half free them (mutex queue)")
    threaded = True

    def args(self, ctx, p):
        return [p["threads"], scaled(ctx, 10000), 256, 512]


class CacheScratch(CWorkload):
    name = source = "cache-scratch"
    description = ("passive false sharing: threads free 8 B objects handed over by the main "
                   "thread, then allocate/write/free same-size objects")
    threaded = True

    def args(self, ctx, p):
        return [p["threads"], 1000, scaled(ctx, 20000), 8]


class MStress(CWorkload):
    name = source = "mstress"
    description = ("random lifetimes, sizes 16 B-1 MiB skewed small, a working set per thread, "
                   "threads restarted every round, cross-thread frees")
    threaded = True

    def args(self, ctx, p):
        return [p["threads"], 10, scaled(ctx, 50000), 2000]


class Tight(CWorkload):
    name = source = "tight"
    description = ("single thread: malloc/free loops and batches of 1000 for 16, 64, 256, "
                   "1024, 4096 and 32768 B")

    def args(self, ctx, p):
        return [scaled(ctx, 2_000_000), scaled(ctx, 300)]


class BigRealloc(CWorkload):
    name = source = "bigrealloc"
    description = "single thread: 8 buffers of 64 KiB-32 MiB grown by realloc (x1.5), pages written"

    def args(self, ctx, p):
        return [scaled(ctx, 1200), 8]


def python3():
    return "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else shutil.which("python3")


class PythonScript(Workload):
    name = "python"
    description = ("python3 building, sorting and dropping dicts, lists and strings "
                   "(bench/workloads/pyalloc.py)")
    needs = ("python3",)

    def command(self, ctx, p):
        return [python3(), "-I", str(WORKLOAD_SRC / "pyalloc.py"), str(scaled(ctx, 6))]


class SQLite(Workload):
    name = "sqlite"
    description = ("sqlite3 CLI, in-memory database: single-row inserts, a bulk insert, two "
                   "indexes, grouped/joined/sorted queries, updates and deletes")
    needs = ("sqlite3",)

    def script(self, ctx):
        return BUILD / f"sqlite-{scaled(ctx, 20000)}.sql"

    def prepare(self, ctx):
        path = self.script(ctx)
        if path.exists():
            return
        import random
        rng = random.Random(7)
        n = scaled(ctx, 20000)
        words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 12)))
                 for _ in range(500)]
        lines = ["CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT, category INTEGER,"
                 " price REAL, note TEXT);", "BEGIN;"]
        for i in range(n):
            name = " ".join(rng.choice(words) for _ in range(rng.randint(1, 4)))
            note = " ".join(rng.choice(words) for _ in range(rng.randint(0, 30)))
            lines.append(f"INSERT INTO item(name, category, price, note) VALUES"
                         f"('{name}', {rng.randint(0, 199)}, {rng.uniform(1, 1000):.2f}, '{note}');")
        lines += [
            "COMMIT;",
            "INSERT INTO item(name, category, price, note)"
            f" WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {4 * n})"
            " SELECT hex(randomblob(8)), x % 200, (x * 37) % 1000 + 0.5,"
            " substr(hex(randomblob(64)), 1, x % 120) FROM c;",
            "CREATE INDEX item_cat ON item(category, price);",
            "CREATE INDEX item_name ON item(name);",
            "SELECT category, count(*), round(avg(price), 2), max(length(note)) FROM item"
            " GROUP BY category ORDER BY 2 DESC, 1 LIMIT 5;",
            "SELECT count(*) FROM item a JOIN item b ON b.category = a.category"
            " AND b.price BETWEEN a.price - 0.5 AND a.price + 0.5 WHERE a.id % 50 = 0;",
            "SELECT name, price FROM item WHERE name LIKE 'a%' ORDER BY price DESC, id LIMIT 5;",
            "SELECT length(group_concat(name, ',')) FROM"
            " (SELECT name FROM item ORDER BY note, id LIMIT 50000);",
            "SELECT count(DISTINCT note), count(DISTINCT name) FROM item;",
            "UPDATE item SET note = note || ' ' || name WHERE category % 3 = 0;",
            "DELETE FROM item WHERE category % 5 = 0;",
            "SELECT count(*), round(sum(price), 2), sum(length(note)) FROM item;",
        ]
        path.write_text("\n".join(lines) + "\n")

    def command(self, ctx, p):
        return [shutil.which("sqlite3") or "sqlite3", "-bail", ":memory:",
                f".read {self.script(ctx)}"]

    def show(self, ctx, p):
        return f"sqlite3 -bail :memory: '.read {rel(self.script(ctx))}' (generated SQL)"


class GCC(Workload):
    name = "gcc"
    description = "gcc -O2 -c on a generated C file (structs, switches, loops, string tables)"
    needs = ("gcc",)

    def source(self, ctx):
        return BUILD / f"gcc-input-{scaled(ctx, 100)}.c"

    def prepare(self, ctx):
        path = self.source(ctx)
        if path.exists():
            return
        n = scaled(ctx, 100)
        out = ["#include <stdio.h>", "#include <string.h>", "#include <stdlib.h>", ""]
        for i in range(n):
            out += [
                f"struct rec{i} {{ int a; long b; double c[{i % 7 + 2}]; char name[{16 + i % 32}]; }};",
                f"static const char *names{i}[] = {{" +
                ", ".join(f'"n{i}_{k}"' for k in range(8)) + "};",
                f"long fn{i}(struct rec{i} *r, int n, const char *s)",
                "{",
                "    long acc = 0;",
                "    for (int k = 0; k < n; k++) {",
                f"        switch ((k + {i}) % 9) {{",
            ]
            for c in range(9):
                out.append(f"        case {c}: acc += r[k].a * {c + i} + (long)r[k].c[{c % 2}]"
                           f" + (long)strlen(names{i}[{c % 8}]); break;")
            out += [
                "        }",
                f"        if (acc > {1000 + i}) acc ^= r[k].b << {i % 5};",
                "        snprintf(r[k].name, sizeof r[k].name, \"%s%ld\", s, acc);",
                "    }",
                f"    return acc + (n > 1 ? fn{i - 1}((struct rec{i - 1} *)(void *)r, n / 2, s) : 0);"
                if i % 4 else "    return acc;",
                "}",
                "",
            ]
        out.append("long (*const table[])(void *, int, const char *) = {")
        out += [f"    (long (*)(void *, int, const char *))fn{i}," for i in range(n)]
        out.append("};")
        path.write_text("\n".join(out) + "\n")

    def command(self, ctx, p):
        return [shutil.which("gcc") or "gcc", "-O2", "-c", str(self.source(ctx)),
                "-o", str(BUILD / "gcc-output.o")]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_call(port, command, timeout=2.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(command.encode() + b"\r\n")
        try:
            return s.recv(256)
        except (ConnectionResetError, socket.timeout):
            return b""


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RunError("VmHWM missing from /proc/PID/status")


class Redis(Workload):
    """redis-server under the allocator, driven by redis-benchmark (run
    without any preload). Time is redis-benchmark's wall time; peak RSS is
    the server's VmHWM just before it is shut down."""

    name = "redis"
    description = ("redis-server on 127.0.0.1, redis-benchmark -P 16 over 200000 random keys; "
                   "time = redis-benchmark wall time, RSS = server VmHWM")
    needs = ("redis-server", "redis-benchmark")
    links_allocator = True
    tests = "set,get,lpush,lpop,sadd,hset,zadd,lrange_100"

    def bench_cmd(self, ctx, port):
        return ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-q",
                "-n", str(scaled(ctx, 30000)), "-P", "16", "-r", "200000", "-d", "100",
                "-t", self.tests]

    def server_cmd(self, port):
        return ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--daemonize", "no", "--dir", str(BUILD)]

    def show(self, ctx, p):
        return ("redis-server --port PORT --bind 127.0.0.1 --save '' --appendonly no; "
                + " ".join(shlex.quote(a) for a in self.bench_cmd(ctx, "PORT")))

    def run(self, ctx, alloc, params):
        port = free_port()
        env, preload = child_env(alloc, ctx, self)
        if preload:
            env["LD_PRELOAD"] = preload
        # Started directly: its peak RSS is read from /proc (VmHWM, which
        # starts afresh at exec), not from wait4.
        server = Proc(self.server_cmd(port), env, cwd=BUILD)
        try:
            deadline = time.monotonic() + 15
            while True:
                if server.poll():
                    server.check("redis-server", ctx.timeout)
                    raise RunError("redis-server exited at start-up", tail(server.text("out")))
                try:
                    if redis_call(port, "PING").startswith(b"+PONG"):
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RunError("redis-server did not answer PING within 15 s",
                                   tail(server.text("out")))
                time.sleep(0.02)
            client = Proc(self.bench_cmd(ctx, port), child_env(None, ctx)[0])
            try:
                client.wait(ctx.timeout)
                if server.poll():
                    server.check("redis-server", ctx.timeout)
                    raise RunError("redis-server exited during the benchmark",
                                   tail(server.text("out")))
                client.check("redis-benchmark", ctx.timeout)
                out = client.text("out").replace("\r", "\n")
                done = len(re.findall(r"requests per second", out))
                expected = len(self.tests.split(",")) + 1  # lrange_100 adds an LPUSH phase
                if done < expected:
                    raise RunError(f"redis-benchmark finished {done} of {expected} tests",
                                   tail(out + client.text("err")))
                elapsed = client.wall
            finally:
                client.close()
            hwm = vm_hwm_kib(server.pid)
            try:
                redis_call(port, "SHUTDOWN NOSAVE")
            except OSError:
                pass
            server.wait(30)
            server.check("redis-server", 30)
            return Result(elapsed, hwm)
        finally:
            server.close()


for _w in (Larson(), XMalloc(), CacheScratch(), MStress(), Tight(), BigRealloc(),
           PythonScript(), SQLite(), GCC(), Redis()):
    register_workload(_w)


def load_extensions():
    """Import bench/ext/*.py; each may define register(api) and call
    api.register_workload / api.register_allocator with this module's
    classes (api is this module)."""
    if not EXT_DIR.is_dir():
        return
    api = sys.modules[__name__]
    for path in sorted(EXT_DIR.glob("*.py")):
        spec = importlib.util.spec_from_file_location(f"bench_ext_{path.stem}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        if hasattr(mod, "register"):
            mod.register(api)


# --------------------------------------------------------------------------
# Dependencies, machine description
# --------------------------------------------------------------------------

def ensure_deps(allocs, needs):
    """Install what is missing with tools/install-deps.sh --bench (apt-get,
    only for missing packages)."""
    missing = [a.path for a in allocs if a.path and a.package and not os.path.exists(a.path)]
    missing += [t for t in needs if not shutil.which(t)]
    if not missing:
        return
    print(f"bench: missing {', '.join(missing)}: running tools/install-deps.sh --bench", flush=True)
    r = subprocess.run(["bash", str(REPO / "tools" / "install-deps.sh"), "--bench"])
    if r.returncode != 0:
        die("tools/install-deps.sh --bench failed")
    still = [a.path for a in allocs if a.path and not os.path.exists(a.path)]
    still += [t for t in needs if not shutil.which(t)]
    if still:
        die(f"still missing after install-deps: {', '.join(still)}")


def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def dpkg_version(pkg):
    return sh(["dpkg-query", "-W", "-f", "${Version}", pkg])


def dpkg_owner(path):
    for p in dict.fromkeys([path, os.path.realpath(path)]):
        out = sh(["dpkg-query", "-S", p])
        if out and ":" in out:
            return out.split(":", 1)[0].split(",")[0].strip()
    return None


def ebb_commit():
    commit = sh(["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"]) or "unknown"
    dirty = sh(["git", "-C", str(REPO), "status", "--porcelain", "--", "src", "include", "Makefile"])
    return commit + (" + uncommitted changes in src/include/Makefile" if dirty else "")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]


def prepare_allocators(allocs):
    snapdir = BUILD / "alloc"
    for a in allocs:
        if a.path is None:
            a.version = f"{platform.libc_ver()[0]} {dpkg_version('libc6')} (no preload)"
            continue
        if not os.path.exists(a.path):
            how = "make" if a.name == "ebbmalloc" else ALLOCATORS.get(a.name, {}).get("hint")
            hint = f" (run `{how}` first)" if how else ""
            die(f"allocator {a.name}: {a.path} not found{hint}")
        pkg = a.package or dpkg_owner(a.path)
        if pkg:
            a.version = f"Debian {pkg} {dpkg_version(pkg)}"
        elif Path(a.path).resolve() == (REPO / "lib" / "libebbmalloc.so").resolve():
            a.version = f"git {ebb_commit()}"
        elif Path(a.path).resolve() == (REPO / "build" / "libunwind" / "lib" / "libebbmalloc.so").resolve():
            a.version = f"git {ebb_commit()}, built with make UNWIND=libunwind"
        else:
            a.version = "not from a Debian package"
        if a.snapshot:
            snapdir.mkdir(parents=True, exist_ok=True)
            dst = snapdir / f"{a.name}.so"
            shutil.copy2(a.path, dst)
            a.preload = str(dst)
        a.version += f", sha256 {sha256(a.preload)}"
        if a.env:
            a.version += ", env " + " ".join(f"{k}={v}" for k, v in a.env.items())


def machine_info():
    info = {}
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info["CPU"] = model or platform.processor() or platform.machine()
    info["cores"] = f"{nproc()} usable ({os.cpu_count()} online)"
    try:
        with open("/proc/meminfo") as f:
            kib = int(next(l for l in f if l.startswith("MemTotal")).split()[1])
        info["memory"] = f"{kib / 1048576:.1f} GiB"
    except (OSError, StopIteration):
        info["memory"] = "?"
    info["kernel"] = platform.release()
    info["glibc"] = f"{' '.join(platform.libc_ver())} (Debian libc6 {dpkg_version('libc6')})"
    try:
        info["load average at start"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        pass
    return info


def tool_versions(workloads):
    used = {w.name for w in workloads}
    v = {}
    if used & {"larson", "xmalloc", "cache-scratch", "mstress", "tight", "bigrealloc", "gcc"}:
        v["gcc"] = sh(["gcc", "-dumpfullversion"])
    if "python" in used:
        v["python3"] = sh([python3(), "--version"]).replace("Python ", "")
    if "sqlite" in used:
        v["sqlite3"] = sh(["sqlite3", "--version"]).split(" ")[0]
    if "redis" in used:
        m = re.search(r"v=(\S+)", sh(["redis-server", "--version"]))
        v["redis-server"] = m.group(1) if m else "?"
    return v


# --------------------------------------------------------------------------
# The benchmark run
# --------------------------------------------------------------------------

class Context:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.scale = args.scale if args.scale else (0.4 if args.quick else 1.0)
        n = nproc()
        if args.threads:
            self.threads = [int(t) for t in args.threads.replace(",", " ").split()]
        else:
            self.threads = [n] if args.quick else [n, 2 * n, 4 * n]
        self.runs = args.runs or (3 if args.quick else 5)
        self.timeout = args.timeout
        self.libc = str(LIBDIR / "libc.so.6")
        self.ratios = args.ratios.split()


def select_variants(ctx, args):
    ws = [w for w in WORKLOADS if w.suite == args.suite]
    if ctx.quick and not args.only:
        ws = [w for w in ws if w.quick]
    variants = [v for w in ws for v in w.variants(ctx)]
    if args.only:
        wanted = [x.strip() for x in args.only.split(",") if x.strip()]
        allw = [v for w in WORKLOADS for v in w.variants(ctx)]
        picked = []
        for x in wanted:
            hits = [v for v in allw if x in (v.label, v.workload.name)]
            if not hits:
                die(f"--only: no workload '{x}' (see --list)")
            picked += [v for v in hits if v not in picked]
        variants = picked
    return variants


def fmt_mib(kib):
    return kib / 1024.0


class Cell:
    """All runs of one (variant, allocator)."""

    def __init__(self):
        self.results = []
        self.failure = None

    def values(self, key):
        return [getattr(r, key) if key in ("time_s", "rss_kib") else r.metrics.get(key)
                for r in self.results]


def run_suite(ctx, allocs, variants):
    cells = {(v.label, a.name): Cell() for v in variants for a in allocs}
    failures = []
    total = len(variants) * len(allocs) * ctx.runs
    done = 0
    t_start = time.monotonic()
    for v in variants:
        if ctx.args.warmup:
            # One untimed run, so the first allocator does not pay for cold
            # caches (binaries, generated inputs) alone.
            try:
                v.workload.run(ctx, allocs[0], v.params)
            except RunError:
                pass  # reported by the timed runs
        for r in range(ctx.runs):
            line = [f"[{time.monotonic() - t_start:6.0f}s] {v.label:<18} run {r + 1}/{ctx.runs}:"]
            # Each round starts one allocator further on (A B C, B C A, ...),
            # so that no allocator always runs first or after the same one.
            k = r % len(allocs)
            for a in allocs[k:] + allocs[:k]:
                cell = cells[(v.label, a.name)]
                done += 1
                if cell.failure:
                    line.append(f"{a.name} failed")
                    continue
                try:
                    res = v.workload.run(ctx, a, v.params)
                except RunError as e:
                    cell.failure = e.short
                    failures.append((v.label, a.name, r + 1, e))
                    print(f"\nbench: FAILED: {v.label} under {a.name} (run {r + 1}): {e.short}",
                          file=sys.stderr)
                    if e.detail:
                        print("  " + e.detail.replace("\n", "\n  "), file=sys.stderr)
                    line.append(f"{a.name} FAILED")
                    continue
                cell.results.append(res)
                line.append(f"{a.name} {res.time_s:.3f}s/{fmt_mib(res.rss_kib):.0f}M")
            print(" ".join(line), flush=True)
    return cells, failures, time.monotonic() - t_start


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

class Metric:
    def __init__(self, key, title, unit, scale, fmt, better="lower"):
        self.key, self.title, self.unit, self.scale, self.fmt, self.better = (
            key, title, unit, scale, fmt, better)


TIME = Metric("time_s", "Wall time", "s", 1.0, "{:.3f}")
RSS = Metric("rss_kib", "Peak RSS", "MiB", 1 / 1024.0, "{:.1f}")


def cell_stats(cell, metric):
    if cell.failure or not cell.results:
        return None
    vals = [x for x in cell.values(metric.key) if x is not None]
    if not vals:
        return None
    vals = [x * metric.scale for x in vals]
    return statistics.median(vals), min(vals), max(vals)


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def failed_text(cell):
    return f"failed ({cell.failure})"


def value_table(metric, variants, allocs, cells, runs):
    rows = []
    for v in variants:
        row = [v.label]
        for a in allocs:
            c = cells[(v.label, a.name)]
            s = cell_stats(c, metric)
            if c.failure:
                row.append(failed_text(c))
            elif s is None:
                row.append("-")
            else:
                f = metric.fmt
                row.append(f"{f.format(s[0])} ({f.format(s[1])}–{f.format(s[2])})")
        rows.append(row)
    return md_table(["workload"] + [a.name for a in allocs], rows)


def ratio_table(metric, variants, allocs, cells, ref):
    rows, per_alloc = [], {a.name: [] for a in allocs}
    counted = 0
    for v in variants:
        rs = cell_stats(cells[(v.label, ref)], metric)
        row = [v.label]
        for a in allocs:
            c = cells[(v.label, a.name)]
            s = cell_stats(c, metric)
            if c.failure:
                row.append("failed")
            elif s is None or rs is None or rs[0] <= 0:
                row.append("-")
            else:
                r = s[0] / rs[0]
                per_alloc[a.name].append(r)
                row.append(f"{r:.2f}")
        rows.append(row)
        counted += rs is not None
    gm = ["**geomean**"]
    for a in allocs:
        g = geomean(per_alloc[a.name])
        n = len(per_alloc[a.name])
        gm.append("-" if g is None else
                  f"**{g:.2f}**" + ("" if n == len(variants) else f" ({n}/{len(variants)})"))
    rows.append(gm)
    return md_table(["workload"] + [a.name for a in allocs], rows)


def ratio(cells, metric, label, name, ref):
    c = cells[(label, name)]
    s, rs = cell_stats(c, metric), cell_stats(cells[(label, ref)], metric)
    if s is None or rs is None or rs[0] <= 0:
        return None
    return s[0] / rs[0]


def log_ticks(lo, hi):
    """Tick values for a log axis from lo to hi, denser when the range is
    narrow, never so dense that labels collide."""
    span = math.log2(hi / lo)
    coarse = [2.0 ** e for e in range(-8, 9)]
    if span > 4.5:
        cand = coarse
    elif span > 2.2:
        cand = coarse + [0.67, 1.5, 3, 6]
    else:
        cand = coarse + [0.67, 0.8, 1.25, 1.5, 3]
    return sorted(t for t in cand if lo <= t <= hi)


CHART_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                "#7f7f7f", "#bcbd22", "#17becf"]


def make_chart(png, title, variants, allocs, cells, ref="glibc"):
    """Relative time and peak RSS per workload: one bar per allocator from
    1 (= ref) to its ratio, log scale. Returns an error string or None."""
    if not shutil.which("gnuplot"):
        return "gnuplot not found"
    others = [a for a in allocs if a.name != ref]
    if not others:
        return "only the reference allocator was run"
    BUILD.mkdir(parents=True, exist_ok=True)
    data = BUILD / "chart.dat"
    lines = []
    ranges = {0: [1.0], 1: [1.0]}
    for i, v in enumerate(variants):
        row = [str(i)]
        for mi, m in enumerate((TIME, RSS)):
            for a in others:
                r = ratio(cells, m, v.label, a.name, ref)
                row.append("NaN" if r is None else f"{r:.5f}")
                if r:
                    ranges[mi].append(r)
        lines.append(" ".join(row))
    data.write_text("\n".join(lines) + "\n")
    k = len(others)
    width = 0.8 / k
    xt = ", ".join(f'"{v.label}" {i}' for i, v in enumerate(variants))
    colors = " ".join(CHART_COLORS[j % len(CHART_COLORS)] for j in range(k))
    names = " ".join(a.name for a in others)
    gp = [
        f"set terminal pngcairo size {max(1000, 62 * len(variants) + 260)},1050 "
        "font 'DejaVu Sans,11'",
        f"set output '{png}'",
        f"set multiplot layout 2,1 title \"{title}\" font ',13'",
        f"set xrange [-0.6:{len(variants) - 0.4}]",
        "set logscale y",
        "set grid ytics lc rgb '#d0d0d0'",
        f"set xtics ({xt}) rotate by -35 left font ',10' nomirror",
        "set style fill solid 0.9 border rgb '#333333'",
        "set lmargin 12", "set rmargin 4", "set bmargin 7",
        f"names = \"{names}\"",
        f"colors = \"{colors}\"",
        "mn(a, b) = a < b ? a : b",
        "mx(a, b) = a > b ? a : b",
    ]
    for mi, (m, ylabel) in enumerate(((TIME, f"wall time / {ref}"), (RSS, f"peak RSS / {ref}"))):
        lo, hi = min(ranges[mi]) / 1.15, max(ranges[mi]) * 1.15
        gp.append(f"set yrange [{lo}:{hi}]")
        gp.append("set ytics (" + ", ".join(f'"{t:g}" {t}' for t in log_ticks(lo, hi)) + ")")
        gp.append("unset label")
        for j, a in enumerate(others):
            for i, v in enumerate(variants):
                if cells[(v.label, a.name)].failure:
                    x = i + (j - (k - 1) / 2) * width
                    gp.append(f"set label 'failed' at {x},1 rotate by 90 font ',9' tc rgb 'red'")
        # The legend only once, above the first panel.
        gp.append("set key outside top center horizontal font ',11'" if mi == 0 else "unset key")
        gp.append(f"set ylabel \"{ylabel} (log scale; lower is better)\"")
        gp.append(f"set title \"{m.title} relative to {ref} (bars start at 1 = {ref})\"")
        col = 1 + mi * k
        off = f"($1+(j-{(k + 1) / 2})*{width})"
        gp.append(
            f"plot for [j=1:{k}] '{data}' using {off}:(1):({off}-{width / 2}):({off}+{width / 2}):"
            f"(mn(1,column({col}+j))):(mx(1,column({col}+j))) with boxxyerror "
            f"lc rgb word(colors, j) title word(names, j), "
            "1 with lines lc rgb 'black' lw 1.5 notitle")
    gp.append("unset multiplot")
    script = BUILD / "chart.gp"
    script.write_text("\n".join(gp) + "\n")
    r = subprocess.run(["gnuplot", str(script)], capture_output=True, text=True)
    if r.returncode != 0 or not os.path.exists(png):
        return f"gnuplot failed: {r.stderr.strip()[:500]}"
    return None


def command_line(args):
    cmd = "python3 " + " ".join(shlex.quote(a) for a in
                                [os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:])
    if not args.allocators and os.environ.get("ALLOCATORS", "").strip():
        cmd = f"ALLOCATORS={shlex.quote(os.environ['ALLOCATORS'])} " + cmd
    return cmd


def header_lines(title, args, allocs, machine, extra_versions):
    now = datetime.datetime.now(datetime.timezone.utc)
    lines = [f"## {now:%Y-%m-%d %H:%M} UTC — {title}", "",
             f"Command (from the repository root): `{command_line(args)}`", ""]
    lines.append("Machine: " + "; ".join(f"{k}: {v}" for k, v in machine.items()) + ".")
    lines.append("")
    lines.append("| allocator | library | version |")
    lines.append("|---|---|---|")
    for a in allocs:
        lib = "(none: glibc malloc)" if a.path is None else f"`{rel(a.path)}`"
        lines.append(f"| {a.name} | {lib} | {a.version} |")
    lines.append("")
    if extra_versions:
        lines.append("Programs: " + ", ".join(f"{k} {v}" for k, v in extra_versions.items()) + ".")
        lines.append("")
    return lines, now


def append_doc(out, lines):
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    new = not out.exists()
    with open(out, "a") as f:
        if new:
            f.write("# ebbmalloc benchmarks\n\nResults appended by `bench/run.py`.\n")
        f.write("\n" + "\n".join(lines).rstrip() + "\n")


def png_path(out, day):
    d = Path(out).parent
    p = d / f"bench-{day}.png"
    i = 2
    while p.exists():
        p = d / f"bench-{day}-{i}.png"
        i += 1
    return p


def report(ctx, args, allocs, variants, cells, failures, elapsed, record=True):
    machine = machine_info()
    mode = "quick run" if ctx.quick else "full run"
    lines, now = header_lines(f"benchmark suite ({mode})", args, allocs, machine,
                              tool_versions({v.workload for v in variants}))
    lines.append(f"{ctx.runs} runs per workload and allocator, interleaved (each round "
                 f"starting one allocator further on); "
                 f"thread counts {', '.join(map(str, ctx.threads))} "
                 f"({nproc()} cores); work scale {ctx.scale:g}; "
                 f"{'one untimed warm-up run per workload; ' if args.warmup else ''}"
                 f"the suite took {elapsed / 60:.1f} min.")
    lines.append("")
    lines.append("<details><summary>Workload command lines</summary>")
    lines.append("")
    lines.append("| workload | command |")
    lines.append("|---|---|")
    for v in variants:
        lines.append(f"| {v.label} | `{v.workload.show(ctx, v.params)}` |")
    lines.append("")
    lines.append("</details>")
    lines.append("")
    names = [a.name for a in allocs]
    metrics = [TIME, RSS]
    extra = {}
    for v in variants:
        for key, spec in v.workload.metrics.items():
            title, unit, scale = spec[:3]
            fmt = spec[3] if len(spec) > 3 else "{:.3g}"
            extra.setdefault(key, Metric(key, title, unit, scale, fmt))
    for m in metrics + list(extra.values()):
        vs = variants if m in metrics else [v for v in variants if m.key in v.workload.metrics]
        what = "median (min–max)"
        # Titles of the scenarios' own metrics carry their unit already.
        head = m.title if not m.unit or f"({m.unit})" in m.title else f"{m.title} ({m.unit})"
        lines.append(f"### {head}: {what} of {ctx.runs} runs")
        lines.append("")
        lines.append(value_table(m, vs, allocs, cells, ctx.runs))
        lines.append("")
        for ref in ctx.ratios:
            if ref in names:
                lines.append(f"{m.title} relative to {ref} (median / {ref}'s median; "
                             f"{m.better} is better):")
                lines.append("")
                lines.append(ratio_table(m, vs, allocs, cells, ref))
                lines.append("")
    if record and "glibc" in names and len(names) > 1:
        png = png_path(args.out, f"{now:%Y-%m-%d}")
        ebb = [a for a in allocs if a.version.startswith("git ")]
        commit = f", ebbmalloc {ebb[0].version.split()[1].rstrip(',')}" if ebb else ""
        err = make_chart(png, f"ebbmalloc benchmarks {now:%Y-%m-%d} ({mode}{commit})",
                         variants, allocs, cells)
        if err:
            lines.append(f"(No chart: {err}.)")
            print(f"bench: warning: no chart: {err}", file=sys.stderr)
        else:
            relpng = os.path.relpath(png, Path(args.out).parent)
            lines.append(f"![Relative time and peak RSS per workload]({relpng})")
            print(f"bench: chart {png}")
        lines.append("")
    if failures:
        lines.append("**Failures** (the allocator's remaining runs of that workload were skipped):")
        lines.append("")
        for label, name, run, e in failures:
            d = e.detail.strip().splitlines()
            lines.append(f"- {label} under {name}, run {run}: {e.short}"
                         + (f" — `{d[-1].strip()[:200]}`" if d else ""))
        lines.append("")
    return lines


# --------------------------------------------------------------------------
# Fast path
# --------------------------------------------------------------------------

FAST_SIZES = [16, 64, 256, 1024, 4096, 32768]


def callgrind_costs(path, fn):
    """(total Ir, self Ir of function fn) from an uncompressed callgrind file."""
    total, self_ir = None, 0
    cur = None
    after_calls = False
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith(("summary:", "totals:")):
                total = int(line.split()[1])
            elif line.startswith("fn="):
                cur = line[3:].strip()
                after_calls = False
            elif line.startswith("calls="):
                after_calls = True
            elif line and (line[0].isdigit() or line[0] in "+-*"):
                if after_calls:
                    after_calls = False  # inclusive cost of the call: not self
                elif cur == fn:
                    parts = line.split()
                    if len(parts) >= 2:
                        self_ir += int(parts[1])
    if total is None:
        raise RunError(f"no totals in {path}")
    return total, self_ir


def callgrind_run(ctx, exe, alloc, size, iters):
    out = BUILD / f"callgrind.{alloc.name}.{size}.{iters}.out"
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
           "--compress-strings=no", "--compress-pos=no",
           str(exe), "count", str(size), str(iters)]
    run_command(cmd, alloc, ctx)
    costs = callgrind_costs(out, "run_loop")
    out.unlink()
    return costs


def run_fastpath(ctx, args, allocs):
    ensure_deps(allocs, ["gcc", "valgrind"])
    prepare_allocators(allocs)
    exe = BUILD / "fastpath"
    compile_c(WORKLOAD_SRC / "fastpath.c", exe)
    iters = scaled(ctx, 2_000_000)
    repeats = args.repeats
    n1 = 20_000
    n2 = n1 + scaled(ctx, args.cg_iters)
    names = [a.name for a in allocs]
    best, medians, instr, loop, failed = {}, {}, {}, {}, {}
    failures = []
    print(f"bench: fast path, {len(allocs)} allocators x {len(FAST_SIZES)} sizes: "
          f"{ctx.runs} processes each, best of {repeats} loops of {iters} pairs; "
          f"callgrind with {n1} and {n2} pairs", flush=True)

    def fail(label, name, e):
        failed[(label, name)] = e.short
        failures.append((f"fastpath {label}", name, 1, e))
        print(f"bench: FAILED: fastpath {label} under {name}: {e.short}", file=sys.stderr)
        if e.detail:
            print("  " + e.detail.replace("\n", "\n  "), file=sys.stderr)

    per = {}
    for r in range(ctx.runs):
        for size in FAST_SIZES:
            for a in allocs:
                if (size, a.name) in failed:
                    continue
                try:
                    res = run_command([str(exe), "time", str(size), str(iters), str(repeats)],
                                      a, ctx)
                    m = re.search(r"ns_per_pair ([0-9.]+)", res.stdout)
                    if not m:
                        raise RunError("no ns_per_pair line in the output", res.stdout)
                    per.setdefault((size, a.name), []).append(float(m.group(1)))
                except RunError as e:
                    fail(size, a.name, e)
        print(f"  timing round {r + 1}/{ctx.runs} done", flush=True)
    for key, vals in per.items():
        if key not in failed:
            best[key], medians[key] = min(vals), statistics.median(vals)
    for size in FAST_SIZES:
        for a in allocs:
            if (size, a.name) in failed:
                continue
            try:
                t1, l1 = callgrind_run(ctx, exe, a, size, n1)
                t2, l2 = callgrind_run(ctx, exe, a, size, n2)
            except RunError as e:
                fail(size, a.name, e)
                continue
            instr[(size, a.name)] = (t2 - t1) / (n2 - n1)
            loop[(size, a.name)] = (l2 - l1) / (n2 - n1)
        print(f"  callgrind {size} B done", flush=True)

    machine = machine_info()
    lines, _ = header_lines("fast path (malloc+free pairs)", args, allocs, machine,
                            {"gcc": sh(["gcc", "-dumpfullversion"]),
                             "valgrind": sh(["valgrind", "--version"]).replace("valgrind-", "")})
    lines.append(f"One thread; 256 blocks of the size stay allocated; 100000 warm-up pairs; "
                 f"then a loop of malloc(size), one byte written, free. "
                 f"Source: `bench/workloads/fastpath.c`.")
    lines.append("")
    lines.append(f"### Nanoseconds per malloc+free pair: best (median) of {ctx.runs} processes, "
                 f"each the best of {repeats} loops of {iters} pairs")
    lines.append("")
    rows = []
    for size in FAST_SIZES:
        row = [f"{size}"]
        for n in names:
            k = (size, n)
            row.append(f"failed ({failed[k]})" if k in failed else
                       f"{best[k]:.2f} ({medians[k]:.2f})" if k in best else "-")
        rows.append(row)
    lines.append(md_table(["size (B)"] + names, rows))
    lines.append("")
    lines.append(f"### Instructions per malloc+free pair (valgrind --tool=callgrind: "
                 f"(Ir({n2} pairs) − Ir({n1} pairs)) / {n2 - n1})")
    lines.append("")
    rows = []
    for size in FAST_SIZES:
        row = [f"{size}"]
        for n in names:
            k = (size, n)
            row.append(f"failed ({failed[k]})" if k in failed else
                       f"{instr[k]:.1f}" if k in instr else "-")
        rows.append(row)
    lines.append(md_table(["size (B)"] + names, rows))
    lines.append("")
    lv = sorted(set(round(v, 2) for v in loop.values()))
    if lv:
        lo_, hi_ = lv[0], lv[-1]
        span = f"{lo_:g}" if lo_ == hi_ else f"{lo_:g}–{hi_:g}"
        lines.append(f"These counts include the benchmark loop itself: run_loop's own "
                     f"instructions (counter, NULL check, the byte written, the two calls) "
                     f"are {span} per pair, measured the same way from its self cost; the rest "
                     f"is malloc and free (PLT jumps included), start-up cancelled by the "
                     f"difference, occasional slow paths (refills, flushes) averaged in.")
        lines.append("")
    if failures:
        lines.append("**Failures:**")
        lines.append("")
        for label, name, _, e in failures:
            lines.append(f"- {label} under {name}: {e.short}")
        lines.append("")
    print()
    print("\n".join(lines))
    if not args.no_record:
        append_doc(args.out, lines)
        print(f"bench: appended to {args.out}")
    if failures:
        print(f"\nbench: {len(failures)} fast-path measurement(s) FAILED", file=sys.stderr)
        return 1
    return 0


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def list_all(ctx):
    print("Workloads (suite: name, description):")
    for w in WORKLOADS:
        flags = []
        if w.threaded:
            flags.append("threads " + ",".join(map(str, ctx.threads)))
        if not w.quick:
            flags.append("not in --quick")
        print(f"  [{w.suite}] {w.name:<14} {w.description}" +
              (f" ({'; '.join(flags)})" if flags else ""))
    print("Allocators:")
    for name, info in ALLOCATORS.items():
        print(f"  {name:<10} {info['path'] or '(no preload)'}")


def main():
    ap = argparse.ArgumentParser(
        description="Compare ebbmalloc with other allocators (see doc/benchmarks.md).")
    ap.add_argument("--quick", action="store_true",
                    help="reduced suite: one thread count (nproc), 40%% of the work, 3 runs")
    ap.add_argument("--fastpath", action="store_true",
                    help="fast-path micro-benchmark: ns and instructions per malloc+free pair")
    ap.add_argument("--allocators", default=None,
                    help="space-separated names or library paths (also: env ALLOCATORS); "
                         f"default: '{DEFAULT_ALLOCATORS}'; LABEL=PATH names a library")
    ap.add_argument("--alloc-env", action="append", default=[], metavar="NAME:KEY=VALUE",
                    help="set an environment variable for one allocator's runs (repeatable)")
    ap.add_argument("--runs", type=int, default=None, help="runs per workload and allocator "
                    "(default 5, --quick 3; at least 1)")
    ap.add_argument("--only", default=None, help="comma-separated workloads (name or row label)")
    ap.add_argument("--suite", default="default", help="workload suite (default: default)")
    ap.add_argument("--threads", default=None,
                    help="thread counts for the threaded workloads (default: nproc, 2x, 4x)")
    ap.add_argument("--scale", type=float, default=None,
                    help="multiply every workload's amount of work (default 1, --quick 0.4)")
    ap.add_argument("--ratios", default="glibc mimalloc",
                    help="allocators to give ratio tables against (default: 'glibc mimalloc')")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per run (default 300)")
    ap.add_argument("--no-warmup", dest="warmup", action="store_false",
                    help="skip the untimed warm-up run of each workload")
    ap.add_argument("--repeats", type=int, default=11,
                    help="--fastpath: timed loops per process, best is kept (default 11)")
    ap.add_argument("--cg-iters", type=int, default=100_000,
                    help="--fastpath: extra pairs in the second callgrind run (default 100000)")
    ap.add_argument("--out", default=str(DEFAULT_OUT),
                    help="markdown file to append the results to (default doc/benchmarks.md)")
    ap.add_argument("--no-record", action="store_true",
                    help="print the report instead of appending it (and make no chart)")
    ap.add_argument("--list", action="store_true", help="list workloads and allocators")
    args = ap.parse_args()

    load_extensions()
    ctx = Context(args)
    if args.list:
        list_all(ctx)
        return 0
    if ctx.runs < 1:
        die("--runs must be at least 1")
    spec = args.allocators or os.environ.get("ALLOCATORS", "").strip() or DEFAULT_ALLOCATORS
    allocs = parse_allocators(spec, args.alloc_env)
    BUILD.mkdir(parents=True, exist_ok=True)
    ensure_deps([], ["gcc"])
    compile_c(BENCH / "launch.c", LAUNCH)

    if args.fastpath:
        return run_fastpath(ctx, args, allocs)

    variants = select_variants(ctx, args)
    if not variants:
        die(f"no workloads selected (suite '{args.suite}')")
    needs = sorted({t for v in variants for t in v.workload.needs} | {"gnuplot"})
    ensure_deps(allocs, needs)
    prepare_allocators(allocs)
    for w in dict.fromkeys(v.workload for v in variants):
        w.prepare(ctx)
    print(f"bench: {len(variants)} workloads x {len(allocs)} allocators x {ctx.runs} runs "
          f"({', '.join(a.name for a in allocs)})", flush=True)
    cells, failures, elapsed = run_suite(ctx, allocs, variants)
    lines = report(ctx, args, allocs, variants, cells, failures, elapsed,
                   record=not args.no_record)
    print()
    print("\n".join(lines))
    if not args.no_record:
        append_doc(args.out, lines)
        print(f"bench: appended to {args.out}")
    if failures:
        print(f"\nbench: {len(failures)} workload/allocator pair(s) FAILED:", file=sys.stderr)
        for label, name, run, e in failures:
            print(f"  {label} under {name} (run {run}): {e.short}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
