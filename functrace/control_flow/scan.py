"""``scan`` (and ``map``): a loop with a fixed trip count that carries state and stacks outputs.

One ``scan`` equation::

    *carry_out, *ys = scan[jaxpr, num_consts, num_carry, length, reverse, unroll] \
                          *consts, *init, *xs

- ``jaxpr``: a ``ClosedJaxpr`` ``(*consts, *carry, *x_slices) -> (*carry, *y_slices)`` with
  no constants of its own (``bind_scan`` turns them into leading consts operands).
- ``num_consts``: how many leading operands are loop-invariant (the values the user's body
  closed over come first among them); ``num_carry``: how many carries follow.
- ``length``: the trip count (a Python int); every ``xs`` operand has shape ``(length, ...)``
  and every ``ys`` output likewise.
- ``reverse``: iterate ``i = length - 1, ..., 0`` instead of ``0, ..., length - 1``; ``xs[i]``
  is read and ``ys[i]`` written at step ``i`` either way.
- ``unroll``: how many copies of the body the compiled loop runs per iteration (a performance
  hint only: the results are the same for every value; transformations keep it).

Reverse mode stores the body's residuals stacked per iteration (the known part of the split body
is another scan that outputs them as extra ``ys``; residuals that are loop-invariant operands are
passed as consts instead) and runs the transposed body as a scan in the opposite direction, with
the consts' cotangents accumulated in its carry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import ad, batching, core, partial_eval
from ..ad import Zero, is_undefined
from ..core import Primitive, ShapedArray, Tracer
from ..tracing import trace_to_jaxpr
from ..tree_util import tree_flatten, tree_unflatten
from ._common import (
    batch_jaxpr,
    batched_aval,
    carry_type_error,
    eval_closed,
    flatten_carry,
    flatten_operands,
    interleave,
    keep_outputs,
    permute_invars,
    permute_outvars,
    promote_weak_carry,
    split_list,
    tidy,
    trace_flat,
    tree_type_str,
)
from ._common import (
    carry_avals as carry_avals_of,
)

__all__ = ["scan", "map"]

scan_p = Primitive("scan", multiple_results=True)


def _split_ops(ops, num_consts: int, num_carry: int) -> list[list]:
    return split_list(ops, [num_consts, num_carry])


def _stacked(aval: ShapedArray, length: int) -> ShapedArray:
    return batched_aval(aval, length)


# ---------------------------------------------------------------------------------------------
# Type and reference implementation
# ---------------------------------------------------------------------------------------------


def _scan_shape(*avals: ShapedArray, jaxpr, num_consts, num_carry, length, reverse,
                unroll=1):
    in_avals, out_avals = jaxpr.in_avals, jaxpr.out_avals
    if len(avals) != len(in_avals):
        raise TypeError(f"scan: the body takes {len(in_avals)} inputs but the equation has "
                        f"{len(avals)} operands")
    consts, carry, xs = _split_ops(avals, num_consts, num_carry)
    b_consts, b_carry, b_xs = _split_ops(in_avals, num_consts, num_carry)
    if consts != b_consts:
        raise TypeError(f"scan: consts typed {[a.str_short() for a in consts]} but the body "
                        f"takes {[a.str_short() for a in b_consts]}")
    if carry != b_carry or list(out_avals[:num_carry]) != b_carry:
        raise TypeError(f"scan: carry typed {[a.str_short() for a in carry]}, the body takes "
                        f"{[a.str_short() for a in b_carry]} and returns "
                        f"{[a.str_short() for a in out_avals[:num_carry]]}")
    if xs != [_stacked(a, length) for a in b_xs]:
        raise TypeError(f"scan: xs typed {[a.str_short() for a in xs]} but the body takes "
                        f"slices {[a.str_short() for a in b_xs]} and length is {length}")
    return list(carry) + [_stacked(a, length) for a in out_avals[num_carry:]]


def _scan_impl(*ops, jaxpr, num_consts, num_carry, length, reverse, unroll=1):
    consts, carry, xs = _split_ops(ops, num_consts, num_carry)
    carry = [np.asarray(c) for c in carry]
    ys = [np.empty((length,) + a.shape, a.dtype) for a in jaxpr.out_avals[num_carry:]]
    for i in (reversed(range(length)) if reverse else range(length)):
        outs = eval_closed(jaxpr, *consts, *carry, *[x[i] for x in xs])
        carry = [np.asarray(c) for c in outs[:num_carry]]
        for y, o in zip(ys, outs[num_carry:]):
            y[i] = o
    return carry + ys


core.shape_rules[scan_p] = _scan_shape
core.impl_rules[scan_p] = _scan_impl


def bind_scan(consts, carry, xs, *, jaxpr, length: int, reverse: bool, unroll: int = 1) -> list:
    """Apply ``scan_p``; the body's own constants become leading consts operands."""
    jaxpr, hoisted = tidy(jaxpr)
    return scan_p.bind(*hoisted, *consts, *carry, *xs, jaxpr=jaxpr,
                       num_consts=len(hoisted) + len(consts), num_carry=len(carry),
                       length=length, reverse=reverse, unroll=unroll)


# ---------------------------------------------------------------------------------------------
# Forward mode
# ---------------------------------------------------------------------------------------------


def _scan_jvp(primals, tangents, *, jaxpr, num_consts, num_carry, length, reverse,
              unroll=1):
    nonzero = [not isinstance(t, Zero) for t in tangents]
    c_nz, carry_nz, xs_nz = _split_ops(nonzero, num_consts, num_carry)
    n_ys = len(jaxpr.out_avals) - num_carry
    # Fixpoint: a carry's tangent is nonzero if it is on entry or the body makes it so.
    while True:
        jvp_closed, out_nz = ad.jvp_jaxpr(jaxpr, c_nz + carry_nz + xs_nz,
                                          instantiate_out=carry_nz + [False] * n_ys)
        if out_nz[:num_carry] == carry_nz:
            break
        carry_nz = [a or b for a, b in zip(carry_nz, out_nz[:num_carry])]
    ys_nz = out_nz[num_carry:]
    n_in = len(primals)
    n_c, n_car = num_consts, num_carry
    kc, kcar, kxs = sum(c_nz), sum(carry_nz), sum(xs_nz)
    # jvp_jaxpr takes (consts, carry, xs, consts_t, carry_t, xs_t); scan wants each group
    # followed by its tangents.
    t0 = n_in
    order = (list(range(n_c)) + list(range(t0, t0 + kc))
             + list(range(n_c, n_c + n_car)) + list(range(t0 + kc, t0 + kc + kcar))
             + list(range(n_c + n_car, n_in)) + list(range(t0 + kc + kcar, t0 + kc + kcar + kxs)))
    jvp_closed = permute_invars(jvp_closed, order)
    n_out = len(jaxpr.out_avals)
    kys = sum(ys_nz)
    out_order = (list(range(n_car)) + list(range(n_out, n_out + kcar))
                 + list(range(n_car, n_out)) + list(range(n_out + kcar, n_out + kcar + kys)))
    jvp_closed = permute_outvars(jvp_closed, out_order)
    consts, carry, xs = _split_ops(primals, n_c, n_car)
    t_consts, t_carry, t_xs = _split_ops(tangents, n_c, n_car)
    t_carry = [ad.instantiate(t) for t, nz in zip(t_carry, carry_nz) if nz]
    outs = bind_scan([*consts, *[t for t in t_consts if not isinstance(t, Zero)]],
                     [*carry, *t_carry], [*xs, *[t for t in t_xs if not isinstance(t, Zero)]],
                     jaxpr=jvp_closed, length=length, reverse=reverse, unroll=unroll)
    carry_out, carry_t, ys, ys_t = split_list(outs, [n_car, kcar, n_out - n_car])
    out_avals = _scan_shape(*[core.get_aval(p) for p in primals], jaxpr=jaxpr,
                            num_consts=n_c, num_carry=n_car, length=length, reverse=reverse)
    tangents_out = (interleave(carry_nz, carry_t, [Zero(a) for a in out_avals[:n_car]])
                    + interleave(ys_nz, ys_t, [Zero(a) for a in out_avals[n_car:]]))
    return carry_out + ys, tangents_out


ad.jvp_rules[scan_p] = _scan_jvp


# ---------------------------------------------------------------------------------------------
# Reverse mode: partial evaluation
# ---------------------------------------------------------------------------------------------


def _scan_partial_eval(trace, tracers, *, jaxpr, num_consts, num_carry, length, reverse,
                       unroll=1):
    in_uk = [not t.is_known() for t in tracers]
    c_uk, carry_uk, xs_uk = _split_ops(in_uk, num_consts, num_carry)
    n_ys = len(jaxpr.out_avals) - num_carry
    # Fixpoint: a carry is unknown if it is on entry or the body makes it so.
    while True:
        known, unknown, out_uk, num_res = partial_eval.partial_eval_jaxpr(
            jaxpr, c_uk + carry_uk + xs_uk, instantiate=carry_uk + [False] * n_ys)
        if out_uk[:num_carry] == carry_uk:
            break
        carry_uk = [a or b for a, b in zip(carry_uk, out_uk[:num_carry])]
    consts, carry, xs = _split_ops(tracers, num_consts, num_carry)
    k_consts = [t.known for t, u in zip(consts, c_uk) if not u]
    k_carry = [t.known for t, u in zip(carry, carry_uk) if not u]
    k_xs = [t.known for t, u in zip(xs, xs_uk) if not u]
    n_known_out = len(out_uk) - sum(out_uk)

    # Residuals that are loop-invariant need not be stacked: a known const input of the body
    # (or a constant of the known jaxpr) becomes a const of the unknown scan, and a known xs
    # input is passed on as it is.
    kj = known.jaxpr
    k_const_vars = {v: val for v, val in zip(kj.invars[:len(k_consts)], k_consts)}
    k_const_vars.update(zip(kj.constvars, known.consts))
    k_xs_vars = dict(zip(kj.invars[len(k_consts) + len(k_carry):], k_xs))
    res_kind = []  # ("const", value) | ("xs", value) | ("stacked", None)
    for v in kj.outvars[n_known_out:]:
        if isinstance(v, core.Var) and v in k_const_vars:
            res_kind.append(("const", k_const_vars[v]))
        elif isinstance(v, core.Var) and v in k_xs_vars:
            res_kind.append(("xs", k_xs_vars[v]))
        else:
            res_kind.append(("stacked", None))
    keep = [True] * n_known_out + [k == "stacked" for k, _ in res_kind]
    known_scan = keep_outputs(known, keep)
    outs = bind_scan(k_consts, k_carry, k_xs, jaxpr=known_scan, length=length, reverse=reverse,
                     unroll=unroll)
    known_outs, stacked = outs[:n_known_out], iter(outs[n_known_out:])
    known_tracers = [trace.pure(o) for o in known_outs]
    if not any(out_uk):
        return known_tracers

    # The unknown scan: consts (const residuals, unknown consts), carry (unknown carries),
    # xs (stacked residuals, unknown xs). Its body takes (residuals, unknown inputs) in
    # partial_eval_jaxpr's order; reorder to the scan layout.
    const_res = [i for i, (k, _) in enumerate(res_kind) if k == "const"]
    xs_res = [i for i, (k, _) in enumerate(res_kind) if k != "const"]
    n_uc, n_ucar = sum(c_uk), sum(carry_uk)
    order = (const_res + list(range(num_res, num_res + n_uc + n_ucar)) + xs_res
             + list(range(num_res + n_uc + n_ucar, len(unknown.in_avals))))
    unknown_scan = permute_invars(unknown, order)
    res_vals = [val if k != "stacked" else next(stacked) for k, val in res_kind]
    operands = ([trace.pure(res_vals[i]) for i in const_res]
                + [t for t, u in zip(consts, c_uk) if u]
                + [t for t, u in zip(carry, carry_uk) if u]
                + [trace.pure(res_vals[i]) for i in xs_res]
                + [t for t, u in zip(xs, xs_uk) if u])
    staged = trace.stage(scan_p, operands, dict(
        jaxpr=unknown_scan, num_consts=len(const_res) + n_uc, num_carry=n_ucar,
        length=length, reverse=reverse, unroll=unroll))
    return interleave(out_uk, staged, known_tracers)


partial_eval.partial_eval_rules[scan_p] = _scan_partial_eval


# ---------------------------------------------------------------------------------------------
# Reverse mode: transposition
# ---------------------------------------------------------------------------------------------


def _scan_transpose(cts, *args, jaxpr, num_consts, num_carry, length, reverse, unroll=1):
    consts, carry, xs = _split_ops(args, num_consts, num_carry)
    c_lin = [is_undefined(c) for c in consts]
    xs_lin = [is_undefined(x) for x in xs]
    # Carries are linear (a known carry value here is an instantiated zero tangent; the body is
    # linear in it jointly with the other linear inputs, so its cotangent is just dropped).
    linear_in = c_lin + [True] * num_carry + xs_lin
    res_consts = [c for c, lin in zip(consts, c_lin) if not lin]
    res_xs = [x for x, lin in zip(xs, xs_lin) if not lin]
    in_avals = jaxpr.in_avals
    b_consts, b_carry, b_xs = _split_ops(in_avals, num_consts, num_carry)
    lin_const_avals = [a for a, lin in zip(b_consts, c_lin) if lin]
    y_avals = jaxpr.out_avals[num_carry:]
    ct_carry, ct_ys = cts[:num_carry], cts[num_carry:]
    ct_carry = [ad.instantiate(c) for c in ct_carry]
    ys_nz = [not isinstance(c, Zero) for c in ct_ys]
    res_const_avals = [core.get_aval(r) for r in res_consts]
    res_x_avals = [a for a, lin in zip(b_xs, xs_lin) if not lin]
    ct_y_avals = [a for a, nz in zip(y_avals, ys_nz) if nz]
    lin_x_avals = [a for a, lin in zip(b_xs, xs_lin) if lin]
    xs_ct_nonzero: list[list[bool]] = []

    def body(*a):
        rc, acc, ctc, rx, cty = split_list(a, [len(res_consts), len(lin_const_avals), num_carry,
                                               len(res_xs)])
        full_args = (interleave(c_lin, [None] * len(lin_const_avals), rc) + [None] * num_carry
                     + interleave(xs_lin, [None] * len(lin_x_avals), rx))
        cts_out = ctc + interleave(ys_nz, cty, [Zero(a) for a in y_avals])
        cts_in = ad.backward_pass(jaxpr.jaxpr, jaxpr.consts, linear_in, full_args, cts_out)
        ct_c, ct_car, ct_x = _split_ops(cts_in, num_consts, num_carry)
        ct_c = [c for c, lin in zip(ct_c, c_lin) if lin]
        ct_x = [c for c, lin in zip(ct_x, xs_lin) if lin]
        new_acc = [ad.instantiate(ad.add_tangents(s, c)) for s, c in zip(acc, ct_c)]
        xs_ct_nonzero.append([not isinstance(c, Zero) for c in ct_x])
        return (new_acc + [ad.instantiate(c) for c in ct_car]
                + [c for c in ct_x if not isinstance(c, Zero)])

    transposed = trace_to_jaxpr(body, res_const_avals + lin_const_avals + list(b_carry)
                                + res_x_avals + ct_y_avals)
    acc_init = [ad.zeros_like_aval(a) for a in lin_const_avals]
    outs = bind_scan(res_consts, [*acc_init, *ct_carry],
                     [*res_xs, *[c for c in ct_ys if not isinstance(c, Zero)]],
                     jaxpr=transposed, length=length, reverse=not reverse, unroll=unroll)
    ct_consts, ct_init, ct_xs = split_list(outs, [len(lin_const_avals), num_carry])
    ct_xs_full = interleave(xs_ct_nonzero[0], ct_xs,
                            [Zero(_stacked(a, length)) for a in lin_x_avals])
    return (interleave(c_lin, ct_consts, [None] * len(res_consts)) + ct_init
            + interleave(xs_lin, ct_xs_full, [None] * len(res_xs)))


ad.transpose_rules[scan_p] = _scan_transpose


# ---------------------------------------------------------------------------------------------
# Batching
# ---------------------------------------------------------------------------------------------


def _scan_batch(vals, dims, axis_size, *, jaxpr, num_consts, num_carry, length, reverse,
                unroll=1):
    consts, carry, xs = _split_ops(vals, num_consts, num_carry)
    d_consts, d_carry, d_xs = _split_ops(dims, num_consts, num_carry)
    c_b = [d is not None for d in d_consts]
    carry_b = [d is not None for d in d_carry]
    xs_b = [d is not None for d in d_xs]
    n_ys = len(jaxpr.out_avals) - num_carry
    while True:
        batched, out_b = batch_jaxpr(jaxpr, axis_size, c_b + carry_b + xs_b,
                                     carry_b + [False] * n_ys)
        if out_b[:num_carry] == carry_b:
            break
        carry_b = [a or b for a, b in zip(carry_b, out_b[:num_carry])]
    # The body sees batch axes first; in the stacked xs the batch axis goes right after the
    # scan axis.
    consts = [c if d is None else batching.moveaxis(c, d, 0) for c, d in zip(consts, d_consts)]
    carry = [batching.bdim_at(c, d, axis_size, 0) if b else c
             for c, d, b in zip(carry, d_carry, carry_b)]
    xs = [x if d is None else batching.moveaxis(x, d, 1) for x, d in zip(xs, d_xs)]
    outs = bind_scan(consts, carry, xs, jaxpr=batched, length=length, reverse=reverse,
                     unroll=unroll)
    out_dims = ([0 if b else None for b in carry_b]
                + [1 if b else None for b in out_b[num_carry:]])
    return outs, out_dims


batching.batch_rules[scan_p] = _scan_batch


# ---------------------------------------------------------------------------------------------
# The user-facing functions
# ---------------------------------------------------------------------------------------------


def _trace_scan_body(f, init_tree, carry_avals, xs_tree, x_avals):
    box: list = []

    def flat_fun(*args):
        c, x = args[:len(carry_avals)], args[len(carry_avals):]
        out = f(tree_unflatten(init_tree, c), tree_unflatten(xs_tree, x))
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise TypeError("scan: the body function must return a pair (new_carry, y), got "
                            f"{type(out).__name__}")
        c_out, c_tree = tree_flatten(out[0])
        y_out, y_tree = tree_flatten(out[1])
        box.append((c_tree, y_tree))
        return c_out + y_out

    jaxpr, consts = trace_flat(flat_fun, list(carry_avals) + list(x_avals))
    return jaxpr, consts, box[0]


# ``unroll=True`` (or a huge factor) asks for the whole loop unrolled: the compiled body is
# repeated at most this many times, so the generated code stays small for long loops.
MAX_UNROLL = 32


def _unroll_factor(unroll: int | bool, length: int) -> int:
    k = length if unroll is True else 1 if unroll is False else int(unroll)
    return max(1, min(k, length, MAX_UNROLL))


def scan(f: Callable, init: Any, xs: Any = None, length: int | None = None,
         reverse: bool = False, unroll: int | bool = 1):
    """Loop ``f(carry, x) -> (carry, y)`` over the leading axis of ``xs`` (JAX's ``lax.scan``).

    Returns ``(final_carry, ys)`` where ``ys`` stacks the ``y``s along a new leading axis.
    ``xs`` is a pytree of arrays with equal leading size (or ``None`` with ``length`` given);
    the carry must keep its pytree structure, shapes and dtypes (initial leaves given as Python
    scalars take the dtype the body produces). ``reverse=True`` runs from the end. ``unroll=k``
    makes the compiled loop run ``k`` copies of the body per iteration (``True``: the whole
    loop, up to ``MAX_UNROLL`` copies); the results do not depend on it. ``f`` is traced once;
    the loop is differentiable in both modes and batchable.
    """
    if not callable(f):
        raise TypeError(f"scan: f must be callable, got {type(f).__name__}")
    if not (isinstance(unroll, bool) or isinstance(unroll, int) and unroll >= 1):
        raise ValueError(f"scan: unroll must be a positive int or a bool, got {unroll!r}")
    flat_init, init_tree, carry_avals, weak = flatten_carry(init, "scan init")
    flat_xs, xs_tree, xs_avals = flatten_operands(xs, "scan xs")
    for a in xs_avals:
        if a.ndim == 0:
            raise ValueError(f"scan: every xs leaf needs a leading axis to scan over, got a "
                             f"scalar ({a.str_short()})")
    lengths = sorted({a.shape[0] for a in xs_avals})
    if length is not None:
        if isinstance(length, Tracer) or not isinstance(length, (int, np.integer)):
            raise TypeError(f"scan: length must be a Python int, got {length!r}")
        length = int(length)
        if lengths and lengths != [length]:
            raise ValueError(f"scan: length={length} but the xs have leading axis sizes "
                             f"{lengths}")
    elif len(lengths) > 1:
        raise ValueError(f"scan: the xs have different leading axis sizes {lengths}: "
                         f"{tree_type_str(xs_tree, xs_avals)}")
    elif not lengths:
        raise ValueError("scan: got no xs to scan over and no `length`; give length=...")
    else:
        length = lengths[0]
    x_avals = [a.update(shape=a.shape[1:]) for a in xs_avals]
    for _ in range(2):  # a second trace only if weakly typed carries were promoted
        jaxpr, consts, (c_tree, y_tree) = _trace_scan_body(f, init_tree, carry_avals, xs_tree,
                                                           x_avals)
        out_carry_avals = jaxpr.out_avals[:c_tree.num_leaves]
        if c_tree != init_tree:
            break
        flat_init, changed = promote_weak_carry(flat_init, weak, out_carry_avals)
        if not changed:
            break
        carry_avals = carry_avals_of(flat_init, weak, out_carry_avals)
    err = carry_type_error("scan", "the body function f", init_tree, carry_avals, c_tree,
                           out_carry_avals)
    if err is not None:
        raise err
    outs = bind_scan(consts, flat_init, flat_xs, jaxpr=jaxpr, length=length,
                     reverse=bool(reverse), unroll=_unroll_factor(unroll, length))
    carry_out, ys = outs[:len(flat_init)], outs[len(flat_init):]
    return tree_unflatten(init_tree, carry_out), tree_unflatten(y_tree, ys)


def map(f: Callable, xs: Any, *, batch_size: int | None = None):  # noqa: A001 - JAX's name
    """``f`` applied to each slice of ``xs`` along its leading axis, results stacked (JAX's
    ``lax.map``): a ``scan`` without a carry.

    With ``batch_size``, ``f`` is vmapped over chunks of that many slices (the scan runs over the
    chunks; a final partial chunk is vmapped on its own).
    """
    if batch_size is None:
        _, ys = scan(lambda _, x: ((), f(x)), (), xs)
        return ys
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"map: batch_size must be a positive int, got {batch_size!r}")
    from ..batching import vmap
    from ..ops import basic
    from ..ops import shapes as shape_ops
    leaves, treedef, avals = flatten_operands(xs, "map xs")
    if not leaves:
        raise ValueError("map: got no xs to map over")
    n = avals[0].shape[0] if avals[0].ndim else 0
    num_batches, rest = divmod(n, int(batch_size))
    if num_batches == 0:
        return vmap(f)(xs)

    def chunked(x, a):
        head = shape_ops.slice_in_dim(x, 0, num_batches * batch_size, axis=0)
        return basic.reshape(head, (num_batches, int(batch_size)) + a.shape[1:])

    chunks = tree_unflatten(treedef, [chunked(x, a) for x, a in zip(leaves, avals)])
    _, ys = scan(lambda _, x: ((), vmap(f)(x)), (), chunks)
    y_leaves, y_tree = tree_flatten(ys)
    y_leaves = [basic.reshape(y, (num_batches * batch_size,) + core.get_aval(y).shape[2:])
                for y in y_leaves]
    if rest:
        tail = tree_unflatten(treedef, [
            shape_ops.slice_in_dim(x, num_batches * batch_size, n, axis=0) for x in leaves])
        tail_leaves, _ = tree_flatten(vmap(f)(tail))
        y_leaves = [shape_ops.concatenate([y, t], 0) for y, t in zip(y_leaves, tail_leaves)]
    return tree_unflatten(y_tree, y_leaves)
