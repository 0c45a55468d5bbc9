"""``eval_shape``: the shapes and dtypes a function would return, found by tracing alone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from . import core
from .tree_util import tree_flatten, tree_map, tree_unflatten


class ShapeDtypeStruct(NamedTuple):
    """An array's shape and dtype without its data (``jax.ShapeDtypeStruct``); accepted by
    ``eval_shape`` in place of an array."""

    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def __repr__(self) -> str:
        return f"ShapeDtypeStruct(shape={self.shape}, dtype={np.dtype(self.dtype).name})"


def _placeholder(x):
    """An array with ``x``'s shape and dtype that costs no memory (a broadcast view)."""
    if isinstance(x, ShapeDtypeStruct) or (
            hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(
                x, (np.ndarray, np.generic, core.Tracer))):
        return np.broadcast_to(np.zeros((), np.dtype(x.dtype)), tuple(x.shape))
    return x


def eval_shape(fun: Callable, *args: Any, **kwargs: Any) -> Any:
    """The output of ``fun(*args, **kwargs)`` as a pytree of ``ShapeDtypeStruct``, computed by
    tracing ``fun`` (nothing is evaluated). Arguments may be arrays or anything with
    ``.shape`` and ``.dtype`` (``ShapeDtypeStruct``, ``ShapedArray``)."""
    from .tracing import make_jaxpr

    args, kwargs = tree_map(_placeholder, (args, kwargs), is_leaf=lambda x: isinstance(
        x, ShapeDtypeStruct))
    flat, tree = tree_flatten((args, kwargs))
    out_tree_box: list = []

    def flat_fun(*leaves):
        a, k = tree_unflatten(tree, leaves)
        out = fun(*a, **k)
        out_leaves, out_tree = tree_flatten(out)
        out_tree_box.append(out_tree)
        return out_leaves

    closed = make_jaxpr(flat_fun)(*flat)
    structs = [ShapeDtypeStruct(a.shape, a.dtype) for a in closed.out_avals]
    return tree_unflatten(out_tree_box[0], structs)
