"""Per-element cost of functrace's vectorisable math against NumPy and Numba's libm calls.

For every function in ``functrace.backend.vecblocks.INLINE_MATH`` and dtype: the NumPy ufunc on
10**6 elements (SciPy's for erf and logistic, when SciPy is installed; NumPy has none), a Numba
loop calling ``math.*`` (libm, one element at a time), and a Numba loop calling the function the
code generator inlines ("vecmath": vecmath's, or a table-driven one); where ``vecblocks`` has a
block kernel (what the code generator runs in large fused loops: a fast path over blocks of
1024, the special cases patched afterwards) also that kernel ("block"), which the speedup column
then uses; and "jit", ``functrace.jit`` of the lax primitive on the same arrays (the code
generator's whole route: block buffers, output allocation, call), compared with the NumPy ufunc
allocating its result too. Medians (or minima) over
interleaved repetitions, in ns/element. Run pinned to one core (``--help`` for the options):

    taskset -c 1 env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \\
        /work/venv/bin/python benchmarks/bench_vecmath.py [names...] [--repeats 31]

On a shared machine, medians move with the load of the other core(s) between runs; the minimum
over many repetitions is the steadier estimate of a loop's own cost (``--stat min``).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time

import numba
import numpy as np

import functrace
from functrace import lax
from functrace.backend.vecblocks import BLOCK_KERNELS, INLINE_MATH

N = 10**6
REPEATS = 15

try:
    import scipy.special as _sp
except ImportError:  # pragma: no cover - SciPy is optional
    _sp = None


def _np_softplus(x, out):
    return np.logaddexp(x.dtype.type(0), x, out=out)


NUMPY = {
    "exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p, "tanh": np.tanh,
    "sin": np.sin, "cos": np.cos, "pow": np.power, "softplus": _np_softplus,
    "logistic": _sp.expit if _sp else None, "erf": _sp.erf if _sp else None,
}


def _libm_softplus(x):
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _libm_logistic(x):
    return 1.0 / (1.0 + math.exp(-x))


_libm_softplus_jit = numba.njit(_libm_softplus)
_libm_logistic_jit = numba.njit(_libm_logistic)

LIBM = {
    "exp": math.exp, "expm1": math.expm1, "log": math.log, "log1p": math.log1p,
    "tanh": math.tanh, "sin": math.sin, "cos": math.cos, "erf": math.erf,
    "logistic": _libm_logistic_jit, "softplus": _libm_softplus_jit,
}


def _inputs(name: str, dtype) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(0)
    lo, hi = {"log": (1e-3, 1e3), "log1p": (-0.9, 1e3), "sin": (-100, 100), "cos": (-100, 100),
              "erf": (-4, 4), "pow": (1e-2, 1e2)}.get(name, (-20, 20))
    x = rng.uniform(lo, hi, N).astype(dtype)
    if name == "pow":
        return x, rng.uniform(-4, 4, N).astype(dtype)
    return (x,)


def _loop(fn, nargs: int):
    if nargs == 2:
        @numba.njit(error_model="numpy")
        def loop2(x, y, out):
            for i in range(x.shape[0]):
                out[i] = fn(x[i], y[i])
        return loop2

    @numba.njit(error_model="numpy")
    def loop1(x, out):
        for i in range(x.shape[0]):
            out[i] = fn(x[i])
    return loop1


BLOCK = 1024


def _block_loop(kernel, extra: tuple, nargs: int):
    if nargs == 2:
        @numba.njit(error_model="numpy")
        def loop2(x, y, out):
            n = x.shape[0]
            for j in range(0, n, BLOCK):
                kernel(x[j:], y[j:], out[j:], min(BLOCK, n - j), *extra)
        return loop2

    @numba.njit(error_model="numpy")
    def loop1(x, out):
        n = x.shape[0]
        for j in range(0, n, BLOCK):
            kernel(x[j:], out[j:], min(BLOCK, n - j), *extra)
    return loop1


def _libm_pow(x, y):
    return x ** y


_libm_pow_jit = numba.njit(_libm_pow)


def bench(name: str, dtype, repeats: int = REPEATS, stat=statistics.median) -> dict[str, float]:
    args = _inputs(name, dtype)
    out = np.empty_like(args[0])
    runners = {}
    if NUMPY.get(name) is not None:
        ufunc = NUMPY[name]
        runners["numpy"] = lambda: ufunc(*args, out=out)
    libm = _libm_pow_jit if name == "pow" else LIBM.get(name)
    if libm is not None:
        lib_loop = _loop(libm, len(args))
        runners["numba+libm"] = lambda: lib_loop(*args, out)
    vm_loop = _loop(INLINE_MATH[name][np.dtype(dtype)], len(args))
    runners["vecmath"] = lambda: vm_loop(*args, out)
    if (name, np.dtype(dtype)) in BLOCK_KERNELS:
        blk_loop = _block_loop(*BLOCK_KERNELS[(name, np.dtype(dtype))], len(args))
        runners["block"] = lambda: blk_loop(*args, out)
    op = getattr(lax, name, None)
    if op is not None:  # the whole route: jit of the primitive, output allocation included
        jitted = functrace.jit(op)
        runners["jit"] = lambda: jitted(*args)
        if NUMPY.get(name) is not None:  # compared with NumPy allocating its result too
            runners["numpy alloc"] = lambda: NUMPY[name](*args)
    for run in runners.values():  # compile and warm up
        run()
    times: dict[str, list[float]] = {k: [] for k in runners}
    for _ in range(repeats):  # interleaved, so drifting machine load hits all columns alike
        for key, run in runners.items():
            t0 = time.perf_counter()
            run()
            times[key].append(time.perf_counter() - t0)
    return {k: stat(v) / N * 1e9 for k, v in times.items()}


def main(argv: list[str] | None = None) -> None:
    global N
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help=f"functions (default: all of {list(INLINE_MATH)})")
    ap.add_argument("--repeats", type=int, default=REPEATS, help="timed runs per column")
    ap.add_argument("--stat", choices=("median", "min"), default="median")
    ap.add_argument("--size", type=int, default=10**6,
                    help="elements per array (10**5 stays in L2: compute cost without DRAM)")
    ap.add_argument("--dtype", choices=("float64", "float32"), action="append",
                    help="only this dtype (repeatable; default both)")
    args = ap.parse_args(argv)
    N = args.size
    names = args.names or list(INLINE_MATH)
    dtypes = args.dtype or ["float64", "float32"]
    stat = statistics.median if args.stat == "median" else min
    print(f"{'function':10s} {'dtype':8s} {'numpy':>8s} {'numba+libm':>11s} {'vecmath':>8s}"
          f" {'block':>8s} {'jit':>8s} {'speedup vs numpy':>17s} {'jit vs numpy':>13s}   "
          f"(ns/element, N={N}, {args.stat} of {args.repeats})")
    for name in names:
        for dtype in dtypes:
            r = bench(name, dtype, args.repeats, stat)
            ours = r.get("block", r["vecmath"])
            ratio = f"{r['numpy'] / ours:.2f}x" if "numpy" in r else "-"
            cols = [f"{r[k]:8.3f}" if k in r else f"{'-':>8s}" for k in ("numpy",)]
            cols.append(f"{r['numba+libm']:11.3f}" if "numba+libm" in r else f"{'-':>11s}")
            cols += [f"{r[k]:8.3f}" if k in r else f"{'-':>8s}"
                     for k in ("vecmath", "block", "jit")]
            jit_ratio = (f"{r['numpy alloc'] / r['jit']:.2f}x" if "numpy alloc" in r and "jit" in r
                         else "-")
            print(f"{name:10s} {np.dtype(dtype).name:8s} {' '.join(cols)} {ratio:>17s}"
                  f" {jit_ratio:>13s}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
