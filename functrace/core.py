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
    """The type of an array value: its shape and dtype. Immutable and hashable."""

    __slots__ = ("shape", "dtype", "_hash")
    array_abstraction_level = 1

    def __init__(self, shape: Sequence[int], dtype: Any):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self._hash = hash((self.shape, self.dtype))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def update(self, shape=None, dtype=None) -> ShapedArray:
        return ShapedArray(self.shape if shape is None else shape,
                           self.dtype if dtype is None else dtype)

    def str_short(self) -> str:
        return f"{dtypes.short_name(self.dtype)}[{','.join(map(str, self.shape))}]"

    def __eq__(self, other):
        return (isinstance(other, ShapedArray) and self.shape == other.shape
                and self.dtype == other.dtype)

    def __hash__(self):
        return self._hash

    def __repr__(self):
        return f"ShapedArray({self.str_short()})"


_PY_SCALAR_DTYPES = {bool: dtypes.bool_, int: dtypes.int64, float: dtypes.float64,
                     complex: dtypes.complex128}


def get_aval(x: Any) -> ShapedArray:
    """The abstract value of a tracer, NumPy array, NumPy scalar or Python scalar."""
    if isinstance(x, Tracer):
        return x.aval
    if isinstance(x, (np.ndarray, np.generic)):
        return ShapedArray(x.shape, dtypes.check_supported(x.dtype))
    t = type(x)
    if t in _PY_SCALAR_DTYPES:
        return ShapedArray((), _PY_SCALAR_DTYPES[t])
    raise TypeError(
        f"functrace expected an array, a scalar or a tracer but got a value of type "
        f"{t.__name__} ({x!r:.80}); convert it with numpy.asarray or mark the argument static."
    )


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


# prim -> f(*in_avals, **params) -> ShapedArray | list[ShapedArray]; raises on bad input
shape_rules: dict[Primitive, Callable] = {}
# prim -> f(*np_values, **params) -> np value | list of them (the reference interpreter)
impl_rules: dict[Primitive, Callable] = {}


def abstract_eval(prim: Primitive, in_avals: Sequence[ShapedArray], params: dict
                  ) -> list[ShapedArray]:
    out = shape_rules[prim](*in_avals, **params)
    return list(out) if prim.multiple_results else [out]


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
        raise FloatingPointError(
            f"{kind} produced by primitive '{primitive}' at {where}. (debug_{kind.lower()}s "
            "is on; turn it off with functrace.config.update('debug_nans', False).)")


# ---------------------------------------------------------------------------------------------
# Traces and tracers
# ---------------------------------------------------------------------------------------------


class MainTrace:
    """One entry of the trace stack: a running transformation at a fixed level."""

    __slots__ = ("level", "trace_type", "global_data", "alive")

    def __init__(self, level: int, trace_type: type, global_data: Any = None):
        self.level = level
        self.trace_type = trace_type
        self.global_data = global_data
        self.alive = True

    def __repr__(self):
        return f"MainTrace({self.level}, {self.trace_type.__name__})"


class Trace:
    """An interpreter of primitives for one kind of tracer."""

    __slots__ = ("main",)

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


def _escaped_message(tracer: Tracer) -> str:
    return (
        f"A traced value ({tracer.aval.str_short()}) from a finished or unrelated "
        f"{tracer._trace.main.trace_type.__name__} was used here. This happens when a function "
        "being transformed stores an intermediate value in a global, a closure or an object "
        "attribute and it is used after the transformation returned. Return the value from the "
        "function instead of storing it."
    )


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
    return top_main.trace_type(top_main)


def full_lower(val):
    return val.full_lower() if isinstance(val, Tracer) else val


def bind(prim: Primitive, *args, **params):
    """Apply ``prim`` to ``args`` in the innermost transformation that sees them."""
    trace = find_top_trace(args)
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
        checked_abstract_eval(primitive, [get_aval(v) for v in values], params)
        out = impl_rules[primitive](*values, **params)
        outs = out if primitive.multiple_results else [out]
        if _config.debug_nans or _config.debug_infs:
            check_finite(primitive, outs)
        return outs


_thread_state = _ThreadState()


# ---------------------------------------------------------------------------------------------
# Source lines of the user's code
# ---------------------------------------------------------------------------------------------

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_SKIP_FILE_PREFIXES = (_PACKAGE_DIR, os.path.dirname(np.__file__) + os.sep)
_SKIP_FILES = {"<frozen importlib._bootstrap>", os.path.dirname(os.__file__) + os.sep
               + "contextlib.py", os.path.dirname(os.__file__) + os.sep + "functools.py"}


def user_frame_info(skip_prefixes=_SKIP_FILE_PREFIXES) -> str | None:
    """``file:line (function)`` of the innermost frame that is the user's code, not ours."""
    override = _thread_state.source_info
    if override is not None:
        return override
    frame = sys._getframe(1)
    while frame is not None:
        fname = frame.f_code.co_filename
        if not fname.startswith(skip_prefixes) and fname not in _SKIP_FILES:
            return f"{fname}:{frame.f_lineno} ({frame.f_code.co_name})"
        frame = frame.f_back
    return None


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
        return a.val if isinstance(a, Literal) else env[a]

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
