"""grad, vjp, jvp, linearize, Jacobians and Hessians: closed forms, numerical checks, JAX's
documented choices at tricky points, linear cost and composability."""

from __future__ import annotations

import time

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import lax

RNG = np.random.RandomState(0)


# --- classic closed forms -------------------------------------------------------------------


def _mlp_params(sizes, dtype=np.float64):
    rng = np.random.RandomState(1)
    return [(rng.randn(m, n).astype(dtype) / np.sqrt(m), rng.randn(n).astype(dtype) * 0.1)
            for m, n in zip(sizes[:-1], sizes[1:])]


def _mlp_loss(params, x, y_onehot):
    h = x
    for i, (w, b) in enumerate(params):
        h = h @ w + b
        if i < len(params) - 1:
            h = fnp.tanh(h)
    logits = h - fnp.max(h, axis=1, keepdims=True)
    logp = logits - fnp.log(fnp.sum(fnp.exp(logits), axis=1, keepdims=True))
    return -fnp.mean(fnp.sum(logp * y_onehot, axis=1))


def _mlp_hand_backprop(params, x, y):
    hs, pre = [x], []
    h = x
    for i, (w, b) in enumerate(params):
        z = h @ w + b
        pre.append(z)
        h = np.tanh(z) if i < len(params) - 1 else z
        hs.append(h)
    z = hs[-1]
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    delta = (p - y) / x.shape[0]
    grads = []
    for i in reversed(range(len(params))):
        w, _ = params[i]
        grads.append((hs[i].T @ delta, delta.sum(0)))
        if i:
            delta = (delta @ w.T) * (1 - np.tanh(pre[i - 1]) ** 2)
    return grads[::-1]


def test_mlp_softmax_cross_entropy_matches_hand_backprop():
    params = _mlp_params([5, 7, 4, 3])
    x = RNG.randn(6, 5)
    y = np.eye(3)[RNG.randint(0, 3, 6)]
    got = ft.grad(_mlp_loss)(params, x, y)
    want = _mlp_hand_backprop(params, x, y)
    for (gw, gb), (ww, wb) in zip(got, want):
        np.testing.assert_allclose(gw, ww, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(gb, wb, rtol=1e-10, atol=1e-12)


def test_sigmoid_derivative_closed_form():
    x = np.linspace(-6, 6, 13)
    sig = lambda x: 1 / (1 + fnp.exp(-x))
    g = ft.vmap(ft.grad(sig))(x)
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(g, s * (1 - s), rtol=1e-12)


def test_logsumexp_gradient_is_softmax():
    x = RNG.randn(7)

    def lse(x):
        m = fnp.max(x)
        return m + fnp.log(fnp.sum(fnp.exp(x - m)))

    np.testing.assert_allclose(ft.grad(lse)(x), np.exp(x) / np.exp(x).sum(), rtol=1e-12)


def test_gaussian_log_likelihood_gradients():
    data = RNG.randn(20) * 2 + 1

    def loglik(mu, log_sigma):
        sigma = fnp.exp(log_sigma)
        z = (data - mu) / sigma
        return fnp.sum(-0.5 * z * z - log_sigma - 0.5 * np.log(2 * np.pi))

    mu, ls = 0.3, 0.2
    gmu, gls = ft.grad(loglik, argnums=(0, 1))(mu, ls)
    s2 = np.exp(2 * ls)
    assert gmu == pytest.approx(np.sum(data - mu) / s2)
    assert gls == pytest.approx(np.sum((data - mu) ** 2) / s2 - len(data))


# --- JAX's choices at tricky points -----------------------------------------------------------


def test_abs_at_zero_has_gradient_one_like_jax():
    assert ft.grad(fnp.abs)(0.0) == 1.0
    assert ft.grad(fnp.abs)(-2.0) == -1.0


def test_maximum_at_ties_splits_the_gradient():
    gx, gy = ft.grad(lambda x, y: fnp.maximum(x, y), argnums=(0, 1))(1.0, 1.0)
    assert (gx, gy) == (0.5, 0.5)
    np.testing.assert_allclose(ft.grad(lambda x: fnp.max(x))(np.array([1.0, 3.0, 3.0])),
                               [0.0, 0.5, 0.5])


def test_where_selects_gradient_branch_and_double_where_is_finite():
    def unsafe(x):
        return fnp.where(x > 0, fnp.sqrt(x), 0.0)

    def safe(x):
        sx = fnp.where(x > 0, x, 1.0)
        return fnp.where(x > 0, fnp.sqrt(sx), 0.0)

    assert ft.grad(unsafe)(4.0) == pytest.approx(0.25)
    assert np.isnan(ft.grad(unsafe)(0.0))  # 0 * inf, as in JAX
    assert ft.grad(safe)(0.0) == 0.0
    assert ft.grad(safe)(4.0) == pytest.approx(0.25)


def test_sqrt_at_zero_is_infinite():
    assert ft.grad(fnp.sqrt)(0.0) == np.inf


# --- API shapes and pytrees -------------------------------------------------------------------


def test_grad_argnums_and_pytrees():
    def f(p, x):
        return fnp.sum(p["w"] * x) + p["b"][0] ** 2

    p = {"w": np.arange(3.0), "b": (np.float64(2.0),)}
    g = ft.grad(f)(p, np.ones(3))
    np.testing.assert_allclose(g["w"], np.ones(3))
    assert g["b"][0] == pytest.approx(4.0)
    gp, gx = ft.grad(f, argnums=(0, 1))(p, np.ones(3))
    np.testing.assert_allclose(gx, np.arange(3.0))


def test_value_and_grad_and_has_aux():
    def f(x):
        return fnp.sum(x * x), {"norm": fnp.sqrt(fnp.sum(x * x))}

    x = np.array([3.0, 4.0])
    (val, aux), g = ft.value_and_grad(f, has_aux=True)(x)
    assert val == pytest.approx(25.0) and aux["norm"] == pytest.approx(5.0)
    np.testing.assert_allclose(g, 2 * x)
    g2, aux2 = ft.grad(f, has_aux=True)(x)
    np.testing.assert_allclose(g2, 2 * x)


def test_unused_input_gets_zero_gradient():
    g = ft.grad(lambda x, y: fnp.sum(x * 2.0), argnums=1)(np.ones(3), np.ones(2))
    np.testing.assert_array_equal(g, np.zeros(2))


def test_vjp_and_jvp_and_linearize_agree():
    f = lambda x: fnp.sin(x) * fnp.exp(x)
    x, v = RNG.randn(4), RNG.randn(4)
    y, t = ft.jvp(f, (x,), (v,))
    y2, f_jvp = ft.linearize(f, x)
    np.testing.assert_allclose(t, f_jvp(v), rtol=1e-12)
    out, vjp_fn = ft.vjp(f, x)
    (ct,) = vjp_fn(v)
    jac = np.diag(np.cos(x) * np.exp(x) + np.sin(x) * np.exp(x))
    np.testing.assert_allclose(ct, jac.T @ v, rtol=1e-12)
    np.testing.assert_allclose(t, jac @ v, rtol=1e-12)


def test_jacobians_of_tensor_functions_have_out_by_in_shape():
    w = RNG.randn(2, 3, 4)

    def f(x):  # (4, 5) -> (2, 3, 5)
        return fnp.tanh(fnp.einsum("abi,ij->abj", w, x))

    x = RNG.randn(4, 5)
    jf, jr = ft.jacfwd(f)(x), ft.jacrev(f)(x)
    assert jf.shape == jr.shape == (2, 3, 5, 4, 5)
    np.testing.assert_allclose(jf, jr, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(jr, ft.numerical_jacobian(f, x), rtol=1e-6, atol=1e-8)


def test_hessian_of_quadratic_form():
    a = RNG.randn(4, 4)
    h = ft.hessian(lambda x: x @ a @ x)(RNG.randn(4))
    np.testing.assert_allclose(h, a + a.T, rtol=1e-12)


def test_jacfwd_of_jacrev_equals_hessian_and_jacrev_of_jacfwd():
    f = lambda x: fnp.sum(fnp.sin(x) * x[::-1])
    x = RNG.randn(3)
    np.testing.assert_allclose(ft.jacfwd(ft.jacrev(f))(x), ft.jacrev(ft.jacfwd(f))(x),
                               rtol=1e-12, atol=1e-14)


def test_jacobian_pytree_structure():
    def f(x, y):
        return {"a": x * y, "b": fnp.sum(x)}

    x, y = RNG.randn(3), RNG.randn(3)
    j = ft.jacrev(f, argnums=(0, 1))(x, y)
    assert j["a"][0].shape == (3, 3) and j["b"][1].shape == (3,)
    np.testing.assert_allclose(j["a"][1], np.diag(x))


# --- errors -----------------------------------------------------------------------------------


def test_grad_of_non_scalar_output_is_a_type_error():
    with pytest.raises(TypeError, match=r"scalar output.*shape \(3,\)"):
        ft.grad(lambda x: x * 2.0)(np.ones(3))


def test_grad_with_integer_input_is_a_type_error():
    with pytest.raises(TypeError, match="int64.*convert them to float"):
        ft.grad(lambda x: fnp.sum(x * 2))(np.arange(3))


def test_grad_of_complex_output_is_a_type_error():
    with pytest.raises(TypeError, match="holomorphic"):
        ft.grad(lambda x: x * (1 + 1j))(1.0)


def test_argnums_out_of_range():
    with pytest.raises(ValueError, match="argnums=3 is out of range"):
        ft.grad(lambda x: x, argnums=3)(1.0)


def test_vjp_fn_checks_cotangent_shape():
    _, vjp_fn = ft.vjp(lambda x: x * 2.0, np.ones(3))
    with pytest.raises(ValueError, match=r"cotangent of shape \(4,\)"):
        vjp_fn(np.ones(4))


# --- cost: linear in program size -------------------------------------------------------------


def _chain(n):
    def f(x):
        for i in range(n):
            x = fnp.sin(x) * 0.5 if i % 2 else fnp.tanh(x) + x
        return fnp.sum(x)
    return f


def test_backward_program_size_is_linear_on_a_long_chain():
    x = np.ones(3)
    fwd = len(ft.make_jaxpr(_chain(1000))(x).eqns)
    bwd = len(ft.make_jaxpr(ft.grad(_chain(1000)))(x).eqns)
    assert fwd >= 1000
    assert bwd <= 4 * fwd


def test_backward_program_size_is_linear_on_a_wide_fan_out():
    def f(x):
        ys = [fnp.sin(x * float(i)) for i in range(300)]
        total = ys[0]
        for y in ys[1:]:
            total = total + y * ys[0]
        return fnp.sum(total)

    x = np.ones(2)
    fwd = len(ft.make_jaxpr(f)(x).eqns)
    bwd = len(ft.make_jaxpr(ft.grad(f))(x).eqns)
    assert bwd <= 4 * fwd


def test_building_the_backward_program_takes_linear_time():
    x = np.ones(2)

    def build(n):
        t0 = time.perf_counter()
        ft.make_jaxpr(ft.grad(_chain(n)))(x)
        return time.perf_counter() - t0

    build(100)
    t1 = min(build(500) for _ in range(2))
    t2 = min(build(2000) for _ in range(2))
    assert t2 < 4 * 3 * t1  # 4x the size must cost well under 12x (quadratic would be 16x)


def test_printed_backward_program_has_no_dead_or_duplicate_work():
    closed = ft.make_jaxpr(ft.grad(lambda x: fnp.sum(fnp.sin(x) * fnp.sin(x))))(np.ones(3))
    sins = [e for e in closed.eqns if e.primitive.name == "sin"]
    assert len(sins) == 1
    assert all(e.primitive.name != "reduce_sum" for e in closed.eqns)


# --- composition ------------------------------------------------------------------------------


def test_third_order_and_jvp_of_vjp():
    f = lambda x: fnp.exp(2.0 * x)
    assert ft.grad(ft.grad(ft.grad(f)))(0.3) == pytest.approx(8 * np.exp(0.6))

    def vjp_of_f(x):
        _, fn = ft.vjp(f, x)
        return fn(1.0)[0]

    _, t = ft.jvp(vjp_of_f, (0.3,), (1.0,))
    assert t == pytest.approx(4 * np.exp(0.6))


def test_grad_in_python_loops_and_closures():
    def make(k):
        return lambda x: fnp.sin(k * x)

    fs = [make(k) for k in (1.0, 2.0, 3.0)]
    grads = [ft.grad(f)(0.5) for f in fs]
    np.testing.assert_allclose(grads, [k * np.cos(k * 0.5) for k in (1.0, 2.0, 3.0)])


def test_python_control_flow_on_concrete_values_under_grad():
    def f(x):
        if x > 0:
            return x * x
        return -x

    assert ft.grad(f)(3.0) == 6.0
    assert ft.grad(f)(-3.0) == -1.0


def test_perturbation_confusion_nested_derivative_operators():
    # Siskind & Pearlmutter: d/dx (x * d/dy (x * y)) at x=1 must be 2x = 2, not 3
    def inner(x):
        return ft.grad(lambda y: x * y)(1.0)

    assert ft.grad(lambda x: x * inner(x))(1.0) == pytest.approx(2.0)


def test_check_grads_catches_a_wrong_rule(monkeypatch):
    from functrace import ad
    from functrace.ops.elementwise import sin_p
    wrong = lambda primals, tangents: (lax.sin(primals[0]), lax.mul(tangents[0], 2.0))
    monkeypatch.setitem(ad.jvp_rules, sin_p, wrong)
    with pytest.raises(AssertionError, match="forward mode, order 1"):
        ft.check_grads(fnp.sin, (np.array([0.1, 0.2]),), order=1, modes=("fwd",))
    with pytest.raises(AssertionError, match="reverse mode, order 1"):
        ft.check_grads(fnp.sin, (np.array([0.1, 0.2]),), order=1, modes=("rev",))


def test_numerical_jacobian_methods():
    f = lambda x: np.sin(x) * x[0]
    x = np.array([0.3, 0.7])
    exact = np.diag(np.cos(x) * x[0])
    exact[:, 0] += np.sin(x)
    for method, tol in (("central", 1e-8), ("richardson", 1e-10)):
        np.testing.assert_allclose(ft.numerical_jacobian(f, x, method=method), exact, atol=tol)
