"""Index helpers: ``r_``, ``c_``, ``s_``, ``index_exp``, ``mgrid``, ``ogrid``, ``ix_`` and the
``triu``/``tril``/``diag``/``mask`` index functions. Static helpers return NumPy arrays.
"""

from __future__ import annotations

import operator

import numpy as np

from .. import dtypes
from ._base import asarray as _asarray
from ._base import (
    aval_of,
    cast,
    dtype_of,
)
from ._creation import arange, linspace
from ._indexing import _concrete_or_raise
from ._shape import concatenate, reshape, transpose

__all__ = ["r_", "c_", "s_", "index_exp", "mgrid", "ogrid", "ix_", "triu_indices", "tril_indices",
           "triu_indices_from", "tril_indices_from", "diag_indices", "diag_indices_from",
           "mask_indices"]

# ---------------------------------------------------------------------------------------------
# Index helpers
# ---------------------------------------------------------------------------------------------

s_ = np.s_
index_exp = np.index_exp
mgrid = np.mgrid
ogrid = np.ogrid


def _ndmin(x, ndmin: int):
    nd = aval_of(x).ndim
    return reshape(x, (1,) * (ndmin - nd) + aval_of(x).shape) if nd < ndmin else x


class _AxisConcatenator:
    """``r_``/``c_``: slices become ``arange``/``linspace``, arrays (traced too) are joined
    along the axis set by an optional leading directive string (``"axis,ndmin,trans1d"``)."""

    def __init__(self, axis: int, ndmin: int, trans1d: int, name: str):
        self.axis, self.ndmin, self.trans1d, self.name = axis, ndmin, trans1d, name

    def __getitem__(self, key):
        if not isinstance(key, tuple):
            key = (key,)
        axis, ndmin, trans1d = self.axis, self.ndmin, self.trans1d
        objs, type_keys = [], []
        for k, item in enumerate(key):
            if isinstance(item, str):
                if k != 0:
                    raise ValueError("special directives must be the first entry.")
                if item in ("r", "c"):
                    raise NotImplementedError(
                        f"functrace.numpy.{self.name}: matrix directives 'r'/'c' are not "
                        "supported (there is no matrix type)")
                try:
                    parts = [int(p) for p in item.split(",")]
                except ValueError:
                    raise ValueError(f"unknown special directive {item!r}") from None
                if len(parts) == 1:
                    axis = parts[0]
                else:
                    axis, ndmin = parts[:2]
                    if len(parts) == 3:
                        trans1d = parts[2]
                continue
            if isinstance(item, slice):
                start = 0 if item.start is None else item.start
                step = 1 if item.step is None else item.step
                if isinstance(step, (complex, np.complexfloating)):
                    obj = linspace(start, item.stop, num=int(abs(step)))
                else:
                    obj = arange(start, item.stop, step)
                if ndmin > 1:
                    obj = _ndmin(obj, ndmin)
                    if trans1d != -1:
                        from ._shape import swapaxes
                        obj = swapaxes(obj, -1, trans1d)
                type_keys.append(dtype_of(obj))
            elif type(item) in (bool, int, float, complex):
                obj = item
                type_keys.append(item)
            else:
                obj = _asarray(item)
                nd = aval_of(obj).ndim
                obj = _ndmin(obj, ndmin)
                if trans1d != -1 and nd < ndmin:
                    k2 = ndmin - nd
                    k1 = trans1d + k2 + 1 if trans1d < 0 else trans1d
                    axes = list(range(ndmin))
                    obj = transpose(obj, axes[:k1] + axes[k2:] + axes[k1:k2])
                type_keys.append(dtype_of(obj))
            objs.append(obj)
        if not objs:
            return np.zeros(0)
        dt = dtypes.result_type(*type_keys)
        objs = [_ndmin(np.asarray(o, dt) if type(o) in (bool, int, float, complex)
                       else cast(o, dt), ndmin) for o in objs]
        return concatenate(objs, axis=axis)

    def __len__(self) -> int:
        return 0


r_ = _AxisConcatenator(0, 1, -1, "r_")
c_ = _AxisConcatenator(-1, 2, 0, "c_")


def ix_(*args) -> tuple:
    """``numpy.ix_``: 1-D index arrays reshaped to broadcast against each other (an open
    mesh); traced integer arrays are fine, boolean ones must be concrete."""
    n = len(args)
    out = []
    for i, a in enumerate(args):
        a = _asarray(a)
        if aval_of(a).ndim != 1:
            raise ValueError("Cross index must be 1 dimensional")
        if dtypes.is_bool(dtype_of(a)):
            a = np.nonzero(_concrete_or_raise(a, "ix_ of a boolean array"))[0]
        elif aval_of(a).size == 0:
            a = np.zeros(0, np.intp)
        shape = [1] * n
        shape[i] = aval_of(a).shape[0]
        out.append(reshape(a, tuple(shape)))
    return tuple(out)


def _shape_of_any(arr) -> tuple[int, ...]:
    return tuple(arr.shape) if hasattr(arr, "shape") else aval_of(_asarray(arr)).shape


def triu_indices(n, k=0, m=None) -> tuple:
    """``numpy.triu_indices`` (static)."""
    return np.triu_indices(operator.index(n), operator.index(k), m)


def tril_indices(n, k=0, m=None) -> tuple:
    """``numpy.tril_indices`` (static)."""
    return np.tril_indices(operator.index(n), operator.index(k), m)


def triu_indices_from(arr, k=0) -> tuple:
    """``numpy.triu_indices_from``: only the shape of ``arr`` (which may be traced) matters."""
    shape = _shape_of_any(arr)
    if len(shape) != 2:
        raise ValueError("input array must be 2-d")
    return np.triu_indices(shape[-2], k, shape[-1])


def tril_indices_from(arr, k=0) -> tuple:
    """``numpy.tril_indices_from``: only the shape of ``arr`` (which may be traced) matters."""
    shape = _shape_of_any(arr)
    if len(shape) != 2:
        raise ValueError("input array must be 2-d")
    return np.tril_indices(shape[-2], k, shape[-1])


def diag_indices(n, ndim=2) -> tuple:
    """``numpy.diag_indices`` (static)."""
    return np.diag_indices(operator.index(n), operator.index(ndim))


def diag_indices_from(arr) -> tuple:
    """``numpy.diag_indices_from``: only the shape of ``arr`` matters."""
    shape = _shape_of_any(arr)
    if len(shape) < 2:
        raise ValueError("input array must be at least 2-d")
    if len(set(shape)) != 1:
        raise ValueError("All dimensions of input must be of equal length")
    return np.diag_indices(shape[0], len(shape))


def mask_indices(n, mask_func, k=0, *, size=None) -> tuple:
    """``numpy.mask_indices``: indices where ``mask_func(ones((n, n)), k)`` is nonzero
    (padded with zeros or truncated to ``size`` entries when given, as in JAX)."""
    mask = _concrete_or_raise(mask_func(np.ones((n, n), np.int64), k), "mask_indices")
    rows, cols = np.nonzero(mask)
    if size is not None:
        rows, cols = (np.concatenate([r, np.zeros(size, r.dtype)])[:size] for r in (rows, cols))
    return rows, cols
