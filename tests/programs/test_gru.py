"""A GRU over a sequence with ``lax.scan`` and a readout, under ``jit(value_and_grad)``:
its value against a NumPy loop and its gradient against numerical differentiation."""

from __future__ import annotations

import numpy as np

import functrace as ft
import functrace.numpy as fnp
from functrace import lax

from ._util import assert_grad_matches_numerical

T, BATCH, N_IN, N_HID = 6, 2, 2, 3

_rng = np.random.default_rng(6)
PARAMS = {gate: (0.6 * _rng.normal(size=(N_IN, N_HID)), 0.6 * _rng.normal(size=(N_HID, N_HID)),
                 0.1 * _rng.normal(size=N_HID)) for gate in ("z", "r", "h")}
PARAMS["out"] = 0.5 * _rng.normal(size=N_HID)
XS = _rng.normal(size=(T, BATCH, N_IN))
TARGET = np.array([0.5, -0.3])


def gru_cell(params, h, x):
    wz, uz, bz = params["z"]
    wr, ur, br = params["r"]
    wh, uh, bh = params["h"]
    z = 1 / (1 + fnp.exp(-(x @ wz + h @ uz + bz)))
    r = 1 / (1 + fnp.exp(-(x @ wr + h @ ur + br)))
    cand = fnp.tanh(x @ wh + (r * h) @ uh + bh)
    return (1 - z) * h + z * cand


def loss(params, xs, target):
    def step(h, x):
        h = gru_cell(params, h, x)
        return h, fnp.sum(h ** 2)

    h_last, energies = lax.scan(step, fnp.zeros((BATCH, N_HID)), xs)
    pred = h_last @ params["out"]
    return fnp.mean((pred - target) ** 2) + 0.01 * fnp.mean(energies)


STEP = ft.jit(ft.value_and_grad(loss))


def loss_numpy(params, xs, target):
    sig = lambda v: 1 / (1 + np.exp(-v))
    h = np.zeros((BATCH, N_HID))
    energies = []
    for x in xs:
        (wz, uz, bz), (wr, ur, br), (wh, uh, bh) = params["z"], params["r"], params["h"]
        z, r = sig(x @ wz + h @ uz + bz), sig(x @ wr + h @ ur + br)
        h = (1 - z) * h + z * np.tanh(x @ wh + (r * h) @ uh + bh)
        energies.append(np.sum(h ** 2))
    return np.mean((h @ params["out"] - target) ** 2) + 0.01 * np.mean(energies)


def test_gru_value_and_gradient():
    value, grads = STEP(PARAMS, XS, TARGET)
    np.testing.assert_allclose(value, loss_numpy(PARAMS, XS, TARGET), rtol=1e-12)
    assert_grad_matches_numerical(lambda p: STEP(p, XS, TARGET)[0], PARAMS, grads)


def test_gru_gradient_with_respect_to_the_inputs():
    # the inputs' gradient flows back through the scan's stacked xs
    g = ft.grad(loss, argnums=1)(PARAMS, XS, TARGET)
    want = ft.numerical_jacobian(lambda xs: loss_numpy(PARAMS, xs, TARGET), XS,
                                 method="richardson")
    np.testing.assert_allclose(g, want, rtol=1e-7, atol=1e-10)
