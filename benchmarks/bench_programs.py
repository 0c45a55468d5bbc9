"""Whole programs under ``functrace.jit`` against ``jax.jit`` (and eager functrace against
autograd), side by side in one process.

Run it pinned to one core::

    taskset -c 1 env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \\
        /work/venv/bin/python benchmarks/bench_programs.py [--rounds N] [--batch-ms MS]
        [--only NAME[,NAME]] [--no-eager] [--memory]

or on every core with each library's default threading (start it without ``taskset``)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \\
        /work/venv/bin/python benchmarks/bench_programs.py --all-cores

Rows (``ROWS`` below; add one with ``@row("name", "description")`` returning ``Row``s):

* ``mlp``, ``cnn``, ``transformer``, ``lstm`` (``lax.scan``), ``ode`` (``lax.fori_loop``),
  ``hessian`` (logistic regression): the training steps of ``models.py``, written once for
  both libraries, each jitted by its own library.
* ``per_example_grads``: ``vmap(grad(loss), in_axes=(None, 0, 0))`` of a small MLP
  (32-64-10, float32, batch 64), jitted.
* ``vae``: a VAE training step (784-256-16 encoder, 16-256-784 decoder, float32, batch 64)
  whose reparameterised sample comes from the library's own ``random.normal`` on a key
  argument. The two libraries are compared on the deterministic part (the same noise array
  passed to both), not on the sampled outputs.
* ``gp_nll``: Gaussian-process negative log-likelihood and its gradient with respect to the
  three log hyper-parameters of an RBF kernel (Cholesky, triangular solves), float64, for
  n = 200 and n = 500 points.
* eager rows (``<name> eager``, skipped with ``--no-eager``): functrace without ``jit`` against
  autograd for the programs autograd can express the same way: ``mlp``, ``hessian``
  (``autograd.hessian``), ``per_example_grads`` (autograd: a Python loop over the examples,
  since ``elementwise_grad`` does not give per-example parameter gradients), ``gp_nll``, and
  three programs written the way autograd's examples are: ``lstm`` (a character LSTM as a
  Python loop over 29 steps), ``fluid`` (a smoke simulation: rolls, integer index arithmetic,
  fancy indexing, 20 steps on a 40x40 grid) and ``gmm`` (a Gaussian-mixture likelihood).

Method (as bench_workloads.py): by default one core and one thread for every library (BLAS,
OpenMP, XLA, Numba; the script pins itself to one CPU if started unpinned); ``--all-cores``
leaves threading and affinity alone. JAX runs with float64 enabled (float32 inputs stay
float32). ``FUNCTRACE_TIERED=0`` is set before functrace is imported, so functrace's first
call compiles and steady state is compiled code; functrace's disk cache is pointed at a fresh
directory (unless ``FUNCTRACE_CACHE_DIR`` is set) so that it really compiles. The outputs of
both implementations are compared once before timing (the script stops on a mismatch); the
first call of each is timed separately (tracing + compilation for jitted rows); then timing
rounds alternate between the implementations (start rotated each round), each round times a
batch of calls of about ``--batch-ms`` with the garbage collector off, and the table shows the
median per-call time over rounds and ``ratio = functrace / other`` (BELOW 1: functrace is
faster; "other" is JAX for jitted rows, autograd for eager rows).

``--memory`` (slow: two new processes per jitted row) runs each jitted implementation alone in
a child process and reports its peak resident set size (``VmHWM``: ``ru_maxrss`` is inherited
through ``exec`` on Linux, so a child of this 300 MiB process would report >= 300 MiB
throughout; it is printed too, for reference) at the start, after the imports (every
library is imported in every child), after the inputs are built, after the first call (which
includes tracing and compilation) and after 10 calls, plus the growth from the imports to the
end. Each child compiles from an empty functrace cache.
"""

from __future__ import annotations

import os
import sys
import tempfile

ALL_CORES = "--all-cores" in sys.argv
# Before NumPy, Numba or JAX is imported: one thread each unless --all-cores.
if not ALL_CORES:
    os.environ.update({"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                       "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"})
    if "xla_cpu_multi_thread_eigen" not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_"
                                   "eigen=false intra_op_parallelism_threads=1").strip()
os.environ["JAX_PLATFORMS"] = "cpu"
# Steady state is compiled code and the first call measures trace + compile.
os.environ["FUNCTRACE_TIERED"] = "0"
_OWN_CACHE = "FUNCTRACE_CACHE_DIR" not in os.environ
if _OWN_CACHE:
    os.environ["FUNCTRACE_CACHE_DIR"] = tempfile.mkdtemp(prefix="ft_bench_programs_")
_AFFINITY_NOTE = ""
if not ALL_CORES and hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) > 1:
    _cpu = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {_cpu})
    _AFFINITY_NOTE = f" (was unpinned: pinned itself to CPU {_cpu}; prefer taskset)"

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _p in (ROOT, os.path.join(ROOT, "benchmarks")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import argparse  # noqa: E402
import atexit  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import numpy as np  # noqa: E402

if _OWN_CACHE:
    atexit.register(shutil.rmtree, os.environ["FUNCTRACE_CACHE_DIR"], True)



def _peak_rss_kib() -> int:
    """This process's peak resident set size in KiB.

    Linux's ``ru_maxrss`` survives ``exec``: a child started by a process that had reached
    300 MiB reports at least 300 MiB from its first instruction on, so it cannot measure a
    child's own imports. ``VmHWM`` in /proc/self/status is the high-water mark of the
    process's own address space; ``ru_maxrss`` is the fallback where /proc is missing.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


_RSS_START = _peak_rss_kib()

import models  # noqa: E402

import functrace as ft  # noqa: E402
import functrace.numpy as fnp  # noqa: E402
import functrace.scipy.linalg as fsl  # noqa: E402
import functrace.scipy.special as fss  # noqa: E402

try:
    import jax
    import jax.numpy as jnp
    import jax.scipy.linalg as jsl
    jax.config.update("jax_enable_x64", True)
except Exception as e:  # noqa: BLE001 - JAX is optional: its columns are skipped
    print(f"note: jax not importable ({type(e).__name__}: {e}); jax columns skipped")
    jax = None
try:
    import autograd
    import autograd.numpy as anp
    import autograd.scipy.linalg as asl
    import autograd.scipy.special as asp
except Exception as e:  # noqa: BLE001 - autograd is optional: the eager rows are skipped
    print(f"note: autograd not importable ({type(e).__name__}: {e}); eager rows skipped")
    autograd = None

_RSS_IMPORTS = _peak_rss_kib()


@dataclass
class Row:
    """One benchmark row: two implementations of the same computation.

    ``check``, when given, replaces the comparison of the two timed outputs (used when they
    legitimately differ, e.g. by the random noise each library draws); it raises on mismatch.
    """

    label: str
    functrace_fn: Callable  # functrace.jit-wrapped for "jit" rows, plain for "eager" rows
    other_fn: Callable | None  # jax.jit-wrapped for "jit" rows, autograd for "eager" rows
    args: tuple
    other_args: tuple
    rtol: float = 1e-8
    kind: str = "jit"  # "jit": other is JAX; "eager": other is autograd
    check: Callable[[], None] | None = None


ROWS: dict[str, tuple[str, Callable[[], list[Row]]]] = {}


def row(name: str, description: str):
    """Register a row factory (returns the ``Row``s of that workload, e.g. one per size)."""
    def deco(fn):
        ROWS[name] = (description, fn)
        return fn
    return deco


def _jax_args(args: tuple) -> tuple:
    """The arguments as JAX device arrays, made once outside the timed calls."""
    return jax.tree_util.tree_map(jnp.asarray, args) if jax is not None else ()


def _namespaces() -> tuple[types.SimpleNamespace, types.SimpleNamespace | None]:
    """models.py's namespaces, plus ``random`` (the VAE row) and ``vmap``."""
    f = models.functrace_namespace()
    f.random, f.vmap = ft.random, ft.vmap
    j = None
    if jax is not None:
        j = models.jax_namespace()
        j.random, j.vmap = jax.random, jax.vmap
    return f, j


def _autograd_namespace() -> types.SimpleNamespace:
    """What the programs below need from a namespace, built on autograd (it has no ``nn``)."""
    def log_softmax(h, axis=-1):
        return h - asp.logsumexp(h, axis=axis, keepdims=True)
    return types.SimpleNamespace(np=anp, nn=types.SimpleNamespace(log_softmax=log_softmax),
                                 grad=autograd.grad, value_and_grad=autograd.value_and_grad,
                                 hessian=autograd.hessian)


# --- rows: models.py ----------------------------------------------------------------------------

_MODEL_RTOL = {"hessian": 1e-8}  # float64; the float32 models get 2e-4


def _model_factory(name: str) -> Callable[[], list[Row]]:
    def factory() -> list[Row]:
        f_ns, j_ns = _namespaces()
        step_ft, args = models.MODELS[name](f_ns)
        step_jax = models.MODELS[name](j_ns)[0] if j_ns is not None else None
        return [Row(name, ft.jit(step_ft), jax.jit(step_jax) if step_jax else None, args,
                    _jax_args(args), rtol=_MODEL_RTOL.get(name, 2e-4))]
    return factory


for _name, _builder in models.MODELS.items():
    row(_name, (_builder.__doc__ or "").strip().split("\n")[0])(_model_factory(_name))


# --- rows: per-example gradients ----------------------------------------------------------------

def _small_mlp(L):
    """A 32-64-10 float32 MLP: parameters, a batch of 64 and the loss of ONE example."""
    rng = np.random.default_rng(6)
    params = {"W0": (rng.standard_normal((32, 64)) / np.sqrt(32)).astype(np.float32),
              "b0": np.zeros(64, np.float32),
              "W1": (rng.standard_normal((64, 10)) / 8).astype(np.float32),
              "b1": np.zeros(10, np.float32)}
    x = rng.standard_normal((64, 32)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 64)]

    def loss(p, x1, y1):
        h = L.np.tanh(x1 @ p["W0"] + p["b0"])
        return -L.np.sum(L.nn.log_softmax(h @ p["W1"] + p["b1"]) * y1)

    return loss, (params, x, y)


def _per_example_jit(L):
    loss, args = _small_mlp(L)
    return L.jit(L.vmap(L.grad(loss), in_axes=(None, 0, 0))), args


@row("per_example_grads", "vmap(grad(loss)) of a 32-64-10 MLP over a batch of 64 (f32)")
def _per_example_rows() -> list[Row]:
    f_ns, j_ns = _namespaces()
    f_ft, args = _per_example_jit(f_ns)
    f_jax = _per_example_jit(j_ns)[0] if j_ns is not None else None
    return [Row("per_example_grads", f_ft, f_jax, args, _jax_args(args), rtol=1e-4)]


# --- rows: VAE ----------------------------------------------------------------------------------

def _vae(L):
    """A float32 VAE training step; ``det_step`` takes the noise, ``step`` draws it from a key."""
    rng = np.random.default_rng(7)
    d_in, hid, lat, batch = 784, 256, 16, 64

    def init(m, n):
        return (rng.standard_normal((m, n)) / np.sqrt(m)).astype(np.float32)

    params = {"We": init(d_in, hid), "be": np.zeros(hid, np.float32),
              "Wmu": init(hid, lat), "Wlv": init(hid, lat),
              "Wd": init(lat, hid), "bd": np.zeros(hid, np.float32),
              "Wo": init(hid, d_in), "bo": np.zeros(d_in, np.float32)}
    x = (rng.random((batch, d_in)) < 0.3).astype(np.float32)

    def loss(p, x, eps):
        h = L.np.tanh(x @ p["We"] + p["be"])
        mu, logvar = h @ p["Wmu"], h @ p["Wlv"]
        z = mu + L.np.exp(0.5 * logvar) * eps
        logits = L.np.tanh(z @ p["Wd"] + p["bd"]) @ p["Wo"] + p["bo"]
        recon = L.np.sum(L.nn.softplus(logits) - x * logits)  # Bernoulli negative log-lik.
        kl = -0.5 * L.np.sum(1.0 + logvar - mu * mu - L.np.exp(logvar))
        return (recon + kl) / x.shape[0]

    def det_step(p, x, eps):
        value, g = L.value_and_grad(loss)(p, x, eps)
        return value, {k: p[k] - 1e-3 * g[k] for k in p}

    def step(p, x, key):
        return det_step(p, x, L.random.normal(key, (batch, lat), dtype=np.float32))

    eps = np.random.default_rng(8).standard_normal((batch, lat)).astype(np.float32)
    return step, det_step, params, x, eps


@row("vae", "VAE training step, 784-256-16, reparameterised sampling from a key (f32)")
def _vae_rows() -> list[Row]:
    f_ns, j_ns = _namespaces()
    step_ft, det_ft, params, x, eps = _vae(f_ns)
    key_ft = ft.random.PRNGKey(0)
    if j_ns is None:
        return [Row("vae", ft.jit(step_ft), None, (params, x, key_ft), ())]
    step_jax, det_jax = _vae(j_ns)[:2]

    def check() -> None:
        # Each library draws its own noise, so compare the deterministic part on shared noise.
        det_args = (params, x, eps)
        _compare(ft.jit(det_ft)(*det_args), jax.jit(det_jax)(*_jax_args(det_args)), 2e-4,
                 "vae (deterministic part, same noise)")

    return [Row("vae", ft.jit(step_ft), jax.jit(step_jax), (params, x, key_ft),
                (*_jax_args((params, x)), jax.random.PRNGKey(0)), check=check)]


# --- rows: Gaussian process ---------------------------------------------------------------------

def _gp_nll(np_, sl):
    def nll(p, x, y):
        ls, sf, sn = np_.exp(p[0]), np_.exp(p[1]), np_.exp(p[2])
        d = np_.sum((x[:, None, :] - x[None, :, :]) ** 2, axis=-1)
        k = sf ** 2 * np_.exp(-0.5 * d / ls ** 2) + (sn ** 2 + 1e-6) * np_.eye(x.shape[0])
        low = np_.linalg.cholesky(k)
        alpha = sl.solve_triangular(low, y, lower=True)
        return (0.5 * np_.sum(alpha * alpha) + np_.sum(np_.log(np_.diagonal(low, 0, -1, -2)))
                + 0.5 * x.shape[0] * np.log(2 * np.pi))
    return nll


def _gp_inputs(n: int) -> tuple:
    rng = np.random.default_rng(n)
    x = rng.uniform(-3, 3, (n, 2))
    y = np.sin(x[:, 0]) * np.cos(x[:, 1]) + 0.1 * rng.standard_normal(n)
    return np.array([0.0, 0.3, -1.0]), x, y


@row("gp_nll", "GP negative log-likelihood + gradient (RBF, Cholesky, float64)")
def _gp_rows() -> list[Row]:
    out = []
    f_ft = ft.jit(ft.value_and_grad(_gp_nll(fnp, fsl)))
    f_jax = jax.jit(jax.value_and_grad(_gp_nll(jnp, jsl))) if jax is not None else None
    for n in (200, 500):
        args = _gp_inputs(n)
        out.append(Row(f"gp_nll n={n}", f_ft, f_jax, args, _jax_args(args), rtol=1e-7))
    return out


# --- rows: eager functrace against autograd -----------------------------------------------------

def _eager(label: str, f_ft: Callable, f_ag: Callable, args: tuple, rtol: float) -> Row:
    return Row(label, f_ft, f_ag, args, args, rtol=rtol, kind="eager")


@row("mlp eager", "models.mlp training step without jit: functrace eager vs autograd")
def _mlp_eager() -> list[Row]:
    step_ft, args = models.mlp(models.functrace_namespace())
    step_ag = models.mlp(_autograd_namespace())[0]
    return [_eager("mlp eager", step_ft, step_ag, args, 2e-4)]


@row("hessian eager", "models.hessian_logreg without jit: functrace vs autograd.hessian")
def _hessian_eager() -> list[Row]:
    h_ft, args = models.hessian_logreg(models.functrace_namespace())
    h_ag = models.hessian_logreg(_autograd_namespace())[0]
    return [_eager("hessian eager", h_ft, h_ag, args, 1e-8)]


@row("per_example_grads eager", "per-example gradients without jit: functrace vmap(grad) vs "
     "a Python loop of autograd.grad")
def _per_example_eager() -> list[Row]:
    loss_ft, args = _small_mlp(models.functrace_namespace())
    loss_ag = _small_mlp(_autograd_namespace())[0]
    g_ag = autograd.grad(loss_ag)

    def loop(p, x, y):
        gs = [g_ag(p, x[i], y[i]) for i in range(x.shape[0])]
        return {k: np.stack([g[k] for g in gs]) for k in p}

    return [_eager("per_example_grads eager", ft.vmap(ft.grad(loss_ft), in_axes=(None, 0, 0)),
                   loop, args, 1e-4)]


@row("gp_nll eager", "GP value_and_grad without jit: functrace vs autograd (n = 200)")
def _gp_eager() -> list[Row]:
    args = _gp_inputs(200)
    return [_eager("gp_nll n=200 eager", ft.value_and_grad(_gp_nll(fnp, fsl)),
                   autograd.value_and_grad(_gp_nll(anp, asl)), args, 1e-7)]


# Programs the way autograd's examples write them: Python loops over time steps and
# simulation steps, many small operations, integer index arithmetic, fancy indexing.

def _lstm_text_loss(np_, logsumexp):
    """Character-LSTM negative log-likelihood over a batch of one-hot sequences."""
    def sigmoid(x):
        return 0.5 * (np_.tanh(x) + 1.0)

    def loss(p, seqs):
        steps, batch, _ = seqs.shape
        h = np_.repeat(p["h0"], batch, axis=0)
        c = np_.repeat(p["c0"], batch, axis=0)
        width = h.shape[1]
        total = 0.0
        for t in range(steps - 1):
            gates = np_.dot(np_.concatenate((seqs[t], h), axis=1), p["w"]) + p["b"]
            i, f = sigmoid(gates[:, :width]), sigmoid(gates[:, width:2 * width])
            o, u = sigmoid(gates[:, 2 * width:3 * width]), np_.tanh(gates[:, 3 * width:])
            c = f * c + i * u
            h = o * np_.tanh(c)
            logits = np_.dot(h, p["wo"]) + p["bo"]
            total = total + np_.sum((logits - logsumexp(logits, axis=1, keepdims=True))
                                    * seqs[t + 1])
        return -total / (steps * batch)
    return loss


def _lstm_text_inputs() -> tuple:
    rng = np.random.default_rng(0)
    chars, width, steps, batch = 64, 40, 30, 20
    p = {"h0": rng.normal(size=(1, width)) * 0.1, "c0": rng.normal(size=(1, width)) * 0.1,
         "w": rng.normal(size=(chars + width, 4 * width)) * 0.1, "b": np.zeros(4 * width),
         "wo": rng.normal(size=(width, chars)) * 0.1, "bo": np.zeros(chars)}
    return p, np.eye(chars)[rng.integers(0, chars, size=(steps, batch))]


def _fluid_loss(np_):
    """Smoke advected by a velocity field on a periodic grid (Jacobi pressure projection,
    semi-Lagrangian advection with bilinear interpolation), 20 steps; loss against a target."""
    def project(vx, vy):
        h = 1.0 / vx.shape[0]
        div = -0.5 * h * (np_.roll(vx, -1, axis=0) - np_.roll(vx, 1, axis=0)
                          + np_.roll(vy, -1, axis=1) - np_.roll(vy, 1, axis=1))
        pr = np_.zeros(vx.shape)
        for _ in range(10):
            pr = (div + np_.roll(pr, 1, axis=0) + np_.roll(pr, -1, axis=0)
                  + np_.roll(pr, 1, axis=1) + np_.roll(pr, -1, axis=1)) / 4.0
        return (vx - 0.5 * (np_.roll(pr, -1, axis=0) - np_.roll(pr, 1, axis=0)) / h,
                vy - 0.5 * (np_.roll(pr, -1, axis=1) - np_.roll(pr, 1, axis=1)) / h)

    def advect(f, vx, vy):
        rows, cols = f.shape
        ys, xs = np.meshgrid(np.arange(rows), np.arange(cols))
        cx, cy = (xs - vx).ravel(), (ys - vy).ravel()
        left, top = np_.floor(cx).astype(int), np_.floor(cy).astype(int)
        rw, bw = cx - left, cy - top
        left, top = np_.mod(left, rows), np_.mod(top, cols)
        right, bottom = np_.mod(left + 1, rows), np_.mod(top + 1, cols)
        flat = ((1 - rw) * ((1 - bw) * f[left, top] + bw * f[left, bottom])
                + rw * ((1 - bw) * f[right, top] + bw * f[right, bottom]))
        return np_.reshape(flat, (rows, cols))

    def loss(v, smoke, target):
        n = smoke.shape[0]
        vx, vy = np_.reshape(v[:n * n], (n, n)), np_.reshape(v[n * n:], (n, n))
        for _ in range(20):
            vx, vy = project(vx, vy)
            vx, vy = advect(vx, vx, vy), advect(vy, vx, vy)
            smoke = advect(smoke, vx, vy)
        return np_.mean((smoke - target) ** 2)
    return loss


def _fluid_inputs() -> tuple:
    rng = np.random.default_rng(1)
    n = 40
    return rng.normal(size=2 * n * n) * 0.5, rng.uniform(size=(n, n)), rng.uniform(size=(n, n))


def _gmm_nll(np_, logsumexp):
    """Negative log-likelihood of a diagonal Gaussian mixture (5 components, 500 points)."""
    def nll(params, data):
        log_weights, means, log_sds = params
        z = (data[:, None, :] - means[None, :, :]) / np_.exp(log_sds)[None]
        ll = (-0.5 * np_.sum(z ** 2, axis=2) - np_.sum(log_sds, axis=1)[None]
              - 0.5 * means.shape[1] * np.log(2 * np.pi))
        return -np_.sum(logsumexp(ll + (log_weights - logsumexp(log_weights))[None], axis=1))
    return nll


def _gmm_inputs() -> tuple:
    rng = np.random.default_rng(2)
    return ((rng.normal(size=5), rng.normal(size=(5, 2)), rng.normal(size=(5, 2)) * 0.1),
            rng.normal(size=(500, 2)))


@row("lstm eager", "character LSTM, a Python loop over 29 steps: value_and_grad without jit")
def _lstm_eager() -> list[Row]:
    loss_ft = _lstm_text_loss(fnp, fss.logsumexp)
    return [_eager("lstm (Python loop) eager", ft.value_and_grad(loss_ft),
                   autograd.value_and_grad(_lstm_text_loss(anp, asp.logsumexp)),
                   _lstm_text_inputs(), 1e-10)]


@row("fluid eager", "smoke simulation (rolls, fancy indexing, 20 steps): value_and_grad "
     "without jit")
def _fluid_eager() -> list[Row]:
    return [_eager("fluid simulation eager", ft.value_and_grad(_fluid_loss(fnp)),
                   autograd.value_and_grad(_fluid_loss(anp)), _fluid_inputs(), 1e-10)]


@row("gmm eager", "Gaussian mixture negative log-likelihood: value_and_grad without jit")
def _gmm_eager() -> list[Row]:
    return [_eager("gmm nll eager", ft.value_and_grad(_gmm_nll(fnp, fss.logsumexp)),
                   autograd.value_and_grad(_gmm_nll(anp, asp.logsumexp)), _gmm_inputs(), 1e-10)]


EAGER = {name for name in ROWS if name.endswith(" eager")}


# --- harness ------------------------------------------------------------------------------------

def _block(r):
    if jax is not None:
        jax.block_until_ready(r)
    return r


def _first_call(fn, args) -> tuple[float, object]:
    t = time.perf_counter()
    r = _block(fn(*args))
    return time.perf_counter() - t, r


def _batch_time(fn, args, batch_s: float) -> float:
    n = 1
    while True:  # calibrate the batch size
        gc.collect()
        gc.disable()
        t = time.perf_counter()
        for _ in range(n):
            _block(fn(*args))
        dt = time.perf_counter() - t
        gc.enable()
        if dt >= batch_s or n >= 1 << 20:
            return dt / n
        n = max(n * 2, int(n * batch_s / max(dt, 1e-9)))


def _compare(a, b, rtol: float, label: str) -> None:
    la = [np.asarray(v) for v in ft.tree_util.tree_leaves(a)]
    lb = [np.asarray(v) for v in ft.tree_util.tree_leaves(b)]
    if len(la) != len(lb):
        raise AssertionError(f"{label}: {len(la)} outputs against {len(lb)}")
    for u, v in zip(la, lb):
        np.testing.assert_allclose(u, v, rtol=rtol, atol=rtol, err_msg=label)


def _fmt_time(s: float) -> str:
    return f"{s * 1e3:>9.3f} ms" if s < 10 else f"{s:>9.1f} s "


def run(rows: list[Row], rounds: int, batch_ms: float) -> None:
    """Time each row's two implementations, interleaved, and print one table line per row."""
    for r in rows:
        other = "jax" if r.kind == "jit" else "autograd"
        first_ft, out_ft = _first_call(r.functrace_fn, r.args)
        impls = [("ft", r.functrace_fn, r.args)]
        first_other = float("nan")
        if r.other_fn is not None:
            first_other, out_other = _first_call(r.other_fn, r.other_args)
            if r.check is not None:
                r.check()
            else:
                _compare(out_ft, out_other, r.rtol, r.label)
            impls.append((other, r.other_fn, r.other_args))
        times: dict[str, list[float]] = {nm: [] for nm, _, _ in impls}
        for k in range(rounds):
            order = impls[k % len(impls):] + impls[:k % len(impls)]
            for nm, fn, args in order:
                times[nm].append(_batch_time(fn, args, batch_ms / 1e3))
        med = {nm: statistics.median(v) for nm, v in times.items()}
        om = med.get(other, float("nan"))
        print(f"{r.label:<26} {other:<8} {first_ft:>10.3f} s {first_other:>10.3f} s "
              f"{_fmt_time(med['ft'])} {_fmt_time(om)} {med['ft'] / om:>9.2f}", flush=True)


# --- peak memory (one child process per implementation) -----------------------------------------

def _memory_child(name: str, index: int, impl: str) -> None:
    """Build the row's inputs, run ``impl`` 10 times, print the peak-RSS readings as JSON."""
    r = ROWS[name][1]()[index]
    rss_inputs = _peak_rss_kib()
    fn, args = (r.functrace_fn, r.args) if impl == "ft" else (r.other_fn, r.other_args)
    _block(fn(*args))
    rss_first = _peak_rss_kib()
    for _ in range(9):
        _block(fn(*args))
    rss_end = _peak_rss_kib()
    print(json.dumps({"start": _RSS_START, "imports": _RSS_IMPORTS, "inputs": rss_inputs,
                      "first": rss_first, "end": rss_end,
                      "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


def run_memory(names: list[str]) -> None:
    """For every jitted row, each implementation alone in a new process: peak RSS in MiB."""
    print("\n[memory] peak RSS in MiB (VmHWM, see _peak_rss_kib) of a child process running one "
          "implementation: at start, after imports (functrace, jax, autograd, numpy all "
          "imported), after building the inputs, after the first call (includes compilation), "
          "after 10 calls; growth = after 10 calls - after imports; ru_maxrss = getrusage's "
          "figure at the end (includes the parent's peak, inherited through exec)")
    print(f"{'row':<26} {'impl':<5} {'start':>6} {'imports':>8} {'inputs':>8} {'1st call':>9} "
          f"{'10 calls':>9} {'growth':>8} {'ru_maxrss':>10}")
    flags = ["--all-cores"] if ALL_CORES else []
    for name in names:
        if name in EAGER:
            continue
        n_rows = len(ROWS[name][1]())
        for i in range(n_rows):
            for impl in ("ft", "jax") if jax is not None else ("ft",):
                env = dict(os.environ)
                if _OWN_CACHE:  # each child compiles from an empty cache, as a new user would
                    env.pop("FUNCTRACE_CACHE_DIR")
                out = subprocess.run([sys.executable, os.path.abspath(__file__), *flags,
                                      "--memory-child", f"{name}|{i}|{impl}"],
                                     capture_output=True, text=True, env=env, check=False)
                if out.returncode != 0:
                    print(f"{name}[{i}] {impl}: child failed:\n{out.stderr[-2000:]}")
                    continue
                m = json.loads(out.stdout.strip().splitlines()[-1])
                label = name if n_rows == 1 else f"{name}[{i}]"
                mib = {k: v / 1024 for k, v in m.items()}
                print(f"{label:<26} {impl:<5} {mib['start']:>6.1f} {mib['imports']:>8.1f} "
                      f"{mib['inputs']:>8.1f} {mib['first']:>9.1f} {mib['end']:>9.1f} "
                      f"{mib['end'] - mib['imports']:>8.1f} {mib['ru_maxrss']:>10.1f}",
                      flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--batch-ms", type=float, default=200.0)
    ap.add_argument("--only", default="", help="comma-separated row names: " + ", ".join(ROWS))
    ap.add_argument("--no-eager", action="store_true", help="skip the eager (autograd) rows")
    ap.add_argument("--all-cores", action="store_true",
                    help="no pinning, default threading for every library")
    ap.add_argument("--memory", action="store_true",
                    help="also measure peak RSS per jitted row in child processes (slow)")
    ap.add_argument("--memory-only", action="store_true", help="only the --memory table")
    ap.add_argument("--memory-child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.memory_child:
        name, index, impl = a.memory_child.split("|")
        _memory_child(name, int(index), impl)
        return
    names = [n for n in a.only.split(",") if n] or list(ROWS)
    unknown = [n for n in names if n not in ROWS]
    if unknown:
        ap.error(f"unknown row(s) {unknown}; known: {', '.join(ROWS)}")
    if a.no_eager or autograd is None:
        names = [n for n in names if n not in EAGER]
    load = os.getloadavg() if hasattr(os, "getloadavg") else ()
    threads = "one thread each"
    if ALL_CORES:
        limits = [f"{v}={os.environ[v]}" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                  "MKL_NUM_THREADS", "NUMBA_NUM_THREADS", "XLA_FLAGS") if v in os.environ]
        threads = "library defaults" + (f" but {' '.join(limits)} set by the caller"
                                        if limits else "")
    print(f"functrace {ft.__version__}, numpy {np.__version__}"
          + (f", jax {jax.__version__}" if jax is not None else "")
          + f"; cpu affinity {sorted(os.sched_getaffinity(0))}{_AFFINITY_NOTE}, {threads}; "
          f"load average {', '.join(f'{v:.2f}' for v in load)}")
    if not a.memory_only:
        print(f"first call = trace + compile for jitted rows; median over {a.rounds} rounds of "
              f"~{a.batch_ms:g} ms batches; ratio = functrace / other (below 1: functrace "
              f"faster)")
        print(f"{'row':<26} {'other':<8} {'first ft':>12} {'first other':>12} "
              f"{'ft median':>12} {'other median':>12} {'ft/other':>9}")
        for nm in names:
            run(ROWS[nm][1](), a.rounds, a.batch_ms)
    if a.memory or a.memory_only:
        run_memory(names)


if __name__ == "__main__":
    main()
