"""custom_jvp, custom_vjp, checkpoint and saved_residuals."""

from __future__ import annotations

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import lax

X = np.linspace(-2.0, 2.0, 5)


@ft.custom_jvp
def softplus(x):
    return fnp.log(1.0 + fnp.exp(x))


@softplus.defjvp
def _softplus_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return softplus(x), t * (1 / (1 + fnp.exp(-x)))


def test_custom_jvp_rule_is_used_in_both_modes():
    sig = 1 / (1 + np.exp(-X))
    _, t = ft.jvp(softplus, (X,), (np.ones(5),))
    np.testing.assert_allclose(t, sig)
    np.testing.assert_allclose(ft.grad(lambda x: fnp.sum(softplus(x)))(X), sig)
    ft.check_grads(softplus, (X,), order=2)


def test_custom_jvp_rule_wins_over_the_primal_implementation():
    @ft.custom_jvp
    def f(x):
        return fnp.sin(x)

    f.defjvp(lambda p, t: (f(p[0]), t[0] * 10.0))
    np.testing.assert_allclose(ft.grad(lambda x: fnp.sum(f(x)))(X), np.full(5, 10.0))
    # under vmap in both orders the rule still applies
    np.testing.assert_allclose(ft.vmap(ft.grad(lambda x: f(x)))(X), np.full(5, 10.0))
    np.testing.assert_allclose(ft.grad(lambda x: fnp.sum(ft.vmap(f)(x)))(X), np.full(5, 10.0))


def test_custom_jvp_nondiff_argnums():
    @ft.custom_jvp
    def scale(k, x):
        return x * k

    @scale.defjvp
    def _(k, primals, tangents):
        return scale(k, primals[0]), tangents[0] * k

    scale.nondiff_argnums = (0,)
    assert ft.grad(lambda x: scale(3.0, x))(1.0) == pytest.approx(3.0)


def test_custom_jvp_without_rule_is_an_error():
    @ft.custom_jvp
    def f(x):
        return x

    with pytest.raises(AttributeError, match="No JVP defined"):
        f(1.0)


def _log1pexp_fwd(x):
    y = fnp.log1p(fnp.exp(x))
    return y, x


def _log1pexp_bwd(x, g):
    return (g * (1 - 1 / (1 + fnp.exp(x))),)


@ft.custom_vjp
def log1pexp(x):
    return fnp.log1p(fnp.exp(x))


log1pexp.defvjp(_log1pexp_fwd, _log1pexp_bwd)


def test_custom_vjp_is_numerically_stable_where_the_naive_gradient_is_not():
    naive = ft.grad(lambda x: fnp.log1p(fnp.exp(x)))(1000.0)
    assert not np.isfinite(naive)
    assert ft.grad(log1pexp)(1000.0) == pytest.approx(1.0)


def test_custom_vjp_matches_numerical_and_composes_with_vmap_and_jacrev():
    ft.check_grads(lambda x: fnp.sum(log1pexp(x)), (X,), order=1, modes=("rev",))
    sig = 1 / (1 + np.exp(-X))
    np.testing.assert_allclose(ft.jacrev(log1pexp)(X), np.diag(sig), atol=1e-12)
    np.testing.assert_allclose(ft.grad(lambda x: fnp.sum(ft.vmap(log1pexp)(x)))(X), sig)
    np.testing.assert_allclose(ft.vmap(ft.grad(log1pexp))(X), sig)


def test_custom_vjp_in_forward_mode_is_a_clear_error():
    with pytest.raises(TypeError, match="can't apply forward-mode differentiation"):
        ft.jvp(log1pexp, (X,), (X,))


def test_custom_vjp_bwd_with_wrong_arity_is_a_clear_error():
    @ft.custom_vjp
    def f(x, y):
        return x * y

    f.defvjp(lambda x, y: (x * y, (x, y)), lambda res, g: (g * res[1],))
    with pytest.raises(TypeError, match="bwd returned 1 cotangents for 2 arguments"):
        ft.grad(f)(1.0, 2.0)


def _deep(x):
    for _ in range(4):
        x = fnp.sin(x) * 1.1
    return x


def test_checkpoint_saves_only_inputs_and_gives_the_same_gradient():
    f = lambda x: fnp.sum(_deep(x))
    g = lambda x: fnp.sum(ft.checkpoint(_deep)(x))
    np.testing.assert_allclose(ft.grad(g)(X), ft.grad(f)(X), rtol=1e-13)
    plain = ft.saved_residuals(f, X)
    remat = ft.saved_residuals(g, X)
    assert len(plain) >= 4
    assert len(remat) == 1 and remat[0]["is_input"]
    assert remat[0]["bytes"] == X.nbytes
    ft.check_grads(g, (X,), order=2)


def test_checkpoint_policy_everything_saveable_stores_like_plain_vjp():
    f = lambda x: fnp.sum(_deep(x))
    g = lambda x: fnp.sum(ft.checkpoint(
        _deep, policy=ft.checkpoint_policies.everything_saveable)(x))
    assert len(ft.saved_residuals(g, X)) == len(ft.saved_residuals(f, X))


def test_checkpoint_recomputes_in_the_backward_program():
    f = lambda x: fnp.sum(_deep(x))
    g = lambda x: fnp.sum(ft.checkpoint(_deep)(x))
    plain = [e.primitive.name for e in ft.make_jaxpr(ft.value_and_grad(f))(X).eqns]
    remat = [e.primitive.name for e in ft.make_jaxpr(ft.value_and_grad(g))(X).eqns]
    assert plain.count("sin") == 4 and plain.count("cos") == 4
    # the forward pass computes 4 sines; the backward pass recomputes the 3 it needs,
    # behind a barrier that stops CSE from merging them back into the forward pass
    assert remat.count("sin") == 7 and remat.count("cos") == 4
    assert remat.count("optimization_barrier") == 1


def test_checkpoint_under_vmap_and_hessian():
    g = lambda x: fnp.sum(ft.checkpoint(_deep)(x))
    f = lambda x: fnp.sum(_deep(x))
    np.testing.assert_allclose(ft.hessian(g)(X[:3]), ft.hessian(f)(X[:3]), rtol=1e-12)
    xs = np.stack([X, X * 0.5])
    np.testing.assert_allclose(ft.vmap(ft.grad(g))(xs), ft.vmap(ft.grad(f))(xs), rtol=1e-12)


def test_saved_residuals_reports_shapes_and_bytes():
    w = np.ones((3, 4), np.float32)
    res = ft.saved_residuals(lambda x: fnp.sum(fnp.tanh(x @ w)), np.ones((2, 3), np.float32))
    assert all(r["dtype"] == np.float32 for r in res)
    assert {r["shape"] for r in res} <= {(2, 4), (3, 4), (2, 3), (4, 3)}
    assert all(r["bytes"] == np.prod(r["shape"]) * 4 for r in res)


def test_stop_gradient_blocks_derivatives():
    f = lambda x: x * lax.stop_gradient(x)
    assert ft.grad(f)(3.0) == 3.0


def test_checkpoint_around_control_flow():
    def step(c, x):
        c = fnp.tanh(c * x + 0.5)
        return c, c * c

    xs = np.linspace(0.1, 0.9, 4)

    def body_scan(c, xs):
        return fnp.sum(lax.scan(step, c, xs)[1])

    def body_cond(c, xs):
        return fnp.sum(lax.cond(c > 0, lambda v: fnp.sin(v * c), lambda v: v * 2.0, xs))

    def body_fori(c, xs):
        return fnp.sum(lax.fori_loop(0, 3, lambda i, v: fnp.sin(v) * c, xs))

    for body in (body_scan, body_cond, body_fori):
        ft.check_grads(ft.checkpoint(body), (0.3, xs), order=2)
        np.testing.assert_allclose(ft.grad(ft.checkpoint(body))(0.3, xs),
                                   ft.grad(body)(0.3, xs), rtol=1e-12)


def test_custom_vjp_with_a_python_float_argument_that_is_not_differentiated():
    @ft.custom_vjp
    def scaled(x, c):
        return x * c

    scaled.defvjp(lambda x, c: (x * c, (c,)),
                  lambda res, g: (fnp.clip(g * res[0], -1.0, 1.0), fnp.sum(g)))
    x = np.array([-2.0, 0.5, 3.0])

    def loss(x):
        return fnp.sum(scaled(x, 5.0) ** 2)

    want = np.clip(2 * x * 5.0 * 5.0, -1.0, 1.0)
    np.testing.assert_array_equal(ft.grad(loss)(x), want)
    np.testing.assert_array_equal(ft.jit(ft.grad(loss))(x), want)
    gx, gc = ft.grad(lambda x, c: fnp.sum(scaled(x, c) ** 2), argnums=(0, 1))(x, 5.0)
    np.testing.assert_array_equal(gx, want)
    assert gc == np.sum(2 * x * 5.0)
