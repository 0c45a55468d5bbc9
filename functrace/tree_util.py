"""Pytrees: flattening nested Python containers into leaves plus a hashable structure.

Every transformation in functrace (``grad``, ``vmap``, ``jit``, ...) accepts and returns
arbitrary nestings of tuples, lists, dicts and user-registered containers. This module
converts such a *pytree* into a flat list of *leaves* (arrays, scalars, any non-container
object) and a :class:`PyTreeDef` describing the containers, and rebuilds trees from the two.
A ``PyTreeDef`` is immutable, hashable and compares structurally, so it can be part of a
compilation-cache key.

Built-in container ("node") types:

* ``tuple``, ``list``: children in order.
* ``dict``: children ordered by sorted key; unflattening produces a dict in sorted key order.
* ``None``: a node with no children (so ``None`` contributes no leaves).
* namedtuples (any ``tuple`` subclass with ``_fields``): the node records the type.
* ``collections.OrderedDict``: children in insertion order.
* ``collections.defaultdict``: children by sorted key; the node records ``default_factory``.

Anything else is a leaf unless registered with :func:`register_pytree_node`,
:func:`register_pytree_node_class` or :func:`register_dataclass`. Registration is by exact
type: subclasses of registered types (other than namedtuples) are leaves.

The semantics follow ``jax.tree_util``.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, TypeVar

__all__ = [
    "PyTreeDef",
    "all_leaves",
    "flatten_axes",
    "register_dataclass",
    "register_pytree_node",
    "register_pytree_node_class",
    "tree_all",
    "tree_broadcast_prefix",
    "tree_flatten",
    "tree_leaves",
    "tree_map",
    "tree_reduce",
    "tree_structure",
    "tree_transpose",
    "tree_unflatten",
    "treedef_is_leaf",
]

PyTree = Any
"""Type alias for documentation: any pytree (a leaf or a nesting of registered nodes)."""

T = TypeVar("T")
_TypeT = TypeVar("_TypeT", bound=type)


# --------------------------------------------------------------------------------------------
# Node kinds and the registry
# --------------------------------------------------------------------------------------------


class _NodeKind:
    """How to take apart and rebuild one kind of pytree node.

    ``flatten(x) -> (children, aux)`` and ``unflatten(aux, children) -> x``. ``name`` is used
    in reprs and error messages; ``labels(aux, n)`` gives a path label for each child.
    Kinds compare by identity, so two treedefs only match if they use the same registration.
    """

    __slots__ = ("type", "name", "flatten", "unflatten", "labels")

    def __init__(
        self,
        nodetype: type,
        name: str,
        flatten: Callable[[Any], tuple[Iterable[Any], Any]],
        unflatten: Callable[[Any, list[Any]], Any],
        labels: Callable[[Any, int], list[str]] | None = None,
    ) -> None:
        self.type = nodetype
        self.name = name
        self.flatten = flatten
        self.unflatten = unflatten
        self.labels = labels if labels is not None else _index_labels

    def __repr__(self) -> str:
        return f"<pytree node kind {self.name}>"


def _index_labels(aux: Any, n: int) -> list[str]:
    return [f"[{i}]" for i in range(n)]


def _key_labels(keys: Sequence[Any]) -> list[str]:
    return [f"[{k!r}]" for k in keys]


def _sorted_keys(d: dict) -> tuple:
    try:
        return tuple(sorted(d))
    except TypeError as e:
        raise TypeError(
            f"pytree dict keys must be mutually sortable (children are ordered by sorted key), "
            f"got keys {list(d)!r}: {e}"
        ) from None


def _flatten_dict(d: dict) -> tuple[list[Any], tuple]:
    keys = _sorted_keys(d)
    return [d[k] for k in keys], keys


def _flatten_ordereddict(d: collections.OrderedDict) -> tuple[list[Any], tuple]:
    return list(d.values()), tuple(d)


def _flatten_defaultdict(d: collections.defaultdict) -> tuple[list[Any], tuple]:
    keys = _sorted_keys(d)
    return [d[k] for k in keys], (d.default_factory, keys)


def _unflatten_defaultdict(aux: tuple, children: list[Any]) -> collections.defaultdict:
    factory, keys = aux
    return collections.defaultdict(factory, zip(keys, children))


_TUPLE = _NodeKind(tuple, "tuple", lambda x: (x, None), lambda aux, ch: tuple(ch))
_LIST = _NodeKind(list, "list", lambda x: (x, None), lambda aux, ch: ch)
_DICT = _NodeKind(
    dict,
    "dict",
    _flatten_dict,
    lambda keys, ch: dict(zip(keys, ch)),
    lambda keys, n: _key_labels(keys),
)
_NONE = _NodeKind(type(None), "None", lambda x: ((), None), lambda aux, ch: None)
_NAMEDTUPLE = _NodeKind(
    tuple,
    "namedtuple",
    lambda x: (x, type(x)),
    lambda cls, ch: cls(*ch),
    lambda cls, n: [f".{f}" for f in cls._fields],
)
_ORDEREDDICT = _NodeKind(
    collections.OrderedDict,
    "OrderedDict",
    _flatten_ordereddict,
    lambda keys, ch: collections.OrderedDict(zip(keys, ch)),
    lambda keys, n: _key_labels(keys),
)
_DEFAULTDICT = _NodeKind(
    collections.defaultdict,
    "defaultdict",
    _flatten_defaultdict,
    _unflatten_defaultdict,
    lambda aux, n: _key_labels(aux[1]),
)

_registry: dict[type, _NodeKind] = {
    tuple: _TUPLE,
    list: _LIST,
    dict: _DICT,
    type(None): _NONE,
    collections.OrderedDict: _ORDEREDDICT,
    collections.defaultdict: _DEFAULTDICT,
}
_registry_get = _registry.get


def _kind_of(t: type) -> _NodeKind | None:
    """The node kind for objects of exact type ``t``, or ``None`` if they are leaves."""
    kind = _registry_get(t)
    if kind is None and issubclass(t, tuple) and hasattr(t, "_fields"):
        return _NAMEDTUPLE
    return kind


# A node is a tuple ``(kind, aux, children)`` with ``children`` a tuple of nodes. A leaf is
# the singleton ``_LEAF`` (kind ``None``). Plain tuples make structural ==/hash fast (C-level).
_LEAF: tuple = (None, None, ())


def _flatten_node(x: Any, leaves: list[Any], is_leaf: Callable[[Any], bool] | None) -> tuple:
    if is_leaf is not None and is_leaf(x):
        leaves.append(x)
        return _LEAF
    t = type(x)
    kind = _registry_get(t)
    if kind is None:
        if issubclass(t, tuple) and hasattr(t, "_fields"):
            kind = _NAMEDTUPLE
        else:
            leaves.append(x)
            return _LEAF
    children, aux = kind.flatten(x)
    if is_leaf is None:
        # Fast path: handle leaf children inline instead of recursing.
        nodes = []
        for c in children:
            ct = type(c)
            if ct not in _registry and not (issubclass(ct, tuple) and hasattr(ct, "_fields")):
                leaves.append(c)
                nodes.append(_LEAF)
            else:
                nodes.append(_flatten_node(c, leaves, None))
        return (kind, aux, tuple(nodes))
    return (kind, aux, tuple([_flatten_node(c, leaves, is_leaf) for c in children]))


def _unflatten_node(node: tuple, it: Any) -> Any:
    kind, aux, children = node
    if kind is None:
        return next(it)
    return kind.unflatten(aux, [_unflatten_node(c, it) for c in children])


def _count_leaves(node: tuple) -> int:
    if node[0] is None:
        return 1
    return sum(_count_leaves(c) for c in node[2])


def _count_nodes(node: tuple) -> int:
    return 1 + sum(_count_nodes(c) for c in node[2])


def _repr_node(node: tuple) -> str:
    kind, aux, children = node
    if kind is None:
        return "*"
    parts = [_repr_node(c) for c in children]
    if kind is _NONE:
        return "None"
    if kind is _TUPLE:
        return "(" + parts[0] + ",)" if len(parts) == 1 else "(" + ", ".join(parts) + ")"
    if kind is _LIST:
        return "[" + ", ".join(parts) + "]"
    if kind is _DICT:
        return "{" + ", ".join(f"{k!r}: {p}" for k, p in zip(aux, parts)) + "}"
    if kind is _NAMEDTUPLE:
        head = f"namedtuple[{aux.__name__}]"
    else:
        head = f"{kind.name}[{aux!r}]"
    return f"CustomNode({head}, [" + ", ".join(parts) + "])"


def _describe_kind(kind: _NodeKind | None, aux: Any) -> str:
    if kind is None:
        return "a leaf"
    if kind is _NAMEDTUPLE:
        return f"namedtuple {aux.__name__}"
    return kind.name


def _first_difference(a: tuple, b: tuple, path: str = "") -> str | None:
    """Describe where nodes ``a`` and ``b`` first differ (depth first), or ``None``."""
    if a == b:
        return None
    where = path or "the root"
    (ka, aa, ca), (kb, ab, cb) = a, b
    if ka is not kb:
        return f"at {where}: {_describe_kind(ka, aa)} vs {_describe_kind(kb, ab)}"
    if aa != ab or len(ca) != len(cb):
        if ka in (_DICT, _ORDEREDDICT):
            return f"at {where}: {ka.name} keys {list(aa)!r} vs {list(ab)!r}"
        if ka is _NAMEDTUPLE:
            return f"at {where}: namedtuple {aa.__name__} vs {ab.__name__}"
        if ka in (_TUPLE, _LIST):
            return f"at {where}: {ka.name} of length {len(ca)} vs {len(cb)}"
        return f"at {where}: {ka.name} with node data {aa!r} vs {ab!r}"
    for label, x, y in zip(ka.labels(aa, len(ca)), ca, cb):
        diff = _first_difference(x, y, path + label)
        if diff is not None:
            return diff
    return None  # pragma: no cover  (a != b implies some difference above)


# --------------------------------------------------------------------------------------------
# PyTreeDef
# --------------------------------------------------------------------------------------------


class PyTreeDef:
    """The structure of a pytree: its container nodes (with their aux data), not its leaves.

    Immutable, hashable, and compared structurally (node types, dict keys, namedtuple types,
    custom aux data), so it can be used as a cache key. Obtain one from :func:`tree_flatten`
    or :func:`tree_structure`; do not construct it directly.
    """

    __slots__ = ("_node", "_num_leaves", "_num_nodes", "_hash")

    _node: tuple
    _num_leaves: int
    _num_nodes: int | None
    _hash: int | None

    def __init__(self, node: tuple, num_leaves: int | None = None) -> None:
        object.__setattr__(self, "_node", node)
        object.__setattr__(
            self, "_num_leaves", _count_leaves(node) if num_leaves is None else num_leaves
        )
        object.__setattr__(self, "_num_nodes", None)
        object.__setattr__(self, "_hash", None)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("PyTreeDef is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("PyTreeDef is immutable")

    @property
    def num_leaves(self) -> int:
        """Number of leaves in trees with this structure."""
        return self._num_leaves

    @property
    def num_nodes(self) -> int:
        """Number of nodes, counting every leaf and every container (including ``None``)."""
        n = self._num_nodes
        if n is None:
            n = _count_nodes(self._node)
            object.__setattr__(self, "_num_nodes", n)
        return n

    def children(self) -> list[PyTreeDef]:
        """The treedefs of the root node's immediate children (``[]`` for a leaf)."""
        return [PyTreeDef(c) for c in self._node[2]]

    def unflatten(self, leaves: Iterable[Any]) -> Any:
        """Build a tree with this structure from ``leaves`` (in flattening order)."""
        leaves = leaves if isinstance(leaves, list) else list(leaves)
        if len(leaves) != self._num_leaves:
            raise ValueError(
                f"tree_unflatten: {self!r} expects {self._num_leaves} "
                f"lea{'f' if self._num_leaves == 1 else 'ves'}, "
                f"but {len(leaves)} {'was' if len(leaves) == 1 else 'were'} given"
            )
        if self._node is _LEAF:
            return leaves[0]
        return _unflatten_node(self._node, iter(leaves))

    def flatten_up_to(self, tree: PyTree) -> list[Any]:
        """Split ``tree`` at this structure's leaves.

        ``tree`` must match this treedef at every container node; each position that is a
        leaf here yields the whole corresponding subtree of ``tree`` (which may itself be a
        container). Raises ``ValueError`` naming both structures on mismatch.
        """
        out: list[Any] = []
        _flatten_up_to(self._node, tree, out, "", self, tree)
        return out

    def compose(self, inner: PyTreeDef) -> PyTreeDef:
        """The structure obtained by replacing every leaf of ``self`` with ``inner``."""

        def sub(node: tuple) -> tuple:
            if node[0] is None:
                return inner._node
            return (node[0], node[1], tuple(sub(c) for c in node[2]))

        return PyTreeDef(sub(self._node), self._num_leaves * inner._num_leaves)

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, PyTreeDef):
            return NotImplemented
        return self._num_leaves == other._num_leaves and self._node == other._node

    def __hash__(self) -> int:
        h = self._hash
        if h is None:
            try:
                h = hash(self._node)
            except TypeError as e:
                raise TypeError(
                    f"{self!r} is unhashable because some node's aux data is unhashable "
                    f"(aux data of registered pytree nodes must be hashable): {e}"
                ) from None
            object.__setattr__(self, "_hash", h)
        return h

    def __repr__(self) -> str:
        return f"PyTreeDef({_repr_node(self._node)})"

    def __reduce__(self) -> Any:
        raise TypeError("PyTreeDef objects cannot be pickled")


def _flatten_up_to(
    node: tuple, x: Any, out: list[Any], path: str, treedef: PyTreeDef, tree: Any
) -> None:
    kind, aux, children = node
    if kind is None:
        out.append(x)
        return
    xkind = _kind_of(type(x))
    problem = None
    if xkind is not kind:
        problem = f"expected {_describe_kind(kind, aux)}, got {_describe_kind(xkind, None)}"
        if xkind is _NAMEDTUPLE:
            problem = f"expected {_describe_kind(kind, aux)}, got namedtuple {type(x).__name__}"
    else:
        xchildren, xaux = kind.flatten(x)
        xchildren = list(xchildren)
        if xaux != aux or len(xchildren) != len(children):
            problem = f"expected {_repr_node(node)}, got {_repr_node(_flatten_node(x, [], None))}"
    if problem is not None:
        raise ValueError(
            f"tree structure mismatch: {treedef!r} is not a prefix of the structure of the "
            f"given tree, {tree_structure(tree)!r}; at {path or 'the root'}: {problem}"
        )
    for label, c, cx in zip(kind.labels(aux, len(children)), children, xchildren):
        _flatten_up_to(c, cx, out, path + label, treedef, tree)


# --------------------------------------------------------------------------------------------
# Flattening API
# --------------------------------------------------------------------------------------------


def tree_flatten(
    tree: PyTree, is_leaf: Callable[[Any], bool] | None = None
) -> tuple[list[Any], PyTreeDef]:
    """Flatten ``tree`` into ``(leaves, treedef)``.

    Leaves are listed depth first, left to right (dict children by sorted key). If
    ``is_leaf`` is given, any subtree ``x`` with ``is_leaf(x)`` true is treated as a leaf
    (this is checked before the node registry, and applies to ``None`` too).
    """
    leaves: list[Any] = []
    node = _flatten_node(tree, leaves, is_leaf)
    return leaves, PyTreeDef(node, len(leaves))


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable[Any]) -> PyTree:
    """Rebuild a tree with structure ``treedef`` from ``leaves``; inverse of :func:`tree_flatten`.

    Raises ``ValueError`` (saying how many leaves were expected and given) if the number of
    leaves does not match ``treedef.num_leaves``.
    """
    return treedef.unflatten(leaves)


def tree_leaves(tree: PyTree, is_leaf: Callable[[Any], bool] | None = None) -> list[Any]:
    """The leaves of ``tree`` in flattening order."""
    leaves: list[Any] = []
    _flatten_node(tree, leaves, is_leaf)
    return leaves


def tree_structure(tree: PyTree, is_leaf: Callable[[Any], bool] | None = None) -> PyTreeDef:
    """The :class:`PyTreeDef` of ``tree``."""
    return tree_flatten(tree, is_leaf)[1]


def treedef_is_leaf(treedef: PyTreeDef) -> bool:
    """Whether ``treedef`` has a single node.

    As in JAX this is true for the leaf structure ``*`` and also for childless containers
    such as ``None``, ``()`` and ``{}``. Use ``treedef.num_leaves`` to count leaves.
    """
    return treedef.num_nodes == 1


def all_leaves(iterable: Iterable[Any], is_leaf: Callable[[Any], bool] | None = None) -> bool:
    """Whether every element of ``iterable`` is a leaf (not a container node, not ``None``)."""
    for x in iterable:
        if is_leaf is not None and is_leaf(x):
            continue
        if _kind_of(type(x)) is not None:
            return False
    return True


def tree_map(
    f: Callable[..., Any],
    tree: PyTree,
    *rest: PyTree,
    is_leaf: Callable[[Any], bool] | None = None,
) -> PyTree:
    """Apply ``f`` leafwise: ``f(leaf, *corresponding leaves of rest)``, keeping the structure.

    Every tree in ``rest`` must have exactly the same structure as ``tree`` (``is_leaf``
    applies to all of them); otherwise ``ValueError`` names both structures and the first
    place they differ.
    """
    leaves, treedef = tree_flatten(tree, is_leaf)
    if not rest:
        return treedef.unflatten([f(x) for x in leaves])
    all_leaves_lists = [leaves]
    for i, r in enumerate(rest, start=1):
        r_leaves, r_treedef = tree_flatten(r, is_leaf)
        if r_treedef != treedef:
            diff = _first_difference(treedef._node, r_treedef._node)
            raise ValueError(
                f"tree_map: all trees must have the same structure, but the first tree has "
                f"structure {treedef!r} and tree {i} of rest has structure {r_treedef!r}"
                + (f" (they differ {diff})" if diff else "")
            )
        all_leaves_lists.append(r_leaves)
    return treedef.unflatten([f(*xs) for xs in zip(*all_leaves_lists)])


_NO_INITIALIZER: Any = object()


def tree_reduce(
    f: Callable[[T, Any], T],
    tree: PyTree,
    initializer: Any = _NO_INITIALIZER,
    is_leaf: Callable[[Any], bool] | None = None,
) -> T:
    """``functools.reduce(f, tree_leaves(tree), initializer)``.

    Without an ``initializer`` a tree with no leaves raises ``TypeError``.
    """
    leaves = tree_leaves(tree, is_leaf)
    if initializer is _NO_INITIALIZER:
        if not leaves:
            raise TypeError(
                f"tree_reduce of a tree with no leaves ({tree_structure(tree, is_leaf)!r}) "
                f"needs an initializer"
            )
        return functools.reduce(f, leaves)
    return functools.reduce(f, leaves, initializer)


def tree_all(tree: PyTree, is_leaf: Callable[[Any], bool] | None = None) -> bool:
    """Whether all leaves of ``tree`` are truthy (``True`` for a tree with no leaves)."""
    return all(tree_leaves(tree, is_leaf))


def tree_transpose(
    outer_treedef: PyTreeDef, inner_treedef: PyTreeDef | None, pytree_to_transpose: PyTree
) -> PyTree:
    """Turn a tree of structure ``outer`` of trees of structure ``inner`` inside out.

    ``pytree_to_transpose`` must have structure ``outer_treedef.compose(inner_treedef)``; the
    result has structure ``inner_treedef.compose(outer_treedef)``. If ``inner_treedef`` is
    ``None`` it is inferred from the first outer-leaf subtree. E.g. a list of ``(a, b)`` pairs
    becomes a pair of lists.
    """
    if inner_treedef is None:
        subtrees = outer_treedef.flatten_up_to(pytree_to_transpose)
        if not subtrees:
            raise ValueError(
                "tree_transpose: cannot infer inner_treedef when outer_treedef "
                f"{outer_treedef!r} has no leaves; pass it explicitly"
            )
        inner_treedef = tree_structure(subtrees[0])
    leaves, treedef = tree_flatten(pytree_to_transpose)
    expected = outer_treedef.compose(inner_treedef)
    if treedef != expected:
        raise ValueError(
            f"tree_transpose: expected a tree of structure {expected!r} (outer "
            f"{outer_treedef!r} composed with inner {inner_treedef!r}), got {treedef!r}"
        )
    n_inner = inner_treedef.num_leaves
    # leaves[i * n_inner + j] is inner leaf j of outer leaf i; gather each j across all i.
    columns = [outer_treedef.unflatten(leaves[j::n_inner]) for j in range(n_inner)]
    return inner_treedef.unflatten(columns)


# --------------------------------------------------------------------------------------------
# Prefix broadcasting (vmap in_axes / out_axes style)
# --------------------------------------------------------------------------------------------


class _PrefixMismatch(Exception):
    pass


def _broadcast_prefix(
    prefix: Any,
    node: tuple,
    out: list[Any],
    path: str,
    is_leaf: Callable[[Any], bool] | None,
) -> None:
    if prefix is None or (is_leaf is not None and is_leaf(prefix)):
        out.extend([prefix] * _count_leaves(node))
        return
    pkind = _kind_of(type(prefix))
    if pkind is None:
        out.extend([prefix] * _count_leaves(node))
        return
    kind, aux, children = node
    where = path or "the root"
    if kind is not pkind:
        got = _describe_kind(kind, aux)
        want = f"namedtuple {type(prefix).__name__}" if pkind is _NAMEDTUPLE else pkind.name
        raise _PrefixMismatch(f"at {where}: the prefix has a {want} but the full tree has {got}")
    pchildren, paux = pkind.flatten(prefix)
    pchildren = list(pchildren)
    if paux != aux or len(pchildren) != len(children):
        if kind in (_DICT, _ORDEREDDICT):
            detail = f"{kind.name} keys {list(paux)!r} vs {list(aux)!r}"
        elif kind is _NAMEDTUPLE:
            detail = f"namedtuple {paux.__name__} vs {aux.__name__}"
        elif kind in (_TUPLE, _LIST):
            detail = f"{kind.name} of length {len(pchildren)} vs {len(children)}"
        else:
            detail = f"{kind.name} with node data {paux!r} vs {aux!r}"
        raise _PrefixMismatch(f"at {where}: prefix has {detail} in the full tree")
    for label, p, c in zip(kind.labels(aux, len(children)), pchildren, children):
        _broadcast_prefix(p, c, out, path + label, is_leaf)


def _prefix_structure(prefix_tree: Any, is_leaf: Callable[[Any], bool] | None) -> PyTreeDef:
    if is_leaf is None:
        return tree_structure(prefix_tree, lambda x: x is None)
    return tree_structure(prefix_tree, lambda x: x is None or is_leaf(x))


def flatten_axes(
    name: str,
    treedef: PyTreeDef,
    axis_tree: Any,
    is_leaf: Callable[[Any], bool] | None = None,
) -> list[Any]:
    """Broadcast the prefix tree ``axis_tree`` against ``treedef``: one entry per leaf.

    Like :func:`tree_broadcast_prefix`, but takes the full tree's structure instead of the
    tree; ``name`` (e.g. ``"vmap in_axes"``) is used in the error message.
    """
    out: list[Any] = []
    try:
        _broadcast_prefix(axis_tree, treedef._node, out, "", is_leaf)
    except _PrefixMismatch as e:
        raise ValueError(
            f"{name} specification must be a tree prefix of the corresponding value: "
            f"{name} has structure {_prefix_structure(axis_tree, is_leaf)!r} but the value "
            f"has structure {treedef!r}; {e}"
        ) from None
    return out


def tree_broadcast_prefix(
    prefix_tree: Any, full_tree: PyTree, is_leaf: Callable[[Any], bool] | None = None
) -> list[Any]:
    """Expand a pytree prefix to one entry per leaf of ``full_tree``.

    ``prefix_tree`` matches ``full_tree`` container by container down to some depth; each leaf
    of the prefix (including ``None``, which here means e.g. "unbatched") applies to every leaf
    of the corresponding subtree of ``full_tree``. E.g. prefix ``(0, None)`` against
    ``(x, {'a': y, 'b': z})`` gives ``[0, None, None]``. ``is_leaf`` applies to both trees.
    Raises ``ValueError`` naming both structures if the prefix does not match.
    """
    _, treedef = tree_flatten(full_tree, is_leaf)
    out: list[Any] = []
    try:
        _broadcast_prefix(prefix_tree, treedef._node, out, "", is_leaf)
    except _PrefixMismatch as e:
        raise ValueError(
            f"tree_broadcast_prefix: prefix tree structure "
            f"{_prefix_structure(prefix_tree, is_leaf)!r} is not a prefix of full tree "
            f"structure {treedef!r}; {e}"
        ) from None
    return out


# --------------------------------------------------------------------------------------------
# Registration
# --------------------------------------------------------------------------------------------


def register_pytree_node(
    nodetype: type,
    flatten_fn: Callable[[Any], tuple[Iterable[Any], Hashable]],
    unflatten_fn: Callable[[Any, Iterable[Any]], Any],
) -> None:
    """Register ``nodetype`` as a pytree container.

    ``flatten_fn(x) -> (children, aux_data)`` where ``children`` is an iterable of subtrees
    and ``aux_data`` is hashable, comparable static data (it becomes part of the treedef);
    ``unflatten_fn(aux_data, children) -> x``. Only objects of exactly ``nodetype`` are
    affected. Registering a type twice raises ``ValueError``.
    """
    if not isinstance(nodetype, type):
        raise TypeError(f"register_pytree_node: expected a type, got {nodetype!r}")
    if nodetype in _registry:
        raise ValueError(f"register_pytree_node: {nodetype!r} is already registered")
    name = getattr(nodetype, "__qualname__", nodetype.__name__)
    _registry[nodetype] = _NodeKind(nodetype, name, flatten_fn, unflatten_fn)


def register_pytree_node_class(cls: _TypeT) -> _TypeT:
    """Class decorator registering ``cls`` via its own methods.

    ``cls`` must define ``tree_flatten(self) -> (children, aux_data)`` and a classmethod
    ``tree_unflatten(cls, aux_data, children)``. Returns ``cls``.
    """
    register_pytree_node(cls, cls.tree_flatten, cls.tree_unflatten)
    return cls


def register_dataclass(
    cls: _TypeT | None = None,
    *,
    data_fields: Sequence[str] | None = None,
    meta_fields: Sequence[str] | None = None,
) -> Any:
    """Register a dataclass as a pytree node, usable as ``@register_dataclass`` or called.

    *Data* fields are children (traced, mapped over); *meta* fields are static and become
    part of the treedef (their values must be hashable). With neither list given, every
    ``init`` field is data except those declared with ``metadata={"static": True}``. If only
    one list is given, the other is the remaining ``init`` fields. Together the lists must
    cover exactly the fields accepted by ``__init__``; unflattening calls
    ``cls(**fields)``. Returns ``cls`` (or a decorator if ``cls`` is omitted).
    """
    if cls is None:
        return lambda c: register_dataclass(c, data_fields=data_fields, meta_fields=meta_fields)
    if data_fields is None or meta_fields is None:
        if not dataclasses.is_dataclass(cls):
            raise TypeError(
                f"register_dataclass: {cls!r} is not a dataclass; pass both data_fields and "
                f"meta_fields explicitly"
            )
        init_fields = [f for f in dataclasses.fields(cls) if f.init]
        if data_fields is None and meta_fields is None:
            meta_fields = [f.name for f in init_fields if f.metadata.get("static", False)]
            data_fields = [f.name for f in init_fields if not f.metadata.get("static", False)]
        elif data_fields is None:
            data_fields = [f.name for f in init_fields if f.name not in set(meta_fields or ())]
        else:
            data_fields = list(data_fields)
            meta_fields = [f.name for f in init_fields if f.name not in set(data_fields)]
    data = tuple(data_fields)
    meta = tuple(meta_fields or ())
    overlap = set(data) & set(meta)
    if overlap:
        raise ValueError(
            f"register_dataclass: fields {sorted(overlap)} are listed as both data and meta"
        )
    if dataclasses.is_dataclass(cls):
        expected = {f.name for f in dataclasses.fields(cls) if f.init}
        given = set(data) | set(meta)
        if given != expected:
            raise ValueError(
                f"register_dataclass: data_fields + meta_fields must be exactly the init "
                f"fields of {cls.__name__} {sorted(expected)}; missing {sorted(expected - given)}"
                f", unexpected {sorted(given - expected)}"
            )

    def flatten(x: Any) -> tuple[list[Any], tuple]:
        return [getattr(x, n) for n in data], tuple([getattr(x, n) for n in meta])

    def unflatten(aux: tuple, children: Iterable[Any]) -> Any:
        kwargs = dict(zip(data, children))
        kwargs.update(zip(meta, aux))
        return cls(**kwargs)

    register_pytree_node(cls, flatten, unflatten)
    kind = _registry[cls]
    kind.labels = lambda aux, n: [f".{f}" for f in data]
    return cls

from ._tree_paths import (  # noqa: E402 - the path functions build on the registry above
    DictKey,
    FlattenedIndexKey,
    GetAttrKey,
    SequenceKey,
    keystr,
    tree_flatten_with_path,
    tree_leaves_with_path,
    tree_map_with_path,
)

__all__ += ["DictKey", "FlattenedIndexKey", "GetAttrKey", "SequenceKey", "keystr",
            "tree_flatten_with_path", "tree_leaves_with_path", "tree_map_with_path"]
