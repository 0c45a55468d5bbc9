"""Training steps written the way JAX users write them, for functrace and JAX alike.

Each builder takes a namespace ``L`` with ``np`` (``functrace.numpy`` or ``jax.numpy``), ``lax``,
``nn``, ``grad``, ``value_and_grad`` and ``hessian``, and returns ``(step, args)``: the function
to ``jit`` and its arguments (NumPy arrays, built from a fixed seed). ``width`` changes one layer
of each model (the "edit one layer" measurement of ``bench_compile.py``).
"""

from __future__ import annotations

import types

import numpy as np


def functrace_namespace() -> types.SimpleNamespace:
    import functrace as ft
    import functrace.numpy as fnp
    return types.SimpleNamespace(np=fnp, lax=ft.lax, nn=ft.nn, grad=ft.grad,
                                 value_and_grad=ft.value_and_grad, hessian=ft.hessian,
                                 jit=ft.jit)


def jax_namespace() -> types.SimpleNamespace:
    import jax
    import jax.numpy as jnp
    return types.SimpleNamespace(np=jnp, lax=jax.lax, nn=jax.nn, grad=jax.grad,
                                 value_and_grad=jax.value_and_grad, hessian=jax.hessian,
                                 jit=jax.jit)


def _init(rng, *shape, scale=None, dtype=np.float32):
    scale = scale if scale is not None else 1.0 / np.sqrt(shape[0] if len(shape) > 1 else 1)
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _sgd_step(L, loss, lr=0.01):
    """A training step: the loss and its gradient, and every parameter moved by SGD."""
    def step(p, *batch):
        value, g = L.value_and_grad(loss)(p, *batch)
        return value, {k: p[k] - lr * g[k] for k in p}
    return step


def mlp(L, width: int = 512):
    """784-width-512-10 float32 MLP, batch 128, tanh, softmax cross-entropy, SGD."""
    rng = np.random.default_rng(0)
    sizes = [784, width, 512, 10]
    params = {}
    for i, (m, n) in enumerate(zip(sizes[:-1], sizes[1:])):
        params[f"W{i}"] = _init(rng, m, n)
        params[f"b{i}"] = np.zeros(n, np.float32)
    x = rng.standard_normal((128, 784)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 128)]

    def loss(p, x, y):
        h = x
        for i in range(3):
            h = h @ p[f"W{i}"] + p[f"b{i}"]
            if i < 2:
                h = L.np.tanh(h)
        logp = L.nn.log_softmax(h)
        return -L.np.mean(L.np.sum(logp * y, axis=1))

    return _sgd_step(L, loss), (params, x, y)


def cnn(L, width: int = 16):
    """Two 3x3 convolutions with ReLU and 2x2 max-pooling, then a dense layer; f32, batch 64."""
    rng = np.random.default_rng(1)
    params = {"c1": _init(rng, 8, 1, 3, 3, scale=0.3), "c2": _init(rng, width, 8, 3, 3, scale=0.1),
              "W": _init(rng, width * 7 * 7, 10, scale=0.02), "b": np.zeros(10, np.float32)}
    x = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 64)]

    def pool(h):
        return L.lax.reduce_window(h, -np.inf, L.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    def loss(p, x, y):
        h = L.lax.conv_general_dilated(x, p["c1"], (1, 1), "SAME")
        h = pool(L.nn.relu(h))
        h = L.lax.conv_general_dilated(h, p["c2"], (1, 1), "SAME")
        h = pool(L.nn.relu(h))
        logits = h.reshape(h.shape[0], -1) @ p["W"] + p["b"]
        return -L.np.mean(L.np.sum(L.nn.log_softmax(logits) * y, axis=1))

    return _sgd_step(L, loss), (params, x, y)


def transformer(L, width: int = 256):
    """One pre-LN transformer block: causal attention with 4 heads, GELU MLP of ``width``."""
    rng = np.random.default_rng(2)
    d, heads, seq, batch = 64, 4, 32, 8
    params = {"ln1": np.ones(d, np.float32), "ln2": np.ones(d, np.float32),
              "Wqkv": _init(rng, d, 3 * d), "Wo": _init(rng, d, d),
              "W1": _init(rng, d, width), "W2": _init(rng, width, d)}
    x = rng.standard_normal((batch, seq, d)).astype(np.float32)
    target = rng.standard_normal((batch, seq, d)).astype(np.float32)

    def layer_norm(h, g):
        mu = L.np.mean(h, axis=-1, keepdims=True)
        var = L.np.mean((h - mu) ** 2, axis=-1, keepdims=True)
        return (h - mu) / L.np.sqrt(var + 1e-5) * g

    def block(p, x):
        b, t, _ = x.shape
        h = layer_norm(x, p["ln1"])
        q, k, v = L.np.split(h @ p["Wqkv"], 3, axis=-1)
        split = lambda a: a.reshape(b, t, heads, d // heads).transpose(0, 2, 1, 3)
        q, k, v = split(q), split(k), split(v)
        scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(d // heads))
        mask = np.tril(np.ones((t, t), bool))
        scores = L.np.where(mask, scores, np.float32(-1e9))
        att = L.nn.softmax(scores, axis=-1) @ v
        x = x + att.transpose(0, 2, 1, 3).reshape(b, t, d) @ p["Wo"]
        h = layer_norm(x, p["ln2"])
        return x + L.nn.gelu(h @ p["W1"]) @ p["W2"]

    def loss(p, x, target):
        return L.np.mean((block(p, x) - target) ** 2)

    return _sgd_step(L, loss), (params, x, target)


def lstm(L, width: int = 64):
    """An LSTM of ``width`` hidden units over 32 steps of ``lax.scan``; f32, batch 16."""
    rng = np.random.default_rng(3)
    n_in, steps, batch = 32, 32, 16
    params = {"Wx": _init(rng, n_in, 4 * width), "Wh": _init(rng, width, 4 * width),
              "b": np.zeros(4 * width, np.float32), "Wout": _init(rng, width, 1)}
    xs = rng.standard_normal((steps, batch, n_in)).astype(np.float32)
    ys = rng.standard_normal((batch, 1)).astype(np.float32)

    def loss(p, xs, ys):
        def cell(carry, x):
            h, c = carry
            z = x @ p["Wx"] + h @ p["Wh"] + p["b"]
            i, f, g, o = L.np.split(z, 4, axis=-1)
            c = L.nn.sigmoid(f) * c + L.nn.sigmoid(i) * L.np.tanh(g)
            h = L.nn.sigmoid(o) * L.np.tanh(c)
            return (h, c), None

        h0 = L.np.zeros((xs.shape[1], width), np.float32)
        (h, _), _ = L.lax.scan(cell, (h0, h0), xs)
        return L.np.mean((h @ p["Wout"] - ys) ** 2)

    return _sgd_step(L, loss), (params, xs, ys)


def ode(L, width: int = 32):
    """RK4 over 40 steps of ``lax.fori_loop`` of an MLP vector field; f32; gradient + SGD."""
    rng = np.random.default_rng(4)
    dim = 8
    params = {"W1": _init(rng, dim, width), "b1": np.zeros(width, np.float32),
              "W2": _init(rng, width, dim), "b2": np.zeros(dim, np.float32)}
    y0 = rng.standard_normal((16, dim)).astype(np.float32)
    target = rng.standard_normal((16, dim)).astype(np.float32)

    def field(p, y):
        return L.np.tanh(y @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]

    def loss(p, y0, target):
        dt = np.float32(0.025)

        def rk4(i, y):
            k1 = field(p, y)
            k2 = field(p, y + dt / 2 * k1)
            k3 = field(p, y + dt / 2 * k2)
            k4 = field(p, y + dt * k3)
            return y + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)

        y = L.lax.fori_loop(0, 40, rk4, y0)
        return L.np.mean((y - target) ** 2)

    return _sgd_step(L, loss), (params, y0, target)


def hessian_logreg(L, width: int = 200):
    """``hessian`` of an L2-regularised logistic regression with ``width`` features (f64)."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((500, width))
    y = (rng.random(500) < 0.5).astype(np.float64)
    w = rng.standard_normal(width) * 0.1

    def nll(w, X, y):
        z = X @ w
        return L.np.mean(L.np.logaddexp(0.0, z) - y * z) + 0.01 * L.np.sum(w * w)

    return L.hessian(nll), (w, X, y)


MODELS = {"mlp": mlp, "cnn": cnn, "transformer": transformer, "lstm": lstm, "ode": ode,
          "hessian": hessian_logreg}
