"""Forward-mode differentiation (the JVP interpreter) and transposition of linear programs.

Reverse mode is built from these two halves (see ``autodiff.py``): a JVP traced with the tangents
unknown (``partial_eval``) splits a program into its forward part and a *linear* tangent program;
transposing that linear program gives the backward pass, as another jaxpr.

Rule tables, keyed by primitive:
  ``jvp_rules[p](primals, tangents, **params) -> (primal_out, tangent_out)``
  ``transpose_rules[p](ct, *args, **params) -> cotangent per arg`` for primitives linear in the
  arguments that are ``UndefinedPrimal``.
Tangents and cotangents that are known to be zero are the symbolic ``Zero``; rules never see an
array of zeros built just to stand for "nothing flows here".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import core, core_prims, dtypes
from .core import Jaxpr, Literal, Primitive, ShapedArray, Tracer, Var

jvp_rules: dict[Primitive, Callable] = core.RuleTable()
transpose_rules: dict[Primitive, Callable] = core.RuleTable()


# ---------------------------------------------------------------------------------------------
# Symbolic zeros
# ---------------------------------------------------------------------------------------------


class Zero:
    """A tangent or cotangent known to be zero, of type ``aval``; never materialised."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self):
        return f"Zero({self.aval.str_short()})"


def tangent_aval(aval: ShapedArray) -> ShapedArray:
    return aval


def is_differentiable_dtype(dtype) -> bool:
    return dtypes.is_inexact(dtype)


def zeros_like_aval(aval: ShapedArray):
    return core_prims.full(aval.shape, 0, aval.dtype)


def instantiate(t):
    """A concrete array for a tangent that may be symbolically zero."""
    return zeros_like_aval(t.aval) if isinstance(t, Zero) else t


def add_tangents(x, y):
    if isinstance(x, Zero):
        return y
    if isinstance(y, Zero):
        return x
    return core_prims.add(x, y)


# ---------------------------------------------------------------------------------------------
# The JVP interpreter
# ---------------------------------------------------------------------------------------------


class JVPTracer(Tracer):
    __slots__ = ("primal", "tangent")

    def __init__(self, trace, primal, tangent):
        self._trace = trace
        self.primal = primal
        self.tangent = tangent

    @property
    def aval(self):
        return core.get_aval(self.primal)

    def concrete_value(self):
        p = self.primal
        return p.concrete_value() if isinstance(p, Tracer) else p


class JVPTrace(core.Trace):
    __slots__ = ()

    def pure(self, val):
        return JVPTracer(self, val, Zero(core.get_aval(val)))

    lift = pure

    def process_primitive(self, primitive, tracers, params):
        primals = [t.primal for t in tracers]
        tangents = [t.tangent for t in tracers]
        if all(isinstance(t, Zero) for t in tangents):
            outs = core.bind(primitive, *primals, **params)
            outs = outs if primitive.multiple_results else [outs]
            return [JVPTracer(self, o, Zero(core.get_aval(o))) for o in outs]
        rule = jvp_rules.get(primitive)
        if rule is None:
            raise NotImplementedError(f"functrace has no differentiation rule for '{primitive}'.")
        primal_out, tangent_out = rule(primals, tangents, **params)
        if not primitive.multiple_results:
            primal_out, tangent_out = [primal_out], [tangent_out]
        return [JVPTracer(self, p, t) for p, t in zip(primal_out, tangent_out)]


def jvp_flat(fun: Callable, primals: list, tangents: list) -> tuple[list, list]:
    """Push tangents (``Zero`` allowed) through a flat function; returns outputs and tangents."""
    with core.new_main(JVPTrace) as main:
        trace = JVPTrace(main)
        tracers_in = [JVPTracer(trace, p, t) for p, t in zip(primals, tangents)]
        outs = fun(*tracers_in)
        tracers_out = [trace.full_raise(o) for o in outs]
        primals_out = [core.full_lower(t.primal) for t in tracers_out]
        tangents_out = [t.tangent if isinstance(t.tangent, Zero) else core.full_lower(t.tangent)
                        for t in tracers_out]
    return primals_out, tangents_out


def jvp_jaxpr(closed: core.ClosedJaxpr, nonzero_tangents: list[bool],
              instantiate_out: bool | list[bool] = True) -> tuple[core.ClosedJaxpr, list[bool]]:
    """A jaxpr computing ``(*primals_out, *nonzero tangents_out)`` from primals and the tangents
    of the inputs marked in ``nonzero_tangents``; also returns which output tangents are nonzero."""
    from .tracing import trace_to_jaxpr
    n = len(closed.in_avals)
    in_avals = list(closed.in_avals) + [a for a, nz in zip(closed.in_avals, nonzero_tangents)
                                         if nz]
    out_nz_box = []

    def fun(*args):
        primals, tangents_nz = args[:n], iter(args[n:])
        tangents = [next(tangents_nz) if nz else Zero(a)
                    for a, nz in zip(closed.in_avals, nonzero_tangents)]
        outs, touts = jvp_flat(lambda *xs: core.eval_jaxpr(closed.jaxpr, closed.consts, *xs),
                               primals, tangents)
        inst = (instantiate_out if isinstance(instantiate_out, list)
                else [instantiate_out] * len(touts))
        touts = [instantiate(t) if i else t for t, i in zip(touts, inst)]
        out_nz_box.append([not isinstance(t, Zero) for t in touts])
        return outs + [t for t in touts if not isinstance(t, Zero)]

    jaxpr = trace_to_jaxpr(fun, in_avals)
    return jaxpr, out_nz_box[0]


# ---------------------------------------------------------------------------------------------
# Helpers that give the common JVP rule shapes in one line
# ---------------------------------------------------------------------------------------------


def defjvp(primitive: Primitive, *tangent_fns: Callable | None) -> None:
    """JVP from one function per input: ``fn(tangent_i, out, *primals, **params)`` gives that
    input's contribution to the output tangent (``None``: the input is not differentiable)."""

    def rule(primals, tangents, **params):
        out = primitive.bind(*primals, **params)
        total = Zero(core.get_aval(out))
        for fn, t in zip(tangent_fns, tangents):
            if fn is not None and not isinstance(t, Zero):
                total = add_tangents(total, fn(t, out, *primals, **params))
        return out, total

    jvp_rules[primitive] = rule


def defjvp_zero(primitive: Primitive) -> None:
    """The primitive's outputs are piecewise constant (comparisons, floor, argmax...)."""

    def rule(primals, tangents, **params):
        out = primitive.bind(*primals, **params)
        if primitive.multiple_results:
            return out, [Zero(core.get_aval(o)) for o in out]
        return out, Zero(core.get_aval(out))

    jvp_rules[primitive] = rule


def deflinear(primitive: Primitive, transpose_rule: Callable) -> None:
    """A primitive linear in all its (array) inputs: its JVP applies it to the tangents."""

    def rule(primals, tangents, **params):
        out = primitive.bind(*primals, **params)
        if all(isinstance(t, Zero) for t in tangents):
            tout = Zero(core.get_aval(out))
        else:
            tout = primitive.bind(*map(instantiate, tangents), **params)
        return out, tout

    jvp_rules[primitive] = rule
    transpose_rules[primitive] = transpose_rule


# ---------------------------------------------------------------------------------------------
# Transposition: running a linear jaxpr backwards
# ---------------------------------------------------------------------------------------------


class UndefinedPrimal:
    """Marks a linear input of an equation while transposing: only its type is known."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self):
        return f"UndefinedPrimal({self.aval.str_short()})"


def is_undefined(x) -> bool:
    return isinstance(x, UndefinedPrimal)


def backward_pass(jaxpr: Jaxpr, consts: list, linear_in: list[bool], args: list,
                  cts_out: list, split_inputs: bool = False) -> list:
    """Transpose ``jaxpr`` with respect to the inputs marked ``linear_in``.

    ``args`` gives the values of the non-linear inputs (ignored for linear ones); ``cts_out`` the
    cotangents of the outputs (``Zero`` allowed). Returns the cotangent of each linear input
    (``Zero`` where nothing flows) and ``None`` for the others. Each equation is visited once,
    so the cost is linear in the size of the program. With ``split_inputs``, each linear
    input gets the list of its contributions in the order they arrive instead of their sum
    (so a caller can add them to contributions from elsewhere in the same order as one
    transposition of a larger program would).
    """
    env: dict[Var, Any] = dict(zip(jaxpr.constvars, consts))
    linear_vars: set[Var] = set()
    for v, lin, a in zip(jaxpr.invars, linear_in, args):
        if lin:
            linear_vars.add(v)
        else:
            env[v] = a

    def read(a):
        return a.val if isinstance(a, Literal) else env[a]

    # New work is attributed to the user line of the equation it comes from (set directly on
    # the thread state: a context manager per equation costs more than small eager ops).
    st = core._thread_state
    prev_info = st.source_info
    try:
        return _backward_pass(jaxpr, linear_in, env, linear_vars, read, cts_out, st, prev_info,
                              split_inputs)
    finally:
        st.source_info = prev_info


def _backward_pass(jaxpr, linear_in, env, linear_vars, read, cts_out, st, prev_info,
                   split_inputs=False):
    # Forward: evaluate what does not depend on the linear inputs; collect the linear equations.
    linear_eqns = []
    for eqn in jaxpr.eqns:
        if any(isinstance(v, Var) and v in linear_vars for v in eqn.invars):
            linear_eqns.append(eqn)
            linear_vars.update(eqn.outvars)
        else:
            st.source_info = eqn.source_info or prev_info
            outs = core.bind(eqn.primitive, *map(read, eqn.invars), **eqn.params)
            env.update(zip(eqn.outvars, outs if eqn.primitive.multiple_results else [outs]))
    st.source_info = prev_info

    ct_env: dict[Var, Any] = {}
    split = {v: [] for v, lin in zip(jaxpr.invars, linear_in) if lin} if split_inputs else {}

    def write_ct(v, ct):
        if isinstance(v, Literal) or v not in linear_vars or ct is None or isinstance(ct, Zero):
            return
        parts = split.get(v)
        if parts is not None:
            parts.append(ct)
            return
        prev = ct_env.get(v)
        ct_env[v] = ct if prev is None else add_tangents(prev, ct)

    for v, ct in zip(jaxpr.outvars, cts_out):
        write_ct(v, ct)

    for eqn in reversed(linear_eqns):
        cts = [ct_env.pop(v, None) for v in eqn.outvars]
        if all(c is None for c in cts):
            continue
        cts = [Zero(v.aval) if c is None else c for v, c in zip(eqn.outvars, cts)]
        invals = [UndefinedPrimal(a.aval) if isinstance(a, Var) and a in linear_vars else read(a)
                  for a in eqn.invars]
        rule = transpose_rules.get(eqn.primitive)
        if rule is None:
            raise NotImplementedError(
                f"functrace cannot transpose '{eqn.primitive}' (reverse-mode differentiation "
                "of it is not implemented).")
        st.source_info = eqn.source_info or prev_info
        cts_in = rule(cts if eqn.primitive.multiple_results else cts[0], *invals, **eqn.params)
        st.source_info = prev_info
        for a, ct in zip(eqn.invars, cts_in):
            write_ct(a, ct)

    if split_inputs:
        return [split[v] if lin else None for v, lin in zip(jaxpr.invars, linear_in)]
    return [(ct_env.get(v, Zero(v.aval))) if lin else None
            for v, lin in zip(jaxpr.invars, linear_in)]


def zeros_like(x):
    aval = core.get_aval(x)
    return core_prims.full(aval.shape, 0, aval.dtype)


def ones_like_aval(aval: ShapedArray):
    return np.ones(aval.shape, aval.dtype)
