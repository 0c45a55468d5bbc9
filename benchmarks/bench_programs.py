"""Whole programs under ``functrace.jit`` against ``jax.jit``, side by side in one process.

Run it pinned to one core::

    taskset -c 1 env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \\
        /work/venv/bin/python benchmarks/bench_programs.py [--rounds N] [--only NAME[,NAME]]

Rows (``ROWS`` below; add one with ``@row("name", "description")`` returning a ``Row``):

* ``gp_nll``: Gaussian-process negative log-likelihood and its gradient with respect to the
  three log hyper-parameters of an RBF kernel (Cholesky, triangular solves), float64, for
  n = 200 and n = 500 points.

Method (as bench_workloads.py): one thread for every library, JAX with float64 enabled; the
outputs of both are compared once before timing; the first call of each jitted function is
timed separately (tracing + compilation; functrace's disk cache is pointed at a fresh directory
so it really compiles); then timing rounds alternate between the implementations (start rotated
each round), each round times a batch of calls of about ``--batch-ms``, and the table shows the
median per-call time over rounds and ``ratio = jax / functrace`` (above 1: functrace faster).
"""

from __future__ import annotations

import os
import sys
import tempfile

os.environ.update({"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                   "NUMBA_NUM_THREADS": "1", "JAX_PLATFORMS": "cpu", "FUNCTRACE_TIERED": "0"})
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                      "intra_op_parallelism_threads=1")
os.environ.setdefault("FUNCTRACE_CACHE_DIR", tempfile.mkdtemp(prefix="ft_bench_programs_"))
if hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) > 1:
    os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import argparse  # noqa: E402
import gc  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import numpy as np  # noqa: E402

import functrace as ft  # noqa: E402
import functrace.numpy as fnp  # noqa: E402
import functrace.scipy.linalg as fsl  # noqa: E402

try:
    import jax
    import jax.numpy as jnp
    import jax.scipy.linalg as jsl
    jax.config.update("jax_enable_x64", True)
except Exception as e:  # noqa: BLE001 - JAX is optional: its columns are skipped
    print(f"note: jax not importable ({type(e).__name__}: {e}); jax columns skipped")
    jax = None


@dataclass
class Row:
    """One benchmark row: two implementations of the same computation on the same inputs."""

    label: str
    functrace_fn: Callable  # already wrapped in functrace.jit
    jax_fn: Callable | None  # already wrapped in jax.jit
    args: tuple
    jax_args: tuple
    rtol: float = 1e-8


ROWS: dict[str, tuple[str, Callable[[], list[Row]]]] = {}


def row(name: str, description: str):
    """Register a row factory (returns the ``Row``s of that workload, e.g. one per size)."""
    def deco(fn):
        ROWS[name] = (description, fn)
        return fn
    return deco


# --- rows ---------------------------------------------------------------------------------------

def _gp_nll(np_, sl):
    def nll(p, x, y):
        ls, sf, sn = np_.exp(p[0]), np_.exp(p[1]), np_.exp(p[2])
        d = np_.sum((x[:, None, :] - x[None, :, :]) ** 2, axis=-1)
        k = sf ** 2 * np_.exp(-0.5 * d / ls ** 2) + (sn ** 2 + 1e-6) * np_.eye(x.shape[0])
        low = np_.linalg.cholesky(k)
        alpha = sl.solve_triangular(low, y, lower=True)
        return (0.5 * np_.sum(alpha * alpha) + np_.sum(np_.log(np_.diagonal(low)))
                + 0.5 * x.shape[0] * np.log(2 * np.pi))
    return nll


@row("gp_nll", "GP negative log-likelihood + gradient (RBF, Cholesky, float64)")
def _gp_rows() -> list[Row]:
    out = []
    f_ft = ft.jit(ft.value_and_grad(_gp_nll(fnp, fsl)))
    f_jax = jax.jit(jax.value_and_grad(_gp_nll(jnp, jsl))) if jax is not None else None
    for n in (200, 500):
        rng = np.random.default_rng(n)
        x = rng.uniform(-3, 3, (n, 2))
        y = np.sin(x[:, 0]) * np.cos(x[:, 1]) + 0.1 * rng.standard_normal(n)
        p = np.array([0.0, 0.3, -1.0])
        jargs = tuple(jnp.asarray(a) for a in (p, x, y)) if jax is not None else ()
        out.append(Row(f"gp_nll n={n}", f_ft, f_jax, (p, x, y), jargs, rtol=1e-7))
    return out


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
    la, lb = ft.tree_util.tree_leaves(a), [np.asarray(v) for v in jax.tree_util.tree_leaves(b)]
    for u, v in zip(la, lb):
        np.testing.assert_allclose(np.asarray(u), v, rtol=rtol, atol=rtol, err_msg=label)


def run(rows: list[Row], rounds: int, batch_ms: float) -> None:
    print(f"{'row':<16} {'first call ft':>14} {'first call jax':>15} {'ft median':>11} "
          f"{'jax median':>11} {'ratio jax/ft':>13}")
    for r in rows:
        first_ft, out_ft = _first_call(r.functrace_fn, r.args)
        impls = [("ft", r.functrace_fn, r.args)]
        first_jax = float("nan")
        if r.jax_fn is not None:
            first_jax, out_jax = _first_call(r.jax_fn, r.jax_args)
            _compare(out_ft, out_jax, r.rtol, r.label)
            impls.append(("jax", r.jax_fn, r.jax_args))
        times: dict[str, list[float]] = {nm: [] for nm, _, _ in impls}
        for k in range(rounds):
            order = impls[k % len(impls):] + impls[:k % len(impls)]
            for nm, fn, args in order:
                times[nm].append(_batch_time(fn, args, batch_ms / 1e3))
        med = {nm: statistics.median(v) for nm, v in times.items()}
        jm = med.get("jax", float("nan"))
        print(f"{r.label:<16} {first_ft:>12.3f} s {first_jax:>13.3f} s "
              f"{med['ft'] * 1e3:>8.3f} ms {jm * 1e3:>8.3f} ms {jm / med['ft']:>13.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--batch-ms", type=float, default=200.0)
    ap.add_argument("--only", default="", help="comma-separated row names: " + ", ".join(ROWS))
    a = ap.parse_args()
    names = [n for n in a.only.split(",") if n] or list(ROWS)
    print(f"functrace {ft.__version__}, numpy {np.__version__}"
          + (f", jax {jax.__version__}" if jax is not None else "")
          + f"; cpu affinity {sorted(os.sched_getaffinity(0))}")
    for nm in names:
        desc, factory = ROWS[nm]
        print(f"\n[{nm}] {desc}")
        run(factory(), a.rounds, a.batch_ms)


if __name__ == "__main__":
    main()
