"""Differences and sampled functions: ``gradient``, ``ediff1d``, ``vander``, ``piecewise``,
``unwrap``.
"""

from __future__ import annotations

import operator

import numpy as np

from .. import dtypes, lax
from ..core import Tracer
from . import _ufuncs as u
from ._base import (
    asarray,
    aval_of,
    cast,
    dtype_of,
    normalize_axes,
    normalize_axis,
    scalarize,
)
from ._reductions import diff
from ._shape import (
    broadcast_to,
    concatenate,
    flip,
    ravel,
    reshape,
    stack,
    take_slice,
)

__all__ = ["gradient", "ediff1d", "vander", "piecewise", "unwrap"]

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
