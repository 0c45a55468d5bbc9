"""Train an MLP classifier on the UCI handwritten digits with one jitted training step.

The step (forward pass, backward pass and Adam update of every parameter) is traced once and
compiled by functrace's Numba backend into a single program. Prints the time to the first
step, progress per epoch and the final test accuracy, and writes the loss curve to loss_curve.svg.

    python examples/train_mlp.py [--epochs 15] [--out loss_curve.svg]
"""

from __future__ import annotations

import argparse
import gzip
import os
import time

import numpy as np

import functrace as ft
import functrace.numpy as fnp
from functrace import optim

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "digits.csv.gz")


def load_digits(seed: int = 0):
    """Standardised 8x8 digit images (float32) and labels, split 80/20 into train and test."""
    with gzip.open(DATA, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    x, y = table[:, :-1].astype(np.float32) / 16.0, table[:, -1]
    order = np.random.RandomState(seed).permutation(len(y))
    x, y = x[order], y[order]
    n_train = int(0.8 * len(y))
    mean, std = x[:n_train].mean(0), x[:n_train].std(0) + 0.1
    x = (x - mean) / std
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


def init_params(sizes, seed: int = 0):
    rng = np.random.RandomState(seed)
    return [{"w": (rng.randn(m, n) * np.sqrt(1.0 / m)).astype(np.float32),
             "b": np.zeros(n, np.float32)} for m, n in zip(sizes[:-1], sizes[1:])]


def predict(params, x):
    h = x
    for layer in params[:-1]:
        h = fnp.tanh(h @ layer["w"] + layer["b"])
    return h @ params[-1]["w"] + params[-1]["b"]


def loss_fn(params, x, y_onehot):
    logits = predict(params, x)
    logits = logits - fnp.max(logits, axis=1, keepdims=True)
    log_probs = logits - fnp.log(fnp.sum(fnp.exp(logits), axis=1, keepdims=True))
    return -fnp.mean(fnp.sum(log_probs * y_onehot, axis=1))


def accuracy(params, x, y) -> float:
    return float(np.mean(np.argmax(predict(params, x), axis=1) == y))


def write_svg(values, path: str, title: str) -> None:
    """A dependency-free line plot of ``values``."""
    w, h, pad = 480, 300, 40
    lo, hi = float(min(values)), float(max(values))
    span = hi - lo or 1.0
    pts = " ".join(
        f"{pad + i * (w - 2 * pad) / max(len(values) - 1, 1):.1f},"
        f"{h - pad - (v - lo) / span * (h - 2 * pad):.1f}" for i, v in enumerate(values))
    svg = f"""<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}">
<rect width="100%" height="100%" fill="white"/>
<text x="{w / 2}" y="20" text-anchor="middle" font-family="sans-serif">{title}</text>
<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="black"/>
<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{h - pad}" stroke="black"/>
<text x="{pad - 4}" y="{pad}" text-anchor="end" font-size="10">{hi:.3f}</text>
<text x="{pad - 4}" y="{h - pad}" text-anchor="end" font-size="10">{lo:.3f}</text>
<text x="{w / 2}" y="{h - 8}" text-anchor="middle" font-size="11">step</text>
<polyline fill="none" stroke="steelblue" stroke-width="1.5" points="{pts}"/>
</svg>
"""
    with open(path, "w") as f:
        f.write(svg)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--out", default="loss_curve.svg")
    args = parser.parse_args()

    (x_train, y_train), (x_test, y_test) = load_digits()
    onehot = np.eye(10, dtype=np.float32)
    params = init_params([64, 128, 64, 10])
    opt = optim.adam(1e-3)
    state = opt.init(params)

    @ft.jit
    def train_step(params, state, x, y):
        loss, grads = ft.value_and_grad(loss_fn)(params, x, y)
        updates, state = opt.update(grads, state, params)
        return optim.apply_updates(params, updates), state, loss

    n_batches = len(y_train) // args.batch
    t0 = time.perf_counter()
    train_step(params, state, x_train[:args.batch], onehot[y_train[:args.batch]])
    if ft.config.tiered_compile:
        # the first steps run on the reference interpreter while the compiled step is built
        # in the background (FUNCTRACE_TIERED=0: compile first, then run)
        print(f"first training step in {time.perf_counter() - t0:.2f} s "
              "(compiling in the background meanwhile)")
    else:
        print(f"traced and compiled the training step in {time.perf_counter() - t0:.2f} s")

    rng = np.random.RandomState(1)
    losses = []
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(y_train))
        t0 = time.perf_counter()
        for i in range(n_batches):
            idx = order[i * args.batch:(i + 1) * args.batch]
            params, state, loss = train_step(params, state, x_train[idx], onehot[y_train[idx]])
            losses.append(float(loss))
        dt = time.perf_counter() - t0
        print(f"epoch {epoch:2d}  loss {np.mean(losses[-n_batches:]):.4f}  "
              f"train acc {accuracy(params, x_train, y_train):.3f}  "
              f"{n_batches / dt:,.0f} steps/s")
    print(f"test accuracy: {accuracy(params, x_test, y_test):.3f}")
    write_svg(losses, args.out, "training loss (softmax cross-entropy)")
    print(f"loss curve written to {args.out}")


if __name__ == "__main__":
    main()
