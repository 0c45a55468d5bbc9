"""``cond`` and ``switch``: pick one of several functions by a (possibly traced) index.

Both become one ``cond`` equation::

    outs = cond[branches=(b_0, ..., b_{n-1})] index, *operands

- ``index``: an int32 scalar, already clamped to ``[0, n - 1]`` by ``switch``/``cond``.
- ``branches``: a tuple of ``ClosedJaxpr``; every branch takes all ``operands`` (in order) and
  returns outputs of one common type. The values the user's functions closed over are leading
  operands (each branch ignores the other branches' ones); branches have no constants of
  their own (``bind_cond`` turns them into operands).

Only the chosen branch runs. Under ``vmap`` with a batched index every branch runs and the
results are selected per example (as in JAX), so an unused branch may compute NaNs that are
then discarded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .. import ad, batching, core, dtypes, partial_eval
from ..ad import Zero, is_undefined
from ..core import ClosedJaxpr, Jaxpr, Primitive, ShapedArray, Tracer, Var
from ..ops import basic
from ..tracing import trace_to_jaxpr
from ..tree_util import tree_flatten, tree_unflatten
from ._common import (
    batch_jaxpr,
    eval_closed,
    flatten_operands,
    insert_unused_invars,
    interleave,
    is_py_scalar,
    keep_outputs,
    move_to_front,
    tidy,
    trace_flat,
    tree_type_str,
    type_mismatch,
)

__all__ = ["cond", "switch"]

cond_p = Primitive("cond", multiple_results=True)


# ---------------------------------------------------------------------------------------------
# Type and reference implementation
# ---------------------------------------------------------------------------------------------


def _cond_shape(index: ShapedArray, *ops: ShapedArray, branches):
    if index.shape != () or not dtypes.is_integer(index.dtype):
        raise TypeError(f"cond: the branch index must be an integer scalar, got "
                        f"{index.str_short()}")
    if not branches:
        raise TypeError("cond needs at least one branch")
    out = branches[0].out_avals
    for i, b in enumerate(branches):
        if list(b.in_avals) != list(ops):
            raise TypeError(f"cond: branch {i} takes {[a.str_short() for a in b.in_avals]} but "
                            f"the operands are {[a.str_short() for a in ops]}")
        if b.out_avals != out:
            raise TypeError(f"cond: branch {i} returns {[a.str_short() for a in b.out_avals]} "
                            f"but branch 0 returns {[a.str_short() for a in out]}")
    return list(out)


def _cond_impl(index, *ops, branches):
    i = int(np.clip(index, 0, len(branches) - 1))
    return [np.asarray(o) for o in eval_closed(branches[i], *ops)]


core.shape_rules[cond_p] = _cond_shape
core.impl_rules[cond_p] = _cond_impl


def bind_cond(index, operands, branches) -> list:
    """Apply ``cond_p``. Each branch's own constants become leading operands (each branch
    ignores the other branches' ones)."""
    tidied = [tidy(b) for b in branches]
    hoisted = [c for _, consts in tidied for c in consts]
    if hoisted:
        avals = [[core.get_aval(c) for c in consts] for _, consts in tidied]
        new = []
        for k, (b, _) in enumerate(tidied):
            before = [a for group in avals[:k] for a in group]
            after = [a for group in avals[k + 1:] for a in group]
            b = insert_unused_invars(b, 0, before)
            new.append(insert_unused_invars(b, len(before) + len(avals[k]), after))
        tidied = [(b, []) for b in new]
    return cond_p.bind(index, *hoisted, *operands, branches=tuple(b for b, _ in tidied))


# ---------------------------------------------------------------------------------------------
# Forward mode
# ---------------------------------------------------------------------------------------------


def _cond_jvp(primals, tangents, *, branches):
    index, ops = primals[0], primals[1:]
    nonzero = [not isinstance(t, Zero) for t in tangents[1:]]
    # An output tangent is nonzero if it is in any branch; the others must then produce it too.
    first = [ad.jvp_jaxpr(b, nonzero, instantiate_out=False) for b in branches]
    out_nz = [any(col) for col in zip(*[nz for _, nz in first])]
    new_branches = tuple(j if nz == out_nz else ad.jvp_jaxpr(b, nonzero, out_nz)[0]
                         for b, (j, nz) in zip(branches, first))
    outs = bind_cond(index, [*ops, *[t for t in tangents[1:] if not isinstance(t, Zero)]],
                     new_branches)
    n = len(branches[0].out_avals)
    touts = iter(outs[n:])
    return outs[:n], [next(touts) if nz else Zero(a)
                      for nz, a in zip(out_nz, branches[0].out_avals)]


ad.jvp_rules[cond_p] = _cond_jvp


# ---------------------------------------------------------------------------------------------
# Reverse mode: partial evaluation and transposition
# ---------------------------------------------------------------------------------------------


def _known_branch_with_all_residuals(known: ClosedJaxpr, n_known_out: int, slot: int,
                                     res_avals: list[list[ShapedArray]]) -> ClosedJaxpr:
    """Branch ``slot``'s known part, returning every branch's residuals (zeros for the others'),
    so all branches of the known ``cond`` have one output type."""

    def fun(*args):
        outs = eval_closed(known, *args)
        own = iter(outs[n_known_out:])
        res = [next(own) if k == slot else basic.full(a.shape, 0, a.dtype)
               for k, avals in enumerate(res_avals) for a in avals]
        return outs[:n_known_out] + res

    return trace_to_jaxpr(fun, known.in_avals)


def _unknown_branch_with_all_residuals(unknown: ClosedJaxpr, num_res: int,
                                       groups: list[list[ShapedArray]],
                                       own: dict[int, list[int]]) -> ClosedJaxpr:
    """A branch's unknown part (taking ``num_res`` residuals, then the unknown operands),
    rearranged to take the residual slots of every branch, laid out in ``groups``: the groups
    in ``own`` are filled by this branch's residuals (given by index); it ignores the others."""
    j = unknown.jaxpr
    res_vars: list[Var] = []
    for g, avals in enumerate(groups):
        res_vars += [j.invars[i] for i in own[g]] if g in own else [Var(a) for a in avals]
    return ClosedJaxpr(Jaxpr(j.constvars, res_vars + list(j.invars[num_res:]), j.outvars,
                             j.eqns), unknown.consts)


def _cond_partial_eval(trace, tracers, *, branches):
    index, ops = tracers[0], tracers[1:]
    if not index.is_known():
        return trace.stage(cond_p, tracers, dict(branches=branches))
    in_unknowns = [not t.is_known() for t in ops]
    first = [partial_eval.partial_eval_jaxpr(b, in_unknowns, False) for b in branches]
    out_uk = [any(col) for col in zip(*[s[2] for s in first])]
    splits = [s if s[2] == out_uk else partial_eval.partial_eval_jaxpr(b, in_unknowns, out_uk)
              for b, s in zip(branches, first)]
    n_known_out = len(out_uk) - sum(out_uk)
    known_ops = [t.known for t, u in zip(ops, in_unknowns) if not u]
    # A residual that is just a known operand is passed to the unknown cond directly; the others
    # are outputs of the known cond, each branch giving zeros for the other branches' ones.
    computed, forwarded = [], []  # per branch: residual indices; (residual index, operand)
    for known, _, _, _ in splits:
        position = {v: p for p, v in enumerate(known.jaxpr.invars)}
        outs = known.jaxpr.outvars[n_known_out:]
        forwarded.append([(i, position[v]) for i, v in enumerate(outs)
                          if isinstance(v, Var) and v in position])
        computed.append([i for i, v in enumerate(outs) if not (isinstance(v, Var)
                                                               and v in position)])
    known_pruned = [keep_outputs(known, [True] * n_known_out
                                 + [i in computed[k] for i in range(num_res)])
                    for k, (known, _, _, num_res) in enumerate(splits)]
    computed_avals = [list(known.out_avals[n_known_out:]) for known in known_pruned]
    known_branches = tuple(_known_branch_with_all_residuals(known, n_known_out, k, computed_avals)
                           for k, known in enumerate(known_pruned))
    outs = bind_cond(index.known, known_ops, known_branches)
    known_outs, residuals = outs[:n_known_out], outs[n_known_out:]
    if not any(out_uk):
        return [trace.pure(o) for o in known_outs]
    n = len(branches)
    groups = computed_avals + [[core.get_aval(known_ops[p]) for _, p in fw] for fw in forwarded]
    unknown_branches = tuple(
        _unknown_branch_with_all_residuals(unknown, num_res, groups,
                                           {k: computed[k], n + k: [i for i, _ in forwarded[k]]})
        for k, (_, unknown, _, num_res) in enumerate(splits))
    staged = trace.stage(cond_p, [index] + [trace.pure(r) for r in residuals]
                         + [trace.pure(known_ops[p]) for fw in forwarded for _, p in fw]
                         + [t for t, u in zip(ops, in_unknowns) if u],
                         dict(branches=unknown_branches))
    return interleave(out_uk, staged, [trace.pure(o) for o in known_outs])


partial_eval.partial_eval_rules[cond_p] = _cond_partial_eval


def _cond_transpose(cts, index, *ops, branches):
    if is_undefined(index):
        raise TypeError("cond: the branch index cannot be a linear input")
    linear = [is_undefined(x) for x in ops]
    residuals = [x for x, lin in zip(ops, linear) if not lin]
    res_avals = [core.get_aval(r) for r in residuals]
    out_avals = branches[0].out_avals
    ct_nonzero = [not isinstance(c, Zero) for c in cts]
    ct_avals = [a for a, nz in zip(out_avals, ct_nonzero) if nz]

    def transposed(branch: ClosedJaxpr) -> ClosedJaxpr:
        def fun(*args):
            res, cts_nz = args[:len(res_avals)], args[len(res_avals):]
            cts_full = interleave(ct_nonzero, cts_nz, [Zero(a) for a in out_avals])
            full_args = interleave(linear, [None] * sum(linear), res)
            cts_in = ad.backward_pass(branch.jaxpr, branch.consts, linear, full_args, cts_full)
            return [ad.instantiate(c) for c, lin in zip(cts_in, linear) if lin]

        return trace_to_jaxpr(fun, res_avals + ct_avals)

    new_branches = tuple(transposed(b) for b in branches)
    outs = bind_cond(index, [*residuals, *[c for c in cts if not isinstance(c, Zero)]],
                     new_branches)
    return [None] + interleave(linear, outs, [None] * (len(ops) - sum(linear)))


ad.transpose_rules[cond_p] = _cond_transpose


# ---------------------------------------------------------------------------------------------
# Batching
# ---------------------------------------------------------------------------------------------


def _cond_batch(vals, dims, axis_size, *, branches):
    index, idim = vals[0], dims[0]
    ops = move_to_front(vals[1:], dims[1:])
    in_batched = [d is not None for d in dims[1:]]
    if idim is None:
        first = [batch_jaxpr(b, axis_size, in_batched, False) for b in branches]
        out_b = [any(col) for col in zip(*[ob for _, ob in first])]
        new_branches = tuple(j if ob == out_b else batch_jaxpr(b, axis_size, in_batched, out_b)[0]
                             for b, (j, ob) in zip(branches, first))
        outs = bind_cond(index, ops, new_branches)
        return outs, [0 if b else None for b in out_b]
    # A batched index: run every branch on the whole batch and select per example.
    index = batching.moveaxis(index, idim, 0)
    index = basic.max(basic.min(index, len(branches) - 1), 0)
    results = []
    for b in branches:
        batched, _ = batch_jaxpr(b, axis_size, in_batched, True)
        results.append(eval_closed(batched, *ops))
    outs = []
    for k, out0 in enumerate(results[0]):
        out = out0
        shape = core.get_aval(out0).shape
        for i in range(1, len(branches)):
            pick = basic.broadcast_in_dim(basic.eq(index, i), shape, (0,))
            out = basic.select(pick, results[i][k], out)
        outs.append(out)
    return outs, [0] * len(outs)


batching.batch_rules[cond_p] = _cond_batch


# ---------------------------------------------------------------------------------------------
# The user-facing functions
# ---------------------------------------------------------------------------------------------


def _bind_cond(index, funs: Sequence[Callable], names: Sequence[str], operands: tuple,
               ref: int = 0):
    flat_ops, in_tree, in_avals = flatten_operands(operands, "cond/switch operands")

    def trace_branch(fun, casts: dict[int, np.dtype]):
        box = []

        def flat_fun(*xs):
            leaves, tree = tree_flatten(fun(*tree_unflatten(in_tree, xs)))
            box.append((tree, [is_py_scalar(x) for x in leaves]))
            return [np.asarray(x, casts[i]) if i in casts and is_py_scalar(x) else x
                    for i, x in enumerate(leaves)]

        jaxpr, consts = trace_flat(flat_fun, in_avals)
        return jaxpr, consts, box[0]

    results = [trace_branch(fun, {}) for fun in funs]
    # Outputs given as Python scalars are weakly typed (as in JAX): they take the dtype the
    # other branches give that output.
    if len({tree for _, _, (tree, _) in results}) == 1:
        for i, (jaxpr, _, (_, weak)) in enumerate(results):
            casts = {}
            for k, w in enumerate(weak):
                strong = {r[0].out_avals[k] for r in results if not r[2][1][k]}
                if w and len(strong) == 1:
                    (target,) = strong
                    if target.shape == () and target != jaxpr.out_avals[k]:
                        casts[k] = target.dtype
            if casts:
                results[i] = trace_branch(funs[i], casts)
    traced = [(jaxpr, consts) for jaxpr, consts, _ in results]
    out_trees = [tree for _, _, (tree, _) in results]
    ref_avals = traced[ref][0].out_avals
    for i in range(len(funs)):
        why = type_mismatch(out_trees[ref], ref_avals, out_trees[i], traced[i][0].out_avals)
        if why is not None:
            raise TypeError(
                f"{names[ref]} and {names[i]} must return values of the same type (pytree "
                f"structure, shapes and dtypes), but {why}:\n  {names[ref]} output: "
                f"{tree_type_str(out_trees[ref], ref_avals)}\n  {names[i]} output: "
                f"{tree_type_str(out_trees[i], traced[i][0].out_avals)}")
    # Every branch takes the constants of all branches (each distinct value once); each
    # ignores the ones it does not use.
    all_consts: list = []
    slot: dict[int, int] = {}
    for _, consts in traced:
        for c in consts:
            if id(c) not in slot:
                slot[id(c)] = len(all_consts)
                all_consts.append(c)
    branches = []
    for jaxpr, consts in traced:
        j = jaxpr.jaxpr
        const_vars = [Var(core.get_aval(c)) for c in all_consts]
        for v, c in zip(j.invars[:len(consts)], consts):
            const_vars[slot[id(c)]] = v
        branches.append(ClosedJaxpr(Jaxpr(j.constvars, const_vars + list(j.invars[len(consts):]),
                                          j.outvars, j.eqns), jaxpr.consts))
    outs = bind_cond(index, [*all_consts, *flat_ops], branches)
    return tree_unflatten(out_trees[0], outs)


def _scalar_aval(x, api: str, what: str) -> ShapedArray:
    if not (isinstance(x, (Tracer, np.ndarray, np.generic)) or type(x) in (bool, int, float)):
        raise TypeError(f"{api}: {what} must be a scalar array or Python scalar, got "
                        f"{type(x).__name__}")
    aval = core.get_aval(x)
    if aval.shape != ():
        raise TypeError(f"{api}: {what} must be a scalar, but it has shape {aval.shape}")
    return aval


def cond(pred, true_fun: Callable, false_fun: Callable, *operands):
    """``true_fun(*operands)`` if ``pred`` else ``false_fun(*operands)``, staged as one equation
    (JAX's ``lax.cond``).

    ``pred`` is a boolean or integer scalar (nonzero means true) and may be traced. Both functions
    are traced and must return the same pytree of shapes and dtypes; only one runs.
    """
    aval = _scalar_aval(pred, "cond", "the predicate")
    if not (callable(true_fun) and callable(false_fun)):
        raise TypeError("cond: true_fun and false_fun must be callable")
    if not isinstance(pred, Tracer):
        pred = np.asarray(pred)
    if dtypes.is_integer(aval.dtype):
        pred = basic.ne(pred, 0)
    elif aval.dtype != np.bool_:
        raise TypeError(f"cond: the predicate must be a boolean or integer scalar, got "
                        f"{aval.str_short()}")
    index = basic.convert_element_type(pred, np.int32)
    return _bind_cond(index, (false_fun, true_fun), ("false_fun", "true_fun"), operands, ref=1)


def switch(index, branches: Sequence[Callable], *operands):
    """``branches[index](*operands)`` with ``index`` clamped to ``[0, len(branches) - 1]``
    (JAX's ``lax.switch``). All branches are traced and must return the same type."""
    aval = _scalar_aval(index, "switch", "the index")
    if not dtypes.is_integer(aval.dtype):
        raise TypeError(f"switch: the index must be an integer scalar, got {aval.str_short()}")
    branches = list(branches)
    if not branches:
        raise ValueError("switch: needs at least one branch")
    if not all(callable(b) for b in branches):
        raise TypeError("switch: every branch must be callable")
    if len(branches) == 1:
        return branches[0](*operands)
    if not isinstance(index, Tracer):
        index = np.asarray(index)
    index = basic.convert_element_type(index, np.int32)
    index = basic.max(basic.min(index, len(branches) - 1), 0)
    names = [f"branch {i}" for i in range(len(branches))]
    return _bind_cond(index, branches, names, operands)
