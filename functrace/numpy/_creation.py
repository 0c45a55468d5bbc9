"""Array creation: zeros/ones/full/empty (and ``*_like``), eye, identity, tri, arange, linspace,
logspace, geomspace, meshgrid, asarray and array.

Outside a transformation these return ordinary (writable) NumPy arrays made by NumPy. While a
function is being staged (``make_jaxpr``/``jit``) they are recorded as ``broadcast_in_dim`` and
``iota`` equations instead, so constants are built inside the compiled program rather than baked
into it. Sizes must be static in both cases.
"""

from __future__ import annotations

import builtins
import math
import operator
from typing import Any

import numpy as np

from .. import core, dtypes, lax
from ..core import Tracer
from ._base import (
    asarray as _asarray,
)
from ._base import (
    broadcast_to,
    canonical_shape,
    cast,
    dtype_of,
    is_py_scalar,
    lift_to_dynamic,
    normalize_axis,
    staging,
)
from ._errors import concretization_error

__all__ = ["zeros", "ones", "full", "empty", "zeros_like", "ones_like", "full_like",
           "empty_like", "eye", "identity", "tri", "arange", "linspace", "logspace", "geomspace",
           "meshgrid", "asarray", "array", "asanyarray", "ascontiguousarray", "indices"]


def _dtype(dtype, default=dtypes.float64) -> np.dtype:
    return np.dtype(default if dtype is None else dtype)


def _static(x, what: str):
    """The value of ``x`` where it decides a shape: tracers must have a known value."""
    if isinstance(x, Tracer):
        value = x.concrete_value()
        if value is None:
            raise concretization_error(x, f"{what} (it determines the shape of the result)")
        return value
    return x


def zeros(shape, dtype=None, order="C", *, device=None, like=None):
    """``numpy.zeros`` (float64 unless ``dtype``)."""
    return full(shape, 0, _dtype(dtype))


def ones(shape, dtype=None, order="C", *, device=None, like=None):
    """``numpy.ones`` (float64 unless ``dtype``)."""
    return full(shape, 1, _dtype(dtype))


def empty(shape, dtype=None, order="C", *, device=None, like=None):
    """``numpy.empty``: zeros (traced arrays have no uninitialised memory)."""
    return full(shape, 0, _dtype(dtype))


def full(shape, fill_value, dtype=None, order="C", *, device=None, like=None):
    """``numpy.full``: ``shape`` filled with ``fill_value`` (which may be an array that
    broadcasts, or a tracer)."""
    shape = canonical_shape(_static(shape, "the shape given to full"))
    if isinstance(fill_value, Tracer) or staging():
        fill = _asarray(fill_value)
        dt = _dtype(dtype, dtype_of(fill))
        return broadcast_to(cast(fill, dt), shape)
    dt = _dtype(dtype, np.asarray(fill_value).dtype)
    return lift_to_dynamic(np.full(shape, fill_value, dt))


def _like(a, fill_value, dtype, shape):
    aval = core.get_aval(_asarray(a) if not is_py_scalar(a) else np.asarray(a))
    dt = _dtype(dtype, aval.dtype)
    shape = aval.shape if shape is None else canonical_shape(shape)
    if isinstance(fill_value, Tracer) or staging() or isinstance(a, Tracer):
        return broadcast_to(cast(_asarray(fill_value), dt), shape)
    return lift_to_dynamic(np.full(shape, fill_value, dt))


def zeros_like(a, dtype=None, order="K", subok=True, shape=None, *, device=None):
    """``numpy.zeros_like``."""
    return _like(a, 0, dtype, shape)


def ones_like(a, dtype=None, order="K", subok=True, shape=None, *, device=None):
    """``numpy.ones_like``."""
    return _like(a, 1, dtype, shape)


def empty_like(prototype, dtype=None, order="K", subok=True, shape=None, *, device=None):
    """``numpy.empty_like``: zeros."""
    return _like(prototype, 0, dtype, shape)


def full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None, *, device=None):
    """``numpy.full_like``."""
    return _like(a, fill_value, dtype, shape)


def _diagonal_mask(n: int, m: int, k: int):
    offset = lax.sub(lax.iota(dtypes.int64, (n, m), 1), lax.iota(dtypes.int64, (n, m), 0))
    return offset, lax.full((n, m), k, dtypes.int64)


def eye(N, M=None, k=0, dtype=None, order="C", *, device=None, like=None):
    """``numpy.eye``: ones on the ``k``-th diagonal."""
    n = operator.index(N)
    m = n if M is None else operator.index(M)
    k, dt = operator.index(k), _dtype(dtype)
    if not staging():
        return np.eye(n, m, k, dt)
    offset, kk = _diagonal_mask(n, m, k)
    return lax.convert_element_type(lax.eq(offset, kk), dt)


def identity(n, dtype=None, *, like=None):
    """``numpy.identity``: the ``n`` by ``n`` identity matrix."""
    return eye(n, dtype=dtype)


def tri(N, M=None, k=0, dtype=None, *, like=None):
    """``numpy.tri``: ones at and below the ``k``-th diagonal."""
    n = operator.index(N)
    m = n if M is None else operator.index(M)
    k, dt = operator.index(k), _dtype(dtype)
    if not staging():
        return np.tri(n, m, k, dt)
    offset, kk = _diagonal_mask(n, m, k)
    return lax.convert_element_type(lax.le(offset, kk), dt)


def arange(start, stop=None, step=None, dtype=None, *, device=None, like=None):
    """``numpy.arange`` (bounds and step must be static: they determine the length)."""
    start = _static(start, "arange's start")
    stop = _static(stop, "arange's stop")
    step = _static(step, "arange's step")
    if not staging():
        args = [v for v in (start, stop, step) if v is not None]
        return np.arange(*args, dtype=dtype)
    if stop is None:
        start, stop = 0, start
    step = 1 if step is None else step
    if step == 0:
        raise ZeroDivisionError("arange: step must not be zero")
    dt = np.dtype(dtype) if dtype is not None else np.result_type(
        *[np.asarray(v) for v in (start, stop, step)])
    n = builtins.max(0, math.ceil((stop - start) / step))
    if dtypes.is_integer(dt):
        ramp = lax.iota(dt, (n,), 0)
        if step != 1:
            ramp = lax.mul(ramp, lax.full((n,), step, dt))
        return lax.add(ramp, lax.full((n,), start, dt)) if start else ramp
    # NumPy fills start + i * delta with delta = (start + step) - start, in the result dtype
    delta = (np.asarray(start, dt) + np.asarray(step, dt)) - np.asarray(start, dt)
    ramp = lax.mul(lax.iota(dt, (n,), 0), lax.full((n,), delta, dt))
    return lax.add(ramp, lax.full((n,), start, dt))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *,
             device=None):
    """``numpy.linspace`` (``start``/``stop`` may be arrays or tracers; ``num`` is static)."""
    num = operator.index(_static(num, "linspace's num"))
    if num < 0:
        raise ValueError(f"Number of samples, {num}, must be non-negative.")
    if not (isinstance(start, Tracer) or isinstance(stop, Tracer) or staging()):
        return np.linspace(start, stop, num, endpoint, retstep, dtype, axis)
    start, stop = _asarray(start), _asarray(stop)
    div = (num - 1) if endpoint else num
    dt = dtypes.result_type(start, stop, float(num))
    start, stop = cast(start, dt), cast(stop, dt)
    bshape = np.broadcast_shapes(core.get_aval(start).shape, core.get_aval(stop).shape)
    start, stop = broadcast_to(start, bshape), broadcast_to(stop, bshape)
    shape = (num,) + tuple(bshape)
    dims = tuple(range(1, len(shape)))
    ramp = lax.iota(dt, shape, 0)
    delta = lax.sub(stop, start)
    if div > 0:
        step = lax.div(delta, lax.full_like(delta, div))
        y = lax.mul(ramp, lax.broadcast_in_dim(step, shape, dims))
    else:
        step = lax.full_like(delta, np.nan)
        y = lax.mul(ramp, lax.broadcast_in_dim(delta, shape, dims))
    y = lax.add(y, lax.broadcast_in_dim(start, shape, dims))
    if endpoint and num > 1:
        last = lax.eq(lax.iota(dtypes.int64, shape, 0), lax.full(shape, num - 1, dtypes.int64))
        y = lax.select(last, lax.broadcast_in_dim(stop, shape, dims), y)
    if axis != 0:
        from ._shape import moveaxis
        y = moveaxis(y, 0, normalize_axis(axis, len(shape)))
    out_dt = _dtype(dtype, dt)
    if dtypes.is_integer(out_dt):
        y = lax.floor(y)
    y = cast(y, out_dt)
    return (y, step) if retstep else y


def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    """``numpy.logspace``: ``base ** linspace(start, stop)``."""
    from ._ufuncs import power
    y = power(base, linspace(start, stop, num, endpoint, axis=axis))
    return y if dtype is None else cast(y, np.dtype(dtype))


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """``numpy.geomspace`` for positive real bounds."""
    from ._ufuncs import exp, log
    y = exp(linspace(log(start), log(stop), num, endpoint, axis=axis))
    return y if dtype is None else cast(y, np.dtype(dtype))


def meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    """``numpy.meshgrid`` (a tuple)."""
    if indexing not in ("xy", "ij"):
        raise ValueError("Valid values for `indexing` are 'xy' and 'ij'.")
    n = len(xi)
    outs = []
    for i, x in enumerate(xi):
        x = _asarray(x)
        shape = [1] * n
        shape[i] = core.get_aval(x).size
        if indexing == "xy" and n > 1 and i < 2:
            shape[i], shape[1 - i] = 1, shape[i]
        outs.append(lax.reshape(x, tuple(shape)))
    if not sparse and outs:
        from ._base import broadcast_arrays
        outs = broadcast_arrays(*outs)
    return tuple(outs)


def indices(dimensions, dtype=int, sparse=False):
    """``numpy.indices``: a grid of coordinates, stacked (or a tuple when ``sparse``)."""
    dims = canonical_shape(dimensions)
    grids = meshgrid(*[arange(d, dtype=dtype) for d in dims], indexing="ij", sparse=sparse)
    if sparse:
        return grids
    if not dims:
        return zeros((0,), dtype)
    from ._shape import stack
    return stack(grids)


def asarray(a, dtype=None, order=None, *, device=None, copy=None, like=None):
    """``numpy.asarray``: tracers stay tracers (cast to ``dtype``); lists holding tracers are
    stacked into one traced array."""
    if isinstance(a, (Tracer, list, tuple)):
        return lift_to_dynamic(_asarray(a, dtype))
    if isinstance(a, np.ma.MaskedArray):  # np.asarray would silently drop the mask
        raise core.masked_array_error(a)
    if a is None:
        raise core.object_array_error(a)
    return lift_to_dynamic(np.asarray(a, dtype))


def array(object: Any, dtype=None, *, copy=True, order="K", subok=False, ndmin=0,  # noqa: A002
          like=None):
    """``numpy.array``: like ``asarray`` (a copy for NumPy inputs), with ``ndmin``."""
    if isinstance(object, (Tracer, list, tuple)):
        out = _asarray(object, dtype)
        if isinstance(out, np.ndarray) and copy:
            out = np.array(out, copy=True)
    elif isinstance(object, np.ma.MaskedArray):  # np.array would silently drop the mask
        raise core.masked_array_error(object)
    else:
        out = np.array(object, dtype, copy=copy, ndmin=0)
    out = lift_to_dynamic(out)
    nd = core.get_aval(out).ndim
    if ndmin > nd:
        out = lax.reshape(out, (1,) * (ndmin - nd) + core.get_aval(out).shape)
    return out


asanyarray = asarray


def ascontiguousarray(a, dtype=None, *, like=None):
    """``numpy.ascontiguousarray`` (same as ``asarray``)."""
    return asarray(a, dtype)
