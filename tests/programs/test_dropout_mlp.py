"""A dropout MLP trained under ``jit``: the mask is ``functrace.random.bernoulli`` on a traced
key, so the compiled step draws a new mask for each key it is given."""

from __future__ import annotations

import numpy as np

import functrace as ft
import functrace.numpy as fnp
from functrace import random

from ._util import assert_grad_matches_numerical

KEEP = 0.75
N_IN, N_HID = 3, 16


def forward(params, x, key=None):
    """The network's output and (when training, with a key) the dropout mask it used."""
    (w1, b1), (w2, b2) = params
    h = fnp.tanh(x @ w1 + b1)
    mask = None
    if key is not None:   # training: inverted dropout keeps the expected activation
        mask = random.bernoulli(key, KEEP, h.shape)
        h = fnp.where(mask, h / KEEP, 0.0)
    return (h @ w2 + b2)[:, 0], mask


def loss(params, key, x, y):
    out, mask = forward(params, x, key)
    return fnp.mean((out - y) ** 2), mask


# the step also returns the mask it drew (aux), so that the test can look at it
STEP = ft.jit(ft.value_and_grad(loss, has_aux=True))


def clean_loss(params, x, y):
    """The loss without dropout, run eagerly (no second compiled program)."""
    return float(np.mean((np.asarray(forward(params, x)[0]) - y) ** 2))

_rng = np.random.default_rng(1)
X = _rng.uniform(-1, 1, size=(20, N_IN))
Y = np.sin(X @ np.array([1.5, -1.0, 0.5]))
PARAMS0 = [(0.5 * _rng.normal(size=(N_IN, N_HID)), np.zeros(N_HID)),
           (0.5 * _rng.normal(size=(N_HID, 1)), np.zeros(1))]


def loss_numpy(params, mask, x, y):
    (w1, b1), (w2, b2) = params
    h = np.where(mask, np.tanh(x @ w1 + b1) / KEEP, 0.0)
    return np.mean(((h @ w2 + b2)[:, 0] - y) ** 2)


def test_mask_under_jit_is_the_eager_mask_and_keeps_the_right_fraction():
    keys = random.split(random.PRNGKey(5), 10)
    masks = [np.asarray(STEP(PARAMS0, k, X, Y)[0][1]) for k in keys]
    for k, m in zip(keys, masks):
        np.testing.assert_array_equal(m, random.bernoulli(k, KEEP, (20, N_HID)))
    frac = np.mean(masks)
    assert abs(frac - KEEP) < 4 * np.sqrt(KEEP * (1 - KEEP) / np.size(masks)), frac
    assert not np.array_equal(masks[0], masks[1])


def test_step_value_and_gradient_at_a_fixed_key():
    key = random.PRNGKey(11)
    (value, _), grads = STEP(PARAMS0, key, X, Y)
    mask = np.asarray(random.bernoulli(key, KEEP, (20, N_HID)))
    np.testing.assert_allclose(value, loss_numpy(PARAMS0, mask, X, Y), rtol=1e-12)
    assert_grad_matches_numerical(lambda p: STEP(p, key, X, Y)[0][0], PARAMS0, grads)


def test_training_with_dropout_decreases_the_clean_loss():
    params, key = PARAMS0, random.PRNGKey(0)
    before = clean_loss(params, X, Y)
    for _ in range(150):
        key, sub = random.split(key)
        _, grads = STEP(params, sub, X, Y)
        params = ft.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, grads)
    after = clean_loss(params, X, Y)
    assert after < 0.1 * before, (before, after)
