"""Data-parallel throughput: a compute-bound gradient step on 2 Dask workers vs one process.

The model is elementwise-heavy (no BLAS, which would use several cores by itself): ``layers``
blocks of ``h = tanh(h * w + b) + 0.1 * sin(h)`` over a ``rows x width`` float32 batch, loss
the mean of ``h**2``, gradients for every ``w`` and ``b``. One process runs the jitted
``value_and_grad`` on the whole batch; ``functrace.distributed.value_and_grad`` runs it on a
``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)``, half the batch per
worker, with the shards sent with every step. Prints samples per second of both and their
ratio (the target on 2 free cores is >= 1.7x). Numbers depend on what else runs on the machine.

    python benchmarks/bench_distributed.py [--rows 262144] [--width 16] [--layers 6] [--steps 5]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import functrace as ft
import functrace.numpy as fnp


def make_loss(layers: int):
    def loss(params, batch):
        h = batch
        for k in range(layers):
            h = fnp.tanh(h * params["w"][k] + params["b"][k]) + 0.1 * fnp.sin(h)
        return fnp.mean(h * h)
    loss.__name__ = f"elementwise_{layers}"
    return loss


def median_step(fn, params, batch, steps: int) -> float:
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        ft.block_until_ready(fn(params, batch))
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=262144)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    ft.config.update("tiered_compile", False)  # time native code only, from the first call

    from dask.distributed import Client, LocalCluster

    from functrace import distributed as ftd

    rng = np.random.RandomState(0)
    params = {"w": (rng.randn(args.layers, args.width) * 0.5 + 1).astype(np.float32),
              "b": (rng.randn(args.layers, args.width) * 0.1).astype(np.float32)}
    batch = rng.randn(args.rows, args.width).astype(np.float32)
    loss = make_loss(args.layers)

    local = ft.jit(ft.value_and_grad(loss))
    t0 = time.perf_counter()
    want = local(params, batch)
    print(f"one process: compiled in {time.perf_counter() - t0:.2f} s")
    t_local = median_step(local, params, batch, args.steps)

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        dp = ftd.value_and_grad(loss, client)
        compile_times = dp.compile(params, batch)
        print("2 workers: compiled in " + ", ".join(f"{t:.2f} s" for t in
                                                      compile_times.values()))
        got = dp(params, batch)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-4)
        for k in params:
            np.testing.assert_allclose(got[1][k], want[1][k], rtol=1e-3, atol=1e-6)
        t_dist = median_step(dp, params, batch, args.steps)

    rate_local, rate_dist = args.rows / t_local, args.rows / t_dist
    print(f"{args.rows} x {args.width} float32 rows, {args.layers} layers, cpu count "
          f"{os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")
    print(f"one process:   {t_local * 1e3:8.1f} ms/step  {rate_local:12,.0f} samples/s")
    print(f"2 Dask workers: {t_dist * 1e3:7.1f} ms/step  {rate_dist:12,.0f} samples/s")
    print(f"throughput ratio: {rate_dist / rate_local:.2f}x (target >= 1.7x on 2 free cores)")


if __name__ == "__main__":
    main()
