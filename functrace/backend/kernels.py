"""The backend's lowerings, keyed by primitive: scalar expressions, views, reductions, kernels.

Primitives are looked up by name among those the ``functrace`` modules define, so this module
does not depend on which op family defines what. Anything not covered here runs with its NumPy
implementation from the generated Python driver (with a one-time warning), never wrongly.

Interfaces (see also ``rules.py``):

- scalar: ``fn(args, in_dtypes, out_dtype, **params) -> str`` (an expression of ``out_dtype``
  or of a type that converts to it exactly; the code generator adds the cast);
- view: ``fn(eqn, idx, read) -> str``;
- reduce: a ``Reducer`` (initial value, combine statement);
- kernel: ``fn(k: KernelContext, eqn) -> None`` appending lines through ``k``.
"""

from __future__ import annotations

import math
import sys

import numpy as np

from .. import core, dtypes
from ..core import Primitive
from . import rules

NJIT_DTYPES = frozenset(np.dtype(t) for t in (
    np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
    np.float32, np.float64))


def primitives_by_name() -> dict[str, Primitive]:
    """Every primitive defined by a loaded functrace module, by name."""
    found: dict[str, Primitive] = {}
    for modname, mod in list(sys.modules.items()):
        if not modname.startswith("functrace") or mod is None:
            continue
        for val in list(vars(mod).values()):
            if isinstance(val, Primitive):
                found.setdefault(val.name, val)
    return found


# ---------------------------------------------------------------------------------------------
# Constants and casts
# ---------------------------------------------------------------------------------------------


def const(val, dtype) -> str:
    """A typed scalar constant: Numba types bare Python literals as int64/float64."""
    dtype = np.dtype(dtype)
    v = np.asarray(val).astype(dtype)[()]
    if dtype == np.bool_:
        return "True" if bool(v) else "False"
    if dtypes.is_float(dtype):
        f = float(v)
        if math.isnan(f):
            body = "np.nan"
        elif math.isinf(f):
            body = "np.inf" if f > 0 else "-np.inf"
        else:
            body = repr(f)
        return f"np.{dtype.name}({body})"
    if dtypes.is_integer(dtype):
        return f"np.{dtype.name}({int(v)})"
    return f"np.{dtype.name}({v!r})"


def cast(expr: str, dtype) -> str:
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return f"({expr} != 0)"
    return f"np.{dtype.name}({expr})"


# ---------------------------------------------------------------------------------------------
# Scalar (elementwise) lowerings
# ---------------------------------------------------------------------------------------------

# Expressions whose result already has the operand dtype for these dtypes (no cast needed).
_NATURAL = frozenset(np.dtype(t) for t in (np.float32, np.float64, np.int64, np.bool_))
_PRESERVING = frozenset({"add", "sub", "mul", "neg", "select_n", "stop_gradient", "max", "min",
                         "abs", "sqrt", "exp", "log", "sin", "cos", "tanh", "tan", "log1p",
                         "expm1", "copy", "copy_p", "real"})
_BOOL_RESULT = frozenset({"eq", "ne", "lt", "le", "gt", "ge", "is_finite"})

_OVERRIDES: dict[str, object] = {}


def _override(name: str):
    def deco(fn):
        _OVERRIDES[name] = fn
        return fn
    return deco


def _is_f(dt) -> bool:
    return dtypes.is_float(dt)


@_override("floor")
def _floor(a, ins, out, **p):
    return f"np.floor({a[0]})" if _is_f(out) else a[0]


@_override("ceil")
def _ceil(a, ins, out, **p):
    return f"np.ceil({a[0]})" if _is_f(out) else a[0]


@_override("round")
def _round(a, ins, out, **p):
    # the reference implementation is np.round: halves to even
    return f"np.rint({a[0]})" if _is_f(out) else a[0]


@_override("sign")
def _sign(a, ins, out, **p):
    if _is_f(out):
        return f"f_sign({a[0]}, {const(1, out)})"
    if np.dtype(out) == np.bool_:
        return a[0]
    return f"i_sign({a[0]})"


@_override("abs")
def _abs(a, ins, out, **p):
    return a[0] if np.dtype(out) == np.bool_ else f"abs({a[0]})"


@_override("is_finite")
def _is_finite(a, ins, out, **p):
    return f"np.isfinite({a[0]})"


@_override("logistic")
def _logistic(a, ins, out, **p):
    return f"f_logistic({a[0]})"


@_override("rsqrt")
def _rsqrt(a, ins, out, **p):
    return f"({const(1, out)} / math.sqrt({a[0]}))"


@_override("cbrt")
def _cbrt(a, ins, out, **p):
    return f"np.cbrt({a[0]})"


@_override("erf")
def _erf(a, ins, out, **p):
    return f"math.erf({a[0]})"


@_override("div")
def _div(a, ins, out, **p):
    if _is_f(out):
        return f"({a[0]} / {a[1]})"
    return f"i_div({a[0]}, {a[1]})"


@_override("rem")
def _rem(a, ins, out, **p):
    if _is_f(out):
        return f"f_rem({a[0]}, {a[1]})"
    return f"i_rem({a[0]}, {a[1]})"


@_override("pow")
def _pow(a, ins, out, **p):
    return f"np.power({a[0]}, {a[1]})"


@_override("max")
def _max(a, ins, out, **p):
    if np.dtype(out) == np.bool_:
        return f"({a[0]} or {a[1]})"
    return f"f_max({a[0]}, {a[1]})"


@_override("min")
def _min(a, ins, out, **p):
    if np.dtype(out) == np.bool_:
        return f"({a[0]} and {a[1]})"
    return f"f_min({a[0]}, {a[1]})"


@_override("integer_pow")
def _integer_pow(a, ins, out, *, y, **p):
    x = a[0]
    one = const(1, out)
    if y == 0:
        return one
    if y == 1:
        return x
    if y == 2:
        return f"({x} * {x})"
    if y == 3:
        return f"({x} * {x} * {x})"
    if y == -1 and _is_f(out):
        return f"({one} / {x})"
    if y == -2 and _is_f(out):
        return f"({one} / ({x} * {x}))"
    if _is_f(out):
        return f"f_ipow({x}, {int(y)}, {one})"
    return f"i_ipow({x}, {int(y)})"


@_override("not")
def _not(a, ins, out, **p):
    return f"(not {a[0]})" if np.dtype(out) == np.bool_ else f"(~{a[0]})"


@_override("neg")
def _neg(a, ins, out, **p):
    return f"(-{a[0]})"


@_override("convert_element_type")
def _convert(a, ins, out, **p):
    src, dst = np.dtype(ins[0]), np.dtype(out)
    if src == dst:
        return a[0]
    if dst == np.bool_:
        return f"({a[0]} != 0)"
    if _is_f(src) and dtypes.is_integer(dst):
        # NumPy leaves NaN/inf -> int unspecified; give the same thing on every run
        return f"(np.{dst.name}({a[0]}) if np.isfinite({a[0]}) else np.{dst.name}(0))"
    return f"np.{dst.name}({a[0]})"


@_override("stop_gradient")
def _stop_gradient(a, ins, out, **p):
    return a[0]


@_override("select_n")
def _select_n(a, ins, out, **p):
    if len(a) == 3:
        return f"({a[2]} if {a[0]} else {a[1]})"
    # n-way select on an integer predicate
    expr = a[-1]
    for k in range(len(a) - 2, 0, -1):
        expr = f"({a[k]} if {a[0]} == {k - 1} else {expr})"
    return expr


@_override("and")
def _and(a, ins, out, **p):
    return f"({a[0]} & {a[1]})"


@_override("or")
def _or(a, ins, out, **p):
    return f"({a[0]} | {a[1]})"


@_override("xor")
def _xor(a, ins, out, **p):
    return f"({a[0]} ^ {a[1]})"


@_override("clamp")
def _clamp(a, ins, out, **p):
    # lax.clamp(lo, x, hi)
    return f"f_min(f_max({a[1]}, {a[0]}), {a[2]})"


@_override("exp2")
def _exp2(a, ins, out, **p):
    return f"np.exp2({a[0]})"


@_override("square")
def _square(a, ins, out, **p):
    return f"({a[0]} * {a[0]})"


@_override("nextafter")
def _nextafter(a, ins, out, **p):
    return f"np.nextafter({a[0]}, {a[1]})"


# Use the vectorisable elementary functions of ``vecmath.py`` (vecblocks.INLINE_MATH: inlined
# into fused loops, which LLVM then vectorises) where they exist; docs/backend.md has the
# measurements. Large loops run some as block kernels instead (codegen.vector_op).
USE_VECMATH = True
# ...except these: block kernels in large loops (vecmath.trig_block_f32/f64: a vectorised fast
# path, large arguments patched afterwards), 0.2 and 0.6 ns/element against 1.4 and 2.7
# inlined (exact reduction on every element); libm in small ones.
VECMATH_EXCLUDE = frozenset({"sin", "cos"})


def vecmath_function(eqn: core.Eqn) -> str | None:
    """The ``_support`` function calling ``vecmath``'s vectorisable version of this elementwise
    equation, if there is one."""
    if not USE_VECMATH:
        return None
    try:
        from .vecblocks import INLINE_MATH
    except Exception:  # noqa: BLE001 - being absent or broken only means: not used
        return None
    if eqn.primitive.name in VECMATH_EXCLUDE:
        return None
    table = INLINE_MATH.get(eqn.primitive.name)
    out = eqn.outvars[0].aval.dtype
    if table is None or out not in table or any(a.aval.dtype != out for a in eqn.invars):
        return None
    fn = table[out]
    from ._support import VECMATH_CALLS
    return VECMATH_CALLS.get(getattr(fn, "py_func", fn).__name__)


def elementwise_expr(eqn: core.Eqn, args: list[str]) -> str | None:
    """The scalar expression (already of the output dtype) for an elementwise equation, or None
    when the backend cannot lower it."""
    prim = eqn.primitive
    in_dtypes = [a.aval.dtype for a in eqn.invars]
    out = eqn.outvars[0].aval.dtype
    if any(d not in NJIT_DTYPES for d in in_dtypes) or out not in NJIT_DTYPES:
        return None
    vm = vecmath_function(eqn)
    if vm is not None:
        return f"{vm}({', '.join(args)})"
    fn = _OVERRIDES.get(prim.name) or rules.scalar_lowerings.get(prim)
    if fn is None:
        return None
    expr = fn(args, in_dtypes, out, **eqn.params)
    if prim.name in _BOOL_RESULT and out == np.bool_:
        return expr
    if out in _NATURAL and prim.name in _PRESERVING and all(d == out for d in in_dtypes):
        return expr
    if prim.name == "convert_element_type":
        return expr
    return cast(expr, out)


def is_elementwise(prim: Primitive) -> bool:
    return prim in rules.scalar_lowerings or prim.name in _OVERRIDES


# ---------------------------------------------------------------------------------------------
# Views: output element at idx, in terms of operand elements
# ---------------------------------------------------------------------------------------------


def _add(i: str, c: int) -> str:
    if c == 0:
        return i
    return f"({i} + {c})" if c > 0 else f"({i} - {-c})"


def _view_broadcast_in_dim(eqn, idx, read):
    x = eqn.invars[0].aval
    shape, bd = eqn.params["shape"], eqn.params["broadcast_dimensions"]
    return read(0, [idx[d] if x.shape[i] == shape[d] else "0" for i, d in enumerate(bd)])


def _view_transpose(eqn, idx, read):
    perm = eqn.params["permutation"]
    operand = [""] * len(perm)
    for d, p in enumerate(perm):
        operand[p] = idx[d]
    return read(0, operand)


def _view_reshape(eqn, idx, read):
    in_shape = eqn.invars[0].aval.shape
    out_shape = eqn.outvars[0].aval.shape
    in_nz = [(j, n) for j, n in enumerate(in_shape) if n != 1]
    out_nz = [(d, n) for d, n in enumerate(out_shape) if n != 1]
    if [n for _, n in in_nz] == [n for _, n in out_nz]:
        operand = ["0"] * len(in_shape)
        for (j, _), (d, _) in zip(in_nz, out_nz):
            operand[j] = idx[d]
        return read(0, operand)
    # general: through the flat (C-order) position
    terms = []
    stride = 1
    for d in range(len(out_shape) - 1, -1, -1):
        if out_shape[d] != 1:
            terms.append(idx[d] if stride == 1 else f"{idx[d]} * {stride}")
        stride *= out_shape[d]
    flat = "(" + " + ".join(reversed(terms)) + ")" if terms else "0"
    operand = []
    stride = 1
    strides = []
    for n in reversed(in_shape):
        strides.append(stride)
        stride *= n
    strides.reverse()
    for j, n in enumerate(in_shape):
        if n == 1:
            operand.append("0")
            continue
        q = flat if strides[j] == 1 else f"({flat} // {strides[j]})"
        operand.append(q if j == 0 else f"({q} % {n})")
    return read(0, operand)


def _view_squeeze(eqn, idx, read):
    dims = set(eqn.params["dimensions"])
    it = iter(idx)
    return read(0, ["0" if j in dims else next(it) for j in range(eqn.invars[0].aval.ndim)])


def _view_expand_dims(eqn, idx, read):
    dims = set(eqn.params["dimensions"])
    return read(0, [i for d, i in enumerate(idx) if d not in dims])


def _view_rev(eqn, idx, read):
    dims = set(eqn.params["dimensions"])
    shape = eqn.invars[0].aval.shape
    return read(0, [f"({shape[j] - 1} - {i})" if j in dims else i for j, i in enumerate(idx)])


def _view_slice(eqn, idx, read):
    starts = eqn.params["start_indices"]
    strides = eqn.params.get("strides") or (1,) * len(starts)
    out = []
    for i, s, st in zip(idx, starts, strides):
        out.append(_add(i if st == 1 else f"{i} * {st}", s))
    return read(0, out)


def _view_pad(eqn, idx, read):
    shape = eqn.invars[0].aval.shape
    conds, operand = [], []
    for i, n, (lo, hi, interior) in zip(idx, shape, eqn.params["padding_config"]):
        t = _add(i, -lo)
        if interior == 0:
            if lo > 0:
                conds.append(f"{t} >= 0")
            if hi > 0:
                conds.append(f"{t} < {n}")
            operand.append(t)
        else:
            k = interior + 1
            conds.append(f"{t} >= 0 and {t} % {k} == 0 and {t} // {k} < {n}")
            operand.append(f"({t} // {k})")
    inside = read(0, operand)
    if not conds:
        return inside
    return f"({inside} if ({' and '.join(conds)}) else {read(1, [])})"


def _view_concatenate(eqn, idx, read):
    dim = eqn.params["dimension"]
    offsets, off = [], 0
    for a in eqn.invars:
        offsets.append(off)
        off += a.aval.shape[dim]
    expr = None
    for k in range(len(eqn.invars) - 1, -1, -1):
        sub = list(idx)
        sub[dim] = _add(idx[dim], -offsets[k])
        piece = read(k, sub)
        if expr is None:
            expr = piece
        else:
            expr = f"({piece} if {idx[dim]} < {offsets[k + 1]} else {expr})"
    return expr


def _view_iota(eqn, idx, read):
    out = eqn.outvars[0].aval.dtype
    return cast(idx[eqn.params["dimension"]], out)


def _view_dynamic_slice(eqn, idx, read):
    shape = eqn.invars[0].aval.shape
    sizes = eqn.params["slice_sizes"]
    out = []
    for j, (i, n, size) in enumerate(zip(idx, shape, sizes)):
        s = read(1 + j, [])
        out.append(f"({i} + min(max(np.int64({s}), 0), {n - size}))")
    return read(0, out)


def _view_gather(eqn, idx, read):
    # out[b..., r...] = x[axes[k] = clamp(indices[b..., k]), other axes = r...]
    x, ind = eqn.invars[0].aval, eqn.invars[1].aval
    axes = eqn.params["axes"]
    nb = ind.ndim - 1
    batch, rest = list(idx[:nb]), iter(idx[nb:])
    coords = {}
    for k, a in enumerate(axes):
        c = read(1, batch + [str(k)])
        coords[a] = f"min(max(np.int64({c}), 0), {max(x.shape[a] - 1, 0)})"
    return read(0, [coords[d] if d in coords else next(rest) for d in range(x.ndim)])


_VIEWS = {
    "gather": _view_gather,
    "broadcast_in_dim": _view_broadcast_in_dim,
    "transpose": _view_transpose,
    "reshape": _view_reshape,
    "squeeze": _view_squeeze,
    "expand_dims": _view_expand_dims,
    "rev": _view_rev,
    "slice": _view_slice,
    "pad": _view_pad,
    "concatenate": _view_concatenate,
    "iota": _view_iota,
    "dynamic_slice": _view_dynamic_slice,
}


def view_lowering(eqn: core.Eqn):
    fn = rules.view_lowerings.get(eqn.primitive)
    if fn is None:
        fn = _VIEWS.get(eqn.primitive.name)
    if fn is None:
        return None
    if any(a.aval.dtype not in NJIT_DTYPES for a in list(eqn.invars) + list(eqn.outvars)):
        return None
    if eqn.primitive.name == "reshape" and eqn.params.get("dimensions") is not None:
        return None
    return fn


# ---------------------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------------------


class Reducer:
    """How to accumulate one reduction: identity element and combine statement."""

    def __init__(self, init, combine, acc_dtype=None, arg=False):
        self.init = init  # (dtype) -> constant expression
        self.combine = combine  # (acc, value, dtype) -> expression of the new accumulator
        self.acc_dtype = acc_dtype  # (dtype) -> accumulator dtype
        self.arg = arg  # argmax/argmin: also tracks the index


def _lowest(dt):
    dt = np.dtype(dt)
    if _is_f(dt):
        return const(-np.inf, dt)
    if dt == np.bool_:
        return "False"
    return const(np.iinfo(dt).min, dt)


def _highest(dt):
    dt = np.dtype(dt)
    if _is_f(dt):
        return const(np.inf, dt)
    if dt == np.bool_:
        return "True"
    return const(np.iinfo(dt).max, dt)


def _sum_acc(dt):
    # float32 sums accumulate in float64: NumPy sums pairwise, a float32 running sum would lose
    # several digits on long axes
    return np.dtype(np.float64) if np.dtype(dt) == np.float32 else np.dtype(dt)


_REDUCERS = {
    "reduce_sum": Reducer(lambda dt: const(0, dt), lambda a, v, dt: f"{a} + {v}", _sum_acc),
    "reduce_prod": Reducer(lambda dt: const(1, dt), lambda a, v, dt: f"{a} * {v}"),
    "reduce_max": Reducer(_lowest, lambda a, v, dt: (
        f"({a} or {v})" if np.dtype(dt) == np.bool_ else f"f_max({a}, {v})")),
    "reduce_min": Reducer(_highest, lambda a, v, dt: (
        f"({a} and {v})" if np.dtype(dt) == np.bool_ else f"f_min({a}, {v})")),
    "reduce_and": Reducer(lambda dt: "True" if np.dtype(dt) == np.bool_ else const(-1, dt),
                          lambda a, v, dt: f"{a} & {v}"),
    "reduce_or": Reducer(lambda dt: "False" if np.dtype(dt) == np.bool_ else const(0, dt),
                         lambda a, v, dt: f"{a} | {v}"),
    "argmax": Reducer(_lowest, ">", arg=True),
    "argmin": Reducer(_highest, "<", arg=True),
}


def reducer_for(eqn: core.Eqn) -> Reducer | None:
    r = rules.reduce_lowerings.get(eqn.primitive) or _REDUCERS.get(eqn.primitive.name)
    if r is None:
        return None
    if any(a.aval.dtype not in NJIT_DTYPES for a in list(eqn.invars) + list(eqn.outvars)):
        return None
    return r


def reduce_axes(eqn: core.Eqn) -> tuple[int, ...]:
    if "axes" in eqn.params:
        return tuple(eqn.params["axes"])
    return (eqn.params["axis"],)
