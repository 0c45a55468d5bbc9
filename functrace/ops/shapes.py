"""Primitives that build, cut, join, pad and flip arrays, each with all its rules in one place.

``iota`` makes index arrays; ``squeeze``/``expand_dims`` change rank; ``concatenate``, ``pad``,
``rev``, ``roll`` and static ``slice`` move data; ``dynamic_slice``/``dynamic_update_slice``
read and write a window whose start is a (possibly traced) scalar, clamped so the window stays
in bounds. All but ``iota`` are linear in their array operands (the start indices of the
dynamic ops are not differentiable), so each comes with a transpose rule.
"""

from __future__ import annotations

import builtins
import operator
from collections.abc import Sequence

import numpy as np

from .. import ad, batching, core, dtypes
from ..ad import Zero, is_undefined
from ..core import Primitive, ShapedArray, Tracer
from . import basic

__all__ = ["iota"]


def _ints(xs) -> tuple[int, ...]:
    return tuple(int(x) for x in xs)


def _check_axes(name: str, shape: tuple, axes, what: str = "dimensions") -> None:
    if any(not 0 <= a < len(shape) for a in axes) or len(set(axes)) != len(axes):
        raise TypeError(f"{name}: {what} {tuple(axes)} are not distinct axes of an array of "
                        f"shape {shape}")


def _shift_axes(axes, bdim: int) -> tuple[int, ...]:
    """Axes of the unbatched value renumbered for a value with a batch axis at ``bdim``."""
    return tuple(a + (a >= bdim) for a in axes)


# --- iota -------------------------------------------------------------------------------------

iota_p = Primitive("iota")


def _iota_shape(*, dtype, shape, dimension):
    if not 0 <= dimension < len(shape):
        raise TypeError(f"iota: dimension {dimension} is not an axis of shape {shape}")
    if any(d < 0 for d in shape):
        raise TypeError(f"iota: negative size in shape {shape}")
    if dtypes.is_bool(dtype):
        raise TypeError("iota: dtype must be numeric, got bool")
    return ShapedArray(shape, dtype)


def _iota_impl(*, dtype, shape, dimension):
    line = np.arange(shape[dimension], dtype=dtype)
    if len(shape) == 1:
        return line
    expanded = [1] * len(shape)
    expanded[dimension] = shape[dimension]
    # a fresh array, not a read-only broadcast view: users get writable results
    return np.array(np.broadcast_to(line.reshape(expanded), shape))


core.shape_rules[iota_p] = _iota_shape
core.impl_rules[iota_p] = _iota_impl
ad.defjvp_zero(iota_p)  # no inputs: nothing to differentiate or batch


def iota(dtype, shape: Sequence[int] | int, dimension: int = 0):
    """An array of ``shape`` whose entries count 0, 1, ... along ``dimension`` (JAX's
    ``lax.broadcasted_iota``; an int ``shape`` gives the 1-D ``lax.iota``)."""
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else _ints(shape)
    dimension = int(dimension)
    if shape and dimension < 0:
        dimension += len(shape)
    return iota_p.bind(dtype=dtypes.check_supported(dtype, "iota"), shape=shape,
                       dimension=dimension)


broadcasted_iota = iota
__all__.append("broadcasted_iota")


# --- concatenate ------------------------------------------------------------------------------

concatenate_p = Primitive("concatenate")


def _concatenate_shape(*avals: ShapedArray, dimension):
    if not avals:
        raise TypeError("concatenate needs at least one operand")
    first = avals[0]
    if not 0 <= dimension < first.ndim:
        raise TypeError(f"concatenate: dimension {dimension} is not an axis of operands of "
                        f"shape {first.shape}")
    shapes = ", ".join(str(a.shape) for a in avals)
    if len({a.dtype for a in avals}) != 1:
        raise TypeError(f"concatenate needs operands of equal dtypes, got "
                        f"{', '.join(a.dtype.name for a in avals)}")
    for a in avals:
        if a.ndim != first.ndim or any(a.shape[i] != first.shape[i]
                                       for i in range(a.ndim) if i != dimension):
            raise TypeError(f"concatenate needs operands whose shapes agree except along "
                            f"dimension {dimension}, got {shapes}")
    size = sum(a.shape[dimension] for a in avals)
    return first.update(shape=first.shape[:dimension] + (size,) + first.shape[dimension + 1:])


def _concatenate_transpose(ct, *operands, dimension):
    out = []
    start = 0
    for x in operands:
        n = (x.aval if is_undefined(x) else core.get_aval(x)).shape[dimension]
        if not is_undefined(x):
            out.append(None)
        elif isinstance(ct, Zero):
            out.append(Zero(x.aval))
        else:
            out.append(slice_in_dim(ct, start, start + n, axis=dimension))
        start += n
    return out


def _concatenate_batch(vals, dims, axis_size, *, dimension):
    if len(set(dims)) == 1:  # all batched along the same axis: leave them there
        d = dims[0]
        return concatenate_p.bind(*vals, dimension=dimension + (dimension >= d)), d
    vals = [batching.bdim_at(v, d, axis_size) for v, d in zip(vals, dims)]
    return concatenate_p.bind(*vals, dimension=dimension + 1), 0


core.shape_rules[concatenate_p] = _concatenate_shape
core.impl_rules[concatenate_p] = (
    lambda *xs, dimension: np.concatenate([np.asarray(x) for x in xs], axis=dimension))
ad.deflinear(concatenate_p, _concatenate_transpose)
batching.batch_rules[concatenate_p] = _concatenate_batch


def concatenate(operands: Sequence, dimension: int):
    """Join arrays of equal dtype along ``dimension`` (their other sizes must agree)."""
    operands = list(operands)
    if len(operands) == 1:
        return operands[0]
    return concatenate_p.bind(*operands, dimension=int(dimension))


__all__.append("concatenate")


# --- squeeze and expand_dims ------------------------------------------------------------------

squeeze_p = Primitive("squeeze")


def _squeeze_shape(x: ShapedArray, *, dimensions):
    _check_axes("squeeze", x.shape, dimensions)
    if any(x.shape[d] != 1 for d in dimensions):
        raise TypeError(f"squeeze: dimensions {dimensions} of an array of shape {x.shape} must "
                        "all have size 1")
    return x.update(shape=tuple(n for d, n in enumerate(x.shape) if d not in dimensions))


def _squeeze_transpose(ct, x, *, dimensions):
    if isinstance(ct, Zero):
        return [Zero(x.aval)]
    return [expand_dims(ct, dimensions)]


def _squeeze_batch(vals, dims, axis_size, *, dimensions):
    (x,), (d,) = vals, dims
    x = batching.moveaxis(x, d, 0)
    return squeeze_p.bind(x, dimensions=tuple(a + 1 for a in dimensions)), 0


core.shape_rules[squeeze_p] = _squeeze_shape
core.impl_rules[squeeze_p] = lambda x, *, dimensions: np.squeeze(np.asarray(x), dimensions)
ad.deflinear(squeeze_p, _squeeze_transpose)
batching.batch_rules[squeeze_p] = _squeeze_batch


def squeeze(x, dimensions: Sequence[int] | int):
    """``x`` without the given axes, which must have size 1 (negative axes count from the end)."""
    ndim = core.get_aval(x).ndim
    if isinstance(dimensions, (int, np.integer)):
        dimensions = (dimensions,)
    dims = tuple(sorted({int(d) + ndim if int(d) < 0 else int(d) for d in dimensions}))
    if not dims:
        return x
    return squeeze_p.bind(x, dimensions=dims)


expand_dims_p = Primitive("expand_dims")


def _expand_dims_shape(x: ShapedArray, *, dimensions):
    out_ndim = x.ndim + len(dimensions)
    if any(not 0 <= d < out_ndim for d in dimensions) or len(set(dimensions)) != len(
            dimensions):
        raise TypeError(f"expand_dims: dimensions {dimensions} are not distinct axes of the "
                        f"rank-{out_ndim} result of expanding shape {x.shape}")
    sizes = iter(x.shape)
    return x.update(shape=tuple(1 if d in dimensions else next(sizes) for d in range(out_ndim)))


def _expand_dims_impl(x, *, dimensions):
    x = np.asarray(x)
    return x.reshape(_expand_dims_shape(ShapedArray(x.shape, x.dtype),
                                        dimensions=dimensions).shape)


def _expand_dims_transpose(ct, x, *, dimensions):
    if isinstance(ct, Zero):
        return [Zero(x.aval)]
    return [squeeze(ct, dimensions)]


def _expand_dims_batch(vals, dims, axis_size, *, dimensions):
    (x,), (d,) = vals, dims
    x = batching.moveaxis(x, d, 0)
    return expand_dims_p.bind(x, dimensions=tuple(a + 1 for a in dimensions)), 0


core.shape_rules[expand_dims_p] = _expand_dims_shape
core.impl_rules[expand_dims_p] = _expand_dims_impl
ad.deflinear(expand_dims_p, _expand_dims_transpose)
batching.batch_rules[expand_dims_p] = _expand_dims_batch


def expand_dims(x, dimensions: Sequence[int] | int):
    """``x`` with new axes of size 1 at ``dimensions`` (axes of the result; negative ones count
    from the end of the result)."""
    if isinstance(dimensions, (int, np.integer)):
        dimensions = (dimensions,)
    out_ndim = core.get_aval(x).ndim + len(dimensions)
    dims = tuple(sorted(int(d) + out_ndim if int(d) < 0 else int(d) for d in dimensions))
    if not dims:
        return x
    return expand_dims_p.bind(x, dimensions=dims)


__all__ += ["squeeze", "expand_dims"]


# --- rev --------------------------------------------------------------------------------------

rev_p = Primitive("rev")


def _rev_shape(x: ShapedArray, *, dimensions):
    _check_axes("rev", x.shape, dimensions)
    return x


def _rev_transpose(ct, x, *, dimensions):
    if isinstance(ct, Zero):
        return [Zero(x.aval)]
    return [rev(ct, dimensions)]


def _rev_batch(vals, dims, axis_size, *, dimensions):
    (x,), (d,) = vals, dims
    return rev_p.bind(x, dimensions=_shift_axes(dimensions, d)), d


core.shape_rules[rev_p] = _rev_shape
core.impl_rules[rev_p] = lambda x, *, dimensions: np.flip(np.asarray(x), dimensions)
ad.deflinear(rev_p, _rev_transpose)
batching.batch_rules[rev_p] = _rev_batch


def rev(x, dimensions: Sequence[int] | int):
    """``x`` reversed along ``dimensions``."""
    ndim = core.get_aval(x).ndim
    if isinstance(dimensions, (int, np.integer)):
        dimensions = (dimensions,)
    dims = tuple(sorted({int(d) + ndim if int(d) < 0 else int(d) for d in dimensions}))
    if not dims:
        return x
    return rev_p.bind(x, dimensions=dims)


__all__.append("rev")


# --- roll -------------------------------------------------------------------------------------
# One primitive rather than two slices and a concatenation (JAX's lowering of jnp.roll): the
# eager tape records one operation forward and one backward instead of three and five (the
# slices transpose to pads), and compiled code reads it as one index map.

roll_p = Primitive("roll")


def _roll_shape(x: ShapedArray, *, shifts, axes):
    _check_axes("roll", x.shape, axes)
    if len(shifts) != len(axes) or len(set(axes)) != len(axes):
        raise ValueError(f"roll needs one shift per distinct axis, got shifts={shifts}, "
                         f"axes={axes}")
    return x


def _roll_transpose(ct, x, *, shifts, axes):
    if isinstance(ct, Zero):
        return [Zero(x.aval)]
    return [roll(ct, tuple(-s for s in shifts), axes)]


def _roll_batch(vals, dims, axis_size, *, shifts, axes):
    (x,), (d,) = vals, dims
    return roll_p.bind(x, shifts=shifts, axes=_shift_axes(axes, d)), d


core.shape_rules[roll_p] = _roll_shape
core.impl_rules[roll_p] = lambda x, *, shifts, axes: np.roll(np.asarray(x), shifts, axes)
ad.deflinear(roll_p, _roll_transpose)
batching.batch_rules[roll_p] = _roll_batch


def roll(x, shifts: Sequence[int], axes: Sequence[int]):
    """``x`` shifted cyclically by static ``shifts[i]`` along ``axes[i]`` (``numpy.roll``
    with integer shifts); shifts along one axis add up."""
    shape = core.get_aval(x).shape
    total: dict[int, int] = {}
    for s, a in zip(shifts, axes):
        a = operator.index(a)
        a = a + len(shape) if a < 0 else a
        if not 0 <= a < len(shape):
            raise ValueError(f"roll axis {a} is out of bounds for an array of shape {shape}")
        total[a] = total.get(a, 0) + operator.index(s)
    kept = {a: s % shape[a] for a, s in total.items() if shape[a] and s % shape[a]}
    if not kept:
        return x
    axes_ = tuple(sorted(kept))
    return roll_p.bind(x, shifts=tuple(kept[a] for a in axes_), axes=axes_)


__all__.append("roll")


# --- pad --------------------------------------------------------------------------------------

pad_p = Primitive("pad")


def _padded_size(n: int, lo: int, hi: int, interior: int) -> int:
    return lo + hi + n + max(n - 1, 0) * interior


def _pad_shape(x: ShapedArray, value: ShapedArray, *, padding_config):
    if value.shape != ():
        raise TypeError(f"pad: padding_value must be a scalar, got shape {value.shape}")
    if value.dtype != x.dtype:
        raise TypeError(f"pad needs operand and padding_value of equal dtypes, got "
                        f"{x.dtype.name} and {value.dtype.name}")
    if len(padding_config) != x.ndim or any(len(c) != 3 for c in padding_config):
        raise TypeError(f"pad: padding_config {padding_config} must give one (lo, hi, interior) "
                        f"triple per axis of the operand of shape {x.shape}")
    if any(c[2] < 0 for c in padding_config):
        raise TypeError(f"pad: interior padding must be >= 0, got {padding_config}")
    shape = tuple(_padded_size(n, *c) for n, c in zip(x.shape, padding_config))
    if any(n < 0 for n in shape):
        raise TypeError(f"pad: padding_config {padding_config} crops an operand of shape "
                        f"{x.shape} to a negative size {shape}")
    return x.update(shape=shape)


def _pad_impl(x, value, *, padding_config):
    x = np.asarray(x)
    grown = [(max(lo, 0), max(hi, 0), i) for lo, hi, i in padding_config]
    out = np.full(tuple(_padded_size(n, *c) for n, c in zip(x.shape, grown)), value, x.dtype)
    out[tuple(builtins.slice(lo, lo + _padded_size(n, 0, 0, i), i + 1)
              for n, (lo, _, i) in zip(x.shape, grown))] = x
    # negative lo/hi crop what the non-negative padding produced
    return out[tuple(builtins.slice(max(-lo, 0), n - max(-hi, 0))
                     for n, (lo, hi, _) in zip(out.shape, padding_config))]


def _unpad(ct, padding_config):
    """The entries of a padded array's cotangent that came from the operand."""
    # Padding with the negated lo/hi undoes both the padding and the cropping (cropped operand
    # entries come back as zeros); a strided slice then drops the interior padding.
    unpadded = pad(ct, 0, tuple((-lo, -hi, 0) for lo, hi, _ in padding_config))
    shape = core.get_aval(unpadded).shape
    return slice(unpadded, (0,) * len(shape), shape, tuple(i + 1 for _, _, i in padding_config))


def _pad_transpose(ct, x, value, *, padding_config):
    if isinstance(ct, Zero):
        return [Zero(x.aval) if is_undefined(x) else None,
                Zero(value.aval) if is_undefined(value) else None]
    ct_x = _unpad(ct, padding_config)
    ct_value = None
    if is_undefined(value):
        all_axes = tuple(range(core.get_aval(ct).ndim))
        ct_value = basic.sub(basic.reduce_sum(ct, all_axes), basic.reduce_sum(ct_x, all_axes))
    return [ct_x if is_undefined(x) else None, ct_value]


def _pad_batch(vals, dims, axis_size, *, padding_config):
    (x, value), (xd, vd) = vals, dims
    config = ((0, 0, 0),) + tuple(padding_config)
    x = batching.bdim_at(x, xd, axis_size, 0)
    if vd is None:
        return pad_p.bind(x, value, padding_config=config), 0
    # a batched padding value: pad with zeros, then select the values into the padding
    dtype = core.get_aval(x).dtype
    padded = pad_p.bind(x, np.zeros((), dtype), padding_config=config)
    shape = core.get_aval(padded).shape
    inside = pad(basic.full(core.get_aval(x).shape[1:], True, dtypes.bool_), False, padding_config)
    inside = basic.broadcast_in_dim(inside, shape, tuple(range(1, len(shape))))
    value = basic.broadcast_in_dim(batching.moveaxis(value, vd, 0), shape, (0,))
    return basic.select(inside, padded, value), 0


core.shape_rules[pad_p] = _pad_shape
core.impl_rules[pad_p] = _pad_impl
ad.deflinear(pad_p, _pad_transpose)
batching.batch_rules[pad_p] = _pad_batch


def pad(operand, padding_value, padding_config: Sequence[Sequence[int]]):
    """``operand`` padded by ``padding_value``: ``padding_config[d] = (lo, hi, interior)`` adds
    ``lo``/``hi`` entries at the ends of axis ``d`` (negative values crop) and ``interior``
    entries between neighbours."""
    config = tuple(_ints(c) for c in padding_config)
    aval = core.get_aval(operand)
    if not isinstance(padding_value, Tracer):
        padding_value = np.asarray(padding_value, aval.dtype if type(padding_value) in
                                   (bool, int, float, complex) else None)
    if all(c == (0, 0, 0) for c in config) and len(config) == aval.ndim:
        return operand
    return pad_p.bind(operand, padding_value, padding_config=config)


__all__.append("pad")


# --- slice ------------------------------------------------------------------------------------

slice_p = Primitive("slice")


def _slice_shape(x: ShapedArray, *, start_indices, limit_indices, strides):
    n = x.ndim
    if len(start_indices) != n or len(limit_indices) != n or (strides is not None
                                                             and len(strides) != n):
        raise TypeError(f"slice: start_indices {start_indices}, limit_indices {limit_indices} "
                        f"and strides {strides} must each have one entry per axis of shape "
                        f"{x.shape}")
    strides = strides or (1,) * n
    for s, lim, st, size in zip(start_indices, limit_indices, strides, x.shape):
        if not 0 <= s <= lim <= size or st < 1:
            raise TypeError(f"slice: start_indices {start_indices}, limit_indices "
                            f"{limit_indices}, strides {strides} do not describe a slice of an "
                            f"array of shape {x.shape} (need 0 <= start <= limit <= size and "
                            "strides >= 1)")
    return x.update(shape=tuple((lim - s + st - 1) // st for s, lim, st in
                                zip(start_indices, limit_indices, strides)))


def _slice_impl(x, *, start_indices, limit_indices, strides):
    strides = strides or (1,) * len(start_indices)
    return np.asarray(x)[tuple(builtins.slice(*t) for t in
                               zip(start_indices, limit_indices, strides))]


def _slice_transpose(ct, x, *, start_indices, limit_indices, strides):
    if isinstance(ct, Zero):
        return [Zero(x.aval)]
    strides = strides or (1,) * len(start_indices)
    out_shape = core.get_aval(ct).shape
    config = []
    for lo, st, m, n in zip(start_indices, strides, out_shape, x.aval.shape):
        spanned = _padded_size(m, 0, 0, st - 1)
        config.append((lo, n - lo - spanned, st - 1))
    return [pad(ct, 0, config)]


def _slice_batch(vals, dims, axis_size, *, start_indices, limit_indices, strides):
    (x,), (d,) = vals, dims
    starts, limits = list(start_indices), list(limit_indices)
    starts.insert(d, 0)
    limits.insert(d, axis_size)
    if strides is not None:
        strides = list(strides)
        strides.insert(d, 1)
        strides = tuple(strides)
    return slice_p.bind(x, start_indices=tuple(starts), limit_indices=tuple(limits),
                        strides=strides), d


core.shape_rules[slice_p] = _slice_shape
core.impl_rules[slice_p] = _slice_impl
ad.deflinear(slice_p, _slice_transpose)
batching.batch_rules[slice_p] = _slice_batch


def slice(operand, start_indices: Sequence[int], limit_indices: Sequence[int],  # noqa: A001
          strides: Sequence[int] | None = None):
    """The static slice ``operand[start:limit:stride, ...]`` (no negative or clipped bounds)."""
    starts, limits = _ints(start_indices), _ints(limit_indices)
    strides = None if strides is None or all(int(s) == 1 for s in strides) else _ints(strides)
    shape = core.get_aval(operand).shape
    if strides is None and starts == (0,) * len(shape) and limits == shape:
        return operand
    return slice_p.bind(operand, start_indices=starts, limit_indices=limits, strides=strides)


def slice_in_dim(operand, start_index: int | None, limit_index: int | None, stride: int = 1,
                 axis: int = 0):
    """``slice`` along one axis (None bounds mean the ends; negative ones count from the end)."""
    shape = core.get_aval(operand).shape
    axis = int(axis) + len(shape) if int(axis) < 0 else int(axis)
    n = shape[axis]
    start = 0 if start_index is None else int(start_index) + (n if int(start_index) < 0 else 0)
    limit = n if limit_index is None else int(limit_index) + (n if int(limit_index) < 0 else 0)
    starts, limits, strides = [0] * len(shape), list(shape), [1] * len(shape)
    starts[axis], limits[axis], strides[axis] = start, limit, int(stride)
    return slice(operand, starts, limits, strides)


def index_in_dim(operand, index: int, axis: int = 0, keepdims: bool = True):
    """The entry ``index`` along ``axis`` (negative counts from the end), keeping that axis
    with size 1 unless ``keepdims`` is False."""
    shape = core.get_aval(operand).shape
    axis = int(axis) + len(shape) if int(axis) < 0 else int(axis)
    index = int(index) + (shape[axis] if int(index) < 0 else 0)
    out = slice_in_dim(operand, index, index + 1, axis=axis)
    return out if keepdims else squeeze(out, (axis,))


__all__ += ["slice", "slice_in_dim", "index_in_dim"]


# --- dynamic_slice and dynamic_update_slice ---------------------------------------------------


def _check_starts(name: str, x: ShapedArray, starts: Sequence[ShapedArray]) -> None:
    if len(starts) != x.ndim:
        raise TypeError(f"{name}: got {len(starts)} start indices for an operand of shape "
                        f"{x.shape}; need one per axis")
    for s in starts:
        if s.shape != () or not dtypes.is_integer(s.dtype):
            raise TypeError(f"{name}: start indices must be integer scalars, got "
                            f"{[s.str_short() for s in starts]}")


def _clamped_starts_np(starts, shape, sizes) -> tuple[int, ...]:
    return tuple(int(min(max(int(s), 0), n - m)) for s, n, m in zip(starts, shape, sizes))


def _clamp_start(start, limit: int):
    """``start`` clamped into ``[0, limit]`` (traced or concrete)."""
    if not isinstance(start, Tracer):
        start = np.asarray(start)
        return np.clip(start, 0, limit).astype(start.dtype)
    return basic.min(basic.max(start, basic.full_like(start, 0)), basic.full_like(start, limit))


def _window_indices(starts, start_dims, shape, sizes, axis_size: int):
    """Full coordinates, shape ``(B,) + sizes + (len(shape),)``, of a window of ``sizes`` per
    example whose (clamped) start is ``starts`` (each batched at ``start_dims`` or not)."""
    dtype = np.result_type(*[core.get_aval(s).dtype for s in starts])
    if not dtypes.is_integer(dtype):  # e.g. int64 with uint64
        dtype = dtypes.int64
    out_shape = (axis_size,) + tuple(sizes)
    coords = []
    for k, (s, d) in enumerate(zip(starts, start_dims)):
        s = basic.convert_element_type(_clamp_start(s, shape[k] - sizes[k]), dtype)
        s = batching.bdim_at(s, d, axis_size, 0) if d is not None else basic.broadcast_in_dim(
            s, (axis_size,), ())
        c = basic.add(basic.broadcast_in_dim(s, out_shape, (0,)), iota(dtype, out_shape, k + 1))
        coords.append(basic.reshape(c, out_shape + (1,)))
    return concatenate(coords, len(out_shape))


dynamic_slice_p = Primitive("dynamic_slice")


def _dynamic_slice_shape(x: ShapedArray, *starts: ShapedArray, slice_sizes):
    _check_starts("dynamic_slice", x, starts)
    if len(slice_sizes) != x.ndim or any(not 0 <= m <= n for m, n in zip(slice_sizes,
                                                                          x.shape)):
        raise TypeError(f"dynamic_slice: slice_sizes {slice_sizes} must give a size between 0 "
                        f"and the axis length for each axis of the operand of shape {x.shape}")
    return x.update(shape=slice_sizes)


def _dynamic_slice_impl(x, *starts, slice_sizes):
    x = np.asarray(x)
    starts = _clamped_starts_np(starts, x.shape, slice_sizes)
    return x[tuple(builtins.slice(s, s + m) for s, m in zip(starts, slice_sizes))]


def _dynamic_slice_jvp(primals, tangents, *, slice_sizes):
    x, *starts = primals
    out = dynamic_slice_p.bind(x, *starts, slice_sizes=slice_sizes)
    if isinstance(tangents[0], Zero):
        return out, Zero(core.get_aval(out))
    return out, dynamic_slice_p.bind(tangents[0], *starts, slice_sizes=slice_sizes)


def _dynamic_slice_transpose(ct, x, *starts, slice_sizes):
    assert not any(is_undefined(s) for s in starts), "dynamic_slice is not linear in starts"
    nones = [None] * len(starts)
    if isinstance(ct, Zero):
        return [Zero(x.aval)] + nones
    zeros = basic.full(x.aval.shape, 0, x.aval.dtype)
    return [dynamic_update_slice_p.bind(zeros, ct, *starts)] + nones


def _dynamic_slice_batch(vals, dims, axis_size, *, slice_sizes):
    (x, *starts), (xd, *sds) = vals, dims
    if all(d is None for d in sds):
        x = batching.moveaxis(x, xd, 0)
        zero = np.zeros((), core.get_aval(starts[0]).dtype if starts else np.int64)
        return dynamic_slice_p.bind(x, zero, *starts,
                                    slice_sizes=(axis_size,) + tuple(slice_sizes)), 0
    # Starts that differ per example: read the windows with a gather of their coordinates.
    shape = core.get_aval(x).shape if xd is None else tuple(
        n for i, n in enumerate(core.get_aval(x).shape) if i != xd)
    idx = _window_indices(starts, sds, shape, slice_sizes, axis_size)
    from .indexing import gather_p, prepend_iota_column
    if xd is None:
        return gather_p.bind(x, idx, axes=tuple(range(len(shape)))), 0
    x = batching.moveaxis(x, xd, 0)
    return gather_p.bind(x, prepend_iota_column(idx),
                         axes=tuple(range(len(shape) + 1))), 0


core.shape_rules[dynamic_slice_p] = _dynamic_slice_shape
core.impl_rules[dynamic_slice_p] = _dynamic_slice_impl
ad.jvp_rules[dynamic_slice_p] = _dynamic_slice_jvp
ad.transpose_rules[dynamic_slice_p] = _dynamic_slice_transpose
batching.batch_rules[dynamic_slice_p] = _dynamic_slice_batch


def _start_args(starts, shape: Sequence[int] | None = None) -> list:
    """Start indices as operands; with ``shape``, negative starts count from the end of their
    axis (``-1`` is the last entry, as in JAX; the window is clamped afterwards)."""
    out = [s if isinstance(s, Tracer) else np.asarray(s) for s in starts]
    if shape is None:
        return out
    for d, (s, n) in enumerate(zip(out, shape)):
        if np.issubdtype(core.get_aval(s).dtype, np.unsignedinteger):
            continue
        if not isinstance(s, Tracer):
            out[d] = np.asarray(s + n, s.dtype) if s < 0 else s
        else:
            out[d] = basic.select(basic.lt(s, 0), basic.add(s, n), s)
    return out


def dynamic_slice(operand, start_indices: Sequence, slice_sizes: Sequence[int], *,
                  allow_negative_indices: bool = True):
    """The window of ``slice_sizes`` starting at ``start_indices`` (integer scalars, possibly
    traced). Negative starts count from the end of their axis (unless
    ``allow_negative_indices=False``); starts are then clamped so that the window lies inside
    the operand (JAX semantics)."""
    aval = core.get_aval(operand)
    starts = _start_args(start_indices, aval.shape if allow_negative_indices else None)
    sizes = _ints(slice_sizes)
    if sizes == aval.shape:  # every start clamps to 0: the whole operand
        _dynamic_slice_shape(aval, *map(core.get_aval, starts), slice_sizes=sizes)
        return operand
    return dynamic_slice_p.bind(operand, *starts, slice_sizes=sizes)


dynamic_update_slice_p = Primitive("dynamic_update_slice")


def _dynamic_update_slice_shape(x: ShapedArray, update: ShapedArray, *starts: ShapedArray):
    _check_starts("dynamic_update_slice", x, starts)
    if update.ndim != x.ndim or any(m > n for m, n in zip(update.shape, x.shape)):
        raise TypeError(f"dynamic_update_slice: update of shape {update.shape} does not fit in "
                        f"the operand of shape {x.shape}")
    if update.dtype != x.dtype:
        raise TypeError(f"dynamic_update_slice needs operand and update of equal dtypes, got "
                        f"{x.dtype.name} and {update.dtype.name}")
    return x


def _dynamic_update_slice_impl(x, update, *starts):
    x, update = np.asarray(x), np.asarray(update)
    starts = _clamped_starts_np(starts, x.shape, update.shape)
    out = x.copy()
    out[tuple(builtins.slice(s, s + m) for s, m in zip(starts, update.shape))] = update
    return out


def _dynamic_update_slice_jvp(primals, tangents):
    x, update, *starts = primals
    tx, tu = tangents[:2]
    out = dynamic_update_slice_p.bind(x, update, *starts)
    if isinstance(tx, Zero) and isinstance(tu, Zero):
        return out, Zero(core.get_aval(out))
    return out, dynamic_update_slice_p.bind(ad.instantiate(tx), ad.instantiate(tu), *starts)


def _dynamic_update_slice_transpose(ct, x, update, *starts):
    assert not any(is_undefined(s) for s in starts), "dynamic_update_slice: starts not linear"
    nones = [None] * len(starts)
    u_aval = update.aval if is_undefined(update) else core.get_aval(update)
    if isinstance(ct, Zero):
        return [Zero(x.aval) if is_undefined(x) else None,
                Zero(u_aval) if is_undefined(update) else None] + nones
    ct_x = ct_u = None
    if is_undefined(x):
        ct_x = dynamic_update_slice_p.bind(ct, basic.full(u_aval.shape, 0, u_aval.dtype), *starts)
    if is_undefined(update):
        ct_u = dynamic_slice_p.bind(ct, *starts, slice_sizes=u_aval.shape)
    return [ct_x, ct_u] + nones


def _dynamic_update_slice_batch(vals, dims, axis_size):
    (x, update, *starts), (xd, ud, *sds) = vals, dims
    x = batching.bdim_at(x, xd, axis_size, 0)
    update = batching.bdim_at(update, ud, axis_size, 0)
    if all(d is None for d in sds):
        zero = np.zeros((), core.get_aval(starts[0]).dtype if starts else np.int64)
        return dynamic_update_slice_p.bind(x, update, zero, *starts), 0
    # Starts that differ per example: write the windows with a scatter of their coordinates.
    shape = core.get_aval(x).shape[1:]
    idx = _window_indices(starts, sds, shape, core.get_aval(update).shape[1:], axis_size)
    from .indexing import prepend_iota_column, scatter_p
    return scatter_p.bind(x, prepend_iota_column(idx), update,
                          axes=tuple(range(len(shape) + 1))), 0


core.shape_rules[dynamic_update_slice_p] = _dynamic_update_slice_shape
core.impl_rules[dynamic_update_slice_p] = _dynamic_update_slice_impl
ad.jvp_rules[dynamic_update_slice_p] = _dynamic_update_slice_jvp
ad.transpose_rules[dynamic_update_slice_p] = _dynamic_update_slice_transpose
batching.batch_rules[dynamic_update_slice_p] = _dynamic_update_slice_batch


def dynamic_update_slice(operand, update, start_indices: Sequence, *,
                         allow_negative_indices: bool = True):
    """``operand`` with the window at ``start_indices`` replaced by ``update``; negative starts
    count from the end of their axis (unless ``allow_negative_indices=False``), then starts are
    clamped so that the window lies inside the operand (JAX semantics)."""
    shape = core.get_aval(operand).shape if allow_negative_indices else None
    return dynamic_update_slice_p.bind(operand, update, *_start_args(start_indices, shape))


def _starts_in_dim(ndim: int, start, axis: int) -> list:
    """Start indices that are ``start`` along ``axis`` and 0 elsewhere (in ``start``'s dtype)."""
    start = start if isinstance(start, Tracer) else np.asarray(start)
    zero = np.zeros((), core.get_aval(start).dtype)
    return [start if d == axis else zero for d in range(ndim)]


def _axis(x, axis: int) -> int:
    ndim = core.get_aval(x).ndim
    return int(axis) + ndim if int(axis) < 0 else int(axis)


def dynamic_slice_in_dim(operand, start_index, slice_size: int, axis: int = 0):
    """``dynamic_slice`` along one axis (the others are kept whole)."""
    axis = _axis(operand, axis)
    shape = list(core.get_aval(operand).shape)
    shape[axis] = int(slice_size)
    return dynamic_slice(operand, _starts_in_dim(len(shape), start_index, axis), shape)


def dynamic_index_in_dim(operand, index, axis: int = 0, keepdims: bool = True):
    """The entry at (traced) ``index`` along ``axis``, which is kept with size 1 unless
    ``keepdims`` is False."""
    axis = _axis(operand, axis)
    out = dynamic_slice_in_dim(operand, index, 1, axis)
    return out if keepdims else squeeze(out, (axis,))


def dynamic_update_slice_in_dim(operand, update, start_index, axis: int):
    """``dynamic_update_slice`` along one axis."""
    axis = _axis(operand, axis)
    return dynamic_update_slice(operand, update,
                                _starts_in_dim(core.get_aval(operand).ndim, start_index, axis))


def dynamic_update_index_in_dim(operand, update, index, axis: int):
    """Write ``update`` (with or without the size-1 ``axis``) at ``index`` along ``axis``."""
    axis = _axis(operand, axis)
    if core.get_aval(update).ndim == core.get_aval(operand).ndim - 1:
        update = expand_dims(update, (axis,))
    return dynamic_update_slice_in_dim(operand, update, index, axis)


__all__ += ["dynamic_slice", "dynamic_update_slice", "dynamic_slice_in_dim",
            "dynamic_index_in_dim", "dynamic_update_slice_in_dim", "dynamic_update_index_in_dim"]
