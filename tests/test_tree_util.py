"""Tests for functrace.tree_util: flattening, treedefs, mapping and prefix broadcasting."""

from __future__ import annotations

import collections
import dataclasses
from typing import Any, NamedTuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functrace.tree_util import (
    PyTreeDef,
    all_leaves,
    flatten_axes,
    register_dataclass,
    register_pytree_node,
    register_pytree_node_class,
    tree_all,
    tree_broadcast_prefix,
    tree_flatten,
    tree_leaves,
    tree_map,
    tree_reduce,
    tree_structure,
    tree_transpose,
    tree_unflatten,
    treedef_is_leaf,
)

# --------------------------------------------------------------------------------------------
# Registered test types (registration is global, so do it once at import time)
# --------------------------------------------------------------------------------------------


class Point(NamedTuple):
    x: Any
    y: Any


class OtherPoint(NamedTuple):
    x: Any
    y: Any


@register_pytree_node_class
class Box:
    """Custom node: ``items`` are children, ``label`` is static aux data."""

    def __init__(self, items: list, label: str) -> None:
        self.items = items
        self.label = label

    def tree_flatten(self) -> tuple[list, str]:
        return list(self.items), self.label

    @classmethod
    def tree_unflatten(cls, aux: str, children: list) -> Box:
        return cls(list(children), aux)

    def __eq__(self, other: object) -> bool:
        return type(other) is Box and self.items == other.items and self.label == other.label

    def __repr__(self) -> str:
        return f"Box({self.items!r}, {self.label!r})"


class Pair:
    def __init__(self, a: Any, b: Any) -> None:
        self.a = a
        self.b = b

    def __eq__(self, other: object) -> bool:
        return type(other) is Pair and (self.a, self.b) == (other.a, other.b)


register_pytree_node(Pair, lambda p: ((p.a, p.b), None), lambda aux, ch: Pair(*ch))


@register_dataclass
@dataclasses.dataclass
class Params:
    w: Any
    b: Any
    name: str = dataclasses.field(default="p", metadata={"static": True})


@dataclasses.dataclass(frozen=True)
class Explicit:
    data: Any
    size: int
    cached: Any = dataclasses.field(default=None, init=False)


register_dataclass(Explicit, data_fields=["data"], meta_fields=["size"])


class Unregistered:
    """Not a pytree node: must be treated as a leaf."""


class MyDict(dict):
    """Subclass of dict that is not registered: a leaf."""


def nested_example() -> dict:
    return {
        "tuple": (1, 2.5),
        "list": [3, (4,)],
        "none": None,
        "point": Point(5, [6, 7]),
        "od": collections.OrderedDict([("z", 8), ("a", 9)]),
        "dd": collections.defaultdict(list, {"k2": 10, "k1": 11}),
        "box": Box([12, {"q": 13}], "lbl"),
        "pair": Pair(14, None),
        "params": Params(w=15, b=[16], name="layer"),
        "explicit": Explicit(data=17, size=3),
        "empty": ((), [], {}),
    }


# --------------------------------------------------------------------------------------------
# Flatten / unflatten
# --------------------------------------------------------------------------------------------


def test_nested_round_trip_all_node_types() -> None:
    tree = nested_example()
    leaves, treedef = tree_flatten(tree)
    # dict children in sorted key order; OrderedDict in insertion order; dd sorted.
    assert leaves == [12, 13, 11, 10, 17, 3, 4, 8, 9, 14, 15, 16, 5, 6, 7, 1, 2.5]
    assert treedef.num_leaves == len(leaves)
    rebuilt = tree_unflatten(treedef, leaves)
    assert rebuilt == tree
    assert type(rebuilt["point"]) is Point
    assert type(rebuilt["od"]) is collections.OrderedDict
    assert list(rebuilt["od"]) == ["z", "a"]
    assert type(rebuilt["dd"]) is collections.defaultdict
    assert rebuilt["dd"].default_factory is list
    assert rebuilt["params"].name == "layer"
    assert rebuilt["explicit"].size == 3
    assert rebuilt["none"] is None
    assert rebuilt["empty"] == ((), [], {})
    assert type(rebuilt["empty"][1]) is list
    assert tree_structure(rebuilt) == treedef


def test_unflatten_with_new_leaves() -> None:
    tree = nested_example()
    leaves, treedef = tree_flatten(tree)
    new = tree_unflatten(treedef, [x * 2 for x in leaves])
    assert new["tuple"] == (2, 5.0)
    assert new["point"] == Point(10, [12, 14])
    assert new["box"] == Box([24, {"q": 26}], "lbl")
    assert new["params"] == Params(w=30, b=[32], name="layer")
    assert new["explicit"].data == 34


def test_leaves_are_not_containers() -> None:
    arr = np.arange(3)
    obj = Unregistered()
    sub = MyDict(a=1)
    leaves, treedef = tree_flatten([arr, obj, sub, 1.0, "s", b"b", 3j])
    assert leaves[0] is arr and leaves[1] is obj and leaves[2] is sub
    assert leaves[3:] == [1.0, "s", b"b", 3j]
    assert repr(treedef) == "PyTreeDef([*, *, *, *, *, *, *])"


def test_dict_sorted_order() -> None:
    leaves, treedef = tree_flatten({"b": 1, "a": 2, "c": 3})
    assert leaves == [2, 1, 3]
    rebuilt = tree_unflatten(treedef, ["A", "B", "C"])
    assert list(rebuilt.items()) == [("a", "A"), ("b", "B"), ("c", "C")]


def test_unsortable_dict_keys_raise() -> None:
    with pytest.raises(TypeError, match="sortable"):
        tree_flatten({1: "a", "x": "b"})


def test_none_is_empty_node() -> None:
    leaves, treedef = tree_flatten([None, 1, (None,)])
    assert leaves == [1]
    assert treedef.num_leaves == 1
    assert tree_unflatten(treedef, [5]) == [None, 5, (None,)]
    assert tree_leaves(None) == []
    assert tree_structure(None) != tree_structure(1)


def test_scalar_tree() -> None:
    leaves, treedef = tree_flatten(7)
    assert leaves == [7]
    assert repr(treedef) == "PyTreeDef(*)"
    assert tree_unflatten(treedef, ["x"]) == "x"


def test_is_leaf() -> None:
    tree = {"a": (1, 2), "b": [3, (4, 5)], "c": None}
    leaves, treedef = tree_flatten(tree, is_leaf=lambda x: isinstance(x, tuple))
    assert leaves == [(1, 2), 3, (4, 5)]
    assert repr(treedef) == "PyTreeDef({'a': *, 'b': [*, *], 'c': None})"
    leaves, _ = tree_flatten(tree, is_leaf=lambda x: x is None)
    assert leaves == [1, 2, 3, 4, 5, None]
    assert tree_leaves(tree, is_leaf=lambda x: isinstance(x, list)) == [1, 2, [3, (4, 5)]]


def test_unflatten_wrong_count_message() -> None:
    treedef = tree_structure((1, 2, 3))
    with pytest.raises(ValueError, match=r"expects 3 leaves, but 2 were given") as info:
        tree_unflatten(treedef, [1, 2])
    assert "PyTreeDef((*, *, *))" in str(info.value)
    with pytest.raises(ValueError, match=r"expects 3 leaves, but 4 were given"):
        treedef.unflatten([1, 2, 3, 4])
    with pytest.raises(ValueError, match=r"expects 1 leaf, but 0 were given"):
        tree_unflatten(tree_structure(1), [])


def test_unflatten_accepts_iterables() -> None:
    treedef = tree_structure([1, {"a": 2}])
    assert tree_unflatten(treedef, iter((7, 8))) == [7, {"a": 8}]
    assert treedef.unflatten(x for x in "pq") == ["p", {"a": "q"}]


# --------------------------------------------------------------------------------------------
# PyTreeDef
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tree", "expected"),
    [
        ((1, {"a": 2}), "PyTreeDef((*, {'a': *}))"),
        ((1,), "PyTreeDef((*,))"),
        ((), "PyTreeDef(())"),
        (None, "PyTreeDef(None)"),
        ([1, [2, None]], "PyTreeDef([*, [*, None]])"),
        (Point(1, 2), "PyTreeDef(CustomNode(namedtuple[Point], [*, *]))"),
        (Box([1], "L"), "PyTreeDef(CustomNode(Box['L'], [*]))"),
        (
            collections.OrderedDict([("b", 1), ("a", 2)]),
            "PyTreeDef(CustomNode(OrderedDict[('b', 'a')], [*, *]))",
        ),
    ],
)
def test_repr(tree: Any, expected: str) -> None:
    assert repr(tree_structure(tree)) == expected


def test_num_leaves_num_nodes_children() -> None:
    treedef = tree_structure((1, {"a": 2, "b": None}, [3, 4]))
    assert treedef.num_leaves == 4
    # tuple, leaf, dict, leaf, None, list, leaf, leaf
    assert treedef.num_nodes == 8
    children = treedef.children()
    assert children == [
        tree_structure(0),
        tree_structure({"a": 0, "b": None}),
        tree_structure([0, 0]),
    ]
    assert [c.num_leaves for c in children] == [1, 1, 2]
    assert tree_structure(5).children() == []


def test_treedef_equality_and_hash() -> None:
    def td(t: Any) -> PyTreeDef:
        return tree_structure(t)

    # Same structure, different leaves: equal, same hash, same dict slot.
    a, b = td({"x": (1, 2)}), td({"x": ("p", np.zeros(2))})
    assert a == b and hash(a) == hash(b)
    cache = {a: "hit"}
    assert cache[b] == "hit"

    distinct = [
        td({"x": 1}),
        td({"y": 1}),
        td([1, 2]),
        td((1, 2)),
        td(Point(1, 2)),
        td(OtherPoint(1, 2)),
        td(collections.OrderedDict([("a", 1), ("b", 2)])),
        td(collections.OrderedDict([("b", 1), ("a", 2)])),
        td(collections.defaultdict(list, {"a": 1, "b": 2})),
        td(collections.defaultdict(int, {"a": 1, "b": 2})),
        td({"a": 1, "b": 2}),
        td(Params(1, 2, name="p")),
        td(Params(1, 2, name="q")),
        td(Box([1, 2], "p")),
        td(Box([1, 2], "q")),
        td(Pair(1, 2)),
        td((1, None)),
        td((1, (2,))),
        td(None),
        td(()),
        td(1),
    ]
    for i, x in enumerate(distinct):
        for j, y in enumerate(distinct):
            assert (x == y) == (i == j), (x, y)
    assert len(set(distinct)) == len(distinct)
    assert td([1, 2]) != "PyTreeDef([*, *])"


def test_treedef_immutable() -> None:
    treedef = tree_structure((1, 2))
    with pytest.raises(AttributeError):
        treedef.num_leaves = 5  # type: ignore[misc]
    with pytest.raises(AttributeError):
        treedef._node = ()  # type: ignore[misc]
    assert treedef.num_leaves == 2


def test_unhashable_aux_message() -> None:
    treedef = tree_structure(Box([1], ["unhashable"]))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="aux data"):
        hash(treedef)


def test_treedef_is_leaf() -> None:
    assert treedef_is_leaf(tree_structure(1))
    assert treedef_is_leaf(tree_structure(np.ones(3)))
    # As in JAX: a single node without children also counts.
    assert treedef_is_leaf(tree_structure(None))
    assert treedef_is_leaf(tree_structure(()))
    assert not treedef_is_leaf(tree_structure((1,)))
    assert not treedef_is_leaf(tree_structure([None]))


def test_all_leaves() -> None:
    assert all_leaves([1, 2.0, np.ones(2), "s"])
    assert not all_leaves([1, (2,)])
    assert not all_leaves([None])
    assert not all_leaves([1, Point(1, 2)])
    assert all_leaves([1, (2,)], is_leaf=lambda x: isinstance(x, tuple))


def test_flatten_up_to_and_compose() -> None:
    outer = tree_structure((0, [0, 0]))
    subtrees = outer.flatten_up_to(({"a": 1}, [(2, 3), None]))
    assert subtrees == [{"a": 1}, (2, 3), None]
    with pytest.raises(ValueError, match=r"at \[1\]: expected list, got tuple"):
        outer.flatten_up_to((1, (2, 3)))
    inner = tree_structure({"a": 0, "b": 0})
    composed = outer.compose(inner)
    assert composed == tree_structure(({"a": 0, "b": 0}, [{"a": 0, "b": 0}] * 2))
    assert composed.num_leaves == 6


# --------------------------------------------------------------------------------------------
# tree_map / reduce / all
# --------------------------------------------------------------------------------------------


def test_tree_map_single_and_multiple() -> None:
    tree = {"a": (1, 2), "b": [3, None], "p": Point(4, 5)}
    assert tree_map(lambda x: x * 10, tree) == {
        "a": (10, 20),
        "b": [30, None],
        "p": Point(40, 50),
    }
    other = {"a": (100, 200), "b": [300, None], "p": Point(400, 500)}
    third = {"a": (0.5, 0.5), "b": [0.5, None], "p": Point(0.5, 0.5)}
    out = tree_map(lambda x, y, z: (x + y) * z, tree, other, third)
    assert out == {"a": (50.5, 101.0), "b": [151.5, None], "p": Point(202.0, 252.5)}
    assert type(out["p"]) is Point


def test_tree_map_is_leaf() -> None:
    tree = [(1, 2), (3, 4)]
    assert tree_map(sum, tree, is_leaf=lambda x: isinstance(x, tuple)) == [3, 7]


def test_tree_map_mismatch_message() -> None:
    with pytest.raises(ValueError) as info:
        tree_map(lambda x, y: x, (1, {"a": 2}), (1, {"b": 2}))
    msg = str(info.value)
    assert "PyTreeDef((*, {'a': *}))" in msg
    assert "PyTreeDef((*, {'b': *}))" in msg
    assert "[1]" in msg and "['a']" in msg and "['b']" in msg

    with pytest.raises(ValueError) as info:
        tree_map(lambda x, y: x, (1, 2), [1, 2])
    assert "PyTreeDef((*, *))" in str(info.value) and "PyTreeDef([*, *])" in str(info.value)

    with pytest.raises(ValueError, match=r"OtherPoint"):
        tree_map(lambda x, y: x, Point(1, 2), OtherPoint(1, 2))

    # A deeper tree in `rest` is a mismatch too (same structure is required).
    with pytest.raises(ValueError, match="same structure"):
        tree_map(lambda x, y: x, (1, 2), ((1, 2), 3))


def test_tree_reduce_and_all() -> None:
    tree = {"a": [1, 2], "b": (3, None, 4)}
    assert tree_reduce(lambda a, b: a + b, tree) == 10
    assert tree_reduce(lambda a, b: a * b, tree, 2) == 48
    assert tree_reduce(lambda acc, x: acc + [x], tree, initializer=[]) == [1, 2, 3, 4]
    assert tree_reduce(lambda a, b: a + b, (None, []), initializer=7) == 7
    with pytest.raises(TypeError, match="initializer"):
        tree_reduce(lambda a, b: a + b, (None, []))
    assert tree_all({"a": [True, 1], "b": (np.bool_(True),)})
    assert not tree_all({"a": [True, 0], "b": (True,)})
    assert tree_all((None, []))


# --------------------------------------------------------------------------------------------
# tree_transpose
# --------------------------------------------------------------------------------------------


def test_tree_transpose_list_of_pairs() -> None:
    tree = [(1, "a"), (2, "b"), (3, "c")]
    outer = tree_structure([0, 0, 0])
    inner = tree_structure((0, 0))
    assert tree_transpose(outer, inner, tree) == ([1, 2, 3], ["a", "b", "c"])
    # Inferred inner structure.
    assert tree_transpose(outer, None, tree) == ([1, 2, 3], ["a", "b", "c"])


def test_tree_transpose_nested_and_back() -> None:
    tree = {"x": {"m": 1, "v": 2}, "y": {"m": 3, "v": 4}}
    outer = tree_structure({"x": 0, "y": 0})
    inner = tree_structure({"m": 0, "v": 0})
    transposed = tree_transpose(outer, inner, tree)
    assert transposed == {"m": {"x": 1, "y": 3}, "v": {"x": 2, "y": 4}}
    assert tree_transpose(inner, outer, transposed) == tree


def test_tree_transpose_mismatch() -> None:
    outer = tree_structure([0, 0])
    inner = tree_structure((0, 0))
    with pytest.raises(ValueError) as info:
        tree_transpose(outer, inner, [(1, 2), (3, 4, 5)])
    assert "PyTreeDef([(*, *), (*, *)])" in str(info.value)
    assert "PyTreeDef([(*, *), (*, *, *)])" in str(info.value)


# --------------------------------------------------------------------------------------------
# Prefix broadcasting
# --------------------------------------------------------------------------------------------


def test_broadcast_prefix_leaf_prefix() -> None:
    full = (np.zeros(2), {"a": 1, "b": [2, 3]})
    assert tree_broadcast_prefix(0, full) == [0, 0, 0, 0]
    assert tree_broadcast_prefix(None, full) == [None] * 4


def test_broadcast_prefix_with_none_leaves() -> None:
    full = (np.zeros(2), {"a": 1, "b": [2, 3]}, 4)
    assert tree_broadcast_prefix((0, None, 1), full) == [0, None, None, None, 1]
    assert tree_broadcast_prefix((None, {"a": 0, "b": None}, 1), full) == [
        None,
        0,
        None,
        None,
        1,
    ]
    assert tree_broadcast_prefix((None, {"a": 0, "b": [1, None]}, 2), full) == [
        None,
        0,
        1,
        None,
        2,
    ]
    # None subtrees of the full tree have no leaves, so they contribute nothing.
    assert tree_broadcast_prefix((0, 1), (None, [5, 6])) == [1, 1]


def test_broadcast_prefix_mismatch() -> None:
    full = (1, {"a": 2, "b": 3})
    with pytest.raises(ValueError) as info:
        tree_broadcast_prefix((0, {"a": 0, "c": None}), full)
    msg = str(info.value)
    assert "PyTreeDef((*, {'a': *, 'c': *}))" in msg  # None is a leaf in the prefix
    assert "PyTreeDef((*, {'a': *, 'b': *}))" in msg
    assert "at [1]" in msg
    with pytest.raises(ValueError, match=r"tuple of length 3 vs 2"):
        tree_broadcast_prefix((0, 0, 0), full)
    with pytest.raises(ValueError, match=r"prefix has a list but the full tree has tuple"):
        tree_broadcast_prefix([0, 0], full)
    with pytest.raises(ValueError, match=r"at \[0\]: the prefix has a tuple but the full tree"):
        tree_broadcast_prefix(((0,), 0), full)


def test_broadcast_prefix_is_leaf_and_flatten_axes() -> None:
    full = [(1, 2), (3, 4)]
    assert tree_broadcast_prefix([(0, 1), None], full, is_leaf=lambda x: isinstance(x, tuple)) == [
        (0, 1),
        None,
    ]
    treedef = tree_structure({"x": (1, 2), "y": 3})
    assert flatten_axes("vmap in_axes", treedef, {"x": 1, "y": None}) == [1, 1, None]
    with pytest.raises(ValueError, match=r"^vmap in_axes specification") as info:
        flatten_axes("vmap in_axes", treedef, {"x": 1})
    assert "PyTreeDef({'x': (*, *), 'y': *})" in str(info.value)
    assert "PyTreeDef({'x': *})" in str(info.value)


# --------------------------------------------------------------------------------------------
# Registration
# --------------------------------------------------------------------------------------------


def test_double_registration_rejected() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_pytree_node(Pair, lambda p: ((), None), lambda aux, ch: Pair(0, 0))
    with pytest.raises(ValueError, match="already registered"):
        register_pytree_node(tuple, lambda p: ((), None), lambda aux, ch: ())


def test_registered_namedtuple_overrides_default() -> None:
    class Special(NamedTuple):
        a: Any
        b: Any

    register_pytree_node(Special, lambda s: ((s.b,), s.a), lambda aux, ch: Special(aux, ch[0]))
    leaves, treedef = tree_flatten(Special("static", 2))
    assert leaves == [2]
    assert tree_unflatten(treedef, [9]) == Special("static", 9)


def test_dataclass_static_fields() -> None:
    leaves, treedef = tree_flatten(Params(w=1, b=(2, 3), name="enc"))
    assert leaves == [1, 2, 3]
    rebuilt = tree_unflatten(treedef, ["w", "b0", "b1"])
    assert rebuilt == Params(w="w", b=("b0", "b1"), name="enc")
    assert tree_structure(Params(0, (0, 0), "enc")) == treedef
    assert tree_structure(Params(0, (0, 0), "dec")) != treedef


def test_dataclass_explicit_fields_and_init_false() -> None:
    leaves, treedef = tree_flatten(Explicit(data=[1, 2], size=4))
    assert leaves == [1, 2]
    rebuilt = tree_unflatten(treedef, [5, 6])
    assert rebuilt == Explicit(data=[5, 6], size=4)
    assert repr(treedef) == "PyTreeDef(CustomNode(Explicit[(4,)], [[*, *]]))"


def test_register_dataclass_decorator_with_arguments() -> None:
    @register_dataclass(data_fields=["a"], meta_fields=["n"])
    @dataclasses.dataclass
    class WithArgs:
        a: Any
        n: int

    leaves, treedef = tree_flatten(WithArgs(a=(1, 2), n=3))
    assert leaves == [1, 2]
    assert tree_unflatten(treedef, [7, 8]) == WithArgs(a=(7, 8), n=3)


def test_register_dataclass_validation() -> None:
    @dataclasses.dataclass
    class D1:
        a: Any
        b: Any

    with pytest.raises(ValueError, match=r"missing \['b'\]"):
        register_dataclass(D1, data_fields=["a"], meta_fields=[])

    @dataclasses.dataclass
    class D2:
        a: Any

    with pytest.raises(ValueError, match="both data and meta"):
        register_dataclass(D2, data_fields=["a"], meta_fields=["a"])

    class NotADataclass:
        pass

    with pytest.raises(TypeError, match="not a dataclass"):
        register_dataclass(NotADataclass)


def test_custom_node_children_are_pytrees() -> None:
    tree = Box([Point(1, 2), {"z": Pair(3, [4])}], "outer")
    leaves, treedef = tree_flatten(tree)
    assert leaves == [1, 2, 3, 4]
    assert tree_unflatten(treedef, leaves) == tree
    assert tree_map(lambda x: -x, tree) == Box([Point(-1, -2), {"z": Pair(-3, [-4])}], "outer")


# --------------------------------------------------------------------------------------------
# Property-based tests
# --------------------------------------------------------------------------------------------

_leaf = st.one_of(
    st.integers(-100, 100),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=3),
    st.booleans(),
)
_keys = st.text(alphabet="abcdef", min_size=1, max_size=3)


def _extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(_keys, children, max_size=4),
        st.tuples(children, children).map(lambda t: Point(*t)),
        st.lists(st.tuples(_keys, children), max_size=4).map(collections.OrderedDict),
        st.dictionaries(_keys, children, max_size=3).map(
            lambda d: collections.defaultdict(list, d)
        ),
        st.tuples(st.lists(children, max_size=3), _keys).map(lambda t: Box(*t)),
        st.tuples(children, children, _keys).map(lambda t: Params(*t)),
        st.tuples(children, children).map(lambda t: Pair(*t)),
    )


trees = st.recursive(st.one_of(_leaf, st.none()), _extend, max_leaves=20)


@settings(deadline=None, derandomize=True, max_examples=50)
@given(trees)
def test_property_round_trip(tree: Any) -> None:
    leaves, treedef = tree_flatten(tree)
    assert treedef.num_leaves == len(leaves)
    rebuilt = tree_unflatten(treedef, leaves)
    assert rebuilt == tree
    leaves2, treedef2 = tree_flatten(rebuilt)
    assert leaves2 == leaves
    assert treedef2 == treedef and hash(treedef2) == hash(treedef)
    assert tree_leaves(tree) == leaves


@settings(deadline=None, derandomize=True, max_examples=50)
@given(trees)
def test_property_map_and_broadcast(tree: Any) -> None:
    leaves, treedef = tree_flatten(tree)
    tagged = tree_unflatten(treedef, list(range(len(leaves))))
    assert tree_leaves(tagged) == list(range(len(leaves)))
    assert tree_structure(tagged) == treedef
    # Mapping over two trees of the same structure pairs leaves positionally.
    calls: list[tuple[Any, int]] = []
    mapped = tree_map(lambda a, b: calls.append((a, b)) or b, tree, tagged)
    assert calls == list(zip(leaves, range(len(leaves))))
    assert mapped == tagged
    # A leaf prefix broadcasts to every leaf; the tree itself (as prefix) maps to its leaves.
    assert tree_broadcast_prefix(1, tree) == [1] * len(leaves)
    assert tree_broadcast_prefix(tagged, tree) == list(range(len(leaves)))
    # Children partition the leaves and the nodes.
    children = treedef.children()
    if children:
        assert sum(c.num_leaves for c in children) == treedef.num_leaves
        assert 1 + sum(c.num_nodes for c in children) == treedef.num_nodes
    else:
        assert treedef.num_nodes == 1


# --- paths (tree_flatten_with_path, tree_map_with_path, keystr) ---------------------------------


def test_leaves_with_path_name_every_container_kind():
    from functrace import tree_util as tu

    pair = collections.namedtuple("Pair", "w b")

    @tu.register_dataclass
    @dataclasses.dataclass
    class Box:
        x: float
        y: float

    tree = {"a": [1, (2, pair(3, 4))], "b": None, "c": Box(5, 6),
            "d": collections.OrderedDict([("z", 7), ("y", 8)])}
    got = [(tu.keystr(p), v) for p, v in tu.tree_leaves_with_path(tree)]
    assert got == [("['a'][0]", 1), ("['a'][1][0]", 2), ("['a'][1][1].w", 3),
                   ("['a'][1][1].b", 4), ("['c'].x", 5), ("['c'].y", 6), ("['d']['z']", 7),
                   ("['d']['y']", 8)]
    path = tu.tree_leaves_with_path(tree)[2][0]
    assert path == (tu.DictKey("a"), tu.SequenceKey(1), tu.SequenceKey(1), tu.GetAttrKey("w"))
    pairs, treedef = tu.tree_flatten_with_path(tree)
    assert treedef == tu.tree_structure(tree) and [v for _, v in pairs] == tu.tree_leaves(tree)


def test_tree_map_with_path_for_weight_decay_masks():
    from functrace import tree_util as tu

    params = {"dense": {"w": 2.0, "b": 1.0}, "out": {"w": 4.0, "b": 3.0}}
    decayed = tu.tree_map_with_path(
        lambda path, p: p * 0.5 if path[-1] == tu.DictKey("w") else p, params)
    assert decayed == {"dense": {"w": 1.0, "b": 1.0}, "out": {"w": 2.0, "b": 3.0}}
    summed = tu.tree_map_with_path(lambda path, a, b: (tu.keystr(path), a + b),
                                   {"a": 1, "b": [2]}, {"a": 10, "b": [20]})
    assert summed == {"a": ("['a']", 11), "b": [("['b'][0]", 22)]}
