"""Tests for functrace.viz: the DOT text's structure (nodes, edges, clusters, labels, residual
highlighting), the forward/backward split it draws, and rendering with and without Graphviz."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import core, viz
from functrace.core import ClosedJaxpr, Primitive, ShapedArray
from functrace.tracing import trace_to_jaxpr

# ---------------------------------------------------------------------------------------------
# A small DOT reader for the subset to_dot writes
# ---------------------------------------------------------------------------------------------

_NODE = re.compile(r"^\s*(n\d+) \[(.*)\];$")
_EDGE = re.compile(r"^\s*(n\d+) -> (n\d+) \[(.*)\];$")
_CLUSTER = re.compile(r"^\s*subgraph (cluster_\d+) \{$")
_ATTR = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def _unescape(s: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), s)


def _attrs(text: str) -> dict[str, str]:
    return {k: _unescape(v) for k, v in _ATTR.findall(text)}


class Dot:
    def __init__(self, text: str):
        self.text = text
        self.nodes: dict[str, dict] = {}
        self.edges: list[tuple[str, str, dict]] = []
        self.clusters: dict[str, dict] = {}  # id -> {"label": str, "nodes": set, "parent": id}
        stack: list[str] = []
        lines = text.splitlines()
        assert lines[0].startswith("digraph ") and lines[-1] == "}"
        for line in lines[1:-1]:
            if m := _CLUSTER.match(line):
                self.clusters[m.group(1)] = dict(label=None, nodes=set(),
                                                 parent=stack[-1] if stack else None)
                stack.append(m.group(1))
            elif line.strip() == "}":
                stack.pop()
            elif m := _EDGE.match(line):
                self.edges.append((m.group(1), m.group(2), _attrs(m.group(3))))
            elif m := _NODE.match(line):
                assert m.group(1) not in self.nodes, f"node {m.group(1)} declared twice"
                self.nodes[m.group(1)] = _attrs(m.group(2))
                for c in stack:
                    self.clusters[c]["nodes"].add(m.group(1))
            elif stack and (m := re.match(r'^\s*label="(.*)";$', line)):
                if self.clusters[stack[-1]]["label"] is None:
                    self.clusters[stack[-1]]["label"] = _unescape(m.group(1))
        assert not stack, "unbalanced subgraph braces"
        for s, d, _ in self.edges:
            assert s in self.nodes and d in self.nodes, f"edge {s} -> {d} to an undeclared node"

    def of_class(self, cls: str) -> list[str]:
        return [n for n, a in self.nodes.items() if a.get("class") == cls]

    def label(self, n: str) -> str:
        return self.nodes[n]["label"]

    def labels(self, cls: str | None = None) -> list[str]:
        return [a["label"] for a in self.nodes.values() if cls is None or a.get("class") == cls]

    def preds(self, n: str) -> list[str]:
        return [s for s, d, _ in self.edges if d == n]

    def succs(self, n: str) -> list[str]:
        return [d for s, d, _ in self.edges if s == n]

    def cluster(self, label_start: str) -> dict:
        found = [c for c in self.clusters.values() if (c["label"] or "").startswith(label_start)]
        assert len(found) == 1, f"{len(found)} clusters labelled {label_start!r}"
        return found[0]

    def edge_pairs(self) -> set[tuple[str, str]]:
        """Edges as (source label, destination label) pairs."""
        return {(self.label(s), self.label(d)) for s, d, _ in self.edges}


def _mlp_layer(x, w):
    return fnp.sum(fnp.tanh(fnp.multiply(x, w)))


# ---------------------------------------------------------------------------------------------
# Forward programs
# ---------------------------------------------------------------------------------------------


def test_forward_graph_nodes_edges_and_labels():
    x = np.ones(3, np.float32)
    d = Dot(viz.to_dot(_mlp_layer, x, x))
    assert sorted(d.labels("input")) == ["w\nf32[3]", "x\nf32[3]"]
    assert sorted(d.labels("eqn")) == ["mul\nf32[3]", "reduce_sum\naxes=(0,)\nf32[]",
                                       "tanh\nf32[3]"]
    assert d.labels("output") == ["out0\nf32[]"]
    assert len(d.nodes) == 6 and len(d.edges) == 5
    assert d.edge_pairs() == {
        ("x\nf32[3]", "mul\nf32[3]"), ("w\nf32[3]", "mul\nf32[3]"),
        ("mul\nf32[3]", "tanh\nf32[3]"), ("tanh\nf32[3]", "reduce_sum\naxes=(0,)\nf32[]"),
        ("reduce_sum\naxes=(0,)\nf32[]", "out0\nf32[]")}
    assert not d.clusters and not d.of_class("residual")
    assert d.text.startswith('digraph "_mlp_layer" {')


def test_labels_show_shape_and_dtype_of_large_values():
    x = np.zeros((128, 512), np.float32)
    d = Dot(viz.to_dot(lambda a: fnp.tanh(a), x))
    assert "tanh\nf32[128,512]" in d.labels("eqn")
    assert "a\nf32[128,512]" in d.labels("input")


def test_one_eqn_node_per_equation_and_literals_in_labels():
    def f(x, y):
        a = fnp.sin(x) * 2.0
        return fnp.exp(a) + fnp.cos(y), fnp.sum(a)

    x = np.linspace(0.0, 1.0, 4)
    closed = ft.make_jaxpr(f)(x, x)
    d = Dot(viz.to_dot(f, x, x))
    # a scalar broadcast to an array (how x * 2.0 is staged) is written into its reader's label
    splats = {e.outvars[0] for e in closed.eqns if e.primitive.name == "broadcast_in_dim"
              and isinstance(e.invars[0], core.Literal)}
    eqns = [e for e in closed.eqns if e.outvars[0] not in splats]
    assert len(d.of_class("eqn")) == len(eqns) == 6
    assert len(d.of_class("output")) == 2
    assert "mul(·, 2.0)\nf64[4]" in d.labels("eqn")
    # every data edge corresponds to one distinct (producer, consumer) pair of the program
    n_pairs = sum(len({a for a in e.invars if isinstance(a, core.Var) and a not in splats})
                  for e in eqns)
    assert len(d.edges) == n_pairs + len(closed.jaxpr.outvars)
    assert all(e[2]["class"] == "data" for e in d.edges)


def test_pytree_arguments_are_named_by_path():
    params = {"w": np.ones((2, 3)), "b": np.zeros(3)}

    def loss(params, x):
        return fnp.sum(fnp.tanh(x * params["w"] + params["b"]))

    d = Dot(viz.to_dot(loss, params, np.ones((2, 3))))
    assert sorted(d.labels("input")) == ["params['b']\nf64[3]", "params['w']\nf64[2,3]",
                                         "x\nf64[2,3]"]


def test_closed_over_arrays_are_constant_nodes():
    c = np.arange(3.0)
    d = Dot(viz.to_dot(lambda x: fnp.sum(x * c), np.ones(3)))
    (const,) = d.of_class("const")
    assert d.label(const).startswith("const\nf64[3]\n[0.")
    assert [d.label(s) for s in d.succs(const)] == ["mul\nf64[3]"]


# ---------------------------------------------------------------------------------------------
# Sub-programs as clusters
# ---------------------------------------------------------------------------------------------


def _block(z):
    return fnp.tanh(fnp.sin(z))


def _checkpointed(x):
    return fnp.sum(fnp.tanh(ft.checkpoint(_block)(x)))


def test_checkpoint_body_is_a_cluster_wired_to_its_operands():
    d = Dot(viz.to_dot(_checkpointed, np.ones(3)))
    c = d.cluster("checkpoint")
    assert "name='_block'" in c["label"] and "policy=nothing_saveable" in c["label"]
    assert sorted(d.label(n) for n in c["nodes"]) == ["sin\nf64[3]", "tanh\nf64[3]"]
    (x,) = d.of_class("input")
    sin = next(n for n in c["nodes"] if d.label(n).startswith("sin"))
    assert d.preds(sin) == [x]
    outer_tanh = [n for n in d.of_class("eqn") if d.label(n).startswith("tanh")
                  and n not in c["nodes"]]
    assert len(outer_tanh) == 1
    assert [d.label(p) for p in d.preds(outer_tanh[0])] == ["tanh\nf64[3]"]


def test_custom_vjp_function_is_a_cluster():
    @ft.custom_vjp
    def softplus(x):
        return fnp.log(fnp.exp(x) + 1.0)

    softplus.defvjp(lambda x: (softplus(x), x), lambda x, g: (g * fnp.exp(x),))
    d = Dot(viz.to_dot(lambda x: fnp.sum(softplus(x)), np.ones(2)))
    c = d.cluster("custom_vjp_call")
    assert sorted(d.label(n).split("\n")[0] for n in c["nodes"]) == ["add(·, 1.0)", "exp",
                                                                     "log"]


def test_jit_call_is_a_cluster_in_both_passes():
    jit = pytest.importorskip("functrace.jit").jit

    @jit
    def inner(x):
        return fnp.sin(x) * 2.0

    f = lambda x: fnp.sum(inner(x) + 1.0)
    d = Dot(viz.to_dot(f, np.ones(3)))
    c = d.cluster("jit_call")
    assert "name='inner'" in c["label"]
    assert sorted(d.label(n) for n in c["nodes"]) == ["mul(·, 2.0)\nf64[3]", "sin\nf64[3]"]
    b = Dot(viz.to_dot(f, np.ones(3), backward=True))
    fwd, bwd = b.cluster("forward pass"), b.cluster("backward pass")
    calls = [c for c in b.clusters.values() if c["label"].startswith("jit_call")]
    assert len(calls) == 2
    assert sum(c["nodes"] <= fwd["nodes"] for c in calls) == 1
    assert sum(c["nodes"] <= bwd["nodes"] for c in calls) == 1


def test_star_args_and_unnamed_arguments():
    def f(a, *rest):
        return fnp.sum(a) + fnp.sum(rest[0]) + fnp.sum(rest[1])

    d = Dot(viz.to_dot(f, np.ones(2), np.ones(3), np.ones(4)))
    assert sorted(d.labels("input")) == ["a\nf64[2]", "rest[0]\nf64[3]", "rest[1]\nf64[4]"]


# A primitive whose sub-program does not take the equation's operands (like a loop body with an
# extra counter): it is drawn as a node plus a detached cluster with its own inputs.
_loop_p = Primitive("test_loop")
core.shape_rules[_loop_p] = lambda x, *, body, n: x


def test_non_call_subprograms_are_detached_clusters():
    body = trace_to_jaxpr(lambda x, i: [fnp.sin(x) * i],
                          [ShapedArray((3,), np.float64), ShapedArray((), np.float64)])
    assert isinstance(body, ClosedJaxpr)
    d = Dot(viz.to_dot(lambda x: _loop_p.bind(fnp.exp(x), body=body, n=4), np.ones(3)))
    (loop,) = d.of_class("call")
    assert d.label(loop) == "test_loop\nn=4\nf64[3]"
    c = d.cluster("test_loop: body")
    inner = sorted(d.label(n) for n in c["nodes"])
    assert inner == ["broadcast_in_dim\nbroadcast_dimensions=()\nshape=(3,)\nf64[3]",
                     "in0\nf64[3]", "in1\nf64[]", "mul\nf64[3]", "out0\nf64[3]", "sin\nf64[3]"]
    (sub_edge,) = [e for e in d.edges if e[2]["class"] == "subprogram"]
    assert d.label(sub_edge[0]) == "out0\nf64[3]" and sub_edge[1] == loop
    assert [d.label(p) for p in d.preds(loop)] == ["exp\nf64[3]", "out0\nf64[3]"]


def test_loops_and_branches_are_never_inlined():
    cf = pytest.importorskip("functrace.control_flow")

    def f(x):
        # the fori_loop body has the loop equation's own type, but runs many times
        y = cf.fori_loop(0, 3, lambda i, v: v * 1.5, x)
        return cf.cond(fnp.sum(y) > 0, fnp.sin, fnp.cos, y)

    d = Dot(viz.to_dot(f, np.ones(2)))
    calls = {d.label(n).split("\n")[0].split("(")[0] for n in d.of_class("call")}
    assert calls == {"scan", "cond"} or calls == {"while", "cond"}
    loop_cluster = next(c for c in d.clusters.values()
                        if c["label"].startswith(("scan: ", "while: body")))
    assert any(d.label(n).startswith("mul(·, 1.5)") for n in loop_cluster["nodes"])
    b0, b1 = d.cluster("cond: branches[0]"), d.cluster("cond: branches[1]")
    assert {d.label(n).split("\n")[0] for n in b0["nodes"] | b1["nodes"]} == {
        "in0", "out0", "sin", "cos"}


# ---------------------------------------------------------------------------------------------
# collapse_elementwise
# ---------------------------------------------------------------------------------------------


def test_collapse_merges_elementwise_chains():
    f = lambda x: fnp.sum(fnp.tanh(fnp.sin(x) * 2.0))
    full = Dot(viz.to_dot(f, np.ones(5)))
    d = Dot(viz.to_dot(f, np.ones(5), collapse_elementwise=True))
    assert len(full.of_class("eqn")) == 4
    (fused,) = d.of_class("fused")
    assert d.label(fused) == "elementwise ×3\nsin, mul(·, 2.0), tanh\nf64[5]"
    assert d.labels("eqn") == ["reduce_sum\naxes=(0,)\nf64[]"]
    assert d.edge_pairs() == {("x\nf64[5]", d.label(fused)),
                              (d.label(fused), "reduce_sum\naxes=(0,)\nf64[]"),
                              ("reduce_sum\naxes=(0,)\nf64[]", "out0\nf64[]")}


def test_collapse_keeps_shared_values_and_outputs_separate():
    def f(x):
        y = fnp.sin(x)  # read twice: stays its own node
        return fnp.exp(y) + fnp.cos(y), fnp.tanh(x)

    d = Dot(viz.to_dot(f, np.ones(2), collapse_elementwise=True))
    assert sorted(d.labels("eqn")) == ["sin\nf64[2]", "tanh\nf64[2]"]
    (fused,) = d.of_class("fused")
    assert d.label(fused) == "elementwise ×3\nexp, cos, add\nf64[2]"
    assert [d.label(p) for p in d.preds(fused)] == ["sin\nf64[2]"]


def test_collapse_shrinks_a_deep_network():
    def net(x):
        for _ in range(6):
            x = fnp.tanh(x * 1.5 + 0.1)
        return fnp.sum(x)

    full = Dot(viz.to_dot(net, np.ones(4)))
    small = Dot(viz.to_dot(net, np.ones(4), collapse_elementwise=True))
    assert len(full.of_class("eqn")) == 19
    assert len(small.of_class("fused")) == 1 and len(small.nodes) == 4
    assert small.label(small.of_class("fused")[0]).startswith("elementwise ×18\n")


# ---------------------------------------------------------------------------------------------
# backward=True
# ---------------------------------------------------------------------------------------------


def test_backward_split_computes_the_gradient():
    x, w = np.linspace(-1, 1, 3), np.linspace(0.5, 2, 3)
    split = viz._split_forward_backward(_mlp_layer, (x, w))
    core.check_jaxpr(split.forward)
    core.check_jaxpr(split.backward)
    fwd_out = split.forward(x, w)
    assert np.allclose(fwd_out[0], _mlp_layer(x, w))
    residuals = fwd_out[split.n_out:]
    assert len(residuals) == split.n_res == len(ft.saved_residuals(_mlp_layer, x, w))
    grads = split.backward(*residuals, np.ones(()))
    expected = ft.grad(_mlp_layer, argnums=(0, 1))(x, w)
    for g, e in zip(grads, expected):
        np.testing.assert_allclose(g, e, rtol=1e-12)


def test_backward_graph_highlights_residuals():
    x, w = np.ones(3, np.float32), np.full(3, 0.5, np.float32)
    d = Dot(viz.to_dot(_mlp_layer, x, w, backward=True))
    fwd, bwd = d.cluster("forward pass"), d.cluster("backward pass")
    assert not fwd["nodes"] & bwd["nodes"]
    saved = ft.saved_residuals(_mlp_layer, x, w)
    res = d.of_class("residual")
    assert len(res) == len(saved) == 4
    assert sorted(d.label(r).split("\n")[1] for r in res) == sorted(
        ShapedArray(s["shape"], s["dtype"]).str_short() for s in saved)
    for r in res:
        assert r not in fwd["nodes"] and r not in bwd["nodes"]
        assert d.nodes[r]["color"] == "red"
        (src,) = d.preds(r)
        assert src in fwd["nodes"]
        assert d.succs(r) and all(s in bwd["nodes"] for s in d.succs(r))
    red = [e for e in d.edges if e[2]["class"] == "residual"]
    assert all(e[2]["color"] == "red" and "bold" in e[2]["style"] for e in red)
    assert {e[0] for e in red} | {e[1] for e in red} >= set(res)
    assert all(e[0] in res or e[1] in res for e in red)
    # the residual x*w... inputs x and w are stored as they are
    assert {d.label(d.preds(r)[0]) for r in res} >= {"x\nf32[3]", "w\nf32[3]"}
    assert sorted(d.label(n) for n in bwd["nodes"] if d.nodes[n]["class"] == "output") == [
        "grad w\nf32[3]", "grad x\nf32[3]"]
    assert [d.label(n) for n in d.of_class("input") if n in bwd["nodes"]] == [
        "cotangent of out0\nf32[]"]
    assert not d.of_class("recompute")  # nothing is recomputed without checkpoint


def test_backward_graph_of_checkpoint_shows_recomputation():
    x = np.ones(3)
    plain = lambda x: fnp.sum(fnp.tanh(_block(x)))
    d_plain = Dot(viz.to_dot(plain, x, backward=True))
    d = Dot(viz.to_dot(_checkpointed, x, backward=True))
    assert len(d.of_class("residual")) < len(d_plain.of_class("residual"))
    assert len(d.of_class("residual")) == len(ft.saved_residuals(_checkpointed, x))
    bwd = d.cluster("backward pass")
    recomputed = {d.label(n).split("\n")[0] for n in d.of_class("recompute")}
    assert {"sin", "tanh"} <= recomputed
    assert all(n in bwd["nodes"] for n in d.of_class("recompute"))
    assert not d_plain.of_class("recompute")


def test_backward_with_collapse_and_nondifferentiable_inputs():
    def f(x, n):
        return fnp.sum(fnp.tanh(fnp.sin(x) * 3.0)) * n

    d = Dot(viz.to_dot(f, np.ones(4, np.float32), np.int32(2) * np.ones((), np.int32),
                       backward=True, collapse_elementwise=True))
    bwd = d.cluster("backward pass")
    assert [d.label(n) for n in bwd["nodes"] if d.nodes[n]["class"] == "output"] == [
        "grad x\nf32[4]"]
    assert d.of_class("fused") and d.of_class("residual")


def test_constant_outputs_show_their_value():
    d = Dot(viz.to_dot(lambda x, y: fnp.sum(fnp.sin(x)), np.ones(2), np.ones(3), backward=True))
    grads = sorted(d.labels("output"))
    assert grads == ["grad x\nf64[2]", "grad y\nf64[3]\n= 0.0", "out0\nf64[]"]
    (gy,) = [n for n in d.of_class("output") if d.label(n).startswith("grad y")]
    assert d.preds(gy) == []


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------

_HAVE_DOT = shutil.which("dot") is not None


@pytest.mark.skipif(not _HAVE_DOT, reason="Graphviz's dot executable is not installed")
def test_draw_renders_svg_and_png(tmp_path):
    svg = viz.draw(_checkpointed, np.ones(3), path=tmp_path / "g.svg", backward=True)
    assert svg == str(tmp_path / "g.svg")
    text = (tmp_path / "g.svg").read_text()
    assert "<svg" in text and 'class="node residual"' in text and "backward pass" in text
    assert 'class="edge residual"' in text and 'class="node recompute"' in text
    png = viz.draw(_mlp_layer, np.ones(2), np.ones(2), path=tmp_path / "g.img", format="png",
                   collapse_elementwise=True)
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(not _HAVE_DOT, reason="Graphviz's dot executable is not installed")
def test_dot_reports_its_errors(tmp_path):
    with pytest.raises(RuntimeError, match="dot -Tnot_a_format"):
        viz.draw(_mlp_layer, np.ones(2), np.ones(2), path=tmp_path / "g.not_a_format")


def test_draw_without_graphviz_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot on PATH
    with pytest.raises(RuntimeError, match="apt-get install graphviz") as info:
        viz.draw(_mlp_layer, np.ones(2), np.ones(2), path=tmp_path / "g.svg")
    msg = str(info.value)
    assert "conda install graphviz" in msg and "brew install graphviz" in msg
    assert "functrace.viz.to_dot" in msg
    assert not (tmp_path / "g.svg").exists()


def test_draw_without_graphviz_via_which(tmp_path, monkeypatch):
    monkeypatch.setattr(viz.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="Graphviz"):
        viz.draw(_mlp_layer, np.ones(2), np.ones(2), path=tmp_path / "g.pdf")


def test_draw_dot_text_needs_no_graphviz(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    out = viz.draw(_mlp_layer, np.ones(2), np.ones(2), path=tmp_path / "g.dot", backward=True)
    assert open(out).read() == viz.to_dot(_mlp_layer, np.ones(2), np.ones(2), backward=True)


def test_draw_needs_a_format(tmp_path):
    with pytest.raises(ValueError, match="format"):
        viz.draw(_mlp_layer, np.ones(2), np.ones(2), path=tmp_path / "graph")


@pytest.mark.skipif(not _HAVE_DOT, reason="Graphviz's dot executable is not installed")
def test_all_graphs_are_valid_dot(tmp_path):
    import subprocess
    texts = [viz.to_dot(_checkpointed, np.ones(3), backward=b, collapse_elementwise=c)
             for b in (False, True) for c in (False, True)]
    texts.append(viz.to_dot(lambda x: fnp.sum(x * np.arange(3.0)), np.ones(3)))
    for t in texts:
        proc = subprocess.run(["dot", "-Tcanon"], input=t.encode(), capture_output=True)
        assert proc.returncode == 0 and not proc.stderr, proc.stderr
