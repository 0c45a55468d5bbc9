"""Fusion: which equations share a loop nest, which values live in memory, and in what order
the loop nests and kernels run (steps 2-4 of ``codegen``'s pipeline, as a mixin of its
``Generator``).

Elementwise equations join the group (one loop nest over one iteration shape) of an operand's
producer when that creates no cycle; reductions join the group computing their operand. Views
never allocate: consumers read through them. A value is stored only when something outside its
group reads it, so nothing is recomputed.
"""

from __future__ import annotations

import heapq
from collections import defaultdict

from ..core import Eqn, Var
from . import kernels, rules
from .codegen_base import CodegenError

# The most equations one fused loop takes: LLVM's optimisation of one loop body grows faster
# than linearly with its size (a chain of 300 elementwise operations in one loop took 20 s),
# while a loop boundary costs one store and one load per element.
MAX_GROUP_EQNS = 48


class Group:
    """A fused loop nest over ``shape``: elementwise/reduce members, plus views copied out."""

    __slots__ = ("id", "shape", "members", "copies", "first")

    def __init__(self, gid: int, shape: tuple, first: int):
        self.id = gid
        self.shape = shape
        self.members: list[int] = []
        self.copies: list[Var] = []
        self.first = first


class Node:
    __slots__ = ("group", "eqn", "key", "inputs", "defs", "direct_reads")

    def __init__(self, group: Group | None, eqn: int | None, key: int):
        self.group = group
        self.eqn = eqn
        self.key = key
        self.inputs: list[Var] = []
        self.defs: list[Var] = []
        self.direct_reads: dict[Var, None] = {}  # ordered: the generated source is deterministic


class Fusion:
    """The analysis, fusion, materialisation and scheduling passes of ``codegen.Generator``
    (which provides ``eqns``, ``jaxpr`` and the ``kernel_for`` table)."""

    # -- analysis ------------------------------------------------------------------------------

    def analyze(self) -> None:
        eqns = self.eqns
        self.producer: dict[Var, int] = {}
        self.consumers: dict[Var, list[int]] = defaultdict(list)
        for i, e in enumerate(eqns):
            for v in e.outvars:
                self.producer[v] = i
            for a in e.invars:
                if isinstance(a, Var):
                    self.consumers[a].append(i)
        self.outset = {v for v in self.jaxpr.outvars if isinstance(v, Var)}
        self.kind = [self.classify(e) for e in eqns]

    def classify(self, e: Eqn) -> str:
        p = e.primitive
        if p in rules.subjaxpr_lowerings:
            return "kernel"
        if not p.multiple_results:
            if kernels.view_lowering(e) is not None:
                return "view"
            out = e.outvars[0].aval
            if kernels.is_elementwise(p) and all(
                    a.aval.shape in (out.shape, ()) for a in e.invars):
                if kernels.elementwise_expr(e, ["_"] * len(e.invars)) is not None:
                    return "elementwise"
            if kernels.reducer_for(e) is not None and len(e.invars) == 1:
                axes = kernels.reduce_axes(e)
                if not kernels.reducer_for(e).arg or len(axes) == 1:
                    return "reduce"
        from .codegen import kernel_for  # the kernel table lives with the code generator
        if kernel_for(e) is not None:
            return "kernel"
        return "fallback"

    # -- fusion --------------------------------------------------------------------------------

    def iter_shape(self, i: int) -> tuple:
        e = self.eqns[i]
        return e.invars[0].aval.shape if self.kind[i] == "reduce" else e.outvars[0].aval.shape

    def is_register(self, a, G: Group) -> bool:
        """``a`` is computed by an elementwise member of ``G`` (a value held in a register)."""
        if not isinstance(a, Var):
            return False
        i = self.producer.get(a)
        return (i is not None and self.kind[i] == "elementwise"
                and self.group_of.get(i) is G and a.aval.shape == G.shape)

    def depends_on(self, a, G: Group) -> bool:
        """Whether value ``a`` is computed from anything ``G`` computes (through any path)."""
        stack, seen, seen_groups = [a], set(), set()
        while stack:
            w = stack.pop()
            if not isinstance(w, Var) or w in seen:
                continue
            seen.add(w)
            i = self.producer.get(w)
            if i is None or i < G.first:  # a program order is a topological order
                continue
            H = self.group_of.get(i)
            if H is G:
                return True
            if H is not None:
                if H.id not in seen_groups:
                    seen_groups.add(H.id)
                    for m in H.members:
                        stack.extend(self.eqns[m].invars)
            else:
                stack.extend(self.eqns[i].invars)
        return False

    def fuse(self) -> None:
        self.group_of: dict[int, Group] = {}
        self.groups: list[Group] = []
        for i, e in enumerate(self.eqns):
            k = self.kind[i]
            if k not in ("elementwise", "reduce"):
                continue
            S = self.iter_shape(i)
            reads = e.invars if k == "elementwise" else e.invars[:1]
            cands: list[Group] = []
            for a in reads:
                if not isinstance(a, Var) or a.aval.shape != S:
                    continue
                j = self.producer.get(a)
                if j is None or self.kind[j] != "elementwise":
                    continue
                G = self.group_of[j]
                if G.shape == S and G not in cands and len(G.members) < MAX_GROUP_EQNS:
                    cands.append(G)
            cands.sort(key=lambda G: -len(G.members))
            chosen = None
            for G in cands:
                if all(self.is_register(a, G) or not self.depends_on(a, G)
                       for a in e.invars if isinstance(a, Var)):
                    chosen = G
                    break
            if chosen is None:
                chosen = Group(len(self.groups), S, i)
                self.groups.append(chosen)
            chosen.members.append(i)
            self.group_of[i] = chosen
            # the other operand groups of the same shape join too when no path links them
            # through an outside node: ``sin(x) * y + exp(x)`` is one loop, not two
            for H in cands:
                if H is not chosen and H.members and \
                        len(chosen.members) + len(H.members) <= MAX_GROUP_EQNS and \
                        self.can_merge(chosen, H):
                    self.merge(chosen, H)
        self.groups = [G for G in self.groups if G.members]
        for k, G in enumerate(self.groups):
            G.id = k

    def external_inputs(self, G: Group):
        for m in G.members:
            for a in self.eqns[m].invars:
                if isinstance(a, Var) and not self.is_register(a, G):
                    yield a

    def can_merge(self, G: Group, H: Group) -> bool:
        return (not any(self.depends_on(a, H) for a in self.external_inputs(G)
                        if not self.is_register(a, H))
                and not any(self.depends_on(a, G) for a in self.external_inputs(H)
                            if not self.is_register(a, G)))

    def merge(self, G: Group, H: Group) -> None:
        for m in H.members:
            self.group_of[m] = G
        G.members = sorted(G.members + H.members)
        G.first = min(G.first, H.first)
        H.members = []

    # -- materialisation -----------------------------------------------------------------------

    def materialise(self) -> None:
        """Decide which values live in memory: ``mat[v]`` is "array", "scalar" or absent."""
        self.mat: dict[Var, str] = {}
        for v in self.jaxpr.invars:
            self.mat[v] = "array" if v.aval.ndim else "scalar"
        storage_kinds = ("kernel", "fallback")
        for i, e in enumerate(self.eqns):
            k = self.kind[i]
            for v in e.outvars:
                cons = self.consumers.get(v, [])
                if k == "view":
                    need = v in self.outset or any(self.kind[c] in storage_kinds for c in cons)
                elif k == "elementwise":
                    G = self.group_of[i]
                    need = v in self.outset or any(
                        self.group_of.get(c) is not G or self.kind[c] == "view" for c in cons)
                else:
                    need = True
                if need:
                    self.mat[v] = "array" if v.aval.ndim else "scalar"
        # views that must exist in memory get a copy loop of their own
        for i, e in enumerate(self.eqns):
            if self.kind[i] == "view" and e.outvars[0] in self.mat:
                G = Group(len(self.groups), e.outvars[0].aval.shape, i)
                G.copies.append(e.outvars[0])
                self.groups.append(G)

    def resolve(self, a, out: list, seen: set) -> None:
        """The stored values that reading ``a`` touches (through views)."""
        if not isinstance(a, Var) or a in seen:
            return
        seen.add(a)
        if a in self.mat:
            out.append(a)
            return
        e = self.eqns[self.producer[a]]
        for b in e.invars:
            self.resolve(b, out, seen)

    # -- scheduling ----------------------------------------------------------------------------

    def _group_node(self, G: Group) -> Node:
        """The node of a fused loop nest: the stored values it reads and defines."""
        n = Node(G, None, G.first)
        ins: list[Var] = []
        seen: set = set()
        through_views: list[Var] = []  # read at other indices: never overwritten in place
        for m in G.members:
            e = self.eqns[m]
            for a in e.invars:
                if self.is_register(a, G):
                    continue
                if isinstance(a, Var) and a in self.mat and a.aval.shape == G.shape \
                        and a.aval.ndim:
                    n.direct_reads[a] = None
                elif isinstance(a, Var) and a not in self.mat:
                    self.resolve(a, through_views, set())
                self.resolve(a, ins, seen)
            for v in e.outvars:
                if v in self.mat:
                    n.defs.append(v)
        for v in G.copies:
            for b in self.eqns[self.producer[v]].invars:
                self.resolve(b, ins, seen)
            n.defs.append(v)
        for u in through_views:
            n.direct_reads.pop(u, None)
        n.inputs = ins
        return n

    def build_nodes(self) -> list[Node]:
        """The loop nests and kernels in a topological order close to the program's."""
        nodes = [self._group_node(G) for G in self.groups]
        for i, e in enumerate(self.eqns):
            if self.kind[i] in ("kernel", "fallback"):
                n = Node(None, i, i)
                ins, seen = [], set()
                for a in e.invars:
                    self.resolve(a, ins, seen)
                n.inputs = ins
                n.defs = list(e.outvars)
                nodes.append(n)
        return _schedule(nodes)


def _schedule(nodes: list[Node]) -> list[Node]:
    """Kahn's algorithm, preferring program order (a node's ``key``)."""
    node_of = {v: n for n in nodes for v in n.defs}
    deps = {id(n): {id(node_of[u]) for u in n.inputs if u in node_of} for n in nodes}
    users: dict[int, list[Node]] = defaultdict(list)
    for n in nodes:
        for d in deps[id(n)]:
            users[d].append(n)
    indeg = {id(n): len(deps[id(n)]) for n in nodes}
    heap = [(n.key, k, n) for k, n in enumerate(nodes) if indeg[id(n)] == 0]
    heapq.heapify(heap)
    order: list[Node] = []
    counter = len(nodes)
    while heap:
        _, _, n = heapq.heappop(heap)
        order.append(n)
        for u in users[id(n)]:
            indeg[id(u)] -= 1
            if indeg[id(u)] == 0:
                counter += 1
                heapq.heappush(heap, (u.key, counter, u))
    if len(order) != len(nodes):
        raise CodegenError("fusion produced a cyclic schedule")
    return order
