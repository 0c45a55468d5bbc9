"""functrace.distributed on a LocalCluster of two worker processes (one cluster per module).

Data-parallel training gives the single-process parameters, sharded maps give the local
results, programs travel as serialised IR and are loaded once per worker, and a worker killed
in the middle of a step costs a retry, not a wrong parameter.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from dask.distributed import Client, LocalCluster, WorkerPlugin

import functrace as ft
import functrace.numpy as fnp
from functrace import distributed as ftd
from functrace import optim


@pytest.fixture(scope="module")
def client():
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


def loss(params, batch):
    x, y = batch
    h = fnp.tanh(x @ params["w1"] + params["b1"])
    return fnp.mean((h @ params["w2"] - y) ** 2)


R = np.random.RandomState(0)
PARAMS = {"w1": R.randn(4, 8) * 0.5, "b1": np.zeros(8), "w2": R.randn(8, 2) * 0.5}
X, Y = R.randn(10 * 26, 4), R.randn(10 * 26, 2)
OPT = optim.adam(1e-2)


def update(params, state, grads):  # on the client (eagerly: nothing to compile)
    updates, state = OPT.update(grads, state, params)
    return optim.apply_updates(params, updates), state


def train(value_and_grad, steps: int = 10, batch: int = 26):
    """Adam on the client with gradients from ``value_and_grad`` (13 rows per worker)."""
    params, state, losses = PARAMS, OPT.init(PARAMS), []
    for i in range(steps):
        sl = slice(i * batch, (i + 1) * batch)
        value, grads = value_and_grad(params, (X[sl], Y[sl]))
        params, state = update(params, state, grads)
        losses.append(float(value))
    return params, losses


@pytest.fixture(scope="module")
def reference():
    return train(ft.value_and_grad(loss))  # eagerly, in this process


def assert_params_close(got, want):
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-10, atol=1e-12, err_msg=k)


def test_data_parallel_training_matches_one_process(client, reference):
    vg = ftd.value_and_grad(loss, client)
    params, losses = train(vg)
    assert_params_close(params, reference[0])
    np.testing.assert_allclose(losses, reference[1], rtol=1e-10)
    assert losses[-1] < losses[0]
    # one program (both shards have 13 rows), shipped as IR and loaded once by each worker
    assert len(vg.program._programs) == 1
    keys = {key for key, _, _ in vg.program._programs.values()}
    for _, future, _ in vg.program._programs.values():
        assert future.result()[:8] == b"FTEXPORT"
    loaded = client.run(lambda: sorted(ftd._worker_programs))
    assert len(loaded) == 2 and all(keys & set(v) for v in loaded.values())


def test_data_parallel_step_function_uneven_shards_and_compile(client):
    """A step function returning several batch means, over 3 shards of 7, 7 and 6 rows:
    averaged with shard weights, they are the full batch's means; compile() ships and
    compiles ahead of time (one program per shard shape)."""
    def step(params, batch):
        x, y = batch
        return {"mse": fnp.mean((x @ params["w1"][:, :2] - y) ** 2),
                "hit": fnp.mean(y[:, 0] > 0), "mean_x": fnp.mean(x, axis=0)}

    dp = ftd.data_parallel(step, client, num_shards=3)
    batch = (X[:20], Y[:20])
    times = dp.compile(PARAMS, batch)
    assert len(times) == 2 and all(t >= 0 for t in times.values())
    assert len(dp.program._programs) == 2
    got, want = dp(PARAMS, batch), step(PARAMS, batch)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-13, err_msg=k)


def test_sharded_map_equals_local(client):
    f = ft.jit(lambda x: fnp.sin(x) * fnp.sum(x, axis=1, keepdims=True))
    xs = R.randn(11, 3)
    np.testing.assert_allclose(ftd.map(f, xs, client), f(xs), rtol=1e-14)
    np.testing.assert_allclose(ftd.map(f, xs, client, num_shards=4), f(xs), rtol=1e-14)
    # a pytree input and output
    g = ft.jit(lambda d: {"s": d["a"] * 2, "t": d["a"] + d["b"]})
    tree = {"a": R.randn(5, 2), "b": R.randn(5, 2).astype(np.float32)}
    got, want = ftd.map(g, tree, client), g(tree)
    for k in want:
        assert got[k].dtype == want[k].dtype
        np.testing.assert_allclose(got[k], want[k], rtol=1e-6)


def test_map_over_a_list_is_a_sweep(client):
    def scaled_loss(hp):
        """The loss with the first layer scaled by hp["scale"] and an L2 penalty hp["l2"]."""
        params = dict(PARAMS, w1=PARAMS["w1"] * hp["scale"])
        return loss(params, (X[:25], Y[:25])) + hp["l2"] * fnp.sum(params["w1"] ** 2)

    sweep = [{"scale": np.float64(s), "l2": np.float64(l2)}
             for s in (0.25, 0.5, 1.0) for l2 in (0.0, 0.1)]
    got = ftd.map(scaled_loss, sweep, client)
    want = [scaled_loss(hp) for hp in sweep]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert len(set(map(float, got))) == len(sweep)


def test_bad_inputs_raise_clear_errors(client):
    vg = ftd.value_and_grad(loss, client)
    with pytest.raises(ValueError, match="one common leading dimension"):
        vg(PARAMS, (X[:10], Y[:9]))
    with pytest.raises(ValueError, match="must keep the leading dimension"):
        ftd.map(lambda x: fnp.sum(x), R.randn(6, 2), client)


def test_worker_environ_keeps_dasks_settings_and_tunes_the_allocator():
    import dask
    with dask.config.set({"distributed.nanny.pre-spawn-environ": {"OMP_NUM_THREADS": 1,
                                                                 "MALLOC_TRIM_THRESHOLD_": 65536}}):
        env = ftd.worker_environ()
    assert env["OMP_NUM_THREADS"] == "1"
    assert env["MALLOC_ARENA_MAX"] == "1" and int(env["MALLOC_TRIM_THRESHOLD_"]) >= 2 ** 30
    assert all(isinstance(v, str) for v in env.values())


def test_core_import_does_not_import_dask():
    code = "import functrace, sys; assert not any(m.startswith(('dask', 'distributed')) " \
           "for m in sys.modules), sorted(m for m in sys.modules if 'dask' in m)"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


class KillOnce(WorkerPlugin):
    """Kills the worker process that starts the first gradient task (marker file: once)."""

    def __init__(self, marker: str):
        self.marker = marker

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing" and str(key).startswith("ft-value_and_grad") \
                and not os.path.exists(self.marker):
            with open(self.marker, "w") as f:
                f.write(str(os.getpid()))
            os._exit(1)


def test_a_worker_killed_mid_step_is_retried(client, tmp_path):
    """Last in the module: it costs one worker restart."""
    marker = tmp_path / "killed"
    client.register_plugin(KillOnce(str(marker)), name="kill-once")
    try:
        params, losses = train(ftd.value_and_grad(loss, client), steps=3)
    finally:
        client.unregister_worker_plugin("kill-once")
    assert marker.exists(), "no worker was killed: the test did not test anything"
    want_params, want_losses = train(ft.value_and_grad(loss), steps=3)
    assert_params_close(params, want_params)
    np.testing.assert_allclose(losses, want_losses, rtol=1e-10)
    client.wait_for_workers(2, timeout=60)
