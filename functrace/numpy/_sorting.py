"""Sorting and searching: sort, argsort, lexsort, searchsorted, and ``unique`` of known values.

Sorts are NumPy's stable order (NaNs last). ``searchsorted`` is a branch-free binary search: a
fixed number of halving steps, each one ``gather``, so it traces and vectorises.
"""

from __future__ import annotations

import numpy as np

from .. import core, dtypes, lax
from ._base import asarray, cast, normalize_axis, scalarize
from ._indexing import _concrete_or_raise

_and, _not = getattr(lax, "and"), getattr(lax, "not")  # lax names them after keywords

__all__ = ["sort", "argsort", "lexsort", "searchsorted", "unique", "sort_complex"]


def _flat_or_axis(a, axis):
    a = asarray(a)
    if axis is None:
        return lax.reshape(a, (core.get_aval(a).size,)), 0
    return a, normalize_axis(axis, core.get_aval(a).ndim)


def _check_order(order) -> None:
    if order is not None:
        raise NotImplementedError("functrace.numpy sorting does not support 'order' "
                                  "(structured arrays)")


def sort(a, axis=-1, kind=None, order=None, *, stable=None):
    """``numpy.sort`` along ``axis`` (flattened when None); stable, NaNs last."""
    _check_order(order)
    x, ax = _flat_or_axis(a, axis)
    return lax.sort(x, dimension=ax)


def sort_complex(a):
    """Not supported (complex sorting)."""
    raise NotImplementedError("functrace.numpy.sort_complex: complex sorting is not supported")


def argsort(a, axis=-1, kind=None, order=None, *, stable=None):
    """``numpy.argsort`` (stable: ties keep their order), int64."""
    _check_order(order)
    x, ax = _flat_or_axis(a, axis)
    return lax.argsort(x, ax)


def lexsort(keys, axis=-1):
    """``numpy.lexsort``: indices sorting by the last key first, then the previous ones."""
    keys = [asarray(k) for k in keys]
    if not keys:
        raise TypeError("need sequence of keys with len > 0 in lexsort")
    shape = core.get_aval(keys[0]).shape
    ax = normalize_axis(axis, len(shape))
    positions = lax.iota(dtypes.int64, shape, ax)
    outs = lax.sort(tuple(keys[::-1]) + (positions,), dimension=ax, num_keys=len(keys))
    return outs[-1]


def searchsorted(a, v, side="left", sorter=None):
    """``numpy.searchsorted`` of ``v`` in the sorted 1-D ``a`` (int64 insertion points)."""
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right' (got {side!r})")
    a = asarray(a)
    if core.get_aval(a).ndim != 1:
        raise ValueError("object too deep for desired array")
    if sorter is not None:
        from ._indexing import take
        a = take(a, sorter)
    v = asarray(v)
    dt = dtypes.result_type(a, v)
    a, v = cast(a, dt), cast(v, dt)
    n = core.get_aval(a).shape[0]
    vshape = core.get_aval(v).shape
    lo = lax.full(vshape, 0, dtypes.int64)
    hi = lax.full(vshape, n, dtypes.int64)
    if n == 0:
        return scalarize(lo)
    go_right_of = lax.lt if side == "left" else lax.le
    for _ in range(int(n).bit_length()):
        active = lax.lt(lo, hi)
        mid = lax.div(lax.add(lo, hi), lax.full_like(lo, 2))
        pivot = lax.gather(a, lax.reshape(mid, vshape + (1,)), (0,))  # clamped at n
        right = go_right_of(pivot, v)
        lo = lax.select(_and(active, right), lax.add(mid, lax.full_like(mid, 1)), lo)
        hi = lax.select(_and(active, _not(right)), mid, hi)
    return scalarize(lo)


def unique(ar, return_index=False, return_inverse=False, return_counts=False, axis=None, *,
           equal_nan=True, sorted=True):
    """``numpy.unique`` of a concretely known array (its result size depends on the data)."""
    return np.unique(_concrete_or_raise(ar, "unique"), return_index, return_inverse,
                     return_counts, axis, equal_nan=equal_nan)
