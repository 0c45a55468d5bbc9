"""Vectorisation (``vmap``): the batching interpreter and its rule table.

A ``BatchTracer`` carries an array with one extra axis, ``bdim`` (``None``: not batched). Each
primitive's rule ``batch_rules[p](vals, dims, axis_size=..., **params) -> (outs, out_dims)``
rewrites one application on whole batches, so there is never a Python loop over the batch.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import core, core_prims
from .core import Primitive, Tracer

batch_rules: dict[Primitive, Callable] = {}


class BatchTracer(Tracer):
    __slots__ = ("val", "bdim")

    def __init__(self, trace, val, bdim: int | None):
        self._trace = trace
        self.val = val
        self.bdim = bdim

    @property
    def aval(self):
        aval = core.get_aval(self.val)
        if self.bdim is None:
            return aval
        shape = list(aval.shape)
        del shape[self.bdim]
        return aval.update(shape=shape)

    def full_lower(self):
        # Unbatched values stay tracers while vmap is the dynamic trace, so that constants
        # computed inside the function behave like arrays of it (``fnp.sin(W)[i]``).
        if self.bdim is None and self._trace.main is not core._thread_state.dynamic_trace:
            return core.full_lower(self.val)
        return self

    def concrete_value(self):
        if self.bdim is not None:
            return None
        v = self.val
        return v.concrete_value() if isinstance(v, Tracer) else v

    def __array_function__(self, func, types, args, kwargs):
        # An unbatched, concretely known value is an ordinary array to NumPy functions that
        # functrace.numpy does not provide (np.fft.fft of an unbatched argument), as it was
        # before vmap lifted such values to tracers.
        try:
            return Tracer.__array_function__(self, func, types, args, kwargs)
        except NotImplementedError:
            from .tree_util import tree_leaves, tree_map
            leaves = [x for x in tree_leaves((args, kwargs)) if isinstance(x, Tracer)]
            if any(x.concrete_value() is None for x in leaves):
                raise
            args, kwargs = tree_map(
                lambda x: x.concrete_value() if isinstance(x, Tracer) else x, (args, kwargs))
            return func(*args, **kwargs)


class BatchTrace(core.Trace):
    __slots__ = ()

    @property
    def axis_size(self) -> int:
        return self.main.global_data

    def pure(self, val):
        return BatchTracer(self, val, None)

    lift = pure

    def process_primitive(self, primitive, tracers, params):
        # The rules work on the values inside the tracers: they must not be caught by this
        # trace again when it is the dynamic one (it would wrap its own results).
        st = core._thread_state
        saved = st.dynamic_trace
        if saved is not self.main:
            return self._process(primitive, tracers, params)
        st.dynamic_trace = self.main.outer_dynamic
        try:
            return self._process(primitive, tracers, params)
        finally:
            st.dynamic_trace = saved

    def _process(self, primitive, tracers, params):
        vals = [t.val for t in tracers]
        dims = [t.bdim for t in tracers]
        if all(d is None for d in dims):
            outs = core.bind(primitive, *vals, **params)
            outs = outs if primitive.multiple_results else [outs]
            return [BatchTracer(self, o, None) for o in outs]
        rule = batch_rules.get(primitive)
        if rule is None:
            raise NotImplementedError(f"functrace has no vmap rule for '{primitive}'.")
        outs, out_dims = rule(vals, dims, axis_size=self.axis_size, **params)
        if not primitive.multiple_results:
            outs, out_dims = [outs], [out_dims]
        return [BatchTracer(self, o, d) for o, d in zip(outs, out_dims)]


# ---------------------------------------------------------------------------------------------
# Moving batch axes around
# ---------------------------------------------------------------------------------------------


def moveaxis(x, src: int, dst: int):
    ndim = core.get_aval(x).ndim
    src, dst = src % ndim, dst % ndim
    if src == dst:
        return x
    perm = [i for i in range(ndim) if i != src]
    perm.insert(dst, src)
    return core_prims.transpose(x, tuple(perm))


def broadcast_batch(x, size: int, dim: int):
    """Give an unbatched ``x`` a batch axis of length ``size`` at ``dim``."""
    aval = core.get_aval(x)
    shape = list(aval.shape)
    shape.insert(dim, size)
    bdims = tuple(i for i in range(len(shape)) if i != dim)
    return core_prims.broadcast_in_dim(x, tuple(shape), bdims)


def bdim_at(x, d: int | None, size: int, dst: int = 0):
    """``x`` with its batch axis at ``dst`` (created by broadcasting when ``d`` is None)."""
    if d is None:
        return broadcast_batch(x, size, dst)
    return moveaxis(x, d, dst)


# ---------------------------------------------------------------------------------------------
# One-line helpers for the common rule shapes
# ---------------------------------------------------------------------------------------------


def defvectorized(primitive: Primitive) -> None:
    """Elementwise in its single operand: the batch axis passes straight through."""

    def rule(vals, dims, axis_size, **params):
        return primitive.bind(*vals, **params), dims[0]

    batch_rules[primitive] = rule


def defbroadcasting(primitive: Primitive) -> None:
    """Elementwise over operands of equal shape: line the batch axes up, then apply."""

    def rule(vals, dims, axis_size, **params):
        batched = {d for d in dims if d is not None}
        if len(batched) == 1 and all(d is not None for d in dims):
            return primitive.bind(*vals, **params), dims[0]
        vals = [bdim_at(v, d, axis_size) for v, d in zip(vals, dims)]
        return primitive.bind(*vals, **params), 0

    batch_rules[primitive] = rule


# ---------------------------------------------------------------------------------------------
# The transformation
# ---------------------------------------------------------------------------------------------


def batch_flat(fun: Callable, args: Sequence[Any], in_dims: Sequence[int | None],
               axis_size: int, out_dims: Sequence[int | None] | Callable) -> list:
    """Run a flat function on batched arguments; outputs get their batch axis at ``out_dims``
    (a list, or a function of the number of outputs giving one)."""
    # vmap is the dynamic trace: operations on constants inside ``fun`` give its (unbatched)
    # tracers, as under JAX's omnistaging, so they can be indexed by batched values; unbatched
    # NumPy array arguments are such tracers too (``W[i]`` with ``in_axes=(None, 0)``), while
    # unbatched Python scalars stay as they are (usable as static ints, weakly typed)
    with core.new_main(BatchTrace, axis_size) as main:
        trace = BatchTrace(main)
        with core.new_dynamic(main):
            tracers = [BatchTracer(trace, a, d) if d is not None or isinstance(a, np.ndarray)
                       else a for a, d in zip(args, in_dims)]
            outs = fun(*tracers)
            outs = [trace.full_raise(o) for o in outs]
        dims = out_dims(len(outs)) if callable(out_dims) else out_dims
        results = []
        for o, d in zip(outs, dims):
            if d is not None and not isinstance(d, int):
                raise TypeError(f"vmap out_axes must be an int, None, or a pytree with those "
                                f"as leaves, but got {d!r}.")
            if d is not None and not -(o.aval.ndim + 1) <= d <= o.aval.ndim:
                raise ValueError(
                    f"vmap out_axes={d} is out of range for an output of {o.aval.ndim + 1} "
                    f"dimensions (batched shape with {o.aval.ndim} per-example dimensions).")
            if d is None:
                if o.bdim is not None:
                    raise ValueError(
                        "vmap got out_axes=None for an output that depends on the batched "
                        "inputs; give it an axis (e.g. out_axes=0).")
                results.append(core.full_lower(o.val))
            else:
                results.append(bdim_at(o.val, o.bdim, axis_size, d % (o.aval.ndim + 1)))
    return results


def vmap(fun: Callable, in_axes: Any = 0, out_axes: Any = 0, axis_name: Any = None,
         axis_size: int | None = None, spmd_axis_name: Any = None) -> Callable:
    """Vectorise ``fun`` over an axis of its arguments (JAX's ``vmap``).

    ``in_axes`` is an int, ``None`` (argument not batched) or a pytree prefix of the positional
    arguments; keyword arguments are always mapped over their leading axis, as in JAX.
    ``out_axes`` likewise for the outputs. ``axis_size`` is needed only when no input is batched.
    ``axis_name`` and ``spmd_axis_name`` are accepted for JAX compatibility; functrace has no
    collective operations (``psum``...) that would refer to them.
    """
    from .tree_util import tree_broadcast_prefix, tree_flatten, tree_unflatten

    @functools.wraps(fun)
    def vmapped(*args, **kwargs):
        axes = in_axes
        if isinstance(axes, list):
            axes = tuple(axes)
        if isinstance(axes, tuple) and len(axes) != len(args):
            raise ValueError(
                f"vmap in_axes has {len(axes)} entries but the function was called with "
                f"{len(args)} positional arguments; give one axis (or None) per argument.")
        flat_args, in_tree = tree_flatten((args, kwargs))
        try:
            flat_axes = tree_broadcast_prefix(
                (axes if isinstance(axes, tuple) else (axes,) * len(args),
                 {k: 0 for k in kwargs}), (args, kwargs))
        except ValueError as e:
            raise ValueError(f"vmap in_axes specification must be a tree prefix of the "
                             f"arguments, got in_axes={in_axes!r} for arguments {in_tree}: "
                             f"{e}") from None
        sizes = set()
        for x, ax in zip(flat_args, flat_axes):
            if ax is None:
                continue
            if not isinstance(ax, int):
                raise TypeError(f"vmap in_axes entries must be int or None, got {ax!r}")
            aval = core.get_aval(x)
            if not -aval.ndim <= ax < aval.ndim:
                raise ValueError(
                    f"vmap in_axes={ax} is out of range for an argument of shape {aval.shape}.")
            sizes.add(aval.shape[ax])
        if len(sizes) > 1:
            each = "; ".join(f"axis {ax} of argument leaf {i} ({core.get_aval(x).str_short()}) "
                             f"has size {core.get_aval(x).shape[ax]}"
                             for i, (x, ax) in enumerate(zip(flat_args, flat_axes))
                             if ax is not None)
            raise ValueError(f"vmap got inconsistent sizes for the mapped axes: {sorted(sizes)} "
                             f"({each}).")
        if not sizes and axis_size is None:
            raise ValueError("vmap needs at least one batched argument or an explicit axis_size.")
        size = sizes.pop() if sizes else axis_size
        flat_args = [core.get_aval(x) and x for x in flat_args]
        dims = [None if ax is None else ax % core.get_aval(x).ndim
                for x, ax in zip(flat_args, flat_axes)]
        out_tree_box = []

        def flat_fun(*xs):
            a, k = tree_unflatten(in_tree, xs)
            out = fun(*a, **k)
            flat_out, out_tree = tree_flatten(out)
            out_tree_box.append((out_tree, out))
            return flat_out

        def out_dims_for(n):
            out_tree, out = out_tree_box[0]
            try:
                return tree_broadcast_prefix(out_axes, out)
            except ValueError as e:
                raise ValueError(f"vmap out_axes specification must be a tree prefix of the "
                                 f"outputs, got out_axes={out_axes!r} for outputs {out_tree}: "
                                 f"{e}") from None

        outs = batch_flat(flat_fun, flat_args, dims, size, out_dims_for)
        return tree_unflatten(out_tree_box[0][0], outs)

    return vmapped
