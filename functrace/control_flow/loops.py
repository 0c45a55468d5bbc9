"""``while_loop`` and ``fori_loop``.

One ``while`` equation::

    *carry_out = while[cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts]
                     *cond_consts, *body_consts, *init

- ``cond_jaxpr``: ``ClosedJaxpr`` ``(*cond_consts, *carry) -> bool[]``.
- ``body_jaxpr``: ``ClosedJaxpr`` ``(*body_consts, *carry) -> (*carry)``.
- ``cond_nconsts``/``body_nconsts``: how many leading operands are each function's constants
  (the values the user's functions closed over). The sub-jaxprs have no constants of their own
  (``bind_while`` turns them into leading operands of their group).

The trip count is not known ahead, so reverse-mode differentiation is not defined (the forward
values of every iteration would have to be stored); forward mode, ``linearize`` and ``vmap``
work. ``fori_loop`` with static Python-int bounds is a ``scan`` instead, so it is reverse
differentiable; with traced bounds it is a ``while``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import ad, batching, core, partial_eval
from ..ad import Zero
from ..core import Primitive, Tracer
from ..ops import basic
from ..ops import reductions as reduction_ops
from ..tracing import trace_to_jaxpr
from ..tree_util import tree_flatten, tree_unflatten
from ._common import (
    batch_jaxpr,
    carry_avals,
    carry_type_error,
    eval_closed,
    flatten_carry,
    insert_unused_invars,
    interleave,
    keep_outputs,
    move_to_front,
    permute_invars,
    promote_weak_carry,
    split_list,
    tidy,
    trace_flat,
    tree_type_str,
)
from .scan import scan

__all__ = ["while_loop", "fori_loop"]

while_p = Primitive("while", multiple_results=True)


def _split_ops(ops, cond_nconsts: int, body_nconsts: int) -> list[list]:
    return split_list(ops, [cond_nconsts, body_nconsts])


# ---------------------------------------------------------------------------------------------
# Type and reference implementation
# ---------------------------------------------------------------------------------------------


def _while_shape(*avals, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    cc, bc, carry = _split_ops(avals, cond_nconsts, body_nconsts)
    if list(cond_jaxpr.in_avals) != cc + carry:
        raise TypeError(f"while: cond_jaxpr takes {[a.str_short() for a in cond_jaxpr.in_avals]}"
                        f" but gets {[a.str_short() for a in cc + carry]}")
    pred = cond_jaxpr.out_avals
    if len(pred) != 1 or pred[0].shape != () or pred[0].dtype != np.bool_:
        raise TypeError(f"while: cond_jaxpr must return one bool scalar, got "
                        f"{[a.str_short() for a in pred]}")
    if list(body_jaxpr.in_avals) != bc + carry or list(body_jaxpr.out_avals) != carry:
        raise TypeError(f"while: body_jaxpr has type {[a.str_short() for a in body_jaxpr.in_avals]}"
                        f" -> {[a.str_short() for a in body_jaxpr.out_avals]} but the consts and "
                        f"carry are {[a.str_short() for a in bc + carry]}")
    return carry


def _while_impl(*ops, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    cc, bc, carry = _split_ops(ops, cond_nconsts, body_nconsts)
    while bool(eval_closed(cond_jaxpr, *cc, *carry)[0]):
        carry = eval_closed(body_jaxpr, *bc, *carry)
    return [np.asarray(c) for c in carry]


core.shape_rules[while_p] = _while_shape
core.impl_rules[while_p] = _while_impl


def bind_while(cond_consts, body_consts, carry, *, cond_jaxpr, body_jaxpr) -> list:
    """Apply ``while_p``; each sub-jaxpr's own constants become leading operands of its group."""
    cond_jaxpr, cond_hoisted = tidy(cond_jaxpr)
    body_jaxpr, body_hoisted = tidy(body_jaxpr)
    return while_p.bind(*cond_hoisted, *cond_consts, *body_hoisted, *body_consts, *carry,
                        cond_jaxpr=cond_jaxpr, body_jaxpr=body_jaxpr,
                        cond_nconsts=len(cond_hoisted) + len(cond_consts),
                        body_nconsts=len(body_hoisted) + len(body_consts))


# ---------------------------------------------------------------------------------------------
# Forward mode
# ---------------------------------------------------------------------------------------------


def _while_jvp(primals, tangents, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    nonzero = [not isinstance(t, Zero) for t in tangents]
    _, bc_nz, carry_nz = _split_ops(nonzero, cond_nconsts, body_nconsts)
    while True:  # fixpoint: which carry tangents are nonzero
        body_jvp, out_nz = ad.jvp_jaxpr(body_jaxpr, bc_nz + carry_nz, instantiate_out=carry_nz)
        if out_nz == carry_nz:
            break
        carry_nz = [a or b for a, b in zip(carry_nz, out_nz)]
    nb, nc = body_nconsts, len(carry_nz)
    kb, kc = sum(bc_nz), sum(carry_nz)
    # jvp_jaxpr takes (consts, carry, consts_t, carry_t); the while wants the consts' tangents
    # among the consts.
    order = (list(range(nb)) + list(range(nb + nc, nb + nc + kb)) + list(range(nb, nb + nc))
             + list(range(nb + nc + kb, nb + nc + kb + kc)))
    body_jvp = permute_invars(body_jvp, order)
    carry_avals = body_jaxpr.out_avals
    cond_jvp = insert_unused_invars(cond_jaxpr, len(cond_jaxpr.in_avals),
                                    [a for a, nz in zip(carry_avals, carry_nz) if nz])
    cc, bc, carry = _split_ops(primals, cond_nconsts, body_nconsts)
    _, t_bc, t_carry = _split_ops(tangents, cond_nconsts, body_nconsts)
    outs = bind_while(cc, [*bc, *[t for t in t_bc if not isinstance(t, Zero)]],
                      [*carry, *[ad.instantiate(t) for t, nz in zip(t_carry, carry_nz) if nz]],
                      cond_jaxpr=cond_jvp, body_jaxpr=body_jvp)
    return outs[:nc], interleave(carry_nz, outs[nc:], [Zero(a) for a in carry_avals])


ad.jvp_rules[while_p] = _while_jvp


# ---------------------------------------------------------------------------------------------
# Partial evaluation (for linearize) and the reverse-mode error
# ---------------------------------------------------------------------------------------------


def _while_partial_eval(trace, tracers, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    params = dict(cond_jaxpr=cond_jaxpr, body_jaxpr=body_jaxpr, cond_nconsts=cond_nconsts,
                  body_nconsts=body_nconsts)
    in_uk = [not t.is_known() for t in tracers]
    cc_uk, bc_uk, carry_uk = _split_ops(in_uk, cond_nconsts, body_nconsts)
    while True:  # fixpoint: which carries are unknown
        body_known, _, out_uk, _ = partial_eval.partial_eval_jaxpr(
            body_jaxpr, bc_uk + carry_uk, instantiate=carry_uk)
        if out_uk == carry_uk:
            break
        carry_uk = [a or b for a, b in zip(carry_uk, out_uk)]
    cond_known, _, pred_uk, _ = partial_eval.partial_eval_jaxpr(cond_jaxpr, cc_uk + carry_uk)
    if pred_uk[0] or all(carry_uk):
        return trace.stage(while_p, tracers, params)
    # The known carries evolve on their own: compute them now with a loop restricted to them.
    # The unknown ones are computed by the whole loop, staged (it recomputes the known part).
    n_kcarry = len(carry_uk) - sum(carry_uk)
    cond_k = keep_outputs(cond_known, [True] + [False] * (len(cond_known.out_avals) - 1))
    body_k = keep_outputs(body_known, [True] * n_kcarry
                          + [False] * (len(body_known.out_avals) - n_kcarry))
    cc, bc, carry = _split_ops(tracers, cond_nconsts, body_nconsts)
    k_cc = [t.known for t, u in zip(cc, cc_uk) if not u]
    k_bc = [t.known for t, u in zip(bc, bc_uk) if not u]
    k_carry = [t.known for t, u in zip(carry, carry_uk) if not u]
    known_outs = bind_while(k_cc, k_bc, k_carry, cond_jaxpr=cond_k, body_jaxpr=body_k)
    known_tracers = [trace.pure(o) for o in known_outs]
    if not any(carry_uk):
        return known_tracers
    staged = trace.stage(while_p, tracers, params)
    return interleave(carry_uk, [s for s, u in zip(staged, carry_uk) if u], known_tracers)


partial_eval.partial_eval_rules[while_p] = _while_partial_eval


def _while_transpose(cts, *args, **params):
    raise ValueError(
        "Reverse-mode differentiation does not work for lax.while_loop or lax.fori_loop with "
        "traced (non-static) bounds: the number of iterations is only known at run time, so "
        "the values of each iteration cannot be stored for the backward pass. Use lax.scan, or "
        "lax.fori_loop with static Python-int bounds, instead (or forward mode: jvp, jacfwd, "
        "linearize).")


ad.transpose_rules[while_p] = _while_transpose


# ---------------------------------------------------------------------------------------------
# Batching
# ---------------------------------------------------------------------------------------------


def _while_batch(vals, dims, axis_size, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    vals = move_to_front(vals, dims)
    batched = [d is not None for d in dims]
    cc_b, bc_b, carry_b = _split_ops(batched, cond_nconsts, body_nconsts)
    pred_b = False
    while True:  # fixpoint: which carries are batched, and whether the predicate is
        _, out_b = batch_jaxpr(body_jaxpr, axis_size, bc_b + carry_b, carry_b)
        _, (pred_b,) = batch_jaxpr(cond_jaxpr, axis_size, cc_b + carry_b, False)
        if pred_b:
            carry_b = [True] * len(carry_b)
        new = [a or b for a, b in zip(carry_b, out_b)]
        if new == carry_b:
            break
        carry_b = new
    cc, bc, carry = _split_ops(vals, cond_nconsts, body_nconsts)
    was_batched = _split_ops(batched, cond_nconsts, body_nconsts)[2]
    carry = [batching.bdim_at(c, 0 if wb else None, axis_size, 0) if b else c
             for c, wb, b in zip(carry, was_batched, carry_b)]
    body_b, _ = batch_jaxpr(body_jaxpr, axis_size, bc_b + carry_b, carry_b)
    cond_b, _ = batch_jaxpr(cond_jaxpr, axis_size, cc_b + carry_b, False)
    out_dims = [0 if b else None for b in carry_b]
    if not pred_b:
        outs = bind_while(cc, bc, carry, cond_jaxpr=cond_b, body_jaxpr=body_b)
        return outs, out_dims
    # Each example stops at its own iteration: run while any example is still going, and let
    # the body leave finished examples unchanged.
    cc_avals = list(cond_b.in_avals[:cond_nconsts])
    carry_avals = list(body_b.out_avals)

    def any_cond(*args):
        (pred,) = eval_closed(cond_b, *args)
        return [reduction_ops.reduce_or(pred, (0,))]

    def masked_body(*args):
        c_consts, b_consts, c = split_list(args, [cond_nconsts, body_nconsts])
        (pred,) = eval_closed(cond_b, *c_consts, *c)
        new = eval_closed(body_b, *b_consts, *c)
        return [basic.select(basic.broadcast_in_dim(pred, core.get_aval(n).shape, (0,)), n, old)
                for n, old in zip(new, c)]

    new_cond = trace_to_jaxpr(any_cond, cc_avals + carry_avals)
    new_body = trace_to_jaxpr(masked_body, cc_avals + list(body_b.in_avals))
    outs = bind_while(cc, [*cc, *bc], carry, cond_jaxpr=new_cond, body_jaxpr=new_body)
    return outs, out_dims


batching.batch_rules[while_p] = _while_batch


# ---------------------------------------------------------------------------------------------
# The user-facing functions
# ---------------------------------------------------------------------------------------------


def _trace_carry_fun(fun, treedef, avals):
    box: list = []

    def flat_fun(*xs):
        out = fun(tree_unflatten(treedef, xs))
        leaves, tree = tree_flatten(out)
        box.append(tree)
        return leaves

    jaxpr, consts = trace_flat(flat_fun, avals)
    return jaxpr, consts, box[0]


def while_loop(cond_fun: Callable, body_fun: Callable, init_val: Any):
    """``val = init_val; while cond_fun(val): val = body_fun(val)``, staged as one equation
    (JAX's ``lax.while_loop``).

    ``cond_fun`` must return a boolean scalar; ``body_fun`` must return a value of the carry's
    pytree structure, shapes and dtypes (initial leaves given as Python scalars take the dtype
    the body produces). Differentiable in forward mode only; batchable (with a batched
    condition the loop runs until every example is done).
    """
    if not (callable(cond_fun) and callable(body_fun)):
        raise TypeError("while_loop: cond_fun and body_fun must be callable")
    flat_init, tree, avals, weak = flatten_carry(init_val, "while_loop init_val")
    for _ in range(2):  # a second trace only if weakly typed carries were promoted
        body_jaxpr, body_consts, body_tree = _trace_carry_fun(body_fun, tree, avals)
        if body_tree != tree:
            break
        flat_init, changed = promote_weak_carry(flat_init, weak, body_jaxpr.out_avals)
        if not changed:
            break
        avals = carry_avals(flat_init, weak, body_jaxpr.out_avals)
    err = carry_type_error("while_loop", "body_fun", tree, avals, body_tree,
                           body_jaxpr.out_avals)
    if err is not None:
        raise err
    cond_jaxpr, cond_consts, cond_tree = _trace_carry_fun(cond_fun, tree, avals)
    pred = cond_jaxpr.out_avals
    if cond_tree.num_leaves != 1 or pred[0].shape != () or pred[0].dtype != np.bool_:
        raise TypeError(f"while_loop: cond_fun must return a boolean scalar, but it returned "
                        f"{tree_type_str(cond_tree, pred)}")
    outs = bind_while(cond_consts, body_consts, flat_init, cond_jaxpr=cond_jaxpr,
                      body_jaxpr=body_jaxpr)
    return tree_unflatten(tree, outs)


def _static_int(x) -> int | None:
    """The Python int behind a bound, or None when it is only known at run time."""
    if isinstance(x, Tracer):
        return None
    if isinstance(x, (bool, np.bool_)):
        return None
    if isinstance(x, (int, np.integer)) or isinstance(x, np.ndarray) and x.shape == () and \
            np.issubdtype(x.dtype, np.integer):
        return int(x)
    return None


def fori_loop(lower, upper, body_fun: Callable, init_val: Any, *,
              unroll: int | bool | None = None):
    """``val = init_val; for i in range(lower, upper): val = body_fun(i, val)`` (JAX's
    ``lax.fori_loop``).

    With static (Python or NumPy integer) bounds the loop is a ``scan`` of ``upper - lower``
    steps and is reverse differentiable; with traced bounds it is a ``while_loop`` (forward
    mode only). ``i`` has the dtype the bounds promote to (int64 for Python ints, weakly typed
    as in JAX when both bounds are static Python ints). ``unroll``
    is passed to ``scan`` with static bounds (see there) and ignored otherwise.
    """
    if not callable(body_fun):
        raise TypeError("fori_loop: body_fun must be callable")
    for b in (lower, upper):
        aval = core.get_aval(b if isinstance(b, Tracer) else np.asarray(b))
        if aval.shape != () or not (np.issubdtype(aval.dtype, np.integer)
                                    or np.issubdtype(aval.dtype, np.floating)):
            raise TypeError(f"fori_loop: the bounds must be integer scalars, got "
                            f"{aval.str_short()}")
    dtype = np.result_type(*[core.get_aval(b).dtype if isinstance(b, (Tracer, np.ndarray,
                                                                      np.generic)) else b
                             for b in (lower, upper)])
    lo, hi = _static_int(lower), _static_int(upper)
    if lo is not None and hi is not None:
        def step(carry, _):
            i, x = carry
            return (basic.add(i, 1), body_fun(i, x)), None

        # Python-int bounds give a weakly typed index, as in JAX (``i * x32`` stays float32)
        py_bounds = all(type(b) is int for b in (lower, upper))
        (_, out), _ = scan(step, (lo if py_bounds else np.asarray(lo, dtype), init_val), None,
                           length=max(hi - lo, 0), unroll=1 if unroll is None else unroll)
        return out

    if not all(core.is_weak(b) and not isinstance(b, bool) for b in (lower, upper)):
        # weakly typed bounds (Python ints, traced or not) are kept so ``i`` stays weak
        lower, upper = (basic.convert_element_type(b if isinstance(b, Tracer) else np.asarray(b),
                                                 dtype) for b in (lower, upper))

    def cond_fun(carry):
        return basic.lt(carry[0], carry[1])

    def body(carry):
        i, hi_, x = carry
        return basic.add(i, 1), hi_, body_fun(i, x)

    _, _, out = while_loop(cond_fun, body, (lower, upper, init_val))
    return out
