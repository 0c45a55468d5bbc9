"""Less common NumPy/JAX-numpy functions: index helpers (``r_``, ``c_``, ``mgrid``,
``triu_indices``...), functional in-place updates (``fill_diagonal``, ``put``, ``place``,
``put_along_axis``, ``insert``), selection (``choose``, ``extract``), ``resize``,
``trim_zeros``, counting (``bincount``, ``histogram``), bit packing, window functions, set
operations and the ``unique_*`` family, dtype aliases and small predicates.

Everything whose *result shape* would depend on data (``trim_zeros``, set operations and
``unique_*`` without ``size=``, ``bincount`` without ``length=``) needs concretely known input,
as in JAX; with the ``size=``/``length=`` arguments they trace, vectorise and differentiate.
Static helpers (index grids, window functions with static arguments) return NumPy arrays.
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
from ._creation import arange, linspace
from ._errors import concretization_error
from ._indexing import _concrete_or_raise, _scatter_update, getitem, take, take_along_axis
from ._reductions import max as _max
from ._reductions import min as _min
from ._reductions import sum as _sum
from ._shape import broadcast_arrays, concatenate, moveaxis, ravel, reshape, stack, transpose

__all__ = [
    "float_", "complex_", "cdouble", "csingle", "object_", "character", "flexible",
    "isdtype", "iterable", "array_equiv", "array_repr", "array_str", "einsum_path",
    "r_", "c_", "s_", "index_exp", "mgrid", "ogrid", "ix_", "triu_indices", "tril_indices",
    "triu_indices_from", "tril_indices_from", "diag_indices", "diag_indices_from",
    "mask_indices", "fill_diagonal", "put", "place", "put_along_axis", "insert", "choose",
    "extract", "resize", "trim_zeros", "bincount", "histogram", "histogram_bin_edges",
    "packbits", "unpackbits", "bitwise_count", "bartlett", "blackman", "hamming", "hanning",
    "kaiser", "real_if_close",
]

_UINT8, _INT8 = np.dtype(np.uint8), np.dtype(np.int8)

# ---------------------------------------------------------------------------------------------
# dtype aliases and predicates
# ---------------------------------------------------------------------------------------------

float_ = np.float64
complex_ = cdouble = np.complex128
csingle = np.complex64
object_, character, flexible = np.object_, np.character, np.flexible


def isdtype(dtype, kind) -> bool:
    """``numpy.isdtype``: whether ``dtype`` is of ``kind`` (a dtype, a kind name such as
    ``"real floating"``, or a tuple of them)."""
    return bool(np.isdtype(np.dtype(dtype), kind))


def iterable(y) -> bool:
    """``numpy.iterable``; a tracer is iterable when it has at least one dimension."""
    if isinstance(y, Tracer):
        return y.aval.ndim > 0
    return bool(np.iterable(y))


def array_equiv(a1, a2):
    """``numpy.array_equiv``: shapes broadcast together and all entries are equal (a Python
    bool outside transformations, a traced bool inside)."""
    a1, a2 = _asarray(a1), _asarray(a2)
    try:
        eq = u.equal(a1, a2)
    except ValueError:  # shapes do not broadcast
        return False
    out = _all(eq)
    return out if isinstance(out, Tracer) else builtins.bool(out)


def _all(x):
    from ._reductions import all as all_
    return all_(x)


def _printable(a, name: str):
    if isinstance(a, Tracer):
        value = a.concrete_value()
        if value is None:
            return None
        return np.asarray(value)
    return np.asarray(a)


def array_repr(arr, max_line_width=None, precision=None, suppress_small=None) -> str:
    """``numpy.array_repr`` (of a traced array: its abstract description)."""
    value = _printable(arr, "array_repr")
    if value is None:
        return repr(arr)
    return np.array_repr(value, max_line_width, precision, suppress_small)


def array_str(a, max_line_width=None, precision=None, suppress_small=None) -> str:
    """``numpy.array_str`` (of a traced array: its abstract description)."""
    value = _printable(a, "array_str")
    if value is None:
        return str(a)
    return np.array_str(value, max_line_width, precision, suppress_small)


def einsum_path(subscripts, /, *operands, optimize="greedy"):
    """``numpy.einsum_path``: NumPy's contraction order for operands of these shapes (only the
    shapes and dtypes matter, so tracers are fine)."""
    stand_ins = [o if isinstance(o, str) else np.broadcast_to(
        np.zeros((), dtype_of(_asarray(o))), aval_of(_asarray(o)).shape) for o in operands]
    return np.einsum_path(subscripts, *stand_ins, optimize=optimize)


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


def real_if_close(a, tol: float = 100):
    """``numpy.real_if_close``: the real part of a complex ``a`` if every imaginary part is
    below ``tol`` machine epsilons of its dtype (``tol`` is absolute if at most 1), else ``a``
    unchanged. The result's dtype depends on the values, so ``a`` must be concrete (not a
    traced value inside ``jit``/``grad``/``vmap``)."""
    a = _asarray(a)
    dt = dtype_of(a)
    if not dtypes.is_complex(dt):
        return a
    imag = u.imag(a)
    if isinstance(imag, Tracer):
        value = imag.concrete_value()
        if value is None:
            raise concretization_error(imag, "real_if_close (its result dtype depends on the "
                                             "values: use functrace.numpy.real where the "
                                             "imaginary parts are known to be small)")
        imag = value
    limit = tol * np.finfo(dt).eps if tol > 1 else tol
    return u.real(a) if bool(np.all(np.abs(imag) < limit)) else a


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


# ---------------------------------------------------------------------------------------------
# Bits
# ---------------------------------------------------------------------------------------------


def _bit_axis(a, axis, name: str):
    a = _asarray(a)
    if axis is None:
        return ravel(a), 0
    return a, normalize_axis(axis, aval_of(a).ndim)


def packbits(a, axis=None, bitorder: str = "big"):
    """``numpy.packbits``: groups of 8 truthy/falsy entries along ``axis`` into uint8."""
    if bitorder not in ("big", "little"):
        raise ValueError("'order' must be either 'little' or 'big'")
    a, ax = _bit_axis(a, axis, "packbits")
    if not (dtypes.is_integer(dtype_of(a)) or dtypes.is_bool(dtype_of(a))):
        raise TypeError("Expected an input array of integer or boolean data type")
    bits = cast(u.not_equal(a, 0), _UINT8)
    bits = moveaxis(bits, ax, -1)
    shape = aval_of(bits).shape
    pad = -shape[-1] % 8
    if pad:
        bits = concatenate([bits, lax.full(shape[:-1] + (pad,), 0, _UINT8)], axis=-1)
    groups = reshape(bits, shape[:-1] + ((shape[-1] + pad) // 8, 8))
    weights = np.array([128, 64, 32, 16, 8, 4, 2, 1], np.uint8)
    if bitorder == "little":
        weights = weights[::-1].copy()
    weighted = lax.mul(groups, lax.broadcast_in_dim(weights, aval_of(groups).shape,
                                                    (len(shape),)))
    packed = lax.reduce_sum(weighted, (len(shape),))
    return moveaxis(packed, -1, ax)


def unpackbits(a, axis=None, count=None, bitorder: str = "big"):
    """``numpy.unpackbits``: each uint8 entry along ``axis`` becomes 8 bits (``count`` keeps
    that many, zero-padding if larger)."""
    if bitorder not in ("big", "little"):
        raise ValueError("'order' must be either 'little' or 'big'")
    a, ax = _bit_axis(a, axis, "unpackbits")
    if dtype_of(a) != np.uint8:
        raise TypeError("Expected an input array of unsigned byte data type")
    a = moveaxis(a, ax, -1)
    shape = aval_of(a).shape
    divisors = np.array([128, 64, 32, 16, 8, 4, 2, 1], np.uint8)
    if bitorder == "little":
        divisors = divisors[::-1].copy()
    full = shape + (8,)
    spread = lax.broadcast_in_dim(a, full, tuple(range(len(shape))))
    d = lax.broadcast_in_dim(divisors, full, (len(shape),))
    bits = lax.rem(lax.div(spread, d), lax.full(full, 2, _UINT8))
    bits = reshape(bits, shape[:-1] + (shape[-1] * 8,))
    if count is not None:
        n = shape[-1] * 8
        if count > n:
            bits = concatenate([bits, lax.full(shape[:-1] + (count - n,), 0, _UINT8)], -1)
        else:
            from ._shape import take_slice
            bits = take_slice(bits, len(shape) - 1, 0, count if count >= 0 else n + count)
    return moveaxis(bits, -1, ax)


def bitwise_count(x, /):
    """``numpy.bitwise_count``: the number of 1 bits of ``|x|`` (uint8)."""
    x = _asarray(x)
    dt = dtype_of(x)
    if dtypes.is_bool(dt):
        return cast(x, _UINT8)
    if not dtypes.is_integer(dt):
        raise TypeError(f"bitwise_count needs an integer array, got {dt}")
    if np.issubdtype(dt, np.signedinteger):
        # |x| reinterpreted as unsigned: the wrap-around of -min is its correct magnitude
        x = cast(u.where(u.less(x, 0), u.negative(x), x), np.dtype(f"u{dt.itemsize}"))
    count = lax.full_like(x, 0)
    two = lax.full_like(x, 2)
    for _ in range(dt.itemsize * 8):
        count = lax.add(count, lax.rem(x, two))
        x = lax.div(x, two)
    return scalarize(cast(count, _UINT8))


# ---------------------------------------------------------------------------------------------
# Window functions
# ---------------------------------------------------------------------------------------------


def _window(np_fn, name: str):
    def window(M):
        return np_fn(operator.index(M))
    window.__name__ = name
    window.__doc__ = f"``numpy.{name}`` window of static length ``M`` (float64)."
    return window


bartlett = _window(np.bartlett, "bartlett")
blackman = _window(np.blackman, "blackman")
hamming = _window(np.hamming, "hamming")
hanning = _window(np.hanning, "hanning")


def kaiser(M, beta):
    """``numpy.kaiser`` window of static length ``M``; ``beta`` may be traced."""
    M = operator.index(M)
    if not isinstance(beta, Tracer):
        return np.kaiser(M, beta)
    from ._extras_math import i0
    if M <= 1:
        return np.ones(M)
    n = np.arange(M)
    alpha = (M - 1) / 2.0
    r = np.sqrt(np.maximum(1 - ((n - alpha) / alpha) ** 2, 0.0))
    beta = cast(beta, dtypes.result_type(beta, dtypes.float64))
    return u.divide(i0(u.multiply(beta, r)), i0(beta))
