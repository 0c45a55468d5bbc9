"""Reductions and scans with NumPy's signatures and dtypes: sum, mean, var, max, argmax, all,
cumsum, diff, median, the nan-ignoring variants...

Result dtypes are NumPy's, asked of NumPy once per input dtype (``_numpy_dtype``): ``sum`` of
int32 or bool is int64, ``mean`` of ints is float64, ``mean`` of float16 is float16 (accumulated
in float32 as NumPy does).
"""

from __future__ import annotations

import builtins
import functools
import math
import operator
from typing import Any

import numpy as np

from .. import core, dtypes, lax
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
from ._ufuncs import isnan
from ._ufuncs import where as _where

_not = getattr(lax, "not")  # lax names it after the Python keyword

__all__ = ["sum", "prod", "product", "mean", "var", "std", "max", "min", "amax", "amin",
           "argmax", "argmin", "all", "any", "ptp", "cumsum", "cumprod", "cumulative_sum",
           "cumulative_prod", "diff", "median", "average", "count_nonzero", "nansum",
           "nanprod", "nanmean", "nanmax", "nanmin", "nanvar", "nanstd", "nancumsum",
           "quantile", "percentile", "nanargmax", "nanargmin"]


@functools.cache
def _numpy_dtype(name: str, dtype: np.dtype) -> np.dtype:
    """The dtype of ``numpy.<name>`` of an array of ``dtype``."""
    with np.errstate(all="ignore"):
        return np.asarray(getattr(np, name)(np.ones(2, dtype))).dtype


def _accumulation_dtype(dtype: np.dtype) -> np.dtype:
    """Where NumPy's mean/var accumulate: float32 for float16, the result dtype otherwise."""
    return dtypes.float32 if dtype == np.float16 else dtype


def _prepare(a, axis):
    a = asarray(a)
    aval = aval_of(a)
    return a, aval, normalize_axes(axis, aval.ndim)


def _keepdims(out, shape: tuple[int, ...], axes: tuple[int, ...]):
    return lax.reshape(out, tuple(1 if i in axes else d for i, d in enumerate(shape)))


def _finish(out, shape, axes, keepdims: bool):
    if keepdims:
        out = _keepdims(out, shape, axes)
    return scalarize(out)


def _count(shape, axes) -> int:
    return math.prod(shape[i] for i in axes)


def _masked(x, where_mask, fill):
    """``x`` with ``fill`` where ``where_mask`` is False (the NumPy ``where=`` argument)."""
    if where_mask is None:
        return x
    return _where(where_mask, x, lax.full_like(x, fill))


# ---------------------------------------------------------------------------------------------
# Sums and products
# ---------------------------------------------------------------------------------------------


def _summation(name: str, lax_reduce, identity):
    def reduction(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
        check_unsupported(name, out=out)
        a, aval, axes = _prepare(a, axis)
        dt = np.dtype(dtype) if dtype is not None else _numpy_dtype(name, aval.dtype)
        x = _masked(cast(a, dt), where, identity)
        result = lax_reduce(x, axes) if axes else x
        if initial is not None:
            result = lax_combine[name](result, lax.full_like(result, initial))
        return _finish(result, aval.shape, axes, keepdims)

    reduction.__name__ = name
    reduction.__doc__ = (f"``numpy.{name}`` over ``axis`` (None, int or tuple), with NumPy's "
                         "accumulation dtype (small integers and bool accumulate as int64).")
    return reduction


lax_combine = {"sum": lax.add, "prod": lax.mul}
sum = _summation("sum", lax.reduce_sum, 0)  # noqa: A001
prod = product = _summation("prod", lambda x, axes: lax.reduce_prod(x, axes), 1)


def mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    """``numpy.mean``: integers average as float64; float16 accumulates in float32."""
    check_unsupported("mean", out=out)
    a, aval, axes = _prepare(a, axis)
    dt = np.dtype(dtype) if dtype is not None else _numpy_dtype("mean", aval.dtype)
    x = _masked(cast(a, _accumulation_dtype(dt)), where, 0)
    total = lax.reduce_sum(x, axes)
    if where is None:
        result = lax.div(total, lax.full_like(total, _count(aval.shape, axes)))
    else:
        from ._shape import broadcast_to
        mask = broadcast_to(cast(asarray(where), dtypes.bool_), aval.shape)
        result = lax.div(total, sum(mask, axis=axes, dtype=dtype_of(total)))
    return _finish(cast(result, dt), aval.shape, axes, keepdims)


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, mean=None,
        correction=None):
    """``numpy.var``: mean squared deviation from the mean, divided by ``n - ddof``."""
    check_unsupported("var", out=out, where=where, mean=mean)
    if correction is not None:
        ddof = correction
    a, aval, axes = _prepare(a, axis)
    dt = np.dtype(dtype) if dtype is not None else _numpy_dtype("var", aval.dtype)
    complex_input = dtypes.is_complex(aval.dtype)
    x = cast(a, dtypes.complex_dtype(_accumulation_dtype(dt)) if complex_input
             else _accumulation_dtype(dt))
    n = _count(aval.shape, axes)
    total = lax.reduce_sum(x, axes)
    centre = _keepdims(lax.div(total, lax.full_like(total, n)), aval.shape, axes)
    centred = lax.sub(x, lax.broadcast_in_dim(centre, aval.shape, tuple(range(aval.ndim))))
    if complex_input:  # |c|^2 = re^2 + im^2: the variance of a complex array is real
        re, im = lax.real(centred), lax.imag(centred)
        sq = lax.reduce_sum(lax.add(lax.mul(re, re), lax.mul(im, im)), axes)
    else:
        sq = lax.reduce_sum(lax.mul(centred, centred), axes)
    result = lax.div(sq, lax.full_like(sq, builtins.max(n - ddof, 0)))
    return _finish(cast(result, dt), aval.shape, axes, keepdims)


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, mean=None,
        correction=None):
    """``numpy.std``: the square root of ``var``."""
    v = var(a, axis, dtype, out, ddof, keepdims, where=where, mean=mean, correction=correction)
    return scalarize(lax.sqrt(v))


# ---------------------------------------------------------------------------------------------
# Extrema, arg-extrema and logical reductions
# ---------------------------------------------------------------------------------------------


def _extremum(name: str, lax_reduce, lax_pair):
    def reduction(a, axis=None, out=None, keepdims=False, initial=None, where=None):
        check_unsupported(name, out=out)
        a, aval, axes = _prepare(a, axis)
        if where is not None:
            if initial is None:
                raise ValueError(f"reduction operation '{name}' does not have an identity, so "
                                 "to use a where mask one has to specify 'initial'")
            a = _masked(a, where, initial)
        if initial is None and builtins.any(aval.shape[i] == 0 for i in axes):
            raise ValueError(f"zero-size array to reduction operation {name} which has no "
                             "identity")
        result = lax_reduce(a, axes) if axes else a
        if initial is not None:
            result = lax_pair(result, lax.full_like(result, initial))
        return _finish(result, aval.shape, axes, keepdims)

    reduction.__name__ = name
    reduction.__doc__ = f"``numpy.{name}`` over ``axis`` (NaN if any entry is NaN)."
    return reduction


max = amax = _extremum("max", lambda x, axes: lax.reduce_max(x, axes), lax.max)  # noqa: A001
min = amin = _extremum("min", lambda x, axes: lax.reduce_min(x, axes), lax.min)  # noqa: A001


def _arg_extremum(name: str, lax_fn):
    def reduction(a, axis=None, out=None, *, keepdims=False):
        check_unsupported(name, out=out)
        a = asarray(a)
        aval = aval_of(a)
        if axis is None:
            x, ax = lax.reshape(a, (aval.size,)), 0
        else:
            x, ax = a, normalize_axis(axis, aval.ndim)
        if aval_of(x).shape[ax] == 0:
            raise ValueError(f"attempt to get {name} of an empty sequence")
        result = lax_fn(x, ax, np.int64)
        if keepdims:
            result = lax.reshape(result, (1,) * aval.ndim if axis is None else
                                 tuple(1 if i == ax else d for i, d in enumerate(aval.shape)))
        return scalarize(result)

    reduction.__name__ = name
    reduction.__doc__ = (f"``numpy.{name}``: index of the first extremum along ``axis`` "
                         "(of the flattened array when None), int64.")
    return reduction


argmax = _arg_extremum("argmax", lax.argmax)
argmin = _arg_extremum("argmin", lax.argmin)


def _logical(name: str, lax_reduce, identity: bool):
    def reduction(a, axis=None, out=None, keepdims=False, *, where=None):
        check_unsupported(name, out=out)
        a, aval, axes = _prepare(a, axis)
        x = _masked(cast(a, dtypes.bool_), where, identity)
        result = lax_reduce(x, axes) if axes else x
        return _finish(result, aval.shape, axes, keepdims)

    reduction.__name__ = name
    reduction.__doc__ = f"``numpy.{name}``: whether {name} entries are nonzero along ``axis``."
    return reduction


all = _logical("all", lambda x, axes: lax.reduce_and(x, axes), True)  # noqa: A001
any = _logical("any", lambda x, axes: lax.reduce_or(x, axes), False)  # noqa: A001


def ptp(a, axis=None, out=None, keepdims=False):
    """``numpy.ptp``: maximum minus minimum along ``axis``."""
    hi = max(a, axis=axis, out=out, keepdims=keepdims)
    lo = min(a, axis=axis, keepdims=keepdims)
    return scalarize(lax.sub(hi, lo))


def count_nonzero(a, axis=None, *, keepdims=False):
    """``numpy.count_nonzero`` (int64)."""
    return sum(cast(asarray(a), dtypes.bool_), axis=axis, dtype=np.int64, keepdims=keepdims)


# ---------------------------------------------------------------------------------------------
# Scans and differences
# ---------------------------------------------------------------------------------------------


def _flat_or_axis(a, axis):
    a = asarray(a)
    aval = aval_of(a)
    if axis is None:
        return lax.reshape(a, (aval.size,)), 0, aval
    return a, normalize_axis(axis, aval.ndim), aval


def _scan(name: str, lax_scan, summation: str):
    def scan(a, axis=None, dtype=None, out=None):
        check_unsupported(name, out=out)
        x, ax, aval = _flat_or_axis(a, axis)
        dt = np.dtype(dtype) if dtype is not None else _numpy_dtype(summation, aval.dtype)
        return lax_scan(cast(x, dt), ax)

    scan.__name__ = name
    scan.__doc__ = (f"``numpy.{name}`` along ``axis`` (the flattened array when None), with "
                    f"``numpy.{summation}``'s accumulation dtype.")
    return scan


cumsum = _scan("cumsum", lambda x, ax: lax.cumsum(x, ax), "sum")
cumprod = _scan("cumprod", lambda x, ax: lax.cumprod(x, ax), "prod")


def _cumulative(scan, identity):
    def cumulative(x, /, *, axis=None, dtype=None, out=None, include_initial=False):
        x = asarray(x)
        ndim = aval_of(x).ndim
        if axis is None:
            if ndim > 1:
                raise ValueError("axis must be specified for multi-dimensional arrays")
            axis = 0
        ax = normalize_axis(axis, ndim)
        result = scan(x, axis=ax, dtype=dtype, out=out)
        if include_initial:
            from ._shape import concatenate
            shape = list(aval_of(result).shape)
            shape[ax] = 1
            first = lax.full(tuple(shape), identity, dtype_of(result))
            result = concatenate([first, result], axis=ax)
        return result
    return cumulative


cumulative_sum = _cumulative(cumsum, 0)
cumulative_prod = _cumulative(cumprod, 1)


def diff(a, n: int = 1, axis: int = -1, prepend: Any = None, append: Any = None):
    """``numpy.diff``: ``n``-th discrete difference along ``axis`` (bool: ``!=``)."""
    from ._shape import broadcast_to, concatenate, take_slice
    a = asarray(a)
    aval = aval_of(a)
    if aval.ndim == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    ax = normalize_axis(axis, aval.ndim)
    parts = []
    for extra in (prepend, a, append):
        if extra is None:
            continue
        extra = asarray(extra)
        if aval_of(extra).ndim == 0:
            extra = broadcast_to(extra, tuple(1 if i == ax else d
                                              for i, d in enumerate(aval.shape)))
        parts.append(extra)
    if len(parts) > 1:
        a = concatenate(parts, axis=ax)
    for _ in range(operator.index(n)):
        size = aval_of(a).shape[ax]
        hi = take_slice(a, ax, builtins.min(1, size), size)
        lo = take_slice(a, ax, 0, builtins.max(size - 1, 0))
        a = lax.ne(hi, lo) if dtypes.is_bool(dtype_of(a)) else _subtract(hi, lo)
    return a


def _subtract(x, y):
    from ._ufuncs import subtract
    return subtract(x, y)


# ---------------------------------------------------------------------------------------------
# Order statistics and weighted averages
# ---------------------------------------------------------------------------------------------


def quantile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
             keepdims=False, *, weights=None, interpolation=None):
    """``numpy.quantile`` with the default ``'linear'`` method and static ``q``."""
    check_unsupported("quantile", out=out, weights=weights, interpolation=interpolation)
    if method != "linear":
        raise NotImplementedError("functrace.numpy.quantile supports method='linear' only")
    q = _static_q(q)
    return _quantile(a, np.asarray(q, np.float64), _weak_or_array(q), axis, keepdims)


def _weak_or_array(q):
    """``q`` as NumPy promotes it against the data: Python scalars weakly, the rest as arrays."""
    return q if type(q) in (int, float) else np.asarray(q)


def _quantile(a, qv: np.ndarray, q_key, axis, keepdims: bool):
    """Linear-method quantiles, computed as NumPy does: order statistics in the data's dtype,
    then ``lerp`` with a weight that is a weak Python float for a scalar ``q`` and float64
    otherwise (which is what sets the result dtype)."""
    from ._shape import stack, take_slice
    from ._ufuncs import add, multiply, subtract
    if np.any((qv < 0) | (qv > 1)):
        raise ValueError("Quantiles must be in the range [0, 1]")
    a, aval, axes = _prepare(a, axis)
    if dtypes.is_bool(aval.dtype):
        raise TypeError("quantile of a bool array is not supported")
    kept = tuple(i for i in range(aval.ndim) if i not in axes)
    kept_shape = tuple(aval.shape[i] for i in kept)
    n = _count(aval.shape, axes)
    x = lax.transpose(a, kept + axes)
    x = lax.sort(lax.reshape(x, kept_shape + (n,)), dimension=len(kept))
    weak = type(q_key) in (int, float)

    def order_stat(k: int):
        return lax.reshape(take_slice(x, len(kept), k, k + 1), kept_shape)

    outs = []
    for qi in qv.reshape(-1):
        pos = float(qi) * (n - 1)
        lo = int(np.floor(pos))
        hi, frac = builtins.min(lo + 1, n - 1), pos - lo
        vlo, vhi = order_stat(lo), order_stat(hi)
        gap = lax.sub(vhi, vlo)
        t = frac if weak else np.float64(frac)
        # NumPy's lerp: exact at both ends
        outs.append(add(vlo, multiply(gap, t)) if frac < 0.5 else
                    subtract(vhi, multiply(gap, 1 - t)))
    result = lax.reshape(stack(outs), qv.shape + kept_shape)
    if dtypes.is_inexact(aval.dtype):
        has_nan = lax.broadcast_in_dim(isnan(order_stat(n - 1)), qv.shape + kept_shape,
                                       tuple(range(qv.ndim, qv.ndim + len(kept))))
        result = lax.select(has_nan, lax.full_like(result, np.nan), result)  # NaNs sort last
    if keepdims:
        result = lax.reshape(result, qv.shape + tuple(
            1 if i in axes else d for i, d in enumerate(aval.shape)))
    return scalarize(result)


def _static_q(q):
    if not isinstance(q, core.Tracer):
        return q
    v = q.concrete_value()
    if v is None:
        raise NotImplementedError("functrace.numpy.quantile needs static (non-traced) q")
    return v


def percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
               keepdims=False, *, weights=None, interpolation=None):
    """``numpy.percentile``: ``quantile`` with ``q`` in percent."""
    check_unsupported("percentile", out=out, weights=weights, interpolation=interpolation)
    if method != "linear":
        raise NotImplementedError("functrace.numpy.percentile supports method='linear' only")
    q = _static_q(q)
    return _quantile(a, np.asarray(q, np.float64) / 100, _weak_or_array(q), axis, keepdims)


def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """``numpy.median`` (NaN where a NaN is present)."""
    return quantile(a, 0.5, axis=axis, out=out, keepdims=keepdims)


def average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    """``numpy.average``: the mean, or ``sum(a * w) / sum(w)`` with ``weights``."""
    from ._ufuncs import multiply
    a = asarray(a)
    aval = aval_of(a)
    if weights is None:
        avg = mean(a, axis=axis, keepdims=keepdims)
        if not returned:
            return avg
        scl = lax.full_like(avg, _count(aval.shape, normalize_axes(axis, aval.ndim)))
        return avg, scl
    w = asarray(weights)
    wshape = aval_of(w).shape
    if wshape != aval.shape:
        if axis is None:
            raise TypeError("Axis must be specified when shapes of a and weights differ.")
        axes = normalize_axes(axis, aval.ndim)
        if wshape != tuple(aval.shape[i] for i in axes):
            raise ValueError("Shape of weights must be consistent with shape of a along "
                             "specified axis.")
        # weights' axes follow the order of ``axis``; broadcast_in_dim wants them sorted
        w = lax.transpose(w, tuple(int(i) for i in np.argsort(axes)))
        w = lax.broadcast_in_dim(w, aval.shape, tuple(sorted(axes)))
    dt = dtypes.result_type(a, w)
    if not dtypes.is_inexact(dt):
        dt = dtypes.float64
    a, w = cast(a, dt), cast(w, dt)
    scl = sum(w, axis=axis, keepdims=keepdims)
    avg = lax.div(sum(multiply(a, w), axis=axis, keepdims=keepdims), scl)
    return (scalarize(avg), scalarize(scl)) if returned else scalarize(avg)


# ---------------------------------------------------------------------------------------------
# NaN-ignoring variants
# ---------------------------------------------------------------------------------------------


def _without_nan(a, fill):
    a = asarray(a)
    if not dtypes.is_inexact(dtype_of(a)):
        return a, None
    mask = isnan(a)
    return _where(mask, lax.full_like(a, fill), a), mask


def nansum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """``numpy.nansum``: NaNs count as zero."""
    x, _ = _without_nan(a, 0)
    return sum(x, axis, dtype, out, keepdims, initial, where)


def nanprod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """``numpy.nanprod``: NaNs count as one."""
    x, _ = _without_nan(a, 1)
    return prod(x, axis, dtype, out, keepdims, initial, where)


def nancumsum(a, axis=None, dtype=None, out=None):
    """``numpy.nancumsum``: NaNs count as zero."""
    x, _ = _without_nan(a, 0)
    return cumsum(x, axis, dtype, out)


def nanmean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    """``numpy.nanmean``: the mean of the non-NaN entries (NaN when there are none)."""
    check_unsupported("nanmean", out=out, where=where)
    x, mask = _without_nan(a, 0)
    if mask is None:
        return mean(x, axis, dtype, keepdims=keepdims)
    total = sum(x, axis, dtype, keepdims=keepdims)
    count = sum(_not(mask), axis, dtype=dtype_of(total), keepdims=keepdims)
    return scalarize(lax.div(total, count))


def nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
           mean=None, correction=None):
    """``numpy.nanvar``: the variance of the non-NaN entries."""
    check_unsupported("nanvar", out=out, where=where, mean=mean)
    if correction is not None:
        ddof = correction
    a = asarray(a)
    x, mask = _without_nan(a, 0)
    if mask is None:
        return var(x, axis, dtype, ddof=ddof, keepdims=keepdims)
    valid = _not(mask)
    centre = nanmean(a, axis, dtype, keepdims=True)
    centred = _where(valid, _subtract(x, centre), lax.full_like(x, 0))
    sq = sum(lax.mul(centred, centred), axis, dtype, keepdims=keepdims)
    n = sum(valid, axis, dtype=dtype_of(sq), keepdims=keepdims)
    dof = lax.max(lax.sub(n, lax.full_like(n, ddof)), lax.full_like(n, 0))
    return scalarize(lax.div(sq, dof))


def nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
           mean=None, correction=None):
    """``numpy.nanstd``: the square root of ``nanvar``."""
    return scalarize(lax.sqrt(nanvar(a, axis, dtype, out, ddof, keepdims, where=where,
                                     mean=mean, correction=correction)))


def _nan_extremum(name: str, reducer, fill: float):
    def reduction(a, axis=None, out=None, keepdims=False, initial=None, where=None):
        x, mask = _without_nan(a, fill)
        result = reducer(x, axis, out, keepdims, initial, where)
        if mask is None:
            return result
        all_nan = all(mask, axis=axis, keepdims=keepdims)
        return scalarize(lax.select(asarray(all_nan), lax.full_like(result, np.nan),
                                    asarray(result)))

    reduction.__name__ = name
    reduction.__doc__ = f"``numpy.{name}``: ignores NaNs (NaN where all entries are NaN)."
    return reduction


nanmax = _nan_extremum("nanmax", max, -np.inf)
nanmin = _nan_extremum("nanmin", min, np.inf)


def _nan_arg_extremum(name: str, reducer, fill: float):
    def reduction(a, axis=None, out=None, *, keepdims=False):
        x, _ = _without_nan(a, fill)
        return reducer(x, axis, out, keepdims=keepdims)

    reduction.__name__ = name
    reduction.__doc__ = f"``numpy.{name}``: ignores NaNs."
    return reduction


nanargmax = _nan_arg_extremum("nanargmax", argmax, -np.inf)
nanargmin = _nan_arg_extremum("nanargmin", argmin, np.inf)
