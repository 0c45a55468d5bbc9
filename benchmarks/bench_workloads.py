"""Side-by-side benchmarks of functrace against the libraries a user would otherwise pick.

Run it pinned to one core (numbers in docs/performance.md were measured this way)::

    taskset -c 1 env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \\
        /work/venv/bin/python benchmarks/bench_workloads.py [--quick] [--only N[,N...]]

Workloads (``--only`` takes their numbers):

1. MLP training step: float32, 784-512-512-10, batch 128, tanh, softmax cross-entropy, SGD
   update of every parameter (a list of dicts). functrace: ``jit`` of a function that calls
   ``value_and_grad`` and returns ``(loss, new_params)``. Against hand-written NumPy (forward,
   manual backward, update), autograd, ``jax.jit`` and PyTorch eager.
2. Gradient of ``sum(sin(x)*exp(-x*x/2) + tanh(x)*log1p(x*x))`` over 10^6 float64 values.
3. Gradient of the Rosenbrock function of a 2-vector: per-call latency, called with a NumPy
   array.
4. Jacobian of ``tanh(W @ x) + x**2`` with n = 200, reverse (4a) and forward (4b) mode.
5. Cold start: seconds from spawning a new Python process to the first result of workload 1,
   with an empty functrace disk cache and then with a warm one (same cache directory), with an
   empty cache and tiered execution (the first result comes from the interpreter), and for
   JAX (no persistent compilation cache), NumPy and PyTorch for comparison. The other rows
   run with ``FUNCTRACE_TIERED=0``: the first call compiles, and steady state is compiled code.
6. Workloads 1-4 without ``jit``: functrace's transformations run by its eager interpreter,
   against autograd (and PyTorch eager, the other eager system).

Method: every implementation of a workload lives in this one process and runs with one thread
(BLAS, OpenMP, XLA, Numba, PyTorch); the script pins itself to one CPU if started unpinned.
Outputs are compared once before timing and the script stops on any mismatch. Timing rounds
go round-robin over the implementations (start rotated each round) so that drifting machine
load affects them alike; a round times a batch of calls sized to about ``--batch-ms`` and
reports the per-call time; the tables show the median over rounds, the interquartile range and
``ratio = time / functrace's time`` (above 1: functrace is faster). The garbage collector is
run between batches and disabled inside them (timeit's convention).

Every alternative is optional: one that does not import is skipped with a note. JAX runs with
float64 enabled (float32 inputs stay float32) and gets its inputs as device arrays except in
workload 3, where every implementation receives a NumPy array. PyTorch tensors are made from
the NumPy inputs once, outside the timed calls, except in workload 3 (made inside the call).
"""

from __future__ import annotations

import os
import sys

# --- one core, one thread each: this must happen before NumPy, PyTorch or JAX is imported ----
_ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "NUMBA_NUM_THREADS": "1", "JAX_PLATFORMS": "cpu"}
_XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
os.environ.update(_ONE_THREAD)
# Steady-state rows time compiled code: the first call compiles and waits (no interpreted first
# tier). Workload 5 measures the first result with tiered execution too.
os.environ.setdefault("FUNCTRACE_TIERED", "0")
if "xla_cpu_multi_thread_eigen" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + _XLA_ONE_THREAD).strip()
_AFFINITY_NOTE = ""
if hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) > 1:
    _cpu = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {_cpu})
    _AFFINITY_NOTE = f"(was unpinned: pinned itself to CPU {_cpu}; prefer taskset)"

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)  # measure this checkout's functrace

import argparse  # noqa: E402
import ctypes  # noqa: E402
import dataclasses  # noqa: E402
import datetime  # noqa: E402
import gc  # noqa: E402
import glob  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import functrace as ft  # noqa: E402
import functrace.numpy as fnp  # noqa: E402
from functrace.tree_util import tree_map  # noqa: E402

try:
    ft_jit = ft.jit
except AttributeError:  # jit not re-exported from the package yet
    from functrace.jit import jit as ft_jit

# --- optional alternatives --------------------------------------------------------------------
NOTES: list[str] = []


def _optional(name: str):
    try:
        return __import__(name)
    except Exception as e:  # noqa: BLE001 - any failure means "skip it"
        NOTES.append(f"{name} not importable ({type(e).__name__}: {e}); its rows are skipped")
        return None


autograd = _optional("autograd")
if autograd is not None:
    import autograd.numpy as anp
jax = _optional("jax")
if jax is not None:
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
torch = _optional("torch")
if torch is not None:
    import torch.nn.functional as torch_F
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    try:
        import torch.func as torch_func
    except ImportError:
        torch_func = None
        NOTES.append("torch.func missing: PyTorch jacrev/jacfwd rows skipped")


# =============================================================================================
# Timing
# =============================================================================================


@dataclass
class Impl:
    """One implementation of a workload: ``run()`` does one complete call (synchronised)."""

    name: str
    run: Callable[[], Any]
    output: Callable[[], Any] | None = None  # what to compare; defaults to run()
    times: list[float] = field(default_factory=list)  # wall-clock seconds per call
    cpu_times: list[float] = field(default_factory=list)  # process CPU seconds per call
    number: int = 1


@dataclass
class Row:
    name: str
    median: float  # wall clock
    q1: float
    q3: float
    cpu: float  # median process CPU time
    number: int  # calls per timed batch


@dataclass
class Result:
    title: str
    unit: str
    base: str
    rows: list[Row]
    clock: str = "wall"  # which median the ratios and the target use
    target: str = ""
    target_met: bool | None = None

    def value(self, name: str, clock: str | None = None) -> float | None:
        for r in self.rows:
            if r.name == name:
                return r.cpu if (clock or self.clock) == "cpu" else r.median
        return None

    def ratio(self, name: str, base: str | None = None, clock: str | None = None):
        v, b = self.value(name, clock), self.value(base or self.base, clock)
        return v / b if v is not None and b else None


def _calibrate(impl: Impl, batch_s: float) -> None:
    impl.run()  # warm (compile caches, allocator)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        impl.run()
        best = min(best, time.perf_counter() - t0)
    impl.number = max(1, min(1_000_000, round(batch_s / max(best, 1e-8))))


def _time_batch(impl: Impl) -> tuple[float, float]:
    run, n = impl.run, impl.number
    gc.collect()
    gc.disable()
    try:
        c0 = time.process_time()
        t0 = time.perf_counter()
        for _ in range(n):
            run()
        dt = time.perf_counter() - t0
        dc = time.process_time() - c0
    finally:
        gc.enable()
    return dt / n, dc / n


def measure(impls: list[Impl], rounds: int, batch_s: float) -> None:
    """Fill ``impl.times`` with ``rounds`` per-call times, interleaving the implementations."""
    for impl in impls:
        _calibrate(impl, batch_s)
    k = len(impls)
    for r in range(rounds):
        for impl in impls[r % k:] + impls[:r % k]:
            wall, cpu = _time_batch(impl)
            impl.times.append(wall)
            impl.cpu_times.append(cpu)


def _quartiles(xs: list[float]) -> tuple[float, float, float]:
    if len(xs) < 2:
        return xs[0], xs[0], xs[0]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[1], q[0], q[2]


def summarise(title: str, impls: list[Impl], unit: str, clock: str) -> Result:
    rows = [Row(i.name, *_quartiles(i.times), statistics.median(i.cpu_times or i.times),
                i.number) for i in impls]
    return Result(title, unit, impls[0].name, rows, clock)


_SCALE = {"s": 1.0, "ms": 1e3, "us": 1e6}


def print_result(res: Result) -> None:
    sc, u = _SCALE[res.unit], res.unit
    width = max(len(r.name) for r in res.rows) + 2
    print(f"\n{res.title}")
    print(f"  {'implementation':<{width}}{'wall median':>14}  {'wall IQR':>20}  {'ratio':>7}"
          f"  {'CPU median':>12}  {'ratio':>7}  calls/batch")
    for r in res.rows:
        iqr = f"[{r.q1 * sc:.4g}, {r.q3 * sc:.4g}]"
        print(f"  {r.name:<{width}}{r.median * sc:>11.4g} {u:<2} {iqr:>20}  "
              f"{res.ratio(r.name, clock='wall'):>6.2f}x  {r.cpu * sc:>9.4g} {u:<2}  "
              f"{res.ratio(r.name, clock='cpu'):>6.2f}x  {r.number}")
    if res.target:
        verdict = {True: "MET", False: "NOT MET", None: "not measurable"}[res.target_met]
        print(f"  target ({res.clock} time): {res.target}: {verdict}")
    sys.stdout.flush()


# =============================================================================================
# Output checks
# =============================================================================================


def _leaves(x) -> list[np.ndarray]:
    if isinstance(x, dict):
        return [leaf for k in sorted(x) for leaf in _leaves(x[k])]
    if isinstance(x, (list, tuple)):
        return [leaf for v in x for leaf in _leaves(v)]
    if torch is not None and isinstance(x, torch.Tensor):
        return [x.detach().cpu().numpy()]
    return [np.asarray(x)]


def check_same(title: str, impls: list[Impl], ref: Any, rtol: float, atol: float = 0.0) -> None:
    """Stop the benchmark if any implementation's output differs from ``ref``."""
    want = _leaves(ref)
    for impl in impls:
        got = _leaves(impl.output() if impl.output else impl.run())
        if len(got) != len(want):
            sys.exit(f"MISMATCH in {title}: {impl.name} returned {len(got)} arrays, "
                     f"expected {len(want)}")
        for i, (g, w) in enumerate(zip(got, want)):
            scale = float(np.max(np.abs(w))) if w.size else 0.0
            if g.shape != w.shape:
                sys.exit(f"MISMATCH in {title}: {impl.name} output {i} has shape {g.shape}, "
                         f"expected {w.shape}")
            err = float(np.max(np.abs(g.astype(np.float64) - w))) if w.size else 0.0
            if not err <= rtol * scale + atol:
                sys.exit(f"MISMATCH in {title}: {impl.name} output {i}: max abs error {err:.3g} "
                         f"> {rtol:g} * max|ref| ({scale:.3g}) + {atol:g}")
    print(f"  [{title}] outputs agree: {', '.join(i.name for i in impls)}")


# =============================================================================================
# Workload 1: MLP training step
# =============================================================================================

SIZES = (784, 512, 512, 10)
BATCH = 128
LR = 0.01


def make_mlp_data(np_mod):
    """Parameters (list of {"w", "b"}) and a batch (x, one-hot y), float32, fixed seed."""
    rng = np_mod.random.default_rng(0)
    params = [{"w": (rng.standard_normal((m, n)) / np_mod.sqrt(m)).astype(np_mod.float32),
               "b": (0.1 * rng.standard_normal(n)).astype(np_mod.float32)}
              for m, n in zip((784, 512, 512), (512, 512, 10))]
    x = rng.standard_normal((128, 784)).astype(np_mod.float32)
    y = np_mod.eye(10, dtype=np_mod.float32)[rng.integers(0, 10, 128)]
    return params, x, y


def make_mlp_loss(m):
    """The MLP loss written against a NumPy-like namespace ``m`` (functrace.numpy, jax.numpy,
    autograd.numpy)."""
    def mlp_loss(params, x, y):
        h = x
        for layer in params[:-1]:
            h = m.tanh(h @ layer["w"] + layer["b"])
        logits = h @ params[-1]["w"] + params[-1]["b"]
        z = logits - m.max(logits, axis=1, keepdims=True)
        logp = z - m.log(m.sum(m.exp(z), axis=1, keepdims=True))
        return -m.mean(m.sum(logp * y, axis=1))
    return mlp_loss


def make_sgd_step(value_and_grad, loss, tree_map):
    """``(loss, params - lr * grad)`` for any library's value_and_grad / tree_map."""
    def sgd_step(params, x, y):
        value, grads = value_and_grad(loss)(params, x, y)
        return value, tree_map(lambda p, g: p - 0.01 * g, params, grads)
    return sgd_step


def numpy_sgd_step(params, x, y):
    """Hand-written forward, backward and update in NumPy."""
    hs = [x]
    h = x
    for layer in params[:-1]:
        h = np.tanh(h @ layer["w"] + layer["b"])
        hs.append(h)
    logits = h @ params[-1]["w"] + params[-1]["b"]
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    loss = -np.mean(np.sum((z - np.log(s)) * y, axis=1))
    g = (e / s - y) * np.float32(1.0 / x.shape[0])  # d loss / d logits
    new = [None] * len(params)
    for i in range(len(params) - 1, -1, -1):
        w = params[i]["w"]
        gw, gb = hs[i].T @ g, g.sum(axis=0)
        if i:
            g = (g @ w.T) * (1 - hs[i] * hs[i])
        new[i] = {"w": w - np.float32(LR) * gw, "b": params[i]["b"] - np.float32(LR) * gb}
    return loss, new


def _torch_mlp(params_np, x_np, y_np):
    """PyTorch eager step with in-place SGD (what a PyTorch user writes)."""
    params = [{k: torch.tensor(v, requires_grad=True) for k, v in p.items()} for p in params_np]
    leaves = [p[k] for p in params for k in ("w", "b")]
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)

    def step():
        for p in leaves:
            p.grad = None
        h = x
        for layer in params[:-1]:
            h = torch.tanh(h @ layer["w"] + layer["b"])
        logits = h @ params[-1]["w"] + params[-1]["b"]
        loss = -(torch_F.log_softmax(logits, dim=1) * y).sum(dim=1).mean()
        loss.backward()
        with torch.no_grad():
            for p in leaves:
                p.add_(p.grad, alpha=-LR)
        return loss

    def output():  # one step from the original parameters, on copies
        with torch.no_grad():
            saved = [p.clone() for p in leaves]
        loss = step()
        out = (loss.detach().clone(), [{k: v.detach().clone() for k, v in p.items()}
                                       for p in params])
        with torch.no_grad():
            for p, s in zip(leaves, saved):
                p.copy_(s)
        return out

    return step, output


def mlp_impls(jitted: bool) -> tuple[list[Impl], Any]:
    params, x, y = make_mlp_data(np)
    ref = numpy_sgd_step(params, x, y)
    ft_step = make_sgd_step(ft.value_and_grad, make_mlp_loss(fnp), tree_map)
    f_ft = ft_jit(ft_step) if jitted else ft_step
    impls = [Impl("functrace.jit" if jitted else "functrace (eager)", lambda: f_ft(params, x, y))]
    if jitted:
        impls.append(Impl("NumPy (hand-written)", lambda: numpy_sgd_step(params, x, y)))
    if autograd is not None:
        ag_step = make_sgd_step(autograd.value_and_grad, make_mlp_loss(anp),
                                lambda f, a, b: [{k: f(p[k], g[k]) for k in p}
                                                 for p, g in zip(a, b)])
        impls.append(Impl("autograd", lambda: ag_step(params, x, y)))
    if jax is not None and jitted:
        j_step = jax.jit(make_sgd_step(jax.value_and_grad, make_mlp_loss(jnp),
                                       jax.tree_util.tree_map))
        jp, jx, jy = jax.device_put((params, x, y))
        impls.append(Impl("JAX jit", lambda: jax.block_until_ready(j_step(jp, jx, jy))))
    if torch is not None:
        step, output = _torch_mlp(params, x, y)
        impls.append(Impl("PyTorch eager", step, output))
    # compare the loss and the parameter *updates* (new - old), the part that carries the
    # gradient: the parameters themselves would hide gradient errors below float32 resolution
    return impls, (params, ref)


def check_mlp(title: str, impls: list[Impl], ctx) -> None:
    params, (ref_loss, ref_new) = ctx
    old = _leaves(params)

    def updates(out):
        loss, new = out
        return [np.asarray(loss, np.float64)] + [(n.astype(np.float64) - o) / LR
                                                 for n, o in zip(_leaves(new), old)]

    wrapped = [Impl(i.name, (lambda i=i: updates(i.output() if i.output else i.run())))
               for i in impls]
    check_same(title, wrapped, updates((ref_loss, ref_new)), rtol=2e-3, atol=1e-5)


# =============================================================================================
# Workloads 2-4: elementwise gradient, Rosenbrock, Jacobians
# =============================================================================================


def ew_fun(m, x):
    return m.sum(m.sin(x) * m.exp(-x * x / 2) + m.tanh(x) * m.log1p(x * x))


def ew_grad_numpy(x):
    """Hand-derived gradient of ``ew_fun``."""
    e = np.exp(-x * x / 2)
    t = np.tanh(x)
    x2 = x * x
    return np.cos(x) * e - x * np.sin(x) * e + (1 - t * t) * np.log1p(x2) + t * (2 * x) / (1 + x2)


def rosenbrock(m, x):
    return m.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosenbrock_grad_numpy(x):
    d = x[1:] - x[:-1] ** 2
    g = np.zeros_like(x)
    g[:-1] = -400.0 * x[:-1] * d - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * d
    return g


def jac_fun(m, w, x):
    return m.tanh(w @ x) + x ** 2


def jac_numpy(w, x):
    t = np.tanh(w @ x)
    j = (1 - t * t)[:, None] * w
    j[np.diag_indices_from(j)] += 2 * x
    return j


def _bind(m, f):
    return lambda *a: f(m, *a)


def _torch_grad(f):
    """Gradient by ``backward`` of a fresh leaf sharing the input's memory."""
    def g(x):
        leaf = x.detach().requires_grad_()
        f(leaf).backward()
        return leaf.grad
    return g


def ew_impls(jitted: bool):
    x = np.linspace(-3.0, 3.0, 1_000_000)
    f = _bind(fnp, ew_fun)
    g_ft = ft_jit(ft.grad(f)) if jitted else ft.grad(f)
    impls = [Impl("functrace.jit" if jitted else "functrace (eager)", lambda: g_ft(x))]
    if jitted:
        impls.append(Impl("NumPy (hand-derived)", lambda: ew_grad_numpy(x)))
    if autograd is not None:
        g_ag = autograd.grad(_bind(anp, ew_fun))
        impls.append(Impl("autograd", lambda: g_ag(x)))
    if jax is not None and jitted:
        g_jax = jax.jit(jax.grad(_bind(jnp, ew_fun)))
        jx = jax.device_put(x)
        impls.append(Impl("JAX jit", lambda: g_jax(jx).block_until_ready()))
    if torch is not None:
        g_t = _torch_grad(_bind(torch, ew_fun))
        tx = torch.from_numpy(x)
        impls.append(Impl("PyTorch eager", lambda: g_t(tx)))
    return impls, ew_grad_numpy(x)


def rosen_impls(jitted: bool):
    x = np.array([1.5, -0.5])
    f = _bind(fnp, rosenbrock)
    g_ft = ft_jit(ft.grad(f)) if jitted else ft.grad(f)
    impls = [Impl("functrace.jit" if jitted else "functrace (eager)", lambda: g_ft(x))]
    if jitted:
        impls.append(Impl("NumPy (hand-derived)", lambda: rosenbrock_grad_numpy(x)))
    if autograd is not None:
        g_ag = autograd.grad(_bind(anp, rosenbrock))
        impls.append(Impl("autograd", lambda: g_ag(x)))
    if jax is not None and jitted:
        g_jax = jax.jit(jax.grad(_bind(jnp, rosenbrock)))
        impls.append(Impl("JAX jit", lambda: g_jax(x).block_until_ready()))
    if torch is not None:
        g_t = _torch_grad(_bind(torch, rosenbrock))
        impls.append(Impl("PyTorch eager", lambda: g_t(torch.from_numpy(x)).numpy()))
    return impls, rosenbrock_grad_numpy(x)


def jac_data(n: int = 200):
    rng = np.random.default_rng(2)
    return rng.standard_normal((n, n)) / np.sqrt(n), rng.standard_normal(n)


def jac_impls(mode: str, jitted: bool):
    w, x = jac_data()
    ft_jac = {"rev": ft.jacrev, "fwd": ft.jacfwd}[mode](_bind(fnp, jac_fun), argnums=1)
    g_ft = ft_jit(ft_jac) if jitted else ft_jac
    name = f"functrace.jit(jac{mode})" if jitted else f"functrace jac{mode} (eager)"
    impls = [Impl(name, lambda: g_ft(w, x))]
    if jitted:
        impls.append(Impl("NumPy (closed form)", lambda: jac_numpy(w, x)))
    if autograd is not None and mode == "rev":
        g_ag = autograd.jacobian(_bind(anp, jac_fun), argnum=1)
        impls.append(Impl("autograd jacobian", lambda: g_ag(w, x)))
    if jax is not None and jitted:
        g_jax = jax.jit({"rev": jax.jacrev, "fwd": jax.jacfwd}[mode](_bind(jnp, jac_fun),
                                                                     argnums=1))
        jw, jx = jax.device_put((w, x))
        impls.append(Impl(f"JAX jit(jac{mode})", lambda: g_jax(jw, jx).block_until_ready()))
    if torch is not None and torch_func is not None:
        g_t = {"rev": torch_func.jacrev, "fwd": torch_func.jacfwd}[mode](
            _bind(torch, jac_fun), argnums=1)
        tw, tx = torch.from_numpy(w), torch.from_numpy(x)
        impls.append(Impl(f"torch.func.jac{mode}", lambda: g_t(tw, tx)))
    return impls, jac_numpy(w, x)


# =============================================================================================
# Workload 5: cold start
# =============================================================================================

_CHILD_PRELUDE = """\
import sys, time, json
sys.path.insert(0, {root!r})
import numpy as np
"""

_CHILD_BODY = {
    "functrace": """\
import functrace as ft
import functrace.numpy as fnp
from functrace.tree_util import tree_map
jit = getattr(ft, "jit", None)
if jit is None:
    from functrace.jit import jit
t_import = time.time()
{defs}
step = jit(make_sgd_step(ft.value_and_grad, make_mlp_loss(fnp), tree_map))
params, x, y = make_mlp_data(np)
out = step(params, x, y)
float(out[0])
""",
    "jax": """\
import jax, jax.numpy as jnp
t_import = time.time()
{defs}
step = jax.jit(make_sgd_step(jax.value_and_grad, make_mlp_loss(jnp), jax.tree_util.tree_map))
params, x, y = make_mlp_data(np)
out = jax.block_until_ready(step(params, x, y))
""",
    "numpy": """\
t_import = time.time()
{defs}
LR = 0.01
out = numpy_sgd_step(*make_mlp_data(np))
""",
    "torch": """\
import torch
import torch.nn.functional as torch_F
torch.set_num_threads(1)
t_import = time.time()
{defs}
LR = 0.01
step, _ = _torch_mlp(*make_mlp_data(np))
float(step())
""",
}

_CHILD_DEFS = {
    "functrace": (make_mlp_data, make_mlp_loss, make_sgd_step),
    "jax": (make_mlp_data, make_mlp_loss, make_sgd_step),
    "numpy": (make_mlp_data, numpy_sgd_step),
    "torch": (make_mlp_data, _torch_mlp),
}


def _child_source(kind: str) -> str:
    defs = "\n\n".join(inspect.getsource(f) for f in _CHILD_DEFS[kind])
    body = _CHILD_BODY[kind].format(defs=defs)
    return (_CHILD_PRELUDE.format(root=ROOT) + body
            + "print(json.dumps({'import': t_import, 'done': time.time(), "
              "'cpu': time.process_time()}))\n")


def cold_run(kind: str, env: dict) -> tuple[float, float, float]:
    """Seconds from spawning a new process to its first result, of which importing, and the
    child's CPU time up to that result."""
    src = _child_source(kind)
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-c", src], env=env, cwd=ROOT, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        sys.exit(f"cold-start child ({kind}) failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return out["done"] - t0, out["import"] - t0, out["cpu"]


def _wait_for_compile_workers(timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and subprocess.run(
            ["pgrep", "-f", "functrace.backend.compile_worker"], capture_output=True).stdout:
        time.sleep(0.1)


def cold_start(repeats: int, clock: str) -> tuple[Result, dict]:
    base_env = dict(os.environ)
    for k in ("JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"):
        base_env.pop(k, None)
    runs: dict[str, list[tuple[float, float, float]]] = {}
    kinds = ["numpy"] + (["jax"] if jax is not None else []) + \
        (["torch"] if torch is not None else [])
    for _ in range(repeats):
        d = tempfile.mkdtemp(prefix="ft_bench_cache_")
        try:
            env = dict(base_env, FUNCTRACE_CACHE_DIR=d)
            runs.setdefault("functrace.jit, empty cache", []).append(cold_run("functrace", env))
            runs.setdefault("functrace.jit, warm cache", []).append(cold_run("functrace", env))
            shutil.rmtree(d, ignore_errors=True)
            tiered = dict(env, FUNCTRACE_TIERED="1")
            runs.setdefault("functrace.jit, empty cache, tiered (first result)", []).append(
                cold_run("functrace", tiered))
            _wait_for_compile_workers()  # they finish after the child: not during the next
            for kind in kinds:
                label = {"numpy": "NumPy (hand-written)", "jax": "JAX jit (no persistent cache)",
                         "torch": "PyTorch eager"}[kind]
                runs.setdefault(label, []).append(cold_run(kind, env))
        finally:
            shutil.rmtree(d, ignore_errors=True)
    impls = [Impl(k, lambda: None, times=[t for t, _, _ in v], cpu_times=[c for _, _, c in v])
             for k, v in runs.items()]
    res = summarise("5. Cold start: new process -> first MLP step result "
                    f"({repeats} run(s) each; ratio vs functrace with an empty cache)",
                    impls, "s", clock)
    imports = {k: statistics.median(i for _, i, _ in v) for k, v in runs.items()}
    return res, imports


# =============================================================================================
# Header and driver
# =============================================================================================


def blas_info() -> str:
    """NumPy's BLAS library, the kernel it selected, and its thread count."""
    try:
        import threadpoolctl
        infos = [i for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]
        if infos:
            return "; ".join(f"{i.get('internal_api')} {i.get('version')}, kernel "
                             f"{i.get('architecture')}, {i.get('num_threads')} thread(s) "
                             f"({os.path.basename(i.get('filepath', '?'))})" for i in infos) \
                + " (threadpoolctl)"
    except ImportError:
        pass
    libs = glob.glob(os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs",
                                  "*openblas*"))
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in (("scipy_openblas_", "64_"), ("scipy_openblas_", ""),
                               ("openblas_", "")):
            try:
                core = getattr(lib, f"{prefix}get_corename{suffix}")
                conf = getattr(lib, f"{prefix}get_config{suffix}")
                nthr = getattr(lib, f"{prefix}get_num_threads{suffix}")
            except AttributeError:
                continue
            core.restype = conf.restype = ctypes.c_char_p
            return (f"{conf().decode().strip()}, kernel {core().decode()}, "
                    f"{nthr()} thread(s) ({os.path.basename(path)})")
    return "unknown (no threadpoolctl, no bundled OpenBLAS found)"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_rev() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True).stdout.strip()
        return rev + (" + uncommitted changes" if dirty else "")
    except OSError:
        return "unknown"


def _cache_dir() -> str:
    try:
        from functrace.config import config
        return str(config.cache_dir)
    except (ImportError, AttributeError):
        return "?"


def header() -> None:
    import numba
    print("functrace workload benchmarks")
    print(f"  date      {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"  machine   {_cpu_model()}, {os.cpu_count()} CPUs, {platform.platform()}")
    aff = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    print(f"  pinned to CPU(s) {aff} {_AFFINITY_NOTE}; load average "
          f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"  python    {platform.python_version()} ({sys.executable})")
    print(f"  functrace {ft.__version__} ({_git_rev()})")
    try:
        from functrace import backend
        print(f"            backend dot mode {getattr(backend, 'DOT_MODE', '?')}, "
              f"cache dir {_cache_dir()}")
    except Exception as e:  # noqa: BLE001
        print(f"            backend not importable: {e}")
    print(f"  numpy     {np.__version__}; BLAS: {blas_info()}")
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if var in os.environ:
            print(f"            WARNING: {var}={os.environ[var]} is set (forces the BLAS "
                  "kernel; the documented command unsets it)")
    print(f"  numba     {numba.__version__}")
    if autograd is not None:
        from importlib.metadata import version
        print(f"  autograd  {version('autograd')}")
    if jax is not None:
        print(f"  jax       {jax.__version__} ({jax.devices()[0]}), x64 on, "
              f"XLA_FLAGS={os.environ.get('XLA_FLAGS')}")
    if torch is not None:
        print(f"  torch     {torch.__version__}, {torch.get_num_threads()} thread(s), "
              f"MKL {torch.backends.mkl.is_available()}, "
              f"CPU capability {torch.backends.cpu.get_cpu_capability()}")
    print("  threads   " + " ".join(f"{k}={v}" for k, v in _ONE_THREAD.items()))
    for n in NOTES:
        print(f"  NOTE: {n}")
    sys.stdout.flush()


def _run_table(title, impls, ctx, rounds, batch_s, unit, check, clock, target=None):
    check(re.split(r"[,(]", title)[0].strip(), impls, ctx)
    measure(impls, rounds, batch_s)
    res = summarise(title, impls, unit, clock)
    if target is not None:
        label, other, limit = target
        r = res.ratio(res.base, other)
        res.target = f"{label} (functrace / {other} = {r:.2f})" if r else label
        res.target_met = None if r is None else r <= limit
    print_result(res)
    return res


def _check_arrays(rtol):
    return lambda title, impls, ref: check_same(title, impls, ref, rtol=rtol, atol=1e-12)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds, shorter batches")
    ap.add_argument("--only", default="1,2,3,4,5,6", help="workload numbers, e.g. 1,3")
    ap.add_argument("--rounds", type=int, help="timing rounds per workload")
    ap.add_argument("--batch-ms", type=float, help="target duration of one timed batch")
    ap.add_argument("--cold-repeats", type=int, help="new-process runs per cold-start variant")
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                    help="which median the targets are judged on (both are printed); cpu is "
                         "the process CPU time, robust to other load on the same core")
    ap.add_argument("--json", help="also write the results to this JSON file")
    args = ap.parse_args(argv)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    rounds = args.rounds or (7 if args.quick else 31)
    batch_s = (args.batch_ms or (10.0 if args.quick else 25.0)) / 1e3
    header()
    print(f"  timing    {rounds} interleaved rounds, batches of ~{batch_s * 1e3:g} ms; "
          f"ratio = time / functrace time; targets judged on {args.clock} time")
    results: list[Result] = []
    ew_check, ros_check, jac_check = _check_arrays(1e-9), _check_arrays(1e-9), \
        _check_arrays(1e-9)

    def workloads(jitted: bool) -> list:
        tag = "" if jitted else "6."
        eager = "" if jitted else " WITHOUT jit"
        tgt = (lambda lbl, lim: (lbl, "JAX jit", lim)) if jitted else \
            (lambda lbl, lim: ("eager functrace at least as fast as autograd", "autograd", 1.0))
        rev_other = "JAX jit(jacrev)" if jitted else "autograd jacobian"
        return [
            ("1", lambda: mlp_impls(jitted), check_mlp,
             f"{tag}1. MLP training step{eager} (f32 784-512-512-10, batch 128, SGD)", "ms",
             tgt("functrace within 1.0x of JAX", 1.0)),
            ("2", lambda: ew_impls(jitted), ew_check,
             f"{tag}2. Elementwise gradient{eager}, 10^6 float64", "ms",
             tgt("functrace faster than JAX", 1.0)),
            ("3", lambda: rosen_impls(jitted), ros_check,
             f"{tag}3. Rosenbrock gradient{eager}, 2-vector from NumPy (latency)", "us",
             tgt("functrace latency under JAX's", 1.0)),
            ("4", lambda: jac_impls("rev", jitted), jac_check,
             f"{tag}4a. Jacobian{eager}, reverse mode, n = 200", "ms",
             (("functrace faster than JAX", rev_other, 1.0) if jitted else
              ("eager functrace at least as fast as autograd", rev_other, 1.0))),
            ("4", lambda: jac_impls("fwd", jitted), jac_check,
             f"{tag}4b. Jacobian{eager}, forward mode, n = 200", "ms",
             ("functrace faster than JAX", "JAX jit(jacfwd)", 1.0) if jitted else None),
        ]

    for key, build, check, title, unit, target in workloads(True):
        if key in only:
            impls, ctx = build()
            results.append(_run_table(title, impls, ctx, rounds, batch_s, unit, check,
                                      args.clock, target))
    if "5" in only:
        res, imports = cold_start(args.cold_repeats or (1 if args.quick else 3), args.clock)
        warm = res.ratio("functrace.jit, warm cache", "JAX jit (no persistent cache)")
        res.target = ("functrace with a warm cache at JAX's level (warm functrace / JAX = "
                      f"{warm:.2f})" if warm else "functrace warm cache at JAX's level")
        res.target_met = None if warm is None else warm <= 1.0
        print_result(res)
        print("  of which interpreter start + imports: " +
              ", ".join(f"{k} {v:.2f} s" for k, v in imports.items()))
        results.append(res)
    if "6" in only:
        for _, build, check, title, unit, target in workloads(False):
            impls, ctx = build()
            results.append(_run_table(title, impls, ctx, rounds, batch_s, unit, check,
                                      args.clock, target))
    if args.json:
        with open(args.json, "w") as f:
            json.dump([dataclasses.asdict(r) for r in results], f, indent=1)


if __name__ == "__main__":
    main()
