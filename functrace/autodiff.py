"""The differentiation API: ``jvp``, ``linearize``, ``vjp``, ``grad``, Jacobians and Hessians.

Reverse mode is symbol-to-symbol: ``linearize`` runs the JVP with known primals and unknown
tangents (``partial_eval``), which computes the forward pass and records the tangent program as a
linear jaxpr; ``vjp`` transposes that jaxpr (``ad.backward_pass``). Under ``make_jaxpr`` or
``jit`` both passes are staged, so the backward pass is itself a printable, compilable program.
Outside any transformation (plain NumPy inputs), ``grad``/``vjp``/``jacrev`` record an eager tape
instead (``eager_vjp``): same values, bit for bit, with one interpreter instead of three.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import ad, core, dtypes
from .ad import Zero
from .core import ShapedArray
from .partial_eval import LinearFunction, linearize_flat  # noqa: F401 - LinearFunction: re-exported
from .tree_util import tree_flatten, tree_map, tree_structure, tree_unflatten

# ---------------------------------------------------------------------------------------------
# Flat building blocks
# ---------------------------------------------------------------------------------------------


def _linearize_to_transpose(fun: Callable, primals: Sequence[Any],
                            differentiable: Sequence[bool]):
    """``linearize_flat`` for callers that only transpose the result (``vjp``, ``grad``,
    ``jacrev``): outside any transformation, the eager tape of ``eager_vjp`` (same values,
    one interpreter instead of three)."""
    from . import eager_vjp
    if eager_vjp.eager_ok(primals):
        return eager_vjp.eager_linearize(fun, primals, differentiable)
    return linearize_flat(fun, primals, differentiable)


# ---------------------------------------------------------------------------------------------
# Argument handling shared by the API functions
# ---------------------------------------------------------------------------------------------


def _normalize_argnums(argnums: int | Sequence[int], nargs: int, fname: str) -> tuple[int, ...]:
    single = isinstance(argnums, int)
    if not single and not (isinstance(argnums, (tuple, list))
                           and all(isinstance(a, int) for a in argnums)):
        raise TypeError(f"{fname}: argnums must be an int or a tuple of ints, got {argnums!r}.")
    nums = (argnums,) if single else tuple(argnums)
    for a in nums:
        if not -nargs <= a < nargs:
            raise ValueError(
                f"{fname}: argnums={argnums!r} is out of range for a function called with "
                f"{nargs} positional argument{'s' if nargs != 1 else ''}.")
    return tuple(a % nargs for a in nums)


def _as_array(x):
    if isinstance(x, (core.Tracer, np.ndarray, np.generic)):
        return x
    if type(x) in (int, float, complex):
        return x  # stays a weakly typed Python scalar, as in JAX
    if type(x) is bool:
        return np.asarray(x)
    if isinstance(x, (list, tuple)):
        return np.asarray(x)
    raise TypeError(f"expected an array or a scalar, got {x!r:.60} of type {type(x).__name__}, "
                    "which is not a valid array type: pass arrays (or pytrees of arrays) as the "
                    "arguments being differentiated, and leave other values out of argnums.")


def _aux_leaf(x, base_level: int):
    """An aux output leaf without the tracers of the differentiation that produced it: their
    primal values (plain arrays, or the tracers of enclosing transformations)."""
    from .batching import BatchTracer
    from .partial_eval import PartialEvalTracer
    while isinstance(x, core.Tracer) and x._trace.main.level > base_level:
        if isinstance(x, ad.JVPTracer):
            x = x.primal
        elif isinstance(x, PartialEvalTracer) and x.is_known():
            x = x.known
        elif isinstance(x, BatchTracer) and x.bdim is None:
            x = x.val
        else:
            raise TypeError("has_aux: the auxiliary output depends on the tangents; return it "
                            "as a regular output instead.")
    return x


def _lower_aux(aux, base_level: int):
    """``aux`` as the caller sees it: no tracer of the finished inner transformation."""
    return tree_map(lambda x: _aux_leaf(x, base_level), aux)


def _check_input_differentiable(x, fname: str, holomorphic: bool = False,
                                allow_complex: bool = True) -> None:
    """JAX's input rules: reverse mode takes real or complex inputs, forward-mode Jacobians
    real ones only, and ``holomorphic=True`` complex ones only."""
    dtype = core.get_aval(x).dtype
    if holomorphic and not dtypes.is_complex(dtype):
        raise TypeError(f"{fname} with holomorphic=True requires inputs with complex dtype, "
                        f"but got {dtype.name}.")
    if dtypes.is_complex(dtype) and not holomorphic and not allow_complex:
        raise TypeError(f"{fname} requires real-valued inputs (input dtype that is a sub-dtype "
                        f"of np.floating), but got {dtype.name}. For holomorphic functions, "
                        "pass holomorphic=True; for other functions of complex inputs, use "
                        "jvp directly.")
    if not dtypes.is_inexact(dtype):
        raise TypeError(
            f"{fname} requires real- or complex-valued inputs (input dtype that is a sub-dtype "
            f"of np.inexact), but got {dtype.name}. If you want to use integer-valued inputs, "
            "convert them to float first (e.g. x.astype(np.float64)), or leave them out of "
            "argnums.")


def _check_output_differentiable(dtype, fname: str, holomorphic: bool) -> None:
    if holomorphic and not dtypes.is_complex(dtype):
        raise TypeError(f"{fname} with holomorphic=True requires outputs with complex dtype, "
                        f"but got {dtype.name}.")
    if not dtypes.is_inexact(dtype) or dtypes.is_complex(dtype) and not holomorphic:
        raise TypeError(
            f"{fname} requires real-valued outputs (output dtype that is a sub-dtype of "
            f"np.floating), but got {dtype.name}. For holomorphic differentiation, pass "
            "holomorphic=True; for other functions with complex outputs, use vjp directly "
            "(or differentiate the real part).")


def _split_args(fun, args, argnums):
    """Flatten the differentiated arguments; return (flat primals, their tree, flat fun)."""
    dyn = [args[i] if type(args[i]) is np.ndarray else tree_map(_as_array, args[i])
           for i in argnums]
    flat, in_tree = tree_flatten(tuple(dyn))
    out_tree_box: list = []

    def flat_fun(*xs):
        new_args = list(args)
        for i, a in zip(argnums, tree_unflatten(in_tree, list(xs))):
            new_args[i] = a
        out = fun(*new_args)
        flat_out, out_tree = tree_flatten(out)
        out_tree_box.append(out_tree)
        return flat_out

    return flat, in_tree, flat_fun, out_tree_box


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def jvp(fun: Callable, primals: Sequence[Any], tangents: Sequence[Any], has_aux: bool = False):
    """Forward mode: ``(fun(*primals), J @ tangents)``, with pytrees as in JAX."""
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: primals and tangents must be tuples or lists of arguments, e.g. "
                        "jvp(f, (x,), (v,)).")
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: got {len(primals)} primals but {len(tangents)} tangents.")
    base_level = core.current_level()
    flat_p, tree_p = tree_flatten(tuple(tree_map(_as_array, p) for p in primals))
    flat_t, tree_t = tree_flatten(tuple(tree_map(_as_array, t) for t in tangents))
    if tree_p != tree_t:
        raise ValueError(f"jvp: primal and tangent structures differ: {tree_p} vs {tree_t}.")
    for p, t in zip(flat_p, flat_t):
        pa, ta = core.get_aval(p), core.get_aval(t)
        if pa.shape != ta.shape:
            raise ValueError(f"jvp: tangent of shape {ta.shape} for a primal of shape "
                             f"{pa.shape}; they must match.")
    flat_t = [Zero(core.get_aval(p)) if not dtypes.is_inexact(core.get_aval(p).dtype)
              else lax_convert(t, core.get_aval(p).dtype) for p, t in zip(flat_p, flat_t)]
    out_tree_box = []

    def flat_fun(*xs):
        out = fun(*tree_unflatten(tree_p, list(xs)))
        if has_aux:
            out, aux = out
            out_tree_box.append(aux)
        flat_out, out_tree = tree_flatten(out)
        out_tree_box.insert(0, out_tree)
        return flat_out

    outs, touts = ad.jvp_flat(flat_fun, flat_p, flat_t)
    touts = [ad.zeros_like_aval(core.get_aval(o)) if isinstance(t, Zero) else t
             for o, t in zip(outs, touts)]
    out_tree = out_tree_box[0]
    result = (tree_unflatten(out_tree, outs), tree_unflatten(out_tree, touts))
    return result + (_lower_aux(out_tree_box[1], base_level),) if has_aux else result


def lax_convert(x, dtype):
    from . import lax
    return lax.convert_element_type(x, dtype)


def linearize(fun: Callable, *primals):
    """``(fun(*primals), f_jvp)`` where ``f_jvp(*tangents)`` evaluates the stored linear map."""
    flat, in_tree, flat_fun, out_tree_box = _split_args(fun, primals, tuple(range(len(primals))))
    diff = [dtypes.is_inexact(core.get_aval(x).dtype) for x in flat]
    outs, lin = linearize_flat(flat_fun, flat, diff)
    out_tree = out_tree_box[0]

    def f_jvp(*tangents):
        flat_t, tree_t = tree_flatten(tuple(tangents))
        if tree_t != in_tree:
            raise ValueError(f"linearize: tangents have structure {tree_t}, expected {in_tree}.")
        touts = lin.apply(flat_t)
        touts = [ad.instantiate(t) for t in touts]
        return tree_unflatten(out_tree, touts)

    return tree_unflatten(out_tree, outs), f_jvp


def _vjp_core(fun, args, argnums, fname, holomorphic=False, check_inputs=True):
    flat, in_tree, flat_fun, out_tree_box = _split_args(fun, args, argnums)
    if check_inputs:
        for x in flat:
            _check_input_differentiable(x, fname, holomorphic)
    diff = [dtypes.is_inexact(core.get_aval(x).dtype) for x in flat]
    outs, lin = _linearize_to_transpose(flat_fun, flat, diff)
    return outs, lin, in_tree, out_tree_box[0]


def vjp(fun: Callable, *primals, has_aux: bool = False):
    """``(fun(*primals), vjp_fn)`` where ``vjp_fn(cotangent)`` returns one cotangent per primal."""
    aux_box: list = []
    base_level = core.current_level()

    def fun_no_aux(*a):
        out = fun(*a)
        if has_aux:
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                raise TypeError("vjp with has_aux=True needs fun to return a pair (out, aux).")
            aux_box.append(out[1])
            return out[0]
        return out

    outs, lin, in_tree, out_tree = _vjp_core(fun_no_aux, primals, tuple(range(len(primals))),
                                             "vjp", holomorphic=True, check_inputs=False)

    def vjp_fn(ct):
        flat_ct, ct_tree = tree_flatten(ct)
        if ct_tree != out_tree:
            raise ValueError(f"vjp_fn: cotangent has structure {ct_tree} but the function's "
                             f"output has structure {out_tree}; pass one cotangent per output.")
        cts = []
        for c, a in zip(flat_ct, lin.out_avals):
            c = _as_array(c)
            ca = core.get_aval(c)
            if ca.shape != a.shape:
                raise ValueError(f"vjp_fn: cotangent of shape {ca.shape} ({ca.dtype.name}) for "
                                 f"an output of shape {a.shape} ({a.dtype.name}); they must "
                                 "match.")
            if ca.dtype != a.dtype and dtypes.is_inexact(a.dtype):
                if not getattr(ca, "weak_type", False):
                    # ValueError, as JAX raises for any mismatched cotangent type
                    raise ValueError(f"vjp_fn: cotangent of dtype {ca.dtype.name} for an output "
                                     f"of dtype {a.dtype.name}; they must match.")
                c = np.asarray(c, a.dtype)  # a Python scalar adapts, as in JAX
            cts.append(c)
        cts_in = lin.transpose(cts)
        cts_in = [ad.zeros_like_aval(a) if isinstance(c, Zero) else c
                  for c, a in zip(cts_in, lin.in_avals)]
        return tuple(tree_unflatten(in_tree, cts_in))

    primal_out = tree_unflatten(out_tree, outs)
    if has_aux:
        return primal_out, vjp_fn, _lower_aux(aux_box[0], base_level)
    return primal_out, vjp_fn


_LEAF_TREE = tree_structure(0)  # the tree of a single array output


def value_and_grad(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
                   holomorphic: bool = False) -> Callable:
    """A function returning ``(fun(*args), gradient)``; with ``has_aux``, ``((value, aux), g)``."""

    @functools.wraps(fun)
    def value_and_grad_f(*args, **kwargs):
        nums = _normalize_argnums(argnums, len(args), "grad")
        aux_box: list = []
        base_level = core.current_level()

        def f(*a):
            out = fun(*a, **kwargs)
            if has_aux:
                if not (isinstance(out, (tuple, list)) and len(out) == 2):
                    raise TypeError("grad with has_aux=True needs fun to return a pair "
                                    "(output, aux).")
                aux_box.append(out[1])
                out = out[0]
            return out

        outs, lin, in_tree, out_tree = _vjp_core(f, args, nums, "grad", holomorphic)
        if out_tree != _LEAF_TREE or len(outs) != 1:
            raise TypeError(f"grad requires a scalar output, but the function returned "
                            f"{out_tree}; use jacrev or vjp for non-scalar outputs.")
        out_aval = lin.out_avals[0]
        if out_aval.shape != ():
            raise TypeError(
                f"grad requires a scalar output, but the function returned an array of shape "
                f"{out_aval.shape}; reduce it (e.g. .sum()) or use jacrev / vjp.")
        _check_output_differentiable(out_aval.dtype, "grad", holomorphic)
        cts_in = lin.transpose([np.ones((), out_aval.dtype)])
        grads = [ad.zeros_like_aval(a) if isinstance(c, Zero) else c
                 for c, a in zip(cts_in, lin.in_avals)]
        grads = tree_unflatten(in_tree, grads)
        g = grads[0] if isinstance(argnums, int) else tuple(grads)
        value = outs[0]
        if has_aux:
            return (value, _lower_aux(aux_box[0], base_level)), g
        return value, g

    return value_and_grad_f


def grad(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
         holomorphic: bool = False) -> Callable:
    """The gradient of a scalar function with respect to the arguments ``argnums``."""
    vg = value_and_grad(fun, argnums, has_aux, holomorphic)

    @functools.wraps(fun)
    def grad_f(*args, **kwargs):
        (value_aux, g) = vg(*args, **kwargs)
        if has_aux:
            return g, value_aux[1]
        return g

    return grad_f


# ---------------------------------------------------------------------------------------------
# Jacobians: one vmapped JVP or VJP over a basis, never a Python loop over basis vectors
# ---------------------------------------------------------------------------------------------


def _std_basis(avals: list[ShapedArray], dtype) -> tuple[list, int]:
    """Identity rows split per leaf: leaf ``i`` gets shape ``(N,) + shape_i``."""
    from . import lax
    sizes = [a.size for a in avals]
    n = sum(sizes)
    eye = np.eye(n, dtype=dtype)
    out, start = [], 0
    for a, s in zip(avals, sizes):
        block = eye[:, start:start + s].reshape((n,) + a.shape)
        out.append(lax.convert_element_type(block, a.dtype) if block.dtype != a.dtype else block)
        start += s
    return out, n


def _jac_dtype(avals):
    return np.result_type(*[a.dtype for a in avals]) if avals else np.float64


def _split_jacobian(rows, out_avals, in_avals, leading_is_input: bool):
    """Turn batched results into blocks of shape ``out.shape + in.shape``."""
    from . import lax
    blocks = []
    if leading_is_input:  # jacfwd: rows[j] has shape (N_in,) + out_j.shape
        for r, oa in zip(rows, out_avals):
            moved = lax.transpose(r, tuple(range(1, oa.ndim + 1)) + (0,))
            per_in, start = [], 0
            for ia in in_avals:
                piece = _slice_last(moved, start, start + ia.size)
                per_in.append(lax.reshape(piece, oa.shape + ia.shape))
                start += ia.size
            blocks.append(per_in)
    else:  # jacrev: rows[i] has shape (N_out,) + in_i.shape
        for oi, oa in enumerate(out_avals):
            start = sum(a.size for a in out_avals[:oi])
            per_in = []
            for r, ia in zip(rows, in_avals):
                piece = _slice_first(r, start, start + oa.size)
                per_in.append(lax.reshape(piece, oa.shape + ia.shape))
            blocks.append(per_in)
    return blocks


def _slice_last(x, lo, hi):
    from . import lax
    aval = core.get_aval(x)
    if lo == 0 and hi == aval.shape[-1]:
        return x
    return lax.slice(x, (0,) * (aval.ndim - 1) + (lo,), aval.shape[:-1] + (hi,))


def _slice_first(x, lo, hi):
    from . import lax
    aval = core.get_aval(x)
    if lo == 0 and hi == aval.shape[0]:
        return x
    return lax.slice(x, (lo,) + (0,) * (aval.ndim - 1), (hi,) + aval.shape[1:])


def _jacobian(fun, argnums, has_aux, holomorphic, mode: str):
    from .batching import vmap
    fname = "jacfwd" if mode == "fwd" else "jacrev"

    @functools.wraps(fun)
    def jac_fun(*args):
        nums = _normalize_argnums(argnums, len(args), fname)
        aux_box: list = []
        base_level = core.current_level()

        def f(*a):
            out = fun(*a)
            if has_aux:
                out, aux = out
                aux_box.append(aux)
            return out

        flat, in_tree, flat_fun, out_tree_box = _split_args(f, args, nums)
        for x in flat:
            _check_input_differentiable(x, fname, holomorphic, allow_complex=mode == "rev")
        in_avals = [core.get_aval(x) for x in flat]
        if mode == "fwd":
            basis, _ = _std_basis(in_avals, _jac_dtype(in_avals))
            outs_box: list = []

            def push(*tangents):
                outs, touts = ad.jvp_flat(flat_fun, flat, list(tangents))
                outs_box.append(outs)
                return [ad.instantiate(t) for t in touts]

            rows = vmap(lambda *t: push(*t))(*basis)
            outs = outs_box[0]
            out_avals = [core.get_aval(o) for o in outs]
            if holomorphic:
                for a in out_avals:
                    _check_output_differentiable(a.dtype, "jacfwd", holomorphic)
            blocks = _split_jacobian(rows, out_avals, in_avals, leading_is_input=True)
        else:
            outs, lin = _linearize_to_transpose(flat_fun, flat, [True] * len(flat))
            out_avals = list(lin.out_avals)
            for a in out_avals:
                _check_output_differentiable(a.dtype, "jacrev", holomorphic)
            basis, _ = _std_basis(out_avals, _jac_dtype(out_avals))

            def pull(*cts):
                cts_in = lin.transpose(list(cts))
                return [ad.zeros_like_aval(a) if isinstance(c, Zero) else c
                        for c, a in zip(cts_in, lin.in_avals)]

            rows = vmap(pull)(*basis)
            blocks = _split_jacobian(rows, out_avals, in_avals, leading_is_input=False)
        out_tree = out_tree_box[0]
        per_out = [tree_unflatten(in_tree, b) for b in blocks]
        per_out = [p[0] if isinstance(argnums, int) else tuple(p) for p in per_out]
        jac = tree_unflatten(out_tree, per_out)
        return (jac, _lower_aux(aux_box[0], base_level)) if has_aux else jac

    return jac_fun


def jacfwd(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
           holomorphic: bool = False) -> Callable:
    """Jacobian by forward mode (one vmapped JVP); shape ``out.shape + in.shape``."""
    return _jacobian(fun, argnums, has_aux, holomorphic, "fwd")


def jacrev(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
           holomorphic: bool = False) -> Callable:
    """Jacobian by reverse mode (one vmapped VJP); shape ``out.shape + in.shape``."""
    return _jacobian(fun, argnums, has_aux, holomorphic, "rev")


jacobian = jacrev


def hessian(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
            holomorphic: bool = False) -> Callable:
    """The Hessian, as ``jacfwd(jacrev(fun))`` (forward-over-reverse)."""
    return jacfwd(jacrev(fun, argnums, has_aux, holomorphic), argnums, has_aux, holomorphic)


def saved_residuals(fun: Callable, *args) -> list[dict]:
    """What ``vjp(fun, *args)`` stores for the backward pass: one entry per residual with its
    ``shape``, ``dtype``, ``bytes`` and a ``source`` description (the user line that used it)."""
    flat, _, flat_fun, _ = _split_args(fun, args, tuple(range(len(args))))
    diff = [dtypes.is_inexact(core.get_aval(x).dtype) for x in flat]
    _, lin = linearize_flat(flat_fun, flat, diff)
    readers: dict = {}
    for eqn in lin.jaxpr.eqns:
        for v in eqn.invars:
            if isinstance(v, core.Var):
                readers.setdefault(v, f"{eqn.primitive} at {eqn.source_info}")
    input_ids = {id(x) for x in flat}
    out = []
    for v, r in zip(lin.jaxpr.constvars, lin.residuals):
        aval = v.aval
        out.append(dict(shape=aval.shape, dtype=aval.dtype, bytes=aval.size * aval.dtype.itemsize,
                        is_input=id(r) in input_ids, source=readers.get(v, "output")))
    return out
