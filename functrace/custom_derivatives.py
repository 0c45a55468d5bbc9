"""User-defined derivative rules: ``custom_jvp`` and ``custom_vjp``.

The decorated function is traced once into a sub-program (``call_jaxpr``) carried by an equation,
so it evaluates and compiles like any other code; the user's rule is kept as a Python callable
param and invoked by the transformations:

* ``custom_jvp_call``: the JVP interpreter calls the user's ``jvp`` instead of differentiating
  ``call_jaxpr``; reverse mode then transposes what that rule produced.
* ``custom_vjp_call``: the JVP interpreter runs the user's ``fwd`` and emits ``custom_lin``, a
  linear equation over the tangents whose transpose calls the user's ``bwd`` with the residuals.

As in JAX, a call outside any transformation just runs the function on its values (so
value-dependent Python such as ``if x > 0`` or a NumPy/SciPy call works), and a call that is
being differentiated (a JVP trace with a nonzero tangent on top) binds the primitive without a
sub-program: the rule runs (``jvp`` or ``fwd``) and the body does not, so it runs once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from . import ad, batching, core, dtypes
from .ad import Zero
from .core import ClosedJaxpr, Jaxpr, Primitive
from .simplify import inlinable_primitives
from .tracing import trace_to_jaxpr
from .tree_util import tree_flatten, tree_map, tree_unflatten

# ---------------------------------------------------------------------------------------------
# Shared plumbing
# ---------------------------------------------------------------------------------------------


def _closure_convert(closed: ClosedJaxpr) -> tuple[ClosedJaxpr, list]:
    """Turn the constants of ``closed`` into leading inputs (they may be outer tracers)."""
    j = closed.jaxpr
    return ClosedJaxpr(Jaxpr((), j.constvars + j.invars, j.outvars, j.eqns), ()), closed.consts


def _split_static(args: Sequence, nondiff_argnums: tuple[int, ...]):
    static = [args[i] for i in nondiff_argnums]
    dyn = [a for i, a in enumerate(args) if i not in nondiff_argnums]
    return static, dyn


def _merge_static(static, dyn, nondiff_argnums, n):
    s, d = iter(static), iter(dyn)
    return [next(s) if i in nondiff_argnums else next(d) for i in range(n)]


def _trace_fun(fun, static, flat_args, in_tree, nondiff_argnums, nargs):
    out_tree_box = []

    def flat_fun(*flat):
        args = _merge_static(static, tree_unflatten(in_tree, list(flat)), nondiff_argnums, nargs)
        out, tree = tree_flatten(fun(*args))
        out_tree_box.append(tree)
        return out

    closed = trace_to_jaxpr(flat_fun, [core.get_aval(x) for x in flat_args])
    call_jaxpr, consts = _closure_convert(closed)
    return call_jaxpr, consts, out_tree_box[0]


def _check_outputs(name: str, got: list, expected_avals: list, what: str) -> None:
    if len(got) != len(expected_avals):
        raise TypeError(f"{name}: {what} has {len(got)} leaves but the function's output has "
                        f"{len(expected_avals)}.")
    for g, e in zip(got, expected_avals):
        a = core.get_aval(g)
        if a.shape != e.shape:
            raise TypeError(f"{name}: {what} has shape {a.shape} where the function's output "
                            f"has shape {e.shape}.")


def _differentiated(flat_args: list):
    """The JVP-kind trace differentiating this call (a tracer of it carries a nonzero tangent),
    or None. Such a call needs the rule only, never the body's sub-program."""
    from .eager_vjp import EagerLinearizeTrace
    trace = core.find_top_trace(flat_args)
    if type(trace) is core.EvalTrace:
        return core.EvalTrace
    if not isinstance(trace, (ad.JVPTrace, EagerLinearizeTrace)):
        return None
    for x in flat_args:
        if (isinstance(x, ad.JVPTracer) and x._trace.main is trace.main
                and not isinstance(x.tangent, Zero)):
            return trace
    return None


_NOT_EAGER = object()


def _call_eagerly(fun: Callable, args) -> object:
    """``fun(*args)`` on concrete values, or ``_NOT_EAGER`` if the result is not concrete.

    Inside a rule of an enclosing transformation (a ``fwd`` calling the function on its primal
    values) the transformations are hidden while it runs: otherwise arrays it creates
    (``fnp.zeros_like``) would become tracers of the innermost transformation, one the values
    do not belong to. A result holding a tracer means the function closes over a transformed
    value: then it must be traced, so the rule sees that value as an input."""
    st = core._thread_state
    if len(st.trace_stack) == 1 and st.dynamic_trace is None:
        return fun(*args)
    stack, dyn = st.trace_stack, st.dynamic_trace
    st.trace_stack, st.dynamic_trace = stack[:1], None
    try:
        out = fun(*args)
    finally:
        st.trace_stack, st.dynamic_trace = stack, dyn
    if any(isinstance(x, core.Tracer) for x in tree_flatten(out)[0]):
        return _NOT_EAGER
    return out


def _check_no_closure(name: str, level: int, leaves) -> None:
    """A rule output carrying a nonzero tangent of the differentiating level (or above) came
    from a closed-over value that is itself being differentiated: the rule cannot account for
    it. (Constants made inside a transformation are tracers too, with zero tangents.)"""
    for x in leaves:
        if (isinstance(x, ad.JVPTracer) and x._trace.main.level >= level
                and not isinstance(x.tangent, Zero)):
            raise TypeError(
                f"{name}: the decorated function closes over a value that is being "
                "differentiated. Pass that value as an explicit argument of the function "
                "instead.")


def _eval_call(*args, call_jaxpr, **_):
    return core.eval_jaxpr(call_jaxpr.jaxpr, call_jaxpr.consts, *args)


def _no_const_tangents(name: str, tangents, num_consts: int) -> None:
    if any(not isinstance(t, Zero) for t in tangents[:num_consts]):
        raise TypeError(
            f"{name}: the decorated function closes over a value that is being differentiated. "
            "Pass that value as an explicit argument of the function instead.")


def _batched_call_jaxpr(call_jaxpr: ClosedJaxpr, dims0: list, axis_size: int,
                        batched_avals: list) -> ClosedJaxpr:
    def run(*xs):
        return batching.batch_flat(
            lambda *a: core.eval_jaxpr(call_jaxpr.jaxpr, call_jaxpr.consts, *a),
            xs, dims0, axis_size, lambda n: [0] * n)

    return trace_to_jaxpr(run, batched_avals)


def _move_batch_to_front(vals, dims):
    vals = [batching.moveaxis(v, d, 0) if d is not None else v for v, d in zip(vals, dims)]
    return vals, [None if d is None else 0 for d in dims]


# ---------------------------------------------------------------------------------------------
# custom_jvp
# ---------------------------------------------------------------------------------------------

custom_jvp_call_p = Primitive("custom_jvp_call", multiple_results=True)
core.shape_rules[custom_jvp_call_p] = lambda *avals, call_jaxpr, **_: call_jaxpr.out_avals
core.impl_rules[custom_jvp_call_p] = _eval_call


def _custom_jvp_call_jvp(primals, tangents, *, call_jaxpr, jvp, num_consts, name):
    _no_const_tangents(name, tangents, num_consts)
    args = primals[num_consts:]
    arg_tangents = [ad.instantiate(t) for t in tangents[num_consts:]]
    outs, touts = jvp(args, arg_tangents)
    # without a sub-program (a differentiated call, see ``_differentiated``) the rule's primal
    # output defines the output types
    out_avals = (call_jaxpr.out_avals if call_jaxpr is not None
                 else [core.get_aval(o) for o in outs])
    _check_outputs(name, touts, out_avals, "the tangent output of the jvp rule")
    _check_outputs(name, outs, out_avals, "the primal output of the jvp rule")
    touts = [t if dtypes.is_inexact(a.dtype) else Zero(a)
             for t, a in zip(touts, out_avals)]
    return outs, touts


def _custom_jvp_call_batch(vals, dims, axis_size, *, call_jaxpr, jvp, num_consts, name):
    vals, dims0 = _move_batch_to_front(vals, dims)
    batched = _batched_call_jaxpr(call_jaxpr, dims0, axis_size, [core.get_aval(v) for v in vals])
    arg_dims = dims0[num_consts:]

    def batched_jvp(primals, tangents):
        n = len(primals)

        def flat(*pt):
            outs, touts = jvp(list(pt[:n]), list(pt[n:]))
            return list(outs) + list(touts)

        res = batching.batch_flat(flat, list(primals) + list(tangents), arg_dims + arg_dims,
                                  axis_size, lambda k: [0] * k)
        return res[:len(res) // 2], res[len(res) // 2:]

    outs = custom_jvp_call_p.bind(*vals, call_jaxpr=batched, jvp=batched_jvp,
                                  num_consts=num_consts, name=name)
    return outs, [0] * len(outs)


ad.jvp_rules[custom_jvp_call_p] = _custom_jvp_call_jvp
inlinable_primitives.add(custom_jvp_call_p)
batching.batch_rules[custom_jvp_call_p] = _custom_jvp_call_batch


class _Call:
    """What ``custom_jvp``/``custom_vjp`` calls share before binding (``_prepare_call``)."""

    __slots__ = ("eager", "static", "dyn", "flat_args", "in_tree", "diff", "call_jaxpr",
                 "consts", "out_tree")


def _prepare_call(fun: Callable, nondiff_argnums, args: tuple) -> _Call:
    """Split and flatten the arguments of a custom-rule function; outside any transformation
    run the function itself (``eager``, as JAX does); undifferentiated, trace it (the body is
    what runs); differentiated, leave the body alone: only the rule runs (it defines the
    output structure)."""
    c = _Call()
    c.eager = _NOT_EAGER
    c.static, c.dyn = _split_static(args, nondiff_argnums)
    c.flat_args, c.in_tree = tree_flatten(tuple(c.dyn))
    c.diff = _differentiated(c.flat_args)
    if c.diff is core.EvalTrace:
        c.eager = _call_eagerly(fun, args)
        if c.eager is not _NOT_EAGER:
            return c
        c.diff = None
    if c.diff is None:
        c.call_jaxpr, c.consts, c.out_tree = _trace_fun(fun, c.static, c.flat_args, c.in_tree,
                                                        nondiff_argnums, len(args))
    else:
        c.call_jaxpr, c.consts, c.out_tree = None, [], None
    return c


class custom_jvp:
    """A function with a hand-written JVP rule (JAX's ``custom_jvp``).

    ::

        @custom_jvp
        def f(x): ...

        @f.defjvp
        def f_jvp(primals, tangents):
            (x,), (t,) = primals, tangents
            return f(x), ...

    Arguments listed in ``nondiff_argnums`` are passed first to the rule and are not traced.
    """

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.jvp: Callable | None = None

    def defjvp(self, jvp: Callable) -> Callable:
        """Register ``jvp(*nondiff_args, primals, tangents) -> (primal_out, tangent_out)``."""
        self.jvp = jvp
        return jvp

    def defjvps(self, *jvps: Callable | None) -> None:
        """Register one rule per positional argument, ``jvp_i(g_i, ans, *args) ->`` the output
        tangent that input ``i``'s tangent ``g_i`` contributes (``None``: the output does not
        depend on that input); the contributions are summed (JAX's ``defjvps``)."""
        def jvp(*all_args):
            static, (primals, tangents) = all_args[:-2], all_args[-2:]
            if len(jvps) != len(primals):
                raise TypeError(f"defjvps: got {len(jvps)} rules for a function of "
                                f"{len(primals)} differentiable arguments")
            ans = self(*_merge_static(static, primals, self.nondiff_argnums,
                                      len(static) + len(primals)))
            out = None
            for rule, t in zip(jvps, tangents):
                if rule is None:
                    continue
                contrib = rule(t, ans, *primals)
                out = contrib if out is None else tree_map(lambda a, b: a + b, out, contrib)
            if out is None:
                out = tree_map(lambda a: a * 0, ans)
            return ans, out

        self.jvp = jvp

    def __call__(self, *args):
        name = getattr(self.fun, "__name__", "custom_jvp function")
        if self.jvp is None:
            raise AttributeError(f"No JVP defined for custom_jvp function {name}; use defjvp.")
        prep = _prepare_call(self.fun, self.nondiff_argnums, args)
        if prep.eager is not _NOT_EAGER:
            return prep.eager
        static, flat_args, in_tree, diff = prep.static, prep.flat_args, prep.in_tree, prep.diff
        call_jaxpr, consts, out_tree = prep.call_jaxpr, prep.consts, prep.out_tree
        user_jvp = self.jvp
        tree_box = [out_tree]

        def flat_jvp(primals, tangents):
            p = tree_unflatten(in_tree, list(primals))
            t = tree_unflatten(in_tree, list(tangents))
            pair = user_jvp(*static, tuple(p), tuple(t))
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
                raise TypeError(f"{name}: the jvp rule must return a pair "
                                "(primal_out, tangent_out).")
            out, tout = pair
            flat_out, tree1 = tree_flatten(out)
            flat_tout, tree2 = tree_flatten(tout)
            want = tree_box[0] if tree_box[0] is not None else tree1
            if tree1 != want or tree2 != want:
                raise TypeError(f"{name}: the jvp rule must return (primal_out, tangent_out) "
                                f"with the structure of the function's output {want}; got "
                                f"{tree1} and {tree2}.")
            if diff is not None:
                _check_no_closure(name, diff.main.level, flat_out)
            tree_box[0] = want
            return flat_out, flat_tout

        outs = custom_jvp_call_p.bind(*consts, *flat_args, call_jaxpr=call_jaxpr, jvp=flat_jvp,
                                      num_consts=len(consts), name=name)
        return tree_unflatten(tree_box[0], outs)


# ---------------------------------------------------------------------------------------------
# custom_vjp
# ---------------------------------------------------------------------------------------------

custom_vjp_call_p = Primitive("custom_vjp_call", multiple_results=True)
core.shape_rules[custom_vjp_call_p] = lambda *avals, call_jaxpr, **_: call_jaxpr.out_avals
core.impl_rules[custom_vjp_call_p] = _eval_call

custom_lin_p = Primitive("custom_lin", multiple_results=True)
core.shape_rules[custom_lin_p] = lambda *avals, out_avals, **_: list(out_avals)


def _custom_lin_impl(*args, name, **_):
    raise TypeError(f"can't apply forward-mode differentiation (jvp, jacfwd) to the custom_vjp "
                    f"function {name}; use reverse mode (grad, vjp, jacrev), or give it a "
                    "custom_jvp rule instead.")


core.impl_rules[custom_lin_p] = _custom_lin_impl
# forward mode over a custom_vjp (jacfwd, hessian) meets custom_lin under vmap: give the impl's
# clear "forward mode is not supported" error rather than a missing-rule one
batching.batch_rules[custom_lin_p] = (
    lambda vals, dims, axis_size, **params: _custom_lin_impl(*vals, **params))


def _custom_vjp_call_jvp(primals, tangents, *, call_jaxpr, fwd, bwd, num_consts, name):
    _no_const_tangents(name, tangents, num_consts)
    args = primals[num_consts:]
    outs, res = fwd(args)
    out_avals = (call_jaxpr.out_avals if call_jaxpr is not None
                 else [core.get_aval(o) for o in outs])
    _check_outputs(name, outs, out_avals, "the primal output of fwd")
    arg_tangents = [ad.instantiate(t) for t in tangents[num_consts:]]
    touts = custom_lin_p.bind(*res, *arg_tangents, num_res=len(res), bwd=bwd,
                              out_avals=tuple(out_avals), name=name)
    return outs, touts


def _custom_lin_transpose(cts, *args, num_res, bwd, out_avals, name):
    res = args[:num_res]
    cts = [ad.instantiate(c) for c in cts]
    cts_in = bwd(list(res), cts)
    linear = [ad.is_undefined(a) for a in args[num_res:]]
    # an argument with no tangent (a constant such as a Python float) arrives as its value
    arg_avals = [a.aval if lin else core.get_aval(a) for a, lin in zip(args[num_res:], linear)]
    if len(cts_in) != len(arg_avals):
        raise TypeError(f"{name}: bwd returned {len(cts_in)} cotangents for {len(arg_avals)} "
                        "arguments; return one per (differentiable) argument.")
    fixed = []
    for c, a, lin in zip(cts_in, arg_avals, linear):
        if not lin:
            fixed.append(None)
            continue
        if c is None:
            fixed.append(Zero(a))
            continue
        ca = core.get_aval(c)
        if ca.shape != a.shape:
            raise TypeError(f"{name}: bwd returned a cotangent of shape {ca.shape} for an "
                            f"argument of shape {a.shape}.")
        fixed.append(c)
    return [None] * num_res + fixed


def _custom_vjp_call_batch(vals, dims, axis_size, *, call_jaxpr, fwd, bwd, num_consts, name):
    vals, dims0 = _move_batch_to_front(vals, dims)
    batched = _batched_call_jaxpr(call_jaxpr, dims0, axis_size, [core.get_aval(v) for v in vals])
    arg_dims = dims0[num_consts:]
    from .ops import basic

    def batched_fwd(args):
        nout = len(call_jaxpr.out_avals)

        def flat(*a):
            outs, res = fwd(list(a))
            return list(outs) + list(res)

        res = batching.batch_flat(flat, list(args), arg_dims, axis_size, lambda k: [0] * k)
        return res[:nout], res[nout:]

    def batched_bwd(res, cts):
        n_res = len(res)

        def flat(*rc):
            return [ad.instantiate(c) if c is not None else None
                    for c in bwd(list(rc[:n_res]), list(rc[n_res:]))]

        outs = batching.batch_flat(flat, list(res) + list(cts), [0] * (len(res) + len(cts)),
                                   axis_size, lambda k: [0] * k)
        # arguments that were not batched get the sum of their per-example cotangents
        return [c if d is not None else basic.reduce_sum(c, (0,)) for c, d in zip(outs, arg_dims)]

    outs = custom_vjp_call_p.bind(*vals, call_jaxpr=batched, fwd=batched_fwd, bwd=batched_bwd,
                                  num_consts=num_consts, name=name)
    return outs, [0] * len(outs)


ad.jvp_rules[custom_vjp_call_p] = _custom_vjp_call_jvp
inlinable_primitives.add(custom_vjp_call_p)
ad.transpose_rules[custom_lin_p] = _custom_lin_transpose
batching.batch_rules[custom_vjp_call_p] = _custom_vjp_call_batch


class custom_vjp:
    """A function with a hand-written VJP (JAX's ``custom_vjp``).

    ::

        @custom_vjp
        def f(x): ...
        def f_fwd(x): return f(x), residuals
        def f_bwd(residuals, g): return (cotangent_for_x,)
        f.defvjp(f_fwd, f_bwd)

    ``bwd`` gets the ``nondiff_argnums`` arguments first, then the residuals and the output
    cotangent, and returns a tuple with one cotangent per remaining argument (``None`` for zero).
    """

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.fwd: Callable | None = None
        self.bwd: Callable | None = None

    def defvjp(self, fwd: Callable, bwd: Callable) -> None:
        """Register ``fwd(*args) -> (out, residuals)`` and ``bwd(*nondiff, residuals, g)``."""
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args):
        name = getattr(self.fun, "__name__", "custom_vjp function")
        if self.fwd is None:
            raise AttributeError(f"No VJP defined for custom_vjp function {name}; use defvjp.")
        prep = _prepare_call(self.fun, self.nondiff_argnums, args)
        if prep.eager is not _NOT_EAGER:
            return prep.eager
        static, flat_args, in_tree, diff = prep.static, prep.flat_args, prep.in_tree, prep.diff
        call_jaxpr, consts, out_tree = prep.call_jaxpr, prep.consts, prep.out_tree
        dyn = prep.dyn
        tree_box = [out_tree]
        user_fwd, user_bwd = self.fwd, self.bwd
        nargs = len(args)
        nondiff = self.nondiff_argnums
        res_tree_box = []

        def flat_fwd(flat):
            a = _merge_static(static, tree_unflatten(in_tree, list(flat)), nondiff, nargs)
            pair = user_fwd(*a)
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
                raise TypeError(f"{name}: fwd must return a pair (output, residuals).")
            out, res = pair
            flat_out, tree = tree_flatten(out)
            if tree_box[0] is not None and tree != tree_box[0]:
                raise TypeError(f"{name}: fwd's output structure {tree} differs from the "
                                f"function's {tree_box[0]}.")
            tree_box[0] = tree
            flat_res, res_tree = tree_flatten(res)
            if diff is not None:
                _check_no_closure(name, diff.main.level, flat_out + flat_res)
            res_tree_box[:] = [res_tree]
            return flat_out, [core.full_lower(r) for r in flat_res]

        def flat_bwd(res, cts):
            r = tree_unflatten(res_tree_box[0], list(res))
            g = tree_unflatten(tree_box[0], list(cts))
            out = user_bwd(*static, r, g)
            if not isinstance(out, (tuple, list)):
                raise TypeError(f"{name}: bwd must return a tuple with one cotangent per "
                                "differentiable argument.")
            if len(out) != len(dyn):
                raise TypeError(f"{name}: bwd returned {len(out)} cotangents for {len(dyn)} "
                                "arguments; return one per (differentiable) argument.")
            leaves = []
            for arg, c in zip(dyn, out):
                arg_leaves, arg_tree = tree_flatten(arg)
                if c is None:
                    leaves.extend([None] * len(arg_leaves))
                    continue
                c_leaves, c_tree = tree_flatten(c)
                if c_tree != arg_tree:
                    raise TypeError(f"{name}: bwd returned a cotangent of structure {c_tree} "
                                    f"for an argument of structure {arg_tree}.")
                leaves.extend(c_leaves)
            return leaves

        outs = custom_vjp_call_p.bind(*consts, *flat_args, call_jaxpr=call_jaxpr, fwd=flat_fwd,
                                      bwd=flat_bwd, num_consts=len(consts), name=name)
        return tree_unflatten(tree_box[0], outs)


# ---------------------------------------------------------------------------------------------
# closure_convert
# ---------------------------------------------------------------------------------------------


def _maybe_perturbed(x) -> bool:
    """Whether ``x`` may carry a derivative: a tracer, unless it is a JVP tracer with a zero
    tangent around a value that is not perturbed either. Plain arrays never are."""
    if not isinstance(x, core.Tracer):
        return False
    if isinstance(x, ad.JVPTracer) and isinstance(x.tangent, Zero):
        return _maybe_perturbed(x.primal)
    return True


def closure_convert(fun: Callable, *example_args) -> tuple[Callable, list]:
    """Hoist the values ``fun`` closes over that may be differentiated into explicit arguments
    (JAX's ``jax.closure_convert``).

    ``fun`` is traced on arguments of the types of ``example_args``; the closed-over values it
    used that are tracers (being differentiated or staged) become extra trailing arguments.
    Returns ``(converted, consts)`` where ``converted(*args, *consts)`` equals ``fun(*args)``
    for arguments of the same structure and types: what a ``custom_vjp`` taking a function
    argument (through ``nondiff_argnums``) needs to pass the closure's values to its rules.
    """
    flat_args, in_tree = tree_flatten(tuple(example_args))
    out_tree_box = []

    def flat_fun(*flat):
        out, tree = tree_flatten(fun(*tree_unflatten(in_tree, list(flat))))
        out_tree_box.append(tree)
        return out

    closed = trace_to_jaxpr(flat_fun, [core.get_aval(x) for x in flat_args])
    out_tree = out_tree_box[0]
    consts = list(closed.consts)
    hoisted = [_maybe_perturbed(c) for c in consts]
    kept = [c for c, h in zip(consts, hoisted) if not h]
    const_args = [c for c, h in zip(consts, hoisted) if h]
    n_hoisted = len(const_args)

    def converted(*args_and_consts):
        n_args = len(args_and_consts) - n_hoisted
        if n_args < 0:
            raise TypeError(f"closure_convert: the converted function takes its arguments "
                            f"followed by the {n_hoisted} hoisted values; got "
                            f"{len(args_and_consts)} arguments in all.")
        args, extra = args_and_consts[:n_args], iter(args_and_consts[n_args:])
        keep = iter(kept)
        all_consts = [next(extra) if h else next(keep) for h in hoisted]
        flat, tree = tree_flatten(tuple(args))
        if tree != in_tree:
            raise TypeError(f"closure_convert: the converted function was made for arguments "
                            f"of structure {in_tree}, got {tree}.")
        outs = core.eval_jaxpr(closed.jaxpr, all_consts, *flat)
        return tree_unflatten(out_tree, outs)

    return converted, const_args
