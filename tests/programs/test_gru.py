"""A GRU over a sequence with ``lax.scan`` and a readout, under ``jit(value_and_grad)``:
its value against a NumPy loop and its gradient against numerical differentiation."""

from __future__ import annotations

import numpy as np
from jit_check import assert_close, interpret

import functrace as ft
import functrace.numpy as fnp
from functrace import lax

from ._util import assert_grad_matches_numerical

T, BATCH, N_IN, N_HID = 6, 2, 2, 3

_rng = np.random.default_rng(6)
# the gates' weights side by side (update z, reset r, candidate): one product per input
PARAMS = {"wx": 0.6 * _rng.normal(size=(N_IN, 3 * N_HID)),
          "uzr": 0.6 * _rng.normal(size=(N_HID, 2 * N_HID)),
          "uh": 0.6 * _rng.normal(size=(N_HID, N_HID)),
          "b": 0.1 * _rng.normal(size=3 * N_HID),
          "out": 0.5 * _rng.normal(size=N_HID)}
XS = _rng.normal(size=(T, BATCH, N_IN))
TARGET = np.array([0.5, -0.3])


def gru_cell(params, h, x):
    gx = x @ params["wx"] + params["b"]
    zr = 1 / (1 + fnp.exp(-(gx[:, :2 * N_HID] + h @ params["uzr"])))
    z, r = zr[:, :N_HID], zr[:, N_HID:]
    cand = fnp.tanh(gx[:, 2 * N_HID:] + (r * h) @ params["uh"])
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
    wx, uzr, uh, b = params["wx"], params["uzr"], params["uh"], params["b"]
    for x in xs:
        z = sig(x @ wx[:, :N_HID] + h @ uzr[:, :N_HID] + b[:N_HID])
        r = sig(x @ wx[:, N_HID:2 * N_HID] + h @ uzr[:, N_HID:] + b[N_HID:2 * N_HID])
        h = (1 - z) * h + z * np.tanh(x @ wx[:, 2 * N_HID:] + (r * h) @ uh + b[2 * N_HID:])
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


def test_compiled_step_matches_the_reference_interpreter():
    got = STEP(PARAMS, XS, TARGET)
    want = interpret(ft.value_and_grad(loss), PARAMS, XS, TARGET)
    for g, w in zip(ft.tree_util.tree_leaves(got), ft.tree_util.tree_leaves(want)):
        assert_close(g, w)
