"""Sorting: the variadic ``sort`` primitive and the wrappers built on it (``sort``,
``sort_key_val``, ``argsort``).

``sort`` reorders all its operands (arrays of one shape) along ``dimension`` by the
lexicographic order of the first ``num_keys`` of them. The order is NumPy's: stable, NaNs last,
``-0.0`` equal to ``0.0``. It is differentiated as JAX does it: the permutation is found by
sorting an iota along with the keys, and the tangents are gathered with it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import ad, batching, core
from ..ad import Zero
from ..core import Primitive, ShapedArray
from . import indexing as indexing_ops
from . import shapes as shape_ops
from .reductions import normalize_axis

__all__ = ["sort", "sort_key_val", "argsort"]

sort_p = Primitive("sort", multiple_results=True)


def _sort_shape(*operands: ShapedArray, dimension, is_stable, num_keys):
    if not operands:
        raise TypeError("sort needs at least one operand")
    if not isinstance(num_keys, int) or not 1 <= num_keys <= len(operands):
        raise TypeError(f"sort: num_keys={num_keys} must be between 1 and the number of "
                        f"operands ({len(operands)})")
    shapes = {o.shape for o in operands}
    if len(shapes) != 1:
        raise TypeError(f"sort needs operands of equal shapes, got "
                        f"{', '.join(str(o.shape) for o in operands)}")
    shape = operands[0].shape
    if not isinstance(dimension, int) or not 0 <= dimension < len(shape):
        raise TypeError(f"sort: dimension {dimension} is not an axis of an array of shape "
                        f"{shape}")
    return list(operands)


def _sort_impl(*operands, dimension, is_stable, num_keys):
    operands = [np.asarray(o) for o in operands]
    # A stable sort is always used: an unstable request may legally get a stable result.
    if num_keys == 1:
        perm = np.argsort(operands[0], axis=dimension, kind="stable")
    else:  # np.lexsort takes its primary key last
        perm = np.lexsort(operands[num_keys - 1::-1], axis=dimension)
    return [np.take_along_axis(o, perm, dimension) for o in operands]


def _index_dtype(size: int) -> np.dtype:
    return np.dtype(np.int32 if size < np.iinfo(np.int32).max else np.int64)


def _sort_jvp(primals, tangents, *, dimension, is_stable, num_keys):
    shape = core.get_aval(primals[0]).shape
    positions = shape_ops.iota(_index_dtype(shape[dimension]), shape, dimension)
    *outs, perm = sort_p.bind(*primals, positions, dimension=dimension, is_stable=is_stable,
                              num_keys=num_keys)
    touts = [t if isinstance(t, Zero) else indexing_ops.take_along_axis(t, perm, dimension)
             for t in tangents]
    return outs, touts


def _sort_batch(vals, dims, axis_size, *, dimension, is_stable, num_keys):
    batched = {d for d in dims if d is not None}
    if len(batched) == 1 and None not in dims:  # all batched on one axis: leave it there
        (d,) = batched
    else:
        vals, d = [batching.bdim_at(v, e, axis_size, 0) for v, e in zip(vals, dims)], 0
    outs = sort_p.bind(*vals, dimension=dimension + (dimension >= d), is_stable=is_stable,
                       num_keys=num_keys)
    return outs, [d] * len(outs)


core.shape_rules[sort_p] = _sort_shape
core.impl_rules[sort_p] = _sort_impl
ad.jvp_rules[sort_p] = _sort_jvp
batching.batch_rules[sort_p] = _sort_batch


# ---------------------------------------------------------------------------------------------
# Public wrappers
# ---------------------------------------------------------------------------------------------


def _sort_operands(operands: Sequence, dimension: int, is_stable: bool, num_keys: int) -> list:
    shape = core.get_aval(operands[0]).shape
    params = dict(dimension=normalize_axis(dimension, len(shape)), is_stable=bool(is_stable),
                  num_keys=int(num_keys))
    if 0 <= params["dimension"] < len(shape) and shape[params["dimension"]] <= 1:
        _sort_shape(*map(core.get_aval, operands), **params)  # still reject bad input
        return list(operands)  # already sorted
    return sort_p.bind(*operands, **params)


def sort(operand, dimension: int = -1, is_stable: bool = True, num_keys: int = 1):
    """Sort ``operand`` along ``dimension`` (NaNs last, stable), or, given a tuple or list of
    arrays of one shape, sort all of them by the lexicographic order of the first ``num_keys``
    and return a tuple."""
    if isinstance(operand, (tuple, list)):
        if not operand:
            raise TypeError("sort needs at least one operand")
        return tuple(_sort_operands(tuple(operand), dimension, is_stable, num_keys))
    if num_keys != 1:
        raise TypeError(f"sort of a single array needs num_keys=1, got {num_keys}")
    return _sort_operands((operand,), dimension, is_stable, 1)[0]


def sort_key_val(keys, values, dimension: int = -1, is_stable: bool = True):
    """``(sorted keys, values reordered alike)`` along ``dimension``."""
    out_keys, out_values = _sort_operands((keys, values), dimension, is_stable, 1)
    return out_keys, out_values


def argsort(x, axis: int = -1, index_dtype=np.int64, is_stable: bool = True):
    """The indices that sort ``x`` along ``axis`` (NumPy's stable ``argsort``: NaNs last, ties
    in their original order)."""
    shape = core.get_aval(x).shape
    axis = normalize_axis(axis, len(shape))
    if not 0 <= axis < len(shape):
        raise TypeError(f"argsort: axis {axis} is not an axis of an array of shape {shape}")
    positions = shape_ops.iota(np.dtype(index_dtype), shape, axis)
    return _sort_operands((x, positions), axis, is_stable, 1)[1]
