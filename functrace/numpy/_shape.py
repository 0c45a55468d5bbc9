"""Shape manipulation with NumPy's signatures: reshape, transpose, squeeze, joining, splitting,
tiling, flipping and rolling, triangles and diagonals.

All of it is static: shapes, axes, split points and repeat counts must be known while tracing
(they are Python ints or NumPy values), as in NumPy where they determine the result's shape.
"""

from __future__ import annotations

import builtins
import math
import operator
from typing import Any

import numpy as np

from .. import dtypes, lax
from ..core import Tracer
from . import _base
from ._base import (
    asarray,
    canonical_shape,
    cast,
    check_unsupported,
    normalize_axes,
    normalize_axis,
)

__all__ = ["reshape", "ravel", "transpose", "permute_dims", "matrix_transpose", "swapaxes",
           "moveaxis", "rollaxis", "squeeze", "expand_dims", "broadcast_to", "broadcast_arrays",
           "broadcast_shapes", "atleast_1d", "atleast_2d", "atleast_3d", "concatenate",
           "concat", "stack", "hstack", "vstack", "dstack", "column_stack", "split",
           "array_split", "hsplit", "vsplit", "dsplit", "tile", "repeat", "flip", "fliplr",
           "flipud", "roll", "rot90", "triu", "tril", "diag", "diagflat", "diagonal", "trace",
           "pad", "copy", "shape", "ndim", "size", "astype", "append", "unstack",
           "block"]


_aval = _base.aval_of


# ---------------------------------------------------------------------------------------------
# Reshaping and axis permutations
# ---------------------------------------------------------------------------------------------


def _resolve_shape(shape: Any, size: int, old_shape: tuple[int, ...]) -> tuple[int, ...]:
    shape = canonical_shape(shape)
    unknown = [i for i, d in enumerate(shape) if d == -1]
    if len(unknown) > 1:
        raise ValueError("can only specify one unknown dimension")
    if any(d < -1 for d in shape):
        raise ValueError(f"negative dimensions not allowed: {shape}")
    known = math.prod(d for d in shape if d != -1)
    if unknown:
        if known == 0 or size % known:
            raise ValueError(f"cannot reshape array of size {size} into shape {shape}")
        shape = tuple(size // known if d == -1 else d for d in shape)
    if math.prod(shape) != size:
        raise ValueError(f"cannot reshape array of size {size} into shape {shape} (from "
                         f"{old_shape})")
    return shape


def reshape(a, /, shape=None, order="C", *, newshape=None, copy=None):
    """``numpy.reshape`` (C order; one dimension may be -1)."""
    if shape is None:
        shape = newshape
    if shape is None:
        raise TypeError("reshape() missing the required argument 'shape'")
    a = asarray(a)
    aval = _aval(a)
    new = _resolve_shape(shape, aval.size, aval.shape)
    if order == "F":
        rev = tuple(range(aval.ndim))[::-1]
        flipped = lax.reshape(lax.transpose(a, rev), new[::-1])
        return lax.transpose(flipped, tuple(range(len(new)))[::-1])
    if order not in ("C", "A"):
        raise NotImplementedError(f"functrace.numpy.reshape supports order 'C' and 'F', got "
                                  f"{order!r}")
    return lax.reshape(a, new)


def ravel(a, order="C"):
    """``numpy.ravel``: the flattened array (C order)."""
    a = asarray(a)
    return reshape(a, (_aval(a).size,), order=order)


def transpose(a, axes=None):
    """``numpy.transpose``: reverse the axes, or permute them by ``axes``."""
    a = asarray(a)
    ndim = _aval(a).ndim
    if axes is None:
        perm = tuple(range(ndim))[::-1]
    else:
        perm = tuple(normalize_axis(ax, ndim) for ax in axes)
        if len(perm) != ndim or sorted(perm) != list(range(ndim)):
            raise ValueError("axes don't match array")
    return lax.transpose(a, perm)


def permute_dims(a, /, axes=None):
    """``numpy.permute_dims`` (the array-API ``transpose``)."""
    return transpose(a, axes)


def matrix_transpose(x, /):
    """``numpy.matrix_transpose``: swap the last two axes."""
    x = asarray(x)
    if _aval(x).ndim < 2:
        raise ValueError("matrix_transpose requires an array of at least two dimensions")
    return swapaxes(x, -1, -2)


def swapaxes(a, axis1, axis2):
    """``numpy.swapaxes``: exchange two axes."""
    a = asarray(a)
    ndim = _aval(a).ndim
    i, j = normalize_axis(axis1, ndim), normalize_axis(axis2, ndim)
    perm = list(range(ndim))
    perm[i], perm[j] = j, i
    return lax.transpose(a, perm)


def moveaxis(a, source, destination):
    """``numpy.moveaxis``: move axes ``source`` to positions ``destination``."""
    a = asarray(a)
    ndim = _aval(a).ndim
    src = normalize_axes(source if isinstance(source, (tuple, list)) else [source], ndim)
    dst = normalize_axes(destination if isinstance(destination, (tuple, list))
                         else [destination], ndim)
    if len(src) != len(dst):
        raise ValueError("`source` and `destination` arguments must have the same number of "
                         "elements")
    order = [i for i in range(ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return lax.transpose(a, order)


def rollaxis(a, axis, start=0):
    """``numpy.rollaxis``: move ``axis`` to position ``start``."""
    a = asarray(a)
    ndim = _aval(a).ndim
    axis = normalize_axis(axis, ndim)
    if not -ndim <= start <= ndim:
        raise np.exceptions.AxisError(f"start {start} out of range")
    start = start % (ndim + 1) if start < 0 else start
    if axis < start:
        start -= 1
    return moveaxis(a, axis, start) if axis != start else a


def squeeze(a, axis=None):
    """``numpy.squeeze``: drop axes of length one (all of them, or those in ``axis``)."""
    a = asarray(a)
    aval = _aval(a)
    if axis is None:
        axes = tuple(i for i, d in enumerate(aval.shape) if d == 1)
    else:
        axes = normalize_axes(axis, aval.ndim)
        if builtins.any(aval.shape[i] != 1 for i in axes):
            raise ValueError("cannot select an axis to squeeze out which has size not equal "
                             "to one")
    if not axes:
        return a
    return lax.reshape(a, tuple(d for i, d in enumerate(aval.shape) if i not in axes))


def expand_dims(a, axis):
    """``numpy.expand_dims``: insert axes of length one at positions ``axis``."""
    a = asarray(a)
    aval = _aval(a)
    axes = normalize_axes(axis, aval.ndim + (len(axis) if isinstance(axis, (tuple, list))
                                             else 1))
    it = iter(aval.shape)
    shape = tuple(1 if i in axes else next(it) for i in range(aval.ndim + len(axes)))
    return lax.reshape(a, shape)


def broadcast_to(array, shape):
    """``numpy.broadcast_to``."""
    return _base.broadcast_to(asarray(array), canonical_shape(shape))


def broadcast_arrays(*args):
    """``numpy.broadcast_arrays`` (a tuple)."""
    return tuple(_base.broadcast_arrays(*[asarray(a) for a in args]))


def broadcast_shapes(*shapes):
    """``numpy.broadcast_shapes``."""
    return _base.broadcast_shapes(*[canonical_shape(s) for s in shapes])


def _atleast(arys, n: int, padded):
    outs = []
    for a in arys:
        a = asarray(a)
        s = _aval(a).shape
        outs.append(lax.reshape(a, padded(s)) if len(s) < n else a)
    return outs[0] if len(outs) == 1 else tuple(outs)


def atleast_1d(*arys):
    """``numpy.atleast_1d``."""
    return _atleast(arys, 1, lambda s: (1,))


def atleast_2d(*arys):
    """``numpy.atleast_2d``."""
    return _atleast(arys, 2, lambda s: (1,) * (2 - len(s)) + s)


def atleast_3d(*arys):
    """``numpy.atleast_3d``: 1-D ``(n,)`` becomes ``(1, n, 1)``, 2-D gets a trailing axis."""
    return _atleast(arys, 3, lambda s: ((1, 1, 1), (1,) + s + (1,), s + (1,))[len(s)])


# ---------------------------------------------------------------------------------------------
# Joining and splitting
# ---------------------------------------------------------------------------------------------


def _common_dtype(arrays, dtype):
    if dtype is not None:
        return np.dtype(dtype)
    return dtypes.result_type(*arrays)


def concatenate(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    """``numpy.concatenate`` (``axis=None`` joins the flattened arrays)."""
    check_unsupported("concatenate", out=out)
    arrays = [asarray(a) for a in arrays]
    if not arrays:
        raise ValueError("need at least one array to concatenate")
    if axis is None:
        arrays = [ravel(a) for a in arrays]
        axis = 0
    dt = _common_dtype(arrays, dtype)
    arrays = [cast(a, dt) for a in arrays]
    ndim = _aval(arrays[0]).ndim
    if ndim == 0:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    ax = normalize_axis(axis, ndim)
    for a in arrays[1:]:
        s = _aval(a).shape
        if len(s) != ndim:
            raise ValueError("all the input array dimensions except for the concatenation axis "
                             "must match exactly, but the arrays have different numbers of "
                             f"dimensions ({ndim} and {len(s)})")
    if len(arrays) == 1:
        return arrays[0]
    return lax.concatenate(arrays, ax)


concat = concatenate


def stack(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    """``numpy.stack``: join arrays of one shape along a new axis."""
    check_unsupported("stack", out=out)
    arrays = [asarray(a) for a in arrays]
    if not arrays:
        raise ValueError("need at least one array to stack")
    shapes = {_aval(a).shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError("all input arrays must have the same shape")
    ax = normalize_axis(axis, _aval(arrays[0]).ndim + 1)
    return concatenate([expand_dims(a, ax) for a in arrays], axis=ax, dtype=dtype)


def hstack(tup, *, dtype=None, casting="same_kind"):
    """``numpy.hstack``: join along axis 1 (axis 0 for 1-D arrays)."""
    arrs = [atleast_1d(a) for a in tup]
    axis = 0 if arrs and _aval(arrs[0]).ndim == 1 else 1
    return concatenate(arrs, axis=axis, dtype=dtype)


def vstack(tup, *, dtype=None, casting="same_kind"):
    """``numpy.vstack``: join along axis 0 after ``atleast_2d``."""
    return concatenate([atleast_2d(a) for a in tup], axis=0, dtype=dtype)


def dstack(tup):
    """``numpy.dstack``: join along axis 2 after ``atleast_3d``."""
    return concatenate([atleast_3d(a) for a in tup], axis=2)


def column_stack(tup):
    """``numpy.column_stack``: 1-D arrays become columns, then join along axis 1."""
    cols = []
    for a in tup:
        a = asarray(a)
        if _aval(a).ndim < 2:
            a = lax.reshape(a, (_aval(a).size, 1))
        cols.append(a)
    return concatenate(cols, axis=1)


def append(arr, values, axis=None):
    """``numpy.append``."""
    if axis is None:
        return concatenate([ravel(arr), ravel(values)])
    return concatenate([arr, values], axis=axis)


def block(arrays):
    """``numpy.block`` for nested lists of arrays."""
    def depth(x):
        return 1 + depth(x[0]) if isinstance(x, list) else 0

    def assemble(x, d, total):
        if not isinstance(x, list):
            return asarray(x)
        parts = [assemble(e, d + 1, total) for e in x]
        ndim = builtins.max(total, *[_aval(p).ndim for p in parts])
        parts = [lax.reshape(p, (1,) * (ndim - _aval(p).ndim) + _aval(p).shape) for p in parts]
        return concatenate(parts, axis=-(total - d))

    return assemble(arrays, 0, depth(arrays))


def take_slice(x, axis: int, start: int, stop: int, step: int = 1):
    """``x[start:stop:step]`` along ``axis`` with non-negative in-range static bounds."""
    aval = _aval(x)
    starts = [0] * aval.ndim
    limits = list(aval.shape)
    strides = [1] * aval.ndim
    starts[axis], limits[axis], strides[axis] = start, builtins.max(stop, start), step
    return lax.slice(x, starts, limits, strides)


def _split_points(indices_or_sections, n: int, exact: bool) -> list[int]:
    if isinstance(indices_or_sections, (int, np.integer)):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError("number sections must be larger than 0.")
        if exact and n % sections:
            raise ValueError("array split does not result in an equal division")
        base, extra = divmod(n, sections)
        sizes = [base + 1] * extra + [base] * (sections - extra)
        return list(np.cumsum([0] + sizes))
    points = [operator.index(i) for i in indices_or_sections]
    return [0] + points + [n]


def array_split(ary, indices_or_sections, axis=0):
    """``numpy.array_split``: sections may differ in size by one."""
    ary = asarray(ary)
    aval = _aval(ary)
    ax = normalize_axis(axis, aval.ndim)
    n = aval.shape[ax]
    bounds = _split_points(indices_or_sections, n, exact=False)
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        lo, hi = (builtins.min(builtins.max(b + n if b < 0 else b, 0), n) for b in (lo, hi))
        out.append(take_slice(ary, ax, lo, hi))
    return out


def split(ary, indices_or_sections, axis=0):
    """``numpy.split``: an int must divide the axis length."""
    ary = asarray(ary)
    ax = normalize_axis(axis, _aval(ary).ndim)
    _split_points(indices_or_sections, _aval(ary).shape[ax], exact=True)
    return array_split(ary, indices_or_sections, axis=ax)


def hsplit(ary, indices_or_sections):
    """``numpy.hsplit``."""
    ary = asarray(ary)
    return split(ary, indices_or_sections, axis=1 if _aval(ary).ndim > 1 else 0)


def vsplit(ary, indices_or_sections):
    """``numpy.vsplit``."""
    return split(ary, indices_or_sections, axis=0)


def dsplit(ary, indices_or_sections):
    """``numpy.dsplit``."""
    return split(ary, indices_or_sections, axis=2)


def unstack(x, /, *, axis=0):
    """``numpy.unstack``: the slices along ``axis`` as a tuple."""
    x = asarray(x)
    ax = normalize_axis(axis, _aval(x).ndim)
    return tuple(_base.scalarize(squeeze(take_slice(x, ax, i, i + 1), ax))
                 for i in range(_aval(x).shape[ax]))


# ---------------------------------------------------------------------------------------------
# Tiling, repeating, flipping, rolling
# ---------------------------------------------------------------------------------------------


def tile(A, reps):
    """``numpy.tile``: repeat the whole array ``reps`` times along each axis."""
    A = asarray(A)
    reps = canonical_shape(reps)
    shape = _aval(A).shape
    d = builtins.max(len(reps), len(shape))
    shape = (1,) * (d - len(shape)) + shape
    reps = (1,) * (d - len(reps)) + reps
    A = lax.reshape(A, shape)
    interleaved = tuple(v for r, n in zip(reps, shape) for v in (r, n))
    wide = lax.broadcast_in_dim(A, interleaved, tuple(range(1, 2 * d, 2)))
    return lax.reshape(wide, tuple(r * n for r, n in zip(reps, shape)))


def repeat(a, repeats, axis=None):
    """``numpy.repeat`` with static ``repeats`` (an int or one count per entry)."""
    a = asarray(a)
    if axis is None:
        a, axis = ravel(a), 0
    aval = _aval(a)
    ax = normalize_axis(axis, aval.ndim)
    if isinstance(repeats, Tracer):
        value = repeats.concrete_value()
        if value is None:
            from ._errors import concretization_error
            raise concretization_error(repeats, "repeat with traced repeat counts (the result "
                                                "shape depends on them)")
        repeats = value
    counts = np.asarray(repeats)
    if counts.ndim == 0 or counts.shape == (1,):
        r = int(counts.reshape(()))
        if r < 0:
            raise ValueError("negative dimensions are not allowed")
        shape = aval.shape[:ax + 1] + (r,) + aval.shape[ax + 1:]
        dims = tuple(i for i in range(len(shape)) if i != ax + 1)
        wide = lax.broadcast_in_dim(a, shape, dims)
        return lax.reshape(wide, aval.shape[:ax] + (aval.shape[ax] * r,) + aval.shape[ax + 1:])
    if counts.shape != (aval.shape[ax],):
        raise ValueError(f"operands could not be broadcast together with shape "
                         f"({aval.shape[ax]},) ({counts.shape[0]},)")
    from ._indexing import take
    return take(a, np.repeat(np.arange(aval.shape[ax]), counts), axis=ax)


def flip(m, axis=None):
    """``numpy.flip``: reverse the order of entries along ``axis`` (all axes when None)."""
    m = asarray(m)
    axes = normalize_axes(axis, _aval(m).ndim)
    return lax.rev(m, axes) if axes else _base.scalarize(m)


def fliplr(m):
    """``numpy.fliplr``: reverse axis 1."""
    m = asarray(m)
    if _aval(m).ndim < 2:
        raise ValueError("Input must be >= 2-d.")
    return flip(m, 1)


def flipud(m):
    """``numpy.flipud``: reverse axis 0."""
    m = asarray(m)
    if _aval(m).ndim < 1:
        raise ValueError("Input must be >= 1-d.")
    return flip(m, 0)


def _roll_one(a, shift, ax: int):
    n = _aval(a).shape[ax]
    if n == 0:
        return a
    if not isinstance(shift, Tracer):
        return lax.roll(a, (operator.index(np.asarray(shift).reshape(()).item()),), (ax,))
    from ._ufuncs import remainder, subtract
    start = remainder(subtract(n, remainder(cast(shift, dtypes.int64), n)), n)
    doubled = concatenate([a, a], axis=ax)
    starts = [0] * _aval(a).ndim
    starts[ax] = start
    return lax.dynamic_slice(doubled, starts, _aval(a).shape)


def roll(a, shift, axis=None):
    """``numpy.roll``: shift entries cyclically (the shift may be traced)."""
    a = asarray(a)
    if axis is None:
        return reshape(_roll_one(ravel(a), shift, 0), _aval(a).shape)
    ndim = _aval(a).ndim
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    shifts = shift if isinstance(shift, (tuple, list)) else (shift,) * len(axes)
    if len(axes) == 1 and len(shifts) > 1:
        axes = tuple(axes) * len(shifts)
    if len(shifts) != len(axes):
        raise ValueError("'shift' and 'axis' should be scalars or 1D sequences")
    for s, ax in zip(shifts, axes):
        a = _roll_one(a, s, normalize_axis(ax, ndim))
    return a


def rot90(m, k=1, axes=(0, 1)):
    """``numpy.rot90``: rotate by 90 degrees ``k`` times in the plane of ``axes``."""
    m = asarray(m)
    ndim = _aval(m).ndim
    if len(axes) != 2:
        raise ValueError("len(axes) must be 2.")
    a0, a1 = normalize_axis(axes[0], ndim), normalize_axis(axes[1], ndim)
    if a0 == a1:
        raise ValueError("Axes must be different.")
    k = operator.index(k) % 4
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, a0), a1)
    perm = list(range(ndim))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    if k == 1:
        return lax.transpose(flip(m, a1), perm)
    return flip(lax.transpose(m, perm), a1)


# ---------------------------------------------------------------------------------------------
# Triangles and diagonals
# ---------------------------------------------------------------------------------------------


def _tri_mask(n: int, m: int, k: int, lower: bool):
    rows = lax.iota(dtypes.int64, (n, m), 0)
    cols = lax.iota(dtypes.int64, (n, m), 1)
    offset = lax.sub(cols, rows)
    bound = lax.full((n, m), k, dtypes.int64)
    return lax.le(offset, bound) if lower else lax.ge(offset, bound)


def _triangle(m, k: int, lower: bool):
    m = asarray(m)
    aval = _aval(m)
    if aval.ndim < 2:
        n = aval.shape[0] if aval.ndim else 1
        m = _base.broadcast_to(m, (n, n))
        aval = _aval(m)
    mask = _tri_mask(aval.shape[-2], aval.shape[-1], operator.index(k), lower)
    mask = lax.broadcast_in_dim(mask, aval.shape, (aval.ndim - 2, aval.ndim - 1))
    return lax.select(mask, m, lax.full_like(m, 0))


def tril(m, k=0):
    """``numpy.tril``: zero the entries above the ``k``-th diagonal."""
    return _triangle(m, k, lower=True)


def triu(m, k=0):
    """``numpy.triu``: zero the entries below the ``k``-th diagonal."""
    return _triangle(m, k, lower=False)


def diagonal(a, offset=0, axis1=0, axis2=1):
    """``numpy.diagonal``: the diagonal moves to the last axis (a strided slice of the
    flattened pair of axes, so no gather is needed)."""
    a = asarray(a)
    aval = _aval(a)
    if aval.ndim < 2:
        raise ValueError("diag requires an array of at least two dimensions")
    i, j = normalize_axis(axis1, aval.ndim), normalize_axis(axis2, aval.ndim)
    if i == j:
        raise ValueError("axis1 and axis2 cannot be the same")
    rest = [d for d in range(aval.ndim) if d not in (i, j)]
    x = lax.transpose(a, rest + [i, j])
    n1, n2 = aval.shape[i], aval.shape[j]
    offset = operator.index(offset)
    length = builtins.max(0, builtins.min(n1 + builtins.min(offset, 0),
                                          n2 - builtins.max(offset, 0)))
    batch = tuple(aval.shape[d] for d in rest)
    if length == 0:
        return lax.full(batch + (0,), 0, aval.dtype)
    flat = lax.reshape(x, batch + (n1 * n2,))
    start = offset if offset >= 0 else -offset * n2
    stop = start + (length - 1) * (n2 + 1) + 1
    return take_slice(flat, len(batch), start, stop, n2 + 1)


def trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    """``numpy.trace``: the sum of ``diagonal`` (int32 sums as int64, as ``numpy.sum``)."""
    from ._reductions import sum
    return sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype, out=out)


def diag(v, k=0):
    """``numpy.diag``: a 1-D ``v`` becomes a square matrix with ``v`` on diagonal ``k``; a 2-D
    ``v`` gives its ``k``-th diagonal."""
    v = asarray(v)
    aval = _aval(v)
    k = operator.index(k)
    if aval.ndim == 2:
        return diagonal(v, k)
    if aval.ndim != 1:
        raise ValueError("Input must be 1- or 2-d.")
    n = aval.shape[0] + builtins.abs(k)
    padded = concatenate([v, lax.full((builtins.abs(k),), 0, aval.dtype)]) if k else v
    if k >= 0:
        vals = lax.broadcast_in_dim(padded, (n, n), (0,))  # row i holds v[i]
    else:
        vals = lax.broadcast_in_dim(padded, (n, n), (1,))  # column j holds v[j]
    rows = lax.iota(dtypes.int64, (n, n), 0)
    cols = lax.iota(dtypes.int64, (n, n), 1)
    on_diag = lax.eq(lax.sub(cols, rows), lax.full((n, n), k, dtypes.int64))
    return lax.select(on_diag, vals, lax.full((n, n), 0, aval.dtype))


def diagflat(v, k=0):
    """``numpy.diagflat``: ``diag`` of the flattened input."""
    return diag(ravel(v), k)


# ---------------------------------------------------------------------------------------------
# Padding and small utilities
# ---------------------------------------------------------------------------------------------


def _pad_widths(pad_width, ndim: int) -> list[tuple[int, int]]:
    pw = np.broadcast_to(np.asarray(pad_width).astype(np.int64), (ndim, 2))
    if np.any(pw < 0):
        raise ValueError("index can't contain negative values")
    return [(int(lo), int(hi)) for lo, hi in pw]


def _pad_constant(array, widths, constant_values):
    aval = _aval(array)
    if isinstance(constant_values, Tracer):
        return lax.pad(array, cast(constant_values, aval.dtype), [(lo, hi, 0) for lo, hi in widths])
    values = np.broadcast_to(np.asarray(constant_values), (aval.ndim, 2)).astype(aval.dtype)
    if np.all(values == values.flat[0]):
        return lax.pad(array, values.flat[0], [(lo, hi, 0) for lo, hi in widths])
    out = array
    for ax, (lo, hi) in enumerate(widths):
        shape = list(_aval(out).shape)
        parts = [lax.full(shape[:ax] + [lo] + shape[ax + 1:], values[ax, 0], aval.dtype), out,
                 lax.full(shape[:ax] + [hi] + shape[ax + 1:], values[ax, 1], aval.dtype)]
        out = concatenate(parts, axis=ax)
    return out


def pad(array, pad_width, mode="constant", **kwargs):
    """``numpy.pad`` with modes ``constant`` (``constant_values``), ``edge``, ``wrap``,
    ``reflect`` and ``symmetric``; widths are static."""
    array = asarray(array)
    aval = _aval(array)
    if aval.ndim == 0:
        return array
    widths = _pad_widths(pad_width, aval.ndim)
    if mode == "constant":
        return _pad_constant(array, widths, kwargs.get("constant_values", 0))
    if mode not in ("edge", "wrap", "reflect", "symmetric"):
        raise NotImplementedError(f"functrace.numpy.pad does not support mode={mode!r}")
    from ._indexing import take
    out = array
    for ax, (lo, hi) in enumerate(widths):
        n = _aval(out).shape[ax]
        idx = np.arange(-lo, n + hi)
        if mode == "edge":
            idx = np.clip(idx, 0, n - 1)
        elif mode == "wrap":
            idx = idx % n
        elif mode == "reflect":
            period = 2 * (n - 1) if n > 1 else 1
            idx = np.abs(idx) % period
            idx = np.where(idx >= n, period - idx, idx)
        else:
            period = 2 * n
            idx = idx % period
            idx = np.where(idx >= n, period - 1 - idx, idx)
        if lo or hi:
            out = take(out, idx, axis=ax)
    return out


def copy(a, order="K", subok=False):
    """``numpy.copy`` (arrays are immutable under tracing, so tracers are returned as is)."""
    a = asarray(a)
    return np.array(a, copy=True) if isinstance(a, np.ndarray) else a


def shape(a) -> tuple[int, ...]:
    """``numpy.shape``."""
    return _base.shape_of(a if _base.is_py_scalar(a) else asarray(a))


def ndim(a) -> int:
    """``numpy.ndim``."""
    return len(shape(a))


def size(a, axis=None) -> int:
    """``numpy.size``."""
    s = shape(a)
    return math.prod(s) if axis is None else s[normalize_axis(axis, len(s))]


def astype(x, dtype, /, *, copy=True, device=None):
    """``numpy.astype``: ``x`` converted to ``dtype``."""
    return cast(asarray(x), np.dtype(dtype))
