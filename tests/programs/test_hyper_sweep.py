"""A hyper-parameter sweep: a training loop written with ``lax.fori_loop`` (gradient descent
on ridge regression, the gradient by ``grad``) is ``vmap``-ed over pairs of learning rate and
weight decay and compiled once. Gradient descent on a quadratic has a closed form,
``w_K = w* + (I - lr H)^K (w_0 - w*)`` with ``H = X^T X / n + lam I``, which every lane of the
sweep must reproduce (including a learning rate too large, whose lane diverges)."""

from __future__ import annotations

import numpy as np

import functrace as ft
import functrace.numpy as fnp
from functrace import lax

N, D, STEPS = 20, 3, 25

_rng = np.random.default_rng(8)
X = _rng.normal(size=(N, D))
Y = X @ np.array([0.5, -1.0, 2.0]) + 0.1 * _rng.normal(size=N)
W0 = np.zeros(D)


def ridge_loss(w, lam):
    return 0.5 * fnp.mean((X @ w - Y) ** 2) + 0.5 * lam * fnp.sum(w ** 2)


def train(lr, lam):
    """STEPS steps of gradient descent from W0; returns the weights and the final loss."""
    def body(i, w):
        return w - lr * ft.grad(ridge_loss)(w, lam)

    w = lax.fori_loop(0, STEPS, body, W0)
    return w, ridge_loss(w, lam)


SWEEP = ft.jit(ft.vmap(train))

H0 = X.T @ X / N
LAMS = np.array([0.0, 0.0, 0.1, 0.1, 1.0, 0.0])
LRS = np.array([0.05, 0.3, 0.3, 0.8, 0.3, 2.5])   # the last is above 2 / lambda_max(H0)


def closed_form(lr, lam):
    h = H0 + lam * np.eye(D)
    w_star = np.linalg.solve(h, X.T @ Y / N)
    w = w_star + np.linalg.matrix_power(np.eye(D) - lr * h, STEPS) @ (W0 - w_star)
    return w, 0.5 * np.mean((X @ w - Y) ** 2) + 0.5 * lam * w @ w


def test_every_lane_of_the_sweep_follows_the_closed_form():
    assert 2.5 > 2 / np.linalg.eigvalsh(H0).max()
    ws, losses = SWEEP(LRS, LAMS)
    assert ws.shape == (len(LRS), D) and losses.shape == (len(LRS),)
    for k, (lr, lam) in enumerate(zip(LRS, LAMS)):
        w, loss = closed_form(lr, lam)
        np.testing.assert_allclose(ws[k], w, rtol=1e-10, atol=1e-12, err_msg=f"lane {k}")
        np.testing.assert_allclose(losses[k], loss, rtol=1e-10, err_msg=f"lane {k}")
    assert losses[-1] > 1e3 * losses[1]                  # the too-large step diverged


def test_sweep_over_a_grid_of_small_learning_rates():
    # below the stable range's middle a larger step always ends lower: the best is the last
    lrs = np.linspace(0.02, 0.2, len(LRS))     # same batch size: the compiled sweep is reused
    _, losses = SWEEP(lrs, np.zeros_like(lrs))
    want = [closed_form(lr, 0.0)[1] for lr in lrs]
    np.testing.assert_allclose(losses, want, rtol=1e-10)
    assert np.all(np.diff(losses) < 0), losses
