"""Cumulative (prefix) reductions along one axis: cumsum, cumprod, cummax, cummin.

Each primitive takes ``axis`` (a non-negative int) and ``reverse`` (scan from the end) and keeps
the operand's dtype: ``cumsum`` of int32 is int32 here, while ``np.cumsum`` of int32 gives the
platform integer (int64); that promotion is the numpy layer's job, done before binding.

``cumsum`` is linear (its transpose is the cumsum running the other way). The others are
differentiated as JAX does it: through an associative-scan formulation built from slices,
concatenations and the elementwise ``mul``/``max``/``min``, whose derivative is then exact
where entries are zero (``cumprod``) and splits ties the way JAX does (``cummax``/``cummin``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import ad, batching, core, dtypes
from ..ad import Zero
from ..core import Primitive, ShapedArray
from . import basic
from . import shapes as shape_ops
from .reductions import normalize_axis

__all__ = ["cumsum", "cumprod", "cummax", "cummin"]


# ---------------------------------------------------------------------------------------------
# Shared rules
# ---------------------------------------------------------------------------------------------


def _cumulative_shape_rule(name: str, numeric: bool):
    def rule(x: ShapedArray, *, axis, reverse):
        if not isinstance(axis, int) or not 0 <= axis < x.ndim:
            raise TypeError(f"{name}: axis {axis} is not an axis of an array of shape {x.shape}")
        if numeric and dtypes.is_bool(x.dtype):
            raise TypeError(f"{name} needs a numeric (not bool) operand, got bool; convert it "
                            "to an integer type first")
        return x

    return rule


def _cumulative_impl(accumulate: Callable):
    def impl(x, *, axis, reverse):
        x = np.asarray(x)
        if reverse:
            return np.flip(accumulate(np.flip(x, axis), axis), axis)
        return accumulate(x, axis)

    return impl


def _cumulative_batch_rule(prim: Primitive):
    # The batch axis stays in place; the scanned axis is renumbered around it.
    def rule(vals, dims, axis_size, *, axis, reverse):
        (x,), (d,) = vals, dims
        return prim.bind(x, axis=axis + (axis >= d), reverse=reverse), d

    return rule


def _register(prim: Primitive, numeric: bool, accumulate: Callable) -> None:
    core.shape_rules[prim] = _cumulative_shape_rule(prim.name, numeric)
    core.impl_rules[prim] = _cumulative_impl(accumulate)
    batching.batch_rules[prim] = _cumulative_batch_rule(prim)


# ---------------------------------------------------------------------------------------------
# The associative scan the derivatives are taken through
# ---------------------------------------------------------------------------------------------


def _take(x, axis: int, start: int, stop: int, stride: int = 1):
    return shape_ops.slice_in_dim(x, start, stop, stride, axis)


def _interleave(even, odd, axis: int):
    """``[e0, o0, e1, o1, ...]`` along ``axis``; ``even`` has as many entries as ``odd`` or one
    more. Built by stacking on a new axis and merging it, so values are moved, never added."""
    n_even = core.get_aval(even).shape[axis]
    n_odd = core.get_aval(odd).shape[axis]
    if n_odd < n_even:  # give odd a dummy last entry, dropped after merging
        odd = shape_ops.concatenate([odd, _take(even, axis, 0, 1)], axis)
    shape = core.get_aval(even).shape
    pair = shape[:axis + 1] + (1,) + shape[axis + 1:]
    stacked = shape_ops.concatenate([basic.reshape(even, pair), basic.reshape(odd, pair)], axis + 1)
    merged = basic.reshape(stacked, shape[:axis] + (2 * n_even,) + shape[axis + 1:])
    return _take(merged, axis, 0, n_even + n_odd)


def _prefix_scan(combine: Callable, x, axis: int):
    """Inclusive prefix combination along ``axis`` in O(log n) rounds: combine adjacent pairs,
    scan those (giving the odd positions), then fill in the even positions. This is the
    recursion JAX's ``associative_scan`` uses, so ``combine``'s tie rules weigh entries exactly
    as they do in JAX."""
    n = core.get_aval(x).shape[axis]
    if n < 2:
        return x
    pairs = combine(_take(x, axis, 0, n - 1, 2), _take(x, axis, 1, n, 2))
    odd = _prefix_scan(combine, pairs, axis)  # results at positions 1, 3, 5, ...
    even = _take(x, axis, 0, 1)
    if n > 2:
        # position 2k (k >= 1) combines the result at 2k - 1 with entry 2k
        n_odd = core.get_aval(odd).shape[axis]
        prev = odd if n % 2 else _take(odd, axis, 0, n_odd - 1)
        even = shape_ops.concatenate([even, combine(prev, _take(x, axis, 2, n, 2))], axis)
    return _interleave(even, odd, axis)


def associative_scan(combine: Callable, x, axis: int, reverse: bool = False):
    """``combine`` accumulated along ``axis`` of ``x`` (from the end when ``reverse``);
    ``combine(earlier, later)`` must be associative and elementwise."""
    if reverse:
        return shape_ops.rev(_prefix_scan(combine, shape_ops.rev(x, (axis,)), axis), (axis,))
    return _prefix_scan(combine, x, axis)


def _scan_jvp(prim: Primitive, combine: Callable):
    def rule(primals, tangents, *, axis, reverse):
        (x,), (t,) = primals, tangents
        out = prim.bind(x, axis=axis, reverse=reverse)
        _, (t_out,) = ad.jvp_flat(lambda v: [associative_scan(combine, v, axis, reverse)],
                                  [x], [t])
        return out, t_out

    return rule


# ---------------------------------------------------------------------------------------------
# The primitives
# ---------------------------------------------------------------------------------------------

cumsum_p = Primitive("cumsum")
_register(cumsum_p, True,
          lambda x, axis: np.cumsum(x, axis=axis, dtype=x.dtype))


def _cumsum_transpose(ct, x, *, axis, reverse):
    if isinstance(ct, Zero):
        return [Zero(x.aval)]
    return [cumsum_p.bind(ct, axis=axis, reverse=not reverse)]


ad.deflinear(cumsum_p, _cumsum_transpose)

cumprod_p = Primitive("cumprod")
_register(cumprod_p, True,
          lambda x, axis: np.cumprod(x, axis=axis, dtype=x.dtype))
ad.jvp_rules[cumprod_p] = _scan_jvp(cumprod_p, lambda a, b: basic.mul(a, b))

# np.maximum / np.minimum propagate NaN, as JAX's cummax / cummin do
cummax_p = Primitive("cummax")
_register(cummax_p, False, lambda x, axis: np.maximum.accumulate(x, axis=axis))
ad.jvp_rules[cummax_p] = _scan_jvp(cummax_p, lambda a, b: basic.max(a, b))

cummin_p = Primitive("cummin")
_register(cummin_p, False, lambda x, axis: np.minimum.accumulate(x, axis=axis))
ad.jvp_rules[cummin_p] = _scan_jvp(cummin_p, lambda a, b: basic.min(a, b))


# ---------------------------------------------------------------------------------------------
# Public wrappers
# ---------------------------------------------------------------------------------------------


def _wrapper(prim: Primitive, what: str):
    def wrapper(x, axis: int = 0, reverse: bool = False):
        shape = core.get_aval(x).shape
        axis = normalize_axis(axis, len(shape))
        if 0 <= axis < len(shape) and shape[axis] <= 1:
            return x  # nothing to accumulate
        return prim.bind(x, axis=axis, reverse=bool(reverse))

    wrapper.__name__ = prim.name
    wrapper.__doc__ = (f"The cumulative {what} of ``x`` along ``axis`` (negative counts from the "
                       "end), from the last entry backwards when ``reverse``; the dtype is "
                       "kept.")
    return wrapper


cumsum = _wrapper(cumsum_p, "sum")
cumprod = _wrapper(cumprod_p, "product")
cummax = _wrapper(cummax_p, "maximum (NaN from the first NaN on)")
cummin = _wrapper(cummin_p, "minimum (NaN from the first NaN on)")
