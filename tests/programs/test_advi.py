"""Black-box variational inference (ADVI) for a Bayesian linear regression: a mean-field
Gaussian family, reparameterisation gradients of a Monte Carlo ELBO whose samples go through
``vmap``, and Adam, all in one jitted step. The model is conjugate, so the optimum of the
mean-field family is known in closed form: the posterior mean, and variances ``1 / Lambda_jj``
from the posterior precision ``Lambda``."""

from __future__ import annotations

import numpy as np

import functrace as ft
import functrace.numpy as fnp
from functrace import optim, random

from ._util import assert_grad_matches_numerical

N, D, HALF_S = 30, 3, 16
NOISE, PRIOR_PREC = 0.5, 1.0

_rng = np.random.default_rng(2)
X = _rng.normal(size=(N, D))
Y = X @ np.array([1.0, -2.0, 0.5]) + NOISE * _rng.normal(size=N)

# the exact posterior and the mean-field optimum
PREC = PRIOR_PREC * np.eye(D) + X.T @ X / NOISE ** 2
POST_MEAN = np.linalg.solve(PREC, X.T @ Y / NOISE ** 2)
MF_STD = 1.0 / np.sqrt(np.diag(PREC))


def log_joint(w):
    resid = Y - X @ w
    return (-0.5 * fnp.sum(resid ** 2) / NOISE ** 2 - 0.5 * PRIOR_PREC * fnp.sum(w ** 2))


def neg_elbo(params, key):
    """Minus the ELBO (up to constants) estimated with antithetic reparameterised samples."""
    mean, log_std = params
    eps = random.normal(key, (HALF_S, D))
    eps = fnp.concatenate([eps, -eps])
    samples = mean + fnp.exp(log_std) * eps
    entropy = fnp.sum(log_std)
    return -(fnp.mean(ft.vmap(log_joint)(samples)) + entropy)


OPT = optim.adam(optim.exponential_decay(0.1, 0.1, 600))


@ft.jit
def train_step(params, opt_state, key):
    value, grads = ft.value_and_grad(neg_elbo)(params, key)
    updates, opt_state = OPT.update(grads, opt_state, params)
    return value, grads, optim.apply_updates(params, updates), opt_state


PARAMS0 = (np.zeros(D), np.zeros(D))


def neg_elbo_numpy(params, eps):
    mean, log_std = params
    eps = np.concatenate([eps, -eps])
    w = mean + np.exp(log_std) * eps
    lj = -0.5 * np.sum((Y - w @ X.T) ** 2, axis=1) / NOISE ** 2 - 0.5 * np.sum(w ** 2, axis=1)
    return -(np.mean(lj) + np.sum(log_std))


def test_elbo_value_and_gradient_at_a_fixed_key():
    key = random.PRNGKey(4)
    params = (np.array([0.3, -0.2, 0.1]), np.array([-1.0, -0.5, -2.0]))
    value, grads, _, _ = train_step(params, OPT.init(params), key)
    eps = np.asarray(random.normal(key, (HALF_S, D)))
    np.testing.assert_allclose(value, neg_elbo_numpy(params, eps), rtol=1e-12)
    assert_grad_matches_numerical(lambda p: train_step(p, OPT.init(p), key)[0], params, grads)
    # with antithetic samples the mean's gradient has no noise: Lambda (mean - posterior mean)
    np.testing.assert_allclose(grads[0], PREC @ (params[0] - POST_MEAN), rtol=1e-10)


def test_advi_converges_to_the_closed_form_mean_field_optimum():
    params, state, key = PARAMS0, OPT.init(PARAMS0), random.PRNGKey(0)
    for _ in range(1500):
        key, sub = random.split(key)
        _, _, params, state = train_step(params, state, sub)
    mean, log_std = (np.asarray(p) for p in params)
    np.testing.assert_allclose(mean, POST_MEAN, atol=1e-8)
    np.testing.assert_allclose(np.exp(log_std), MF_STD, rtol=0.03)
