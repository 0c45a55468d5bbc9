"""Shape primitives that move data without arithmetic: broadcast_in_dim, reshape, transpose.

These three are what every other rule leans on (NumPy broadcasting becomes ``broadcast_in_dim``;
batching rules move axes with ``transpose``), so they live apart from the rest of the shape ops.
"""

from __future__ import annotations

import numpy as np

from .. import ad, batching, core, core_prims, simplify
from ..ad import Zero
from ..core import Primitive, ShapedArray
from . import basic

# --- broadcast_in_dim -------------------------------------------------------------------------

broadcast_in_dim_p = core_prims.broadcast_in_dim_p  # declared below batching; rules here


def _broadcast_in_dim_shape(x: ShapedArray, *, shape, broadcast_dimensions):
    if len(broadcast_dimensions) != x.ndim:
        raise TypeError(f"broadcast_in_dim: broadcast_dimensions {broadcast_dimensions} must "
                        f"name one output axis per operand axis (operand shape {x.shape})")
    if any(not 0 <= d < len(shape) for d in broadcast_dimensions) or list(
            broadcast_dimensions) != sorted(set(broadcast_dimensions)):
        raise TypeError(f"broadcast_in_dim: broadcast_dimensions {broadcast_dimensions} must be "
                        f"strictly increasing axes of the output shape {shape}")
    for i, d in enumerate(broadcast_dimensions):
        if x.shape[i] not in (1, shape[d]):
            raise TypeError(f"broadcast_in_dim: operand shape {x.shape} cannot be broadcast to "
                            f"{shape} along {broadcast_dimensions}")
    return ShapedArray(shape, x.dtype)


def _broadcast_in_dim_impl(x, *, shape, broadcast_dimensions):
    x = np.asarray(x)
    expanded = [1] * len(shape)
    for i, d in enumerate(broadcast_dimensions):
        expanded[d] = x.shape[i]
    return np.broadcast_to(x.reshape(expanded), shape)


def _broadcast_in_dim_transpose(ct, x, *, shape, broadcast_dimensions):
    if isinstance(ct, Zero):
        return [Zero(x.aval)]
    new_axes = tuple(d for d in range(len(shape)) if d not in broadcast_dimensions)
    stretched = tuple(d for i, d in enumerate(broadcast_dimensions)
                      if x.aval.shape[i] == 1 and shape[d] != 1)
    summed = basic.reduce_sum(ct, tuple(sorted(new_axes + stretched)))
    return [basic.reshape(summed, x.aval.shape)]


def _broadcast_in_dim_batch(vals, dims, axis_size, *, shape, broadcast_dimensions):
    (x,), (d,) = vals, dims
    x = batching.moveaxis(x, d, 0)
    new_shape = (axis_size,) + tuple(shape)
    new_bdims = (0,) + tuple(b + 1 for b in broadcast_dimensions)
    return broadcast_in_dim_p.bind(x, shape=new_shape, broadcast_dimensions=new_bdims), 0


core.shape_rules[broadcast_in_dim_p] = _broadcast_in_dim_shape
core.impl_rules[broadcast_in_dim_p] = _broadcast_in_dim_impl
ad.deflinear(broadcast_in_dim_p, _broadcast_in_dim_transpose)
batching.batch_rules[broadcast_in_dim_p] = _broadcast_in_dim_batch

# --- reshape ----------------------------------------------------------------------------------

reshape_p = Primitive("reshape")


def _reshape_shape(x: ShapedArray, *, new_sizes):
    if int(np.prod(new_sizes, dtype=np.int64)) != x.size:
        raise TypeError(f"reshape: cannot reshape an array of shape {x.shape} ({x.size} "
                        f"elements) into shape {tuple(new_sizes)}")
    return ShapedArray(new_sizes, x.dtype)


def _reshape_transpose(ct, x, *, new_sizes):
    if isinstance(ct, Zero):
        return [Zero(x.aval)]
    return [basic.reshape(ct, x.aval.shape)]


def _reshape_batch(vals, dims, axis_size, *, new_sizes):
    (x,), (d,) = vals, dims
    x = batching.moveaxis(x, d, 0)
    return reshape_p.bind(x, new_sizes=(axis_size,) + tuple(new_sizes)), 0


core.shape_rules[reshape_p] = _reshape_shape
core.impl_rules[reshape_p] = lambda x, *, new_sizes: np.reshape(x, new_sizes)
ad.deflinear(reshape_p, _reshape_transpose)
batching.batch_rules[reshape_p] = _reshape_batch

# --- transpose --------------------------------------------------------------------------------

transpose_p = core_prims.transpose_p  # declared below batching; rules here


def _transpose_shape(x: ShapedArray, *, permutation):
    if sorted(permutation) != list(range(x.ndim)):
        raise TypeError(f"transpose: permutation {permutation} is not a permutation of the "
                        f"axes of an array of shape {x.shape}")
    return ShapedArray(tuple(x.shape[p] for p in permutation), x.dtype)


def _transpose_transpose(ct, x, *, permutation):
    if isinstance(ct, Zero):
        return [Zero(x.aval)]
    return [basic.transpose(ct, tuple(int(i) for i in np.argsort(permutation)))]


def _transpose_batch(vals, dims, axis_size, *, permutation):
    (x,), (d,) = vals, dims
    x = batching.moveaxis(x, d, 0)
    return transpose_p.bind(x, permutation=(0,) + tuple(p + 1 for p in permutation)), 0


core.shape_rules[transpose_p] = _transpose_shape
core.impl_rules[transpose_p] = lambda x, *, permutation: np.transpose(x, permutation)
ad.deflinear(transpose_p, _transpose_transpose)
batching.batch_rules[transpose_p] = _transpose_batch

simplify.known_primitives.update(broadcast_in_dim=broadcast_in_dim_p, reshape=reshape_p,
                                 transpose=transpose_p)
