"""Data-parallel training of train_mlp.py's digit classifier on a local Dask cluster.

The gradient step is traced once, shipped to two worker processes as serialised IR
(functrace.export), compiled once per worker, and each worker computes the gradient of its
half of every batch; the client averages the halves and applies the Adam update. The same
training runs in this process too, and the two must end with the same parameters. Prints both
speeds: on a model this small the Dask round trip per step (milliseconds) costs more than the
step itself; see benchmarks/bench_distributed.py for a compute-bound one.

    python examples/data_parallel.py [--steps 30] [--batch 512]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from train_mlp import accuracy, init_params, load_digits, loss_fn

import functrace as ft
from functrace import optim


def batch_loss(params, batch):
    """``loss_fn`` on a ``(images, one-hot labels)`` batch: a mean over the batch's rows."""
    x, y_onehot = batch
    return loss_fn(params, x, y_onehot)


def train(value_and_grad, params, batches, opt):
    """Adam steps on the client with gradients from ``value_and_grad``; seconds per step."""
    update = ft.jit(lambda p, s, g: _apply(opt, p, s, g))
    state = opt.init(params)
    losses, times = [], []
    for batch in batches:
        t0 = time.perf_counter()
        loss, grads = value_and_grad(params, batch)
        params, state = update(params, state, grads)
        ft.block_until_ready(params)
        times.append(time.perf_counter() - t0)
        losses.append(float(loss))
    return params, losses, times


def _apply(opt, params, state, grads):
    updates, state = opt.update(grads, state, params)
    return optim.apply_updates(params, updates), state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=512)
    args = parser.parse_args()

    from dask.distributed import Client, LocalCluster

    from functrace import distributed as ftd

    (x_train, y_train), (x_test, y_test) = load_digits()
    onehot = np.eye(10, dtype=np.float32)
    rng = np.random.RandomState(1)
    batches = []
    for _ in range(args.steps):
        idx = rng.choice(len(y_train), args.batch, replace=False)
        batches.append((x_train[idx], onehot[y_train[idx]]))
    params0 = init_params([64, 128, 64, 10])
    opt = optim.adam(3e-3)

    import dask
    # workers keep freed memory for the next step's intermediates (see worker_environ)
    dask.config.set({"distributed.nanny.pre-spawn-environ": ftd.worker_environ()})
    t0 = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        print(f"started a LocalCluster of 2 worker processes in "
              f"{time.perf_counter() - t0:.2f} s")
        dp = ftd.value_and_grad(batch_loss, client)
        with ThreadPoolExecutor(1) as pool:
            # the workers compile their program while this process compiles its own
            remote = pool.submit(dp.compile, params0, batches[0])
            # one process: the jitted gradient step (the first call compiles and waits, as
            # on the workers, instead of interpreting while it compiles in the background)
            ft.config.update("tiered_compile", False)
            local = ft.jit(ft.value_and_grad(batch_loss))
            t0 = time.perf_counter()
            local(params0, batches[0])
            print(f"one process: compiled the gradient step in {time.perf_counter() - t0:.2f} s")
            compile_times = remote.result()
        print("2 workers: shipped the step as serialised IR and compiled it: "
              + ", ".join(f"{t:.2f} s" for t in compile_times.values())
              + " (the second worker loads the first one's code from the disk cache)")
        p_local, losses_local, t_local = train(local, params0, batches, opt)
        p_dist, losses_dist, t_dist = train(dp, params0, batches, opt)

    # float32 sums in a different order (two halves, then their mean): equal to rounding
    for a, b in zip(ft.tree_util.tree_leaves(p_local), ft.tree_util.tree_leaves(p_dist)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(losses_local, losses_dist, rtol=1e-4)
    assert losses_dist[-1] < 0.5 * losses_dist[0], losses_dist
    acc = accuracy(p_dist, x_test, y_test)
    assert acc > 0.85, acc
    print(f"loss {losses_dist[0]:.3f} -> {losses_dist[-1]:.3f} in {args.steps} steps of "
          f"{args.batch} images; test accuracy {acc:.3f}; same parameters as one process")
    m_local, m_dist = np.median(t_local[1:]) * 1e3, np.median(t_dist[1:]) * 1e3
    print(f"median step: one process {m_local:.2f} ms, 2 Dask workers {m_dist:.2f} ms "
          f"({m_local / m_dist:.2f}x; the per-step Dask round trip dominates at this size)")


if __name__ == "__main__":
    main()
