"""Counting: ``bincount``, ``histogram`` and ``histogram_bin_edges``.

``bincount`` without ``length=`` has a data-dependent result shape, so it needs concretely
known input, as in JAX; with ``length=`` it traces, vectorises and differentiates.
"""

from __future__ import annotations

import builtins
import operator

import numpy as np

from .. import dtypes, lax
from ..core import Tracer
from . import _ufuncs as u
from ._base import asarray as _asarray
from ._base import (
    aval_of,
    cast,
    dtype_of,
)
from ._creation import linspace
from ._errors import concretization_error
from ._indexing import _scatter_update, getitem
from ._reductions import max as _max
from ._reductions import min as _min
from ._reductions import sum as _sum
from ._shape import ravel

__all__ = ["bincount", "histogram", "histogram_bin_edges"]

# ---------------------------------------------------------------------------------------------
# Counting
# ---------------------------------------------------------------------------------------------


def bincount(x, weights=None, minlength: int = 0, *, length=None):
    """``numpy.bincount``. Traced ``x`` needs a static ``length=`` (entries beyond it are
    dropped, negative ones count in bin 0), as in JAX; weights keep their dtype."""
    x = _asarray(x)
    if dtypes.is_bool(dtype_of(x)):
        x = cast(x, dtypes.int64)
    if not dtypes.is_integer(dtype_of(x)):
        raise TypeError(f"x argument to bincount must have an integer type; got {dtype_of(x)}")
    if aval_of(x).ndim != 1:
        raise ValueError("only 1-dimensional input supported.")
    minlength = operator.index(minlength)
    if length is None:
        value = x.concrete_value() if isinstance(x, Tracer) else np.asarray(x)
        if value is None:
            raise concretization_error(
                x, "bincount without length= (its result size is max(x) + 1; pass a static "
                   "length=)")
        if value.size and value.min() < 0:
            raise ValueError("'list' argument must have no negative elements")
        length = builtins.max(minlength, int(value.max()) + 1 if value.size else 0)
    length = operator.index(length)
    if weights is None:
        w, dt = 1, dtypes.int64
    else:
        w = _asarray(weights)
        if aval_of(w).shape != aval_of(x).shape:
            raise ValueError("The weights and list don't have the same length.")
        dt = dtype_of(w)
    zeros = lax.full((length,), 0, dt)
    return _scatter_update(zeros, u.maximum(x, 0), w, "add", mode="drop")


def histogram_bin_edges(a, bins=10, range=None, weights=None):  # noqa: A002
    """``numpy.histogram_bin_edges`` for an integer ``bins`` (static) or explicit edges; the
    range defaults to ``[min(a), max(a)]`` (traceable)."""
    if isinstance(bins, str):
        raise NotImplementedError("functrace.numpy.histogram: string bins are not supported")
    a = _asarray(a)
    dt = dtypes.to_inexact(dtype_of(a))
    if np.ndim(bins) == 1 or (isinstance(bins, Tracer) and bins.aval.ndim == 1):
        return cast(_asarray(bins), dtypes.result_type(dt, _asarray(bins)))
    if isinstance(bins, Tracer):
        raise NotImplementedError("functrace.numpy.histogram: an integer `bins` must be static")
    nbins = operator.index(bins)
    if nbins < 1:
        raise ValueError("`bins` must be positive, when an integer")
    if range is None:
        lo, hi = (cast(_min(a), dt), cast(_max(a), dt)) if aval_of(a).size else (0.0, 1.0)
    else:
        lo, hi = range
        if not isinstance(lo, Tracer) and not isinstance(hi, Tracer) and lo > hi:
            raise ValueError("max must be larger than min in range parameter.")
    lo, hi = cast(_asarray(lo), dt), cast(_asarray(hi), dt)
    same = u.equal(lo, hi)
    lo, hi = u.where(same, u.subtract(lo, 0.5), lo), u.where(same, u.add(hi, 0.5), hi)
    return linspace(lo, hi, nbins + 1, dtype=dt)


def histogram(a, bins=10, range=None, density=None, weights=None):  # noqa: A002
    """``numpy.histogram``: counts (int64, or the weights' dtype; float with ``density``) and
    bin edges. Values outside the range are ignored; the last bin includes its right edge."""
    a = ravel(_asarray(a))
    edges = histogram_bin_edges(a, bins, range)
    nedges = aval_of(edges).shape[0]
    from ._sorting import searchsorted
    idx = searchsorted(edges, a, side="right")
    idx = u.where(u.equal(a, getitem(edges, -1)), nedges - 1, idx)
    if weights is None:
        w, dt = 1, dtypes.int64
    else:
        w = ravel(_asarray(weights))
        if aval_of(w).shape != aval_of(a).shape:
            raise ValueError("weights should have the same shape as a.")
        dt = dtype_of(w)
    counts = _scatter_update(lax.full((nedges + 1,), 0, dt), idx, w, "add")
    counts = getitem(counts, slice(1, nedges))
    if density:
        from ._reductions import diff
        counts = cast(counts, dtypes.result_type(dt, edges))
        counts = u.divide(u.divide(counts, diff(edges)), _sum(counts))
    return counts, edges
