"""Run programs through ``jit`` and through the reference interpreter, and compare.

Other test modules use it to put their programs through the compiler systematically::

    from jit_check import assert_jit_matches_interpreter

    def test_my_op_compiles():
        assert_jit_matches_interpreter(lambda x: fnp.cumsum(x * 2), np.arange(5.0))

The reference is ``eval_jaxpr`` of the very jaxpr ``jit`` compiles (with nested ``jit_call``s
interpreted too), so a mismatch is a backend bug, not a tracing difference. Floating-point
results must agree to a few ulps (the backend may sum in another order and uses its own
vectorised sin/cos); integers and booleans exactly; NaN where NaN, infinities with their sign.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from functrace import core
from functrace.config import config
from functrace.jit import jit
from functrace.tree_util import tree_flatten, tree_unflatten

# (rtol, atol) per dtype kind when the caller gives none
TOLERANCES = {np.dtype(np.float32): (2e-5, 1e-6), np.dtype(np.float64): (1e-11, 1e-13),
              np.dtype(np.float16): (2e-3, 1e-4), np.dtype(np.complex64): (2e-5, 1e-6),
              np.dtype(np.complex128): (1e-11, 1e-13)}


def assert_close(got: Any, want: Any, rtol: float | None = None, atol: float | None = None,
                 what: str = "output") -> None:
    """``got`` equals ``want`` in shape and dtype, and in value up to the dtype's tolerance."""
    got_a, want_a = np.asarray(got), np.asarray(want)
    assert got_a.shape == want_a.shape, f"{what}: shape {got_a.shape} != {want_a.shape}"
    assert got_a.dtype == want_a.dtype, f"{what}: dtype {got_a.dtype} != {want_a.dtype}"
    if got_a.dtype.kind in "biu":
        np.testing.assert_array_equal(got_a, want_a, err_msg=what)
        return
    r, a = TOLERANCES.get(got_a.dtype, (1e-7, 0.0))
    rtol = r if rtol is None else rtol
    atol = a if atol is None else atol
    # NaN where NaN, infinities equal (with sign); the finite rest within tolerance
    np.testing.assert_array_equal(np.isnan(got_a), np.isnan(want_a), err_msg=f"{what}: NaNs")
    inf = np.isinf(want_a)
    np.testing.assert_array_equal(got_a[inf], want_a[inf], err_msg=f"{what}: infinities")
    fin = np.isfinite(want_a)
    scale = max(float(np.max(np.abs(want_a[fin]), initial=0.0)), 1.0)
    np.testing.assert_allclose(got_a[fin], want_a[fin], rtol=rtol, atol=atol * scale,
                               err_msg=what)


def interpret(f: Callable, *args, static_argnums=(), **kwargs):
    """``f(*args)`` by the reference interpreter on the jaxpr ``jit(f)`` would compile."""
    traced = jit(f, static_argnums=static_argnums).trace(*args, **kwargs)
    closed = traced.jaxpr
    core.check_jaxpr(closed)
    statics = set(static_argnums if not isinstance(static_argnums, int) else (static_argnums,))
    dyn = [a for i, a in enumerate(args) if i not in statics]
    flat, _ = tree_flatten((tuple(dyn), kwargs))
    with config.override(disable_jit=True):
        outs = core.eval_jaxpr(closed.jaxpr, closed.consts, *flat)
    return tree_unflatten(traced._traced.out_tree, outs)


def assert_jit_matches_interpreter(f: Callable, *args, rtol: float | None = None,
                                   atol: float | None = None, static_argnums=(),
                                   **kwargs) -> Any:
    """Compile ``f`` with ``jit``, run it on ``args``, and compare every output with the
    reference interpreter's; returns the compiled result."""
    got = jit(f, static_argnums=static_argnums)(*args, **kwargs)
    want = interpret(f, *args, static_argnums=static_argnums, **kwargs)
    got_leaves, got_tree = tree_flatten(got)
    want_leaves, want_tree = tree_flatten(want)
    assert got_tree == want_tree, f"output structure {got_tree} != {want_tree}"
    for k, (g, w) in enumerate(zip(got_leaves, want_leaves)):
        assert isinstance(g, np.ndarray), f"output {k} is a {type(g).__name__}, not an array"
        assert_close(g, w, rtol, atol, what=f"output {k}")
    return got
