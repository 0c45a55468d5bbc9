"""Pytree paths (``tree_flatten_with_path``, ``tree_map_with_path``, ``keystr``) with JAX's
key types: ``SequenceKey`` for tuple/list entries, ``DictKey`` for dict entries,
``GetAttrKey`` for namedtuple and dataclass fields, ``FlattenedIndexKey`` for the children of
other registered nodes. A path is the tuple of keys from the root to a leaf."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from . import tree_util as _tu


class SequenceKey(NamedTuple):
    """The ``idx``-th entry of a tuple or list."""
    idx: int

    def __str__(self) -> str:
        return f"[{self.idx!r}]"


class DictKey(NamedTuple):
    """The entry ``key`` of a dict."""
    key: Any

    def __str__(self) -> str:
        return f"[{self.key!r}]"


class GetAttrKey(NamedTuple):
    """The attribute ``name`` (a namedtuple or dataclass field)."""
    name: str

    def __str__(self) -> str:
        return f".{self.name}"


class FlattenedIndexKey(NamedTuple):
    """The ``key``-th child of a node registered with ``register_pytree_node``."""
    key: int

    def __str__(self) -> str:
        return f"[<flat index {self.key}>]"


def keystr(keys: tuple) -> str:
    """A path as text, e.g. ``"['params'][0].w"``."""
    return "".join(str(k) for k in keys)


def _child_keys(kind: Any, x: Any, aux: Any, n: int) -> list:
    if kind is _tu._DICT or kind is _tu._ORDEREDDICT:
        return [DictKey(k) for k in aux]
    if kind is _tu._DEFAULTDICT:
        return [DictKey(k) for k in aux[1]]
    if kind is _tu._TUPLE or kind is _tu._LIST:
        return [SequenceKey(i) for i in range(n)]
    labels = kind.labels(aux, n)
    if labels and all(label.startswith(".") for label in labels):
        return [GetAttrKey(label[1:]) for label in labels]
    return [FlattenedIndexKey(i) for i in range(n)]


def _collect(x: Any, path: tuple, out: list, is_leaf: Callable[[Any], bool] | None) -> None:
    kind = None if is_leaf is not None and is_leaf(x) else _tu._kind_of(type(x))
    if kind is None:
        out.append((path, x))
        return
    children, aux = kind.flatten(x)
    children = list(children)
    for key, child in zip(_child_keys(kind, x, aux, len(children)), children):
        _collect(child, path + (key,), out, is_leaf)


def tree_flatten_with_path(tree: Any, is_leaf: Callable[[Any], bool] | None = None
                           ) -> tuple[list[tuple[tuple, Any]], _tu.PyTreeDef]:
    """``([(path, leaf), ...], treedef)``: ``tree_flatten`` with each leaf's path."""
    out: list = []
    _collect(tree, (), out, is_leaf)
    return out, _tu.tree_structure(tree, is_leaf)


def tree_leaves_with_path(tree: Any, is_leaf: Callable[[Any], bool] | None = None
                          ) -> list[tuple[tuple, Any]]:
    """``[(path, leaf), ...]`` in flattening order."""
    return tree_flatten_with_path(tree, is_leaf)[0]


def tree_map_with_path(f: Callable[..., Any], tree: Any, *rest: Any,
                       is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """``tree_map`` where ``f`` also gets each leaf's path first: ``f(path, leaf, *others)``."""
    pairs, treedef = tree_flatten_with_path(tree, is_leaf)
    others = [treedef.flatten_up_to(r) for r in rest]
    return treedef.unflatten(f(path, leaf, *xs) for (path, leaf), *xs in zip(pairs, *others))
