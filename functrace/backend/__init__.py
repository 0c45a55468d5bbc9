"""The Numba backend: compiles whole jaxprs into native code (see docs/backend.md).

``executable_for(jaxpr, name)`` returns the compiled program of a jaxpr without constants
(cached per jaxpr object, then per generated source in memory and on disk); its
``call_flat(args)`` runs it on NumPy values and returns the list of outputs as NumPy arrays
(0-d outputs as 0-d arrays). A program the backend cannot compile runs with the reference
interpreter instead, after a one-time warning: never a crash, never a wrong answer.
"""

from __future__ import annotations

import logging
import time
import warnings
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import core
from ..config import config
from ..core import ClosedJaxpr

logger = logging.getLogger("functrace")

# How dot_general runs: "blas" (NumPy's OpenBLAS called from inside the compiled code, one
# native function per program) or "python" (np.matmul from a Python driver between compiled
# segments). Measured in docs/backend.md.
DOT_MODE = "blas"

_by_jaxpr: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_warned: set = set()
# Primitives meant to run in Python (they call user code, e.g. pure_callback): no warning.
python_primitives: set[str] = {"block_program"}
stats = {"compiles": 0, "interpreted": 0, "background": 0}


def _log(msg: str, *args) -> None:
    logger.log(logging.WARNING if config.log_compiles else logging.DEBUG, msg, *args)


def _warn_once(key, msg: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(msg, RuntimeWarning, stacklevel=5)


_dump_dir: str | None = None


def dump_source(source: str, name: str) -> str:
    """Write a generated program to a file for reading (error messages point at it), in a
    private directory of this process (0700, unpredictable name): never through a path that
    someone else could have planted."""
    import hashlib
    import os
    import re
    import tempfile
    global _dump_dir
    digest = hashlib.sha1(source.encode()).hexdigest()[:12]
    safe = re.sub(r"[^A-Za-z0-9_]+", "_", name)[:40]
    try:
        if _dump_dir is None or not os.path.isdir(_dump_dir):
            _dump_dir = tempfile.mkdtemp(prefix="functrace-sources-")
        path = os.path.join(_dump_dir, f"functrace_{safe}_{digest}.py")
        if not os.path.exists(path):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                         | getattr(os, "O_NOFOLLOW", 0), 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(source)
    except OSError:
        return "(could not be written; print jit(f).lower(*args).as_text())"
    return path


def _where(source: str, name: str) -> str:
    return (f"The generated source is in {dump_source(source, name)} (also given by "
            "jit(f).lower(*args).as_text()).")


def _norm(x, dtype):
    if type(x) is np.ndarray and x.dtype == dtype and x.flags.c_contiguous \
            and x.flags.writeable:
        return x
    a = np.asarray(x, dtype)
    if not a.flags.c_contiguous or not a.flags.writeable:
        a = np.array(a, dtype, copy=True, order="C")
    return a


class Executable:
    """A compiled program: ``raw(*flat_args)`` is the native entry point (one output, or a
    tuple of them); ``call_flat`` normalises inputs and always returns a list."""

    def __init__(self, raw: Callable, in_avals: Sequence, out_avals: Sequence, source: str,
                 mode: str, extra: Sequence, origin: str, name: str = "program"):
        self.raw = raw
        self.name = name
        self.in_dtypes = [a.dtype for a in in_avals]
        self.n_in = len(in_avals) - len(extra)
        self.n_out = len(out_avals)
        self.source = source
        self.mode = mode
        self.extra = tuple(_norm(c, c.dtype) for c in map(np.asarray, extra))
        self.origin = origin  # "compiled", "disk" or "memory"

    def call_flat(self, args: Sequence[Any]) -> list:
        if len(args) != self.n_in:
            raise TypeError(f"compiled program takes {self.n_in} arguments, got {len(args)}")
        xs = [_norm(a, dt) for a, dt in zip(args, self.in_dtypes)]
        try:
            out = self.raw(*xs, *self.extra)
        except Exception as e:
            # a failing compiled kernel: say where to read the code that failed
            if hasattr(e, "add_note"):  # Python 3.11+
                e.add_note(f"(in the compiled program {self.name!r}) "
                           f"{_where(self.source, self.name)}")
            raise
        return [out] if self.n_out == 1 else list(out)

    def fast_entry(self, consts: Sequence, out_tree) -> Callable:
        """A callable taking the flat user arguments and returning the output pytree, with as
        little Python as possible in between (jit's per-call fast path)."""
        from ..tree_util import tree_structure, tree_unflatten
        raw = self.raw
        if self.mode != "njit":
            # Python runs between the compiled parts (NumPy fallbacks), and may raise: errors
            # then name the generated source, as ``call_flat``'s do
            def raw(*xs, _raw=self.raw):
                try:
                    return _raw(*xs)
                except Exception as e:
                    if hasattr(e, "add_note"):
                        e.add_note(f"(in the compiled program {self.name!r}) "
                                   f"{_where(self.source, self.name)}")
                    raise
        pre = tuple(_norm(c, dt) for c, dt in zip(consts, self.in_dtypes))
        post = self.extra
        if pre or post:
            def base(*args):
                return raw(*pre, *args, *post)
        else:
            base = raw
        if self.n_out == 1:
            if out_tree == tree_structure(0):
                return base
            return lambda *args: tree_unflatten(out_tree, [base(*args)])
        if out_tree == tree_structure((0,) * self.n_out):
            return base
        return lambda *args: tree_unflatten(out_tree, list(base(*args)))


class InterpretedExecutable:
    """The reference interpreter standing in for a program the backend could not compile."""

    mode = "interpreted"
    origin = "interpreted"

    def __init__(self, jaxpr: ClosedJaxpr, source: str = ""):
        self.jaxpr = jaxpr
        self.source = source
        self.n_out = len(jaxpr.out_avals)

    def call_flat(self, args: Sequence[Any]) -> list:
        with config.override(disable_jit=True):
            outs = core.eval_jaxpr_concrete(self.jaxpr.jaxpr, self.jaxpr.consts, *args)
        return [np.asarray(o, a.dtype) for o, a in zip(outs, self.jaxpr.out_avals)]

    def fast_entry(self, consts: Sequence, out_tree) -> Callable:
        from ..tree_util import tree_unflatten

        def entry(*args):
            return tree_unflatten(out_tree, self.call_flat(list(consts) + list(args)))

        return entry


def _generate(jaxpr: ClosedJaxpr, name: str):
    """The generated program for ``jaxpr``, or an ``InterpretedExecutable`` if code generation
    failed."""
    from . import codegen
    try:
        program = codegen.generate(_with_block_programs(jaxpr), DOT_MODE)
    except Exception as e:  # noqa: BLE001 - any failure means: interpret instead
        _warn_once(("codegen", type(e).__name__, str(e)[:80]),
                   f"functrace.jit could not generate code for {name!r} ({type(e).__name__}: "
                   f"{e}); running it with the NumPy interpreter instead.")
        stats["interpreted"] += 1
        return InterpretedExecutable(jaxpr)
    for prim in program.unlowered:
        if prim.split("'")[0] in python_primitives:
            continue
        _warn_once(("unlowered", prim),
                   f"functrace.jit has no compiled lowering for '{prim}; it runs with its NumPy "
                   "implementation between compiled parts of the program.")
    return program


def _with_block_programs(jaxpr: ClosedJaxpr) -> ClosedJaxpr:
    """``jaxpr`` with its long elementwise runs as block-interpreter programs (compiled here:
    in the background thread when tiered), so that its compile time stays about linear in
    its length with a small slope (``blockvm``)."""
    from . import interrupts
    staged = blockvm.segment(jaxpr)
    with interrupts.interruptible_compile():  # Ctrl-C reaches the caller, as in ``_load``
        for e in staged.jaxpr.eqns:
            if e.primitive is blockvm.block_program_p:
                e.params["program"].compile()
                interrupts.check_interrupted()
    return staged


def _load(jaxpr: ClosedJaxpr, program, name: str, t0: float):
    """Import (compiling, or loading from a cache) the module of ``program``."""
    from . import cache, interrupts
    t1 = time.perf_counter()
    try:
        # Ctrl-C stops the compile (at the latest at the next piece) and reaches the caller
        with interrupts.interruptible_compile():
            pieces = []
            for src in program.pieces:
                pieces.append(cache.load(src))
                interrupts.check_interrupted()
            module, origin = cache.load(program.source)
        if pieces:
            origins = {o for _, o in pieces}
            origin = "compiled" if "compiled" in origins else origins.pop()
    except Exception as e:  # noqa: BLE001
        _warn_once(("compile", type(e).__name__, str(e)[:80]),
                   f"functrace.jit failed to compile {name!r} ({type(e).__name__}: "
                   f"{str(e)[:300]}); running it with the NumPy interpreter instead. "
                   f"{_where(program.source, name)}")
        stats["interpreted"] += 1
        return InterpretedExecutable(jaxpr, program.source)
    if program.mode == "njit":
        raw = module.main
    elif program.mode == "pieces":
        raw = module.make_main(program.fallbacks, [m.piece for m, _ in pieces])
    else:
        raw = module.make_main(program.fallbacks)
    for mod in [module, *(m for m, _ in pieces)]:
        for nm, v in vars(mod).items():
            if nm in ("main", "piece") or nm.startswith("seg"):
                if hasattr(v, "disable_compile"):
                    v.disable_compile()  # a new layout is normalised, never compiled again
    stats["compiles"] += 1
    t2 = time.perf_counter()
    _log("Compiled %s (%d equations, %s mode, %s) in %.3f s (codegen %.3f s)", name,
         len(jaxpr.eqns), program.mode,
         {"disk": "loaded from the disk cache", "memory": "same source in memory",
          "compiled": "native code generated"}[origin], t2 - t0, t1 - t0)
    exe = Executable(raw, program.in_avals, program.out_avals, program.source, program.mode,
                     program.extra_consts, origin, name)
    # the code lives as long as the program: whatever can call it (jit's fast-path entries,
    # Compiled objects) keeps the jaxpr alive too
    for mod in [module, *(m for m, _ in pieces)]:
        cache.hold(mod, jaxpr)
    return exe


def _prepare_in_background(jaxpr: ClosedJaxpr, name: str):
    """The compiled program of ``jaxpr``, for a ``TieredExecutable``'s background thread:
    from memory or the disk cache if there, else compiled by the worker process."""
    from . import cache, tiered
    tiered.service.start()
    t0 = time.perf_counter()
    program = _generate(jaxpr, name)
    if isinstance(program, InterpretedExecutable):
        return program
    todo = []  # (path, module) of what the worker processes must compile
    for src in program.pieces or [program.source]:
        if cache.in_memory(src) is not None:
            continue
        staged = cache.stage(src)
        if staged is None:  # no usable disk cache: compile here
            return _load(jaxpr, program, name, t0)
        if not staged[2]:
            todo.append(staged[:2])
    if todo:
        stats["background"] += 1
        _log("Compiling %s (%d equations, %d pieces) in the background; interpreted meanwhile",
             name, len(jaxpr.eqns), len(todo))
        tiered.compile_in_workers(todo)
    return _load(jaxpr, program, name, t0)


def _compile(jaxpr: ClosedJaxpr, name: str, wait: bool = False):
    from . import tiered
    if config.tiered_compile and not wait \
            and tiered.interpreter_cost(jaxpr.jaxpr) <= tiered.MAX_INTERPRETED_EQNS:
        # the background thread compiles with the options in force here and now
        options = {k: config.read(k) for k in ("cache_dir", "enable_disk_cache",
                                                "log_compiles")}

        def prepare():
            with config.override(**options):
                return _prepare_in_background(jaxpr, name)

        return tiered.TieredExecutable(InterpretedExecutable(jaxpr), prepare)
    t0 = time.perf_counter()
    program = _generate(jaxpr, name)
    if isinstance(program, InterpretedExecutable):
        return program
    return _load(jaxpr, program, name, t0)


def executable_for(jaxpr: ClosedJaxpr, name: str = "program", wait: bool = False):
    """The executable program for ``jaxpr`` (a ClosedJaxpr without constants): compiled, or
    with ``config.tiered_compile`` possibly interpreted while it compiles in the background
    (``wait=True`` waits for the compiled program)."""
    exe = _by_jaxpr.get(jaxpr)
    if exe is None:
        exe = _by_jaxpr[jaxpr] = _compile(jaxpr, name, wait)
    if wait and exe.mode == "tiered":
        exe = exe.wait()
    if exe.mode == "tiered" and exe.ready() is not None:
        exe = _by_jaxpr[jaxpr] = exe.compiled
    return exe


def executable_if_compiled(jaxpr: ClosedJaxpr):
    """The program already compiled for ``jaxpr`` (or interpreted for good), else None."""
    exe = _by_jaxpr.get(jaxpr)
    if exe is not None and exe.mode == "tiered":
        if exe.ready() is None:
            return None
        exe = _by_jaxpr[jaxpr] = exe.compiled
    return exe


def wait_for_compilation(timeout: float | None = None) -> bool:
    """Compile every program that has run interpreted so far (``config.tiered_compile``) and
    wait until they run compiled; True if they all did within ``timeout`` seconds."""
    from . import tiered
    deadline = None if timeout is None else time.monotonic() + timeout
    pending = tiered.called()
    for exe in pending:
        exe.start()  # all at once: their pieces compile in parallel
    for exe in pending:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if exe.wait(left) is None:
            return False
    return True


def source_for(jaxpr: ClosedJaxpr, name: str = "program") -> str:
    """The generated source for ``jaxpr`` (without compiling it)."""
    exe = _by_jaxpr.get(jaxpr)
    if exe is not None and exe.mode != "tiered" and exe.source:
        return exe.source
    from . import codegen
    return codegen.generate(blockvm.segment(jaxpr), DOT_MODE).source


from . import blockvm  # noqa: E402 - registers the block_program primitive
