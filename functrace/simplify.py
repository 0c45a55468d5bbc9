"""Program clean-up passes: dead-code elimination and common-subexpression elimination.

Run on every staged program (``make_jaxpr``, ``jit``, the linear part of ``vjp``) so that printed
and compiled programs contain only the work that is needed, done once.
"""

from __future__ import annotations

from collections.abc import Sequence

from .core import ClosedJaxpr, Eqn, Jaxpr, Literal, Var


def dce_jaxpr(jaxpr: Jaxpr, used_outputs: Sequence[bool] | None = None,
              prune_invars: bool = False) -> Jaxpr:
    """Drop equations whose outputs nobody reads (primitives here have no side effects)."""
    outvars = jaxpr.outvars if used_outputs is None else [
        v for v, u in zip(jaxpr.outvars, used_outputs) if u]
    live = {v for v in outvars if isinstance(v, Var)}
    kept = []
    for eqn in reversed(jaxpr.eqns):
        if any(v in live for v in eqn.outvars):
            kept.append(eqn)
            live.update(v for v in eqn.invars if isinstance(v, Var))
    kept.reverse()
    invars = [v for v in jaxpr.invars if v in live] if prune_invars else jaxpr.invars
    return Jaxpr(jaxpr.constvars, invars, outvars, kept)


def _key(atom):
    if isinstance(atom, Literal):
        return ("lit", atom.aval, atom.val.item() if hasattr(atom.val, "item") else atom.val)
    return atom


def cse_jaxpr(jaxpr: Jaxpr) -> Jaxpr:
    """Merge equations that apply the same primitive, with the same params, to the same inputs."""
    rename: dict[Var, Var] = {}
    seen: dict = {}
    eqns: list[Eqn] = []

    def sub(a):
        return rename.get(a, a) if isinstance(a, Var) else a

    for eqn in jaxpr.eqns:
        invars = [sub(a) for a in eqn.invars]
        try:
            key = (eqn.primitive, tuple(_key(a) for a in invars),
                   tuple(sorted(eqn.params.items())))
            hash(key)
        except TypeError:
            key = None
        prev = seen.get(key) if key is not None else None
        if prev is not None:
            rename.update(zip(eqn.outvars, prev.outvars))
            continue
        new = eqn.replace(invars=invars) if invars != list(eqn.invars) else eqn
        if key is not None:
            seen[key] = new
        eqns.append(new)
    return Jaxpr(jaxpr.constvars, jaxpr.invars, [sub(v) for v in jaxpr.outvars], eqns)


def simplify(closed: ClosedJaxpr) -> ClosedJaxpr:
    """CSE then DCE, and drop constants nothing reads."""
    jaxpr = dce_jaxpr(cse_jaxpr(closed.jaxpr))
    used = {v for e in jaxpr.eqns for v in e.invars if isinstance(v, Var)}
    used.update(v for v in jaxpr.outvars if isinstance(v, Var))
    keep = [i for i, v in enumerate(jaxpr.constvars) if v in used]
    return ClosedJaxpr(Jaxpr([jaxpr.constvars[i] for i in keep], jaxpr.invars, jaxpr.outvars,
                             jaxpr.eqns), [closed.consts[i] for i in keep])


# Primitives that only wrap a sub-program ``call_jaxpr`` (its inputs are the equation's inputs)
# to carry information for transformations, e.g. a custom derivative rule. A backend that has
# nothing to do with that information inlines them.
inlinable_primitives: set = set()


def inline_calls(jaxpr: Jaxpr) -> Jaxpr:
    """Replace each equation of an ``inlinable_primitives`` primitive by its ``call_jaxpr``."""
    if not any(e.primitive in inlinable_primitives for e in jaxpr.eqns):
        return jaxpr
    eqns: list[Eqn] = []
    rename: dict[Var, object] = {}

    def sub(a):
        return rename.get(a, a) if isinstance(a, Var) else a

    for eqn in jaxpr.eqns:
        if eqn.primitive not in inlinable_primitives:
            eqns.append(eqn.replace(invars=[sub(a) for a in eqn.invars]))
            continue
        inner = eqn.params["call_jaxpr"]
        inner_jaxpr = inline_calls(inner.jaxpr)
        env: dict[Var, object] = dict(zip(inner_jaxpr.constvars, _const_atoms(inner)))
        env.update(zip(inner_jaxpr.invars, [sub(a) for a in eqn.invars]))
        for ie in inner_jaxpr.eqns:
            outs = [Var(v.aval) for v in ie.outvars]
            eqns.append(ie.replace(invars=[env.get(a, a) if isinstance(a, Var) else a
                                           for a in ie.invars], outvars=outs))
            env.update(zip(ie.outvars, outs))
        for v, o in zip(eqn.outvars, inner_jaxpr.outvars):
            rename[v] = env.get(o, o) if isinstance(o, Var) else o
    outvars = [sub(v) for v in jaxpr.outvars]
    return Jaxpr(jaxpr.constvars, jaxpr.invars, outvars, eqns)


def _const_atoms(inner: ClosedJaxpr):
    if inner.consts:
        raise NotImplementedError("inline_calls expects closure-converted call_jaxprs")
    return []
