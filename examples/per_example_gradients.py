"""Per-example gradients: ``vmap(grad(loss))`` against a Python loop over the batch.

The gradient of a batch loss is the mean of per-example gradients; some methods need each one
(per-example clipping in differentially private SGD, gradient-noise and influence estimates).
Writing the loss of *one* example and mapping its gradient over the batch with ``vmap`` gives
all of them in one vectorised computation: the parameters are shared (``in_axes=None``), the
examples are mapped (axis 0). This script checks it against a loop of ``grad`` calls and times
both, eagerly and compiled with ``jit``.

    python examples/per_example_gradients.py [--batch 128] [--hidden 32]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import functrace as ft
import functrace.numpy as fnp


def init_params(rng: np.random.Generator, n_in: int, n_hidden: int, n_out: int) -> dict:
    return {"W1": rng.normal(size=(n_in, n_hidden)) / np.sqrt(n_in), "b1": np.zeros(n_hidden),
            "W2": rng.normal(size=(n_hidden, n_out)) / np.sqrt(n_hidden),
            "b2": np.zeros(n_out)}


def example_loss(params: dict, x, y):
    """Softmax cross-entropy of a one-hidden-layer MLP on ONE example (x: (n_in,), y: int)."""
    h = fnp.tanh(x @ params["W1"] + params["b1"])
    logits = h @ params["W2"] + params["b2"]
    log_probs = logits - fnp.log(fnp.sum(fnp.exp(logits - fnp.max(logits)))) - fnp.max(logits)
    return -fnp.sum(log_probs * (fnp.arange(logits.shape[0]) == y))


per_example_grads = ft.vmap(ft.grad(example_loss), in_axes=(None, 0, 0))


def looped_grads(params: dict, xs, ys) -> dict:
    """The reference: one grad call per example, stacked."""
    grads = [ft.grad(example_loss)(params, x, y) for x, y in zip(xs, ys)]
    return {k: np.stack([g[k] for g in grads]) for k in params}


def best_time(fn, *args, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=32)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    n_in, n_out = 16, 4
    params = init_params(rng, n_in, args.hidden, n_out)
    xs = rng.normal(size=(args.batch, n_in))
    ys = rng.integers(0, n_out, size=args.batch)

    vectorised = per_example_grads(params, xs, ys)
    reference = looped_grads(params, xs, ys)
    for k in params:
        assert vectorised[k].shape == (args.batch,) + params[k].shape, k
        np.testing.assert_allclose(vectorised[k], reference[k], rtol=1e-10, atol=1e-12)
    # the batch gradient is the mean of the per-example ones
    batch_loss = lambda p: fnp.mean(ft.vmap(example_loss, in_axes=(None, 0, 0))(p, xs, ys))
    batch_grad = ft.grad(batch_loss)(params)
    for k in params:
        np.testing.assert_allclose(vectorised[k].mean(axis=0), batch_grad[k], rtol=1e-10,
                                   atol=1e-12)
    norms = np.sqrt(sum(np.sum(g.reshape(args.batch, -1) ** 2, axis=1)
                        for g in vectorised.values()))
    print(f"{args.batch} examples, MLP {n_in}-{args.hidden}-{n_out}: per-example gradients "
          f"match the loop; gradient norms range {norms.min():.3f} .. {norms.max():.3f}")

    fast_vmap = ft.jit(per_example_grads)
    fast_one = ft.jit(ft.grad(example_loss))
    t0 = time.perf_counter()
    compiled = fast_vmap(params, xs, ys)
    fast_one(params, xs[0], ys[0])
    compile_time = time.perf_counter() - t0
    for k in params:
        np.testing.assert_allclose(compiled[k], reference[k], rtol=1e-9, atol=1e-12)

    def fast_loop(params, xs, ys):
        return [fast_one(params, x, y) for x, y in zip(xs, ys)]

    rows = [
        ("Python loop of grad (eager)", best_time(looped_grads, params, xs, ys, repeat=1)),
        ("vmap(grad) (eager)", best_time(per_example_grads, params, xs, ys)),
        ("Python loop of jit(grad)", best_time(fast_loop, params, xs, ys)),
        ("jit(vmap(grad))", best_time(fast_vmap, params, xs, ys)),
    ]
    print(f"(first jit calls, tracing and compiling or loading from the disk cache: "
          f"{compile_time:.2f} s)")
    for name, t in rows:
        print(f"  {name:<30} {t * 1e3:10.2f} ms")
    loop_t, vmap_t = rows[0][1], rows[1][1]
    print(f"vmap is {loop_t / vmap_t:.0f}x faster than the loop eagerly, "
          f"{rows[2][1] / rows[3][1]:.0f}x when both are compiled")


if __name__ == "__main__":
    main()
