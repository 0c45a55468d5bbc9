"""Assorted NumPy functions composed from the rest of functrace.numpy: select, interp,
convolve/correlate, polyval, trapezoid, cov/corrcoef, isin, digitize, ldexp, delete,
unravel_index and ravel_multi_index.
"""

from __future__ import annotations

import math
import operator

import numpy as np

from .. import dtypes, lax
from ..core import Tracer
from . import _ufuncs as u
from ._base import asarray, aval_of, cast, dtype_of, normalize_axis, scalarize
from ._dot import matmul
from ._indexing import getitem, take
from ._reductions import any as _any
from ._reductions import diff, mean
from ._reductions import sum as _sum
from ._shape import atleast_2d, concatenate, diag, flip, ravel, reshape, squeeze
from ._shape import transpose as _transpose
from ._sorting import searchsorted

__all__ = ["select", "interp", "convolve", "correlate", "polyval", "trapezoid", "cov",
           "corrcoef", "isin", "digitize", "ldexp", "delete", "unravel_index",
           "ravel_multi_index"]


def select(condlist, choicelist, default=0):
    """``numpy.select``: the choice of the first true condition, else ``default``."""
    if len(condlist) != len(choicelist):
        raise ValueError("list of cases must be same length as list of conditions")
    if not choicelist:
        raise ValueError("select with an empty condition list is not possible")
    conds = [asarray(c) for c in condlist]
    for i, c in enumerate(conds):
        if dtype_of(c) != dtypes.bool_:
            raise TypeError(f"invalid entry {i} in condlist: should be boolean ndarray")
    choices = [c if type(c) in (int, float, bool, complex) else asarray(c) for c in choicelist]
    dt = dtypes.result_type(*choices, default)
    result = cast(default, dt) if type(default) in (int, float, bool, complex) else cast(
        asarray(default), dt)
    for c, v in zip(reversed(conds), reversed(choices)):
        result = u.where(c, cast(v, dt), result)
    return result


def interp(x, xp, fp, left=None, right=None, period=None):
    """``numpy.interp``: piecewise-linear interpolation of ``(xp, fp)`` at ``x`` (float64)."""
    if period is not None:
        raise NotImplementedError("functrace.numpy.interp does not support 'period'")
    x, xp, fp = (cast(asarray(v), dtypes.float64) for v in (x, xp, fp))
    n = aval_of(xp).shape[0]
    if aval_of(xp).ndim != 1 or aval_of(fp).shape != (n,):
        raise ValueError("fp and xp are not of the same length.")
    if n == 0:
        raise ValueError("array of sample points is empty")
    first, last = getitem(fp, 0), getitem(fp, -1)
    if n == 1:
        y = u.add(lax.full_like(x, 0), first)
    else:
        j = u.clip(u.subtract(searchsorted(xp, x, side="right"), 1), 0, n - 2)
        x0, x1 = take(xp, j), take(xp, u.add(j, 1))
        f0, f1 = take(fp, j), take(fp, u.add(j, 1))
        slope = u.divide(u.subtract(f1, f0), u.subtract(x1, x0))
        y = u.add(u.multiply(slope, u.subtract(x, x0)), f0)
        y = u.where(u.equal(x, getitem(xp, -1)), last, y)
    y = u.where(u.less(x, getitem(xp, 0)), first if left is None else left, y)
    y = u.where(u.greater(x, getitem(xp, -1)), last if right is None else right, y)
    return scalarize(y)


def _windows(a, m: int):
    """Rows ``a_padded[k:k + m]`` of ``a`` zero-padded by ``m - 1`` on both sides: one gather."""
    n = aval_of(a).shape[0]
    zeros = lax.full((m - 1,), 0, dtype_of(a))
    padded = concatenate([zeros, a, zeros]) if m > 1 else a
    idx = np.arange(n + m - 1)[:, None] + np.arange(m)[None, :]
    return take(padded, idx)


def convolve(a, v, mode="full"):
    """``numpy.convolve`` of two 1-D arrays (modes ``full``, ``same``, ``valid``)."""
    a, v = asarray(a), asarray(v)
    dt = dtypes.result_type(a, v)
    a, v = cast(a, dt), cast(v, dt)
    if aval_of(a).ndim != 1 or aval_of(v).ndim != 1:
        raise ValueError("object too deep for desired array")
    n, m = aval_of(a).shape[0], aval_of(v).shape[0]
    if n == 0 or m == 0:
        raise ValueError("v cannot be empty" if m == 0 else "a cannot be empty")
    if m > n:
        a, v, n, m = v, a, m, n
    full = matmul(_windows(a, m), flip(v))
    if mode == "full":
        return full
    if mode == "same":
        start = (m - 1) // 2
        return getitem(full, slice(start, start + n))
    if mode == "valid":
        return getitem(full, slice(m - 1, n))
    raise ValueError(f"mode must be one of 'valid', 'same', or 'full' (got {mode!r})")


def correlate(a, v, mode="valid"):
    """``numpy.correlate`` of two real 1-D arrays."""
    a, v = asarray(a), asarray(v)
    if aval_of(v).shape[0] > aval_of(a).shape[0]:
        return flip(convolve(v, flip(a), mode))
    return convolve(a, flip(v), mode)


def polyval(p, x):
    """``numpy.polyval``: the polynomial with coefficients ``p`` (highest first) at ``x``."""
    p = asarray(p)
    x = asarray(x)
    y = lax.full_like(x, 0)
    for i in range(aval_of(p).shape[0]):
        y = u.add(u.multiply(y, x), getitem(p, i))
    return scalarize(y)


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """``numpy.trapezoid``: the trapezoidal-rule integral along ``axis``."""
    y = asarray(y)
    nd = aval_of(y).ndim
    ax = normalize_axis(axis, nd)
    n = aval_of(y).shape[ax]
    if x is None:
        d = dx
    else:
        x = asarray(x)
        if aval_of(x).ndim == 1:
            d = diff(x)
            shape = [1] * nd
            shape[ax] = aval_of(d).shape[0]
            d = reshape(d, shape)
        else:
            d = diff(x, axis=ax)
    hi = getitem(y, (slice(None),) * ax + (slice(1, None),))
    lo = getitem(y, (slice(None),) * ax + (slice(None, max(n - 1, 0)),))
    return _sum(u.divide(u.multiply(d, u.add(hi, lo)), 2.0), axis=ax)


def cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, *,
        dtype=None):
    """``numpy.cov`` (without frequency or analytic weights)."""
    if fweights is not None or aweights is not None:
        raise NotImplementedError("functrace.numpy.cov does not support weights")
    m = asarray(m)
    if aval_of(m).ndim > 2:
        raise ValueError("m has more than 2 dimensions")
    dt = np.dtype(dtype) if dtype is not None else dtypes.result_type(
        m, dtypes.float64 if y is None else asarray(y), dtypes.float64)
    X = cast(atleast_2d(m), dt)
    if not rowvar and aval_of(X).shape[0] != 1:
        X = _transpose(X)
    if y is not None:
        Y = cast(atleast_2d(asarray(y)), dt)
        if not rowvar and aval_of(Y).shape[0] != 1:
            Y = _transpose(Y)
        X = concatenate([X, Y], axis=0)
    ddof = (0 if bias else 1) if ddof is None else operator.index(ddof)
    N = aval_of(X).shape[1]
    centred = u.subtract(X, mean(X, axis=1, keepdims=True))
    c = u.divide(matmul(centred, _transpose(centred)), max(N - ddof, 0))
    return squeeze(c)


def corrcoef(x, y=None, rowvar=True, *, dtype=None):
    """``numpy.corrcoef``: covariances normalised by the standard deviations, clipped to
    [-1, 1]."""
    c = cov(x, y, rowvar, dtype=dtype)
    if aval_of(c).ndim == 0:
        return u.divide(c, c)
    stddev = u.sqrt(diag(c))
    c = u.divide(u.divide(c, reshape(stddev, (-1, 1))), reshape(stddev, (1, -1)))
    return u.clip(c, -1, 1)


def isin(element, test_elements, assume_unique=False, invert=False, *, kind=None):
    """``numpy.isin``: whether each entry of ``element`` occurs in ``test_elements``."""
    element = asarray(element)
    tests = ravel(asarray(test_elements))
    shape = aval_of(element).shape
    found = _any(u.equal(reshape(element, shape + (1,)), tests), axis=-1)
    return u.logical_not(found) if invert else found


def digitize(x, bins, right=False):
    """``numpy.digitize``: the bin of each ``x`` (bins monotonic; increasing when traced)."""
    bins = asarray(bins)
    if aval_of(bins).ndim != 1:
        raise ValueError("bins must be one-dimensional")
    value = bins.concrete_value() if isinstance(bins, Tracer) else bins
    decreasing = value is not None and len(value) > 1 and np.all(np.diff(value) <= 0) and \
        value[0] != value[-1]
    if decreasing:
        n = aval_of(bins).shape[0]
        found = searchsorted(flip(bins), x, side="left" if right else "right")
        return u.subtract(n, found)
    return searchsorted(bins, x, side="left" if right else "right")


def ldexp(x1, x2, /):
    """``numpy.ldexp``: ``x1 * 2 ** x2``."""
    loop = np.ldexp.resolve_dtypes((dtype_of(asarray(x1)), dtype_of(asarray(x2)), None))
    x1, x2 = cast(asarray(x1), loop[2]), cast(asarray(x2), loop[2])
    return u.multiply(x1, u.power(cast(np.asarray(2), loop[2]), x2))


def delete(arr, obj, axis=None):
    """``numpy.delete`` with static ``obj`` (an index, slice or index list)."""
    arr = asarray(arr)
    if axis is None:
        arr, axis = ravel(arr), 0
    ax = normalize_axis(axis, aval_of(arr).ndim)
    n = aval_of(arr).shape[ax]
    if isinstance(obj, Tracer):
        raise NotImplementedError("functrace.numpy.delete needs static indices")
    keep = np.delete(np.arange(n), obj)
    return take(arr, keep, axis=ax)


def unravel_index(indices, shape, order="C"):
    """``numpy.unravel_index``: flat indices to a tuple of coordinate arrays."""
    shape = tuple(operator.index(d) for d in (shape if isinstance(shape, (tuple, list))
                                              else (shape,)))
    idx = asarray(indices)
    if not isinstance(idx, Tracer):
        size = math.prod(shape)
        if np.any((np.asarray(idx) < 0) | (np.asarray(idx) >= size)):
            raise ValueError(f"index out of bounds for array with size {size}")
    idx = cast(idx, np.dtype(np.intp))
    dims = shape[::-1] if order == "C" else shape
    coords = []
    for d in dims:
        coords.append(scalarize(u.remainder(idx, d)))
        idx = u.floor_divide(idx, d)
    return tuple(coords[::-1] if order == "C" else coords)


def ravel_multi_index(multi_index, dims, mode="raise", order="C"):
    """``numpy.ravel_multi_index``: coordinate arrays to flat indices (static ``dims``)."""
    dims = tuple(operator.index(d) for d in dims)
    if len(multi_index) != len(dims):
        raise ValueError("parameter multi_index must be a sequence of length "
                         f"{len(dims)}")
    strides = [math.prod(dims[i + 1:]) for i in range(len(dims))] if order == "C" else [
        math.prod(dims[:i]) for i in range(len(dims))]
    total = None
    for coord, d, stride in zip(multi_index, dims, strides):
        c = cast(asarray(coord), np.dtype(np.intp))
        if mode == "clip":
            c = u.clip(c, 0, d - 1)
        elif mode == "wrap":
            c = u.remainder(c, d)
        elif not isinstance(c, Tracer) and np.any((np.asarray(c) < 0) | (np.asarray(c) >= d)):
            raise ValueError("invalid entry in coordinates array")
        term = u.multiply(c, stride)
        total = term if total is None else u.add(total, term)
    return scalarize(total)
