"""A variational autoencoder trained under ``jit(value_and_grad(...))``: the reparameterised
sample ``z = mu + sigma * eps`` draws ``eps`` with ``functrace.random.normal`` on a key passed
into the jitted step, so every step compiles once and samples afresh."""

from __future__ import annotations

import numpy as np

import functrace as ft
import functrace.numpy as fnp
from functrace import random

from ._util import assert_grad_matches_numerical

N_IN, N_HID, N_LAT, BATCH = 4, 5, 2, 8


def init_params(key):
    k1, k2, k3 = random.split(key, 3)
    return {"enc": (0.5 * random.normal(k1, (N_IN, N_HID)), np.zeros(N_HID)),
            "head": (0.5 * random.normal(k2, (N_HID, 2 * N_LAT)), np.zeros(2 * N_LAT)),
            "dec": (0.5 * random.normal(k3, (N_LAT, N_IN)), np.zeros(N_IN))}


def vae_loss(params, key, x):
    """Negative ELBO per example: Gaussian decoder of unit variance, standard normal prior."""
    w, b = params["enc"]
    h = fnp.tanh(x @ w + b)
    w, b = params["head"]
    stats = h @ w + b
    mu, logvar = stats[:, :N_LAT], stats[:, N_LAT:]
    eps = random.normal(key, mu.shape)
    z = mu + fnp.exp(0.5 * logvar) * eps
    w, b = params["dec"]
    x_hat = z @ w + b
    recon = 0.5 * fnp.sum((x - x_hat) ** 2, axis=1)
    kl = -0.5 * fnp.sum(1.0 + logvar - mu ** 2 - fnp.exp(logvar), axis=1)
    return fnp.mean(recon + kl)


def vae_loss_numpy(params, eps, x):
    """The same loss written with NumPy, given the noise."""
    h = np.tanh(x @ params["enc"][0] + params["enc"][1])
    stats = h @ params["head"][0] + params["head"][1]
    mu, logvar = stats[:, :N_LAT], stats[:, N_LAT:]
    z = mu + np.exp(0.5 * logvar) * eps
    x_hat = z @ params["dec"][0] + params["dec"][1]
    recon = 0.5 * np.sum((x - x_hat) ** 2, axis=1)
    kl = -0.5 * np.sum(1.0 + logvar - mu ** 2 - np.exp(logvar), axis=1)
    return np.mean(recon + kl)


STEP = ft.jit(ft.value_and_grad(vae_loss))

# data near a 2-d subspace, which a 2-d latent code can reconstruct
_rng = np.random.default_rng(0)
X = _rng.normal(size=(BATCH, 2)) @ _rng.normal(size=(2, N_IN)) + 0.05 * _rng.normal(
    size=(BATCH, N_IN))
PARAMS0 = init_params(random.PRNGKey(0))


def test_loss_inside_jit_uses_the_key_passed_in():
    key = random.PRNGKey(7)
    value, _ = STEP(PARAMS0, key, X)
    eps = np.asarray(random.normal(key, (BATCH, N_LAT)))
    np.testing.assert_allclose(value, vae_loss_numpy(PARAMS0, eps, X), rtol=1e-12)
    other, _ = STEP(PARAMS0, random.PRNGKey(8), X)
    assert abs(float(other) - float(value)) > 1e-6   # a new key is a new sample


def test_gradient_at_a_fixed_key_matches_numerical_differentiation():
    key = random.PRNGKey(3)
    _, grads = STEP(PARAMS0, key, X)
    assert_grad_matches_numerical(lambda p: STEP(p, key, X)[0], PARAMS0, grads)


def test_training_decreases_the_loss():
    def expected_loss(params):
        # the loss averaged over a fixed set of keys: training noise does not decide the test
        return np.mean([float(STEP(params, k, X)[0]) for k in random.split(random.PRNGKey(99),
                                                                          16)])

    params = PARAMS0
    before = expected_loss(params)
    key = random.PRNGKey(1)
    values = []
    for _ in range(60):
        key, sub = random.split(key)
        value, grads = STEP(params, sub, X)
        values.append(float(value))
        params = ft.tree_util.tree_map(lambda p, g: p - 0.05 * g, params, grads)
    after = expected_loss(params)
    assert np.all(np.isfinite(values))
    assert after < 0.7 * before, (before, after)
    assert np.mean(values[-10:]) < np.mean(values[:10])
