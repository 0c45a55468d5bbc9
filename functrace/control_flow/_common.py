"""Plumbing shared by the control-flow primitives: tracing user functions into closure-converted
sub-jaxprs, rearranging a sub-jaxpr's inputs and outputs, batching a sub-jaxpr, and the type
descriptions used in error messages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import core, dtypes
from ..batching import BatchTrace, BatchTracer, bdim_at
from ..core import ClosedJaxpr, Jaxpr, ShapedArray, Tracer, Var
from ..ops import basic
from ..simplify import dce_jaxpr, simplify
from ..tracing import trace_to_jaxpr
from ..tree_util import PyTreeDef, tree_flatten, tree_unflatten

_PY_SCALARS = (bool, int, float, complex)


# ---------------------------------------------------------------------------------------------
# Operands and error messages
# ---------------------------------------------------------------------------------------------


def is_py_scalar(x: Any) -> bool:
    return type(x) in _PY_SCALARS


def as_operand(x: Any, what: str) -> Any:
    """``x`` as an array operand (Python scalars become 0-d NumPy arrays); a clear error for
    anything that is not array-like."""
    if isinstance(x, (Tracer, np.ndarray, np.generic)):
        return x
    if is_py_scalar(x):
        return np.asarray(x)
    try:
        core.get_aval(x)
    except TypeError as e:
        raise TypeError(f"{what}: {e}") from None
    return x


def flatten_operands(tree: Any, what: str) -> tuple[list, PyTreeDef, list[ShapedArray]]:
    """Flatten a pytree of operands; returns (leaves as arrays, treedef, avals)."""
    leaves, treedef = tree_flatten(tree)
    leaves = [as_operand(x, what) for x in leaves]
    return leaves, treedef, [core.get_aval(x) for x in leaves]


class _TypeLeaf:
    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __repr__(self):
        return self.text


def tree_type_str(treedef: PyTreeDef, avals: Sequence[ShapedArray]) -> str:
    """``(f64[3], {'a': i64[]})``: a pytree of types, for error messages."""
    return repr(tree_unflatten(treedef, [_TypeLeaf(a.str_short()) for a in avals]))


def type_mismatch(tree_a: PyTreeDef, avals_a: Sequence[ShapedArray], tree_b: PyTreeDef,
                  avals_b: Sequence[ShapedArray]) -> str | None:
    """Why two typed pytrees differ (structure first, then the first differing leaf), or None."""
    if tree_a != tree_b:
        return "their pytree structures differ"
    for i, (a, b) in enumerate(zip(avals_a, avals_b)):
        if a != b:
            what = "shape" if a.shape != b.shape else "dtype"
            return f"leaf {i} differs in {what}: {a.str_short()} vs {b.str_short()}"
    return None


# ---------------------------------------------------------------------------------------------
# Tracing user functions
# ---------------------------------------------------------------------------------------------


def trace_flat(fun: Callable[..., list], in_avals: Sequence[ShapedArray]
               ) -> tuple[ClosedJaxpr, list]:
    """Trace a flat function once and closure-convert it.

    Returns a jaxpr whose inputs are ``(*consts, *args)`` (the values it closed over become
    explicit leading inputs, so tracers of enclosing transformations flow through the equation
    as operands) and the list of those consts.
    """
    closed = simplify(trace_to_jaxpr(fun, list(in_avals)))
    j = closed.jaxpr
    converted = ClosedJaxpr(Jaxpr((), j.constvars + j.invars, j.outvars, j.eqns), ())
    return converted, list(closed.consts)


def eval_closed(closed: ClosedJaxpr, *args) -> list:
    """Run a body or branch on concrete values (the control-flow implementations' interpreter)."""
    return core.eval_jaxpr_concrete(closed.jaxpr, closed.consts, *args)


def split_list(xs: Sequence, sizes: Sequence[int]) -> list[list]:
    """``xs`` cut into consecutive pieces of the given sizes (the last piece takes the rest)."""
    out, i = [], 0
    for n in sizes:
        out.append(list(xs[i:i + n]))
        i += n
    out.append(list(xs[i:]))
    return out


# ---------------------------------------------------------------------------------------------
# Rearranging sub-jaxprs (cheap: a Jaxpr's interface is just lists of variables)
# ---------------------------------------------------------------------------------------------


def permute_invars(closed: ClosedJaxpr, order: Sequence[int]) -> ClosedJaxpr:
    """The same program taking its inputs in ``order`` (new input k is old input order[k])."""
    j = closed.jaxpr
    assert sorted(order) == list(range(len(j.invars)))
    return ClosedJaxpr(Jaxpr(j.constvars, [j.invars[i] for i in order], j.outvars, j.eqns),
                       closed.consts)


def permute_outvars(closed: ClosedJaxpr, order: Sequence[int]) -> ClosedJaxpr:
    j = closed.jaxpr
    assert sorted(order) == list(range(len(j.outvars)))
    return ClosedJaxpr(Jaxpr(j.constvars, j.invars, [j.outvars[i] for i in order], j.eqns),
                       closed.consts)


def insert_unused_invars(closed: ClosedJaxpr, at: int, avals: Sequence[ShapedArray]
                         ) -> ClosedJaxpr:
    """The same program with extra, ignored inputs of types ``avals`` inserted at ``at``."""
    j = closed.jaxpr
    invars = list(j.invars)
    invars[at:at] = [Var(a) for a in avals]
    return ClosedJaxpr(Jaxpr(j.constvars, invars, j.outvars, j.eqns), closed.consts)


def keep_outputs(closed: ClosedJaxpr, keep: Sequence[bool]) -> ClosedJaxpr:
    """The program restricted to the outputs marked ``keep`` (dead equations dropped)."""
    j = dce_jaxpr(closed.jaxpr, list(keep))
    return ClosedJaxpr(j, closed.consts)


def interleave(flags: Sequence[bool], when_true: Sequence, when_false: Sequence) -> list:
    """Merge two lists: position i takes the next of ``when_true`` if ``flags[i]`` else the
    next of ``when_false``."""
    t, f = iter(when_true), iter(when_false)
    return [next(t) if flag else next(f) for flag in flags]


# ---------------------------------------------------------------------------------------------
# Batching a sub-jaxpr
# ---------------------------------------------------------------------------------------------


def batched_aval(aval: ShapedArray, size: int, dim: int = 0) -> ShapedArray:
    shape = list(aval.shape)
    shape.insert(dim, size)
    return aval.update(shape=shape)


def batch_jaxpr(closed: ClosedJaxpr, axis_size: int, in_batched: Sequence[bool],
                instantiate: bool | Sequence[bool]) -> tuple[ClosedJaxpr, list[bool]]:
    """Vectorise a sub-jaxpr: inputs marked ``in_batched`` get a leading batch axis.

    Outputs that depend on batched inputs (or are marked in ``instantiate``) come out with a
    leading batch axis; returns the new jaxpr and which outputs are batched.
    """
    n_out = len(closed.out_avals)
    inst = [instantiate] * n_out if isinstance(instantiate, bool) else list(instantiate)
    in_avals = [batched_aval(a, axis_size) if b else a
                for a, b in zip(closed.in_avals, in_batched)]
    box: list[list[bool]] = []

    def fun(*args):
        with core.new_main(BatchTrace, axis_size) as main:
            trace = BatchTrace(main)
            ins = [BatchTracer(trace, a, 0) if b else a for a, b in zip(args, in_batched)]
            outs = [trace.full_raise(o) for o in eval_closed(closed, *ins)]
            out_batched = [o.bdim is not None or i for o, i in zip(outs, inst)]
            results = [bdim_at(o.val, o.bdim, axis_size, 0) if b else core.full_lower(o.val)
                       for o, b in zip(outs, out_batched)]
        box.append(out_batched)
        return results

    batched = trace_to_jaxpr(fun, in_avals)
    return batched, box[0]


def move_to_front(vals: Sequence, dims: Sequence[int | None]) -> list:
    from ..batching import moveaxis
    return [v if d is None else moveaxis(v, d, 0) for v, d in zip(vals, dims)]


# ---------------------------------------------------------------------------------------------
# Carries
# ---------------------------------------------------------------------------------------------


def flatten_carry(init: Any, what: str) -> tuple[list, PyTreeDef, list[ShapedArray], list]:
    """Flatten an initial carry; also returns, per leaf, the Python scalar it was given as (or
    None). Such leaves are *weakly typed*, as in JAX: see ``promote_weak_carry``."""
    raw, treedef = tree_flatten(init)
    weak = [x if is_py_scalar(x) or isinstance(x, Tracer) and x.aval.weak_type else None
            for x in raw]
    leaves = [as_operand(x, what) for x in raw]
    return leaves, treedef, carry_avals(leaves, weak), weak


def carry_avals(leaves: list, weak: list, out_avals: Sequence[ShapedArray] | None = None
                ) -> list[ShapedArray]:
    """The avals the loop body is traced with: leaves given as Python scalars stay weakly typed
    (as in JAX, ``i * x32`` with a carried Python-int counter ``i`` stays float32) unless a
    previous trace showed the body makes them strong (``out_avals``)."""
    avals = []
    for i, (x, py) in enumerate(zip(leaves, weak)):
        aval = core.get_aval(x)
        keep = py is not None and (out_avals is None or out_avals[i].weak_type)
        avals.append(aval.update(weak_type=True) if keep and not aval.weak_type else aval)
    return avals


def promote_weak_carry(leaves: list, weak: list, out_avals: Sequence[ShapedArray]
                       ) -> tuple[list, bool]:
    """Give initial-carry leaves that were Python scalars the dtype the loop body produces for
    them (``0`` carried through a float body becomes a float), as JAX does for weak types.
    Returns the new leaves and whether anything changed (the body must then be retraced)."""
    changed = False
    new = list(leaves)
    for i, (py, out) in enumerate(zip(weak, out_avals)):
        if py is None or out.shape != () or core.get_aval(new[i]).dtype == out.dtype:
            continue
        dtype = dtypes.result_type(py, out.dtype)
        if dtype != core.get_aval(new[i]).dtype:
            new[i] = (basic.convert_element_type(py, dtype) if isinstance(py, Tracer)
                      else np.asarray(py, dtype))
            changed = True
    return new, changed


def carry_type_error(api: str, what: str, in_tree: PyTreeDef, in_avals: Sequence[ShapedArray],
                     out_tree: PyTreeDef, out_avals: Sequence[ShapedArray]) -> TypeError | None:
    """The error for a loop body whose output carry differs in type from its input carry."""
    why = type_mismatch(in_tree, in_avals, out_tree, out_avals)
    if why is None:
        return None
    return TypeError(
        f"{api}: {what} must return a carry of exactly the type of its input carry, but "
        f"{why}.\n  input carry:  {tree_type_str(in_tree, in_avals)}\n  output carry: "
        f"{tree_type_str(out_tree, out_avals)}\nShapes and dtypes must match exactly (carry "
        "dtypes are not promoted; cast the initial value, e.g. with .astype(), to the dtype the "
        "body produces).")


# ---------------------------------------------------------------------------------------------
# Sub-jaxprs as equation params
# ---------------------------------------------------------------------------------------------


def tidy(closed: ClosedJaxpr) -> tuple[ClosedJaxpr, list]:
    """Prepare a sub-jaxpr for an equation's params: clean it up (dead code, repeated work) and
    turn its constants into leading inputs, so params never hold arrays. Returns the new jaxpr
    and the constants, which the caller passes as leading operands."""
    closed = simplify(closed)
    if not closed.consts:
        return closed, []
    j = closed.jaxpr
    hoisted = ClosedJaxpr(Jaxpr((), list(j.constvars) + list(j.invars), j.outvars, j.eqns), ())
    return hoisted, list(closed.consts)
