"""Reductions over axes (sum, max, min, prod, argmax, argmin) with all their rules."""

from __future__ import annotations

import numpy as np

from .. import ad, batching, core, lax
from ..ad import Zero
from ..core import Primitive, ShapedArray

__all__: list[str] = []  # lax.reduce_sum is defined in lax.py; new public wrappers go here


def _check_axes(name: str, x: ShapedArray, axes) -> None:
    if any(not 0 <= a < x.ndim for a in axes) or len(set(axes)) != len(axes):
        raise TypeError(f"{name}: axes {axes} are not distinct axes of an array of shape "
                        f"{x.shape}")


def _reduce_shape_rule(name: str):
    def rule(x: ShapedArray, *, axes):
        _check_axes(name, x, axes)
        return ShapedArray(tuple(d for i, d in enumerate(x.shape) if i not in axes), x.dtype)

    return rule


def _reduce_batch_rule(prim: Primitive):
    def rule(vals, dims, axis_size, *, axes):
        (x,), (d,) = vals, dims
        x = batching.moveaxis(x, d, 0)
        return prim.bind(x, axes=tuple(a + 1 for a in axes)), 0

    return rule


# --- reduce_sum -------------------------------------------------------------------------------

reduce_sum_p = Primitive("reduce_sum")


def _reduce_sum_transpose(ct, x, *, axes):
    if isinstance(ct, Zero):
        return [Zero(x.aval)]
    kept = tuple(i for i in range(x.aval.ndim) if i not in axes)
    return [lax.broadcast_in_dim(ct, x.aval.shape, kept)]


core.shape_rules[reduce_sum_p] = _reduce_shape_rule("reduce_sum")
core.impl_rules[reduce_sum_p] = (
    lambda x, *, axes: np.asarray(np.sum(x, axis=axes, dtype=np.asarray(x).dtype)))
ad.deflinear(reduce_sum_p, _reduce_sum_transpose)
batching.batch_rules[reduce_sum_p] = _reduce_batch_rule(reduce_sum_p)
