"""``jit``: stage a function into one program and compile it with the Numba backend.

``jit(f)(*args)`` traces ``f`` once per signature (pytree structure, shapes, dtypes, static
argument values) into a jaxpr, and binds the primitive ``jit_call_p`` with that jaxpr as a
parameter. Everything else follows from ``jit_call_p``'s rules:

- at top level (the ``EvalTrace``) its implementation compiles the jaxpr (cached: in memory per
  jaxpr, on disk per generated source) and runs the native code;
- inside another trace it is one equation like any other: ``jit`` inside ``jit`` nests,
  ``make_jaxpr(jit(f))`` shows one ``jit_call``, and the transformations have rules for it that
  produce new ``jit_call`` equations (JVP, partial evaluation, transposition, batching), so
  ``grad(jit(f))`` compiles both the forward and the backward pass and ``vmap(jit(f))`` compiles
  the batched program.

The jaxpr parameter never has constants: values the function closes over (arrays, or tracers of
an enclosing transformation) are passed to ``jit_call`` as leading arguments.

Repeated calls with the same signature skip all of this: a per-function table maps the argument
shapes and dtypes straight to the compiled code (about a microsecond of Python on the way).
"""

from __future__ import annotations

import functools
import inspect
import logging
import sys
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from . import ad, core, partial_eval
from .ad import Zero
from .batching import BatchTrace, BatchTracer, batch_rules
from .config import config
from .core import ClosedJaxpr, Jaxpr, Primitive, ShapedArray
from .simplify import simplify
from .tracing import trace_to_jaxpr
from .tree_util import tree_flatten, tree_unflatten

__all__ = ["jit", "jit_call_p", "disable_jit", "Lowered", "Compiled"]

logger = logging.getLogger("functrace")

jit_call_p = Primitive("jit_call", multiple_results=True)
_compile_lock = threading.RLock()


def _log(msg: str, *args) -> None:
    logger.log(logging.WARNING if config.log_compiles else logging.DEBUG, msg, *args)


# ---------------------------------------------------------------------------------------------
# Closed jaxprs as jit_call parameters
# ---------------------------------------------------------------------------------------------


def hoist_consts(closed: ClosedJaxpr) -> tuple[ClosedJaxpr, list]:
    """Turn the constants of ``closed`` into leading inputs: ``(jaxpr without consts, consts)``."""
    if not closed.consts:
        return closed, []
    j = closed.jaxpr
    return ClosedJaxpr(Jaxpr((), list(j.constvars) + list(j.invars), j.outvars, j.eqns), ()), \
        list(closed.consts)


# Rules derive new programs (JVP, partial evaluation, transposition, batching) from the jaxpr
# they receive; the derived programs are cached on it so that repeated transformations of the
# same jitted function reuse the same jaxprs, hence the same compiled code.
_derived: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _cached_derivation(jaxpr: ClosedJaxpr, key: tuple, build: Callable[[], Any]) -> Any:
    table = _derived.get(jaxpr)
    if table is None:
        table = _derived[jaxpr] = {}
    hit = table.get(key)
    if hit is None:
        hit = table[key] = build()
    return hit


def _prepare(closed: ClosedJaxpr) -> tuple[ClosedJaxpr, list]:
    """Simplify a freshly traced program and hoist its constants for ``jit_call``."""
    return hoist_consts(simplify(closed))


def _call(prepared: tuple[ClosedJaxpr, list], args: Sequence[Any], name: str) -> list:
    jaxpr, consts = prepared
    return jit_call_p.bind(*consts, *args, jaxpr=jaxpr, name=name)


# ---------------------------------------------------------------------------------------------
# jit_call_p: type rule and implementation
# ---------------------------------------------------------------------------------------------


def _jit_call_shape(*avals: ShapedArray, jaxpr: ClosedJaxpr, name: str) -> list[ShapedArray]:
    expected = jaxpr.in_avals
    if len(avals) != len(expected) or any(a != e for a, e in zip(avals, expected)):
        got = ", ".join(a.str_short() for a in avals)
        want = ", ".join(a.str_short() for a in expected)
        raise TypeError(f"jit_call of {name!r} expects arguments ({want}) but got ({got})")
    return list(jaxpr.out_avals)


def _jit_call_impl(*args, jaxpr: ClosedJaxpr, name: str) -> list:
    if config.disable_jit:
        return core.eval_jaxpr(jaxpr.jaxpr, jaxpr.consts, *args)
    from . import backend
    exe = backend.executable_if_compiled(jaxpr)
    if exe is None:
        # Threads calling a new program at once: one compiles, the others wait for it.
        with _compile_lock:
            exe = backend.executable_for(jaxpr, name)
    outs = exe.call_flat(args)
    if (config.debug_nans or config.debug_infs) and not _all_finite(outs):
        # as JAX does: run the program again op by op, so the primitive that produced the NaN
        # (or inf) raises with its source line
        with disable_jit():
            core.eval_jaxpr(jaxpr.jaxpr, jaxpr.consts, *args)
        kind = "NaN" if config.debug_nans and not _all_finite(outs, infs=False) else "inf"
        raise FloatingPointError(
            f"{kind} in the outputs of the compiled program {name!r}, but no primitive produced "
            "one when it ran again op by op with the NumPy reference implementation: it comes "
            "from an input or a constant passed through, or from a difference in rounding "
            "between the two; run it under functrace.disable_jit() to investigate.")
    return outs


def _all_finite(outs, infs: bool = True) -> bool:
    for o in outs:
        a = np.asarray(o)
        if a.dtype.kind in "fc":
            if config.debug_nans and np.isnan(a).any():
                return False
            if infs and config.debug_infs and np.isinf(a).any():
                return False
    return True


core.shape_rules[jit_call_p] = _jit_call_shape
core.impl_rules[jit_call_p] = _jit_call_impl


# ---------------------------------------------------------------------------------------------
# Transformation rules: each builds (once, cached) a derived jaxpr and binds jit_call on it
# ---------------------------------------------------------------------------------------------


def _jit_call_jvp(primals, tangents, *, jaxpr: ClosedJaxpr, name: str):
    nonzero = tuple(not isinstance(t, Zero) for t in tangents)

    def build():
        jvp_closed, out_nz = ad.jvp_jaxpr(jaxpr, list(nonzero), instantiate_out=False)
        return _prepare(jvp_closed), out_nz

    prepared, out_nz = _cached_derivation(jaxpr, ("jvp", nonzero), build)
    outs = _call(prepared, list(primals) + [t for t in tangents if not isinstance(t, Zero)],
                 f"jvp({name})")
    n = len(jaxpr.out_avals)
    it = iter(outs[n:])
    touts = [next(it) if nz else Zero(a) for a, nz in zip(jaxpr.out_avals, out_nz)]
    return outs[:n], touts


def _jit_call_partial_eval(trace, tracers, *, jaxpr: ClosedJaxpr, name: str):
    in_unknowns = tuple(not t.is_known() for t in tracers)

    def build():
        known, unknown, out_unknowns, num_res = partial_eval.partial_eval_jaxpr(
            jaxpr, list(in_unknowns))
        known = simplify(known)
        # Residuals that are just known inputs are forwarded, not copied out of the program.
        n_known_out = len(out_unknowns) - sum(out_unknowns)
        kj = known.jaxpr
        in_pos = {v: i for i, v in enumerate(kj.invars)}
        res_vars = kj.outvars[n_known_out:]
        res_source = [in_pos.get(v) if isinstance(v, core.Var) else None for v in res_vars]
        kept_outs = list(kj.outvars[:n_known_out]) + [
            v for v, s in zip(res_vars, res_source) if s is None]
        known = simplify(ClosedJaxpr(Jaxpr(kj.constvars, kj.invars, kept_outs, kj.eqns),
                                     known.consts))
        return (hoist_consts(known), simplify(unknown), out_unknowns, n_known_out, res_source)

    known_p, unknown, out_unknowns, n_known_out, res_source = _cached_derivation(
        jaxpr, ("partial_eval", in_unknowns), build)
    known_vals = [t.known for t in tracers if t.is_known()]
    outs = _call(known_p, known_vals, name)
    known_outs, computed_res = outs[:n_known_out], iter(outs[n_known_out:])
    residuals = [next(computed_res) if s is None else known_vals[s] for s in res_source]
    unknown_ins = [trace.pure(r) for r in residuals] + [t for t in tracers if not t.is_known()]
    unknown_outs = trace.stage(jit_call_p, unknown_ins,
                               dict(jaxpr=unknown, name=f"{name}_unknown"))
    kit, uit = iter(known_outs), iter(unknown_outs)
    return [next(uit) if u else trace.pure(next(kit)) for u in out_unknowns]


def _jit_call_transpose(cts, *args, jaxpr: ClosedJaxpr, name: str):
    linear = tuple(ad.is_undefined(a) for a in args)
    ct_nonzero = tuple(not isinstance(c, Zero) for c in cts)

    def build():
        nonlin_avals = [core.get_aval(a) for a, lin in zip(args, linear) if not lin]
        ct_avals = [a for a, nz in zip(jaxpr.out_avals, ct_nonzero) if nz]
        lin_avals = [a.aval for a, lin in zip(args, linear) if lin]
        zero_box: list = []

        def transposed(*xs):
            res, cts_in = iter(xs[:len(nonlin_avals)]), iter(xs[len(nonlin_avals):])
            full = [None if lin else next(res) for lin in linear]
            cts_full = [next(cts_in) if nz else Zero(a)
                        for a, nz in zip(jaxpr.out_avals, ct_nonzero)]
            outs = ad.backward_pass(jaxpr.jaxpr, jaxpr.consts, list(linear), full, cts_full)
            lin_cts = [c for c, lin in zip(outs, linear) if lin]
            zero_box.append([isinstance(c, Zero) for c in lin_cts])
            return [c for c in lin_cts if not isinstance(c, Zero)]

        closed = trace_to_jaxpr(transposed, nonlin_avals + ct_avals)
        return _prepare(closed), zero_box[0], lin_avals

    prepared, zero_mask, lin_avals = _cached_derivation(
        jaxpr, ("transpose", linear, ct_nonzero), build)
    nonlin_args = [a for a, lin in zip(args, linear) if not lin]
    outs = iter(_call(prepared, nonlin_args + [c for c in cts if not isinstance(c, Zero)],
                      f"transpose({name})"))
    lin_cts = iter([Zero(a) if z else next(outs) for a, z in zip(lin_avals, zero_mask)])
    return [next(lin_cts) if lin else None for lin in linear]


def _jit_call_batch(vals, dims, axis_size, *, jaxpr: ClosedJaxpr, name: str):
    dims = tuple(dims)

    def build():
        in_avals = [core.get_aval(v) for v in vals]
        dims_box: list = []

        def batched(*xs):
            with core.new_main(BatchTrace, axis_size) as main:
                trace = BatchTrace(main)
                ins = [x if d is None else BatchTracer(trace, x, d) for x, d in zip(xs, dims)]
                outs = [trace.full_raise(o)
                        for o in core.eval_jaxpr(jaxpr.jaxpr, jaxpr.consts, *ins)]
                dims_box.append([o.bdim for o in outs])
                return [o.val for o in outs]

        closed = trace_to_jaxpr(batched, in_avals)
        return _prepare(closed), dims_box[0]

    prepared, out_dims = _cached_derivation(jaxpr, ("batch", dims, axis_size), build)
    return _call(prepared, vals, f"vmap({name})"), out_dims


ad.jvp_rules[jit_call_p] = _jit_call_jvp
ad.transpose_rules[jit_call_p] = _jit_call_transpose
partial_eval.partial_eval_rules[jit_call_p] = _jit_call_partial_eval
batch_rules[jit_call_p] = _jit_call_batch


# ---------------------------------------------------------------------------------------------
# The user-facing wrapper
# ---------------------------------------------------------------------------------------------


class _Traced:
    """One signature's program: the jaxpr bound by ``jit_call`` and how to rebuild outputs."""

    __slots__ = ("closed", "jaxpr", "consts", "out_tree", "name")

    def __init__(self, closed: ClosedJaxpr, out_tree, name: str):
        self.closed = closed  # simplified, with constants (what ``lower().jaxpr`` shows)
        self.jaxpr, self.consts = hoist_consts(closed)
        self.out_tree = out_tree
        self.name = name

    def bind(self, flat_args: Sequence[Any]):
        outs = jit_call_p.bind(*self.consts, *flat_args, jaxpr=self.jaxpr, name=self.name)
        return tree_unflatten(self.out_tree, outs)


class _Cache:
    """Traces and fast entries of one function; shared by every ``jit`` of that function with
    the same static arguments, so ``jit(f)(x)`` written inline in a loop traces only once."""

    __slots__ = ("traces", "fast", "fast_tree", "__weakref__")

    def __init__(self):
        self.traces: dict = {}
        self.fast: dict = {}
        self.fast_tree: dict = {}


_shared_caches: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _shared_cache(fun: Callable, key: tuple) -> _Cache:
    try:
        per_fun = _shared_caches.get(fun)
        if per_fun is None:
            per_fun = _shared_caches[fun] = {}
    except TypeError:  # not weak-referenceable or not hashable: a private cache
        return _Cache()
    cache = per_fun.get(key)
    if cache is None:
        cache = per_fun[key] = _Cache()
    return cache


def _check_hashable(value: Any, what: str) -> None:
    try:
        hash(value)
    except TypeError as e:
        raise TypeError(
            f"jit: static argument {what} must be hashable, but got a value of type "
            f"{type(value).__name__} ({value!r:.60}): {e}. Pass it as a regular (traced) "
            "argument, or convert it to a hashable value such as a tuple.") from None


_thread_state = core._thread_state
# jit functions being traced inside one another, per thread (see ``Jitted._trace``)
_nesting = threading.local()
_MAX_NESTING = 1000
_FRAMES_PER_LEVEL = 40
_PY_SCALARS = (bool, int, float, complex)
_ndarray = np.ndarray


def _leaf_key(x):
    """What a flat argument contributes to a fast-path key: its type for Python scalars (they
    are traced as arrays of their default dtype), its shape and dtype otherwise."""
    t = type(x)
    if t is _ndarray:
        return (x.shape, x.dtype)
    if t in _PY_SCALARS:
        return t
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError("masked arrays take the general path (which refuses them)")
    return (x.shape, x.dtype)


def _tree_entry(entry: Callable, flat_example: Sequence[Any]) -> Callable:
    """``entry`` for flat arguments that may include scalars (turned into 0-d arrays first)."""
    scalar_pos = [i for i, x in enumerate(flat_example) if np.ndim(x) == 0]
    if not scalar_pos:
        return entry
    dtypes_ = {i: core.get_aval(flat_example[i]).dtype for i in scalar_pos}

    def run(*flat):
        flat = list(flat)
        for i in scalar_pos:
            flat[i] = np.asarray(flat[i], dtypes_[i])
        return entry(*flat)

    return run


class Jitted:
    """A function compiled per signature; calls with a known signature run native code."""

    def __init__(self, fun: Callable, static_argnums: tuple[int, ...],
                 static_argnames: tuple[str, ...]):
        # First: update_wrapper copies ``fun.__dict__``, which for a function wrapping another
        # jitted function (``grad(jit(f))``) holds that one's attributes.
        functools.update_wrapper(self, fun)
        self._fun = fun
        self._name = getattr(fun, "__name__", type(fun).__name__)
        self._static_argnums, self._static_argnames = _resolve_statics(
            fun, static_argnums, static_argnames)
        self._cache = _shared_cache(fun, (self._static_argnums, self._static_argnames))
        self._fast = self._cache.fast
        self._fast_tree = self._cache.fast_tree

    # -- calling ------------------------------------------------------------------------------

    def __call__(self, *args, **kwargs):
        # Fast paths, outside any transformation, for signatures seen before: straight to the
        # compiled code. A miss (new signature, a layout the compiled code does not accept, ...)
        # takes the general path, which handles everything and binds jit_call_p.
        st = _thread_state
        if st.dynamic_trace is None and len(st.trace_stack) == 1 and config._jit_fast_ok:
            if not kwargs and not self._static_argnums:
                # positional NumPy arrays: one dict lookup
                try:
                    # exact ndarrays only: a subclass (a masked array) takes the general path,
                    # which refuses what it cannot honour
                    entry = self._fast[tuple([(a.shape, a.dtype) if type(a) is _ndarray
                                              else None for a in args])]
                except (KeyError, AttributeError):
                    pass
                else:
                    try:
                        return entry(*args)
                    except TypeError:
                        pass  # e.g. a non-contiguous array: normalised by the general path
            if self._fast_tree:
                # pytrees, scalars, static and keyword arguments
                try:
                    statics, dyn_args, dyn_kwargs = self._split(args, kwargs)
                    flat, in_tree = tree_flatten((tuple(dyn_args), dyn_kwargs))
                    entry = self._fast_tree[(statics, in_tree,
                                             tuple([_leaf_key(x) for x in flat]))]
                except (KeyError, AttributeError, TypeError):
                    pass
                else:
                    try:
                        return entry(*flat)
                    except TypeError:
                        pass
        return self._call(args, kwargs)

    def _split(self, args, kwargs):
        nargs = len(args)
        static_pos = {i % nargs for i in self._static_argnums if -nargs <= i < nargs}
        statics = []
        dyn_args = []
        for i, a in enumerate(args):
            if i in static_pos:
                _check_hashable(a, f"at position {i}")
                statics.append((i, a))
            else:
                dyn_args.append(a)
        dyn_kwargs = {}
        for k in sorted(kwargs):
            if k in self._static_argnames:
                _check_hashable(kwargs[k], repr(k))
                statics.append((k, kwargs[k]))
            else:
                dyn_kwargs[k] = kwargs[k]
        return tuple(statics), dyn_args, dyn_kwargs

    def _call(self, args, kwargs):
        if config.disable_jit:
            return self._fun(*args, **kwargs)
        statics, dyn_args, dyn_kwargs = self._split(args, kwargs)
        flat, in_tree = tree_flatten((tuple(dyn_args), dyn_kwargs))
        traced = self._get_traced(statics, flat, in_tree, len(args))
        out = traced.bind(flat)
        if _thread_state.dynamic_trace is None and len(_thread_state.trace_stack) == 1:
            self._add_fast_entries(args, kwargs, statics, flat, in_tree, traced)
        return out

    def _get_traced(self, statics, flat, in_tree, nargs: int) -> _Traced:
        avals = tuple(core.get_aval(x) for x in flat)
        key = (statics, in_tree, avals, tuple(a.weak_type for a in avals))
        traced = self._cache.traces.get(key)
        if traced is None:
            traced = self._trace(statics, avals, in_tree, nargs)
            # Another thread may have traced the same signature meanwhile: keep the first
            # program, so that one program (one compilation) serves them all.
            traced = self._cache.traces.setdefault(key, traced)
        return traced

    def _trace(self, statics, avals, in_tree, nargs: int) -> _Traced:
        static_map = dict(statics)
        out_tree_box: list = []
        fun = self._fun

        def flat_fun(*flat):
            dyn_args, dyn_kwargs = tree_unflatten(in_tree, list(flat))
            it = iter(dyn_args)
            full = [static_map[i] if i in static_map else next(it) for i in range(nargs)]
            kw = dict(dyn_kwargs)
            kw.update((k, v) for k, v in static_map.items() if isinstance(k, str))
            out = fun(*full, **kw)
            flat_out, out_tree = tree_flatten(out)
            for x in flat_out:
                core.get_aval(x)  # a clear error for non-array outputs
            out_tree_box.append(out_tree)
            return flat_out

        t0 = time.perf_counter()
        depth = getattr(_nesting, "depth", 0) + 1
        if depth > _MAX_NESTING:
            raise RecursionError(
                f"jit: {self._name!r} is nested inside more than {_MAX_NESTING} other jit "
                "functions being traced (jit(jit(...)) or a jitted function calling itself "
                "recursively). Python recursion cannot be staged: write the repetition as a "
                "lax.fori_loop/scan, or call the inner functions without jit.")
        # Each nesting level costs a few Python frames while tracing and later while compiling:
        # deep (but finite) nesting must not hit the interpreter's default limit of 1000.
        needed = 1000 + _FRAMES_PER_LEVEL * depth
        if sys.getrecursionlimit() < needed:
            sys.setrecursionlimit(needed)
        _nesting.depth = depth
        try:
            closed = simplify(trace_to_jaxpr(flat_fun, list(avals)))
        finally:
            _nesting.depth = depth - 1
        _log("Finished tracing %s for jit in %.4f s (%d equations)", self._name,
             time.perf_counter() - t0, len(closed.eqns))
        return _Traced(closed, out_tree_box[0], self._name)

    def _add_fast_entries(self, args, kwargs, statics, flat, in_tree, traced: _Traced) -> None:
        from . import backend
        exe = backend.executable_if_compiled(traced.jaxpr)
        if exe is None or len(self._fast_tree) > 256:
            return
        try:
            keys = tuple(_leaf_key(x) for x in flat)
            hash(keys)
        except (AttributeError, TypeError):
            return
        self._fast_tree[(statics, in_tree, keys)] = _tree_entry(
            exe.fast_entry(traced.consts, traced.out_tree), flat)
        if not statics and not kwargs and all(type(a) is np.ndarray for a in args) \
                and in_tree.num_leaves == len(args):
            self._fast[tuple((a.shape, a.dtype) for a in args)] = exe.fast_entry(
                traced.consts, traced.out_tree)

    # -- ahead-of-time API ----------------------------------------------------------------------

    def trace(self, *args, **kwargs) -> Traced:
        """Trace for these arguments without compiling: ``.jaxpr``, ``.lower()``."""
        statics, dyn_args, dyn_kwargs = self._split(args, kwargs)
        flat, in_tree = tree_flatten((tuple(dyn_args), dyn_kwargs))
        traced = self._get_traced(statics, flat, in_tree, len(args))
        return Traced(traced, in_tree)

    def lower(self, *args, **kwargs) -> Lowered:
        """Trace and generate code for these arguments: ``.jaxpr``, ``.as_text()``,
        ``.compile()``. Static arguments are fixed; the compiled function takes the others."""
        return self.trace(*args, **kwargs).lower()

    def eval_shape(self, *args, **kwargs):
        """The output avals (``ShapedArray`` pytree) for these arguments, without running."""
        t = self.trace(*args, **kwargs)
        return tree_unflatten(t._traced.out_tree, list(t.jaxpr.out_avals))

    def clear_cache(self) -> None:
        """Forget the traced programs (compiled code stays cached by the backend)."""
        self._cache.traces.clear()
        self._cache.fast.clear()
        self._cache.fast_tree.clear()

    def _cache_size(self) -> int:
        return len(self._cache.traces)

    def __get__(self, obj, objtype=None):
        # Jitted functions used as methods bind ``self`` like plain functions do.
        if obj is None:
            return self
        return functools.partial(self, obj)

    def __repr__(self):
        return f"<jit {self._name}>"


class _Stage:
    """A ``jit`` program at some stage of ``trace() -> lower() -> compile()``."""

    def __init__(self, traced: _Traced, in_tree):
        self._traced = traced
        self._in_tree = in_tree

    @property
    def jaxpr(self) -> ClosedJaxpr:
        """The simplified program, with its constants."""
        return self._traced.closed


class Traced(_Stage):
    """A traced (not yet compiled) ``jit`` program."""

    def lower(self) -> Lowered:
        return Lowered(self._traced, self._in_tree)


class Lowered(_Stage):
    """A traced program with its generated source; ``compile()`` builds the native code."""

    def as_text(self) -> str:
        """The generated Python/Numba source of the program."""
        from . import backend
        return backend.source_for(self._traced.jaxpr, self._traced.name)

    def compile(self) -> Compiled:
        from . import backend
        exe = backend.executable_for(self._traced.jaxpr, self._traced.name, wait=True)
        return Compiled(self._traced, self._in_tree, exe)


class Compiled:
    """A compiled program for one signature; call it with the non-static arguments."""

    def __init__(self, traced: _Traced, in_tree, executable):
        self._traced = traced
        self._in_tree = in_tree
        self._exe = executable

    def __call__(self, *args, **kwargs):
        flat, in_tree = tree_flatten((tuple(args), kwargs))
        if in_tree != self._in_tree:
            raise TypeError(f"compiled function expects arguments with structure "
                            f"{self._in_tree} but got {in_tree}")
        avals = [core.get_aval(x) for x in flat]
        expected = self._traced.jaxpr.in_avals[len(self._traced.consts):]
        if any(a != e for a, e in zip(avals, expected)):
            got = ", ".join(a.str_short() for a in avals)
            want = ", ".join(a.str_short() for a in expected)
            raise TypeError(f"compiled function expects arguments ({want}) but got ({got})")
        outs = self._exe.call_flat(list(self._traced.consts) + flat)
        return tree_unflatten(self._traced.out_tree, outs)

    def as_text(self) -> str:
        return self._exe.source


def _resolve_statics(fun, static_argnums, static_argnames):
    if isinstance(static_argnums, int):
        static_argnums = (static_argnums,)
    if isinstance(static_argnames, str):
        static_argnames = (static_argnames,)
    nums = tuple(int(i) for i in (static_argnums or ()))
    names = tuple(static_argnames or ())
    try:
        params = list(inspect.signature(fun).parameters.values())
    except (TypeError, ValueError):
        return nums, names
    positional = [p.name for p in params
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    # As in JAX, a static parameter may be passed either by position or by name.
    extra_names = tuple(positional[i] for i in nums if -len(positional) <= i < len(positional))
    extra_nums = tuple(positional.index(n) for n in names if n in positional)
    has_var_positional = any(p.kind == p.VAR_POSITIONAL for p in params)
    if not has_var_positional:
        bad = [i for i in nums if not -len(positional) <= i < len(positional)]
        if bad:
            raise ValueError(
                f"jit: static_argnums={tuple(nums)} names position {bad[0]}, but "
                f"{getattr(fun, '__name__', 'the function')} only accepts {len(positional)} "
                "positional argument(s).")
        nums = tuple(i % len(positional) if i < 0 else i for i in nums)
    return (tuple(sorted(set(nums + extra_nums), key=lambda i: (i < 0, i))),
            tuple(dict.fromkeys(names + extra_names)))


def jit(fun: Callable | None = None, *, static_argnums: int | Sequence[int] = (),
        static_argnames: str | Sequence[str] = (), **unsupported) -> Any:
    """Compile ``fun`` into native code, once per argument signature (JAX's ``jit``).

    The first call with a new combination of pytree structure, shapes, dtypes and static
    argument values traces ``fun`` into a jaxpr and compiles it; later calls with the same
    signature run the compiled code directly. ``static_argnums`` / ``static_argnames`` name
    arguments that are Python values fixed at trace time (they must be hashable): each new
    value traces again. Composes with every transformation (``grad(jit(f))``,
    ``jit(vmap(f))``, ...). With ``config.disable_jit`` the function simply runs.

    Example::

        >>> step = ft.jit(lambda params, x: ...)
        >>> print(step.lower(params, x).as_text())   # the generated source
    """
    for k in unsupported:
        if k not in ("donate_argnums", "donate_argnames", "inline", "keep_unused", "device",
                     "backend", "abstracted_axes"):
            raise TypeError(f"jit() got an unexpected keyword argument {k!r}")
    if fun is None:
        return functools.partial(jit, static_argnums=static_argnums,
                                 static_argnames=static_argnames, **unsupported)
    if not callable(fun):
        raise TypeError(f"jit expects a callable, got {type(fun).__name__}")
    return Jitted(fun, static_argnums, static_argnames)


@contextmanager
def disable_jit(disable: bool = True):
    """Context manager running ``jit`` functions un-compiled (like ``config.disable_jit``), in
    the calling thread only (as JAX's; other threads keep compiling)."""
    with config.override(disable_jit=disable):
        yield
