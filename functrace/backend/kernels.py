"""The backend's lowerings, keyed by primitive: scalar expressions, views, reductions, kernels.

Every table here is keyed by the primitive *object* (``ew.floor_p``, never the string
``"floor"``): a user's ``Primitive("floor")`` is a different primitive and never picks up the
built-in's lowering. ``lowerings_of(p)`` lists every entry a primitive has, in this module,
``codegen.py`` and ``rules.py``. The elementary-function libraries (``vecmath``, ``vecblocks``,
``ufuncs``) name their functions by the primitive they implement; ``by_primitive`` maps those
names to functrace's own primitives once (``builtin_primitive``), so they are reached from the
object too. Anything not covered here runs with its NumPy implementation from the generated
Python driver (with a one-time warning), never wrongly.

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
from ..ops import elementwise as ew
from ..ops import indexing, linalg_decomp, reductions, shapes, structural
from . import linalg_lowerings, rules  # noqa: F401 - linalg_lowerings registers LAPACK kernels

NJIT_DTYPES = frozenset(np.dtype(t) for t in (
    np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
    np.float32, np.float64))
# Complex values compile too, but only through the primitives that have complex lowerings
# (``complex_supported``); any other equation touching them runs with NumPy.
COMPLEX_DTYPES = frozenset(np.dtype(t) for t in (np.complex64, np.complex128))
COMPILED_DTYPES = NJIT_DTYPES | COMPLEX_DTYPES


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


# The modules defining functrace's own primitives: the only ones ``builtin_primitive`` accepts.
BUILTIN_MODULES = (
    "functrace.ops.elementwise", "functrace.ops.special", "functrace.ops.reductions",
    "functrace.ops.structural", "functrace.ops.shapes", "functrace.ops.indexing",
    "functrace.ops.linalg", "functrace.ops.linalg_decomp", "functrace.ops.cumulative",
    "functrace.ops.sorting", "functrace.ops.random_bits", "functrace.control_flow.cond",
    "functrace.control_flow.loops", "functrace.control_flow.scan", "functrace.jit",
    "functrace.remat", "functrace.callbacks", "functrace.custom_derivatives",
    "functrace.backend.blockvm",
)
_builtins: dict[str, Primitive] | None = None


def builtin_primitive(name: str) -> Primitive:
    """functrace's own primitive called ``name`` (the object one of ``BUILTIN_MODULES``
    defines); ``LookupError`` if there is none. A primitive defined elsewhere is never
    returned, whatever its name."""
    global _builtins
    if _builtins is None:
        import importlib
        found: dict[str, Primitive] = {}
        for modname in BUILTIN_MODULES:
            for val in vars(importlib.import_module(modname)).values():
                if isinstance(val, Primitive):
                    found.setdefault(val.name, val)
        _builtins = found
    try:
        return _builtins[name]
    except KeyError:
        raise LookupError(f"functrace defines no built-in primitive named {name!r}") from None


def by_primitive(table: dict[str, object]) -> dict[Primitive, object]:
    """``table`` (keyed by the names of the functions of ``vecmath``/``vecblocks``/``ufuncs``)
    keyed by functrace's built-in primitive of each name instead. Names no built-in primitive
    has (vecmath's ``softplus``) are left out: no primitive reaches them."""
    out: dict[Primitive, object] = {}
    for name, val in table.items():
        try:
            out[builtin_primitive(name)] = val
        except LookupError:
            pass
    return out


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
    if dtypes.is_complex(dtype):
        # built from its parts: the repr of a complex NaN or infinity is not an expression
        part = np.dtype(np.float64)
        return (f"np.{dtype.name}(complex({const(v.real, part)}, "
                f"{const(v.imag, part)}))")
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
_PRESERVING = frozenset({
    ew.add_p, ew.sub_p, ew.mul_p, ew.neg_p, ew.select_n_p, ew.stop_gradient_p, ew.max_p,
    ew.min_p, ew.abs_p, ew.sqrt_p, ew.exp_p, ew.log_p, ew.sin_p, ew.cos_p, ew.tanh_p, ew.tan_p,
    ew.log1p_p, ew.expm1_p, ew.real_p})
_BOOL_RESULT = frozenset({ew.eq_p, ew.ne_p, ew.lt_p, ew.le_p, ew.gt_p, ew.ge_p, ew.is_finite_p})

# Scalar lowerings of built-in primitives that take precedence over the ``defscalar`` templates
# of ``ops/elementwise.py`` (dtype-dependent expressions, NumPy's special cases).
_OVERRIDES: dict[Primitive, object] = {}


def _override(prim: Primitive | str):
    """Register the decorated function as ``prim``'s scalar lowering (a name is resolved to
    the built-in primitive of that name, never to a user's)."""
    if isinstance(prim, str):
        prim = builtin_primitive(prim)
    if not isinstance(prim, Primitive):
        raise TypeError(f"_override needs a Primitive, got {prim!r}")

    def deco(fn):
        _OVERRIDES[prim] = fn
        return fn
    return deco


def _is_f(dt) -> bool:
    return dtypes.is_float(dt)


@_override(ew.floor_p)
def _floor(a, ins, out, **p):
    return f"np.floor({a[0]})" if _is_f(out) else a[0]


@_override(ew.ceil_p)
def _ceil(a, ins, out, **p):
    return f"np.ceil({a[0]})" if _is_f(out) else a[0]


@_override(ew.round_p)
def _round(a, ins, out, **p):
    # the reference implementation is np.round: halves to even
    return f"np.rint({a[0]})" if _is_f(out) else a[0]


@_override(ew.sign_p)
def _sign(a, ins, out, **p):
    if _is_f(out):
        return f"f_sign({a[0]}, {const(1, out)})"
    if np.dtype(out) == np.bool_:
        return a[0]
    return f"i_sign({a[0]})"


@_override(ew.abs_p)
def _abs(a, ins, out, **p):
    return a[0] if np.dtype(out) == np.bool_ else f"abs({a[0]})"


@_override(ew.is_finite_p)
def _is_finite(a, ins, out, **p):
    return f"np.isfinite({a[0]})"


@_override(ew.logistic_p)
def _logistic(a, ins, out, **p):
    return f"f_logistic({a[0]})"


@_override(ew.rsqrt_p)
def _rsqrt(a, ins, out, **p):
    return f"({const(1, out)} / math.sqrt({a[0]}))"


@_override(ew.cbrt_p)
def _cbrt(a, ins, out, **p):
    return f"np.cbrt({a[0]})"


@_override(ew.erf_p)
def _erf(a, ins, out, **p):
    return f"math.erf({a[0]})"


@_override(ew.div_p)
def _div(a, ins, out, **p):
    if _is_f(out):
        return f"({a[0]} / {a[1]})"
    return f"i_div({a[0]}, {a[1]})"


@_override(ew.rem_p)
def _rem(a, ins, out, **p):
    if _is_f(out):
        return f"f_rem({a[0]}, {a[1]})"
    return f"i_rem({a[0]}, {a[1]})"


@_override(ew.pow_p)
def _pow(a, ins, out, **p):
    return f"np.power({a[0]}, {a[1]})"


@_override(ew.max_p)
def _max(a, ins, out, **p):
    if np.dtype(out) == np.bool_:
        return f"({a[0]} or {a[1]})"
    return f"f_max({a[0]}, {a[1]})"


@_override(ew.min_p)
def _min(a, ins, out, **p):
    if np.dtype(out) == np.bool_:
        return f"({a[0]} and {a[1]})"
    return f"f_min({a[0]}, {a[1]})"


@_override(ew.integer_pow_p)
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


@_override(ew.not_p)
def _not(a, ins, out, **p):
    return f"(not {a[0]})" if np.dtype(out) == np.bool_ else f"(~{a[0]})"


@_override(ew.neg_p)
def _neg(a, ins, out, **p):
    return f"(-{a[0]})"


@_override(ew.convert_element_type_p)
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


@_override(ew.stop_gradient_p)
def _stop_gradient(a, ins, out, **p):
    return a[0]


@_override(ew.select_n_p)
def _select_n(a, ins, out, **p):
    if len(a) == 3:
        return f"({a[2]} if {a[0]} else {a[1]})"
    # n-way select on an integer predicate
    expr = a[-1]
    for k in range(len(a) - 2, 0, -1):
        expr = f"({a[k]} if {a[0]} == {k - 1} else {expr})"
    return expr


@_override(ew.and_p)
def _and(a, ins, out, **p):
    return f"({a[0]} & {a[1]})"


@_override(ew.or_p)
def _or(a, ins, out, **p):
    return f"({a[0]} | {a[1]})"


@_override(ew.xor_p)
def _xor(a, ins, out, **p):
    return f"({a[0]} ^ {a[1]})"


# Use the vectorisable elementary functions of ``vecmath.py`` (vecblocks.INLINE_MATH: inlined
# into fused loops, which LLVM then vectorises) where they exist; docs/backend.md has the
# measurements. Large loops run some as block kernels instead (codegen.vector_op).
USE_VECMATH = True
# ...except these: block kernels in large loops (vecmath.trig_block_f32/f64: a vectorised fast
# path, large arguments patched afterwards), 0.2 and 0.6 ns/element against 1.4 and 2.7
# inlined (exact reduction on every element); libm in small ones.
VECMATH_EXCLUDE = frozenset({ew.sin_p, ew.cos_p})
_inline_math: dict[Primitive, dict] | None = None


def inline_math() -> dict[Primitive, dict]:
    """``vecblocks.INLINE_MATH`` keyed by built-in primitive (built once; empty when
    ``vecblocks`` cannot be imported: the scalar lowerings are used then)."""
    global _inline_math
    if _inline_math is None:
        try:
            from .vecblocks import INLINE_MATH
        except Exception:  # noqa: BLE001 - being absent or broken only means: not used
            return {}
        _inline_math = by_primitive(INLINE_MATH)
    return _inline_math


def vecmath_function(eqn: core.Eqn) -> str | None:
    """The ``_support`` function calling ``vecmath``'s vectorisable version of this elementwise
    equation, if there is one."""
    if not USE_VECMATH:
        return None
    if eqn.primitive in VECMATH_EXCLUDE:
        return None
    table = inline_math().get(eqn.primitive)
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
    if out in COMPLEX_DTYPES or any(d in COMPLEX_DTYPES for d in in_dtypes):
        return _complex_expr(eqn, args, in_dtypes, out)
    if any(d not in NJIT_DTYPES for d in in_dtypes) or out not in NJIT_DTYPES:
        return None
    vm = vecmath_function(eqn)
    if vm is not None:
        return f"{vm}({', '.join(args)})"
    fn = _OVERRIDES.get(prim) or rules.scalar_lowerings.get(prim)
    if fn is None:
        return None
    expr = fn(args, in_dtypes, out, **eqn.params)
    if prim in _BOOL_RESULT and out == np.bool_:
        return expr
    if out in _NATURAL and prim in _PRESERVING and all(d == out for d in in_dtypes):
        return expr
    if prim is ew.convert_element_type_p:
        return expr
    return cast(expr, out)


def is_elementwise(prim: Primitive) -> bool:
    return prim in rules.scalar_lowerings or prim in _OVERRIDES


# ---------------------------------------------------------------------------------------------
# Complex scalars
# ---------------------------------------------------------------------------------------------
# Numba compiles complex arithmetic and ``cmath``; ``_support.c_*`` give NumPy's results where
# the plain expression would not (products, division, powers, sign, |z|, sqrt of tiny values,
# log1p, expm1). The fast paths of ``vecmath``/``vecblocks``/``ufuncs`` are real-only and never
# see these equations (``vecmath_function`` and ``codegen.vector_op`` match float dtypes only).
# Every expression is cast to the equation's dtype (Numba widens some results to complex128).

_COMPLEX_SCALAR: dict[Primitive, object] = {}


def _complex(prim: Primitive):
    def deco(fn):
        _COMPLEX_SCALAR[prim] = fn
        return fn
    return deco


def _cplx_template(fmt: str):
    return lambda a, ins, out, **p: fmt.format(*a)


for _p, _fmt in (
        (ew.add_p, "({0} + {1})"), (ew.sub_p, "({0} - {1})"), (ew.mul_p, "c_mul({0}, {1})"),
        (ew.neg_p, "(-{0})"), (ew.div_p, "c_div({0}, {1})"), (ew.pow_p, "c_pow({0}, {1})"),
        (ew.sqrt_p, "c_sqrt({0})"), (ew.exp_p, "cmath.exp({0})"),
        (ew.log_p, "cmath.log({0})"), (ew.log1p_p, "c_log1p({0})"),
        (ew.expm1_p, "c_expm1({0})"), (ew.sin_p, "cmath.sin({0})"),
        (ew.cos_p, "cmath.cos({0})"), (ew.tan_p, "cmath.tan({0})"),
        (ew.sinh_p, "cmath.sinh({0})"), (ew.cosh_p, "cmath.cosh({0})"),
        (ew.tanh_p, "cmath.tanh({0})"), (ew.abs_p, "c_abs({0})"), (ew.sign_p, "c_sign({0})"),
        (ew.conj_p, "{0}.conjugate()"), (ew.real_p, "{0}.real"), (ew.imag_p, "{0}.imag"),
        (ew.complex_p, "complex({0}, {1})"), (ew.eq_p, "({0} == {1})"),
        (ew.ne_p, "({0} != {1})"), (ew.is_finite_p, "cmath.isfinite({0})"),
        (ew.stop_gradient_p, "{0}"), (ew.select_n_p, "({2} if {0} else {1})"),
        # NumPy's lexicographic order with its NaN rules (``_support.c_lt`` ...)
        (ew.max_p, "c_max({0}, {1})"), (ew.min_p, "c_min({0}, {1})"),
        (ew.lt_p, "c_lt({0}, {1})"), (ew.le_p, "c_le({0}, {1})"),
        (ew.gt_p, "c_gt({0}, {1})"), (ew.ge_p, "c_ge({0}, {1})"),
        # the C library's functions, which NumPy calls (``_support._libm_complex``)
        (ew.asin_p, "c_asin({0})"), (ew.acos_p, "c_acos({0})"), (ew.atan_p, "c_atan({0})"),
        (ew.asinh_p, "c_asinh({0})"), (ew.acosh_p, "c_acosh({0})"),
        (ew.atanh_p, "c_atanh({0})")):
    _COMPLEX_SCALAR[_p] = _cplx_template(_fmt)
del _p, _fmt


@_complex(ew.rsqrt_p)
def _c_rsqrt(a, ins, out, **p):
    return f"c_div(complex(1.0, 0.0), c_sqrt({a[0]}))"


@_complex(ew.integer_pow_p)
def _c_integer_pow(a, ins, out, *, y, **p):
    x = a[0]
    if y == 0:
        return "complex(1.0, 0.0)"
    if y == 1:
        return x
    if y == 2:
        return f"({x} * {x})"
    if y == 3:
        return f"({x} * {x} * {x})"
    # NumPy's np.power: repeated squaring for integer exponents under 100 in magnitude,
    # exp(y log x) beyond (c_ipow does both)
    return f"c_ipow({x}, {int(y)}, {const(1, out)})"


@_complex(ew.convert_element_type_p)
def _c_convert(a, ins, out, **p):
    src, dst = np.dtype(ins[0]), np.dtype(out)
    x = a[0]
    if src == dst:
        return x
    if dst in COMPLEX_DTYPES:
        if src in COMPLEX_DTYPES:
            return x
        return f"c_from_real({x})"
    # complex -> real: the imaginary part is dropped, as the interpreter does (lax's rule;
    # NumPy's astype would also warn), also on the way to bool: 1j converts to False
    re = f"{x}.real"
    if dst == np.bool_:
        return f"({re} != 0)"
    if dtypes.is_integer(dst):
        return f"(np.{dst.name}({re}) if np.isfinite({re}) else np.{dst.name}(0))"
    return re


def _complex_expr(eqn: core.Eqn, args: list[str], in_dtypes, out) -> str | None:
    if out not in COMPILED_DTYPES or any(d not in COMPILED_DTYPES for d in in_dtypes):
        return None
    fn = _COMPLEX_SCALAR.get(eqn.primitive)
    if fn is None:
        return None
    expr = fn(args, in_dtypes, out, **eqn.params)
    if out == np.bool_:
        return expr
    return cast(expr, out)


def complex_supported(eqn: core.Eqn) -> bool:
    """Whether an equation with complex operands or results has a compiled lowering for them
    (a scalar expression, a view, a reduction or a kernel that handles complex values)."""
    avals = [a.aval for a in eqn.invars] + [v.aval for v in eqn.outvars]
    if any(a.dtype not in COMPILED_DTYPES for a in avals):
        return False
    p = eqn.primitive
    if p in _COMPLEX_SCALAR or p in _VIEWS or p in _COMPLEX_REDUCERS:
        return True
    accept = complex_kernels().get(p)
    return accept is not None and accept(eqn)


def _always(eqn: core.Eqn) -> bool:
    return True


def _with_complex_lapack(eqn: core.Eqn) -> bool:
    # the LAPACK kernels compute complex in complex128, as NumPy's linalg does
    # (``linalg_lowerings`` widens complex64 operands); without the complex routines
    # (``lapack._complex_symbols``), NumPy runs them
    from .lapack import COMPLEX_LAPACK_AVAILABLE
    return COMPLEX_LAPACK_AVAILABLE


# Kernels (``codegen._KERNELS``, ``rules.kernel_lowerings``) that handle complex values, by
# built-in primitive name, each with a predicate on the equation. Others run with NumPy.
_COMPLEX_KERNEL_NAMES: dict[str, object] = {
    "dot_general": _always, "cumsum": _always, "cumprod": _always,
    "dynamic_update_slice": _always, "scatter_add": _always, "scatter_mul": _always,
    "scatter": _always, "while": _always, "cond": _always, "scan": _always,
    "optimization_barrier": _always, "linalg_solve": _with_complex_lapack,
    "det": _with_complex_lapack, "slogdet": _with_complex_lapack, "eig": _always,
    "cholesky": _with_complex_lapack, "triangular_solve": _with_complex_lapack,
    "eigh": _with_complex_lapack, "qr": _with_complex_lapack, "svd": _with_complex_lapack,
    "adjugate": _with_complex_lapack,
    # the orderings, in NumPy's lexicographic order (``_support.c_max``, ``c_argsort``)
    "sort": _always, "cummax": _always, "cummin": _always, "scatter_max": _always,
    "scatter_min": _always,
}
_complex_kernels: dict[Primitive, object] | None = None


def _lower_eig(k, eqn) -> None:
    # the general eigenproblem through LAPACK's geev (backend/lapack.py, imported on use)
    from .lapack import lower_eig
    lower_eig(k, eqn)


rules.kernel_lowerings.setdefault(linalg_decomp.eig_p, _lower_eig)


def complex_kernels() -> dict[Primitive, object]:
    """``_COMPLEX_KERNEL_NAMES`` keyed by the built-in primitives (built on first use: the
    control-flow modules import the backend lazily)."""
    global _complex_kernels
    if _complex_kernels is None:
        _complex_kernels = {builtin_primitive(n): f for n, f in _COMPLEX_KERNEL_NAMES.items()}
    return _complex_kernels


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


def _view_roll(eqn, idx, read):
    # out[i] = x[(i - s) mod n] with 0 < s < n: one comparison instead of an integer modulo
    shape = eqn.invars[0].aval.shape
    shift = dict(zip(eqn.params["axes"], eqn.params["shifts"]))
    return read(0, [f"({i} - {shift[j]} if {i} >= {shift[j]} else {i} + {shape[j] - shift[j]})"
                    if j in shift else i for j, i in enumerate(idx)])


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
    indexing.gather_p: _view_gather,
    structural.broadcast_in_dim_p: _view_broadcast_in_dim,
    structural.transpose_p: _view_transpose,
    structural.reshape_p: _view_reshape,
    shapes.squeeze_p: _view_squeeze,
    shapes.expand_dims_p: _view_expand_dims,
    shapes.rev_p: _view_rev,
    shapes.roll_p: _view_roll,
    shapes.slice_p: _view_slice,
    shapes.pad_p: _view_pad,
    shapes.concatenate_p: _view_concatenate,
    shapes.iota_p: _view_iota,
    shapes.dynamic_slice_p: _view_dynamic_slice,
}


def view_lowering(eqn: core.Eqn):
    fn = rules.view_lowerings.get(eqn.primitive)
    if fn is None:
        fn = _VIEWS.get(eqn.primitive)
    if fn is None:
        return None
    if any(a.aval.dtype not in COMPILED_DTYPES for a in list(eqn.invars) + list(eqn.outvars)):
        return None
    if eqn.primitive is structural.reshape_p and eqn.params.get("dimensions") is not None:
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
    # several digits on long axes (complex64 in complex128 likewise)
    dt = np.dtype(dt)
    if dt == np.float32:
        return np.dtype(np.float64)
    return np.dtype(np.complex128) if dt == np.complex64 else dt


_REDUCERS = {
    reductions.reduce_sum_p: Reducer(lambda dt: const(0, dt), lambda a, v, dt: f"{a} + {v}",
                                     _sum_acc),
    reductions.reduce_prod_p: Reducer(lambda dt: const(1, dt), lambda a, v, dt: f"{a} * {v}"),
    reductions.reduce_max_p: Reducer(_lowest, lambda a, v, dt: (
        f"({a} or {v})" if np.dtype(dt) == np.bool_ else f"f_max({a}, {v})")),
    reductions.reduce_min_p: Reducer(_highest, lambda a, v, dt: (
        f"({a} and {v})" if np.dtype(dt) == np.bool_ else f"f_min({a}, {v})")),
    reductions.reduce_and_p: Reducer(
        lambda dt: "True" if np.dtype(dt) == np.bool_ else const(-1, dt),
        lambda a, v, dt: f"{a} & {v}"),
    reductions.reduce_or_p: Reducer(
        lambda dt: "False" if np.dtype(dt) == np.bool_ else const(0, dt),
        lambda a, v, dt: f"{a} | {v}"),
    reductions.argmax_p: Reducer(_lowest, ">", arg=True),
    reductions.argmin_p: Reducer(_highest, "<", arg=True),
}


def _c_extreme(sign: float):
    # the fold starts below (above) every value: c_max(init, v) is v for every v, NaN parts too
    return lambda dt: f"np.{np.dtype(dt).name}(complex({sign} * np.inf, {sign} * np.inf))"


# Reductions of complex values: sums and products as for reals; max/min and argmax/argmin in
# NumPy's lexicographic order, folded from the first element as NumPy's loops do (the first
# value with a NaN part wins). argmax takes a later value only if it is greater than the
# running one, or if it has a NaN part while the running one has none (``c_arg_gt``).
_COMPLEX_ORDER_REDUCERS = {
    reductions.reduce_max_p: Reducer(_c_extreme(-1.0), lambda a, v, dt: f"c_max({a}, {v})"),
    reductions.reduce_min_p: Reducer(_c_extreme(1.0), lambda a, v, dt: f"c_min({a}, {v})"),
    reductions.argmax_p: Reducer(_c_extreme(-1.0), lambda t, m: f"c_arg_gt({t}, {m})",
                                 arg=True),
    reductions.argmin_p: Reducer(_c_extreme(1.0), lambda t, m: f"c_arg_lt({t}, {m})",
                                 arg=True),
}
_COMPLEX_REDUCERS = frozenset({reductions.reduce_sum_p, reductions.reduce_prod_p,
                               *_COMPLEX_ORDER_REDUCERS})


def _c_empty(sign: float):
    return lambda dt: f"np.{np.dtype(dt).name}(complex({sign} * np.inf, 0.0))"


# An empty max (min) is NumPy's identity -inf+0j (+inf+0j), which no start value of the fold
# above gives; over an empty axis the fold never runs, so that identity is the whole answer.
_COMPLEX_EMPTY_REDUCERS = {
    reductions.reduce_max_p: Reducer(_c_empty(-1.0), lambda a, v, dt: f"c_max({a}, {v})"),
    reductions.reduce_min_p: Reducer(_c_empty(1.0), lambda a, v, dt: f"c_min({a}, {v})"),
}


def reducer_for(eqn: core.Eqn) -> Reducer | None:
    r = rules.reduce_lowerings.get(eqn.primitive) or _REDUCERS.get(eqn.primitive)
    if r is None:
        return None
    avals = [a.aval for a in list(eqn.invars) + list(eqn.outvars)]
    if any(a.dtype not in NJIT_DTYPES for a in avals):
        if eqn.primitive not in _COMPLEX_REDUCERS or rules.reduce_lowerings.get(eqn.primitive) \
                or any(a.dtype not in COMPILED_DTYPES for a in avals):
            return None
        if eqn.primitive in _COMPLEX_ORDER_REDUCERS:
            x = eqn.invars[0].aval
            if any(x.shape[d] == 0 for d in reduce_axes(eqn)):
                return _COMPLEX_EMPTY_REDUCERS.get(eqn.primitive)  # argmax: none, as NumPy
            return _COMPLEX_ORDER_REDUCERS[eqn.primitive]
    return r


def reduce_axes(eqn: core.Eqn) -> tuple[int, ...]:
    if "axes" in eqn.params:
        return tuple(eqn.params["axes"])
    return (eqn.params["axis"],)


# ---------------------------------------------------------------------------------------------
# Index: every lowering a primitive has
# ---------------------------------------------------------------------------------------------


def lowerings_of(prim: Primitive) -> dict[str, object]:
    """Every backend entry for ``prim``, by kind: ``"scalar"`` (the expression fused into loops:
    an ``_OVERRIDES`` function here or a ``rules.defscalar`` template), ``"inline_math"`` (the
    ``vecblocks.INLINE_MATH`` functions per dtype), ``"block_kernel"`` and ``"vector_loop"``
    (how large loops run it blockwise, ``codegen.vector_op``), ``"view"``, ``"reduce"``,
    ``"kernel"`` (``codegen._KERNELS`` or ``rules.kernel_lowerings``), ``"subjaxpr"`` and
    ``"call"`` (inlined sub-program). Found by the object: a primitive that is not one of
    functrace's own has only what was registered for it in ``rules``. An empty dict: it runs
    with its NumPy implementation under ``jit``."""
    from ..simplify import inlinable_primitives
    from . import codegen
    found: dict[str, object] = {}
    scalar = _OVERRIDES.get(prim) or rules.scalar_lowerings.get(prim)
    if scalar is not None:
        found["scalar"] = scalar
    if USE_VECMATH and prim not in VECMATH_EXCLUDE and prim in inline_math():
        found["inline_math"] = dict(inline_math()[prim])
    try:
        blocks = {dt: entry for (p, dt), entry in codegen.block_kernels().items() if p is prim}
    except Exception:  # noqa: BLE001 - vecblocks absent or broken: no block kernels
        blocks = {}
    if blocks:
        found["block_kernel"] = blocks
    if prim in codegen.VECTOR_SPECS:
        found["vector_loop"] = codegen.VECTOR_SPECS[prim]
    view = rules.view_lowerings.get(prim) or _VIEWS.get(prim)
    if view is not None:
        found["view"] = view
    reducer = rules.reduce_lowerings.get(prim) or _REDUCERS.get(prim)
    if reducer is not None:
        found["reduce"] = reducer
    kernel = rules.kernel_lowerings.get(prim) or codegen._KERNELS.get(prim)
    if kernel is not None:
        found["kernel"] = kernel
    if prim in rules.subjaxpr_lowerings:
        found["subjaxpr"] = rules.subjaxpr_lowerings[prim]
    if prim in rules.call_params or prim is codegen.jit_call_p or prim in inlinable_primitives:
        found["call"] = codegen._call_param(_CallProbe(prim))
    return found


# Built-in primitives without any compiled lowering: under ``jit`` they run with their NumPy
# implementation from the Python driver, with a one-time "no compiled lowering" warning
# (``tests/test_backend_registry.py`` checks this list is exactly the set of them).
NUMPY_FALLBACKS: dict[str, str] = {
    "block_program": "a segment of thousands of elementwise equations run by the block "
                     "interpreter (backend/blockvm.py), called from the Python driver by design "
                     "(listed in backend.python_primitives, so without the warning)",
    "igamma": "regularised lower incomplete gamma: the series / continued fraction iterates "
              "to a per-element tolerance; no scalar lowering written yet",
    "igammac": "regularised upper incomplete gamma: as igamma, no scalar lowering written yet",
    "pure_callback": "calls the user's Python function: runs in the Python driver by design "
                     "(listed in backend.python_primitives, so without the warning)",
    "custom_lin": "the linearised custom_vjp rule: only in programs that reverse mode then "
                  "transposes into the bwd call, so never in a program that jit compiles; "
                  "its implementation raises the 'forward mode over custom_vjp' error",
}

# Built-in primitives that have lowerings, but none for complex values although their
# operands or results are always complex: under jit they would run with NumPy. Empty since
# complex scalars compile (``_COMPLEX_SCALAR``: complex, conj, real and imag among them) and eig
# runs through LAPACK's geev. A primitive on complex values without a complex lowering would
# run with NumPy, as ``complex_supported`` decides per equation.
NUMPY_ONLY_DTYPES: dict[str, str] = {}


class _CallProbe:
    """Just enough of an equation for ``codegen._call_param``."""

    def __init__(self, prim: Primitive):
        self.primitive = prim
