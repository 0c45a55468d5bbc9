"""The IR (abstract values, variables, equations, jaxprs), primitives, and the trace stack.

Every transformation in functrace is an *interpreter* of primitives: a ``Trace`` subclass whose
``process_primitive`` says what applying a primitive means to its kind of value. Traces are kept on
a stack (one per thread); a ``Tracer`` belongs to one entry of the stack, its *main trace*, and
``bind`` hands each primitive application to the highest-level trace among its arguments. Levels
are what keep nested transformations (``grad(grad(f))``, ``jit(vmap(grad(f)))``) from confusing
each other's values.

The rule tables that say what each primitive *is* live here (``shape_rules`` for types,
``impl_rules`` for the NumPy reference); each transformation module owns the table for its own
rule (``ad.jvp_rules``, ``batching.batch_rules``, ...).
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from . import dtypes
from .config import config as _config

# ---------------------------------------------------------------------------------------------
# Abstract values
# ---------------------------------------------------------------------------------------------


class ShapedArray:
    """The type of an array value: its shape and dtype. Immutable and hashable.

    ``weak_type`` marks values that came from Python scalars (JAX's weak types): they adapt to
    the dtype of the arrays they meet (``a * x32`` is float32 for a traced Python float ``a``).
    It is not part of equality or the hash: a weak and a strong array of the same shape and
    dtype are interchangeable wherever types are checked; caches that must tell them apart
    (``jit``) key on ``weak_type`` explicitly.
    """

    __slots__ = ("shape", "dtype", "weak_type", "_hash")
    array_abstraction_level = 1

    def __init__(self, shape: Sequence[int], dtype: Any, weak_type: bool = False):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.weak_type = bool(weak_type)
        self._hash = hash((self.shape, self.dtype))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def update(self, shape=None, dtype=None, weak_type=None) -> ShapedArray:
        """A copy with a new shape and/or dtype; weakness is kept unless the dtype changes."""
        new_dtype = self.dtype if dtype is None else np.dtype(dtype)
        if weak_type is None:
            weak_type = self.weak_type and new_dtype == self.dtype
        return ShapedArray(self.shape if shape is None else shape, new_dtype, weak_type)

    def strip_weak_type(self) -> ShapedArray:
        return ShapedArray(self.shape, self.dtype) if self.weak_type else self

    def str_short(self) -> str:
        return f"{dtypes.short_name(self.dtype)}[{','.join(map(str, self.shape))}]"

    def __eq__(self, other):
        return (isinstance(other, ShapedArray) and self.shape == other.shape
                and self.dtype == other.dtype)

    def __hash__(self):
        return self._hash

    def __repr__(self):
        return f"ShapedArray({self.str_short()}{', weak_type=True' if self.weak_type else ''})"


_PY_SCALAR_DTYPES = {bool: dtypes.bool_, int: dtypes.int64, float: dtypes.float64,
                     complex: dtypes.complex128}
# Python numbers are weakly typed (bool is not, as in JAX: it has no other dtype to adapt to)
_PY_SCALAR_AVALS = {t: ShapedArray((), d, t is not bool) for t, d in _PY_SCALAR_DTYPES.items()}


# (shape, dtype) -> ShapedArray of NumPy values: avals are immutable, so they are shared.
_array_avals: dict = {}


def masked_array_error(x: Any) -> TypeError:
    """The error for a ``numpy.ma.MaskedArray`` argument: its mask would be silently dropped."""
    return TypeError(
        f"functrace does not support masked arrays (got a numpy.ma.MaskedArray of shape "
        f"{x.shape} and dtype {x.dtype}): its mask would be ignored. Pass x.filled(value) to "
        "replace the masked entries, or x.data to use the underlying values, and carry the "
        "mask as a separate boolean array (e.g. with functrace.numpy.where).")


def object_array_error(x: Any) -> TypeError:
    """The error for a value that is no array: ``None``, or a NumPy object array (which
    ``np.asarray`` makes of ``None`` and of lists mixing arrays with other things)."""
    if x is None or (isinstance(x, np.ndarray) and x.shape == () and x[()] is None):
        return TypeError(
            "functrace expected an array but got None. As in JAX, jit/grad/vmap treat a None "
            "argument as an empty pytree (the function receives None itself), so None reaches "
            "an array operation only if the function uses it as an array. Pass an array, or "
            "make the argument static (jit's static_argnums/static_argnames) if it is a Python "
            "option rather than data.")
    return TypeError(
        f"functrace expected an array but got a NumPy object array of shape {x.shape} "
        f"({x!r:.80}): values that are not numbers (None, strings, ragged lists, Python "
        "objects) cannot be arrays. Pass numeric arrays, and make non-array arguments static "
        "(jit's static_argnums/static_argnames).")


def get_aval(x: Any) -> ShapedArray:
    """The abstract value of a tracer, NumPy array, NumPy scalar or Python scalar."""
    if isinstance(x, Tracer):
        return x.aval
    if isinstance(x, (np.ndarray, np.generic)):
        if type(x) is not np.ndarray and isinstance(x, np.ma.MaskedArray):
            raise masked_array_error(x)
        key = (x.shape, x.dtype)
        aval = _array_avals.get(key)
        if aval is None:
            if x.dtype == object:
                raise object_array_error(x)
            aval = ShapedArray(x.shape, dtypes.check_supported(x.dtype))
            if len(_array_avals) > 4096:
                _array_avals.clear()
            _array_avals[key] = aval
        return aval
    t = type(x)
    if t in _PY_SCALAR_AVALS:
        return _PY_SCALAR_AVALS[t]
    if x is None:
        raise object_array_error(x)
    raise TypeError(
        f"functrace expected an array, a scalar or a tracer but got a value of type "
        f"{t.__name__} ({x!r:.80}); convert it with numpy.asarray or mark the argument static."
    )


def is_weak(x: Any) -> bool:
    """Whether ``x`` is weakly typed: a Python int/float/complex or a tracer of one."""
    t = type(x)
    if t in _PY_SCALAR_AVALS:
        return t is not bool
    return isinstance(x, Tracer) and x.aval.weak_type


def is_array_like(x: Any) -> bool:
    return isinstance(x, (Tracer, np.ndarray, np.generic)) or type(x) in _PY_SCALAR_DTYPES


# ---------------------------------------------------------------------------------------------
# The IR
# ---------------------------------------------------------------------------------------------


class Var:
    """A variable of the IR. Compared by identity; its printed name is assigned by the printer."""

    __slots__ = ("aval", "_count")
    _counter = itertools.count()

    def __init__(self, aval: ShapedArray):
        self.aval = aval
        self._count = next(Var._counter)

    def __repr__(self):
        return f"Var({self.aval.str_short()})"


class Literal:
    """A scalar constant written directly into an equation."""

    __slots__ = ("val", "aval")

    def __init__(self, val: Any, aval: ShapedArray | None = None):
        self.aval = aval or get_aval(val)
        self.val = np.asarray(val, self.aval.dtype)[()]

    def __repr__(self):
        return f"Literal({self.val!r})"


Atom = Var | Literal


class Eqn:
    """``outvars = primitive[params] invars``; ``source_info`` is the user's line that made it."""

    __slots__ = ("primitive", "invars", "outvars", "params", "source_info")

    def __init__(self, primitive: Primitive, invars: Sequence[Atom], outvars: Sequence[Var],
                 params: dict, source_info: str | None = None):
        self.primitive = primitive
        self.invars = tuple(invars)
        self.outvars = tuple(outvars)
        self.params = params
        self.source_info = source_info

    def replace(self, **kw) -> Eqn:
        fields = dict(primitive=self.primitive, invars=self.invars, outvars=self.outvars,
                      params=self.params, source_info=self.source_info)
        fields.update(kw)
        return Eqn(**fields)

    def __repr__(self):
        from .pretty import pp_eqn
        return pp_eqn(self)


class Jaxpr:
    """A closed-over-nothing program: ``{ lambda constvars ; invars . let eqns in outvars }``."""

    __slots__ = ("constvars", "invars", "outvars", "eqns", "__weakref__")

    def __init__(self, constvars: Sequence[Var], invars: Sequence[Var],
                 outvars: Sequence[Atom], eqns: Sequence[Eqn]):
        self.constvars = tuple(constvars)
        self.invars = tuple(invars)
        self.outvars = tuple(outvars)
        self.eqns = tuple(eqns)

    @property
    def in_avals(self) -> list[ShapedArray]:
        return [v.aval for v in self.invars]

    @property
    def out_avals(self) -> list[ShapedArray]:
        return [v.aval for v in self.outvars]

    def __str__(self):
        from .pretty import pp_jaxpr
        return pp_jaxpr(self)

    __repr__ = __str__


class ClosedJaxpr:
    """A jaxpr together with the values of its constvars."""

    __slots__ = ("jaxpr", "consts", "__weakref__")

    def __init__(self, jaxpr: Jaxpr, consts: Sequence[Any]):
        assert len(jaxpr.constvars) == len(consts)
        self.jaxpr = jaxpr
        self.consts = list(consts)

    in_avals = property(lambda self: self.jaxpr.in_avals)
    out_avals = property(lambda self: self.jaxpr.out_avals)
    eqns = property(lambda self: self.jaxpr.eqns)

    def __call__(self, *args):
        return eval_jaxpr(self.jaxpr, self.consts, *args)

    def __str__(self):
        from .pretty import pp_jaxpr
        return pp_jaxpr(self.jaxpr)

    __repr__ = __str__


def subjaxprs(params: dict):
    """The sub-programs (of control flow, jit, custom rules) stored in an equation's params."""
    for v in params.values():
        if isinstance(v, (Jaxpr, ClosedJaxpr)):
            yield v
        elif isinstance(v, tuple):
            for w in v:
                if isinstance(w, (Jaxpr, ClosedJaxpr)):
                    yield w


# ---------------------------------------------------------------------------------------------
# Primitives and their core rule tables
# ---------------------------------------------------------------------------------------------


class Primitive:
    """A named operation of the IR. What it means is spread over the rule tables, keyed by it."""

    __slots__ = ("name", "multiple_results", "__weakref__")

    def __init__(self, name: str, multiple_results: bool = False):
        self.name = name
        self.multiple_results = multiple_results

    def bind(self, *args, **params):
        return bind(self, *args, **params)

    def __repr__(self):
        return self.name


# Callbacks run when a rule that was already registered is replaced or removed: caches built
# from the rules (memoised shape rules, the eager reverse-mode programs) drop their entries.
rule_change_callbacks: list[Callable[[], None]] = []


def _rules_changed() -> None:
    for cb in rule_change_callbacks:
        cb()


class RuleTable(dict):
    """A rule table (primitive -> rule). Registering a new rule is a plain insertion;
    replacing or removing one (tests do it with ``monkeypatch.setitem``) runs
    ``rule_change_callbacks``."""

    __slots__ = ()

    def __setitem__(self, key, value):
        known = key in self
        dict.__setitem__(self, key, value)
        if known:
            _rules_changed()

    def __delitem__(self, key):
        dict.__delitem__(self, key)
        _rules_changed()

    def pop(self, *args):
        out = dict.pop(self, *args)
        _rules_changed()
        return out

    def popitem(self):
        out = dict.popitem(self)
        _rules_changed()
        return out

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args, **kw):
        for k, v in dict(*args, **kw).items():
            self[k] = v

    def clear(self):
        dict.clear(self)
        _rules_changed()


# prim -> f(*in_avals, **params) -> ShapedArray | list[ShapedArray]; raises on bad input
shape_rules: dict[Primitive, Callable] = RuleTable()
# prim -> f(*np_values, **params) -> np value | list of them (the reference interpreter)
impl_rules: dict[Primitive, Callable] = RuleTable()


# Shape rules are pure functions of (input types, params): eager code and tracing repeat the
# same few combinations, so their results are memoised. Params holding sub-programs are not
# cached (it would keep the programs alive), nor unhashable ones; failures are never cached.
_abstract_eval_cache: dict = {}
_uncacheable_prims: set = set()
rule_change_callbacks.append(_abstract_eval_cache.clear)


def abstract_eval(prim: Primitive, in_avals: Sequence[ShapedArray], params: dict
                  ) -> list[ShapedArray]:
    key = None
    if prim not in _uncacheable_prims:
        key = (prim, tuple(in_avals), tuple([a.weak_type for a in in_avals]),
               tuple(params.items()))
        try:
            hit = _abstract_eval_cache.get(key)
        except TypeError:  # an unhashable param
            hit = key = None
        if hit is not None:
            return list(hit)
    out = shape_rules[prim](*in_avals, **params)
    outs = list(out) if prim.multiple_results else [out]
    if key is not None:
        if any(True for _ in subjaxprs(params)):
            _uncacheable_prims.add(prim)
        else:
            if len(_abstract_eval_cache) > 8192:
                _abstract_eval_cache.clear()
            _abstract_eval_cache[key] = tuple(outs)
    return outs


def checked_abstract_eval(prim: Primitive, in_avals: Sequence[ShapedArray], params: dict
                          ) -> list[ShapedArray]:
    """``abstract_eval`` whose errors also name the user's line that applied ``prim``."""
    try:
        return abstract_eval(prim, in_avals, params)
    except (TypeError, ValueError) as e:
        where = user_frame_info()
        if where is None or type(e) not in (TypeError, ValueError):
            raise
        raise type(e)(f"{e}\n  (in {prim} at {where})") from None


def check_finite(primitive: Primitive, outs: Sequence[Any]) -> None:
    """With ``debug_nans``/``debug_infs``: raise at the first primitive that produces one."""
    for o in outs:
        arr = np.asarray(o)
        if not dtypes.is_inexact(arr.dtype):
            continue
        if _config.debug_nans and np.isnan(arr).any():
            kind = "NaN"
        elif _config.debug_infs and np.isinf(arr).any():
            kind = "inf"
        else:
            continue
        where = user_frame_info() or "an unknown location"
        flag = f"debug_{kind.lower()}s"
        raise FloatingPointError(
            f"{kind} produced by primitive '{primitive}' at {where}. ({flag} is on; turn it "
            f"off with functrace.config.update('{flag}', False).)")


# ---------------------------------------------------------------------------------------------
# Traces and tracers
# ---------------------------------------------------------------------------------------------


class MainTrace:
    """One entry of the trace stack: a running transformation at a fixed level."""

    __slots__ = ("level", "trace_type", "global_data", "alive", "outer_dynamic", "trace")

    def __init__(self, level: int, trace_type: type, global_data: Any = None):
        self.level = level
        self.trace_type = trace_type
        self.global_data = global_data
        self.alive = True
        self.trace = None  # the Trace for this level, made on first use and then shared
        self.outer_dynamic: MainTrace | None = None  # the dynamic trace it replaced

    def __repr__(self):
        return f"MainTrace({self.level}, {self.trace_type.__name__})"


class Trace:
    """An interpreter of primitives for one kind of tracer."""

    __slots__ = ("main",)
    # True for a trace whose ``process_primitive`` takes ``bind``'s arguments as they are
    # (its own tracers and plain values, never lower-level tracers) and returns values that
    # need no lowering: it saves wrapping every constant operand in a tracer.
    raw_args = False

    def __init__(self, main: MainTrace):
        self.main = main

    def pure(self, val: Any) -> Tracer:
        raise NotImplementedError

    lift = pure

    def full_raise(self, val: Any) -> Tracer:
        if not isinstance(val, Tracer):
            return self.pure(val)
        main = val._trace.main
        if main is self.main:
            return val
        if main.level < self.main.level:
            return self.lift(val)
        raise UnexpectedTracerError(_escaped_message(val))

    def process_primitive(self, primitive: Primitive, tracers: list, params: dict) -> list:
        raise NotImplementedError


class UnexpectedTracerError(Exception):
    """A tracer was used outside the transformation that created it."""


TRACE_NAMES = {"JaxprTrace": "jit/make_jaxpr", "BatchTrace": "vmap", "JVPTrace": "jvp/grad",
               "PartialEvalTrace": "grad/vjp/linearize", "EagerLinearizeTrace": "jvp/grad"}


def transformation_name(trace_type: type) -> str:
    """What users call the transformation a trace type implements (``"vmap"``, ...)."""
    return TRACE_NAMES.get(trace_type.__name__, trace_type.__name__)


def _escaped_message(tracer: Tracer) -> str:
    main = tracer._trace.main
    state = "finished" if not main.alive else "unrelated"
    where = user_frame_info()
    return (
        f"A traced value ({tracer.aval.str_short()}) from a {state} "
        f"{transformation_name(main.trace_type)} transformation was used outside of it. This "
        "happens when a function being transformed stores an intermediate value in a global, a "
        "closure or an object attribute and it is used after the transformation returned. "
        "Return the value from the function instead of storing it."
        + (f"{_LOCATION_MARK}{where})" if where else "")
    )


# Messages that already name the user's line (see ``checked_abstract_eval``) contain this.
_LOCATION_MARK = "\n  (at "
_LOCATABLE = (TypeError, ValueError, IndexError, NotImplementedError, UnexpectedTracerError)


def add_user_location(e: BaseException) -> None:
    """Append the user's line that led to ``e`` to its message, if ``e`` was raised by
    functrace (or NumPy on its behalf) and its message does not name a line yet.

    Errors that propagate out of a transformation (shape mismatches in ``a @ b``, unsupported
    NumPy functions, conversions of abstract values...) are raised deep in functrace; the line
    to fix is the innermost frame of the traceback that belongs to the user.
    """
    if not isinstance(e, _LOCATABLE) or len(e.args) != 1 or not isinstance(e.args[0], str):
        return
    msg = e.args[0]
    if _LOCATION_MARK in msg or "\n  (in " in msg:
        return
    frames = []
    tb = e.__traceback__
    while tb is not None:
        frames.append(tb)
        tb = tb.tb_next
    if not frames or not _is_ours(frames[-1].tb_frame.f_code.co_filename):
        return  # raised by the user's own code: leave it alone
    for tb in reversed(frames):
        code = tb.tb_frame.f_code
        if not _is_ours(code.co_filename):
            e.args = (f"{msg}{_LOCATION_MARK}{code.co_filename}:{tb.tb_lineno} "
                      f"({code.co_name}))",)
            return


class Tracer:
    """A stand-in for an array while a transformation runs; operators come from functrace.numpy."""

    __slots__ = ("_trace",)
    __array_priority__ = 1000

    @property
    def aval(self) -> ShapedArray:
        raise NotImplementedError

    def full_lower(self):
        return self

    shape = property(lambda self: self.aval.shape)
    dtype = property(lambda self: self.aval.dtype)
    ndim = property(lambda self: self.aval.ndim)
    size = property(lambda self: self.aval.size)

    def __len__(self):
        if not self.aval.shape:
            raise TypeError("len() of a 0-d traced array")
        return self.aval.shape[0]

    def __repr__(self):
        return f"Traced<{self.aval.str_short()}>with<{type(self._trace).__name__}>"

    def concrete_value(self):
        """The known NumPy value behind this tracer, or None when it is abstract."""
        return None


class _ThreadState(threading.local):
    def __init__(self):
        self.trace_stack = [MainTrace(0, EvalTrace)]
        self.dynamic_trace: MainTrace | None = None
        # While a jaxpr's equations are re-bound (evaluation, transposition), new work is
        # attributed to the user line that wrote the original equation.
        self.source_info: str | None = None


def _state() -> _ThreadState:
    return _thread_state


@contextmanager
def new_main(trace_type: type, global_data: Any = None):
    """Push a new transformation level for the duration of the block."""
    stack = _thread_state.trace_stack
    main = MainTrace(len(stack), trace_type, global_data)
    stack.append(main)
    try:
        yield main
    except Exception as e:
        add_user_location(e)  # the error escapes the transformation: say where it started
        raise
    finally:
        stack.pop()
        main.alive = False


@contextmanager
def new_dynamic(main: MainTrace):
    """Make ``main`` the trace that also receives operations on plain constants.

    While a function is being staged (``make_jaxpr``, ``jit``), ``zeros(n) + 1`` inside it must
    become equations, not a constant array baked into the program.
    """
    st = _thread_state
    prev, st.dynamic_trace = st.dynamic_trace, main
    if main is not None and main is not prev:
        main.outer_dynamic = prev
    try:
        yield
    finally:
        st.dynamic_trace = prev


def current_level() -> int:
    return len(_thread_state.trace_stack) - 1


def find_top_trace(args) -> Trace:
    st = _thread_state
    top_main = st.dynamic_trace or st.trace_stack[0]
    for x in args:
        if isinstance(x, Tracer):
            main = x._trace.main
            if not main.alive:
                raise UnexpectedTracerError(_escaped_message(x))
            if main.level > top_main.level:
                top_main = main
    trace = top_main.trace
    if trace is None:
        trace = top_main.trace = top_main.trace_type(top_main)
    return trace


def full_lower(val):
    return val.full_lower() if isinstance(val, Tracer) else val


def bind(prim: Primitive, *args, **params):
    """Apply ``prim`` to ``args`` in the innermost transformation that sees them."""
    trace = find_top_trace(args)
    if type(trace) is EvalTrace:  # eager: no tracers to raise or lower
        outs = trace.process_primitive(prim, args, params)
        return list(outs) if prim.multiple_results else outs[0]
    if trace.raw_args:  # the trace raises the arguments it needs itself
        outs = trace.process_primitive(prim, args, params)
        return list(outs) if prim.multiple_results else outs[0]
    tracers = [trace.full_raise(a) for a in args]
    outs = trace.process_primitive(prim, tracers, params)
    if prim.multiple_results:
        return [full_lower(o) for o in outs]
    return full_lower(outs[0])


class EvalTrace(Trace):
    """Level 0: apply the NumPy reference implementation to concrete values."""

    __slots__ = ()

    def pure(self, val):
        return val

    lift = pure

    def process_primitive(self, primitive, values, params):
        # Type-check eagerly too, so a program that runs un-jitted also traces and compiles.
        out_avals = checked_abstract_eval(primitive, [get_aval(v) for v in values], params)
        out = impl_rules[primitive](*values, **params)
        if primitive.multiple_results:
            outs = out
        elif out_avals[0].weak_type and not out_avals[0].shape:
            outs = [np.asarray(out).item()]  # arithmetic on Python scalars stays weak
        else:
            outs = [out]
        if _config.debug_nans or _config.debug_infs:
            check_finite(primitive, outs)
        return outs


_thread_state = _ThreadState()
# ``prim.bind(*args, **params)`` is ``bind(prim, *args, **params)``: the function itself as the
# method, saving a call frame on every primitive application.
Primitive.bind = bind


# ---------------------------------------------------------------------------------------------
# Source lines of the user's code
# ---------------------------------------------------------------------------------------------

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_SKIP_FILE_PREFIXES = (_PACKAGE_DIR, os.path.dirname(np.__file__) + os.sep)
_SKIP_FILES = {"<frozen importlib._bootstrap>", os.path.dirname(os.__file__) + os.sep
               + "contextlib.py", os.path.dirname(os.__file__) + os.sep + "functools.py"}


def _is_ours(fname: str) -> bool:
    return fname.startswith(_SKIP_FILE_PREFIXES) or fname in _SKIP_FILES


def user_frame_info(skip_prefixes=_SKIP_FILE_PREFIXES) -> str | None:
    """``file:line (function)`` of the innermost frame that is the user's code, not ours."""
    override = _thread_state.source_info
    if override is not None:
        return override
    frame = sys._getframe(1)
    default = skip_prefixes is _SKIP_FILE_PREFIXES
    while frame is not None:
        code = frame.f_code
        ours = _our_code.get(code) if default else None
        if ours is None:
            fname = code.co_filename
            ours = fname.startswith(skip_prefixes) or fname in _SKIP_FILES
            if default:
                if len(_our_code) > 16384:
                    _our_code.clear()
                _our_code[code] = ours
        if not ours:
            return f"{code.co_filename}:{frame.f_lineno} ({code.co_name})"
        frame = frame.f_back
    return None


# code object -> whether it is functrace's (or NumPy's, ...) rather than the user's
_our_code: dict = {}


# ---------------------------------------------------------------------------------------------
# The reference interpreter and the type checker
# ---------------------------------------------------------------------------------------------


def eval_jaxpr(jaxpr: Jaxpr, consts: Sequence[Any], *args) -> list:
    """Run ``jaxpr`` by binding each equation's primitive, so it also works under transformations.

    On NumPy inputs outside any transformation this is the NumPy reference interpreter.
    """
    if len(args) != len(jaxpr.invars):
        raise TypeError(f"jaxpr takes {len(jaxpr.invars)} arguments but got {len(args)}")
    env: dict[Var, Any] = {}
    env.update(zip(jaxpr.constvars, consts))
    env.update(zip(jaxpr.invars, args))

    def read(a):
        if isinstance(a, Literal):
            # a weak literal is re-bound as the Python scalar it was, so it stays weak
            return a.val.item() if a.aval.weak_type else a.val
        return env[a]

    st = _thread_state
    prev = st.source_info
    try:
        for eqn in jaxpr.eqns:
            st.source_info = eqn.source_info or prev
            outs = bind(eqn.primitive, *map(read, eqn.invars), **eqn.params)
            if eqn.primitive.multiple_results:
                env.update(zip(eqn.outvars, outs))
            else:
                env[eqn.outvars[0]] = outs
    finally:
        st.source_info = prev
    return [read(v) for v in jaxpr.outvars]


def eval_jaxpr_concrete(jaxpr: Jaxpr, consts: Sequence[Any], *args) -> list:
    """The NumPy reference interpreter for concrete values outside any transformation (what
    ``eval_jaxpr`` does there), calling each equation's NumPy implementation directly.

    ``bind`` at top level also re-checks every equation's types, which tracing checked
    already: skipping it makes interpreted programs (jit's first tier, loop bodies run by
    the control-flow implementations) several times faster, with the same values. With
    ``debug_nans``/``debug_infs``, or when an equation raises (so that the error names the
    user's line), it runs ``eval_jaxpr`` instead.
    """
    if _config.debug_nans or _config.debug_infs or len(_thread_state.trace_stack) != 1 \
            or _thread_state.dynamic_trace is not None:
        return eval_jaxpr(jaxpr, consts, *args)
    env: dict[Var, Any] = dict(zip(jaxpr.constvars, consts))
    env.update(zip(jaxpr.invars, args))
    try:
        for eqn in jaxpr.eqns:
            vals = [env[a] if type(a) is not Literal else
                    (a.val.item() if a.aval.weak_type else a.val) for a in eqn.invars]
            out = impl_rules[eqn.primitive](*vals, **eqn.params)
            if eqn.primitive.multiple_results:
                env.update(zip(eqn.outvars, out))
            else:
                v = eqn.outvars[0]
                if v.aval.weak_type and not v.aval.shape:
                    out = np.asarray(out).item()  # arithmetic on Python scalars stays weak
                env[v] = out
    except Exception:  # noqa: BLE001 - run again op by op for the error at the user's line
        return eval_jaxpr(jaxpr, consts, *args)
    return [env[v] if type(v) is not Literal else
            (v.val.item() if v.aval.weak_type else v.val) for v in jaxpr.outvars]


@contextmanager
def source_info(info: str | None):
    """Attribute the work done in the block to ``info`` (a user line) instead of the caller."""
    st = _thread_state
    prev = st.source_info
    st.source_info = info or prev
    try:
        yield
    finally:
        st.source_info = prev


class JaxprTypeError(TypeError):
    """A jaxpr is not well typed (a bug in whatever produced it)."""


def check_jaxpr(jaxpr: Jaxpr | ClosedJaxpr) -> None:
    """Check that every variable is defined once before use and every equation is well typed."""
    if isinstance(jaxpr, ClosedJaxpr):
        for v, c in zip(jaxpr.jaxpr.constvars, jaxpr.consts):
            if not isinstance(c, Tracer) and get_aval(c) != v.aval:
                raise JaxprTypeError(f"constant for {v} has type {get_aval(c)}")
        jaxpr = jaxpr.jaxpr
    defined: set[Var] = set()

    def define(v: Var, where: str):
        if not isinstance(v, Var):
            raise JaxprTypeError(f"{where}: binder {v!r} is not a Var")
        if v in defined:
            raise JaxprTypeError(f"{where}: variable {v} defined twice")
        defined.add(v)

    def check_atom(a, where: str):
        if isinstance(a, Literal):
            if a.aval.shape != ():
                raise JaxprTypeError(f"{where}: literal {a} is not a scalar")
        elif a not in defined:
            raise JaxprTypeError(f"{where}: variable {a} used before it is defined")

    for v in jaxpr.constvars:
        define(v, "constvars")
    for v in jaxpr.invars:
        define(v, "invars")
    for i, eqn in enumerate(jaxpr.eqns):
        where = f"equation {i} ({eqn.primitive})"
        for a in eqn.invars:
            check_atom(a, where)
        try:
            expected = abstract_eval(eqn.primitive, [a.aval for a in eqn.invars], eqn.params)
        except Exception as e:  # noqa: BLE001 - re-raised with context
            raise JaxprTypeError(f"{where}: shape rule rejects its inputs: {e}") from e
        got = [v.aval for v in eqn.outvars]
        if expected != got:
            raise JaxprTypeError(f"{where}: outputs typed {got} but the rule gives {expected}")
        for sub in subjaxprs(eqn.params):
            check_jaxpr(sub)
        for v in eqn.outvars:
            define(v, where)
    for a in jaxpr.outvars:
        check_atom(a, "outvars")
