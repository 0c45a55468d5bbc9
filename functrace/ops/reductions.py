"""Reductions over axes (sum, max, min, prod, and, or, argmax, argmin) with all their rules.

Every reduction primitive takes ``axes``: a sorted tuple of distinct non-negative ints. The public
wrappers below accept an int or any sequence of ints (negative ones counting from the end) and
normalise them; an axis out of range reaches the shape rule, which names it.

The primitives keep the operand's dtype (``reduce_sum`` of int32 is int32); NumPy's promotion of
small integers to the platform integer (``np.sum(int32) -> int64``) is the numpy layer's job.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import ad, batching, core, dtypes
from ..ad import Zero
from ..core import Primitive, ShapedArray
from . import basic
from . import shapes as shape_ops

__all__ = ["reduce_max", "reduce_min", "reduce_prod", "reduce_and", "reduce_or", "argmax",
           "argmin"]  # lax.reduce_sum is defined in lax.py


# ---------------------------------------------------------------------------------------------
# Helpers shared by the reductions (and by the cumulative and sorting families)
# ---------------------------------------------------------------------------------------------


def normalize_axis(axis, ndim: int) -> int:
    """A non-negative axis for an int that may count from the end; out-of-range axes are kept
    as they are so that the primitive's shape rule reports them with the operand's shape."""
    axis = int(axis)
    return axis + ndim if -ndim <= axis < 0 else axis


def normalize_axes(axes, ndim: int) -> tuple[int, ...]:
    """``axes`` (an int or a sequence of ints) as a sorted tuple of non-negative ints."""
    if isinstance(axes, (int, np.integer)):
        axes = (axes,)
    return tuple(sorted(normalize_axis(a, ndim) for a in axes))


def _check_axes(name: str, x: ShapedArray, axes) -> None:
    if any(not 0 <= a < x.ndim for a in axes) or len(set(axes)) != len(axes):
        raise TypeError(f"{name}: axes {axes} are not distinct axes of an array of shape "
                        f"{x.shape}")


def _check_dtype(name: str, dtype, ok: bool, need: str) -> None:
    if not ok:
        raise TypeError(f"{name} needs {need} operand, got {np.dtype(dtype).name}")


def _reduce_shape_rule(name: str, dtype_ok=None, need: str = ""):
    def rule(x: ShapedArray, *, axes):
        _check_axes(name, x, axes)
        if dtype_ok is not None:
            _check_dtype(name, x.dtype, dtype_ok(x.dtype), need)
        return ShapedArray(tuple(d for i, d in enumerate(x.shape) if i not in axes), x.dtype)

    return rule


def _is_numeric(dtype) -> bool:
    return not dtypes.is_bool(dtype)


def _is_int_or_bool(dtype) -> bool:
    return dtypes.is_integer(dtype) or dtypes.is_bool(dtype)


def _unbatched_axes(axes, d: int) -> tuple[int, ...]:
    """The operand axes ``axes`` of the unbatched view, as axes of the array whose batch axis
    is ``d``."""
    return tuple(a + (a >= d) for a in axes)


def _reduce_batch_rule(prim: Primitive):
    # The batch axis stays where it is (no transpose): only the reduced axes are renumbered.
    def rule(vals, dims, axis_size, *, axes):
        (x,), (d,) = vals, dims
        moved = _unbatched_axes(axes, d)
        return prim.bind(x, axes=moved), d - sum(a < d for a in moved)

    return rule


def _kept_dims(x_aval: ShapedArray, axes) -> tuple[int, ...]:
    return tuple(i for i in range(x_aval.ndim) if i not in axes)


def _expand(y, x_aval: ShapedArray, axes):
    """Broadcast a reduction's result ``y`` back to the operand's shape."""
    return basic.broadcast_in_dim(y, x_aval.shape, _kept_dims(x_aval, axes))


def _reduced_size(x, axes) -> int:
    shape = np.asarray(x).shape
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


# --- reduce_sum -------------------------------------------------------------------------------

reduce_sum_p = Primitive("reduce_sum")


def _reduce_sum_transpose(ct, x, *, axes):
    if isinstance(ct, Zero):
        return [Zero(x.aval)]
    return [_expand(ct, x.aval, axes)]


core.shape_rules[reduce_sum_p] = _reduce_shape_rule("reduce_sum")
core.impl_rules[reduce_sum_p] = (
    lambda x, *, axes: np.asarray(np.sum(x, axis=axes, dtype=np.asarray(x).dtype)))
ad.deflinear(reduce_sum_p, _reduce_sum_transpose)
batching.batch_rules[reduce_sum_p] = _reduce_batch_rule(reduce_sum_p)


# --- reduce_max, reduce_min -------------------------------------------------------------------


def _lowest(dtype):
    """The identity of ``max`` for ``dtype``: what lax's reduce_max gives an empty reduction."""
    if dtypes.is_bool(dtype):
        return False
    if dtypes.is_integer(dtype):
        return np.iinfo(dtype).min
    return -np.inf


def _highest(dtype):
    if dtypes.is_bool(dtype):
        return True
    if dtypes.is_integer(dtype):
        return np.iinfo(dtype).max
    return np.inf


def _chooser_impl(np_fn, identity):
    # NumPy raises on an empty reduction; like JAX's lax the primitive returns the identity
    # (the numpy layer raises NumPy's error before binding).
    def impl(x, *, axes):
        x = np.asarray(x)
        if _reduced_size(x, axes) == 0:
            return np.asarray(np_fn(x, axis=axes, initial=identity(x.dtype)))
        return np.asarray(np_fn(x, axis=axes))

    return impl


def _chooser_jvp(prim: Primitive):
    """JAX's rule: the tangent is the mean of the tangents at the positions that attain the
    result (ties share equally); a NaN result gets a NaN tangent."""

    def rule(primals, tangents, *, axes):
        (x,), (t,) = primals, tangents
        ans = prim.bind(x, axes=axes)
        x_aval = core.get_aval(x)
        hits = basic.convert_element_type(basic.eq(x, _expand(ans, x_aval, axes)),
                                           core.get_aval(t).dtype)
        counts = basic.reduce_sum(hits, axes)
        return ans, basic.div(basic.reduce_sum(basic.mul(t, hits), axes), counts)

    return rule


reduce_max_p = Primitive("reduce_max")
core.shape_rules[reduce_max_p] = _reduce_shape_rule("reduce_max")
core.impl_rules[reduce_max_p] = _chooser_impl(np.max, _lowest)
ad.jvp_rules[reduce_max_p] = _chooser_jvp(reduce_max_p)
batching.batch_rules[reduce_max_p] = _reduce_batch_rule(reduce_max_p)

reduce_min_p = Primitive("reduce_min")
core.shape_rules[reduce_min_p] = _reduce_shape_rule("reduce_min")
core.impl_rules[reduce_min_p] = _chooser_impl(np.min, _highest)
ad.jvp_rules[reduce_min_p] = _chooser_jvp(reduce_min_p)
batching.batch_rules[reduce_min_p] = _reduce_batch_rule(reduce_min_p)


# --- reduce_prod ------------------------------------------------------------------------------

reduce_prod_p = Primitive("reduce_prod")


def _prod_tree(x, n: int):
    """The product over axis 0 (of length ``n``) of ``x`` by repeated halving: only
    multiplications, so its derivative is exact where entries are zero."""
    while n > 1:
        half = (n + 1) // 2
        first = shape_ops.slice_in_dim(x, 0, half, axis=0)
        second = shape_ops.slice_in_dim(x, half, n, axis=0)
        if n % 2:
            # an odd length leaves ``first`` one longer: its last entry is multiplied by 1
            second = shape_ops.pad(second, basic.full((), 1, core.get_aval(x).dtype),
                             ((0, 1, 0),) + ((0, 0, 0),) * (core.get_aval(x).ndim - 1))
        x, n = basic.mul(first, second), half
    return basic.reshape(x, core.get_aval(x).shape[1:])


def _reduce_prod_jvp(primals, tangents, *, axes):
    # JAX's approach: the reduced axes become one leading axis, whose product is taken as a
    # balanced tree of multiplications; that program is differentiated by mul's rule.
    (x,), (t,) = primals, tangents
    ans = reduce_prod_p.bind(x, axes=axes)
    aval = core.get_aval(x)
    n = int(np.prod([aval.shape[a] for a in axes], dtype=np.int64))
    if n == 0:
        return ans, Zero(core.get_aval(ans))
    kept = _kept_dims(aval, axes)
    flat_shape = (n,) + tuple(aval.shape[i] for i in kept)

    def flatten(v):
        return basic.reshape(basic.transpose(v, tuple(axes) + kept), flat_shape)

    _, (t_out,) = ad.jvp_flat(lambda v: [_prod_tree(v, n)], [flatten(x)], [flatten(t)])
    return ans, t_out


core.shape_rules[reduce_prod_p] = _reduce_shape_rule("reduce_prod", _is_numeric,
                                                     "a numeric (not bool)")
core.impl_rules[reduce_prod_p] = (
    lambda x, *, axes: np.asarray(np.prod(x, axis=axes, dtype=np.asarray(x).dtype)))
ad.jvp_rules[reduce_prod_p] = _reduce_prod_jvp
batching.batch_rules[reduce_prod_p] = _reduce_batch_rule(reduce_prod_p)


# --- reduce_and, reduce_or --------------------------------------------------------------------


def _logical_impl(bool_ufunc, int_ufunc):
    def impl(x, *, axes):
        x = np.asarray(x)
        ufunc = bool_ufunc if dtypes.is_bool(x.dtype) else int_ufunc
        return np.asarray(ufunc.reduce(x, axis=axes, dtype=x.dtype))

    return impl


reduce_and_p = Primitive("reduce_and")
core.shape_rules[reduce_and_p] = _reduce_shape_rule("reduce_and", _is_int_or_bool,
                                                    "a bool or integer")
core.impl_rules[reduce_and_p] = _logical_impl(np.logical_and, np.bitwise_and)
ad.defjvp_zero(reduce_and_p)
batching.batch_rules[reduce_and_p] = _reduce_batch_rule(reduce_and_p)

reduce_or_p = Primitive("reduce_or")
core.shape_rules[reduce_or_p] = _reduce_shape_rule("reduce_or", _is_int_or_bool,
                                                   "a bool or integer")
core.impl_rules[reduce_or_p] = _logical_impl(np.logical_or, np.bitwise_or)
ad.defjvp_zero(reduce_or_p)
batching.batch_rules[reduce_or_p] = _reduce_batch_rule(reduce_or_p)


# --- argmax, argmin ---------------------------------------------------------------------------


def _arg_shape_rule(name: str):
    def rule(x: ShapedArray, *, axis, index_dtype):
        if not 0 <= axis < x.ndim:
            raise TypeError(f"{name}: axis {axis} is not an axis of an array of shape "
                            f"{x.shape}")
        if x.shape[axis] == 0:
            raise TypeError(f"{name}: axis {axis} of an array of shape {x.shape} is empty; "
                            f"an empty sequence has no {name}")
        _check_dtype(name, index_dtype, dtypes.is_integer(index_dtype),
                     "an integer index_dtype, not a")
        return ShapedArray(x.shape[:axis] + x.shape[axis + 1:], index_dtype)

    return rule


def _arg_batch_rule(prim: Primitive):
    def rule(vals, dims, axis_size, *, axis, index_dtype):
        (x,), (d,) = vals, dims
        moved = axis + (axis >= d)
        return prim.bind(x, axis=moved, index_dtype=index_dtype), d - (moved < d)

    return rule


def _arg_impl(np_fn):
    # NumPy's argmax/argmin give the first NaN when there is one, as JAX does.
    return lambda x, *, axis, index_dtype: np.asarray(np_fn(x, axis=axis)).astype(index_dtype)


argmax_p = Primitive("argmax")
core.shape_rules[argmax_p] = _arg_shape_rule("argmax")
core.impl_rules[argmax_p] = _arg_impl(np.argmax)
ad.defjvp_zero(argmax_p)
batching.batch_rules[argmax_p] = _arg_batch_rule(argmax_p)

argmin_p = Primitive("argmin")
core.shape_rules[argmin_p] = _arg_shape_rule("argmin")
core.impl_rules[argmin_p] = _arg_impl(np.argmin)
ad.defjvp_zero(argmin_p)
batching.batch_rules[argmin_p] = _arg_batch_rule(argmin_p)


# ---------------------------------------------------------------------------------------------
# Public wrappers
# ---------------------------------------------------------------------------------------------


def _reducer(prim: Primitive, doc: str):
    def wrapper(x, axes: int | Sequence[int]):
        axes = normalize_axes(axes, core.get_aval(x).ndim)
        if not axes:
            return x
        return prim.bind(x, axes=axes)

    wrapper.__name__ = prim.name
    wrapper.__doc__ = doc + (" over ``axes`` (an int or a sequence of ints, negative ones "
                             "counting from the end); the dtype is kept.")
    return wrapper


reduce_max = _reducer(reduce_max_p, "The maximum (NaN if any entry is NaN)")
reduce_min = _reducer(reduce_min_p, "The minimum (NaN if any entry is NaN)")
reduce_prod = _reducer(reduce_prod_p, "The product")
reduce_and = _reducer(reduce_and_p, "Logical (bool) or bitwise (integer) and")
reduce_or = _reducer(reduce_or_p, "Logical (bool) or bitwise (integer) or")


def argmax(x, axis: int, index_dtype=np.int64):
    """The index of the first maximum along ``axis`` (of the first NaN if there is one)."""
    axis = normalize_axis(axis, core.get_aval(x).ndim)
    return argmax_p.bind(x, axis=axis, index_dtype=np.dtype(index_dtype))


def argmin(x, axis: int, index_dtype=np.int64):
    """The index of the first minimum along ``axis`` (of the first NaN if there is one)."""
    axis = normalize_axis(axis, core.get_aval(x).ndim)
    return argmin_p.bind(x, axis=axis, index_dtype=np.dtype(index_dtype))
