"""``pure_callback``: call a Python function on NumPy arrays from inside traced code.

The call is one primitive, ``pure_callback``, whose params hold the flat Python function and the
declared result types. Its NumPy implementation calls the function and checks what it returned
against the declaration; under ``jit`` the backend runs it between compiled parts of the program
(it is listed in ``backend.python_primitives``, so without the "no compiled lowering" warning).
``vmap`` follows the ``vmap_method`` the caller chose (JAX's names): ``"sequential"`` loops in
Python, ``"expand_dims"`` and ``"broadcast_all"`` call the function once on the whole batch.
There is no derivative rule, as in JAX: differentiating through the callback is an error that
says to wrap it in ``custom_jvp``/``custom_vjp``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import ad, backend, batching, core
from .core import Primitive, ShapedArray
from .tree_util import tree_flatten, tree_unflatten

__all__ = ["pure_callback"]

VMAP_METHODS = ("sequential", "sequential_unrolled", "expand_dims", "broadcast_all",
                "legacy_vectorized")

pure_callback_p = Primitive("pure_callback", multiple_results=True)


def _shape_rule(*avals, callback, result_avals, vmap_method):
    return list(result_avals)


def _readonly(x) -> np.ndarray:
    # the callback sees the program's own buffers under jit: a view it cannot write through
    a = np.asarray(x).view()
    a.flags.writeable = False
    return a


def _impl(*args, callback, result_avals, vmap_method):
    outs = callback(*[_readonly(a) for a in args])
    return _check_results(callback, outs, result_avals)


def _check_results(callback, outs, result_avals) -> list:
    name = getattr(callback, "__name__", "the callback")
    if len(outs) != len(result_avals):
        raise TypeError(f"pure_callback: {name} returned {len(outs)} arrays but "
                        f"result_shape_dtypes declares {len(result_avals)}.")
    checked = []
    for i, (o, want) in enumerate(zip(outs, result_avals)):
        a = np.asarray(o)
        if a.shape != want.shape:
            raise TypeError(f"pure_callback: result {i} of {name} has shape {a.shape}, but "
                            f"result_shape_dtypes declares {want.shape}.")
        if a.dtype != want.dtype:
            # JAX converts within a kind (float64 -> float32); across kinds it is a mistake
            if not np.can_cast(a.dtype, want.dtype, "same_kind"):
                raise TypeError(f"pure_callback: result {i} of {name} has dtype "
                                f"{a.dtype.name}, which does not convert to the declared "
                                f"{want.dtype.name}; return {want.dtype.name} values or "
                                "declare the dtype the function returns.")
        checked.append(np.array(a, dtype=want.dtype))  # a fresh array: never the operand
    return checked


def _jvp_rule(primals, tangents, **params):
    raise ValueError(
        "pure_callback cannot be differentiated: functrace does not know the derivative of the "
        "Python function it calls. Wrap the function that calls pure_callback in "
        "functrace.custom_jvp or functrace.custom_vjp and give its derivative (which may call "
        "pure_callback too).")


def _batch_rule(vals, dims, axis_size, *, callback, result_avals, vmap_method):
    if vmap_method is None:
        raise NotImplementedError(
            "vmap of pure_callback needs a vmap_method: pass vmap_method='sequential' (call the "
            "function once per example), 'expand_dims' or 'broadcast_all' (call it once on the "
            "whole batch) to pure_callback.")
    batched = [d is not None for d in dims]
    vals = [batching.moveaxis(v, d, 0) if d is not None else v for v, d in zip(vals, dims)]
    out_avals = tuple(ShapedArray((axis_size, *a.shape), a.dtype) for a in result_avals)
    if vmap_method in ("sequential", "sequential_unrolled"):
        def looped(*args):
            per_example = []
            for i in range(axis_size):
                outs = callback(*[a[i] if b else a for a, b in zip(args, batched)])
                per_example.append(_check_results(callback, outs, result_avals))
            return [np.stack([ex[j] for ex in per_example]) if axis_size else
                    np.zeros(out_avals[j].shape, out_avals[j].dtype)
                    for j in range(len(result_avals))]

        looped.__name__ = getattr(callback, "__name__", "callback")
        new_cb = looped
    else:
        if vmap_method == "expand_dims":
            vals = [v if b else _expand0(v) for v, b in zip(vals, batched)]
        elif vmap_method == "broadcast_all":
            vals = [v if b else batching.broadcast_batch(v, axis_size, 0)
                    for v, b in zip(vals, batched)]
        new_cb = callback  # "legacy_vectorized": unbatched operands as they are
    outs = pure_callback_p.bind(*vals, callback=new_cb, result_avals=out_avals,
                                vmap_method=vmap_method)
    return outs, [0] * len(outs)


def _expand0(v):
    from .ops import basic
    aval = core.get_aval(v)
    return basic.reshape(v, (1, *aval.shape))


core.shape_rules[pure_callback_p] = _shape_rule
backend.python_primitives.add(pure_callback_p.name)
core.impl_rules[pure_callback_p] = _impl
ad.jvp_rules[pure_callback_p] = _jvp_rule
batching.batch_rules[pure_callback_p] = _batch_rule


def _result_aval(x, i: int) -> ShapedArray:
    if not (hasattr(x, "shape") and hasattr(x, "dtype")):
        raise TypeError(f"pure_callback: result_shape_dtypes leaf {i} is {x!r}; give objects "
                        "with .shape and .dtype, such as functrace.ShapeDtypeStruct(shape, "
                        "dtype) or an array.")
    dt = np.dtype(x.dtype)
    if dt.kind not in "biufc":
        raise TypeError(f"pure_callback: result dtype {dt} is not a numeric dtype.")
    return ShapedArray(tuple(int(d) for d in x.shape), dt)


def _is_shape_leaf(x) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype")


def pure_callback(callback: Callable[..., Any], result_shape_dtypes: Any, *args: Any,
                  sharding: Any = None, vmap_method: str | None = None,
                  vectorized: bool | None = None, **kwargs: Any) -> Any:
    """Call ``callback(*args, **kwargs)`` on NumPy arrays and return its result as arrays of the
    declared types (JAX's ``jax.pure_callback``).

    ``result_shape_dtypes`` is a pytree of objects with ``.shape`` and ``.dtype`` (such as
    ``ShapeDtypeStruct``) matching what ``callback`` returns; a result of another shape, or of a
    dtype of another kind, is a ``TypeError`` (a float64 result declared float32 is converted,
    as JAX does). The function must be pure: it may be called more than once, or not at all if
    its result is unused. ``args``/``kwargs`` are pytrees of arrays.

    Under ``jit`` it runs in Python between the compiled parts of the program. Under ``vmap``:
    ``vmap_method="sequential"`` calls it once per example; ``"expand_dims"`` once, with batched
    operands carrying the batch as a new leading axis and the others a leading axis of size 1;
    ``"broadcast_all"`` the same with every operand broadcast to the batch size; results must
    then have the batch as their leading axis. ``vectorized=True`` is the older spelling
    (``"legacy_vectorized"``: unbatched operands are passed unchanged). Differentiating it is an
    error: wrap it in ``custom_jvp``/``custom_vjp``. ``sharding`` is accepted and ignored (one
    CPU device).
    """
    del sharding
    if vectorized is not None:
        if vmap_method is not None:
            raise ValueError("pure_callback: give vmap_method or the older vectorized=, "
                             "not both.")
        vmap_method = "legacy_vectorized" if vectorized else "sequential"
    if vmap_method is not None and vmap_method not in VMAP_METHODS:
        raise ValueError(f"pure_callback: vmap_method must be one of {', '.join(VMAP_METHODS)}, "
                         f"got {vmap_method!r}.")
    if not callable(callback):
        raise TypeError(f"pure_callback: callback must be callable, got {callback!r}.")
    res_leaves, res_tree = tree_flatten(result_shape_dtypes, is_leaf=_is_shape_leaf)
    result_avals = tuple(_result_aval(x, i) for i, x in enumerate(res_leaves))
    flat_args, in_tree = tree_flatten((args, kwargs))
    from .numpy._base import asarray
    flat_args = [asarray(a) for a in flat_args]
    for a in flat_args:
        dt = core.get_aval(a).dtype
        if dt.kind not in "biufc":
            raise TypeError(f"pure_callback: operands must be numeric arrays, got {dt}.")

    def flat_callback(*flat):
        a, kw = tree_unflatten(in_tree, list(flat))
        out = callback(*a, **kw)
        leaves, tree = tree_flatten(out)
        if tree != res_tree:
            raise TypeError(f"pure_callback: {getattr(callback, '__name__', 'the callback')} "
                            f"returned a result of structure {tree}, but result_shape_dtypes "
                            f"has structure {res_tree}.")
        return leaves

    flat_callback.__name__ = getattr(callback, "__name__", "callback")
    outs = pure_callback_p.bind(*flat_args, callback=flat_callback, result_avals=result_avals,
                                vmap_method=vmap_method)
    return tree_unflatten(res_tree, outs)
