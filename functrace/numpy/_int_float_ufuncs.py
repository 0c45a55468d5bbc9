"""Integer and floating-point ufuncs written with functrace.numpy and lax, so they trace,
differentiate and vectorise: ``gcd``, ``lcm``, ``frexp``, ``nextafter``, ``spacing``, ``i0``.
"""

from __future__ import annotations

import functools

import numpy as np

from .. import dtypes, lax
from . import _ufuncs as u
from ._base import (
    asarray,
    aval_of,
    cast,
    dtype_of,
    scalarize,
)

__all__ = ["gcd", "lcm", "frexp", "nextafter", "spacing", "i0"]

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
