"""Train a small recurrent network written with ``lax.scan`` to predict a sine wave one step ahead.

The recurrence is one ``scan`` equation whatever the sequence length: its body (one RNN step) is
traced once. ``grad`` differentiates through it by storing the per-step residuals and running the
transposed body as a reversed scan, and ``vmap`` of ``grad`` gives per-sequence gradients. The
script checks the gradient against the same RNN unrolled in Python, then trains with Adam and
prints the loss and gradient norm as it goes.

    python examples/rnn_scan.py [--steps 150] [--length 40]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import functrace as ft
import functrace.numpy as fnp
from functrace import lax, optim
from functrace.tree_util import tree_leaves, tree_map


def init_params(n_hidden: int, seed: int = 0) -> dict:
    rng = np.random.RandomState(seed)
    return {"w_in": rng.randn(1, n_hidden) * 0.5,
            "w_rec": rng.randn(n_hidden, n_hidden) * (0.8 / np.sqrt(n_hidden)),
            "b": np.zeros(n_hidden),
            "w_out": rng.randn(n_hidden, 1) * 0.1}


def make_batch(batch: int, length: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sine waves of random frequency and phase, time-major: inputs (T, B, 1), targets the next
    value of each sequence."""
    rng = np.random.RandomState(seed)
    freq = rng.uniform(0.1, 0.3, size=(1, batch, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(1, batch, 1))
    t = np.arange(length + 1).reshape(-1, 1, 1)
    wave = np.sin(freq * t + phase)
    return wave[:-1], wave[1:]


def rnn_predict(params: dict, xs):
    """Run the RNN over time-major inputs xs (T, B, 1); returns predictions (T, B, 1)."""

    def step(h, x):
        h = fnp.tanh(x @ params["w_in"] + h @ params["w_rec"] + params["b"])
        return h, h @ params["w_out"]

    h0 = fnp.zeros((xs.shape[1], params["b"].shape[0]))
    _, preds = lax.scan(step, h0, xs)
    return preds


def loss_fn(params: dict, xs, ys):
    return fnp.mean((rnn_predict(params, xs) - ys) ** 2)


def loss_unrolled(params: dict, xs, ys):
    """The same loss with the recurrence unrolled in Python (one equation per step and op)."""
    h = np.zeros((xs.shape[1], params["b"].shape[0]))
    total = 0.0
    for x, y in zip(xs, ys):
        h = fnp.tanh(x @ params["w_in"] + h @ params["w_rec"] + params["b"])
        total = total + fnp.sum((h @ params["w_out"] - y) ** 2)
    return total / ys.size


def global_norm(tree) -> float:
    return float(np.sqrt(sum(np.sum(np.asarray(g) ** 2) for g in tree_leaves(tree))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--length", type=int, default=40)
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()

    params = init_params(args.hidden)
    xs, ys = make_batch(args.batch, args.length, seed=0)

    # 1. The scan gradient equals the gradient of the unrolled loop.
    g_scan = ft.grad(loss_fn)(params, xs, ys)
    g_unrolled = ft.grad(loss_unrolled)(params, xs, ys)
    worst = max(float(np.max(np.abs(a - b)))
                for a, b in zip(tree_leaves(g_scan), tree_leaves(g_unrolled)))
    print(f"scan vs unrolled gradient: max abs difference {worst:.2e} "
          f"(gradient norm {global_norm(g_scan):.4f})")
    assert worst < 1e-10

    jaxpr = ft.make_jaxpr(ft.grad(loss_fn))(params, xs, ys)
    scans = [e for e in jaxpr.jaxpr.eqns if e.primitive.name == "scan"]
    print(f"grad program: {len(jaxpr.jaxpr.eqns)} equations, {len(scans)} scans "
          f"(forward length {scans[0].params['length']}, backward reverse="
          f"{scans[1].params['reverse']})")

    # 2. Per-sequence gradients: vmap of grad over the batch axis of xs and ys.
    def per_sequence_loss(params, x, y):  # x, y: (T, 1) -> a batch of one, time-major
        return loss_fn(params, x[:, None, :], y[:, None, :])

    per_seq = ft.vmap(ft.grad(per_sequence_loss), (None, 1, 1))(params, xs, ys)
    mean_of_per_seq = tree_map(lambda g: np.mean(g, axis=0), per_seq)
    worst = max(float(np.max(np.abs(a - b)))
                for a, b in zip(tree_leaves(mean_of_per_seq), tree_leaves(g_scan)))
    print(f"mean of {args.batch} per-sequence gradients vs batch gradient: max abs difference "
          f"{worst:.2e}")
    assert worst < 1e-10

    # 3. Train with Adam.
    opt = optim.adam(1e-2)
    state = opt.init(params)

    def train_step(params, state, xs, ys):
        loss, grads = ft.value_and_grad(loss_fn)(params, xs, ys)
        updates, state = opt.update(grads, state, params)
        return optim.apply_updates(params, updates), state, loss, grads

    jit = getattr(ft, "jit", None)
    if callable(jit):  # compile the whole step (forward scan, backward scan, Adam) at once
        train_step = jit(train_step)

    start = time.perf_counter()
    first = None
    for i in range(args.steps):
        bx, by = make_batch(args.batch, args.length, seed=i + 1)
        params, state, loss, grads = train_step(params, state, bx, by)
        first = float(loss) if first is None else first
        if i % max(args.steps // 6, 1) == 0 or i == args.steps - 1:
            print(f"step {i:4d}  loss {float(loss):.5f}  grad norm {global_norm(grads):.4f}")
    elapsed = time.perf_counter() - start
    test_x, test_y = make_batch(64, args.length, seed=10_000)
    test_loss = float(loss_fn(params, test_x, test_y))
    print(f"{args.steps} steps in {elapsed:.2f} s; held-out loss {test_loss:.5f} "
          f"(first training loss {first:.5f})")
    assert test_loss < first


if __name__ == "__main__":
    main()
