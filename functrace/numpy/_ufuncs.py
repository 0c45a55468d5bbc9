"""Elementwise functions (NumPy's ufuncs and their non-ufunc relatives) on arrays and tracers.

Each ufunc asks NumPy itself which inner loop it would run for the operand dtypes
(``ufunc.resolve_dtypes``, cached; Python scalars passed as weak ``int``/``float``/``complex``),
so functrace's result dtypes are NumPy's by construction: ``sin`` of int32 is float64, ``//`` of
bools is int8, ``floor`` of ints stays integer. The operands are cast to the loop's input dtypes,
broadcast to one shape, and handed to a small implementation written with lax functions.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

from .. import core, dtypes, lax
from ..core import Tracer
from ._base import (
    all_weak,
    asarray,
    broadcast_shapes,
    cast,
    check_unsupported,
    dtype_of,
    is_py_scalar,
    weak_cast,
)

_WEAK_KEYS = {bool: dtypes.bool_, int: int, float: float, complex: complex}
_ARRAYS = (Tracer, np.ndarray, np.generic)

# lax names these after Python keywords
_and, _or, _not = getattr(lax, "and"), getattr(lax, "or"), getattr(lax, "not")


_PY_DEFAULT = {int: np.dtype(np.int64), float: np.dtype(np.float64),
               complex: np.dtype(np.complex128)}


@functools.cache
def _loop_dtypes(ufunc: np.ufunc, *keys) -> tuple[np.dtype, ...]:
    loop = ufunc.resolve_dtypes(keys + (None,) * ufunc.nout)
    if any(d.kind == "O" for d in loop):  # e.g. ``i < 3`` on a traced Python int: no int loop
        loop = ufunc.resolve_dtypes(tuple(_PY_DEFAULT.get(k, k) for k in keys)
                                    + (None,) * ufunc.nout)
    return loop


def _operands(ufunc: np.ufunc, args: tuple) -> list:
    """``args`` cast to the dtypes of NumPy's loop for them and broadcast to one shape."""
    fast = _operands_fast(ufunc, args)
    if fast is not None:
        return fast
    keys, vals, shapes = [], [], []
    for x in args:
        key = _WEAK_KEYS.get(type(x))
        if key is not None:  # a weak Python scalar
            shape = None
        elif type(x) is np.ndarray:  # the common eager case, without building an aval
            key, shape = x.dtype, x.shape
        else:
            if not isinstance(x, _ARRAYS):
                x = asarray(x)
            aval = core.get_aval(x)
            key, shape = aval.dtype, aval.shape
            if aval.weak_type:  # a traced Python scalar promotes like one
                key = _WEAK_KEYS.get(type(np.zeros((), aval.dtype).item()), key)
        keys.append(key)
        vals.append(x)
        shapes.append(shape)
    loop = _loop_dtypes(ufunc, *keys)
    known = [s for s in shapes if s is not None]
    out_shape = known[0] if known and known.count(known[0]) == len(known) else (
        broadcast_shapes(*known))
    out = []
    weak = not out_shape and all_weak(vals)
    for x, key, shape, dt in zip(vals, keys, shapes, loop):
        if shape is None:
            out.append(weak_cast(x, dt) if weak else lax.full(out_shape, x, dt))
            continue
        if key != dt:
            x = weak_cast(x, dt) if weak else lax.convert_element_type(x, dt)
        if shape != out_shape:
            lead = len(out_shape) - len(shape)
            x = lax.broadcast_in_dim(x, out_shape, tuple(range(lead, len(out_shape))))
        out.append(x)
    return out


# Switch for tests that compare NumPy's own ufunc with the primitive path (_direct).
direct_enabled = True
_NOT_DIRECT = object()
_DIVIDING = frozenset({np.floor_divide, np.remainder, np.fmod})
_Array: type | None = None  # functrace.numpy's Array (imported on first use: it imports us)


def _direct(ufunc: np.ufunc, args: tuple):
    """NumPy's own ``ufunc`` on plain integer or boolean values, or ``_NOT_DIRECT``.

    Index arithmetic in an eager simulation (``np.mod(i + 1, n)`` on integer arrays) would
    otherwise bind several primitives per call (``remainder`` is eight). When no operand is a
    tracer, nothing is being staged and no NaN/inf checking is on, every operand is a NumPy
    array or scalar or a Python int/bool that fits, and NumPy's loop for them is integer or
    boolean throughout, the primitive path evaluates exactly NumPy's integer arithmetic (the
    same loop dtypes by construction; integer results are exact), so NumPy is called instead:
    tests/test_eager_paths.py checks this bit for bit, dtype included, on edge values."""
    global _Array
    if not direct_enabled or core._thread_state.dynamic_trace is not None or (
            core._config.debug_nans or core._config.debug_infs):
        return _NOT_DIRECT
    if _Array is None:
        from ._array import Array as _Array
    keys, vals, ints = [], [], []
    array_seen = False
    for x in args:
        t = type(x)
        if t is np.ndarray or t is _Array:
            keys.append(x.dtype)
            vals.append(x if t is np.ndarray else x.view(np.ndarray))
            array_seen = True
        elif isinstance(x, (np.integer, np.bool_)):
            keys.append(x.dtype)
            vals.append(x)
            array_seen = True
        elif t is int:
            keys.append(int)
            vals.append(x)
            ints.append(len(vals) - 1)
        elif t is bool:
            keys.append(dtypes.bool_)
            vals.append(x)
        else:
            return _NOT_DIRECT
    if not array_seen:  # Python scalars only: weakly typed results, the primitive path's job
        return _NOT_DIRECT
    try:
        loop = _loop_dtypes(ufunc, *keys)
    except Exception:  # noqa: BLE001 - the primitive path raises its own error
        return _NOT_DIRECT
    for d in loop:
        if d.kind not in "biu":
            return _NOT_DIRECT
    if len(args) == 2 and loop[0] != loop[1]:  # a mixed loop (int64 == uint64): no primitive
        return _NOT_DIRECT
    return _call_direct(ufunc, vals, loop, ints)


def _call_direct(ufunc: np.ufunc, vals: list, loop: tuple, ints: list[int]):
    """The last step of ``_direct``: ``ufunc(*vals)``, unless a Python int does not fit."""
    for i in ints:  # a Python int the loop's dtype cannot hold: the primitive path's error
        info = np.iinfo(loop[i]) if loop[i].kind != "b" else None
        if info is None or not info.min <= vals[i] <= info.max:
            return _NOT_DIRECT
    if ufunc in _DIVIDING:  # NumPy warns about 0 divisors; the primitive path does not
        with np.errstate(all="ignore"):
            out = ufunc(*vals)
    else:  # integer loops warn about nothing else (wrap-around is silent)
        out = ufunc(*vals)
    return out[()] if type(out) is np.ndarray and not out.shape else out


def _operands_fast(ufunc: np.ufunc, args: tuple) -> list | None:
    """What ``_operands`` returns in the commonest traced cases, without its general loop:
    strongly typed tracers of one shape and dtype whose loop is that dtype (``x * y``,
    ``tanh(x)``), or one such tracer and a Python float or int (``x * 0.5``) or a NumPy array
    of its shape (``index_grid - x``, cast as the general loop casts it). None otherwise."""
    x = args[0]
    if len(args) == 1:
        if isinstance(x, Tracer):
            a = x.aval
            if not a.weak_type and _loop_dtypes(ufunc, a.dtype)[0] == a.dtype:
                return [x]
        return None
    y = args[1]
    if isinstance(x, Tracer):
        a = x.aval
        if a.weak_type:
            return None
        if isinstance(y, Tracer):
            b = y.aval
            if b.weak_type or b.dtype != a.dtype or b.shape != a.shape:
                return None
            loop = _loop_dtypes(ufunc, a.dtype, a.dtype)
            return [x, y] if loop[0] == a.dtype and loop[1] == a.dtype else None
        other = _untraced_operand(ufunc, a, y, 1)
        return None if other is None else [x, other]
    if isinstance(y, Tracer) and not y.aval.weak_type:
        other = _untraced_operand(ufunc, y.aval, x, 0)
        return None if other is None else [other, y]
    return None


def _untraced_operand(ufunc: np.ufunc, a, v, pos: int):
    """``_operands_fast`` for a strong tracer of type ``a`` and an untraced operand ``v`` at
    position ``pos``: ``v`` as the general loop makes it (a Python int/float filled to the
    tracer's shape, a NumPy array of its shape cast to the loop dtype), or None."""
    t = type(v)
    if t is float or t is int:
        key = t
    elif t is np.ndarray and v.shape == a.shape:
        key = v.dtype
    else:
        return None
    loop = _loop_dtypes(ufunc, *((a.dtype, key) if pos else (key, a.dtype)))
    if loop[1 - pos] != a.dtype:
        return None
    if t is not np.ndarray:
        return lax.full(a.shape, v, loop[pos])
    return v if key == loop[pos] else lax.convert_element_type(v, loop[pos])


def _defufunc(ufunc: np.ufunc, impl: Callable, direct: bool = False) -> Callable:
    """Define ``functrace.numpy.<ufunc name>`` from ``impl(*operands)``; operands arrive with
    equal shapes and the dtypes of NumPy's inner loop for the arguments. ``direct``: integer
    and boolean operands outside any transformation may go to NumPy's ufunc (``_direct``)."""
    if ufunc.nin == 1:
        def fn(x, /):
            if direct and not isinstance(x, Tracer):
                out = _direct(ufunc, (x,))
                if out is not _NOT_DIRECT:
                    return out
            out = impl(*_operands(ufunc, (x,)))
            return out[()] if type(out) is np.ndarray and not out.shape else out
    else:
        def fn(x1, x2, /):
            if direct and not isinstance(x1, Tracer) and not isinstance(x2, Tracer):
                out = _direct(ufunc, (x1, x2))
                if out is not _NOT_DIRECT:
                    return out
            out = impl(*_operands(ufunc, (x1, x2)))
            return out[()] if type(out) is np.ndarray and not out.shape else out
    fn.__name__ = fn.__qualname__ = ufunc.__name__
    fn.__doc__ = f"Elementwise ``numpy.{ufunc.__name__}`` (NumPy's dtypes and broadcasting)."
    return fn


# ---------------------------------------------------------------------------------------------
# Small lax-level helpers (operands already share shape and dtype)
# ---------------------------------------------------------------------------------------------


def _is_intlike(x) -> bool:
    dt = dtype_of(x)
    return dtypes.is_integer(dt) or dtypes.is_bool(dt)


def _is_unsigned(x) -> bool:
    return np.issubdtype(dtype_of(x), np.unsignedinteger)


def _zeros(x):
    return lax.full_like(x, 0)


def _bool_full(x, value: bool):
    return lax.full(core.get_aval(x).shape, value, dtypes.bool_)


def _isnan(x):
    return lax.ne(x, x)


def _signbit(x):
    # atan2(x, -1) is +-pi at +-0, so its sign is the sign bit also for zeros
    return lax.lt(lax.atan2(x, lax.full_like(x, -1)), lax.full_like(x, 0))


def _copysign(x, y):
    ax = lax.abs(x)
    return lax.select(_signbit(y), lax.neg(ax), ax)


def _trunc(x):
    if _is_intlike(x):
        return x
    return lax.select(lax.lt(x, _zeros(x)), lax.ceil(x), lax.floor(x))


def _int_floor_divide(a, b):
    q = lax.div(a, b)  # rounds toward zero
    if not _is_unsigned(a):
        zero = _zeros(a)
        r = lax.rem(a, b)
        fix = _and(lax.ne(r, zero), lax.ne(lax.lt(r, zero), lax.lt(b, zero)))
        q = lax.select(fix, lax.sub(q, lax.full_like(q, 1)), q)
    return lax.select(lax.eq(b, _zeros(b)), _zeros(q), q)


def _float_floor_divide(a, b):
    # NumPy's npy_divmod: exact in the cases where floor(a / b) is off by one
    zero = _zeros(a)
    mod = lax.rem(a, b)
    div = lax.div(lax.sub(a, mod), b)
    adjust = _and(lax.ne(mod, zero), lax.ne(lax.lt(b, zero), lax.lt(mod, zero)))
    div = lax.select(adjust, lax.sub(div, lax.full_like(div, 1)), div)
    floordiv = lax.floor(div)
    round_up = lax.gt(lax.sub(div, floordiv), lax.full_like(div, 0.5))
    floordiv = lax.select(round_up, lax.add(floordiv, lax.full_like(div, 1)), floordiv)
    nonzero_div = lax.select(lax.eq(div, zero), _copysign(zero, lax.div(a, b)), floordiv)
    return lax.select(lax.eq(b, zero), lax.div(a, b), nonzero_div)


def _floor_divide(a, b):
    if _is_intlike(a):
        return _int_floor_divide(a, b)
    # piecewise constant: no derivative (the division inside would leak inf/NaN at b == 0)
    return lax.stop_gradient(_float_floor_divide(a, b))


def _remainder(a, b):
    zero = _zeros(a)
    mod = lax.rem(a, b)
    if _is_intlike(a):
        if _is_unsigned(a):
            return mod
        wrong_sign = _and(lax.ne(mod, zero), lax.ne(lax.lt(mod, zero), lax.lt(b, zero)))
        return lax.select(wrong_sign, lax.add(mod, b), mod)
    wrong_sign = _and(lax.ne(mod, zero), lax.ne(lax.lt(b, zero), lax.lt(mod, zero)))
    mod = lax.select(wrong_sign, lax.add(mod, b), mod)
    # NumPy's zero takes b's sign; subtracting (mod - mod), which is +0 and carries mod's
    # tangent, keeps that sign and JAX's derivative (1 in x) at exact multiples too
    zero_like_mod = lax.sub(lax.stop_gradient(mod), mod)
    signed_zero = lax.select(lax.eq(mod, zero), lax.sub(_copysign(zero, b), zero_like_mod), mod)
    return lax.select(lax.eq(b, zero), lax.rem(a, b), signed_zero)


def _int_power(x, y):
    """``x ** y`` elementwise for integer arrays, by binary exponentiation over y's bits."""
    zero, one = _zeros(y), lax.full_like(x, 1)
    negative = None
    if not _is_unsigned(y):
        negative = lax.lt(y, zero)
        # NumPy raises for a negative exponent, which traced code cannot do; like lax's
        # integer_pow, give 1/x**|y| truncated toward zero: 1 for x == 1, +-1 for x == -1, 0
        # otherwise (docs/sharp-bits.md)
        y_odd = lax.ne(lax.rem(y, lax.full_like(y, 2)), zero)
        minus_one = lax.full_like(x, -1)
        reciprocal = lax.select(lax.eq(x, one), one, lax.select(
            lax.eq(x, minus_one), lax.select(y_odd, minus_one, one), lax.full_like(x, 0)))
        y = lax.select(negative, zero, y)
    acc, base = one, x
    for _ in range(np.iinfo(dtype_of(y)).bits):
        odd = lax.ne(lax.rem(y, lax.full_like(y, 2)), zero)
        acc = lax.select(odd, lax.mul(acc, base), acc)
        base = lax.mul(base, base)
        y = lax.div(y, lax.full_like(y, 2))
    if negative is not None:
        acc = lax.select(negative, reciprocal, acc)
    return acc


def _power(x, y):
    if not _is_intlike(x):
        return lax.pow(x, y)
    if not isinstance(y, Tracer) and np.any(np.asarray(y) < 0):
        raise ValueError("Integers to negative integer powers are not allowed.")
    return _int_power(x, y)


def _python_int_power(x, n: int):
    """``x ** n`` for a Python int ``n``: one ``integer_pow`` (exact, cheap derivative)."""
    if (isinstance(x, Tracer) and x.aval.dtype.kind in "fc" and not x.aval.weak_type
            and n != 0 and -(1 << 53) < n < (1 << 53)):
        return lax.integer_pow(x, n)  # what the checks below come to for a float array
    x = asarray(x)
    dt = _loop_dtypes(np.power, dtype_of(x), int)[0]
    np.asarray(n, dt)  # NumPy's OverflowError for an exponent the dtype cannot hold
    x = cast(x, dt)
    if dtypes.is_integer(dt) and n < 0:
        raise ValueError("Integers to negative integer powers are not allowed.")
    if n == 0:
        return lax.full_like(x, 1)
    return lax.integer_pow(x, n)


def _shift_amounts(x) -> list[int]:
    """Powers of two whose sum reaches every meaningful shift of x's integer type."""
    bits = np.iinfo(dtype_of(x)).bits
    return [1 << k for k in range(bits.bit_length() - 1)]


def _shift_too_far(x, s):
    """Shift amounts NumPy treats as shifting every bit out: >= the width, or negative (read
    as a huge unsigned amount; JAX agrees)."""
    too_far = lax.ge(s, lax.full_like(s, np.iinfo(dtype_of(x)).bits))
    if _is_unsigned(s):
        return too_far
    return _or(too_far, lax.lt(s, _zeros(s)))


def _left_shift(x, s):
    zero = _zeros(s)
    out = x
    for amount in _shift_amounts(x):
        take = lax.ne(_and(s, lax.full_like(s, amount)), zero)
        out = lax.select(take, lax.mul(out, lax.full_like(out, 1 << amount)), out)
    too_far = _shift_too_far(x, s)
    return lax.select(too_far, _zeros(x), out)


def _right_shift(x, s):
    zero = _zeros(s)
    out = x
    for amount in _shift_amounts(x):
        take = lax.ne(_and(s, lax.full_like(s, amount)), zero)
        out = lax.select(take, _int_floor_divide(out, lax.full_like(out, 1 << amount)), out)
    too_far = _shift_too_far(x, s)
    if _is_unsigned(x):
        return lax.select(too_far, _zeros(x), out)
    fill = lax.select(lax.lt(x, _zeros(x)), lax.full_like(x, -1), _zeros(x))
    return lax.select(too_far, fill, out)


def _fmax_fmin(lax_fn, beats):
    def impl(x, y):
        if _is_intlike(x):
            return lax_fn(x, y)
        # x only where it strictly wins (or y is NaN): at ties the derivative goes to y, as
        # in JAX (not split in halves like maximum's)
        return lax.select(_or(_isnan(y), beats(x, y)), x, y)
    return impl


def _hypot(x, y):
    ax, ay = lax.abs(x), lax.abs(y)
    big, small = lax.max(ax, ay), lax.min(ax, ay)
    zero = _zeros(big)
    safe_big = lax.select(lax.eq(big, zero), lax.full_like(big, 1), big)
    ratio = lax.div(small, safe_big)
    # at big == 0 this is 0 * sqrt(1) = 0 with derivative d(big): 0.5 per operand at (0, 0)
    # through max's tie rule, as in JAX
    out = lax.mul(big, lax.sqrt(lax.add(lax.mul(ratio, ratio), lax.full_like(ratio, 1))))
    inf = lax.full_like(big, np.inf)
    return lax.select(_or(lax.eq(ax, inf), lax.eq(ay, inf)), inf, out)  # hypot(inf, nan)


def _logaddexp(x, y, base2: bool = False):
    delta = lax.sub(x, y)
    nan_delta = _isnan(delta)
    # max(x, y) + log1p(exp(-|x - y|)), with both pieces chosen by one select on x - y > 0 so
    # that at ties (softplus(0)) the y-side formula log1p(exp(x - y)) + y is differentiated as
    # a whole: derivative 1/2 and a non-zero second derivative, as JAX's rule gives
    pos = lax.gt(delta, _zeros(delta))
    amax = lax.select(pos, x, y)
    safe = lax.select(nan_delta, _zeros(delta), lax.select(pos, lax.neg(delta), delta))
    if base2:
        tail = lax.div(lax.log1p(lax.pow(lax.full_like(safe, 2), safe)),
                       lax.full_like(safe, math.log(2)))
    else:
        tail = lax.log1p(lax.exp(safe))
    return lax.select(nan_delta, lax.add(x, y), lax.add(amax, tail))


def _heaviside(x, h):
    zero, one = _zeros(x), lax.full_like(x, 1)
    out = lax.select(lax.lt(x, zero), zero, lax.select(lax.gt(x, zero), one, h))
    return lax.select(_isnan(x), x, out)


def _bool_or_num(bool_fn, num_fn):
    return lambda x, y: bool_fn(x, y) if dtypes.is_bool(dtype_of(x)) else num_fn(x, y)


def _scale(c: float):
    return lambda x: lax.mul(x, lax.full_like(x, c))


def _absolute(x):
    dt = dtype_of(x)
    return x if _is_unsigned(x) or dtypes.is_bool(dt) else lax.abs(x)


def _conjugate(x):
    return lax.conj(x) if dtypes.is_complex(dtype_of(x)) else x


def _isinf(ax):
    # |z| of a complex z is infinite exactly when one of its parts is
    return lax.eq(ax, lax.full_like(ax, np.inf))


def _float_test(fn, int_answer: bool):
    """A floating-point predicate (isnan...); integers give the constant ``int_answer``."""
    return lambda x: _bool_full(x, int_answer) if _is_intlike(x) else fn(x)


def _logical(fn):
    """NumPy's logical ufuncs have loops for every dtype: nonzero means True."""
    def impl(*xs):
        return fn(*[x if dtypes.is_bool(dtype_of(x)) else lax.convert_element_type(
            x, dtypes.bool_) for x in xs])
    return impl


def _int_identity(fn):
    return lambda x: x if _is_intlike(x) else fn(x)


# ---------------------------------------------------------------------------------------------
# The ufuncs
# ---------------------------------------------------------------------------------------------

negative = _defufunc(np.negative, lax.neg, direct=True)
positive = _defufunc(np.positive, lambda x: x, direct=True)
absolute = abs = _defufunc(np.absolute, _absolute, direct=True)  # noqa: A001 - NumPy's alias
fabs = _defufunc(np.fabs, lax.abs)
sign = _defufunc(np.sign, lax.sign, direct=True)
exp = _defufunc(np.exp, lax.exp)
exp2 = _defufunc(np.exp2, lambda x: lax.pow(lax.full_like(x, 2), x))
expm1 = _defufunc(np.expm1, lax.expm1)
log = _defufunc(np.log, lax.log)
log2 = _defufunc(np.log2, lambda x: lax.div(lax.log(x), lax.full_like(x, math.log(2))))
log10 = _defufunc(np.log10, lambda x: lax.div(lax.log(x), lax.full_like(x, math.log(10))))
log1p = _defufunc(np.log1p, lax.log1p)
sqrt = _defufunc(np.sqrt, lax.sqrt)
cbrt = _defufunc(np.cbrt, lax.cbrt)
square = _defufunc(np.square, lambda x: lax.integer_pow(x, 2))
reciprocal = _defufunc(np.reciprocal, lambda x: lax.div(lax.full_like(x, 1), x))
sin = _defufunc(np.sin, lax.sin)
cos = _defufunc(np.cos, lax.cos)
tan = _defufunc(np.tan, lax.tan)
arcsin = asin = _defufunc(np.arcsin, lax.asin)
arccos = acos = _defufunc(np.arccos, lax.acos)
arctan = atan = _defufunc(np.arctan, lax.atan)
sinh = _defufunc(np.sinh, lax.sinh)
cosh = _defufunc(np.cosh, lax.cosh)
tanh = _defufunc(np.tanh, lax.tanh)
arcsinh = asinh = _defufunc(np.arcsinh, lax.asinh)
arccosh = acosh = _defufunc(np.arccosh, lax.acosh)
arctanh = atanh = _defufunc(np.arctanh, lax.atanh)
floor = _defufunc(np.floor, _int_identity(lax.floor), direct=True)
ceil = _defufunc(np.ceil, _int_identity(lax.ceil), direct=True)
trunc = _defufunc(np.trunc, _trunc, direct=True)
rint = _defufunc(np.rint, _int_identity(lax.round), direct=True)
isfinite = _defufunc(np.isfinite, _float_test(lax.is_finite, True))
isnan = _defufunc(np.isnan, _float_test(_isnan, False))
isinf = _defufunc(np.isinf, _float_test(lambda x: _isinf(lax.abs(x)),
                                        False))
signbit = _defufunc(np.signbit, _signbit)
deg2rad = radians = _defufunc(np.deg2rad, _scale(math.pi / 180))
rad2deg = degrees = _defufunc(np.rad2deg, _scale(180 / math.pi))
logical_not = _defufunc(np.logical_not, _logical(_not), direct=True)
invert = bitwise_not = bitwise_invert = _defufunc(np.invert, _not, direct=True)
conjugate = conj = _defufunc(np.conjugate, _conjugate)

add = _defufunc(np.add, _bool_or_num(_or, lax.add), direct=True)
subtract = _defufunc(np.subtract, lax.sub, direct=True)
multiply = _defufunc(np.multiply, _bool_or_num(_and, lax.mul), direct=True)
divide = true_divide = _defufunc(np.divide, lax.div)
floor_divide = _defufunc(np.floor_divide, _floor_divide, direct=True)
remainder = mod = _defufunc(np.remainder, _remainder, direct=True)
fmod = _defufunc(np.fmod, lax.rem, direct=True)
float_power = _defufunc(np.float_power, lax.pow)
maximum = _defufunc(np.maximum, lax.max, direct=True)
minimum = _defufunc(np.minimum, lax.min, direct=True)
fmax = _defufunc(np.fmax, _fmax_fmin(lax.max, lax.gt), direct=True)
fmin = _defufunc(np.fmin, _fmax_fmin(lax.min, lax.lt), direct=True)
arctan2 = atan2 = _defufunc(np.arctan2, lax.atan2)
hypot = _defufunc(np.hypot, _hypot)
logaddexp = _defufunc(np.logaddexp, _logaddexp)
logaddexp2 = _defufunc(np.logaddexp2, functools.partial(_logaddexp, base2=True))
copysign = _defufunc(np.copysign, _copysign)
heaviside = _defufunc(np.heaviside, _heaviside)
equal = _defufunc(np.equal, lax.eq, direct=True)
not_equal = _defufunc(np.not_equal, lax.ne, direct=True)
less = _defufunc(np.less, lax.lt, direct=True)
less_equal = _defufunc(np.less_equal, lax.le, direct=True)
greater = _defufunc(np.greater, lax.gt, direct=True)
greater_equal = _defufunc(np.greater_equal, lax.ge, direct=True)
logical_and = _defufunc(np.logical_and, _logical(_and), direct=True)
logical_or = _defufunc(np.logical_or, _logical(_or), direct=True)
logical_xor = _defufunc(np.logical_xor, _logical(lax.xor), direct=True)
bitwise_and = _defufunc(np.bitwise_and, _and, direct=True)
bitwise_or = _defufunc(np.bitwise_or, _or, direct=True)
bitwise_xor = _defufunc(np.bitwise_xor, lax.xor, direct=True)
left_shift = bitwise_left_shift = _defufunc(np.left_shift, _left_shift, direct=True)
right_shift = bitwise_right_shift = _defufunc(np.right_shift, _right_shift, direct=True)
_power_ufunc = _defufunc(np.power, _power)


def power(x1, x2, /):
    """``numpy.power``; a Python int exponent becomes one exact ``integer_pow``."""
    if type(x2) is int and not is_py_scalar(x1):
        return _python_int_power(x1, x2)
    return _power_ufunc(x1, x2)


pow = power  # noqa: A001 - NumPy's alias


def _scalars(*outs):
    return tuple(o[()] if type(o) is np.ndarray and not o.shape else o for o in outs)


def divmod(x1, x2, /):  # noqa: A001 - NumPy's name
    """``numpy.divmod``: ``(floor_divide(x1, x2), remainder(x1, x2))``."""
    a, b = _operands(np.divmod, (x1, x2))
    return _scalars(_floor_divide(a, b), _remainder(a, b))


def modf(x, /):
    """``numpy.modf``: fractional and integral parts, both with the sign of ``x``."""
    (x,) = _operands(np.modf, (x,))
    whole = _trunc(x)
    return _scalars(lax.sub(x, whole), whole)




# ---------------------------------------------------------------------------------------------
# Elementwise functions that are not ufuncs
# ---------------------------------------------------------------------------------------------


def _scalar_result(fn: Callable) -> Callable:
    """NumPy builds these from ufuncs, so 0-d results come back as NumPy scalars."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        out = fn(*args, **kwargs)
        return out[()] if type(out) is np.ndarray and not out.shape else out
    return wrapper



@functools.cache
def _numpy_dtype(fn: Callable, dtype: np.dtype) -> np.dtype:
    """The dtype NumPy's ``fn`` gives an array of ``dtype`` (for functions that are not ufuncs,
    so have no ``resolve_dtypes``)."""
    return np.asarray(fn(np.ones(1, dtype))).dtype


def _unary_array(x):
    x = asarray(x)
    return x, dtype_of(x)


@_scalar_result
def round(a, decimals: int = 0, out=None):  # noqa: A001 - NumPy's name
    """``numpy.round``: halves to even, ``decimals`` digits (negative: tens, hundreds...)."""
    check_unsupported("round", out=out)
    a, dt = _unary_array(a)
    if dtypes.is_complex(dt):  # each part on its own, as NumPy does
        return lax.complex(round(lax.real(a), decimals), round(lax.imag(a), decimals))
    if dtypes.is_integer(dt) or dtypes.is_bool(dt):
        if decimals >= 0:
            return a
        return cast(round(cast(a, dtypes.float64), decimals), dt)
    if decimals == 0:
        return lax.round(a)
    factor = lax.full_like(a, 10.0 ** (decimals if decimals > 0 else -decimals))
    if decimals > 0:
        return lax.div(lax.round(lax.mul(a, factor)), factor)
    return lax.mul(lax.round(lax.div(a, factor)), factor)


around = round


@_scalar_result
def fix(x, out=None):
    """``numpy.fix``: round toward zero (integers are returned unchanged)."""
    check_unsupported("fix", out=out)
    return trunc(x)


@_scalar_result
def sinc(x):
    """``numpy.sinc``: ``sin(pi x) / (pi x)``, 1 at 0 (with a finite derivative there)."""
    x, dt = _unary_array(x)
    x = cast(x, _numpy_dtype(np.sinc, dt))
    zero = _zeros(x)
    is_zero = lax.eq(x, zero)
    pix = lax.mul(lax.select(is_zero, lax.full_like(x, 1), x), lax.full_like(x, math.pi))
    # at 0 the value is the Maclaurin series 1 - (pi x)^2/6 + (pi x)^4/120 evaluated at x, so
    # derivatives there (of every order up to 5) are right: sinc''(0) = -pi^2/3
    def c(v):
        return lax.full_like(x, v)

    u = lax.mul(lax.mul(x, c(math.pi)), lax.mul(x, c(math.pi)))
    taylor = lax.add(c(1), lax.mul(u, lax.add(c(-1 / 6), lax.mul(u, c(1 / 120)))))
    return lax.select(is_zero, taylor, lax.div(lax.sin(pix), pix))


@_scalar_result
def angle(z, deg: bool = False):
    """``numpy.angle``: the argument of complex values (pi for negative reals, else 0)."""
    z, dt = _unary_array(z)
    if dtypes.is_complex(dt):
        out = lax.atan2(lax.imag(z), lax.real(z))
    else:
        z = cast(z, _numpy_dtype(np.angle, dt))
        out = lax.atan2(_zeros(z), z)
    return lax.mul(out, lax.full_like(out, 180 / math.pi)) if deg else out


def real(val):
    """``numpy.real`` (the array itself for real dtypes)."""
    val, dt = _unary_array(val)
    return lax.real(val) if dtypes.is_complex(dt) else val


def imag(val):
    """``numpy.imag`` (zeros for real dtypes)."""
    val, dt = _unary_array(val)
    return lax.imag(val) if dtypes.is_complex(dt) else lax.full_like(val, 0)


@_scalar_result
def isreal(x):
    """``numpy.isreal`` (all True for real dtypes)."""
    x, dt = _unary_array(x)
    return _bool_full(x, True) if not dtypes.is_complex(dt) else lax.eq(
        lax.imag(x), lax.full_like(lax.imag(x), 0))


@_scalar_result
def iscomplex(x):
    """``numpy.iscomplex`` (all False for real dtypes)."""
    x, dt = _unary_array(x)
    return _bool_full(x, False) if not dtypes.is_complex(dt) else lax.ne(
        lax.imag(x), lax.full_like(lax.imag(x), 0))


@_scalar_result
def isposinf(x, out=None):
    """``numpy.isposinf``."""
    check_unsupported("isposinf", out=out)
    x, dt = _unary_array(x)
    return _bool_full(x, False) if _is_intlike(x) else lax.eq(x, lax.full_like(x, np.inf))


@_scalar_result
def isneginf(x, out=None):
    """``numpy.isneginf``."""
    check_unsupported("isneginf", out=out)
    x, dt = _unary_array(x)
    return _bool_full(x, False) if _is_intlike(x) else lax.eq(x, lax.full_like(x, -np.inf))


@_scalar_result
def nan_to_num(x, copy: bool = True, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None):
    """``numpy.nan_to_num``: NaN to ``nan``, infinities to the dtype's extremes (or given)."""
    x, dt = _unary_array(x)
    if not dtypes.is_inexact(dt):
        return x
    if dtypes.is_complex(dt):  # each part on its own, as NumPy does
        parts = [nan_to_num(p, copy, nan, posinf, neginf) for p in (lax.real(x), lax.imag(x))]
        return lax.complex(*parts)
    info = np.finfo(dt)
    posinf = info.max if posinf is None else posinf
    neginf = info.min if neginf is None else neginf
    out = lax.select(_isnan(x), lax.full_like(x, nan), x)
    out = lax.select(lax.eq(x, lax.full_like(x, np.inf)), lax.full_like(x, posinf), out)
    return lax.select(lax.eq(x, lax.full_like(x, -np.inf)), lax.full_like(x, neginf), out)


def where(condition, x=None, y=None, /):
    """``numpy.where(condition, x, y)``: ``x`` where ``condition`` else ``y``.

    The one-argument form (``nonzero``) is not supported: its result shape depends on data."""
    if x is None or y is None:
        if x is None and y is None:
            raise ValueError(
                "functrace.numpy.where needs three arguments: where(condition) returns the "
                "indices of nonzero entries, whose number depends on the data, so it has no "
                "static shape. Use where(condition, x, y) instead.")
        raise ValueError("either both or neither of x and y should be given")
    dt = dtypes.result_type(*[v if is_py_scalar(v) else asarray(v) for v in (x, y)])
    c = asarray(condition)
    if dtype_of(c) != dtypes.bool_:
        c = lax.convert_element_type(c, dtypes.bool_)
    xs = [c] + [cast(v, dt) for v in (x, y)]
    shape = broadcast_shapes(*[core.get_aval(v).shape for v in xs])
    c, xv, yv = [_bcast(v, shape) for v in xs]
    return lax.select(c, xv, yv)


def _bcast(x, shape):
    xs = core.get_aval(x).shape
    if xs == shape:
        return x
    lead = len(shape) - len(xs)
    return lax.broadcast_in_dim(x, shape, tuple(range(lead, len(shape))))


_NO_VALUE = object()


def clip(a, a_min=_NO_VALUE, a_max=_NO_VALUE, out=None, *, min=_NO_VALUE,  # noqa: A002
         max=_NO_VALUE):  # noqa: A002
    """``numpy.clip``: ``minimum(maximum(a, a_min), a_max)``; either bound may be None."""
    check_unsupported("clip", out=out)
    lo = min if a_min is _NO_VALUE else a_min
    hi = max if a_max is _NO_VALUE else a_max
    lo = None if lo is _NO_VALUE else lo
    hi = None if hi is _NO_VALUE else hi
    if lo is None and hi is None:
        raise ValueError("One of max or min must be given")
    if lo is not None:
        a = maximum(a, lo)
    if hi is not None:
        a = minimum(a, hi)
    return a


@_scalar_result
def isclose(a, b, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False):
    """``numpy.isclose``: ``|a - b| <= atol + rtol * |b|`` (infinities equal only to
    themselves)."""
    a, b = asarray(a), asarray(b)
    dt = dtypes.result_type(a, b)
    if not dtypes.is_inexact(dt):
        dt = dtypes.float64
    a, b = _bcast_all(cast(a, dt), cast(b, dt))
    diff = lax.abs(lax.sub(a, b))  # real, also for complex operands
    abs_b = lax.abs(b)
    tol = lax.add(lax.full_like(abs_b, atol), lax.mul(lax.full_like(abs_b, rtol), abs_b))
    if dtypes.is_complex(dt):  # finite: both parts finite
        finite = _and(_and(lax.is_finite(lax.real(a)), lax.is_finite(lax.imag(a))),
                      _and(lax.is_finite(lax.real(b)), lax.is_finite(lax.imag(b))))
    else:
        finite = _and(lax.is_finite(a), lax.is_finite(b))
    close = _or(_and(finite, lax.le(diff, tol)), lax.eq(a, b))
    if equal_nan:
        close = _or(close, _and(_isnan(a), _isnan(b)))
    return close


def _bcast_all(*xs):
    shape = broadcast_shapes(*[core.get_aval(v).shape for v in xs])
    return [_bcast(v, shape) for v in xs]


__all__ = sorted(name for name, value in globals().items()
                 if not name.startswith("_") and callable(value)
                 and getattr(value, "__module__", None) == __name__)
