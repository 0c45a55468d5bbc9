"""The short pytree namespace (``jax.tree``): ``functrace.tree.map`` is ``tree_util.tree_map``."""

from __future__ import annotations

from . import tree_util as _tu

all = _tu.tree_all  # noqa: A001 - jax.tree's names
flatten = _tu.tree_flatten
leaves = _tu.tree_leaves
map = _tu.tree_map  # noqa: A001
reduce = _tu.tree_reduce
structure = _tu.tree_structure
transpose = _tu.tree_transpose
unflatten = _tu.tree_unflatten

__all__ = ["all", "flatten", "leaves", "map", "reduce", "structure", "transpose", "unflatten"]
