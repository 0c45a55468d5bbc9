"""Functional in-place updates in JAX's form (new arrays; ``inplace=False``): ``fill_diagonal``,
``put``, ``place``, ``put_along_axis`` and ``insert``.
"""

from __future__ import annotations

import math

import numpy as np

from ..core import Tracer
from . import _ufuncs as u
from ._base import asarray as _asarray
from ._base import (
    aval_of,
    cast,
    dtype_of,
    normalize_axis,
)
from ._indexing import _concrete_or_raise, _scatter_update, take
from ._shape import ravel, reshape

__all__ = ["fill_diagonal", "put", "place", "put_along_axis", "insert"]

# ---------------------------------------------------------------------------------------------
# Functional updates (JAX forms: new arrays, ``inplace=False``)
# ---------------------------------------------------------------------------------------------


def _no_inplace(name: str, inplace: bool) -> None:
    if inplace:
        raise NotImplementedError(
            f"functrace.numpy.{name}: arrays are immutable, so the update cannot happen in "
            f"place; call {name}(..., inplace=False) and use the returned array.")


def _tile_flat(values, n: int):
    """``values`` flattened and repeated cyclically to ``n`` entries (NumPy's ``put`` rule)."""
    flat = ravel(_asarray(values))
    size = aval_of(flat).size
    if size == 0:
        raise ValueError("cannot fill from an empty array of values")
    return take(flat, np.arange(n) % size) if size != n else flat


def fill_diagonal(a, val, wrap: bool = False, *, inplace: bool = True):
    """``numpy.fill_diagonal`` as a function (``inplace=False`` required, as in JAX): a copy of
    ``a`` whose main diagonal holds ``val`` (repeated cyclically)."""
    _no_inplace("fill_diagonal", inplace)
    a = _asarray(a)
    shape = aval_of(a).shape
    if len(shape) < 2:
        raise ValueError("array must be at least 2-d")
    if len(shape) == 2:
        step, end = shape[1] + 1, (None if wrap else shape[1] * shape[1])
    else:
        if len(set(shape)) != 1:
            raise ValueError("All dimensions of input must be of equal length")
        step, end = 1 + int(np.sum(np.cumprod(shape[:-1]))), None
    positions = np.arange(math.prod(shape))[:end:step]
    v = cast(_asarray(val), dtype_of(a))
    v = v if aval_of(v).ndim == 0 else _tile_flat(v, len(positions))
    return reshape(_scatter_update(ravel(a), positions, v, "set"), shape)




def put(a, ind, v, mode=None, *, inplace: bool = True):
    """``numpy.put`` as a function (``inplace=False`` required): a copy of ``a`` with the
    flattened entries ``ind`` replaced by ``v`` (broadcast to ``ind``'s shape). ``mode``:
    ``None``/``"fill"`` drop out-of-range indices, ``"clip"``, ``"wrap"``, or ``"raise"``
    (concrete indices only)."""
    _no_inplace("put", inplace)
    a = _asarray(a)
    ind = _asarray(ind)
    n = aval_of(a).size
    if mode == "raise":
        idx = _concrete_or_raise(ind, "put(mode='raise')")
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"index out of range for array of size {n}")
    elif mode == "clip":
        ind = u.clip(ind, 0, n - 1)
    elif mode == "wrap":
        ind = u.remainder(ind, n)
    elif mode not in (None, "fill", "drop"):
        raise ValueError(f"mode must be one of 'raise', 'clip', 'wrap' or 'fill' (got {mode!r})")
    from ._shape import broadcast_to
    vals = broadcast_to(cast(_asarray(v), dtype_of(a)), aval_of(ind).shape)
    out = _scatter_update(ravel(a), ravel(ind), ravel(vals), "set", mode="drop")
    return reshape(out, aval_of(a).shape)


def place(arr, mask, vals, *, inplace: bool = True):
    """``numpy.place`` as a function (``inplace=False`` required): entries where the concrete
    ``mask`` is True take ``vals`` in turn (cyclically)."""
    _no_inplace("place", inplace)
    arr = _asarray(arr)
    m = _concrete_or_raise(mask, "place").astype(bool).reshape(-1)
    positions = np.nonzero(m)[0]
    if positions.size == 0:
        return arr
    v = _tile_flat(cast(_asarray(vals), dtype_of(arr)), positions.size)
    return reshape(_scatter_update(ravel(arr), positions, v, "set"), aval_of(arr).shape)


def put_along_axis(arr, indices, values, axis, inplace: bool = True, *, mode=None):
    """``numpy.put_along_axis`` as a function (``inplace=False`` required): a copy of ``arr``
    with ``values`` written at ``indices`` along ``axis`` (traced indices allowed)."""
    _no_inplace("put_along_axis", inplace)
    arr = _asarray(arr)
    if axis is None:
        arr, axis = ravel(arr), 0
    shape = aval_of(arr).shape
    ax = normalize_axis(axis, len(shape))
    indices = _asarray(indices)
    ishape = aval_of(indices).shape
    if len(ishape) != len(shape):
        raise ValueError("`indices` and `arr` must have the same number of dimensions")
    index = []
    for d in range(len(shape)):
        if d == ax:
            index.append(indices)
        else:
            grid = [1] * len(shape)
            grid[d] = shape[d]
            index.append(np.arange(shape[d]).reshape(grid))
    return _scatter_update(arr, tuple(index), values, "set", mode=mode)


def insert(arr, obj, values, axis=None):
    """``numpy.insert`` with a static ``obj`` (index, slice or index sequence); ``arr`` and
    ``values`` may be traced."""
    arr = _asarray(arr)
    if isinstance(obj, Tracer):
        obj = _concrete_or_raise(obj, "insert (of traced positions)")
    values = _asarray(values)
    vshape = aval_of(values).shape
    # NumPy decides the layout; run it on labels: >= 0 are entries of arr, < 0 of values
    labels = np.arange(aval_of(arr).size).reshape(aval_of(arr).shape)
    value_labels = -1 - np.arange(math.prod(vshape)).reshape(vshape)
    layout = np.insert(labels, obj, value_labels, axis=axis)
    from_arr = take(ravel(arr), np.maximum(layout, 0))
    if value_labels.size == 0:
        return from_arr
    from_values = take(ravel(cast(values, dtype_of(arr))), np.maximum(-1 - layout, 0))
    return u.where(layout >= 0, from_arr, from_values)
