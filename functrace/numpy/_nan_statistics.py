"""NaN-ignoring order statistics and products: ``nanmedian``, ``nanquantile``,
``nanpercentile``, ``nancumprod``.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes, lax
from . import _ufuncs as u
from ._base import (
    asarray,
    cast,
    check_unsupported,
    dtype_of,
    scalarize,
)
from ._indexing import take_along_axis
from ._reductions import _prepare, _quantile, _static_q, _weak_or_array, _without_nan, cumprod
from ._reductions import sum as _sum
from ._shape import (
    expand_dims,
    reshape,
    stack,
)

__all__ = ["nanmedian", "nanquantile", "nanpercentile", "nancumprod"]

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
