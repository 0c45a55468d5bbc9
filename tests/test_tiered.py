"""Tiered execution (config.tiered_compile): new programs run on the reference interpreter
while a background process compiles them, then switch to native code with the same values.

The rest of the suite runs with tiering off (conftest.py), so that compiled code is what it
tests; here it is on.
"""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from jit_check import assert_close

import functrace as ft
import functrace.numpy as fnp
from functrace import backend
from functrace.backend import tiered
from functrace.config import config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture()
def tiering(tmp_path):
    with config.override(tiered_compile=True, cache_dir=str(tmp_path), enable_disk_cache=True):
        yield tmp_path


def _model(w, x):
    h = fnp.tanh(x @ w)
    return fnp.sum(h * h) + fnp.log1p(fnp.sum(fnp.exp(-h)))


X = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
W = np.cos(np.arange(20.0)).reshape(4, 5)


def _reference(fun, *args):
    with ft.disable_jit():
        return fun(*args)


def test_first_calls_are_interpreted_then_compiled_with_the_same_values(tiering):
    step = ft.jit(ft.value_and_grad(_model))
    before = dict(backend.stats)
    first = step(W, X)  # returns before anything is compiled
    assert backend.stats["compiles"] == before["compiles"]
    want = _reference(ft.value_and_grad(_model), W, X)
    assert_close(first[0], want[0], rtol=0, atol=0)  # the interpreter is the reference
    assert_close(first[1], want[1], rtol=0, atol=0)
    assert ft.wait_for_compilation(timeout=120)
    assert backend.stats["background"] == before["background"] + 1
    exe = backend.executable_if_compiled(step.trace(W, X)._traced.jaxpr)
    assert exe is not None and exe.mode in ("njit", "python")
    compiled = step(W, X)
    assert_close(compiled[0], want[0])
    assert_close(compiled[1], want[1])
    assert backend.stats["compiles"] > before["compiles"]


def test_background_and_foreground_compilation_agree(tiering, tmp_path_factory):
    f = ft.jit(lambda w, x: ft.grad(_model)(w, x) * 2.0)
    f(W, X)
    assert ft.wait_for_compilation(timeout=120)
    background = f(W, X)
    with config.override(tiered_compile=False,
                         cache_dir=str(tmp_path_factory.mktemp("foreground"))):
        g = ft.jit(lambda w, x: ft.grad(_model)(w, x) * 2.0)
        foreground = g(W, X)
    np.testing.assert_array_equal(background, foreground)  # same source, same machine code


def test_lowering_and_aot_compile_work_while_tiered(tiering):
    f = ft.jit(lambda x: fnp.sin(x) * 3.0)
    x = np.arange(5.0)
    np.testing.assert_allclose(f(x), np.sin(x) * 3.0)
    assert "def " in f.lower(x).as_text()  # does not wait for the background compile
    compiled = f.lower(x).compile()  # JAX's ahead-of-time compile: native code, waited for
    np.testing.assert_allclose(compiled(x), np.sin(x) * 3.0)


def test_turning_tiering_off_compiles_before_the_first_result(tmp_path):
    before = backend.stats["compiles"]
    with config.override(tiered_compile=False, cache_dir=str(tmp_path)):
        f = ft.jit(lambda x: fnp.cos(x) + 7.0)
        f(np.arange(3.0))
    assert backend.stats["compiles"] == before + 1


def test_debug_nans_points_at_the_primitive_while_interpreted(tiering):
    f = ft.jit(lambda x: fnp.log(x) * 2.0)
    with config.override(debug_nans=True):
        with pytest.raises(FloatingPointError, match="log"):
            f(np.array([-1.0, 2.0]))


def test_programs_the_interpreter_would_run_slowly_compile_first(tiering):
    long_loop = ft.jit(lambda x: ft.lax.fori_loop(0, 100_000, lambda i, c: c * 0.5 + 1.0, x))
    jaxpr = long_loop.trace(np.ones(2)).jaxpr
    assert tiered.interpreter_cost(jaxpr.jaxpr) > tiered.MAX_INTERPRETED_EQNS
    before = backend.stats["compiles"]
    np.testing.assert_allclose(long_loop(np.ones(2)), [2.0, 2.0])
    assert backend.stats["compiles"] == before + 1


def test_a_dead_worker_means_compiling_in_this_process(tiering):
    f = ft.jit(lambda x: fnp.tanh(x) * fnp.exp(x) - 0.25)
    x = np.linspace(0, 1, 7)
    tiered.service.start()
    for proc in tiered.service.workers():
        proc.kill()  # the workers die before or while they compile
        proc.wait()
    np.testing.assert_allclose(f(x), np.tanh(x) * np.exp(x) - 0.25)
    assert ft.wait_for_compilation(timeout=120)
    np.testing.assert_allclose(f(x), np.tanh(x) * np.exp(x) - 0.25, rtol=1e-14)
    assert backend.executable_if_compiled(f.trace(x)._traced.jaxpr).mode == "njit"


PROGRAMS = """
import sys, numpy as np, functrace as ft, functrace.numpy as fnp
fs = [ft.jit(lambda x, k=k: fnp.sum(fnp.sin(x * k) + x ** 2)) for k in range(1, 4)]
x = np.linspace(0.0, 1.0, 6)
print("RESULT", [float(f(x)) for f in fs])
if sys.argv[1] == "wait":
    assert ft.wait_for_compilation(timeout=120)
    print("RESULT", [float(f(x)) for f in fs])
    from functrace.backend import cache
    print("DISK", cache.stats["disk_hits"])
"""


def _expected():
    x = np.linspace(0.0, 1.0, 6)
    return [float(np.sum(np.sin(x * k) + x ** 2)) for k in range(1, 4)]


def _run(cache_dir, mode, tiered_on=True, **kw):
    env = dict(os.environ, FUNCTRACE_CACHE_DIR=str(cache_dir), PYTHONPATH=ROOT,
               FUNCTRACE_TIERED="1" if tiered_on else "0")
    return subprocess.Popen([sys.executable, "-c", PROGRAMS, mode], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def _results(out: str) -> list:
    return [eval(line.split(" ", 1)[1]) for line in out.splitlines()
            if line.startswith("RESULT")]


def test_cache_of_many_programs_survives_corruption_of_any_entry(tmp_path):
    out, err = _run(tmp_path, "wait").communicate(timeout=300)
    for res in _results(out):
        np.testing.assert_allclose(res, _expected(), rtol=1e-13)
    entries = sorted(p for p in os.listdir(tmp_path) if p.startswith("ft_"))
    assert len(entries) == 3, (out, err)
    # damage one program's machine code and another's source: only those two are rebuilt
    nbc = [p for p in os.listdir(tmp_path / "__pycache__")
           if p.startswith(entries[0][:-3]) and p.endswith(".nbc")]
    (tmp_path / "__pycache__" / nbc[0]).write_bytes(b"\0garbage")
    (tmp_path / entries[1]).write_text("this is not the program")
    out, err = _run(tmp_path, "wait", tiered_on=False).communicate(timeout=300)
    assert _results(out)[-1] == pytest.approx(_expected(), rel=1e-13), err
    assert "DISK 1" in out, out  # the third program still came from the disk cache


def test_interrupting_the_process_during_a_background_compile_leaves_a_usable_cache(tmp_path):
    proc = _run(tmp_path, "exit-soon", start_new_session=True)
    out, _ = proc.communicate(timeout=300)  # the process exits while the worker compiles...
    assert _results(out)[0] == pytest.approx(_expected(), rel=1e-13)
    # ...and here the worker of that (now gone) process is killed mid-compile as well
    time.sleep(0.3)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    out, err = _run(tmp_path, "wait", tiered_on=False).communicate(timeout=300)
    assert _results(out)[-1] == pytest.approx(_expected(), rel=1e-13), err


def _mixed_program(x, n):
    y = x * 0.5 + 1  # weak Python scalars: float32 stays float32
    s = ft.lax.fori_loop(0, 3, lambda i, c: c * 1.5 + fnp.sin(c), y)
    z = ft.lax.cond(n > 0, lambda a: a * 2.0, lambda a: a - 1.0, s)
    return fnp.sum(z), z.astype(np.int32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_concrete_interpreter_equals_the_binding_one(dtype):
    x = np.linspace(-1, 1, 5).astype(dtype)
    closed = ft.make_jaxpr(_mixed_program)(x, 3)
    got = ft.core.eval_jaxpr_concrete(closed.jaxpr, closed.consts, x, 3)
    want = ft.core.eval_jaxpr(closed.jaxpr, closed.consts, x, 3)
    for g, w in zip(got, want):
        assert np.asarray(g).dtype == np.asarray(w).dtype
        np.testing.assert_array_equal(g, w)


def test_concrete_interpreter_raises_what_the_binding_one_raises():
    def check(v):
        if (v < 0).any():
            raise ValueError("negative input to the callback")
        return v

    def prog(x):
        return ft.pure_callback(check, ft.ShapeDtypeStruct(x.shape, x.dtype), x) * 2.0

    x = np.array([1.0, -1.0])
    closed = ft.make_jaxpr(prog)(x)
    with pytest.raises(ValueError) as binding:
        ft.core.eval_jaxpr(closed.jaxpr, closed.consts, x)
    with pytest.raises(ValueError) as concrete:
        ft.core.eval_jaxpr_concrete(closed.jaxpr, closed.consts, x)
    assert str(concrete.value) == str(binding.value)
    assert "negative input" in str(concrete.value)


def test_a_program_called_once_is_not_compiled(tiering):
    before = dict(backend.stats)
    f = ft.jit(lambda x: fnp.cosh(x) * 3.25)
    f(np.arange(3.0))
    time.sleep(0.2)
    assert backend.stats["background"] == before["background"]
    assert backend.stats["compiles"] == before["compiles"]
    f(np.arange(3.0))  # the second call starts the compile
    assert ft.wait_for_compilation(timeout=120)
    assert backend.stats["compiles"] == before["compiles"] + 1


PIECED = """
import sys, numpy as np, functrace as ft, functrace.numpy as fnp
from functrace.backend import cache

def loss(p, x):
    h = x
    for w in p:
        h = fnp.tanh(h @ w) * 0.5 + fnp.sin(h @ w)
    return fnp.mean(h * h)

rng = np.random.default_rng(0)
p = [rng.standard_normal((4, 4)) * 0.5 for _ in range(3)]
x = rng.standard_normal((5, 4))
step = ft.jit(ft.grad(loss))
print("PIECES", len(ft.jit(ft.grad(loss)).lower(p, x).as_text().count("_pieces[") * [0]))
print("RESULT", [g.tolist() for g in step(p, x)])
print("STATS", cache.stats["disk_hits"], cache.stats["rebuilt"], cache.stats["disk_misses"])
"""


def test_a_damaged_piece_is_the_only_one_rebuilt(tmp_path):
    env = dict(os.environ, FUNCTRACE_CACHE_DIR=str(tmp_path), PYTHONPATH=ROOT,
               FUNCTRACE_TIERED="0")

    def run():
        out = subprocess.run([sys.executable, "-c", PIECED], env=env, capture_output=True,
                             text=True, timeout=600)
        assert out.returncode == 0, out.stderr[-2000:]
        lines = {ln.split(" ", 1)[0]: ln.split(" ", 1)[1] for ln in out.stdout.splitlines()}
        return int(lines["PIECES"]), eval(lines["RESULT"]), [int(v) for v in
                                                             lines["STATS"].split()]

    n_pieces, first, _ = run()
    assert n_pieces >= 2
    nbcs = sorted(glob.glob(str(tmp_path / "__pycache__" / "ft_*.nbc")))
    assert len(nbcs) == n_pieces  # one module per piece (the driver has no native code)
    data = bytearray(open(nbcs[0], "rb").read())
    data[len(data) // 2] ^= 0x5A
    open(nbcs[0], "wb").write(bytes(data))
    _, again, (hits, rebuilt, misses) = run()
    for a, b in zip(again, first):
        np.testing.assert_array_equal(a, b)
    assert (rebuilt, misses, hits) == (1, 1, n_pieces - 1)


def test_blas_keeps_to_the_cores_compile_workers_leave_free():
    from functrace.backend.blas import blas_threads
    before = blas_threads()
    if before is None:
        pytest.skip("this NumPy's BLAS does not expose its thread count")
    free = max(1, tiered._cpus() - min(tiered.CompileService.MAX_WORKERS, tiered._cpus()))
    tiered._blas_yields(True)
    tiered._blas_yields(True)  # two programs compiling at once
    try:
        assert blas_threads() == min(before, free)
        tiered._blas_yields(False)
        assert blas_threads() == min(before, free)  # one still compiling
    finally:
        tiered._blas_yields(False)
    assert blas_threads() == before
