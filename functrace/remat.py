"""``checkpoint`` (alias ``remat``): trade memory for time in reverse mode.

Reverse mode normally stores every intermediate the backward pass reads. Inside a checkpointed
function it stores only what ``policy`` allows (by default: nothing but the function's inputs)
and recomputes the rest during the backward pass. The function is carried by one ``checkpoint``
equation whose partial-evaluation rule makes that split.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from . import ad, batching, core, partial_eval
from .ad import is_undefined
from .core import ClosedJaxpr, Jaxpr, Primitive, Var
from .custom_derivatives import _batched_call_jaxpr, _closure_convert, _move_batch_to_front
from .simplify import dce_jaxpr, inlinable_primitives
from .tracing import trace_to_jaxpr
from .tree_util import tree_flatten, tree_unflatten

checkpoint_p = Primitive("checkpoint", multiple_results=True)

# The identity on its operands, which program clean-ups may not see through.
optimization_barrier_p = Primitive("optimization_barrier", multiple_results=True)
core.shape_rules[optimization_barrier_p] = lambda *avals: list(avals)
core.impl_rules[optimization_barrier_p] = lambda *xs: list(xs)
ad.deflinear(optimization_barrier_p,
             lambda cts, *xs: list(optimization_barrier_p.bind(*map(ad.instantiate, cts))))
batching.batch_rules[optimization_barrier_p] = (
    lambda vals, dims, axis_size: (optimization_barrier_p.bind(*vals), list(dims)))


class checkpoint_policies:
    """Policies ``policy(primitive, *in_avals, **params) -> bool``: may this result be saved?"""

    @staticmethod
    def nothing_saveable(prim, *avals, **params) -> bool:
        return False

    @staticmethod
    def everything_saveable(prim, *avals, **params) -> bool:
        return True

    @staticmethod
    def dots_saveable(prim, *avals, **params) -> bool:
        return prim.name == "dot_general"

    @staticmethod
    def dots_with_no_batch_dims_saveable(prim, *avals, **params) -> bool:
        return prim.name == "dot_general" and not params["dimension_numbers"][1][0]


def partial_eval_jaxpr_remat(jaxpr: Jaxpr, in_unknowns: list[bool], policy: Callable
                             ) -> tuple[Jaxpr, Jaxpr, list[bool], int]:
    """Split ``jaxpr`` like ``partial_eval_jaxpr`` but save only what ``policy`` allows.

    known:   known inputs -> (known outputs, residuals)
    unknown: (residuals, unknown inputs) -> unknown outputs, recomputing unsaved known values.
    """
    unknown: set[Var] = {v for v, u in zip(jaxpr.invars, in_unknowns) if u}
    known_eqns, unknown_eqns = [], []
    rename: dict[Var, Any] = {}  # outputs of split equations that forward another atom

    def sub(a):
        return rename.get(a, a) if isinstance(a, Var) else a

    for eqn in jaxpr.eqns:
        if rename:
            eqn = eqn.replace(invars=[sub(a) for a in eqn.invars])
        uk = [isinstance(a, Var) and a in unknown for a in eqn.invars]
        if not any(uk):
            known_eqns.append(eqn)
            continue
        split = _split_eqn(eqn, unknown) if not all(uk) else None
        if split is None:
            unknown_eqns.append(eqn)
            unknown.update(eqn.outvars)
            continue
        k_eqns, s_eqns, out_atoms, out_uk = split
        known_eqns += k_eqns
        unknown_eqns += s_eqns
        for v, a, u in zip(eqn.outvars, out_atoms, out_uk):
            if a is not v:
                rename[v] = a
            if u and isinstance(a, Var):
                unknown.add(a)
    jaxpr = Jaxpr(jaxpr.constvars, jaxpr.invars, [sub(a) for a in jaxpr.outvars], jaxpr.eqns)
    producer = {v: e for e in known_eqns for v in e.outvars}
    saved: dict[Var, None] = {}
    recompute: set[int] = set()
    stack = [a for e in unknown_eqns for a in e.invars if isinstance(a, Var) and a not in unknown]
    while stack:
        v = stack.pop()
        if v in saved:
            continue
        eqn = producer.get(v)
        if eqn is None or policy(eqn.primitive, *[a.aval for a in eqn.invars], **eqn.params):
            saved[v] = None
        elif id(eqn) not in recompute:
            recompute.add(id(eqn))
            stack.extend(a for a in eqn.invars if isinstance(a, Var))
    residuals = list(saved)
    out_unknowns = [isinstance(v, Var) and v in unknown for v in jaxpr.outvars]
    known_in = [v for v, u in zip(jaxpr.invars, in_unknowns) if not u]
    known_out = [v for v, u in zip(jaxpr.outvars, out_unknowns) if not u]
    known = dce_jaxpr(Jaxpr((), known_in, known_out + residuals, known_eqns))
    recomputed = [e for e in known_eqns if id(e) in recompute]
    unknown_in = [v for v, u in zip(jaxpr.invars, in_unknowns) if u]
    unknown_out = [v for v, u in zip(jaxpr.outvars, out_unknowns) if u]
    staged = Jaxpr((), residuals + unknown_in, unknown_out, recomputed + unknown_eqns)
    return known, staged, out_unknowns, len(residuals)


def _inline(closed: ClosedJaxpr, in_atoms: list) -> tuple[list, list]:
    """The equations of ``closed`` with fresh variables, its inputs bound to ``in_atoms``;
    returns (equations, output atoms)."""
    env: dict[Var, Any] = dict(zip(closed.jaxpr.invars, in_atoms))
    eqns = []
    for e in closed.jaxpr.eqns:
        outs = [Var(v.aval) for v in e.outvars]
        eqns.append(e.replace(invars=[env.get(a, a) if isinstance(a, Var) else a
                                      for a in e.invars], outvars=outs))
        env.update(zip(e.outvars, outs))
    return eqns, [env.get(a, a) if isinstance(a, Var) else a for a in closed.jaxpr.outvars]


def _split_eqn(eqn, unknown: set):
    """Split an equation holding a sub-program (control flow) whose inputs are partly known
    with its partial-evaluation rule: the known part runs in the forward pass, the rest is
    staged. Returns (known eqns, staged eqns, an atom per output, which outputs are unknown),
    or None to keep the equation whole."""
    if eqn.primitive not in partial_eval.partial_eval_rules or eqn.primitive is checkpoint_p:
        return None
    ins = list(dict.fromkeys(a for a in eqn.invars if isinstance(a, Var)))
    one = ClosedJaxpr(Jaxpr((), ins, eqn.outvars, [eqn]), ())
    known, staged, out_uk, _ = partial_eval.partial_eval_jaxpr(one, [v in unknown for v in ins])
    if known.consts:
        return None
    k_eqns, k_outs = _inline(known, [v for v in ins if v not in unknown])
    n_known = len(out_uk) - sum(out_uk)
    s_eqns, s_outs = _inline(staged, k_outs[n_known:] + [v for v in ins if v in unknown])
    ko, so = iter(k_outs[:n_known]), iter(s_outs)
    return k_eqns, s_eqns, [next(so) if u else next(ko) for u in out_uk], out_uk


def _checkpoint_impl(*args, call_jaxpr, **_):
    return core.eval_jaxpr(call_jaxpr.jaxpr, call_jaxpr.consts, *args)


def _checkpoint_jvp(primals, tangents, *, call_jaxpr, policy, name):
    nonzero = [not isinstance(t, ad.Zero) for t in tangents]
    jvp_closed, out_nz = ad.jvp_jaxpr(call_jaxpr, nonzero, instantiate_out=False)
    outs = checkpoint_p.bind(*primals, *[t for t in tangents if not isinstance(t, ad.Zero)],
                             call_jaxpr=jvp_closed, policy=policy, name=name)
    n = len(call_jaxpr.out_avals)
    touts = iter(outs[n:])
    return outs[:n], [next(touts) if nz else ad.Zero(a)
                      for nz, a in zip(out_nz, call_jaxpr.out_avals)]


def _checkpoint_partial_eval(trace, tracers, *, call_jaxpr, policy, name):
    in_unknowns = [not t.is_known() for t in tracers]
    known, staged, out_unknowns, _ = partial_eval_jaxpr_remat(call_jaxpr.jaxpr, in_unknowns,
                                                              policy)
    known_vals = [t.known for t, u in zip(tracers, in_unknowns) if not u]
    outs = core.eval_jaxpr(known, [], *known_vals)
    n_known_out = len(out_unknowns) - sum(out_unknowns)
    known_outs, residuals = outs[:n_known_out], outs[n_known_out:]
    ins = [trace.pure(r) for r in residuals] + [t for t, u in zip(tracers, in_unknowns) if u]
    staged_outs = iter(trace.stage(checkpoint_p, ins, dict(
        call_jaxpr=ClosedJaxpr(staged, ()), policy=policy, name=name)))
    known_iter = iter(known_outs)
    return [next(staged_outs) if u else trace.pure(next(known_iter)) for u in out_unknowns]


def _checkpoint_transpose(cts, *args, call_jaxpr, policy, name):
    linear_in = [is_undefined(a) for a in args]
    saved = [a for a, lin in zip(args, linear_in) if not lin]
    # Without the barrier, common-subexpression elimination would merge the recomputation
    # with the forward pass and keep every intermediate alive: the memory saving would vanish.
    fenced = iter(optimization_barrier_p.bind(*saved)) if saved else iter(())
    return ad.backward_pass(call_jaxpr.jaxpr, call_jaxpr.consts, linear_in,
                            [None if lin else next(fenced) for lin in linear_in], list(cts))


def _checkpoint_batch(vals, dims, axis_size, *, call_jaxpr, policy, name):
    vals, dims0 = _move_batch_to_front(vals, dims)
    batched = _batched_call_jaxpr(call_jaxpr, dims0, axis_size, [core.get_aval(v) for v in vals])
    outs = checkpoint_p.bind(*vals, call_jaxpr=batched, policy=policy, name=name)
    return outs, [0] * len(outs)


core.shape_rules[checkpoint_p] = lambda *avals, call_jaxpr, **_: call_jaxpr.out_avals
core.impl_rules[checkpoint_p] = _checkpoint_impl
ad.jvp_rules[checkpoint_p] = _checkpoint_jvp
ad.transpose_rules[checkpoint_p] = _checkpoint_transpose
partial_eval.partial_eval_rules[checkpoint_p] = _checkpoint_partial_eval
batching.batch_rules[checkpoint_p] = _checkpoint_batch
inlinable_primitives.add(checkpoint_p)


def checkpoint(fun: Callable, *, policy: Callable | None = None, prevent_cse: bool = True,
               static_argnums: tuple[int, ...] = ()) -> Callable:
    """Make ``fun`` recompute its intermediates in the backward pass instead of storing them.

    ``policy(primitive, *in_avals, **params) -> bool`` says which results may be saved; the
    default saves none (only ``fun``'s inputs). See ``checkpoint_policies``.
    """
    policy = policy or checkpoint_policies.nothing_saveable
    name = getattr(fun, "__name__", "checkpointed")

    @functools.wraps(fun)
    def wrapped(*args):
        static = {i: args[i] for i in static_argnums}
        dyn = [a for i, a in enumerate(args) if i not in static]
        flat, in_tree = tree_flatten(tuple(dyn))
        out_tree_box = []

        def flat_fun(*xs):
            it = iter(tree_unflatten(in_tree, list(xs)))
            full = [static[i] if i in static else next(it) for i in range(len(args))]
            out, tree = tree_flatten(fun(*full))
            out_tree_box.append(tree)
            return out

        closed = trace_to_jaxpr(flat_fun, [core.get_aval(x) for x in flat])
        call_jaxpr, consts = _closure_convert(closed)
        # constants become leading inputs, so the split above can treat them like arguments
        outs = checkpoint_p.bind(*consts, *flat, call_jaxpr=call_jaxpr, policy=policy,
                                 name=name)
        return tree_unflatten(out_tree_box[0], outs)

    return wrapped


remat = checkpoint
