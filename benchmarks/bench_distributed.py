"""Data-parallel throughput: a compute-bound gradient step on 2 Dask workers vs one process.

The model is elementwise-heavy (no BLAS, which would use several cores by itself): ``layers``
blocks of ``h = tanh(h * w + b) + 0.1 * sin(h)`` over a ``rows x width`` float32 batch, loss
the mean of ``h**2``, gradients for every ``w`` and ``b``. One process runs the jitted
``value_and_grad`` on the whole batch; ``functrace.distributed.value_and_grad`` runs it on a
``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)``, half the batch per
worker, with the shards sent with every step. Prints samples per second of both and their
ratio (the target on 2 free cores is >= 1.7x). Numbers depend on what else runs on the machine.

    python benchmarks/bench_distributed.py [--rows 262144] [--width 16] [--layers 6] [--steps 5]
        [--malloc tuned|default]
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


def tune_malloc() -> bool:
    """Large allocations reused from the heap instead of fresh mmaps (glibc), in this process:
    the compiled step allocates megabytes of intermediates per call, which otherwise
    page-fault in on every call. The workers get the same through
    ``functrace.distributed.worker_environ()``, so both sides run under the same allocator."""
    import ctypes
    import ctypes.util
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        m_trim_threshold, m_mmap_threshold = -1, -3
        return bool(libc.mallopt(m_mmap_threshold, 32 * 2 ** 20)
                    and libc.mallopt(m_trim_threshold, 2 ** 30))
    except (OSError, AttributeError):
        return False


def _cpu_seconds() -> float:
    return time.process_time()


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
    parser.add_argument("--malloc", choices=["tuned", "default"], default="tuned",
                        help="tuned: large allocations from the heap in every process "
                             "(tune_malloc here, distributed.worker_environ() in the "
                             "workers); default: glibc's and Dask's settings")
    args = parser.parse_args()
    if args.malloc == "tuned":
        print(f"malloc tuned in this process: {tune_malloc()}")
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
    c0 = time.process_time()
    t_local = median_step(local, params, batch, args.steps)
    cpu_local = (time.process_time() - c0) / args.steps

    if args.malloc == "tuned":
        import dask
        dask.config.set({"distributed.nanny.pre-spawn-environ": ftd.worker_environ()})
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        dp = ftd.value_and_grad(loss, client)
        compile_times = dp.compile(params, batch)
        print("2 workers: compiled in " + ", ".join(f"{t:.2f} s" for t in
                                                      compile_times.values()))
        got = dp(params, batch)
        # float32 sums in another order: equal up to float32 rounding of the reductions
        np.testing.assert_allclose(got[0], want[0], rtol=1e-4)
        for k in params:
            scale = float(np.abs(want[1][k]).max())
            np.testing.assert_allclose(got[1][k], want[1][k], rtol=1e-2, atol=1e-3 * scale)
        c0, w0 = time.process_time(), client.run(_cpu_seconds)
        t_dist = median_step(dp, params, batch, args.steps)
        cpu_client = (time.process_time() - c0) / args.steps
        w1 = client.run(_cpu_seconds)
        cpu_workers = [(w1[w] - w0[w]) / args.steps for w in w0 if w in w1]

    rate_local, rate_dist = args.rows / t_local, args.rows / t_dist
    print(f"{args.rows} x {args.width} float32 rows, {args.layers} layers, cpu count "
          f"{os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")
    print(f"one process:   {t_local * 1e3:8.1f} ms/step  {rate_local:12,.0f} samples/s")
    print(f"2 Dask workers: {t_dist * 1e3:7.1f} ms/step  {rate_dist:12,.0f} samples/s")
    print(f"throughput ratio: {rate_dist / rate_local:.2f}x (target >= 1.7x on 2 free cores)")
    # CPU time does not count waiting for a core: what the step costs where cores are free
    busiest = max(cpu_workers)
    print(f"CPU per step: one process {cpu_local * 1e3:.1f} ms; workers "
          + ", ".join(f"{c * 1e3:.1f} ms" for c in cpu_workers)
          + f"; client {cpu_client * 1e3:.1f} ms")
    print(f"ratio from CPU times (one process / busiest worker), the bound on free cores: "
          f"{cpu_local / busiest:.2f}x")


if __name__ == "__main__":
    main()
