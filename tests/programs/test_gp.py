"""Gaussian-process regression: the negative log marginal likelihood through
``fnp.linalg.cholesky``, ``functrace.scipy.linalg.solve_triangular`` and ``cho_solve`` under
``jit(value_and_grad)``, against the closed-form gradient
``dNLL/dtheta = 0.5 tr((K^-1 - alpha alpha^T) dK/dtheta)`` with ``alpha = K^-1 y``."""

from __future__ import annotations

import numpy as np
from jit_check import assert_close, interpret

import functrace as ft
import functrace.numpy as fnp
from functrace.scipy.linalg import cho_solve, solve_triangular

N, N_TEST = 12, 4
_rng = np.random.default_rng(3)
X = np.sort(_rng.uniform(-2, 2, size=N))
Y = np.sin(2 * X) + 0.1 * _rng.normal(size=N)
X_TEST = np.linspace(-1.5, 1.5, N_TEST)


def sq_dists(a, b):
    return (a[:, None] - b[None, :]) ** 2


def nll(ell, signal, noise):
    """The GP's negative log marginal likelihood; aux: the posterior mean at X_TEST."""
    k = signal ** 2 * fnp.exp(-0.5 * sq_dists(X, X) / ell ** 2) + noise ** 2 * fnp.eye(N)
    chol = fnp.linalg.cholesky(k)
    v = solve_triangular(chol, Y, lower=True)
    value = (0.5 * fnp.dot(v, v) + fnp.sum(fnp.log(fnp.diagonal(chol)))
             + 0.5 * N * np.log(2 * np.pi))
    alpha = cho_solve((chol, True), Y)
    k_star = signal ** 2 * fnp.exp(-0.5 * sq_dists(X_TEST, X) / ell ** 2)
    return value, k_star @ alpha


NLL_AND_GRAD = ft.jit(ft.value_and_grad(nll, argnums=(0, 1, 2), has_aux=True))


def closed_form(ell, signal, noise):
    """NLL, its gradient in (ell, signal, noise), and the posterior mean, with NumPy."""
    r2 = sq_dists(X, X)
    kf = signal ** 2 * np.exp(-0.5 * r2 / ell ** 2)
    k = kf + noise ** 2 * np.eye(N)
    k_inv = np.linalg.inv(k)
    alpha = k_inv @ Y
    value = 0.5 * Y @ alpha + 0.5 * np.linalg.slogdet(k)[1] + 0.5 * N * np.log(2 * np.pi)
    w = k_inv - np.outer(alpha, alpha)
    dks = [kf * r2 / ell ** 3, 2 * kf / signal, 2 * noise * np.eye(N)]
    grads = [0.5 * np.sum(w * dk) for dk in dks]   # 0.5 tr(W dK) for symmetric dK
    mean = signal ** 2 * np.exp(-0.5 * sq_dists(X_TEST, X) / ell ** 2) @ alpha
    return value, grads, mean


def test_nll_and_its_gradient_equal_the_closed_form():
    for hyper in [(0.7, 1.2, 0.3), (1.5, 0.8, 0.1), (0.3, 2.0, 0.5)]:
        (value, mean), grads = NLL_AND_GRAD(*hyper)
        want_value, want_grads, want_mean = closed_form(*hyper)
        np.testing.assert_allclose(value, want_value, rtol=1e-10)
        np.testing.assert_allclose(mean, want_mean, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(np.array(grads), want_grads, rtol=1e-8, atol=1e-10)


def test_lengthscale_by_gradient_descent_reaches_a_stationary_point():
    # 1-d optimisation of the lengthscale with the jitted gradient; at the end the closed-form
    # derivative vanishes and the likelihood is better than at the start
    ell, signal, noise = 2.0, 1.0, 0.1
    start = closed_form(ell, signal, noise)[0]
    for _ in range(200):
        ell = ell - 0.05 * float(NLL_AND_GRAD(ell, signal, noise)[1][0])
    value, grads, _ = closed_form(ell, signal, noise)
    assert abs(grads[0]) < 1e-4, grads
    assert value < start


def test_compiled_step_matches_the_reference_interpreter():
    got = NLL_AND_GRAD(0.7, 1.2, 0.3)
    want = interpret(ft.value_and_grad(nll, argnums=(0, 1, 2), has_aux=True), 0.7, 1.2, 0.3)
    for g, w in zip(ft.tree_util.tree_leaves(got), ft.tree_util.tree_leaves(want)):
        assert_close(g, w, rtol=1e-10)
