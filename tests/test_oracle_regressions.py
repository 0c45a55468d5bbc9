"""Regressions found by differential testing of user-style programs against JAX semantics.

Expected values come from closed forms or plain NumPy (tests do not import JAX)."""

from __future__ import annotations

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import lax

# ---------------------------------------------------------------------------------------------
# Python-scalar loop counters and carries are weakly typed (float32 programs stay float32)
# ---------------------------------------------------------------------------------------------


def test_fori_loop_python_bounds_index_is_weak():
    x = np.array([1.0, 2.0, 3.0], np.float32)

    def f(x):
        return lax.fori_loop(0, 4, lambda i, c: c + c * i * 0.1, x)

    expected = x * 1.0 * 1.1 * 1.2 * 1.3
    for g in (f, ft.jit(f)):
        out = g(x)
        assert np.asarray(out).dtype == np.float32
        np.testing.assert_allclose(out, expected, rtol=1e-6)
    # reverse mode through the loop: d/dx of sum(x * prod(1 + 0.1 i)) is that product
    gx = ft.grad(lambda x: fnp.sum(f(x)))(x)
    assert gx.dtype == np.float32
    np.testing.assert_allclose(gx, np.full(3, 1.1 * 1.2 * 1.3), rtol=1e-6)


def test_fori_loop_traced_python_int_bound_index_is_weak():
    x = np.array([1.0, -2.0], np.float32)
    f = ft.jit(lambda n, x: lax.fori_loop(0, n, lambda i, c: c + x * i, fnp.zeros_like(x)))
    out = f(4, x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, 6 * x)


def test_fori_loop_numpy_int_bounds_keep_numpy_promotion():
    # a strong int64 index meets float32 like a NumPy int64 array: the carry would widen
    x = np.ones(2, np.float32)
    with pytest.raises(TypeError, match="carry"):
        lax.fori_loop(np.int64(0), np.int64(2), lambda i, c: c + i, x)


def test_scan_python_scalar_carry_is_weak():
    x = np.array([1.0, 2.0], np.float32)
    c, ys = lax.scan(lambda c, _: (c + 1, c * x), 0, None, length=3)
    assert ys.dtype == np.float32 and np.asarray(c).dtype == np.int64
    np.testing.assert_array_equal(ys, np.stack([0 * x, 1 * x, 2 * x]))
    # a Python float carry meeting float32 data becomes float32, not float64
    c, ys = lax.scan(lambda c, xi: (c + xi, c), 0.0, x)
    assert np.asarray(c).dtype == np.float32 and ys.dtype == np.float32
    np.testing.assert_allclose(c, 3.0)


def test_while_loop_python_int_counter_is_weak():
    x = np.array([1.0, 2.0], np.float32)
    i, y = lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1] * 0.5 + c[0]), (0, x))
    assert y.dtype == np.float32 and int(i) == 3
    np.testing.assert_allclose(y, ((x * 0.5 + 0) * 0.5 + 1) * 0.5 + 2)


def test_adam_style_step_counter_in_scan_carry_stays_float32():
    p = np.array([1.0, -1.0], np.float32)

    def step(state, _):
        p, t = state
        t = t + 1
        return (p - 0.01 * p / (1 - 0.9 ** t), t), None

    (p_out, t), _ = lax.scan(step, (p, 0), None, length=2)
    assert p_out.dtype == np.float32
    expected = p * (1 - 0.01 / 0.1) * (1 - 0.01 / (1 - 0.81))
    np.testing.assert_allclose(p_out, expected, rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# Comparisons of traced Python ints
# ---------------------------------------------------------------------------------------------


def test_comparison_of_traced_python_ints():
    f = ft.jit(lambda n: (n < 3, n == 2, n >= 2.5, n != 4))
    assert [bool(v) for v in f(2)] == [True, True, False, True]
    assert [bool(v) for v in f(3)] == [False, False, True, True]
    jaxpr = ft.make_jaxpr(lambda n: n < 3)(5)
    ft.check_jaxpr(jaxpr.jaxpr)


# ---------------------------------------------------------------------------------------------
# custom_jvp.defjvps
# ---------------------------------------------------------------------------------------------


def _sin_times():
    @ft.custom_jvp
    def f(x, y):
        return fnp.sin(x) * y

    f.defjvps(lambda g, ans, x, y: fnp.cos(x) * g * y, lambda g, ans, x, y: fnp.sin(x) * g)
    return f


def test_custom_jvp_defjvps_grad_and_jacfwd():
    f = _sin_times()
    x = np.array([0.3, -1.2, 2.0])
    y = np.array([1.5, 0.5, -2.0])
    gx, gy = ft.grad(lambda x, y: fnp.sum(f(x, y)), argnums=(0, 1))(x, y)
    np.testing.assert_allclose(gx, np.cos(x) * y)
    np.testing.assert_allclose(gy, np.sin(x))
    np.testing.assert_allclose(ft.jacfwd(lambda x: f(x, y))(x), np.diag(np.cos(x) * y))
    np.testing.assert_allclose(ft.jit(ft.grad(lambda x: fnp.sum(f(x, x))))(x),
                               np.cos(x) * x + np.sin(x))
    np.testing.assert_allclose(ft.vmap(ft.grad(lambda x: f(x, 2.0)))(x), 2 * np.cos(x))
    ft.check_grads(lambda x: f(x, x), (x,), order=2, modes=("fwd", "rev"))


def test_custom_jvp_defjvps_none_means_no_dependence():
    @ft.custom_jvp
    def f(x, y):
        return x * y

    f.defjvps(lambda g, ans, x, y: g * y, None)  # deliberately ignores y's tangent
    x = np.array([1.0, 2.0])
    gx, gy = ft.grad(lambda x, y: fnp.sum(f(x, y)), argnums=(0, 1))(x, 3 * x)
    np.testing.assert_allclose(gx, 3 * x)
    np.testing.assert_allclose(gy, 0 * x)


def test_custom_jvp_defjvps_wrong_rule_count():
    f = _sin_times()
    g = ft.custom_jvp(lambda x, y: x * y)
    g.defjvps(lambda t, ans, x, y: t * y)
    with pytest.raises(TypeError, match="defjvps"):
        ft.grad(lambda x: g(x, 2.0))(1.0)
    assert f(0.0, 1.0) == 0.0


# ---------------------------------------------------------------------------------------------
# Negative dynamic_slice starts count from the end; out-of-range static .at[] updates drop
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("start, expected", [(-1, [3.0, 4.0]), (-2, [3.0, 4.0]), (-3, [2.0, 3.0]),
                                             (-7, [0.0, 1.0]), (-9, [0.0, 1.0]), (1, [1.0, 2.0]),
                                             (9, [3.0, 4.0])])
def test_dynamic_slice_negative_starts_wrap_then_clamp(start, expected):
    v = np.arange(5.0)
    np.testing.assert_array_equal(lax.dynamic_slice(v, (start,), (2,)), expected)
    np.testing.assert_array_equal(ft.jit(lambda i: lax.dynamic_slice(v, (i,), (2,)))(start),
                                  expected)
    batched = ft.vmap(lambda i: lax.dynamic_slice(v, (i,), (2,)))(np.array([start, 0]))
    np.testing.assert_array_equal(batched, [expected, [0.0, 1.0]])
    # the cotangent lands where the window was read
    g = ft.grad(lambda v: fnp.sum(lax.dynamic_slice(v, (start,), (2,)) * np.array([1.0, 3.0])))(v)
    want = np.zeros(5)
    want[int(expected[0])] += 1.0
    want[int(expected[1])] += 3.0
    np.testing.assert_array_equal(g, want)


def test_dynamic_slice_negative_start_2d_and_opt_out():
    m = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(lax.dynamic_slice(m, (-1, 0), (2, 2)), m[1:3, 0:2])
    np.testing.assert_array_equal(lax.dynamic_slice(m, (-1, 0), (2, 2),
                                                    allow_negative_indices=False), m[0:2, 0:2])
    np.testing.assert_array_equal(lax.dynamic_index_in_dim(np.arange(5.0), -1, keepdims=False),
                                  4.0)


@pytest.mark.parametrize("start, expected", [(-1, [0, 1, 2, 9, 9]), (-7, [9, 9, 2, 3, 4]),
                                             (-3, [0, 1, 9, 9, 4])])
def test_dynamic_update_slice_negative_starts(start, expected):
    v = np.arange(5.0)
    upd = np.full(2, 9.0)
    np.testing.assert_array_equal(lax.dynamic_update_slice(v, upd, (start,)), expected)
    out = ft.jit(lambda i: lax.dynamic_update_slice(v, upd, (i,)))(start)
    np.testing.assert_array_equal(out, expected)


def test_static_out_of_range_scatter_updates_are_dropped():
    x = fnp.arange(5.0)
    np.testing.assert_array_equal(x.at[9].set(7.0), np.arange(5.0))
    np.testing.assert_array_equal(x.at[np.array([1, 9])].set(7.0), [0, 7, 2, 3, 4])
    np.testing.assert_array_equal(x.at[np.array([1, -9])].add(7.0), [0, 8, 2, 3, 4])
    g = ft.grad(lambda x: fnp.sum(x.at[np.array([1, 9])].set(x[0]) ** 2))(np.arange(5.0))
    np.testing.assert_array_equal(g, [0.0, 0.0, 4.0, 6.0, 8.0])
    with pytest.raises(IndexError, match="too many indices"):
        x.at[1, 2].set(3.0)


# ---------------------------------------------------------------------------------------------
# logaddexp / softplus are smooth at ties (Newton's method from a zero initialisation)
# ---------------------------------------------------------------------------------------------


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


@pytest.mark.parametrize("x0", [0.0, 0.7, -2.0])
def test_softplus_second_derivative_at_and_off_zero(x0):
    d2 = ft.grad(ft.grad(ft.nn.softplus))(x0)
    np.testing.assert_allclose(d2, _sigmoid(x0) * (1 - _sigmoid(x0)), rtol=1e-12)
    np.testing.assert_allclose(ft.grad(ft.nn.softplus)(x0), _sigmoid(x0), rtol=1e-12)
    h = ft.hessian(lambda w: fnp.sum(fnp.logaddexp(w, 0.0)))(np.full(3, x0))
    np.testing.assert_allclose(h, np.eye(3) * _sigmoid(x0) * (1 - _sigmoid(x0)), rtol=1e-12)


def test_logaddexp_tie_derivatives_and_edge_values():
    gx, gy = ft.grad(lambda x, y: fnp.logaddexp(x, y), argnums=(0, 1))(1.5, 1.5)
    assert gx == 0.5 and gy == 0.5
    np.testing.assert_allclose(ft.grad(ft.grad(lambda x: fnp.logaddexp(x, 1.5)))(1.5), 0.25)
    np.testing.assert_allclose(ft.grad(ft.grad(lambda x: fnp.logaddexp2(x, 0.0)))(0.0),
                               np.log(2) / 4)
    a = np.array([0.0, 1.0, -np.inf, np.inf, np.inf, -np.inf, np.nan, 1e10, -1e10])
    b = np.array([0.0, 2.0, -np.inf, np.inf, 1.0, 2.0, 1.0, -1e10, 5.0])
    np.testing.assert_array_equal(fnp.logaddexp(a, b), np.logaddexp(a, b))
    np.testing.assert_array_equal(fnp.logaddexp2(a, b), np.logaddexp2(a, b))
    ft.check_grads(lambda x, y: fnp.logaddexp(x, y), (np.array([0.3, -1.0, 2.0]),
                                                      np.array([0.3, 0.5, -1.0])), order=2)


def test_newton_logistic_regression_from_zero():
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((20, 3))
    ys = (rng.random(20) > 0.5).astype(float)

    def nll(w):
        z = xs @ w
        return fnp.mean(ft.nn.softplus(z) - ys * z) + 0.05 * fnp.sum(w ** 2)

    h = ft.hessian(nll)(np.zeros(3))
    np.testing.assert_allclose(h, 0.25 * xs.T @ xs / 20 + 0.1 * np.eye(3), rtol=1e-12)


def test_sinc_higher_derivatives_at_zero():
    # sinc(x) = 1 - (pi x)^2/6 + (pi x)^4/120 - ...: f''(0) = -pi^2/3, f''''(0) = pi^4/5
    d = fnp.sinc
    for _ in range(4):
        d = ft.grad(d)
        if _ == 1:
            np.testing.assert_allclose(d(0.0), -np.pi ** 2 / 3, rtol=1e-12)
    np.testing.assert_allclose(d(0.0), np.pi ** 4 / 5, rtol=1e-12)
    x = np.array([0.0, 0.5, -1.0, 2.0], np.float32)
    assert fnp.sinc(x).dtype == np.float32
    np.testing.assert_allclose(fnp.sinc(x), np.sinc(x), rtol=1e-6)
    ft.check_grads(fnp.sinc, (np.array([0.3, -1.7, 2.2]),), order=2)


@pytest.mark.parametrize("x", [[0.0, 0.0, 0.0], [0.5, 0.5, -1.0], [0.3, -0.7, 1.2]])
def test_cumlogsumexp_hessian_with_ties(x):
    x = np.asarray(x)

    def f(x):
        return fnp.sum(lax.cumlogsumexp(x))

    # closed form: sum_k logsumexp(x[:k+1]); the Hessian of logsumexp is diag(p) - p p^T
    h = np.zeros((3, 3))
    for k in range(3):
        p = np.exp(x[:k + 1] - np.logaddexp.reduce(x[:k + 1]))
        h[:k + 1, :k + 1] += np.diag(p) - np.outer(p, p)
    np.testing.assert_allclose(ft.hessian(f)(x), h, atol=1e-12)
    np.testing.assert_allclose(lax.cumlogsumexp(np.array([-np.inf, -np.inf, 0.0, 1.0])),
                               [-np.inf, -np.inf, 0.0, np.logaddexp(0.0, 1.0)])


def test_celu_matches_max_min_form_at_zero():
    # JAX's celu is max(x, 0) + alpha expm1(min(x, 0) / alpha): at 0 each side gets half
    np.testing.assert_allclose(ft.grad(ft.nn.celu)(0.0), 1.0)
    np.testing.assert_allclose(ft.grad(ft.grad(ft.nn.celu))(0.0), 0.25)
    np.testing.assert_allclose(ft.grad(ft.grad(lambda x: ft.nn.celu(x, 2.0)))(0.0), 0.125)
    x = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_allclose(ft.nn.celu(x, 2.0), np.where(x > 0, x, 2 * np.expm1(x / 2)))


# ---------------------------------------------------------------------------------------------
# jax.nn names that user programs reach for
# ---------------------------------------------------------------------------------------------


def test_small_activations_closed_forms():
    x = np.array([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0])
    nn = ft.nn
    np.testing.assert_array_equal(nn.identity(x), x)
    np.testing.assert_allclose(nn.squareplus(x), (x + np.sqrt(x ** 2 + 4)) / 2)
    np.testing.assert_allclose(nn.squareplus(x, 1.0), (x + np.sqrt(x ** 2 + 1)) / 2)
    np.testing.assert_allclose(nn.sparse_plus(x), np.where(x <= -1, 0, np.where(
        x >= 1, x, (x + 1) ** 2 / 4)))
    np.testing.assert_allclose(nn.sparse_sigmoid(x), np.clip((x + 1) / 2, 0, 1))
    pos = np.array([1e-6, 0.1, 0.69, 0.7, 5.0, 40.0])
    np.testing.assert_allclose(nn.log1mexp(pos), np.log(-np.expm1(-pos)), rtol=1e-12,
                               atol=1e-15)
    np.testing.assert_allclose(nn.logmeanexp(x), np.log(np.mean(np.exp(x))), rtol=1e-12)
    assert nn.squareplus(x.astype(np.float32)).dtype == np.float32
    # sparse_sigmoid is the derivative of sparse_plus (away from the kinks at +-1)
    inner = np.array([-0.5, 0.0, 0.5, 2.0, -3.0])
    np.testing.assert_allclose(ft.vmap(ft.grad(nn.sparse_plus))(inner), nn.sparse_sigmoid(inner))
    ft.check_grads(lambda x: nn.squareplus(x) + nn.log1mexp(x * x + 0.5), (x,), order=2)


def _attention_reference(q, k, v, bias=None, keep=None, scale=None):
    b, t, n, h = q.shape
    g = n // k.shape[2]
    kk = np.repeat(k, g, axis=2)
    vv = np.repeat(v, g, axis=2)
    logits = np.einsum("btnh,bsnh->bnts", q, kk) * (1 / np.sqrt(h) if scale is None else scale)
    if bias is not None:
        logits = logits + bias
    if keep is not None:
        logits = np.where(keep, logits, -0.7 * np.finfo(logits.dtype).max)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return np.einsum("bnts,bsnh->btnh", p, vv)


def test_dot_product_attention_against_numpy():
    rng = np.random.default_rng(0)
    q = rng.standard_normal((2, 5, 4, 3))
    k = rng.standard_normal((2, 6, 2, 3))
    v = rng.standard_normal((2, 6, 2, 3))
    bias = rng.standard_normal((2, 4, 5, 6))
    mask = rng.random((2, 1, 5, 6)) > 0.3
    dpa = ft.nn.dot_product_attention
    np.testing.assert_allclose(dpa(q, k, v), _attention_reference(q, k, v), rtol=1e-12)
    np.testing.assert_allclose(dpa(q, k, v, bias=bias, mask=mask),
                               _attention_reference(q, k, v, bias, mask), rtol=1e-12)
    causal = np.tril(np.ones((5, 6), bool))
    np.testing.assert_allclose(dpa(q, k, v, is_causal=True, scale=0.3),
                               _attention_reference(q, k, v, keep=causal, scale=0.3),
                               rtol=1e-12)
    np.testing.assert_allclose(dpa(q[0], k[0], v[0], is_causal=True),
                               _attention_reference(q[:1], k[:1], v[:1], keep=causal)[0],
                               rtol=1e-12)
    assert dpa(q.astype(np.float32), k.astype(np.float32), v.astype(np.float32)).dtype == \
        np.float32
    ft.check_grads(lambda q, k: dpa(q, k, v[:1, :, :, :], bias=bias[:1]),
                   (q[:1], k[:1]), order=1)
    with pytest.raises(ValueError, match="multiple"):
        dpa(q[:, :, :3], k, v)


# ---------------------------------------------------------------------------------------------
# functrace.scipy.linalg (jax.scipy.linalg names, SciPy defaults)
# ---------------------------------------------------------------------------------------------


def _spd(n=4, seed=0):
    a = np.random.default_rng(seed).standard_normal((n, n))
    return a @ a.T + n * np.eye(n)


def test_scipy_linalg_cholesky_family():
    sl = ft.scipy.linalg
    s = _spd()
    b = np.arange(1.0, 5.0)
    bm = np.stack([b, b[::-1]], 1)
    lo = np.linalg.cholesky(s)
    np.testing.assert_allclose(sl.cholesky(s, lower=True), lo, rtol=1e-12)
    np.testing.assert_allclose(sl.cholesky(s), lo.T, rtol=1e-12)  # upper by default
    for lower in (False, True):
        c = sl.cho_factor(s, lower=lower)
        assert c[1] is lower
        np.testing.assert_allclose(sl.cho_solve(c, b), np.linalg.solve(s, b), rtol=1e-10)
        np.testing.assert_allclose(sl.cho_solve(c, bm), np.linalg.solve(s, bm), rtol=1e-10)
    np.testing.assert_allclose(sl.solve(s, bm, assume_a="pos"), np.linalg.solve(s, bm),
                               rtol=1e-10)
    np.testing.assert_allclose(sl.solve(np.tril(s), b, assume_a="pos", lower=True),
                               np.linalg.solve(s, b), rtol=1e-10)
    # the input is not symmetrised (as in SciPy/JAX): the upper factor's gradient is the
    # transpose of the lower factor's, and both differ from the symmetrised one
    g_lo = ft.grad(lambda a: fnp.sum(sl.cholesky(a, lower=True)))(s)
    g_up = ft.grad(lambda a: fnp.sum(sl.cholesky(a)))(s)
    np.testing.assert_allclose(g_up, g_lo.T, rtol=1e-12)
    g_sym = ft.grad(lambda a: fnp.sum(lax.linalg.cholesky(a)))(s)
    np.testing.assert_allclose(g_sym, (g_lo + g_lo.T) / 2, rtol=1e-10)
    assert not np.allclose(g_lo, g_sym)
    ft.check_grads(lambda a: sl.cho_solve(sl.cho_factor(a @ a.T + 4 * fnp.eye(4)), b),
                   (s / 4,), order=2)


def test_scipy_linalg_solve_triangular_and_friends():
    sl = ft.scipy.linalg
    s = _spd(seed=1)
    b = np.arange(1.0, 5.0)
    up, lo = np.triu(s), np.tril(s)
    np.testing.assert_allclose(sl.solve_triangular(up, b), np.linalg.solve(up, b), rtol=1e-12)
    np.testing.assert_allclose(sl.solve_triangular(lo, b, lower=True, trans="T"),
                               np.linalg.solve(lo.T, b), rtol=1e-12)
    unit = lo - np.diag(np.diag(lo)) + np.eye(4)
    np.testing.assert_allclose(sl.solve_triangular(lo, b, lower=True, unit_diagonal=True),
                               np.linalg.solve(unit, b), rtol=1e-12)
    np.testing.assert_allclose(sl.solve(s, b), np.linalg.solve(s, b), rtol=1e-12)
    np.testing.assert_allclose(sl.inv(s), np.linalg.inv(s), rtol=1e-12)
    np.testing.assert_allclose(sl.det(s), np.linalg.det(s), rtol=1e-12)
    np.testing.assert_allclose(sl.eigh(s, eigvals_only=True), np.linalg.eigvalsh(s), rtol=1e-12)
    bd = sl.block_diag(np.ones((2, 2), np.float32), np.float32([3, 4]), 5.0)
    assert bd.dtype == np.float32
    np.testing.assert_array_equal(bd, [[1, 1, 0, 0, 0], [1, 1, 0, 0, 0], [0, 0, 3, 4, 0],
                                       [0, 0, 0, 0, 5]])
    with pytest.raises(ValueError, match="trans"):
        sl.solve_triangular(up, b, trans=3)


def test_traced_index_wraps_negative_once_then_clamps():
    v = np.array([3.0, -1.0, 2.5, 0.0, 7.0])
    f = ft.jit(lambda i: fnp.asarray(v)[i])
    # -2 is the second to last entry; out-of-range indices clamp (-9 -> -4 -> 0, 10 -> 4)
    assert [float(f(i)) for i in (-2, -1, -5, -9, 10)] == [0.0, 7.0, 3.0, 3.0, 7.0]
