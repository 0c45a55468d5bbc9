"""Random well-typed NumPy-style programs, as data, for the fuzz tests (tests/test_fuzz.py).

A ``Program`` is a DAG of 1-30 operations over 1-3 inputs (float32/float64, optionally int32
or Python floats) of small, mostly broadcast-compatible shapes. Each operation (``Op``) is one
Python statement over the names of earlier values, written against three free names:

- ``np``: ``numpy`` itself or ``functrace.numpy``;
- ``lax``: ``functrace.lax`` or ``REF_LAX``, a plain-Python reference for ``cond``, ``switch``,
  ``fori_loop``, ``while_loop``, ``scan``, ``map`` and ``logistic``;
- ``at``: ``at(x)`` stands for ``x.at`` (NumPy arrays have no ``.at``; ``REF_AT`` applies the
  update to a copy, accumulating repeated indices for ``add`` as JAX does).

So the same program runs as NumPy (the oracle) and as functrace (eagerly, traced, jitted,
differentiated, batched), and ``Program.source()`` is exactly the code that ran, for failure
reports.

Values stay in safe ranges by construction: every value carries an interval that bounds it, a
Lipschitz bound with respect to the inputs and a rounding-error scale (``Val``); operations that
would leave the limits are not generated (``exp`` only of bounded values, ``log``/``sqrt`` only of
values bounded away from zero or as ``log(1 + x*x)``, division only by values bounded away from
zero or as ``x / (1 + y*y)``). Operations with kinks or branches (``abs``, ``maximum``,
``where``, ``sort``, ``max``, ``cond``...) record a ``Kink``: a NumPy expression measuring how
close the actual inputs are to the kink, so tests can skip inputs where finite differences (or
rounding, for comparisons) are meaningless. ``Program.value_tolerance`` and
``Program.too_close_to_kink`` turn these bounds into tolerances and skip decisions.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import strategies as st

F32, F64, I32 = np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int32)

MAX_SIZE = 64        # elements of any value
MAX_RANK = 4
MAX_BOUND = 1e3      # |value|
MAX_LIP = 1e3        # |d value / d inputs| (max-norm)
MAX_ERR = 1e-3       # absolute rounding-error scale
INPUT_LO, INPUT_HI = -2.0, 2.0
INT_RANGE = (-3, 3)  # integer inputs

# ---------------------------------------------------------------------------------------------
# Program representation
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Val:
    """What the generator knows about a value: its type and bounds.

    ``lo <= value <= hi`` elementwise; ``lip`` bounds how much the value moves per unit change of
    the inputs (max norm); ``err`` scales the absolute rounding error of any reasonable
    evaluation order (propagated through the program: a float32 intermediate feeding a float64
    output still counts with float32's epsilon).
    """

    shape: tuple[int, ...]
    dtype: np.dtype
    lo: float
    hi: float
    lip: float
    err: float
    weak: bool = False  # a Python float argument (NEP 50: weakly typed where it meets arrays)

    @property
    def bound(self) -> float:
        return max(abs(self.lo), abs(self.hi))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclasses.dataclass(frozen=True)
class Kink:
    """A point where the program is not smooth.

    ``expr`` is a NumPy expression over the program's value names giving the distance of the
    actual values to the kink (``inf`` when there is none); ``err``/``lip`` are the error and
    Lipschitz scales of the compared quantities. ``flips_values``: crossing the kink changes
    the *value* discontinuously (a comparison), so rounding differences near it matter too.
    """

    expr: str
    err: float
    lip: float
    flips_values: bool = False


@dataclasses.dataclass(frozen=True)
class Op:
    """One statement ``<outs> = <expr>`` defining one or more new values."""

    kind: str
    expr: str
    outs: tuple[Val, ...]
    kinks: tuple[Kink, ...] = ()


def value_name(i: int, n_inputs: int) -> str:
    return f"x{i}" if i < n_inputs else f"v{i}"


@dataclasses.dataclass(frozen=True)
class Program:
    """A straight-line program: inputs, statements, and the indices of the returned values."""

    inputs: tuple[Val, ...]
    ops: tuple[Op, ...]
    outputs: tuple[int, ...]

    # -- structure ------------------------------------------------------------------------
    @property
    def vals(self) -> list[Val]:
        return list(self.inputs) + [v for op in self.ops for v in op.outs]

    @property
    def out_vals(self) -> list[Val]:
        vals = self.vals
        return [vals[i] for i in self.outputs]

    def name(self, i: int) -> str:
        return value_name(i, len(self.inputs))

    @property
    def dtypes(self) -> set[np.dtype]:
        return {v.dtype for v in self.vals}

    def _body(self) -> list[str]:
        lines, k = [], len(self.inputs)
        for op in self.ops:
            targets = ", ".join(self.name(k + j) for j in range(len(op.outs)))
            lines.append(f"    {targets} = {op.expr}")
            k += len(op.outs)
        return lines

    def source(self) -> str:
        """The program as Python source (``np``, ``lax`` and ``at`` are free names)."""
        args = ", ".join(self.name(i) for i in range(len(self.inputs)))
        outs = ", ".join(self.name(i) for i in self.outputs)
        return "\n".join([f"def program({args}):", *self._body(), f"    return ({outs},)"])

    def describe(self, args: Sequence[np.ndarray] | None = None) -> str:
        """Source plus input types (and values) for failure reports."""
        head = ["# np: numpy or functrace.numpy; lax: functrace.lax (REF_LAX for NumPy);",
                "# at(x) means x.at (REF_AT for NumPy). See tests/program_strategies.py."]
        for i, v in enumerate(self.inputs):
            kind = "Python float" if v.weak else f"{v.dtype.name}{list(v.shape)}"
            head.append(f"# {self.name(i)}: {kind}")
        text = "\n".join(head) + "\n" + self.source()
        if args is not None:
            text += "\nargs = (" + ", ".join(
                repr(a) if isinstance(a, float) else
                f"np.array({np.asarray(a).tolist()!r}, dtype=np.{np.asarray(a).dtype.name})"
                for a in args) + ",)"
        return text

    # -- execution --------------------------------------------------------------------------
    def function(self, np_module: Any) -> Callable[..., tuple]:
        """The program as a function of its inputs, written against ``np_module``."""
        env = module_env(np_module)
        namespace: dict[str, Any] = dict(env)
        exec(compile(self.source(), "<fuzz program>", "exec"), namespace)  # noqa: S102
        return namespace["program"]

    def all_values(self, *args) -> dict[str, Any]:
        """Every named value of a NumPy run (for kink margins)."""
        argnames = ", ".join(self.name(i) for i in range(len(self.inputs)))
        src = "\n".join([f"def program({argnames}):", *self._body(), "    return dict(locals())"])
        namespace: dict[str, Any] = dict(module_env(np))
        exec(compile(src, "<fuzz program values>", "exec"), namespace)  # noqa: S102
        with np.errstate(all="ignore"):
            return namespace["program"](*args)

    # -- tolerances -------------------------------------------------------------------------
    def value_tolerance(self, k: float = 16.0) -> list[float]:
        """Absolute tolerance per output for comparing two evaluation orders."""
        return [k * v.err + 1e-300 for v in self.out_vals]

    def kink_margins(self, *args) -> list[tuple[Kink, float]]:
        values = self.all_values(*args)
        env = dict(KINK_ENV)
        env.update(values)
        out = []
        with np.errstate(all="ignore"):
            for op in self.ops:
                for kink in op.kinks:
                    out.append((kink, float(eval(kink.expr, env))))  # noqa: S307
        return out

    def too_close_to_kink(self, *args, fd_step: float | None = None, k: float = 16.0) -> bool:
        """Whether ``args`` are too close to a kink for a meaningful comparison.

        Without ``fd_step``: only comparisons matter (rounding differences between two correct
        evaluations could take different branches). With ``fd_step`` (finite differences with
        that step): every kink within reach of the perturbed inputs.
        """
        for kink, margin in self.kink_margins(*args):
            if kink.flips_values and margin <= 4 * k * kink.err:
                return True
            if fd_step is not None and margin <= 20 * fd_step * max(kink.lip, 1.0):
                return True
        return False


# ---------------------------------------------------------------------------------------------
# The module environments
# ---------------------------------------------------------------------------------------------


class _RefLax:
    """Plain-Python meanings of the ``lax`` functions programs use (for the NumPy run)."""

    @staticmethod
    def cond(pred, true_fun, false_fun, *operands):
        return true_fun(*operands) if bool(pred) else false_fun(*operands)

    @staticmethod
    def switch(index, branches, *operands):
        i = min(max(int(index), 0), len(branches) - 1)  # clamped, as in JAX
        return branches[i](*operands)

    @staticmethod
    def while_loop(cond_fun, body_fun, init_val):
        val = init_val
        while bool(cond_fun(val)):
            val = body_fun(val)
        return val

    @staticmethod
    def map(f, xs):
        return np.stack([f(x) for x in xs])

    @staticmethod
    def fori_loop(lower, upper, body_fun, init_val):
        val = init_val
        for i in range(lower, upper):
            val = body_fun(i, val)
        return val

    @staticmethod
    def scan(f, init, xs, length=None, reverse=False):
        carry, ys = init, [None] * len(xs)
        order = range(len(xs) - 1, -1, -1) if reverse else range(len(xs))
        for i in order:
            carry, ys[i] = f(carry, xs[i])
        return carry, np.stack(ys)

    @staticmethod
    def logistic(x):
        x = np.asarray(x)
        return 1.0 / (1.0 + np.exp(-x))


class _RefAtIndex:
    def __init__(self, x, idx):
        self.x, self.idx = np.array(x), idx

    def add(self, u):
        out = self.x.copy()
        np.add.at(out, self.idx, u)
        return out

    def set(self, u):
        out = self.x.copy()
        out[self.idx] = u
        return out

    def multiply(self, u):
        out = self.x.copy()
        np.multiply.at(out, self.idx, u)
        return out

    def min(self, u):
        out = self.x.copy()
        np.minimum.at(out, self.idx, u)
        return out

    def max(self, u):
        out = self.x.copy()
        np.maximum.at(out, self.idx, u)
        return out

    def get(self):
        return self.x[self.idx]


class _RefAt:
    def __init__(self, x):
        self.x = x

    def __getitem__(self, idx):
        return _RefAtIndex(self.x, idx)


REF_LAX = _RefLax()
REF_AT = _RefAt


def _functrace_at(x):
    from functrace.core import Tracer
    from functrace.numpy._indexing import IndexUpdateHelper
    # Eager functrace values are NumPy arrays, which have no ``.at``: use the helper directly.
    return x.at if isinstance(x, Tracer) else IndexUpdateHelper(x)


def module_env(np_module: Any) -> dict[str, Any]:
    """``np``, ``lax`` and ``at`` for running programs with ``numpy`` or ``functrace.numpy``."""
    if np_module is np:
        return {"np": np, "onp": np, "lax": REF_LAX, "at": REF_AT}
    import functrace
    # ``onp`` is NumPy itself, for static constants: ``np.array(...)`` made inside a traced
    # function is traced too (as jnp.array is under jax.jit)
    return {"np": np_module, "onp": np, "lax": functrace.lax, "at": _functrace_at}


def _gap(a, b) -> float:
    """Smallest nonzero |a - b| (exact ties come from identical computations: not a kink)."""
    d = np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).ravel()
    d = d[d > 0]
    return float(d.min()) if d.size else math.inf


def _sort_gap(a, axis) -> float:
    """Smallest nonzero gap between entries compared along ``axis`` (None: all entries)."""
    a = np.asarray(a, np.float64)
    if axis is None:
        a = a.reshape(1, -1)
        axis = (1,)
    axis = (axis,) if isinstance(axis, int) else tuple(axis)
    axis = tuple(ax % a.ndim for ax in axis)
    rest = [d for d in range(a.ndim) if d not in axis]
    a = np.transpose(a, rest + list(axis)).reshape(
        math.prod(a.shape[d] for d in rest), -1)
    d = np.diff(np.sort(a, axis=1), axis=1).ravel()
    d = d[d > 0]
    return float(d.min()) if d.size else math.inf


KINK_ENV = {"np": np, "onp": np, "_gap": _gap, "_sort_gap": _sort_gap, "math": math}


CONTROL_FLOW_FUNCTIONS = ("cond", "switch", "fori_loop", "while_loop", "scan", "map")


def control_flow_available() -> dict[str, bool]:
    """Which ``functrace.lax`` control-flow functions exist (they may still be being written)."""
    try:
        import functrace
        lax = functrace.lax
    except Exception:  # noqa: BLE001 - the package may be mid-edit
        return dict.fromkeys(CONTROL_FLOW_FUNCTIONS, False)
    return {n: callable(getattr(lax, n, None)) for n in CONTROL_FLOW_FUNCTIONS}


# ---------------------------------------------------------------------------------------------
# Interval helpers
# ---------------------------------------------------------------------------------------------


def _mul_iv(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    ps = [a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1]]
    return min(ps), max(ps)


def _min_sq(v: Val) -> float:
    return 0.0 if v.lo <= 0.0 <= v.hi else min(v.lo * v.lo, v.hi * v.hi)


def _away_from_zero(v: Val) -> float:
    """min |value| when the interval excludes 0, else 0."""
    return 0.0 if v.lo <= 0.0 <= v.hi else min(abs(v.lo), abs(v.hi))


def _bcast(*shapes) -> tuple[int, ...] | None:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        return None


def _axis_src(axis) -> str:
    return repr(axis)


# ---------------------------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------------------------

SCALARS = [0.5, 2.0, -1.5, 3.0, 0.25, -0.75, 2, -1, 3]


class _NoCandidate(Exception):
    """No existing value fits an operation being generated: try another operation."""


class _Builder:
    """Draws a program one operation at a time, tracking what is known about every value."""

    def __init__(self, draw, inputs: Sequence[Val], ops: Sequence[str],
                 float_dtypes: Sequence[np.dtype] = (F32, F64), max_size: int = MAX_SIZE):
        self.draw = draw
        self.max_size = max_size
        self.float_dtypes = [np.dtype(d) for d in float_dtypes if np.dtype(d).kind == "f"] \
            or [F64]
        self.n_inputs = len(inputs)
        self.vals: list[Val] = list(inputs)
        self.ops: list[Op] = []
        self.op_kinds = list(ops)

    # -- picking operands ----------------------------------------------------------------
    def name(self, i: int) -> str:
        return value_name(i, self.n_inputs)

    def pick(self, pred: Callable[[Val], bool] = lambda v: True, optional: bool = False
             ) -> int | None:
        """An existing value satisfying ``pred``, most recent first (shrinks toward it).

        Without one: None if ``optional``, else the operation is abandoned (``_NoCandidate``).
        """
        cands = [i for i in range(len(self.vals) - 1, -1, -1) if pred(self.vals[i])]
        if not cands:
            if optional:
                return None
            raise _NoCandidate
        return self.draw(st.sampled_from(cands))

    def choice(self, options: Sequence):
        return self.draw(st.sampled_from(list(options)))

    def flag(self, p_true: float = 0.5) -> bool:
        """True with probability about ``p_true`` (shrinking moves toward True)."""
        return self.draw(st.integers(0, 99)) < int(p_true * 100)

    def scalar(self) -> float | int:
        return self.choice(SCALARS)

    # -- validity -----------------------------------------------------------------------------
    def ok(self, v: Val) -> bool:
        return (1 <= v.size <= self.max_size and v.ndim <= MAX_RANK and v.bound <= MAX_BOUND
                and v.lip <= MAX_LIP and v.err <= MAX_ERR and math.isfinite(v.lo)
                and math.isfinite(v.hi))

    def attempt(self, kind: str) -> bool:
        try:
            return self.add(GENERATORS[kind](self))
        except _NoCandidate:
            return False

    def add(self, op: Op | None) -> bool:
        if op is None or not all(self.ok(v) for v in op.outs):
            return False
        self.ops.append(op)
        self.vals.extend(op.outs)
        return True

    def build(self, n_ops: int) -> None:
        for _ in range(n_ops):
            for _attempt in range(8):
                if self.attempt(self.choice(self.op_kinds)):
                    break
            else:
                self.add(_unary(self, fixed="sin"))


def _val(shape, dtype, lo, hi, lip, err, rnd: float = 0.0) -> Val:
    """A Val whose error is ``err`` (propagated, absolute) plus ``rnd`` ulps of its own."""
    dtype = np.dtype(dtype)
    eps = _eps(dtype)
    return Val(tuple(int(d) for d in shape), dtype, float(lo), float(hi), float(lip),
               float(err) + eps * float(rnd))


def _eps(dtype: np.dtype) -> float:
    return float(np.finfo(dtype).eps) if np.dtype(dtype).kind == "f" else 0.0  # ints: exact


def is_float(v: Val) -> bool:
    return v.dtype.kind == "f"


def strong(v: Val) -> bool:
    """Not a Python-scalar argument (which only some operations take as NumPy does)."""
    return not v.weak


def strong_float(v: Val) -> bool:
    return is_float(v) and not v.weak


def _sum_dtype(dtype: np.dtype) -> np.dtype:
    """NumPy's sum/prod/cumsum/trace accumulate small integers in the platform integer."""
    dtype = np.dtype(dtype)
    return np.dtype(np.int_) if dtype.kind in "biu" and dtype.itemsize < 8 else dtype


def _float_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype NumPy's float functions (sin, true division, mean) give for ``dtype``."""
    return dtype if dtype.kind == "f" else F64


# -- elementwise unary ----------------------------------------------------------------------

_UNARY_KINDS = ["sin", "cos", "tanh", "exp", "log1p_sq", "sqrt1p_sq", "log", "sqrt", "logistic",
                "abs", "square", "neg", "arctan", "cube", "astype", "expm1", "sinh", "cosh",
                "arcsinh", "power", "exp2"]
_KEEPS_DTYPE = {"abs", "square", "neg", "cube", "astype"}  # astype: dtype chosen separately


def _unary_expr(kind: str, a: str, v: Val, p: float = 0.5
                ) -> tuple[str, float, float, float] | None:
    """(expr, lo, hi, lipschitz) of a smooth-or-kinked unary function of ``a``, or None
    (``p``: the exponent for ``power``)."""
    B = v.bound
    if kind == "sin":
        return f"np.sin({a})", -1.0, 1.0, 1.0
    if kind == "cos":
        return f"np.cos({a})", -1.0, 1.0, 1.0
    if kind == "tanh":
        return f"np.tanh({a})", math.tanh(v.lo), math.tanh(v.hi), 1.0
    if kind == "exp":
        if v.hi > 4.0:
            return None
        return f"np.exp({a})", math.exp(v.lo), math.exp(v.hi), math.exp(v.hi)
    if kind == "log1p_sq":
        form = f"np.log(1.0 + {a} * {a})" if B < 100 else f"np.log1p({a} * {a})"
        return form, math.log1p(_min_sq(v)), math.log1p(B * B), 1.0
    if kind == "sqrt1p_sq":
        return (f"np.sqrt({a} * {a} + 1.0)", math.sqrt(1 + _min_sq(v)), math.sqrt(1 + B * B),
                1.0)
    if kind == "log":
        if v.lo < 0.2:
            return None
        return f"np.log({a})", math.log(v.lo), math.log(v.hi), 1.0 / v.lo
    if kind == "sqrt":
        if v.lo < 0.2:
            return None
        return f"np.sqrt({a})", math.sqrt(v.lo), math.sqrt(v.hi), 0.5 / math.sqrt(v.lo)
    if kind == "logistic":
        if not is_float(v):
            return None
        s = lambda t: 1.0 / (1.0 + math.exp(-t))
        return f"lax.logistic({a})", s(v.lo), s(v.hi), 0.25
    if kind == "abs":
        return f"np.abs({a})", _away_from_zero(v), B, 1.0
    if kind == "square":
        return f"np.square({a})", _min_sq(v), B * B, 2 * B
    if kind == "cube":
        return f"{a} ** 3", v.lo ** 3, v.hi ** 3, 3 * B * B
    if kind == "neg":
        return f"-{a}", -v.hi, -v.lo, 1.0
    if kind == "arctan":
        return f"np.arctan({a})", math.atan(v.lo), math.atan(v.hi), 1.0
    if kind == "astype":
        return a, v.lo, v.hi, 1.0  # the cast itself is added by _unary
    if kind in ("expm1", "sinh", "cosh"):
        if B > 4.0:
            return None
        if kind == "expm1":
            return f"np.expm1({a})", math.expm1(v.lo), math.expm1(v.hi), math.exp(v.hi)
        if kind == "sinh":
            return f"np.sinh({a})", math.sinh(v.lo), math.sinh(v.hi), math.cosh(B)
        return f"np.cosh({a})", 1.0, math.cosh(B), math.sinh(B)
    if kind == "arcsinh":
        return f"np.arcsinh({a})", math.asinh(v.lo), math.asinh(v.hi), 1.0
    if kind == "exp2":
        if B > 8.0:
            return None
        return f"2.0 ** {a}", 2.0 ** v.lo, 2.0 ** v.hi, math.log(2) * 2.0 ** v.hi
    if kind == "power":
        if v.lo < 0.2:
            return f"np.power({a}, 2)", _min_sq(v), B * B, 2 * B
        ends = sorted([v.lo ** p, v.hi ** p])
        lip = abs(p) * max(v.lo ** (p - 1), v.hi ** (p - 1))
        return (f"{a} ** {p!r}" if p > 0 else f"np.power({a}, {p!r})"), ends[0], ends[1], lip
    raise AssertionError(kind)


def _unary(b: _Builder, fixed: str | None = None) -> Op | None:
    i = b.pick()
    v, a = b.vals[i], b.name(i)
    kind = fixed or b.choice(_UNARY_KINDS)
    p = b.choice([0.5, 1.5, -1.0, 2.5]) if kind == "power" else 0.5
    got = _unary_expr(kind, a, v, p)
    if got is None:
        return None
    expr, lo, hi, lip = got
    kinks = (Kink(f"_gap({a}, 0.0)", v.err, v.lip),) if kind == "abs" else ()
    keeps = kind in _KEEPS_DTYPE or expr.endswith(", 2)")  # integer powers keep integers
    dtype = v.dtype if keeps else _float_dtype(v.dtype)
    if kind == "astype":
        # casts between the allowed float dtypes, and from integers to floats
        options = [d for d in b.float_dtypes if d != v.dtype]
        if not options:
            return None
        dtype = b.choice(options)
        expr = (f"{a}.astype(np.{dtype.name})" if b.flag() and not v.weak
                else f"np.asarray({a}, dtype=np.{dtype.name})")
    out = _val(v.shape, dtype, lo, hi, lip * v.lip, lip * v.err, max(abs(lo), abs(hi)) + 1)
    if v.weak and not expr.startswith(("np.", "lax.")):
        out = dataclasses.replace(out, weak=True)  # Python operators on a float: a float
    return Op(kind, expr, (out,), kinks)


# -- elementwise binary -----------------------------------------------------------------------

_BINOPS = ["add", "sub", "mul", "div", "maximum", "minimum"]
_OPERATOR = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
_FUNCTION = {"add": "np.add", "sub": "np.subtract", "mul": "np.multiply", "div": "np.divide",
             "maximum": "np.maximum", "minimum": "np.minimum"}


@dataclasses.dataclass(frozen=True)
class _Operand:
    """An operand: a value (by index) or a Python scalar, as the generator sees it."""

    src: str
    val: Val
    weak: bool  # Python scalar


def _scalar_operand(c: float | int, dtype: np.dtype | None = None) -> _Operand:
    """A Python scalar literal (its Val has the scalar's own default dtype)."""
    return _Operand(repr(c), _val((), F64 if isinstance(c, float) else np.int64, c, c, 0.0, 0.0),
                    True)


def _numpy_scalar_operand(b: _Builder) -> _Operand:
    """A NumPy scalar such as ``np.float32(0.5)``: unlike a Python scalar it has a strong dtype
    (NEP 50: ``float32 array * np.float64(2.0)`` is float64)."""
    c = float(b.choice([s for s in SCALARS if isinstance(s, float)]))
    dtype = b.choice(b.float_dtypes)
    return _Operand(f"np.{dtype.name}({c!r})", _val((), dtype, c, c, 0.0, 0.0), False)


def _operand(b: _Builder, i: int) -> _Operand:
    return _Operand(b.name(i), b.vals[i], b.vals[i].weak)


def _result_dtype(*ops: _Operand) -> np.dtype:
    """NumPy 2 (NEP 50) promotion: Python scalars are weak, but a float scalar makes an integer
    array's result float64."""
    strong = [o.val.dtype for o in ops if not o.weak]
    dtype = np.result_type(*strong) if strong else F64
    weak_float = any(o.weak and o.val.dtype.kind == "f" for o in ops)
    return F64 if weak_float and dtype.kind != "f" else dtype


def _compatible(b: _Builder, shape, limit: int | None = None) -> Callable[[Val], bool]:
    limit = b.max_size if limit is None else limit

    def pred(v: Val) -> bool:
        s = _bcast(shape, v.shape)
        return s is not None and math.prod(s) <= limit and len(s) <= MAX_RANK
    return pred


def _binary(b: _Builder) -> Op | None:
    i = b.pick()
    x = _operand(b, i)
    kind = b.choice(_BINOPS)
    if b.flag(0.25):
        y = _scalar_operand(b.scalar(), x.val.dtype)
    elif b.flag(0.1):
        y = _numpy_scalar_operand(b)
    else:
        j = b.pick(_compatible(b, x.val.shape))
        y = _operand(b, j)
    if b.flag(0.3):
        x, y = y, x
    if x.weak and y.weak:
        return None
    shape = _bcast(x.val.shape, y.val.shape)
    dtype = _result_dtype(x, y)
    X, Y = x.val, y.val
    kinks: tuple[Kink, ...] = ()
    if kind == "div":
        m = _away_from_zero(Y)
        if m >= 0.5 or (Y.lip == 0 and m > 0):  # or a constant
            expr_y, iv_y, ly = y.src, (Y.lo, Y.hi), 1.0
        elif y.weak:
            return None
        elif b.flag():
            expr_y = f"(1.0 + {y.src} * {y.src})"
            iv_y, ly, m = (1.0 + _min_sq(Y), 1.0 + Y.bound ** 2), 2 * Y.bound, 1.0
        else:
            expr_y, iv_y, ly, m = f"(2.0 + np.cos({y.src}))", (1.0, 3.0), 1.0, 1.0
        inv = (1.0 / iv_y[1], 1.0 / iv_y[0]) if iv_y[0] > 0 else (1.0 / iv_y[1], 1.0 / iv_y[0])
        lo, hi = _mul_iv((X.lo, X.hi), inv)
        la, lb = 1.0 / m, X.bound * ly / (m * m)
        rhs = expr_y
    else:
        rhs = y.src
        if kind in ("add", "sub"):
            lo, hi = (X.lo + Y.lo, X.hi + Y.hi) if kind == "add" else (X.lo - Y.hi, X.hi - Y.lo)
            la = lb = 1.0
        elif kind == "mul":
            lo, hi = _mul_iv((X.lo, X.hi), (Y.lo, Y.hi))
            la, lb = Y.bound, X.bound
        else:
            f = max if kind == "maximum" else min
            lo, hi = f(X.lo, Y.lo), f(X.hi, Y.hi)
            la = lb = 1.0
            kinks = (Kink(f"_gap({x.src}, {y.src})", X.err + Y.err, X.lip + Y.lip),)
    if kind in _OPERATOR and b.flag(0.7):
        lhs = x.src if not x.src.startswith("-") else f"({x.src})"
        rhs_ = rhs if not rhs.startswith("-") else f"({rhs})"
        expr = f"{lhs} {_OPERATOR[kind]} {rhs_}"
    else:
        expr = f"{_FUNCTION[kind]}({x.src}, {rhs})"
    bound = max(abs(lo), abs(hi))
    if kind == "div":
        dtype = _float_dtype(dtype)
    out = _val(shape, dtype, lo, hi, la * X.lip + lb * Y.lip,
               la * X.err + lb * Y.err, 4 * bound + 1)
    return Op(kind, expr, (out,), kinks)


def _where(b: _Builder) -> Op | None:
    i = b.pick()
    x = _operand(b, i)
    y = (_scalar_operand(b.scalar(), x.val.dtype) if b.flag(0.3)
         else _operand(b, b.pick(_compatible(b, x.val.shape))))
    shape = _bcast(x.val.shape, y.val.shape)
    c1 = _operand(b, b.pick(_compatible(b, shape)))
    c2 = (_scalar_operand(b.choice([0.0, 0.5, -0.3, 1.0]), c1.val.dtype) if b.flag(0.5)
          else _operand(b, b.pick(_compatible(b, _bcast(shape, c1.val.shape)))))
    shape = _bcast(shape, c1.val.shape, c2.val.shape)
    if shape is None or math.prod(shape) > b.max_size or len(shape) > MAX_RANK:
        return None
    cmp = b.choice([">", "<", ">=", "<="])
    if b.flag(0.3):
        x, y = y, x
    X, Y = x.val, y.val
    dtype = _result_dtype(x, y)
    expr = f"np.where({c1.src} {cmp} {c2.src}, {x.src}, {y.src})"
    lo, hi = min(X.lo, Y.lo), max(X.hi, Y.hi)
    kink = Kink(f"_gap({c1.src}, {c2.src})", c1.val.err + c2.val.err,
                c1.val.lip + c2.val.lip, flips_values=True)
    out = _val(shape, dtype, lo, hi, max(X.lip, Y.lip), max(X.err, Y.err))
    return Op("where", expr, (out,), (kink,))


# -- reductions -----------------------------------------------------------------------------


def _draw_axis(b: _Builder, ndim: int, allow_none=True, allow_tuple=True):
    options = ["int"] if ndim else []
    if allow_none:
        options.append("none")
    if allow_tuple and ndim >= 2:
        options.append("tuple")
    if not options:
        return "absent"
    kind = b.choice(options)
    if kind == "none":
        return None
    if kind == "int":
        ax = b.draw(st.integers(0, ndim - 1))
        return ax - ndim if b.flag(0.3) else ax
    axes = b.draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(ax - ndim if b.flag(0.2) else ax for ax in axes)


def _reduced_shape(shape, axis, keepdims) -> tuple[tuple[int, ...], int]:
    nd = len(shape)
    axes = (set(range(nd)) if axis is None else
            {(a % nd) for a in (axis if isinstance(axis, tuple) else (axis,))})
    n = math.prod(shape[d] for d in axes)
    if keepdims:
        return tuple(1 if d in axes else s for d, s in enumerate(shape)), n
    return tuple(s for d, s in enumerate(shape) if d not in axes), n


def _reduction(b: _Builder) -> Op | None:
    i = b.pick()
    v, a = b.vals[i], b.name(i)
    kind = b.choice(["sum", "mean", "max", "min"])
    axis = _draw_axis(b, v.ndim)
    keepdims = b.flag(0.3)
    ax = None if axis == "absent" else axis
    shape, n = _reduced_shape(v.shape, ax, keepdims)
    args = [] if axis == "absent" or (axis is None and b.flag()) else [f"axis={axis!r}"]
    if keepdims:
        args.append("keepdims=True")
    tail = "".join(", " + s for s in args)
    if b.flag(0.25) and v.ndim > 0:
        expr = f"{a}.{kind}({tail[2:]})"
    else:
        fn = {"max": b.choice(["max", "amax"]), "min": b.choice(["min", "amin"])}.get(kind, kind)
        expr = f"np.{fn}({a}{tail})"
    kinks: tuple[Kink, ...] = ()
    if kind == "sum":
        lo, hi, lip, err, rnd = n * v.lo, n * v.hi, n * v.lip, n * v.err, n * v.bound + 1
    elif kind == "mean":
        lo, hi, lip, err, rnd = v.lo, v.hi, v.lip, v.err, n * v.bound + 1
    else:
        lo, hi, lip, err, rnd = v.lo, v.hi, v.lip, v.err, 0.0
        kinks = (Kink(f"_sort_gap({a}, {ax!r})", 2 * v.err, 2 * v.lip),)
    dtype = {"mean": _float_dtype(v.dtype), "sum": _sum_dtype(v.dtype)}.get(kind, v.dtype)
    out = _val(shape, dtype, lo, hi, lip, err, rnd)
    return Op(kind, expr, (out,), kinks)


def _integer_valued(b: _Builder) -> Op | None:
    """int64 values: counts of a comparison, or argmax/argmin indices."""
    i = b.pick()
    v, a = b.vals[i], b.name(i)
    if b.flag():
        if v.ndim == 0:
            return None
        kind = b.choice(["argmax", "argmin"])
        axis = b.choice([None, *range(-v.ndim, v.ndim)])
        shape = () if axis is None else v.shape[:axis % v.ndim] + v.shape[axis % v.ndim + 1:]
        hi = (v.size if axis is None else v.shape[axis]) - 1
        expr = f"np.{kind}({a})" if axis is None else f"np.{kind}({a}, axis={axis})"
        kink = Kink(f"_sort_gap({a}, {axis!r})", 2 * v.err, 2 * v.lip, flips_values=True)
        return Op(kind, expr, (_val(shape, np.int64, 0, hi, 0.0, 0.0),), (kink,))
    j = b.pick(_compatible(b, v.shape))
    c2 = (_scalar_operand(b.choice([0.0, 0.5, -0.3]), v.dtype) if b.flag(0.4)
          else _operand(b, j))
    full = _bcast(v.shape, c2.val.shape)
    if full is None:
        return None
    cmp = b.choice([">", "<"])
    axis = _draw_axis(b, len(full))
    ax = None if axis == "absent" else axis
    shape, n = _reduced_shape(full, ax, False)
    tail = "" if axis in ("absent", None) else f", axis={axis!r}"
    expr = f"np.sum({a} {cmp} {c2.src}{tail})"
    kink = Kink(f"_gap({a}, {c2.src})", v.err + c2.val.err, v.lip + c2.val.lip,
                flips_values=True)
    return Op("count", expr, (_val(shape, np.int64, 0, n, 0.0, 0.0),), (kink,))


def _cumulative(b: _Builder) -> Op | None:
    i = b.pick()
    v, a = b.vals[i], b.name(i)
    kind = b.choice(["cumsum", "sort"])
    if v.ndim == 0:
        axis = None
    else:
        axis = b.choice([None, -1, *range(v.ndim)]) if v.ndim else None
    if kind == "cumsum":
        n = v.size if axis is None else v.shape[axis]
        shape = (v.size,) if axis is None else v.shape
        expr = f"np.cumsum({a})" if axis is None else f"np.cumsum({a}, axis={axis})"
        lo, hi = n * min(v.lo, 0.0), n * max(v.hi, 0.0)
        out = _val(shape, _sum_dtype(v.dtype), lo, hi, n * v.lip, n * v.err, n * v.bound + 1)
        return Op(kind, expr, (out,))
    shape = (v.size,) if axis is None else v.shape
    expr = (f"np.sort({a}, axis=None)" if axis is None else
            f"np.sort({a})" if axis == -1 and b.flag() else f"np.sort({a}, axis={axis})")
    out = _val(shape, v.dtype, v.lo, v.hi, v.lip, v.err)
    kink = Kink(f"_sort_gap({a}, {axis!r})", 2 * v.err, 2 * v.lip)
    return Op(kind, expr, (out,), (kink,))


# -- indexing -------------------------------------------------------------------------------


def _basic_index(b: _Builder, shape) -> list[str]:
    """Index items (as source) for basic indexing of ``shape``: ints, slices, None, ..."""
    items: list[str] = []
    for d in shape:
        kind = b.choice(["full", "slice", "int", "slice", "full"])
        if kind == "full":
            items.append(":")
        elif kind == "int":
            k = b.draw(st.integers(-d, d - 1))
            items.append(str(k))
        else:
            start = b.choice([None, 0, 1, -1, -2, d - 1])
            stop = b.choice([None, d, -1, 2, 1])
            step = b.choice([None, None, 1, 2, -1, -2])
            items.append(":".join("" if p is None else str(p) for p in (start, stop))
                         + ("" if step is None else f":{step}"))
    if b.flag(0.15):
        items.insert(b.draw(st.integers(0, len(items))), "None")
    if len(items) >= 2 and b.flag(0.15):
        # an ellipsis standing for a run of trailing full slices
        k = b.draw(st.integers(0, len(items) - 1))
        items = items[:k] + ["..."] if all(s == ":" for s in items[k:]) else items
    while items and items[-1] == ":" and b.flag(0.5):
        items.pop()
    return items


def _int_array_src(b: _Builder, idx: list[int], shape2: bool) -> str:
    if shape2 and len(idx) % 2 == 0:
        arr = np.array(idx).reshape(2, -1).tolist()
        return f"np.array({arr})"
    return f"np.array({idx})" if b.flag(0.7) else repr(idx)


def _array_index(b: _Builder, shape, unique: bool = False) -> list[str]:
    """Index items mixing integer arrays (1-2 of them, broadcast together) and slices."""
    nd = len(shape)
    n_arrays = 1 if nd == 1 or b.flag(0.7) else 2
    axes = sorted(b.draw(st.lists(st.integers(0, nd - 1), min_size=n_arrays,
                                  max_size=n_arrays, unique=True)))
    length = b.draw(st.integers(1, 4))
    shape2 = n_arrays == 1 and b.flag(0.2)
    items = [":"] * nd
    for ax in axes:
        d = shape[ax]
        if unique:
            if length > d:
                length = d
            idx = b.draw(st.permutations(list(range(d))))[:length]
        else:
            idx = [b.draw(st.integers(0, d - 1)) for _ in range(length)]
        idx = [k - d if b.flag(0.2) else k for k in idx]
        if n_arrays == 1 and not shape2 and b.flag(0.15):
            # a static boolean mask selecting the same entries (in order, without repeats)
            keep = set(k % d for k in idx)
            items[ax] = f"onp.array({[k in keep for k in range(d)]})"
        else:
            items[ax] = _int_array_src(b, idx, shape2)
    # integer scalars next to arrays also count as advanced indices (NumPy's placement rule)
    for ax in range(nd):
        if items[ax] == ":" and b.flag(0.2):
            items[ax] = str(b.draw(st.integers(-shape[ax], shape[ax] - 1)))
    while items and items[-1] == ":":
        items.pop()
    if len(items) == nd >= 2 and items[0] == ":" and b.flag(0.3):
        # ``...`` for the leading full slices (it expands to exactly those when the index
        # reaches the last axis)
        k = next(k for k, it in enumerate(items) if it != ":")
        items = ["..."] + items[k:]
    return items


def _index_src(items: list[str]) -> str:
    if not items:
        return "..."
    return ", ".join(items)


def _eval_index(items: list[str]):
    src = _index_src(items)
    return eval(f"_I[{src}]", {"np": np, "onp": np, "_I": _IndexGrabber()})  # noqa: S307


class _IndexGrabber:
    def __getitem__(self, idx):
        return idx


def _indexed_shape(shape, items) -> tuple[int, ...] | None:
    try:
        return np.empty(shape)[_eval_index(items)].shape
    except (IndexError, ValueError):
        return None


def _traced_index(b: _Builder, shape) -> list[str] | None:
    """Index items with one computed integer array (``w % d``) on one axis, or None."""
    j = b.pick(lambda w: w.dtype.kind == "i" and w.ndim <= 2, optional=True)
    if j is None:
        return None
    ax = b.draw(st.integers(0, len(shape) - 1))
    items = [":"] * ax + [f"{b.name(j)} % {shape[ax]}"]
    return items


def _traced_shape(b: _Builder, shape, items) -> tuple[int, ...] | None:
    """The shape ``items`` index, with computed index arrays stood for by zeros."""
    concrete = []
    for s in items:
        if "%" in s:
            name = s.split(" %")[0]
            k = next(k for k in range(len(b.vals)) if b.name(k) == name)
            s = f"np.zeros({b.vals[k].shape!r}, np.int64)"
        concrete.append(s)
    return _indexed_shape(shape, concrete)


def _getitem(b: _Builder) -> Op | None:
    i = b.pick(lambda v: v.ndim >= 1)
    v, a = b.vals[i], b.name(i)
    if b.flag(0.2):
        items = _traced_index(b, v.shape)
        if items is None:
            return None
        shape = _traced_shape(b, v.shape, items)
        if shape is None:
            return None
        out = _val(shape, v.dtype, v.lo, v.hi, v.lip, v.err)
        # not ``a[idx]``: under vmap ``a`` may be a plain NumPy array (computed from unbatched
        # inputs only), and NumPy arrays cannot be indexed by tracers (tests/test_regressions.py)
        expr = f"np.take({a}, {items[-1]}, axis={len(items) - 1})"
        return Op("take_traced", expr, (out,))
    items = _array_index(b, v.shape) if b.flag(0.4) else _basic_index(b, v.shape)
    shape = _indexed_shape(v.shape, items)
    if shape is None:
        return None
    out = _val(shape, v.dtype, v.lo, v.hi, v.lip, v.err)
    return Op("getitem", f"{a}[{_index_src(items)}]", (out,))


def _at_update(b: _Builder) -> Op | None:
    i = b.pick(lambda v: v.ndim >= 1 and is_float(v))
    v, a = b.vals[i], b.name(i)
    kind = b.choice(["add", "set", "add", "set", "multiply", "min", "max", "get"])
    traced = None
    if b.flag(0.2):
        # computed indices may repeat: ``set`` is not deterministic then
        kind = kind if kind != "set" else "add"
        traced = _traced_index(b, v.shape)
        if traced is None:
            return None
        items = traced
        target = _traced_shape(b, v.shape, items)
    else:
        items = (_array_index(b, v.shape, unique=(kind == "set")) if b.flag(0.5)
                 else _basic_index(b, v.shape))
        items = [s for s in items if s != "None"]
        target = _indexed_shape(v.shape, items)
    if target is None or math.prod(target) == 0:
        return None
    index = _index_src(items)
    if kind == "get":
        return Op("at_get", f"at({a})[{index}].get()", (_like(v, target),))
    # how often one element can be hit (repeated integer indices accumulate for add)
    hits = math.prod(target) if traced else _max_hits(v.shape, items)
    if b.flag(0.3):
        u = _scalar_operand(b.scalar(), v.dtype)
    else:
        j = b.pick(lambda w: w.dtype == v.dtype and strong(w)
                   and _bcast(w.shape, target) == tuple(target))
        u = _operand(b, j)
    U = u.val
    kinks: tuple[Kink, ...] = ()
    if kind == "add":
        lo, hi = v.lo + hits * min(U.lo, 0.0), v.hi + hits * max(U.hi, 0.0)
        lip, err, rnd = v.lip + hits * U.lip, v.err + hits * U.err, hits * (U.bound + v.bound)
    elif kind == "multiply":
        if U.bound > 2.0 or hits > 4:
            return None
        grow = max(1.0, U.bound) ** hits
        lo, hi = -v.bound * grow, v.bound * grow
        lip = (v.lip + hits * U.lip * v.bound) * grow
        err, rnd = (v.err + hits * U.err * v.bound) * grow, 2 * hits * v.bound * grow
    else:
        lo, hi = min(v.lo, U.lo), max(v.hi, U.hi)
        lip, err, rnd = max(v.lip, U.lip), max(v.err, U.err), 0.0
        if kind in ("min", "max"):
            # a tie between an entry and its update is a kink
            kinks = (Kink(f"_gap({a}[{index}], {u.src})", v.err + U.err, v.lip + U.lip),)
    out = _val(v.shape, v.dtype, lo, hi, lip, err, rnd)
    return Op(f"at_{kind}", f"at({a})[{index}].{kind}({u.src})", (out,), kinks)


def _max_hits(shape, items) -> int:
    counts = np.zeros(shape, np.int64)
    np.add.at(counts, _eval_index(items), 1)
    return int(counts.max())


# -- shapes ---------------------------------------------------------------------------------


def _factor_shape(b: _Builder, size: int, rank: int) -> tuple[int, ...]:
    dims, rest = [], size
    for _ in range(rank - 1):
        divisors = [d for d in range(1, rest + 1) if rest % d == 0]
        d = b.choice(divisors)
        dims.append(d)
        rest //= d
    if rank:
        dims.append(rest)
    return tuple(dims)


def _reshape(b: _Builder) -> Op | None:
    i = b.pick()
    v, a = b.vals[i], b.name(i)
    rank = b.draw(st.integers(0 if v.size == 1 else 1, 3))
    shape = _factor_shape(b, v.size, rank)
    dims = list(shape)
    if dims and b.flag(0.3):
        dims[b.draw(st.integers(0, len(dims) - 1))] = -1
    style = "np" if v.weak else b.choice(["np", "method", "method_tuple"])
    if style == "np":
        expr = f"np.reshape({a}, {tuple(dims)!r})"
    elif style == "method" and dims:
        expr = f"{a}.reshape({', '.join(map(str, dims))})"
    else:
        expr = f"{a}.reshape({tuple(dims)!r})"
    return Op("reshape", expr, (_val(shape, v.dtype, v.lo, v.hi, v.lip, v.err),))


def _shape_op(b: _Builder) -> Op | None:
    i = b.pick()
    v, a = b.vals[i], b.name(i)
    kind = b.choice(["transpose", "expand_dims", "squeeze", "swapaxes", "flip", "broadcast_to"])
    nd = v.ndim
    if kind == "transpose":
        if nd < 2:
            return None
        perm = tuple(b.draw(st.permutations(list(range(nd)))))
        style = b.choice(["perm", "T", "default"])
        if style == "T":
            expr, perm = f"{a}.T", tuple(range(nd))[::-1]
        elif style == "default":
            expr, perm = f"np.transpose({a})", tuple(range(nd))[::-1]
        else:
            expr = f"np.transpose({a}, {perm!r})"
        shape = tuple(v.shape[p] for p in perm)
    elif kind == "expand_dims":
        if nd >= MAX_RANK:
            return None
        ax = b.draw(st.integers(-(nd + 1), nd))
        expr = f"np.expand_dims({a}, {ax})"
        shape = np.expand_dims(np.empty(v.shape), ax).shape
    elif kind == "squeeze":
        ones = [d for d, s in enumerate(v.shape) if s == 1]
        if not ones:
            return None
        if b.flag():
            expr, shape = f"np.squeeze({a})", tuple(s for s in v.shape if s != 1)
        else:
            ax = b.choice(ones)
            expr = f"np.squeeze({a}, axis={ax})"
            shape = v.shape[:ax] + v.shape[ax + 1:]
    elif kind == "swapaxes":
        if nd < 2:
            return None
        a1, a2 = b.draw(st.integers(-nd, nd - 1)), b.draw(st.integers(-nd, nd - 1))
        expr = f"np.swapaxes({a}, {a1}, {a2})"
        shape = np.swapaxes(np.empty(v.shape), a1, a2).shape
    elif kind == "flip":
        if nd < 1:
            return None
        ax = b.choice([None, *range(-nd, nd)])
        expr = f"np.flip({a})" if ax is None else f"np.flip({a}, {ax})"
        shape = v.shape
    else:
        lead = b.draw(st.lists(st.integers(1, 3), max_size=max(0, min(2, MAX_RANK - nd))))
        tail = [s if s != 1 else b.draw(st.integers(1, 3)) for s in v.shape]
        shape = tuple(lead) + tuple(tail)
        if shape == v.shape:
            return None
        expr = f"np.broadcast_to({a}, {shape!r})"
    return Op(kind, expr, (_val(shape, v.dtype, v.lo, v.hi, v.lip, v.err),))


def _join(b: _Builder) -> Op | None:
    i = b.pick(lambda v: v.ndim >= 1)
    v = b.vals[i]
    kind = b.choice(["concatenate", "stack"])
    nd = v.ndim
    if kind == "concatenate":
        ax = b.draw(st.integers(-nd, nd - 1))
        axp = ax % nd

        def fits(w: Val) -> bool:
            return (w.ndim == nd and all(w.shape[d] == v.shape[d] for d in range(nd)
                                         if d != axp))
    else:
        ax = b.draw(st.integers(-(nd + 1), nd))

        def fits(w: Val) -> bool:
            return w.shape == v.shape
    n_more = b.draw(st.integers(1, 2))
    idx = [i] + [b.pick(fits) for _ in range(n_more)]
    vals = [b.vals[k] for k in idx]
    names = [b.name(k) for k in idx]
    if b.flag(0.3):
        names.reverse()
        vals.reverse()
    dtype = np.result_type(*[w.dtype for w in vals])
    if kind == "concatenate":
        shape = list(v.shape)
        shape[axp] = sum(w.shape[axp] for w in vals)
        axis_src = "" if ax == 0 and b.flag() else f", axis={ax}"
        expr = f"np.concatenate([{', '.join(names)}]{axis_src})"
    else:
        shape = list(np.stack([np.empty(v.shape)] * len(vals), axis=ax).shape)
        axis_src = "" if ax == 0 and b.flag() else f", axis={ax}"
        expr = f"np.stack([{', '.join(names)}]{axis_src})"
    out = _val(shape, dtype, min(w.lo for w in vals), max(w.hi for w in vals),
               max(w.lip for w in vals), max(w.err for w in vals))
    return Op(kind, expr, (out,))


# -- contractions ---------------------------------------------------------------------------


def _matmul_shape(sa, sb) -> tuple[tuple[int, ...], int] | None:
    """NumPy matmul result shape and contracted length, or None."""
    if not sa or not sb:
        return None
    a2 = (1,) + tuple(sa) if len(sa) == 1 else tuple(sa)
    b2 = tuple(sb) + (1,) if len(sb) == 1 else tuple(sb)
    if a2[-1] != b2[-2]:
        return None
    batch = _bcast(a2[:-2], b2[:-2])
    if batch is None:
        return None
    shape = batch + ((a2[-2],) if len(sa) > 1 else ()) + ((b2[-1],) if len(sb) > 1 else ())
    return shape, a2[-1]


def _contract_val(shape, dtype, K, A: Val, B: Val) -> Val:
    bound = K * A.bound * B.bound
    return _val(shape, dtype, -bound, bound, K * (A.lip * B.bound + B.lip * A.bound),
                K * (A.err * B.bound + B.err * A.bound), 2 * K * A.bound * B.bound + 1)


def _matmul(b: _Builder) -> Op | None:
    i = b.pick(lambda v: v.ndim >= 1)
    A, a = b.vals[i], b.name(i)
    # candidates: values and swapped views of values that multiply A on the right
    cands = []
    for j, w in enumerate(b.vals):
        for swap in (False, True):
            if swap and w.ndim < 2:
                continue
            ws = w.shape[:-2] + (w.shape[-1], w.shape[-2]) if swap else w.shape
            got = _matmul_shape(A.shape, ws)
            if got is not None and math.prod(got[0]) <= b.max_size and len(got[0]) <= MAX_RANK:
                cands.append((j, swap, got))
    if not cands:
        return None
    j, swap, (shape, K) = b.choice(cands)
    B, bn = b.vals[j], b.name(j)
    rhs = (f"np.swapaxes({bn}, -1, -2)" if b.flag() or B.ndim > 2 else f"{bn}.T") if swap \
        else bn
    if A.ndim <= 2 and B.ndim <= 2 and b.flag(0.3):
        expr = f"np.dot({a}, {rhs})"
    else:
        expr = b.choice([f"{a} @ {rhs}", f"np.matmul({a}, {rhs})"])
    dtype = np.result_type(A.dtype, B.dtype)
    return Op("matmul", expr, (_contract_val(shape, dtype, K, A, B),))


_LETTERS = "abcdefgh"


def _einsum(b: _Builder) -> Op | None:
    i = b.pick(strong)
    A, a = b.vals[i], b.name(i)
    letters = iter(_LETTERS)
    dims: dict[str, int] = {}
    sub_a = []
    for d in A.shape:
        # occasionally a repeated letter (a diagonal) when dims match
        same = [c for c in sub_a if dims[c] == d and c not in sub_a[:-1] and sub_a.count(c) == 1]
        if same and b.flag(0.1):
            sub_a.append(b.choice(same))
            continue
        c = next(letters)
        dims[c] = d
        sub_a.append(c)
    operands, subs, vals = [a], ["".join(sub_a)], [A]
    if b.flag(0.75):
        j = b.pick(strong)
        B = b.vals[j]
        sub_b = []
        for d in B.shape:
            reuse = [c for c in dict.fromkeys(sub_a) if dims[c] == d and c not in sub_b]
            if reuse and b.flag(0.6):
                sub_b.append(b.choice(reuse))
            else:
                c = next(letters)
                dims[c] = d
                sub_b.append(c)
        operands.append(b.name(j))
        subs.append("".join(sub_b))
        vals.append(B)
    used = list(dict.fromkeys("".join(subs)))
    out = [c for c in used if b.flag(0.6)]
    out = list(b.draw(st.permutations(out))) if out else []
    shape = tuple(dims[c] for c in out)
    K = math.prod(dims[c] for c in used if c not in out)
    if math.prod(shape) > b.max_size:
        return None
    spec = ",".join(subs) + "->" + "".join(out)
    expr = f"np.einsum({spec!r}, {', '.join(operands)})"
    dtype = np.result_type(*[v.dtype for v in vals])
    if len(vals) == 1:
        unit = _val((), A.dtype, 1.0, 1.0, 0.0, 0.0)
        return Op("einsum", expr, (_contract_val(shape, dtype, K, A, unit),))
    return Op("einsum", expr, (_contract_val(shape, dtype, K, vals[0], vals[1]),))


# -- more NumPy functions -------------------------------------------------------------------


def _axis_of(b: _Builder, v: Val, min_len: int = 1) -> int | None:
    """An axis of ``v`` of length >= ``min_len`` (maybe negative), or None if there is none."""
    axes = [d for d in range(v.ndim) if v.shape[d] >= min_len]
    if not axes:
        return None
    ax = b.choice(axes)
    return ax - v.ndim if b.flag(0.3) else ax


def _like(v: Val, shape=None, **changes) -> Val:
    return dataclasses.replace(v, shape=tuple(v.shape if shape is None else shape), **changes)


def _float_val(b: _Builder, pred=lambda v: True) -> tuple[Val, str]:
    i = b.pick(lambda v: is_float(v) and pred(v))
    return b.vals[i], b.name(i)


def _var_std(b: _Builder) -> Op | None:
    v, a = _float_val(b, lambda v: v.ndim >= 1 and max(v.shape) >= 2)
    ax = _axis_of(b, v, 2)
    kind = b.choice(["var", "std"])
    keep = b.flag(0.3)
    shape, n = _reduced_shape(v.shape, ax, keep)
    expr = f"np.{kind}({a}, axis={ax}" + (", keepdims=True)" if keep else ")")
    width = v.hi - v.lo
    var_err = 2 * width * v.err + _eps(v.dtype) * 4 * n * width * width
    if kind == "var":
        out = _val(shape, v.dtype, 0.0, width * width / 4, 2 * width * v.lip, 2 * width * v.err,
                   4 * n * width * width + 1)
        return Op(kind, expr, (out,))
    # std is 1-Lipschitz (max norm) but sqrt magnifies rounding near zero variance: skip there
    out = _val(shape, v.dtype, 0.0, width / 2, v.lip, v.err, 4 * n * width + 1)
    kink = Kink(f"np.min(np.var({a}, axis={ax}))", var_err, 2 * width * v.lip + 1.0,
                flips_values=True)
    return Op(kind, expr, (out,), (kink,))


def _prod(b: _Builder) -> Op | None:
    v, a = _float_val(b, lambda v: v.ndim >= 1)
    kind = b.choice(["prod", "cumprod"])
    ax = _axis_of(b, v) if b.flag(0.8) else None
    n = v.size if ax is None else v.shape[ax]
    B = max(v.bound, 1.0)
    if B ** n > MAX_BOUND:
        return None
    if kind == "prod":
        shape, _ = _reduced_shape(v.shape, ax, False)
    else:
        shape = v.shape if ax is not None else (v.size,)
    tail = "" if ax is None else f", axis={ax}"
    lo, hi = (-(B ** n), B ** n) if v.lo < 0 else (min(v.lo, 1.0) ** n, v.hi ** n)
    grow = n * B ** (n - 1)
    out = _val(shape, v.dtype, lo, hi, grow * v.lip, grow * v.err, 2 * n * B ** n + 1)
    return Op(kind, f"np.{kind}({a}{tail})", (out,))


def _clip(b: _Builder) -> Op | None:
    v, a = _float_val(b)
    lo_c, hi_c = sorted(b.draw(st.lists(st.sampled_from([-1.0, -0.5, 0.0, 0.5, 1.0, 2.0]),
                                        min_size=2, max_size=2, unique=True)))
    which = b.choice(["both", "both", "lo", "hi"])
    lo_s = repr(lo_c) if which != "hi" else "None"
    hi_s = repr(hi_c) if which != "lo" else "None"
    lo = max(v.lo, lo_c) if which != "hi" else v.lo
    hi = min(v.hi, hi_c) if which != "lo" else v.hi
    lo, hi = min(lo, hi), max(lo, hi)
    gaps = [f"_gap({a}, {c!r})" for c, w in ((lo_c, "hi"), (hi_c, "lo")) if which != w]
    kink = Kink(f"min({', '.join(gaps)})" if len(gaps) > 1 else gaps[0], v.err, v.lip)
    out = _like(v, lo=lo, hi=hi)
    return Op("clip", f"np.clip({a}, {lo_s}, {hi_s})", (out,), (kink,))


def _rearrange(b: _Builder) -> Op | None:
    """roll, tile, repeat, pad, diff, triu/tril, trace, diagonal, moveaxis."""
    i = b.pick(lambda v: v.ndim >= 1)
    v, a = b.vals[i], b.name(i)
    kind = b.choice(["roll", "tile", "repeat", "pad", "diff", "tri", "trace", "diagonal",
                     "moveaxis"])
    nd = v.ndim
    if kind == "roll":
        shift = b.draw(st.integers(-3, 3))
        ax = _axis_of(b, v) if b.flag(0.8) else None
        expr = f"np.roll({a}, {shift})" if ax is None else f"np.roll({a}, {shift}, axis={ax})"
        return Op(kind, expr, (v,))
    if kind == "tile":
        reps = tuple(b.draw(st.lists(st.integers(1, 2), min_size=1, max_size=2)))
        shape = np.tile(np.empty(v.shape), reps).shape
        return Op(kind, f"np.tile({a}, {reps!r})", (_like(v, shape),))
    if kind == "repeat":
        k = b.draw(st.integers(1, 3))
        ax = _axis_of(b, v) if b.flag(0.8) else None
        tail = "" if ax is None else f", axis={ax}"
        shape = np.repeat(np.empty(v.shape), k, axis=ax).shape
        return Op(kind, f"np.repeat({a}, {k}{tail})", (_like(v, shape),))
    if kind == "pad":
        if b.flag(0.3):
            w = b.draw(st.integers(0, 1))
            expr, widths = f"np.pad({a}, {w})", [(w, w)] * nd
        else:
            widths = [(b.draw(st.integers(0, 1)), b.draw(st.integers(0, 1))) for _ in range(nd)]
            expr = f"np.pad({a}, {tuple(widths)!r})"
        shape = tuple(d + lo + hi for d, (lo, hi) in zip(v.shape, widths))
        return Op(kind, expr, (_like(v, shape, lo=min(v.lo, 0.0), hi=max(v.hi, 0.0)),))
    if kind == "diff":
        ax = _axis_of(b, v, 2)
        if ax is None:
            return None
        shape = list(v.shape)
        shape[ax] -= 1
        out = _val(shape, v.dtype, v.lo - v.hi, v.hi - v.lo, 2 * v.lip, 2 * v.err,
                   2 * v.bound + 1)
        return Op(kind, f"np.diff({a}, axis={ax})", (out,))
    if nd < 2:
        return None
    if kind == "tri":
        fn, k = b.choice(["triu", "tril"]), b.choice([-1, 0, 1])
        expr = f"np.{fn}({a})" if k == 0 else f"np.{fn}({a}, {k})"
        return Op(kind, expr, (_like(v, lo=min(v.lo, 0.0), hi=max(v.hi, 0.0)),))
    if kind in ("trace", "diagonal"):
        a1, a2 = b.draw(st.permutations(list(range(nd))))[:2]
        off = b.choice([0, 0, 1, -1])
        ref = np.empty(v.shape)
        if kind == "trace":
            shape = np.trace(ref, off, a1, a2).shape
            n = np.diagonal(ref, off, a1, a2).shape[-1]  # entries summed
            out = _val(shape, _sum_dtype(v.dtype), n * min(v.lo, 0.0), n * max(v.hi, 0.0),
                       n * v.lip, n * v.err, n * v.bound + 1)
        else:
            shape = np.diagonal(ref, off, a1, a2).shape
            out = _like(v, shape)
        if math.prod(shape) == 0 or (kind == "diagonal" and not shape[-1]):
            return None
        return Op(kind, f"np.{kind}({a}, {off}, {a1}, {a2})", (out,))
    src = b.draw(st.integers(-nd, nd - 1))
    dst = b.draw(st.integers(-nd, nd - 1))
    shape = np.moveaxis(np.empty(v.shape), src, dst).shape
    return Op(kind, f"np.moveaxis({a}, {src}, {dst})", (_like(v, shape),))


def _split(b: _Builder) -> Op | None:
    i = b.pick(lambda v: v.ndim >= 1 and max(v.shape) >= 2)
    v, a = b.vals[i], b.name(i)
    ax = _axis_of(b, v, 2)
    d = v.shape[ax]
    if b.flag() and d % 2 == 0:
        k, fn = 2, "split"
    else:
        k, fn = b.draw(st.integers(2, min(3, d))), "array_split"
    parts = np.array_split(np.empty(v.shape), k, axis=ax)
    outs = tuple(_like(v, p.shape) for p in parts)
    return Op(fn, f"np.{fn}({a}, {k}, axis={ax})", outs)


def _products(b: _Builder) -> Op | None:
    """outer and tensordot."""
    i = b.pick(strong)
    A, a = b.vals[i], b.name(i)
    if b.flag(0.4):
        j = b.pick(lambda w: w.size * A.size <= b.max_size and strong(w))
        B = b.vals[j]
        shape = (A.size, B.size)
        return Op("outer", f"np.outer({a}, {b.name(j)})",
                  (_contract_val(shape, np.result_type(A.dtype, B.dtype), 1, A, B),))
    k = b.draw(st.integers(0, min(2, A.ndim)))
    tail = A.shape[A.ndim - k:]
    j = b.pick(lambda w: w.shape[:k] == tail and w.ndim >= k and strong(w)
               and A.size // max(math.prod(tail), 1) * (w.size // max(math.prod(tail), 1))
               <= b.max_size and A.ndim + w.ndim - 2 * k <= MAX_RANK)
    B = b.vals[j]
    shape = A.shape[:A.ndim - k] + B.shape[k:]
    K = math.prod(tail)
    axes = f", axes={k}" if k != 2 or b.flag() else ""
    return Op("tensordot", f"np.tensordot({a}, {b.name(j)}{axes})",
              (_contract_val(shape, np.result_type(A.dtype, B.dtype), K, A, B),))


def _normalizers(b: _Builder) -> Op | None:
    """softmax, logsumexp (the max-subtraction idiom) and vector norms."""
    v, a = _float_val(b, lambda v: v.ndim >= 1)
    ax = _axis_of(b, v)
    n = v.shape[ax]
    kind = b.choice(["softmax", "logsumexp", "norm"])
    if kind == "softmax":
        m = f"np.max({a}, axis={ax}, keepdims=True)"
        e = f"np.exp({a} - {m})"
        expr = f"{e} / np.sum({e}, axis={ax}, keepdims=True)"
        out = _val(v.shape, v.dtype, 0.0, 1.0, 2 * v.lip, 2 * v.err, 8 * n + 8)
        return Op(kind, expr, (out,))
    if kind == "logsumexp":
        keep = b.flag(0.3)
        m = f"np.max({a}, axis={ax}, keepdims=True)"
        s_ = f"np.log(np.sum(np.exp({a} - {m}), axis={ax}, keepdims=True))"
        expr = f"{m} + {s_}" if keep else f"np.squeeze({m} + {s_}, axis={ax})"
        shape, _ = _reduced_shape(v.shape, ax, keep)
        out = _val(shape, v.dtype, v.lo, v.hi + math.log(n), v.lip, v.err,
                   8 * n + 4 * v.bound + 8)
        return Op(kind, expr, (out,))
    keep = b.flag(0.2)
    expr = f"np.linalg.norm({a}, axis={ax}" + (", keepdims=True)" if keep else ")")
    shape, _ = _reduced_shape(v.shape, ax, keep)
    root = math.sqrt(n)
    out = _val(shape, v.dtype, 0.0, root * v.bound, root * v.lip, root * v.err,
               4 * n * v.bound + 1)
    # the norm has a kink (and sqrt a rounding blow-up) at 0
    kink = Kink(f"np.min(np.sum({a} * {a}, axis={ax}))",
                2 * n * v.bound * v.err + _eps(v.dtype) * 4 * n * v.bound ** 2,
                2 * n * v.bound * v.lip + 1.0, flips_values=True)
    return Op(kind, expr, (out,), (kink,))


def _sort_by(b: _Builder) -> Op | None:
    """``take_along_axis(a, argsort(key))``: reorder ``a`` by a (stable) sort of ``key``."""
    i = b.pick(lambda v: v.ndim >= 1)
    v, a = b.vals[i], b.name(i)
    k = b.pick(lambda w: w.shape == v.shape)
    K, key = b.vals[k], b.name(k)
    ax = _axis_of(b, v)
    stable = b.choice(['kind="stable"', "stable=True"])
    expr = f"np.take_along_axis({a}, np.argsort({key}, axis={ax}, {stable}), axis={ax})"
    kink = Kink(f"_sort_gap({key}, {ax})", 2 * K.err, 2 * K.lip, flips_values=True)
    return Op("sort_by", expr, (v,), (kink,))


def _binary_functions(b: _Builder) -> Op | None:
    """arctan2 (right half-plane, away from its branch cut) and hypot."""
    i = b.pick(strong_float)
    X, x = b.vals[i], b.name(i)
    if b.flag():
        j = b.pick(lambda w: strong_float(w) and w.lo >= 0.5 and _compatible(b, X.shape)(w))
        Y = b.vals[j]
        m = Y.lo
        shape = _bcast(X.shape, Y.shape)
        out = _val(shape, np.result_type(X.dtype, Y.dtype), -math.pi / 2, math.pi / 2,
                   (X.lip + Y.lip) / m, (X.err + Y.err) / m, 4)
        return Op("arctan2", f"np.arctan2({x}, {b.name(j)})", (out,))
    j = b.pick(lambda w: strong_float(w) and _compatible(b, X.shape)(w))
    Y, y = b.vals[j], b.name(j)
    shape = _bcast(X.shape, Y.shape)
    bound = math.hypot(X.bound, Y.bound)
    kink = Kink(f"np.min(np.hypot({x}, {y}))", X.err + Y.err, X.lip + Y.lip)
    out = _val(shape, np.result_type(X.dtype, Y.dtype), 0.0, bound, X.lip + Y.lip,
               X.err + Y.err, 4 * bound + 1)
    return Op("hypot", f"np.hypot({x}, {y})", (out,), (kink,))


def _creation(b: _Builder) -> Op | None:
    """Constants built inside the program: arange, linspace, eye, ones_like, full_like."""
    i = b.pick(lambda v: v.ndim >= 1)
    v, a = b.vals[i], b.name(i)
    d = v.shape[-1]
    kind = b.choice(["arange", "linspace", "eye", "ones_like", "full_like"])
    # default dtypes (int64 for arange, else float64) promote float32 values; in float32-only
    # programs (or sometimes anyway) ask for the value's dtype
    own = F64 not in b.float_dtypes or (is_float(v) and b.flag(0.3))
    kw = f", dtype=np.{v.dtype.name}" if own else ""
    if kind == "arange":
        lo, hi = _mul_iv((v.lo, v.hi), (0.0, d - 1.0))
        dtype = v.dtype if own else np.result_type(v.dtype, np.int64)
        out = _val(v.shape, dtype, lo, hi, (d - 1) * v.lip, (d - 1) * v.err,
                   2 * max(abs(lo), abs(hi)) + 1)
        return Op(kind, f"{a} * np.arange({d}{kw})", (out,))
    if kind == "linspace":
        dtype = v.dtype if own else np.result_type(v.dtype, F64)
        out = _val(v.shape, dtype, v.lo, v.hi + 1.0, v.lip, v.err, 2 * v.bound + 4)
        return Op(kind, f"{a} + np.linspace(0.0, 1.0, {d}{kw})", (out,))
    if kind == "eye":
        d0 = v.shape[-2] if v.ndim >= 2 else v.shape[0]
        shape = _matmul_shape((d0, d0), v.shape)
        if shape is None:
            return None
        out = _like(v, shape[0], dtype=v.dtype if own else np.result_type(v.dtype, F64))
        return Op(kind, f"np.eye({d0}{kw}) @ {a}", (out,))
    if not is_float(v):
        return None  # ones_like(ints) * 2.0 promotes; full_like(ints, 0.5) truncates
    if kind == "ones_like":
        out = _val(v.shape, v.dtype, 2.0 - v.hi, 2.0 - v.lo, v.lip, v.err, 4 * v.bound + 4)
        return Op(kind, f"np.ones_like({a}) * 2.0 - {a}", (out,))
    out = _val(v.shape, v.dtype, *sorted((0.5 * v.lo, 0.5 * v.hi)), 0.5 * v.lip, 0.5 * v.err,
               v.bound + 1)
    return Op(kind, f"np.full_like({a}, 0.5) * {a}", (out,))


_MISC = {"var_std": _var_std, "prod": _prod, "clip": _clip, "rearrange": _rearrange,
         "split": _split, "products": _products, "normalizers": _normalizers,
         "sort_by": _sort_by, "binary_functions": _binary_functions, "creation": _creation}


def _misc(b: _Builder) -> Op | None:
    return _MISC[b.choice(sorted(_MISC))](b)


# -- control flow ---------------------------------------------------------------------------

_SMOOTH = {"sin": ("np.sin({})", 1.0), "cos": ("np.cos({})", 1.0), "tanh": ("np.tanh({})", 1.0)}


def _smooth(b: _Builder, x: str) -> str:
    return _SMOOTH[b.choice(sorted(_SMOOTH))][0].format(x)


def _closure(b: _Builder, shape, dtype) -> int | None:
    """A value a loop body or branch can close over without changing ``shape``/``dtype``."""
    return b.pick(lambda w: _bcast(w.shape, shape) == tuple(shape) and strong(w)
                  and np.result_type(w.dtype, dtype) == dtype, optional=True)


def _cond(b: _Builder) -> Op | None:
    p = b.pick()
    P = b.vals[p]
    i = b.pick(strong)
    A = b.vals[i]
    j = b.pick(lambda w: strong(w) and _compatible(b, A.shape)(w))
    B = b.vals[j]
    shape = _bcast(A.shape, B.shape)
    dtype = np.result_type(_float_dtype(A.dtype), _float_dtype(B.dtype))
    thr = b.choice([0.0, 0.5, -1.0])
    s1, s2 = b.scalar(), b.scalar()
    true = f"lambda a, b: {_smooth(b, 'a')} * b + {s1!r}"
    false = f"lambda a, b: a - {s2!r} * {_smooth(b, 'b')}"
    lo = min(-B.bound - abs(s1), A.lo - abs(s2))
    hi = max(B.bound + abs(s1), A.hi + abs(s2))
    lip = max(A.lip * B.bound + B.lip, A.lip + abs(s2) * B.lip)
    err = max(A.err * B.bound + B.err, A.err + abs(s2) * B.err)
    c = _closure(b, shape, dtype) if b.flag(0.4) else None
    if c is not None:
        C = b.vals[c]
        true += f" + {b.name(c)}"
        lo, hi, lip, err = lo - C.bound, hi + C.bound, lip + C.lip, err + C.err
    pred = f"np.sum({b.name(p)}) > {thr!r}"
    expr = f"lax.cond({pred}, {true}, {false}, {b.name(i)}, {b.name(j)})"
    n = P.size
    kink = Kink(f"_gap(np.sum({b.name(p)}), {thr!r})",
                n * P.err + _eps(P.dtype) * n * P.bound, n * P.lip,
                flips_values=True)
    out = _val(shape, dtype, lo, hi, lip, err, 4 * max(abs(lo), abs(hi)) + 1)
    return Op("cond", expr, (out,), (kink,))


def _fori_loop(b: _Builder) -> Op | None:
    i = b.pick(strong_float)
    A, a = b.vals[i], b.name(i)
    n = b.draw(st.integers(1, 4))
    s1 = b.choice([0.5, 0.9, -0.7])
    s2 = b.choice([0.1, -0.2])
    body = f"{_smooth(b, 'c')} * {s1!r} + {s2!r} * np.asarray(i, c.dtype)"
    bound, lip, err = abs(s1) + abs(s2) * (n - 1), A.lip, A.err
    c = _closure(b, A.shape, A.dtype) if b.flag(0.4) else None
    if c is not None:
        C = b.vals[c]
        body += f" + {b.name(c)}"
        bound += n * C.bound
        lip, err = lip + n * C.lip, err + n * C.err
    start = b.choice([0, 1])
    expr = f"lax.fori_loop({start}, {start + n}, lambda i, c: {body}, {a})"
    if start:
        bound += abs(s2)
    out = _val(A.shape, A.dtype, -bound, bound, lip, err, 4 * n * (bound + 1))
    return Op("fori_loop", expr, (out,))


def _scan(b: _Builder) -> Op | None:
    i = b.pick(strong_float)
    A, a = b.vals[i], b.name(i)
    j = b.pick(lambda w: w.ndim >= 1 and w.dtype == A.dtype and strong(w)
               and _bcast(w.shape[1:], A.shape) == A.shape
               and w.shape[0] * A.size <= b.max_size)
    X, xs = b.vals[j], b.name(j)
    n = X.shape[0]
    s1 = b.choice([0.5, 0.9, -0.7])
    new_c = f"{_smooth(b, 'c')} * {s1!r}"
    if b.flag(0.3) and "cond" in b.op_kinds:
        # a cond nested in the body, switching on the carry; the branches agree in value and
        # slope where the predicate flips (t = tanh(sum(u)) = 0), so no kink needs tracking
        t = "np.tanh(np.sum(u)) ** 2"
        new_c = (f"lax.cond(np.sum(c) > 0.0, lambda u: np.sin(u) + 0.1 * {t}, "
                 f"lambda u: np.sin(u) - 0.1 * {t}, c) * {s1!r}")
    cbound = 1.1 * abs(s1) + X.bound
    lip = A.lip + n * X.lip
    err, rnd = A.err + n * X.err, 4 * n * (cbound + 1)
    c = _closure(b, A.shape, A.dtype) if b.flag(0.4) else None
    if c is not None:
        C = b.vals[c]
        new_c += f" + 0.5 * {b.name(c)}"
        cbound += 0.5 * C.bound
        lip, err = lip + n * C.lip, err + n * C.err
    body = f"lambda c, x: ({new_c} + x, {_smooth(b, 'c')} * x)"
    reverse = b.flag(0.3)
    expr = f"lax.scan({body}, {a}, {xs}" + (", reverse=True)" if reverse else ")")
    carry = _val(A.shape, A.dtype, -cbound, cbound, lip, err, rnd)
    ys = _val((n,) + A.shape, A.dtype, -X.bound, X.bound, lip * (1 + X.bound),
              err * (1 + X.bound), rnd * (1 + X.bound))
    return Op("scan", expr, (carry, ys))


def _switch(b: _Builder) -> Op | None:
    """``lax.switch`` on a computed index, which may be out of range (JAX clamps it)."""
    i = b.pick(strong)
    A = b.vals[i]
    j = b.pick(lambda w: strong(w) and _compatible(b, A.shape)(w))
    B = b.vals[j]
    shape = _bcast(A.shape, B.shape)
    dtype = np.result_type(_float_dtype(A.dtype), _float_dtype(B.dtype))
    k = b.pick(lambda w: w.dtype.kind == "i" and w.ndim == 0, optional=True)
    kinks: tuple[Kink, ...] = ()
    if k is not None and b.flag(0.6):
        index = b.name(k)
    else:
        p = b.pick()
        P = b.vals[p]
        index = f"np.sum({b.name(p)} > 0.0)"
        kinks = (Kink(f"_gap({b.name(p)}, 0.0)", P.err, P.lip, flips_values=True),)
    n_branches = b.draw(st.integers(1, 3))
    scales = [b.scalar() for _ in range(n_branches)]
    branches = [f"lambda a, b: {_smooth(b, 'a')} * b + {s_!r}" for s_ in scales]
    bound = B.bound + max(abs(s_) for s_ in scales)
    expr = (f"lax.switch({index}, [{', '.join(branches)}], {b.name(i)}, {b.name(j)})")
    out = _val(shape, dtype, -bound, bound, A.lip * B.bound + B.lip, A.err * B.bound + B.err,
               4 * bound + 1)
    return Op("switch", expr, (out,), kinks)


def _while_gap(body, c0, n: int, thr: float) -> float:
    """Closest approach of ``max(c)`` to ``thr`` over the iterations a while_loop runs."""
    c, gap = c0, math.inf
    for _ in range(n):
        m = float(np.max(c))
        gap = min(gap, abs(m - thr))
        if not m < thr:
            break
        c = body(c)
    return gap


KINK_ENV["_while_gap"] = _while_gap


def _while_loop(b: _Builder) -> Op | None:
    """A while_loop with a counter, and sometimes a value-dependent condition too."""
    i = b.pick(strong_float)
    A, a = b.vals[i], b.name(i)
    n = b.draw(st.integers(0, 4))
    s1 = b.choice([0.5, 0.9, -0.7])
    step = f"{_smooth(b, 'u')} * {s1!r} + 0.25"
    kinks: tuple[Kink, ...] = ()
    cond = f"c[1] < {n}"
    if b.flag(0.5):
        thr = b.choice([0.3, 0.6, 1.0])
        cond = f"(c[1] < {n}) & (np.max(c[0]) < {thr!r})"
        kinks = (Kink(f"_while_gap(lambda u: {step}, {a}, {n}, {thr!r})", A.err + 4e-7,
                      A.lip + 1.0, flips_values=True),)
    body = f"lambda c: ((lambda u: {step})(c[0]), c[1] + 1)"
    expr = f"lax.while_loop(lambda c: {cond}, {body}, ({a}, 0))[0]"
    bound = max(A.bound, abs(s1) + 0.25)
    out = _val(A.shape, A.dtype, -bound, bound, A.lip, A.err, 4 * n * (bound + 1))
    return Op("while_loop", expr, (out,), kinks)


def _map(b: _Builder) -> Op | None:
    i = b.pick(lambda v: is_float(v) and v.ndim >= 1)
    A, a = b.vals[i], b.name(i)
    s1 = b.choice([0.5, 2.0, -1.5])
    body = f"{_smooth(b, 'r')} * {s1!r}"
    bound, lip, err = abs(s1), abs(s1) * A.lip, abs(s1) * A.err
    c = _closure(b, A.shape[1:], A.dtype) if b.flag(0.4) else None
    if c is not None:
        C = b.vals[c]
        body += f" + {b.name(c)}"
        bound, lip, err = bound + C.bound, lip + C.lip, err + C.err
    out = _val(A.shape, A.dtype, -bound, bound, lip, err, 4 * bound + 1)
    return Op("map", f"lax.map(lambda r: {body}, {a})", (out,))


def _fori_pair(b: _Builder) -> Op | None:
    """fori_loop with a tuple carry of two values coupled through their means."""
    i = b.pick(strong_float)
    A, a = b.vals[i], b.name(i)
    j = b.pick(lambda w: w.dtype == A.dtype and strong(w))
    B, bn = b.vals[j], b.name(j)
    n = b.draw(st.integers(1, 3))
    s1, s3 = b.choice([0.5, 0.9, -0.7]), b.choice([0.5, -0.9])
    s2, s4 = b.choice([0.25, -0.5]), b.choice([0.5, -0.25])
    body = (f"lambda i, c: ({_smooth(b, 'c[0]')} * {s1!r} + {s2!r} * np.mean(c[1]), "
            f"{_smooth(b, 'c[1]')} * {s3!r} + {s4!r} * np.mean(c[0]))")
    big = max(A.bound, B.bound, 2.0)
    b0, b1 = abs(s1) + abs(s2) * big, abs(s3) + abs(s4) * big
    grow = 1.5 ** n
    lip, err = grow * (A.lip + B.lip), grow * (A.err + B.err)
    outs = (_val(A.shape, A.dtype, -b0, b0, lip, err, 8 * n * big),
            _val(B.shape, B.dtype, -b1, b1, lip, err, 8 * n * big))
    return Op("fori_pair", f"lax.fori_loop(0, {n}, {body}, ({a}, {bn}))", outs)


GENERATORS: dict[str, Callable[[_Builder], Op | None]] = {
    "unary": _unary, "binary": _binary, "where": _where, "reduction": _reduction,
    "integer": _integer_valued, "misc": _misc,
    "cumulative": _cumulative, "getitem": _getitem, "at": _at_update, "reshape": _reshape,
    "shape": _shape_op, "join": _join, "matmul": _matmul, "einsum": _einsum,
    "cond": _cond, "fori_loop": _fori_loop, "scan": _scan, "switch": _switch,
    "while_loop": _while_loop, "map": _map, "fori_pair": _fori_pair,
}

# relative frequencies (a kind appears this many times in the table drawn from)
WEIGHTS = {"unary": 4, "binary": 4, "where": 1, "reduction": 2, "integer": 1, "misc": 3,
           "cumulative": 1, "getitem": 2, "at": 1, "reshape": 1, "shape": 2, "join": 1,
           "matmul": 1, "einsum": 1}
# op kind -> the functrace.lax function it needs
CONTROL_FLOW = {"cond": "cond", "fori_loop": "fori_loop", "scan": "scan", "switch": "switch",
                "while_loop": "while_loop", "map": "map", "fori_pair": "fori_loop"}
# JAX cannot differentiate while_loop in reverse mode (the trip count is dynamic)
FORWARD_ONLY = ("while_loop",)


def default_op_kinds(reverse_mode: bool = False) -> list[str]:
    """Every op kind; control flow once functrace.lax provides it; ``reverse_mode``: only kinds
    reverse-mode differentiation supports."""
    have = control_flow_available()
    return [k for k in GENERATORS if (k not in CONTROL_FLOW or have[CONTROL_FLOW[k]])
            and not (reverse_mode and k in FORWARD_ONLY)]


# ---------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------


@st.composite
def input_types(draw, dtypes: Sequence[np.dtype] = (F32, F64), max_inputs: int = 3,
                python_scalars: bool = False, max_side: int = 4) -> tuple[Val, ...]:
    """1-``max_inputs`` input types with mutually broadcastable (mostly) small shapes; with
    ``python_scalars`` some 0-d inputs are Python floats."""
    n = draw(st.integers(1, max_inputs))
    rank = draw(st.sampled_from([2, 1, 3, 0]))
    base = draw(hnp.array_shapes(min_dims=rank, max_dims=rank, min_side=1, max_side=max_side))
    mode = draw(st.sampled_from(["same", "mixed"])) if len(dtypes) > 1 else "same"
    common = draw(st.sampled_from(list(dtypes)))
    out = []
    for _ in range(n):
        if draw(st.integers(0, 9)) < 7:
            # the base shape, with some dims set to 1 and maybe leading dims dropped
            drop = draw(st.integers(0, len(base)))
            shape = tuple(1 if draw(st.integers(0, 3)) == 0 else d for d in base[drop:])
        else:
            shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1,
                                          max_side=max_side))
        dtype = common if mode == "same" else draw(st.sampled_from(list(dtypes)))
        lo, hi = (INPUT_LO, INPUT_HI) if dtype.kind == "f" else INT_RANGE
        v = _val(shape, dtype, lo, hi, 1.0, 0.0)
        if python_scalars and not shape and draw(st.booleans()):
            v = dataclasses.replace(v, dtype=F64, weak=True)
        out.append(v)
    return tuple(out)


@st.composite
def programs(draw, min_ops: int = 1, max_ops: int = 30, dtypes: Sequence[np.dtype] = (F32, F64),
             max_inputs: int = 3, op_kinds: Sequence[str] | None = None,
             python_scalars: bool = False, max_side: int = 4, max_size: int = MAX_SIZE
             ) -> Program:
    """A random well-typed program (see the module docstring); ``max_side``/``max_size`` bound
    the input dims and every value's size (raise them to stress compiled code)."""
    inputs = draw(input_types(dtypes, max_inputs, python_scalars, max_side))
    kinds = list(op_kinds) if op_kinds is not None else default_op_kinds()
    table = [k for k in kinds for _ in range(WEIGHTS.get(k, 1))]
    builder = _Builder(draw, inputs, table, dtypes, max_size)
    builder.build(draw(st.integers(min_ops, max_ops)))
    nvals = len(builder.vals)
    extra = draw(st.lists(st.integers(0, nvals - 2), max_size=2, unique=True)) if nvals > 1 \
        else []
    outputs = tuple(dict.fromkeys([nvals - 1, *extra]))
    return Program(tuple(inputs), tuple(builder.ops), outputs)


def array_for(draw, v: Val, lo: float = INPUT_LO, hi: float = INPUT_HI) -> np.ndarray | float:
    """A hypothesis-drawn array of ``v``'s type with entries in [lo, hi] (a Python float for a
    weak input)."""
    if v.dtype.kind in "iu":
        return draw(hnp.arrays(v.dtype, v.shape, elements=st.integers(*INT_RANGE)))
    elems = st.floats(lo, hi, width=v.dtype.itemsize * 8, allow_nan=False,
                      allow_infinity=False)
    if v.weak:
        return draw(elems)
    return draw(hnp.arrays(v.dtype, v.shape, elements=elems))


def random_inputs(program: Program, seed: int, lo: float = INPUT_LO,
                  hi: float = INPUT_HI) -> list[np.ndarray]:
    """Continuous random inputs (no ties, no exact zeros) for derivative checks."""
    rng = np.random.default_rng(seed)
    return [float(rng.uniform(lo, hi)) if v.weak else
            np.asarray(rng.integers(INT_RANGE[0], INT_RANGE[1] + 1, v.shape), v.dtype)
            if v.dtype.kind in "iu" else
            np.asarray(rng.uniform(lo, hi, v.shape), v.dtype) for v in program.inputs]


@st.composite
def programs_with_inputs(draw, random_values: bool = False, **kwargs
                         ) -> tuple[Program, list[np.ndarray]]:
    """A program and inputs for it (hypothesis-drawn, or seeded uniform if ``random_values``)."""
    prog = draw(programs(**kwargs))
    if random_values:
        return prog, random_inputs(prog, draw(st.integers(0, 2 ** 32 - 1)))
    return prog, [array_for(draw, v) for v in prog.inputs]


# ---------------------------------------------------------------------------------------------
# Integer programs on edge values, with closed-over constants
# ---------------------------------------------------------------------------------------------

I64 = np.dtype(np.int64)

# name -> (arity, template): a statement over earlier values ``{0}``, ``{1}`` and the
# closed-over constant ``C``. Every one has the same meaning in NumPy and functrace.numpy,
# including on the edge values (wrap-around, division by 0 and by -1, shifts out of range).
INT_EDGE_OPS: dict[str, tuple[int, str]] = {
    "add": (2, "np.add({0}, {1})"),
    "subtract": (2, "np.subtract({0}, {1})"),
    "multiply": (2, "np.multiply({0}, {1})"),
    "floor_divide": (2, "np.floor_divide({0}, {1})"),
    "remainder": (2, "np.remainder({0}, {1})"),
    "fmod": (2, "np.fmod({0}, {1})"),
    "maximum": (2, "np.maximum({0}, {1})"),
    "minimum": (2, "np.minimum({0}, {1})"),
    "bitwise_and": (2, "np.bitwise_and({0}, {1})"),
    "bitwise_xor": (2, "np.bitwise_xor({0}, {1})"),
    "left_shift": (2, "np.left_shift({0}, {1})"),
    "right_shift": (2, "np.right_shift({0}, {1})"),
    "where": (2, "np.where({0} > {1}, {0}, {1})"),
    "abs": (1, "np.abs({0})"),
    "negative": (1, "np.negative({0})"),
    "sign": (1, "np.sign({0})"),
    "invert": (1, "np.invert({0})"),
    "square": (1, "np.square({0})"),
    "pow3": (1, "({0}) ** 3"),
    "pow7": (1, "({0}) ** 7"),
    "with_const": (1, "np.subtract(np.multiply({0}, C), C)"),
    "floor_divide_const": (1, "np.floor_divide({0}, C)"),
    "remainder_const": (1, "np.remainder(C, {0})"),
}


def int_edge_values(dtype) -> list[int]:
    """0, +-1, +-2, the extremes and their neighbours, for an integer dtype."""
    info = np.iinfo(dtype)
    return [0, -1, 1, 2, -2, int(info.min), int(info.max), int(info.min) + 1, int(info.max) - 1]


@dataclasses.dataclass(frozen=True)
class IntProgram:
    """A straight-line integer program over inputs ``x0, x1`` and a closed-over constant ``C``
    (all of one dtype and shape); ``source()`` is the code that runs."""

    dtype: np.dtype
    n_inputs: int
    lines: tuple[str, ...]
    outputs: tuple[str, ...]

    def source(self) -> str:
        args = ", ".join(f"x{i}" for i in range(self.n_inputs))
        body = "".join(f"    {ln}\n" for ln in self.lines)
        return f"def f({args}):\n{body}    return ({', '.join(self.outputs)},)\n"

    def function(self, module, const: np.ndarray) -> Callable:
        """The program against ``np`` = ``module``, closing over the array ``const``."""
        env = {"np": module, "C": const}
        exec(compile(self.source(), "<int program>", "exec"), env)  # noqa: S102
        return env["f"]


@st.composite
def int_edge_programs(draw, max_ops: int = 8, size: int = 6
                      ) -> tuple[IntProgram, list[np.ndarray], np.ndarray]:
    """An integer program, inputs drawn from the edge values of its dtype, and the constant it
    closes over (edge values too): ``(program, inputs, constant)``."""
    dtype = draw(st.sampled_from([I32, I64]), label="dtype")
    values = st.sampled_from(int_edge_values(dtype))
    n_inputs = draw(st.integers(1, 2), label="inputs")
    names = [f"x{i}" for i in range(n_inputs)]
    lines = []
    for k in range(draw(st.integers(1, max_ops), label="ops")):
        op = draw(st.sampled_from(sorted(INT_EDGE_OPS)), label=f"op {k}")
        arity, template = INT_EDGE_OPS[op]
        operands = [draw(st.sampled_from(names)) for _ in range(arity)]
        lines.append(f"v{k} = {template.format(*operands)}")
        names.append(f"v{k}")
    n_out = draw(st.integers(1, min(2, len(lines))), label="outputs")
    outputs = tuple(f"v{k}" for k in range(len(lines) - n_out, len(lines)))
    prog = IntProgram(dtype, n_inputs, tuple(lines), outputs)
    inputs = [np.array(draw(st.lists(values, min_size=size, max_size=size)), dtype)
              for _ in range(n_inputs)]
    const = np.array(draw(st.lists(values, min_size=size, max_size=size)), dtype)
    return prog, inputs, const


__all__ = ["Program", "Op", "Val", "Kink", "programs", "programs_with_inputs", "input_types",
           "random_inputs", "array_for", "REF_LAX", "REF_AT", "module_env", "GENERATORS",
           "default_op_kinds", "control_flow_available", "F32", "F64", "I32", "I64",
           "IntProgram", "int_edge_programs", "int_edge_values", "INT_EDGE_OPS"]
