"""Integer-array indexing: ``gather`` and the ``scatter`` family, each with all its rules.

One simple layout serves every NumPy indexing form: ``indices`` has shape
``batch_shape + (len(axes),)`` and gives, for each batch position, one coordinate along each of
``axes`` of the operand; the operand's other axes are kept whole. So ::

    gather(x, idx, axes)[b..., r...] = x[axes[k] = idx[b..., k], other axes = r...]
    output shape = batch_shape + (x.shape[d] for d not in axes)

and a scatter's ``updates`` have exactly the gather output's shape. As in JAX, gather *clamps*
indices into bounds while scatters *drop* updates whose indices are out of bounds; negative
indices are not wrapped here (the numpy layer normalises them first).

``take_along_axis`` and ``take`` are built on ``gather``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import ad, batching, core, dtypes
from ..ad import Zero, is_undefined
from ..core import Primitive, ShapedArray, Tracer
from . import basic
from . import shapes as shape_ops
from .elementwise import and_p

__all__ = ["gather", "scatter_add", "scatter", "scatter_mul", "scatter_min", "scatter_max",
           "take_along_axis", "take"]


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------


def _check_indices(name: str, operand: ShapedArray, indices: ShapedArray, axes) -> None:
    if not (dtypes.is_integer(indices.dtype)):
        raise TypeError(f"{name}: indices must be integers, got {indices.dtype.name}")
    if indices.ndim < 1 or indices.shape[-1] != len(axes):
        raise TypeError(f"{name}: indices of shape {indices.shape} must end with an axis of "
                        f"length len(axes) = {len(axes)} (axes={axes})")
    if any(not 0 <= a < operand.ndim for a in axes) or len(set(axes)) != len(axes):
        raise TypeError(f"{name}: axes {axes} are not distinct axes of an operand of shape "
                        f"{operand.shape}")


def _gather_out_shape(operand_shape, indices_shape, axes) -> tuple[int, ...]:
    return tuple(indices_shape[:-1]) + tuple(
        n for d, n in enumerate(operand_shape) if d not in axes)


def _axes_first(x: np.ndarray, axes) -> np.ndarray:
    """A view of ``x`` with ``axes`` (in that order) moved to the front."""
    rest = [d for d in range(x.ndim) if d not in axes]
    return np.transpose(x, tuple(axes) + tuple(rest))


def _index_columns(indices: np.ndarray, sizes, clip: bool) -> tuple[np.ndarray, ...]:
    cols = []
    for k, n in enumerate(sizes):
        c = indices[..., k]
        cols.append(np.clip(c, 0, max(n - 1, 0)) if clip else c)
    return tuple(cols)


def _in_bounds_np(indices: np.ndarray, sizes) -> np.ndarray:
    ok = None
    for k, n in enumerate(sizes):
        c = indices[..., k]
        # read as unsigned, a negative index is larger than any size: one comparison
        ck = c.view(c.dtype.str.replace("i", "u")) < n if c.dtype.kind == "i" else (
            (c >= 0) & (c < n))
        ok = ck if ok is None else ok & ck
    return np.ones(indices.shape[:-1], bool) if ok is None else ok


def _concrete(x):
    """The NumPy value of ``x`` if it is known now (not a traced value), else None."""
    if isinstance(x, Tracer):
        return None
    return np.asarray(x)


def _index_column(indices, k: int):
    """Column ``k`` of the index vectors, shape ``batch_shape`` (traced or concrete)."""
    aval = core.get_aval(indices)
    start = (0,) * (aval.ndim - 1) + (k,)
    limit = aval.shape[:-1] + (k + 1,)
    return basic.reshape(shape_ops.slice(indices, start, limit), aval.shape[:-1])


def in_bounds_mask(indices, operand_shape, axes):
    """Where each index vector lies inside the operand: a bool array of ``batch_shape``, or
    None when the indices are concrete and all in bounds (the usual case: nothing to mask)."""
    sizes = [operand_shape[a] for a in axes]
    idx = _concrete(indices)
    if idx is not None:
        ok = _in_bounds_np(idx, sizes)
        return None if ok.all() else ok
    aval = core.get_aval(indices)
    ok = None
    for k, n in enumerate(sizes):
        c = _index_column(indices, k)
        ck = and_p.bind(basic.ge(c, basic.full_like(c, 0)), basic.lt(c, basic.full_like(c, n)))
        ok = ck if ok is None else and_p.bind(ok, ck)
    return ok if ok is not None else basic.full(aval.shape[:-1], True, dtypes.bool_)


def clamp_indices(indices, operand_shape, axes):
    """``indices`` with each column clamped into ``[0, size - 1]`` of its axis (what gather does
    implicitly), so that a scatter with them never drops anything."""
    sizes = [operand_shape[a] for a in axes]
    idx = _concrete(indices)
    if idx is not None:
        if all(((idx[..., k] >= 0) & (idx[..., k] < n)).all() for k, n in enumerate(sizes)):
            return indices
        return np.stack(_index_columns(idx, sizes, clip=True), axis=-1).astype(idx.dtype)
    aval = core.get_aval(indices)
    hi = np.array([max(n - 1, 0) for n in sizes], aval.dtype)
    hi = basic.broadcast_in_dim(hi, aval.shape, (aval.ndim - 1,))
    return basic.min(basic.max(indices, basic.full_like(indices, 0)), hi)


def _mask_batch(x, mask, n_batch: int):
    """Zero the entries of ``x`` (shape ``batch_shape + rest``) where ``mask`` is False."""
    if mask is None:
        return x
    shape = core.get_aval(x).shape
    return basic.select(basic.broadcast_in_dim(mask, shape, tuple(range(n_batch))), x,
                      basic.full(shape, 0, core.get_aval(x).dtype))


def prepend_iota_column(indices):
    """Batched ``indices`` (batch axis 0) extended with a leading column that is the batch
    position, so a gather/scatter over a batched operand picks each example's own slice."""
    aval = core.get_aval(indices)
    col = shape_ops.iota(aval.dtype, aval.shape[:-1] + (1,), 0)
    return shape_ops.concatenate([col, indices], aval.ndim - 1)


# ---------------------------------------------------------------------------------------------
# gather
# ---------------------------------------------------------------------------------------------

gather_p = Primitive("gather")


def _gather_shape(operand: ShapedArray, indices: ShapedArray, *, axes):
    _check_indices("gather", operand, indices, axes)
    if any(operand.shape[a] == 0 for a in axes) and indices.size:
        raise TypeError(f"gather: cannot index an empty axis (operand shape {operand.shape}, "
                        f"axes {axes})")
    return ShapedArray(_gather_out_shape(operand.shape, indices.shape, axes), operand.dtype)


def _gather_impl(operand, indices, *, axes):
    operand, indices = np.asarray(operand), np.asarray(indices)
    out_shape = _gather_out_shape(operand.shape, indices.shape, axes)
    if not axes:
        return np.array(np.broadcast_to(operand, out_shape))
    sizes = [operand.shape[a] for a in axes]
    if indices.size == 0:
        return np.zeros(out_shape, operand.dtype)
    if axes[0] == 0 and indices.dtype.kind == "i":
        # the same elements, clamped in C rather than by one np.clip per column: take's
        # "clip" mode clamps into [0, n - 1] as _index_columns does
        if len(axes) == 1:
            return operand.take(indices[..., 0], axis=0, mode="clip")
        if axes == tuple(range(len(axes))) and operand.flags.c_contiguous:
            cols = tuple(indices[..., j] for j in range(len(axes)))
            flat = np.ravel_multi_index(cols, sizes, mode="clip")
            return operand.reshape((-1,) + operand.shape[len(axes):]).take(flat, axis=0)
    return _axes_first(operand, axes)[_index_columns(indices, sizes, clip=True)]


def _gather_jvp(primals, tangents, *, axes):
    operand, indices = primals
    out = gather_p.bind(operand, indices, axes=axes)
    t = tangents[0]
    if isinstance(t, Zero):
        return out, Zero(core.get_aval(out))
    return out, gather_p.bind(t, indices, axes=axes)


def _gather_transpose(ct, operand, indices, *, axes):
    assert not is_undefined(indices), "gather is not linear in its indices"
    if isinstance(ct, Zero):
        return [Zero(operand.aval), None]
    shape = operand.aval.shape
    zeros = basic.full(shape, 0, operand.aval.dtype)
    # gather clamps but scatter drops: clamp first so every cotangent lands somewhere.
    return [scatter_add_p.bind(zeros, clamp_indices(indices, shape, axes), ct, axes=axes), None]


def _gather_batch(vals, dims, axis_size, *, axes):
    (operand, indices), (od, idim) = vals, dims
    if idim is None:
        n_batch = core.get_aval(indices).ndim - 1
        operand = batching.moveaxis(operand, od, 0)
        out = gather_p.bind(operand, indices, axes=tuple(a + 1 for a in axes))
        return out, n_batch
    indices = batching.moveaxis(indices, idim, 0)
    if od is None:
        return gather_p.bind(operand, indices, axes=axes), 0
    operand = batching.moveaxis(operand, od, 0)
    indices = prepend_iota_column(indices)
    return gather_p.bind(operand, indices, axes=(0,) + tuple(a + 1 for a in axes)), 0


core.shape_rules[gather_p] = _gather_shape
core.impl_rules[gather_p] = _gather_impl
ad.jvp_rules[gather_p] = _gather_jvp
ad.transpose_rules[gather_p] = _gather_transpose
batching.batch_rules[gather_p] = _gather_batch


def _normalize_axes(axes, ndim: int) -> tuple[int, ...]:
    if isinstance(axes, (int, np.integer)):
        axes = (axes,)
    return tuple(int(a) + ndim if int(a) < 0 else int(a) for a in axes)


def gather(operand, indices, axes: Sequence[int] | int):
    """``operand`` read at integer coordinates: ``indices[..., k]`` indexes ``axes[k]``.

    The result has shape ``indices.shape[:-1]`` followed by the operand's other axes, in order.
    Out-of-range indices are clamped into range (negative ones are not wrapped).
    """
    axes = _normalize_axes(axes, core.get_aval(operand).ndim)
    return gather_p.bind(operand, indices, axes=axes)


# ---------------------------------------------------------------------------------------------
# scatter family
# ---------------------------------------------------------------------------------------------


def _scatter_shape_rule(name: str):
    def rule(operand: ShapedArray, indices: ShapedArray, updates: ShapedArray, *, axes):
        _check_indices(name, operand, indices, axes)
        expected = _gather_out_shape(operand.shape, indices.shape, axes)
        if updates.shape != expected:
            raise TypeError(f"{name}: updates of shape {updates.shape} do not match operand "
                            f"{operand.shape} indexed by indices {indices.shape} along axes "
                            f"{axes}; expected updates of shape {expected}")
        if updates.dtype != operand.dtype:
            raise TypeError(f"{name} needs operand and updates of equal dtypes, got "
                            f"{operand.dtype.name} and {updates.dtype.name}")
        return operand

    return rule


def _scatter_impl_rule(ufunc):
    def impl(operand, indices, updates, *, axes):
        operand, indices = np.asarray(operand), np.asarray(indices)
        out = np.array(operand, copy=True)
        if 0 in indices.shape[:-1]:  # no updates at all
            return out
        updates = np.asarray(updates)
        sizes = [operand.shape[a] for a in axes]
        ok = _in_bounds_np(indices, sizes)
        view = _axes_first(out, axes)  # writes through to ``out``
        if not axes:  # every update hits the whole operand
            for u in updates.reshape((-1,) + operand.shape):
                view[...] = u if ufunc is None else ufunc(view, u)
            return out
        cols = _index_columns(indices, sizes, clip=False)
        if not ok.all():  # drop the out-of-bounds updates
            cols, updates = tuple(c[ok] for c in cols), updates[ok]
        if ufunc is None:
            view[cols] = updates
        elif len(axes) > 1 and axes == tuple(range(len(axes))) and out.flags.c_contiguous:
            # one flat index: NumPy's fast ``at`` loop for a 1-d index, the same updates
            # applied in the same order
            flat = out.reshape((-1,) + operand.shape[len(axes):])
            ufunc.at(flat, np.ravel_multi_index(cols, sizes), updates)
        else:
            ufunc.at(view, cols, updates)
        return out

    return impl


def _scatter_batch_rule(prim: Primitive):
    def rule(vals, dims, axis_size, *, axes):
        (operand, indices, updates), (od, idim, ud) = vals, dims
        n_batch = core.get_aval(indices).ndim - 1 - (idim is not None)
        operand = batching.bdim_at(operand, od, axis_size, 0)
        if idim is None:
            # the batch axis becomes the first kept axis of the operand
            updates = batching.bdim_at(updates, ud, axis_size, n_batch)
            return prim.bind(operand, indices, updates, axes=tuple(a + 1 for a in axes)), 0
        indices = prepend_iota_column(batching.moveaxis(indices, idim, 0))
        updates = batching.bdim_at(updates, ud, axis_size, 0)
        return prim.bind(operand, indices, updates, axes=(0,) + tuple(a + 1 for a in axes)), 0

    return rule


def _register_scatter(name: str, ufunc) -> Primitive:
    prim = Primitive(name)
    core.shape_rules[prim] = _scatter_shape_rule(name)
    core.impl_rules[prim] = _scatter_impl_rule(ufunc)
    batching.batch_rules[prim] = _scatter_batch_rule(prim)
    return prim


scatter_add_p = _register_scatter("scatter_add", np.add)
scatter_p = _register_scatter("scatter", None)
scatter_mul_p = _register_scatter("scatter_mul", np.multiply)
scatter_min_p = _register_scatter("scatter_min", np.minimum)
scatter_max_p = _register_scatter("scatter_max", np.maximum)


# --- scatter_add: linear in operand and updates ------------------------------------------------


def _scatter_add_jvp(primals, tangents, *, axes):
    operand, indices, updates = primals
    t_op, _, t_up = tangents
    out = scatter_add_p.bind(operand, indices, updates, axes=axes)
    if isinstance(t_op, Zero) and isinstance(t_up, Zero):
        return out, Zero(core.get_aval(out))
    if isinstance(t_up, Zero):
        return out, t_op
    return out, scatter_add_p.bind(ad.instantiate(t_op), indices, t_up, axes=axes)


def _scatter_add_transpose(ct, operand, indices, updates, *, axes):
    assert not is_undefined(indices), "scatter_add is not linear in its indices"
    ct_op = ct_up = None
    if is_undefined(operand):
        ct_op = ct
    if is_undefined(updates):
        if isinstance(ct, Zero):
            ct_up = Zero(updates.aval)
        else:
            shape = core.get_aval(ct).shape
            n_batch = core.get_aval(indices).ndim - 1
            # dropped (out-of-bounds) updates got no cotangent; gather would clamp instead
            ct_up = _mask_batch(gather_p.bind(ct, indices, axes=axes),
                                in_bounds_mask(indices, shape, axes), n_batch)
    return [ct_op, None, ct_up]


ad.jvp_rules[scatter_add_p] = _scatter_add_jvp
ad.transpose_rules[scatter_add_p] = _scatter_add_transpose


def scatter_add(operand, indices, updates, axes: Sequence[int] | int):
    """``operand`` with ``updates`` added at the gathered positions; repeated indices
    accumulate and out-of-bounds updates are dropped."""
    axes = _normalize_axes(axes, core.get_aval(operand).ndim)
    return scatter_add_p.bind(operand, indices, updates, axes=axes)


def _expand_from_axes(m, operand_shape, axes):
    """An array over the indexed ``axes`` (in ``axes`` order) broadcast to the operand shape."""
    order = sorted(range(len(axes)), key=lambda k: axes[k])
    m = basic.transpose(m, tuple(order))
    return basic.broadcast_in_dim(m, tuple(operand_shape), tuple(sorted(axes)))


def _scatter_winners(operand_shape, indices, axes):
    """For a scatter that *sets*: which updates survive (bool, ``batch_shape``) and which
    operand positions get overwritten (bool, operand shape).

    Each update scatters its own id; reading the ids back shows who won each position (dropped
    out-of-bounds updates never win), so derivatives follow the values that were kept.
    """
    i_aval = core.get_aval(indices)
    batch_shape, n_axes = i_aval.shape[:-1], len(axes)
    count = int(np.prod(batch_shape, dtype=np.int64))
    ids = basic.reshape(basic.add(shape_ops.iota(dtypes.int64, (count,), 0),
                              basic.full((count,), 1, dtypes.int64)), batch_shape)
    index_space = tuple(operand_shape[a] for a in axes)
    all_axes = tuple(range(n_axes))
    id_map = scatter_p.bind(basic.full(index_space, 0, dtypes.int64), indices, ids, axes=all_axes)
    won = basic.eq(gather_p.bind(id_map, indices, axes=all_axes), ids)
    written = basic.gt(id_map, basic.full(index_space, 0, dtypes.int64))
    return won, _expand_from_axes(written, operand_shape, axes)


def _zero_where(mask, x):
    return basic.select(mask, basic.zeros_like(x), x)


# --- scatter (set) ----------------------------------------------------------------------------


def _scatter_jvp(primals, tangents, *, axes):
    operand, indices, updates = primals
    t_op, _, t_up = tangents
    out = scatter_p.bind(operand, indices, updates, axes=axes)
    if isinstance(t_op, Zero) and isinstance(t_up, Zero):
        return out, Zero(core.get_aval(out))
    won, written = _scatter_winners(core.get_aval(operand).shape, indices, axes)
    t_out = Zero(core.get_aval(out)) if isinstance(t_op, Zero) else _zero_where(written, t_op)
    if not isinstance(t_up, Zero):
        n_batch = core.get_aval(indices).ndim - 1
        scattered = scatter_add_p.bind(basic.zeros_like(out), indices,
                                       _mask_batch(t_up, won, n_batch), axes=axes)
        t_out = ad.add_tangents(t_out, scattered)
    return out, t_out


def _scatter_transpose(ct, operand, indices, updates, *, axes):
    assert not is_undefined(indices), "scatter is not linear in its indices"
    op_aval = operand.aval if is_undefined(operand) else core.get_aval(operand)
    up_aval = updates.aval if is_undefined(updates) else core.get_aval(updates)
    if isinstance(ct, Zero):
        return [Zero(op_aval) if is_undefined(operand) else None, None,
                Zero(up_aval) if is_undefined(updates) else None]
    won, written = _scatter_winners(op_aval.shape, indices, axes)
    ct_op = _zero_where(written, ct) if is_undefined(operand) else None
    ct_up = None
    if is_undefined(updates):
        n_batch = core.get_aval(indices).ndim - 1
        ct_up = _mask_batch(gather_p.bind(ct, indices, axes=axes), won, n_batch)
    return [ct_op, None, ct_up]


ad.jvp_rules[scatter_p] = _scatter_jvp
ad.transpose_rules[scatter_p] = _scatter_transpose

# --- scatter_mul: linear in the operand, multilinear in the updates -----------------------------


def _product_of_others(operand, indices, updates, axes):
    """For each update, the product of the *other* updates landing on the same position (what
    its derivative is multiplied by), without dividing by zero and with correct derivatives
    (so second derivatives are right too) when some updates are zero."""
    dtype = core.get_aval(updates).dtype
    is_zero = basic.eq(updates, basic.zeros_like(updates))
    zero_part = basic.select(is_zero, updates, basic.zeros_like(updates))  # value 0, slope 1
    safe = basic.select(is_zero, basic.full_like(updates, 1), updates)
    zeros = basic.zeros_like(operand)

    def per_position(prim, init, vals):
        return gather_p.bind(prim.bind(init, indices, vals, axes=axes), indices, axes=axes)

    nonzero_product = per_position(scatter_mul_p, basic.full_like(operand, 1), safe)
    zero_sum = per_position(scatter_add_p, zeros, zero_part)
    zero_count = per_position(scatter_add_p, zeros, basic.convert_element_type(is_zero, dtype))
    # counts and sums of the zeros among the *other* updates
    other_zeros = basic.sub(zero_count, basic.convert_element_type(is_zero, dtype))
    other_zero_sum = basic.sub(zero_sum, zero_part)
    ratio = basic.div(nonzero_product, safe)  # product of the others' nonzero values
    none = basic.eq(other_zeros, basic.zeros_like(other_zeros))
    one = basic.eq(other_zeros, basic.full_like(other_zeros, 1))
    # with exactly one zero among the others, multiplying by it keeps the slope in its direction
    return basic.select(none, ratio, basic.select(one, basic.mul(other_zero_sum, ratio),
                                              basic.zeros_like(updates)))


def _scatter_mul_jvp(primals, tangents, *, axes):
    operand, indices, updates = primals
    t_op, _, t_up = tangents
    out = scatter_mul_p.bind(operand, indices, updates, axes=axes)
    t_out = Zero(core.get_aval(out))
    if not isinstance(t_op, Zero):
        t_out = scatter_mul_p.bind(t_op, indices, updates, axes=axes)
    if not isinstance(t_up, Zero):
        weighted = basic.mul(t_up, _product_of_others(operand, indices, updates, axes))
        summed = scatter_add_p.bind(basic.zeros_like(operand), indices, weighted, axes=axes)
        t_out = ad.add_tangents(t_out, basic.mul(operand, summed))
    return out, t_out


def _scatter_mul_transpose(ct, operand, indices, updates, *, axes):
    if is_undefined(updates) or is_undefined(indices):
        raise TypeError("cannot transpose scatter_mul with respect to its updates (it is not "
                        "linear in them)")
    if isinstance(ct, Zero):
        return [Zero(operand.aval), None, None]
    return [scatter_mul_p.bind(ct, indices, updates, axes=axes), None, None]


ad.jvp_rules[scatter_mul_p] = _scatter_mul_jvp
ad.transpose_rules[scatter_mul_p] = _scatter_mul_transpose

# --- scatter_min / scatter_max: ties share the derivative equally (like max/min) ---------------


def _scatter_extremum_jvp(prim: Primitive):
    def rule(primals, tangents, *, axes):
        operand, indices, updates = primals
        t_op, _, t_up = tangents
        out = prim.bind(operand, indices, updates, axes=axes)
        if isinstance(t_op, Zero) and isinstance(t_up, Zero):
            return out, Zero(core.get_aval(out))
        dtype = core.get_aval(out).dtype
        shape = core.get_aval(operand).shape
        n_batch = core.get_aval(indices).ndim - 1
        kept = basic.eq(operand, out)
        # updates equal to the result at their (in-bounds) position took part in it
        won = basic.eq(updates, gather_p.bind(out, indices, axes=axes))
        won = and_p.bind(won, _mask_batch(basic.full_like(won, True), in_bounds_mask(
            indices, shape, axes), n_batch))
        count = scatter_add_p.bind(basic.convert_element_type(kept, dtype), indices,
                                   basic.convert_element_type(won, dtype), axes=axes)
        t_out = Zero(core.get_aval(out))
        if not isinstance(t_op, Zero):
            t_out = basic.select(kept, t_op, basic.zeros_like(t_op))
        if not isinstance(t_up, Zero):
            chosen = basic.select(won, t_up, basic.zeros_like(t_up))
            t_out = ad.add_tangents(t_out, scatter_add_p.bind(basic.zeros_like(out), indices,
                                                              chosen, axes=axes))
        return out, basic.div(t_out, count)

    return rule


ad.jvp_rules[scatter_min_p] = _scatter_extremum_jvp(scatter_min_p)
ad.jvp_rules[scatter_max_p] = _scatter_extremum_jvp(scatter_max_p)


def _scatter_wrapper(prim: Primitive, doc: str):
    def wrapper(operand, indices, updates, axes: Sequence[int] | int):
        axes = _normalize_axes(axes, core.get_aval(operand).ndim)
        return prim.bind(operand, indices, updates, axes=axes)

    wrapper.__name__ = prim.name
    wrapper.__doc__ = doc + " Out-of-bounds updates are dropped."
    return wrapper


scatter = _scatter_wrapper(
    scatter_p, "``operand`` with ``updates`` written at the gathered positions; when indices "
    "repeat, one of their updates wins.")
scatter_mul = _scatter_wrapper(
    scatter_mul_p, "``operand`` multiplied by ``updates`` at the gathered positions (repeated "
    "indices multiply together).")
scatter_min = _scatter_wrapper(
    scatter_min_p, "``operand`` lowered to ``updates`` at the gathered positions where smaller.")
scatter_max = _scatter_wrapper(
    scatter_max_p, "``operand`` raised to ``updates`` at the gathered positions where larger.")


# ---------------------------------------------------------------------------------------------
# take_along_axis and take
# ---------------------------------------------------------------------------------------------


_MODES = (None, "clip", "fill", "wrap")


def _wrap_negative(indices, n: int):
    """NumPy's negative indices (``-1`` is the last) made non-negative."""
    idx = _concrete(indices)
    if idx is not None:
        if np.issubdtype(idx.dtype, np.signedinteger) and (idx < 0).any():
            return np.where(idx < 0, idx + n, idx).astype(idx.dtype)
        return indices
    aval = core.get_aval(indices)
    if not np.issubdtype(aval.dtype, np.signedinteger):
        return indices
    return basic.select(basic.lt(indices, basic.full_like(indices, 0)),
                      basic.add(indices, basic.full_like(indices, n)), indices)


def _prepare_indices(indices, n: int, mode: str | None):
    """Indices ready for gather's clamping, and where they are valid (None: everywhere).

    ``None``: negative indices count from the end, out-of-range ones are clamped; ``"clip"``:
    clamped as given (JAX: -1 reads entry 0); ``"wrap"``: taken modulo ``n``; ``"fill"``:
    negative ones count from the end and those outside ``[-n, n)`` are invalid (filled).
    """
    if mode not in _MODES:
        raise ValueError(f"index mode must be one of {_MODES}, got {mode!r}")
    if mode == "clip":
        return indices, None
    if mode == "wrap":
        idx = _concrete(indices)
        if idx is not None:
            return np.mod(idx, n).astype(idx.dtype), None
        r = basic.rem(indices, basic.full_like(indices, n))  # C remainder: same sign as indices
        return basic.select(basic.lt(r, basic.full_like(r, 0)), basic.add(r, basic.full_like(r, n)),
                          r), None
    valid = None
    if mode == "fill":
        idx = _concrete(indices)
        if idx is not None:
            ok = (idx >= -n) & (idx < n)
            valid = None if ok.all() else ok
        else:
            valid = and_p.bind(basic.ge(indices, basic.full_like(indices, -n)),
                               basic.lt(indices, basic.full_like(indices, n)))
    return _wrap_negative(indices, n), valid


def _fill_invalid(out, valid, bdims, fill_value):
    """``out`` with ``fill_value`` (default as JAX: NaN, or the dtype's extreme) where the
    index was invalid; ``valid`` maps to ``out``'s axes ``bdims``."""
    if valid is None:
        return out
    aval = core.get_aval(out)
    if fill_value is None:
        dt = aval.dtype
        if dtypes.is_inexact(dt):
            fill_value = np.nan
        elif dtypes.is_bool(dt):
            fill_value = True
        elif np.issubdtype(dt, np.unsignedinteger):
            fill_value = np.iinfo(dt).max
        else:
            fill_value = np.iinfo(dt).min
    mask = basic.broadcast_in_dim(valid, aval.shape, bdims)
    return basic.select(mask, out, basic.full(aval.shape, fill_value, aval.dtype))


def _as_index_array(indices):
    if isinstance(indices, Tracer):
        aval = indices.aval
    else:
        indices = np.asarray(indices)
        aval = core.get_aval(indices)
    if not dtypes.is_integer(aval.dtype):
        raise TypeError(f"indices must be integers, got {aval.dtype.name}")
    return indices


def take_along_axis(x, indices, axis: int, mode: str | None = None, fill_value=None):
    """NumPy's ``take_along_axis``: ``out[..., j, ...] = x[..., indices[..., j, ...], ...]``.

    ``indices`` has the rank of ``x``; other axes broadcast against ``x``'s. By default negative
    indices count from the end and out-of-range ones are clamped; ``mode`` may also be
    ``"clip"``, ``"wrap"`` or ``"fill"`` (JAX's, with ``fill_value``).
    """
    indices = _as_index_array(indices)
    x_aval, i_aval = core.get_aval(x), core.get_aval(indices)
    if i_aval.ndim != x_aval.ndim:
        raise TypeError(f"take_along_axis: indices of shape {i_aval.shape} must have the rank "
                        f"of the array, shape {x_aval.shape}")
    ndim = x_aval.ndim
    axis = int(axis) + ndim if int(axis) < 0 else int(axis)
    if not 0 <= axis < ndim:
        raise TypeError(f"take_along_axis: axis {axis} is out of range for shape {x_aval.shape}")
    out_shape = []
    for d in range(ndim):
        a, b = x_aval.shape[d], i_aval.shape[d]
        if d == axis:
            out_shape.append(b)
        elif a == b or b == 1 or a == 1:
            out_shape.append(a if b == 1 else b)
        else:
            raise TypeError(f"take_along_axis: indices of shape {i_aval.shape} do not broadcast "
                            f"against the array of shape {x_aval.shape} (axis {axis})")
    out_shape = tuple(out_shape)
    idx, valid = _prepare_indices(indices, x_aval.shape[axis], mode)
    idx_dtype = i_aval.dtype
    coords = []
    for d in range(ndim):
        if d == axis:
            c = basic.broadcast_in_dim(idx, out_shape, tuple(range(ndim)))
        elif x_aval.shape[d] == 1:  # broadcast along an axis of length 1: always entry 0
            c = basic.full(out_shape, 0, idx_dtype)
        else:
            c = shape_ops.iota(idx_dtype, out_shape, d)
        coords.append(basic.reshape(c, out_shape + (1,)))
    out = gather_p.bind(x, shape_ops.concatenate(coords, ndim), axes=tuple(range(ndim)))
    if valid is not None:
        valid = basic.broadcast_in_dim(valid, out_shape, tuple(range(ndim)))
    return _fill_invalid(out, valid, tuple(range(ndim)), fill_value)


def take(x, indices, axis: int | None = None, mode: str | None = None, fill_value=None):
    """NumPy's ``take``: entries of ``x`` at ``indices`` along ``axis`` (flattened when None).

    The result has shape ``x.shape[:axis] + indices.shape + x.shape[axis + 1:]``. By default
    negative indices count from the end and out-of-range ones are clamped; ``mode`` may also be
    ``"clip"``, ``"wrap"`` or ``"fill"`` (JAX's, with ``fill_value``).
    """
    indices = _as_index_array(indices)
    if axis is None:
        x = basic.reshape(x, (core.get_aval(x).size,))
        axis = 0
    x_aval, i_aval = core.get_aval(x), core.get_aval(indices)
    axis = int(axis) + x_aval.ndim if int(axis) < 0 else int(axis)
    if not 0 <= axis < x_aval.ndim:
        raise TypeError(f"take: axis {axis} is out of range for shape {x_aval.shape}")
    idx, valid = _prepare_indices(indices, x_aval.shape[axis], mode)
    out = gather_p.bind(x, basic.reshape(idx, i_aval.shape + (1,)), axes=(axis,))
    # gather puts the index axes first; move them to where ``axis`` was
    k = i_aval.ndim
    perm = tuple(range(k, k + axis)) + tuple(range(k)) + tuple(
        range(k + axis, k + x_aval.ndim - 1))
    return _fill_invalid(basic.transpose(out, perm), valid, tuple(range(axis, axis + k)),
                         fill_value)
