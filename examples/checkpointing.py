"""Gradient checkpointing: memory saved versus time spent, on a deep tanh MLP.

Reverse mode stores the intermediates its backward pass reads (the *residuals*). Wrapping each
layer in ``checkpoint`` stores only the layer's inputs and recomputes the rest (here: the matmul
and the tanh) during the backward pass; checkpointing segments of several layers stores only
each segment's input, for less memory still. ``saved_residuals`` lists what is stored; the
gradient is timed for each variant and checked to be the same, and (under ``jit``) to equal the
reference interpreter's gradient of the very same program.

    python examples/checkpointing.py [--layers 16] [--width 256] [--batch 64] [--no-jit]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import functrace as ft
import functrace.numpy as fnp


def init_params(layers: int, width: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [{"w": (rng.normal(size=(width, width)) / np.sqrt(width)).astype(np.float32),
             "b": np.zeros(width, np.float32)} for _ in range(layers)]


def layer(p, h):
    return fnp.tanh(h @ p["w"] + p["b"])


def stack(params, h):
    for p in params:
        h = layer(p, h)
    return h


def make_loss(variant: str, segment: int = 4):
    if variant == "no checkpointing":
        forward = stack
    elif variant == "checkpoint every layer":
        forward = lambda params, h: stack_each(ft.checkpoint(layer), params, h)
    else:  # one checkpoint per segment of layers: only each segment's input is stored
        block = ft.checkpoint(stack)
        forward = lambda params, h: stack_segments(block, params, h, segment)

    def loss(params, x):
        h = forward(params, x)
        return fnp.mean(h * h)

    return loss


def stack_each(block, params, h):
    for p in params:
        h = block(p, h)
    return h


def stack_segments(block, params, h, segment: int):
    for i in range(0, len(params), segment):
        h = block(params[i:i + segment], h)
    return h


def time_grad(grad_fn, params, x, repeats: int = 3) -> tuple[float, object]:
    g = grad_fn(params, x)  # warm-up (and compilation, under jit)
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        g = grad_fn(params, x)
        best = min(best, time.perf_counter() - t0)
    return best, g


def main(layers: int, width: int, batch: int, use_jit: bool) -> None:
    params = init_params(layers, width)
    x = np.random.default_rng(1).normal(size=(batch, width)).astype(np.float32)
    mode = "jit-compiled" if use_jit else "eager"
    print(f"{layers}-layer tanh MLP, width {width}, batch {batch}, float32; gradient {mode}")
    print(f"parameters: {sum(p['w'].nbytes + p['b'].nbytes for p in params) / 2**20:.2f} MiB "
          f"(always stored: the backward pass needs the weights), one activation: "
          f"{x.nbytes / 2**10:.0f} KiB")
    print()
    header = (f"{'variant':<28} {'residuals':>9} {'activations stored':>19} "
              f"{'inputs stored':>14} {'grad time':>10}")
    print(header)
    print("-" * len(header))
    reference = None
    rows = []
    for variant in ["no checkpointing", "checkpoint every layer", "checkpoint every 4 layers"]:
        loss = make_loss(variant)
        saved = ft.saved_residuals(loss, params, x)
        acts = sum(r["bytes"] for r in saved if not r["is_input"]) / 2**20
        inputs = sum(r["bytes"] for r in saved if r["is_input"]) / 2**20
        grad_fn = ft.grad(loss)
        if use_jit:
            grad_fn = ft.jit(grad_fn)
        t, g = time_grad(grad_fn, params, x)
        if use_jit:
            # the compiled program (with its recomputations and optimization barriers) must
            # compute what the interpreter computes from the same jaxpr
            with ft.disable_jit():
                g_ref = ft.grad(loss)(params, x)
            for got, want in zip(ft.tree_util.tree_leaves(g), ft.tree_util.tree_leaves(g_ref)):
                np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-7)
        rows.append((variant, acts, t))
        print(f"{variant:<28} {len(saved):>9} {acts:>15.2f} MiB {inputs:>10.2f} MiB "
              f"{t * 1e3:>8.1f}ms")
        flat = np.concatenate([np.ravel(leaf) for p in g for leaf in (p["w"], p["b"])])
        if reference is None:
            reference = flat
        else:
            np.testing.assert_allclose(flat, reference, rtol=2e-4, atol=1e-7)
    print()
    base = rows[0]
    for variant, acts, t in rows[1:]:
        print(f"{variant}: {100 * (1 - acts / base[1]):.0f}% less activation memory, "
              f"{t / base[2]:.2f}x the gradient time")
    print("Gradients agree across variants. (Times are noisy on a busy machine; the backward "
          "pass of a checkpointed model also runs the forward pass of each block again.)")
    assert rows[1][1] < base[1] and rows[2][1] < rows[1][1]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=16)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--no-jit", action="store_true", help="time the eager gradient")
    args = parser.parse_args()
    main(args.layers, args.width, args.batch, not args.no_jit)
