"""Benchmarks of ``functrace.jit`` (numbers reported in docs/backend.md).

Run pinned to one core, as the reference numbers were measured::

    taskset -c 1 env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_jit.py

Programs: the MLP training step (float32, 784-512-512-10, batch 128, tanh, softmax
cross-entropy, SGD on all parameters as one pytree), the elementwise gradient of
``sum(sin(x)*exp(-x*x/2) + tanh(x)*log1p(x*x))`` over 10^6 float64, and the Rosenbrock gradient
latency on a 2-vector. ``--dot-mode`` compares the two dot_general lowerings.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np

import functrace as ft
import functrace.numpy as fnp
from functrace import backend
from functrace.jit import jit
from functrace.tree_util import tree_map


def best_time(fn, *args, repeat: int = 7, number: int | None = None) -> float:
    """Best per-call time over ``repeat`` rounds of ``number`` calls (auto-sized)."""
    fn(*args)
    if number is None:
        t0 = time.perf_counter()
        fn(*args)
        one = time.perf_counter() - t0
        number = max(1, min(100_000, int(0.2 / max(one, 1e-7))))
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn(*args)
        best = min(best, (time.perf_counter() - t0) / number)
    return best


# --- MLP training step --------------------------------------------------------------------------


def mlp_params(sizes=(784, 512, 512, 10), seed=0):
    rng = np.random.RandomState(seed)
    return [{"w": (rng.randn(m, n) / np.sqrt(m)).astype(np.float32),
             "b": np.zeros(n, np.float32)} for m, n in zip(sizes[:-1], sizes[1:])]


def mlp_loss(params, x, y_onehot):
    h = x
    for layer in params[:-1]:
        h = fnp.tanh(h @ layer["w"] + layer["b"])
    logits = h @ params[-1]["w"] + params[-1]["b"]
    logits = logits - fnp.max(logits, axis=1, keepdims=True)
    logp = logits - fnp.log(fnp.sum(fnp.exp(logits), axis=1, keepdims=True))
    return -fnp.mean(fnp.sum(logp * y_onehot, axis=1))


def sgd_step(params, x, y_onehot):
    grads = ft.grad(mlp_loss)(params, x, y_onehot)
    return tree_map(lambda p, g: p - 0.01 * g, params, grads)


def mlp_data(batch=128, seed=1):
    rng = np.random.RandomState(seed)
    x = rng.randn(batch, 784).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.randint(0, 10, batch)]
    return x, y


def numpy_sgd_step(params, x, y):
    """The same step written by hand in NumPy (the 4.5 ms reference)."""
    hs = [x]
    h = x
    for layer in params[:-1]:
        h = np.tanh(h @ layer["w"] + layer["b"])
        hs.append(h)
    logits = h @ params[-1]["w"] + params[-1]["b"]
    logits = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    p = e / e.sum(axis=1, keepdims=True)
    g = (p - y) / np.float32(x.shape[0])
    new = []
    for i in range(len(params) - 1, -1, -1):
        w = params[i]["w"]
        gw, gb = hs[i].T @ g, g.sum(axis=0)
        if i:
            g = (g @ w.T) * (1 - hs[i] * hs[i])
        new.append({"w": w - np.float32(0.01) * gw, "b": params[i]["b"] - np.float32(0.01) * gb})
    return new[::-1]


# --- elementwise gradient -----------------------------------------------------------------------


def ew_fun(x):
    return fnp.sum(fnp.sin(x) * fnp.exp(-x * x / 2) + fnp.tanh(x) * fnp.log1p(x * x))


# --- Rosenbrock -----------------------------------------------------------------------------------


def rosenbrock(x):
    return fnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dot-mode", choices=["blas", "python"], default=backend.DOT_MODE)
    ap.add_argument("--only", default="mlp,ew,rosen,cold")
    args = ap.parse_args(argv)
    backend.DOT_MODE = args.dot_mode
    only = set(args.only.split(","))
    print(f"dot mode: {args.dot_mode}")
    if "mlp" in only:
        params = mlp_params()
        x, y = mlp_data()
        step = jit(sgd_step)
        t0 = time.perf_counter()
        new = step(params, x, y)
        t_first = time.perf_counter() - t0
        ref = numpy_sgd_step(params, x, y)
        err = max(float(np.max(np.abs(a["w"] - b["w"]))) for a, b in zip(new, ref))
        print(f"mlp step: first call (trace + compile or cache load) {t_first:.2f} s, "
              f"max |jit - numpy| = {err:.2e}")
        print(f"mlp step: functrace.jit {best_time(step, params, x, y) * 1e3:.2f} ms/step, "
              f"hand NumPy {best_time(numpy_sgd_step, params, x, y) * 1e3:.2f} ms/step")
    if "ew" in only:
        x = np.linspace(-3, 3, 1_000_000)
        g = jit(ft.grad(ew_fun))
        g(x)
        print(f"elementwise grad 1e6 f64: {best_time(g, x) * 1e3:.2f} ms")
    if "rosen" in only:
        x = np.array([1.5, -0.5])
        g = jit(ft.grad(rosenbrock))
        g(x)
        print(f"rosenbrock grad 2-vector: {best_time(g, x, repeat=7, number=200_000) * 1e6:.2f} "
              "us/call")
    if "cold" in only:
        # a fresh process with an empty cache directory, then another one loading from disk
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            code = ("import time; t=time.perf_counter(); import functrace; "
                    "from benchmarks.bench_jit import *; "
                    f"backend.DOT_MODE={args.dot_mode!r}; "
                    "p=mlp_params(); x,y=mlp_data(); t1=time.perf_counter(); "
                    "jit(sgd_step)(p,x,y); "
                    "print(f'{t1-t:.2f} {time.perf_counter()-t1:.2f}')")
            env = dict(os.environ, FUNCTRACE_CACHE_DIR=d)
            root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
            for label in ("cold (empty cache)", "warm (disk cache)"):
                out = subprocess.run([sys.executable, "-c", code], env=env, cwd=root,
                                     capture_output=True, text=True, check=True).stdout.split()
                print(f"mlp step in a new process, {label}: import {out[0]} s, "
                      f"first call {out[1]} s")


if __name__ == "__main__":
    main()
