"""Partial sorts, the ``unique_*`` family and set operations (``union1d``, ``intersect1d``,
``setdiff1d``, ``setxor1d``).

Their result sizes depend on the data, so without ``size=`` they need concretely known input
(and return NumPy's results); with a static ``size=`` they trace, vectorise and differentiate,
padding as JAX does (``fill_value``, else the smallest value; counts with 0).
"""

from __future__ import annotations

import operator
from collections import namedtuple

import numpy as np

from .. import dtypes, lax
from ..core import Tracer
from . import _ufuncs as u
from ._base import asarray as _asarray
from ._base import aval_of, cast, dtype_of, normalize_axis
from ._indexing import _concrete_or_raise, _scatter_update, getitem, take
from ._reductions import any as _any
from ._reductions import min as _min
from ._reductions import sum as _sum
from ._selection import _compact_indices
from ._shape import concatenate, ravel, reshape

__all__ = ["partition", "argpartition", "unique_values", "unique_counts", "unique_inverse",
           "unique_all", "union1d", "intersect1d", "setdiff1d", "setxor1d"]


# ---------------------------------------------------------------------------------------------
# Partial sorts
# ---------------------------------------------------------------------------------------------


def _check_kth(a, kth, axis):
    a = _asarray(a)
    if isinstance(kth, Tracer):
        raise NotImplementedError("partition: kth must be static")
    ax = normalize_axis(axis, aval_of(a).ndim)
    n = aval_of(a).shape[ax]
    for k in np.ravel(kth):
        if not -n <= int(k) < n:
            raise ValueError(f"kth(={int(k)}) out of bounds ({n})")
    return a, ax


def partition(a, kth, axis=-1):
    """``numpy.partition``: the k-th entry in its sorted place, smaller ones before and larger
    ones after (the full sort, which satisfies this)."""
    a, ax = _check_kth(a, kth, axis)
    return lax.sort(a, dimension=ax)


def argpartition(a, kth, axis=-1):
    """``numpy.argpartition``: indices that partition ``a`` (those of the stable sort)."""
    a, ax = _check_kth(a, kth, axis)
    return lax.argsort(a, ax)


# ---------------------------------------------------------------------------------------------
# unique_* and set operations
# ---------------------------------------------------------------------------------------------

UniqueAllResult = namedtuple("UniqueAllResult", ["values", "indices", "inverse_indices",
                                                 "counts"])
UniqueCountsResult = namedtuple("UniqueCountsResult", ["values", "counts"])
UniqueInverseResult = namedtuple("UniqueInverseResult", ["values", "inverse_indices"])


def _static_size(size, name: str):
    if size is None:
        return None
    if isinstance(size, Tracer):
        raise TypeError(f"{name}: size must be a static Python int")
    return operator.index(size)


def _sorted_unique(x):
    """Flattened ``x`` sorted, the sorting permutation and the first-of-a-run mask."""
    flat = ravel(_asarray(x))
    perm = lax.argsort(flat, 0)
    srt = take(flat, perm)
    n = aval_of(flat).shape[0]
    if n == 0:
        return srt, perm, np.zeros(0, bool)
    first = concatenate([np.ones(1, bool), u.not_equal(getitem(srt, slice(1, None)),
                                                       getitem(srt, slice(0, n - 1)))])
    return srt, perm, first


def _unique_sized(x, size: int, fill_value, want: str):
    """JAX's ``unique`` with ``size``: results padded (values with ``fill_value``, else the
    smallest value; indices with the first's; counts with 0)."""
    xa = _asarray(x)
    srt, perm, first = _sorted_unique(xa)
    n = aval_of(srt).shape[0]
    if n == 0:
        if fill_value is None and size:
            raise ValueError("unique: for zero-size input with nonzero size, fill_value must "
                             "be given")
        vals = lax.full((size,), 0 if fill_value is None else fill_value, dtype_of(srt))
        zeros = lax.full((size,), 0, dtypes.int64)
        return vals, zeros, np.zeros(aval_of(xa).shape, np.int64), zeros
    idx, valid = _compact_indices(first, size)
    values = take(srt, idx)
    if fill_value is not None:
        values = u.where(valid, values, cast(_asarray(fill_value), dtype_of(srt)))
    out = [values, None, None, None]
    if "i" in want:
        out[1] = take(perm, idx)
    if "v" in want:
        slot = u.subtract(lax.cumsum(cast(first, dtypes.int64), 0), 1)
        inv = _scatter_update(lax.full((n,), 0, dtypes.int64), perm, slot, "set")
        out[2] = reshape(inv, aval_of(xa).shape)
    if "c" in want:
        # run length = distance to the next run's start (n after the last run)
        nxt = concatenate([getitem(idx, slice(1, None)), np.array([n])])
        n_unique = _sum(cast(first, dtypes.int64))
        nxt = u.where(u.less(np.arange(1, size + 1), n_unique), nxt, n)
        out[3] = u.where(valid, u.subtract(nxt, idx), 0)
    return tuple(out)


def _np_unique(x, name: str):
    return _concrete_or_raise(x, f"{name} (pass a static size=)")


def unique_values(x, /, *, size=None, fill_value=None):
    """``numpy.unique_values``: the sorted distinct values. Traced input needs ``size=``."""
    size = _static_size(size, "unique_values")
    if size is None:
        return np.unique_values(_np_unique(x, "unique_values"))
    return _unique_sized(x, size, fill_value, "")[0]


def unique_counts(x, /, *, size=None, fill_value=None):
    """``numpy.unique_counts``: ``(values, counts)``. Traced input needs ``size=``."""
    size = _static_size(size, "unique_counts")
    if size is None:
        return UniqueCountsResult(*np.unique_counts(_np_unique(x, "unique_counts")))
    vals, _, _, counts = _unique_sized(x, size, fill_value, "c")
    return UniqueCountsResult(vals, counts)


def unique_inverse(x, /, *, size=None, fill_value=None):
    """``numpy.unique_inverse``: ``(values, inverse_indices)``, inverse shaped like ``x``."""
    size = _static_size(size, "unique_inverse")
    if size is None:
        return UniqueInverseResult(*np.unique_inverse(_np_unique(x, "unique_inverse")))
    vals, _, inv, _ = _unique_sized(x, size, fill_value, "v")
    return UniqueInverseResult(vals, inv)


def unique_all(x, /, *, size=None, fill_value=None):
    """``numpy.unique_all``: ``(values, indices, inverse_indices, counts)``."""
    size = _static_size(size, "unique_all")
    if size is None:
        return UniqueAllResult(*np.unique_all(_np_unique(x, "unique_all")))
    return UniqueAllResult(*_unique_sized(x, size, fill_value, "ivc"))


def _set_result(srt, keep, size, fill_value, default_fill):
    """The kept entries of the sorted ``srt`` compacted to ``size`` and padded."""
    idx, valid = _compact_indices(keep, size)
    vals = take(srt, idx) if aval_of(srt).shape[0] else lax.full((size,), 0, dtype_of(srt))
    if fill_value is None:
        fill_value = default_fill(vals, valid)
    return u.where(valid, vals, cast(_asarray(fill_value), dtype_of(srt)))


def _pad_with_smallest(vals, valid):
    """JAX's default padding of set results: the smallest kept value (0 if none is kept)."""
    dt = dtype_of(vals)
    info = np.finfo(dt) if dtypes.is_inexact(dt) else (
        np.iinfo(dt) if dtypes.is_integer(dt) else None)
    highest = info.max if info is not None else True
    kept_min = _min(u.where(valid, vals, highest))
    return u.where(_any(valid), kept_min, lax.full((), 0, dt))


def _concrete_pair(ar1, ar2, name):
    return (_concrete_or_raise(ar1, f"{name} (pass a static size=)"),
            _concrete_or_raise(ar2, f"{name} (pass a static size=)"))


def union1d(ar1, ar2, *, size=None, fill_value=None):
    """``numpy.union1d``: sorted distinct values of both. Traced input needs ``size=``."""
    size = _static_size(size, "union1d")
    if size is None:
        return np.union1d(*_concrete_pair(ar1, ar2, "union1d"))
    both = concatenate([ravel(_asarray(ar1)), ravel(_asarray(ar2))])
    return _unique_sized(both, size, fill_value, "")[0]


def _in_sorted(values, others):
    from ._functions import isin
    return isin(values, others)


def setdiff1d(ar1, ar2, assume_unique: bool = False, *, size=None, fill_value=None):
    """``numpy.setdiff1d``: sorted distinct values of ``ar1`` not in ``ar2`` (with ``size=``:
    padded with ``fill_value``, default 0, as in JAX)."""
    size = _static_size(size, "setdiff1d")
    if size is None:
        a, b = _concrete_pair(ar1, ar2, "setdiff1d")
        return np.setdiff1d(a, b, assume_unique)
    srt, _, first = _sorted_unique(ar1)
    keep = u.logical_and(first, u.logical_not(_in_sorted(srt, ravel(_asarray(ar2)))))
    return _set_result(srt, keep, size, 0 if fill_value is None else fill_value, None)


def intersect1d(ar1, ar2, assume_unique: bool = False, return_indices: bool = False, *,
                size=None, fill_value=None):
    """``numpy.intersect1d``: sorted distinct values in both (``return_indices`` needs
    concrete input)."""
    size = _static_size(size, "intersect1d")
    if size is None or return_indices:
        if return_indices and size is not None:
            raise NotImplementedError("intersect1d: return_indices with size= is not supported")
        a, b = _concrete_pair(ar1, ar2, "intersect1d")
        return np.intersect1d(a, b, assume_unique, return_indices)
    srt, _, first = _sorted_unique(ar1)
    keep = u.logical_and(first, _in_sorted(srt, ravel(_asarray(ar2))))
    return _set_result(srt, keep, size, fill_value, _pad_with_smallest)


def setxor1d(ar1, ar2, assume_unique: bool = False, *, size=None, fill_value=None):
    """``numpy.setxor1d``: sorted values in exactly one of the inputs."""
    size = _static_size(size, "setxor1d")
    if size is None:
        a, b = _concrete_pair(ar1, ar2, "setxor1d")
        return np.setxor1d(a, b, assume_unique)
    a, b = ravel(_asarray(ar1)), ravel(_asarray(ar2))
    srt, _, first = _sorted_unique(concatenate([a, b]))
    only_one = u.not_equal(_in_sorted(srt, a), _in_sorted(srt, b))
    return _set_result(srt, u.logical_and(first, only_one), size, fill_value,
                       _pad_with_smallest)
