"""A small CNN step: ``lax.conv_general_dilated`` ('SAME' padding), ``tanh``, max pooling
with ``lax.reduce_window`` and a dense readout, under ``jit(value_and_grad)``: its value against
NumPy loops and its gradient against numerical differentiation."""

from __future__ import annotations

import numpy as np
from jit_check import assert_close, interpret

import functrace as ft
import functrace.numpy as fnp
from functrace import lax

from ._util import assert_grad_matches_numerical

BATCH, C_IN, C_OUT, SIZE, K = 2, 1, 3, 6, 3

_rng = np.random.default_rng(7)
PARAMS = {"kernel": 0.5 * _rng.normal(size=(C_OUT, C_IN, K, K)),
          "bias": 0.1 * _rng.normal(size=C_OUT),
          "dense": 0.3 * _rng.normal(size=(C_OUT * (SIZE // 2) ** 2,))}
X = _rng.normal(size=(BATCH, C_IN, SIZE, SIZE))
Y = np.array([1.0, -1.0])


def predict(params, x):
    h = lax.conv_general_dilated(x, params["kernel"], (1, 1), "SAME",
                                 dimension_numbers=("NCHW", "OIHW", "NCHW"))
    h = fnp.tanh(h + params["bias"][None, :, None, None])
    h = lax.reduce_window(h, -np.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
    return h.reshape(BATCH, -1) @ params["dense"]


def loss(params, x, y):
    return fnp.mean((predict(params, x) - y) ** 2)


STEP = ft.jit(ft.value_and_grad(loss))


def predict_numpy(params, x):
    pad = K // 2
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    h = np.zeros((BATCH, C_OUT, SIZE, SIZE))
    for i in range(SIZE):
        for j in range(SIZE):
            patch = xp[:, :, i:i + K, j:j + K]
            h[:, :, i, j] = np.einsum("bchw,ochw->bo", patch, params["kernel"])
    h = np.tanh(h + params["bias"][None, :, None, None])
    h = h.reshape(BATCH, C_OUT, SIZE // 2, 2, SIZE // 2, 2).max(axis=(3, 5))
    return h.reshape(BATCH, -1) @ params["dense"]


def test_cnn_value_and_gradient():
    value, grads = STEP(PARAMS, X, Y)
    np.testing.assert_allclose(value, np.mean((predict_numpy(PARAMS, X) - Y) ** 2),
                               rtol=1e-12)
    assert_grad_matches_numerical(lambda p: STEP(p, X, Y)[0], PARAMS, grads)


def test_cnn_trains():
    params = PARAMS
    first, _ = STEP(params, X, Y)
    for _ in range(30):
        _, grads = STEP(params, X, Y)
        params = ft.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, grads)
    last, _ = STEP(params, X, Y)
    assert float(last) < 1e-6 * float(first), (first, last)   # 2 examples, 28 weights


def test_compiled_step_matches_the_reference_interpreter():
    got = STEP(PARAMS, X, Y)
    want = interpret(ft.value_and_grad(loss), PARAMS, X, Y)
    for g, w in zip(ft.tree_util.tree_leaves(got), ft.tree_util.tree_leaves(want)):
        assert_close(g, w)
