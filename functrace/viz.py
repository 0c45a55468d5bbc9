"""Pictures of traced programs: Graphviz DOT text (``to_dot``) and rendered files (``draw``).

A program is drawn as a data-flow graph: one node per input, constant, equation and output, an
edge wherever a value flows. Equation nodes show the primitive, its parameters briefly and the
type of what it produces (``tanh`` / ``f32[128,512]``). Sub-programs held by an equation (the body
of a checkpoint, a custom derivative rule, control flow) are drawn as clusters.

``backward=True`` draws what reverse mode actually runs: the forward pass and the backward pass
side by side, with the *residuals* (values the forward pass stores for the backward pass) as red
nodes between them, and the equations of the backward pass that only read residuals (work that is
recomputed from stored values, e.g. inside ``checkpoint``) shaded orange.

Nodes and edges carry a Graphviz ``class`` attribute (``input``, ``const``, ``eqn``, ``fused``,
``call``, ``output``, ``residual``, ``recompute``; edges ``data``, ``residual``, ``subprogram``)
so that the SVG can be styled and the text inspected by tools.
"""

from __future__ import annotations

import inspect
import itertools
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from . import ad, core
from .core import ClosedJaxpr, Eqn, Jaxpr, Literal, Var

__all__ = ["to_dot", "draw"]

_MAX_PARAM_CHARS = 40
_MAX_PARAM_LINES = 4
_FUSED_NAMES_PER_LINE = 4
_MAX_FUSED_LINES = 4

_STYLE = {
    "input": dict(shape="ellipse", style="filled", fillcolor="#dbe9f6"),
    "const": dict(shape="box", style="filled,dashed", fillcolor="#eeeeee"),
    "eqn": dict(shape="box", style="rounded,filled", fillcolor="#f7f7f7"),
    "fused": dict(shape="box", style="rounded,filled", fillcolor="#fff3cd"),
    "call": dict(shape="box", style="rounded,filled,bold", fillcolor="#e8e0f5"),
    "recompute": dict(shape="box", style="rounded,filled", fillcolor="#ffd8a8"),
    "output": dict(shape="ellipse", style="filled", fillcolor="#d9f2d9"),
    "residual": dict(shape="box", style="filled,bold", color="red", fontcolor="red",
                     fillcolor="#fde0e0", penwidth="2"),
}
_EDGE_STYLE = {
    "data": {},
    "residual": dict(color="red", penwidth="2.5", style="bold"),
    "subprogram": dict(style="dashed", color="#999999"),
}

# What an equation's operand is drawn from: a node id, or a literal written into the label.
_Source = str | Literal


# ---------------------------------------------------------------------------------------------
# Building DOT text
# ---------------------------------------------------------------------------------------------


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(attrs: dict) -> str:
    return ", ".join(f"{k}={_quote(str(v))}" for k, v in attrs.items())


class _Graph:
    """Accumulates nodes (inside nested clusters) and edges, then renders DOT text."""

    def __init__(self):
        self._ids = itertools.count()
        self._cluster_ids = itertools.count()
        self._stack: list[list[str]] = [[]]
        self._edges: dict[tuple[str, str], str] = {}  # (src, dst) -> edge class
        self._residuals: set[str] = set()  # every edge out of these is a residual edge

    def node(self, label: str, kind: str, tooltip: str | None = None) -> str:
        nid = f"n{next(self._ids)}"
        attrs = dict(label=label, **_STYLE[kind])
        attrs["class"] = kind
        if tooltip:
            attrs["tooltip"] = tooltip
        self._stack[-1].append(f"{nid} [{_attrs(attrs)}];")
        if kind == "residual":
            self._residuals.add(nid)
        return nid

    def edge(self, src: _Source, dst: str, kind: str = "data") -> None:
        if isinstance(src, Literal):
            return
        if src in self._residuals:
            kind = "residual"
        # one edge per (producer, consumer); a residual edge wins over a plain one
        if self._edges.get((src, dst)) != "residual":
            self._edges[(src, dst)] = kind

    def open_cluster(self, label: str, **attrs) -> None:
        cid = next(self._cluster_ids)
        style = dict(label=label, style="rounded", color="#888888", fontsize="11")
        style.update(attrs)
        self._stack.append([f"subgraph cluster_{cid} {{",
                            *(f"{k}={_quote(str(v))};" for k, v in style.items())])

    def close_cluster(self) -> None:
        header, *body = self._stack.pop()
        self._stack[-1].extend([header, *(f"  {line}" for line in body), "}"])

    def render(self, name: str, title: str) -> str:
        assert len(self._stack) == 1, "unbalanced clusters"
        graph_attrs = dict(label=title, labelloc="t", fontname="Helvetica", fontsize="13",
                           rankdir="TB", newrank="true")
        out = [
            f"digraph {_quote(name)} {{",
            f"  graph [{_attrs(graph_attrs)}];",
            f"  node [{_attrs(dict(fontname='Helvetica', fontsize='10'))}];",
            f"  edge [{_attrs(dict(color='#555555', arrowsize='0.6'))}];",
        ]
        out += [f"  {line}" for line in self._stack[0]]
        for (src, dst), kind in self._edges.items():
            attrs = dict(_EDGE_STYLE[kind])
            attrs["class"] = kind
            out.append(f"  {src} -> {dst} [{_attrs(attrs)}];")
        out.append("}")
        return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# Labels
# ---------------------------------------------------------------------------------------------


def _type_str(avals: Sequence[core.ShapedArray]) -> str:
    shown = ", ".join(a.str_short() for a in avals[:3])
    return shown + (", …" if len(avals) > 3 else "")


def _literal_str(lit: Literal) -> str:
    val = lit.val
    if np.issubdtype(val.dtype, np.floating):
        s = repr(float(val))
        return s if len(s) <= 8 else f"{float(val):.4g}"
    return str(val.item())


def _fmt_value(v: Any) -> str | None:
    """A short text for a parameter value, or None to leave it out."""
    if isinstance(v, (Jaxpr, ClosedJaxpr)):
        return None
    if isinstance(v, np.dtype):
        return v.name
    if isinstance(v, core.ShapedArray):
        return v.str_short()
    if isinstance(v, tuple) and v and all(isinstance(w, core.ShapedArray) for w in v):
        return "(" + ", ".join(w.str_short() for w in v) + ")"
    if callable(v):
        # module-level functions (e.g. checkpoint policies) have telling names; closures do not
        qual = getattr(v, "__qualname__", "")
        return None if not qual or "<" in qual else getattr(v, "__name__", None)
    if isinstance(v, tuple) and any(isinstance(w, (Jaxpr, ClosedJaxpr)) for w in v):
        return None
    s = repr(v)
    return s if len(s) <= _MAX_PARAM_CHARS else s[:_MAX_PARAM_CHARS - 1] + "…"


def _param_lines(params: dict) -> list[str]:
    lines = []
    for k, v in sorted(params.items()):
        s = None if v is None else _fmt_value(v)
        if s is not None:
            lines.append(f"{k}={s}")
    if len(lines) > _MAX_PARAM_LINES:
        lines = lines[:_MAX_PARAM_LINES - 1] + [f"… {len(lines) - _MAX_PARAM_LINES + 1} more"]
    return lines


def _op_str(eqn: Eqn, read: Callable[[Any], _Source]) -> str:
    """``name``, or ``name(·, 2.0)`` when some operands are constants written in the label."""
    srcs = [read(a) for a in eqn.invars]
    if not any(isinstance(s, Literal) for s in srcs):
        return eqn.primitive.name
    args = ", ".join(_literal_str(s) if isinstance(s, Literal) else "·" for s in srcs)
    return f"{eqn.primitive.name}({args})"


def _eqn_label(eqn: Eqn, read) -> str:
    return "\n".join([_op_str(eqn, read), *_param_lines(eqn.params),
                      _type_str([v.aval for v in eqn.outvars])])


def _fused_label(eqns: list[Eqn], read) -> str:
    names = [_op_str(e, read) for e in eqns]
    rows = [", ".join(names[i:i + _FUSED_NAMES_PER_LINE])
            for i in range(0, len(names), _FUSED_NAMES_PER_LINE)]
    if len(rows) > _MAX_FUSED_LINES:
        rows = rows[:_MAX_FUSED_LINES - 1] + ["…", rows[-1]]
    return "\n".join([f"elementwise ×{len(eqns)}", *rows,
                      _type_str([v.aval for v in eqns[-1].outvars])])


def _splat(eqn: Eqn) -> Literal | None:
    """A scalar literal broadcast to an array (how ``x * 2.0`` spells its ``2.0``): drawn as
    the literal in its readers' labels rather than as a node of its own."""
    if (eqn.primitive.name == "broadcast_in_dim" and len(eqn.invars) == 1
            and isinstance(eqn.invars[0], Literal)):
        return Literal(eqn.invars[0].val, eqn.outvars[0].aval)
    return None


def _tooltip(eqn: Eqn, show_source: bool = True) -> str:
    """The equation with its parameters in full, and the user's line that made it."""
    params = " ".join(f"{k}={v.name if isinstance(v, np.dtype) else v!r}"
                      for k, v in sorted(eqn.params.items())
                      if not isinstance(v, (Jaxpr, ClosedJaxpr)) and not callable(v))
    text = f"{eqn.primitive.name}[{params}]" if params else eqn.primitive.name
    if len(text) > 300:
        text = text[:299] + "…"
    text += " -> " + ", ".join(v.aval.str_short() for v in eqn.outvars)
    return f"{text}\n{eqn.source_info}" if show_source and eqn.source_info else text


# ---------------------------------------------------------------------------------------------
# Elementwise fusion groups (collapse_elementwise=True)
# ---------------------------------------------------------------------------------------------


def _elementwise_primitives() -> set:
    from .backend.rules import scalar_lowerings
    from .ops import elementwise
    prims = {v for v in vars(elementwise).values() if isinstance(v, core.Primitive)}
    prims.update(scalar_lowerings)
    return {p for p in prims if not p.multiple_results}


def _fusion_groups(jaxpr: Jaxpr) -> dict[int, int]:
    """Map each equation index to the index of the last equation of its elementwise chain.

    An elementwise equation joins its consumer's group when that consumer is elementwise and is
    the only reader of its result (the result is not an output of the program either). Merging a
    producer into its only consumer cannot create a cycle, so each group is one node.
    """
    elementwise = _elementwise_primitives()
    readers: dict[Var, list[int]] = {}
    for i, eqn in enumerate(jaxpr.eqns):
        for a in dict.fromkeys(a for a in eqn.invars if isinstance(a, Var)):
            readers.setdefault(a, []).append(i)
    program_outs = {v for v in jaxpr.outvars if isinstance(v, Var)}
    root = list(range(len(jaxpr.eqns)))

    def find(i: int) -> int:
        while root[i] != i:
            root[i] = root[root[i]]
            i = root[i]
        return i

    for i, eqn in enumerate(jaxpr.eqns):
        if eqn.primitive not in elementwise or any(core.subjaxprs(eqn.params)):
            continue
        out = eqn.outvars[0]
        users = readers.get(out, [])
        if out in program_outs or len(users) != 1:
            continue
        j = users[0]
        if jaxpr.eqns[j].primitive in elementwise:
            root[find(i)] = find(j)  # j > i, so the root stays the group's last equation
    return {i: find(i) for i in range(len(jaxpr.eqns))}


# ---------------------------------------------------------------------------------------------
# Drawing jaxprs
# ---------------------------------------------------------------------------------------------


def _named_subjaxprs(params: dict) -> Iterator[tuple[str, Jaxpr | ClosedJaxpr]]:
    """Like ``core.subjaxprs`` but with the name of the parameter holding each sub-program."""
    for k, v in sorted(params.items()):
        if isinstance(v, (Jaxpr, ClosedJaxpr)):
            yield k, v
        elif isinstance(v, tuple):
            subs = [w for w in v if isinstance(w, (Jaxpr, ClosedJaxpr))]
            for n, w in enumerate(subs):
                yield (f"{k}[{n}]" if len(subs) > 1 else k), w


def _split_closed(j: Jaxpr | ClosedJaxpr) -> tuple[Jaxpr, list]:
    return (j.jaxpr, list(j.consts)) if isinstance(j, ClosedJaxpr) else (j, [None] * len(
        j.constvars))


def _const_label(aval: core.ShapedArray, value: Any) -> str:
    label = f"const\n{aval.str_short()}"
    if isinstance(value, (np.ndarray, np.generic)) and np.size(value) <= 4:
        label += "\n" + np.array2string(np.asarray(value), precision=4, separator=",")
    return label


class _Drawer:
    """Draws jaxprs into a ``_Graph``.

    In the backward pass (``recompute_from`` given: the residual variables) an equation whose
    operands all derive from residuals alone (not from the cotangents) is shaded as recomputed
    work; equations of constants only neither count nor block.
    """

    def __init__(self, graph: _Graph, collapse: bool, recompute_from: set[Var] | None = None,
                 show_source: bool = True):
        self.g = graph
        self.collapse = collapse
        self.recompute_from = recompute_from
        self.show_source = show_source

    def consts(self, jaxpr: Jaxpr, values: list, env: dict[Var, _Source]) -> None:
        for v, val in zip(jaxpr.constvars, values):
            env[v] = self.g.node(_const_label(v.aval, val), "const")
            if self.recompute_from is not None:
                self.recompute_from.add(v)

    def jaxpr(self, jaxpr: Jaxpr, env: dict[Var, _Source]) -> list[_Source]:
        """Draw the equations of ``jaxpr`` (its inputs must be in ``env``); return the sources
        of its outputs."""
        env = dict(env)
        groups = _fusion_groups(jaxpr) if self.collapse else {}
        members: dict[int, list[int]] = {}
        for i, r in groups.items():
            members.setdefault(r, []).append(i)

        def read(a) -> _Source:
            return a if isinstance(a, Literal) else env[a]

        for i, eqn in enumerate(jaxpr.eqns):
            splat = _splat(eqn)
            if splat is not None:
                env[eqn.outvars[0]] = splat
                if self.recompute_from is not None:
                    self.recompute_from.add(eqn.outvars[0])
                continue
            group = members.get(groups.get(i, i), [i])
            if len(group) > 1:
                if i == group[-1]:
                    self._fused([jaxpr.eqns[k] for k in group], read, env)
                continue
            self._eqn(eqn, read, env)
        return [read(v) for v in jaxpr.outvars]

    def _classify(self, eqns: list[Eqn], default: str) -> str:
        """``recompute`` when the equations only read residual-derived values (tracked)."""
        if self.recompute_from is None:
            return default
        inside = {v for e in eqns for v in e.outvars}
        ext = [a for e in eqns for a in e.invars if isinstance(a, Var) and a not in inside]
        if all(a in self.recompute_from for a in ext):
            self.recompute_from.update(inside)
            return "recompute" if ext else default
        return default

    def _tooltip(self, eqn: Eqn) -> str:
        return _tooltip(eqn, self.show_source)

    def _fused(self, eqns: list[Eqn], read, env) -> None:
        inside = {v for e in eqns for v in e.outvars}
        ext = [a for e in eqns for a in e.invars if isinstance(a, Var) and a not in inside]
        inner_read = lambda a: "" if isinstance(a, Var) and a in inside else read(a)
        nid = self.g.node(_fused_label(eqns, inner_read), self._classify(eqns, "fused"),
                          self._tooltip(eqns[-1]))
        for a in ext:
            self.g.edge(read(a), nid)
        env[eqns[-1].outvars[0]] = nid

    def _eqn(self, eqn: Eqn, read, env) -> None:
        subs = list(_named_subjaxprs(eqn.params))
        if len(subs) == 1 and _is_call_like(eqn, subs[0][1]):
            self._inline_call(eqn, subs[0][1], read, env)
            return
        kind = self._classify([eqn], "call" if subs else "eqn")
        nid = self.g.node(_eqn_label(eqn, read), kind, self._tooltip(eqn))
        for a in eqn.invars:
            self.g.edge(read(a), nid)
        for v in eqn.outvars:
            env[v] = nid
        for name, sub in subs:
            self._detached(f"{eqn.primitive.name}: {name}", sub, nid)

    def _inline_call(self, eqn: Eqn, sub: Jaxpr | ClosedJaxpr, read, env) -> None:
        """A call-like equation: its sub-program is drawn in place, wired to the operands."""
        inner, consts = _split_closed(sub)
        title = "\n".join([eqn.primitive.name, *_param_lines(eqn.params)])
        self.g.open_cluster(title, style="rounded,dashed", color="#7b5ea7")
        inner_env: dict[Var, _Source] = {}
        self.consts(inner, consts, inner_env)
        inner_env.update(zip(inner.invars, [read(a) for a in eqn.invars]))
        if self.recompute_from is not None:
            for iv, a in zip(inner.invars, eqn.invars):
                if isinstance(a, Var) and a in self.recompute_from:
                    self.recompute_from.add(iv)
        outs = self.jaxpr(inner, inner_env)
        self.g.close_cluster()
        if self.recompute_from is not None:
            for v, o in zip(eqn.outvars, inner.outvars):
                if isinstance(o, Var) and o in self.recompute_from:
                    self.recompute_from.add(v)
        for v, src in zip(eqn.outvars, outs):
            if isinstance(src, Literal):  # keep every outer variable backed by a node
                src = self.g.node(f"{_literal_str(src)}\n{v.aval.str_short()}", "const")
            env[v] = src

    def _detached(self, title: str, sub: Jaxpr | ClosedJaxpr, owner: str) -> None:
        """A sub-program with its own inputs (loop bodies, branches), tied to its equation."""
        inner, consts = _split_closed(sub)
        self.g.open_cluster(title, style="rounded,dashed")
        env: dict[Var, _Source] = {}
        self.consts(inner, consts, env)
        for k, v in enumerate(inner.invars):
            env[v] = self.g.node(f"in{k}\n{v.aval.str_short()}", "input")
        saved, self.recompute_from = self.recompute_from, None
        outs = self.jaxpr(inner, env)
        self.recompute_from = saved
        for k, (v, src) in enumerate(zip(inner.outvars, outs)):
            out = self.g.node(f"out{k}\n{v.aval.str_short()}", "output")
            self.g.edge(src, out)
            self.g.edge(out, owner, "subprogram")
        self.g.close_cluster()


# Primitives that call their one sub-program once on their operands (besides those registered in
# ``simplify.inlinable_primitives``); loops and branches are not among them even when their body
# happens to have the equation's type.
_CALL_PRIMITIVE_NAMES = frozenset({"jit_call", "pjit", "closed_call", "core_call", "checkpoint",
                                   "remat", "custom_jvp_call", "custom_vjp_call"})


def _is_call_like(eqn: Eqn, sub: Jaxpr | ClosedJaxpr) -> bool:
    """Is ``eqn`` a call of ``sub`` on exactly its operands, producing exactly its results?"""
    from .simplify import inlinable_primitives
    if eqn.primitive not in inlinable_primitives and (
            eqn.primitive.name not in _CALL_PRIMITIVE_NAMES):
        return False
    inner = sub.jaxpr if isinstance(sub, ClosedJaxpr) else sub
    return ([a.aval for a in eqn.invars] == inner.in_avals
            and [v.aval for v in eqn.outvars] == [v.aval for v in inner.outvars])


# ---------------------------------------------------------------------------------------------
# Input names
# ---------------------------------------------------------------------------------------------


def _leaf_names(name: str, tree: Any) -> list[str]:
    """``name`` for a single array, ``name['w']`` / ``name[0]`` / ``name.field`` for leaves of
    dicts, lists and named tuples; plain indices when the structure is anything else."""
    from .tree_util import tree_leaves

    def walk(prefix: str, x: Any) -> list[str]:
        if isinstance(x, dict):
            keys = sorted(x, key=repr) if not all(isinstance(k, str) for k in x) else sorted(x)
            return [n for k in keys for n in walk(f"{prefix}[{k!r}]", x[k])]
        if isinstance(x, tuple) and hasattr(x, "_fields"):
            return [n for f in x._fields for n in walk(f"{prefix}.{f}", getattr(x, f))]
        if isinstance(x, (list, tuple)):
            return [n for k, e in enumerate(x) for n in walk(f"{prefix}[{k}]", e)]
        if x is None:
            return []
        return [prefix]

    leaves = tree_leaves(tree)
    names = walk(name, tree)
    if len(names) != len(leaves) or (len(leaves) > 1 and len(set(names)) != len(names)):
        names = [f"{name}[{k}]" for k in range(len(leaves))]
    return names


def _input_names(fun: Callable, args: Sequence[Any]) -> list[str]:
    """A name per flattened argument, from ``fun``'s signature where it has one."""
    try:
        params = list(inspect.signature(fun).parameters.values())
    except (TypeError, ValueError):
        params = []
    positional = [p.name for p in params
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    star = next((p.name for p in params if p.kind == p.VAR_POSITIONAL), None)
    names = []
    for i, a in enumerate(args):
        if i < len(positional):
            base = positional[i]
        elif star is not None:
            base = f"{star}[{i - len(positional)}]"
        else:
            base = f"arg{i}"
        names.extend(_leaf_names(base, a))
    return names


def _title(fun: Callable) -> str:
    return getattr(fun, "__name__", None) or type(fun).__name__


# ---------------------------------------------------------------------------------------------
# Forward and backward programs
# ---------------------------------------------------------------------------------------------


class _Split:
    """The two programs reverse mode runs, and how they connect.

    ``forward``: inputs -> (primal outputs, residuals); ``backward``: (residuals, cotangents of
    the differentiable outputs) -> cotangents of the differentiable inputs.
    """

    def __init__(self, forward: ClosedJaxpr, n_out: int, backward: ClosedJaxpr, n_res: int,
                 out_diff: list[bool], in_diff: list[bool]):
        self.forward, self.n_out = forward, n_out
        self.backward, self.n_res = backward, n_res
        self.out_diff, self.in_diff = out_diff, in_diff


def _split_forward_backward(fun: Callable, args: Sequence[Any]) -> _Split:
    from . import dtypes
    from .autodiff import LinearFunction, _split_args, linearize_flat
    from .simplify import simplify
    from .tracing import trace_to_jaxpr

    flat, _, flat_fun, _ = _split_args(fun, tuple(args), tuple(range(len(args))))
    diff = [dtypes.is_inexact(core.get_aval(x).dtype) for x in flat]
    box: list = []

    def forward(*xs):
        outs, lin = linearize_flat(flat_fun, list(xs), diff)
        box.append((len(outs), lin))
        return list(outs) + list(lin.residuals)

    fwd = simplify(trace_to_jaxpr(forward, [core.get_aval(x) for x in flat]))
    n_out, lin = box[0]
    n_res = len(lin.jaxpr.constvars)

    def backward(*xs):
        res, cts = list(xs[:n_res]), list(xs[n_res:])
        staged = LinearFunction(lin.jaxpr, res, lin.in_nonzero, lin.out_nonzero, lin.in_avals,
                                lin.out_avals)
        cts_full = iter(cts)
        cts_in = staged.transpose([next(cts_full) if nz else ad.Zero(a)
                                   for a, nz in zip(lin.out_avals, lin.out_nonzero)])
        return [ad.instantiate(c) for c, nz in zip(cts_in, lin.in_nonzero) if nz]

    ct_avals = [a for a, nz in zip(lin.out_avals, lin.out_nonzero) if nz]
    bwd = simplify(trace_to_jaxpr(backward, [v.aval for v in lin.jaxpr.constvars] + ct_avals))
    return _Split(fwd, n_out, bwd, n_res, list(lin.out_nonzero), list(lin.in_nonzero))


def _value_label(title: str, aval: core.ShapedArray, src: _Source) -> str:
    label = f"{title}\n{aval.str_short()}"
    return label + f"\n= {_literal_str(src)}" if isinstance(src, Literal) else label


def _draw_program(drawer: _Drawer, closed: ClosedJaxpr, in_names: Sequence[str],
                  out_names: Sequence[str], env: dict[Var, _Source] | None = None
                  ) -> list[_Source]:
    """Inputs (those not already in ``env``), constants and equations of ``closed``, and an
    output node for each of the first ``len(out_names)`` outputs; returns every output's
    source."""
    g, j = drawer.g, closed.jaxpr
    env = dict(env or {})
    drawer.consts(j, closed.consts, env)
    for v, name in zip([v for v in j.invars if v not in env], in_names):
        env[v] = g.node(f"{name}\n{v.aval.str_short()}", "input")
    outs = drawer.jaxpr(j, env)
    for name, v, src in zip(out_names, j.outvars, outs):
        g.edge(src, g.node(_value_label(name, v.aval, src), "output"))
    return outs


def _draw_forward_backward(g: _Graph, split: _Split, in_names: list[str], collapse: bool
                           ) -> None:
    fj, bj = split.forward.jaxpr, split.backward.jaxpr
    g.open_cluster("forward pass", color="#4a78b5", style="rounded,bold")
    outs = _draw_program(_Drawer(g, collapse), split.forward, in_names,
                         [f"out{k}" for k in range(split.n_out)])
    g.close_cluster()

    # residuals live between the two passes
    residual_ids = []
    for k, (v, src) in enumerate(zip(fj.outvars[split.n_out:], outs[split.n_out:])):
        rid = g.node(_value_label(f"residual {k}", v.aval, src), "residual",
                     f"stored for the backward pass: {v.aval.size * v.aval.dtype.itemsize} "
                     "bytes")
        g.edge(src, rid, "residual")
        residual_ids.append(rid)

    g.open_cluster("backward pass", color="#b54a4a", style="rounded,bold")
    # the backward program is traced inside this module: its source lines say nothing useful
    drawer = _Drawer(g, collapse, recompute_from=set(bj.invars[:split.n_res]),
                     show_source=False)
    ct_names = [f"cotangent of out{k}" for k, d in enumerate(split.out_diff) if d]
    grad_names = [f"grad {name}" for name, d in zip(in_names, split.in_diff) if d]
    _draw_program(drawer, split.backward, ct_names, grad_names,
                  env=dict(zip(bj.invars[:split.n_res], residual_ids)))
    g.close_cluster()


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def to_dot(fun: Callable, *args, backward: bool = False, collapse_elementwise: bool = False
           ) -> str:
    """Graphviz DOT text of the program ``fun`` runs on ``args`` (arrays or pytrees of them).

    ``backward=True`` draws the forward and backward passes of reverse mode side by side, with
    the residuals stored between them highlighted in red. ``collapse_elementwise=True`` merges
    chains of elementwise equations into one node, so large programs stay legible.

    Example::

        >>> print(ft.viz.to_dot(lambda x: fnp.tanh(x).sum(), np.ones(3)))  # doctest: +SKIP
        digraph "<lambda>" { ...
    """
    g = _Graph()
    in_names = _input_names(fun, args)
    title = _title(fun)
    if backward:
        _draw_forward_backward(g, _split_forward_backward(fun, args), in_names,
                               collapse_elementwise)
        return g.render(title, f"{title}: forward and backward passes\nred: residuals stored by "
                        "the forward pass; orange: recomputed from residuals")
    from .tracing import make_jaxpr
    closed = make_jaxpr(fun)(*args)
    _draw_program(_Drawer(g, collapse_elementwise), closed, in_names,
                  [f"out{k}" for k in range(len(closed.jaxpr.outvars))])
    return g.render(title, title)


_INSTALL_HINT = (
    "Graphviz's `dot` executable was not found on PATH, so the graph cannot be rendered. "
    "Install Graphviz (`apt-get install graphviz` on Debian/Ubuntu, `conda install graphviz`, "
    "or `brew install graphviz` on macOS), or call functrace.viz.to_dot(...) to get the DOT "
    "text and render it elsewhere; a path ending in .dot is written without Graphviz."
)
_TEXT_FORMATS = ("dot", "gv")


def draw(fun: Callable, *args, path: str | os.PathLike = "graph.svg", format: str | None = None,
         backward: bool = False, collapse_elementwise: bool = False) -> str:
    """Render the program of ``fun`` on ``args`` to ``path`` with Graphviz; return the path.

    ``format`` (``svg``, ``png``, ``pdf``, ... anything ``dot -T`` accepts) defaults to the
    suffix of ``path``. A ``.dot``/``.gv`` path gets the DOT text itself and needs no Graphviz;
    other formats need the ``dot`` executable and raise ``RuntimeError`` when it is missing.
    """
    path = os.fspath(path)
    if format is None:
        format = os.path.splitext(path)[1].lstrip(".").lower()
        if not format:
            raise ValueError(f"draw: cannot tell the output format from path {path!r}; give "
                             "a suffix (.svg, .png, .pdf, .dot) or format=...")
    text = to_dot(fun, *args, backward=backward, collapse_elementwise=collapse_elementwise)
    if format in _TEXT_FORMATS:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path
    exe = shutil.which("dot")
    if exe is None:
        raise RuntimeError(_INSTALL_HINT)
    proc = subprocess.run([exe, f"-T{format}", "-o", path], input=text.encode("utf-8"),
                          capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"Graphviz `dot -T{format}` failed (exit {proc.returncode}): "
                           f"{proc.stderr.decode(errors='replace').strip()}")
    return path
