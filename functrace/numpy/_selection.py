"""Selection and resizing: ``choose``, ``extract``, ``resize`` and ``trim_zeros``.

``trim_zeros`` and ``extract`` without ``size=`` have data-dependent result shapes, so they
need concretely known input, as in JAX.
"""

from __future__ import annotations

import builtins
import math
import operator

import numpy as np

from .. import dtypes, lax
from ..core import Tracer
from . import _ufuncs as u
from ._base import asarray as _asarray
from ._base import (
    aval_of,
    cast,
    check_unsupported,
    dtype_of,
    normalize_axis,
    scalarize,
)
from ._errors import concretization_error
from ._indexing import _concrete_or_raise, getitem, take, take_along_axis
from ._reductions import sum as _sum
from ._shape import broadcast_arrays, concatenate, ravel, reshape, stack

__all__ = ["choose", "extract", "resize", "trim_zeros"]

_INT8 = np.dtype(np.int8)

# ---------------------------------------------------------------------------------------------
# Selection, reshaping
# ---------------------------------------------------------------------------------------------


def choose(a, choices, out=None, mode="raise"):
    """``numpy.choose``: ``choices[a[i]][i]``; ``mode="raise"`` needs concrete ``a`` (use
    ``"clip"`` or ``"wrap"`` under transformations, as in JAX)."""
    check_unsupported("choose", out=out)
    a = _asarray(a)
    if not dtypes.is_integer(dtype_of(a)):
        raise TypeError("choose: `a` must be an integer array")
    choices = [_asarray(c) for c in choices]
    n = len(choices)
    if mode == "raise":
        value = a.concrete_value() if isinstance(a, Tracer) else np.asarray(a)
        if value is None:
            raise concretization_error(a, "choose(mode='raise') (use mode='clip' or 'wrap')")
        if np.any((value < 0) | (value >= n)):
            raise ValueError("invalid entry in choice array")
    elif mode == "wrap":
        a = u.remainder(a, n)
    elif mode == "clip":
        a = u.clip(a, 0, n - 1)
    else:
        raise ValueError(f"mode={mode!r} not understood. Must be 'raise', 'wrap', or 'clip'")
    a, *choices = broadcast_arrays(a, *choices)
    dt = dtypes.result_type(*choices)
    stacked = stack([cast(c, dt) for c in choices])
    picked = take_along_axis(stacked, reshape(a, (1,) + aval_of(a).shape), 0)
    return scalarize(reshape(picked, aval_of(a).shape))


def _compact_indices(mask, size: int, fill_index: int = 0):
    """Positions of the True entries of the 1-D ``mask`` in order, padded with ``fill_index``
    (or truncated) to ``size``; also whether each slot is a real entry. Traceable."""
    n = aval_of(mask).shape[0]
    order = lax.argsort(cast(u.logical_not(mask), _INT8), 0)
    if size > n:
        order = concatenate([order, np.full(size - n, fill_index, np.int64)])
    order = getitem(order, slice(0, size))
    valid = u.less(np.arange(size), _sum(cast(mask, dtypes.int64)))
    return u.where(valid, order, fill_index), valid


def extract(condition, arr, *, size=None, fill_value=0):
    """``numpy.extract``: the entries of ``arr`` where ``condition`` is nonzero (flattened).
    Traced conditions need a static ``size=`` (padded with ``fill_value``), as in JAX."""
    cond = ravel(_asarray(condition))
    flat = ravel(_asarray(arr))
    if size is None:
        keep = np.nonzero(_concrete_or_raise(cond, "extract (pass size=)"))[0]
        return take(flat, keep)
    cond = cast(cond, dtypes.bool_)
    idx, valid = _compact_indices(cond, operator.index(size))
    return u.where(valid, take(flat, idx), cast(_asarray(fill_value), dtype_of(flat)))


def resize(a, new_shape):
    """``numpy.resize``: the flattened entries repeated cyclically to fill ``new_shape``."""
    a = _asarray(a)
    shape = tuple(operator.index(d) for d in (new_shape if isinstance(new_shape, (tuple, list))
                                              else (new_shape,)))
    if builtins.any(d < 0 for d in shape):
        raise ValueError("all elements of `new_shape` must be non-negative")
    size, n = math.prod(shape), aval_of(a).size
    if n == 0 or size == 0:
        return lax.full(shape, 0, dtype_of(a))
    return reshape(take(ravel(a), np.arange(size) % n), shape)


def trim_zeros(filt, trim: str = "fb", axis=None):
    """``numpy.trim_zeros`` of a concretely known array (the result shape depends on data);
    a tracer over known values (under ``grad``) keeps its derivative."""
    value = _concrete_or_raise(filt, "trim_zeros")
    trim = trim.lower()
    axes = range(value.ndim) if axis is None else [
        normalize_axis(a, value.ndim) for a in (axis if isinstance(axis, (tuple, list))
                                                else (axis,))]
    idx = []
    for ax in range(value.ndim):
        if ax not in axes:
            idx.append(slice(None))
            continue
        other = tuple(i for i in range(value.ndim) if i != ax)
        nz = np.nonzero(np.any(value != 0, axis=other))[0]
        if nz.size == 0:
            idx.append(slice(0, 0))
            continue
        idx.append(slice(int(nz[0]) if "f" in trim else None,
                         int(nz[-1]) + 1 if "b" in trim else None))
    return getitem(_asarray(filt), tuple(idx))
