"""Less common numerical NumPy/JAX-numpy functions, written with functrace.numpy and lax so
they trace, differentiate and vectorise: ``gcd``/``lcm``, ``frexp``, ``nextafter``,
``spacing``, ``i0``, ``gradient``, ``ediff1d``, ``vander``, ``piecewise``, ``unwrap``, the
``poly*`` family, the NaN-ignoring quantiles and ``nancumprod``.
"""

from __future__ import annotations

import functools
import operator

import numpy as np

from .. import dtypes, lax
from ..core import Tracer
from . import _ufuncs as u
from ._base import (
    asarray,
    aval_of,
    cast,
    check_unsupported,
    dtype_of,
    normalize_axes,
    normalize_axis,
    scalarize,
)
from ._indexing import _concrete_or_raise, getitem, take_along_axis
from ._reductions import _prepare, _quantile, _static_q, _weak_or_array, _without_nan, cumprod, diff
from ._reductions import sum as _sum
from ._shape import (
    atleast_1d,
    broadcast_to,
    concatenate,
    expand_dims,
    flip,
    ravel,
    reshape,
    stack,
    take_slice,
)

__all__ = ["gcd", "lcm", "frexp", "nextafter", "spacing", "i0", "gradient", "ediff1d",
           "vander", "piecewise", "unwrap", "polyadd", "polysub", "polymul", "polyder",
           "polyint", "polydiv", "polyfit", "poly", "roots", "nanmedian", "nanquantile",
           "nanpercentile", "nancumprod"]


def _scalars(*outs):
    return tuple(scalarize(o) for o in outs)


# ---------------------------------------------------------------------------------------------
# Integer and floating-point ufuncs
# ---------------------------------------------------------------------------------------------


def _gcd_arrays(a, b):
    from ..control_flow import while_loop
    a, b = u.absolute(a), u.absolute(b)

    def step(carry):
        x, y = carry
        zero = u.equal(y, 0)
        safe = lax.select(zero, lax.full_like(y, 1), y)
        return lax.select(zero, x, y), lax.select(zero, y, lax.rem(x, safe))

    if aval_of(a).size == 0:
        return a
    return while_loop(lambda c: _any_nonzero(c[1]), step, (a, b))[0]


def _any_nonzero(x):
    from ._reductions import any as any_
    return any_(u.not_equal(x, 0))


def gcd(x1, x2, /):
    """``numpy.gcd``: greatest common divisor of integers (non-negative; ``gcd(0, 0) = 0``)."""
    a, b = u._operands(np.gcd, (x1, x2))
    return scalarize(_gcd_arrays(a, b))


def lcm(x1, x2, /):
    """``numpy.lcm``: least common multiple of integers (0 if either is 0)."""
    a, b = u._operands(np.lcm, (x1, x2))
    g = _gcd_arrays(a, b)
    zero = u.equal(g, 0)
    safe = lax.select(zero, lax.full_like(g, 1), g)
    out = u.absolute(lax.mul(lax.div(a, safe), b))
    return scalarize(lax.select(zero, lax.full_like(g, 0), out))


def _pow2(e, dt):
    """``2.0 ** e`` for integer-valued float ``e`` (exact)."""
    return lax.pow(lax.full_like(e, 2.0), e) if dtype_of(e) == dt else lax.pow(
        lax.full(aval_of(e).shape, 2.0, dt), cast(e, dt))


def _scale_pow2(x, e):
    """``x * 2 ** e`` in two halves, so that neither power overflows (subnormal ``x``)."""
    half = lax.floor(lax.div(e, lax.full_like(e, 2.0)))
    return lax.mul(lax.mul(x, _pow2(half, dtype_of(x))), _pow2(lax.sub(e, half), dtype_of(x)))


def _frexp_parts(x):
    """Mantissa in ``[0.5, 1)`` (signed like ``x``) and float exponent of finite nonzero
    ``x``; elsewhere mantissa ``x`` and exponent 0. The exponent carries no derivative."""
    xs = lax.stop_gradient(x)
    ok = u.logical_and(lax.is_finite(xs), u.not_equal(xs, 0))
    mag = lax.select(ok, lax.abs(xs), lax.full_like(xs, 1))
    e = lax.add(lax.floor(lax.div(lax.log(mag), lax.full_like(mag, np.log(2)))),
                lax.full_like(mag, 1))
    m = _scale_pow2(mag, lax.neg(e))
    # log rounding can be off by one near powers of two
    for _ in range(2):
        big = lax.ge(m, lax.full_like(m, 1))
        small = lax.lt(m, lax.full_like(m, 0.5))
        e = lax.select(big, lax.add(e, lax.full_like(e, 1)),
                       lax.select(small, lax.sub(e, lax.full_like(e, 1)), e))
        m = lax.select(big, lax.mul(m, lax.full_like(m, 0.5)),
                       lax.select(small, lax.mul(m, lax.full_like(m, 2)), m))
    e = lax.select(ok, e, lax.full_like(e, 0))
    mant = lax.select(ok, _scale_pow2(x, lax.neg(e)), x)
    return mant, e, ok


def frexp(x, /):
    """``numpy.frexp``: ``(mantissa, exponent)`` with ``x = mantissa * 2**exponent``,
    ``0.5 <= |mantissa| < 1`` (exponent int32)."""
    fdt, _, idt = np.frexp.resolve_dtypes((dtype_of(asarray(x)), None, None))
    x = cast(asarray(x), fdt)
    mant, e, _ = _frexp_parts(x)
    return _scalars(mant, cast(e, idt))


def _nextafter(x, y):
    dt = dtype_of(x)
    info = np.finfo(dt)
    x, y = lax.stop_gradient(x), lax.stop_gradient(y)
    tiny = lax.full_like(x, info.smallest_subnormal)
    mant, e, _ = _frexp_parts(x)
    digits = info.nmant + 1
    ulp = lax.max(_pow2(lax.sub(e, lax.full_like(e, digits)), dt), tiny)
    ulp_below = lax.max(_pow2(lax.sub(e, lax.full_like(e, digits + 1)), dt), tiny)
    toward_zero = lax.ne(lax.gt(y, x), lax.gt(x, lax.full_like(x, 0)))
    at_power = lax.eq(lax.abs(mant), lax.full_like(mant, 0.5))
    step = lax.select(toward_zero, lax.select(at_power, ulp_below, ulp), ulp)
    ax = lax.abs(x)
    mag = lax.select(toward_zero, lax.sub(ax, step), lax.add(ax, step))
    out = u._copysign(mag, x)
    out = lax.select(lax.eq(ax, lax.full_like(x, np.inf)),
                     u._copysign(lax.full_like(x, info.max), x), out)
    out = lax.select(lax.eq(x, lax.full_like(x, 0)),
                     lax.select(lax.gt(y, x), tiny, lax.neg(tiny)), out)
    out = lax.select(lax.eq(x, y), y, out)
    return lax.select(u._isnan(x), x, lax.select(u._isnan(y), y, out))


def nextafter(x1, x2, /):
    """``numpy.nextafter``: the next representable float after ``x1`` towards ``x2``."""
    x, y = u._operands(np.nextafter, (x1, x2))
    return scalarize(_nextafter(x, y))


def spacing(x, /):
    """``numpy.spacing``: distance from ``x`` to the next float away from zero (negative for
    negative ``x``; NaN for infinities)."""
    (x,) = u._operands(np.spacing, (x,))
    x = lax.stop_gradient(x)
    infinite = lax.eq(lax.abs(x), lax.full_like(x, np.inf))
    x = lax.select(infinite, lax.full_like(x, 0), x)  # (avoids inf - inf warnings)
    away = lax.select(lax.lt(x, lax.full_like(x, 0)), lax.full_like(x, -np.inf),
                      lax.full_like(x, np.inf))
    out = lax.sub(_nextafter(x, away), x)
    return scalarize(lax.select(infinite, lax.full_like(x, np.nan), out))


@functools.cache
def _i0_coefficients() -> tuple[np.ndarray, np.ndarray]:
    # Cephes' Chebyshev coefficients for I0 on [0, 8] and (8, inf), as NumPy ships them
    from numpy.lib import _function_base_impl as impl
    return np.asarray(impl._i0A, np.float64), np.asarray(impl._i0B, np.float64)


def _chbevl(t, coefficients):
    b0, b1, b2 = lax.full_like(t, coefficients[0]), lax.full_like(t, 0), lax.full_like(t, 0)
    for c in coefficients[1:]:
        b2, b1 = b1, b0
        b0 = lax.add(lax.sub(lax.mul(t, b1), b2), lax.full_like(t, c))
    return lax.mul(lax.sub(b0, b2), lax.full_like(t, 0.5))


def i0(x):
    """``numpy.i0``: the modified Bessel function of the first kind, order 0 (differentiable:
    the derivative is ``i1``)."""
    x = asarray(x)
    dt = dtypes.to_inexact(dtype_of(x))
    x = cast(x, dt)
    a_coef, b_coef = _i0_coefficients()
    ax = lax.abs(x)
    near = lax.le(ax, lax.full_like(ax, 8.0))
    small = lax.select(near, ax, lax.full_like(ax, 0))
    large = lax.select(near, lax.full_like(ax, 8.0), ax)
    inner = lax.mul(lax.exp(small), _chbevl(lax.sub(lax.mul(small, lax.full_like(small, 0.5)),
                                                      lax.full_like(small, 2.0)), a_coef))
    outer = lax.div(lax.mul(lax.exp(large), _chbevl(
        lax.sub(lax.div(lax.full_like(large, 32.0), large), lax.full_like(large, 2.0)),
        b_coef)), lax.sqrt(large))
    return scalarize(lax.select(near, inner, outer))


# ---------------------------------------------------------------------------------------------
# Differences and sampled functions
# ---------------------------------------------------------------------------------------------


def _gradient_axis(f, h, ax: int, edge_order: int):
    n = aval_of(f).shape[ax]

    def s(start, stop):
        return take_slice(f, ax, start % (n + 1) if start < 0 else start,
                          stop % (n + 1) if stop < 0 else stop)

    if np.ndim(h) == 0 and not (isinstance(h, Tracer) and h.aval.ndim):
        inner = u.divide(u.subtract(s(2, n), s(0, n - 2)), u.multiply(h, 2.0))
        if edge_order == 1:
            first = u.divide(u.subtract(s(1, 2), s(0, 1)), h)
            last = u.divide(u.subtract(s(n - 1, n), s(n - 2, n - 1)), h)
        else:
            first = u.divide(u.add(u.add(u.multiply(s(0, 1), -1.5), u.multiply(s(1, 2), 2.0)),
                                   u.multiply(s(2, 3), -0.5)), h)
            last = u.divide(u.add(u.add(u.multiply(s(n - 1, n), 1.5),
                                        u.multiply(s(n - 2, n - 1), -2.0)),
                                  u.multiply(s(n - 3, n - 2), 0.5)), h)
        return concatenate([first, inner, last], axis=ax)
    x = asarray(h)
    if aval_of(x).ndim != 1:
        raise ValueError("distances must be either scalars or 1d")
    if aval_of(x).shape[0] != n:
        raise ValueError("when 1d, distances must match the length of the corresponding "
                         "dimension")
    shape = [1] * aval_of(f).ndim
    shape[ax] = n - 1
    dx = reshape(diff(cast(x, dtypes.result_type(x, dtype_of(f)))), tuple(shape))

    def d(start, stop):
        return take_slice(dx, ax, start % n if start < 0 else start,
                          stop % n if stop < 0 else stop)

    def weighted(terms):
        out = None
        for w, v in terms:
            t = u.multiply(w, v)
            out = t if out is None else u.add(out, t)
        return out

    d1, d2 = d(0, n - 2), d(1, n - 1)
    inner = weighted([(u.negative(u.divide(d2, u.multiply(d1, u.add(d1, d2)))), s(0, n - 2)),
                      (u.divide(u.subtract(d2, d1), u.multiply(d1, d2)), s(1, n - 1)),
                      (u.divide(d1, u.multiply(d2, u.add(d1, d2))), s(2, n))])
    if edge_order == 1:
        first = u.divide(u.subtract(s(1, 2), s(0, 1)), d(0, 1))
        last = u.divide(u.subtract(s(n - 1, n), s(n - 2, n - 1)), d(n - 2, n - 1))
    else:
        a1, a2 = d(0, 1), d(1, 2)
        first = weighted([
            (u.negative(u.divide(u.add(u.multiply(a1, 2.0), a2), u.multiply(a1, u.add(a1, a2)))),
             s(0, 1)),
            (u.divide(u.add(a1, a2), u.multiply(a1, a2)), s(1, 2)),
            (u.negative(u.divide(a1, u.multiply(a2, u.add(a1, a2)))), s(2, 3))])
        b1, b2 = d(n - 3, n - 2), d(n - 2, n - 1)
        last = weighted([
            (u.divide(b2, u.multiply(b1, u.add(b1, b2))), s(n - 3, n - 2)),
            (u.negative(u.divide(u.add(b2, b1), u.multiply(b1, b2))), s(n - 2, n - 1)),
            (u.divide(u.add(u.multiply(b2, 2.0), b1), u.multiply(b2, u.add(b1, b2))),
             s(n - 1, n))])
    return concatenate([first, inner, last], axis=ax)


def gradient(f, *varargs, axis=None, edge_order=None):
    """``numpy.gradient``: central differences inside, one-sided (``edge_order`` 1 or 2) at
    the ends; spacings are scalars or coordinate arrays. One array for one axis, else a list
    (as in JAX)."""
    f = asarray(f)
    dt = dtypes.to_inexact(dtype_of(f))
    f = cast(f, dt)
    order = 1 if edge_order is None else operator.index(edge_order)
    if order not in (1, 2):
        raise ValueError("'edge_order' greater than 2 not supported")
    nd = aval_of(f).ndim
    axes = normalize_axes(axis, nd)
    if not axes:
        return []
    for ax in axes:
        if aval_of(f).shape[ax] < order + 1:
            raise ValueError("Shape of array too small to calculate a numerical gradient, at "
                             f"least (edge_order + 1) = {order + 1} elements are required.")
    if not varargs:
        spacings = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        spacings = list(varargs) * len(axes)
    elif len(varargs) == len(axes):
        spacings = list(varargs)
    else:
        raise TypeError("invalid number of arguments")
    outs = [_gradient_axis(f, h, ax, order) for ax, h in zip(axes, spacings)]
    return outs[0] if len(outs) == 1 else outs


def ediff1d(ary, to_end=None, to_begin=None):
    """``numpy.ediff1d``: differences of the flattened array, with optional pieces before and
    after (cast to the array's dtype)."""
    a = ravel(asarray(ary))
    n = aval_of(a).shape[0]
    parts = [u.subtract(take_slice(a, 0, min(1, n), n), take_slice(a, 0, 0, max(n - 1, 0)))]
    dt = dtype_of(parts[0])
    if to_begin is not None:
        parts.insert(0, cast(ravel(asarray(to_begin)), dt))
    if to_end is not None:
        parts.append(cast(ravel(asarray(to_end)), dt))
    return concatenate(parts) if len(parts) > 1 else parts[0]


def vander(x, N=None, increasing: bool = False):
    """``numpy.vander``: columns are powers of ``x`` (decreasing unless ``increasing``)."""
    x = asarray(x)
    if aval_of(x).ndim != 1:
        raise ValueError("x must be a one-dimensional array or sequence.")
    N = aval_of(x).shape[0] if N is None else operator.index(N)
    if N < 0:
        raise ValueError("N must be nonnegative")
    x = cast(x, dtypes.result_type(x, np.dtype(int)))
    if N == 0:
        return lax.full((aval_of(x).shape[0], 0), 0, dtype_of(x))
    cols = [lax.full_like(x, 1)]
    for _ in range(1, N):
        cols.append(lax.mul(cols[-1], x))
    out = stack(cols, axis=1)
    return out if increasing else flip(out, axis=1)


def piecewise(x, condlist, funclist, *args, **kw):
    """``numpy.piecewise``: where ``condlist[i]`` holds, ``funclist[i]`` (a callable applied
    to all of ``x``, or a constant); an extra last entry is the default; later conditions
    win. The result has ``x``'s dtype."""
    x = asarray(x)
    shape, dt = aval_of(x).shape, dtype_of(x)
    if isinstance(condlist, (bool, np.bool_)) or not isinstance(condlist, (list, tuple)) and (
            aval_of(asarray(condlist)).ndim == len(shape) and len(shape) != 0
            or aval_of(asarray(condlist)).ndim == 0):
        condlist = [condlist]
    nc, nf = len(condlist), len(funclist)
    if nf not in (nc, nc + 1):
        raise ValueError(f"with {nc} condition(s), either {nc} or {nc + 1} functions are "
                         f"expected")

    def value(fn):
        v = fn(x, *args, **kw) if callable(fn) else fn
        return broadcast_to(cast(asarray(v), dt), shape)

    y = value(funclist[nc]) if nf == nc + 1 else lax.full(shape, 0, dt)
    for cond, fn in zip(condlist, funclist):
        c = broadcast_to(cast(asarray(cond), dtypes.bool_), shape)
        y = lax.select(c, value(fn), y)
    return scalarize(y)


def unwrap(p, discont=None, axis: int = -1, *, period: float = 2 * np.pi):
    """``numpy.unwrap``: adds multiples of ``period`` so consecutive differences along
    ``axis`` stay within ``max(discont, period / 2)``."""
    p = asarray(p)
    ax = normalize_axis(axis, aval_of(p).ndim)
    n = aval_of(p).shape[ax]
    dt = dtypes.result_type(p, period)
    if not dtypes.is_inexact(dt) and not isinstance(period, int):
        dt = dtypes.float64
    p = cast(p, dt)
    if n == 0:
        return p
    dd = diff(p, axis=ax)
    integer = dtypes.is_integer(dt)
    high = period // 2 if integer else period / 2
    discont = high if discont is None else discont
    ddmod = u.subtract(u.remainder(u.add(dd, high), period), high)
    if not integer or period % 2 == 0:
        ddmod = u.where(u.logical_and(u.equal(ddmod, -high), u.greater(dd, 0)), high, ddmod)
    correction = u.where(u.less(u.absolute(dd), discont), 0, u.subtract(ddmod, dd))
    from ._reductions import cumsum
    rest = u.add(take_slice(p, ax, 1, n), cumsum(cast(correction, dt), axis=ax))
    return concatenate([take_slice(p, ax, 0, 1), cast(rest, dt)], axis=ax)


# ---------------------------------------------------------------------------------------------
# Polynomials (coefficients highest power first, as numpy.poly*)
# ---------------------------------------------------------------------------------------------


def _pad_front(p, n: int):
    k = aval_of(p).shape[0]
    if k == n:
        return p
    return concatenate([lax.full((n - k,), 0, dtype_of(p)), p])


def _poly_pair(a1, a2):
    a1, a2 = atleast_1d(asarray(a1)), atleast_1d(asarray(a2))
    n = max(aval_of(a1).shape[0], aval_of(a2).shape[0])
    return _pad_front(a1, n), _pad_front(a2, n)


def polyadd(a1, a2):
    """``numpy.polyadd``: the sum of two polynomials."""
    return u.add(*_poly_pair(a1, a2))


def polysub(a1, a2):
    """``numpy.polysub``: the difference of two polynomials."""
    return u.subtract(*_poly_pair(a1, a2))


def polymul(a1, a2, *, trim_leading_zeros: bool = False):
    """``numpy.polymul``: the product of two polynomials (``trim_leading_zeros`` needs
    concrete input, as in JAX)."""
    from ._functions import convolve
    a1, a2 = atleast_1d(asarray(a1)), atleast_1d(asarray(a2))
    if trim_leading_zeros:
        from ._extras import trim_zeros
        a1, a2 = trim_zeros(a1, "f"), trim_zeros(a2, "f")
    if aval_of(a1).shape[0] == 0 or aval_of(a2).shape[0] == 0:
        return lax.full((0,), 0, dtypes.result_type(a1, a2))
    return convolve(a1, a2)


def polyder(p, m: int = 1):
    """``numpy.polyder``: the ``m``-th derivative's coefficients."""
    m = operator.index(m)
    if m < 0:
        raise ValueError("Order of derivative must be positive (see polyint)")
    p = atleast_1d(asarray(p))
    for _ in range(m):
        n = aval_of(p).shape[0] - 1
        p = u.multiply(take_slice(p, 0, 0, max(n, 0)), np.arange(n, 0, -1))
    return p


def polyint(p, m: int = 1, k=None):
    """``numpy.polyint``: the ``m``-th antiderivative, with integration constants ``k``
    (default zeros)."""
    m = operator.index(m)
    if m < 0:
        raise ValueError("Order of integral must be positive (see polyder)")
    p = atleast_1d(asarray(p))
    if k is None:
        ks = [0] * m
    elif isinstance(k, (list, tuple)) or aval_of(asarray(k)).ndim == 1:
        ks = [getitem(asarray(k), i) for i in range(aval_of(asarray(k)).shape[0])]
        if len(ks) == 1 and m > 1:
            ks = ks * m
        if len(ks) < m:
            raise ValueError("k must be a scalar or a rank-1 array of length 1 or >m.")
    else:
        ks = [k] * m
    for i in range(m):
        q = u.divide(p, np.arange(aval_of(p).shape[0], 0, -1))
        p = concatenate([q, reshape(cast(asarray(ks[i]), dtype_of(q)), (1,))])
    return p


def polydiv(u_, v, *, trim_leading_zeros: bool = False):
    """``numpy.polydiv``: quotient and remainder. As in JAX the remainder keeps ``u``'s length
    (leading zeros included) unless ``trim_leading_zeros`` (concrete input)."""
    num, den = atleast_1d(asarray(u_)), atleast_1d(asarray(v))
    dt = dtypes.result_type(num, den, 1.0)
    num, den = cast(num, dt), cast(den, dt)
    m, n = aval_of(num).shape[0] - 1, aval_of(den).shape[0] - 1
    scale = u.divide(1.0, getitem(den, 0))
    coeffs = []
    rem = num
    for k in range(m - n + 1):
        d = u.multiply(scale, getitem(rem, k))
        coeffs.append(d)
        update = concatenate([lax.full((k,), 0, dt), u.multiply(d, den),
                              lax.full((m - n - k,), 0, dt)])
        rem = u.subtract(rem, update)
    q = stack(coeffs) if coeffs else lax.full((1,), 0, dt)
    if trim_leading_zeros:
        value = _concrete_or_raise(rem, "polydiv(trim_leading_zeros=True)")
        start = 0
        while start < value.shape[0] - 1 and np.allclose(value[start], 0, rtol=1e-14):
            start += 1
        rem = take_slice(rem, 0, start, value.shape[0])
    return q, rem


def _traced(*xs) -> bool:
    return any(isinstance(x, Tracer) for x in xs)


def _lstsq_mgs(a, b):
    """Least squares ``a c = b`` (``a`` tall, full column rank) by modified Gram-Schmidt on
    the columns of ``[a | b]``, unrolled over the (few) columns: traceable."""
    k = aval_of(a).shape[1]
    cols = [getitem(a, (slice(None), j)) for j in range(k)]
    rhs = b
    r = [[None] * k for _ in range(k)]
    qtb = []
    for j in range(k):
        norm = u.sqrt(_sum(u.multiply(cols[j], cols[j])))
        q = u.divide(cols[j], norm)
        r[j][j] = norm
        for l in range(j + 1, k):  # noqa: E741
            r[j][l] = _sum(u.multiply(q, cols[l]))
            cols[l] = u.subtract(cols[l], u.multiply(q, r[j][l]))
        proj = _sum(u.multiply(expand_dims(q, -1) if aval_of(rhs).ndim == 2 else q, rhs),
                    axis=0)
        qtb.append(proj)
        rhs = u.subtract(rhs, u.multiply(expand_dims(q, -1), proj) if aval_of(rhs).ndim == 2
                         else u.multiply(q, proj))
    coef = [None] * k
    for j in reversed(range(k)):
        acc = qtb[j]
        for l in range(j + 1, k):  # noqa: E741
            acc = u.subtract(acc, u.multiply(r[j][l], coef[l]))
        coef[j] = u.divide(acc, r[j][j])
    return stack(coef)


def polyfit(x, y, deg: int, rcond=None, full: bool = False, w=None, cov=False):
    """``numpy.polyfit``: least-squares polynomial coefficients (highest first). Concrete
    input goes to NumPy; traced input is solved by a QR (Gram-Schmidt) of the scaled
    Vandermonde matrix (``full``/``cov`` need concrete input)."""
    deg = operator.index(deg)
    if deg < 0:
        raise ValueError("expected deg >= 0")
    if not _traced(x, y, w):
        return np.polyfit(np.asarray(x), np.asarray(y), deg, rcond, full,
                          None if w is None else np.asarray(w), cov)
    if full or cov:
        raise NotImplementedError("functrace.numpy.polyfit: full=True and cov=True need "
                                  "concrete (non-traced) input")
    x, y = asarray(x), asarray(y)
    dt = dtypes.result_type(x, y, 1.0)
    x, y = cast(x, dt), cast(y, dt)
    if aval_of(x).ndim != 1 or aval_of(x).shape[0] == 0:
        raise TypeError("expected non-empty vector for x")
    if aval_of(y).ndim not in (1, 2) or aval_of(y).shape[0] != aval_of(x).shape[0]:
        raise TypeError("expected x and y to have same length")
    lhs = vander(x, deg + 1)
    rhs = y
    if w is not None:
        w = cast(asarray(w), dt)
        lhs = u.multiply(lhs, expand_dims(w, -1))
        rhs = u.multiply(rhs, expand_dims(w, -1) if aval_of(rhs).ndim == 2 else w)
    scale = u.sqrt(_sum(u.multiply(lhs, lhs), axis=0))
    c = _lstsq_mgs(u.divide(lhs, scale), rhs)
    return u.divide(c, expand_dims(scale, -1) if aval_of(c).ndim == 2 else scale)


def poly(seq_of_zeros):
    """``numpy.poly``: coefficients of the monic polynomial with the given (real) roots; a
    square matrix (its characteristic polynomial) needs concrete input."""
    z = atleast_1d(asarray(seq_of_zeros))
    shape = aval_of(z).shape
    if len(shape) == 2 and shape[0] == shape[1] and shape[0] != 0:
        return np.poly(_concrete_or_raise(z, "poly of a matrix"))
    if len(shape) != 1:
        raise ValueError("input must be 1d or non-empty square 2d array.")
    dt = dtypes.to_inexact(dtype_of(z))
    z = cast(z, dt)
    a = np.ones(1, dt)
    for i in range(shape[0]):
        zero = getitem(z, i)
        a = u.subtract(concatenate([a, np.zeros(1, dt)]),
                       u.multiply(zero, concatenate([np.zeros(1, dt), a])))
    return a if shape[0] else np.float64(1.0)


def roots(p, *, strip_zeros: bool = True):
    """``numpy.roots`` of concretely known coefficients (complex roots come back complex)."""
    return np.roots(_concrete_or_raise(p, "roots (needs an eigenvalue solver)"))


# ---------------------------------------------------------------------------------------------
# NaN-ignoring order statistics and products
# ---------------------------------------------------------------------------------------------


def _nan_quantile(a, q, axis, keepdims: bool, percent: bool, method: str):
    if method != "linear":
        raise NotImplementedError("functrace.numpy.nanquantile supports method='linear' only")
    q = _static_q(q)
    qv = np.asarray(q, np.float64) / (100.0 if percent else 1.0)
    a = asarray(a)
    if not dtypes.is_inexact(dtype_of(a)):
        return _quantile(a, qv, _weak_or_array(q), axis, keepdims)
    if np.any((qv < 0) | (qv > 1)):
        raise ValueError("Quantiles must be in the range [0, 1]")
    a, aval, axes = _prepare(a, axis)
    kept = tuple(i for i in range(aval.ndim) if i not in axes)
    kept_shape = tuple(aval.shape[i] for i in kept)
    n = int(np.prod([aval.shape[i] for i in axes]))
    x = lax.reshape(lax.transpose(a, kept + axes), kept_shape + (n,))
    x = lax.sort(x, dimension=len(kept))  # NaNs last
    count = _sum(u.logical_not(u.isnan(x)), axis=-1)
    weak = type(_weak_or_array(q)) in (int, float)
    last = u.maximum(u.subtract(count, 1), 0)

    def order_stat(k):
        return reshape(take_along_axis(x, expand_dims(k, -1), -1), kept_shape)

    outs = []
    for qi in qv.reshape(-1):
        pos = u.multiply(float(qi), cast(last, dtypes.float64))
        lo = u.floor(pos)
        frac = u.subtract(pos, lo)
        lo_i = cast(lo, dtypes.int64)
        vlo, vhi = order_stat(lo_i), order_stat(u.minimum(u.add(lo_i, 1), last))
        gap = u.subtract(vhi, vlo)
        t = cast(frac, dtype_of(x) if weak else dtypes.float64)
        val = u.where(u.less(frac, 0.5), u.add(vlo, u.multiply(gap, t)),
                      u.subtract(vhi, u.multiply(gap, u.subtract(1, t))))
        outs.append(u.where(u.equal(count, 0), np.nan, val))
    result = reshape(stack(outs), qv.shape + kept_shape)
    if keepdims:
        result = reshape(result, qv.shape + tuple(1 if i in axes else d
                                                  for i, d in enumerate(aval.shape)))
    return scalarize(result)


def nanquantile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                keepdims=False, *, weights=None, interpolation=None):
    """``numpy.nanquantile`` (linear method, static ``q``): quantiles of the non-NaN entries
    (NaN where there are none)."""
    check_unsupported("nanquantile", out=out, weights=weights, interpolation=interpolation)
    return _nan_quantile(a, q, axis, keepdims, False, method)


def nanpercentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                  keepdims=False, *, weights=None, interpolation=None):
    """``numpy.nanpercentile``: ``nanquantile`` with ``q`` in percent."""
    check_unsupported("nanpercentile", out=out, weights=weights, interpolation=interpolation)
    return _nan_quantile(a, q, axis, keepdims, True, method)


def nanmedian(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """``numpy.nanmedian``: the median of the non-NaN entries."""
    check_unsupported("nanmedian", out=out)
    return _nan_quantile(a, 0.5, axis, keepdims, False, "linear")


def nancumprod(a, axis=None, dtype=None, out=None):
    """``numpy.nancumprod``: NaNs count as one."""
    x, _ = _without_nan(a, 1)
    return cumprod(x, axis, dtype, out)
