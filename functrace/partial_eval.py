"""Partial evaluation: run what is known now, stage what is not into a jaxpr.

Reverse mode uses it on a JVP: the primal values are known (they are computed right away, so
Python control flow on concrete values keeps working under ``grad``) and the tangents are not,
so the tangent computation is recorded as a linear jaxpr. The known values it reads are its
*residuals*: what backpropagation stores between the forward and the backward pass.

``partial_eval_rules[p](trace, tracers, **params)`` overrides the default (stage the whole
equation when any input is unknown) for primitives holding sub-programs, which split them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

from . import ad, core
from .ad import Zero
from .core import ClosedJaxpr, Eqn, Jaxpr, Literal, Primitive, ShapedArray, Tracer, Var

partial_eval_rules: dict[Primitive, Callable] = core.RuleTable()

_UNKNOWN = object()


_recipe_order = itertools.count()


class EqnRecipe:
    __slots__ = ("eqn", "in_tracers", "order")

    def __init__(self, eqn: Eqn, in_tracers: list):
        self.eqn = eqn
        self.in_tracers = in_tracers
        self.order = next(_recipe_order)  # creation order: the order of the staged program


class PartialEvalTracer(Tracer):
    """Either a known value (``known``), or an unknown one with an ``atom`` and how it was made."""

    __slots__ = ("known", "_aval", "atom", "recipe", "const")

    def __init__(self, trace, aval: ShapedArray, known: Any = _UNKNOWN):
        self._trace = trace
        self._aval = aval
        self.known = known
        self.atom = None
        self.recipe = None  # None (an input), "const", or an EqnRecipe
        self.const = None

    @property
    def aval(self):
        return self._aval

    def is_known(self) -> bool:
        return self.known is not _UNKNOWN

    def full_lower(self):
        return core.full_lower(self.known) if self.is_known() else self

    def concrete_value(self):
        if not self.is_known():
            return None
        k = self.known
        return k.concrete_value() if isinstance(k, Tracer) else k


class PartialEvalTrace(core.Trace):
    __slots__ = ()

    def new_arg(self, aval: ShapedArray) -> PartialEvalTracer:
        t = PartialEvalTracer(self, aval)
        t.atom = Var(aval)
        return t

    def pure(self, val) -> PartialEvalTracer:
        return PartialEvalTracer(self, core.get_aval(val), val)

    lift = pure

    def instantiate_const(self, t: PartialEvalTracer) -> PartialEvalTracer:
        """An unknown stand-in for a known value, so a staged equation can read it."""
        if not t.is_known():
            return t
        val = t.known
        cache = self.main.global_data
        hit = cache.get(id(val))
        if hit is not None and hit.const is val:
            return hit
        u = PartialEvalTracer(self, t.aval)
        if t.aval.shape == () and not isinstance(val, Tracer):
            u.atom = Literal(val, t.aval)
        else:
            u.atom = Var(t.aval)
        u.recipe = "const"
        u.const = val
        cache[id(val)] = u  # one residual per known value, however often it is read
        return u

    def process_primitive(self, primitive, tracers, params):
        if all(t.known is not _UNKNOWN for t in tracers):
            outs = core.bind(primitive, *[t.known for t in tracers], **params)
            outs = outs if primitive.multiple_results else [outs]
            return [self.pure(o) for o in outs]
        rule = partial_eval_rules.get(primitive)
        if rule is not None:
            return rule(self, tracers, **params)
        return self.stage(primitive, tracers, params)

    def stage(self, primitive, tracers, params) -> list[PartialEvalTracer]:
        """Record ``primitive`` as an equation of the unknown program."""
        tracers_in = [self.instantiate_const(t) for t in tracers]
        out_avals = core.abstract_eval(primitive, [t.aval for t in tracers_in], params)
        outs = [self.new_arg(a) for a in out_avals]
        eqn = Eqn(primitive, [t.atom for t in tracers_in], [t.atom for t in outs], params,
                  core.user_frame_info())
        recipe = EqnRecipe(eqn, tracers_in)
        for t in outs:
            t.recipe = recipe
        return outs


def tracers_to_jaxpr(in_tracers: Sequence[PartialEvalTracer],
                     out_tracers: Sequence[PartialEvalTracer]) -> tuple[Jaxpr, list]:
    """The jaxpr that computes the unknown ``out_tracers`` from the unknown ``in_tracers``;
    known values it reads become its constvars, returned with their values (the residuals)."""
    trace_main = None
    for t in list(in_tracers) + list(out_tracers):
        trace_main = t._trace.main
        break
    out_tracers = [t._trace.instantiate_const(t) if t.is_known() else t for t in out_tracers]
    input_ids = {id(t) for t in in_tracers}
    consts: dict[int, tuple[Var, Any]] = {}
    recipes: list[EqnRecipe] = []
    seen: set[int] = set()
    # Iterative post-order walk: programs of many thousand equations must not hit the
    # recursion limit.
    stack: list[tuple[Any, bool]] = [(t, False) for t in reversed(out_tracers)]
    while stack:
        node, expanded = stack.pop()
        if isinstance(node, EqnRecipe):
            if expanded:
                recipes.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((t, False) for t in reversed(node.in_tracers))
            continue
        t = node
        if t.recipe == "const":
            if isinstance(t.atom, Var) and id(t.atom) not in consts:
                consts[id(t.atom)] = (t.atom, t.const)
        elif t.recipe is None:
            if id(t) not in input_ids:
                raise core.UnexpectedTracerError(
                    "partial evaluation reached an input that was not declared; a traced value "
                    "probably escaped from another transformation.")
        elif id(t.recipe) not in seen:
            stack.append((t.recipe, False))
    del trace_main
    # The walk finds what the outputs need; the program lists it in the order it was
    # recorded (a topological order too), so its transposition adds cotangents in the same
    # order as the eager tape of ``eager_vjp`` does.
    recipes.sort(key=lambda r: r.order)
    eqns = [r.eqn for r in recipes]
    constvars = [v for v, _ in consts.values()]
    jaxpr = Jaxpr(constvars, [t.atom for t in in_tracers], [t.atom for t in out_tracers], eqns)
    return jaxpr, [c for _, c in consts.values()]


def partial_eval_jaxpr(closed: ClosedJaxpr, in_unknowns: Sequence[bool],
                       instantiate: bool | Sequence[bool] = False
                       ) -> tuple[ClosedJaxpr, ClosedJaxpr, list[bool], int]:
    """Split ``closed`` into a known program and an unknown one.

    known:   known inputs -> (known outputs, residuals)
    unknown: (residuals, unknown inputs) -> unknown outputs
    Returns ``(known, unknown, out_unknowns, num_residuals)``.
    """
    from .tracing import trace_to_jaxpr
    n_out = len(closed.out_avals)
    inst = list(instantiate) if not isinstance(instantiate, bool) else [instantiate] * n_out
    known_avals = [a for a, u in zip(closed.in_avals, in_unknowns) if not u]
    box: dict[str, Any] = {}

    def known_fun(*known_ins):
        with core.new_main(PartialEvalTrace, {}) as main:
            trace = PartialEvalTrace(main)
            it = iter(known_ins)
            ins = [trace.new_arg(a) if u else trace.pure(next(it))
                   for a, u in zip(closed.in_avals, in_unknowns)]
            outs = core.eval_jaxpr(closed.jaxpr, closed.consts, *ins)
            outs = [trace.full_raise(o) for o in outs]
            out_unknowns = [(not o.is_known()) or i for o, i in zip(outs, inst)]
            unknown_outs = [o for o, u in zip(outs, out_unknowns) if u]
            unknown_ins = [t for t, u in zip(ins, in_unknowns) if u]
            jaxpr, res = tracers_to_jaxpr(unknown_ins, unknown_outs)
            known_outs = [core.full_lower(o.known) for o, u in zip(outs, out_unknowns) if not u]
        box.update(jaxpr=jaxpr, out_unknowns=out_unknowns, num_res=len(res))
        return known_outs + [core.full_lower(r) for r in res]

    known = trace_to_jaxpr(known_fun, known_avals)
    jaxpr = box["jaxpr"]
    unknown = ClosedJaxpr(Jaxpr((), list(jaxpr.constvars) + list(jaxpr.invars), jaxpr.outvars,
                                jaxpr.eqns), ())
    return known, unknown, box["out_unknowns"], box["num_res"]


# ---------------------------------------------------------------------------------------------
# Linearization: the JVP with known primals and unknown tangents
# ---------------------------------------------------------------------------------------------


class LinearFunction:
    """The linear map ``tangents -> output tangents`` of a linearized function, as a jaxpr.

    ``jaxpr`` takes the nonzero input tangents; its constvars are the residuals (values from the
    forward pass that the derivative needs), held in ``residuals``.
    """

    def __init__(self, jaxpr: core.Jaxpr, residuals: list, in_nonzero: list[bool],
                 out_nonzero: list[bool], in_avals: list[ShapedArray],
                 out_avals: list[ShapedArray]):
        self.jaxpr = jaxpr
        self.residuals = residuals
        self.in_nonzero = in_nonzero
        self.out_nonzero = out_nonzero
        self.in_avals = in_avals
        self.out_avals = out_avals

    def apply(self, tangents: Sequence[Any]) -> list:
        args = [t for t, nz in zip(tangents, self.in_nonzero) if nz]
        outs = iter(core.eval_jaxpr(self.jaxpr, self.residuals, *args))
        return [next(outs) if nz else Zero(a) for a, nz in zip(self.out_avals, self.out_nonzero)]

    def transpose(self, cts_out: Sequence[Any]) -> list:
        cts = [c for c, nz in zip(cts_out, self.out_nonzero) if nz]
        n = len(self.jaxpr.invars)
        cts_in = iter(ad.backward_pass(self.jaxpr, self.residuals, [True] * n, [None] * n, cts))
        return [next(cts_in) if nz else Zero(a) for a, nz in zip(self.in_avals, self.in_nonzero)]


def linearize_flat(fun: Callable, primals: Sequence[Any], differentiable: Sequence[bool]
                   ) -> tuple[list, LinearFunction]:
    """Run ``fun`` forward on ``primals`` and return its outputs and its linearization with
    respect to the inputs marked ``differentiable``."""
    in_avals = [core.get_aval(p) for p in primals]
    with core.new_main(PartialEvalTrace, {}) as main:
        trace = PartialEvalTrace(main)
        tangent_tracers = [trace.new_arg(a) for a, d in zip(in_avals, differentiable) if d]
        it = iter(tangent_tracers)
        tangents = [next(it) if d else Zero(a) for a, d in zip(in_avals, differentiable)]
        primals_out, tangents_out = ad.jvp_flat(fun, list(primals), tangents)
        out_avals = [core.get_aval(p) for p in primals_out]
        out_nonzero = [not isinstance(t, Zero) for t in tangents_out]
        out_tracers = [trace.full_raise(t) for t in tangents_out if not isinstance(t, Zero)]
        jaxpr, residuals = tracers_to_jaxpr(tangent_tracers, out_tracers)
    # No DCE needed: tracers_to_jaxpr walks back from the outputs, so every equation and
    # residual it returns is read.
    primals_out = [core.full_lower(p) for p in primals_out]
    return primals_out, LinearFunction(jaxpr, residuals, list(differentiable), out_nonzero,
                                       in_avals, out_avals)
