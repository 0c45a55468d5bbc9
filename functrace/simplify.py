"""Program clean-up passes: dead-code elimination, common-subexpression elimination, and
products with identity matrices.

Run on every staged program (``make_jaxpr``, ``jit``, the linear part of ``vjp``) so that printed
and compiled programs contain only the work that is needed, done once. Jacobians push the
standard basis (an identity matrix constant) through the derivative; ``diagonal_jaxpr`` turns
the matrix products and scalings of that basis into elementwise work (O(n^2) instead of a GEMM).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .core import ClosedJaxpr, Eqn, Jaxpr, Literal, Primitive, ShapedArray, Var


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


# functrace's own primitives that the rewrites below recognise, by name; each is registered by
# the module that defines it (ops.elementwise, ops.structural, ops.linalg), which sits above
# this one.
known_primitives: dict[str, Primitive] = {}


def _scalar_constant(a, filled: dict):
    """The Python value of a scalar literal or of a broadcast of one, else None."""
    if isinstance(a, Literal):
        return a.val.item() if hasattr(a.val, "item") else a.val
    return filled.get(a) if isinstance(a, Var) else None


def peephole_jaxpr(jaxpr: Jaxpr) -> Jaxpr:
    """Drop arithmetic identities on real numbers: ``x * 1``, ``1 * x``, ``x - 0``, ``x / 1``
    (each exact, for every real x including -0.0, inf and NaN; ``x + 0`` is not: -0.0 + 0 is
    +0.0). The ``1`` and ``0`` are scalar literals or broadcasts of one, as reverse mode makes
    for the seed of ``sum``. Only when the surviving operand has exactly the result's type."""
    # by primitive object: a user's primitive called "mul" is not functrace's mul
    names = {p: n for n, p in known_primitives.items()
             if n in ("mul", "sub", "div", "broadcast_in_dim", "convert_element_type")}
    arith = [p for p, n in names.items() if n in ("mul", "sub", "div")]
    if not any(e.primitive in arith for e in jaxpr.eqns):
        return jaxpr
    filled: dict = {}   # var -> the scalar literal value it is a broadcast of
    rename: dict = {}
    eqns: list[Eqn] = []

    def sub(a):
        return rename.get(a, a) if isinstance(a, Var) else a

    for eqn in jaxpr.eqns:
        invars = [sub(a) for a in eqn.invars]
        if any(a is not b for a, b in zip(invars, eqn.invars)):
            eqn = eqn.replace(invars=invars)
        name, out = names.get(eqn.primitive), eqn.outvars[0]
        if (name == "broadcast_in_dim" and not eqn.params["broadcast_dimensions"]
                and _scalar_constant(invars[0], filled) is not None):
            filled[out] = _scalar_constant(invars[0], filled)
        elif name == "convert_element_type" and _scalar_constant(invars[0], filled) is not None:
            value = _scalar_constant(invars[0], filled)
            if value in (0, 1) and not isinstance(value, complex):
                filled[out] = value  # 0 and 1 are exact in every dtype
        elif name in ("mul", "sub", "div") and len(invars) == 2 and out.aval.dtype.kind in "fiu":
            x, y = invars
            keep = None
            if name == "mul" and _scalar_constant(y, filled) == 1:
                keep = x
            elif name == "mul" and _scalar_constant(x, filled) == 1:
                keep = y
            elif name == "sub" and _scalar_constant(y, filled) == 0:
                keep = x
            elif name == "div" and _scalar_constant(y, filled) == 1:
                keep = x
            if (isinstance(keep, Var) and keep.aval == out.aval
                    and getattr(keep.aval, "weak_type", False) == getattr(out.aval, "weak_type",
                                                                          False)):
                rename[out] = keep
                continue
        eqns.append(eqn)
    return Jaxpr(jaxpr.constvars, jaxpr.invars, [sub(v) for v in jaxpr.outvars], eqns)


def simplify(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Arithmetic identities dropped, CSE, products with identity matrices made elementwise,
    DCE; and constants nothing reads dropped."""
    jaxpr = cse_jaxpr(peephole_jaxpr(closed.jaxpr))
    identities = identity_constvars(closed)
    if identities:
        jaxpr = diagonal_jaxpr(jaxpr, identities)
    jaxpr = dce_jaxpr(jaxpr)
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


# ---------------------------------------------------------------------------------------------
# Identity and diagonal matrices (the standard basis of jacfwd/jacrev)
# ---------------------------------------------------------------------------------------------


def _is_identity(c) -> bool:
    if not (isinstance(c, np.ndarray) and c.ndim == 2 and c.shape[0] == c.shape[1]
            and c.shape[0] > 1 and c.dtype.kind in "fc"):
        return False
    return bool(np.count_nonzero(c) == c.shape[0] and (np.diagonal(c) == 1).all())


def identity_constvars(closed: ClosedJaxpr) -> set:
    """The constvars of ``closed`` whose value is an identity matrix (a Jacobian's basis)."""
    return {v for v, c in zip(closed.jaxpr.constvars, closed.consts) if _is_identity(c)}


class _Builder:
    """Appends new equations (typed by the shape rules) while rewriting a jaxpr."""

    def __init__(self, eqns: list, source_info):
        self.eqns = eqns
        self.source_info = source_info

    def __call__(self, prim, invars, **params) -> Var:
        from . import core
        aval = core.abstract_eval(prim, [a.aval for a in invars], params)[0]
        out = Var(aval)
        self.eqns.append(Eqn(prim, invars, [out], params, self.source_info))
        return out


def diagonal_jaxpr(jaxpr: Jaxpr, identities: set) -> Jaxpr:
    """Rewrite work on diagonal matrices built from the identity constvars ``identities``.

    A 2-D variable is known diagonal, ``diag(d)``, when it is an identity (``d`` is None: all
    ones) or a product, sum or transpose of diagonals and row/column broadcasts. For each such
    variable a vector ``d`` is computed alongside (the original equations are kept; DCE drops
    them when nothing reads the full matrix any more), and ``dot_general`` with a diagonal
    operand becomes a transpose and an elementwise scaling of the other operand. The values are
    those of the dense products for finite inputs (each dense sum has one nonzero term).
    """
    # a primitive not registered (its module not imported) cannot occur in the program
    absent = object()
    mul_p, add_p, sub_p, neg_p, bcast_p, transpose_p, dot_p, reshape_p = (
        known_primitives.get(n, absent) for n in ("mul", "add", "sub", "neg", "broadcast_in_dim",
                                                  "transpose", "dot_general", "reshape"))
    diag: dict = {v: None for v in identities}   # diagonal var -> its diagonal (None: ones)
    rows: dict = {}                               # (n, n) broadcast of a vector/scalar -> it
    rename: dict = {}
    eqns: list = []

    def sub(a):
        return rename.get(a, a) if isinstance(a, Var) else a

    for eqn in jaxpr.eqns:
        invars = [sub(a) for a in eqn.invars]
        if any(a is not b for a, b in zip(invars, eqn.invars)):
            eqn = eqn.replace(invars=invars)
        emit = _Builder(eqns, eqn.source_info)
        prim, out = eqn.primitive, eqn.outvars[0]
        aval = out.aval

        def vec(d, like=aval, emit=emit):
            """The diagonal ``d`` as an array (materialising all-ones)."""
            if d is not None:
                return d
            one = Literal(np.ones((), like.dtype)[()], ShapedArray((), like.dtype))
            return emit(bcast_p, [one], shape=(like.shape[0],), broadcast_dimensions=())

        def known(a):
            return isinstance(a, Var) and a in diag

        if prim is bcast_p and aval.ndim == 2 and aval.shape[0] == aval.shape[1]:
            x, dims = invars[0], eqn.params["broadcast_dimensions"]
            n = aval.shape[0]
            if x.aval.ndim == 0 or (x.aval.ndim == 1 and x.aval.shape[0] == n and len(dims) == 1
                                    ) or (x.aval.ndim == 2 and sorted(x.aval.shape) == [1, n]):
                rows[out] = x
        elif prim is mul_p and (known(invars[0]) or known(invars[1])):
            d, other = (invars[0], invars[1]) if known(invars[0]) else (invars[1], invars[0])
            if known(other):
                u = diag[other]
            elif isinstance(other, Var) and other in rows or isinstance(other, Literal):
                u = rows[other] if isinstance(other, Var) else other
                if u.aval.ndim == 0:
                    u = emit(bcast_p, [u], shape=(aval.shape[0],), broadcast_dimensions=())
                elif u.aval.ndim == 2:  # a (1, n) or (n, 1) row/column
                    u = emit(reshape_p, [u], new_sizes=(aval.shape[0],))
            else:
                u = False
            if u is not False:
                dv = diag[d]
                diag[out] = u if dv is None else dv if u is None else emit(mul_p, [dv, u])
        elif prim in (add_p, sub_p) and known(invars[0]) and known(invars[1]):
            diag[out] = emit(prim, [vec(diag[invars[0]]), vec(diag[invars[1]])])
        elif prim is neg_p and known(invars[0]):
            diag[out] = emit(neg_p, [vec(diag[invars[0]])])
        elif prim is transpose_p and known(invars[0]):
            diag[out] = diag[invars[0]]
        elif prim is dot_p and (known(invars[0]) or known(invars[1])):
            new = _dot_with_diagonal(eqn, invars, diag, emit, bcast_p, transpose_p, mul_p)
            if new is not None:
                rename[out] = new
                continue
        eqns.append(eqn)
    outvars = [sub(v) for v in jaxpr.outvars]
    return Jaxpr(jaxpr.constvars, jaxpr.invars, outvars, eqns)


def _dot_with_diagonal(eqn, invars, diag, emit, bcast_p, transpose_p, mul_p):
    """``dot_general`` with a diagonal operand as transpose + scaling of the other, or None."""
    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    pet = eqn.params.get("preferred_element_type")
    out_aval = eqn.outvars[0].aval
    lhs, rhs = invars
    if lb or rb or len(lc) != 1 or (pet is not None and np.dtype(pet) != lhs.aval.dtype):
        return None
    if isinstance(rhs, Var) and rhs in diag:     # result[..., j] = A[.., j at p, ..] * d[j]
        a, p, d, last = lhs, lc[0], diag[rhs], True
    elif isinstance(lhs, Var) and lhs in diag:   # result[j, ...] = d[j] * A[.., j at p, ..]
        a, p, d, last = rhs, rc[0], diag[lhs], False
    else:
        return None
    if not isinstance(a, Var):
        return None
    others = [i for i in range(a.aval.ndim) if i != p]
    perm = tuple(others + [p]) if last else tuple([p] + others)
    moved = a if perm == tuple(range(a.aval.ndim)) else emit(transpose_p, [a], permutation=perm)
    if d is None:
        res = moved
    else:
        axis = out_aval.ndim - 1 if last else 0
        res = emit(mul_p, [moved, emit(bcast_p, [d], shape=out_aval.shape,
                                       broadcast_dimensions=(axis,))])
    return res if res.aval == out_aval else None
