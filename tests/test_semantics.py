"""Semantics shared with JAX that cut across transformations: tracer attributes (``x.var()``),
dtype-like promotion, weak types of Python scalars, ``has_aux`` outputs, derivative conventions
at kinks, ``take``'s fill mode and constants indexed by traced values.

Expected values at kinks are JAX's (jax 0.10.2, x64), hard-coded with a comment naming them.
"""

from __future__ import annotations

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import core, dtypes, lax

X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])


def _traced(f, *args):
    """Trace ``f`` with make_jaxpr, type-check the program and run it on ``args``."""
    closed = ft.make_jaxpr(f)(*args)
    core.check_jaxpr(closed)
    return ft.eval_jaxpr(closed.jaxpr, closed.consts, *args)


# ---------------------------------------------------------------------------------------------
# 1. x.var() on every kind of tracer (the IR atom slot used to shadow the method)
# ---------------------------------------------------------------------------------------------


def test_var_method_under_make_jaxpr_and_jit():
    out, = _traced(lambda x: x.var(), X)
    np.testing.assert_allclose(out, X.var())
    out, = _traced(lambda x: x.var(axis=0, ddof=1), X)
    np.testing.assert_allclose(out, X.var(axis=0, ddof=1))
    np.testing.assert_allclose(ft.jit(lambda x: x.var(axis=0, ddof=1))(X),
                               X.var(axis=0, ddof=1))
    np.testing.assert_allclose(ft.jit(lambda x: x.std(axis=1))(X), X.std(axis=1))


def test_var_method_under_grad_and_vmap():
    # d/dx var(x) = 2 (x - mean) / (n - ddof)
    g = ft.grad(lambda x: x.var(axis=0, ddof=1).sum())(X)
    np.testing.assert_allclose(g, 2 * (X - X.mean(axis=0)) / (X.shape[0] - 1))
    ft.check_grads(lambda x: x.var(), (X,), order=2)
    for axis in (0, 1, -1):
        got = ft.vmap(lambda r: r.var(ddof=1), in_axes=axis)(X)
        want = np.stack([np.take(X, i, axis=axis).var(ddof=1)
                         for i in range(X.shape[axis])])
        np.testing.assert_allclose(got, want)
    got = ft.vmap(lambda r, Y: (r * Y).var(), in_axes=(0, None))(X, X[0])
    np.testing.assert_allclose(got, np.stack([(r * X[0]).var() for r in X]))


# ---------------------------------------------------------------------------------------------
# 2. result_type of Python types and dtype-likes
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    (float,), (int,), (np.float32,), ("float32",), (np.dtype("int8"),), (np.float32, 1.0),
    ("int8", 1), (int, np.float32), (np.int16, np.uint8), (bool, 1), (complex, np.float32),
    (np.ones(2, np.float32), np.float64), (np.int8, 1.5),
])
def test_result_type_accepts_dtype_likes_like_numpy(args):
    assert dtypes.result_type(*args) == np.result_type(*args)
    assert fnp.result_type(*args) == np.result_type(*args)


def test_result_type_of_tracers_and_dtype_likes():
    def f(x):
        assert dtypes.result_type(x, np.float64) == np.float64
        assert dtypes.result_type(x, 2.0) == np.float32
        assert dtypes.result_type(x, "int8") == np.float32
        return x

    _traced(f, np.ones(2, np.float32))


# ---------------------------------------------------------------------------------------------
# 3. Weak types: Python scalar arguments adapt to the arrays they meet (JAX semantics)
# ---------------------------------------------------------------------------------------------

X32 = np.array([1.0, 2.0, -0.5], np.float32)
I8 = np.array([1, -2, 3], np.int8)


def test_python_scalars_have_weak_avals_numpy_values_do_not():
    assert core.get_aval(2.0).weak_type and core.get_aval(3).weak_type
    assert core.get_aval(1j).weak_type
    assert not core.get_aval(True).weak_type
    assert not core.get_aval(np.float64(2.0)).weak_type
    assert not core.get_aval(np.ones(2)).weak_type
    # weak_type is not part of the type's identity, only of the promotion it gets
    assert core.get_aval(2.0) == core.get_aval(np.float64(2.0))


@pytest.mark.parametrize("f, args, want", [
    (lambda a, x: a * x, (2.0, X32), np.float32),  # weak float * f32 -> f32
    (lambda a, x: (fnp.exp(-a) + 1) * x, (2.0, X32), np.float32),  # weakness propagates
    (lambda a, x: a * x, (np.float64(2.0), X32), np.float64),  # NumPy scalars are strong
    (lambda i, x: (i + 1) * x, (3, I8), np.int8),  # weak int + int8 -> int8
    (lambda a, x: a + x, (1.5, I8), np.float64),  # weak float + int array -> default float
    (lambda i, a, x: (i * a) * x, (2, 0.5, X32), np.float32),
    (lambda a, x: lax.mul(fnp.sin(a), 2.0) * x, (0.3, X32), np.float32),
])
def test_weak_scalar_arguments_under_make_jaxpr_and_jit(f, args, want):
    out, = _traced(f, *args)
    assert np.asarray(out).dtype == want
    np.testing.assert_allclose(out, f(*args), rtol=1e-6)
    assert ft.jit(f)(*args).dtype == want


def test_weak_result_of_weak_operands_only():
    closed = ft.make_jaxpr(lambda a, b: a * b + 1.0)(2.0, 3.0)
    assert closed.jaxpr.outvars[0].aval.weak_type
    closed = ft.make_jaxpr(lambda a, b: a * b)(2.0, np.float64(3.0))
    assert not closed.jaxpr.outvars[0].aval.weak_type
    closed = ft.make_jaxpr(lambda a: fnp.asarray(a, np.float32) * 2.0)(2.0)
    assert closed.jaxpr.outvars[0].aval.dtype == np.float32


def test_jit_cache_tells_weak_and_strong_scalars_apart():
    f = ft.jit(lambda x, a: x * a)
    assert f(X32, 0.1).dtype == np.float32
    assert f(X32, np.float64(0.1)).dtype == np.float64  # NumPy/JAX: a strong f64 scalar
    assert f(X32, 0.1).dtype == np.float32
    g = ft.jit(lambda x, a: x * a)
    assert g(X32, np.float64(0.1)).dtype == np.float64
    assert g(X32, 0.1).dtype == np.float32


def test_weak_scalar_primal_under_jvp_vjp_grad():
    out, t = ft.jvp(lambda a, x: fnp.sin(a) * x, (2.0, X32), (1.0, X32))
    assert out.dtype == np.float32 and t.dtype == np.float32
    np.testing.assert_allclose(t, np.cos(2.0) * X32 + np.sin(2.0) * X32, rtol=1e-6)
    # gradient with respect to a Python float: a float64 value (our default float), like JAX's
    g = ft.grad(lambda a: a * 3.0 + fnp.sin(a))(2.0)
    assert np.asarray(g).dtype == np.float64
    np.testing.assert_allclose(g, 3.0 + np.cos(2.0))
    g = ft.grad(lambda a, x: (a * x).sum())(2.0, X32)
    assert np.asarray(g).dtype == np.float64 and g == pytest.approx(X32.sum())
    ga, gx = ft.grad(lambda a, x: (a * x).sum(), argnums=(0, 1))(2.0, X32)
    assert gx.dtype == np.float32
    np.testing.assert_allclose(gx, np.full(3, 2.0, np.float32))
    _, vjp_fn = ft.vjp(lambda a: a * 3.0, 2.0)
    assert vjp_fn(1.0)[0] == 3.0
    assert ft.grad(ft.grad(lambda a: fnp.sin(a) * a))(2.0) == pytest.approx(
        2 * np.cos(2.0) - 2.0 * np.sin(2.0))
    ft.check_grads(lambda a: fnp.sin(a) * a, (2.0,), order=2)


def test_weak_scalar_through_jit_inside_transformations():
    np.testing.assert_allclose(ft.grad(ft.jit(lambda a: a * 3.0))(2.0), 3.0)
    g = ft.grad(ft.jit(lambda a, x: (fnp.sin(a) * x).sum()))(2.0, X32)
    np.testing.assert_allclose(g, np.cos(2.0) * X32.sum(), rtol=1e-6)
    out, t = ft.jvp(ft.jit(lambda a, x: a * x), (2.0, X32), (1.0, X32))
    assert out.dtype == np.float32 and t.dtype == np.float32
    got = ft.vmap(ft.grad(lambda a, x: fnp.sin(a) * x), in_axes=(None, 0))(2.0, X32)
    np.testing.assert_allclose(got, np.cos(2.0) * X32, rtol=1e-6)


def test_weak_carry_adapts_to_the_loop_body():
    # JAX promotes a weakly typed initial carry to the dtype the body produces
    f = ft.jit(lambda a, x: lax.scan(lambda c, xi: (c + xi, c * xi), a, x))
    carry, ys = f(2.0, X32)
    assert carry.dtype == np.float32 and ys.dtype == np.float32
    np.testing.assert_allclose(carry, 2.0 + X32.sum())
    out = ft.jit(lambda a: lax.fori_loop(0, 3, lambda i, c: c * 2, a))(2.0)
    assert out == 16.0
    out = ft.jit(lambda a, x: lax.cond(a > 1, lambda: a, lambda: x.sum()))(2.0, X)
    assert out == 2.0


# ---------------------------------------------------------------------------------------------
# 4. has_aux: aux comes back as plain values (or the caller's tracers)
# ---------------------------------------------------------------------------------------------


def _with_aux(x):
    y = fnp.sin(x)
    return y.sum(), {"y": y, "first": fnp.cos(x[0]), "n": 3}


def _check_aux(aux, x):
    assert not any(isinstance(v, core.Tracer) for v in (aux["y"], aux["first"], aux["n"]))
    np.testing.assert_allclose(aux["y"], np.sin(x))
    np.testing.assert_allclose(aux["first"], np.cos(x[0]))
    assert aux["n"] == 3


def test_grad_and_value_and_grad_has_aux_return_plain_values():
    x = X[0]
    g, aux = ft.grad(_with_aux, has_aux=True)(x)
    np.testing.assert_allclose(g, np.cos(x))
    _check_aux(aux, x)
    (v, aux), g = ft.value_and_grad(_with_aux, has_aux=True)(x)
    assert v == pytest.approx(np.sin(x).sum())
    _check_aux(aux, x)


def test_vjp_jvp_jacobians_has_aux_return_plain_values():
    x = X[0]
    out, vjp_fn, aux = ft.vjp(_with_aux, x, has_aux=True)
    _check_aux(aux, x)
    np.testing.assert_allclose(vjp_fn(1.0)[0], np.cos(x))
    out, t, aux = ft.jvp(_with_aux, (x,), (np.ones(3),), has_aux=True)
    _check_aux(aux, x)
    assert t == pytest.approx(np.cos(x).sum())
    for jac in (ft.jacfwd, ft.jacrev):
        J, aux = jac(lambda x: (fnp.sin(x), {"c": fnp.cos(x)}), has_aux=True)(x)
        np.testing.assert_allclose(J, np.diag(np.cos(x)), atol=1e-12)
        assert not isinstance(aux["c"], core.Tracer)
        np.testing.assert_allclose(aux["c"], np.cos(x))


def test_has_aux_nested_and_under_jit_and_vmap():
    x = X[0]

    def outer(x):
        g, aux = ft.grad(_with_aux, has_aux=True)(x)
        return g.sum() + aux["first"], aux

    g, aux = ft.grad(outer, has_aux=True)(x)
    # d/dx [sum(cos x) + cos(x0)] = -sin(x) - sin(x0) e0
    want = -np.sin(x)
    want[0] -= np.sin(x[0])
    np.testing.assert_allclose(g, want)
    _check_aux(aux, x)
    g, aux = ft.jit(ft.grad(_with_aux, has_aux=True))(x)
    np.testing.assert_allclose(g, np.cos(x))
    np.testing.assert_allclose(aux["y"], np.sin(x))
    g, aux = ft.vmap(ft.grad(_with_aux, has_aux=True))(X)
    np.testing.assert_allclose(g, np.cos(X))
    np.testing.assert_allclose(aux["first"], np.cos(X[:, 0]))
    np.testing.assert_array_equal(aux["n"], [3, 3])


# ---------------------------------------------------------------------------------------------
# 5. Derivative conventions at kinks: JAX's values (jax 0.10.2, x64)
# ---------------------------------------------------------------------------------------------


def _grads(f, *args):
    return tuple(float(g) for g in ft.grad(f, argnums=tuple(range(len(args))))(*args))


@pytest.mark.parametrize("f, args, want", [
    (fnp.hypot, (0.0, 0.0), (0.5, 0.5)),  # JAX's convention: max/min ties split in halves
    (fnp.hypot, (3.0, 4.0), (0.6, 0.8)),
    (fnp.hypot, (-3.0, 0.0), (-1.0, 0.0)),
    (fnp.fmax, (1.0, 1.0), (0.0, 1.0)),  # JAX's convention: at ties fmax/fmin follow y
    (fnp.fmin, (1.0, 1.0), (0.0, 1.0)),
    (fnp.fmax, (np.nan, 1.0), (0.0, 1.0)),  # JAX: the non-NaN operand gets the derivative
    (fnp.fmax, (2.0, 1.0), (1.0, 0.0)),
    (fnp.fmin, (2.0, 1.0), (0.0, 1.0)),
    (fnp.maximum, (1.0, 1.0), (0.5, 0.5)),  # JAX: maximum/minimum ties split in halves
    (fnp.minimum, (1.0, 1.0), (0.5, 0.5)),
    (fnp.abs, (0.0,), (1.0,)),  # JAX: d|x|/dx at 0 is 1
    (fnp.abs, (-0.0,), (1.0,)),
    (fnp.sign, (0.0,), (0.0,)),  # JAX: sign is flat
    (lambda x: fnp.clip(x, 0.0, 1.0), (1.0,), (0.5,)),  # JAX: clip = min(max) ties
    (lambda x: fnp.clip(x, 0.0, 1.0), (0.0,), (0.5,)),
    (fnp.logaddexp, (0.0, 0.0), (0.5, 0.5)),  # JAX: the softmax weights, also at ties
    (fnp.logaddexp, (2.0, 2.0), (0.5, 0.5)),
    (fnp.logaddexp, (1.0, 0.0), (1 / (1 + np.exp(-1.0)), 1 / (1 + np.exp(1.0)))),
    (fnp.logaddexp2, (1.0, 1.0), (0.5, 0.5)),
    (fnp.floor_divide, (0.0, 0.0), (0.0, 0.0)),  # JAX: flat, no inf/NaN leaking from x / 0
    (fnp.floor_divide, (7.0, 2.0), (0.0, 0.0)),
    (fnp.power, (0.0, 0.0), (np.nan, 0.0)),  # JAX: y * x**(y - 1) for a floating exponent
    (fnp.power, (2.0, 0.0), (0.0, np.log(2.0))),
])
def test_derivatives_at_kinks_match_jax(f, args, want):
    np.testing.assert_allclose(_grads(f, *args), want, atol=1e-12)


def test_softplus_gradient_at_zero_is_one_half():
    np.testing.assert_allclose(ft.grad(ft.nn.softplus)(0.0), 0.5)
    np.testing.assert_allclose(ft.grad(ft.nn.softplus)(np.float32(0.0)), np.float32(0.5))
    ft.check_grads(lambda x, y: fnp.logaddexp(x, y), (np.array([0.3, 1.0, -3.0]),
                                                      np.array([0.0, 1.5, 2.0])), order=2)


def test_hypot_values_match_numpy_including_infinities():
    x = np.array([0.0, np.inf, 3.0, -np.inf, 1e300, np.nan, 1.0, np.nan])
    y = np.array([0.0, np.nan, 4.0, 2.0, 1e300, np.inf, np.nan, np.nan])
    np.testing.assert_allclose(fnp.hypot(x, y), np.hypot(x, y))
    np.testing.assert_allclose(ft.jit(fnp.hypot)(x, y), np.hypot(x, y))
    ft.check_grads(fnp.hypot, (np.array([3.0, -1.0]), np.array([4.0, 2.0])), order=2)


def test_fmax_fmin_values_match_numpy():
    a = np.array([1.0, np.nan, 2.0, np.nan, -np.inf, np.inf, 3.0])
    b = np.array([np.nan, 1.0, 3.0, np.nan, 1.0, 2.0, 3.0])
    for ours, theirs in ((fnp.fmax, np.fmax), (fnp.fmin, np.fmin)):
        np.testing.assert_array_equal(ours(a, b), theirs(a, b))
        np.testing.assert_array_equal(ft.jit(ours)(a, b), theirs(a, b))
    np.testing.assert_array_equal(fnp.fmax(np.arange(3), np.array([2, 0, 2])), [2, 1, 2])


def test_stop_gradient_of_python_float():
    out = lax.stop_gradient(0.5)
    assert out == 0.5 and np.asarray(out).dtype == np.float64
    assert ft.grad(lambda x: x * lax.stop_gradient(x * 2.0))(3.0) == 6.0


def test_take_fills_out_of_range_traced_indices_like_jax():
    x = np.arange(4.0)
    idx = np.array([1, 7, -1, -9])
    # JAX's default mode for jnp.take is "fill": NaN for floats, INT_MIN for signed ints
    out, = _traced(lambda x, i: fnp.take(x, i), x, idx)
    np.testing.assert_array_equal(out, [1.0, np.nan, 3.0, np.nan])
    out = ft.jit(lambda i: fnp.take(np.arange(4), i))(idx)
    np.testing.assert_array_equal(out, [1, np.iinfo(np.int64).min, 3, np.iinfo(np.int64).min])
    out = ft.jit(lambda x, i: fnp.take(x, i, axis=1))(X, np.array([0, 5]))
    np.testing.assert_array_equal(out, [[0.5, np.nan], [1.5, np.nan]])
    assert np.isnan(ft.jit(lambda x, i: fnp.take(x, i))(x, 9))
    out = ft.jit(lambda x, i: fnp.take(x, i, fill_value=-1.0))(x, idx)
    np.testing.assert_array_equal(out, [1.0, -1.0, 3.0, -1.0])
    out = ft.vmap(lambda i: fnp.take(x, i))(idx)
    np.testing.assert_array_equal(out, [1.0, np.nan, 3.0, np.nan])
    # explicit NumPy modes keep NumPy's meaning
    np.testing.assert_array_equal(ft.jit(lambda i: fnp.take(x, i, mode="clip"))(idx),
                                  np.take(x, idx, mode="clip"))
    np.testing.assert_array_equal(ft.jit(lambda i: fnp.take(x, i, mode="wrap"))(idx),
                                  np.take(x, idx, mode="wrap"))


def test_take_static_out_of_range_raises_like_numpy_and_grad_skips_fill():
    with pytest.raises(IndexError, match="out of bounds"):
        fnp.take(np.arange(4.0), np.array([1, 7]))
    with pytest.raises(IndexError, match="out of bounds"):
        ft.jit(lambda x: fnp.take(x, np.array([1, 7])))(np.arange(4.0))
    g = ft.jit(ft.grad(lambda x, i: fnp.nansum(fnp.take(x, i))))(np.arange(4.0),
                                                                np.array([0, 7, 2, 2]))
    np.testing.assert_array_equal(g, [1.0, 0.0, 2.0, 0.0])  # JAX's value


# ---------------------------------------------------------------------------------------------
# 6. Constants indexed by traced values
# ---------------------------------------------------------------------------------------------

W = np.arange(6.0).reshape(3, 2)


def test_constants_indexed_by_batched_indices_under_vmap():
    idx = np.array([0, 2, 1])
    np.testing.assert_allclose(ft.vmap(lambda W, i: fnp.sin(W)[i], in_axes=(None, 0))(W, idx),
                               np.sin(W)[idx])
    np.testing.assert_allclose(ft.vmap(lambda W, i: W[i], in_axes=(None, 0))(W, idx), W[idx])
    np.testing.assert_allclose(ft.vmap(lambda i: (fnp.sin(W) + 1)[i])(idx), np.sin(W)[idx] + 1)
    np.testing.assert_allclose(ft.vmap(lambda i: fnp.asarray(W)[i, 1])(idx), W[idx, 1])
    np.testing.assert_allclose(ft.vmap(lambda i: fnp.asarray(W).T[1, i])(idx), W[idx, 1])
    # nested: the constant is indexed by the inner batch, the outer batch scales it
    got = ft.vmap(lambda s: ft.vmap(lambda i: fnp.asarray(W)[i] * s)(idx))(np.array([1.0, 2.0]))
    np.testing.assert_allclose(got, np.stack([W[idx] * s for s in (1.0, 2.0)]))


def test_vmap_unbatched_arguments_keep_concrete_values():
    def f(W, n, x):
        k = int(n)  # concrete: an unbatched argument's value is known
        if W.sum() > 0:
            return x * k + np.asarray(W).sum()
        return x

    got = ft.vmap(f, in_axes=(None, None, 0))(W, 2, np.arange(3.0))
    np.testing.assert_allclose(got, np.arange(3.0) * 2 + W.sum())
    got = ft.vmap(lambda x, lr: x * lr, in_axes=(0, None))(X32, 0.5)
    assert got.dtype == np.float32  # the unbatched Python float stays weak


def test_asarray_constants_become_tracers_when_staged():
    closed = ft.make_jaxpr(lambda i: fnp.asarray(W)[i])(np.int64(1))
    core.check_jaxpr(closed)
    np.testing.assert_allclose(ft.eval_jaxpr(closed.jaxpr, closed.consts, np.int64(2))[0], W[2])
    np.testing.assert_allclose(ft.jit(lambda i: fnp.array(W)[i])(np.int64(-1)), W[-1])
    np.testing.assert_allclose(ft.jit(lambda i: fnp.asarray(W)[:, i])(np.int64(1)), W[:, 1])
    # outside transformations asarray stays NumPy (viewed as Array, an ndarray with .at)
    eager = fnp.asarray(W)
    assert isinstance(eager, np.ndarray) and np.shares_memory(eager, W)


def test_raw_numpy_array_indexed_by_tracer_is_a_clear_error():
    with pytest.raises(TypeError, match="functrace.numpy.take"):
        ft.jit(lambda i: W[i])(np.int64(1))


def test_numpy_functions_without_functrace_version_on_unbatched_values_under_vmap():
    x = np.ones((4, 3))
    got = ft.vmap(lambda x, W: x * np.fft.fft(W[0]).real, in_axes=(0, None))(x, W.T)
    np.testing.assert_allclose(got, x * np.fft.fft(W.T[0]).real)
    got = ft.vmap(lambda x: x * np.fft.fft(fnp.sin(W.T[0])).real)(x)
    np.testing.assert_allclose(got, x * np.fft.fft(np.sin(W.T[0])).real)
    with pytest.raises(NotImplementedError, match="numpy.fft.fft"):
        ft.vmap(np.fft.fft)(x)  # batched: still a clear error


# --- vmap of keyword arguments (JAX maps them over their leading axis) --------------------------


def test_vmap_maps_keyword_arguments_over_axis_0():
    def f(x, scale=1.0, *, offset):
        return x * scale + offset["b"]

    x, s, b = np.arange(3.0), np.array([1.0, 2.0, 3.0]), np.array([10.0, 20.0, 30.0])
    got = ft.vmap(f)(x, scale=s, offset={"b": b})
    np.testing.assert_array_equal(got, x * s + b)
    # positional in_axes do not apply to keywords: these are still mapped
    got = ft.vmap(f, in_axes=(None,))(2.0, scale=s, offset={"b": b})
    np.testing.assert_array_equal(got, 2.0 * s + b)
    with pytest.raises(ValueError, match=r"inconsistent sizes.*\[3, 4\]"):
        ft.vmap(f)(x, scale=np.ones(4), offset={"b": b})


def test_vmap_accepts_jax_keyword_parameters():
    f = ft.vmap(lambda x: x * 2, in_axes=0, out_axes=0, axis_name="batch", axis_size=None)
    np.testing.assert_array_equal(f(np.arange(3.0)), [0.0, 2.0, 4.0])
    g = ft.vmap(lambda: np.float64(1.0), in_axes=(), axis_size=4)
    np.testing.assert_array_equal(g(), np.ones(4))
