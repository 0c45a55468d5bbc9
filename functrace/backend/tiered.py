"""Tiered execution: a new program runs on the reference interpreter while it compiles.

Numba takes seconds to compile a training step (docs/backend.md, "Where compile time goes");
the NumPy reference interpreter runs the same program at once, at NumPy's speed. So with
``config.tiered_compile`` a program that is neither in memory nor compiled in the disk cache
gets a ``TieredExecutable``: its calls run ``core.eval_jaxpr_concrete`` while a background thread
generates its code and a background process (the ``compile_worker``) compiles it into the disk
cache; the thread then loads the native code from the disk cache and every later call, and
``jit``'s per-signature fast path, runs it. Nothing of this is on the way to the first result:
not even importing Numba.

Programs the interpreter would run slowly stay on the foreground route: ``interpreter_cost``
estimates how many equations one interpreted call executes (loop bodies counted per iteration,
``while`` loops at a guessed trip count) and above ``MAX_INTERPRETED_EQNS`` the first call
compiles and waits, as without tiering.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable

from ..core import ClosedJaxpr, Jaxpr

# One interpreted equation costs about 5-20 us of Python; 20000 of them stay well under the
# fastest compile of a program that size.
MAX_INTERPRETED_EQNS = 20_000
WHILE_TRIPS_GUESS = 100


def _subjaxprs(value) -> list:
    if isinstance(value, ClosedJaxpr):
        return [value.jaxpr]
    if isinstance(value, Jaxpr):
        return [value]
    if isinstance(value, (tuple, list)):
        return [j for v in value for j in _subjaxprs(v)]
    return []


def interpreter_cost(jaxpr: Jaxpr) -> float:
    """About how many equations one interpreted run of ``jaxpr`` executes."""
    total = 0.0
    for e in jaxpr.eqns:
        subs = [j for v in e.params.values() for j in _subjaxprs(v)]
        if not subs:
            total += 1
            continue
        name = e.primitive.name
        trips = (e.params.get("length", 1) if name == "scan"
                 else WHILE_TRIPS_GUESS if name == "while" else 1)
        total += 1 + trips * sum(interpreter_cost(j) for j in subs)
    return total


class Job:
    """One background compilation: ``done`` is set when the worker answered (or died)."""

    def __init__(self, ident: int):
        self.ident = ident
        self.done = threading.Event()
        self.ok = False
        self.error = ""
        self.seconds = 0.0
        self.proc = None

    def finish(self, ok: bool, error: str = "", seconds: float = 0.0) -> None:
        self.ok, self.error, self.seconds = ok, error, seconds
        self.done.set()


_yield_lock = threading.Lock()
_compiling = 0
_blas_before: int | None = None


def _blas_yields(start: bool) -> None:
    """While compile workers run, NumPy's BLAS keeps to the cores they leave free (its threads
    busy-wait for each other, and a GEMM whose thread waits for a core runs 50x slower)."""
    global _compiling, _blas_before
    from .blas import blas_threads
    with _yield_lock:
        if start:
            _compiling += 1
            if _compiling == 1:
                free = max(1, _cpus() - min(CompileService.MAX_WORKERS, _cpus()))
                current = blas_threads()
                if current is not None and current > free:
                    _blas_before = blas_threads(free)
        else:
            _compiling -= 1
            if _compiling == 0 and _blas_before is not None:
                blas_threads(_blas_before)
                _blas_before = None


def compile_in_workers(entries: list[tuple[str, str]]) -> None:
    """Have the worker processes compile the staged modules (``(path, module name)``), and
    wait for them. A failed one is compiled later by whoever loads it."""
    jobs = [service.submit(path, module) for path, module in entries]
    for job in jobs:
        job.done.wait()


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class CompileService:
    """The compile worker processes and their pending jobs: one per CPU this process may run
    on (at most ``MAX_WORKERS``), so that the pieces of a program compile in parallel."""

    MAX_WORKERS = 4

    def __init__(self):
        self._lock = threading.Lock()
        self._procs: list[subprocess.Popen] = []
        self._jobs: dict[int, Job] = {}
        self._next = 0

    def _start(self) -> subprocess.Popen:
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = dict(os.environ)
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        env["FUNCTRACE_TIERED"] = "0"
        proc = subprocess.Popen(
            [sys.executable, "-m", "functrace.backend.compile_worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=env, text=True, bufsize=1, close_fds=True)
        threading.Thread(target=self._read, args=(proc,), daemon=True,
                         name="functrace-compile-reader").start()
        return proc

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            try:
                reply = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                job = self._jobs.pop(reply.get("id"), None)
            if job is not None:
                job.finish(bool(reply.get("ok")), reply.get("error", ""),
                           float(reply.get("seconds", 0.0)))
        # The worker is gone (killed, crashed): what it had not answered fails, and callers
        # compile those programs themselves.
        with self._lock:
            if proc in self._procs:
                self._procs.remove(proc)
            orphans = [j for j in self._jobs.values() if j.proc is proc]
            for j in orphans:
                del self._jobs[j.ident]
        for j in orphans:
            j.finish(False, "the background compiler exited")

    def _alive(self) -> list[subprocess.Popen]:
        self._procs = [p for p in self._procs if p.poll() is None]
        want = max(1, min(self.MAX_WORKERS, _cpus()))
        while len(self._procs) < want:
            self._procs.append(self._start())
        return self._procs

    def start(self) -> None:
        """Start the workers now, so that they have imported Numba when work arrives."""
        with self._lock:
            try:
                self._alive()
            except OSError:
                pass

    def submit(self, path: str, module: str) -> Job:
        """Ask the least busy worker to compile the module at ``path``."""
        with self._lock:
            self._next += 1
            job = Job(self._next)
            try:
                procs = self._alive()
                load = {id(p): 0 for p in procs}
                for j in self._jobs.values():
                    if id(j.proc) in load:
                        load[id(j.proc)] += 1
                proc = min(procs, key=lambda p: load[id(p)])
                job.proc = proc
                self._jobs[job.ident] = job
                proc.stdin.write(json.dumps(
                    {"id": job.ident, "path": path, "module": module}) + "\n")
                proc.stdin.flush()
            except (OSError, ValueError) as e:
                self._jobs.pop(job.ident, None)
                job.finish(False, f"could not start the background compiler: {e}")
        return job

    def workers(self) -> list[subprocess.Popen]:
        """The worker processes running now."""
        with self._lock:
            return [p for p in self._procs if p.poll() is None]

    def pending(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def close(self) -> None:
        """Close the workers' input: each finishes the compile under way (so the disk cache
        gets that entry) and exits."""
        with self._lock:
            procs, self._procs = self._procs, []
        for proc in procs:
            try:
                proc.stdin.close()
            except OSError:
                pass


service = CompileService()
atexit.register(service.close)


_called: weakref.WeakSet = weakref.WeakSet()
# A program is compiled from its second call on: one called once (a closure made and called
# in a loop, a one-off computation) never pays a compile nobody would use.
CALLS_BEFORE_COMPILING = 2


def called() -> list:
    """The tiered programs that have run at least once (compiled since, or not)."""
    return list(_called)


class TieredExecutable:
    """A program interpreted until its compiled version is ready.

    ``prepare`` (run in a background thread, started after the second interpreted call has
    produced its result, so that no result waits for it) generates the code,
    which imports Numba, and returns the compiled program: loaded from memory or the disk
    cache, or compiled by the worker process and then loaded from the disk cache.
    """

    mode = "tiered"
    origin = "interpreted"

    def __init__(self, interpreted, prepare: Callable[[], object]):
        self.interpreted = interpreted
        self.n_out = interpreted.n_out
        self._prepare = prepare
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self.compiled = None
        self.calls = 0

    def _run(self) -> None:
        _blas_yields(True)
        try:
            self.compiled = self._prepare()
        finally:
            _blas_yields(False)
            self._done.set()

    def start(self) -> None:
        """Start preparing the compiled program (once)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="functrace-tiered-compile")
                self._thread.start()

    def ready(self):
        """The compiled program if it is ready, else None."""
        return self.compiled if self._done.is_set() else None

    def wait(self, timeout: float | None = None):
        """Block until the compiled program is ready; returns it (None after ``timeout``)."""
        self.start()
        self._done.wait(timeout)
        return self.ready()

    @property
    def source(self) -> str:
        return self.wait().source

    def call_flat(self, args) -> list:
        exe = self.ready()
        if exe is not None:
            return exe.call_flat(args)
        outs = self.interpreted.call_flat(args)
        self.calls += 1
        _called.add(self)
        if self.calls >= CALLS_BEFORE_COMPILING:
            self.start()
        return outs

    def fast_entry(self, consts, out_tree) -> Callable:
        def entry(*args):
            return (self.ready() or self.interpreted).fast_entry(consts, out_tree)(*args)
        return entry
