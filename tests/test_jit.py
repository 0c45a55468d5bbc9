"""Tests of the ``jit`` API: tracing and compile caching, static arguments, pytrees, the
``disable_jit`` switch, ``lower()``, and composition with every transformation.

Jitted functions are defined at module level and shapes are small, so the suite compiles each
program once (compiled code is also shared across runs through the disk cache).
"""

from __future__ import annotations

import functools
import logging
import os
import subprocess
import sys

import numpy as np
import pytest
from jit_check import assert_close, assert_jit_matches_interpreter

import functrace as ft
import functrace.numpy as fnp
from functrace import backend, core
from functrace.config import config
from functrace.jit import Jitted, disable_jit, jit, jit_call_p

RNG = np.random.RandomState(0)
X = RNG.rand(3, 4) + 0.5
Y = RNG.rand(3, 4) + 0.5


def _f(x, y):
    return fnp.sum(fnp.tanh(x) * y + fnp.sin(x * y))


def _f_numpy(x, y):
    return np.sum(np.tanh(x) * y + np.sin(x * y))


def _df_dx(x, y):
    t = np.tanh(x)
    return (1 - t * t) * y + np.cos(x * y) * y


f_jit = jit(_f)

# ---------------------------------------------------------------------------------------------
# Caching: traces and compiles
# ---------------------------------------------------------------------------------------------

_trace_count = {"n": 0}


def _counted(x):
    _trace_count["n"] += 1
    return fnp.exp(x) * 2.0


counted_jit = jit(_counted)


def test_second_call_neither_retraces_nor_recompiles():
    _trace_count["n"] = 0
    x = np.linspace(0, 1, 7)
    r1 = counted_jit(x)
    compiles = backend.stats["compiles"]
    r2 = counted_jit(x + 1.0)  # same signature, other values
    r3 = counted_jit(x)
    assert _trace_count["n"] == 1
    assert backend.stats["compiles"] == compiles
    assert_close(r1, np.exp(x) * 2)
    assert_close(r2, np.exp(x + 1) * 2)
    assert_close(r3, r1)


def test_new_shape_or_dtype_retraces():
    _trace_count["n"] = 0
    counted_jit(np.zeros(2))
    counted_jit(np.zeros(3))
    counted_jit(np.zeros(3, np.float32))
    counted_jit(np.zeros(3, np.float32))
    assert _trace_count["n"] == 3
    assert counted_jit(np.zeros(3, np.float32)).dtype == np.float32


def test_jit_of_same_function_shares_traces():
    _trace_count["n"] = 0
    x = np.linspace(0, 1, 5)
    for _ in range(3):
        jit(_counted)(x)  # written inline in a loop, as users do
    assert _trace_count["n"] <= 1


def test_noncontiguous_readonly_and_scalar_inputs_are_normalised():
    _trace_count["n"] = 0
    base = np.linspace(0, 1, 14)
    counted_jit(base[::2].copy())
    strided = base[::2]
    ro = base[::2].copy()
    ro.flags.writeable = False
    assert_close(counted_jit(strided), np.exp(strided) * 2)
    assert_close(counted_jit(ro), np.exp(ro) * 2)
    assert_close(counted_jit(list(strided)), np.exp(strided) * 2)
    assert _trace_count["n"] == 1  # one signature, one trace


def test_python_and_numpy_scalars():
    r = counted_jit(1.5)
    assert isinstance(r, np.ndarray) and r.shape == () and r.dtype == np.float64
    assert_close(r, np.exp(1.5) * 2)
    r32 = counted_jit(np.float32(1.5))
    assert r32.dtype == np.float32 and r32.shape == ()


def test_cache_size_and_clear():
    g = jit(lambda x: x + 1)
    g(np.zeros(2))
    g(np.zeros(3))
    assert g._cache_size() == 2
    g.clear_cache()
    assert g._cache_size() == 0


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


def test_matches_numpy_and_returns_arrays():
    out = f_jit(X, Y)
    assert isinstance(out, np.ndarray) and out.shape == () and out.dtype == np.float64
    assert_close(out, _f_numpy(X, Y))


def test_float32_stays_float32():
    x32, y32 = X.astype(np.float32), Y.astype(np.float32)
    out = jit(lambda x, y: fnp.tanh(x) * y + 0.5 * x)(x32, y32)
    assert out.dtype == np.float32
    assert_close(out, (np.tanh(x32) * y32 + np.float32(0.5) * x32))


def test_pytrees_in_and_out():
    @jit
    def step(params, x, scale=1.0):
        h = fnp.tanh(x @ params["w"] + params["b"])
        return {"h": h * scale, "parts": (fnp.sum(h), None, [params["b"] * 2])}

    params = {"w": RNG.rand(4, 2), "b": RNG.rand(2)}
    out = step(params, X, scale=3.0)
    h = np.tanh(X @ params["w"] + params["b"])
    assert set(out) == {"h", "parts"}
    assert_close(out["h"], h * 3)
    assert_close(out["parts"][0], h.sum())
    assert out["parts"][1] is None
    assert_close(out["parts"][2][0], params["b"] * 2)


def test_outputs_are_fresh_arrays():
    g = jit(lambda x: (x, x, x * 1))
    x = np.arange(3.0)
    a, b, c = g(x)
    assert a is not x and not np.shares_memory(a, x) and not np.shares_memory(a, b)
    a[0] = 100.0
    assert x[0] == 0.0 and b[0] == 0.0


def test_closed_over_constants():
    w = RNG.rand(4)
    g = jit(lambda x: fnp.sum(x * w, axis=1))
    assert_close(g(X), (X * w).sum(axis=1))


def test_integer_and_bool_programs():
    i = np.arange(-6, 6).reshape(3, 4)
    out = jit(lambda a: (a // 4, a % 4, a * a - 1, a > 0))(i)
    assert out[0].dtype == i.dtype
    np.testing.assert_array_equal(out[0], i // 4)  # NumPy's floor division and modulo
    np.testing.assert_array_equal(out[1], i % 4)
    np.testing.assert_array_equal(out[2], i * i - 1)
    np.testing.assert_array_equal(out[3], i > 0)


# ---------------------------------------------------------------------------------------------
# Static arguments
# ---------------------------------------------------------------------------------------------


def _powered(x, n, *, mode="sum"):
    y = x
    for _ in range(n - 1):  # Python control flow on a static value
        y = y * x
    return fnp.sum(y) if mode == "sum" else fnp.max(y)


def test_static_argnums_retrace_per_value():
    g = jit(_powered, static_argnums=1, static_argnames="mode")
    x = np.array([1.0, 2.0, 3.0])
    assert_close(g(x, 2), np.sum(x ** 2))
    assert_close(g(x, 3), np.sum(x ** 3))
    assert_close(g(x, 3, mode="max"), np.max(x ** 3))
    assert_close(g(x, n=3), np.sum(x ** 3))  # a static parameter passed by name
    assert g._cache_size() == 4  # by name is another signature (as in JAX)
    g(x, 2)
    assert g._cache_size() == 4


def test_static_argnames_also_by_position():
    g = jit(_powered, static_argnames=("n", "mode"))
    x = np.array([1.0, 2.0])
    assert_close(g(x, 3), np.sum(x ** 3))
    assert_close(g(x, n=2), np.sum(x ** 2))


def test_negative_static_argnums():
    g = jit(lambda x, n: x * n, static_argnums=-1)
    assert_close(g(np.ones(2), 3), np.full(2, 3.0))


def test_unhashable_static_argument_is_a_clear_type_error():
    g = jit(_powered, static_argnums=1)
    with pytest.raises(TypeError, match="static argument .* must be hashable"):
        g(np.ones(2), [2])
    with pytest.raises(TypeError, match="hashable"):
        jit(_powered, static_argnames="mode")(np.ones(2), 2, mode=np.array([1]))


def test_non_array_argument_is_a_clear_type_error():
    with pytest.raises(TypeError, match="static"):
        f_jit("a string", Y)
    with pytest.raises(TypeError, match="callable"):
        jit(3)


def test_decorator_forms():
    @jit(static_argnums=1)
    def g(x, n):
        return x * n

    assert isinstance(g, Jitted)
    assert_close(g(np.ones(2), 2), np.full(2, 2.0))
    assert g.__name__ == "g"


# ---------------------------------------------------------------------------------------------
# disable_jit, logging, lower()
# ---------------------------------------------------------------------------------------------


def test_disable_jit_runs_the_python_function():
    seen = []

    @jit
    def g(x):
        seen.append(type(x))
        return x * 2

    with disable_jit():
        assert_close(g(np.ones(2)), np.full(2, 2.0))
        assert_close(g(np.ones(2)), np.full(2, 2.0))
    assert seen == [np.ndarray, np.ndarray]
    config.update("disable_jit", True)
    try:
        g(np.ones(2))
    finally:
        config.update("disable_jit", False)
    assert seen[-1] is np.ndarray
    g(np.ones(2))
    assert issubclass(seen[-1], core.Tracer)


def test_disable_jit_environment_variable():
    code = "import functrace.config as c; print(c.config.disable_jit)"
    env = dict(os.environ, FUNCTRACE_DISABLE_JIT="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "True"


def test_config_validation():
    with pytest.raises(AttributeError, match="unknown"):
        config.update("no_such_option", 1)
    with pytest.raises(ValueError, match="boolean"):
        config.update("log_compiles", "maybe")
    assert config.read("jax_disable_jit") is False


def test_log_compiles(caplog):
    g = jit(lambda x: fnp.cos(x) * 3.0 + 1.0)
    with config.override(log_compiles=True), caplog.at_level(logging.WARNING, "functrace"):
        g(np.ones(3))
    text = caplog.text
    assert "Finished tracing" in text and "Compiled" in text


def test_lower_jaxpr_text_and_compile():
    lowered = f_jit.lower(X, Y)
    assert isinstance(lowered.jaxpr, core.ClosedJaxpr)
    prims = [e.primitive.name for e in lowered.jaxpr.eqns]
    assert prims.count("tanh") == 1 and prims.count("reduce_sum") == 1
    text = lowered.as_text()
    assert "@njit" in text and "def main(" in text and "tanh" in text
    compiled = lowered.compile()
    assert_close(compiled(X, Y), _f_numpy(X, Y))
    with pytest.raises(TypeError, match="expects arguments"):
        compiled(X[:2], Y)
    assert f_jit.eval_shape(X, Y) == core.ShapedArray((), np.float64)


def test_lower_drops_static_arguments():
    g = jit(_powered, static_argnums=1)
    compiled = g.lower(np.ones(3), 3).compile()
    assert_close(compiled(np.full(3, 2.0)), np.float64(24.0))


# ---------------------------------------------------------------------------------------------
# Composition with transformations
# ---------------------------------------------------------------------------------------------

grad_f_jit = jit(ft.grad(_f))


def test_jit_of_grad():
    assert_close(grad_f_jit(X, Y), _df_dx(X, Y))


def test_grad_of_jit_compiles_both_passes():
    g = ft.grad(f_jit)
    assert_close(g(X, Y), _df_dx(X, Y))
    before = backend.stats["compiles"]
    assert_close(g(X + 0.1, Y), _df_dx(X + 0.1, Y))
    assert backend.stats["compiles"] == before  # derived programs are cached too
    jaxpr = ft.make_jaxpr(g)(X, Y)
    assert [e.primitive for e in jaxpr.eqns] == [jit_call_p, jit_call_p]


def test_vjp_of_jit():
    h = jit(lambda a, b: (fnp.sin(a) * b, fnp.sum(a)))
    (out, s), vjp_fn = ft.vjp(h, X, Y)
    assert_close(out, np.sin(X) * Y)
    ct_a, ct_b = vjp_fn((np.ones_like(X), np.float64(2.0)))
    assert_close(ct_a, np.cos(X) * Y + 2.0)
    assert_close(ct_b, np.sin(X))


def test_jvp_and_hessian_of_jit():
    g = jit(lambda a: fnp.sum(a ** 3))
    out, tan = ft.jvp(g, (X[0],), (np.ones(4),))
    assert_close(tan, np.sum(3 * X[0] ** 2))
    assert_close(ft.hessian(g)(X[0]), np.diag(6 * X[0]))


def test_check_grads_through_jit():
    ft.check_grads(jit(lambda a, b: fnp.sum(fnp.tanh(a) * fnp.exp(b))), (X, Y), order=2,
                   modes=("fwd", "rev"))


@pytest.mark.parametrize("in_axes", [0, 1, -1, (0, None)])
def test_vmap_of_jit(in_axes):
    ax_x, ax_y = in_axes if isinstance(in_axes, tuple) else (in_axes, in_axes)
    y = Y if ax_y is not None else Y[0]
    got = ft.vmap(f_jit, in_axes=in_axes)(X, y)
    rows = []
    for i in range(X.shape[ax_x]):
        b = y if ax_y is None else np.take(y, i, axis=ax_y)
        rows.append(_f_numpy(np.take(X, i, axis=ax_x), b))
    assert_close(got, np.stack(rows))


def test_jit_of_vmap_and_vmap_of_grad_of_jit():
    got = jit(ft.vmap(ft.grad(f_jit)))(X, Y)
    want = np.stack([_df_dx(X[i], Y[i]) for i in range(X.shape[0])])
    assert_close(got, want)


def test_jit_of_jit_nests_one_equation():
    outer = jit(lambda a, b: f_jit(a, b) * 2.0 + f_jit(b, a))
    assert_close(outer(X, Y), 2 * _f_numpy(X, Y) + _f_numpy(Y, X))
    jaxpr = ft.make_jaxpr(outer)(X, Y)
    assert [e.primitive for e in jaxpr.eqns] == [jit_call_p]
    inner = jaxpr.eqns[0].params["jaxpr"]
    assert sum(e.primitive is jit_call_p for e in inner.eqns) == 2
    core.check_jaxpr(jaxpr)


def test_jit_closing_over_a_tracer():
    def outer(a):
        inner = jit(lambda b: fnp.sum(fnp.sin(a * b)))  # ``a`` is traced by grad
        return inner(Y)

    assert_close(ft.grad(outer)(X), np.cos(X * Y) * Y)


def test_jit_matches_interpreter_helper():
    assert_jit_matches_interpreter(lambda a, b: (a @ b.T, fnp.max(a, axis=0)), X, Y)


def test_debug_nans_points_at_the_primitive():
    g = jit(lambda x: fnp.log(x - 1.0) * 2.0)
    g(np.array([2.0, 0.5]))  # compiled, NaN allowed by default
    with config.override(debug_nans=True):
        assert_close(g(np.array([2.0, 3.0])), np.log([1.0, 2.0]) * 2)
        with pytest.raises(FloatingPointError, match="log"):
            g(np.array([2.0, 0.5]))
    assert np.isnan(g(np.array([2.0, 0.5]))[1])  # fast path back on


# ---------------------------------------------------------------------------------------------
# Checkpointing under jit
# ---------------------------------------------------------------------------------------------


def _ck_block(h, w):
    return fnp.tanh(h * w) + fnp.sin(h[::-1])


def _ck_loss(x, w):
    h = fnp.exp(x) * 2.0 - 1.0
    for _ in range(3):
        h = ft.checkpoint(_ck_block)(h, w)
    return fnp.sum(h * h[::-1])


_ck_grad = ft.grad(_ck_loss, argnums=(0, 1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_grad_of_checkpoint_under_jit_matches_interpreter(dtype):
    # The backward pass reads each block's saved input through an optimization barrier, which
    # the backend lowers as an alias of that input's buffer; the recomputation reads it
    # reversed, so reusing or overwriting that buffer while the alias lives would corrupt it.
    x = np.linspace(-1.0, 1.0, 7).astype(dtype)
    w = np.linspace(0.5, 1.5, 7).astype(dtype)
    prims = [e.primitive.name for e in ft.make_jaxpr(_ck_grad)(x, w).eqns]
    assert prims.count("optimization_barrier") == 3  # one per block, in the backward pass
    got = assert_jit_matches_interpreter(_ck_grad, x, w)
    # and checkpointing changes nothing: the gradient of the plain program
    plain = ft.grad(lambda x, w: _ck_loss_plain(x, w), argnums=(0, 1))(x, w)
    for g, p in zip(got, plain):
        assert_close(g, p, rtol=1e-4 if dtype == np.float32 else 1e-10)


def _ck_loss_plain(x, w):
    h = fnp.exp(x) * 2.0 - 1.0
    for _ in range(3):
        h = _ck_block(h, w)
    return fnp.sum(h * h[::-1])


# ---------------------------------------------------------------------------------------------
# API forms
# ---------------------------------------------------------------------------------------------


class _Model:
    def __init__(self, scale):
        self.scale = scale

    @functools.partial(jit, static_argnums=0)  # as in JAX: ``self`` is static
    def apply(self, x, *, bias=0.0):
        return {"out": fnp.tanh(x) * 2.0 + bias, "sum": fnp.sum(x)}

    @functools.partial(jit, static_argnums=(0, 2))
    def powered(self, x, n):
        return x ** n * self.scale


def test_api_forms_partial_kwargs_pytrees_methods_and_donation():
    x = np.linspace(-1.0, 1.0, 5)
    # functools.partial(jit, ...) as a decorator; static self (hashable) and static n
    m = _Model(3.0)
    assert_close(m.powered(x, 3), x ** 3 * 3.0)
    assert_close(m.powered(x, 2), x ** 2 * 3.0)
    # a method with a keyword argument and a dict output
    out = m.apply(x, bias=np.float64(0.5))
    assert set(out) == {"out", "sum"}
    assert_close(out["out"], np.tanh(x) * 2.0 + 0.5) and assert_close(out["sum"], x.sum())
    assert_close(m.apply(x)["out"], np.tanh(x) * 2.0)
    # static_argnames, and donate_argnums accepted (buffers are never donated: same results)
    g = jit(lambda x, *, mode: x * 2 if mode == "double" else x, static_argnames="mode",
            donate_argnums=0)
    assert_close(g(x, mode="double"), x * 2) and assert_close(g(x, mode="same"), x)
    assert_close(x, np.linspace(-1.0, 1.0, 5))  # the donated input is untouched
    # lower() exposes the jaxpr, the source and the compiled function for kwargs too
    lowered = _Model.apply.lower(m, x, bias=np.float64(1.0))
    assert isinstance(lowered.jaxpr, core.ClosedJaxpr) and "def main(" in lowered.as_text()
    assert_close(lowered.compile()(x, bias=np.float64(1.0))["out"], np.tanh(x) * 2.0 + 1.0)
    # a plain @jit method whose ``self`` is not an array is a clear error, as in JAX
    with pytest.raises(TypeError, match="static"):
        jit(_Model.apply.__wrapped__)(m, x)
