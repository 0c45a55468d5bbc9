"""Bit packing and counting: ``packbits``, ``unpackbits`` and ``bitwise_count``.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes, lax
from . import _ufuncs as u
from ._base import asarray as _asarray
from ._base import (
    aval_of,
    cast,
    dtype_of,
    normalize_axis,
    scalarize,
)
from ._shape import concatenate, moveaxis, ravel, reshape

__all__ = ["packbits", "unpackbits", "bitwise_count"]

_UINT8 = np.dtype(np.uint8)


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
