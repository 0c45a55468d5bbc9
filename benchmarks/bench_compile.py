"""Time to first result: functrace's ``jit`` against ``jax.jit`` on six kinds of models.

Run it pinned to one core (the child processes inherit the pinning, the background compiler
included)::

    taskset -c 1 env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \\
        /work/venv/bin/python benchmarks/bench_compile.py [--only cnn,lstm] [--repeats 3]

For each model of ``models.py`` (MLP, CNN, transformer block, LSTM with ``scan``, RK4 ODE with
``fori_loop``, ``hessian`` of a logistic regression), each measurement runs in a new process:

1. empty functrace cache: ``jit(step)(*args)`` timed from the ``jit`` call to the result (trace,
   code generation, and with tiered execution the first interpreted call), then the step is
   called in a loop as a training loop would until a call runs the compiled code: "compiled at"
   is the time from the ``jit`` call until that call returned. Then, in the same process, JAX's
   first call of the same model (``jax.jit``, empty in-memory caches, no persistent cache);
2. warm cache, new process: the same model again (the disk cache holds its compiled code);
3. one layer edited, new process, warm cache: the model with a different width in one layer.

Ratios are functrace / JAX's first call (below 1: functrace is ahead). Times are medians over
``--repeats`` runs of every process (a fresh cache directory for each empty-cache run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# The widths used for the "edit one layer" measurement (the default width of each model, then
# the edited one).
EDITS = {"mlp": (512, 384), "cnn": (16, 24), "transformer": (256, 192), "lstm": (64, 48),
         "ode": (32, 24), "hessian": (200, 160)}


def _leaves(tree):
    import functrace as ft
    return ft.tree_util.tree_leaves(tree)


def _block(tree):
    import numpy as np
    for leaf in _leaves(tree):
        np.asarray(leaf)


def child_functrace(model: str, width: int) -> dict:
    t_start = time.perf_counter()
    sys.path.insert(0, HERE)
    sys.path.insert(0, ROOT)
    import models

    import functrace as ft
    from functrace import backend
    t_import = time.perf_counter() - t_start
    step, args = models.MODELS[model](models.functrace_namespace(), width)
    t0 = time.perf_counter()
    f = ft.jit(step)
    _block(f(*args))
    first = time.perf_counter() - t0
    calls = 1
    while True:
        # the step is one program: it runs compiled once the backend has loaded native code
        compiled = backend.stats["compiles"] > 0
        _block(f(*args))
        calls += 1
        if compiled:
            break
    compiled_at = time.perf_counter() - t0
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        _block(f(*args))
        runs.append(time.perf_counter() - t)
    return {"import": t_import, "first": first, "compiled_at": compiled_at,
            "interpreted_calls": calls - 1, "steady": statistics.median(runs),
            "background": backend.stats["background"]}


def child_jax(model: str, width: int) -> dict:
    sys.path.insert(0, HERE)
    import jax
    jax.config.update("jax_enable_x64", True)
    import models
    step, args = models.MODELS[model](models.jax_namespace(), width)
    t0 = time.perf_counter()
    f = jax.jit(step)
    jax.block_until_ready(f(*args))
    return {"first": time.perf_counter() - t0}


def run_child(args: list[str], cache: str, tiered: bool = True) -> dict:
    env = dict(os.environ, FUNCTRACE_CACHE_DIR=cache, FUNCTRACE_TIERED="1" if tiered else "0",
               JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, __file__, "--child", *args], env=env,
                         capture_output=True, text=True, check=False)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode or not lines:
        raise RuntimeError(f"child {args} failed:\n{out.stdout}\n{out.stderr[-3000:]}")
    return json.loads(lines[-1])


def measure(model: str, repeats: int, tiered: bool) -> dict:
    base, edited = EDITS[model]
    rows: dict[str, list[float]] = {k: [] for k in (
        "first", "compiled_at", "jax_first", "warm_first", "warm_compiled_at", "edit_first",
        "edit_compiled_at", "steady")}
    for _ in range(repeats):
        cache = tempfile.mkdtemp(prefix="ft_bench_compile_")
        try:
            cold = run_child(["functrace", model, str(base)], cache, tiered)
            _wait_for_background(cache)
            jx = run_child(["jax", model, str(base)], cache, tiered)
            warm = run_child(["functrace", model, str(base)], cache, tiered)
            edit = run_child(["functrace", model, str(edited)], cache, tiered)
            _wait_for_background(cache)
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        rows["first"].append(cold["first"])
        rows["compiled_at"].append(cold["compiled_at"])
        rows["steady"].append(cold["steady"])
        rows["jax_first"].append(jx["first"])
        rows["warm_first"].append(warm["first"])
        rows["warm_compiled_at"].append(warm["compiled_at"])
        rows["edit_first"].append(edit["first"])
        rows["edit_compiled_at"].append(edit["compiled_at"])
    return {k: statistics.median(v) for k, v in rows.items()}


def _wait_for_background(cache: str, timeout: float = 120.0) -> None:
    # A child exits while its background compiler may still write the cache (it finishes the
    # compile under way): let it finish so the next process measures a settled cache.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = subprocess.run(["pgrep", "-f", "functrace.backend.compile_worker"],
                              capture_output=True, text=True).stdout.split()
        if not busy:
            return
        time.sleep(0.1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(EDITS))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-tiered", action="store_true",
                    help="compile before the first call returns (config.tiered_compile off)")
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--child", nargs=3, metavar=("LIB", "MODEL", "WIDTH"),
                    help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        lib, model, width = a.child
        res = (child_jax if lib == "jax" else child_functrace)(model, int(width))
        print(json.dumps(res))
        return
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    print(f"# bench_compile: CPUs {affinity}, tiered={'off' if a.no_tiered else 'on'}, "
          f"median of {a.repeats}, {time.strftime('%Y-%m-%d %H:%M')}")
    head = ("model", "first", "JAX 1st", "ratio", "compiled", "ratio", "warm 1st", "warm comp",
            "edit 1st", "edit comp", "edit/cold", "steady ms")
    print(" | ".join(f"{h:>10}" for h in head))
    results = {}
    for model in a.only.split(","):
        r = measure(model, a.repeats, not a.no_tiered)
        results[model] = r
        jf = r["jax_first"]
        cells = (model, f"{r['first']:.2f}s", f"{jf:.2f}s", f"{r['first'] / jf:.2f}",
                 f"{r['compiled_at']:.2f}s", f"{r['compiled_at'] / jf:.2f}",
                 f"{r['warm_first']:.2f}s", f"{r['warm_compiled_at']:.2f}s",
                 f"{r['edit_first']:.2f}s", f"{r['edit_compiled_at']:.2f}s",
                 f"{r['edit_compiled_at'] / r['compiled_at']:.2f}", f"{r['steady'] * 1e3:.2f}")
        print(" | ".join(f"{c:>10}" for c in cells), flush=True)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
