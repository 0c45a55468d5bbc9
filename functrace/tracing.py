"""Staging Python functions into jaxprs: the ``JaxprTrace`` interpreter and ``make_jaxpr``.

A ``JaxprTrace`` records each primitive application as an equation instead of running it. Values
from outside the traced function (NumPy arrays, or tracers of an enclosing transformation) become
constants of the jaxpr; scalars become literals.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import core
from .core import ClosedJaxpr, Eqn, Jaxpr, Literal, ShapedArray, Tracer, Var
from .simplify import simplify
from .tree_util import tree_flatten, tree_unflatten


class JaxprTracer(Tracer):
    __slots__ = ("atom", "_aval")

    def __init__(self, trace: JaxprTrace, aval: ShapedArray):
        self._trace = trace
        self._aval = aval
        self.atom = None  # an Atom, set by the builder

    @property
    def aval(self):
        return self._aval


def _snapshot(val: Any) -> Any:
    """The value a NumPy array has now, as the program's constant.

    As in JAX, arrays a traced function closes over are captured when it is traced: mutating
    them afterwards changes nothing, on every path (the compiled code, the fast path, the
    interpreter). One copy per constant per trace; tracers and arrays that cannot change
    (read-only and owning their data) are kept as they are.
    """
    if type(val) is np.ndarray or isinstance(val, np.ndarray):
        if val.flags.writeable or not val.flags.owndata:
            val = np.array(val, order="C", copy=True, subok=False)
    return val


class JaxprBuilder:
    """The growing program of one ``JaxprTrace``: equations, constants and their variables."""

    def __init__(self):
        self.eqns: list[Eqn] = []
        # id(value) -> (var, snapshot of the value, the value itself): the value is kept so
        # that its id is not reused by another array while tracing
        self.const_vals: dict[int, tuple[Var, Any, Any]] = {}
        self.tracers: list[JaxprTracer] = []  # keeps tracers (and so ids) alive

    def new_tracer(self, trace, aval, atom=None) -> JaxprTracer:
        t = JaxprTracer(trace, aval)
        t.atom = Var(aval) if atom is None else atom
        self.tracers.append(t)
        return t

    def const_tracer(self, trace, val) -> JaxprTracer:
        aval = core.get_aval(val)
        if aval.shape == () and not isinstance(val, Tracer):
            return self.new_tracer(trace, aval, Literal(val, aval))
        entry = self.const_vals.get(id(val))
        if entry is None:
            entry = self.const_vals[id(val)] = (Var(aval), _snapshot(val), val)
        return self.new_tracer(trace, aval, entry[0])

    def build(self, in_tracers: Sequence[JaxprTracer], out_vals: Sequence[Any], trace
              ) -> ClosedJaxpr:
        outs = [trace.full_raise(v) for v in out_vals]
        constvars = [var for var, _, _ in self.const_vals.values()]
        consts = [val for _, val, _ in self.const_vals.values()]
        jaxpr = Jaxpr(constvars, [t.atom for t in in_tracers], [t.atom for t in outs], self.eqns)
        return ClosedJaxpr(jaxpr, consts)


class JaxprTrace(core.Trace):
    __slots__ = ()

    @property
    def builder(self) -> JaxprBuilder:
        return self.main.global_data

    def new_arg(self, aval: ShapedArray) -> JaxprTracer:
        return self.builder.new_tracer(self, aval)

    def pure(self, val):
        return self.builder.const_tracer(self, val)

    lift = pure

    def process_primitive(self, primitive, tracers, params):
        in_avals = [t.aval for t in tracers]
        out_avals = core.checked_abstract_eval(primitive, in_avals, params)
        outs = [self.builder.new_tracer(self, a) for a in out_avals]
        self.builder.eqns.append(Eqn(primitive, [t.atom for t in tracers],
                                     [t.atom for t in outs], params, core.user_frame_info()))
        return outs


def trace_to_jaxpr(fun: Callable, in_avals: Sequence[ShapedArray]) -> ClosedJaxpr:
    """Stage ``fun`` (flat list of arrays in, flat list out) into a closed jaxpr."""
    builder = JaxprBuilder()
    with core.new_main(JaxprTrace, builder) as main, core.new_dynamic(main):
        trace = JaxprTrace(main)
        in_tracers = [trace.new_arg(a) for a in in_avals]
        outs = fun(*in_tracers)
        closed = builder.build(in_tracers, outs, trace)
    return closed


def trace_flat(fun: Callable, args: Sequence[Any], kwargs: dict | None = None):
    """Trace ``fun(*args, **kwargs)`` over pytrees.

    Returns (closed jaxpr, input treedef, output treedef)."""
    flat_args, in_tree = tree_flatten((tuple(args), kwargs or {}))
    in_avals = [core.get_aval(x) for x in flat_args]
    out_tree_box = []

    def flat_fun(*flat):
        a, kw = tree_unflatten(in_tree, flat)
        out = fun(*a, **kw)
        flat_out, out_tree = tree_flatten(out)
        for x in flat_out:
            core.get_aval(x)  # raises a clear error on non-array outputs
        out_tree_box.append(out_tree)
        return flat_out

    closed = trace_to_jaxpr(flat_fun, in_avals)
    return closed, in_tree, out_tree_box[0]


def make_jaxpr(fun: Callable, static_argnums: int | Sequence[int] = ()
               ) -> Callable[..., ClosedJaxpr]:
    """Return a function that traces ``fun`` on example arguments and returns its typed IR.

    The program is cleaned up (common subexpressions merged, dead code dropped) before it is
    returned, so ``make_jaxpr(grad(f))`` shows the backward pass a person would write.

    Example::

        >>> print(ft.make_jaxpr(lambda x: fnp.sin(x) * 2.0)(np.ones(3)))
        { lambda ; a:f64[3]. let b:f64[3] = sin a; c:f64[3] = mul b 2.0:f64[] in (c,) }
    """
    if isinstance(static_argnums, int):
        static_argnums = (static_argnums,)

    @functools.wraps(fun)
    def jaxpr_maker(*args, **kwargs):
        static = {i: args[i] for i in static_argnums}
        dyn_args = [a for i, a in enumerate(args) if i not in static]

        def call(*dyn):
            it = iter(dyn)
            full = [static[i] if i in static else next(it) for i in range(len(args))]
            return fun(*full, **kwargs)

        closed, _, _ = trace_flat(call, dyn_args)
        return simplify(closed)

    return jaxpr_maker


def as_array(x: Any) -> Any:
    """Python scalars and lists become NumPy arrays; arrays and tracers pass through."""
    if isinstance(x, (Tracer, np.ndarray)):
        return x
    return np.asarray(x)
