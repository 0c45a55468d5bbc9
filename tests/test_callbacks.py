"""``pure_callback`` (eager, jit, vmap's methods, errors, custom rules around it) and the eager
behaviour of ``custom_jvp``/``custom_vjp`` (JAX's: outside transformations the function just
runs; under ``grad`` the rule runs and the body does not run a second time).

Values are compared with SciPy/NumPy and closed forms; call counts are counted.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.special
from scipy.integrate import solve_ivp

import functrace as ft
import functrace.numpy as fnp

SD3 = ft.ShapeDtypeStruct((3,), np.float64)
X = np.array([0.1, 0.5, 2.0])


def _erf_cb(x, vmap_method="expand_dims"):
    return ft.pure_callback(scipy.special.erf, ft.ShapeDtypeStruct(x.shape, x.dtype), x,
                            vmap_method=vmap_method)


_jit_erf_sin = ft.jit(lambda x: fnp.sin(_erf_cb(x * 2)) + 1)


# --- pure_callback: values ------------------------------------------------------------------


def test_eager_value_pytrees_and_kwargs():
    np.testing.assert_array_equal(_erf_cb(X), scipy.special.erf(X))

    def cb(a, b, *, scale):
        return {"sum": a + b * scale, "prod": (a * b).sum()}

    out = ft.pure_callback(cb, {"sum": SD3, "prod": ft.ShapeDtypeStruct((), np.float64)},
                           X, 2 * X, scale=3.0)
    np.testing.assert_allclose(out["sum"], X + 6 * X)
    np.testing.assert_allclose(out["prod"], (2 * X * X).sum())


def test_under_jit_runs_in_python_without_the_unlowered_warning():
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*no compiled lowering")
        got = _jit_erf_sin(X)
    np.testing.assert_allclose(got, np.sin(scipy.special.erf(2 * X)) + 1, rtol=1e-15)


def test_programs_differing_only_in_the_callback_keep_their_own_callback():
    # the generated source is the same (a cached module may be shared); the callbacks are not
    x = np.array([3.0, 1.0, 2.0])
    f1 = ft.jit(lambda x: fnp.sin(ft.pure_callback(np.cumsum, SD3, x)))
    f2 = ft.jit(lambda x: fnp.sin(ft.pure_callback(np.sort, SD3, x)))
    np.testing.assert_array_equal(f1(x), np.sin(np.cumsum(x)))
    np.testing.assert_array_equal(f2(x), np.sin(np.sort(x)))


def test_float64_result_declared_float32_is_converted():
    x32 = X.astype(np.float32)
    out = ft.pure_callback(lambda x: x.astype(np.float64) * 2,
                           ft.ShapeDtypeStruct((3,), np.float32), x32)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, x32 * 2)


def test_callback_sees_read_only_numpy_arrays():
    seen = []

    def cb(x):
        seen.append((type(x), x.flags.writeable))
        return x * 1

    ft.jit(lambda x: ft.pure_callback(cb, SD3, x))(X)
    assert seen == [(np.ndarray, False)]


# --- pure_callback: errors ------------------------------------------------------------------


def test_wrong_result_shape_dtype_and_structure_are_clear_errors():
    with pytest.raises(TypeError, match=r"result 0 of <lambda> has shape \(4,\), but "
                                        r"result_shape_dtypes declares \(3,\)"):
        ft.pure_callback(lambda x: np.ones(4), SD3, X)
    with pytest.raises(TypeError, match="has dtype complex128, which does not convert to the "
                                        "declared float64"):
        ft.pure_callback(lambda x: x + 1j, SD3, X)
    with pytest.raises(TypeError, match="returned a result of structure"):
        ft.pure_callback(lambda x: (x, x), SD3, X)
    with pytest.raises(TypeError, match=r"leaf 0 is 3; give objects with \.shape and \.dtype"):
        ft.pure_callback(lambda x: x, 3, X)
    with pytest.raises(ValueError, match="vmap_method must be one of sequential"):
        ft.pure_callback(lambda x: x, SD3, X, vmap_method="loop")
    with pytest.raises(ValueError, match="not both"):
        ft.pure_callback(lambda x: x, SD3, X, vmap_method="sequential", vectorized=True)
    # inside jit the same check runs when the program runs
    with pytest.raises(TypeError, match="has shape"):
        ft.jit(lambda x: ft.pure_callback(lambda x: np.ones(4), SD3, x))(X)


def test_differentiation_is_a_clear_error():
    msg = "pure_callback cannot be differentiated.*custom_jvp or functrace.custom_vjp"
    with pytest.raises(ValueError, match=msg):
        ft.grad(lambda x: fnp.sum(_erf_cb(x)))(X)
    with pytest.raises(ValueError, match=msg):
        ft.jvp(_erf_cb, (X,), (X,))
    with pytest.raises(ValueError, match=msg):
        ft.jit(ft.grad(lambda x: fnp.sum(_erf_cb(x))))(X)


# --- pure_callback under vmap ---------------------------------------------------------------


def _recording(method, log, **kw):
    def cb(x, y):
        log.append((x.shape, y.shape))
        return x + y

    def f(x, y):
        out_shape = ft.ShapeDtypeStruct(np.broadcast_shapes(x.shape, y.shape), np.float64)
        return ft.pure_callback(cb, out_shape, x, y, vmap_method=method, **kw)
    return f


XS, Y = np.arange(6.0).reshape(2, 3), np.array([10.0, 20.0, 30.0])


@pytest.mark.parametrize("method,seen", [
    ("sequential", [((3,), (3,)), ((3,), (3,))]),
    ("expand_dims", [((2, 3), (1, 3))]),
    ("broadcast_all", [((2, 3), (2, 3))]),
])
def test_vmap_methods_call_the_function_as_jax_does(method, seen):
    log = []
    out = ft.vmap(_recording(method, log), in_axes=(0, None))(XS, Y)
    np.testing.assert_array_equal(out, XS + Y)
    assert log == seen
    log.clear()
    out = ft.jit(ft.vmap(_recording(method, log), in_axes=(0, None)))(XS, Y)
    np.testing.assert_array_equal(out, XS + Y)
    assert log == seen


def test_legacy_vectorized_and_batch_axis_not_first():
    log = []
    out = ft.vmap(_recording(None, log, vectorized=True), in_axes=(0, None))(XS, Y)
    np.testing.assert_array_equal(out, XS + Y)
    assert log == [((2, 3), (3,))]  # unbatched operands unchanged
    # a batch axis at 1 is moved to the front; the result comes back along out_axes
    out = ft.vmap(_recording("sequential", []), in_axes=(1, None), out_axes=1)(XS.T, Y)
    np.testing.assert_array_equal(out, XS.T + Y[:, None])


def test_nested_vmap_sequential():
    x = np.arange(24.0).reshape(2, 3, 4)
    f = lambda v: ft.pure_callback(np.cumsum, ft.ShapeDtypeStruct((4,), np.float64), v,
                                   vmap_method="sequential")
    np.testing.assert_array_equal(ft.vmap(ft.vmap(f))(x), np.cumsum(x, axis=-1))


def test_vmap_without_a_method_is_a_clear_error():
    with pytest.raises(NotImplementedError, match="vmap of pure_callback needs a vmap_method"):
        ft.vmap(lambda x: _erf_cb(x, vmap_method=None))(XS)


# --- custom rules around a callback -----------------------------------------------------------


@ft.custom_jvp
def erf_cb(x):
    return _erf_cb(x)


@erf_cb.defjvp
def _erf_cb_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return erf_cb(x), t * 2 / math.sqrt(math.pi) * fnp.exp(-x * x)


def test_custom_jvp_around_a_callback_under_jit_grad_and_vmap():
    want = 2 / np.sqrt(np.pi) * np.exp(-X * X)
    g = ft.jit(ft.grad(lambda x: fnp.sum(erf_cb(x))))
    np.testing.assert_allclose(g(X), want, rtol=1e-14)
    np.testing.assert_allclose(ft.vmap(ft.grad(lambda x: erf_cb(x)))(X), want, rtol=1e-14)
    ft.check_grads(erf_cb, (X,), order=1)


# A neural-ODE-style adjoint (autograd's example): y' = -a y solved by SciPy through
# pure_callback, with a custom_vjp whose backward pass integrates the adjoint system, also
# through pure_callback.
T_END = 1.5


def _solve(y0, a):
    sol = solve_ivp(lambda t, y: -a * y, (0, T_END), y0, rtol=1e-11, atol=1e-12)
    return sol.y[:, -1]


def _adjoint(y_end, a, g):
    # backwards from T: state y, adjoint lam (lam' = a lam), and the accumulated dL/da
    def rhs(t, z):
        y, lam = z[:2], z[2:4]
        return np.concatenate([-a * y, a * lam, [np.dot(lam, y)]])
    sol = solve_ivp(rhs, (T_END, 0), np.concatenate([y_end, g, [0.0]]), rtol=1e-11,
                    atol=1e-12)
    z = sol.y[:, -1]
    return z[2:4], z[4]


@ft.custom_vjp
def odeint(y0, a):
    return ft.pure_callback(_solve, ft.ShapeDtypeStruct(y0.shape, y0.dtype), y0, a)


def _odeint_fwd(y0, a):
    y = odeint(y0, a)
    return y, (y, a)


def _odeint_bwd(res, g):
    y, a = res
    return ft.pure_callback(_adjoint, (ft.ShapeDtypeStruct((2,), np.float64),
                                       ft.ShapeDtypeStruct((), np.float64)), y, a, g)


odeint.defvjp(_odeint_fwd, _odeint_bwd)


def test_custom_vjp_adjoint_around_an_ode_solver_under_jit_grad():
    def loss(y0, a):
        return fnp.sum(odeint(y0, a) ** 2)

    y0, a = np.array([1.0, 2.0]), 0.7
    e = math.exp(-a * T_END)
    want_y0 = 2 * y0 * e * e                         # d/dy0 of sum((y0 e^{-aT})^2)
    want_a = -2 * T_END * e * e * np.sum(y0 ** 2)    # d/da of the same
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*no compiled lowering")
        g_y0, g_a = ft.jit(ft.grad(loss, argnums=(0, 1)))(y0, a)
    np.testing.assert_allclose(g_y0, want_y0, rtol=1e-8)
    np.testing.assert_allclose(g_a, want_a, rtol=1e-8)
    g_y0, g_a = ft.grad(loss, argnums=(0, 1))(y0, a)
    np.testing.assert_allclose(g_y0, want_y0, rtol=1e-8)
    np.testing.assert_allclose(g_a, want_a, rtol=1e-8)


# --- custom_jvp / custom_vjp called eagerly -------------------------------------------------


def test_custom_jvp_body_runs_on_values_when_called_eagerly():
    @ft.custom_jvp
    def f(x):
        if x > 0:  # value-dependent Python: JAX runs the function itself outside transforms
            return fnp.sin(x)
        return x

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return f(x), 10 * t

    assert f(1.0) == pytest.approx(math.sin(1.0))
    assert f(-2.0) == -2.0
    assert ft.grad(f)(1.0) == 10.0  # the rule, called with values, runs f on values too
    with pytest.raises(ft.errors.TracerBoolConversionError):
        ft.jit(f)(1.0)  # staged: the body is traced, as in JAX


def test_custom_vjp_of_a_scipy_function_called_eagerly():
    f = ft.custom_vjp(lambda x: scipy.special.erf(np.asarray(x)))
    f.defvjp(lambda x: (f(x), x),
             lambda x, g: (g * 2 / np.sqrt(np.pi) * np.exp(-np.asarray(x) ** 2),))
    np.testing.assert_array_equal(f(X), scipy.special.erf(X))
    np.testing.assert_allclose(ft.grad(lambda x: f(x))(0.5),
                               2 / np.sqrt(np.pi) * np.exp(-0.25), rtol=1e-15)


def _counting_custom_vjp():
    calls = {"body": 0, "fwd": 0}

    @ft.custom_vjp
    def f(x):
        calls["body"] += 1
        return fnp.sin(x) * 2

    def fwd(x):
        calls["fwd"] += 1
        return f(x), fnp.cos(x)

    f.defvjp(fwd, lambda c, g: (2 * c * g,))
    return f, calls


def test_custom_vjp_body_runs_once_under_grad():
    f, calls = _counting_custom_vjp()
    assert ft.grad(f)(0.3) == pytest.approx(2 * math.cos(0.3))
    assert calls == {"body": 1, "fwd": 1}  # fwd runs, the body only inside it
    f, calls = _counting_custom_vjp()
    assert ft.jit(ft.grad(f))(0.3) == pytest.approx(2 * math.cos(0.3))
    assert calls == {"body": 1, "fwd": 1}
    f, calls = _counting_custom_vjp()
    f(0.3)
    assert calls == {"body": 1, "fwd": 0}
    # second order: bwd's own derivative, fwd at each level
    f, calls = _counting_custom_vjp()
    ft.check_grads(f, (0.3,), order=1, modes=["rev"])


def test_custom_jvp_body_runs_once_under_grad():
    calls = []

    @ft.custom_jvp
    def f(x):
        calls.append(1)
        return x ** 3

    f.defjvps(lambda t, ans, x: 3 * x ** 2 * t)
    assert ft.grad(f)(2.0) == 12.0
    assert len(calls) == 1
    calls.clear()
    assert ft.grad(ft.grad(f))(2.0) == 12.0
    assert ft.jit(ft.grad(f))(2.0) == 12.0


def test_closure_over_a_differentiated_value_is_still_a_clear_error():
    def outer(y):
        @ft.custom_vjp
        def f(x):
            return x * y

        f.defvjp(lambda x: (f(x), None), lambda r, g: (g * 0,))
        return f(2.0)

    with pytest.raises(TypeError, match="closes over a value that is being differentiated"):
        ft.grad(outer)(3.0)
