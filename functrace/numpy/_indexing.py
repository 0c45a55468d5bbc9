"""NumPy indexing of traced arrays: ``x[idx]``, ``x.at[idx].set/add/...``, ``take`` and
``take_along_axis``.

An index is first *parsed* into one entry per axis of the operand (``_parse``): ``None`` and
boolean scalars insert axes of length one, ``...`` expands, static boolean masks become their
integer ``nonzero`` arrays, negative static indices are normalised (out-of-range ones raise
``IndexError`` as in NumPy) and traced ones are wrapped with ``select``.

Reading (``getitem``) uses the cheapest primitive that does the job: static ints and slices
become one ``slice`` (plus ``rev`` for negative steps) and a ``reshape``; traced integer scalars
a ``dynamic_slice``; integer arrays one ``gather``, whose result axes are then put where NumPy
puts them (advanced-index axes replace the indexed ones when those are adjacent, else they go
first). Updates (``.at[]``) express the whole index as one ``gather`` layout (partial slices
become ``arange`` columns) so a single ``scatter`` primitive applies them; as in JAX, updates at
out-of-range traced indices are dropped and repeated indices accumulate for ``add``.
"""

from __future__ import annotations

import operator

import numpy as np

from .. import core, dtypes, lax
from ..core import Tracer
from ._base import (
    asarray,
    broadcast_shapes,
    cast,
    check_unsupported,
    normalize_axis,
    scalarize,
)
from ._errors import boolean_index_error

__all__ = ["take", "take_along_axis", "compress", "nonzero", "argwhere", "flatnonzero"]

_INDEX_DTYPE = dtypes.int64

# Parsed entries, one per operand axis: ("int", i) static; ("dyn", tracer) traced 0-d int;
# ("slice", start, stop, step) static, already normalised by slice.indices; ("array", a) int
# array (NumPy, non-negative, or tracer, wrapped).


def _index_error(what) -> IndexError:
    return IndexError(
        "only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) and integer or "
        f"boolean arrays are valid indices; got {what!r}")


def _classify(item) -> tuple:
    """One raw index item as ("none",), ("ellipsis",), ("bool", b), ("slice", s), ("int", i),
    ("dyn", tracer), ("mask", np bool array) or ("array", array)."""
    if item is None:
        return ("none",)
    if item is Ellipsis:
        return ("ellipsis",)
    if isinstance(item, slice):
        return ("slice", item)
    if isinstance(item, (bool, np.bool_)):
        return ("bool", bool(item))
    if isinstance(item, (int, np.integer)):
        return ("int", operator.index(item))
    if isinstance(item, Tracer):
        aval = item.aval
        if dtypes.is_bool(aval.dtype):
            value = item.concrete_value()
            if value is None:
                raise boolean_index_error(item)
            return _classify(np.asarray(value))
        if not dtypes.is_integer(aval.dtype):
            raise _index_error(item)
        return ("dyn", item) if aval.ndim == 0 else ("array", item)
    if isinstance(item, (list, tuple)) and any(isinstance(e, Tracer) for e in _flatten(item)):
        return _classify(asarray(item))
    arr = np.asarray(item)
    if arr.dtype == np.bool_:
        return ("bool", bool(arr)) if arr.ndim == 0 else ("mask", arr)
    if arr.size == 0 and arr.dtype == np.float64:
        arr = arr.astype(_INDEX_DTYPE)  # NumPy reads [] as an empty integer index
    if not dtypes.is_integer(arr.dtype):
        raise _index_error(item)
    return ("int", int(arr)) if arr.ndim == 0 else ("array", arr)


def _flatten(x):
    for e in x:
        if isinstance(e, (list, tuple)):
            yield from _flatten(e)
        else:
            yield e


def _consumed(entry) -> int:
    kind = entry[0]
    if kind in ("none", "bool", "ellipsis"):
        return 0
    if kind == "mask":
        return entry[1].ndim
    return 1


def _static_indices(a: np.ndarray, n: int, axis: int) -> np.ndarray:
    if a.size:
        # two reductions instead of four elementwise passes when every index is in range
        lo, hi = a.min(), a.max()
        if lo < -n or hi >= n:
            bad = a[(a < -n) | (a >= n)]
            raise IndexError(f"index {bad.flat[0]} is out of bounds for axis {axis} with size "
                             f"{n}")
        if lo >= 0:
            return a.astype(_INDEX_DTYPE)  # a copy, as np.where's result is
    return np.where(a < 0, a + n, a).astype(_INDEX_DTYPE)


def _wrap_traced(t, n: int):
    if np.issubdtype(t.aval.dtype, np.unsignedinteger):
        return t
    return lax.select(lax.lt(t, lax.full_like(t, 0)), lax.add(t, lax.full_like(t, n)), t)


def _parse(shape: tuple[int, ...], idx, mode=None) -> tuple[tuple[int, ...], list[tuple]]:
    """The operand shape after inserting new axes, and one entry per axis of it.

    ``mode`` is JAX's out-of-bounds mode of ``x.at[idx]``: ``"clip"`` clamps indices into range;
    ``"fill"``/``"drop"`` send out-of-range ones to position ``n``, one past the end, which the
    caller provides by padding that axis (entries marked ``padded``)."""
    items = idx if isinstance(idx, tuple) else (idx,)
    raw = [_classify(item) for item in items]
    n_ellipsis = sum(1 for e in raw if e[0] == "ellipsis")
    if n_ellipsis > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    used = sum(_consumed(e) for e in raw)
    if used > len(shape):
        raise IndexError(f"too many indices for array: array is {len(shape)}-dimensional, but "
                         f"{used} were indexed")
    fill = [("slice", slice(None))] * (len(shape) - used)
    if n_ellipsis:
        at = next(i for i, e in enumerate(raw) if e[0] == "ellipsis")
        raw = raw[:at] + fill + raw[at + 1:]
    else:
        raw = raw + fill
    new_shape, entries = [], []
    dims = iter(enumerate(shape))
    for e in raw:
        kind = e[0]
        if kind == "none":
            new_shape.append(1)
            entries.append(("slice", 0, 1, 1))
        elif kind == "bool":  # a 0-d mask: a new axis indexed by nonzero() of it
            new_shape.append(1)
            entries.append(("array", np.zeros(1 if e[1] else 0, _INDEX_DTYPE)))
        elif kind == "mask":
            mask = e[1]
            sizes = [next(dims) for _ in range(mask.ndim)]
            if mask.shape != tuple(d for _, d in sizes):
                raise IndexError(f"boolean index did not match indexed array along axis "
                                 f"{sizes[0][0]}; size of axis is {shape[sizes[0][0]]} but size "
                                 f"of corresponding boolean axis is {mask.shape[0]}")
            for _, d in sizes:
                new_shape.append(d)
            for coords in np.nonzero(mask):
                entries.append(("array", coords.astype(_INDEX_DTYPE)))
        else:
            axis, n = next(dims)
            new_shape.append(n)
            entries.append(_normalize_entry(e, axis, n, mode))
    return tuple(new_shape), entries


def _normalize_entry(e, axis: int, n: int, mode=None) -> tuple:
    kind = e[0]
    if kind == "slice":
        return ("slice",) + e[1].indices(n)
    if mode in ("clip", "fill", "drop") and kind in ("int", "dyn", "array"):
        return _out_of_bounds_entry(e, n, mode)
    if kind == "int":
        i = e[1]
        if not -n <= i < n:
            raise IndexError(f"index {i} is out of bounds for axis {axis} with size {n}")
        return ("int", i % n)
    if kind == "dyn":
        return ("dyn", _wrap_traced(e[1], n))
    a = e[1]
    if isinstance(a, Tracer):
        return ("array", _wrap_traced(a, n))
    return ("array", _static_indices(a, n, axis))


def _out_of_bounds_entry(e, n: int, mode: str) -> tuple:
    """An index entry under an explicit out-of-bounds mode (negative indices wrap first)."""
    kind, i = e[0], e[1]
    if isinstance(i, Tracer):
        wrapped = _wrap_traced(i, n)
        if mode == "clip":
            limit = lax.full_like(wrapped, n - 1)
            fixed = lax.max(lax.min(wrapped, limit), lax.full_like(wrapped, 0))
            return (kind, fixed)
        valid = lax.and_(lax.ge(wrapped, lax.full_like(wrapped, 0)),
                         lax.lt(wrapped, lax.full_like(wrapped, n)))
        return (kind, lax.select(valid, wrapped, lax.full_like(wrapped, n)), "padded")
    a = np.asarray(i, _INDEX_DTYPE)
    wrapped = np.where(a < 0, a + n, a)
    if mode == "clip":
        fixed = np.clip(wrapped, 0, n - 1)
        return ("int", int(fixed)) if kind == "int" else ("array", fixed)
    fixed = np.where((wrapped >= 0) & (wrapped < n), wrapped, n).astype(_INDEX_DTYPE)
    return (("int", int(fixed)) if kind == "int" else ("array", fixed)) + ("padded",)


def _pad_for_out_of_bounds(x, shape, entries, fill_value):
    """Append one ``fill_value`` entry to every axis an out-of-range index may point past, and
    strip the markers. Returns the operand, its shape and the plain entries."""
    padded = [len(e) == 3 and e[2] == "padded" for e in entries]
    if not any(padded):
        return x, shape, entries
    x = lax.pad(x, fill_value, [(0, int(p), 0) for p in padded])
    shape = tuple(n + int(p) for n, p in zip(shape, padded))
    return x, shape, [e[:2] if p else e for e, p in zip(entries, padded)]


def _is_full(entry, n: int) -> bool:
    return entry[0] == "slice" and entry[1:] == (0, n, 1)


def _slice_length(start: int, stop: int, step: int) -> int:
    return len(range(start, stop, step))


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def _apply_static_slices(x, shape, entries):
    """Apply every static int and slice entry with one ``slice`` (and a ``rev`` for negative
    steps). Ints keep a length-one axis; returns the new operand and entries."""
    starts, limits, strides, flips = [], [], [], []
    new_entries = []
    for ax, (e, n) in enumerate(zip(entries, shape)):
        if e[0] == "int":
            starts.append(e[1])
            limits.append(e[1] + 1)
            strides.append(1)
            new_entries.append(("int", 0))
        elif e[0] == "slice":
            start, stop, step = e[1:]
            length = _slice_length(start, stop, step)
            if step < 0:
                flips.append(ax)
                start, step = (start + (length - 1) * step, -step) if length else (0, 1)
            if length == 0:
                start = 0
            starts.append(start)
            limits.append(start + (length - 1) * step + 1 if length else start)
            strides.append(step)
            new_entries.append(("slice", 0, length, 1))
        else:
            starts.append(0)
            limits.append(n)
            strides.append(1)
            new_entries.append(e)
    x = lax.slice(x, starts, limits, strides)
    if flips:
        x = lax.rev(x, tuple(flips))
    return x, new_entries


def _advanced_positions(entries) -> list[int]:
    return [i for i, e in enumerate(entries) if e[0] in ("array", "int", "dyn")]


def _index_column(e, shape):
    """The (broadcast) index array of one advanced entry, as int64, static when possible."""
    v = e[1]
    if e[0] == "int":
        v = np.asarray(v, _INDEX_DTYPE)
    if isinstance(v, Tracer):
        v = cast(v, _INDEX_DTYPE)
        return lax.broadcast_in_dim(v, shape, tuple(range(len(shape) - v.aval.ndim,
                                                          len(shape))))
    return np.broadcast_to(v, shape)


def _gather_plan(shape, entries):
    """The single-gather form of an index whose entries are ints, traced ints, arrays, full
    slices (kept axes) and partial static slices (turned into ``arange`` columns).

    Returns ``(indices or None, axes, gather_shape, perm, numpy_shape)``: ``gather(x, indices,
    axes)`` has ``gather_shape`` and ``transpose(..., perm)`` of it is NumPy's result."""
    adv = _advanced_positions(entries)
    arrays = [e[1] for e in entries if e[0] in ("array", "dyn")]
    batch = broadcast_shapes(*[core.get_aval(a).shape for a in arrays]) if arrays else ()
    partial = [i for i, e in enumerate(entries) if e[0] == "slice" and not _is_full(e, shape[i])]
    lengths = [_slice_length(*entries[i][1:]) for i in partial]
    grid = batch + tuple(lengths)
    columns, axes = [], []
    nb = len(batch)
    for i in adv:
        col = _index_column(entries[i], batch)
        dims = tuple(range(nb))
        columns.append(lax.broadcast_in_dim(col, grid, dims) if isinstance(col, Tracer)
                       else np.broadcast_to(col.reshape(batch + (1,) * len(lengths)), grid))
        axes.append(i)
    for j, i in enumerate(partial):
        rng = np.arange(*entries[i][1:], dtype=_INDEX_DTYPE)
        shape_j = [1] * len(grid)
        shape_j[nb + j] = lengths[j]
        columns.append(np.broadcast_to(rng.reshape(shape_j), grid))
        axes.append(i)
    kept = [i for i in range(len(shape)) if i not in axes]
    gather_shape = grid + tuple(shape[i] for i in kept)
    # NumPy's layout: advanced axes (batch) replace the indexed ones if adjacent, else go first
    contiguous = bool(adv) and adv == list(range(adv[0], adv[-1] + 1))
    order: list[int] = [] if contiguous else list(range(nb))
    for i in range(len(shape)):
        if i in partial:
            order.append(nb + partial.index(i))
        elif i in kept:
            order.append(len(grid) + kept.index(i))
        elif contiguous and i == adv[0]:
            order.extend(range(nb))
    numpy_shape = tuple(gather_shape[p] for p in order)
    if not columns:
        return None, (), gather_shape, tuple(order), numpy_shape
    if all(not isinstance(c, Tracer) for c in columns):
        indices = np.stack(columns, axis=-1)
    else:
        indices = lax.concatenate([lax.reshape(c if isinstance(c, Tracer) else np.asarray(c),
                                               grid + (1,)) for c in columns], len(grid))
    return indices, tuple(axes), gather_shape, tuple(order), numpy_shape


def getitem(x, idx, mode=None, fill_value=None):
    """``x[idx]`` with NumPy semantics (see the module docstring); ``mode``/``fill_value`` are
    those of JAX's ``x.at[idx].get``."""
    if type(idx) is slice and mode is None and isinstance(x, Tracer) and x.aval.shape:
        # x[a:b] on a traced array, the commonest index: the one ``slice`` the general path
        # below would emit, without parsing
        shape = x.aval.shape
        start, stop, step = idx.indices(shape[0])
        if step == 1:
            length = len(range(start, stop))
            start = start if length else 0
            return lax.slice(x, (start,) + (0,) * (len(shape) - 1),
                             (start + length,) + shape[1:])
    if mode is None and (idx is None or type(idx) is tuple):
        if idx is None or any(i is None for i in idx):
            out = _new_axes_only(x, idx)
        elif idx and type(idx[0]) is slice:
            out = _static_slices(x, idx)
        else:
            out = _gather_static_arrays(x, idx)
        if out is not None:
            return out
    x = asarray(x)
    shape = core.get_aval(x).shape
    new_shape, entries = _parse(shape, idx, mode)
    if new_shape != shape:
        x = lax.reshape(x, new_shape)
    if mode == "fill":
        x, new_shape, entries = _pad_for_out_of_bounds(
            x, new_shape, entries, _fill_value(fill_value, core.get_aval(x).dtype))
    if any(e[0] == "array" for e in entries):
        # advanced: slice first, so the gather only sees full axes and index columns
        as_slices = [e if e[0] == "slice" else ("slice", 0, n, 1)
                     for e, n in zip(entries, new_shape)]
        x, sliced = _apply_static_slices(x, new_shape, as_slices)
        entries = [s if e[0] == "slice" else e for e, s in zip(entries, sliced)]
        return _gather_read(x, entries)
    x, entries = _apply_static_slices(x, new_shape, entries)
    dyn = [(i, e[1]) for i, e in enumerate(entries) if e[0] == "dyn"]
    cur = core.get_aval(x).shape
    if dyn:
        starts = [0] * len(cur)
        sizes = list(cur)
        for i, t in dyn:
            starts[i] = t
            sizes[i] = 1
        # the starts are already wrapped once (NumPy/JAX: -n <= i < 0 counts from the end)
        x = lax.dynamic_slice(x, starts, sizes, allow_negative_indices=False)
    out_shape = tuple(d for d, e in zip(cur, entries) if e[0] not in ("int", "dyn"))
    return scalarize(lax.reshape(x, out_shape))


def _static_slices(x, idx: tuple):
    """``x[a:b, c:d]``: slices with positive steps only, read as the one ``slice`` the general
    path emits for them, without parsing. None for any other index."""
    if not isinstance(x, Tracer):
        return None
    shape = x.aval.shape
    if len(idx) > len(shape):
        return None
    starts, limits, strides = [], [], []
    for item, n in zip(idx, shape):
        if type(item) is not slice:
            return None
        start, stop, step = item.indices(n)
        if step < 0:
            return None
        length = len(range(start, stop, step))
        if not length:
            start = 0
        starts.append(start)
        limits.append(start + (length - 1) * step + 1 if length else start)
        strides.append(step)
    for n in shape[len(idx):]:
        starts.append(0)
        limits.append(n)
        strides.append(1)
    return scalarize(lax.slice(x, starts, limits, strides))


def _new_axes_only(x, idx):
    """``x[None]``, ``x[:, None, :]``, ``x[..., None]``: new axes, full slices and at most one
    ellipsis, which the general path reads as the one ``reshape`` this returns. None for any
    other index."""
    items = (idx,) if idx is None else idx
    kept = 0
    ellipsis = False
    for item in items:
        if item is None:
            continue
        if item is Ellipsis:
            if ellipsis:
                return None
            ellipsis = True
        elif (type(item) is slice and item.start is None and item.stop is None
              and item.step is None):
            kept += 1
        else:
            return None
    x = asarray(x)
    shape = core.get_aval(x).shape
    if kept > len(shape):
        return None
    rest = iter(shape)
    new_shape = []
    for item in items:
        if item is None:
            new_shape.append(1)
        elif item is Ellipsis:
            new_shape.extend(next(rest) for _ in range(len(shape) - kept))
        else:
            new_shape.append(next(rest))
    new_shape.extend(rest)  # axes after the index, as if it ended with an ellipsis
    return scalarize(lax.reshape(x, tuple(new_shape)))


def _gather_static_arrays(x, idx: tuple):
    """``x[a0, a1, ...]`` for NumPy integer arrays of one shape on the leading axes (the index
    of simulations: ``f[rows, cols]``): the one ``gather`` the general path emits for it, built
    without parsing. None for any other index (the general path handles it)."""
    k = len(idx)
    first = idx[0] if k else None
    if not isinstance(first, np.ndarray) or not first.ndim:
        return None
    batch = first.shape
    for a in idx:
        if (not isinstance(a, np.ndarray) or a.shape != batch or a.dtype.kind not in "iu"
                or isinstance(a, np.ma.MaskedArray)):
            return None
    x = asarray(x)
    shape = core.get_aval(x).shape
    if k > len(shape):
        return None
    # the general path's entries (bounds checked, negatives wrapped, int64) written straight
    # into the index array it would stack; with every advanced axis leading and contiguous,
    # its gather layout is NumPy's (no transpose)
    indices = np.empty(batch + (k,), _INDEX_DTYPE)
    for i, a in enumerate(idx):
        a = np.asarray(a)
        n = shape[i]
        if a.size:
            lo, hi = a.min(), a.max()
            if lo < -n or hi >= n or lo < 0:
                a = _static_indices(a, n, i)  # raises NumPy's IndexError, or wraps
        indices[..., i] = a
    return scalarize(lax.gather(x, indices, tuple(range(k))))


def _gather_read(x, entries):
    shape = core.get_aval(x).shape
    indices, axes, _, perm, _ = _gather_plan(shape, entries)
    out = lax.gather(x, indices, axes)
    return scalarize(lax.transpose(out, perm))


# ---------------------------------------------------------------------------------------------
# Updates: x.at[idx].set(v) and friends
# ---------------------------------------------------------------------------------------------


def _fill_value(fill_value, dtype):
    """JAX's default fill for ``mode="fill"``: NaN for inexact dtypes, True for bool, the most
    negative value for signed and the largest for unsigned integers."""
    if fill_value is not None:
        return np.asarray(fill_value).astype(dtype)
    if dtypes.is_inexact(dtype):
        return np.asarray(np.nan, dtype)
    if dtypes.is_bool(dtype):
        return np.asarray(True)
    info = np.iinfo(dtype)
    return np.asarray(info.max if info.min == 0 else info.min, dtype)


def _check_mode(mode, allowed):
    if mode not in allowed:
        names = ", ".join(repr(m) for m in allowed if m is not None)
        raise ValueError(f"x.at[...]: mode must be one of {names} (got {mode!r})")


def _scatter_update(x, idx, values, kind: str, mode=None):
    x = asarray(x)
    aval = core.get_aval(x)
    new_shape, entries = _parse(aval.shape, idx, mode)
    xx = lax.reshape(x, new_shape) if new_shape != aval.shape else x
    unpadded_shape = new_shape
    xx, new_shape, entries = _pad_for_out_of_bounds(
        xx, new_shape, entries, np.zeros((), aval.dtype))
    indices, axes, gather_shape, perm, numpy_shape = _gather_plan(new_shape, entries)
    values = asarray(values) if not isinstance(values, (int, float, bool, complex)) else values
    if dtypes.is_bool(aval.dtype) and kind in ("add", "multiply"):
        raise TypeError(f"x.at[...].{kind} is not supported for bool arrays")
    v = cast(values, aval.dtype)
    v_shape = () if isinstance(v, (int, float)) else core.get_aval(v).shape
    if len(v_shape) > len(numpy_shape) or broadcast_shapes(v_shape, numpy_shape) != numpy_shape:
        raise ValueError(f"shape mismatch: value array of shape {v_shape} could not be "
                         f"broadcast to indexing result of shape {numpy_shape}")
    lead = len(numpy_shape) - len(v_shape)
    v = lax.broadcast_in_dim(v, numpy_shape, tuple(range(lead, len(numpy_shape))))
    v = lax.transpose(v, tuple(int(i) for i in np.argsort(perm)))
    if indices is None:  # every axis kept: the update covers the whole array
        out = {"set": lambda a, b: b, "add": lax.add, "multiply": lax.mul, "min": lax.min,
               "max": lax.max}[kind](xx, v)
    else:
        scatter = {"set": lax.scatter, "add": lax.scatter_add, "multiply": lax.scatter_mul,
                   "min": lax.scatter_min, "max": lax.scatter_max}[kind]
        out = scatter(xx, indices, v, axes)
    if new_shape != unpadded_shape:  # drop the slot that received out-of-range updates
        out = lax.slice(out, [0] * len(new_shape), unpadded_shape)
    return lax.reshape(out, aval.shape) if unpadded_shape != aval.shape else out


class _IndexUpdateRef:
    """``x.at[idx]``: functional updates of the entries ``x[idx]`` would read."""

    __slots__ = ("array", "index")

    def __init__(self, array, index):
        self.array = array
        self.index = index

    def get(self, *, mode=None, fill_value=None, indices_are_sorted=False,
            unique_indices=False):
        """``x[idx]``. ``mode``: ``None``/``"promise_in_bounds"``/``"clip"`` clamp traced
        out-of-range indices into range, ``"fill"`` returns ``fill_value`` for them (NaN for
        floats by default), as in JAX."""
        _check_mode(mode, (None, "promise_in_bounds", "clip", "fill"))
        return getitem(self.array, self.index, mode, fill_value)

    def _update(self, values, kind, mode):
        _check_mode(mode, (None, "promise_in_bounds", "clip", "drop", "fill"))
        if mode is None:
            try:
                return _scatter_update(self.array, self.index, values, kind, mode)
            except IndexError:  # static out-of-range indices: their updates are dropped (JAX)
                mode = "drop"
        return _scatter_update(self.array, self.index, values, kind, mode)

    def set(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """A copy of ``x`` with ``x[idx] = values``. Out-of-range traced indices are dropped
        (``mode="drop"``, the default) or clamped (``mode="clip"``), as in JAX."""
        return self._update(values, "set", mode)

    def add(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """A copy of ``x`` with ``values`` added at ``idx`` (repeated indices accumulate)."""
        return self._update(values, "add", mode)

    def subtract(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """A copy of ``x`` with ``values`` subtracted at ``idx``."""
        from ._ufuncs import negative
        return self.add(negative(asarray(values)), mode=mode)

    def multiply(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """A copy of ``x`` with entries at ``idx`` multiplied by ``values``."""
        return self._update(values, "multiply", mode)

    mul = multiply

    def divide(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """A copy of ``x`` with entries at ``idx`` divided by ``values``."""
        from ._creation import ones_like
        from ._ufuncs import divide
        _check_mode(mode, (None, "promise_in_bounds", "clip", "drop", "fill"))
        x = asarray(self.array)
        ones = ones_like(x)
        return divide(x, _scatter_update(ones, self.index, values, "multiply", mode))

    def power(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """A copy of ``x`` with entries at ``idx`` raised to ``values``."""
        from ._ufuncs import power
        return self.apply(lambda v: power(v, values), mode=mode)

    def min(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """A copy of ``x`` with ``minimum(x[idx], values)`` at ``idx``."""
        return self._update(values, "min", mode)

    def max(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """A copy of ``x`` with ``maximum(x[idx], values)`` at ``idx``."""
        return self._update(values, "max", mode)

    def apply(self, func, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """A copy of ``x`` with ``func(x[idx])`` at ``idx``."""
        read_mode = "clip" if mode == "clip" else None
        return self.set(func(self.get(mode=read_mode)), mode=mode)

    def __repr__(self):
        return f"_IndexUpdateRef({self.array!r}, {self.index!r})"


class IndexUpdateHelper:
    """The ``x.at`` property: ``x.at[idx].set(v)`` etc. (JAX's functional updates)."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __getitem__(self, index) -> _IndexUpdateRef:
        return _IndexUpdateRef(self.array, index)


# ---------------------------------------------------------------------------------------------
# take, take_along_axis, compress and the data-dependent ones
# ---------------------------------------------------------------------------------------------


def _mode_indices(indices, n: int, mode):
    if mode in (None, "raise", "fill", "promise_in_bounds"):
        return indices
    if mode == "clip":
        from ._ufuncs import clip
        return clip(indices, 0, n - 1)
    if mode == "wrap":
        from ._ufuncs import remainder
        return remainder(indices, n)
    raise ValueError(f"clipmode must be one of 'clip', 'raise', or 'wrap' (got {mode!r})")


def take(a, indices, axis=None, out=None, mode=None, fill_value=None):
    """``numpy.take``: entries at ``indices`` along ``axis`` (of the flattened array if None).
    Out-of-range static indices raise as in NumPy; traced ones read ``fill_value`` (NaN for
    floats), JAX's default ``mode='fill'``; ``mode='clip'``/``'wrap'`` as in NumPy."""
    check_unsupported("take", out=out)
    a = asarray(a)
    if axis is None:
        a = lax.reshape(a, (core.get_aval(a).size,))
        axis = 0
    shape = core.get_aval(a).shape
    ax = normalize_axis(axis, len(shape))
    if not isinstance(indices, Tracer):
        indices = np.asarray(indices)
        if indices.dtype == np.float64 and indices.size == 0:
            indices = indices.astype(_INDEX_DTYPE)
    if mode == "fill" or mode is None and isinstance(indices, Tracer):
        return getitem(a, (slice(None),) * ax + (indices,), mode="fill", fill_value=fill_value)
    indices = _mode_indices(indices, shape[ax], mode)
    return getitem(a, (slice(None),) * ax + (indices,))


def take_along_axis(arr, indices, axis=-1):
    """``numpy.take_along_axis`` (``axis=None``: of the flattened array)."""
    arr = asarray(arr)
    if axis is None:
        arr, axis = lax.reshape(arr, (core.get_aval(arr).size,)), 0
    shape = core.get_aval(arr).shape
    ax = normalize_axis(axis, len(shape))
    if isinstance(indices, Tracer):
        if not dtypes.is_integer(indices.aval.dtype):
            raise IndexError("`indices` must be an integer array")
    else:
        indices = np.asarray(indices)
        if not dtypes.is_integer(indices.dtype):
            raise IndexError("`indices` must be an integer array")
        if indices.ndim != len(shape):
            raise ValueError("`indices` and `arr` must have the same number of dimensions")
        indices = _static_indices(indices, shape[ax], ax)
    return lax.take_along_axis(arr, indices, ax)


def compress(condition, a, axis=None, out=None):
    """``numpy.compress`` with a static (or concretely known) ``condition``."""
    check_unsupported("compress", out=out)
    cond = condition
    if isinstance(cond, Tracer):
        value = cond.concrete_value()
        if value is None:
            raise boolean_index_error(cond)
        cond = value
    keep = np.nonzero(np.asarray(cond, bool).reshape(-1))[0]
    return take(a, keep, axis=axis)


def _concrete_or_raise(a, name: str):
    if isinstance(a, Tracer):
        value = a.concrete_value()
        if value is None:
            from ._errors import concretization_error
            raise concretization_error(
                a, f"{name} (its result shape depends on the values; use "
                   "functrace.numpy.where(cond, x, y) to keep shapes static)")
        return np.asarray(value)
    return np.asarray(a)


def nonzero(a):
    """``numpy.nonzero`` of a concretely known array (the result shape depends on data)."""
    return np.nonzero(_concrete_or_raise(a, "nonzero"))


def argwhere(a):
    """``numpy.argwhere`` of a concretely known array."""
    return np.argwhere(_concrete_or_raise(a, "argwhere"))


def flatnonzero(a):
    """``numpy.flatnonzero`` of a concretely known array."""
    return np.flatnonzero(_concrete_or_raise(a, "flatnonzero"))

