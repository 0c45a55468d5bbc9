"""Compiled answers never differ from eager ones, nothing hangs or leaks between threads.

Regression tests for issue 16: constants captured at trace time, integer edge cases under
``jit``, masked arrays refused, thread-local configuration overrides, Ctrl-C stopping compiled
``while_loop``s, and clear errors for ``None`` arguments and deep ``jit`` nesting.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

import functrace as ft
import functrace.lax as lax
import functrace.numpy as fnp

# ---------------------------------------------------------------------------------------------
# 1. Closed-over arrays are captured when traced
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["contiguous", "strided"])
def test_closed_over_array_is_captured_at_trace_time(layout):
    W = np.ones(3) if layout == "contiguous" else np.ones(6)[::2]
    g = ft.jit(lambda x: x * W + fnp.sum(W))
    x = np.ones(3)
    first = [g(x), g(x)]  # the general path, then the per-call fast path
    W[:] = 2
    later = [g(x), g(x), g(x.reshape(1, 3)[0])]
    for r in first + later:
        np.testing.assert_array_equal(r, [4.0, 4.0, 4.0])
    # a new trace (a new function) sees the new value, as eager code does
    np.testing.assert_array_equal(ft.jit(lambda x: x * W + fnp.sum(W))(x), [8.0, 8.0, 8.0])


def test_make_jaxpr_and_grad_capture_constants_too():
    W = np.arange(3.0)
    closed = ft.make_jaxpr(lambda x: x * W)(np.ones(3))
    W[:] = -1
    np.testing.assert_array_equal(closed(np.ones(3))[0], [0.0, 1.0, 2.0])
    W[:] = [1.0, 2.0, 3.0]
    gj = ft.jit(ft.grad(lambda x: fnp.sum(x * W)))
    np.testing.assert_array_equal(gj(np.ones(3)), [1.0, 2.0, 3.0])
    W[:] = 0
    np.testing.assert_array_equal(gj(np.ones(3)), [1.0, 2.0, 3.0])


# ---------------------------------------------------------------------------------------------
# 2. Integer edge cases: jit agrees with the eager path (and NumPy)
# ---------------------------------------------------------------------------------------------

_INT_BINARY = {
    "floor_divide": fnp.floor_divide, "remainder": fnp.remainder, "fmod": fnp.fmod,
    "true_divide": fnp.true_divide, "lax.div": lax.div, "lax.rem": lax.rem,
    "multiply": fnp.multiply, "add": fnp.add, "subtract": fnp.subtract,
    "left_shift": fnp.left_shift, "right_shift": fnp.right_shift,
}
_INT_UNARY = {
    "abs": fnp.abs, "negative": fnp.negative, "sign": fnp.sign, "square": fnp.square,
    "cube": lambda x: x ** 3, "pow63": lambda x: x ** 63, "invert": fnp.invert,
    "lax.abs": lax.abs, "lax.neg": lax.neg, "integer_pow7": lambda x: lax.integer_pow(x, 7),
}

# one program per family (compiling one program per op would take most of this file's time)
def _all_binary(a, b):
    return {k: f(a, b) for k, f in _INT_BINARY.items()}


def _all_unary(x):
    return {k: f(x) for k, f in _INT_UNARY.items()}


_j_all_binary, _j_all_unary = ft.jit(_all_binary), ft.jit(_all_unary)


def _edge_values(dtype) -> np.ndarray:
    info = np.iinfo(dtype)
    return np.array([0, -1, 1, info.min, info.max, 2, -7, 64], dtype)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integer_binary_ops_on_edge_values_match_eager_and_numpy(dtype):
    vals = _edge_values(dtype)
    a, b = (np.array(v, dtype) for v in zip(*itertools.product(vals, vals)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        jitted_all = _j_all_binary(a, b)
        for name, f in _INT_BINARY.items():
            eager, jitted = np.asarray(f(a, b)), np.asarray(jitted_all[name])
            assert jitted.dtype == eager.dtype, name
            np.testing.assert_array_equal(jitted, eager, err_msg=name)
            if not name.startswith("lax."):
                np.testing.assert_array_equal(eager, getattr(np, name)(a, b), err_msg=name)


def test_int64_min_divided_by_minus_one_wraps_as_numpy():
    m = np.iinfo(np.int64).min
    vals = _edge_values(np.int64)
    a, b = (np.array(v) for v in zip(*itertools.product(vals, vals)))
    at = int(np.nonzero((a == m) & (b == -1))[0][0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = _j_all_binary(a, b)  # the same signature as above: compiled once
    assert out["floor_divide"][at] == m and out["lax.div"][at] == m
    assert out["remainder"][at] == 0 and out["lax.rem"][at] == 0


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integer_unary_ops_on_edge_values_match_eager(dtype):
    vals = _edge_values(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        jitted_all = _j_all_unary(vals)
        for name, f in _INT_UNARY.items():
            eager, jitted = np.asarray(f(vals)), np.asarray(jitted_all[name])
            assert jitted.dtype == eager.dtype, name
            np.testing.assert_array_equal(jitted, eager, err_msg=name)


def _powers(a64, b64, a32, b32):
    return fnp.power(a64, b64), fnp.power(a32, b32)


_j_powers = ft.jit(_powers)
_NEG_X = [2, 3, 1, -1, -1, 0, -2]
_NEG_Y = [-1, -2, -3, -3, -2, -1, -1]


def test_integer_power_matches_numpy_and_documented_negative_exponents():
    # one program for both dtypes; non-negative exponents against NumPy, negative ones (which
    # NumPy refuses) give 1/x**|y| rounded toward zero (docs/sharp-bits.md)
    ins = []
    for dtype in (np.int64, np.int32):
        vals = _edge_values(dtype)
        a, b = (np.array(v, dtype) for v in zip(*itertools.product(vals, [0, 1, 2, 3, 31, 64])))
        ins += [np.concatenate([a, np.array(_NEG_X, dtype)]),
                np.concatenate([b, np.array(_NEG_Y, dtype)])]
    outs = _j_powers(*ins)
    n = len(ins[0]) - len(_NEG_X)
    for (a, b), out in zip([ins[:2], ins[2:]], outs):
        assert out.dtype == a.dtype
        np.testing.assert_array_equal(out[:n], np.power(a[:n], b[:n]))
        np.testing.assert_array_equal(out[n:], [0, 0, 1, -1, 1, 0, 0])


def test_negative_integer_powers_are_refused_where_the_exponent_is_known():
    x = np.array(_NEG_X)
    with pytest.raises(ValueError, match="negative integer powers"):
        fnp.power(x, np.array(_NEG_Y))  # eager: NumPy's error
    with pytest.raises(ValueError, match="negative integer powers"):
        ft.jit(lambda x: x ** -2)(x)  # a literal exponent: refused while tracing
    with pytest.raises(TypeError, match="integers cannot be raised to a negative power"):
        lax.integer_pow(x, -2)
    with pytest.raises(TypeError, match="integers cannot be raised to a negative power"):
        ft.jit(lambda x: lax.integer_pow(x, -1))(x)


# ---------------------------------------------------------------------------------------------
# 3. Masked arrays are refused, never silently unmasked
# ---------------------------------------------------------------------------------------------

_MASKED = np.ma.masked_array([1.0, 1e308, 2.0], mask=[0, 1, 0])


def _sum10(x):
    return fnp.sum(x * 10)


_j_sum10 = ft.jit(_sum10)


@pytest.mark.parametrize("path", ["jit", "jit_fast_path", "grad", "vmap", "jvp", "eager",
                                  "asarray", "array", "closed_over"])
def test_masked_arrays_are_refused_on_every_path(path):
    if path == "jit_fast_path":
        plain = np.ones(3)
        assert _j_sum10(plain) == _j_sum10(plain) == 30.0  # fast entries now exist
    call = {
        "jit": _j_sum10, "jit_fast_path": _j_sum10, "grad": ft.grad(_sum10),
        "vmap": ft.vmap(_sum10), "jvp": lambda x: ft.jvp(_sum10, (x,), (x,)), "eager": _sum10,
        "asarray": fnp.asarray, "array": fnp.array,
        "closed_over": lambda x: ft.jit(lambda y: y * x)(np.ones(3)),
    }[path]
    with pytest.raises(TypeError, match=r"does not support masked arrays.*x\.filled.*x\.data"):
        call(_MASKED)
    # the supported spellings give NumPy's answers
    assert _j_sum10(_MASKED.filled(0.0)) == np.sum(_MASKED * 10) == 30.0


# ---------------------------------------------------------------------------------------------
# 6. Clear errors: None arguments, deep nesting
# ---------------------------------------------------------------------------------------------


def test_none_is_an_empty_pytree_as_in_jax():
    assert ft.jit(lambda x: x)(None) is None
    out = ft.jit(lambda x, y: (x * 2, y))(np.ones(2), None)
    np.testing.assert_array_equal(out[0], [2.0, 2.0])
    assert out[1] is None


@pytest.mark.parametrize("transform", [ft.jit, ft.grad, lambda f: f])
def test_none_used_as_an_array_says_so(transform):
    with pytest.raises(TypeError, match="expected an array but got None.*static_argnums"):
        transform(fnp.sin)(None)
    with pytest.raises(TypeError, match="expected an array but got None"):
        fnp.asarray(None)


def test_object_arrays_are_refused_clearly():
    with pytest.raises(TypeError, match="object array.*cannot be arrays"):
        ft.jit(fnp.sin)(np.array([1.0, "a"], dtype=object))


def test_deeply_nested_jit_works():
    f = lambda x: x + 1.0  # noqa: E731
    for _ in range(200):
        f = ft.jit(f)
    np.testing.assert_array_equal(f(np.ones(2)), [2.0, 2.0])


def test_jit_recursing_into_itself_is_a_clear_error():
    @ft.jit
    def forever(x):
        return forever(x) + 1

    with pytest.raises(RecursionError, match="nested inside more than .* lax.fori_loop"):
        forever(np.ones(2))


# ---------------------------------------------------------------------------------------------
# 4. Configuration overrides are thread-local
# ---------------------------------------------------------------------------------------------

_j_log = ft.jit(fnp.log)


def _in_thread(fn):
    import threading
    out = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    t.join()
    return out[0]


def test_override_in_one_thread_does_not_reach_another():
    cfg = ft.config
    with cfg.override(debug_nans=True):
        assert cfg.debug_nans and not cfg._jit_fast_ok
        # another thread (even one started inside the block) sees the global values
        assert _in_thread(lambda: (cfg.debug_nans, cfg._jit_fast_ok)) == (False, True)
        assert np.isnan(_in_thread(lambda: _j_log(np.float64(-1.0))))
        with pytest.raises(FloatingPointError):
            _j_log(np.float64(-1.0))
    assert not cfg.debug_nans and cfg._jit_fast_ok
    with ft.disable_jit():
        assert cfg.disable_jit and not _in_thread(lambda: cfg.disable_jit)
    assert not cfg.disable_jit


def test_update_is_global_and_overrides_win_in_their_thread():
    cfg = ft.config
    try:
        cfg.update("debug_infs", True)
        assert _in_thread(lambda: cfg.debug_infs)
        with cfg.override(debug_infs=False):
            assert not cfg.debug_infs and _in_thread(lambda: cfg.debug_infs)
            cfg.update("log_compiles", True)  # global even inside a block
            assert cfg.log_compiles and _in_thread(lambda: cfg.log_compiles)
        assert cfg.debug_infs
    finally:
        cfg.update("debug_infs", False)
        cfg.update("log_compiles", False)
    assert cfg._jit_fast_ok


def test_concurrent_overrides_leave_the_global_values_alone():
    import threading
    cfg = ft.config
    errors = []

    def loop(use_disable_jit: bool):
        try:
            for _ in range(300):
                if use_disable_jit:
                    with ft.disable_jit():
                        assert cfg.disable_jit
                else:
                    with cfg.override(disable_jit=True, debug_nans=True):
                        assert cfg.disable_jit and cfg.debug_nans
                with cfg.override(disable_jit=False):
                    assert not cfg.disable_jit
        except AssertionError as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=loop, args=(i % 2 == 0,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert (cfg.disable_jit, cfg.debug_nans, cfg._jit_fast_ok) == (False, False, True)
    # no per-thread machinery is left installed once every block has ended
    assert "disable_jit" not in type(cfg).__dict__ and "_jit_fast_ok" not in type(cfg).__dict__


# ---------------------------------------------------------------------------------------------
# 5. Ctrl-C stops a compiled while_loop
# ---------------------------------------------------------------------------------------------

_ENDLESS = """
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # as in an interactive session
import numpy as np
import functrace as ft
from functrace.control_flow import while_loop

endless = ft.jit(lambda x: while_loop(lambda c: c[0] >= 0,
                                      lambda c: (c[0] + 1, c[1] * 0.5 + 1.0), (x, 0.0)))
compiled = endless.lower(np.int64(0)).compile()
print("ready", flush=True)
try:
    compiled(np.int64(0))
except KeyboardInterrupt as e:
    print("interrupted", type(e).__name__, flush=True)
    sys.exit(42)
"""


def test_sigint_stops_an_endless_compiled_while_loop():
    import os
    import signal
    import subprocess
    import sys
    import time
    env = dict(os.environ, FUNCTRACE_TIERED="0")
    proc = subprocess.Popen([sys.executable, "-c", _ENDLESS], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        time.sleep(1.5)  # well inside the compiled loop
        assert proc.poll() is None
        sent = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        assert time.perf_counter() - sent < 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 42, err
    assert out.strip() == "interrupted CompiledLoopInterrupted"
    assert issubclass(ft.errors.CompiledLoopInterrupted, KeyboardInterrupt)


# ---------------------------------------------------------------------------------------------
# 5b. Ctrl-C stops a foreground compile, even when a ctypes callback swallows it
# ---------------------------------------------------------------------------------------------


def _swallowing_callback():
    """A ctypes callback in which a SIGINT arrives: its KeyboardInterrupt is raised inside the
    callback, where ctypes reports and drops it (what llvmlite's object-cache hook did)."""
    import ctypes
    import os
    import signal

    reached = []

    @ctypes.CFUNCTYPE(None)
    def callback():
        os.kill(os.getpid(), signal.SIGINT)  # the handler runs at the next bytecode, in here
        reached.append("end of callback")

    return callback, reached


def test_an_interrupt_swallowed_by_a_callback_still_reaches_the_caller(capsys):
    import signal
    import sys

    from functrace.backend import interrupts
    handler, hook = signal.getsignal(signal.SIGINT), sys.unraisablehook
    callback, reached = _swallowing_callback()
    went_on = False
    with pytest.raises(KeyboardInterrupt):
        with interrupts.interruptible_compile():
            callback()
            went_on = True  # the callback swallowed it: the block carries on ...
    assert went_on and reached == []  # ... and the caller gets the KeyboardInterrupt at the end
    assert signal.getsignal(signal.SIGINT) is handler and sys.unraisablehook is hook
    assert "Exception ignored" not in capsys.readouterr().err  # one report: the caller's


def test_a_swallowed_interrupt_stops_the_next_numba_compiler_pass():
    import numba

    from functrace.backend import interrupts
    f = numba.njit(lambda x: x * 3.0 + 1.0)
    callback, _ = _swallowing_callback()
    with pytest.raises(KeyboardInterrupt):
        with interrupts.interruptible_compile():
            callback()
            f.compile("float64(float64)")
    assert not f.overloads  # stopped inside the compile, not after it at the end of the block
    assert f(2.0) == 7.0  # and nothing is left broken: the next compile works


_LONG_COMPILE = """
import sys, time
import numpy as np
import functrace as ft
import functrace.numpy as fnp

def f(x, y):  # distinct steps: a program compiled in several pieces, ~3-5 s
    for k in range(16):
        x = fnp.tanh(x * (1.0 + k / 100.0)) + fnp.exp(-y * 0.01 * k)
        y = fnp.cumsum(x, axis=0) * 0.001 + fnp.sin(y)
    return fnp.sum(x) + fnp.sum(y)

x = np.linspace(0.0, 1.0, 8)
lowered = ft.jit(f).lower(x, x)
with ft.disable_jit():
    want = f(x, x)
print("compiling", flush=True)
t0 = time.perf_counter()
got = lowered.compile()(x, x)
print("compiled", time.perf_counter() - t0, flush=True)
np.testing.assert_allclose(got, want, rtol=1e-12)
print("correct", flush=True)
"""


def test_sigint_stops_a_foreground_compile_and_leaves_the_cache_usable(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    env = dict(os.environ, FUNCTRACE_TIERED="0", FUNCTRACE_CACHE_DIR=str(tmp_path))
    env.pop("FUNCTRACE_DISABLE_CACHE", None)
    proc = subprocess.Popen([sys.executable, "-c", _LONG_COMPILE], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "compiling", proc.stderr.read()
        time.sleep(0.5)
        assert proc.poll() is None
        sent = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        stopped_after = time.perf_counter() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode != 0 and "compiled" not in out, (out, err)
    assert err.rstrip().splitlines()[-1] == "KeyboardInterrupt", err[-2000:]
    assert "Traceback" in err and "Exception ignored" not in err
    assert stopped_after < 2.0  # the whole compile takes several seconds
    # the next process compiles (or loads what was finished) and gets the right answer
    again = subprocess.run([sys.executable, "-c", _LONG_COMPILE], capture_output=True,
                           text=True, env=env, timeout=120)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.splitlines()[-1] == "correct"
    assert stopped_after < float(again.stdout.splitlines()[1].split()[1])  # what was left
